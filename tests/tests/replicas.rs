//! Several gateway replicas sharing one PostgreSQL database: each serves webhooks and delivers,
//! no action is sent twice while they all live, and the work of a replica that dies is taken
//! over by another once its lease runs out.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::json;
use soda_gateway_tests::postgres::PgSchema;
use soda_gateway_tests::{
    failing_check_named, wait_until, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};

const TENANT: &str = "acme";
const TOKEN: &str = "replicas-admin";
/// Just over the longest step a lease covers (a plugin call may take 5 s).
const LEASE: Duration = Duration::from_secs(6);

fn replica_config(schema: &PgSchema, downstream: &FakeDownstream) -> Config {
    let tenant = Tenant::hmac(TENANT, "s3cret").plugin(
        Plugin::Slack,
        json!({ "webhook_url": downstream.url("/hook") }),
    );
    let mut config = Config::new()
        .tenant(tenant)
        .postgres(schema)
        .lease(&format!("{}s", LEASE.as_secs()))
        .extra_top_level_toml(&format!("[admin]\ntoken = \"{TOKEN}\""));
    config.delivery_timeout = "2s".into();
    config
}

/// The markers each request's body names, and requests per idempotency key.
fn tally(
    downstream: &FakeDownstream,
    markers: &[String],
) -> (HashSet<String>, HashMap<String, usize>) {
    let mut seen = HashSet::new();
    let mut per_key = HashMap::new();
    for request in downstream.requests() {
        let text = request.text();
        seen.extend(
            markers
                .iter()
                .filter(|m| text.contains(m.as_str()))
                .cloned(),
        );
        let key = request
            .header("idempotency-key")
            .unwrap_or_default()
            .to_string();
        *per_key.entry(key).or_insert(0) += 1;
    }
    (seen, per_key)
}

/// This replica's count of attempts the downstream answered 2xx, from its `/metrics`.
async fn delivered_by(replica: &Gateway) -> u64 {
    let text = reqwest::Client::new()
        .get(format!("{}/metrics", replica.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("metrics request")
        .text()
        .await
        .expect("metrics body");
    text.lines()
        .find_map(|line| line.strip_prefix(r#"soda_delivery_attempts_total{outcome="delivered"} "#))
        .map_or(0, |n| n.trim().parse().expect("a counter value"))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_serve_and_deliver_and_send_each_action_once() {
    const EVENTS: usize = 40;
    let schema = PgSchema::new().await;
    let slack = FakeDownstream::start().await;
    slack.set_delay(Duration::from_millis(20));
    let config = replica_config(&schema, &slack);
    let a = Gateway::start(config.clone()).await;
    let b = Gateway::start(config).await;

    let markers: Vec<String> = (0..EVENTS).map(|i| format!("replica-e{i:02}")).collect();
    for (i, marker) in markers.iter().enumerate() {
        let replica = if i % 2 == 0 { &a } else { &b };
        let reply = replica
            .send_event(TENANT, &failing_check_named(marker))
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    assert_eq!(
        a.count_rows("events").await,
        EVENTS as i64,
        "one shared store"
    );
    slack.wait_for(EVENTS, SOON).await;
    wait_until("both replicas counted their deliveries", SOON, async || {
        delivered_by(&a).await + delivered_by(&b).await == EVENTS as u64
    })
    .await;
    // Every action is recorded as delivered, so neither replica claims one again. A second
    // claim made before that would still be on its way, which nothing records until it is
    // answered: a short settle lets it show.
    wait_until("every action is recorded as delivered", SOON, async || {
        a.count("SELECT COUNT(*) FROM actions WHERE status = 'succeeded'")
            .await
            == EVENTS as i64
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (seen, per_key) = tally(&slack, &markers);
    let (by_a, by_b) = (delivered_by(&a).await, delivered_by(&b).await);
    println!(
        "events={EVENTS} delivered_by_a={by_a} delivered_by_b={by_b} requests={}",
        slack.requests().len()
    );
    assert_eq!(seen.len(), EVENTS, "every event delivered");
    assert_eq!(
        slack.requests().len(),
        EVENTS,
        "no action sent twice: {per_key:?}"
    );
    assert_eq!(per_key.len(), EVENTS, "one idempotency key per action");
    assert!(
        by_a > 0 && by_b > 0,
        "both replicas deliver: a={by_a} b={by_b}"
    );
    assert_eq!(by_a + by_b, EVENTS as u64);
}

/// The takeover test's delivery timeout: the first replica's requests must stay unanswered, and
/// not time out, until it is killed, however long sending the events takes on a loaded machine.
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(20);
/// The takeover test's lease: longer than the timeout, with room for a new action's send to
/// start (an action is sent only while its lease outlasts the timeout).
const TAKEOVER_LEASE: Duration = Duration::from_secs(26);

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_replicas_work_is_taken_over_after_its_lease() {
    const EVENTS: usize = 8;
    let schema = PgSchema::new().await;
    let slack = FakeDownstream::start().await;
    // The first replica's requests are never answered: it is mid-delivery of each when it dies.
    slack.set_delay(Duration::from_secs(600));
    let mut config = replica_config(&schema, &slack);
    config.delivery_timeout = format!("{}s", TAKEOVER_TIMEOUT.as_secs());
    config.lease = Some(format!("{}s", TAKEOVER_LEASE.as_secs()));
    let mut a = Gateway::start(config.clone()).await;
    let b = Gateway::start(config).await;

    let markers: Vec<String> = (0..EVENTS).map(|i| format!("takeover-e{i}")).collect();
    // Every lease is taken after this: an action is leased from the moment it is stored.
    let sending = Instant::now();
    for marker in &markers {
        let reply = a.send_event(TENANT, &failing_check_named(marker)).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    // Each action belongs to the replica that stored it: all are the first one's to send, and
    // it sent them all (none was answered) before it dies.
    slack.wait_for(EVENTS, SOON).await;
    a.kill();
    slack.set_delay(Duration::ZERO);
    let (_, in_flight_at_kill) = tally(&slack, &markers);

    wait_until(
        "every event delivered, and every request in flight at the kill sent again",
        SOON + TAKEOVER_LEASE,
        async || {
            let (seen, per_key) = tally(&slack, &markers);
            seen.len() == EVENTS && in_flight_at_kill.keys().all(|key| per_key[key] >= 2)
        },
    )
    .await;
    let takeover = sending.elapsed();
    // Every action is recorded as delivered, so the survivor claims none again. A second claim
    // made before that would still be on its way, which nothing records until it is answered:
    // a short settle lets it show.
    wait_until("the survivor recorded every delivery", SOON, async || {
        b.count("SELECT COUNT(*) FROM actions WHERE status = 'succeeded'")
            .await
            == EVENTS as i64
            && delivered_by(&b).await >= EVENTS as u64
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (seen, per_key) = tally(&slack, &markers);
    let by_survivor = delivered_by(&b).await;
    println!(
        "events={EVENTS} in_flight_at_kill={} delivered_by_survivor={by_survivor} \
         taken_over_after={takeover:?} lease={TAKEOVER_LEASE:?} requests={}",
        in_flight_at_kill.len(),
        slack.requests().len()
    );
    assert_eq!(seen.len(), EVENTS);
    // Measured from before the first action was stored, when no lease had begun: however late
    // the kill came on a loaded machine, a takeover at the lease is no earlier than this.
    assert!(
        takeover >= TAKEOVER_LEASE - Duration::from_millis(500),
        "taken over before the lease ran out: {takeover:?}"
    );
    for (key, count) in &per_key {
        let expected = if in_flight_at_kill.contains_key(key) {
            2
        } else {
            1
        };
        assert_eq!(
            *count, expected,
            "{key}: only requests in flight at the kill are sent again, once"
        );
    }
    assert_eq!(
        by_survivor, EVENTS as u64,
        "the survivor delivered every action"
    );
}
