//! Soda Cloud events: parsing a raw webhook body into a typed [`SodaEvent`].
//!
//! Both documented payload generations parse (see `model` for the field aliases), enumerations
//! stay open, fields this model does not know stay reachable in the raw body (which plugins get
//! too), and an event type this gateway does not know is accepted as [`EventKind::Unknown`]
//! rather than rejected. The body is parsed once, straight into the typed model.

mod lenient;
mod model;

pub use model::{
    Agreement, Attribute, CheckResult, Contract, Dataset, Datasource, Incident, IncidentLink,
    IncidentStatus, Outcome, Severity, User,
};

use serde::Deserialize;
use serde_json::error::Category;

/// A parsed Soda event.
#[derive(Debug, Clone, PartialEq)]
pub struct SodaEvent {
    pub kind: EventKind,
    /// `sentAt`, when present.
    pub sent_at: Option<String>,
    /// Where Soda accepts an incident link: the top-level field (first generation) or the one
    /// inside `incident` (second generation).
    pub incident_link_callback_url: Option<String>,
}

/// What the event is about.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    Validate,
    CheckEvaluation(Vec<CheckResult>),
    IncidentCreated(Box<Incident>),
    IncidentUpdated(Box<Incident>),
    ContractPublished(Box<Contract>),
    /// An event type this gateway does not know yet, by name.
    Unknown(String),
}

impl SodaEvent {
    /// The event type as Soda names it (`checkEvaluation`, ...).
    pub fn type_name(&self) -> &str {
        match &self.kind {
            EventKind::Unknown(name) => name,
            _ => self.type_label(),
        }
    }

    /// The event type as a bounded label (metrics, traces): Soda's name, or `unknown` for a
    /// type this gateway does not know (a sender chooses that name).
    pub fn type_label(&self) -> &'static str {
        match &self.kind {
            EventKind::Validate => "validate",
            EventKind::CheckEvaluation(_) => "checkEvaluation",
            EventKind::IncidentCreated(_) => "incidentCreated",
            EventKind::IncidentUpdated(_) => "incidentUpdated",
            EventKind::ContractPublished(_) => "contractPublished",
            EventKind::Unknown(_) => "unknown",
        }
    }
}

/// Why a body is not a Soda event; its `Display` is one line, fit for a 400 answer.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseError {
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("body is not a Soda event: {0}")]
    NotAnEvent(String),
}

/// The top level of every Soda payload.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a JSON object")]
struct Envelope {
    event: String,
    #[serde(default)]
    sent_at: Option<String>,
    #[serde(default)]
    incident_link_callback_url: Option<String>,
    #[serde(default)]
    check_results: Option<Vec<CheckResult>>,
    #[serde(default)]
    incident: Option<Incident>,
    #[serde(default)]
    contract: Option<Contract>,
}

/// Parses a raw webhook body.
pub fn parse(body: &[u8]) -> Result<SodaEvent, ParseError> {
    // Serde would take an array for the envelope's fields in order: only an object is an event.
    if body.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => ParseError::NotAnEvent("expected a JSON object".into()),
                Err(error) => ParseError::NotJson(error.to_string()),
            },
        );
    }
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|error| match error.classify() {
            Category::Data => ParseError::NotAnEvent(error.to_string()),
            Category::Io | Category::Syntax | Category::Eof => {
                ParseError::NotJson(error.to_string())
            }
        })?;
    envelope.into_event()
}

impl Envelope {
    fn into_event(self) -> Result<SodaEvent, ParseError> {
        let callback_from_incident = self
            .incident
            .as_ref()
            .and_then(|incident| incident.incident_link_callback_url.clone());
        let kind = match self.event.as_str() {
            "validate" => EventKind::Validate,
            "checkEvaluation" => {
                EventKind::CheckEvaluation(required(self.check_results, "checkResults")?)
            }
            "incidentCreated" => {
                EventKind::IncidentCreated(Box::new(required(self.incident, "incident")?))
            }
            "incidentUpdated" => {
                EventKind::IncidentUpdated(Box::new(required(self.incident, "incident")?))
            }
            "contractPublished" => {
                EventKind::ContractPublished(Box::new(required(self.contract, "contract")?))
            }
            _ => EventKind::Unknown(self.event.clone()),
        };
        Ok(SodaEvent {
            kind,
            sent_at: self.sent_at,
            incident_link_callback_url: self.incident_link_callback_url.or(callback_from_incident),
        })
    }
}

fn required<T>(field: Option<T>, name: &str) -> Result<T, ParseError> {
    field.ok_or_else(|| ParseError::NotAnEvent(format!("missing field `{name}`")))
}

#[cfg(test)]
mod tests;
