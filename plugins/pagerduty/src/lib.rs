//! PagerDuty plugin for the Soda webhook gateway: triggers and resolves alerts through the
//! Events API v2 for failing checks and Soda incidents.
//!
//! See `README.md` for the configuration keys and behaviour. The request bodies are built by
//! pure functions in [`events`], unit-tested natively.

use serde_json::Value;
use soda_gateway_plugin_sdk::alerts::{plan_check_alerts, AlertPolicy, CheckAlert};
use soda_gateway_plugin_sdk::{
    export_plugin, info, state, warn, Action, CheckResult, Context, Error, Event, EventKind,
    Incident, IncidentStatus, Plugin,
};

pub mod config;
pub mod events;

use config::Config;

/// The plugin: one Events API v2 `POST` per alert to trigger or resolve.
pub struct PagerDuty;

impl Plugin for PagerDuty {
    fn handle(event: &Event, ctx: &Context) -> Result<Vec<Action>, Error> {
        let config = Config::parse(&ctx.config_json)?;
        let bodies = enqueue_bodies(&config, event);
        if !bodies.is_empty() {
            info!(
                event_kind = event.kind.name(),
                count = bodies.len(),
                "enqueueing PagerDuty events"
            );
        }
        bodies
            .iter()
            .map(|body| Action::post_json(&config.events_url, body))
            .collect()
    }
}

export_plugin!(PagerDuty);
soda_gateway_plugin_sdk::plugin_manifest!("plugin.json");

/// The Events API v2 bodies `event` calls for. Updates the record of open check alerts.
pub fn enqueue_bodies(config: &Config, event: &Event) -> Vec<Value> {
    match &event.kind {
        EventKind::CheckEvaluation(results) if config.alert_on_checks => {
            check_bodies(config, results)
        }
        EventKind::IncidentCreated(incident) if config.alert_on_incidents => incident_key(incident)
            .map(|key| events::trigger_incident(config, incident, &key))
            .into_iter()
            .collect(),
        EventKind::IncidentUpdated(incident)
            if config.alert_on_incidents && incident.status == IncidentStatus::Resolved =>
        {
            incident_key(incident)
                .map(|key| events::resolve(config, &key))
                .into_iter()
                .collect()
        }
        _ => Vec::new(),
    }
}

/// One event per check result that calls for it, at most `max_alerts` in all (see
/// `soda_gateway_plugin_sdk::alerts`): triggers for failing (or, if configured, warning)
/// results, resolves for passing results whose alert is open when `resolve_on_pass` is on, and
/// one summary trigger for the alerts past the limit.
fn check_bodies(config: &Config, results: &[CheckResult]) -> Vec<Value> {
    let policy = AlertPolicy {
        max_alerts: config.max_alerts,
        alert_on_warn: config.alert_on_warn,
        close_on_pass: config.resolve_on_pass,
    };
    let plan = plan_check_alerts(results, &policy, events::check_dedup_key);
    let mut bodies: Vec<Value> = plan
        .closes
        .iter()
        .map(|(_, key)| events::resolve(config, key))
        .collect();
    for alert in plan.opens {
        bodies.push(match alert {
            CheckAlert::One(result, key) => {
                remember_open(&key);
                events::trigger_check(config, result, &key)
            }
            CheckAlert::Summary(results) => events::trigger_summary(config, &results),
        });
    }
    bodies
}

/// Remembers in the plugin's state (one key per alert: its dedup key) that the alert under
/// `dedup_key` is open, so that a passing check resolves only an open alert. When the state
/// store refuses (it is full), the alert is still triggered but will not be resolved
/// automatically; that is logged.
fn remember_open(dedup_key: &str) {
    if let Err(e) = state::set(dedup_key, "open") {
        warn!(
            dedup_key = dedup_key,
            error = e,
            "cannot remember the open alert"
        );
    }
}

fn incident_key(incident: &Incident) -> Option<String> {
    let key = events::incident_dedup_key(incident);
    if key.is_none() {
        warn!("the incident has neither an id nor a number; nothing sent");
    }
    key
}

#[cfg(test)]
mod tests;
