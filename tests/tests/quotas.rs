//! Per-tenant quotas: a tenant that floods gets `429` with `Retry-After` past its rate, while
//! another tenant's events keep being accepted and delivered. Prints both tenants' latencies.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use soda_gateway_tests::{
    failing_check_named, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};
use tokio::task::JoinSet;

const NOISY_RATE: f64 = 10.0;
const NOISY_BURST: u32 = 10;
const FLOOD: Duration = Duration::from_secs(3);
const FLOODERS: usize = 12;
const QUIET_EVENTS: usize = 30;
/// Soda's timeout for an answer.
const SODA_TIMEOUT: Duration = Duration::from_secs(10);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(mut latencies: Vec<Duration>) -> String {
    latencies.sort();
    format!(
        "n={} p50={:?} p99={:?} max={:?}",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_tenant_is_held_to_its_quota_and_the_others_keep_flowing() {
    let slack = FakeDownstream::start().await;
    let noisy = Tenant::hmac("noisy", "s1")
        .quota(&format!(
            "{{ requests_per_second = {NOISY_RATE}, burst = {NOISY_BURST} }}"
        ))
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/noisy") }));
    let quiet = Tenant::hmac("quiet", "s2")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/quiet") }));
    let gateway = Arc::new(Gateway::start(Config::new().tenant(noisy).tenant(quiet)).await);

    // The quiet tenant alone, for a baseline.
    let mut alone = Vec::new();
    for i in 0..10 {
        let reply = gateway
            .send_event("quiet", &failing_check_named(&format!("alone-{i}")))
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        alone.push(reply.elapsed);
    }

    // The flood, and the quiet tenant's events during it.
    let started = Instant::now();
    let limited_seen = Arc::new(AtomicBool::new(false));
    let mut flooders = JoinSet::new();
    for client in 0..FLOODERS {
        let gateway = Arc::clone(&gateway);
        let limited_seen = Arc::clone(&limited_seen);
        flooders.spawn(async move {
            let mut replies = Vec::new();
            let mut i = 0;
            // For FLOOD, and on until the quota refused one: a loaded machine may send too
            // slowly to go past the burst and the rate within FLOOD.
            while started.elapsed() < FLOOD
                || (!limited_seen.load(Ordering::SeqCst) && started.elapsed() < SOON)
            {
                let marker = format!("noisy-{client}-{i}");
                let reply = gateway
                    .send_event("noisy", &failing_check_named(&marker))
                    .await;
                if reply.status == 429 {
                    limited_seen.store(true, Ordering::SeqCst);
                }
                replies.push(reply);
                i += 1;
            }
            // When this client's last request was answered: the quota is checked against it.
            (replies, started.elapsed())
        });
    }
    let mut during = Vec::new();
    for i in 0..QUIET_EVENTS {
        let reply = gateway
            .send_event("quiet", &failing_check_named(&format!("during-{i}")))
            .await;
        assert_eq!(reply.status, 200, "the quiet tenant was refused: {reply:?}");
        during.push(reply.elapsed);
        tokio::time::sleep(FLOOD / QUIET_EVENTS as u32).await;
    }
    let mut noisy_replies = Vec::new();
    let mut flood_time = Duration::ZERO;
    while let Some(joined) = flooders.join_next().await {
        let (replies, ended) = joined.expect("a flooding client");
        noisy_replies.extend(replies);
        flood_time = flood_time.max(ended);
    }

    let accepted: Vec<_> = noisy_replies.iter().filter(|r| r.status == 200).collect();
    let limited: Vec<_> = noisy_replies.iter().filter(|r| r.status == 429).collect();
    let other: Vec<_> = noisy_replies
        .iter()
        .filter(|r| r.status != 200 && r.status != 429)
        .collect();
    println!(
        "noisy: sent={} accepted={} limited={} over {flood_time:?}; accepted latency {}",
        noisy_replies.len(),
        accepted.len(),
        limited.len(),
        summary(accepted.iter().map(|r| r.elapsed).collect())
    );
    println!("quiet alone:        {}", summary(alone));
    println!("quiet during flood: {}", summary(during.clone()));

    assert!(other.is_empty(), "unexpected answers: {other:?}");
    assert!(!limited.is_empty(), "the flood was never limited");
    let allowed = f64::from(NOISY_BURST) + NOISY_RATE * flood_time.as_secs_f64() + 1.0;
    assert!(
        accepted.len() as f64 <= allowed,
        "{} accepted, the quota allows {allowed:.0}",
        accepted.len()
    );
    for reply in &limited {
        let retry_after: u64 = reply
            .retry_after
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("429 without a Retry-After in seconds: {reply:?}"));
        assert!((1..=60).contains(&retry_after), "{reply:?}");
        assert!(
            reply.body.contains("`noisy` is over its quota ("),
            "{reply:?}"
        );
    }
    // Every quiet event was delivered, and every accepted noisy one.
    let expected = 10 + QUIET_EVENTS + accepted.len();
    let requests = slack.wait_for(expected, SOON).await;
    let quiet_delivered = requests.iter().filter(|r| r.path == "/quiet").count();
    assert_eq!(quiet_delivered, 10 + QUIET_EVENTS);
    // Bounded by Soda's timeout, not tighter: a loaded machine slows every answer, and what
    // the quiet tenant must get (every event accepted and delivered) is checked above.
    assert!(
        percentile(
            &{
                let mut d = during;
                d.sort();
                d
            },
            0.99
        ) < SODA_TIMEOUT,
        "the quiet tenant stayed inside Soda's 10 s timeout"
    );
}
