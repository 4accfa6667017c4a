//! The wasmtime engine and one sandboxed plugin call.
//!
//! One engine for the whole gateway: pooling allocator (with an on-demand fallback where the
//! address space is too small for it), epoch interruption driven by a ticker thread, and no
//! component-model concurrency (not needed, and it makes calls slower). Every call gets a fresh
//! store and instance (or a warm one of the same tenant, see `warm`) with the plugin's limits: a memory cap over the whole component, a
//! deadline on time spent running WebAssembly, a wall-clock timeout, and caps on the number and
//! size of returned actions.
//!
//! Calls are futures on the async runtime: WebAssembly yields to it at every epoch tick, and
//! host calls that wait (a WASI poll or sleep, a state read) await. So the wall-clock limit holds
//! whatever the plugin does: when it runs out the future is dropped, which frees the instance
//! and its pool slot at once, and no thread is left behind.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolConcurrencyLimitError, PoolingAllocationConfig,
    Store, Trap, UpdateDeadline,
};

use super::bindings::{current, v0_1, wit};
use super::contract::{Plugin, PluginPre, Version};
use super::host::{CallScope, HostState};
use super::limiter::MemoryCapExceeded;
use super::state::{PluginState, StateLimit, StateSource};
use super::warm::{WarmInstance, WarmKey, WarmPool};
use crate::config::PluginLimits;
use crate::records::StateWrite;

/// How often the epoch advances; the deadline is counted in these ticks, and running
/// WebAssembly yields to the async runtime at each.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Memory a reused pooling slot keeps mapped: a plugin built with a 64 KiB stack (see
/// `.cargo/config.toml`) has its stack, data and first heap pages in this range.
const KEEP_RESIDENT_BYTES: usize = 256 * 1024;
/// Plugin calls alive at once, unless configured otherwise.
pub const DEFAULT_MAX_INSTANCES: u32 = 1000;
/// wasmtime's default number of pooled core instances, memories and tables.
const DEFAULT_POOL_PARTS: u32 = 1000;
/// Freed slots returned to the kernel at once.
const DECOMMIT_BATCH: usize = 16;

/// The engine and the linker with the host imports.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    warm: WarmPool,
    running: AtomicU64,
}

/// A compiled plugin, pre-linked so that instantiating it is cheap.
pub struct Compiled {
    pre: PluginPre,
    /// Whether an instance's exports were type-checked once (see [`Compiled::instantiate`]).
    exports_checked: AtomicBool,
}

impl Compiled {
    /// A new instance. The first one's exports are type-checked against the contract; every
    /// instance of the same pre-linked component has the same types, so later ones skip the
    /// check, which walked every record type of the contract by field name and was a third of
    /// a fresh instance's cost.
    async fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Plugin> {
        if self.exports_checked.load(Ordering::Acquire) {
            // SAFETY: an earlier instance of this `PluginPre` had its exports checked.
            return unsafe { self.pre.instantiate_prechecked(store) }.await;
        }
        let plugin = self.pre.instantiate(store).await?;
        self.exports_checked.store(true, Ordering::Release);
        Ok(plugin)
    }

    /// The contract version the plugin was built against.
    pub fn version(&self) -> Version {
        self.pre.version()
    }
}

/// Why a call was stopped by the host.
#[derive(Debug, thiserror::Error)]
enum Stopped {
    #[error("exceeded its deadline of {} running WebAssembly", humantime::format_duration(*.0))]
    Deadline(Duration),
    #[error("exceeded its wall-clock timeout of {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("ran out of the event's time budget ({} were left for it)", humantime::format_duration(*.0))]
    Budget(Duration),
}

/// Why a call produced nothing.
#[derive(Debug, PartialEq)]
pub enum CallError {
    /// The plugin failed, was stopped or returned something invalid: one line for the audit
    /// trail.
    Failed(String),
    /// The gateway had no instance slot left for it: the event should be refused (and retried
    /// by its sender), not recorded as a plugin failure.
    Overloaded(String),
}

impl From<String> for CallError {
    fn from(reason: String) -> Self {
        Self::Failed(reason)
    }
}

/// Which export a call runs.
enum Export<'a> {
    Handle,
    OnResponse(&'a wit::HttpResponse),
}

impl Runtime {
    /// Builds the engine (its memory pool sized for `max_memory_bytes`) and links WASI with an
    /// empty context, `log`, `state` and `clock`.
    pub fn new(max_memory_bytes: usize) -> anyhow::Result<Self> {
        Self::with_max_instances(max_memory_bytes, DEFAULT_MAX_INSTANCES)
    }

    /// [`Runtime::new`] with at most `max_instances` plugin calls alive at once.
    pub fn with_max_instances(max_memory_bytes: usize, max_instances: u32) -> anyhow::Result<Self> {
        let engine = build_engine(max_memory_bytes, max_instances)?;
        spawn_epoch_ticker(&engine);
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        current::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        v0_1::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        // Warm instances may hold at most a quarter of the pool's slots.
        let warm = WarmPool::new((max_instances / 4) as usize);
        let running = AtomicU64::new(0);
        Ok(Self {
            engine,
            linker,
            warm,
            running,
        })
    }

    /// The engine components are compiled for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Plugin calls running now.
    pub fn calls_running(&self) -> u64 {
        self.running.load(Ordering::Relaxed)
    }

    /// Instances kept warm between calls now.
    pub fn warm_instances(&self) -> usize {
        self.warm.kept()
    }

    /// Links a component built against `version` of the contract and finds its exports.
    pub fn prepare(&self, component: &Component, version: Version) -> wasmtime::Result<Compiled> {
        let pre = PluginPre::new(version, self.linker.instantiate_pre(component)?)?;
        Ok(Compiled {
            pre,
            exports_checked: AtomicBool::new(false),
        })
    }

    /// Runs `handle` on a fresh instance.
    pub async fn call(
        &self,
        call: Invocation<'_>,
        event: &wit::Event,
        context: &wit::Context,
    ) -> Result<CallOutput, CallError> {
        self.call_export(call, event, context, Export::Handle).await
    }

    /// Runs `on-response` on a fresh instance.
    pub async fn call_on_response(
        &self,
        call: Invocation<'_>,
        event: &wit::Event,
        response: &wit::HttpResponse,
        context: &wit::Context,
    ) -> Result<CallOutput, CallError> {
        self.call_export(call, event, context, Export::OnResponse(response))
            .await
    }

    async fn call_export(
        &self,
        Invocation {
            compiled,
            scope,
            state,
            limits,
            time_left,
            reuse,
        }: Invocation<'_>,
        event: &wit::Event,
        context: &wit::Context,
        export: Export<'_>,
    ) -> Result<CallOutput, CallError> {
        let _running = Running::start(&self.running);
        let warm = reuse.as_ref().and_then(|key| self.warm.take(key));
        let (mut store, warm_plugin, uses) = match warm {
            Some(WarmInstance {
                mut store,
                plugin,
                uses,
            }) => {
                store.data_mut().begin_call(scope, state);
                (store, Some(plugin), uses)
            }
            None => {
                let state = HostState::new(scope, limits.memory_bytes(), state);
                let mut store = Store::new(&self.engine, state);
                store.limiter(|state| &mut state.limiter);
                (store, None, 0)
            }
        };
        enforce_deadline(&mut store, limits);
        let run = async {
            let plugin = match warm_plugin {
                Some(plugin) => plugin,
                None => compiled.instantiate(&mut store).await?,
            };
            let returned = match export {
                Export::Handle => plugin.call_handle(&mut store, event, context).await,
                Export::OnResponse(response) => {
                    plugin
                        .call_on_response(&mut store, event, response, context)
                        .await
                }
            }?;
            Ok::<_, wasmtime::Error>((plugin, returned))
        };
        let (wall_limit, stopped) = if time_left < limits.timeout {
            (time_left, Stopped::Budget(time_left))
        } else {
            (limits.timeout, Stopped::Timeout(limits.timeout))
        };
        let outcome = tokio::time::timeout(wall_limit, run)
            .await
            .unwrap_or_else(|_| Err(wasmtime::Error::new(stopped)));
        store.data().report_dropped_log_lines();
        let (plugin, actions) = match outcome {
            Ok((plugin, Ok(actions))) => {
                let actions = check_actions(actions, limits)?;
                if !plugin.chains() {
                    refuse_continuations(&actions)?;
                }
                (plugin, actions)
            }
            Ok((_, Err(error))) => {
                let reason = format!("plugin returned an error: {}", error.message);
                return Err(CallError::Failed(reason));
            }
            Err(error) => {
                let failure = describe_failure(&error);
                if matches!(failure, CallError::Overloaded(_)) {
                    // Give the slots of idle instances back, so that the retry finds one.
                    self.warm.clear();
                }
                return Err(failure);
            }
        };
        let state = std::mem::replace(
            &mut store.data_mut().state,
            PluginState::new(StateSource::Empty, "", ""),
        );
        if let Some(key) = reuse {
            let uses = uses + 1;
            self.warm.put(
                key,
                WarmInstance {
                    store,
                    plugin,
                    uses,
                },
            );
        }
        Ok(CallOutput {
            actions,
            state: state.into_writes(),
        })
    }
}

/// Counts a call as running until it is dropped, finished or abandoned.
struct Running<'a>(&'a AtomicU64);

impl<'a> Running<'a> {
    fn start(counter: &'a AtomicU64) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Which plugin a call runs, for whom, with which state and limits.
pub struct Invocation<'a> {
    pub compiled: &'a Compiled,
    pub scope: CallScope,
    pub state: PluginState,
    pub limits: &'a PluginLimits,
    /// What is left of the event's time budget: the call's wall-clock limit is the smaller of
    /// this and the plugin's `timeout`.
    pub time_left: Duration,
    /// Run on a warm instance kept for this key, if there is one, and keep the instance for it
    /// after a successful call; `None`: a fresh instance, dropped after the call.
    pub reuse: Option<WarmKey>,
}

/// What a successful call returned: its actions and its buffered state writes.
pub struct CallOutput {
    pub actions: Vec<wit::Action>,
    pub state: Vec<StateWrite>,
}

/// Wakes on every epoch tick while WebAssembly runs: ticks seen there count towards the
/// deadline; otherwise the call yields to the async runtime, so that its wall-clock limit can
/// fire and other tasks run.
fn enforce_deadline(store: &mut Store<HostState>, limits: &PluginLimits) {
    let deadline = limits.deadline;
    let allowed_ticks = (deadline.as_millis() / EPOCH_TICK.as_millis()) as u64 + 1;
    let mut ticks = 0;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        ticks += 1;
        if ticks > allowed_ticks {
            Err(wasmtime::Error::new(Stopped::Deadline(deadline)))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
}

fn check_actions(
    actions: Vec<wit::Action>,
    limits: &PluginLimits,
) -> Result<Vec<wit::Action>, String> {
    if actions.len() > limits.max_actions {
        return Err(format!(
            "returned {} actions, more than its limit of {} (plugin_limits.max_actions; none was \
             kept)",
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

/// A plugin without `on-response` cannot hear back: a continuation would wait for nothing.
fn refuse_continuations(actions: &[wit::Action]) -> Result<(), String> {
    let asks = actions.iter().position(
        |action| matches!(action, wit::Action::Http(request) if request.continuation.is_some()),
    );
    match asks {
        Some(index) => Err(format!(
            "action {index} sets a continuation, but the plugin does not export `on-response` \
             (build it for the `chaining-plugin` world); none was kept"
        )),
        None => Ok(()),
    }
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

fn describe_failure(error: &wasmtime::Error) -> CallError {
    if let Some(full) = error.downcast_ref::<PoolConcurrencyLimitError>() {
        return CallError::Overloaded(format!("no plugin instance slot free: {full}"));
    }
    let reason = if let Some(stopped) = error.downcast_ref::<Stopped>() {
        format!("stopped: {stopped}")
    } else if let Some(cap) = error.downcast_ref::<MemoryCapExceeded>() {
        format!("stopped: {cap}")
    } else if let Some(limit) = error.downcast_ref::<StateLimit>() {
        format!("stopped: {limit}")
    } else if let Some(trap) = error.downcast_ref::<Trap>() {
        format!("trapped: {trap}")
    } else {
        format!("failed: {}", one_line(&format!("{error:#}")))
    };
    CallError::Failed(reason)
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.concurrency_support(false);
    config
}

fn build_engine(max_memory_bytes: usize, max_instances: u32) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.max_memory_size(max_memory_bytes);
    // One component instance and one async stack per call. Its core instances, memories and
    // tables keep wasmtime's defaults unless more calls are allowed than those.
    pool.total_component_instances(max_instances);
    pool.total_stacks(max_instances);
    let parts = max_instances.max(DEFAULT_POOL_PARTS);
    pool.total_core_instances(parts);
    pool.total_memories(parts);
    pool.total_tables(parts);
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
