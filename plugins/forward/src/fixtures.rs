//! Events for the native unit tests, typed and raw alike.

use serde_json::{json, Value};
use soda_gateway_plugin_sdk::{
    testing, Attribute, CheckResult, Contract, Dataset, Datasource, Event, EventKind, Incident,
    IncidentStatus, Outcome, Severity,
};

/// A dataset in data source `datasource` with `attributes` (name, value).
pub fn dataset(name: &str, datasource: &str, attributes: &[(&str, &str)]) -> Dataset {
    Dataset {
        id: Some(format!("{name}-id")),
        label: Some(name.to_uppercase()),
        soda_cloud_url: Some(format!("https://cloud.soda.io/datasets/{name}")),
        datasource: Some(Datasource {
            label: Some(format!("{datasource} label")),
            ..testing::datasource(datasource)
        }),
        attributes: attributes
            .iter()
            .map(|(name, value)| Attribute {
                id: None,
                name: Some((*name).into()),
                label: None,
                value: Some((*value).into()),
            })
            .collect(),
        ..testing::dataset(name)
    }
}

/// A check result; `outcome_raw` is what Soda sent.
pub fn result(
    name: &str,
    outcome: Outcome,
    outcome_raw: &str,
    datasets: Vec<Dataset>,
) -> CheckResult {
    CheckResult {
        datasets,
        column: Some("customer_id".into()),
        outcome_raw: Some(outcome_raw.into()),
        data_timestamp: Some("2025-06-05T13:00:00Z".into()),
        ..testing::check_result(name, outcome)
    }
}

/// A `checkEvaluation` of `results`.
pub fn check_evaluation(results: Vec<CheckResult>) -> Event {
    let raw = json!({
        "event": "checkEvaluation",
        "checkResults": results.iter().map(raw_result).collect::<Vec<_>>(),
    });
    event(EventKind::CheckEvaluation(results), raw)
}

/// An `incidentCreated` for incident #7 with `results`.
pub fn incident_created(results: Vec<CheckResult>) -> Event {
    let raw = json!({
        "event": "incidentCreated",
        "incident": {
            "id": "inc-7",
            "number": 7,
            "title": "Late \"orders\"",
            "severity": "major",
            "status": "opened",
            "checkResults": results.iter().map(raw_result).collect::<Vec<_>>(),
        },
    });
    let incident = Incident {
        id: Some("inc-7".into()),
        soda_cloud_url: None,
        number: Some(7),
        title: Some("Late \"orders\"".into()),
        severity_raw: Some("major".into()),
        status_raw: Some("opened".into()),
        check_results: results,
        ..testing::incident(Severity::High, IncidentStatus::Reported)
    };
    event(EventKind::IncidentCreated(incident), raw)
}

/// A `contractPublished` for `dataset` in `datasource`.
pub fn contract_published(dataset: &str, datasource: &str) -> Event {
    let raw = json!({
        "event": "contractPublished",
        "contract": {"dataset": dataset, "datasource": datasource},
    });
    let contract = Contract {
        dataset: Some(dataset.into()),
        prefixes: Vec::new(),
        datasource: Some(datasource.into()),
        author: None,
        contents: None,
    };
    event(EventKind::ContractPublished(contract), raw)
}

/// An event of a type this contract does not know yet, `schemaChanged`.
pub fn unknown() -> Event {
    event(
        EventKind::Unknown("schemaChanged".into()),
        json!({"event": "schemaChanged"}),
    )
}

fn event(kind: EventKind, raw: Value) -> Event {
    Event {
        raw_json: raw.to_string(),
        ..testing::event(kind)
    }
}

/// The part of a check result's JSON the tests look at.
fn raw_result(result: &CheckResult) -> Value {
    json!({
        "id": result.id,
        "name": result.name,
        "outcome": result.outcome_raw,
        "datasets": result.datasets.iter().map(|d| json!({"name": d.name})).collect::<Vec<_>>(),
    })
}
