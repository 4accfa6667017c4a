//! The Slack plugin's messages reach the webhook, once, and survive a crash of the gateway.

use std::time::Duration;

use serde_json::json;
use soda_gateway_tests::{
    event, failing_check_named, unused_port, wait_until, with_outcomes, Config, FakeDownstream,
    Gateway, Plugin, Tenant, SOON,
};

fn acme_with_slack(webhook_url: &str) -> Tenant {
    Tenant::hmac("acme", "s3cret").plugin(Plugin::Slack, json!({ "webhook_url": webhook_url }))
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_check_result_sends_exactly_one_slack_message() {
    let slack = FakeDownstream::start().await;
    let gateway = Gateway::start(Config::new().tenant(acme_with_slack(&slack.url("/hook")))).await;

    // One failing and one passing result: one message for the event.
    let reply = gateway
        .send_event("acme", &event("gen2_check_evaluation"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!({}), "no plugin returned a link");

    let requests = slack.wait_for(1, SOON).await;
    let message = &requests[0];
    assert_eq!(message.method, "POST");
    assert_eq!(message.path, "/hook");
    let body = message.json();
    assert!(
        body["text"].is_string(),
        "Slack messages have a text: {body}"
    );
    assert!(
        body["blocks"].is_array(),
        "Slack messages have blocks: {body}"
    );
    let rendered = body.to_string();
    assert!(
        rendered.contains("No missing customer ids"),
        "the message names the failing check: {body}"
    );
    assert!(
        rendered.contains("orders"),
        "the message names the dataset: {body}"
    );
    let key = message.header("idempotency-key").unwrap_or_default();
    assert!(
        !key.is_empty(),
        "an idempotency-key header: {:?}",
        message.headers
    );

    // The action is recorded as delivered (final: it is not sent again), and nothing else is
    // sent.
    wait_until("the action is marked succeeded", SOON, async || {
        gateway
            .actions()
            .await
            .iter()
            .any(|a| a.status == "succeeded")
    })
    .await;
    assert_eq!(slack.requests().len(), 1, "exactly one message");
    let actions = gateway.actions().await;
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0].plugin, "slack");
}

#[tokio::test(flavor = "multi_thread")]
async fn passing_check_result_sends_nothing() {
    let slack = FakeDownstream::start().await;
    let gateway = Gateway::start(Config::new().tenant(acme_with_slack(&slack.url("/hook")))).await;

    let reply = gateway
        .send_event("acme", &event("gen1_check_evaluation"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!({}));

    // Stored before the answer, with the run and its actions: no action, nothing to send.
    assert_eq!(
        gateway.events().await,
        vec![("acme".to_string(), "checkEvaluation".to_string())]
    );
    assert_eq!(gateway.count_rows("actions").await, 0);
    assert!(slack.requests().is_empty(), "{:#?}", slack.requests());
    let runs = gateway.plugin_runs().await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        (runs[0].plugin.as_str(), runs[0].outcome.as_str()),
        ("slack", "ok")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn warning_check_result_sends_one_slack_message() {
    let slack = FakeDownstream::start().await;
    let gateway = Gateway::start(Config::new().tenant(acme_with_slack(&slack.url("/hook")))).await;

    let warning = with_outcomes(event("gen1_check_evaluation"), "warn");
    let reply = gateway.send_event("acme", &warning).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let requests = slack.wait_for(1, SOON).await;
    assert!(requests[0].json()["text"].is_string());
    assert_eq!(gateway.count_rows("actions").await, 1, "one action stored");
    gateway.wait_until_settled().await;
    assert_eq!(slack.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_deliveries_are_retried_with_the_same_idempotency_key() {
    let slack = FakeDownstream::start().await;
    slack.set_status(503);
    let gateway = Gateway::start(
        Config::new()
            .tenant(acme_with_slack(&slack.url("/hook")))
            // Many retries: the downstream must still be retrying when the test turns it to
            // 200, however late a busy machine lets it.
            .retry_delays(&["200ms"; 50]),
    )
    .await;

    let reply = gateway
        .send_event("acme", &event("gen2_check_evaluation"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    slack.wait_for(2, SOON).await;
    slack.set_status(200);
    wait_until("the action is marked succeeded", SOON, async || {
        gateway
            .actions()
            .await
            .iter()
            .any(|a| a.status == "succeeded")
    })
    .await;

    let requests = slack.requests();
    let keys: Vec<_> = requests
        .iter()
        .map(|r| r.header("idempotency-key").unwrap_or_default().to_string())
        .collect();
    assert!(!keys[0].is_empty(), "an idempotency-key header");
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "one key for all attempts: {keys:?}"
    );
    let requests = requests.len() as i64;
    wait_until("there is one attempt row per request", SOON, async || {
        gateway.count_rows("attempts").await == requests
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_actions_survive_a_kill_and_run_after_restart() {
    // Nothing listens on the webhook's port yet: every attempt fails to connect.
    let port = unused_port();
    let delays = ["300ms"; 100];
    let mut gateway = Gateway::start(
        Config::new()
            .tenant(acme_with_slack(&format!("http://127.0.0.1:{port}/hook")))
            .retry_delays(&delays),
    )
    .await;

    let reply = gateway
        .send_event("acme", &event("gen2_check_evaluation"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    wait_until("a failed attempt is recorded", SOON, async || {
        gateway.count_rows("attempts").await >= 1
    })
    .await;

    gateway.kill();
    let actions = gateway.actions().await;
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0].status, "pending", "still pending after the kill");

    let slack = FakeDownstream::start_on(port).await;
    gateway.restart().await;

    let requests = slack.wait_for(1, SOON).await;
    assert!(requests[0].json()["blocks"].is_array());
    wait_until("the action is marked succeeded", SOON, async || {
        gateway
            .actions()
            .await
            .iter()
            .all(|a| a.status == "succeeded")
    })
    .await;
    assert_eq!(
        gateway.count_rows("events").await,
        1,
        "the event is not stored twice"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_whose_downstream_hangs_does_not_hold_up_another_tenants_delivery() {
    let hanging = FakeDownstream::start().await;
    // Hangs past the end of the test: its deliveries hold their slots throughout.
    hanging.set_delay(Duration::from_secs(120));
    let quick = FakeDownstream::start().await;
    let slow_tenant = Tenant::hmac("slow", "s3cret").plugin(
        Plugin::Slack,
        json!({ "webhook_url": hanging.url("/hook") }),
    );
    let quick_tenant = Tenant::hmac("quick", "s3cret")
        .plugin(Plugin::Slack, json!({ "webhook_url": quick.url("/hook") }));
    // 16 delivery slots (the default): more of the slow tenant's messages than that wait.
    let mut config = Config::new().tenant(slow_tenant).tenant(quick_tenant);
    // The gateway waits 50 s for the hanging downstream (under the default 60 s lease), so
    // a quick delivery held up behind it would take that long.
    config.delivery_timeout = "50s".into();
    let gateway = Gateway::start(config).await;
    for i in 0..24 {
        let reply = gateway
            .send_event("slow", &failing_check_named(&format!("hanging-{i}")))
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    hanging.wait_for(8, SOON).await;

    // Well under the 50 s the hanging deliveries hold their slots, well over what load adds.
    let quick_limit = Duration::from_secs(25);
    let started = std::time::Instant::now();
    let reply = gateway
        .send_event("quick", &failing_check_named("quick"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    quick.wait_for(1, quick_limit).await;
    assert!(
        started.elapsed() < quick_limit,
        "the quick tenant's message waited {:?} behind the hanging one's",
        started.elapsed()
    );
    assert!(
        hanging.requests().len() <= 8,
        "the slow tenant holds at most half the slots: {} at once",
        hanging.requests().len()
    );
}
