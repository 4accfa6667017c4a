//! The `state` import: a plugin's private key-value store, scoped to one (tenant, plugin).
//!
//! Reads go to the database (through the async store, from the blocking thread the call runs
//! on); writes are buffered and returned with the call's actions, so that both are committed in
//! the same transaction, or neither is. A call without a database (the CLI, benchmarks) starts
//! from empty state.

use std::collections::BTreeMap;

use tokio::runtime::Handle;

use crate::actions::StateWrite;
use crate::store::Store;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Most keys one (tenant, plugin) pair may hold.
pub const MAX_KEYS: usize = 1000;

/// Where a call's state lives.
#[derive(Clone)]
pub enum StateSource {
    /// The gateway's store; `Handle` runs its queries from the blocking call thread.
    Store(Store, Handle),
    /// Nothing persisted: every call starts empty.
    Empty,
}

/// One call's view of its (tenant, plugin) state.
pub struct PluginState {
    source: StateSource,
    tenant: String,
    plugin: String,
    writes: BTreeMap<String, Option<Vec<u8>>>,
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
            stored_keys: None,
        }
    }

    /// The value under `key`, this call's writes included.
    pub fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        if let Some(written) = self.writes.get(key) {
            return written.clone();
        }
        self.stored(key)
    }

    /// Buffers a write; the error names the limit it would break.
    pub fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        if key.len() > MAX_KEY_BYTES {
            return Err(format!(
                "key is {} bytes, more than {MAX_KEY_BYTES}",
                key.len()
            ));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!(
                "value is {} bytes, more than {MAX_VALUE_BYTES}",
                value.len()
            ));
        }
        if self.get(&key).is_none() && self.key_count() >= MAX_KEYS {
            return Err(format!(
                "this plugin already holds {MAX_KEYS} keys for this tenant"
            ));
        }
        self.writes.insert(key, Some(value));
        Ok(())
    }

    /// Buffers a delete.
    pub fn delete(&mut self, key: String) {
        self.writes.insert(key, None);
    }

    /// The buffered writes, in key order.
    pub fn into_writes(self) -> Vec<StateWrite> {
        self.writes
            .into_iter()
            .map(|(key, value)| StateWrite { key, value })
            .collect()
    }

    fn stored(&self, key: &str) -> Option<Vec<u8>> {
        match &self.source {
            StateSource::Store(store, handle) => handle
                .block_on(store.state_get(&self.tenant, &self.plugin, key))
                .unwrap_or_else(|error| {
                    tracing::error!(tenant = %self.tenant, plugin = %self.plugin, "cannot read plugin state: {error:#}");
                    None
                }),
            StateSource::Empty => None,
        }
    }

    /// Keys held once this call's writes are applied.
    fn key_count(&mut self) -> usize {
        let stored = *self.stored_keys.get_or_insert_with(|| match &self.source {
            StateSource::Store(store, handle) => handle
                .block_on(store.state_count(&self.tenant, &self.plugin))
                .unwrap_or(usize::MAX),
            StateSource::Empty => 0,
        });
        let mut count = stored;
        for (key, value) in &self.writes {
            match (self.stored(key).is_some(), value.is_some()) {
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

    #[test]
    fn a_call_reads_its_own_writes_and_deletes() {
        let mut state = empty();
        state.set("a".into(), b"1".to_vec()).unwrap();
        assert_eq!(state.get("a"), Some(b"1".to_vec()));
        state.delete("a".into());
        assert_eq!(state.get("a"), None);
        assert_eq!(
            state.into_writes(),
            vec![StateWrite {
                key: "a".into(),
                value: None
            }]
        );
    }

    #[test]
    fn oversized_keys_and_values_are_refused() {
        let mut state = empty();
        assert!(state
            .set("k".repeat(MAX_KEY_BYTES + 1), vec![])
            .unwrap_err()
            .contains("key"));
        let error = state
            .set("k".into(), vec![0; MAX_VALUE_BYTES + 1])
            .unwrap_err();
        assert!(error.contains("value"), "{error}");
        assert!(state.into_writes().is_empty());
    }

    #[test]
    fn the_key_count_is_capped() {
        let mut state = empty();
        for i in 0..MAX_KEYS {
            state.set(format!("k{i}"), vec![1]).unwrap();
        }
        assert!(state
            .set("one-more".into(), vec![1])
            .unwrap_err()
            .contains("keys"));
        state
            .set("k0".into(), vec![2])
            .expect("overwriting is not a new key");
    }
}
