//! Warm instances: a plugin instance kept after a successful call, for the next event of the
//! same tenant, plugin version and configuration.
//!
//! Instantiating a component that embeds an interpreter (Python, JavaScript) costs
//! milliseconds; calling a warm one costs what the plugin's own work costs. An instance is only
//! ever reused for the very (tenant, plugin file, config) it was created for, is dropped after
//! any failure (trap, limit, error returned, timeout), after [`MAX_USES`] calls and after
//! [`IDLE_TIMEOUT`] unused, and the pool holds at most [`MAX_PER_KEY`] instances of one key and
//! a bounded total. What a plugin can observe across events is therefore only what it left in
//! its own memory during earlier events of the same tenant.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use wasmtime::Store;

use super::contract::Plugin;
use super::host::HostState;

/// Calls one warm instance serves before it is replaced by a fresh one.
pub const MAX_USES: u32 = 1000;
/// How long an unused warm instance is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Warm instances kept for one (tenant, plugin, config).
pub const MAX_PER_KEY: usize = 4;

/// What a warm instance may be reused for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WarmKey {
    pub tenant: String,
    /// The plugin file's SHA-256: a reloaded plugin never gets an old version's instance.
    pub sha256: String,
    pub config_json: String,
}

/// An instance between calls, with its store (memory, tables, WASI resources).
pub struct WarmInstance {
    pub store: Store<HostState>,
    pub plugin: Plugin,
    pub uses: u32,
}

/// The warm instances of every key, bounded in number and age.
pub struct WarmPool {
    capacity: usize,
    idle: Mutex<Idle>,
}

#[derive(Default)]
struct Idle {
    by_key: HashMap<WarmKey, Vec<(WarmInstance, Instant)>>,
    total: usize,
}

impl WarmPool {
    /// A pool that keeps at most `capacity` instances in all.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            idle: Mutex::default(),
        }
    }

    /// A warm instance for `key`, if one is kept.
    pub fn take(&self, key: &WarmKey) -> Option<WarmInstance> {
        let mut idle = self.lock();
        let instances = idle.by_key.get_mut(key)?;
        let (instance, _) = instances.pop()?;
        if instances.is_empty() {
            idle.by_key.remove(key);
        }
        idle.total -= 1;
        Some(instance)
    }

    /// Keeps `instance` for `key` unless it has served enough or the pool is full; drops
    /// instances idle for longer than [`IDLE_TIMEOUT`] on the way.
    pub fn put(&self, key: WarmKey, instance: WarmInstance) {
        if instance.uses >= MAX_USES {
            return;
        }
        let now = Instant::now();
        let mut idle = self.lock();
        let mut expired = 0;
        idle.by_key.retain(|_, instances| {
            let before = instances.len();
            instances.retain(|(_, since)| now.duration_since(*since) < IDLE_TIMEOUT);
            expired += before - instances.len();
            !instances.is_empty()
        });
        idle.total -= expired;
        if idle.total >= self.capacity {
            return;
        }
        let instances = idle.by_key.entry(key).or_default();
        if instances.len() < MAX_PER_KEY {
            instances.push((instance, now));
            idle.total += 1;
        }
    }

    /// Drops every warm instance (to give their pool slots back).
    pub fn clear(&self) {
        let mut idle = self.lock();
        idle.by_key.clear();
        idle.total = 0;
    }

    /// Warm instances kept now.
    pub fn kept(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
