//! Unit tests for the whole plugin call, natively: which requests, with which bodies.

use serde_json::{json, Value};
use soda_gateway_plugin_sdk::{testing, Action, Event, HttpMethod, HttpRequest, Outcome, Plugin};

use crate::fixtures::{check_evaluation, contract_published, dataset, incident_created, result};
use crate::Forward;

fn handle(event: &Event, config: Value) -> Vec<HttpRequest> {
    let ctx = testing::context(config.to_string());
    Forward::handle(event, &ctx)
        .unwrap()
        .into_iter()
        .map(|action| match action {
            Action::Http(request) => request,
            other => panic!("not an HTTP action: {other:?}"),
        })
        .collect()
}

fn body(request: &HttpRequest) -> Value {
    serde_json::from_slice(request.body.as_deref().expect("a body")).unwrap()
}

/// `fail` on `orders` then `pass` on `bnm_orders`.
fn evaluation() -> Event {
    check_evaluation(vec![
        result(
            "missing ids",
            Outcome::Fail,
            "fail",
            vec![dataset("orders", "postgres_prod", &[])],
        ),
        result(
            "row count",
            Outcome::Pass,
            "pass",
            vec![dataset("bnm_orders", "sodaspark", &[])],
        ),
    ])
}

#[test]
fn the_raw_event_is_posted_as_received_to_every_matching_route() {
    let event = evaluation();
    let requests = handle(
        &event,
        json!({"routes": [
            {"url": "https://a.test/all"},
            {"url": "https://b.test/incidents", "event_types": ["incidentCreated"]},
            {"url": "https://c.test/failures", "outcomes": ["fail"], "headers": {"x-team": "data"}},
        ]}),
    );
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].url, "https://a.test/all");
    assert_eq!(requests[0].method, HttpMethod::Post);
    assert_eq!(
        requests[0].headers,
        [("content-type".to_string(), "application/json".to_string())]
    );
    assert_eq!(requests[0].body.as_deref(), Some(event.raw_json.as_bytes()));
    assert_eq!(requests[0].continuation, None);
    assert_eq!(requests[1].url, "https://c.test/failures");
    assert_eq!(
        requests[1].headers,
        [
            ("content-type".to_string(), "application/json".to_string()),
            ("x-team".to_string(), "data".to_string()),
        ]
    );
    assert_eq!(
        requests[1].body.as_deref(),
        Some(event.raw_json.as_bytes()),
        "the whole event, the passing result included"
    );
}

#[test]
fn a_route_sends_one_request_per_event_with_the_matching_results() {
    let requests = handle(
        &evaluation(),
        json!({"routes": [{
            "url": "https://a.test/",
            "datasets": ["*orders"],
            "template": {"first": "{{check.name}}", "checks": "{{checks}}"},
        }]}),
    );
    assert_eq!(requests.len(), 1);
    let body = body(&requests[0]);
    assert_eq!(body["first"], "missing ids");
    let names: Vec<&Value> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, [&json!("missing ids"), &json!("row count")]);

    let passing_only = handle(
        &evaluation(),
        json!({"routes": [{"url": "https://a.test/", "outcomes": ["pass"], "template": {"first": "{{check.name}}", "checks": "{{checks}}"}}]}),
    );
    let body = super::tests::body(&passing_only[0]);
    assert_eq!(body["first"], "row count");
    assert_eq!(body["checks"].as_array().unwrap().len(), 1);
}

#[test]
fn templates_see_the_matching_check_its_dataset_and_the_event() {
    let requests = handle(
        &evaluation(),
        json!({"routes": [{
            "url": "https://a.test/",
            "datasources": ["sodaspark"],
            "template": {
                "type": "{{event.type}}",
                "id": "{{event.id}}",
                "summary": "{{check.name}} is {{check.outcome}} on {{dataset.label}} in {{datasource.name}}",
                "check": ["{{check.id}}", "{{check.column}}", "{{check.url}}", "{{check.data_timestamp}}", "{{check.definition}}"],
                "dataset": ["{{dataset.id}}", "{{dataset.name}}", "{{dataset.url}}", "{{datasource.label}}"],
                "incident": "{{incident.title}}",
            },
        }]}),
    );
    assert_eq!(
        body(&requests[0]),
        json!({
            "type": "checkEvaluation",
            "id": "evt-1",
            "summary": "row count is pass on BNM_ORDERS in sodaspark",
            "check": ["row count-id", "customer_id", "https://cloud.soda.io/checks/row count", "2025-06-05T13:00:00Z", null],
            "dataset": ["bnm_orders-id", "bnm_orders", "https://cloud.soda.io/datasets/bnm_orders", "sodaspark label"],
            "incident": null,
        })
    );
}

#[test]
fn templates_see_incidents_normalised_and_contracts() {
    let incident = incident_created(vec![result(
        "missing ids",
        Outcome::Fail,
        "fail",
        vec![dataset("orders", "pg", &[])],
    )]);
    let requests = handle(
        &incident,
        json!({"routes": [{"url": "https://a.test/", "template": {
            "text": "#{{incident.number}} {{incident.title}} ({{incident.severity}}, {{incident.status}})",
            "number": "{{incident.number}}",
            "id": "{{incident.id}}",
            "check": "{{check.name}}",
        }}]}),
    );
    assert_eq!(
        body(&requests[0]),
        json!({"text": "#7 Late \"orders\" (high, reported)", "number": 7, "id": "inc-7", "check": "missing ids"})
    );

    let contract = contract_published("pg/public/orders", "pg");
    let requests = handle(
        &contract,
        json!({"routes": [{"url": "https://a.test/", "template": {"d": "{{dataset.name}}", "s": "{{datasource.name}}", "c": "{{check.name}}", "all": "{{checks}}"}}]}),
    );
    assert_eq!(
        body(&requests[0]),
        json!({"d": "pg/public/orders", "s": "pg", "c": null, "all": []})
    );
}

#[test]
fn methods_and_a_configured_content_type_are_honoured() {
    let requests = handle(
        &evaluation(),
        json!({"routes": [
            {"url": "https://a.test/ping", "method": "GET"},
            {"url": "https://a.test/put", "method": "PUT", "headers": {"Content-Type": "application/cloudevents+json"}},
        ]}),
    );
    assert_eq!(requests[0].method, HttpMethod::Get);
    assert_eq!(requests[0].body, None, "GET has no body");
    assert_eq!(requests[1].method, HttpMethod::Put);
    assert_eq!(
        requests[1].headers,
        [(
            "Content-Type".to_string(),
            "application/cloudevents+json".to_string()
        )]
    );
}

#[test]
fn secret_placeholders_in_the_event_are_escaped_in_a_raw_body() {
    let event = check_evaluation(vec![result(
        "{{secret:token}}",
        Outcome::Fail,
        "fail",
        Vec::new(),
    )]);
    let requests = handle(&event, json!({"routes": [{"url": "https://a.test/"}]}));
    let sent = std::str::from_utf8(requests[0].body.as_deref().unwrap()).unwrap();
    assert!(!sent.contains("{{secret:"), "{sent}");
    assert_eq!(
        body(&requests[0]),
        serde_json::from_str::<Value>(&event.raw_json).unwrap()
    );
}

#[test]
fn an_invalid_config_is_an_error() {
    let ctx = testing::context(r#"{"routes": [{"url": ""}]}"#);
    let error = Forward::handle(&evaluation(), &ctx).unwrap_err();
    assert_eq!(
        error.message(),
        "invalid forward plugin config: routes[0].url must not be empty"
    );
}
