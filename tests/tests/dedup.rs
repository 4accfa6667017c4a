//! The same delivery twice runs the plugins once: Soda (or a proxy) may send an event again.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use soda_gateway_tests::{
    event, hmac_hex, standard_webhooks_signature, with_callback_url, with_outcomes, Config,
    FakeDownstream, Gateway, Plugin, Tenant, Verify, SOON,
};

#[tokio::test(flavor = "multi_thread")]
async fn the_same_body_twice_is_acknowledged_without_running_plugins_again() {
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let gateway = Gateway::start(Config::new().dedup_window("1h").tenant(tenant)).await;
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");

    for _ in 0..2 {
        let reply = gateway.send_event("acme", &failing).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    // Stored before the answers: one event, one run, one action.
    assert_eq!(gateway.count_rows("events").await, 1);
    assert_eq!(gateway.count_rows("plugin_runs").await, 1);
    assert_eq!(gateway.count_rows("actions").await, 1);
    slack.wait_for(1, SOON).await;
    gateway.wait_until_settled().await;
    assert_eq!(slack.requests().len(), 1, "one Slack message");

    // A different event is not a duplicate.
    let reply = gateway
        .send_event(
            "acme",
            &with_outcomes(event("gen1_check_evaluation"), "warn"),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    slack.wait_for(2, SOON).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_body_with_a_new_unsigned_webhook_id_gets_the_original_answer() {
    let soda = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret").plugin(
        Plugin::Link,
        json!({ "base_url": "https://tracker.example" }),
    );
    let gateway = Gateway::start(Config::new().dedup_window("1h").tenant(tenant)).await;
    let created = with_callback_url(event("gen1_incident_created"), &soda.url("/cb"));
    let body = serde_json::to_vec(&created).unwrap();
    let signature = hmac_hex("s3cret", &body);

    // The HMAC covers the body only: a replay may carry any `webhook-id` it likes.
    let mut answers = Vec::new();
    for id in ["msg_original", "msg_made_up_by_a_replay"] {
        let headers = [("x-soda-signature", signature.as_str()), ("webhook-id", id)];
        let reply = gateway.post("acme", body.clone(), &headers).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        answers.push(reply.json());
    }
    assert_eq!(
        answers[0], answers[1],
        "the duplicate gets the original answer"
    );
    assert_eq!(
        answers[0]["link"]["url"],
        "https://tracker.example/browse/INC-196"
    );
    assert_eq!(gateway.count_rows("events").await, 1);
    assert_eq!(gateway.count_rows("plugin_runs").await, 1);
    soda.wait_for(1, SOON).await;
    gateway.wait_until_settled().await;
    assert_eq!(soda.requests().len(), 1, "one callback");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsigned_webhook_id_cannot_hide_another_event() {
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let gateway = Gateway::start(Config::new().dedup_window("1h").tenant(tenant)).await;
    for outcome in ["fail", "warn"] {
        let body =
            serde_json::to_vec(&with_outcomes(event("gen1_check_evaluation"), outcome)).unwrap();
        let signature = hmac_hex("s3cret", &body);
        let headers = [
            ("x-soda-signature", signature.as_str()),
            ("webhook-id", "msg_reused"),
        ];
        assert_eq!(gateway.post("acme", body, &headers).await.status, 200);
    }
    slack.wait_for(2, SOON).await;
    assert_eq!(gateway.count_rows("events").await, 2, "both events stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_webhook_id_keeps_equal_bodies_apart_and_a_reused_one_is_logged() {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let slack = FakeDownstream::start().await;
    let verify = Verify::Inline(format!(
        r#"{{ scheme = "standard-webhooks", secret = "{SECRET}" }}"#
    ));
    let tenant = Tenant::new("acme", verify)
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let gateway = Gateway::start(Config::new().dedup_window("1h").tenant(tenant)).await;
    let body = |outcome: &str| {
        serde_json::to_vec(&with_outcomes(event("gen1_check_evaluation"), outcome)).unwrap()
    };
    let post = async |id: &str, body: Vec<u8>| {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let timestamp = now.as_secs().to_string();
        let signature = standard_webhooks_signature(SECRET, id, &timestamp, &body);
        let headers = [
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.as_str()),
            ("webhook-signature", signature.as_str()),
        ];
        gateway.post("acme", body, &headers).await.status
    };

    assert_eq!(post("msg_1", body("fail")).await, 200);
    assert_eq!(post("msg_1", body("fail")).await, 200, "a retry");
    assert_eq!(
        post("msg_2", body("fail")).await,
        200,
        "same text, new message"
    );
    assert_eq!(post("msg_1", body("warn")).await, 200, "id reused");
    assert_eq!(gateway.count_rows("events").await, 3);
    slack.wait_for(3, SOON).await;
    gateway.wait_until_settled().await;
    assert_eq!(slack.requests().len(), 3, "the retry ran no plugin");
    gateway
        .wait_for_log("webhook-id came again with a different body")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deliveries_of_one_event_racing_each_other_are_stored_once() {
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let gateway =
        std::sync::Arc::new(Gateway::start(Config::new().dedup_window("1h").tenant(tenant)).await);
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    let racing: Vec<_> = (0..8)
        .map(|_| {
            let gateway = gateway.clone();
            let failing = failing.clone();
            tokio::spawn(async move { gateway.send_event("acme", &failing).await.status })
        })
        .collect();
    for request in racing {
        assert_eq!(
            request.await.unwrap(),
            200,
            "every delivery is acknowledged"
        );
    }
    assert_eq!(gateway.count_rows("events").await, 1, "stored once");
    assert_eq!(gateway.count_rows("actions").await, 1);
    slack.wait_for(1, SOON).await;
    gateway.wait_until_settled().await;
    assert_eq!(slack.requests().len(), 1, "one Slack message");
}
