//! Pure functions turning Soda events into Slack incoming-webhook payloads (Block Kit).
//!
//! Slack limits respected: at most 50 blocks per message (results beyond
//! [`MAX_RESULTS`] are summarised in a final context block), header text up to 150 characters,
//! section text up to 3000 and field text up to 2000. Text put in `mrkdwn` is escaped (`&`, `<`,
//! `>`).

use serde::Deserialize;
use serde_json::{json, Value};
use soda_gateway_plugin_sdk::text::{is_web_url, truncate};
use soda_gateway_plugin_sdk::{CheckResult, Dataset, Error, Incident, Outcome, User};

/// How many alerting results get their own section in one message.
pub const MAX_RESULTS: usize = 20;

/// The plugin's configuration for a tenant.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The Slack incoming-webhook URL to POST to (required).
    pub webhook_url: String,
    /// Channel override (honoured by legacy webhooks only), e.g. `#data-alerts`.
    #[serde(default)]
    pub channel: Option<String>,
    /// Sender name override (honoured by legacy webhooks only).
    #[serde(default)]
    pub username: Option<String>,
    /// Who to notify, e.g. `@here`, `@channel`, `<@U024BE7LH>` or `<!subteam^SAZ94GDB8>`.
    #[serde(default)]
    pub mention: Option<String>,
}

impl Config {
    /// Parses and checks the tenant's config JSON; errors name the offending key.
    pub fn parse(json: &str) -> Result<Self, Error> {
        let config: Config = serde_json::from_str(json)
            .map_err(|e| Error::new(format!("invalid slack plugin config: {e}")))?;
        if config.webhook_url.trim().is_empty() {
            return Err(Error::new(
                "invalid slack plugin config: `webhook_url` must not be empty",
            ));
        }
        Ok(config)
    }

    /// The mention in Slack's markup (`@here` becomes `<!here>`), if one is configured.
    pub fn mention_markup(&self) -> Option<String> {
        let mention = self.mention.as_deref()?.trim();
        let markup = match mention.trim_start_matches('@') {
            "" => return None,
            "here" | "channel" | "everyone" => format!("<!{}>", mention.trim_start_matches('@')),
            _ => mention.to_string(),
        };
        Some(markup)
    }
}

/// The message for a `checkEvaluation` event: one summary listing every result whose outcome is
/// fail or warn, or `None` when nothing alerts.
pub fn check_evaluation(config: &Config, results: &[CheckResult]) -> Option<Value> {
    let alerting: Vec<&CheckResult> = results.iter().filter(|r| r.is_alerting()).collect();
    if alerting.is_empty() {
        return None;
    }
    let failed = alerting
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .count();
    let warned = alerting.len() - failed;
    let summary = summary(failed, warned);

    let mut fallback = format!("Soda: {summary}");
    let names: Vec<&str> = alerting.iter().map(|r| r.display_name()).collect();
    fallback.push_str(": ");
    fallback.push_str(&names.join(", "));

    let mut blocks = vec![header(&format!("Soda: {summary}"))];
    if let Some(mention) = config.mention_markup() {
        blocks.push(mrkdwn_section(&mention));
    }
    for result in alerting.iter().take(MAX_RESULTS) {
        blocks.push(json!({ "type": "divider" }));
        blocks.push(result_section(result));
    }
    if alerting.len() > MAX_RESULTS {
        let more = alerting.len() - MAX_RESULTS;
        blocks.push(json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": format!("…and {more} more alerting check{}", plural(more)) }],
        }));
    }
    Some(payload(config, &fallback, blocks))
}

/// The message for an `incidentCreated` event.
pub fn incident_created(config: &Config, incident: &Incident) -> Value {
    let title = incident.title.as_deref().unwrap_or("(untitled)");
    let name = match incident.number {
        Some(number) => format!("Incident #{number}"),
        None => "Incident".to_string(),
    };
    let severity = incident.severity_str();
    let status = incident.status_str();
    let fallback = format!("Soda: {name} created: {title} (severity {severity}, status {status})");

    let mut blocks = vec![header(&format!("{name}: {title}"))];
    if let Some(mention) = config.mention_markup() {
        blocks.push(mrkdwn_section(&mention));
    }

    let mut fields = vec![
        field("Severity", &escape(severity)),
        field("Status", &escape(status)),
    ];
    if let Some(lead) = incident.lead.as_ref().and_then(User::display_name) {
        fields.push(field("Lead", &escape(lead)));
    }
    if let Some(reporter) = incident.reporter.as_ref().and_then(User::display_name) {
        fields.push(field("Reporter", &escape(reporter)));
    }
    let text = format!(
        ":rotating_light: *New Soda incident* — {}",
        escape(&format!("{name}: {title}"))
    );
    let mut section = json!({
        "type": "section",
        "text": { "type": "mrkdwn", "text": truncate(&text, 3000) },
        "fields": fields,
    });
    if let Some(button) = button("Open incident", incident.soda_cloud_url.as_deref()) {
        section["accessory"] = button;
    }
    blocks.push(section);

    if let Some(description) = incident
        .description
        .as_deref()
        .filter(|d| !d.trim().is_empty())
    {
        blocks.push(mrkdwn_section(&escape(description)));
    }
    if !incident.check_results.is_empty() {
        let checks: Vec<String> = incident
            .check_results
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    emoji(r.outcome),
                    link(r.display_name(), r.soda_cloud_url.as_deref())
                )
            })
            .collect();
        blocks.push(json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": truncate(&format!("Checks: {}", checks.join(", ")), 3000) }],
        }));
    }
    payload(config, &fallback, blocks)
}

/// `"2 checks failed, 1 warned"`, `"1 check warned"`…
fn summary(failed: usize, warned: usize) -> String {
    match (failed, warned) {
        (0, w) => format!("{w} check{} warned", plural(w)),
        (f, 0) => format!("{f} check{} failed", plural(f)),
        (f, w) => format!("{f} check{} failed, {w} warned", plural(f)),
    }
}

/// The section describing one alerting result.
fn result_section(result: &CheckResult) -> Value {
    let mut text = format!(
        "{} *{}* — {}",
        emoji(result.outcome),
        escape(result.display_name()),
        escape(result.outcome_str()),
    );
    if let Some(definition) = result.definition.as_deref() {
        if Some(definition) != result.name.as_deref() && !definition.trim().is_empty() {
            text.push_str(&format!("\n`{}`", escape(definition)));
        }
    }

    let mut fields = Vec::new();
    if !result.datasets.is_empty() {
        let datasets: Vec<String> = result.datasets.iter().map(dataset_text).collect();
        let label = if datasets.len() == 1 {
            "Dataset"
        } else {
            "Datasets"
        };
        fields.push(field(label, &datasets.join(", ")));
    }
    if let Some(column) = result.column.as_deref().filter(|c| !c.trim().is_empty()) {
        fields.push(field("Column", &escape(column)));
    }
    if let Some(value) = result.value.as_deref().filter(|v| !v.trim().is_empty()) {
        fields.push(field("Value", &escape(value)));
    }
    if let Some(agreement) = &result.agreement {
        let label = agreement
            .label
            .as_deref()
            .or(agreement.id.as_deref())
            .unwrap_or("agreement");
        fields.push(field(
            "Agreement",
            &link(label, agreement.soda_cloud_url.as_deref()),
        ));
    }
    if let Some(timestamp) = result.data_timestamp.as_deref() {
        fields.push(field("Data timestamp", &escape(timestamp)));
    }

    let mut section = json!({
        "type": "section",
        "text": { "type": "mrkdwn", "text": truncate(&text, 3000) },
    });
    if !fields.is_empty() {
        section["fields"] = Value::Array(fields);
    }
    if let Some(button) = button("View in Soda", result.soda_cloud_url.as_deref()) {
        section["accessory"] = button;
    }
    section
}

/// `orders (postgres)`, linked to the dataset in Soda Cloud when it has a URL.
fn dataset_text(dataset: &Dataset) -> String {
    let name = link(dataset.display_name(), dataset.soda_cloud_url.as_deref());
    match dataset.datasource_name() {
        Some(datasource) => format!("{name} ({})", escape(datasource)),
        None => name,
    }
}

/// The whole webhook body.
fn payload(config: &Config, fallback: &str, blocks: Vec<Value>) -> Value {
    let text = match config.mention_markup() {
        Some(mention) => format!("{mention} {}", escape(fallback)),
        None => escape(fallback),
    };
    let mut payload = json!({ "text": text, "blocks": blocks });
    if let Some(channel) = &config.channel {
        payload["channel"] = json!(channel);
    }
    if let Some(username) = &config.username {
        payload["username"] = json!(username);
    }
    payload
}

fn header(text: &str) -> Value {
    json!({
        "type": "header",
        "text": { "type": "plain_text", "text": truncate(text, 150), "emoji": true },
    })
}

fn mrkdwn_section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": truncate(text, 3000) } })
}

/// A section field: bold label, value on the next line. `value` is already escaped.
fn field(label: &str, value: &str) -> Value {
    json!({ "type": "mrkdwn", "text": truncate(&format!("*{label}*\n{value}"), 2000) })
}

/// A link button, when `url` is an http(s) URL Slack accepts.
fn button(text: &str, url: Option<&str>) -> Option<Value> {
    let url = url.filter(|u| is_linkable(u))?;
    Some(json!({
        "type": "button",
        "text": { "type": "plain_text", "text": text },
        "url": url,
    }))
}

/// `<url|text>` when `url` is usable, else the escaped text.
fn link(text: &str, url: Option<&str>) -> String {
    match url.filter(|u| is_linkable(u)) {
        Some(url) => format!(
            "<{}|{}>",
            url.replace('|', "%7C").replace('>', "%3E"),
            escape(text)
        ),
        None => escape(text),
    }
}

/// A web URL short enough for Slack's links and buttons.
fn is_linkable(url: &str) -> bool {
    is_web_url(url) && url.len() <= 3000
}

fn emoji(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Fail => ":red_circle:",
        Outcome::Warn => ":large_yellow_circle:",
        Outcome::Pass => ":large_green_circle:",
        _ => ":white_circle:",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Escapes the three characters Slack's `mrkdwn` treats as control characters.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests;
