//! The ServiceNow plugin against a fake instance and a fake Soda callback: the exact requests
//! for both payload generations, the create → link → resolve chain, and its errors.

use serde_json::{json, Value};
use soda_gateway_tests::{
    event, wait_until, with_callback_url, Config, FakeDownstream, Gateway, Plugin, Recorded,
    Tenant, SOON,
};

/// The credential the tenant keeps as the secret `snow_auth`; the plugin only sees its name.
const AUTHORIZATION: &str = "Basic c29kYS1ib3Q6czNjcmV0";
const SYS_ID: &str = "9d385017c611228701d22104cc95c371";
const NUMBER: &str = "INC0010001";

/// A ServiceNow instance that answers every request with `201` and the created record.
async fn instance() -> FakeDownstream {
    let instance = FakeDownstream::start().await;
    instance.set_status(201);
    instance.set_reply_body(
        json!({ "result": { "sys_id": SYS_ID, "number": NUMBER, "state": "1" } }).to_string(),
    );
    instance
}

/// Acme with the plugin on `instance`, its credential as a secret, plus `extra` config keys.
fn gateway_config(instance: &FakeDownstream, extra: Value) -> Config {
    let mut config = json!({
        "instance_url": instance.url(""),
        "authorization": "{{secret:snow_auth}}",
    });
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let tenant = Tenant::hmac("acme", "s3cret")
        .secret("snow_auth", &format!("{{ value = \"{AUTHORIZATION}\" }}"))
        .plugin(Plugin::ServiceNow, config);
    Config::new()
        .allowed_hosts(Plugin::ServiceNow, &["127.0.0.1"])
        .tenant(tenant)
}

/// Asserts a request to the table API: method, path, JSON headers, the substituted credential
/// and the whole body.
fn assert_table_request(request: &Recorded, method: &str, path: &str, body: Value) {
    assert_eq!(request.method, method, "{request:?}");
    assert_eq!(request.path, path, "{request:?}");
    assert_eq!(request.header("authorization"), Some(AUTHORIZATION));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(request.json(), body);
}

fn incident_path() -> String {
    format!("/api/now/table/incident/{SYS_ID}")
}

#[tokio::test(flavor = "multi_thread")]
async fn gen1_incident_is_created_linked_and_resolved() {
    let (instance, soda) = (instance().await, FakeDownstream::start().await);
    let gateway = Gateway::start(gateway_config(
        &instance,
        json!({ "assignment_group": "Data Quality" }),
    ))
    .await;

    let created = with_callback_url(event("gen1_incident_created"), &soda.url("/link/cb"));
    let reply = gateway.send_event("acme", &created).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!({}), "the link comes later, by callback");

    let create = &instance.wait_for(1, SOON).await[0];
    assert_table_request(
        create,
        "POST",
        "/api/now/table/incident",
        json!({
            "short_description": "Soda incident #196: Invalid customer ids",
            "description": "Invalid customer ids\n\
                \n\
                Severity: high\n\
                Status: reported\n\
                Lead: personn@soda.io\n\
                Reporter: person@soda.io\n\
                \n\
                Checks:\n\
                - checks for SODATEST_Customers_6f90f4ad: count same as SODATEST_RAWCUSTOMERS_7275c02c in postgres2 (fail, bnm_orders): https://cloud.soda.io/checks/39d706c3-5a48-b\n\
                \n\
                Open in Soda: https://cloud.soda.io/incidents/e1f399a3-******-1992d2744ef6",
            "correlation_id": "e1f399a3-09ea-***",
            "impact": "1",
            "urgency": "2",
            "assignment_group": "Data Quality",
        }),
    );

    let link = &soda.wait_for(1, SOON).await[0];
    assert_eq!(
        (link.method.as_str(), link.path.as_str()),
        ("POST", "/link/cb")
    );
    assert_eq!(
        link.json(),
        json!({
            "url": instance.url(&format!("/nav_to.do?uri=incident.do?sys_id={SYS_ID}")),
            "text": NUMBER,
        })
    );

    let reply = gateway
        .send_event("acme", &event("gen1_incident_updated"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let resolve = &instance.wait_for(2, SOON).await[1];
    assert_table_request(
        resolve,
        "PATCH",
        &incident_path(),
        json!({
            "state": "6",
            "close_code": "Solved (Permanently)",
            "close_notes": "Stan fixed the customer id mapping in the ingestion job",
        }),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gen2_incident_is_created_noted_and_resolved() {
    let (instance, soda) = (instance().await, FakeDownstream::start().await);
    let gateway = Gateway::start(gateway_config(
        &instance,
        json!({ "caller_id": "soda.bot", "close_code": "Solution provided" }),
    ))
    .await;

    let created = with_callback_url(event("gen2_incident_created"), &soda.url("/link/cb"));
    assert_eq!(gateway.send_event("acme", &created).await.status, 200);
    let create = &instance.wait_for(1, SOON).await[0];
    assert_table_request(
        create,
        "POST",
        "/api/now/table/incident",
        json!({
            "short_description": "Soda incident #412: Missing customer ids in orders",
            "description": "42 orders arrived without a customer id since the 13:00 load.\n\
                \n\
                Severity: high\n\
                Status: in-progress\n\
                Reporter: maria.lopez@example.com\n\
                \n\
                Checks:\n\
                - No missing customer ids (fail, orders): https://cloud.soda.io/checks/a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36\n\
                \n\
                Open in Soda: https://cloud.soda.io/incidents/b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43",
            "correlation_id": "b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43",
            "impact": "1",
            "urgency": "2",
            "caller_id": "soda.bot",
        }),
    );
    let link = &soda.wait_for(1, SOON).await[0];
    assert_eq!(link.path, "/link/cb");
    assert_eq!(link.json()["text"], NUMBER);

    // Another status change: a work note on the same incident.
    let mut investigating = with_callback_url(event("gen2_incident_updated"), &soda.url("/cb"));
    investigating["incident"]["status"] = json!("investigating");
    assert_eq!(gateway.send_event("acme", &investigating).await.status, 200);
    let note = &instance.wait_for(2, SOON).await[1];
    assert_table_request(
        note,
        "PATCH",
        &incident_path(),
        json!({
            "work_notes": "Soda incident #412 updated: status investigating, severity high.\n\
                Open in Soda: https://cloud.soda.io/incidents/b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43",
        }),
    );

    // Resolved without resolution notes: the configured close code and a default note.
    let resolved = with_callback_url(event("gen2_incident_updated"), &soda.url("/cb"));
    assert_eq!(gateway.send_event("acme", &resolved).await.status, 200);
    let resolve = &instance.wait_for(3, SOON).await[2];
    assert_table_request(
        resolve,
        "PATCH",
        &incident_path(),
        json!({
            "state": "6",
            "close_code": "Solution provided",
            "close_notes": "Resolved in Soda.",
        }),
    );
    gateway.wait_until_settled().await;
    assert_eq!(soda.requests().len(), 1, "updates post no further links");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_for_an_unknown_incident_is_a_clear_error() {
    let instance = instance().await;
    let gateway = Gateway::start(gateway_config(&instance, json!({}))).await;

    let update = with_callback_url(event("gen2_incident_updated"), "http://127.0.0.1:9/cb");
    assert_eq!(gateway.send_event("acme", &update).await.status, 200);
    let failed = "SELECT COUNT(*) FROM plugin_runs WHERE plugin = 'servicenow' AND outcome = 'error' \
                  AND error LIKE '%no ServiceNow incident is known for Soda incident b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43%'";
    wait_until("the plugin's error is stored", SOON, async || {
        gateway.count(failed).await == 1
    })
    .await;
    assert!(instance.requests().is_empty(), "{:?}", instance.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_creation_links_nothing_and_names_the_answer() {
    let (instance, soda) = (FakeDownstream::start().await, FakeDownstream::start().await);
    instance.set_status(400);
    instance.set_reply_body(r#"{"error":{"message":"Invalid caller"},"status":"failure"}"#);
    let gateway = Gateway::start(gateway_config(&instance, json!({}))).await;

    let created = with_callback_url(event("gen2_incident_created"), &soda.url("/link/cb"));
    assert_eq!(gateway.send_event("acme", &created).await.status, 200);
    let failed = "SELECT COUNT(*) FROM plugin_runs WHERE phase = 'on_response' AND outcome = 'error' \
                  AND error LIKE '%ServiceNow did not create the incident: HTTP 400: {\"error\":{\"message\":\"Invalid caller\"}%'";
    wait_until("the failed creation is reported", SOON, async || {
        gateway.count(failed).await == 1
    })
    .await;
    gateway.wait_until_settled().await;
    assert_eq!(instance.requests().len(), 1, "a 400 is not retried");
    assert!(soda.requests().is_empty(), "no link: {:?}", soda.requests());
}
