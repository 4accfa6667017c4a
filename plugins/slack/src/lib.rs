//! Slack plugin for the Soda webhook gateway: posts failing and warning check results and new
//! incidents to a Slack incoming webhook as Block Kit messages.
//!
//! See `README.md` for the configuration keys. Message building lives in [`message`] as pure
//! functions, unit-tested natively.

use soda_gateway_plugin_sdk::{
    debug, export_plugin, Action, Context, Error, Event, EventKind, Plugin,
};

pub mod message;

use message::Config;

/// The plugin: one Slack message per `checkEvaluation` with alerting results, one per
/// `incidentCreated`, nothing for anything else.
pub struct Slack;

impl Plugin for Slack {
    fn handle(event: &Event, ctx: &Context) -> Result<Vec<Action>, Error> {
        let config = Config::parse(&ctx.config_json)?;
        let payload = match &event.kind {
            EventKind::CheckEvaluation(results) => message::check_evaluation(&config, results),
            EventKind::IncidentCreated(incident) => {
                Some(message::incident_created(&config, incident))
            }
            _ => None,
        };
        let Some(payload) = payload else {
            return Ok(Vec::new());
        };
        // Debug: the gateway already logs one line per accepted event.
        debug!(event_kind = event.kind.name(), "posting Slack message");
        Ok(vec![Action::post_json(&config.webhook_url, &payload)?])
    }
}

export_plugin!(Slack);
soda_gateway_plugin_sdk::plugin_manifest!("plugin.json");
