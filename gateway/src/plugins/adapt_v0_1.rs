//! The host imports of contract 0.1.0, for plugins built against it: the same log, clock and
//! state as the current contract's (their interfaces did not change), under 0.1.0's names.

use super::bindings::current::soda::gateway as now;
use super::bindings::v0_1::soda::gateway::{clock, log, state, types};
use super::host::HostState;

impl types::Host for HostState {}

impl log::Host for HostState {
    fn write(
        &mut self,
        level: log::Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Trace => now::log::Level::Trace,
            log::Level::Debug => now::log::Level::Debug,
            log::Level::Info => now::log::Level::Info,
            log::Level::Warn => now::log::Level::Warn,
            log::Level::Error => now::log::Level::Error,
        };
        now::log::Host::write(self, level, message, fields)
    }
}

impl state::Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        now::state::Host::get(self, key).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        now::state::Host::set(self, key, value).await
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        now::state::Host::delete(self, key).await
    }
}

impl clock::Host for HostState {
    fn now_millis(&mut self) -> wasmtime::Result<u64> {
        now::clock::Host::now_millis(self)
    }
}
