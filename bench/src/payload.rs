//! The request every target gets: `POST /hooks/bench` with Soda's second-generation seed
//! `checkEvaluation` (one failing check, one passing, each with its dataset, owner, attributes
//! and diagnostics), compact JSON, padded to exactly [`BODY_BYTES`] and signed with HMAC-SHA256
//! as the tenant's `verify` expects, and a `webhook-id` of its own.
//!
//! A few distinct bodies are cycled (signing happens once, before the load); the `webhook-id`,
//! which the gateway's inbound deduplication prefers to the body's hash, makes every request a
//! new event even with deduplication on.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use soda_gateway_tests::{failing_check_named, hmac_hex};

/// The tenant every gateway target serves.
pub const TENANT: &str = "bench";
/// Its HMAC-SHA256 secret.
pub const SECRET: &str = "bench-secret";
/// The header carrying the body's signature (the harness's `Tenant::hmac` default).
pub const SIGNATURE_HEADER: &str = "x-soda-signature";
/// The header that names a delivery (Standard Webhooks' name; deduplication keys on it).
pub const ID_HEADER: &str = "webhook-id";
/// The size of every request body.
pub const BODY_BYTES: usize = 2048;
/// Distinct bodies the load cycles through.
pub const BODIES: usize = 64;

/// Realistic text appended to the failing check's definition until the body has the right size
/// (plain ASCII that JSON writes as is, so one character is one byte).
const PADDING: &str =
    " # owner: data-platform; runbook: https://wiki.example.com/runbooks/orders-customer-ids; \
                       escalate to the sales-data on-call after two consecutive failures; ";

/// `/hooks/{TENANT}`: the path every request posts to.
pub fn path() -> String {
    format!("/hooks/{TENANT}")
}

/// A label no other load run of this process has: the `webhook-id` of a run's `n`-th request is
/// `{label}-{n}`, so no two requests of the benchmark share one.
pub fn run_label() -> String {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    format!("run{}", RUNS.fetch_add(1, Ordering::Relaxed))
}

/// One request body and the signature header's value for it.
pub struct Signed {
    pub body: Bytes,
    pub signature: String,
}

/// [`BODIES`] distinct bodies (the failing check is named `bench-check-NNNNNN`), each signed
/// with [`SECRET`].
pub fn signed_bodies() -> Vec<Signed> {
    (0..BODIES)
        .map(|index| {
            let body = check_evaluation(index);
            Signed {
                signature: hmac_hex(SECRET, &body),
                body: Bytes::from(body),
            }
        })
        .collect()
}

/// The seed `checkEvaluation` with its failing check named for `index`, exactly
/// [`BODY_BYTES`] long.
fn check_evaluation(index: usize) -> Vec<u8> {
    let mut event = failing_check_named(&format!("bench-check-{index:06}"));
    let unpadded = serde_json::to_vec(&event).expect("JSON").len();
    assert!(
        unpadded <= BODY_BYTES,
        "the seed checkEvaluation is {unpadded} bytes, more than {BODY_BYTES}"
    );
    let definition = &mut event["checkResults"][0]["definition"];
    let mut text = definition.as_str().expect("a check definition").to_string();
    text.extend(PADDING.chars().cycle().take(BODY_BYTES - unpadded));
    *definition = serde_json::Value::String(text);
    let body = serde_json::to_vec(&event).expect("JSON");
    assert_eq!(body.len(), BODY_BYTES, "the padded body's size");
    body
}
