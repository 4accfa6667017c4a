//! The audit trail over HTTP: stored events with what became of them, one event's whole story,
//! and HTTP actions across events (`GET /admin/events`, `/admin/events/{id}`, `/admin/actions`).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::query::{ActionQuery, EventQuery};
use super::{error, internal, ErrorBody};
use crate::pipeline::Pipeline;
use crate::store::{ActionView, EventStory, EventSummary};

/// `GET /admin/events`: stored events, newest first.
#[derive(Serialize, ToSchema)]
pub struct EventList {
    pub events: Vec<EventSummary>,
}

/// `GET /admin/actions`: HTTP actions, newest first (without their attempts).
#[derive(Serialize, ToSchema)]
pub struct ActionList {
    pub actions: Vec<ActionView>,
}

/// Stored events, newest first, each with its status and counts of what it led to.
#[utoipa::path(
    get,
    path = "/admin/events",
    tag = "audit",
    params(EventQuery),
    responses(
        (status = OK, description = "The events, newest first", body = EventList),
        (status = BAD_REQUEST, description = "A filter that does not parse, named", body = ErrorBody),
        (status = INTERNAL_SERVER_ERROR, description = "The store failed", body = ErrorBody),
    )
)]
pub(super) async fn events(
    State(pipeline): State<Arc<Pipeline>>,
    query: Result<Query<EventQuery>, QueryRejection>,
) -> Response {
    let filter = match filter_of(query, EventQuery::to_filter) {
        Ok(filter) => filter,
        Err(reason) => return error(StatusCode::BAD_REQUEST, &reason),
    };
    match pipeline.store.events(&filter).await {
        Ok(events) => Json(EventList { events }).into_response(),
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

/// One event's whole story: headers (credentials redacted), body, plugin runs, actions with
/// every attempt, and its replays.
#[utoipa::path(
    get,
    path = "/admin/events/{id}",
    tag = "audit",
    params(("id" = String, Path, description = "The event's id (`evt_...`)")),
    responses(
        (status = OK, description = "The event's story; its body as JSON", body = EventStory),
        (status = NOT_FOUND, description = "No such event", body = ErrorBody),
        (status = INTERNAL_SERVER_ERROR, description = "The store failed", body = ErrorBody),
    )
)]
pub(super) async fn event_story(
    State(pipeline): State<Arc<Pipeline>>,
    Path(id): Path<String>,
) -> Response {
    match pipeline.store.event_story(&id).await {
        Ok(Some(story)) => {
            // The body is JSON (it parsed as a Soda event): shown as JSON, not as a string.
            let mut value = serde_json::json!(story);
            if let Ok(body) = serde_json::from_str::<serde_json::Value>(&story.body) {
                value["body"] = body;
            }
            Json(value).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, &format!("no event `{id}`")),
        Err(failure) => internal(&failure),
    }
}

/// HTTP actions across events, newest first.
#[utoipa::path(
    get,
    path = "/admin/actions",
    tag = "audit",
    params(ActionQuery),
    responses(
        (status = OK, description = "The actions, newest first", body = ActionList),
        (status = BAD_REQUEST, description = "A filter that does not parse, named", body = ErrorBody),
        (status = INTERNAL_SERVER_ERROR, description = "The store failed", body = ErrorBody),
    )
)]
pub(super) async fn actions(
    State(pipeline): State<Arc<Pipeline>>,
    query: Result<Query<ActionQuery>, QueryRejection>,
) -> Response {
    let filter = match filter_of(query, ActionQuery::to_filter) {
        Ok(filter) => filter,
        Err(reason) => return error(StatusCode::BAD_REQUEST, &reason),
    };
    match pipeline.store.actions(&filter).await {
        Ok(actions) => Json(ActionList { actions }).into_response(),
        Err(failure) => internal(&failure),
    }
}
