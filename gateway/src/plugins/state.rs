//! The `state` import: a plugin's private key-value store, scoped to one (tenant, plugin).
//!
//! Reads go to the database (awaited like any other host call); writes are buffered and
//! returned with the call's actions, so that both are committed in the same transaction, or
//! neither is. A call without a database starts from empty state (benchmarks) or from the
//! state it was given (`plugin run --state`).
//!
//! Every operation counts against per-call limits, so that a plugin cannot make the host hold
//! or look up more than a bounded amount: a call that breaks one is stopped (a trap), and
//! nothing it wrote is kept.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::records::StateWrite;
use crate::store::Store;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Most keys one (tenant, plugin) pair may hold.
pub const MAX_KEYS: usize = 1000;
/// State operations (get, set, delete) one call may make.
pub const MAX_OPERATIONS: usize = 2 * MAX_KEYS;
/// Bytes of keys and values one call may write.
pub const MAX_WRITTEN_BYTES: usize = 1024 * 1024;

/// Where a call's state lives.
#[derive(Clone)]
pub enum StateSource {
    /// The gateway's store.
    Store(Store),
    /// Nothing persisted: every call starts empty.
    Empty,
    /// Fixed values (`plugin run --state`): a call reads them, and its writes are returned as
    /// usual, never applied here.
    Snapshot(Arc<BTreeMap<String, Vec<u8>>>),
}

/// Why a call was stopped by its state operations.
#[derive(Debug, thiserror::Error)]
pub enum StateLimit {
    #[error("made more than {MAX_OPERATIONS} state operations in one call")]
    Operations,
    #[error("used a state key of {0} bytes, more than {MAX_KEY_BYTES}")]
    Key(usize),
}

/// A write of this call, with whether the key was stored before it (so that counting keys
/// needs no lookup per buffered write).
struct Buffered {
    value: Option<Vec<u8>>,
    was_stored: bool,
}

/// One call's view of its (tenant, plugin) state.
pub struct PluginState {
    source: StateSource,
    tenant: String,
    plugin: String,
    writes: BTreeMap<String, Buffered>,
    written_bytes: usize,
    operations: usize,
    stored_keys: Option<usize>,
}

impl PluginState {
    /// The state of `plugin` for `tenant`.
    pub fn new(source: StateSource, tenant: &str, plugin: &str) -> Self {
        Self {
            source,
            tenant: tenant.to_owned(),
            plugin: plugin.to_owned(),
            writes: BTreeMap::new(),
            written_bytes: 0,
            operations: 0,
            stored_keys: None,
        }
    }

    /// The value under `key`, this call's writes included.
    pub async fn get(&mut self, key: &str) -> wasmtime::Result<Option<Vec<u8>>> {
        self.count(key)?;
        match self.writes.get(key) {
            Some(written) => Ok(written.value.clone()),
            None => Ok(self.stored(key).await),
        }
    }

    /// Buffers a write; the inner error names the limit it would break.
    pub async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), String>> {
        self.count(&key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(format!(
                "value is {} bytes, more than {MAX_VALUE_BYTES}",
                value.len()
            )));
        }
        let size = key.len() + value.len();
        if self.written_bytes + size > MAX_WRITTEN_BYTES {
            return Ok(Err(format!(
                "this call already wrote {} bytes of state; the limit is {MAX_WRITTEN_BYTES}",
                self.written_bytes
            )));
        }
        let was_stored = self.was_stored(&key).await;
        let holds_key = match self.writes.get(&key) {
            Some(written) => written.value.is_some(),
            None => was_stored,
        };
        if !holds_key && self.key_count().await >= MAX_KEYS {
            return Ok(Err(format!(
                "this plugin already holds {MAX_KEYS} keys for this tenant"
            )));
        }
        self.written_bytes += size;
        let value = Some(value);
        self.writes.insert(key, Buffered { value, was_stored });
        Ok(Ok(()))
    }

    /// Buffers a delete.
    pub async fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.count(&key)?;
        let was_stored = self.was_stored(&key).await;
        self.written_bytes += key.len();
        let value = None;
        self.writes.insert(key, Buffered { value, was_stored });
        Ok(())
    }

    /// The buffered writes, in key order.
    pub fn into_writes(self) -> Vec<StateWrite> {
        self.writes
            .into_iter()
            .map(|(key, written)| StateWrite {
                key,
                value: written.value,
            })
            .collect()
    }

    /// Counts one operation on `key`, stopping the call past the limits.
    fn count(&mut self, key: &str) -> Result<(), StateLimit> {
        self.operations += 1;
        if self.operations > MAX_OPERATIONS {
            return Err(StateLimit::Operations);
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(StateLimit::Key(key.len()));
        }
        Ok(())
    }

    /// Whether `key` was in the store before this call (looked up once per key).
    async fn was_stored(&self, key: &str) -> bool {
        match self.writes.get(key) {
            Some(written) => written.was_stored,
            None => self.stored(key).await.is_some(),
        }
    }

    async fn stored(&self, key: &str) -> Option<Vec<u8>> {
        match &self.source {
            StateSource::Store(store) => store
                .state_get(&self.tenant, &self.plugin, key)
                .await
                .unwrap_or_else(|error| {
                    tracing::error!(tenant = %self.tenant, plugin = %self.plugin, "cannot read plugin state: {error:#}");
                    None
                }),
            StateSource::Empty => None,
            StateSource::Snapshot(values) => values.get(key).cloned(),
        }
    }

    /// Keys held once this call's writes are applied.
    async fn key_count(&mut self) -> usize {
        let stored = match self.stored_keys {
            Some(count) => count,
            None => {
                let count = match &self.source {
                    StateSource::Store(store) => store
                        .state_count(&self.tenant, &self.plugin)
                        .await
                        .unwrap_or(usize::MAX),
                    StateSource::Empty => 0,
                    StateSource::Snapshot(values) => values.len(),
                };
                *self.stored_keys.insert(count)
            }
        };
        let mut count = stored;
        for written in self.writes.values() {
            match (written.was_stored, written.value.is_some()) {
                (false, true) => count = count.saturating_add(1),
                (true, false) => count = count.saturating_sub(1),
                _ => {}
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> PluginState {
        PluginState::new(StateSource::Empty, "acme", "jira")
    }

    async fn set(state: &mut PluginState, key: &str, value: &[u8]) -> Result<(), String> {
        state.set(key.into(), value.to_vec()).await.unwrap()
    }

    #[tokio::test]
    async fn a_call_reads_its_own_writes_and_deletes() {
        let mut state = empty();
        set(&mut state, "a", b"1").await.unwrap();
        assert_eq!(state.get("a").await.unwrap(), Some(b"1".to_vec()));
        state.delete("a".into()).await.unwrap();
        assert_eq!(state.get("a").await.unwrap(), None);
        assert_eq!(
            state.into_writes(),
            vec![StateWrite {
                key: "a".into(),
                value: None
            }]
        );
    }

    #[tokio::test]
    async fn oversized_values_are_refused_and_oversized_keys_stop_the_call() {
        let mut state = empty();
        let error = set(&mut state, "k", &vec![0; MAX_VALUE_BYTES + 1])
            .await
            .unwrap_err();
        assert!(error.contains("value"), "{error}");
        for long_key in ["k".repeat(MAX_KEY_BYTES + 1), "k".repeat(1024 * 1024)] {
            let stopped = state.delete(long_key.clone()).await.unwrap_err();
            assert!(stopped.to_string().contains("state key"), "{stopped}");
            assert!(state.get(&long_key).await.is_err());
        }
        assert!(state.into_writes().is_empty());
    }

    #[tokio::test]
    async fn operations_per_call_are_capped() {
        let mut state = empty();
        for _ in 0..MAX_OPERATIONS {
            state.delete("k".into()).await.unwrap();
        }
        let stopped = state.get("k").await.unwrap_err();
        assert!(
            stopped.to_string().contains("state operations"),
            "{stopped}"
        );
    }

    #[tokio::test]
    async fn bytes_written_per_call_are_capped() {
        let mut state = empty();
        let value = vec![0; MAX_VALUE_BYTES];
        for i in 0..MAX_WRITTEN_BYTES / MAX_VALUE_BYTES - 1 {
            set(&mut state, &format!("k{i}"), &value).await.unwrap();
        }
        let error = set(&mut state, "last", &value).await.unwrap_err();
        assert!(error.contains("already wrote"), "{error}");
    }

    #[tokio::test]
    async fn the_key_count_is_capped() {
        let mut state = empty();
        for i in 0..MAX_KEYS {
            set(&mut state, &format!("k{i}"), &[1]).await.unwrap();
        }
        let error = set(&mut state, "one-more", &[1]).await.unwrap_err();
        assert!(error.contains("keys"), "{error}");
        set(&mut state, "k0", &[2])
            .await
            .expect("overwriting is not a new key");
    }
}
