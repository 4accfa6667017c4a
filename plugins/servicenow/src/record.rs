//! Pure functions turning a Soda incident into the JSON bodies of ServiceNow's table API.
//!
//! ServiceNow's default field lengths are respected: `short_description` is cut at
//! [`SHORT_DESCRIPTION_MAX`] characters, `description`, `close_notes` and `work_notes` at
//! [`TEXT_MAX`].

use serde_json::{json, Value};
use soda_gateway_plugin_sdk::text::{non_blank, one_line, truncate};
use soda_gateway_plugin_sdk::{CheckResult, Incident, Severity, User};

use crate::config::Config;

/// The longest `short_description` ServiceNow stores by default.
pub const SHORT_DESCRIPTION_MAX: usize = 160;

/// The longest `description`, `close_notes` or `work_notes` this plugin sends.
pub const TEXT_MAX: usize = 4000;

/// The incident `state` ServiceNow calls Resolved.
pub const STATE_RESOLVED: &str = "6";

/// `(impact, urgency)` for a Soda severity, each `1` (high), `2` (medium) or `3` (low); with
/// ServiceNow's default priority matrix critical gives priority 1, high 2, medium 3, low 4.
/// A severity Soda did not send, or one unknown here, counts as medium.
pub fn impact_urgency(severity: Severity) -> (&'static str, &'static str) {
    match severity {
        Severity::Critical => ("1", "1"),
        Severity::High => ("1", "2"),
        Severity::Medium | Severity::Other => ("2", "2"),
        Severity::Low => ("2", "3"),
    }
}

/// The body that creates the ServiceNow incident for the Soda incident `soda_id`.
pub fn create(config: &Config, incident: &Incident, soda_id: &str) -> Value {
    let (impact, urgency) = impact_urgency(incident.severity);
    let mut body = json!({
        "short_description": truncate(&title(incident), SHORT_DESCRIPTION_MAX),
        "description": truncate(&description(incident), TEXT_MAX),
        "correlation_id": soda_id,
        "impact": impact,
        "urgency": urgency,
    });
    if let Some(group) = &config.assignment_group {
        body["assignment_group"] = json!(group);
    }
    if let Some(caller) = &config.caller_id {
        body["caller_id"] = json!(caller);
    }
    body
}

/// The body that resolves the ServiceNow incident: state Resolved, the configured close code,
/// and Soda's resolution notes (or a default when there are none).
pub fn resolve(config: &Config, incident: &Incident) -> Value {
    let notes = non_blank(incident.resolution_notes.as_deref()).unwrap_or("Resolved in Soda.");
    json!({
        "state": STATE_RESOLVED,
        "close_code": config.close_code,
        "close_notes": truncate(notes, TEXT_MAX),
    })
}

/// The body that records any other change of the Soda incident as a work note.
pub fn work_note(incident: &Incident) -> Value {
    let mut note = format!(
        "{} updated: status {}, severity {}.",
        name(incident),
        incident.status_str(),
        incident.severity_str()
    );
    if let Some(url) = non_blank(incident.soda_cloud_url.as_deref()) {
        note.push_str(&format!("\nOpen in Soda: {url}"));
    }
    json!({ "work_notes": truncate(&note, TEXT_MAX) })
}

/// `Soda incident #196: Invalid customer ids`.
fn title(incident: &Incident) -> String {
    let title = non_blank(incident.title.as_deref()).unwrap_or("(untitled)");
    format!("{}: {}", name(incident), one_line(title))
}

/// `Soda incident #196`, or `Soda incident` without a number.
fn name(incident: &Incident) -> String {
    match incident.number {
        Some(number) => format!("Soda incident #{number}"),
        None => "Soda incident".to_string(),
    }
}

/// Soda's description, the incident's severity, status, people and checks, and its link.
fn description(incident: &Incident) -> String {
    let mut lines = Vec::new();
    if let Some(description) = non_blank(incident.description.as_deref()) {
        lines.push(description.to_string());
        lines.push(String::new());
    }
    lines.push(format!("Severity: {}", incident.severity_str()));
    lines.push(format!("Status: {}", incident.status_str()));
    for (label, user) in [("Lead", &incident.lead), ("Reporter", &incident.reporter)] {
        if let Some(user) = user.as_ref().and_then(User::display_name) {
            lines.push(format!("{label}: {user}"));
        }
    }
    if !incident.check_results.is_empty() {
        lines.push(String::new());
        lines.push("Checks:".to_string());
        lines.extend(incident.check_results.iter().map(check_line));
    }
    if let Some(url) = non_blank(incident.soda_cloud_url.as_deref()) {
        lines.push(String::new());
        lines.push(format!("Open in Soda: {url}"));
    }
    lines.join("\n")
}

/// `- No missing customer ids (fail, orders): https://cloud.soda.io/checks/…`.
fn check_line(result: &CheckResult) -> String {
    let mut details = vec![result.outcome_str()];
    details.extend(result.datasets.iter().map(|d| d.display_name()));
    let mut line = format!(
        "- {} ({})",
        one_line(result.display_name()),
        details.join(", ")
    );
    if let Some(url) = non_blank(result.soda_cloud_url.as_deref()) {
        line.push_str(&format!(": {url}"));
    }
    line
}
