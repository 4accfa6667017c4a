//! Sending again over HTTP: one action (`POST /admin/actions/{id}/retry`), the dead letters
//! (`GET /admin/dead-letters`, `POST /admin/dead-letters/retry`) and whole events through the
//! plugins loaded now (`POST /admin/events/{id}/replay`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{error, internal, ErrorBody};
use crate::pipeline::{Pipeline, ReplayError};
use crate::store::{DeadLetter, RetryOutcome};

/// What `POST /admin/actions/{id}/retry` did.
#[derive(Serialize, ToSchema)]
pub struct ActionRetried {
    pub outcome: Retried,
}

/// How an action was sent again.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Retried {
    /// A dead letter was requeued from a fresh retry schedule.
    Requeued,
    /// A pending action waiting for its next attempt is due at once.
    DueNow,
}

/// `GET /admin/dead-letters`: at most 1000, newest first.
#[derive(Serialize, ToSchema)]
pub struct DeadLetterList {
    pub dead_letters: Vec<DeadLetter>,
}

/// Which dead letters to retry; none named means all.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    /// Action ids (`act_...`).
    #[serde(default)]
    pub ids: Vec<String>,
}

/// What `POST /admin/dead-letters/retry` did.
#[derive(Serialize, ToSchema)]
pub struct DeadLettersRetried {
    /// How many dead letters were requeued.
    pub retried: u64,
}

/// A replay, stored as a new event pointing at the original.
#[derive(Serialize, ToSchema)]
pub struct Replayed {
    /// The new event's id.
    pub event_id: String,
    /// The original event's id.
    pub replay_of: String,
    /// Each plugin run on the replay, in order.
    pub runs: Vec<ReplayRun>,
}

/// One plugin run on a replay.
#[derive(Serialize, ToSchema)]
pub struct ReplayRun {
    pub plugin: String,
    /// Why it failed; `null` when it ran.
    pub error: Option<String>,
}

/// Sends one action again: a dead letter from a fresh retry schedule, a waiting one now.
#[utoipa::path(
    post,
    path = "/admin/actions/{id}/retry",
    tag = "retries",
    params(("id" = String, Path, description = "The action's id (`act_...`)")),
    responses(
        (status = OK, description = "Requeued, or due now", body = ActionRetried),
        (status = NOT_FOUND, description = "No such HTTP action", body = ErrorBody),
        (status = CONFLICT, description = "Delivered already: replay its event instead", body = ErrorBody),
        (status = INTERNAL_SERVER_ERROR, description = "The store failed", body = ErrorBody),
    )
)]
pub(super) async fn retry_action(
    State(pipeline): State<Arc<Pipeline>>,
    Path(id): Path<String>,
) -> Response {
    let outcome = match pipeline.store.retry_action(&id).await {
        Ok(RetryOutcome::Requeued) => Retried::Requeued,
        Ok(RetryOutcome::DueNow) => Retried::DueNow,
        Ok(RetryOutcome::AlreadySucceeded) => {
            return error(
                StatusCode::CONFLICT,
                &format!("action `{id}` was delivered already; replay its event to send it again"),
            )
        }
        Ok(RetryOutcome::NotFound) => {
            return error(StatusCode::NOT_FOUND, &format!("no HTTP action `{id}`"))
        }
        Err(failure) => return internal(&failure),
    };
    pipeline.wake_worker.notify_one();
    Json(ActionRetried { outcome }).into_response()
}

/// HTTP actions that failed for good, newest first, with their last error.
#[utoipa::path(
    get,
    path = "/admin/dead-letters",
    tag = "retries",
    responses(
        (status = OK, description = "The dead letters, newest first", body = DeadLetterList),
        (status = INTERNAL_SERVER_ERROR, description = "The store failed", body = ErrorBody),
    )
)]
pub(super) async fn dead_letters(State(pipeline): State<Arc<Pipeline>>) -> Response {
    match pipeline.store.dead_letters(1000).await {
        Ok(dead_letters) => Json(DeadLetterList { dead_letters }).into_response(),
        Err(failure) => internal(&failure),
    }
}

/// Requeues dead letters (all, or those named) from a fresh retry schedule, with the same
/// idempotency keys.
#[utoipa::path(
    post,
    path = "/admin/dead-letters/retry",
    tag = "retries",
    request_body(
        content = Option<RetryRequest>,
        description = "The dead letters to retry; no body retries them all",
        content_type = "application/json",
    ),
    responses(
        (status = OK, description = "How many were requeued", body = DeadLettersRetried),
        (status = INTERNAL_SERVER_ERROR, description = "The store failed", body = ErrorBody),
    )
)]
pub(super) async fn retry_dead_letters(
    State(pipeline): State<Arc<Pipeline>>,
    body: Option<Json<RetryRequest>>,
) -> Response {
    let ids = body.map(|Json(request)| request.ids).unwrap_or_default();
    match pipeline.store.retry_dead_letters(&ids).await {
        Ok(retried) => {
            pipeline.wake_worker.notify_one();
            Json(DeadLettersRetried { retried }).into_response()
        }
        Err(failure) => internal(&failure),
    }
}

/// Runs a stored event through the plugins loaded now; the replay is stored as a new event.
#[utoipa::path(
    post,
    path = "/admin/events/{id}/replay",
    tag = "retries",
    params(("id" = String, Path, description = "The stored event's id (`evt_...`)")),
    responses(
        (status = OK, description = "The replay and its plugin runs", body = Replayed),
        (status = NOT_FOUND, description = "No such event", body = ErrorBody),
        (status = CONFLICT, description = "Its tenant is gone, it does not parse, or the replay could not be stored", body = ErrorBody),
    )
)]
pub(super) async fn replay(
    State(pipeline): State<Arc<Pipeline>>,
    Path(id): Path<String>,
) -> Response {
    match pipeline.replay(&id).await {
        Ok(accepted) => {
            let runs = accepted
                .runs
                .into_iter()
                .map(|run| ReplayRun {
                    plugin: run.plugin,
                    error: run.outcome.err(),
                })
                .collect();
            Json(Replayed {
                event_id: accepted.event_id,
                replay_of: id,
                runs,
            })
            .into_response()
        }
        Err(failure @ ReplayError::NoSuchEvent(_)) => {
            error(StatusCode::NOT_FOUND, &failure.to_string())
        }
        Err(failure) => error(StatusCode::CONFLICT, &failure.to_string()),
    }
}
