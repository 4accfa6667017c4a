//! Unit tests for the Alert API request builders.

use serde_json::json;
use soda_gateway_plugin_sdk::{IncidentStatus, Outcome, Severity};

use soda_gateway_plugin_sdk::testing::{
    sample_check_result as result, sample_incident as incident,
};

use super::*;
use crate::tests::config;

#[test]
fn check_alert_has_the_full_shape() {
    let request = create_check(&config(), &result("c1", Outcome::Fail), "soda-check-c1");
    assert_eq!(request.path, "/v2/alerts");
    assert_eq!(
        request.body,
        json!({
            "message": "Soda check failed: Check c1 on orders",
            "alias": "soda-check-c1",
            "description": "Soda check failed: Check c1 on orders\n\n\
                            Definition:\nchecks for orders:\n  - row_count > 0\n\n\
                            Diagnostics: {\"value\":42.0}\n\n\
                            Open in Soda Cloud: https://cloud.soda.io/checks/c1",
            "priority": "P3",
            "tags": ["soda", "soda-check", "fail", "sales", "data"],
            "details": {
                "check": "Check c1",
                "check_id": "c1",
                "outcome": "fail",
                "dataset": "orders",
                "datasource": "postgres_prod",
                "column": "customer_id",
                "data_timestamp": "2025-06-05T13:00:00Z",
                "soda_cloud_url": "https://cloud.soda.io/checks/c1",
            },
            "source": "Soda Cloud",
            "entity": "orders",
        })
    );
}

#[test]
fn incident_alert_has_the_full_shape() {
    let incident = incident(Severity::Critical, IncidentStatus::Reported);
    let request = create_incident(&config(), &incident, "soda-incident-inc-1");
    assert_eq!(request.path, "/v2/alerts");
    assert_eq!(
        request.body,
        json!({
            "message": "Soda Incident #412: Missing customer ids",
            "alias": "soda-incident-inc-1",
            "description": "Soda Incident #412: Missing customer ids\n\n\
                            42 orders without a customer id.\n\n\
                            Checks:\n- Check c1 (fail): https://cloud.soda.io/checks/c1\n\n\
                            Open in Soda Cloud: https://cloud.soda.io/incidents/inc-1",
            "priority": "P1",
            "tags": ["soda", "soda-incident", "critical", "data"],
            "details": {
                "incident_id": "inc-1",
                "number": "412",
                "severity": "critical",
                "status": "reported",
                "reporter": "maria@example.com",
                "created": "2025-06-05T13:07:12Z",
                "soda_cloud_url": "https://cloud.soda.io/incidents/inc-1",
            },
            "source": "Soda Cloud",
            "entity": "orders",
        })
    );
}

#[test]
fn close_escapes_the_alias_in_the_path() {
    let request = close(&config(), "soda-check-id/with ***", "Soda check passed: x");
    assert_eq!(
        request,
        Request {
            path: "/v2/alerts/soda-check-id%2Fwith%20%2A%2A%2A/close?identifierType=alias".into(),
            body: json!({ "source": "Soda Cloud", "note": "Soda check passed: x" }),
        }
    );
}

#[test]
fn close_notes_carry_the_resolution() {
    let mut incident = incident(Severity::High, IncidentStatus::Resolved);
    assert_eq!(incident_resolved_note(&incident), "Resolved in Soda Cloud.");
    incident.resolution_notes = Some("Fixed the loader".into());
    assert_eq!(
        incident_resolved_note(&incident),
        "Resolved in Soda Cloud: Fixed the loader"
    );
    assert_eq!(
        check_passed_note(&result("c1", Outcome::Pass)),
        "Soda check passed: Check c1"
    );
}

#[test]
fn priorities_follow_severity_and_outcome() {
    let mapped: Vec<&str> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Other,
    ]
    .into_iter()
    .map(incident_priority)
    .collect();
    assert_eq!(mapped, ["P1", "P2", "P3", "P4", "P3"]);
    assert_eq!(check_priority(Outcome::Fail), "P3");
    assert_eq!(check_priority(Outcome::Warn), "P4");
}

#[test]
fn long_texts_are_cut_to_the_limits() {
    let mut long = result("c1", Outcome::Fail);
    long.name = Some("n".repeat(2000));
    long.definition = Some("d".repeat(20_000));
    long.datasets[0].tags = (0..30).map(|i| format!("{i}-{}", "t".repeat(60))).collect();
    let body = create_check(&config(), &long, "k").body;
    let message = body["message"].as_str().unwrap();
    assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
    assert!(message.ends_with('…'));
    let description = body["description"].as_str().unwrap();
    assert_eq!(description.chars().count(), MAX_DESCRIPTION_CHARS);
    assert_eq!(
        body["details"]["check"].as_str().unwrap().chars().count(),
        MAX_DETAIL_CHARS
    );
    let tags = body["tags"].as_array().unwrap();
    assert_eq!(tags.len(), MAX_TAGS);
    assert!(tags
        .iter()
        .all(|t| t.as_str().unwrap().chars().count() <= MAX_TAG_CHARS));
}

#[test]
fn aliases_are_stable_and_bounded() {
    assert_eq!(check_alias(&result("c1", Outcome::Fail)), "soda-check-c1");
    let mut nameless = result("c1", Outcome::Fail);
    nameless.id = None;
    assert_eq!(check_alias(&nameless), "soda-check-Check c1");
    // "soda-check-x" is 12 bytes; 121 two-byte characters fit in the 243 left.
    let long = result(&format!("x{}", "é".repeat(300)), Outcome::Fail);
    assert_eq!(check_alias(&long).len(), 254);

    let mut incident = incident(Severity::Low, IncidentStatus::Resolved);
    assert_eq!(
        incident_alias(&incident).as_deref(),
        Some("soda-incident-inc-1")
    );
    incident.id = None;
    assert_eq!(
        incident_alias(&incident).as_deref(),
        Some("soda-incident-412")
    );
    incident.number = None;
    assert_eq!(incident_alias(&incident), None);
}

#[test]
fn tags_are_deduplicated() {
    let mut config = config();
    config.tags = vec!["soda".into(), " ".into(), "team-data".into()];
    let body = create_check(&config, &result("c1", Outcome::Fail), "k").body;
    assert_eq!(
        body["tags"],
        json!(["soda", "soda-check", "fail", "sales", "team-data"])
    );
}

#[test]
fn path_segments_escape_everything_but_unreserved_characters() {
    assert_eq!(path_segment("soda-check-a.b_c~d"), "soda-check-a.b_c~d");
    assert_eq!(
        path_segment("id/with ***?é"),
        "id%2Fwith%20%2A%2A%2A%3F%C3%A9"
    );
}
