//! ServiceNow plugin for the Soda webhook gateway: creates a ServiceNow incident for each Soda
//! incident, links it back to Soda, and resolves it (or adds work notes) as the Soda incident
//! changes.
//!
//! See `README.md` for the configuration keys. The request bodies are built in [`record`] and the
//! requests in [`api`], as pure functions unit-tested natively.

use soda_gateway_plugin_sdk::{
    export_plugin, info, state, Action, Context, Error, Event, EventKind, HttpResponse, Incident,
    IncidentStatus, Plugin,
};

pub mod api;
pub mod config;
pub mod record;

use config::Config;

/// The plugin: `incidentCreated` creates a ServiceNow incident, the answer is linked to Soda and
/// remembered, and `incidentUpdated` resolves or annotates the remembered incident.
pub struct ServiceNow;

impl Plugin for ServiceNow {
    fn handle(event: &Event, ctx: &Context) -> Result<Vec<Action>, Error> {
        let config = Config::parse(&ctx.config_json)?;
        match &event.kind {
            EventKind::IncidentCreated(incident) => {
                let soda_id = soda_id(incident)?;
                info!(incident = soda_id, "creating ServiceNow incident");
                let body = record::create(&config, incident, soda_id);
                Ok(vec![api::create(&config, &body)?])
            }
            EventKind::IncidentUpdated(incident) => {
                let soda_id = soda_id(incident)?;
                let sys_id = state::get_string(&api::state_key(soda_id)).ok_or_else(|| {
                    Error::new(format!(
                        "no ServiceNow incident is known for Soda incident {soda_id}: it was \
                         created before this plugin was enabled, or creating it failed"
                    ))
                })?;
                let body = if incident.status == IncidentStatus::Resolved {
                    record::resolve(&config, incident)
                } else {
                    record::work_note(incident)
                };
                info!(
                    incident = soda_id,
                    sys_id = sys_id,
                    status = incident.status_str(),
                    "updating ServiceNow incident"
                );
                Ok(vec![api::update(&config, &sys_id, &body)?])
            }
            _ => Ok(Vec::new()),
        }
    }

    fn on_response(
        event: &Event,
        response: &HttpResponse,
        ctx: &Context,
    ) -> Result<Vec<Action>, Error> {
        if response.continuation != api::CREATED {
            return Err(Error::new(format!(
                "unexpected continuation {:?}",
                response.continuation
            )));
        }
        let config = Config::parse(&ctx.config_json)?;
        let created = api::parse_created(response)?;
        let incident = event.incident().ok_or("the event has no incident")?;
        state::set(&api::state_key(soda_id(incident)?), &created.sys_id)?;
        if event.incident_link_callback_url.is_none() {
            info!(
                number = created.number,
                "no incidentLinkCallbackUrl: not linking"
            );
            return Ok(Vec::new());
        }
        let url = api::incident_url(&config, &created.sys_id);
        Ok(vec![Action::incident_link_callback(url, created.number)])
    }
}

/// The Soda incident's id, which correlates it with the ServiceNow incident.
fn soda_id(incident: &Incident) -> Result<&str, Error> {
    incident
        .id
        .as_deref()
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| Error::new("the Soda incident has no id"))
}

export_plugin!(ServiceNow);
soda_gateway_plugin_sdk::plugin_manifest!("plugin.json");

#[cfg(test)]
mod tests;
