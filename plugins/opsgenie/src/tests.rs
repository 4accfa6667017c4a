//! Unit tests for which requests the plugin sends, including the open-alert record.

use soda_gateway_plugin_sdk::{EventKind, IncidentStatus, Outcome, Severity};

use soda_gateway_plugin_sdk::testing::{
    event, sample_check_result as result, sample_incident as incident,
};

use super::config::DEFAULT_MAX_ALERTS;
use super::*;

/// The config the unit tests use unless they say otherwise.
pub(crate) fn config() -> Config {
    Config::parse(r#"{"api_key": "{{secret:og}}", "tags": ["data"]}"#).unwrap()
}

fn paths(config: &Config, kind: EventKind) -> Vec<String> {
    alert_requests(config, &event(kind))
        .into_iter()
        .map(|request| {
            let alias = request.body.get("alias").and_then(|a| a.as_str());
            match alias {
                Some(alias) => format!("create {alias}"),
                None => request.path,
            }
        })
        .collect()
}

#[test]
fn failing_checks_create_and_close_once_they_pass() {
    let config = config();
    let evaluation = |outcomes: [Outcome; 2]| {
        EventKind::CheckEvaluation(vec![result("a", outcomes[0]), result("b", outcomes[1])])
    };
    assert_eq!(
        paths(&config, evaluation([Outcome::Fail, Outcome::Pass])),
        ["create soda-check-a"],
        "a passing check with no open alert sends nothing"
    );
    assert_eq!(
        paths(&config, evaluation([Outcome::Fail, Outcome::Fail])),
        ["create soda-check-a", "create soda-check-b"]
    );
    assert_eq!(
        paths(&config, evaluation([Outcome::Pass, Outcome::Pass])),
        [
            "/v2/alerts/soda-check-a/close?identifierType=alias",
            "/v2/alerts/soda-check-b/close?identifierType=alias",
        ]
    );
    assert_eq!(
        paths(&config, evaluation([Outcome::Pass, Outcome::Pass])),
        Vec::<String>::new(),
        "closed once"
    );
}

#[test]
fn warnings_alert_only_when_configured() {
    let warn = || EventKind::CheckEvaluation(vec![result("w", Outcome::Warn)]);
    assert!(paths(&config(), warn()).is_empty());
    let mut config = config();
    config.alert_on_warn = true;
    assert_eq!(paths(&config, warn()), ["create soda-check-w"]);
}

#[test]
fn errors_and_unevaluated_checks_send_nothing() {
    let kind = EventKind::CheckEvaluation(vec![
        result("e", Outcome::Error),
        result("n", Outcome::NotEvaluated),
    ]);
    assert!(paths(&config(), kind).is_empty());
}

#[test]
fn close_on_pass_can_be_turned_off() {
    let mut config = config();
    config.close_on_pass = false;
    paths(
        &config,
        EventKind::CheckEvaluation(vec![result("a", Outcome::Fail)]),
    );
    let passed = EventKind::CheckEvaluation(vec![result("a", Outcome::Pass)]);
    assert!(paths(&config, passed).is_empty());
}

#[test]
fn incidents_create_when_created_and_close_when_resolved() {
    let config = config();
    let created = EventKind::IncidentCreated(incident(Severity::High, IncidentStatus::Reported));
    assert_eq!(paths(&config, created), ["create soda-incident-inc-1"]);
    let updated = EventKind::IncidentUpdated(incident(Severity::High, IncidentStatus::Fixing));
    assert!(
        paths(&config, updated).is_empty(),
        "only resolution matters"
    );
    let resolved = EventKind::IncidentUpdated(incident(Severity::High, IncidentStatus::Resolved));
    assert_eq!(
        paths(&config, resolved),
        ["/v2/alerts/soda-incident-inc-1/close?identifierType=alias"]
    );
}

#[test]
fn switches_turn_off_checks_and_incidents() {
    let mut config = config();
    config.alert_on_checks = false;
    config.alert_on_incidents = false;
    let failing = EventKind::CheckEvaluation(vec![result("a", Outcome::Fail)]);
    assert!(paths(&config, failing).is_empty());
    let created = EventKind::IncidentCreated(incident(Severity::High, IncidentStatus::Reported));
    assert!(paths(&config, created).is_empty());
}

#[test]
fn other_events_send_nothing() {
    assert!(paths(&config(), EventKind::Unknown("new".into())).is_empty());
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
    let sent = paths(&config, EventKind::CheckEvaluation(results));
    assert_eq!(sent.len(), DEFAULT_MAX_ALERTS, "{sent:?}");
    assert!(sent[..DEFAULT_MAX_ALERTS - 1]
        .iter()
        .all(|path| path.starts_with("create soda-check-c")));
    assert!(sent[DEFAULT_MAX_ALERTS - 1].starts_with("create soda-checks-summary"));
}

#[test]
fn the_summary_lists_the_checks_it_stands_for() {
    let config = Config::parse(r#"{"api_key": "k", "max_alerts": 3}"#).unwrap();
    let results = (0..5)
        .map(|i| result(&format!("s{i}"), Outcome::Fail))
        .collect();
    let requests = alert_requests(&config, &event(EventKind::CheckEvaluation(results)));
    assert_eq!(requests.len(), 3);
    let summary = &requests[2].body;
    assert_eq!(summary["details"]["count"], "3", "{summary}");
    assert!(summary["message"]
        .as_str()
        .unwrap()
        .contains("3 more checks alerting"));
    let description = summary["description"].as_str().unwrap();
    assert_eq!(description.matches("\n- ").count(), 3, "{description}");
}
