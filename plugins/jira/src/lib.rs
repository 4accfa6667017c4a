//! Jira plugin for the Soda webhook gateway. Work in progress: it returns no actions yet.

use soda_gateway_plugin_sdk::{export_plugin, Action, Context, Error, Event, Plugin};

/// The plugin.
pub struct Jira;

impl Plugin for Jira {
    fn handle(_event: &Event, _ctx: &Context) -> Result<Vec<Action>, Error> {
        Ok(Vec::new())
    }
}

export_plugin!(Jira);
