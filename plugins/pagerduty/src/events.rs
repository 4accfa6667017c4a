//! Pure builders of PagerDuty Events API v2 bodies for Soda check results and incidents.
//!
//! Limits respected: `dedup_key` at most [`MAX_DEDUP_KEY_BYTES`], `payload.summary` at most
//! [`MAX_SUMMARY_CHARS`]; free texts in `custom_details` are cut at [`MAX_DETAIL_CHARS`].

use serde_json::{json, Map, Value};
use soda_gateway_plugin_sdk::text::{is_web_url, non_blank, one_line, truncate, truncate_bytes};
use soda_gateway_plugin_sdk::{CheckResult, Dataset, Incident, Outcome, Severity, User};

use crate::config::Config;

/// PagerDuty's limit on `dedup_key` (255 characters; bytes here, which is stricter).
pub const MAX_DEDUP_KEY_BYTES: usize = 255;
/// PagerDuty's limit on `payload.summary`.
pub const MAX_SUMMARY_CHARS: usize = 1024;
/// Where long texts (definitions, descriptions) in `custom_details` are cut.
pub const MAX_DETAIL_CHARS: usize = 4096;

/// The alert key of a check: `soda-check-{id}` (its name when it has no id).
pub fn check_dedup_key(result: &CheckResult) -> String {
    let id = non_blank(result.id.as_deref()).unwrap_or_else(|| result.display_name());
    dedup_key("check", id)
}

/// The alert key of an incident: `soda-incident-{id}` (its number when it has no id), or `None`
/// when it has neither.
pub fn incident_dedup_key(incident: &Incident) -> Option<String> {
    match (non_blank(incident.id.as_deref()), incident.number) {
        (Some(id), _) => Some(dedup_key("incident", id)),
        (None, Some(number)) => Some(dedup_key("incident", &number.to_string())),
        (None, None) => None,
    }
}

/// PagerDuty severity of an alerting check result: `fail` is `error`, `warn` is `warning`.
pub fn check_severity(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Fail => "error",
        Outcome::Warn => "warning",
        _ => "info",
    }
}

/// PagerDuty severity of an incident: critical → `critical`, high (gen1 `major`) → `error`,
/// medium → `warning`, low (gen1 `minor`) → `info`, anything else → `error`.
pub fn incident_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::High | Severity::Other => "error",
        Severity::Medium => "warning",
        Severity::Low => "info",
    }
}

/// The `trigger` event for an alerting check result.
pub fn trigger_check(config: &Config, result: &CheckResult, dedup_key: &str) -> Value {
    let verb = match result.outcome {
        Outcome::Fail => "failed",
        Outcome::Warn => "warned",
        _ => result.outcome_str(),
    };
    let mut summary = format!("Soda check {verb}: {}", one_line(result.display_name()));
    let datasets = dataset_names(&result.datasets);
    if !datasets.is_empty() {
        summary.push_str(&format!(" on {datasets}"));
    }

    let mut details = Map::new();
    put(&mut details, "check", non_blank(result.name.as_deref()));
    put(&mut details, "check_id", non_blank(result.id.as_deref()));
    put(&mut details, "outcome", Some(result.outcome_str()));
    put(
        &mut details,
        "definition",
        long_text(result.definition.as_deref()).as_deref(),
    );
    put(&mut details, "dataset", non_blank(Some(&datasets)));
    put(
        &mut details,
        "datasource",
        first_datasource(&result.datasets),
    );
    put(&mut details, "column", non_blank(result.column.as_deref()));
    put(
        &mut details,
        "data_timestamp",
        non_blank(result.data_timestamp.as_deref()),
    );
    if let Some(diagnostics) = result.diagnostics_json.as_deref() {
        let value = serde_json::from_str(diagnostics).unwrap_or_else(|_| json!(diagnostics));
        details.insert("diagnostics".into(), value);
    }
    if let Some(agreement) = &result.agreement {
        put(
            &mut details,
            "agreement",
            non_blank(agreement.label.as_deref()).or(agreement.id.as_deref()),
        );
    }

    let mut links = Vec::new();
    push_link(
        &mut links,
        result.soda_cloud_url.as_deref(),
        "Check in Soda Cloud".into(),
    );
    for dataset in &result.datasets {
        let text = format!("Dataset {} in Soda Cloud", dataset.display_name());
        push_link(&mut links, dataset.soda_cloud_url.as_deref(), text);
    }

    trigger(
        config,
        dedup_key,
        payload(
            config,
            &summary,
            check_severity(result.outcome),
            &result.datasets,
            "soda-check",
            details,
        ),
        links,
    )
}

/// Check results named at most in a summary alert's details.
const MAX_SUMMARY_CHECKS: usize = 200;

/// One `trigger` summing up the alerting results past `max_alerts`: its dedup key is the same
/// for every evaluation of the same datasets, so that a repeated large failure updates it.
pub fn trigger_summary(config: &Config, results: &[&CheckResult]) -> Value {
    let datasets: Vec<Dataset> = results
        .iter()
        .flat_map(|result| result.datasets.iter().cloned())
        .collect();
    let mut names: Vec<&str> = datasets.iter().map(Dataset::display_name).collect();
    names.sort_unstable();
    names.dedup();
    let on = names.join(", ");
    let mut summary = format!("Soda: {} more checks alerting", results.len());
    if !on.is_empty() {
        summary.push_str(&format!(" on {on}"));
    }
    let mut details = Map::new();
    let checks: Vec<Value> = results
        .iter()
        .take(MAX_SUMMARY_CHECKS)
        .map(|result| {
            json!(format!(
                "{} ({})",
                one_line(result.display_name()),
                result.outcome_str()
            ))
        })
        .collect();
    details.insert("checks".into(), Value::Array(checks));
    details.insert("count".into(), json!(results.len()));
    let worst = if results.iter().any(|r| r.outcome == Outcome::Fail) {
        Outcome::Fail
    } else {
        Outcome::Warn
    };
    trigger(
        config,
        &dedup_key("checks", &format!("summary-{on}")),
        payload(
            config,
            &summary,
            check_severity(worst),
            &datasets,
            "soda-check-summary",
            details,
        ),
        Vec::new(),
    )
}

/// The `trigger` event for a new incident.
pub fn trigger_incident(config: &Config, incident: &Incident, dedup_key: &str) -> Value {
    let name = incident_name(incident);
    let title = non_blank(incident.title.as_deref()).unwrap_or("(untitled)");
    let summary = format!("Soda {name}: {}", one_line(title));
    let datasets = incident
        .check_results
        .first()
        .map_or(&[][..], |r| r.datasets.as_slice());

    let mut details = Map::new();
    put(
        &mut details,
        "incident_id",
        non_blank(incident.id.as_deref()),
    );
    if let Some(number) = incident.number {
        details.insert("number".into(), json!(number));
    }
    put(&mut details, "title", non_blank(incident.title.as_deref()));
    put(
        &mut details,
        "description",
        long_text(incident.description.as_deref()).as_deref(),
    );
    put(&mut details, "severity", Some(incident.severity_str()));
    put(&mut details, "status", Some(incident.status_str()));
    put(
        &mut details,
        "lead",
        incident.lead.as_ref().and_then(User::display_name),
    );
    put(
        &mut details,
        "reporter",
        incident.reporter.as_ref().and_then(User::display_name),
    );
    put(
        &mut details,
        "created",
        non_blank(incident.created.as_deref()),
    );
    if !incident.check_results.is_empty() {
        let checks: Vec<String> = incident
            .check_results
            .iter()
            .map(|r| format!("{} ({})", one_line(r.display_name()), r.outcome_str()))
            .collect();
        details.insert("checks".into(), json!(checks));
    }

    let mut links = Vec::new();
    push_link(
        &mut links,
        incident.soda_cloud_url.as_deref(),
        format!("{name} in Soda Cloud"),
    );
    for result in &incident.check_results {
        let text = format!("Check: {}", one_line(result.display_name()));
        push_link(&mut links, result.soda_cloud_url.as_deref(), text);
    }

    trigger(
        config,
        dedup_key,
        payload(
            config,
            &summary,
            incident_severity(incident.severity),
            datasets,
            "soda-incident",
            details,
        ),
        links,
    )
}

/// The `resolve` event for the alert under `dedup_key`.
pub fn resolve(config: &Config, dedup_key: &str) -> Value {
    json!({
        "routing_key": config.routing_key,
        "event_action": "resolve",
        "dedup_key": dedup_key,
    })
}

/// `Incident #42`, or `Incident` without a number.
fn incident_name(incident: &Incident) -> String {
    match incident.number {
        Some(number) => format!("Incident #{number}"),
        None => "Incident".to_string(),
    }
}

fn trigger(config: &Config, dedup_key: &str, payload: Value, links: Vec<Value>) -> Value {
    let mut event = json!({
        "routing_key": config.routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": payload,
    });
    if !links.is_empty() {
        event["links"] = Value::Array(links);
    }
    event
}

/// `payload`: component and group come from the first dataset, when there is one.
fn payload(
    config: &Config,
    summary: &str,
    severity: &str,
    datasets: &[Dataset],
    class: &str,
    details: Map<String, Value>,
) -> Value {
    let mut payload = json!({
        "summary": truncate(summary, MAX_SUMMARY_CHARS),
        "source": config.source,
        "severity": severity,
    });
    if let Some(dataset) = datasets.first() {
        payload["component"] = json!(dataset.display_name());
    }
    if let Some(datasource) = first_datasource(datasets) {
        payload["group"] = json!(datasource);
    }
    payload["class"] = json!(class);
    payload["custom_details"] = Value::Object(details);
    payload
}

fn dedup_key(kind: &str, id: &str) -> String {
    truncate_bytes(&format!("soda-{kind}-{id}"), MAX_DEDUP_KEY_BYTES).to_string()
}

/// The datasets' names, comma-separated.
fn dataset_names(datasets: &[Dataset]) -> String {
    let names: Vec<&str> = datasets.iter().map(Dataset::display_name).collect();
    names.join(", ")
}

fn first_datasource(datasets: &[Dataset]) -> Option<&str> {
    datasets.iter().find_map(Dataset::datasource_name)
}

fn push_link(links: &mut Vec<Value>, url: Option<&str>, text: String) {
    if let Some(url) = url.filter(|u| is_web_url(u)) {
        links.push(json!({ "href": url, "text": text }));
    }
}

fn put(details: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        details.insert(key.into(), json!(value));
    }
}

/// A free text for `custom_details`, cut at [`MAX_DETAIL_CHARS`].
fn long_text(text: Option<&str>) -> Option<String> {
    non_blank(text).map(|t| truncate(t, MAX_DETAIL_CHARS))
}

#[cfg(test)]
mod tests;
