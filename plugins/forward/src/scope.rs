//! The values template placeholders stand for, taken from one event and what a route selected.

use serde_json::{json, Value};
use soda_gateway_plugin_sdk::{CheckResult, Dataset, Event, EventKind, Incident};

use crate::filter::Selection;

/// Every placeholder name a template may use.
pub const NAMES: &[&str] = &[
    "event",
    "event.type",
    "event.id",
    "event.sent_at",
    "checks",
    "check.id",
    "check.name",
    "check.definition",
    "check.outcome",
    "check.column",
    "check.url",
    "check.data_timestamp",
    "dataset.id",
    "dataset.name",
    "dataset.label",
    "dataset.url",
    "datasource.name",
    "datasource.label",
    "incident.id",
    "incident.number",
    "incident.title",
    "incident.description",
    "incident.severity",
    "incident.status",
    "incident.url",
    "incident.created",
    "incident.last_updated",
];

/// One event as a route sees it.
pub struct Scope<'a> {
    event: &'a Event,
    /// The event as Soda sent it.
    raw: &'a Value,
    selection: &'a Selection,
}

impl<'a> Scope<'a> {
    pub fn new(event: &'a Event, raw: &'a Value, selection: &'a Selection) -> Self {
        Scope {
            event,
            raw,
            selection,
        }
    }

    /// The value of placeholder `name` (one of [`NAMES`]); `null` when the event has none.
    pub fn value(&self, name: &str) -> Value {
        let (group, field) = name.split_once('.').unwrap_or((name, ""));
        match group {
            "event" => self.event_field(field),
            "checks" => self.checks(),
            "check" => self.check().map_or(Value::Null, |c| check_field(c, field)),
            "dataset" | "datasource" => self.dataset_field(name),
            "incident" => self
                .event
                .incident()
                .map_or(Value::Null, |i| incident_field(i, field)),
            _ => Value::Null,
        }
    }

    fn event_field(&self, field: &str) -> Value {
        match field {
            "" => self.raw.clone(),
            "type" => json!(self.event.kind.name()),
            "id" => json!(self.event.id),
            "sent_at" => json!(self.event.sent_at),
            _ => Value::Null,
        }
    }

    /// The matching check results, as Soda sent them.
    fn checks(&self) -> Value {
        let pointer = match self.event.kind {
            EventKind::CheckEvaluation(_) => "/checkResults",
            _ => "/incident/checkResults",
        };
        let raw = self.raw.pointer(pointer).and_then(Value::as_array);
        let checks = self
            .selection
            .matches
            .iter()
            .filter_map(|m| raw.and_then(|results| results.get(m.result)).cloned())
            .collect();
        Value::Array(checks)
    }

    /// The first matching check result.
    fn check(&self) -> Option<&'a CheckResult> {
        let first = self.selection.matches.first()?;
        self.event.check_results().get(first.result)
    }

    /// The dataset of the first matching check result that passed the filters.
    fn dataset(&self) -> Option<&'a Dataset> {
        let first = self.selection.matches.first()?;
        self.check()?.datasets.get(first.dataset?)
    }

    fn dataset_field(&self, name: &str) -> Value {
        if let EventKind::ContractPublished(contract) = &self.event.kind {
            return match name {
                "dataset.name" => json!(contract.dataset),
                "datasource.name" => json!(contract.datasource),
                _ => Value::Null,
            };
        }
        let Some(dataset) = self.dataset() else {
            return Value::Null;
        };
        let datasource = dataset.datasource.as_ref();
        match name {
            "dataset.id" => json!(dataset.id),
            "dataset.name" => json!(dataset.name),
            "dataset.label" => json!(dataset.label),
            "dataset.url" => json!(dataset.soda_cloud_url),
            "datasource.name" => json!(datasource.and_then(|ds| ds.name.as_ref())),
            "datasource.label" => json!(datasource.and_then(|ds| ds.label.as_ref())),
            _ => Value::Null,
        }
    }
}

fn check_field(check: &CheckResult, field: &str) -> Value {
    match field {
        "id" => json!(check.id),
        "name" => json!(check.display_name()),
        "definition" => json!(check.definition),
        "outcome" => json!(check.outcome_str()),
        "column" => json!(check.column),
        "url" => json!(check.soda_cloud_url),
        "data_timestamp" => json!(check.data_timestamp),
        _ => Value::Null,
    }
}

fn incident_field(incident: &Incident, field: &str) -> Value {
    match field {
        "id" => json!(incident.id),
        "number" => json!(incident.number),
        "title" => json!(incident.title),
        "description" => json!(incident.description),
        "severity" => json!(incident.severity_str()),
        "status" => json!(incident.status_str()),
        "url" => json!(incident.soda_cloud_url),
        "created" => json!(incident.created),
        "last_updated" => json!(incident.last_updated),
        _ => Value::Null,
    }
}
