//! The typed Soda event model, shaped after Soda's two documented payload generations.
//!
//! Everything Soda may leave out is an `Option`; scalar fields accept strings, numbers or
//! booleans (Soda's examples are not always consistent), and the open enumerations (outcome,
//! severity, status) keep the raw string next to a normalised value.

use serde::Deserialize;

use super::lenient::{attribute_pairs, null_as_empty, opt_string, string_list};

/// A Soda Cloud user: dataset owner, incident lead or reporter, contract author.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct User {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub email: Option<String>,
}

/// The data source a dataset lives in.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Datasource {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub label: Option<String>,
}

/// A custom dataset attribute such as "Data Domain: Product".
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Attribute {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub label: Option<String>,
    /// The value as text; non-string values are kept as their JSON text.
    #[serde(deserialize_with = "opt_string")]
    pub value: Option<String>,
}

/// A dataset a check result is about.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Dataset {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub label: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub soda_cloud_url: Option<String>,
    #[serde(deserialize_with = "string_list")]
    pub tags: Vec<String>,
    pub owner: Option<User>,
    pub datasource: Option<Datasource>,
    #[serde(deserialize_with = "null_as_empty")]
    pub attributes: Vec<Attribute>,
}

/// The agreement a check belongs to.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Agreement {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub soda_cloud_url: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub label: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub approval_state: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub evaluation_result: Option<String>,
}

/// One check result (in `checkEvaluation` and inside incidents).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct CheckResult {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub soda_cloud_url: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub definition: Option<String>,
    #[serde(deserialize_with = "null_as_empty")]
    pub datasets: Vec<Dataset>,
    #[serde(deserialize_with = "opt_string")]
    pub column: Option<String>,
    /// The outcome exactly as Soda sent it in `outcome`; see [`CheckResult::outcome`].
    #[serde(rename = "outcome", deserialize_with = "opt_string")]
    pub outcome_raw: Option<String>,
    /// The outcome in the newer check-result shape, which sends `evaluationStatus` (same values)
    /// instead of `outcome`.
    #[serde(deserialize_with = "opt_string")]
    pub evaluation_status: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub data_timestamp: Option<String>,
    pub diagnostics: Option<serde_json::Value>,
    pub agreement: Option<Agreement>,
    /// The measured value (newer shape), as text.
    #[serde(deserialize_with = "opt_string")]
    pub value: Option<String>,
    /// The check's own attributes (newer shape: a map), as (name, text) pairs in the order sent.
    #[serde(deserialize_with = "attribute_pairs")]
    pub attributes: Vec<(String, String)>,
}

impl CheckResult {
    /// The normalised outcome: `outcome`, or `evaluationStatus` when `outcome` is absent.
    pub fn outcome(&self) -> Outcome {
        Outcome::parse(self.reported_outcome())
    }

    /// The outcome string Soda sent: `outcome`, or `evaluationStatus` when `outcome` is absent.
    pub fn reported_outcome(&self) -> Option<&str> {
        self.outcome_raw
            .as_deref()
            .or(self.evaluation_status.as_deref())
    }
}

/// A link already attached to an incident.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct IncidentLink {
    #[serde(deserialize_with = "opt_string")]
    pub integration_type: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub url: Option<String>,
}

/// A Soda incident. Both timestamp spellings are accepted: `createdTimestamp` (first
/// generation) and `created` (second), likewise for the last update.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Incident {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub soda_cloud_url: Option<String>,
    pub number: Option<i64>,
    #[serde(deserialize_with = "opt_string")]
    pub title: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub description: Option<String>,
    /// The severity exactly as Soda sent it; see [`Incident::severity`].
    #[serde(rename = "severity", deserialize_with = "opt_string")]
    pub severity_raw: Option<String>,
    /// The status exactly as Soda sent it; see [`Incident::status`].
    #[serde(rename = "status", deserialize_with = "opt_string")]
    pub status_raw: Option<String>,
    #[serde(alias = "createdTimestamp", deserialize_with = "opt_string")]
    pub created: Option<String>,
    #[serde(alias = "lastUpdatedTimestamp", deserialize_with = "opt_string")]
    pub last_updated: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub resolution_notes: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub resolution_timestamp: Option<String>,
    #[serde(deserialize_with = "null_as_empty")]
    pub links: Vec<IncidentLink>,
    pub lead: Option<User>,
    pub reporter: Option<User>,
    #[serde(deserialize_with = "null_as_empty")]
    pub check_results: Vec<CheckResult>,
    /// Second-generation payloads carry the callback URL inside the incident.
    #[serde(deserialize_with = "opt_string")]
    pub incident_link_callback_url: Option<String>,
}

impl Incident {
    /// The normalised severity.
    pub fn severity(&self) -> Severity {
        Severity::parse(self.severity_raw.as_deref())
    }

    /// The normalised status.
    pub fn status(&self) -> IncidentStatus {
        IncidentStatus::parse(self.status_raw.as_deref())
    }
}

/// A published data contract.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Contract {
    #[serde(deserialize_with = "opt_string")]
    pub dataset: Option<String>,
    #[serde(deserialize_with = "string_list")]
    pub prefixes: Vec<String>,
    #[serde(deserialize_with = "opt_string")]
    pub datasource: Option<String>,
    pub author: Option<User>,
    #[serde(deserialize_with = "opt_string")]
    pub contents: Option<String>,
}

/// Normalised check outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
    Error,
    NotEvaluated,
    Excluded,
    Other,
}

impl Outcome {
    /// Normalises Soda's outcome string; unknown or missing values become `Other`.
    pub fn parse(raw: Option<&str>) -> Self {
        match raw.map(str::to_ascii_lowercase).as_deref() {
            Some("pass" | "passed") => Self::Pass,
            Some("warn" | "warning") => Self::Warn,
            Some("fail" | "failed") => Self::Fail,
            Some("error") => Self::Error,
            Some("notevaluated" | "not_evaluated") => Self::NotEvaluated,
            Some("excluded") => Self::Excluded,
            _ => Self::Other,
        }
    }
}

/// Normalised incident severity across both generations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
    Other,
}

impl Severity {
    /// Maps `minor`→low, `major`→high (first generation) and the second generation as is.
    pub fn parse(raw: Option<&str>) -> Self {
        match raw.map(str::to_ascii_lowercase).as_deref() {
            Some("low" | "minor") => Self::Low,
            Some("medium") => Self::Medium,
            Some("high" | "major") => Self::High,
            Some("critical") => Self::Critical,
            _ => Self::Other,
        }
    }
}

/// Normalised incident status across both generations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentStatus {
    Reported,
    Investigating,
    Fixing,
    InProgress,
    Resolved,
    Other,
}

impl IncidentStatus {
    /// Maps `opened` to reported and `in_progress`/`inProgress` to in-progress.
    pub fn parse(raw: Option<&str>) -> Self {
        match raw.map(str::to_ascii_lowercase).as_deref() {
            Some("opened" | "open" | "reported") => Self::Reported,
            Some("investigating") => Self::Investigating,
            Some("fixing") => Self::Fixing,
            Some("in_progress" | "inprogress" | "in-progress") => Self::InProgress,
            Some("resolved") => Self::Resolved,
            _ => Self::Other,
        }
    }
}
