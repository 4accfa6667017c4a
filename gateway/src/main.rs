//! The `soda-gateway` command line.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use soda_gateway::cli;
use soda_gateway::config::Config;
use soda_gateway::server::Gateway;

/// A gateway that receives Soda Cloud webhooks and hands them to WebAssembly plugins.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve webhooks with the given configuration file.
    Serve {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Tools for plugin authors.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Dead letters: HTTP actions that failed for good.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Stored events.
    #[command(subcommand)]
    Events(EventsCommand),
}

#[derive(Subcommand)]
enum DlqCommand {
    /// List the dead letters, newest first.
    List {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Send dead letters again, from a fresh retry schedule.
    Retry {
        #[arg(long, short)]
        config: PathBuf,
        /// Action ids to retry.
        ids: Vec<String>,
        /// Retry every dead letter.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Run a stored event again through the plugins loaded now (e.g. after fixing a plugin).
    Replay {
        #[arg(long, short)]
        config: PathBuf,
        /// The event id (`evt_...`).
        id: String,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Tell whether a .wasm file loads in this gateway: contract version, imports, exports, size,
    /// compile time.
    Check {
        /// The plugin file.
        file: PathBuf,
    },
    /// Run a plugin on one event and print the actions it returns.
    Run {
        /// The plugin file.
        file: PathBuf,
        /// A Soda event as JSON.
        #[arg(long)]
        event: PathBuf,
        /// The plugin's configuration as JSON (default `{}`).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One readable chain of causes, never a backtrace.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,wasmtime=warn,cranelift=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match Cli::parse().command {
        Command::Serve { config } => serve(config).await,
        Command::Dlq(DlqCommand::List { config }) => cli::operate::list_dead_letters(&config).await,
        Command::Dlq(DlqCommand::Retry { config, ids, all }) => {
            cli::operate::retry_dead_letters(&config, &ids, all).await
        }
        Command::Events(EventsCommand::Replay { config, id }) => {
            cli::operate::replay(&config, &id).await
        }
        // Plugin calls block (and a plugin's stdio writes block on the runtime): keep them
        // off the async threads.
        Command::Plugin(command) => tokio::task::spawn_blocking(move || match command {
            PluginCommand::Check { file } => cli::plugin::check(&file),
            PluginCommand::Run {
                file,
                event,
                config,
            } => cli::plugin::run(&file, &event, config.as_deref()),
        })
        .await
        .context("plugin command panicked")?,
    }
}

async fn serve(config_path: PathBuf) -> anyhow::Result<()> {
    let config = Config::load(&config_path)?;
    let listen = config.listen;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    if let Some(tls) = &config.tls {
        // Checked before anything starts, so a bad certificate is the first thing reported.
        soda_gateway::tls::acceptor(tls)?;
    }
    let mut gateway = Gateway::start(config).await?;
    gateway.reload_tenants_from(&config_path)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    // Tests and scripts read this line to learn the port (`listen` may use port 0).
    println!(
        "soda-gateway listening on {scheme}://{}",
        listener.local_addr()?
    );
    gateway.serve(listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install the SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}
