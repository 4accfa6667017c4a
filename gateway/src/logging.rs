//! Log output: human-readable text (the default) or one JSON object per line, for log
//! pipelines. Either way, every line about an event carries `tenant` and `event_id`, and
//! `plugin` where one plugin is concerned; JSON puts them at the top level of the object.
//!
//! Lines are handed to a writer thread (`tracing-appender`), so a request never waits for
//! stderr; when that thread falls far behind, callers wait rather than lines being lost.

use std::io::IsTerminal;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-11-22T10:00:00Z  INFO event accepted tenant=acme ...`, coloured on a terminal.
    #[default]
    Text,
    /// `{"timestamp":"…","level":"INFO","message":"event accepted","tenant":"acme",…}`.
    Json,
}

/// The filter used unless `RUST_LOG` says otherwise.
const DEFAULT_FILTER: &str = "info,sqlx=warn,wasmtime=warn,cranelift=warn";

/// Installs the global subscriber; call once, first thing, and keep the guard until the end:
/// dropping it writes out the lines still queued.
#[must_use = "lines still queued are lost unless the guard lives until the end"]
pub fn init(format: LogFormat) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_FILTER.into());
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        // Buffered: when lines queue up, the writer thread sends them in one `write`, and it
        // flushes whenever the queue is empty.
        .finish(std::io::BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
    guard
}
