//! Ingress: `POST /hooks/{tenant}`, from raw request to stored event and answer.
//!
//! The checks, in order: body over the limit (413, while it is read), unknown tenant (404),
//! credentials (401), quotas (429), not a Soda event (400), a duplicate within the dedup window
//! (answered as the original was); a rejected request stores and runs nothing. Only then does
//! the event go through the [`pipeline`](crate::pipeline), which commits it with all its
//! actions before the 200 goes out.

pub mod dedup;
pub mod quota;
pub mod redact;
pub mod verify;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use opentelemetry::KeyValue;
use serde_json::json;

use crate::actions::secrets::neutralize_placeholders;
use crate::drain::Drain;
use crate::events;
use crate::pipeline::{Pipeline, Refused};
use crate::records::{NewAction, PluginRun};
use crate::store::now_ms;
use crate::traces::EventTrace;
use quota::Exceeded;

/// What the webhook routes share: the pipeline events go through, and the HTTP side's own state.
pub struct Ingress {
    pub pipeline: Arc<Pipeline>,
    /// Time a client has to send a request's whole body (`listener.body_timeout`).
    pub body_timeout: Duration,
    /// Dedup keys accepted within the window, so that repeats skip the plugins.
    pub recent_keys: dedup::RecentKeys,
    /// Given when the gateway starts to stop: `/readyz` answers 503 from then on.
    pub draining: Drain,
}

impl Ingress {
    /// The HTTP side of `pipeline`; a client has `body_timeout` to send a request's body, and
    /// `/readyz` fails once `draining` is given.
    pub fn new(pipeline: Arc<Pipeline>, body_timeout: Duration, draining: Drain) -> Self {
        let recent_keys = dedup::RecentKeys::new(pipeline.dedup_window);
        Self {
            pipeline,
            body_timeout,
            recent_keys,
            draining,
        }
    }

    /// Answers a duplicate delivery as its original was answered (with the original's incident
    /// link, if it had one); no plugin runs. `None` when the store holds no original within
    /// the window.
    async fn answer_duplicate(&self, tenant_id: &str, key: &str) -> Option<Response> {
        let since = now_ms() - self.pipeline.dedup_window.as_millis() as i64;
        match self
            .pipeline
            .store
            .find_duplicate(tenant_id, key, since)
            .await
        {
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
}

/// The webhook routes, with the body limit applied.
pub fn router(ingress: Ingress, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/hooks/{tenant}", post(receive))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(Arc::new(ingress))
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
    let tenant = if ingress.pipeline.tenants.load().contains_key(&tenant_id) {
        tenant_id.as_str()
    } else {
        "unknown"
    };
    let trace = ingress.pipeline.traces.event("webhook", Some(&headers));
    trace.set(|| KeyValue::new("soda.tenant", tenant.to_owned()));
    let mut event_type = "none";
    let response = respond(
        &ingress,
        &tenant_id,
        &headers,
        body,
        &mut event_type,
        &trace,
    )
    .await;
    let status = response.status().as_u16();
    ingress.pipeline.metrics.request(tenant, event_type, status);
    trace.finish(status);
    response
}

/// Answers one webhook request; `event_type` is set once the body parsed (a bounded label).
/// Verification, the plugins and the commit are spans of the event's `trace`.
async fn respond(
    ingress: &Ingress,
    tenant_id: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    event_type: &mut &'static str,
    trace: &EventTrace,
) -> Response {
    let body = match body {
        Ok(body) => body,
        // Over `max_body_bytes` (413) or a broken connection: answered as JSON like the rest.
        Err(rejection) => return reject(rejection.status(), rejection.body_text()),
    };
    let Some(tenant) = ingress.pipeline.tenant(tenant_id) else {
        return reject(
            StatusCode::NOT_FOUND,
            format!("unknown tenant `{tenant_id}`"),
        );
    };
    let mut verifying = trace.child("verify");
    if let Err(error) = verify::verify(&tenant.config.verify, headers, &body, SystemTime::now()) {
        verifying.fail("the request's credentials were refused");
        tracing::warn!(tenant = %tenant_id, "rejected: {error}");
        return reject(StatusCode::UNAUTHORIZED, error.to_string());
    }
    drop(verifying);
    if let Err(exceeded) = tenant.quota.admit() {
        return over_quota(tenant_id, &exceeded);
    }
    // Event text must not be able to forge a secret placeholder (see `actions::secrets`).
    let body = neutralize_placeholders(&body);
    let event = match events::parse(&body) {
        Ok(event) => event,
        Err(error) => return reject(StatusCode::BAD_REQUEST, error.to_string()),
    };
    *event_type = event.type_label();
    trace.set(|| KeyValue::new("soda.event_type", *event_type));
    let dedup_key = (!ingress.pipeline.dedup_window.is_zero())
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
        .pipeline
        .accept(&tenant, event, &body, stored_key, &arrived, None, trace)
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

/// Readiness: the store answers and the gateway is not stopping (503 otherwise); lists enabled
/// plugins that are not loaded.
async fn readyz(State(ingress): State<Arc<Ingress>>) -> Response {
    let pipeline = &ingress.pipeline;
    let tenants = pipeline.tenants.load();
    let mut missing: Vec<&str> = tenants
        .values()
        .flat_map(|tenant| tenant.plugins.iter())
        .map(|plugin| plugin.name.as_str())
        .filter(|name| !pipeline.plugins.contains(name))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    let store = match pipeline.store.ping().await {
        Ok(()) => "ok",
        Err(error) => {
            tracing::error!("readiness: store unreachable: {error:#}");
            "unreachable"
        }
    };
    let draining = ingress.draining.is_started();
    let body = json!({ "store": store, "draining": draining, "plugins_not_loaded": missing });
    let status = if store == "ok" && !draining {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
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

#[cfg(test)]
mod tests {
    use axum::body::{to_bytes, Body};
    use tokio::sync::Notify;
    use tower_service::Service as _;

    use super::*;
    use crate::config::Config;
    use crate::store::Store;

    async fn readiness(app: &mut Router) -> (StatusCode, serde_json::Value) {
        let request = axum::http::Request::get("/readyz")
            .body(Body::empty())
            .unwrap();
        let response = app.call(request).await.unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), 4096).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn readiness_fails_from_the_moment_the_gateway_drains() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("plugins")).unwrap();
        let config = Config::from_toml("", dir.path()).unwrap();
        let store = Store::open(&config.database().unwrap()).await.unwrap();
        let pipeline = Pipeline::build(&config, store, Arc::new(Notify::new()))
            .await
            .unwrap();
        let draining = Drain::default();
        let ingress = Ingress::new(pipeline, Duration::from_secs(1), draining.clone());
        let mut app = router(ingress, 1024);

        let (status, body) = readiness(&mut app).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["draining"], false);
        draining.start();
        let (status, body) = readiness(&mut app).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["draining"], true);
        assert_eq!(body["store"], "ok", "the store still answers: {body}");
    }
}
