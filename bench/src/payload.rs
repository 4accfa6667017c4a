//! The request every target gets: Soda's second-generation seed `checkEvaluation` (one failing
//! check, one passing, each with its dataset, owner, attributes and diagnostics), compact JSON,
//! padded to exactly [`BODY_BYTES`] and signed with HMAC-SHA256 as the tenant's `verify` expects.

use bytes::Bytes;
use soda_gateway_tests::{failing_check_named, hmac_hex};

/// The size of every request body.
pub const BODY_BYTES: usize = 2048;

/// Realistic text appended to the failing check's definition until the body has the right size
/// (plain ASCII that JSON writes as is, so one character is one byte).
const PADDING: &str =
    " # owner: data-platform; runbook: https://wiki.example.com/runbooks/orders-customer-ids; \
                       escalate to the sales-data on-call after two consecutive failures; ";

/// One request body and the signature header's value for it.
pub struct Signed {
    pub body: Bytes,
    pub signature: String,
}

/// `count` distinct bodies (the failing check is named `bench-check-NNNNNN`), each signed with
/// `secret`.
pub fn signed_bodies(count: usize, secret: &str) -> Vec<Signed> {
    (0..count)
        .map(|index| {
            let body = check_evaluation(index);
            Signed {
                signature: hmac_hex(secret, &body),
                body: Bytes::from(body),
            }
        })
        .collect()
}

/// The seed `checkEvaluation` with its failing check named for `index`, exactly
/// [`BODY_BYTES`] long.
pub fn check_evaluation(index: usize) -> Vec<u8> {
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
