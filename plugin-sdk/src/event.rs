//! Convenience methods on the event model: config parsing, raw JSON access and display helpers.

use serde::de::DeserializeOwned;

use crate::{
    CheckResult, Context, Dataset, Error, Event, EventKind, Incident, IncidentStatus, Outcome,
    Severity, User,
};

impl Context {
    /// Parses this plugin's configuration for the tenant (`config-json`) into `T`.
    ///
    /// The error names what is wrong, for example `invalid plugin config: missing field
    /// `webhook_url``. Unset configuration is `{}`, so a struct whose fields are all optional or
    /// defaulted always parses.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(&self.config_json)
            .map_err(|e| Error::new(format!("invalid plugin config: {e}")))
    }
}

impl Event {
    /// Parses the body exactly as Soda sent it (`raw-json`), for fields the typed model does not
    /// cover; `event.raw::<serde_json::Value>()` gives the whole document.
    pub fn raw<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(&self.raw_json)
            .map_err(|e| Error::new(format!("invalid event JSON: {e}")))
    }

    /// The incident of an `incidentCreated` or `incidentUpdated` event.
    pub fn incident(&self) -> Option<&Incident> {
        match &self.kind {
            EventKind::IncidentCreated(incident) | EventKind::IncidentUpdated(incident) => {
                Some(incident)
            }
            _ => None,
        }
    }

    /// The check results of a `checkEvaluation` event, or those attached to an incident.
    pub fn check_results(&self) -> &[CheckResult] {
        match &self.kind {
            EventKind::CheckEvaluation(results) => results,
            EventKind::IncidentCreated(incident) | EventKind::IncidentUpdated(incident) => {
                &incident.check_results
            }
            _ => &[],
        }
    }
}

impl EventKind {
    /// Soda's name for the event type: `checkEvaluation`, `incidentCreated`, `incidentUpdated`,
    /// `contractPublished`, or the unknown type's own name.
    pub fn name(&self) -> &str {
        match self {
            EventKind::CheckEvaluation(_) => "checkEvaluation",
            EventKind::IncidentCreated(_) => "incidentCreated",
            EventKind::IncidentUpdated(_) => "incidentUpdated",
            EventKind::ContractPublished(_) => "contractPublished",
            EventKind::Unknown(name) => name,
        }
    }
}

impl CheckResult {
    /// Whether the result should alert someone: its outcome is `fail` or `warn`.
    pub fn is_alerting(&self) -> bool {
        self.outcome.is_alerting()
    }

    /// A human name for the check: its name, else its definition, else its id, else `"check"`.
    pub fn display_name(&self) -> &str {
        first_non_empty([&self.name, &self.definition, &self.id]).unwrap_or("check")
    }

    /// The normalised [`Outcome::as_str`], or for [`Outcome::Other`] what Soda sent.
    pub fn outcome_str(&self) -> &str {
        match self.outcome {
            Outcome::Other => first_non_empty([&self.outcome_raw]).unwrap_or("other"),
            known => known.as_str(),
        }
    }
}

impl Dataset {
    /// A human name for the dataset: its label, else its name, else its id, else `"dataset"`.
    pub fn display_name(&self) -> &str {
        first_non_empty([&self.label, &self.name, &self.id]).unwrap_or("dataset")
    }

    /// A human name for the dataset's data source (label, else name, else id), if it has one.
    pub fn datasource_name(&self) -> Option<&str> {
        let ds = self.datasource.as_ref()?;
        first_non_empty([&ds.label, &ds.name, &ds.id])
    }
}

impl User {
    /// A human name for the user: the email, else the id.
    pub fn display_name(&self) -> Option<&str> {
        first_non_empty([&self.email, &self.id])
    }
}

impl Incident {
    /// The normalised [`Severity::as_str`], or for [`Severity::Other`] what Soda sent.
    pub fn severity_str(&self) -> &str {
        match self.severity {
            Severity::Other => first_non_empty([&self.severity_raw]).unwrap_or("other"),
            known => known.as_str(),
        }
    }

    /// The normalised [`IncidentStatus::as_str`], or for [`IncidentStatus::Other`] what Soda sent.
    pub fn status_str(&self) -> &str {
        match self.status {
            IncidentStatus::Other => first_non_empty([&self.status_raw]).unwrap_or("other"),
            known => known.as_str(),
        }
    }
}

impl Outcome {
    /// Whether the outcome should alert someone: `fail` or `warn`.
    pub fn is_alerting(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::Warn)
    }

    /// The normalised name: `pass`, `warn`, `fail`, `error`, `not-evaluated`, `excluded` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
            Outcome::NotEvaluated => "not-evaluated",
            Outcome::Excluded => "excluded",
            Outcome::Other => "other",
        }
    }
}

impl Severity {
    /// The normalised name: `low`, `medium`, `high`, `critical` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
            Severity::Other => "other",
        }
    }
}

impl IncidentStatus {
    /// The normalised name: `reported`, `investigating`, `fixing`, `in-progress`, `resolved` or
    /// `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Reported => "reported",
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Fixing => "fixing",
            IncidentStatus::InProgress => "in-progress",
            IncidentStatus::Resolved => "resolved",
            IncidentStatus::Other => "other",
        }
    }
}

/// The first of `options` that is set and not blank.
fn first_non_empty<const N: usize>(options: [&Option<String>; N]) -> Option<&str> {
    options
        .into_iter()
        .filter_map(|o| o.as_deref())
        .find(|s| !s.trim().is_empty())
}
