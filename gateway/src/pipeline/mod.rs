//! The pipeline: what the gateway does with an event, whichever way it came in. An accepted
//! event (from `ingress`, or replayed by an operator) runs through the tenant's plugins under
//! their limits and is stored with every run, action and state write in one commit; a stored
//! response runs through the plugin that asked for it ([`PluginResponses`]). HTTP, credentials,
//! quotas and redaction stay in `ingress`; sending stays in `actions`.

mod responses;
mod tenants;

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use opentelemetry::KeyValue;
use tokio::sync::Notify;

use crate::config::Config;
use crate::events;
use crate::plugins::bindings::into_wit_event;
use crate::plugins::{
    configs_in_use, CompileCache, Overloaded, PluginThreads, Registry, Runtime, StateSource,
};
use crate::records::PluginRun;
use crate::store::{new_id, Dedup, DuplicateEvent, EventRecord, Store};
use crate::telemetry::Metrics;
use crate::traces::{EventTrace, Traces};
pub use responses::PluginResponses;
pub use tenants::{tenants_of, TenantEntry, Tenants};

/// Everything an event needs on its way through, shared by all of them.
pub struct Pipeline {
    /// The tenants, swapped whole when the config file's tenants are reloaded.
    pub tenants: ArcSwap<Tenants>,
    pub plugins: Arc<Registry>,
    /// Where plugin calls run (see `plugins::PluginThreads`).
    pub plugin_threads: PluginThreads,
    pub store: Store,
    /// Wakes the delivery worker's poll after an operator made actions due (new actions reach
    /// it from the store directly).
    pub wake_worker: Arc<Notify>,
    /// Window of inbound deduplication (zero: off).
    pub dedup_window: std::time::Duration,
    pub metrics: Arc<Metrics>,
    /// OpenTelemetry traces (off unless `[traces]` is configured).
    pub traces: Traces,
}

impl Pipeline {
    /// Loads the plugins and prepares the tenants: everything an event (or a replay) needs.
    /// `wake_worker` wakes the delivery worker's poll when an operator made actions due.
    pub async fn build(
        config: &Config,
        store: Store,
        wake_worker: Arc<Notify>,
    ) -> anyhow::Result<Arc<Self>> {
        let runtime = Runtime::with_max_instances(
            config.largest_memory_bytes(),
            config.max_plugin_instances,
        )?;
        let cache = CompileCache::new(&config.data_dir.join("plugin-cache"))?;
        let plugins_dir = config.plugins_dir.clone();
        let metrics = Arc::new(Metrics::default());
        let registry_metrics = metrics.clone();
        let allowed_hosts = config.outbound.allowed_hosts.clone();
        let registry = tokio::task::spawn_blocking(move || {
            Registry::open(
                runtime,
                &plugins_dir,
                Some(cache),
                registry_metrics,
                allowed_hosts,
            )
        })
        .await
        .context("plugin loading panicked")??;
        registry
            .accept_configs(configs_in_use(&config.tenants))
            .context("tenants' plugin configs refused by the plugins' schemas")?;
        for tenant in &config.tenants {
            for plugin in &tenant.plugins {
                if !registry.contains(&plugin.name) {
                    tracing::warn!(tenant = %tenant.id, plugin = %plugin.name, "enabled plugin is not loaded; its runs are recorded as errors until it is");
                }
            }
        }
        Ok(Arc::new(Self {
            tenants: ArcSwap::from_pointee(tenants_of(config, &store)?),
            plugins: Arc::new(registry),
            plugin_threads: PluginThreads::start().context("cannot start the plugin threads")?,
            store,
            wake_worker,
            dedup_window: config.dedup_window,
            metrics,
            traces: Traces::start(config.traces.as_ref())?,
        }))
    }

    /// The tenant with this id, as configured now.
    pub fn tenant(&self, id: &str) -> Option<Arc<TenantEntry>> {
        self.tenants.load().get(id).cloned()
    }

    /// Plugin state backed by the store.
    pub fn state_source(&self) -> StateSource {
        StateSource::Store(self.store.clone())
    }
}

/// An event stored with the runs of its plugins.
pub struct Accepted {
    pub event_id: String,
    pub runs: Vec<PluginRun>,
}

/// Why an event could not be accepted (the details are logged).
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// No plugin instance slot was free: nothing was stored, the sender should retry.
    Overloaded,
    /// The store could not commit the event.
    Store,
    /// An event with the same dedup key was stored within the window; nothing was stored.
    Duplicate,
}

/// Why a stored event could not be replayed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReplayError {
    #[error("no event `{0}`")]
    NoSuchEvent(String),
    #[error("tenant `{0}` is no longer configured")]
    NoSuchTenant(String),
    #[error("the stored event does not parse: {0}")]
    Unparsable(String),
    #[error("the replay could not be stored")]
    Refused,
}

impl Pipeline {
    /// Runs the tenant's plugins on a verified, parsed event and stores the event with every
    /// run, action and state write, atomically (the store hands the new actions to the
    /// delivery worker). The event itself moves into the plugins' input. The plugin calls and
    /// the commit are spans of the event's `trace`.
    #[allow(clippy::too_many_arguments)]
    pub async fn accept(
        &self,
        tenant: &TenantEntry,
        event: events::SodaEvent,
        body: &[u8],
        dedup_key: Option<&str>,
        headers: &[(String, String)],
        replay_of: Option<&str>,
        trace: &EventTrace,
    ) -> Result<Accepted, Refused> {
        let tenant_id = &tenant.config.id;
        let event_id = new_id("evt");
        trace.set(|| KeyValue::new("soda.event_id", event_id.clone()));
        let event_type = event.type_name().to_owned();
        let plugins_started = SystemTime::now();
        let mut runs = self
            .run_plugins(tenant, &event_id, event, body)
            .await
            .map_err(|overloaded| {
                tracing::warn!(tenant = %tenant_id, event_id, "event refused with 503: {overloaded}");
                Refused::Overloaded
            })?;
        trace.plugin_runs(plugins_started, &runs);
        limit_event_actions(&mut runs, tenant.quota.limits().max_actions_per_event);
        let trace_parent = trace.traceparent();
        let record = EventRecord {
            id: &event_id,
            tenant: tenant_id,
            event_type: &event_type,
            body,
            dedup: dedup_key.map(|key| Dedup {
                key,
                window: self.dedup_window,
            }),
            replay_of,
            headers,
            trace_parent: trace_parent.as_deref(),
        };
        let mut commit = trace.child("store.commit");
        if let Err(error) = self.store.record_event(&record, &runs).await {
            if error.downcast_ref::<DuplicateEvent>().is_some() {
                commit.set(KeyValue::new("soda.outcome", "duplicate"));
                return Err(Refused::Duplicate);
            }
            commit.fail("the event could not be stored");
            tracing::error!(tenant = %tenant_id, event_id, "cannot store event: {error:#}");
            return Err(Refused::Store);
        }
        drop(commit);
        for run in &runs {
            self.metrics
                .plugin_call(&run.plugin, run.duration, run.outcome.is_err());
            if let Err(reason) = &run.outcome {
                tracing::warn!(tenant = %tenant_id, event_id, plugin = %run.plugin, "plugin {reason}");
            }
        }
        let plugins: Vec<&str> = runs.iter().map(|run| run.plugin.as_str()).collect();
        tracing::info!(tenant = %tenant_id, event_id, event_type, replay_of, plugin = %plugins.join(","), "event accepted");
        Ok(Accepted { event_id, runs })
    }

    /// Runs a stored event again through the plugins loaded now (after a plugin was fixed),
    /// stored as a new event pointing at the original.
    pub async fn replay(&self, event_id: &str) -> Result<Accepted, ReplayError> {
        let stored = self
            .store
            .event(event_id)
            .await
            .map_err(|_| ReplayError::Refused)?
            .ok_or_else(|| ReplayError::NoSuchEvent(event_id.to_owned()))?;
        let tenant = self
            .tenant(&stored.tenant)
            .ok_or_else(|| ReplayError::NoSuchTenant(stored.tenant.clone()))?;
        let event = events::parse(&stored.body)
            .map_err(|error| ReplayError::Unparsable(error.to_string()))?;
        let trace = self.traces.event("replay", None);
        trace.set(|| KeyValue::new("soda.tenant", tenant.config.id.clone()));
        trace.set(|| KeyValue::new("soda.event_type", event.type_label()));
        trace.set(|| KeyValue::new("soda.replay_of", stored.id.clone()));
        let accepted = self
            .accept(
                &tenant,
                event,
                &stored.body,
                None,
                &[],
                Some(&stored.id),
                &trace,
            )
            .await;
        trace.finish(if accepted.is_ok() { 200 } else { 503 });
        accepted.map_err(|_| ReplayError::Refused)
    }

    /// Runs the tenant's plugins, within the tenant's per-event time budget, on the plugin
    /// threads (see `plugins::PluginThreads`).
    async fn run_plugins(
        &self,
        tenant: &TenantEntry,
        event_id: &str,
        event: events::SodaEvent,
        body: &[u8],
    ) -> Result<Vec<PluginRun>, Overloaded> {
        if tenant.plugins.is_empty() {
            return Ok(Vec::new());
        }
        // `validate`, which plugins never receive.
        let Some(wit_event) = into_wit_event(event_id, event, body) else {
            return Ok(Vec::new());
        };
        let budget = tenant.quota.limits().event_budget;
        let registry = self.plugins.clone();
        let tenant_id = tenant.config.id.clone();
        let enabled = tenant.plugins.clone();
        let state = self.state_source();
        self.plugin_threads
            .spawn(async move {
                registry
                    .run(&tenant_id, &enabled, &wit_event, &state, budget)
                    .await
            })
            .await
            .unwrap_or_else(|failed| {
                Err(Overloaded {
                    plugin: enabled_names(tenant),
                    reason: format!("the plugin thread failed: {failed}"),
                })
            })
    }
}

/// The tenant's plugin names, comma-separated.
fn enabled_names(tenant: &TenantEntry) -> String {
    let names: Vec<&str> = tenant.plugins.iter().map(|p| p.name.as_str()).collect();
    names.join(",")
}

/// Refuses, whole, the answer of each plugin whose actions would take the event past `max`
/// actions (`quotas.max_actions_per_event`); the plugins before it keep theirs.
fn limit_event_actions(runs: &mut [PluginRun], max: u32) {
    let mut kept: u32 = 0;
    for run in runs {
        let Ok(produced) = &run.outcome else { continue };
        let new = u32::try_from(produced.actions.len()).unwrap_or(u32::MAX);
        if kept.saturating_add(new) > max {
            run.outcome = Err(format!(
                "returned {new} actions, which would take the event past its limit of {max} \
                 (quotas.max_actions_per_event); none was kept"
            ));
        } else {
            kept += new;
        }
    }
}
