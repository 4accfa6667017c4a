//! The admin API, for operators: dead letters and replays. Every route needs
//! `Authorization: Bearer <admin.token>`; without `admin.token` in the config there is no admin
//! API at all.
//!
//! - `GET  /admin/events?tenant=&type=&status=&since=&until=&limit=`: stored events, newest
//!   first, with what became of them (see [`query`] for the filters).
//! - `GET  /admin/events/{id}`: one event's whole story: headers (credentials redacted), body,
//!   plugin runs, actions and every attempt.
//! - `GET  /admin/actions?tenant=&plugin=&status=&event=&limit=`: HTTP actions, newest first.
//! - `POST /admin/actions/{id}/retry`: send one action again (a dead letter from a fresh retry
//!   schedule, a waiting one now).
//! - `GET  /admin/dead-letters`: HTTP actions that failed for good, newest first.
//! - `POST /admin/dead-letters/retry`: requeue them all (or `{"ids": [...]}`) from a fresh
//!   retry schedule.
//! - `POST /admin/events/{id}/replay`: run a stored event through the plugins loaded now.
//! - `GET  /admin/plugins`: every plugin file, loaded or rejected, with its last errors (see
//!   [`inventory`]).
//! - `GET  /admin/tenants`: every tenant with its verification scheme (never its secrets),
//!   plugins, quotas and events of the last 24 hours.
//! - `GET  /metrics`: Prometheus metrics (see `telemetry`).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Quota;
use crate::pipeline::{Pipeline, ReplayError};
use crate::store::RetryOutcome;
use crate::telemetry::Gauges;
use query::{ActionQuery, EventQuery};
use throttle::FailedAuth;

pub mod inventory;
pub mod query;
pub mod throttle;

/// The admin routes, guarded by the bearer token; `quotas` is the gateway-wide `[quotas]`.
pub fn router(
    pipeline: Arc<Pipeline>,
    token: String,
    quotas: Quota,
    failed: Arc<FailedAuth>,
) -> Router {
    let token = Arc::new(token);
    let quotas = Arc::new(quotas);
    Router::new()
        .route("/admin/dead-letters", get(dead_letters))
        .route("/admin/dead-letters/retry", post(retry_dead_letters))
        .route("/admin/events", get(events))
        .route("/admin/events/{id}", get(event_story))
        .route("/admin/events/{id}/replay", post(replay))
        .route("/admin/actions", get(actions))
        .route("/admin/actions/{id}/retry", post(retry_action))
        .route("/admin/plugins", get(plugins))
        .route(
            "/admin/tenants",
            get(move |state| tenants(state, quotas.clone())),
        )
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let token = token.clone();
            async move { authorize(&token, request, next).await }
        }))
        .layer(middleware::from_fn_with_state(
            failed,
            throttle::throttle_failures,
        ))
        .with_state(pipeline)
}

async fn authorize(token: &str, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if token_matches(presented, token) {
        next.run(request).await
    } else {
        error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong admin bearer token",
        )
    }
}

/// Whether `presented` is `token`, compared in constant time (hashing first makes the time
/// independent of the lengths, too); an empty string never matches.
pub fn token_matches(presented: &str, token: &str) -> bool {
    let matches = Sha256::digest(presented.as_bytes()).ct_eq(&Sha256::digest(token.as_bytes()));
    bool::from(matches) && !presented.is_empty()
}

async fn metrics(State(pipeline): State<Arc<Pipeline>>) -> Response {
    match pipeline.store.backlog().await {
        Ok((pending, dead)) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            pipeline.metrics.render(Gauges {
                pending_actions: pending,
                dead_letters: dead,
                plugin_calls: pipeline.plugins.calls_running(),
                warm_instances: pipeline.plugins.warm_instances(),
            }),
        )
            .into_response(),
        Err(failure) => internal(&failure),
    }
}

async fn events(
    State(pipeline): State<Arc<Pipeline>>,
    query: Result<Query<EventQuery>, QueryRejection>,
) -> Response {
    let filter = match filter_of(query, EventQuery::to_filter) {
        Ok(filter) => filter,
        Err(reason) => return error(StatusCode::BAD_REQUEST, &reason),
    };
    match pipeline.store.events(&filter).await {
        Ok(events) => Json(json!({ "events": events })).into_response(),
        Err(failure) => internal(&failure),
    }
}

/// The store filter of a listing's query parameters, or what is wrong with them.
fn filter_of<Q, F>(
    query: Result<Query<Q>, QueryRejection>,
    to_filter: impl FnOnce(&Q) -> Result<F, String>,
) -> Result<F, String> {
    query
        .map_err(|rejection| rejection.body_text())
        .and_then(|Query(query)| to_filter(&query))
}

async fn event_story(State(pipeline): State<Arc<Pipeline>>, Path(id): Path<String>) -> Response {
    match pipeline.store.event_story(&id).await {
        Ok(Some(story)) => {
            // The body is JSON (it parsed as a Soda event): shown as JSON, not as a string.
            let mut value = json!(story);
            if let Ok(body) = serde_json::from_str::<serde_json::Value>(&story.body) {
                value["body"] = body;
            }
            Json(value).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, &format!("no event `{id}`")),
        Err(failure) => internal(&failure),
    }
}

async fn actions(
    State(pipeline): State<Arc<Pipeline>>,
    query: Result<Query<ActionQuery>, QueryRejection>,
) -> Response {
    let filter = match filter_of(query, ActionQuery::to_filter) {
        Ok(filter) => filter,
        Err(reason) => return error(StatusCode::BAD_REQUEST, &reason),
    };
    match pipeline.store.actions(&filter).await {
        Ok(actions) => Json(json!({ "actions": actions })).into_response(),
        Err(failure) => internal(&failure),
    }
}

async fn retry_action(State(pipeline): State<Arc<Pipeline>>, Path(id): Path<String>) -> Response {
    match pipeline.store.retry_action(&id).await {
        Ok(RetryOutcome::Requeued) => retried(&pipeline, "requeued"),
        Ok(RetryOutcome::DueNow) => retried(&pipeline, "due_now"),
        Ok(RetryOutcome::AlreadySucceeded) => error(
            StatusCode::CONFLICT,
            &format!("action `{id}` was delivered already; replay its event to send it again"),
        ),
        Ok(RetryOutcome::NotFound) => {
            error(StatusCode::NOT_FOUND, &format!("no HTTP action `{id}`"))
        }
        Err(failure) => internal(&failure),
    }
}

fn retried(pipeline: &Pipeline, outcome: &str) -> Response {
    pipeline.wake_worker.notify_one();
    Json(json!({ "outcome": outcome })).into_response()
}

async fn dead_letters(State(pipeline): State<Arc<Pipeline>>) -> Response {
    match pipeline.store.dead_letters(1000).await {
        Ok(letters) => Json(json!({ "dead_letters": letters })).into_response(),
        Err(failure) => internal(&failure),
    }
}

/// Which dead letters to retry; none named means all.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RetryRequest {
    #[serde(default)]
    ids: Vec<String>,
}

async fn retry_dead_letters(
    State(pipeline): State<Arc<Pipeline>>,
    body: Option<Json<RetryRequest>>,
) -> Response {
    let ids = body.map(|Json(request)| request.ids).unwrap_or_default();
    match pipeline.store.retry_dead_letters(&ids).await {
        Ok(retried) => {
            pipeline.wake_worker.notify_one();
            Json(json!({ "retried": retried })).into_response()
        }
        Err(failure) => internal(&failure),
    }
}

async fn replay(State(pipeline): State<Arc<Pipeline>>, Path(id): Path<String>) -> Response {
    match pipeline.replay(&id).await {
        Ok(accepted) => {
            let runs: Vec<_> = accepted
                .runs
                .iter()
                .map(|run| json!({ "plugin": run.plugin, "error": run.outcome.as_ref().err() }))
                .collect();
            Json(json!({ "event_id": accepted.event_id, "replay_of": id, "runs": runs }))
                .into_response()
        }
        Err(failure @ ReplayError::NoSuchEvent(_)) => {
            error(StatusCode::NOT_FOUND, &failure.to_string())
        }
        Err(failure) => error(StatusCode::CONFLICT, &failure.to_string()),
    }
}

async fn plugins(State(pipeline): State<Arc<Pipeline>>) -> Response {
    match inventory::plugins(&pipeline).await {
        Ok(plugins) => Json(json!({ "plugins": plugins })).into_response(),
        Err(failure) => internal(&failure),
    }
}

async fn tenants(State(pipeline): State<Arc<Pipeline>>, quotas: Arc<Quota>) -> Response {
    match inventory::tenants(&pipeline, &quotas).await {
        Ok(tenants) => Json(json!({ "tenants": tenants })).into_response(),
        Err(failure) => internal(&failure),
    }
}

fn internal(failure: &anyhow::Error) -> Response {
    tracing::error!("admin request failed: {failure:#}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

fn error(status: StatusCode, reason: &str) -> Response {
    (status, Json(json!({ "error": reason }))).into_response()
}
