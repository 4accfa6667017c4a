//! Faults on both sides of the gateway: it is killed while events arrive and while it delivers,
//! and its downstream fails, stalls, hangs up or is down for a while. Every event the gateway
//! accepted (answered 2xx) must still reach the downstream, at least once.
//!
//! The fault draws are seeded; the seed is printed, and `FAULTS_SEED=<seed>` replays a run's
//! faults (the timing of the machine still varies).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use soda_gateway_tests::faults::{Exchange, FaultMix, FlakyDownstream, Rng};
use soda_gateway_tests::postgres::PgSchema;
use soda_gateway_tests::{
    failing_check_named, wait_until, Config, FakeDownstream, Gateway, Plugin, Tenant, Verify, SOON,
};

/// Events sent through the crashes.
const EVENTS: usize = 150;
/// Tasks sending them concurrently.
const SENDERS: usize = 3;
/// The pause a sender takes between two events.
const PAUSE_BETWEEN_EVENTS: Duration = Duration::from_millis(100);
/// How often the gateway is killed (SIGKILL) and restarted while they are sent.
const KILLS: usize = 4;
/// The gateway's timeout for one delivery; the flaky downstream's slow answers take longer.
const DELIVERY_TIMEOUT: &str = "500ms";
const SLOW_ANSWER: Duration = Duration::from_secs(1);
/// A sender gives up on an event after this many posts or this long, and on all of them this
/// long after the start. The times only stop a test whose gateway never accepts: on a busy
/// machine, sending through the kills and restarts takes far longer than on an idle one.
const MAX_POSTS_PER_EVENT: usize = 60;
const MAX_SENDING_PER_EVENT: Duration = Duration::from_secs(120);
const MAX_SENDING: Duration = Duration::from_secs(240);
/// How long every accepted event may take to arrive once the downstream is healthy (seconds
/// on an idle machine).
const CONVERGENCE: Duration = Duration::from_secs(120);

/// `delivery.lease` on PostgreSQL: just over the longest step it covers (a plugin call may
/// take 5 s), so a killed process's work is taken over soon.
const POSTGRES_LEASE: &str = "6s";

const TENANT: &str = "acme";
const SECRET: &str = "s3cret";

fn acme_with_slack(webhook_url: &str) -> Tenant {
    Tenant::hmac(TENANT, SECRET).plugin(Plugin::Slack, json!({ "webhook_url": webhook_url }))
}

/// The first `prefix...` marker in a message body (letters, digits and dashes).
fn marker_in(body: &str, prefix: &str) -> Option<String> {
    let start = body.find(prefix)?;
    let marker: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    Some(marker)
}

// ---------------------------------------------------------------------------------------------
// Sending through crashes
// ---------------------------------------------------------------------------------------------

/// One event as its sender saw it. Each post carries a body of its own (`fault-e0042-t3` is the
/// third post of event 42), so a post the gateway stored although its answer was lost shows up
/// as a message of its own and not as a redelivery.
#[derive(Debug)]
struct Sent {
    index: usize,
    /// The marker of every post, in order.
    posts: Vec<String>,
    /// The marker of the post the gateway answered 2xx.
    accepted: Option<String>,
    /// A 4xx answer: the gateway refused a valid signed event.
    refused: Option<String>,
    /// Posts that failed (gateway down, connection lost, 5xx).
    failures: usize,
    /// Pauses spent waiting for the gateway to come back.
    down_waits: usize,
    /// When the sender was done with it, since the start.
    done_at: Duration,
}

fn marker_for(index: usize, post: usize) -> String {
    format!("fault-e{index:04}-t{post}")
}

/// Posts event `index` until the gateway answers 2xx, within bounds; a post without an answer
/// or with a 5xx is sent again (with a new body), like Soda would.
async fn send_until_accepted(
    client: &reqwest::Client,
    gateway_url: &Mutex<Option<String>>,
    in_flight: &AtomicUsize,
    verify: &Verify,
    index: usize,
    give_up_at: Instant,
) -> Sent {
    let mut sent = Sent {
        index,
        posts: Vec::new(),
        accepted: None,
        refused: None,
        failures: 0,
        down_waits: 0,
        done_at: Duration::ZERO,
    };
    let started = Instant::now();
    let pause = Duration::from_millis(50);
    for _ in 0..(MAX_SENDING_PER_EVENT.as_millis() / pause.as_millis()) {
        if started.elapsed() > MAX_SENDING_PER_EVENT
            || Instant::now() > give_up_at
            || sent.posts.len() >= MAX_POSTS_PER_EVENT
        {
            break;
        }
        let base = gateway_url.lock().unwrap().clone();
        let Some(base) = base else {
            // The gateway is down (being restarted).
            sent.down_waits += 1;
            tokio::time::sleep(pause).await;
            continue;
        };
        let marker = marker_for(index, sent.posts.len() + 1);
        let body = serde_json::to_vec(&failing_check_named(&marker)).expect("JSON");
        let mut request = client
            .post(format!("{base}/hooks/{TENANT}"))
            .header("content-type", "application/json");
        for (name, value) in verify.headers_for(&body) {
            request = request.header(name, value);
        }
        sent.posts.push(marker.clone());
        in_flight.fetch_add(1, Ordering::SeqCst);
        let reply = request.body(body).send().await;
        in_flight.fetch_sub(1, Ordering::SeqCst);
        match reply {
            Ok(reply) if reply.status().is_success() => {
                sent.accepted = Some(marker);
                return sent;
            }
            Ok(reply) if reply.status().is_server_error() => sent.failures += 1,
            Ok(reply) => {
                let status = reply.status();
                let body = reply.text().await.unwrap_or_default();
                sent.refused = Some(format!("{marker}: HTTP {status} {body}"));
                return sent;
            }
            Err(_) => sent.failures += 1,
        }
        tokio::time::sleep(pause).await;
    }
    sent
}

/// What the downstream saw, per marker.
#[derive(Default)]
struct Seen {
    /// Requests answered 2xx per marker.
    delivered: HashMap<String, usize>,
    /// Idempotency keys per marker (an empty string for a request without one).
    keys: HashMap<String, BTreeSet<String>>,
    /// Markers per idempotency key.
    markers_by_key: HashMap<String, BTreeSet<String>>,
    /// Requests per answer.
    answers: BTreeMap<String, usize>,
    /// Requests whose body names no marker.
    unrecognised: Vec<String>,
}

fn seen(exchanges: &[Exchange]) -> Seen {
    let mut seen = Seen::default();
    for exchange in exchanges {
        *seen
            .answers
            .entry(format!("{:?}", exchange.answer))
            .or_default() += 1;
        let text = exchange.text();
        let Some(marker) = marker_in(&text, "fault-e") else {
            seen.unrecognised.push(text);
            continue;
        };
        let key = exchange.idempotency_key.clone().unwrap_or_default();
        if exchange.answer.is_success() {
            *seen.delivered.entry(marker.clone()).or_default() += 1;
        }
        seen.keys
            .entry(marker.clone())
            .or_default()
            .insert(key.clone());
        seen.markers_by_key.entry(key).or_default().insert(marker);
    }
    seen
}

/// What the gateway's database says about the actions for `marker`, for a failure message.
async fn stored_state_of(gateway: &Gateway, marker: &str) -> String {
    let matching = format!("{} LIKE '%{marker}%'", gateway.as_text_sql("body"));
    let events = gateway
        .count(&format!("SELECT COUNT(*) FROM events WHERE {matching}"))
        .await;
    let mut text = format!("{marker}: events={events}");
    for status in ["pending", "succeeded", "failed"] {
        let n = gateway
            .count(&format!(
                "SELECT COUNT(*) FROM actions WHERE status = '{status}' AND {matching}"
            ))
            .await;
        text.push_str(&format!(" {status}={n}"));
    }
    let attempts = gateway
        .count(&format!(
            "SELECT COUNT(*) FROM attempts WHERE action_id IN (SELECT id FROM actions WHERE {matching})"
        ))
        .await;
    text.push_str(&format!(" attempts={attempts}"));
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn no_accepted_event_is_lost_across_crashes_and_a_flaky_downstream_on_sqlite() {
    crashes_and_a_flaky_downstream_lose_nothing(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_accepted_event_is_lost_across_crashes_and_a_flaky_downstream_on_postgres() {
    let schema = PgSchema::new().await;
    crashes_and_a_flaky_downstream_lose_nothing(Some(&schema)).await;
}

/// The crash test on SQLite (`None`) or in a PostgreSQL schema.
async fn crashes_and_a_flaky_downstream_lose_nothing(postgres: Option<&PgSchema>) {
    let seed = Rng::seed_from_env_or_clock();
    println!("fault seed: {seed} (FAULTS_SEED={seed} replays the draws)");
    let mut rng = Rng::new(seed);
    let flaky = FaultMix {
        ok: 2,
        error: 1,
        slow: 1,
        drop: 1,
        slow_delay: SLOW_ANSWER,
    };
    let downstream = FlakyDownstream::start(flaky, rng.fork()).await;

    let mut config = Config::new()
        .tenant(acme_with_slack(&downstream.url("/hook")))
        .retry_delays(&["100ms"; 40])
        .poll_interval("100ms");
    config.delivery_timeout = DELIVERY_TIMEOUT.into();
    if let Some(schema) = postgres {
        // Nothing releases a dead process's leases on a shared database: they run out.
        config = config.postgres(schema).lease(POSTGRES_LEASE);
    }
    let mut gateway = Gateway::start(config).await;
    let verify = Verify::hmac(SECRET);

    // Senders post concurrently, paced so that sending spans the kills; the URL is `None`
    // while the gateway is down.
    let started = Instant::now();
    let gateway_url = Arc::new(Mutex::new(Some(gateway.url().to_string())));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client");
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let client = client.clone();
            let gateway_url = Arc::clone(&gateway_url);
            let in_flight = Arc::clone(&in_flight);
            let verify = verify.clone();
            tokio::spawn(async move {
                let mut sent = Vec::new();
                for index in (sender..EVENTS).step_by(SENDERS) {
                    let give_up_at = started + MAX_SENDING;
                    let mut one = send_until_accepted(
                        &client,
                        &gateway_url,
                        &in_flight,
                        &verify,
                        index,
                        give_up_at,
                    )
                    .await;
                    one.done_at = started.elapsed();
                    sent.push(one);
                    tokio::time::sleep(PAUSE_BETWEEN_EVENTS).await;
                }
                sent
            })
        })
        .collect();

    // Meanwhile: SIGKILL and restart at random moments, preferably while a post is in flight
    // (deliveries to the flaky downstream are in flight most of the time anyway).
    let mut kill_times = Vec::new();
    let mut kills_mid_post = 0;
    for _ in 0..KILLS {
        let wait = rng.duration_between(Duration::from_millis(800), Duration::from_millis(1600));
        tokio::time::sleep(wait).await;
        for _ in 0..150 {
            if in_flight.load(Ordering::SeqCst) > 0 {
                kills_mid_post += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        *gateway_url.lock().unwrap() = None;
        kill_times.push(started.elapsed());
        gateway.kill();
        let down = rng.duration_between(Duration::from_millis(50), Duration::from_millis(300));
        tokio::time::sleep(down).await;
        gateway.restart().await;
        *gateway_url.lock().unwrap() = Some(gateway.url().to_string());
    }
    let mut sent = Vec::new();
    for sender in senders {
        sent.extend(sender.await.expect("a sender task"));
    }
    let sending = started.elapsed();

    let refused: Vec<&String> = sent.iter().filter_map(|s| s.refused.as_ref()).collect();
    assert!(
        refused.is_empty(),
        "valid signed events were refused: {refused:#?}"
    );
    let accepted: Vec<(usize, String)> = sent
        .iter()
        .filter_map(|s| Some((s.index, s.accepted.clone()?)))
        .collect();
    let not_accepted: Vec<usize> = sent
        .iter()
        .filter(|s| s.accepted.is_none())
        .map(|s| s.index)
        .collect();
    assert!(
        not_accepted.is_empty(),
        "the gateway never accepted these events within {MAX_POSTS_PER_EVENT} posts or \
         {MAX_SENDING_PER_EVENT:?} each ({MAX_SENDING:?} in all): {not_accepted:?}"
    );

    // The downstream recovers; everything accepted must arrive.
    downstream.set_mix(FaultMix::always_ok());
    let healed = Instant::now();
    let pause = Duration::from_millis(100);
    let mut lost: Vec<String> = Vec::new();
    for _ in 0..=(CONVERGENCE.as_millis() / pause.as_millis()) {
        let seen = seen(&downstream.exchanges());
        lost = accepted
            .iter()
            .filter(|(_, marker)| !seen.delivered.contains_key(marker))
            .map(|(_, marker)| marker.clone())
            .collect();
        if lost.is_empty() || healed.elapsed() > CONVERGENCE {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    let convergence = healed.elapsed();

    let exchanges = downstream.exchanges();
    let seen = seen(&exchanges);
    // Per event: 2xx answers over all its posts' messages (a post stored although its answer
    // was lost, and then sent again, is a duplicate too).
    let mut deliveries_per_event: HashMap<usize, usize> = HashMap::new();
    let mut stored_twice = 0;
    for s in &sent {
        let delivered: Vec<usize> = s
            .posts
            .iter()
            .filter_map(|marker| seen.delivered.get(marker).copied())
            .collect();
        deliveries_per_event.insert(s.index, delivered.iter().sum());
        if delivered.len() > 1 {
            stored_twice += 1;
        }
    }
    let delivered = accepted
        .iter()
        .filter(|(_, marker)| seen.delivered.contains_key(marker))
        .count();
    let duplicated = accepted
        .iter()
        .filter(|(index, _)| deliveries_per_event[index] > 1)
        .count();
    let sender_retries: usize = sent.iter().map(|s| s.failures).sum();
    let down_waits: usize = sent.iter().map(|s| s.down_waits).sum();
    let last_accepted = sent.iter().map(|s| s.done_at).max().unwrap_or_default();
    println!(
        "accepted={} delivered={delivered} duplicated={duplicated} lost={}",
        accepted.len(),
        lost.len()
    );
    println!(
        "kills_at={kill_times:?} kills_mid_post={kills_mid_post} last_accepted_at={last_accepted:?} sending_and_kills={sending:?} \
         convergence={convergence:?} failed_posts={sender_retries} waits_for_restart={down_waits} \
         posts_stored_twice={stored_twice} downstream_requests={} answers={:?}",
        exchanges.len(),
        seen.answers
    );
    let mut states = Vec::new();
    for marker in lost.iter().take(10) {
        states.push(stored_state_of(&gateway, marker).await);
    }
    assert!(
        lost.is_empty(),
        "{} accepted event(s) never reached the downstream with a 2xx answer within \
         {CONVERGENCE:?} of it recovering; gateway state of the first ones: {states:#?}",
        lost.len()
    );

    assert!(
        seen.unrecognised.is_empty(),
        "requests naming no event: {:#?}",
        seen.unrecognised
    );
    let mixed: Vec<_> = seen
        .keys
        .iter()
        .filter(|(_, keys)| keys.len() != 1)
        .collect();
    assert!(
        mixed.is_empty(),
        "all requests for one event carry one idempotency key: {mixed:#?}"
    );
    let keyless: Vec<_> = seen
        .keys
        .iter()
        .filter(|(_, keys)| keys.contains(""))
        .collect();
    assert!(
        keyless.is_empty(),
        "requests without idempotency-key: {keyless:#?}"
    );
    let shared: Vec<_> = seen
        .markers_by_key
        .iter()
        .filter(|(_, markers)| markers.len() != 1)
        .collect();
    assert!(
        shared.is_empty(),
        "different events share an idempotency key: {shared:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// An outage
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_downstream_outage_builds_a_backlog_that_drains_when_it_returns_on_sqlite() {
    an_outage_backlog_drains(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_downstream_outage_builds_a_backlog_that_drains_when_it_returns_on_postgres() {
    let schema = PgSchema::new().await;
    an_outage_backlog_drains(Some(&schema)).await;
}

/// The outage test on SQLite (`None`) or in a PostgreSQL schema.
async fn an_outage_backlog_drains(postgres: Option<&PgSchema>) {
    const BACKLOG: i64 = 30;
    let pending = "SELECT COUNT(*) FROM actions WHERE status = 'pending'";
    let succeeded = "SELECT COUNT(*) FROM actions WHERE status = 'succeeded'";
    let failed = "SELECT COUNT(*) FROM actions WHERE status = 'failed'";

    let slack = FakeDownstream::start().await;
    slack.set_status(503);
    let mut config = Config::new()
        .tenant(acme_with_slack(&slack.url("/hook")))
        .retry_delays(&["300ms"; 200]);
    if let Some(schema) = postgres {
        config = config.postgres(schema);
    }
    let gateway = Gateway::start(config).await;

    // Every accepted event adds one pending action, and none gets through.
    let outage = Instant::now();
    let markers: Vec<String> = (0..BACKLOG).map(|i| format!("outage-e{i:02}")).collect();
    for (sent, marker) in (1..).zip(&markers) {
        let reply = gateway
            .send_event(TENANT, &failing_check_named(marker))
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(
            gateway.count(pending).await,
            sent,
            "the backlog grows by one"
        );
    }
    // The outage lasts until every action was tried, and retried, in vain.
    wait_until("every action failed twice", SOON, async || {
        gateway
            .count(
                "SELECT COUNT(*) FROM (SELECT action_id FROM attempts WHERE status_code = 503 \
                 GROUP BY action_id HAVING COUNT(*) >= 2) AS failing_twice",
            )
            .await
            == BACKLOG
    })
    .await;
    let backlog = gateway.count(pending).await;
    assert_eq!(backlog, BACKLOG, "every action waits");
    assert_eq!(gateway.count(succeeded).await, 0, "nothing got through");
    assert_eq!(gateway.count(failed).await, 0, "nothing was given up");
    let failed_attempts = gateway.count_rows("attempts").await;

    // The downstream returns: the backlog drains.
    slack.set_status(200);
    let outage = outage.elapsed();
    let returned = Instant::now();
    wait_until("every action succeeded", SOON, async || {
        gateway.count(succeeded).await == BACKLOG
    })
    .await;
    let drain = returned.elapsed();
    println!(
        "backlog={backlog} outage={outage:?} failed_attempts_during_outage={failed_attempts} \
         drain={drain:?} downstream_requests={}",
        slack.requests().len()
    );
    assert_eq!(gateway.count(pending).await, 0);

    let texts: Vec<String> = slack.requests().iter().map(|r| r.text()).collect();
    let missing: Vec<&String> = markers
        .iter()
        .filter(|marker| !texts.iter().any(|text| text.contains(marker.as_str())))
        .collect();
    assert!(missing.is_empty(), "never received: {missing:?}");
}
