//! What a plugin instance can reach: the host imports (log, clock) and an empty WASI context.
//!
//! One [`HostState`] is created per call and dropped with its store, so nothing a plugin does
//! survives into the next event.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::current::soda::gateway::{clock, log, state, types};
use super::limiter::ComponentLimiter;
use super::state::PluginState;

/// Log lines one call may write; later ones are counted and dropped.
pub const MAX_LOG_LINES: usize = 100;
/// Longest log line (message and fields), in bytes; longer ones are cut.
pub const MAX_LOG_LINE_BYTES: usize = 2048;

/// Who a call is for; every host log line carries it.
#[derive(Debug, Clone)]
pub struct CallScope {
    pub tenant: String,
    pub plugin: String,
    pub event_id: String,
}

/// The store data of one plugin call.
pub struct HostState {
    scope: CallScope,
    /// The plugin's private key-value state for this tenant.
    pub state: PluginState,
    wasi: WasiCtx,
    table: ResourceTable,
    /// The memory cap over all of the component's memories and tables.
    pub limiter: ComponentLimiter,
    log_lines: usize,
    dropped_log_lines: usize,
}

impl HostState {
    /// A fresh state: no files, no environment, no sockets, memory capped at `memory_bytes`.
    pub fn new(scope: CallScope, memory_bytes: usize, state: PluginState) -> Self {
        Self {
            scope,
            state,
            // An empty builder grants nothing: no preopened dirs, no env, sockets denied.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limiter: ComponentLimiter::new(memory_bytes),
            log_lines: 0,
            dropped_log_lines: 0,
        }
    }

    /// Readies a warm instance's state for its next call: who it is for, its state, fresh
    /// per-call counters. The memory accounting stays: the memory is still there.
    pub fn begin_call(&mut self, scope: CallScope, state: PluginState) {
        self.scope = scope;
        self.state = state;
        self.log_lines = 0;
        self.dropped_log_lines = 0;
    }

    /// Says, once, how many log lines the call wrote past [`MAX_LOG_LINES`].
    pub fn report_dropped_log_lines(&self) {
        if self.dropped_log_lines > 0 {
            let CallScope {
                tenant,
                plugin,
                event_id,
            } = &self.scope;
            tracing::warn!(
                tenant,
                plugin,
                event_id,
                dropped = self.dropped_log_lines,
                "plugin wrote more than {MAX_LOG_LINES} log lines in one call; the rest were dropped"
            );
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl log::Host for HostState {
    fn write(
        &mut self,
        level: log::Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        if self.log_lines == MAX_LOG_LINES {
            self.dropped_log_lines += 1;
            return Ok(());
        }
        self.log_lines += 1;
        let CallScope {
            tenant,
            plugin,
            event_id,
        } = &self.scope;
        // The plugin's fields follow its message as `key="value"`, like the gateway's own (the
        // names are the plugin's, so they cannot be fields of the gateway's log line).
        let text = LogLine::new(&message, &fields).text();
        match level {
            log::Level::Trace => {
                tracing::trace!(tenant, plugin, event_id, "plugin: {text}")
            }
            log::Level::Debug => {
                tracing::debug!(tenant, plugin, event_id, "plugin: {text}")
            }
            log::Level::Info => {
                tracing::info!(tenant, plugin, event_id, "plugin: {text}")
            }
            log::Level::Warn => {
                tracing::warn!(tenant, plugin, event_id, "plugin: {text}")
            }
            log::Level::Error => {
                tracing::error!(tenant, plugin, event_id, "plugin: {text}")
            }
        }
        Ok(())
    }
}

impl state::Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.state.get(&key).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        self.state.set(key, value).await
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.state.delete(key).await
    }
}

impl clock::Host for HostState {
    fn now_millis(&mut self) -> wasmtime::Result<u64> {
        Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64))
    }
}

/// A plugin's log line made safe to print: control characters (newlines included) escaped so
/// that a plugin cannot forge lines of the gateway's log, and the whole cut at
/// [`MAX_LOG_LINE_BYTES`].
struct LogLine {
    message: String,
    fields: String,
}

impl LogLine {
    /// The message followed by the fields.
    fn text(&self) -> String {
        if self.fields.is_empty() {
            self.message.clone()
        } else {
            format!("{} {}", self.message, self.fields)
        }
    }

    fn new(message: &str, fields: &[(String, String)]) -> Self {
        let mut budget = MAX_LOG_LINE_BYTES;
        let message = escaped(message, &mut budget);
        let mut rendered = String::new();
        for (key, value) in fields {
            if budget == 0 {
                break;
            }
            if !rendered.is_empty() {
                rendered.push(' ');
            }
            rendered.push_str(&escaped(key, &mut budget));
            rendered.push_str("=\"");
            rendered.push_str(&escaped(value, &mut budget));
            rendered.push('"');
        }
        Self {
            message,
            fields: rendered,
        }
    }
}

/// `text` with control characters, quotes and backslashes escaped, cut to what is left of
/// `budget` (which it uses up).
fn escaped(text: &str, budget: &mut usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let before = out.len();
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
        if out.len() > *budget {
            out.truncate(before);
            out.push('…');
            *budget = 0;
            return out;
        }
    }
    *budget -= out.len();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_and_control_characters_cannot_forge_log_lines() {
        let line = LogLine::new(
            "ok\n2026-01-01T00:00:00Z  INFO forged\r\u{1b}[31m",
            &[("k\n".into(), "v\"x".into())],
        );
        assert!(
            !line.message.chars().any(char::is_control),
            "{}",
            line.message
        );
        assert!(line.message.contains("\\n2026"), "{}", line.message);
        assert_eq!(line.fields, r#"k\n="v\"x""#);
    }

    #[test]
    fn fields_follow_the_message_flat() {
        let fields = [("count".into(), "1".into()), ("to".into(), "#ops".into())];
        let line = LogLine::new("sent", &fields);
        assert_eq!(line.text(), r##"sent count="1" to="#ops""##);
        assert_eq!(LogLine::new("sent", &[]).text(), "sent");
    }

    #[test]
    fn a_long_line_is_cut_at_the_limit() {
        let field = ("k".to_owned(), "v".repeat(10_000));
        let line = LogLine::new(&"m".repeat(10_000), &[field]);
        assert!(line.message.len() + line.fields.len() <= MAX_LOG_LINE_BYTES + 8);
        assert!(line.message.ends_with('…'));
    }
}
