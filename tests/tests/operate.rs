//! Operators' tools: dead letters (admin API and CLI) and replays of stored events.

use serde_json::{json, Value};
use soda_gateway_tests::reload::install_and_wait;
use soda_gateway_tests::{
    event, wait_until, with_outcomes, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};

const TOKEN: &str = "admin-s3cret";

/// A gateway with the admin API and the Slack plugin (plus `extra`) posting to `slack`.
async fn gateway(slack: &FakeDownstream, extra: Option<Plugin>) -> Gateway {
    let mut tenant = Tenant::hmac("acme", "s3cret");
    for plugin in extra.into_iter().chain([Plugin::Slack]) {
        tenant = tenant.plugin(plugin, json!({ "webhook_url": slack.url("/hook") }));
    }
    let config = Config::new()
        .tenant(tenant)
        .extra_top_level_toml(&format!("[admin]\ntoken = \"{TOKEN}\""));
    Gateway::start(config).await
}

async fn admin(gateway: &Gateway, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", gateway.url());
    let mut request = match method {
        "GET" => client.get(url),
        _ => client.post(url),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("admin request");
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn dead_letters(gateway: &Gateway) -> Vec<Value> {
    let (status, body) = admin(gateway, "GET", "/admin/dead-letters", Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    body["dead_letters"].as_array().cloned().unwrap_or_default()
}

fn cli(gateway: &Gateway, args: &[&str]) -> (bool, String) {
    let run = gateway.cli(args);
    (run.succeeded(), run.stdout() + &run.stderr())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_refuses_requests_without_the_bearer_token() {
    let slack = FakeDownstream::start().await;
    let gateway = gateway(&slack, None).await;
    for token in [None, Some("wrong"), Some("")] {
        let (status, body) = admin(&gateway, "GET", "/admin/dead-letters", token).await;
        assert_eq!(status, 401, "{token:?}: {body}");
    }
    let (status, _) = admin(&gateway, "POST", "/admin/dead-letters/retry", None).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_action_becomes_a_dead_letter_that_the_admin_api_retries() {
    let slack = FakeDownstream::start().await;
    slack.set_status(400);
    let gateway = gateway(&slack, None).await;
    let reply = gateway
        .send_event(
            "acme",
            &with_outcomes(event("gen1_check_evaluation"), "fail"),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    wait_until("a dead letter", SOON, async || {
        !dead_letters(&gateway).await.is_empty()
    })
    .await;
    let letter = &dead_letters(&gateway).await[0];
    assert_eq!(letter["plugin"], "slack");
    assert!(
        letter["last_error"].as_str().unwrap().contains("HTTP 400"),
        "{letter}"
    );

    slack.set_status(200);
    let (status, body) = admin(&gateway, "POST", "/admin/dead-letters/retry", Some(TOKEN)).await;
    assert_eq!((status, &body["retried"]), (200, &json!(1)), "{body}");
    let requests = slack.wait_for(2, SOON).await;
    assert_eq!(
        requests[0].header("idempotency-key"),
        requests[1].header("idempotency-key")
    );
    wait_until("no dead letters left", SOON, async || {
        dead_letters(&gateway).await.is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_lists_and_retries_dead_letters() {
    let slack = FakeDownstream::start().await;
    slack.set_status(404);
    let gateway = gateway(&slack, None).await;
    gateway
        .send_event(
            "acme",
            &with_outcomes(event("gen1_check_evaluation"), "fail"),
        )
        .await;
    wait_until("a dead letter", SOON, async || {
        !dead_letters(&gateway).await.is_empty()
    })
    .await;
    let id = dead_letters(&gateway).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (ok, listed) = cli(&gateway, &["dlq", "list"]);
    assert!(
        ok && listed.contains(&id) && listed.contains("HTTP 404"),
        "{listed}"
    );
    let (ok, refused) = cli(&gateway, &["dlq", "retry"]);
    assert!(!ok && refused.contains("--all"), "{refused}");

    slack.set_status(200);
    let (ok, retried) = cli(&gateway, &["dlq", "retry", &id]);
    assert!(ok && retried.contains("requeued 1"), "{retried}");
    slack.wait_for(2, SOON).await;
    wait_until("no dead letters left", SOON, async || {
        dead_letters(&gateway).await.is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_runs_a_stored_event_through_the_fixed_plugin() {
    let slack = FakeDownstream::start().await;
    // `fixture_trap` is broken: the event is stored, its run recorded as a trap.
    let gateway = gateway(&slack, Some(Plugin::Trap)).await;
    gateway
        .send_event(
            "acme",
            &with_outcomes(event("gen1_check_evaluation"), "fail"),
        )
        .await;
    slack.wait_for(1, SOON).await;
    let original = gateway.event_ids().await[0].clone();

    // "Fix" it: the trap's file now holds working code (the Slack plugin's).
    let fixed = std::fs::read(Plugin::Slack.wasm_path()).unwrap();
    install_and_wait(&gateway, "fixture_trap", &fixed, SOON).await;
    let path = format!("/admin/events/{original}/replay");
    let (status, body) = admin(&gateway, "POST", &path, Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replay_of"], original.as_str());
    assert!(
        body["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|run| run["error"].is_null()),
        "{body}"
    );
    // Both plugins run again: the fixed one and Slack.
    slack.wait_for(3, SOON).await;

    let (status, _) = admin(
        &gateway,
        "POST",
        "/admin/events/evt_nope/replay",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 404);
    let (ok, replayed) = cli(&gateway, &["events", "replay", &original]);
    assert!(ok && replayed.contains("replayed"), "{replayed}");
}
