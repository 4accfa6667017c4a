//! Unit tests for the Events API v2 body builders.

use serde_json::json;
use soda_gateway_plugin_sdk::{IncidentStatus, Outcome, Severity};

use soda_gateway_plugin_sdk::testing::{
    sample_check_result as result, sample_incident as incident,
};

use super::*;
use crate::tests::config;

#[test]
fn check_trigger_has_the_full_shape() {
    let body = trigger_check(&config(), &result("c1", Outcome::Fail), "soda-check-c1");
    assert_eq!(
        body,
        json!({
            "routing_key": "{{secret:pd}}",
            "event_action": "trigger",
            "dedup_key": "soda-check-c1",
            "payload": {
                "summary": "Soda check failed: Check c1 on orders",
                "source": "Soda Cloud",
                "severity": "error",
                "component": "orders",
                "group": "postgres_prod",
                "class": "soda-check",
                "custom_details": {
                    "check": "Check c1",
                    "check_id": "c1",
                    "outcome": "fail",
                    "definition": "checks for orders:\n  - row_count > 0",
                    "dataset": "orders",
                    "datasource": "postgres_prod",
                    "column": "customer_id",
                    "data_timestamp": "2025-06-05T13:00:00Z",
                    "diagnostics": { "value": 42.0 },
                },
            },
            "links": [
                { "href": "https://cloud.soda.io/checks/c1", "text": "Check in Soda Cloud" },
                { "href": "https://cloud.soda.io/datasets/ds-1", "text": "Dataset orders in Soda Cloud" },
            ],
        })
    );
}

#[test]
fn incident_trigger_has_the_full_shape() {
    let incident = incident(Severity::High, IncidentStatus::Reported);
    let body = trigger_incident(&config(), &incident, "soda-incident-inc-1");
    assert_eq!(
        body,
        json!({
            "routing_key": "{{secret:pd}}",
            "event_action": "trigger",
            "dedup_key": "soda-incident-inc-1",
            "payload": {
                "summary": "Soda Incident #412: Missing customer ids",
                "source": "Soda Cloud",
                "severity": "error",
                "component": "orders",
                "group": "postgres_prod",
                "class": "soda-incident",
                "custom_details": {
                    "incident_id": "inc-1",
                    "number": 412,
                    "title": "Missing customer ids",
                    "description": "42 orders without a customer id.",
                    "severity": "high",
                    "status": "reported",
                    "reporter": "maria@example.com",
                    "created": "2025-06-05T13:07:12Z",
                    "checks": ["Check c1 (fail)"],
                },
            },
            "links": [
                { "href": "https://cloud.soda.io/incidents/inc-1", "text": "Incident #412 in Soda Cloud" },
                { "href": "https://cloud.soda.io/checks/c1", "text": "Check: Check c1" },
            ],
        })
    );
}

#[test]
fn resolve_carries_only_the_key() {
    assert_eq!(
        resolve(&config(), "soda-incident-inc-1"),
        json!({
            "routing_key": "{{secret:pd}}",
            "event_action": "resolve",
            "dedup_key": "soda-incident-inc-1",
        })
    );
}

#[test]
fn severities_map_to_pagerduty_levels() {
    let mapped: Vec<&str> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Other,
    ]
    .into_iter()
    .map(incident_severity)
    .collect();
    assert_eq!(mapped, ["critical", "error", "warning", "info", "error"]);
    assert_eq!(check_severity(Outcome::Fail), "error");
    assert_eq!(check_severity(Outcome::Warn), "warning");
}

#[test]
fn warning_checks_say_so_and_multiline_names_become_one_line() {
    let mut warning = result("c1", Outcome::Warn);
    warning.name = None;
    let body = trigger_check(&config(), &warning, "k");
    assert_eq!(body["payload"]["severity"], "warning");
    assert_eq!(
        body["payload"]["summary"],
        "Soda check warned: checks for orders: - row_count > 0 on orders"
    );
}

#[test]
fn long_texts_are_cut_to_the_limits() {
    let mut long = result("c1", Outcome::Fail);
    long.name = Some("n".repeat(2000));
    long.definition = Some("d".repeat(10_000));
    let body = trigger_check(&config(), &long, "k");
    let summary = body["payload"]["summary"].as_str().unwrap();
    assert_eq!(summary.chars().count(), MAX_SUMMARY_CHARS);
    assert!(summary.ends_with('…'));
    let definition = body["payload"]["custom_details"]["definition"]
        .as_str()
        .unwrap();
    assert_eq!(definition.chars().count(), MAX_DETAIL_CHARS);
}

#[test]
fn dedup_keys_are_stable_and_bounded() {
    assert_eq!(
        check_dedup_key(&result("c1", Outcome::Fail)),
        "soda-check-c1"
    );
    let mut nameless = result("c1", Outcome::Fail);
    nameless.id = None;
    assert_eq!(check_dedup_key(&nameless), "soda-check-Check c1");
    let mut long = result(&"x".repeat(400), Outcome::Fail);
    assert_eq!(check_dedup_key(&long).len(), MAX_DEDUP_KEY_BYTES);
    long.id = Some("é".repeat(200));
    assert!(check_dedup_key(&long).len() <= MAX_DEDUP_KEY_BYTES);

    let mut incident = incident(Severity::Low, IncidentStatus::Resolved);
    assert_eq!(
        incident_dedup_key(&incident).as_deref(),
        Some("soda-incident-inc-1")
    );
    incident.id = None;
    assert_eq!(
        incident_dedup_key(&incident).as_deref(),
        Some("soda-incident-412")
    );
    incident.number = None;
    assert_eq!(incident_dedup_key(&incident), None);
}

#[test]
fn links_skip_missing_and_non_web_urls() {
    let mut bare = result("c1", Outcome::Fail);
    bare.soda_cloud_url = Some("javascript:alert(1)".into());
    bare.datasets[0].soda_cloud_url = None;
    let body = trigger_check(&config(), &bare, "k");
    assert!(body.get("links").is_none(), "{body}");
}
