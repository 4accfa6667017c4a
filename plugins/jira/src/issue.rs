//! The fields of the Jira issue created for a Soda incident.

use serde_json::{json, Map, Value};
use soda_gateway_plugin_sdk::text::{one_line, truncate};
use soda_gateway_plugin_sdk::{CheckResult, Incident};

use crate::adf;
use crate::config::Config;

/// Jira's limit on an issue summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 255;

/// The body of `POST /rest/api/3/issue` for `incident`.
pub fn create_body(config: &Config, incident: &Incident) -> Value {
    let mut fields = Map::new();
    fields.insert("project".into(), json!({ "key": config.project_key }));
    fields.insert("issuetype".into(), json!({ "name": config.issue_type }));
    fields.insert("summary".into(), json!(summary(incident)));
    fields.insert("description".into(), description(incident));
    if let Some(priority) = config.priority_for(incident) {
        fields.insert("priority".into(), json!({ "name": priority }));
    }
    if !config.labels.is_empty() {
        fields.insert("labels".into(), json!(config.labels));
    }
    json!({ "fields": fields })
}

/// `Soda incident #196: <title>` on one line, cut to [`MAX_SUMMARY_CHARS`].
pub fn summary(incident: &Incident) -> String {
    let mut summary = match incident.number {
        Some(number) => format!("Soda incident #{number}"),
        None => "Soda incident".to_string(),
    };
    if let Some(title) = incident.title.as_deref().filter(|t| !t.trim().is_empty()) {
        summary.push_str(": ");
        summary.push_str(title.trim());
    }
    truncate(&one_line(&summary), MAX_SUMMARY_CHARS)
}

/// The incident's description, its severity with a link to it in Soda, and its checks.
pub fn description(incident: &Incident) -> Value {
    let mut blocks = adf::paragraphs(incident.description.as_deref().unwrap_or_default());
    let severity = adf::text(&format!("Severity: {}. ", incident.severity_str()));
    let mut about = vec![severity];
    if let Some(url) = &incident.soda_cloud_url {
        about.push(adf::link("View the incident in Soda", url));
    }
    blocks.push(adf::paragraph(about));
    if !incident.check_results.is_empty() {
        blocks.push(adf::paragraph(vec![adf::text("Checks:")]));
        blocks.push(adf::bullet_list(
            incident.check_results.iter().map(check_item).collect(),
        ));
    }
    adf::doc(blocks)
}

/// `<check name on one line, linked to Soda> (fail) on orders`.
fn check_item(result: &CheckResult) -> Vec<Value> {
    let name = one_line(result.display_name());
    let name = match &result.soda_cloud_url {
        Some(url) => adf::link(&name, url),
        None => adf::text(&name),
    };
    let datasets: Vec<&str> = result.datasets.iter().map(|d| d.display_name()).collect();
    let mut detail = format!(" ({})", result.outcome_str());
    if !datasets.is_empty() {
        detail.push_str(" on ");
        detail.push_str(&datasets.join(", "));
    }
    vec![name, adf::text(&detail)]
}

#[cfg(test)]
mod tests;
