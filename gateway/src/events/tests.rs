//! Parsing tests: every seed example in `tests/fixtures/events/` and the edge cases around them.

use super::*;
use std::path::PathBuf;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/events")
}

fn fixture(name: &str) -> SodaEvent {
    let body = std::fs::read(fixtures_dir().join(name)).expect("fixture exists");
    parse(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn incident(event: &SodaEvent) -> &Incident {
    match &event.kind {
        EventKind::IncidentCreated(incident) | EventKind::IncidentUpdated(incident) => incident,
        other => panic!("not an incident event: {other:?}"),
    }
}

#[test]
fn every_seed_fixture_parses_into_a_known_event_type() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let path = entry.unwrap().path();
        let body = std::fs::read(&path).unwrap();
        let event = parse(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            !matches!(event.kind, EventKind::Unknown(_)),
            "{} parsed as unknown",
            path.display()
        );
        seen += 1;
    }
    assert!(seen >= 8, "expected the eight seed fixtures, found {seen}");
}

#[test]
fn first_generation_check_evaluation_keeps_datasets_attributes_and_agreement() {
    let event = fixture("gen1_check_evaluation.json");
    let EventKind::CheckEvaluation(results) = &event.kind else {
        panic!("wrong kind {:?}", event.kind)
    };
    let result = &results[0];
    assert_eq!(result.outcome(), Outcome::Pass);
    let dataset = &result.datasets[0];
    assert_eq!(dataset.name.as_deref(), Some("bnm_orders"));
    assert_eq!(
        dataset.datasource.as_ref().unwrap().name.as_deref(),
        Some("sodaspark")
    );
    assert_eq!(
        dataset.owner.as_ref().unwrap().email.as_deref(),
        Some("person@soda.io")
    );
    assert_eq!(dataset.attributes.len(), 2);
    assert_eq!(
        result.agreement.as_ref().unwrap().approval_state.as_deref(),
        Some("pending")
    );
    assert!(result.diagnostics.is_some());
}

#[test]
fn first_generation_incident_uses_timestamp_names_and_top_level_callback() {
    let event = fixture("gen1_incident_created.json");
    let incident = incident(&event);
    assert_eq!(incident.number, Some(196));
    assert_eq!(incident.severity(), Severity::High, "major maps to high");
    assert_eq!(
        incident.status(),
        IncidentStatus::Reported,
        "opened maps to reported"
    );
    assert_eq!(incident.created.as_deref(), Some("2022-05-18T06:07:34Z"));
    assert_eq!(
        incident.last_updated.as_deref(),
        Some("2022-05-18T06:08:23Z")
    );
    assert_eq!(incident.links.len(), 1);
    assert!(incident.lead.is_some() && incident.reporter.is_some());
    assert!(event
        .incident_link_callback_url
        .as_deref()
        .unwrap()
        .contains("/incident-link/"));
}

#[test]
fn second_generation_incident_uses_new_names_and_nested_callback() {
    let event = fixture("gen2_incident_created.json");
    let incident = incident(&event);
    assert!(incident.created.is_some() && incident.last_updated.is_some());
    assert_eq!(incident.severity(), Severity::High);
    assert_eq!(incident.status(), IncidentStatus::InProgress);
    assert!(
        event.incident_link_callback_url.is_some(),
        "callback inside `incident` is found"
    );
}

#[test]
fn contract_published_carries_dataset_author_and_contents() {
    let event = fixture("gen2_contract_published.json");
    let EventKind::ContractPublished(contract) = &event.kind else {
        panic!("wrong kind {:?}", event.kind)
    };
    assert!(contract.dataset.is_some() && contract.contents.is_some());
    assert!(contract.author.as_ref().unwrap().email.is_some());
}

#[test]
fn unknown_event_type_is_accepted_as_unknown() {
    let event = parse(br#"{"event":"datasetDeleted","dataset":{"id":"d1"}}"#).unwrap();
    assert_eq!(event.kind, EventKind::Unknown("datasetDeleted".into()));
    assert_eq!(event.type_name(), "datasetDeleted");
}

#[test]
fn open_enumerations_keep_unknown_values() {
    let body = br#"{"event":"checkEvaluation","checkResults":[{"outcome":"skipped"},{"outcome":"notEvaluated"}]}"#;
    let EventKind::CheckEvaluation(results) = parse(body).unwrap().kind else {
        panic!()
    };
    assert_eq!(results[0].outcome(), Outcome::Other);
    assert_eq!(results[0].outcome_raw.as_deref(), Some("skipped"));
    assert_eq!(results[1].outcome(), Outcome::NotEvaluated);
    assert_eq!(Severity::parse(Some("minor")), Severity::Low);
    assert_eq!(Severity::parse(Some("blocker")), Severity::Other);
    assert_eq!(IncidentStatus::parse(None), IncidentStatus::Other);
}

#[test]
fn the_newer_check_result_shape_reports_its_outcome_as_evaluation_status() {
    // A mix in one event: the newer shape, the older one, and both fields (`outcome` wins).
    let body = br#"{"event":"checkEvaluation","checkResults":[
        {"evaluationStatus":"fail","value":12.5,"attributes":{"team":"core"}},
        {"outcome":"warn"},
        {"outcome":"pass","evaluationStatus":"fail"}]}"#;
    let EventKind::CheckEvaluation(results) = parse(body).unwrap().kind else {
        panic!()
    };
    let outcomes: Vec<_> = results.iter().map(CheckResult::outcome).collect();
    assert_eq!(outcomes, [Outcome::Fail, Outcome::Warn, Outcome::Pass]);
    assert_eq!(results[0].reported_outcome(), Some("fail"));
    assert_eq!(results[0].value.as_deref(), Some("12.5"));
    assert_eq!(
        results[0].attributes,
        [("team".to_owned(), "core".to_owned())]
    );
    assert_eq!(results[1].value, None);
    assert!(results[1].attributes.is_empty());
}

#[test]
fn bodies_that_are_not_soda_events_are_rejected_with_a_reason() {
    let cases: [(&[u8], &str); 5] = [
        (b"{not json", "body is not JSON"),
        (b"[1,2]", "expected a JSON object"),
        (br#"{"checkResults":[]}"#, "missing field `event`"),
        (
            br#"{"event":"incidentCreated"}"#,
            "missing field `incident`",
        ),
        (
            br#"{"event":"checkEvaluation","checkResults":{}}"#,
            "invalid type",
        ),
    ];
    for (body, reason) in cases {
        let error = parse(body).unwrap_err().to_string();
        assert!(
            error.contains(reason),
            "{error:?} should mention {reason:?}"
        );
        assert!(!error.contains('\n'), "one line: {error:?}");
    }
}

#[test]
fn null_lists_are_empty() {
    let body = br#"{"event":"incidentUpdated","incident":{"links":null,"checkResults":null}}"#;
    let event = parse(body).unwrap();
    assert!(incident(&event).links.is_empty());
}
