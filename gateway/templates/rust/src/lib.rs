//! __NAME__: a plugin for the Soda webhook gateway. It posts one JSON message per failing or
//! warning check, and one per new incident, to the URL in its config.

use serde::Deserialize;
use soda_gateway_plugin_sdk::{
    export_plugin, info, Action, Context, Error, Event, EventKind, Plugin,
};

/// The tenant's configuration of this plugin.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Where messages go. A secret in it is written `{{secret:NAME}}`.
    url: String,
}

struct __TYPE__;

impl Plugin for __TYPE__ {
    fn handle(event: &Event, ctx: &Context) -> Result<Vec<Action>, Error> {
        let config: Config = ctx.config()?;
        let message = match &event.kind {
            EventKind::CheckEvaluation(results) => {
                let alerting: Vec<&str> = results
                    .iter()
                    .filter(|result| result.is_alerting())
                    .map(|result| result.display_name())
                    .collect();
                if alerting.is_empty() {
                    return Ok(Vec::new());
                }
                serde_json::json!({ "text": format!("Soda checks alerting: {}", alerting.join(", ")) })
            }
            EventKind::IncidentCreated(incident) => {
                let title = incident.title.as_deref().unwrap_or("(untitled)");
                serde_json::json!({ "text": format!("New Soda incident: {title}") })
            }
            _ => return Ok(Vec::new()),
        };
        info!(event_kind = event.kind.name(), "posting a message");
        Ok(vec![Action::post_json(&config.url, &message)?])
    }
}

export_plugin!(__TYPE__);
// plugin.json: what the gateway shows and checks before any event (hosts, config schema).
soda_gateway_plugin_sdk::plugin_manifest!("plugin.json");

#[cfg(test)]
mod tests {
    use super::*;
    use soda_gateway_plugin_sdk::testing::{check_result, context, event};
    use soda_gateway_plugin_sdk::Outcome;

    #[test]
    fn a_failing_check_is_posted_and_a_passing_one_is_not() {
        let ctx = context(r#"{"url":"https://hooks.example.com/x"}"#);
        let failing = event(EventKind::CheckEvaluation(vec![check_result(
            "row_count > 0",
            Outcome::Fail,
        )]));
        let actions = __TYPE__::handle(&failing, &ctx).unwrap();
        assert_eq!(actions.len(), 1);

        let passing = event(EventKind::CheckEvaluation(vec![check_result(
            "row_count > 0",
            Outcome::Pass,
        )]));
        assert!(__TYPE__::handle(&passing, &ctx).unwrap().is_empty());
    }
}
