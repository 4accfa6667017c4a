//! Pure functions turning Soda events into Teams messages carrying an Adaptive Card 1.2.
//!
//! Teams renders only `Action.OpenUrl`-style actions from webhooks and caps a message at about
//! 28 KB, so a card lists at most [`MAX_RESULTS`] check results (the rest are counted) and long
//! texts are cut.

use serde_json::{json, Value};
use soda_gateway_plugin_sdk::text::{is_web_url, non_blank, truncate};
use soda_gateway_plugin_sdk::{CheckResult, Incident, Outcome, Severity, User};

/// How many alerting results get their own section in one card.
pub const MAX_RESULTS: usize = 10;

/// The longest title or fact value put on a card, in characters.
const SHORT_MAX: usize = 300;

/// The longest description put on a card, in characters.
const LONG_MAX: usize = 2000;

/// The card for a `checkEvaluation` event: every result whose outcome is `fail` (and `warn` when
/// `include_warnings`), or `None` when nothing alerts.
pub fn check_evaluation(results: &[CheckResult], include_warnings: bool) -> Option<Value> {
    let alerting: Vec<&CheckResult> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail || (include_warnings && r.outcome == Outcome::Warn))
        .collect();
    if alerting.is_empty() {
        return None;
    }
    let failed = alerting
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .count();
    let color = if failed > 0 { "attention" } else { "warning" };
    let mut body = vec![title(
        &format!("Soda: {}", summary(failed, alerting.len() - failed)),
        color,
    )];
    body.extend(
        alerting
            .iter()
            .take(MAX_RESULTS)
            .map(|r| result_container(r)),
    );
    if alerting.len() > MAX_RESULTS {
        let more = alerting.len() - MAX_RESULTS;
        body.push(json!({
            "type": "TextBlock",
            "text": format!("…and {more} more alerting check{}", plural(more)),
            "isSubtle": true,
            "wrap": true,
        }));
    }
    Some(card(body, Vec::new()))
}

/// The card for an `incidentCreated` event.
pub fn incident_created(incident: &Incident) -> Value {
    let name = match incident.number {
        Some(number) => format!("Soda incident #{number}"),
        None => "Soda incident".to_string(),
    };
    let heading = format!(
        "{name}: {}",
        non_blank(incident.title.as_deref()).unwrap_or("(untitled)")
    );
    let color = match incident.severity {
        Severity::Critical | Severity::High => "attention",
        _ => "warning",
    };
    let mut body = vec![title(&heading, color)];
    if let Some(description) = non_blank(incident.description.as_deref()) {
        body.push(json!({
            "type": "TextBlock",
            "text": truncate(description, LONG_MAX),
            "wrap": true,
        }));
    }

    let mut facts = vec![
        fact("Severity", incident.severity_str()),
        fact("Status", incident.status_str()),
    ];
    for (label, user) in [("Lead", &incident.lead), ("Reporter", &incident.reporter)] {
        if let Some(user) = user.as_ref().and_then(User::display_name) {
            facts.push(fact(label, user));
        }
    }
    let results: Vec<&CheckResult> = incident.check_results.iter().collect();
    facts.extend(dataset_facts(&results));
    if !results.is_empty() {
        let checks: Vec<String> = results
            .iter()
            .map(|r| format!("{} ({})", r.display_name(), r.outcome_str()))
            .collect();
        facts.push(fact("Checks", &checks.join(", ")));
    }
    body.push(json!({ "type": "FactSet", "facts": facts }));

    let actions = open_in_soda(incident.soda_cloud_url.as_deref())
        .into_iter()
        .collect();
    card(body, actions)
}

/// The webhook body: a Teams message with `card` as its one attachment.
pub fn message(card: Value) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

fn card(body: Vec<Value>, actions: Vec<Value>) -> Value {
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.2",
        "body": body,
    });
    if !actions.is_empty() {
        card["actions"] = Value::Array(actions);
    }
    card
}

/// One alerting result: its name, its facts and a button to it in Soda.
fn result_container(result: &CheckResult) -> Value {
    let mut facts = vec![fact("Outcome", result.outcome_str())];
    facts.extend(dataset_facts(&[result]));
    if let Some(column) = non_blank(result.column.as_deref()) {
        facts.push(fact("Column", column));
    }
    if let Some(agreement) = &result.agreement {
        if let Some(label) = non_blank(agreement.label.as_deref()).or(agreement.id.as_deref()) {
            facts.push(fact("Agreement", label));
        }
    }
    if let Some(timestamp) = non_blank(result.data_timestamp.as_deref()) {
        facts.push(fact("Data timestamp", timestamp));
    }
    let mut items = vec![
        json!({
            "type": "TextBlock",
            "text": truncate(result.display_name(), SHORT_MAX),
            "weight": "Bolder",
            "wrap": true,
        }),
        json!({ "type": "FactSet", "facts": facts }),
    ];
    if let Some(action) = open_in_soda(result.soda_cloud_url.as_deref()) {
        items.push(json!({ "type": "ActionSet", "actions": [action] }));
    }
    json!({ "type": "Container", "separator": true, "items": items })
}

/// `Dataset` and `Data source` facts for the datasets of `results`, each name once.
fn dataset_facts(results: &[&CheckResult]) -> Vec<Value> {
    let mut datasets: Vec<&str> = Vec::new();
    let mut datasources: Vec<&str> = Vec::new();
    for dataset in results.iter().flat_map(|r| &r.datasets) {
        push_unique(&mut datasets, dataset.display_name());
        if let Some(datasource) = dataset.datasource_name() {
            push_unique(&mut datasources, datasource);
        }
    }
    let mut facts = Vec::new();
    if !datasets.is_empty() {
        facts.push(fact("Dataset", &datasets.join(", ")));
    }
    if !datasources.is_empty() {
        facts.push(fact("Data source", &datasources.join(", ")));
    }
    facts
}

fn push_unique<'a>(names: &mut Vec<&'a str>, name: &'a str) {
    if !names.contains(&name) {
        names.push(name);
    }
}

fn title(text: &str, color: &str) -> Value {
    json!({
        "type": "TextBlock",
        "text": truncate(text, SHORT_MAX),
        "size": "Medium",
        "weight": "Bolder",
        "color": color,
        "wrap": true,
    })
}

fn fact(title: &str, value: &str) -> Value {
    json!({ "title": title, "value": truncate(value, SHORT_MAX) })
}

/// An `Open in Soda` button, when `url` is an http(s) URL.
fn open_in_soda(url: Option<&str>) -> Option<Value> {
    let url = url.filter(|u| is_web_url(u))?;
    Some(json!({ "type": "Action.OpenUrl", "title": "Open in Soda", "url": url }))
}

/// `"2 checks failed, 1 warned"`, `"1 check warned"`…
fn summary(failed: usize, warned: usize) -> String {
    match (failed, warned) {
        (0, w) => format!("{w} check{} warned", plural(w)),
        (f, 0) => format!("{f} check{} failed", plural(f)),
        (f, w) => format!("{f} check{} failed, {w} warned", plural(f)),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests;
