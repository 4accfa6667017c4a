//! Native unit tests for the ServiceNow plugin (`cargo test -p servicenow`).

use serde_json::{json, Value};
use soda_gateway_plugin_sdk::{
    state, testing, Action, CheckResult, Context, Event, EventKind, HttpMethod, HttpRequest,
    HttpResponse, Incident, IncidentStatus, Link, Outcome, Plugin, Severity, User,
};

use crate::config::{Config, DEFAULT_CLOSE_CODE};
use crate::{api, record, ServiceNow};

const CONFIG: &str = r#"{"instance_url": "https://acme.service-now.com/", "authorization": "Basic {{secret:snow_auth}}"}"#;

fn config() -> Config {
    Config::parse(CONFIG).unwrap()
}

fn context() -> Context {
    testing::context(CONFIG)
}

fn incident() -> Incident {
    Incident {
        number: Some(42),
        title: Some("Orders\nmissing".into()),
        description: Some("Nightly load did not arrive".into()),
        severity_raw: Some("major".into()),
        status_raw: Some("opened".into()),
        lead: Some(User {
            id: Some("u1".into()),
            ..testing::user("lead@example.com")
        }),
        check_results: vec![CheckResult {
            id: Some("c1".into()),
            soda_cloud_url: Some("https://cloud.soda.io/checks/c1".into()),
            datasets: vec![testing::dataset("orders")],
            ..testing::check_result("row_count > 0", Outcome::Fail)
        }],
        ..testing::incident(Severity::High, IncidentStatus::Reported)
    }
}

fn event(kind: EventKind, callback: Option<&str>) -> Event {
    Event {
        incident_link_callback_url: callback.map(Into::into),
        ..testing::event(kind)
    }
}

fn created_response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
        continuation: api::CREATED.into(),
    }
}

/// The one HTTP action in `actions`, with its body as JSON.
fn only_http(actions: Vec<Action>) -> (HttpRequest, Value) {
    let [Action::Http(request)] = <[Action; 1]>::try_from(actions).expect("one action") else {
        panic!("not an HTTP action");
    };
    let body = serde_json::from_slice(request.body.as_deref().unwrap()).unwrap();
    (request, body)
}

#[test]
fn config_requires_instance_and_authorization() {
    let config = config();
    assert_eq!(config.instance_url, "https://acme.service-now.com");
    assert_eq!(config.close_code, DEFAULT_CLOSE_CODE);
    assert_eq!((config.assignment_group, config.caller_id), (None, None));

    let missing = Config::parse(r#"{"instance_url": "https://x"}"#).unwrap_err();
    assert!(
        missing.message().contains("missing field `authorization`"),
        "{missing}"
    );
    let empty = Config::parse(r#"{"instance_url": " ", "authorization": "a"}"#).unwrap_err();
    assert!(
        empty.message().contains("`instance_url` must not be empty"),
        "{empty}"
    );
    let unknown =
        Config::parse(r#"{"instance_url": "https://x", "authorization": "a", "urgency": 1}"#)
            .unwrap_err();
    assert!(
        unknown.message().contains("unknown field `urgency`"),
        "{unknown}"
    );
}

#[test]
fn severities_map_to_impact_and_urgency() {
    assert_eq!(record::impact_urgency(Severity::Critical), ("1", "1"));
    assert_eq!(record::impact_urgency(Severity::High), ("1", "2"));
    assert_eq!(record::impact_urgency(Severity::Medium), ("2", "2"));
    assert_eq!(record::impact_urgency(Severity::Low), ("2", "3"));
    assert_eq!(record::impact_urgency(Severity::Other), ("2", "2"));
}

#[test]
fn create_body_describes_the_incident() {
    let body = record::create(&config(), &incident(), "inc-1");
    assert_eq!(
        body,
        json!({
            "short_description": "Soda incident #42: Orders missing",
            "description": "Nightly load did not arrive\n\nSeverity: high\nStatus: reported\nLead: lead@example.com\n\nChecks:\n- row_count > 0 (fail, orders): https://cloud.soda.io/checks/c1\n\nOpen in Soda: https://cloud.soda.io/incidents/inc-1",
            "correlation_id": "inc-1",
            "impact": "1",
            "urgency": "2",
        })
    );
}

#[test]
fn create_body_carries_the_optional_assignment() {
    let config = Config::parse(
        r#"{"instance_url": "https://x", "authorization": "a", "assignment_group": "Data", "caller_id": "soda.bot"}"#,
    )
    .unwrap();
    let mut incident = incident();
    incident.title = Some("t".repeat(300));
    let body = record::create(&config, &incident, "inc-1");
    assert_eq!(body["assignment_group"], "Data");
    assert_eq!(body["caller_id"], "soda.bot");
    let short = body["short_description"].as_str().unwrap();
    assert_eq!(short.chars().count(), record::SHORT_DESCRIPTION_MAX);
    assert!(short.ends_with('…'));
}

#[test]
fn resolve_and_work_note_bodies() {
    let mut incident = incident();
    assert_eq!(
        record::resolve(&config(), &incident),
        json!({ "state": "6", "close_code": DEFAULT_CLOSE_CODE, "close_notes": "Resolved in Soda." })
    );
    incident.resolution_notes = Some("Fixed the loader".into());
    assert_eq!(
        record::resolve(&config(), &incident)["close_notes"],
        "Fixed the loader"
    );

    incident.status = IncidentStatus::Investigating;
    assert_eq!(
        record::work_note(&incident),
        json!({ "work_notes": "Soda incident #42 updated: status investigating, severity high.\nOpen in Soda: https://cloud.soda.io/incidents/inc-1" })
    );
}

#[test]
fn requests_carry_json_and_authorization() {
    let (request, body) = only_http(vec![api::create(&config(), &json!({"a": 1})).unwrap()]);
    assert!(matches!(request.method, HttpMethod::Post));
    assert_eq!(
        request.url,
        "https://acme.service-now.com/api/now/table/incident"
    );
    assert_eq!(
        request.headers,
        [
            ("accept", "application/json"),
            ("content-type", "application/json"),
            ("authorization", "Basic {{secret:snow_auth}}"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(body, json!({"a": 1}));
    assert_eq!(request.continuation.as_deref(), Some(api::CREATED));

    let (request, _) = only_http(vec![api::update(&config(), "abc123", &json!({})).unwrap()]);
    assert!(matches!(request.method, HttpMethod::Patch));
    assert_eq!(
        request.url,
        "https://acme.service-now.com/api/now/table/incident/abc123"
    );
    assert_eq!(request.continuation, None);
    assert_eq!(
        api::incident_url(&config(), "abc123"),
        "https://acme.service-now.com/nav_to.do?uri=incident.do?sys_id=abc123"
    );
}

#[test]
fn created_answers_are_read_or_named() {
    let created = api::parse_created(&created_response(
        201,
        r#"{"result":{"sys_id":"9d385017c611228701d22104cc95c371","number":"INC0010001","state":"1"}}"#,
    ))
    .unwrap();
    assert_eq!(created.sys_id, "9d385017c611228701d22104cc95c371");
    assert_eq!(created.number, "INC0010001");

    let denied = api::parse_created(&created_response(
        401,
        r#"{"error":{"message":"User Not Authenticated"}}"#,
    ))
    .unwrap_err();
    assert!(
        denied.message().contains("HTTP 401: {\"error\""),
        "{denied}"
    );
    let silent = api::parse_created(&created_response(0, "")).unwrap_err();
    assert!(silent.message().contains("no response came"), "{silent}");
    let odd = api::parse_created(&created_response(201, r#"{"result":{}}"#)).unwrap_err();
    assert!(odd.message().contains("missing field `sys_id`"), "{odd}");
    let hostile = api::parse_created(&created_response(
        201,
        r#"{"result":{"sys_id":"../x","number":"1"}}"#,
    ))
    .unwrap_err();
    assert!(hostile.message().contains("unexpected sys_id"), "{hostile}");
}

#[test]
fn created_incident_is_linked_remembered_and_resolved() {
    let created = event(
        EventKind::IncidentCreated(incident()),
        Some("https://cloud.soda.io/cb"),
    );
    let (request, body) = only_http(ServiceNow::handle(&created, &context()).unwrap());
    assert_eq!(
        request.url,
        "https://acme.service-now.com/api/now/table/incident"
    );
    assert_eq!(body["correlation_id"], "inc-1");

    let answer = created_response(
        201,
        r#"{"result":{"sys_id":"abc123","number":"INC0010001"}}"#,
    );
    let actions = ServiceNow::on_response(&created, &answer, &context()).unwrap();
    let [Action::IncidentLinkCallback(Link { url, text })] = actions.as_slice() else {
        panic!("one link callback: {actions:?}");
    };
    assert_eq!(
        url,
        "https://acme.service-now.com/nav_to.do?uri=incident.do?sys_id=abc123"
    );
    assert_eq!(text, "INC0010001");
    assert_eq!(
        state::get_string("incident:inc-1").as_deref(),
        Some("abc123")
    );

    let mut resolved = incident();
    resolved.status = IncidentStatus::Resolved;
    let update = event(EventKind::IncidentUpdated(resolved), None);
    let (request, body) = only_http(ServiceNow::handle(&update, &context()).unwrap());
    assert!(matches!(request.method, HttpMethod::Patch));
    assert_eq!(
        request.url,
        "https://acme.service-now.com/api/now/table/incident/abc123"
    );
    assert_eq!(body["state"], "6");
}

#[test]
fn without_a_callback_url_the_sys_id_is_still_remembered() {
    let created = event(EventKind::IncidentCreated(incident()), None);
    let answer = created_response(
        201,
        r#"{"result":{"sys_id":"def456","number":"INC0010002"}}"#,
    );
    let actions = ServiceNow::on_response(&created, &answer, &context()).unwrap();
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(
        state::get_string("incident:inc-1").as_deref(),
        Some("def456")
    );
}

#[test]
fn an_update_without_a_known_incident_is_an_error() {
    let update = event(EventKind::IncidentUpdated(incident()), None);
    let error = ServiceNow::handle(&update, &context()).unwrap_err();
    assert!(
        error
            .message()
            .contains("no ServiceNow incident is known for Soda incident inc-1"),
        "{error}"
    );
}

#[test]
fn other_events_are_ignored() {
    let evaluation = event(EventKind::CheckEvaluation(incident().check_results), None);
    assert!(ServiceNow::handle(&evaluation, &context())
        .unwrap()
        .is_empty());
}
