//! The Python plugin (`plugins/jira-automation-py`, built with componentize-py) posts the
//! documented JSON object to a Jira Automation incoming webhook, with the tenant's secret token
//! substituted into `X-Automation-Webhook-Token` on the wire.
//!
//! One gateway for every case: each gateway compiles the 18 MB component once (seconds).

use serde_json::{json, Value};
use soda_gateway_tests::{
    event, wait_until, with_callback_url, Config, FakeDownstream, Gateway, Plugin, PluginRun,
    Recorded, Tenant, SOON,
};

const TOKEN: &str = "jira-automation-token-5c1f9e";
const HOOK_PATH: &str = "/automation/webhooks/jira/a/rule-1";

/// Where the seeds' incident-link callbacks point instead of Soda (the plugin never uses them).
const CALLBACK: &str = "http://127.0.0.1:9/never-called";

/// Sends `event` for `acme` and returns the gateway's id for it.
async fn send(gateway: &Gateway, event: Value) -> String {
    let before = gateway.event_ids().await.len();
    let reply = gateway
        .send_event("acme", &with_callback_url(event, CALLBACK))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!({}), "the plugin links nothing");
    let ids = gateway.event_ids().await;
    assert_eq!(ids.len(), before + 1, "one event stored: {ids:?}");
    ids.last().cloned().expect("the new event's id")
}

/// Asserts everything about one webhook call but its body, and returns the body.
fn webhook_body(request: &Recorded) -> Value {
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, HOOK_PATH);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header("x-automation-webhook-token"),
        Some(TOKEN),
        "the placeholder is replaced by the tenant's secret on the wire"
    );
    request.json()
}

#[tokio::test(flavor = "multi_thread")]
async fn incidents_and_failing_checks_reach_the_jira_automation_webhook() {
    let jira = FakeDownstream::start().await;
    let acme = Tenant::hmac("acme", "s3cret")
        .secret("jira_token", &format!("{{ value = \"{TOKEN}\" }}"))
        .plugin(
            Plugin::JiraAutomation,
            json!({ "webhook_url": jira.url(HOOK_PATH), "token": "{{secret:jira_token}}" }),
        );
    // A tenant whose config lacks the webhook URL: its runs fail, naming the key.
    let broken = Tenant::hmac("broken", "s3cret").plugin(
        Plugin::JiraAutomation,
        json!({ "token": "{{secret:jira_token}}" }),
    );
    let config = Config::new()
        .allowed_hosts(Plugin::JiraAutomation, &["127.0.0.1"])
        .tenant(acme)
        .tenant(broken);
    let gateway = Gateway::start(config).await;

    // First generation: `major` becomes high, `opened` becomes reported.
    let id = send(&gateway, event("gen1_incident_created")).await;
    let requests = jira.wait_for(1, SOON).await;
    assert_eq!(
        webhook_body(&requests[0]),
        json!({
            "source": "soda",
            "event": "incidentCreated",
            "eventId": id,
            "tenant": "acme",
            "summary": "Soda incident #196: Invalid customer ids",
            "sodaUrl": "https://cloud.soda.io/incidents/e1f399a3-******-1992d2744ef6",
            "incident": {
                "id": "e1f399a3-09ea-***",
                "number": 196,
                "title": "Invalid customer ids",
                "description": "Invalid customer ids",
                "severity": "high",
                "status": "reported",
                "created": "2022-05-18T06:07:34Z",
                "lead": "personn@soda.io",
                "reporter": "person@soda.io",
                "url": "https://cloud.soda.io/incidents/e1f399a3-******-1992d2744ef6",
                "links": [{
                    "name": "soda-inc-196-2022-05-18-invalid-customer-ids",
                    "url": "https://example.slack.com/channels/C03FU9GR7P7",
                    "integrationType": "slack",
                }],
                "checks": [{
                    "id": "39d706c3-5a48-4f4b***",
                    "name": "checks for SODATEST_Customers_6f90f4ad:\ncount same as SODATEST_RAWCUSTOMERS_7275c02c in postgres2",
                    "outcome": "fail",
                    "dataset": "bnm_orders",
                    "datasource": "sodaspark",
                    "column": "columnName",
                    "dataTimestamp": "2022-01-04T09:49:48.060897Z",
                    "url": "https://cloud.soda.io/checks/39d706c3-5a48-b",
                }],
            },
        })
    );

    // Second generation: `created`, the callback URL inside the incident, no lead, no links.
    let id = send(&gateway, event("gen2_incident_created")).await;
    let requests = jira.wait_for(2, SOON).await;
    assert_eq!(
        webhook_body(&requests[1]),
        json!({
            "source": "soda",
            "event": "incidentCreated",
            "eventId": id,
            "tenant": "acme",
            "summary": "Soda incident #412: Missing customer ids in orders",
            "sodaUrl": "https://cloud.soda.io/incidents/b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43",
            "incident": {
                "id": "b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43",
                "number": 412,
                "title": "Missing customer ids in orders",
                "description": "42 orders arrived without a customer id since the 13:00 load.",
                "severity": "high",
                "status": "in-progress",
                "created": "2025-06-05T13:07:12Z",
                "lead": null,
                "reporter": "maria.lopez@example.com",
                "url": "https://cloud.soda.io/incidents/b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43",
                "links": [],
                "checks": [{
                    "id": "a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
                    "name": "No missing customer ids",
                    "outcome": "fail",
                    "dataset": "orders",
                    "datasource": "Postgres (prod)",
                    "column": "customer_id",
                    "dataTimestamp": "2025-06-05T13:00:00Z",
                    "url": "https://cloud.soda.io/checks/a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
                }],
            },
        })
    );

    // A check evaluation: only the failing result is posted, not the passing one.
    let id = send(&gateway, event("gen2_check_evaluation")).await;
    let requests = jira.wait_for(3, SOON).await;
    assert_eq!(
        webhook_body(&requests[2]),
        json!({
            "source": "soda",
            "event": "checkEvaluation",
            "eventId": id,
            "tenant": "acme",
            "summary": "Soda: 1 check failed: No missing customer ids",
            "sodaUrl": "https://cloud.soda.io/checks/a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
            "checks": [{
                "id": "a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
                "name": "No missing customer ids",
                "outcome": "fail",
                "dataset": "orders",
                "datasource": "Postgres (prod)",
                "column": "customer_id",
                "dataTimestamp": "2025-06-05T13:00:00Z",
                "url": "https://cloud.soda.io/checks/a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
            }],
        })
    );

    // Passing checks and other event types: the plugin runs and asks for nothing.
    for seed in ["gen1_check_evaluation", "gen2_incident_updated"] {
        send(&gateway, event(seed)).await;
    }
    wait_until("five successful plugin runs", SOON, async || {
        gateway
            .plugin_runs()
            .await
            .iter()
            .filter(|run| run.outcome == "ok")
            .count()
            == 5
    })
    .await;

    // The broken tenant's run fails with the config error; nothing is sent for it.
    let reply = gateway
        .send_event("broken", &event("gen2_check_evaluation"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let mut failed: Vec<PluginRun> = Vec::new();
    wait_until("the broken tenant's run is recorded", SOON, async || {
        failed = gateway
            .plugin_runs()
            .await
            .into_iter()
            .filter(|run| run.outcome == "error")
            .collect();
        !failed.is_empty()
    })
    .await;
    let error = failed[0].error.clone().unwrap_or_default();
    assert!(
        error.contains(
            "invalid jira_automation plugin config: `webhook_url` must be a non-empty string"
        ),
        "{failed:?}"
    );

    wait_until(
        "the three webhook calls are marked succeeded",
        SOON,
        async || {
            let actions = gateway.actions().await;
            actions.len() == 3 && actions.iter().all(|a| a.status == "succeeded")
        },
    )
    .await;
    assert_eq!(jira.requests().len(), 3, "nothing else was sent");
}
