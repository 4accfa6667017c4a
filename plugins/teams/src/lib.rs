//! Microsoft Teams plugin for the Soda webhook gateway: posts failing (and warning) check results
//! and new incidents to a Teams Workflows or incoming-webhook URL as Adaptive Cards.
//!
//! See `README.md` for the configuration keys. The cards are built in [`card`] as pure
//! functions, unit-tested natively.

use soda_gateway_plugin_sdk::{
    debug, export_plugin, Action, Context, Error, Event, EventKind, Plugin,
};

pub mod card;
pub mod config;

use config::Config;

/// The plugin: one card per `checkEvaluation` with alerting results, one per `incidentCreated`,
/// nothing for anything else.
pub struct Teams;

impl Plugin for Teams {
    fn handle(event: &Event, ctx: &Context) -> Result<Vec<Action>, Error> {
        let config = Config::parse(&ctx.config_json)?;
        let card = match &event.kind {
            EventKind::CheckEvaluation(results) => {
                card::check_evaluation(results, config.include_warnings)
            }
            EventKind::IncidentCreated(incident) => Some(card::incident_created(incident)),
            _ => None,
        };
        let Some(card) = card else {
            return Ok(Vec::new());
        };
        // Debug: the gateway already logs one line per accepted event.
        debug!(event_kind = event.kind.name(), "posting Teams card");
        Ok(vec![Action::post_json(
            &config.webhook_url,
            &card::message(card),
        )?])
    }
}

export_plugin!(Teams);
soda_gateway_plugin_sdk::plugin_manifest!("plugin.json");
