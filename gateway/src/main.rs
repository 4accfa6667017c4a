//! The `soda-gateway` command line.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use soda_gateway::cli;
use soda_gateway::config::Config;
use soda_gateway::logging::{self, LogFormat};
use soda_gateway::server::Gateway;

/// A gateway that receives Soda Cloud webhooks and hands them to WebAssembly plugins.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as text or as one JSON object per line.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "SODA_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Serve webhooks with the given configuration file.
    Serve {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Post random, signed events of each type to a tenant, as Soda's "Event Testing" does:
    /// for setting up and smoke-testing a tenant. Fails unless every answer is 2xx.
    Send {
        /// The gateway's configuration file (the tenant's scheme, the default URL).
        #[arg(long, short)]
        config: PathBuf,
        /// The tenant to post for.
        #[arg(long)]
        tenant: String,
        /// Event type (validate, checkEvaluation, incidentCreated, incidentUpdated,
        /// contractPublished) or `all`; repeatable.
        #[arg(long = "type", value_name = "TYPE", default_value = "all")]
        types: Vec<String>,
        /// The gateway's base URL (default: from the config's `listen` and `tls`).
        #[arg(long)]
        url: Option<String>,
        /// Events to post per type.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        count: u32,
    },
    /// Print the headers (`Name: value`, one a line) that sign a body for a tenant.
    Sign {
        /// The gateway's configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// The tenant to sign for.
        #[arg(long)]
        tenant: String,
        /// The body to sign (default: stdin).
        #[arg(long)]
        body: Option<PathBuf>,
    },
    /// The configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Tools for plugin authors.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Dead letters: HTTP actions that failed for good.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Stored events: the audit trail.
    #[command(subcommand)]
    Events(EventsCommand),
    /// HTTP actions the plugins asked for, and their delivery.
    #[command(subcommand)]
    Actions(ActionsCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration (the file and its `SODA_GATEWAY__…` environment overrides,
    /// secret sources read) and print it as the gateway would run it, defaults included and
    /// secrets masked.
    Check {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
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
    /// List stored events, newest first, with what became of them.
    List {
        #[arg(long, short)]
        config: PathBuf,
        #[command(flatten)]
        filter: cli::audit::EventFilterArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one event's whole story: headers, body, plugin runs, actions and attempts.
    Show {
        #[arg(long, short)]
        config: PathBuf,
        /// The event id (`evt_...`).
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run a stored event again through the plugins loaded now (e.g. after fixing a plugin).
    Replay {
        #[arg(long, short)]
        config: PathBuf,
        /// The event id (`evt_...`).
        id: String,
    },
}

#[derive(Subcommand)]
enum ActionsCommand {
    /// List HTTP actions, newest first.
    List {
        #[arg(long, short)]
        config: PathBuf,
        #[command(flatten)]
        filter: cli::audit::ActionFilterArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send actions again: a dead letter from a fresh retry schedule, a waiting one now.
    Retry {
        #[arg(long, short)]
        config: PathBuf,
        /// Action ids (`act_...`).
        #[arg(required = true)]
        ids: Vec<String>,
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
    /// Embed a manifest (name, version, the hosts the plugin reaches, its config's JSON
    /// Schema) into a component built without the Rust SDK, in place. The contract is taken
    /// from the component.
    EmbedManifest {
        /// The plugin file.
        file: PathBuf,
        /// The manifest, a JSON file: `{"name", "version", "description", "hosts",
        /// "config_schema"}`.
        manifest: PathBuf,
    },
    /// Write a new plugin's folder: build settings, source, a unit test, an example config and
    /// a README. It builds and passes `plugin check` as it is.
    New {
        /// The plugin's name (its file stem): lowercase letters, digits and `_`.
        name: String,
        /// The language of the plugin.
        #[arg(long, value_enum, default_value = "rust")]
        lang: cli::plugin_new::Language,
        /// Where to create the folder (default: here).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The `plugin-sdk` folder of the gateway's source (default: the one this binary was
        /// built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Run a plugin on events and print the actions it returns, validated as the gateway
    /// would; nothing is sent.
    Run {
        /// The plugin file.
        file: PathBuf,
        /// The events: inline JSON, `@FILE`, a file, a folder of `*.json` files, or a sample
        /// event's name (`gen2_incident_created`; a wrong name lists them). Repeatable. One
        /// event prints its actions; several print one entry per event.
        #[arg(long, required = true)]
        event: Vec<String>,
        /// The plugin's configuration: inline JSON, `@FILE` or a file (default `{}`).
        #[arg(long)]
        config: Option<String>,
        /// The tenant the plugin runs for.
        #[arg(long, default_value = "cli")]
        tenant: String,
        /// State to start from: a JSON object of key to value (text, or any JSON), inline or
        /// `@FILE`. Writes carry over from one event to the next and are printed on stderr.
        #[arg(long)]
        state: Option<String>,
        /// The response handed to `on-response` for every action that sets a continuation:
        /// `{"status": 201, "headers": {...}, "body": ...}`, inline or `@FILE`.
        #[arg(long)]
        response: Option<String>,
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
    let cli = Cli::parse();
    let _log_writer = logging::init(cli.log_format);
    match cli.command {
        Command::Serve { config } => serve(config).await,
        Command::Config(ConfigCommand::Check { config }) => cli::config::check(&config),
        Command::Send {
            config,
            tenant,
            types,
            url,
            count,
        } => {
            let options = cli::send::SendOptions {
                config: &config,
                tenant: &tenant,
                types: &types,
                url: url.as_deref(),
                count,
            };
            cli::send::send(options).await
        }
        Command::Sign {
            config,
            tenant,
            body,
        } => cli::send::sign(&config, &tenant, body.as_deref()),
        Command::Dlq(DlqCommand::List { config }) => cli::operate::list_dead_letters(&config).await,
        Command::Dlq(DlqCommand::Retry { config, ids, all }) => {
            cli::operate::retry_dead_letters(&config, &ids, all).await
        }
        Command::Events(EventsCommand::Replay { config, id }) => {
            cli::operate::replay(&config, &id).await
        }
        Command::Events(EventsCommand::List {
            config,
            filter,
            json,
        }) => cli::audit::list_events(&config, &filter, json).await,
        Command::Events(EventsCommand::Show { config, id, json }) => {
            cli::audit::show_event(&config, &id, json).await
        }
        Command::Actions(ActionsCommand::List {
            config,
            filter,
            json,
        }) => cli::audit::list_actions(&config, &filter, json).await,
        Command::Actions(ActionsCommand::Retry { config, ids }) => {
            cli::audit::retry_actions(&config, &ids).await
        }
        // Compiling blocks: keep it off the async threads.
        Command::Plugin(PluginCommand::Check { file }) => {
            tokio::task::spawn_blocking(move || cli::plugin::check(&file))
                .await
                .context("plugin check panicked")?
        }
        Command::Plugin(PluginCommand::EmbedManifest { file, manifest }) => {
            cli::plugin::embed_manifest(&file, &manifest)
        }
        Command::Plugin(PluginCommand::New {
            name,
            lang,
            dir,
            sdk,
        }) => cli::plugin_new::new(&name, lang, &dir, sdk.as_deref()),
        Command::Plugin(PluginCommand::Run {
            file,
            event,
            config,
            tenant,
            state,
            response,
        }) => {
            cli::plugin_run::run(cli::plugin_run::RunArgs {
                file,
                events: event,
                config,
                tenant,
                state,
                response,
            })
            .await
        }
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
