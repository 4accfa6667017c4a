//! Unit tests for which events the plugin sends, including the open-alert record.

use soda_gateway_plugin_sdk::{EventKind, IncidentStatus, Outcome, Severity};

use soda_gateway_plugin_sdk::testing::{
    event, sample_check_result as result, sample_incident as incident,
};

use super::config::DEFAULT_MAX_ALERTS;
use super::*;

/// The config the unit tests use unless they say otherwise.
pub(crate) fn config() -> Config {
    Config::parse(r#"{"routing_key": "{{secret:pd}}"}"#).unwrap()
}

fn actions(config: &Config, kind: EventKind) -> Vec<(String, String)> {
    enqueue_bodies(config, &event(kind))
        .into_iter()
        .map(|body| {
            (
                body["event_action"].as_str().unwrap().to_string(),
                body["dedup_key"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(action: &str, key: &str) -> (String, String) {
    (action.to_string(), key.to_string())
}

#[test]
fn failing_checks_trigger_and_resolve_once_they_pass() {
    let config = config();
    let evaluation = |outcomes: [Outcome; 2]| {
        EventKind::CheckEvaluation(vec![result("a", outcomes[0]), result("b", outcomes[1])])
    };
    assert_eq!(
        actions(&config, evaluation([Outcome::Fail, Outcome::Pass])),
        [pair("trigger", "soda-check-a")],
        "a passing check with no open alert sends nothing"
    );
    assert_eq!(
        actions(&config, evaluation([Outcome::Fail, Outcome::Fail])),
        [
            pair("trigger", "soda-check-a"),
            pair("trigger", "soda-check-b")
        ]
    );
    assert_eq!(
        actions(&config, evaluation([Outcome::Pass, Outcome::Pass])),
        [
            pair("resolve", "soda-check-a"),
            pair("resolve", "soda-check-b")
        ]
    );
    assert_eq!(
        actions(&config, evaluation([Outcome::Pass, Outcome::Pass])),
        [],
        "resolved once"
    );
}

#[test]
fn warnings_alert_only_when_configured() {
    let warn = || EventKind::CheckEvaluation(vec![result("w", Outcome::Warn)]);
    assert_eq!(actions(&config(), warn()), []);
    let mut config = config();
    config.alert_on_warn = true;
    assert_eq!(actions(&config, warn()), [pair("trigger", "soda-check-w")]);
}

#[test]
fn errors_and_unevaluated_checks_send_nothing() {
    let kind = EventKind::CheckEvaluation(vec![
        result("e", Outcome::Error),
        result("n", Outcome::NotEvaluated),
    ]);
    assert_eq!(actions(&config(), kind), []);
}

#[test]
fn resolve_on_pass_can_be_turned_off() {
    let mut config = config();
    config.resolve_on_pass = false;
    actions(
        &config,
        EventKind::CheckEvaluation(vec![result("a", Outcome::Fail)]),
    );
    let passed = EventKind::CheckEvaluation(vec![result("a", Outcome::Pass)]);
    assert_eq!(actions(&config, passed), []);
}

#[test]
fn incidents_trigger_when_created_and_resolve_when_resolved() {
    let config = config();
    let created = EventKind::IncidentCreated(incident(Severity::High, IncidentStatus::Reported));
    assert_eq!(
        actions(&config, created),
        [pair("trigger", "soda-incident-inc-1")]
    );
    let updated = EventKind::IncidentUpdated(incident(Severity::High, IncidentStatus::Fixing));
    assert_eq!(actions(&config, updated), [], "only resolution matters");
    let resolved = EventKind::IncidentUpdated(incident(Severity::High, IncidentStatus::Resolved));
    assert_eq!(
        actions(&config, resolved),
        [pair("resolve", "soda-incident-inc-1")]
    );
}

#[test]
fn switches_turn_off_checks_and_incidents() {
    let mut config = config();
    config.alert_on_checks = false;
    config.alert_on_incidents = false;
    let failing = EventKind::CheckEvaluation(vec![result("a", Outcome::Fail)]);
    assert_eq!(actions(&config, failing), []);
    let created = EventKind::IncidentCreated(incident(Severity::High, IncidentStatus::Reported));
    assert_eq!(actions(&config, created), []);
}

#[test]
fn other_events_send_nothing() {
    assert_eq!(actions(&config(), EventKind::Unknown("new".into())), []);
}

#[test]
fn a_large_evaluation_alerts_within_max_alerts_with_a_summary() {
    let config = config();
    let results = (0..500)
        .map(|i| {
            let outcome = if i % 4 == 0 {
                Outcome::Fail
            } else {
                Outcome::Pass
            };
            result(&format!("c{i}"), outcome)
        })
        .collect();
    let sent = actions(&config, EventKind::CheckEvaluation(results));
    assert_eq!(sent.len(), DEFAULT_MAX_ALERTS, "{sent:?}");
    assert!(sent[..DEFAULT_MAX_ALERTS - 1]
        .iter()
        .all(|(action, key)| action == "trigger" && key.starts_with("soda-check-c")));
    let summary = &sent[DEFAULT_MAX_ALERTS - 1];
    assert!(summary.1.starts_with("soda-checks-summary"), "{summary:?}");
    let bodies = enqueue_bodies(&config, &event(EventKind::CheckEvaluation(vec![])));
    assert!(bodies.is_empty());
}

#[test]
fn the_summary_counts_the_checks_it_stands_for() {
    let config = Config::parse(r#"{"routing_key": "k", "max_alerts": 3}"#).unwrap();
    let results = (0..5)
        .map(|i| result(&format!("s{i}"), Outcome::Fail))
        .collect();
    let bodies = enqueue_bodies(&config, &event(EventKind::CheckEvaluation(results)));
    assert_eq!(bodies.len(), 3);
    let details = &bodies[2]["payload"]["custom_details"];
    assert_eq!(details["count"], 3, "{details}");
    assert!(bodies[2]["payload"]["summary"]
        .as_str()
        .unwrap()
        .contains("3 more checks alerting"));
}
