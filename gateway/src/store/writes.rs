//! The store's writes that go through [`group_commit`](super::group_commit): each owns its data,
//! so it can wait in the writer's queue, and can be applied again if its batch fails.

use sqlx::AnyConnection;

use super::{new_id, now_ms, AttemptRecord, EventRecord, RunRecord};
use crate::actions::retry::Next;
use crate::actions::{NewAction, Produced, Request, Response};

/// One write, applied inside a transaction the writer owns.
pub(super) enum Write {
    /// An accepted event with its plugin runs, their actions and state writes.
    Event {
        id: String,
        tenant: String,
        event_type: String,
        body: Vec<u8>,
        dedup_key: String,
        replay_of: Option<String>,
        /// JSON array of `[name, value]` pairs.
        headers: String,
        runs: Vec<OwnedRun>,
    },
    /// A delivery attempt and the action's next state (and its response, for `on-response`).
    Attempt {
        action_id: String,
        attempt: AttemptRecord,
        next: Next,
        response: Option<Response>,
    },
}

/// A [`RunRecord`] that owns its data.
pub(super) struct OwnedRun {
    plugin: String,
    duration: std::time::Duration,
    outcome: Result<Produced, String>,
}

impl Write {
    pub(super) fn event(event: &EventRecord<'_>, runs: &[RunRecord<'_>]) -> Self {
        Write::Event {
            id: event.id.to_owned(),
            tenant: event.tenant.to_owned(),
            event_type: event.event_type.to_owned(),
            body: event.body.to_vec(),
            dedup_key: event.dedup_key.to_owned(),
            replay_of: event.replay_of.map(str::to_owned),
            headers: serde_json::to_string(event.headers).expect("strings serialise"),
            runs: runs
                .iter()
                .map(|run| OwnedRun {
                    plugin: run.plugin.to_owned(),
                    duration: run.duration,
                    outcome: run.outcome.cloned().map_err(str::to_owned),
                })
                .collect(),
        }
    }

    /// Runs the write's statements on `connection` (inside the writer's transaction).
    pub(super) async fn apply(&self, connection: &mut AnyConnection) -> anyhow::Result<()> {
        match self {
            Write::Event {
                id,
                tenant,
                event_type,
                body,
                dedup_key,
                replay_of,
                headers,
                runs,
            } => {
                let now = now_ms();
                sqlx::query(
                    "INSERT INTO events (id, tenant, event_type, received_at, body, dedup_key, replay_of, headers)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(id)
                .bind(tenant)
                .bind(event_type)
                .bind(now)
                .bind(body)
                .bind(dedup_key)
                .bind(replay_of)
                .bind(headers)
                .execute(&mut *connection)
                .await?;
                for run in runs {
                    let origin = Origin {
                        event_id: id,
                        tenant,
                        plugin: &run.plugin,
                        parent_action_id: None,
                    };
                    let record = RunRecord {
                        plugin: &run.plugin,
                        duration: run.duration,
                        outcome: run.outcome.as_ref().map_err(String::as_str),
                    };
                    insert_run(connection, &origin, &record, now).await?;
                }
                Ok(())
            }
            Write::Attempt {
                action_id,
                attempt,
                next,
                response,
            } => record_attempt(connection, action_id, attempt, *next, response.as_ref()).await,
        }
    }
}

async fn record_attempt(
    connection: &mut AnyConnection,
    action_id: &str,
    attempt: &AttemptRecord,
    next: Next,
    response: Option<&Response>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO attempts (action_id, started_at, duration_ms, status_code, error)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(action_id)
    .bind(attempt.started_at_ms)
    .bind(attempt.duration.as_millis() as i64)
    .bind(attempt.status_code.map(i64::from))
    .bind(&attempt.error)
    .execute(&mut *connection)
    .await?;
    let (status, next_attempt_at) = match next {
        Next::Succeeded => ("succeeded", None),
        Next::Failed => ("failed", None),
        Next::RetryAfter(delay) => ("pending", Some(now_ms() + delay.as_millis() as i64)),
    };
    sqlx::query(
        "UPDATE actions SET status = $1, attempts = attempts + 1, lease_until = NULL,
             next_attempt_at = COALESCE($2, next_attempt_at), last_error = $3
         WHERE id = $4",
    )
    .bind(status)
    .bind(next_attempt_at)
    .bind(&attempt.error)
    .bind(action_id)
    .execute(&mut *connection)
    .await?;
    if let Some(response) = response {
        sqlx::query(
            "UPDATE actions SET continuation_status = 'pending', response_status = $1,
                 response_headers = $2, response_body = $3
             WHERE id = $4 AND continuation_status = 'waiting'",
        )
        .bind(i64::from(response.status))
        .bind(serde_json::to_string(&response.headers)?)
        .bind(&response.body)
        .bind(action_id)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

/// Where a plugin run's output belongs.
pub(super) struct Origin<'a> {
    pub event_id: &'a str,
    pub tenant: &'a str,
    pub plugin: &'a str,
    /// The action whose response the run handled, for `on-response` runs.
    pub parent_action_id: Option<&'a str>,
}

/// Inserts a plugin run and, when it succeeded, its actions and state writes.
pub(super) async fn insert_run(
    connection: &mut AnyConnection,
    origin: &Origin<'_>,
    run: &RunRecord<'_>,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO plugin_runs (event_id, plugin, outcome, error, duration_us, phase, action_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(origin.event_id)
    .bind(origin.plugin)
    .bind(if run.outcome.is_ok() { "ok" } else { "error" })
    .bind(run.outcome.err())
    .bind(run.duration.as_micros() as i64)
    .bind(if origin.parent_action_id.is_some() {
        "on_response"
    } else {
        "handle"
    })
    .bind(origin.parent_action_id)
    .execute(&mut *connection)
    .await?;
    let Ok(produced) = run.outcome else {
        return Ok(());
    };
    for action in &produced.actions {
        let (kind, status, request) = match action {
            NewAction::Http(request) => ("http", "pending", request.clone()),
            NewAction::LinkAnswer { url, text } => (
                "link_answer",
                "succeeded",
                Request {
                    method: String::new(),
                    url: url.clone(),
                    headers: Vec::new(),
                    body: serde_json::json!({ "url": url, "text": text })
                        .to_string()
                        .into_bytes(),
                    continuation: None,
                },
            ),
        };
        sqlx::query(
            "INSERT INTO actions (id, event_id, tenant, plugin, kind, method, url, headers, body,
                 status, next_attempt_at, created_at, continuation, continuation_status, parent_action_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(new_id("act"))
        .bind(origin.event_id)
        .bind(origin.tenant)
        .bind(origin.plugin)
        .bind(kind)
        .bind(&request.method)
        .bind(&request.url)
        .bind(serde_json::to_string(&request.headers)?)
        .bind(&request.body)
        .bind(status)
        .bind(now)
        .bind(now)
        .bind(&request.continuation)
        .bind(request.continuation.as_ref().map(|_| "waiting"))
        .bind(origin.parent_action_id)
        .execute(&mut *connection)
        .await?;
    }
    for write in &produced.state {
        match &write.value {
            Some(value) => sqlx::query(
                "INSERT INTO plugin_state (tenant, plugin, key, value, updated_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant, plugin, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(origin.tenant)
            .bind(origin.plugin)
            .bind(&write.key)
            .bind(value)
            .bind(now),
            None => sqlx::query("DELETE FROM plugin_state WHERE tenant = $1 AND plugin = $2 AND key = $3")
                .bind(origin.tenant)
                .bind(origin.plugin)
                .bind(&write.key),
        }
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}
