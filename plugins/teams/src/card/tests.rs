//! Unit tests for the Teams card builders (run natively with `cargo test -p teams`).

use serde_json::json;
use soda_gateway_plugin_sdk::{
    testing, Agreement, CheckResult, Dataset, Incident, IncidentStatus, Outcome, Severity, User,
};

use super::*;

fn result(name: &str, outcome: Outcome) -> CheckResult {
    CheckResult {
        datasets: vec![Dataset {
            datasource: Some(testing::datasource("postgres_prod")),
            ..testing::dataset("orders")
        }],
        ..testing::check_result(name, outcome)
    }
}

fn incident() -> Incident {
    Incident {
        number: Some(42),
        title: Some("Orders missing".into()),
        description: Some("Nightly load did not arrive".into()),
        severity_raw: Some("minor".into()),
        status_raw: Some("opened".into()),
        reporter: Some(User {
            id: Some("u1".into()),
            ..testing::user("reporter@example.com")
        }),
        check_results: vec![result("a", Outcome::Fail), result("b", Outcome::Pass)],
        ..testing::incident(Severity::Low, IncidentStatus::Reported)
    }
}

#[test]
fn nothing_alerting_means_no_card() {
    let results = [result("a", Outcome::Pass), result("b", Outcome::Warn)];
    assert!(check_evaluation(&results[..1], true).is_none());
    assert!(check_evaluation(&results, false).is_none());
    assert!(check_evaluation(&results, true).is_some());
}

#[test]
fn a_failing_result_gets_its_facts_and_a_button() {
    let mut failing = result("rows", Outcome::Fail);
    failing.column = Some("id".into());
    failing.data_timestamp = Some("2025-06-05T13:00:00Z".into());
    failing.agreement = Some(Agreement {
        id: Some("ag".into()),
        soda_cloud_url: None,
        label: Some("Orders contract".into()),
        approval_state: None,
        evaluation_result: None,
    });
    let card = check_evaluation(&[failing, result("ok", Outcome::Pass)], true).unwrap();
    assert_eq!(
        card,
        json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.2",
            "body": [
                { "type": "TextBlock", "text": "Soda: 1 check failed", "size": "Medium", "weight": "Bolder", "color": "attention", "wrap": true },
                {
                    "type": "Container",
                    "separator": true,
                    "items": [
                        { "type": "TextBlock", "text": "rows", "weight": "Bolder", "wrap": true },
                        { "type": "FactSet", "facts": [
                            { "title": "Outcome", "value": "fail" },
                            { "title": "Dataset", "value": "orders" },
                            { "title": "Data source", "value": "postgres_prod" },
                            { "title": "Column", "value": "id" },
                            { "title": "Agreement", "value": "Orders contract" },
                            { "title": "Data timestamp", "value": "2025-06-05T13:00:00Z" },
                        ] },
                        { "type": "ActionSet", "actions": [
                            { "type": "Action.OpenUrl", "title": "Open in Soda", "url": "https://cloud.soda.io/checks/rows" },
                        ] },
                    ],
                },
            ],
        })
    );
}

#[test]
fn warnings_only_are_coloured_as_warnings() {
    let card = check_evaluation(
        &[result("a", Outcome::Warn), result("b", Outcome::Warn)],
        true,
    )
    .unwrap();
    assert_eq!(card["body"][0]["text"], "Soda: 2 checks warned");
    assert_eq!(card["body"][0]["color"], "warning");
}

#[test]
fn many_results_are_capped_and_counted() {
    let results: Vec<CheckResult> = (0..MAX_RESULTS + 3)
        .map(|i| result(&format!("c{i}"), Outcome::Fail))
        .collect();
    let card = check_evaluation(&results, true).unwrap();
    let body = card["body"].as_array().unwrap();
    assert_eq!(body.len(), 1 + MAX_RESULTS + 1);
    assert_eq!(body[0]["text"], "Soda: 13 checks failed");
    assert_eq!(body[MAX_RESULTS + 1]["text"], "…and 3 more alerting checks");
}

#[test]
fn an_incident_card_has_facts_and_opens_in_soda() {
    assert_eq!(
        incident_created(&incident()),
        json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.2",
            "body": [
                { "type": "TextBlock", "text": "Soda incident #42: Orders missing", "size": "Medium", "weight": "Bolder", "color": "warning", "wrap": true },
                { "type": "TextBlock", "text": "Nightly load did not arrive", "wrap": true },
                { "type": "FactSet", "facts": [
                    { "title": "Severity", "value": "low" },
                    { "title": "Status", "value": "reported" },
                    { "title": "Reporter", "value": "reporter@example.com" },
                    { "title": "Dataset", "value": "orders" },
                    { "title": "Data source", "value": "postgres_prod" },
                    { "title": "Checks", "value": "a (fail), b (pass)" },
                ] },
            ],
            "actions": [
                { "type": "Action.OpenUrl", "title": "Open in Soda", "url": "https://cloud.soda.io/incidents/inc-1" },
            ],
        })
    );
}

#[test]
fn long_titles_are_cut_and_odd_urls_get_no_button() {
    let mut incident = incident();
    incident.title = Some("x".repeat(1000));
    incident.soda_cloud_url = Some("javascript:alert(1)".into());
    let card = incident_created(&incident);
    let title = card["body"][0]["text"].as_str().unwrap();
    assert_eq!(title.chars().count(), 300);
    assert!(title.ends_with('…'));
    assert!(card.get("actions").is_none(), "{card}");
}

#[test]
fn the_message_wraps_the_card() {
    assert_eq!(
        message(json!({"type": "AdaptiveCard"})),
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": { "type": "AdaptiveCard" },
            }],
        })
    );
}
