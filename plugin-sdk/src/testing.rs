//! Builders for contract values in plugin unit tests (cargo feature `testing`, off by default).
//!
//! Enable it for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! soda-gateway-plugin-sdk = { path = "/path/to/soda-gateway/plugin-sdk", features = ["testing"] }
//! ```
//!
//! The plain builders ([`dataset`], [`check_result`], [`incident`]...) fill in only what
//! identifies a value and leave every optional field empty; set the rest with struct update
//! syntax. The `sample_` builders fill in every field a message might show, like Soda Cloud's own
//! events do.
//!
//! ```
//! use soda_gateway_plugin_sdk::testing::{check_result, dataset, event};
//! use soda_gateway_plugin_sdk::{CheckResult, EventKind, Outcome};
//!
//! let result = CheckResult {
//!     column: Some("customer_id".into()),
//!     datasets: vec![dataset("orders")],
//!     ..check_result("row_count > 0", Outcome::Fail)
//! };
//! let event = event(EventKind::CheckEvaluation(vec![result]));
//! assert_eq!(event.check_results()[0].outcome_raw.as_deref(), Some("fail"));
//! ```

use crate::{
    CheckResult, Context, Dataset, Datasource, Event, EventKind, Incident, IncidentStatus, Outcome,
    Severity, User,
};

/// An event `evt-1` of `kind`, with no callback URL and `{}` as its raw JSON.
pub fn event(kind: EventKind) -> Event {
    Event {
        id: "evt-1".into(),
        kind,
        sent_at: None,
        incident_link_callback_url: None,
        raw_json: "{}".into(),
    }
}

/// The context of tenant `acme` with `config_json` as the plugin's configuration.
pub fn context(config_json: impl Into<String>) -> Context {
    Context {
        tenant: "acme".into(),
        config_json: config_json.into(),
    }
}

/// A dataset with only a name.
pub fn dataset(name: &str) -> Dataset {
    Dataset {
        id: None,
        name: Some(name.into()),
        label: None,
        soda_cloud_url: None,
        tags: Vec::new(),
        owner: None,
        datasource: None,
        attributes: Vec::new(),
    }
}

/// A data source with only a name.
pub fn datasource(name: &str) -> Datasource {
    Datasource {
        id: None,
        name: Some(name.into()),
        label: None,
    }
}

/// A user with only an email address.
pub fn user(email: &str) -> User {
    User {
        id: None,
        email: Some(email.into()),
    }
}

/// A check result named `name`, with id `{name}-id`, Soda Cloud URL
/// `https://cloud.soda.io/checks/{name}` and `outcome` (spelled [`Outcome::as_str`] in
/// `outcome_raw`); no datasets and no other details.
pub fn check_result(name: &str, outcome: Outcome) -> CheckResult {
    CheckResult {
        id: Some(format!("{name}-id")),
        name: Some(name.into()),
        soda_cloud_url: Some(format!("https://cloud.soda.io/checks/{name}")),
        definition: None,
        datasets: Vec::new(),
        column: None,
        outcome,
        outcome_raw: Some(outcome.as_str().into()),
        data_timestamp: None,
        diagnostics_json: None,
        agreement: None,
        value: None,
        attributes: Vec::new(),
    }
}

/// Incident `inc-1` with Soda Cloud URL `https://cloud.soda.io/incidents/inc-1`, `severity` and
/// `status` (spelled [`Severity::as_str`] and [`IncidentStatus::as_str`] in the raw fields); no
/// number, texts, people or check results.
pub fn incident(severity: Severity, status: IncidentStatus) -> Incident {
    Incident {
        id: Some("inc-1".into()),
        soda_cloud_url: Some("https://cloud.soda.io/incidents/inc-1".into()),
        number: None,
        title: None,
        description: None,
        severity,
        severity_raw: Some(severity.as_str().into()),
        status,
        status_raw: Some(status.as_str().into()),
        created: None,
        last_updated: None,
        resolution_notes: None,
        resolution_timestamp: None,
        links: Vec::new(),
        lead: None,
        reporter: None,
        check_results: Vec::new(),
    }
}

/// Dataset `orders` (id `ds-1`, tag `sales`) in data source `postgres_prod`, with its Soda
/// Cloud URL.
pub fn sample_dataset() -> Dataset {
    Dataset {
        id: Some("ds-1".into()),
        soda_cloud_url: Some("https://cloud.soda.io/datasets/ds-1".into()),
        tags: vec!["sales".into()],
        datasource: Some(datasource("postgres_prod")),
        ..dataset("orders")
    }
}

/// Check `id` (named `Check {id}`, URL `https://cloud.soda.io/checks/{id}`) on
/// [`sample_dataset`]'s column `customer_id`, with a multi-line definition, a data timestamp
/// and diagnostics.
pub fn sample_check_result(id: &str, outcome: Outcome) -> CheckResult {
    CheckResult {
        id: Some(id.into()),
        name: Some(format!("Check {id}")),
        soda_cloud_url: Some(format!("https://cloud.soda.io/checks/{id}")),
        definition: Some("checks for orders:\n  - row_count > 0".into()),
        datasets: vec![sample_dataset()],
        column: Some("customer_id".into()),
        data_timestamp: Some("2025-06-05T13:00:00Z".into()),
        diagnostics_json: Some(r#"{"value":42.0}"#.into()),
        ..check_result(id, outcome)
    }
}

/// Incident #412, `Missing customer ids`, with a description, a creation time, a reporter and
/// one failing check ([`sample_check_result`] `c1`).
pub fn sample_incident(severity: Severity, status: IncidentStatus) -> Incident {
    Incident {
        number: Some(412),
        title: Some("Missing customer ids".into()),
        description: Some("42 orders without a customer id.".into()),
        created: Some("2025-06-05T13:07:12Z".into()),
        reporter: Some(user("maria@example.com")),
        check_results: vec![sample_check_result("c1", Outcome::Fail)],
        ..incident(severity, status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_builders_fill_in_identity_only() {
        let result = check_result("row_count > 0", Outcome::Warn);
        assert_eq!(result.id.as_deref(), Some("row_count > 0-id"));
        assert_eq!(result.outcome_raw.as_deref(), Some("warn"));
        assert!(result.datasets.is_empty() && result.column.is_none());

        let incident = incident(Severity::High, IncidentStatus::Resolved);
        assert_eq!(incident.severity_raw.as_deref(), Some("high"));
        assert_eq!(incident.status_raw.as_deref(), Some("resolved"));
        assert!(incident.title.is_none() && incident.check_results.is_empty());

        assert_eq!(context("{}").tenant, "acme");
        assert_eq!(event(EventKind::Unknown("x".into())).raw_json, "{}");
    }

    #[test]
    fn samples_are_filled_in() {
        let incident = sample_incident(Severity::Critical, IncidentStatus::Reported);
        assert_eq!(incident.number, Some(412));
        let result = &incident.check_results[0];
        assert_eq!(result.id.as_deref(), Some("c1"));
        assert_eq!(result.name.as_deref(), Some("Check c1"));
        assert_eq!(result.outcome_raw.as_deref(), Some("fail"));
        assert_eq!(result.datasets[0].datasource_name(), Some("postgres_prod"));
    }
}
