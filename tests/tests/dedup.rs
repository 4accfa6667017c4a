//! The same delivery twice runs the plugins once: Soda (or a proxy) may send an event again.

use std::time::Duration;

use serde_json::json;
use soda_gateway_tests::{
    event, hmac_hex, wait_until, with_callback_url, with_outcomes, Config, FakeDownstream, Gateway,
    Plugin, Tenant, SOON,
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
    slack.wait_for(1, SOON).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(slack.requests().len(), 1, "one Slack message");
    assert_eq!(gateway.count_rows("events").await, 1);
    assert_eq!(gateway.count_rows("plugin_runs").await, 1);

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
async fn a_repeated_webhook_id_gets_the_original_link_answer() {
    let soda = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret").plugin(
        Plugin::Link,
        json!({ "base_url": "https://tracker.example" }),
    );
    let gateway = Gateway::start(Config::new().dedup_window("1h").tenant(tenant)).await;
    let created = with_callback_url(event("gen1_incident_created"), &soda.url("/cb"));
    let first = serde_json::to_vec(&created).unwrap();
    // The same delivery id with a body that differs (say, a re-serialised retry).
    let mut again = created.clone();
    again["sentAt"] = json!("2022-05-18T06:09:00Z");
    let again = serde_json::to_vec(&again).unwrap();

    let mut answers = Vec::new();
    for body in [first, again] {
        let signature = hmac_hex("s3cret", &body);
        let headers = [
            ("x-soda-signature", signature.as_str()),
            ("webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
        ];
        let reply = gateway.post("acme", body, &headers).await;
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
    soda.wait_for(1, SOON).await;
    wait_until("one event stored", SOON, async || {
        gateway.count_rows("events").await == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(soda.requests().len(), 1, "one callback");
    assert_eq!(gateway.count_rows("plugin_runs").await, 1);
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
    slack.wait_for(1, SOON).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(gateway.count_rows("events").await, 1, "stored once");
    assert_eq!(gateway.count_rows("actions").await, 1);
    assert_eq!(slack.requests().len(), 1, "one Slack message");
}
