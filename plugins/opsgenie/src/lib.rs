//! Opsgenie plugin for the Soda webhook gateway: creates and closes Opsgenie alerts for failing
//! checks and Soda incidents through the Alert API.
//!
//! See `README.md` for the configuration keys and behaviour. The requests are built by pure
//! functions in [`alerts`], unit-tested natively.

use soda_gateway_plugin_sdk::alerts::{plan_check_alerts, AlertPolicy, CheckAlert};
use soda_gateway_plugin_sdk::{
    export_plugin, info, state, warn, Action, CheckResult, Context, Error, Event, EventKind,
    Incident, IncidentStatus, Plugin,
};

pub mod alerts;
pub mod config;

use alerts::Request;
use config::Config;

/// The plugin: one Alert API `POST` per alert to create or close.
pub struct Opsgenie;

impl Plugin for Opsgenie {
    fn handle(event: &Event, ctx: &Context) -> Result<Vec<Action>, Error> {
        let config = Config::parse(&ctx.config_json)?;
        let requests = alert_requests(&config, event);
        if !requests.is_empty() {
            info!(
                event_kind = event.kind.name(),
                count = requests.len(),
                "sending Opsgenie requests"
            );
        }
        requests
            .iter()
            .map(|request| {
                let url = format!("{}{}", config.api_url, request.path);
                Ok(Action::post_json(url, &request.body)?
                    .header("authorization", config.authorization()))
            })
            .collect()
    }
}

export_plugin!(Opsgenie);
soda_gateway_plugin_sdk::plugin_manifest!("plugin.json");

/// The Alert API requests `event` calls for. Updates the record of open check alerts.
pub fn alert_requests(config: &Config, event: &Event) -> Vec<Request> {
    match &event.kind {
        EventKind::CheckEvaluation(results) if config.alert_on_checks => {
            check_requests(config, results)
        }
        EventKind::IncidentCreated(incident) if config.alert_on_incidents => {
            incident_alias(incident)
                .map(|alias| alerts::create_incident(config, incident, &alias))
                .into_iter()
                .collect()
        }
        EventKind::IncidentUpdated(incident)
            if config.alert_on_incidents && incident.status == IncidentStatus::Resolved =>
        {
            incident_alias(incident)
                .map(|alias| {
                    alerts::close(config, &alias, &alerts::incident_resolved_note(incident))
                })
                .into_iter()
                .collect()
        }
        _ => Vec::new(),
    }
}

/// One request per check result that calls for it, at most `max_alerts` in all (see
/// `soda_gateway_plugin_sdk::alerts`): creates for failing (or, if configured, warning)
/// results, closes for passing results whose alert is open when `close_on_pass` is on, and one
/// summary alert for the alerts past the limit.
fn check_requests(config: &Config, results: &[CheckResult]) -> Vec<Request> {
    let policy = AlertPolicy {
        max_alerts: config.max_alerts,
        alert_on_warn: config.alert_on_warn,
        close_on_pass: config.close_on_pass,
    };
    let plan = plan_check_alerts(results, &policy, alerts::check_alias);
    let mut requests: Vec<Request> = plan
        .closes
        .iter()
        .map(|(result, alias)| alerts::close(config, alias, &alerts::check_passed_note(result)))
        .collect();
    for alert in plan.opens {
        requests.push(match alert {
            CheckAlert::One(result, alias) => {
                remember_open(&alias);
                alerts::create_check(config, result, &alias)
            }
            CheckAlert::Summary(results) => alerts::create_summary(config, &results),
        });
    }
    requests
}

/// Remembers in the plugin's state (one key per alert: its alias) that the alert under `alias`
/// is open, so that a passing check closes only an open alert. When the state store refuses (it
/// is full), the alert is still created but will not be closed automatically; that is logged.
fn remember_open(alias: &str) {
    if let Err(e) = state::set(alias, "open") {
        warn!(alias = alias, error = e, "cannot remember the open alert");
    }
}

fn incident_alias(incident: &Incident) -> Option<String> {
    let alias = alerts::incident_alias(incident);
    if alias.is_none() {
        warn!("the incident has neither an id nor a number; nothing sent");
    }
    alias
}

#[cfg(test)]
mod tests;
