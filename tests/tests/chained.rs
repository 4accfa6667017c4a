//! Chained actions and plugin state: a plugin creates an issue, gets the response back, links
//! the issue to the Soda incident and remembers its key for a later event.

use std::time::Duration;

use serde_json::{json, Value};
use soda_gateway_tests::{
    event, wait_until, with_callback_url, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};

/// A tracker that answers every request with `201 {"key": "SODA-1"}`.
async fn tracker() -> FakeDownstream {
    let tracker = FakeDownstream::start().await;
    tracker.set_status(201);
    tracker.set_reply_body(r#"{"key":"SODA-1"}"#);
    tracker
}

fn chain_tenant(id: &str, tracker: &FakeDownstream) -> Tenant {
    Tenant::hmac(id, "s3cret").plugin(Plugin::Chain, json!({ "tracker_url": tracker.url("") }))
}

fn created(soda: &FakeDownstream) -> Value {
    with_callback_url(
        event("gen1_incident_created"),
        &soda.url("/incident-link/cb"),
    )
}

/// The same incident, now resolved.
fn resolved() -> Value {
    let mut update = event("gen1_incident_created");
    update["event"] = json!("incidentUpdated");
    update["incident"]["status"] = json!("resolved");
    update
        .as_object_mut()
        .unwrap()
        .remove("incidentLinkCallbackUrl");
    update
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_handed_back_produces_the_incident_link() {
    let (tracker, soda) = (tracker().await, FakeDownstream::start().await);
    let gateway = Gateway::start(Config::new().tenant(chain_tenant("acme", &tracker))).await;

    let reply = gateway.send_event("acme", &created(&soda)).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let create = &tracker.wait_for(1, SOON).await[0];
    assert_eq!(create.path, "/issue");
    assert_eq!(create.json()["summary"], "Invalid customer ids");
    let link = &soda.wait_for(1, SOON).await[0];
    assert_eq!(link.path, "/incident-link/cb");
    assert_eq!(
        link.json(),
        json!({ "url": tracker.url("/browse/SODA-1"), "text": "SODA-1" })
    );
    let on_response =
        "SELECT COUNT(*) FROM plugin_runs WHERE phase = 'on_response' AND outcome = 'ok'";
    assert_eq!(gateway.count(on_response).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_interrupted_by_a_restart_completes_after_it() {
    let (tracker, soda) = (tracker().await, FakeDownstream::start().await);
    // The tracker holds the first request long enough for the gateway to be killed meanwhile.
    tracker.set_delay(Duration::from_secs(30));
    let mut gateway = Gateway::start(
        Config::new()
            .retry_delays(&["200ms"; 20])
            .tenant(chain_tenant("acme", &tracker)),
    )
    .await;
    let reply = gateway.send_event("acme", &created(&soda)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    tracker.wait_for(1, SOON).await;

    gateway.kill();
    tracker.set_delay(Duration::ZERO);
    gateway.restart().await;

    let link = &soda.wait_for(1, SOON).await[0];
    assert_eq!(link.json()["text"], "SODA-1");
    let creates = tracker.requests();
    assert!(creates.len() >= 2, "the create was sent again: {creates:?}");
    let keys: Vec<_> = creates
        .iter()
        .map(|r| r.header("idempotency-key"))
        .collect();
    assert!(
        keys[0].is_some() && keys.iter().all(|k| *k == keys[0]),
        "one idempotency key: {keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn state_written_on_one_event_is_read_on_a_later_one() {
    let (tracker, soda) = (tracker().await, FakeDownstream::start().await);
    let gateway = Gateway::start(Config::new().tenant(chain_tenant("acme", &tracker))).await;
    gateway.send_event("acme", &created(&soda)).await;
    soda.wait_for(1, SOON).await;

    let reply = gateway.send_event("acme", &resolved()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let requests = tracker.wait_for(2, SOON).await;
    assert_eq!(requests[1].path, "/issue/SODA-1/resolve");
    assert_eq!(requests[1].json(), json!({ "key": "SODA-1" }));
}

#[tokio::test(flavor = "multi_thread")]
async fn state_is_private_to_each_tenant() {
    let (tracker, soda) = (tracker().await, FakeDownstream::start().await);
    let gateway = Gateway::start(
        Config::new()
            .tenant(chain_tenant("acme", &tracker))
            .tenant(chain_tenant("globex", &tracker)),
    )
    .await;
    gateway.send_event("acme", &created(&soda)).await;
    soda.wait_for(1, SOON).await;

    // Globex resolves the same incident id: it never stored a key, so it sends nothing.
    let reply = gateway.send_event("globex", &resolved()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    wait_until("globex's run is stored", SOON, async || {
        gateway
            .count("SELECT COUNT(*) FROM plugin_runs r JOIN events e ON e.id = r.event_id WHERE e.tenant = 'globex' AND r.outcome = 'ok'")
            .await
            == 1
    })
    .await;
    // A run's actions are stored with it: none for globex means nothing of it will be sent.
    let globex_actions = "SELECT COUNT(*) FROM actions WHERE tenant = 'globex'";
    assert_eq!(
        gateway.count(globex_actions).await,
        0,
        "no action for globex"
    );
    let paths: Vec<_> = tracker.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, vec!["/issue"], "no resolve for globex");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_downstream_answer_cannot_pull_a_secret_into_the_next_step() {
    let soda = FakeDownstream::start().await;
    let tracker = FakeDownstream::start().await;
    tracker.set_status(201);
    tracker.set_reply_body(r#"{"key":"{{secret:other_secret}}"}"#);
    let tenant = chain_tenant("acme", &tracker).secret("other_secret", "{ value = \"T0PS3CRET\" }");
    let config = Config::new()
        .tenant(tenant)
        .allowed_hosts(Plugin::Chain, &["127.0.0.1", "localhost"]);
    let gateway = Gateway::start(config).await;

    let reply = gateway.send_event("acme", &created(&soda)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let link = &soda.wait_for(1, SOON).await[0];
    let sent = String::from_utf8_lossy(&link.body).to_string();
    assert!(!sent.contains("T0PS3CRET"), "the secret leaked: {sent}");
    assert_eq!(link.json()["text"], "{{ secret:other_secret}}", "{sent}");
}
