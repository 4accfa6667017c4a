//! Inbound deduplication: what recognises a second delivery of the same event, and the keys
//! this process accepted recently.
//!
//! The store decides: storing an event claims its tenant's key unless an event stored within
//! the window holds it (`store::DuplicateEvent`), so no look-up runs per request and two
//! deliveries racing each other cannot both be stored. [`RecentKeys`] only spares the plugins
//! a run on the common case, a delivery repeated after its first one was answered.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

/// Keys remembered at most; older ones are left to the store.
const REMEMBERED: usize = 32_768;

/// What recognises a second delivery of the same event: the Standard Webhooks `webhook-id` when
/// the sender sets one, else the SHA-256 of the raw body.
pub fn key(headers: &HeaderMap, body: &[u8]) -> String {
    match headers.get("webhook-id").and_then(|id| id.to_str().ok()) {
        Some(id) => format!("id:{id}"),
        None => format!("sha256:{}", hex::encode(Sha256::digest(body))),
    }
}

/// Dedup keys of events accepted within the window, per tenant, newest last.
pub struct RecentKeys {
    window: Duration,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    by_tenant: HashMap<String, HashMap<String, Instant>>,
    order: VecDeque<(String, String, Instant)>,
}

impl RecentKeys {
    /// Remembers keys for `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            seen: Mutex::default(),
        }
    }

    /// Whether `tenant` had an event with `key` accepted within the window.
    pub fn contains(&self, tenant: &str, key: &str) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.by_tenant
            .get(tenant)
            .and_then(|keys| keys.get(key))
            .is_some_and(|at| at.elapsed() < self.window)
    }

    /// Remembers that `tenant` accepted an event with `key` now.
    pub fn insert(&self, tenant: &str, key: &str) {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.by_tenant
            .entry(tenant.to_owned())
            .or_default()
            .insert(key.to_owned(), now);
        seen.order
            .push_back((tenant.to_owned(), key.to_owned(), now));
        while let Some((tenant, key, at)) = seen.order.front().cloned() {
            if seen.order.len() <= REMEMBERED && at.elapsed() < self.window {
                break;
            }
            seen.order.pop_front();
            let keys = seen
                .by_tenant
                .get_mut(&tenant)
                .expect("ordered keys are kept");
            // A key accepted again later keeps its newer time.
            if keys.get(&key) == Some(&at) {
                keys.remove(&key);
            }
            if keys.is_empty() {
                seen.by_tenant.remove(&tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_remembered_per_tenant_within_the_window() {
        let recent = RecentKeys::new(Duration::from_secs(60));
        recent.insert("acme", "sha256:a");
        assert!(recent.contains("acme", "sha256:a"));
        assert!(!recent.contains("other", "sha256:a"));
        assert!(!recent.contains("acme", "sha256:b"));
        let brief = RecentKeys::new(Duration::from_millis(1));
        brief.insert("acme", "sha256:a");
        std::thread::sleep(Duration::from_millis(5));
        assert!(!brief.contains("acme", "sha256:a"), "past the window");
    }

    #[test]
    fn memory_is_bounded() {
        let recent = RecentKeys::new(Duration::from_secs(60));
        for i in 0..REMEMBERED + 10 {
            recent.insert("acme", &i.to_string());
        }
        assert!(!recent.contains("acme", "0"), "the oldest is forgotten");
        assert!(recent.contains("acme", &(REMEMBERED + 9).to_string()));
        let seen = recent.seen.lock().unwrap();
        assert_eq!(seen.order.len(), REMEMBERED);
    }

    #[test]
    fn the_webhook_id_is_the_key_when_there_is_one() {
        let mut headers = HeaderMap::new();
        assert!(key(&headers, b"{}").starts_with("sha256:"));
        headers.insert("webhook-id", "msg_1".parse().unwrap());
        assert_eq!(key(&headers, b"{}"), "id:msg_1");
    }
}
