//! Unit tests for the issue fields (run natively with `cargo test -p jira`).

use super::*;
use soda_gateway_plugin_sdk::{testing, IncidentStatus, Outcome, Severity};

fn config(extra: &str) -> Config {
    Config::parse(&format!(
        r#"{{"base_url": "https://acme.atlassian.net", "project_key": "DATA",
            "authorization": "Basic x"{extra}}}"#
    ))
    .unwrap()
}

fn check() -> CheckResult {
    CheckResult {
        id: Some("c1".into()),
        soda_cloud_url: Some("https://cloud.soda.io/checks/c1".into()),
        datasets: vec![testing::dataset("orders")],
        ..testing::check_result("No missing customer ids", Outcome::Fail)
    }
}

fn incident() -> Incident {
    Incident {
        number: Some(412),
        title: Some("Missing customer ids".into()),
        description: Some("42 orders\nwithout a customer id.".into()),
        severity_raw: Some("major".into()),
        status_raw: Some("opened".into()),
        check_results: vec![check()],
        ..testing::incident(Severity::High, IncidentStatus::Reported)
    }
}

#[test]
fn the_create_body_has_every_field() {
    let body = create_body(&config(""), &incident());
    let expected = json!({ "fields": {
        "project": { "key": "DATA" },
        "issuetype": { "name": "Bug" },
        "summary": "Soda incident #412: Missing customer ids",
        "priority": { "name": "High" },
        "description": { "type": "doc", "version": 1, "content": [
            { "type": "paragraph", "content": [{ "type": "text", "text": "42 orders" }] },
            { "type": "paragraph", "content": [{ "type": "text", "text": "without a customer id." }] },
            { "type": "paragraph", "content": [
                { "type": "text", "text": "Severity: high. " },
                { "type": "text", "text": "View the incident in Soda", "marks": [
                    { "type": "link", "attrs": { "href": "https://cloud.soda.io/incidents/inc-1" } }
                ] },
            ] },
            { "type": "paragraph", "content": [{ "type": "text", "text": "Checks:" }] },
            { "type": "bulletList", "content": [{ "type": "listItem", "content": [
                { "type": "paragraph", "content": [
                    { "type": "text", "text": "No missing customer ids", "marks": [
                        { "type": "link", "attrs": { "href": "https://cloud.soda.io/checks/c1" } }
                    ] },
                    { "type": "text", "text": " (fail) on orders" },
                ] },
            ] }] },
        ] },
    } });
    assert_eq!(body, expected);
}

#[test]
fn configured_issue_type_and_labels_are_used_and_an_unmapped_severity_sets_no_priority() {
    let config = config(
        r#", "issue_type": "Incident", "labels": ["soda", "data-quality"], "priorities": {}"#,
    );
    let fields = &create_body(&config, &incident())["fields"];
    assert_eq!(fields["issuetype"], json!({ "name": "Incident" }));
    assert_eq!(fields["labels"], json!(["soda", "data-quality"]));
    assert!(fields.get("priority").is_none(), "{fields}");
}

#[test]
fn no_labels_configured_sends_no_labels_field() {
    let fields = &create_body(&config(""), &incident())["fields"];
    assert!(fields.get("labels").is_none(), "{fields}");
}

#[test]
fn a_bare_incident_still_gets_a_summary_and_a_valid_description() {
    let bare = Incident {
        number: None,
        title: None,
        description: None,
        soda_cloud_url: None,
        check_results: Vec::new(),
        ..incident()
    };
    assert_eq!(summary(&bare), "Soda incident");
    assert_eq!(
        description(&bare),
        json!({ "type": "doc", "version": 1, "content": [
            { "type": "paragraph", "content": [{ "type": "text", "text": "Severity: high. " }] },
        ] })
    );
}

#[test]
fn the_summary_is_one_line_within_jira_s_limit() {
    let long = Incident {
        title: Some(format!("Broken\nload {}", "é".repeat(300))),
        ..incident()
    };
    let summary = summary(&long);
    assert!(
        summary.starts_with("Soda incident #412: Broken load éé"),
        "{summary}"
    );
    assert_eq!(summary.chars().count(), MAX_SUMMARY_CHARS);
    assert!(summary.ends_with('…'));
}

#[test]
fn a_check_named_by_its_multi_line_definition_is_listed_on_one_line() {
    let unnamed = CheckResult {
        name: None,
        definition: Some("checks for orders:\n  row_count > 0".to_string()),
        soda_cloud_url: None,
        ..check()
    };
    assert_eq!(
        check_item(&unnamed),
        vec![
            adf::text("checks for orders: row_count > 0"),
            adf::text(" (fail) on orders")
        ]
    );
}
