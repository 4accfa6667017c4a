//! The tenant's configuration for the Jira plugin, with its defaults.

use std::collections::BTreeMap;

use serde::Deserialize;
use soda_gateway_plugin_sdk::{Error, Incident};

/// The plugin's configuration for a tenant (see `README.md`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The Jira site, e.g. `https://acme.atlassian.net` (required; a trailing `/` is ignored).
    pub base_url: String,
    /// The key of the project issues are created in, e.g. `DATA` (required).
    pub project_key: String,
    /// The `authorization` header value, e.g. `Basic {{secret:jira_auth}}` (required).
    pub authorization: String,
    /// The issue type of created issues.
    #[serde(default = "default_issue_type")]
    pub issue_type: String,
    /// Jira priority name by Soda severity (raw or normalised, case-insensitive); a severity
    /// with no entry sets no priority.
    #[serde(default = "default_priorities")]
    pub priorities: BTreeMap<String, String>,
    /// Labels put on every created issue.
    #[serde(default)]
    pub labels: Vec<String>,
    /// The name of the transition that resolves an issue (case-insensitive).
    #[serde(default = "default_resolve_transition")]
    pub resolve_transition: String,
}

fn default_issue_type() -> String {
    "Bug".to_string()
}

fn default_resolve_transition() -> String {
    "Done".to_string()
}

/// Soda's normalised severities onto Jira's default priority scheme. First-generation `minor`
/// and `major` are normalised to `low` and `high` before the lookup.
fn default_priorities() -> BTreeMap<String, String> {
    [
        ("critical", "Highest"),
        ("high", "High"),
        ("medium", "Medium"),
        ("low", "Low"),
    ]
    .into_iter()
    .map(|(severity, priority)| (severity.to_string(), priority.to_string()))
    .collect()
}

impl Config {
    /// Parses and checks the tenant's config JSON; errors name the offending key.
    pub fn parse(json: &str) -> Result<Self, Error> {
        let mut config: Config = serde_json::from_str(json)
            .map_err(|e| Error::new(format!("invalid jira plugin config: {e}")))?;
        for (key, value) in [
            ("base_url", &config.base_url),
            ("project_key", &config.project_key),
            ("authorization", &config.authorization),
            ("issue_type", &config.issue_type),
            ("resolve_transition", &config.resolve_transition),
        ] {
            if value.trim().is_empty() {
                return Err(Error::new(format!(
                    "invalid jira plugin config: `{key}` must not be empty"
                )));
            }
        }
        config.base_url = config.base_url.trim_end_matches('/').to_string();
        config.priorities = config
            .priorities
            .into_iter()
            .map(|(severity, priority)| (severity.to_lowercase(), priority))
            .collect();
        Ok(config)
    }

    /// The Jira priority for the incident's severity: the raw severity's entry, else the
    /// normalised severity's, else none.
    pub fn priority_for(&self, incident: &Incident) -> Option<&str> {
        let raw = incident.severity_raw.as_deref().map(str::to_lowercase);
        let by_raw = raw.and_then(|raw| self.priorities.get(&raw));
        by_raw
            .or_else(|| self.priorities.get(incident.severity.as_str()))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use soda_gateway_plugin_sdk::{testing, IncidentStatus, Severity};

    const MINIMAL: &str = r#"{"base_url": "https://acme.atlassian.net/", "project_key": "DATA", "authorization": "Basic x"}"#;

    fn incident(severity: Severity, raw: &str) -> Incident {
        Incident {
            id: None,
            soda_cloud_url: None,
            severity_raw: Some(raw.to_string()),
            status_raw: None,
            ..testing::incident(severity, IncidentStatus::Reported)
        }
    }

    #[test]
    fn defaults_fill_the_optional_keys() {
        let config = Config::parse(MINIMAL).unwrap();
        assert_eq!(config.base_url, "https://acme.atlassian.net");
        assert_eq!(config.issue_type, "Bug");
        assert_eq!(config.resolve_transition, "Done");
        assert!(config.labels.is_empty());
        assert_eq!(config.priorities, default_priorities());
    }

    #[test]
    fn missing_and_unknown_keys_are_named() {
        let missing = Config::parse(r#"{"base_url": "https://x", "authorization": "a"}"#);
        assert!(missing.unwrap_err().message().contains("project_key"));
        let unknown = Config::parse(&MINIMAL.replace('}', r#", "projekt": "X"}"#));
        assert!(unknown.unwrap_err().message().contains("projekt"));
        let empty = Config::parse(&MINIMAL.replace("DATA", " "));
        assert!(empty
            .unwrap_err()
            .message()
            .contains("`project_key` must not be empty"));
    }

    #[test]
    fn both_generations_of_severity_get_a_default_priority() {
        let config = Config::parse(MINIMAL).unwrap();
        let cases = [
            (Severity::Low, "minor", "Low"),
            (Severity::High, "major", "High"),
            (Severity::Critical, "critical", "Highest"),
            (Severity::Low, "low", "Low"),
            (Severity::Medium, "medium", "Medium"),
            (Severity::High, "high", "High"),
        ];
        for (severity, raw, priority) in cases {
            assert_eq!(
                config.priority_for(&incident(severity, raw)),
                Some(priority),
                "{raw}"
            );
        }
        assert_eq!(
            config.priority_for(&incident(Severity::Other, "weird")),
            None
        );
    }

    #[test]
    fn a_raw_severity_entry_wins_over_the_normalised_one() {
        let json = MINIMAL.replace('}', r#", "priorities": {"Major": "P2", "high": "P1"}}"#);
        let config = Config::parse(&json).unwrap();
        assert_eq!(
            config.priority_for(&incident(Severity::High, "major")),
            Some("P2")
        );
        assert_eq!(
            config.priority_for(&incident(Severity::High, "high")),
            Some("P1")
        );
        assert_eq!(config.priority_for(&incident(Severity::Low, "minor")), None);
    }
}
