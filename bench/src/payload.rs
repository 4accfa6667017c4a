//! The requests every target gets: `POST /hooks/bench` with Soda's second-generation seed
//! `checkEvaluation` (one failing check, one passing, each with its dataset, owner, attributes
//! and diagnostics), compact JSON, padded to exactly [`BODY_BYTES`].
//!
//! Two kinds ([`Requests`]). Most targets get a few distinct bodies in turn, each signed with
//! HMAC-SHA256 as the tenant's `verify` expects (signing happens once, before the load: wrk's
//! Lua has no HMAC). With deduplication on, the gateway keys on the signed body, so cycled
//! bodies would be duplicates after the first round; that target gets a body of its own for
//! every request instead (a serial number in the failing check's name) and verifies a token
//! header, the other scheme Soda documents.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use soda_gateway_tests::{failing_check_named, hmac_hex};

/// The tenant every gateway target serves.
pub const TENANT: &str = "bench";
/// Its HMAC-SHA256 secret.
pub const SECRET: &str = "bench-secret";
/// The header carrying the body's signature (the harness's `Tenant::hmac` default).
pub const SIGNATURE_HEADER: &str = "x-soda-signature";
/// The token scheme's header and value, for the target that gets a new body per request.
pub const TOKEN_HEADER: &str = "authorization";
pub const TOKEN: &str = "Bearer bench-token";
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

/// A number no other load run of this process has: with [`Requests::Unique`], no two requests
/// of the benchmark share a body.
pub fn run_number() -> u64 {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    RUNS.fetch_add(1, Ordering::Relaxed)
}

/// What a target is sent, request after request.
pub enum Requests {
    /// [`BODIES`] bodies signed with [`SECRET`] in [`SIGNATURE_HEADER`], in turn.
    Signed(Vec<Signed>),
    /// A body of its own for every request, with [`TOKEN`] in [`TOKEN_HEADER`].
    Unique(Template),
}

impl Requests {
    /// The signed bodies.
    pub fn signed() -> Self {
        Requests::Signed(signed_bodies())
    }

    /// A new body per request.
    pub fn unique() -> Self {
        Requests::Unique(Template::new())
    }

    /// The credential header (name, value) and the body of request `index` of run `run`.
    pub fn request(&self, run: u64, index: u64) -> (&'static str, &str, Bytes) {
        match self {
            Requests::Signed(bodies) => {
                let signed = &bodies[index as usize % bodies.len()];
                (SIGNATURE_HEADER, &signed.signature, signed.body.clone())
            }
            Requests::Unique(template) => {
                (TOKEN_HEADER, TOKEN, Bytes::from(template.body(run, index)))
            }
        }
    }
}

/// A body whose failing check's name ends in a serial number of [`SERIAL_DIGITS`] digits.
pub struct Template {
    body: Vec<u8>,
    serial_at: usize,
}

/// The serial's width: 4 digits of run, 12 of request.
pub const SERIAL_DIGITS: usize = 16;

impl Template {
    fn new() -> Self {
        let zeros = "0".repeat(SERIAL_DIGITS);
        let body = check_evaluation(&format!("s-{zeros}"));
        let name = format!("s-{zeros}").into_bytes();
        let at = body
            .windows(name.len())
            .position(|window| window == name)
            .expect("the check's name is in the body");
        Template {
            body,
            serial_at: at + name.len() - SERIAL_DIGITS,
        }
    }

    /// The text before and after the serial.
    pub fn parts(&self) -> (&[u8], &[u8]) {
        let (before, rest) = self.body.split_at(self.serial_at);
        (before, &rest[SERIAL_DIGITS..])
    }

    /// The body of request `index` of run `run`.
    pub fn body(&self, run: u64, index: u64) -> Vec<u8> {
        let (before, after) = self.parts();
        let serial = format!("{:04}{:012}", run % 10_000, index);
        [before, serial.as_bytes(), after].concat()
    }
}

/// One request body and the signature header's value for it.
pub struct Signed {
    pub body: Bytes,
    pub signature: String,
}

/// [`BODIES`] distinct bodies (the failing check is named `bench-check-NNNNNN`), each signed
/// with [`SECRET`].
fn signed_bodies() -> Vec<Signed> {
    (0..BODIES)
        .map(|index| {
            let body = check_evaluation(&format!("bench-check-{index:06}"));
            Signed {
                signature: hmac_hex(SECRET, &body),
                body: Bytes::from(body),
            }
        })
        .collect()
}

/// The seed `checkEvaluation` with its failing check named `name`, exactly [`BODY_BYTES`] long.
fn check_evaluation(name: &str) -> Vec<u8> {
    let mut event = failing_check_named(name);
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
