//! What is loaded, configured and counted now, over HTTP: `GET /admin/plugins`,
//! `GET /admin/tenants` (see [`super::inventory`]) and `GET /metrics` (see `telemetry`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::inventory::{self, PluginInfo, TenantInfo};
use super::{internal, ErrorBody};
use crate::config::Quota;
use crate::pipeline::Pipeline;
use crate::telemetry::Gauges;

/// `GET /admin/plugins`, by name.
#[derive(Serialize, ToSchema)]
pub struct PluginList {
    pub plugins: Vec<PluginInfo>,
}

/// `GET /admin/tenants`, by id.
#[derive(Serialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantInfo>,
}

/// Every plugin: loaded, rejected (a file that never loaded) or missing (enabled by a tenant,
/// no file), with the tenants that enable it and its last errors.
#[utoipa::path(
    get,
    path = "/admin/plugins",
    tag = "status",
    responses(
        (status = OK, description = "Every plugin, by name", body = PluginList),
        (status = INTERNAL_SERVER_ERROR, description = "The store failed", body = ErrorBody),
    )
)]
pub(super) async fn plugins(State(pipeline): State<Arc<Pipeline>>) -> Response {
    match inventory::plugins(&pipeline).await {
        Ok(plugins) => Json(PluginList { plugins }).into_response(),
        Err(failure) => internal(&failure),
    }
}

/// Every tenant: how it is verified (secrets only counted), its plugins, the quotas in force
/// and its events of the last 24 hours.
#[utoipa::path(
    get,
    path = "/admin/tenants",
    tag = "status",
    responses(
        (status = OK, description = "Every tenant, by id", body = TenantList),
        (status = INTERNAL_SERVER_ERROR, description = "The store failed", body = ErrorBody),
    )
)]
pub(super) async fn tenants(
    State(pipeline): State<Arc<Pipeline>>,
    State(quotas): State<Arc<Quota>>,
) -> Response {
    match inventory::tenants(&pipeline, &quotas).await {
        Ok(tenants) => Json(TenantList { tenants }).into_response(),
        Err(failure) => internal(&failure),
    }
}

/// Prometheus metrics, in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "status",
    responses(
        (status = OK, description = "The metrics", body = String, content_type = "text/plain; version=0.0.4"),
        (status = INTERNAL_SERVER_ERROR, description = "The store failed", body = ErrorBody),
    )
)]
pub(super) async fn metrics(State(pipeline): State<Arc<Pipeline>>) -> Response {
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
