//! The PagerDuty plugin sends exactly the Events API v2 requests the seeds call for: a trigger
//! per failing check and per new incident, a resolve with the same `dedup_key` when the check
//! passes again or the incident is resolved, with the routing key substituted on the wire.

use serde_json::{json, Value};
use soda_gateway_tests::{
    event, wait_until, with_callback_url, with_outcomes, Config, FakeDownstream, Gateway, Plugin,
    Recorded, Tenant, SOON,
};

const ROUTING_KEY: &str = "R0UTING";

/// A gateway whose tenant `acme` enables PagerDuty with `extra` config keys, posting to
/// `pagerduty`, with the routing key as a secret.
async fn start_gateway(pagerduty: &FakeDownstream, extra: Value) -> Gateway {
    let mut config = json!({
        "routing_key": "{{secret:pd_key}}",
        "events_url": pagerduty.url("/v2/enqueue"),
    });
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let acme = Tenant::hmac("acme", "s3cret")
        .secret("pd_key", &format!("{{ value = \"{ROUTING_KEY}\" }}"))
        .plugin(Plugin::PagerDuty, config);
    Gateway::start(
        Config::new()
            .allowed_hosts(Plugin::PagerDuty, &["127.0.0.1"])
            .tenant(acme),
    )
    .await
}

/// Sends `seed`, waits for the `n`th request at `pagerduty` and returns it, checking it is a
/// JSON `POST` to the enqueue path.
async fn send(gateway: &Gateway, pagerduty: &FakeDownstream, seed: &Value, n: usize) -> Value {
    let reply = gateway.send_event("acme", seed).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let request: Recorded = pagerduty.wait_for(n, SOON).await.remove(n - 1);
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v2/enqueue")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    request.json()
}

/// Waits until every action is delivered, then checks `pagerduty` got exactly `n` requests.
async fn assert_delivered_exactly(gateway: &Gateway, pagerduty: &FakeDownstream, n: usize) {
    wait_until("every action is delivered", SOON, async || {
        let actions = gateway.actions().await;
        actions.len() == n && actions.iter().all(|a| a.status == "succeeded")
    })
    .await;
    assert_eq!(pagerduty.requests().len(), n, "{:#?}", pagerduty.requests());
}

fn resolve(dedup_key: &str) -> Value {
    json!({ "routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": dedup_key })
}

#[tokio::test(flavor = "multi_thread")]
async fn gen2_failing_check_triggers_and_resolves_once_it_passes_again() {
    let pagerduty = FakeDownstream::start().await;
    pagerduty.set_status(202); // what PagerDuty answers
    let gateway = start_gateway(&pagerduty, json!({})).await;
    let dedup_key = "soda-check-a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36";

    // One failing and one passing result: a trigger for the failing one only.
    let trigger = send(&gateway, &pagerduty, &event("gen2_check_evaluation"), 1).await;
    assert_eq!(
        trigger,
        json!({
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {
                "summary": "Soda check failed: No missing customer ids on orders",
                "source": "Soda Cloud",
                "severity": "error",
                "component": "orders",
                "group": "Postgres (prod)",
                "class": "soda-check",
                "custom_details": {
                    "check": "No missing customer ids",
                    "check_id": "a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
                    "outcome": "fail",
                    "definition": "checks for orders:\n  - missing_count(customer_id) = 0:\n      name: No missing customer ids",
                    "dataset": "orders",
                    "datasource": "Postgres (prod)",
                    "column": "customer_id",
                    "data_timestamp": "2025-06-05T13:00:00Z",
                    "diagnostics": { "value": 42.0, "fail": { "greaterThan": 0.0 } },
                },
            },
            "links": [
                {
                    "href": "https://cloud.soda.io/checks/a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
                    "text": "Check in Soda Cloud",
                },
                {
                    "href": "https://cloud.soda.io/datasets/7a1e2c3d-4b5f-4a6b-8c9d-0e1f2a3b4c5d",
                    "text": "Dataset orders in Soda Cloud",
                },
            ],
        })
    );

    // Both pass: only the check whose alert is open is resolved, with the same key.
    let passing = with_outcomes(event("gen2_check_evaluation"), "pass");
    assert_eq!(
        send(&gateway, &pagerduty, &passing, 2).await,
        resolve(dedup_key)
    );

    // Passing again: nothing left to resolve.
    assert_eq!(gateway.send_event("acme", &passing).await.status, 200);
    assert_delivered_exactly(&gateway, &pagerduty, 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gen1_failing_check_triggers_with_its_definition_as_name() {
    let pagerduty = FakeDownstream::start().await;
    let gateway = start_gateway(&pagerduty, json!({ "source": "soda-prod" })).await;

    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    let trigger = send(&gateway, &pagerduty, &failing, 1).await;
    assert_eq!(
        trigger,
        json!({
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": "soda-check-39d706c3-5a48-4f4b***",
            "payload": {
                "summary": "Soda check failed: checks for SODATEST_Customers_6f90f4ad: count same as SODATEST_RAWCUSTOMERS_7275c02c in postgres2 on bnm_orders",
                "source": "soda-prod",
                "severity": "error",
                "component": "bnm_orders",
                "group": "sodaspark",
                "class": "soda-check",
                "custom_details": {
                    "check_id": "39d706c3-5a48-4f4b***",
                    "outcome": "fail",
                    "definition": "checks for SODATEST_Customers_6f90f4ad:\ncount same as SODATEST_RAWCUSTOMERS_7275c02c in postgres2",
                    "dataset": "bnm_orders",
                    "datasource": "sodaspark",
                    "column": "columnName",
                    "data_timestamp": "2022-01-04T09:49:48.060897Z",
                    "diagnostics": { "value": 0.0 },
                    "agreement": "My new agreement pending",
                },
            },
            "links": [
                { "href": "https://cloud.soda.io/checks/39d706c3-5a48-b", "text": "Check in Soda Cloud" },
                { "href": "https://cloud.soda.io/datasets/e8f1fe55-ae3c", "text": "Dataset bnm_orders in Soda Cloud" },
            ],
        })
    );
    assert_delivered_exactly(&gateway, &pagerduty, 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn warnings_trigger_only_when_configured() {
    let warning = with_outcomes(event("gen1_check_evaluation"), "warn");

    let pagerduty = FakeDownstream::start().await;
    let gateway = start_gateway(&pagerduty, json!({})).await;
    assert_eq!(gateway.send_event("acme", &warning).await.status, 200);
    let opted_in = FakeDownstream::start().await;
    let warn_gateway = start_gateway(&opted_in, json!({ "alert_on_warn": true })).await;
    let trigger = send(&warn_gateway, &opted_in, &warning, 1).await;
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["payload"]["severity"], "warning");
    assert!(
        trigger["payload"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("Soda check warned: "),
        "{trigger}"
    );

    let runs = gateway.plugin_runs().await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].outcome, "ok");
    assert_delivered_exactly(&gateway, &pagerduty, 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gen1_incident_triggers_and_its_resolution_resolves_the_same_alert() {
    let pagerduty = FakeDownstream::start().await;
    let gateway = start_gateway(&pagerduty, json!({})).await;
    let callback = pagerduty.url("/never-called");
    let dedup_key = "soda-incident-e1f399a3-09ea-***";

    let created = with_callback_url(event("gen1_incident_created"), &callback);
    let trigger = send(&gateway, &pagerduty, &created, 1).await;
    assert_eq!(
        trigger,
        json!({
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {
                "summary": "Soda Incident #196: Invalid customer ids",
                "source": "Soda Cloud",
                "severity": "error",
                "component": "bnm_orders",
                "group": "sodaspark",
                "class": "soda-incident",
                "custom_details": {
                    "incident_id": "e1f399a3-09ea-***",
                    "number": 196,
                    "title": "Invalid customer ids",
                    "description": "Invalid customer ids",
                    "severity": "high",
                    "status": "reported",
                    "lead": "personn@soda.io",
                    "reporter": "person@soda.io",
                    "created": "2022-05-18T06:07:34Z",
                    "checks": [
                        "checks for SODATEST_Customers_6f90f4ad: count same as SODATEST_RAWCUSTOMERS_7275c02c in postgres2 (fail)"
                    ],
                },
            },
            "links": [
                {
                    "href": "https://cloud.soda.io/incidents/e1f399a3-******-1992d2744ef6",
                    "text": "Incident #196 in Soda Cloud",
                },
                {
                    "href": "https://cloud.soda.io/checks/39d706c3-5a48-b",
                    "text": "Check: checks for SODATEST_Customers_6f90f4ad: count same as SODATEST_RAWCUSTOMERS_7275c02c in postgres2",
                },
            ],
        })
    );

    let resolved = with_callback_url(event("gen1_incident_updated"), &callback);
    assert_eq!(
        send(&gateway, &pagerduty, &resolved, 2).await,
        resolve(dedup_key)
    );
    assert_delivered_exactly(&gateway, &pagerduty, 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gen2_incident_triggers_and_its_resolution_resolves_the_same_alert() {
    let pagerduty = FakeDownstream::start().await;
    let gateway = start_gateway(&pagerduty, json!({})).await;
    let callback = pagerduty.url("/never-called");
    let dedup_key = "soda-incident-b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43";

    let created = with_callback_url(event("gen2_incident_created"), &callback);
    let trigger = send(&gateway, &pagerduty, &created, 1).await;
    assert_eq!(
        trigger,
        json!({
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {
                "summary": "Soda Incident #412: Missing customer ids in orders",
                "source": "Soda Cloud",
                "severity": "error",
                "component": "orders",
                "group": "Postgres (prod)",
                "class": "soda-incident",
                "custom_details": {
                    "incident_id": "b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43",
                    "number": 412,
                    "title": "Missing customer ids in orders",
                    "description": "42 orders arrived without a customer id since the 13:00 load.",
                    "severity": "high",
                    "status": "in-progress",
                    "reporter": "maria.lopez@example.com",
                    "created": "2025-06-05T13:07:12Z",
                    "checks": ["No missing customer ids (fail)"],
                },
            },
            "links": [
                {
                    "href": "https://cloud.soda.io/incidents/b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43",
                    "text": "Incident #412 in Soda Cloud",
                },
                {
                    "href": "https://cloud.soda.io/checks/a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
                    "text": "Check: No missing customer ids",
                },
            ],
        })
    );

    let resolved = with_callback_url(event("gen2_incident_updated"), &callback);
    assert_eq!(
        send(&gateway, &pagerduty, &resolved, 2).await,
        resolve(dedup_key)
    );
    assert_delivered_exactly(&gateway, &pagerduty, 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn other_events_send_nothing() {
    let pagerduty = FakeDownstream::start().await;
    let gateway = start_gateway(&pagerduty, json!({})).await;
    for seed in [
        "gen1_validate",
        "gen2_contract_published",
        "gen1_check_evaluation",
    ] {
        assert_eq!(gateway.send_event("acme", &event(seed)).await.status, 200);
    }
    // `validate` never reaches plugins; the other two run the plugin, which sends nothing.
    wait_until("two plugin runs", SOON, async || {
        gateway.plugin_runs().await.len() == 2
    })
    .await;
    assert!(gateway
        .plugin_runs()
        .await
        .iter()
        .all(|r| r.outcome == "ok"));
    assert_delivered_exactly(&gateway, &pagerduty, 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_without_routing_key_is_refused_at_start() {
    let acme = Tenant::hmac("acme", "s3cret").plugin(
        Plugin::PagerDuty,
        json!({ "events_url": "http://127.0.0.1:9/v2/enqueue" }),
    );
    let failure = Gateway::start_expecting_failure(Config::new().tenant(acme)).await;
    assert!(!failure.status.success());
    let expected = "tenant `acme`: plugin `pagerduty`: `config`: missing properties 'routing_key'";
    assert!(failure.stderr.contains(expected), "{}", failure.stderr);
}
