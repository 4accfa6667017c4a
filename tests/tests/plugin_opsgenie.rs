//! The Opsgenie plugin sends exactly the Alert API requests the seeds call for: an alert per
//! failing check and per new incident, closed by alias when the check passes again or the
//! incident is resolved, with the API key substituted on the wire.

use serde_json::{json, Value};
use soda_gateway_tests::{
    event, wait_until, with_callback_url, with_outcomes, Config, FakeDownstream, Gateway, Plugin,
    Tenant, SOON,
};

const API_KEY: &str = "G3NIE-K3Y";

/// A gateway whose tenant `acme` enables Opsgenie with `extra` config keys, against the API at
/// `opsgenie`, with the API key as a secret.
async fn start_gateway(opsgenie: &FakeDownstream, extra: Value) -> Gateway {
    let mut config = json!({
        "api_key": "{{secret:og_key}}",
        "api_url": opsgenie.url(""),
        "tags": ["data-platform"],
    });
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let acme = Tenant::hmac("acme", "s3cret")
        .secret("og_key", &format!("{{ value = \"{API_KEY}\" }}"))
        .plugin(Plugin::Opsgenie, config);
    Gateway::start(
        Config::new()
            .allowed_hosts(Plugin::Opsgenie, &["127.0.0.1"])
            .tenant(acme),
    )
    .await
}

/// Sends `seed`, waits for the `n`th request at `opsgenie`, checks it is an authenticated JSON
/// `POST` to `path`, and returns its body.
async fn send(
    gateway: &Gateway,
    opsgenie: &FakeDownstream,
    seed: &Value,
    n: usize,
    path: &str,
) -> Value {
    let reply = gateway.send_event("acme", seed).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let request = opsgenie.wait_for(n, SOON).await.remove(n - 1);
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", path)
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    let authorization = format!("GenieKey {API_KEY}");
    assert_eq!(
        request.header("authorization"),
        Some(authorization.as_str())
    );
    request.json()
}

/// Waits until every action is delivered, then checks `opsgenie` got exactly `n` requests.
async fn assert_delivered_exactly(gateway: &Gateway, opsgenie: &FakeDownstream, n: usize) {
    wait_until("every action is delivered", SOON, async || {
        let actions = gateway.actions().await;
        actions.len() == n && actions.iter().all(|a| a.status == "succeeded")
    })
    .await;
    assert_eq!(opsgenie.requests().len(), n, "{:#?}", opsgenie.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn gen2_failing_check_creates_an_alert_closed_once_it_passes_again() {
    let opsgenie = FakeDownstream::start().await;
    opsgenie.set_status(202); // what Opsgenie answers
    let gateway = start_gateway(&opsgenie, json!({})).await;
    let alias = "soda-check-a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36";

    // One failing and one passing result: an alert for the failing one only.
    // The diagnostics come as the gateway's JSON text of Soda's object (keys sorted).
    let seed = event("gen2_check_evaluation");
    let create = send(&gateway, &opsgenie, &seed, 1, "/v2/alerts").await;
    assert_eq!(
        create,
        json!({
            "message": "Soda check failed: No missing customer ids on orders",
            "alias": alias,
            "description": "Soda check failed: No missing customer ids on orders\n\n\
                            Definition:\nchecks for orders:\n  - missing_count(customer_id) = 0:\n      name: No missing customer ids\n\n\
                            Diagnostics: {\"fail\":{\"greaterThan\":0.0},\"value\":42.0}\n\n\
                            Open in Soda Cloud: https://cloud.soda.io/checks/a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
            "priority": "P3",
            "tags": ["soda", "soda-check", "fail", "sales", "tier-1", "data-platform"],
            "details": {
                "check": "No missing customer ids",
                "check_id": "a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
                "outcome": "fail",
                "dataset": "orders",
                "datasource": "Postgres (prod)",
                "column": "customer_id",
                "data_timestamp": "2025-06-05T13:00:00Z",
                "soda_cloud_url": "https://cloud.soda.io/checks/a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
            },
            "source": "Soda Cloud",
            "entity": "orders",
        })
    );

    // Both pass: only the check whose alert is open is closed, by the same alias.
    let passing = with_outcomes(event("gen2_check_evaluation"), "pass");
    let close_path = format!("/v2/alerts/{alias}/close?identifierType=alias");
    let close = send(&gateway, &opsgenie, &passing, 2, &close_path).await;
    assert_eq!(
        close,
        json!({ "source": "Soda Cloud", "note": "Soda check passed: No missing customer ids" })
    );

    // Passing again: nothing left to close.
    assert_eq!(gateway.send_event("acme", &passing).await.status, 200);
    assert_delivered_exactly(&gateway, &opsgenie, 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gen1_incident_creates_an_alert_closed_when_resolved() {
    let opsgenie = FakeDownstream::start().await;
    let gateway = start_gateway(&opsgenie, json!({ "source": "soda-prod" })).await;
    let callback = opsgenie.url("/never-called");

    let created = with_callback_url(event("gen1_incident_created"), &callback);
    let create = send(&gateway, &opsgenie, &created, 1, "/v2/alerts").await;
    assert_eq!(
        create,
        json!({
            "message": "Soda Incident #196: Invalid customer ids",
            "alias": "soda-incident-e1f399a3-09ea-***",
            "description": "Soda Incident #196: Invalid customer ids\n\n\
                            Invalid customer ids\n\n\
                            Checks:\n- checks for SODATEST_Customers_6f90f4ad: count same as SODATEST_RAWCUSTOMERS_7275c02c in postgres2 (fail): https://cloud.soda.io/checks/39d706c3-5a48-b\n\n\
                            Open in Soda Cloud: https://cloud.soda.io/incidents/e1f399a3-******-1992d2744ef6",
            "priority": "P2",
            "tags": ["soda", "soda-incident", "high", "data-platform"],
            "details": {
                "incident_id": "e1f399a3-09ea-***",
                "number": "196",
                "severity": "high",
                "status": "reported",
                "lead": "personn@soda.io",
                "reporter": "person@soda.io",
                "created": "2022-05-18T06:07:34Z",
                "soda_cloud_url": "https://cloud.soda.io/incidents/e1f399a3-******-1992d2744ef6",
            },
            "source": "soda-prod",
            "entity": "bnm_orders",
        })
    );

    // The alias's `*` are percent-encoded in the path.
    let resolved = with_callback_url(event("gen1_incident_updated"), &callback);
    let close_path = "/v2/alerts/soda-incident-e1f399a3-09ea-%2A%2A%2A/close?identifierType=alias";
    let close = send(&gateway, &opsgenie, &resolved, 2, close_path).await;
    assert_eq!(
        close,
        json!({
            "source": "soda-prod",
            "note": "Resolved in Soda Cloud: Stan fixed the customer id mapping in the ingestion job",
        })
    );
    assert_delivered_exactly(&gateway, &opsgenie, 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gen2_incident_creates_an_alert_closed_when_resolved() {
    let opsgenie = FakeDownstream::start().await;
    let gateway = start_gateway(&opsgenie, json!({})).await;
    let callback = opsgenie.url("/never-called");
    let alias = "soda-incident-b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43";

    let created = with_callback_url(event("gen2_incident_created"), &callback);
    let create = send(&gateway, &opsgenie, &created, 1, "/v2/alerts").await;
    assert_eq!(
        create,
        json!({
            "message": "Soda Incident #412: Missing customer ids in orders",
            "alias": alias,
            "description": "Soda Incident #412: Missing customer ids in orders\n\n\
                            42 orders arrived without a customer id since the 13:00 load.\n\n\
                            Checks:\n- No missing customer ids (fail): https://cloud.soda.io/checks/a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36\n\n\
                            Open in Soda Cloud: https://cloud.soda.io/incidents/b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43",
            "priority": "P2",
            "tags": ["soda", "soda-incident", "high", "data-platform"],
            "details": {
                "incident_id": "b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43",
                "number": "412",
                "severity": "high",
                "status": "in-progress",
                "reporter": "maria.lopez@example.com",
                "created": "2025-06-05T13:07:12Z",
                "soda_cloud_url": "https://cloud.soda.io/incidents/b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43",
            },
            "source": "Soda Cloud",
            "entity": "orders",
        })
    );

    let resolved = with_callback_url(event("gen2_incident_updated"), &callback);
    let close_path = format!("/v2/alerts/{alias}/close?identifierType=alias");
    let close = send(&gateway, &opsgenie, &resolved, 2, &close_path).await;
    assert_eq!(
        close,
        json!({ "source": "Soda Cloud", "note": "Resolved in Soda Cloud." })
    );
    assert_delivered_exactly(&gateway, &opsgenie, 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn warnings_alert_only_when_configured() {
    let warning = with_outcomes(event("gen1_check_evaluation"), "warn");

    let opsgenie = FakeDownstream::start().await;
    let gateway = start_gateway(&opsgenie, json!({})).await;
    assert_eq!(gateway.send_event("acme", &warning).await.status, 200);

    let opted_in = FakeDownstream::start().await;
    let warn_gateway = start_gateway(&opted_in, json!({ "alert_on_warn": true })).await;
    let create = send(&warn_gateway, &opted_in, &warning, 1, "/v2/alerts").await;
    assert_eq!(create["priority"], "P4");
    assert_eq!(create["alias"], "soda-check-39d706c3-5a48-4f4b***");
    assert_eq!(
        create["tags"],
        json!(["soda", "soda-check", "warn", "data-platform"])
    );

    let runs = gateway.plugin_runs().await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].outcome, "ok");
    assert_delivered_exactly(&gateway, &opsgenie, 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_without_api_key_is_refused_at_start() {
    let acme = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Opsgenie, json!({ "api_url": "http://127.0.0.1:9" }));
    let failure = Gateway::start_expecting_failure(Config::new().tenant(acme)).await;
    assert!(!failure.status.success());
    let expected = "tenant `acme`: plugin `opsgenie`: `config`: missing properties 'api_key'";
    assert!(failure.stderr.contains(expected), "{}", failure.stderr);
}
