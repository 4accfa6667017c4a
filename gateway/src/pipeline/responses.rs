//! Responses handed back to plugins (`on-response`), within the limits of the event's chain.
//!
//! A chain ends: a step past the tenant's `max_chain_depth` does not run, and a step whose new
//! actions would take the event past `max_actions_per_event`, or find the tenant's backlog full,
//! is recorded as failed with none of them kept.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::Pipeline;
use crate::actions::continuations::{Handled, ResponseHandler};
use crate::config::Quota;
use crate::events;
use crate::plugins::bindings::into_wit_event;
use crate::records::{PluginRun, Produced};
use crate::store::{ChainPosition, PendingContinuation};

/// Runs plugins' `on-response` for the continuation loop, with the tenant's plugin config.
pub struct PluginResponses(pub Arc<Pipeline>);

impl ResponseHandler for PluginResponses {
    fn handle<'a>(
        &'a self,
        pending: &'a PendingContinuation,
        event_body: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Handled> + Send + 'a>> {
        Box::pin(self.run_on_response(pending, event_body))
    }
}

impl PluginResponses {
    async fn run_on_response(&self, pending: &PendingContinuation, event_body: &[u8]) -> Handled {
        let pipeline = &self.0;
        let failed = |reason: String| {
            Some(PluginRun {
                plugin: pending.plugin.clone(),
                duration: Duration::ZERO,
                outcome: Err(reason),
            })
        };
        let Some(tenant) = pipeline.tenant(&pending.tenant) else {
            return failed(format!(
                "tenant `{}` is no longer configured",
                pending.tenant
            ));
        };
        let Some(enabled) = tenant.plugins.iter().find(|p| p.name == pending.plugin) else {
            return failed(format!(
                "plugin `{}` is no longer enabled for tenant `{}`",
                pending.plugin, pending.tenant
            ));
        };
        let limits = tenant.quota.limits();
        let position = match pipeline.store.chain_position(pending).await {
            Ok(position) => position,
            Err(error) => {
                // Left leased: tried again when the lease runs out.
                tracing::error!(tenant = %pending.tenant, event_id = %pending.event_id, "cannot read the chain: {error:#}");
                return None;
            }
        };
        if position.step > limits.max_chain_depth {
            return failed(format!(
                "not run: the chain reached its limit of {} steps (quotas.max_chain_depth)",
                limits.max_chain_depth
            ));
        }
        let event = match events::parse(event_body) {
            Ok(event) => event,
            Err(error) => return failed(format!("stored event does not parse: {error}")),
        };
        let Some(wit_event) = into_wit_event(&pending.event_id, event, event_body) else {
            return failed("a `validate` event never reaches plugins".into());
        };
        let run = pipeline
            .plugins
            .run_on_response(
                &pending.tenant,
                enabled,
                &wit_event,
                &pending.continuation,
                &pending.response,
                &pipeline.state_source(),
            )
            .await;
        let mut run = match run {
            Ok(run) => run,
            Err(overloaded) => {
                tracing::warn!(tenant = %pending.tenant, event_id = %pending.event_id, "on-response postponed: {overloaded}");
                return None;
            }
        };
        pipeline
            .traces
            .on_response(pending.trace_parent.as_deref(), &run);
        let backlog_full = tenant.quota.check_backlog().is_err();
        within_chain_limits(&mut run.outcome, position, limits, backlog_full);
        pipeline
            .metrics
            .plugin_call(&run.plugin, run.duration, run.outcome.is_err());
        Some(run)
    }
}

/// Turns a step's outcome into a failure, keeping none of its actions, when they would take the
/// event past `max_actions_per_event` or the tenant's backlog is full.
fn within_chain_limits(
    outcome: &mut Result<Produced, String>,
    position: ChainPosition,
    limits: &Quota,
    backlog_full: bool,
) {
    let Ok(produced) = outcome else { return };
    let new = u32::try_from(produced.actions.len()).unwrap_or(u32::MAX);
    if new == 0 {
        return;
    }
    if position.event_actions.saturating_add(new) > limits.max_actions_per_event {
        *outcome = Err(format!(
            "returned {new} actions, which would take the event past its limit of {} \
             (quotas.max_actions_per_event); none was kept",
            limits.max_actions_per_event
        ));
    } else if backlog_full {
        *outcome = Err(format!(
            "returned {new} actions while the tenant has {} actions waiting to be sent \
             (quotas.max_pending_actions); none was kept",
            limits.max_pending_actions
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::NewAction;

    fn produced(actions: usize) -> Result<Produced, String> {
        let link = || NewAction::IncidentLink {
            url: "https://a.test".into(),
            text: "a".into(),
        };
        Ok(Produced {
            actions: (0..actions).map(|_| link()).collect(),
            state: Vec::new(),
        })
    }

    fn limits(max_actions_per_event: u32) -> Quota {
        Quota {
            max_actions_per_event,
            ..Quota::default()
        }
    }

    const AT: ChainPosition = ChainPosition {
        step: 2,
        event_actions: 8,
    };

    #[test]
    fn a_step_within_the_event_limit_keeps_its_actions() {
        let mut outcome = produced(2);
        within_chain_limits(&mut outcome, AT, &limits(10), false);
        assert_eq!(outcome.unwrap().actions.len(), 2);
    }

    #[test]
    fn a_step_past_the_event_limit_keeps_none() {
        let mut outcome = produced(3);
        within_chain_limits(&mut outcome, AT, &limits(10), false);
        let error = outcome.unwrap_err();
        assert!(error.contains("max_actions_per_event"), "{error}");
    }

    #[test]
    fn a_full_backlog_refuses_new_actions_but_not_a_step_without_any() {
        let mut outcome = produced(1);
        within_chain_limits(&mut outcome, AT, &limits(100), true);
        assert!(outcome.unwrap_err().contains("max_pending_actions"));
        let mut nothing = produced(0);
        within_chain_limits(&mut nothing, AT, &limits(100), true);
        assert!(nothing.is_ok());
    }
}
