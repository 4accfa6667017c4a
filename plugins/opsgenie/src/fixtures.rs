//! Event values for the unit tests, shaped like the second-generation seeds.

use soda_gateway_plugin_sdk::{
    CheckResult, Dataset, Datasource, Event, EventKind, Incident, IncidentStatus, Outcome,
    Severity, User,
};

use crate::config::Config;

pub fn config() -> Config {
    Config::parse(r#"{"api_key": "{{secret:og}}", "tags": ["data"]}"#).unwrap()
}

pub fn dataset() -> Dataset {
    Dataset {
        id: Some("ds-1".into()),
        name: Some("orders".into()),
        label: None,
        soda_cloud_url: Some("https://cloud.soda.io/datasets/ds-1".into()),
        tags: vec!["sales".into()],
        owner: None,
        datasource: Some(Datasource {
            id: None,
            name: Some("postgres_prod".into()),
            label: None,
        }),
        attributes: Vec::new(),
    }
}

pub fn result(id: &str, outcome: Outcome) -> CheckResult {
    CheckResult {
        id: Some(id.into()),
        name: Some(format!("Check {id}")),
        soda_cloud_url: Some(format!("https://cloud.soda.io/checks/{id}")),
        definition: Some("checks for orders:\n  - row_count > 0".into()),
        datasets: vec![dataset()],
        column: Some("customer_id".into()),
        outcome,
        outcome_raw: Some(outcome.as_str().into()),
        data_timestamp: Some("2025-06-05T13:00:00Z".into()),
        diagnostics_json: Some(r#"{"value":42.0}"#.into()),
        agreement: None,
    }
}

pub fn incident(severity: Severity, status: IncidentStatus) -> Incident {
    Incident {
        id: Some("inc-1".into()),
        soda_cloud_url: Some("https://cloud.soda.io/incidents/inc-1".into()),
        number: Some(412),
        title: Some("Missing customer ids".into()),
        description: Some("42 orders without a customer id.".into()),
        severity,
        severity_raw: Some(severity.as_str().into()),
        status,
        status_raw: Some(status.as_str().into()),
        created: Some("2025-06-05T13:07:12Z".into()),
        last_updated: None,
        resolution_notes: None,
        resolution_timestamp: None,
        links: Vec::new(),
        lead: None,
        reporter: Some(User {
            id: None,
            email: Some("maria@example.com".into()),
        }),
        check_results: vec![result("c1", Outcome::Fail)],
    }
}

pub fn event(kind: EventKind) -> Event {
    Event {
        id: "evt-1".into(),
        kind,
        sent_at: None,
        incident_link_callback_url: None,
        raw_json: "{}".into(),
    }
}
