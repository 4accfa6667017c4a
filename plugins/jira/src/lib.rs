//! Jira plugin for the Soda webhook gateway: creates a Jira Cloud issue for each new Soda
//! incident, links the issue back to the incident, and resolves the issue with the incident.
//!
//! See `README.md` for the configuration keys. Request building lives in pure modules
//! ([`issue`], [`api`], [`transition`]), unit-tested natively.

use soda_gateway_plugin_sdk::{
    export_plugin, info, state, Action, Context, Error, Event, EventKind, HttpResponse, Incident,
    IncidentStatus, Plugin,
};

pub mod adf;
pub mod api;
pub mod config;
pub mod issue;
pub mod step;
pub mod transition;

use config::Config;
use step::Step;

/// How much of an unexpected Jira answer an error quotes, in characters.
const QUOTED_ANSWER_CHARS: usize = 300;

/// The plugin: `incidentCreated` creates an issue, then links it and remembers its key; a
/// resolved `incidentUpdated` lists the issue's transitions, then takes the resolving one.
pub struct Jira;

impl Plugin for Jira {
    fn handle(event: &Event, ctx: &Context) -> Result<Vec<Action>, Error> {
        let config = Config::parse(&ctx.config_json)?;
        match &event.kind {
            EventKind::IncidentCreated(incident) => {
                let body = issue::create_body(&config, incident);
                info!(incident = ?incident.id, "creating Jira issue");
                let create =
                    api::create_issue(&config, &body)?.continue_with(Step::Created.encode());
                Ok(vec![create])
            }
            EventKind::IncidentUpdated(incident) if incident.status == IncidentStatus::Resolved => {
                let id = incident_id(incident)?;
                let issue = state::get_string(&issue_state_key(id)).ok_or_else(|| {
                    Error::new(format!(
                        "no Jira issue is known for Soda incident {id}: it was not created by this \
                         plugin, its creation failed, or it was resolved already"
                    ))
                })?;
                info!(incident = id, issue = issue, "resolving Jira issue");
                let list = api::list_transitions(&config, &issue)
                    .continue_with(Step::Transitions { issue }.encode());
                Ok(vec![list])
            }
            _ => Ok(Vec::new()),
        }
    }

    fn on_response(
        event: &Event,
        response: &HttpResponse,
        ctx: &Context,
    ) -> Result<Vec<Action>, Error> {
        let config = Config::parse(&ctx.config_json)?;
        match Step::decode(&response.continuation)? {
            Step::Created => issue_created(&config, event, response),
            Step::Transitions { issue } => transitions_listed(&config, event, response, &issue),
        }
    }
}

/// Remembers the new issue's key for the incident and links the issue to it in Soda.
fn issue_created(
    config: &Config,
    event: &Event,
    response: &HttpResponse,
) -> Result<Vec<Action>, Error> {
    expect_success("creating the Jira issue", response)?;
    let created: serde_json::Value = serde_json::from_slice(&response.body)
        .map_err(|e| Error::new(format!("unexpected Jira answer to the issue creation: {e}")))?;
    let key = created["key"]
        .as_str()
        .ok_or("unexpected Jira answer to the issue creation: no `key`")?;
    let incident = event.incident().ok_or("the event has no incident")?;
    state::set(&issue_state_key(incident_id(incident)?), key)?;
    info!(issue = key, "Jira issue created");
    if event.incident_link_callback_url.is_none() {
        info!(
            issue = key,
            "no incident link callback URL: the issue is not linked in Soda"
        );
        return Ok(Vec::new());
    }
    Ok(vec![Action::incident_link_callback(
        api::browse_url(config, key),
        key,
    )])
}

/// Takes the resolving transition and forgets the incident's issue.
fn transitions_listed(
    config: &Config,
    event: &Event,
    response: &HttpResponse,
    issue: &str,
) -> Result<Vec<Action>, Error> {
    expect_success(&format!("listing the transitions of {issue}"), response)?;
    let transition = transition::find_id(&response.body, &config.resolve_transition)
        .map_err(|e| e.context(format!("resolving {issue}")))?;
    if let Some(incident) = event.incident() {
        state::delete(&issue_state_key(incident_id(incident)?));
    }
    Ok(vec![api::transition_issue(config, issue, &transition)?])
}

/// The state key under which the incident's issue key is kept.
fn issue_state_key(incident_id: &str) -> String {
    format!("issue:{incident_id}")
}

fn incident_id(incident: &Incident) -> Result<&str, Error> {
    incident
        .id
        .as_deref()
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| Error::new("the Soda incident has no id"))
}

/// An error quoting Jira's answer unless it is a 2xx.
fn expect_success(what: &str, response: &HttpResponse) -> Result<(), Error> {
    if (200..300).contains(&response.status) {
        return Ok(());
    }
    let answer: String = String::from_utf8_lossy(&response.body)
        .chars()
        .take(QUOTED_ANSWER_CHARS)
        .collect();
    let status = match response.status {
        0 => "no answer".to_string(),
        status => format!("HTTP {status}"),
    };
    Err(Error::new(format!("{what} failed: {status} {answer}")))
}

export_plugin!(Jira);
soda_gateway_plugin_sdk::plugin_manifest!("plugin.json");
