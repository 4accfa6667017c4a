//! The wasmtime engine and one sandboxed plugin call.
//!
//! One engine for the whole gateway: pooling allocator (with an on-demand fallback where the
//! address space is too small for it), epoch interruption driven by a ticker thread, and no
//! component-model concurrency (not needed, and it makes calls slower). Every call gets a fresh
//! store and instance with the plugin's limits: a memory cap, a deadline on time spent running
//! WebAssembly, a wall-clock timeout, and caps on the number and size of returned actions.

use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
    UpdateDeadline,
};

use super::bindings::{wit, Plugin, PluginPre};
use super::host::{CallScope, HostState};
use super::state::PluginState;
use crate::actions::StateWrite;
use crate::config::PluginLimits;

/// How often the epoch advances; the deadline is counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Memory a reused pooling slot keeps mapped: a plugin built with a 64 KiB stack (see
/// `.cargo/config.toml`) has its stack, data and first heap pages in this range.
const KEEP_RESIDENT_BYTES: usize = 256 * 1024;
/// Freed slots returned to the kernel at once.
const DECOMMIT_BATCH: usize = 16;

/// The engine and the linker with the host imports.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
}

/// A compiled plugin, pre-linked so that instantiating it is cheap.
pub struct Compiled {
    pre: PluginPre<HostState>,
}

/// Why a call was stopped by the host.
#[derive(Debug, thiserror::Error)]
enum Stopped {
    #[error("exceeded its deadline of {} running WebAssembly", humantime::format_duration(*.0))]
    Deadline(Duration),
    #[error("exceeded its wall-clock timeout of {}", humantime::format_duration(*.0))]
    Timeout(Duration),
}

impl Runtime {
    /// Builds the engine (its memory pool sized for `max_memory_bytes`) and links WASI with an
    /// empty context, `log` and `clock`.
    pub fn new(max_memory_bytes: usize) -> anyhow::Result<Self> {
        let engine = build_engine(max_memory_bytes)?;
        spawn_epoch_ticker(&engine);
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        Ok(Self { engine, linker })
    }

    /// The engine components are compiled for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Links a component against the host imports and finds its `handle` export.
    pub fn prepare(&self, component: &Component) -> wasmtime::Result<Compiled> {
        let pre = PluginPre::new(self.linker.instantiate_pre(component)?)?;
        Ok(Compiled { pre })
    }

    /// Runs `handle` on a fresh instance. The error is one line, fit for the audit trail.
    pub fn call(
        &self,
        call: Invocation<'_>,
        event: &wit::Event,
        context: &wit::Context,
    ) -> Result<CallOutput, String> {
        self.call_with(call, |plugin, store| {
            plugin.call_handle(store, event, context)
        })
    }

    /// Runs `on-response` on a fresh instance.
    pub fn call_on_response(
        &self,
        call: Invocation<'_>,
        event: &wit::Event,
        response: &wit::HttpResponse,
        context: &wit::Context,
    ) -> Result<CallOutput, String> {
        self.call_with(call, |plugin, store| {
            plugin.call_on_response(store, event, response, context)
        })
    }

    fn call_with(
        &self,
        Invocation {
            compiled,
            scope,
            state,
            limits,
        }: Invocation<'_>,
        export: impl FnOnce(
            &Plugin,
            &mut Store<HostState>,
        ) -> wasmtime::Result<Result<Vec<wit::Action>, wit::PluginError>>,
    ) -> Result<CallOutput, String> {
        let state = HostState::new(scope, limits.memory_bytes(), state);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        enforce_time_limits(&mut store, limits);
        let outcome = compiled
            .pre
            .instantiate(&mut store)
            .and_then(|instance| export(&instance, &mut store));
        let actions = match outcome {
            Ok(Ok(actions)) => check_actions(actions, limits)?,
            Ok(Err(error)) => return Err(format!("plugin returned an error: {}", error.message)),
            Err(error) => return Err(describe_failure(&error, limits)),
        };
        Ok(CallOutput {
            actions,
            state: store.into_data().state.into_writes(),
        })
    }
}

/// Which plugin a call runs, for whom, with which state and limits.
pub struct Invocation<'a> {
    pub compiled: &'a Compiled,
    pub scope: CallScope,
    pub state: PluginState,
    pub limits: &'a PluginLimits,
}

/// What a successful call returned: its actions and its buffered state writes.
pub struct CallOutput {
    pub actions: Vec<wit::Action>,
    pub state: Vec<StateWrite>,
}

/// Wakes on every epoch tick while WebAssembly runs: ticks seen there count towards the
/// deadline, and the wall clock (host calls included) towards the timeout.
fn enforce_time_limits(store: &mut Store<HostState>, limits: &PluginLimits) {
    let started = Instant::now();
    let (deadline, timeout) = (limits.deadline, limits.timeout);
    let allowed_ticks = (deadline.as_millis() / EPOCH_TICK.as_millis()) as u64 + 1;
    let mut ticks = 0;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        ticks += 1;
        if ticks > allowed_ticks {
            Err(wasmtime::Error::new(Stopped::Deadline(deadline)))
        } else if started.elapsed() > timeout {
            Err(wasmtime::Error::new(Stopped::Timeout(timeout)))
        } else {
            Ok(UpdateDeadline::Continue(1))
        }
    });
}

fn check_actions(
    actions: Vec<wit::Action>,
    limits: &PluginLimits,
) -> Result<Vec<wit::Action>, String> {
    if actions.len() > limits.max_actions {
        return Err(format!(
            "returned {} actions, more than its limit of {} (none was kept)",
            actions.len(),
            limits.max_actions
        ));
    }
    for (index, action) in actions.iter().enumerate() {
        let size = action_size(action);
        if size > limits.max_action_bytes {
            return Err(format!(
                "action {index} is {size} bytes, more than its limit of {} (none was kept)",
                limits.max_action_bytes
            ));
        }
    }
    Ok(actions)
}

fn action_size(action: &wit::Action) -> usize {
    match action {
        wit::Action::Http(request) => {
            request.url.len()
                + request
                    .headers
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>()
                + request.body.as_ref().map_or(0, Vec::len)
        }
        wit::Action::IncidentLink(link) | wit::Action::IncidentLinkCallback(link) => {
            link.url.len() + link.text.len()
        }
    }
}

fn describe_failure(error: &wasmtime::Error, limits: &PluginLimits) -> String {
    if let Some(stopped) = error.downcast_ref::<Stopped>() {
        return format!("stopped: {stopped}");
    }
    // The limiter refuses growth past the cap with this (non-`Trap`) error.
    if format!("{error:?}").contains("forcing trap when growing memory") {
        return format!(
            "stopped: exceeded its memory cap of {} MiB",
            limits.memory_mib
        );
    }
    match error.downcast_ref::<Trap>() {
        Some(trap) => format!("trapped: {trap}"),
        None => format!("failed: {}", one_line(&format!("{error:#}"))),
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.concurrency_support(false);
    config
}

fn build_engine(max_memory_bytes: usize) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.max_memory_size(max_memory_bytes);
    // A freed slot keeps its first pages mapped and is zeroed with memset, instead of being
    // unmapped and page-faulted back in by the next instance; the rest is returned to the
    // kernel in batches, which saves TLB shootdowns. Together they halve a call's cost (see
    // `benches/plugin_call.rs`).
    pool.linear_memory_keep_resident(KEEP_RESIDENT_BYTES);
    pool.table_keep_resident(KEEP_RESIDENT_BYTES);
    pool.decommit_batch_size(DECOMMIT_BATCH);
    let mut pooled = base_config();
    pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&pooled) {
        Ok(engine) => Ok(engine),
        Err(error) => {
            tracing::warn!(
                error = %one_line(&format!("{error:#}")),
                "pooling allocator unavailable, falling back to on-demand allocation"
            );
            Ok(Engine::new(&base_config())?)
        }
    }
}

/// Advances the engine's epoch every tick until the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawn the epoch ticker thread");
}

/// Collapses a multi-line error (wasm backtraces) into one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body_len: usize) -> wit::Action {
        wit::Action::Http(wit::HttpRequest {
            method: wit::HttpMethod::Post,
            url: "https://a.test/".into(),
            headers: vec![("k".into(), "v".into())],
            body: Some(vec![0; body_len]),
            continuation: None,
        })
    }

    #[test]
    fn actions_within_the_limits_pass() {
        let limits = PluginLimits {
            max_actions: 2,
            max_action_bytes: 100,
            ..PluginLimits::default()
        };
        assert_eq!(
            check_actions(vec![post(10), post(10)], &limits)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn too_many_actions_are_refused_whole() {
        let limits = PluginLimits {
            max_actions: 2,
            ..PluginLimits::default()
        };
        let error = check_actions(vec![post(1), post(1), post(1)], &limits).unwrap_err();
        assert!(
            error.contains("returned 3 actions, more than its limit of 2"),
            "{error}"
        );
    }

    #[test]
    fn an_oversized_action_is_refused_naming_it() {
        let limits = PluginLimits {
            max_action_bytes: 100,
            ..PluginLimits::default()
        };
        // URL (15) + header (2) + body (84) = 101 bytes.
        let error = check_actions(vec![post(1), post(84)], &limits).unwrap_err();
        assert!(error.contains("action 1 is 101 bytes"), "{error}");
    }
}
