//! The tenant's configuration for the PagerDuty plugin.

use serde::Deserialize;
use soda_gateway_plugin_sdk::limits::DEFAULT_MAX_ACTIONS;
use soda_gateway_plugin_sdk::Error;

/// Where Events API v2 events go unless the config says otherwise.
pub const DEFAULT_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// The plugin's configuration for a tenant (see `README.md`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The integration's routing key, usually a `{{secret:NAME}}` placeholder (required).
    pub routing_key: String,
    /// The Events API v2 enqueue URL.
    #[serde(default = "default_events_url")]
    pub events_url: String,
    /// `payload.source` of every event.
    #[serde(default = "default_source")]
    pub source: String,
    /// Trigger an alert per failing check result of `checkEvaluation` events.
    #[serde(default = "yes")]
    pub alert_on_checks: bool,
    /// Trigger for `warn` outcomes too (severity `warning`).
    #[serde(default)]
    pub alert_on_warn: bool,
    /// Resolve a check's alert when the check passes again.
    #[serde(default = "yes")]
    pub resolve_on_pass: bool,
    /// Trigger on `incidentCreated`, resolve on `incidentUpdated` with status resolved.
    #[serde(default = "yes")]
    pub alert_on_incidents: bool,
    /// Events one check evaluation may send (at most the gateway's `max_actions`, 100 by
    /// default); failing checks past it are summed up in one alert.
    #[serde(default = "default_max_alerts")]
    pub max_alerts: usize,
}

/// Alerts one evaluation sends unless the config says otherwise.
pub const DEFAULT_MAX_ALERTS: usize = 50;

impl Config {
    /// Parses and checks the tenant's config JSON; errors name the offending key.
    pub fn parse(json: &str) -> Result<Self, Error> {
        let config: Config = serde_json::from_str(json)
            .map_err(|e| Error::new(format!("invalid pagerduty plugin config: {e}")))?;
        for (key, value) in [
            ("routing_key", &config.routing_key),
            ("events_url", &config.events_url),
            ("source", &config.source),
        ] {
            if value.trim().is_empty() {
                return Err(Error::new(format!(
                    "invalid pagerduty plugin config: `{key}` must not be empty"
                )));
            }
        }
        if !(2..=DEFAULT_MAX_ACTIONS).contains(&config.max_alerts) {
            return Err(Error::new(format!(
                "invalid pagerduty plugin config: `max_alerts` must be between 2 and \
                 {DEFAULT_MAX_ACTIONS}, found {}",
                config.max_alerts
            )));
        }
        Ok(config)
    }
}

fn default_max_alerts() -> usize {
    DEFAULT_MAX_ALERTS
}

fn default_events_url() -> String {
    DEFAULT_EVENTS_URL.to_string()
}

fn default_source() -> String {
    "Soda Cloud".to_string()
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_a_minimal_config() {
        let config = Config::parse(r#"{"routing_key": "{{secret:pd}}"}"#).unwrap();
        assert_eq!(
            config,
            Config {
                routing_key: "{{secret:pd}}".into(),
                events_url: DEFAULT_EVENTS_URL.into(),
                source: "Soda Cloud".into(),
                alert_on_checks: true,
                alert_on_warn: false,
                resolve_on_pass: true,
                alert_on_incidents: true,
                max_alerts: DEFAULT_MAX_ALERTS,
            }
        );
    }

    #[test]
    fn errors_name_the_key() {
        let missing = Config::parse("{}").unwrap_err();
        assert!(missing.message().contains("routing_key"), "{missing}");
        let empty = Config::parse(r#"{"routing_key": " "}"#).unwrap_err();
        assert!(empty.message().contains("`routing_key`"), "{empty}");
        let unknown = Config::parse(r#"{"routing_key": "k", "sevrity": "x"}"#).unwrap_err();
        assert!(unknown.message().contains("sevrity"), "{unknown}");
    }
}
