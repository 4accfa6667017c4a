//! The wasmtime engine and one sandboxed plugin call.
//!
//! One engine for the whole gateway: pooling allocator (with an on-demand fallback where the
//! address space is too small for it), epoch interruption driven by a ticker thread, and no
//! component-model concurrency (not needed, and it makes calls slower). Every call gets a fresh
//! store and instance with a memory cap and a CPU deadline.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

use super::bindings::{wit, Plugin, PluginPre};
use super::host::{CallScope, HostState};
use crate::config::PluginLimits;

/// How often the epoch advances; the CPU deadline is counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Memory a reused pooling slot keeps mapped: a plugin built with a 64 KiB stack (see
/// `.cargo/config.toml`) has its stack, data and first heap pages in this range.
const KEEP_RESIDENT_BYTES: usize = 256 * 1024;
/// Freed slots returned to the kernel at once.
const DECOMMIT_BATCH: usize = 16;

/// The engine, the linker with the host imports, and the limits every call runs under.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    deadline: Duration,
    memory_bytes: usize,
}

/// A compiled plugin, pre-linked so that instantiating it is cheap.
pub struct Compiled {
    pre: PluginPre<HostState>,
}

impl Runtime {
    /// Builds the engine and links WASI (empty context), `log` and `clock`.
    pub fn new(limits: &PluginLimits) -> anyhow::Result<Self> {
        let memory_bytes = usize::try_from(limits.memory_mib * 1024 * 1024)
            .context("`plugin_limits.memory_mib` is too large for this machine")?;
        let engine = build_engine(memory_bytes)?;
        spawn_epoch_ticker(&engine);
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        Ok(Self {
            engine,
            linker,
            deadline: limits.deadline,
            memory_bytes,
        })
    }

    /// Compiles a component from a file and checks it against the contract.
    pub fn compile_file(&self, path: &Path) -> anyhow::Result<Compiled> {
        let component = Component::from_file(&self.engine, path)
            .map_err(anyhow::Error::from)
            .context("not a valid WebAssembly component")?;
        self.prepare(&component)
    }

    /// Compiles a component from bytes and checks it against the contract.
    pub fn compile_bytes(&self, bytes: &[u8]) -> anyhow::Result<Compiled> {
        let component = Component::new(&self.engine, bytes)
            .map_err(anyhow::Error::from)
            .context("not a valid WebAssembly component")?;
        self.prepare(&component)
    }

    fn prepare(&self, component: &Component) -> anyhow::Result<Compiled> {
        let instance_pre = self
            .linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .context("the component's imports do not match what the gateway provides")?;
        let pre = PluginPre::new(instance_pre)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "the component does not export the `handle` function of {}",
                    super::bindings::CONTRACT_VERSION
                )
            })?;
        Ok(Compiled { pre })
    }

    /// Runs `handle` on a fresh instance. The error is one line, fit for the audit trail.
    pub fn call(
        &self,
        compiled: &Compiled,
        scope: CallScope,
        event: &wit::Event,
        context: &wit::Context,
    ) -> Result<Vec<wit::Action>, String> {
        let mut store = Store::new(&self.engine, HostState::new(scope, self.memory_bytes));
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(deadline_ticks(self.deadline));
        let outcome = compiled
            .pre
            .instantiate(&mut store)
            .and_then(|instance| instance.call_handle(&mut store, event, context));
        match outcome {
            Ok(Ok(actions)) => Ok(actions),
            Ok(Err(error)) => Err(format!("plugin returned an error: {}", error.message)),
            Err(error) => Err(self.describe_failure(&error)),
        }
    }

    fn describe_failure(&self, error: &wasmtime::Error) -> String {
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => format!(
                "stopped: exceeded its CPU deadline of {}",
                humantime::format_duration(self.deadline)
            ),
            Some(trap) if format!("{error:?}").contains("forcing trap when growing memory") => {
                format!(
                    "stopped: exceeded its memory cap of {} MiB ({trap})",
                    self.memory_bytes / (1024 * 1024)
                )
            }
            Some(trap) => format!("trapped: {trap}"),
            None => format!("failed: {}", one_line(&format!("{error:#}"))),
        }
    }

    /// The underlying engine (for benchmarks and tools).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.concurrency_support(false);
    config
}

fn build_engine(memory_bytes: usize) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.max_memory_size(memory_bytes);
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

fn deadline_ticks(deadline: Duration) -> u64 {
    // One extra tick: the first may come at any moment after the deadline is set.
    (deadline.as_millis() / EPOCH_TICK.as_millis()) as u64 + 1
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
