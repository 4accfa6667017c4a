//! Ingress: `POST /hooks/{tenant}`, from raw request to stored event and answer.
//!
//! The checks, in order: body over the limit (413, while it is read), unknown tenant (404),
//! credentials (401), not a Soda event (400); a rejected request stores and runs nothing. Only then do the
//! tenant's plugins run (off the async threads, under their deadlines), and the event with all
//! its actions is committed before the 200 goes out.

pub mod dedup;
pub mod quota;
pub mod redact;
mod responses;
pub mod verify;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::Notify;

use crate::actions::secrets::neutralize_placeholders;
use crate::actions::NewAction;
use crate::config::{Config, Tenant};
use crate::events::{self, EventKind};
use crate::plugins::bindings::to_wit_event;
use crate::plugins::{Enabled, Overloaded, PluginRun, PluginThreads, Registry, StateSource};
use crate::store::{new_id, now_ms, Dedup, DuplicateEvent, EventRecord, RunRecord, Store};
use crate::telemetry::Metrics;
use quota::{Exceeded, TenantQuota};
pub use responses::PluginResponses;

/// Everything a request needs, shared by all requests.
pub struct Ingress {
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
    /// Time a client has to send a request's whole body (`listener.body_timeout`).
    pub body_timeout: std::time::Duration,
    /// Dedup keys accepted within the window, so that repeats skip the plugins.
    pub recent_keys: dedup::RecentKeys,
    pub metrics: Arc<Metrics>,
}

/// Every tenant by id.
pub type Tenants = HashMap<String, Arc<TenantEntry>>;

/// Prepares every tenant of `config` for serving; their backlogs are counted in `store`.
pub fn tenants_of(config: &Config, store: &Store) -> anyhow::Result<Tenants> {
    config
        .tenants
        .iter()
        .map(|tenant| {
            let entry = TenantEntry::new(tenant, config, store)?;
            Ok((tenant.id.clone(), Arc::new(entry)))
        })
        .collect()
}

impl Ingress {
    /// The tenant with this id, as configured now.
    pub fn tenant(&self, id: &str) -> Option<Arc<TenantEntry>> {
        self.tenants.load().get(id).cloned()
    }

    /// Plugin state backed by the store.
    pub fn state_source(&self) -> StateSource {
        StateSource::Store(self.store.clone())
    }
}

/// A tenant with its enabled plugins' configs rendered once, at start, and its quota state.
pub struct TenantEntry {
    pub config: Tenant,
    pub plugins: Vec<Enabled>,
    pub quota: TenantQuota,
}

impl TenantEntry {
    /// Prepares a configured tenant for serving; its backlog is counted in `store`.
    pub fn new(tenant: &Tenant, config: &Config, store: &Store) -> anyhow::Result<Self> {
        let plugins = tenant
            .plugins
            .iter()
            .map(|plugin| {
                Ok(Enabled {
                    name: plugin.name.clone(),
                    config_json: serde_json::to_string(&plugin.config)?,
                    limits: config.limits_for(&plugin.name),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            config: tenant.clone(),
            plugins,
            quota: TenantQuota::new(
                config.quotas.with(&tenant.quota),
                store.backlog_of(&tenant.id),
            ),
        })
    }
}

/// The webhook routes, with the body limit applied.
pub fn router(ingress: Arc<Ingress>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/hooks/{tenant}", post(receive))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(ingress)
}

async fn receive(
    State(ingress): State<Arc<Ingress>>,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    // The whole body within the deadline, so that a client sending it a byte at a time cannot
    // hold the connection and the tenant's slot.
    let body =
        match tokio::time::timeout(ingress.body_timeout, Bytes::from_request(request, &())).await {
            Ok(body) => body,
            Err(_) => {
                let reason = format!(
                    "the request body did not arrive within {}",
                    humantime::format_duration(ingress.body_timeout)
                );
                return reject(StatusCode::REQUEST_TIMEOUT, reason);
            }
        };
    let mut event_type = "none";
    let response = respond(&ingress, &tenant_id, &headers, body, &mut event_type).await;
    let tenant = if ingress.tenants.load().contains_key(&tenant_id) {
        tenant_id.as_str()
    } else {
        "unknown"
    };
    ingress
        .metrics
        .request(tenant, event_type, response.status().as_u16());
    response
}

/// Answers one webhook request; `event_type` is set once the body parsed (a bounded label).
async fn respond(
    ingress: &Ingress,
    tenant_id: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    event_type: &mut &'static str,
) -> Response {
    let body = match body {
        Ok(body) => body,
        // Over `max_body_bytes` (413) or a broken connection: answered as JSON like the rest.
        Err(rejection) => return reject(rejection.status(), rejection.body_text()),
    };
    let Some(tenant) = ingress.tenant(tenant_id) else {
        return reject(
            StatusCode::NOT_FOUND,
            format!("unknown tenant `{tenant_id}`"),
        );
    };
    if let Err(error) = verify::verify(&tenant.config.verify, headers, &body, SystemTime::now()) {
        tracing::warn!(tenant = %tenant_id, "rejected: {error}");
        return reject(StatusCode::UNAUTHORIZED, error.to_string());
    }
    if let Err(exceeded) = tenant.quota.admit() {
        return over_quota(tenant_id, &exceeded);
    }
    // Event text must not be able to forge a secret placeholder (see `actions::secrets`).
    let body = neutralize_placeholders(&body);
    let event = match events::parse(&body) {
        Ok(event) => event,
        Err(error) => return reject(StatusCode::BAD_REQUEST, error.to_string()),
    };
    *event_type = event_label(&event.kind);
    let dedup_key = (!ingress.dedup_window.is_zero())
        .then(|| dedup::Key::of(&tenant.config.verify, headers, &body));
    if let Some(key) = &dedup_key {
        if ingress.recent_keys.contains(tenant_id, &key.key) {
            // `None`: the store no longer holds the original; then this is a new event.
            if let Some(answer) = ingress.answer_duplicate(tenant_id, &key.key).await {
                return answer;
            }
        } else if let Some(marker) = key.id_marker() {
            if ingress.recent_keys.contains(tenant_id, &marker) {
                tracing::warn!(tenant = %tenant_id, webhook_id = key.webhook_id.as_deref(), "a webhook-id came again with a different body: accepted as a new event");
            }
        }
    }
    if let Err(exceeded) = tenant.quota.check_backlog() {
        return over_quota(tenant_id, &exceeded);
    }
    let _slot = match tenant.quota.start_event() {
        Ok(slot) => slot,
        Err(exceeded) => return over_quota(tenant_id, &exceeded),
    };
    let arrived = redact::redacted_headers(headers, &tenant.config.verify);
    let stored_key = dedup_key.as_ref().map(|key| key.key.as_str());
    let accepted = ingress
        .accept(&tenant, &event, &body, stored_key, &arrived, None)
        .await;
    match accepted {
        Ok(accepted) => {
            if let Some(key) = &dedup_key {
                ingress.recent_keys.insert(tenant_id, &key.key);
                if let Some(marker) = key.id_marker() {
                    ingress.recent_keys.insert(tenant_id, &marker);
                }
            }
            (StatusCode::OK, Json(answer(&accepted.runs))).into_response()
        }
        Err(Refused::Duplicate) => {
            let key = stored_key.expect("only deduplicated events are duplicates");
            // `None`: the original's window closed meanwhile; a new delivery may be stored.
            let answer = ingress.answer_duplicate(tenant_id, key).await;
            answer.unwrap_or_else(store_unavailable)
        }
        Err(Refused::Overloaded) => reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "the gateway has no capacity to run plugins now, try again".into(),
        ),
        Err(Refused::Store) => store_unavailable(),
    }
}

fn store_unavailable() -> Response {
    reject(
        StatusCode::SERVICE_UNAVAILABLE,
        "cannot store the event, try again".into(),
    )
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

impl Ingress {
    /// Runs the tenant's plugins on a verified, parsed event and stores the event with every
    /// run, action and state write, atomically (the store hands the new actions to the
    /// delivery worker).
    pub async fn accept(
        &self,
        tenant: &TenantEntry,
        event: &events::SodaEvent,
        body: &[u8],
        dedup_key: Option<&str>,
        headers: &[(String, String)],
        replay_of: Option<&str>,
    ) -> Result<Accepted, Refused> {
        let tenant_id = &tenant.config.id;
        let event_id = new_id("evt");
        let mut runs = self
            .run_plugins(tenant, &event_id, event, body)
            .await
            .map_err(|overloaded| {
                tracing::warn!(tenant = %tenant_id, event_id, "event refused with 503: {overloaded}");
                Refused::Overloaded
            })?;
        limit_event_actions(&mut runs, tenant.quota.limits().max_actions_per_event);
        let record = EventRecord {
            id: &event_id,
            tenant: tenant_id,
            event_type: event.type_name(),
            body,
            dedup: dedup_key.map(|key| Dedup {
                key,
                window: self.dedup_window,
            }),
            replay_of,
            headers,
        };
        let run_records: Vec<RunRecord> = runs
            .iter()
            .map(|run| RunRecord {
                plugin: &run.plugin,
                duration: run.duration,
                outcome: run.outcome.as_ref().map_err(String::as_str),
            })
            .collect();
        if let Err(error) = self.store.record_event(&record, &run_records).await {
            if error.downcast_ref::<DuplicateEvent>().is_some() {
                return Err(Refused::Duplicate);
            }
            tracing::error!(tenant = %tenant_id, event_id, "cannot store event: {error:#}");
            return Err(Refused::Store);
        }
        for run in &runs {
            self.metrics
                .plugin_call(&run.plugin, run.duration, run.outcome.is_err());
            if let Err(reason) = &run.outcome {
                tracing::warn!(tenant = %tenant_id, event_id, plugin = %run.plugin, "plugin {reason}");
            }
        }
        let plugins: Vec<&str> = runs.iter().map(|run| run.plugin.as_str()).collect();
        tracing::info!(tenant = %tenant_id, event_id, event_type = event.type_name(), replay_of, plugin = %plugins.join(","), "event accepted");
        Ok(Accepted { event_id, runs })
    }

    /// Answers a duplicate delivery as its original was answered (with the original's incident
    /// link, if it had one); no plugin runs. `None` when the store holds no original within
    /// the window.
    async fn answer_duplicate(&self, tenant_id: &str, key: &str) -> Option<Response> {
        let since = now_ms() - self.dedup_window.as_millis() as i64;
        match self.store.find_duplicate(tenant_id, key, since).await {
            Ok(Some((original, link))) => {
                tracing::info!(tenant = %tenant_id, event_id = %original, "duplicate delivery acknowledged without running plugins");
                let answer = link.map_or_else(|| json!({}), |link| json!({ "link": link }));
                Some((StatusCode::OK, Json(answer)).into_response())
            }
            Ok(None) => None,
            Err(error) => {
                tracing::error!(tenant = %tenant_id, "cannot look for duplicates: {error:#}");
                Some(store_unavailable())
            }
        }
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
        self.accept(&tenant, &event, &stored.body, None, &[], Some(&stored.id))
            .await
            .map_err(|_| ReplayError::Refused)
    }

    /// Runs the tenant's plugins, within the tenant's per-event time budget, on the plugin
    /// threads (see `plugins::PluginThreads`).
    async fn run_plugins(
        &self,
        tenant: &TenantEntry,
        event_id: &str,
        event: &events::SodaEvent,
        body: &[u8],
    ) -> Result<Vec<PluginRun>, Overloaded> {
        let raw_json = String::from_utf8_lossy(body);
        let wit_event = match to_wit_event(event_id, event, &raw_json) {
            Some(wit_event) if !tenant.plugins.is_empty() => wit_event,
            // No plugin, or `validate`, which plugins never receive.
            _ => return Ok(Vec::new()),
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

/// The event type as a metrics label: Soda's name, or `unknown` (unbounded names are not labels).
fn event_label(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Validate => "validate",
        EventKind::CheckEvaluation(_) => "checkEvaluation",
        EventKind::IncidentCreated(_) => "incidentCreated",
        EventKind::IncidentUpdated(_) => "incidentUpdated",
        EventKind::ContractPublished(_) => "contractPublished",
        EventKind::Unknown(_) => "unknown",
    }
}

/// Soda's answer: the first synchronous incident link, if a plugin returned one.
fn answer(runs: &[PluginRun]) -> serde_json::Value {
    let link = runs
        .iter()
        .filter_map(|run| run.outcome.as_ref().ok())
        .flat_map(|produced| &produced.actions)
        .find_map(|action| match action {
            NewAction::IncidentLink { url, text } => Some(json!({ "url": url, "text": text })),
            NewAction::Http(_) => None,
        });
    match link {
        Some(link) => json!({ "link": link }),
        None => json!({}),
    }
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the store answers (503 otherwise); lists enabled plugins that are not loaded.
async fn readyz(State(ingress): State<Arc<Ingress>>) -> Response {
    let tenants = ingress.tenants.load();
    let mut missing: Vec<&str> = tenants
        .values()
        .flat_map(|tenant| &tenant.plugins)
        .map(|plugin| plugin.name.as_str())
        .filter(|name| !ingress.plugins.contains(name))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    match ingress.store.ping().await {
        Ok(()) => Json(json!({ "store": "ok", "plugins_not_loaded": missing })).into_response(),
        Err(error) => {
            tracing::error!("readiness: store unreachable: {error:#}");
            let body = json!({ "store": "unreachable", "plugins_not_loaded": missing });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// `429` with `Retry-After` (whole seconds, at least 1) and the limit that was reached.
fn over_quota(tenant: &str, exceeded: &Exceeded) -> Response {
    // Debug only: a flood would fill the log; `soda_requests_total{status="429"}` counts them.
    tracing::debug!(tenant, limit = exceeded.reason, "over quota");
    let seconds = exceeded.retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = reject(
        StatusCode::TOO_MANY_REQUESTS,
        format!("tenant `{tenant}` is over its quota ({})", exceeded.reason),
    );
    response
        .headers_mut()
        .insert(axum::http::header::RETRY_AFTER, seconds.into());
    response
}

fn reject(status: StatusCode, reason: String) -> Response {
    (status, Json(json!({ "error": reason }))).into_response()
}
