//! Ingress: `POST /hooks/{tenant}`, from raw request to stored event and answer.
//!
//! The checks, in order: body over the limit (413, while it is read), unknown tenant (404),
//! credentials (401), not a Soda event (400); a rejected request stores and runs nothing. Only then do the
//! tenant's plugins run (off the async threads, under their deadlines), and the event with all
//! its actions is committed before the 200 goes out.

pub mod verify;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::Notify;

use crate::actions::NewAction;
use crate::config::{Config, Tenant};
use crate::events::{self, EventKind};
use crate::plugins::bindings::to_wit_event;
use crate::plugins::{Enabled, PluginRun, Registry, StateSource};
use crate::store::{new_id, now_ms, EventRecord, RunRecord, Store};
use sha2::{Digest, Sha256};

/// Everything a request needs, shared by all requests.
pub struct Ingress {
    pub tenants: HashMap<String, TenantEntry>,
    pub plugins: Arc<Registry>,
    pub store: Store,
    /// Wakes the delivery worker after new actions were stored.
    pub wake_worker: Arc<Notify>,
    /// Window of inbound deduplication (zero: off).
    pub dedup_window: std::time::Duration,
}

impl Ingress {
    /// Plugin state backed by the store, for calls made from a blocking thread.
    pub fn state_source(&self) -> StateSource {
        StateSource::Store(self.store.clone(), tokio::runtime::Handle::current())
    }
}

/// A tenant with its enabled plugins' configs rendered once, at start.
pub struct TenantEntry {
    pub config: Tenant,
    pub plugins: Vec<Enabled>,
}

impl TenantEntry {
    /// Prepares a configured tenant for serving.
    pub fn new(tenant: &Tenant, config: &Config) -> anyhow::Result<Self> {
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
        })
    }
}

/// The webhook routes, with the body limit applied.
pub fn router(ingress: Arc<Ingress>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/hooks/{tenant}", post(receive))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(ingress)
}

async fn receive(
    State(ingress): State<Arc<Ingress>>,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        // Over `max_body_bytes` (413) or a broken connection: answered as JSON like the rest.
        Err(rejection) => return reject(rejection.status(), rejection.body_text()),
    };
    let Some(tenant) = ingress.tenants.get(&tenant_id) else {
        return reject(
            StatusCode::NOT_FOUND,
            format!("unknown tenant `{tenant_id}`"),
        );
    };
    if let Err(error) = verify::verify(&tenant.config.verify, &headers, &body) {
        tracing::warn!(tenant = %tenant_id, "rejected: {error}");
        return reject(StatusCode::UNAUTHORIZED, error.to_string());
    }
    let event = match events::parse(&body) {
        Ok(event) => event,
        Err(error) => return reject(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let dedup_key = dedup_key(&headers, &body);
    if !ingress.dedup_window.is_zero() {
        let since = now_ms() - ingress.dedup_window.as_millis() as i64;
        match ingress
            .store
            .find_duplicate(&tenant_id, &dedup_key, since)
            .await
        {
            Ok(Some((original, link))) => {
                tracing::info!(tenant = %tenant_id, original_event_id = %original, "duplicate delivery acknowledged without running plugins");
                let answer = link.map_or_else(|| json!({}), |link| json!({ "link": link }));
                return (StatusCode::OK, Json(answer)).into_response();
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(tenant = %tenant_id, "cannot look for duplicates: {error:#}");
                return reject(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cannot store the event, try again".into(),
                );
            }
        }
    }
    let event_id = new_id("evt");
    let runs = if matches!(event.kind, EventKind::Validate) {
        Vec::new()
    } else {
        match run_plugins(&ingress, tenant, &event_id, &event, &body).await {
            Ok(runs) => runs,
            Err(error) => {
                tracing::error!(tenant = %tenant_id, event_id, "plugin execution failed: {error:#}");
                return reject(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into());
            }
        }
    };
    let record = EventRecord {
        id: &event_id,
        tenant: &tenant_id,
        event_type: event.type_name(),
        body: &body,
        dedup_key: &dedup_key,
    };
    let run_records: Vec<RunRecord> = runs
        .iter()
        .map(|run| RunRecord {
            plugin: &run.plugin,
            duration: run.duration,
            outcome: run.outcome.as_ref().map_err(String::as_str),
        })
        .collect();
    if let Err(error) = ingress.store.record_event(&record, &run_records).await {
        tracing::error!(tenant = %tenant_id, event_id, "cannot store event: {error:#}");
        return reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "cannot store the event, try again".into(),
        );
    }
    ingress.wake_worker.notify_one();
    for run in &runs {
        if let Err(reason) = &run.outcome {
            tracing::warn!(tenant = %tenant_id, event_id, plugin = %run.plugin, "plugin {reason}");
        }
    }
    tracing::info!(tenant = %tenant_id, event_id, event_type = event.type_name(), plugins = runs.len(), "event accepted");
    (StatusCode::OK, Json(answer(&runs))).into_response()
}

/// Runs the tenant's plugins on a blocking thread: wasm calls are CPU-bound.
async fn run_plugins(
    ingress: &Arc<Ingress>,
    tenant: &TenantEntry,
    event_id: &str,
    event: &events::SodaEvent,
    body: &Bytes,
) -> anyhow::Result<Vec<PluginRun>> {
    if tenant.plugins.is_empty() {
        return Ok(Vec::new());
    }
    let raw_json = String::from_utf8_lossy(body);
    let wit_event = to_wit_event(event_id, event, &raw_json);
    let registry = ingress.plugins.clone();
    let tenant_id = tenant.config.id.clone();
    let enabled = tenant.plugins.clone();
    let state = ingress.state_source();
    let runs =
        tokio::task::spawn_blocking(move || registry.run(&tenant_id, &enabled, &wit_event, &state));
    Ok(runs.await?)
}

/// What recognises a second delivery of the same event: the Standard Webhooks `webhook-id` when
/// the sender sets one, else the SHA-256 of the raw body.
fn dedup_key(headers: &HeaderMap, body: &[u8]) -> String {
    match headers.get("webhook-id").and_then(|id| id.to_str().ok()) {
        Some(id) => format!("id:{id}"),
        None => format!("sha256:{}", hex::encode(Sha256::digest(body))),
    }
}

/// Soda's answer: the first synchronous incident link, if a plugin returned one.
fn answer(runs: &[PluginRun]) -> serde_json::Value {
    let link = runs
        .iter()
        .filter_map(|run| run.outcome.as_ref().ok())
        .flat_map(|produced| &produced.actions)
        .find_map(|action| match action {
            NewAction::LinkAnswer { url, text } => Some(json!({ "url": url, "text": text })),
            NewAction::Http(_) => None,
        });
    match link {
        Some(link) => json!({ "link": link }),
        None => json!({}),
    }
}

fn reject(status: StatusCode, reason: String) -> Response {
    (status, Json(json!({ "error": reason }))).into_response()
}
