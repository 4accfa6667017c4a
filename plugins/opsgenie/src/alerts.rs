//! Pure builders of Opsgenie Alert API requests for Soda check results and incidents.
//!
//! Limits respected: `message` at most [`MAX_MESSAGE_CHARS`], `alias` at most
//! [`MAX_ALIAS_BYTES`] (Opsgenie allows 512; this also fits the plugin state's key limit),
//! `description` at most [`MAX_DESCRIPTION_CHARS`], at most [`MAX_TAGS`] tags of at most
//! [`MAX_TAG_CHARS`], `details` values at most [`MAX_DETAIL_CHARS`] each, `entity` at most
//! [`MAX_ENTITY_CHARS`], `source` at most [`MAX_SOURCE_CHARS`], `note` at most
//! [`MAX_NOTE_CHARS`].

use serde_json::{json, Map, Value};
use soda_gateway_plugin_sdk::text::{is_web_url, non_blank, one_line, truncate, truncate_bytes};
use soda_gateway_plugin_sdk::{CheckResult, Dataset, Incident, Outcome, Severity, User};

use crate::config::Config;

/// Opsgenie's limit on `message`.
pub const MAX_MESSAGE_CHARS: usize = 130;
/// The limit on `alias` this plugin keeps to.
pub const MAX_ALIAS_BYTES: usize = 255;
/// Opsgenie's limit on `description`.
pub const MAX_DESCRIPTION_CHARS: usize = 15_000;
/// Opsgenie's limit on the number of tags.
pub const MAX_TAGS: usize = 20;
/// Opsgenie's limit on one tag.
pub const MAX_TAG_CHARS: usize = 50;
/// Where each `details` value is cut (Opsgenie allows 8,000 characters in all).
pub const MAX_DETAIL_CHARS: usize = 500;
/// Opsgenie's limit on `entity`.
pub const MAX_ENTITY_CHARS: usize = 512;
/// Opsgenie's limit on `source`.
pub const MAX_SOURCE_CHARS: usize = 100;
/// Opsgenie's limit on a close request's `note`.
pub const MAX_NOTE_CHARS: usize = 25_000;

/// One `POST` to the Alert API: the path below the configured `api_url`, and the JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Path and query, e.g. `/v2/alerts`.
    pub path: String,
    /// The JSON body.
    pub body: Value,
}

/// The alert alias of a check: `soda-check-{id}` (its name when it has no id).
pub fn check_alias(result: &CheckResult) -> String {
    let id = non_blank(result.id.as_deref()).unwrap_or_else(|| result.display_name());
    alias("check", id)
}

/// The alert alias of an incident: `soda-incident-{id}` (its number when it has no id), or
/// `None` when it has neither.
pub fn incident_alias(incident: &Incident) -> Option<String> {
    match (non_blank(incident.id.as_deref()), incident.number) {
        (Some(id), _) => Some(alias("incident", id)),
        (None, Some(number)) => Some(alias("incident", &number.to_string())),
        (None, None) => None,
    }
}

/// Priority of an alerting check result: `fail` is P3, `warn` P4.
pub fn check_priority(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Fail => "P3",
        _ => "P4",
    }
}

/// Priority of an incident: critical P1, high (gen1 `major`) P2, medium P3, low (gen1 `minor`)
/// P4, anything else P3.
pub fn incident_priority(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "P1",
        Severity::High => "P2",
        Severity::Medium | Severity::Other => "P3",
        Severity::Low => "P4",
    }
}

/// Creates the alert for an alerting check result.
pub fn create_check(config: &Config, result: &CheckResult, alias: &str) -> Request {
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

    let mut description = vec![summary.clone()];
    if let Some(definition) = non_blank(result.definition.as_deref()) {
        description.push(format!("Definition:\n{definition}"));
    }
    if let Some(diagnostics) = non_blank(result.diagnostics_json.as_deref()) {
        description.push(format!("Diagnostics: {diagnostics}"));
    }
    if let Some(url) = web_url(result.soda_cloud_url.as_deref()) {
        description.push(format!("Open in Soda Cloud: {url}"));
    }

    let mut details = Map::new();
    put(&mut details, "check", non_blank(result.name.as_deref()));
    put(&mut details, "check_id", non_blank(result.id.as_deref()));
    put(&mut details, "outcome", Some(result.outcome_str()));
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
    if let Some(agreement) = &result.agreement {
        put(
            &mut details,
            "agreement",
            non_blank(agreement.label.as_deref()).or(agreement.id.as_deref()),
        );
    }
    put(
        &mut details,
        "soda_cloud_url",
        web_url(result.soda_cloud_url.as_deref()),
    );

    let dataset_tags = result
        .datasets
        .iter()
        .flat_map(|d| d.tags.iter().map(String::as_str));
    let tags = tags(
        config,
        ["soda", "soda-check", result.outcome_str()]
            .into_iter()
            .chain(dataset_tags),
    );

    create(
        config,
        Alert {
            message: &summary,
            alias,
            description: &description.join("\n\n"),
            priority: check_priority(result.outcome),
            tags,
            details,
            entity: non_blank(Some(&datasets)),
        },
    )
}

/// Check results listed at most in a summary alert's description.
const MAX_SUMMARY_CHECKS: usize = 200;

/// One alert summing up the alerting results past `max_alerts`: its alias is the same for every
/// evaluation of the same datasets, so that a repeated large failure is one alert.
pub fn create_summary(config: &Config, results: &[&CheckResult]) -> Request {
    let mut names: Vec<&str> = results
        .iter()
        .flat_map(|result| result.datasets.iter().map(Dataset::display_name))
        .collect();
    names.sort_unstable();
    names.dedup();
    let on = names.join(", ");
    let mut message = format!("Soda: {} more checks alerting", results.len());
    if !on.is_empty() {
        message.push_str(&format!(" on {on}"));
    }
    let listed: Vec<String> = results
        .iter()
        .take(MAX_SUMMARY_CHECKS)
        .map(|result| {
            format!(
                "- {} ({})",
                one_line(result.display_name()),
                result.outcome_str()
            )
        })
        .collect();
    let description = format!("{message}:\n{}", listed.join("\n"));
    let mut details = Map::new();
    put(&mut details, "count", Some(&results.len().to_string()));
    put(&mut details, "dataset", non_blank(Some(&on)));
    let worst = if results.iter().any(|r| r.outcome == Outcome::Fail) {
        Outcome::Fail
    } else {
        Outcome::Warn
    };
    create(
        config,
        Alert {
            message: &message,
            alias: &alias("checks", &format!("summary-{on}")),
            description: &description,
            priority: check_priority(worst),
            tags: tags(config, ["soda", "soda-check", "soda-check-summary"]),
            details,
            entity: non_blank(Some(&on)),
        },
    )
}

/// Creates the alert for a new incident.
pub fn create_incident(config: &Config, incident: &Incident, alias: &str) -> Request {
    let name = match incident.number {
        Some(number) => format!("Incident #{number}"),
        None => "Incident".to_string(),
    };
    let title = non_blank(incident.title.as_deref()).unwrap_or("(untitled)");
    let summary = format!("Soda {name}: {}", one_line(title));

    let mut description = vec![summary.clone()];
    if let Some(text) = non_blank(incident.description.as_deref()) {
        description.push(text.to_string());
    }
    if !incident.check_results.is_empty() {
        let checks: Vec<String> = incident
            .check_results
            .iter()
            .map(|r| {
                let mut line = format!("- {} ({})", one_line(r.display_name()), r.outcome_str());
                if let Some(url) = web_url(r.soda_cloud_url.as_deref()) {
                    line.push_str(&format!(": {url}"));
                }
                line
            })
            .collect();
        description.push(format!("Checks:\n{}", checks.join("\n")));
    }
    if let Some(url) = web_url(incident.soda_cloud_url.as_deref()) {
        description.push(format!("Open in Soda Cloud: {url}"));
    }

    let number = incident.number.map(|n| n.to_string());
    let mut details = Map::new();
    put(
        &mut details,
        "incident_id",
        non_blank(incident.id.as_deref()),
    );
    put(&mut details, "number", number.as_deref());
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
    put(
        &mut details,
        "soda_cloud_url",
        web_url(incident.soda_cloud_url.as_deref()),
    );

    let entity = incident
        .check_results
        .iter()
        .flat_map(|r| r.datasets.first())
        .map(Dataset::display_name)
        .next();
    let tags = tags(config, ["soda", "soda-incident", incident.severity_str()]);

    create(
        config,
        Alert {
            message: &summary,
            alias,
            description: &description.join("\n\n"),
            priority: incident_priority(incident.severity),
            tags,
            details,
            entity,
        },
    )
}

/// Closes the alert under `alias` with `note`.
pub fn close(config: &Config, alias: &str, note: &str) -> Request {
    Request {
        path: format!(
            "/v2/alerts/{}/close?identifierType=alias",
            path_segment(alias)
        ),
        body: json!({
            "source": truncate(&config.source, MAX_SOURCE_CHARS),
            "note": truncate(note, MAX_NOTE_CHARS),
        }),
    }
}

/// The close note for a check that passed again.
pub fn check_passed_note(result: &CheckResult) -> String {
    format!("Soda check passed: {}", one_line(result.display_name()))
}

/// The close note for a resolved incident: Soda's resolution notes when there are some.
pub fn incident_resolved_note(incident: &Incident) -> String {
    match non_blank(incident.resolution_notes.as_deref()) {
        Some(notes) => format!("Resolved in Soda Cloud: {notes}"),
        None => "Resolved in Soda Cloud.".to_string(),
    }
}

/// The parts of a create request that differ between checks and incidents.
struct Alert<'a> {
    message: &'a str,
    alias: &'a str,
    description: &'a str,
    priority: &'a str,
    tags: Vec<String>,
    details: Map<String, Value>,
    entity: Option<&'a str>,
}

fn create(config: &Config, alert: Alert<'_>) -> Request {
    let mut body = json!({
        "message": truncate(alert.message, MAX_MESSAGE_CHARS),
        "alias": alert.alias,
        "description": truncate(alert.description, MAX_DESCRIPTION_CHARS),
        "priority": alert.priority,
        "tags": alert.tags,
        "details": alert.details,
        "source": truncate(&config.source, MAX_SOURCE_CHARS),
    });
    if let Some(entity) = alert.entity {
        body["entity"] = json!(truncate(entity, MAX_ENTITY_CHARS));
    }
    Request {
        path: "/v2/alerts".to_string(),
        body,
    }
}

/// `own` tags, then the configured ones: blank and repeated tags dropped, each cut to
/// [`MAX_TAG_CHARS`], at most [`MAX_TAGS`].
fn tags<'a>(config: &'a Config, own: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in own
        .into_iter()
        .chain(config.tags.iter().map(String::as_str))
    {
        let tag = truncate(tag.trim(), MAX_TAG_CHARS);
        if !tag.is_empty() && !tags.contains(&tag) && tags.len() < MAX_TAGS {
            tags.push(tag);
        }
    }
    tags
}

fn alias(kind: &str, id: &str) -> String {
    truncate_bytes(&format!("soda-{kind}-{id}"), MAX_ALIAS_BYTES).to_string()
}

/// The datasets' names, comma-separated.
fn dataset_names(datasets: &[Dataset]) -> String {
    let names: Vec<&str> = datasets.iter().map(Dataset::display_name).collect();
    names.join(", ")
}

fn first_datasource(datasets: &[Dataset]) -> Option<&str> {
    datasets.iter().find_map(Dataset::datasource_name)
}

fn put(details: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        details.insert(key.into(), json!(truncate(value, MAX_DETAIL_CHARS)));
    }
}

fn web_url(url: Option<&str>) -> Option<&str> {
    url.filter(|u| is_web_url(u))
}

/// `text` as one URL path segment: every byte but RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) percent-encoded.
fn path_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests;
