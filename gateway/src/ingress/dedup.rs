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

use super::verify::Verify;
use super::verify::WEBHOOK_ID;

/// Keys remembered at most; older ones are left to the store.
const REMEMBERED: usize = 32_768;

/// What recognises a second delivery of the same event, built only from what the tenant's
/// scheme signs: the SHA-256 of the raw body, and under Standard Webhooks (which signs
/// `webhook-id` too) the id with it, so that two messages of the same text stay two. An
/// unsigned `webhook-id` is ignored: anyone could make a replay look new or hide an event
/// behind another's id.
pub struct Key {
    /// What the store and [`RecentKeys`] compare.
    pub key: String,
    /// The signed `webhook-id`, to notice an id reused with a different body.
    pub webhook_id: Option<String>,
}

impl Key {
    /// The key of a verified request.
    pub fn of(verify: &Verify, headers: &HeaderMap, body: &[u8]) -> Self {
        let hash = hex::encode(Sha256::digest(body));
        let webhook_id = matches!(verify, Verify::StandardWebhooks { .. })
            .then(|| headers.get(WEBHOOK_ID)?.to_str().ok())
            .flatten()
            .map(str::to_owned);
        let key = match &webhook_id {
            Some(id) => format!("id:{id}:sha256:{hash}"),
            None => format!("sha256:{hash}"),
        };
        Self { key, webhook_id }
    }

    /// What [`RecentKeys`] remembers of the signed `webhook-id`, apart from the body.
    pub fn id_marker(&self) -> Option<String> {
        self.webhook_id
            .as_ref()
            .map(|id| format!("webhook-id:{id}"))
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
    fn only_a_signed_webhook_id_joins_the_body_hash() {
        let mut headers = HeaderMap::new();
        headers.insert(WEBHOOK_ID, "msg_1".parse().unwrap());
        let hmac = Verify::HmacSha256 {
            header: "x-sig".into(),
            secrets: vec!["s".into()],
        };
        let unsigned = Key::of(&hmac, &headers, b"{}");
        assert_eq!(unsigned.key, Key::of(&hmac, &HeaderMap::new(), b"{}").key);
        assert!(unsigned.key.starts_with("sha256:") && unsigned.id_marker().is_none());
        let standard = Verify::StandardWebhooks {
            secrets: vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()],
            tolerance: Duration::from_secs(300),
        };
        let signed = Key::of(&standard, &headers, b"{}");
        assert!(signed.key.starts_with("id:msg_1:sha256:"), "{}", signed.key);
        assert_ne!(signed.key, Key::of(&standard, &headers, b"[]").key);
        assert_eq!(signed.id_marker().as_deref(), Some("webhook-id:msg_1"));
    }
}
