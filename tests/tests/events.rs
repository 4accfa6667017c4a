//! Soda's documented events, both payload generations, as the gateway answers them.

use serde_json::json;
use soda_gateway_tests::{
    all_events, event, with_callback_url, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};

#[tokio::test(flavor = "multi_thread")]
async fn validate_event_is_answered_without_plugins() {
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Trap, json!({}))
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let gateway = Gateway::start(Config::new().tenant(tenant)).await;

    let reply = gateway.send_event("acme", &event("gen1_validate")).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    // Runs and actions are stored before the answer: no action, nothing to send.
    assert_eq!(gateway.count_rows("plugin_runs").await, 0, "no plugin ran");
    assert_eq!(gateway.count_rows("actions").await, 0);
    assert!(slack.requests().is_empty(), "{:#?}", slack.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn incident_created_from_the_seed_gets_its_link_answer_and_callback() {
    let soda = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret").plugin(
        Plugin::Link,
        json!({ "base_url": "https://jira.example.com" }),
    );
    let gateway = Gateway::start(Config::new().tenant(tenant)).await;

    let callback_path = "/integrations/webhook/8224bbc2/incident-link/510fad8c/uLYosxWNwVGH";
    let created = with_callback_url(event("gen1_incident_created"), &soda.url(callback_path));
    let reply = gateway.send_event("acme", &created).await;

    assert_eq!(reply.status, 200, "{reply:?}");
    let link = json!({
        "url": "https://jira.example.com/browse/INC-196",
        "text": "[INC-196] Invalid customer ids",
    });
    assert_eq!(reply.json(), json!({ "link": link }));

    let requests = soda.wait_for(1, SOON).await;
    let callback = &requests[0];
    assert_eq!(callback.method, "POST");
    assert_eq!(callback.path, callback_path);
    assert_eq!(callback.json(), link);
    assert!(
        !callback
            .header("idempotency-key")
            .unwrap_or_default()
            .is_empty(),
        "an idempotency-key header: {:?}",
        callback.headers
    );

    let mut kinds: Vec<String> = gateway
        .actions()
        .await
        .into_iter()
        .map(|a| a.kind)
        .collect();
    kinds.sort();
    assert_eq!(
        kinds.len(),
        2,
        "the link and the callback are stored: {kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn second_generation_incident_callback_url_inside_the_incident_is_used() {
    let soda = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret").plugin(
        Plugin::Link,
        json!({ "base_url": "https://jira.example.com" }),
    );
    let gateway = Gateway::start(Config::new().tenant(tenant)).await;

    let created = with_callback_url(event("gen2_incident_created"), &soda.url("/callback/412"));
    assert!(created["incident"]["incidentLinkCallbackUrl"].is_string());
    let reply = gateway.send_event("acme", &created).await;

    assert_eq!(reply.status, 200, "{reply:?}");
    let link = json!({
        "url": "https://jira.example.com/browse/INC-412",
        "text": "[INC-412] Missing customer ids in orders",
    });
    assert_eq!(reply.json(), json!({ "link": link }));
    let requests = soda.wait_for(1, SOON).await;
    assert_eq!(requests[0].path, "/callback/412");
    assert_eq!(requests[0].json(), link);
}

#[tokio::test(flavor = "multi_thread")]
async fn both_generations_seed_events_are_accepted() {
    let downstream = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(
            Plugin::Slack,
            json!({ "webhook_url": downstream.url("/slack") }),
        )
        .plugin(
            Plugin::Link,
            json!({ "base_url": "https://jira.example.com" }),
        );
    let gateway = Gateway::start(Config::new().tenant(tenant)).await;

    let events = all_events();
    assert_eq!(events.len(), 8, "the eight documented event examples");
    for (name, event) in events {
        let event = with_callback_url(event, &downstream.url(&format!("/callback/{name}")));
        let stored_before = gateway.count_rows("events").await;
        let reply = gateway.send_event("acme", &event).await;
        assert_eq!(reply.status, 200, "{name}: {reply:?}");
        if event["event"] != "validate" {
            // Whether a validate is stored the contract leaves open; every other event is.
            let stored = gateway.count_rows("events").await;
            assert_eq!(
                stored,
                stored_before + 1,
                "{name} is stored before the answer"
            );
        }
    }
    let mut types: Vec<String> = gateway
        .events()
        .await
        .into_iter()
        .map(|(_, event_type)| event_type)
        .filter(|event_type| event_type != "validate")
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "checkEvaluation",
            "checkEvaluation",
            "contractPublished",
            "incidentCreated",
            "incidentCreated",
            "incidentUpdated",
            "incidentUpdated",
        ]
    );
    let failed: Vec<_> = gateway
        .plugin_runs()
        .await
        .into_iter()
        .filter(|run| run.outcome != "ok")
        .collect();
    assert!(
        failed.is_empty(),
        "every plugin handles every seed: {failed:?}"
    );
}
