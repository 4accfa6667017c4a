//! Forward plugin for the Soda webhook gateway: a generic router. Each configured route sends
//! the events that pass its filters (event type, check outcome, dataset, data source, dataset
//! attribute) to its URL, as Soda sent them or through a JSON template.
//!
//! An event goes to every route it matches, with one request per route: a `checkEvaluation`
//! with several matching results is still one request. See `README.md` for the configuration.

use soda_gateway_plugin_sdk::{export_plugin, info, Action, Context, Error, Event, Plugin};

pub mod config;
pub mod filter;
pub mod guard;
pub mod request;
pub mod scope;
pub mod template;
pub mod wildcard;

use config::Config;

/// The plugin: one request per matching route and event.
pub struct Forward;

impl Plugin for Forward {
    fn handle(event: &Event, ctx: &Context) -> Result<Vec<Action>, Error> {
        let config = Config::parse(&ctx.config_json)?;
        let mut actions = Vec::new();
        for (index, route) in config.routes.iter().enumerate() {
            let Some(selection) = route.filters.select(event) else {
                continue;
            };
            info!(
                route = index,
                event_kind = event.kind.name(),
                results = selection.matches.len(),
                "forwarding event"
            );
            let action = request::build(route, event, &selection)
                .map_err(|e| e.context(format!("routes[{index}]")))?;
            actions.push(action);
        }
        Ok(actions)
    }
}

export_plugin!(Forward);
soda_gateway_plugin_sdk::plugin_manifest!("plugin.json");

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
