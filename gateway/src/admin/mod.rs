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
//! - `GET  /admin/openapi.json`: all of the above as an OpenAPI 3.1 document (see [`openapi`]),
//!   behind the same token.
//!
//! The router and the document are made from one list, [`routes`]: each handler carries its
//! own `#[utoipa::path]` description, so a route cannot be served undocumented or documented
//! unserved.

use std::sync::Arc;

use axum::extract::{FromRef, Request};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Quota;
use crate::pipeline::Pipeline;
use throttle::FailedAuth;

mod audit;
pub mod inventory;
pub mod openapi;
pub mod query;
mod retries;
mod status;
pub mod throttle;

/// The admin routes, guarded by the bearer token; `quotas` is the gateway-wide `[quotas]`.
pub fn router(
    pipeline: Arc<Pipeline>,
    token: String,
    quotas: Quota,
    failed: Arc<FailedAuth>,
) -> Router {
    let token = Arc::new(token);
    let (router, document) = routes().split_for_parts();
    let state = Admin {
        pipeline,
        quotas: Arc::new(quotas),
        document: openapi::Document::of(&document),
    };
    router
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let token = token.clone();
            async move { authorize(&token, request, next).await }
        }))
        .layer(middleware::from_fn_with_state(
            failed,
            throttle::throttle_failures,
        ))
        .with_state(state)
}

/// Every admin route with its handler and its OpenAPI description: the router and the document
/// are both made from this list.
pub fn routes() -> OpenApiRouter<Admin> {
    let mut routes = OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(audit::events))
        .routes(routes!(audit::event_story))
        .routes(routes!(audit::actions))
        .routes(routes!(retries::retry_action))
        .routes(routes!(retries::dead_letters))
        .routes(routes!(retries::retry_dead_letters))
        .routes(routes!(retries::replay))
        .routes(routes!(status::plugins))
        .routes(routes!(status::tenants))
        .routes(routes!(status::metrics))
        .routes(routes!(openapi::document));
    openapi::refuse_everywhere(routes.get_openapi_mut());
    routes
}

/// What the admin handlers share; each takes the part it needs (`State<Arc<Pipeline>>`, ...).
#[derive(Clone)]
pub struct Admin {
    pipeline: Arc<Pipeline>,
    /// The gateway-wide `[quotas]`, which tenants' own quotas override.
    quotas: Arc<Quota>,
    document: openapi::Document,
}

impl FromRef<Admin> for Arc<Pipeline> {
    fn from_ref(admin: &Admin) -> Self {
        admin.pipeline.clone()
    }
}

impl FromRef<Admin> for Arc<Quota> {
    fn from_ref(admin: &Admin) -> Self {
        admin.quotas.clone()
    }
}

impl FromRef<Admin> for openapi::Document {
    fn from_ref(admin: &Admin) -> Self {
        admin.document.clone()
    }
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
        error(StatusCode::UNAUTHORIZED, openapi::UNAUTHORIZED)
    }
}

/// Whether `presented` is `token`, compared in constant time (hashing first makes the time
/// independent of the lengths, too); an empty string never matches.
pub fn token_matches(presented: &str, token: &str) -> bool {
    let matches = Sha256::digest(presented.as_bytes()).ct_eq(&Sha256::digest(token.as_bytes()));
    bool::from(matches) && !presented.is_empty()
}

/// Every admin answer that is not a success: what went wrong, in a sentence.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

fn internal(failure: &anyhow::Error) -> Response {
    tracing::error!("admin request failed: {failure:#}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

fn error(status: StatusCode, reason: &str) -> Response {
    let body = ErrorBody {
        error: reason.to_owned(),
    };
    (status, Json(body)).into_response()
}
