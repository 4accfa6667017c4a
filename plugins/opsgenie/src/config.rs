//! The tenant's configuration for the Opsgenie plugin.

use serde::Deserialize;
use soda_gateway_plugin_sdk::limits::DEFAULT_MAX_ACTIONS;
use soda_gateway_plugin_sdk::Error;

/// The Alert API's base URL unless the config says otherwise (EU accounts use
/// `https://api.eu.opsgenie.com`).
pub const DEFAULT_API_URL: &str = "https://api.opsgenie.com";

/// The plugin's configuration for a tenant (see `README.md`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The API integration's key, usually a `{{secret:NAME}}` placeholder (required).
    pub api_key: String,
    /// The Alert API's base URL, without `/v2/alerts`.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// `source` of every alert and close request.
    #[serde(default = "default_source")]
    pub source: String,
    /// Extra tags on every alert.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Create an alert per failing check result of `checkEvaluation` events.
    #[serde(default = "yes")]
    pub alert_on_checks: bool,
    /// Create alerts for `warn` outcomes too (priority P4).
    #[serde(default)]
    pub alert_on_warn: bool,
    /// Close a check's alert when the check passes again.
    #[serde(default = "yes")]
    pub close_on_pass: bool,
    /// Create an alert on `incidentCreated`, close it on `incidentUpdated` with status resolved.
    #[serde(default = "yes")]
    pub alert_on_incidents: bool,
    /// Requests one check evaluation may send (at most the gateway's `max_actions`, 100 by
    /// default); failing checks past it are summed up in one alert.
    #[serde(default = "default_max_alerts")]
    pub max_alerts: usize,
}

/// Alerts one evaluation sends unless the config says otherwise.
pub const DEFAULT_MAX_ALERTS: usize = 50;

impl Config {
    /// Parses and checks the tenant's config JSON; errors name the offending key.
    pub fn parse(json: &str) -> Result<Self, Error> {
        let mut config: Config = serde_json::from_str(json)
            .map_err(|e| Error::new(format!("invalid opsgenie plugin config: {e}")))?;
        for (key, value) in [
            ("api_key", &config.api_key),
            ("api_url", &config.api_url),
            ("source", &config.source),
        ] {
            if value.trim().is_empty() {
                return Err(Error::new(format!(
                    "invalid opsgenie plugin config: `{key}` must not be empty"
                )));
            }
        }
        if !(2..=DEFAULT_MAX_ACTIONS).contains(&config.max_alerts) {
            return Err(Error::new(format!(
                "invalid opsgenie plugin config: `max_alerts` must be between 2 and \
                 {DEFAULT_MAX_ACTIONS}, found {}",
                config.max_alerts
            )));
        }
        config.api_url = config.api_url.trim_end_matches('/').to_string();
        Ok(config)
    }

    /// The `authorization` header value.
    pub fn authorization(&self) -> String {
        format!("GenieKey {}", self.api_key)
    }
}

fn default_api_url() -> String {
    DEFAULT_API_URL.to_string()
}

fn default_max_alerts() -> usize {
    DEFAULT_MAX_ALERTS
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
        let config = Config::parse(r#"{"api_key": "{{secret:og}}"}"#).unwrap();
        assert_eq!(
            config,
            Config {
                api_key: "{{secret:og}}".into(),
                api_url: DEFAULT_API_URL.into(),
                source: "Soda Cloud".into(),
                tags: Vec::new(),
                alert_on_checks: true,
                alert_on_warn: false,
                close_on_pass: true,
                alert_on_incidents: true,
                max_alerts: DEFAULT_MAX_ALERTS,
            }
        );
        assert_eq!(config.authorization(), "GenieKey {{secret:og}}");
    }

    #[test]
    fn a_trailing_slash_on_the_api_url_is_dropped() {
        let config =
            Config::parse(r#"{"api_key": "k", "api_url": "https://api.eu.opsgenie.com/"}"#)
                .unwrap();
        assert_eq!(config.api_url, "https://api.eu.opsgenie.com");
    }

    #[test]
    fn errors_name_the_key() {
        let missing = Config::parse("{}").unwrap_err();
        assert!(missing.message().contains("api_key"), "{missing}");
        let empty = Config::parse(r#"{"api_key": ""}"#).unwrap_err();
        assert!(empty.message().contains("`api_key`"), "{empty}");
        let unknown = Config::parse(r#"{"api_key": "k", "priority": "P1"}"#).unwrap_err();
        assert!(unknown.message().contains("priority"), "{unknown}");
    }
}
