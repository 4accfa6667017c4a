//! Stopping with SIGTERM drains: the listener stops accepting, the requests in flight are
//! answered, the deliveries in flight finish and the process exits 0. Across the restart that
//! follows, every event answered 2xx is delivered exactly once, and none answered otherwise
//! was stored.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use soda_gateway_tests::postgres::PgSchema;
use soda_gateway_tests::{
    failing_check_named, wait_until, Config, FakeDownstream, Gateway, Plugin, Tenant, Verify, SOON,
};

const SENDERS: usize = 4;
const EVENTS_PER_SENDER: usize = 40;

/// What became of one request: its answer's status, or `None` when none came (the connection
/// was refused or closed: the gateway had stopped).
type Sent = (String, Option<u16>);

/// Posts failing checks named `drain-{sender}-{i}` one after another, until one gets no answer.
async fn send_until_refused(url: String, sender: usize) -> Vec<Sent> {
    let client = reqwest::Client::new();
    let mut sent = Vec::new();
    for i in 0..EVENTS_PER_SENDER {
        let name = format!("drain-{sender}-{i:03}");
        let body = serde_json::to_vec(&failing_check_named(&name)).unwrap();
        let mut request = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone());
        for (header, value) in Verify::hmac("s3cret").headers_for(&body) {
            request = request.header(header, value);
        }
        let status = request
            .send()
            .await
            .ok()
            .map(|reply| reply.status().as_u16());
        sent.push((name, status));
        if status.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sent
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_loses_nothing_and_sends_nothing_twice_on_sqlite() {
    sigterm_under_load(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_loses_nothing_and_sends_nothing_twice_on_postgres() {
    let schema = PgSchema::new().await;
    sigterm_under_load(Some(&schema)).await;
}

/// SIGTERM while senders post and deliveries are in flight, on SQLite (`None`) or in a
/// PostgreSQL schema; then a restart on the same store.
async fn sigterm_under_load(postgres: Option<&PgSchema>) {
    let slack = FakeDownstream::start().await;
    // Slow enough that deliveries are in flight when the signal comes.
    slack.set_delay(Duration::from_millis(400));
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let mut config = Config::new().tenant(tenant);
    if let Some(schema) = postgres {
        config = config.postgres(schema);
    }
    let mut gateway = Gateway::start(config).await;
    let url = format!("{}/hooks/acme", gateway.url());

    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| tokio::spawn(send_until_refused(url.clone(), sender)))
        .collect();
    slack.wait_for(8, SOON).await;
    let status = gateway.terminate().await;
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        gateway.stderr()
    );
    let stderr = gateway.stderr();
    assert!(stderr.contains("draining"), "{stderr}");
    assert!(stderr.contains("delivery worker stopped"), "{stderr}");

    let mut sent = Vec::new();
    for sender in senders {
        sent.extend(sender.await.unwrap());
    }
    let accepted: Vec<&str> = sent
        .iter()
        .filter(|(_, status)| *status == Some(200))
        .map(|(name, _)| name.as_str())
        .collect();
    let refused: Vec<&Sent> = sent
        .iter()
        .filter(|(_, status)| status.is_some_and(|status| status != 200))
        .collect();
    assert!(
        accepted.len() >= 8,
        "the load ran before the stop: {sent:?}"
    );
    assert!(
        sent.iter().any(|(_, status)| status.is_none()),
        "the senders ran into the stop: {sent:?}"
    );
    let delivered_before_restart = slack.requests().len();

    gateway.restart().await;
    // Every accepted event's message arrives: the ones in flight at the stop finished before
    // it, the ones waiting were released and are sent now.
    wait_until("every accepted event is delivered", SOON, async || {
        let bodies: Vec<String> = slack.requests().iter().map(|r| r.text()).collect();
        accepted
            .iter()
            .all(|name| bodies.iter().any(|body| body.contains(name)))
    })
    .await;
    // Once no action is pending the gateway has sent everything it ever will (a second send
    // would come from an action still pending): the counts below are final.
    gateway.wait_until_settled().await;

    let requests = slack.requests();
    let mut per_key: HashMap<String, usize> = HashMap::new();
    for request in &requests {
        let key = request
            .header("idempotency-key")
            .unwrap_or_default()
            .to_owned();
        *per_key.entry(key).or_default() += 1;
    }
    let sent_twice: Vec<_> = per_key.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        sent_twice.is_empty(),
        "no action is sent twice across the stop ({delivered_before_restart} delivered \
         before the restart): {sent_twice:?}"
    );
    for name in &accepted {
        let messages = requests.iter().filter(|r| r.text().contains(name)).count();
        assert_eq!(messages, 1, "event {name} answered 200 is delivered once");
    }
    // Nothing answered with an error was stored (and so nothing of it is delivered).
    for (name, status) in &refused {
        let messages = requests.iter().filter(|r| r.text().contains(name)).count();
        assert_eq!(
            messages, 0,
            "event {name} answered {status:?} is not delivered"
        );
    }
    let stored = gateway.count_rows("events").await as usize;
    let unanswered = sent.iter().filter(|(_, status)| status.is_none()).count();
    assert!(
        stored >= accepted.len() && stored <= accepted.len() + unanswered,
        "{stored} events stored for {} accepted and {unanswered} unanswered requests",
        accepted.len()
    );
    assert_eq!(requests.len(), stored, "one message per stored event");
}
