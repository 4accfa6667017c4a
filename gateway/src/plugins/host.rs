//! What a plugin instance can reach: the host imports (log, clock) and an empty WASI context.
//!
//! One [`HostState`] is created per call and dropped with its store, so nothing a plugin does
//! survives into the next event.

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::soda::gateway::{clock, log, state, types};
use super::state::PluginState;

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
    /// Memory and instance caps, consulted by wasmtime on every growth.
    pub limits: StoreLimits,
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
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .instances(64)
                .tables(64)
                .memories(16)
                .trap_on_grow_failure(true)
                .build(),
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
    fn write(&mut self, level: log::Level, message: String, fields: Vec<(String, String)>) {
        let CallScope {
            tenant,
            plugin,
            event_id,
        } = &self.scope;
        let fields = Fields(&fields);
        match level {
            log::Level::Trace => {
                tracing::trace!(tenant, plugin, event_id, %fields, "plugin: {message}")
            }
            log::Level::Debug => {
                tracing::debug!(tenant, plugin, event_id, %fields, "plugin: {message}")
            }
            log::Level::Info => {
                tracing::info!(tenant, plugin, event_id, %fields, "plugin: {message}")
            }
            log::Level::Warn => {
                tracing::warn!(tenant, plugin, event_id, %fields, "plugin: {message}")
            }
            log::Level::Error => {
                tracing::error!(tenant, plugin, event_id, %fields, "plugin: {message}")
            }
        }
    }
}

impl state::Host for HostState {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.state.get(&key)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        self.state.set(key, value)
    }

    fn delete(&mut self, key: String) {
        self.state.delete(key)
    }
}

impl clock::Host for HostState {
    fn now_millis(&mut self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// Plugin-provided key/value fields, rendered as `k=v k=v`.
struct Fields<'a>(&'a [(String, String)]);

impl std::fmt::Display for Fields<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{key}={value:?}")?;
        }
        Ok(())
    }
}
