//! The store's writes that go through a writer ([`sqlite_writer`](super::sqlite_writer) or
//! [`group_commit`](super::group_commit)): each owns its data, so it can wait in the writer's
//! queue and be applied again if its batch has to be retried without a failing neighbour.
//!
//! The SQL is written once, with `$1`-style parameters in order of appearance, which both
//! PostgreSQL and SQLite (as numbered names) accept: the SQLite writer runs it through rusqlite;
//! on PostgreSQL, `pg_batch` turns a batch's rows into multi-row statements of the same
//! columns.

use sqlx::AnyConnection;

use super::handoff::{Effects, Route};
use super::{new_id, now_ms, AttemptRecord, DueAction, EventRecord, RunRecord};
use crate::actions::retry::Next;
use crate::actions::{NewAction, Produced, Request, Response};

/// How the `actions.kind` column spells an incident link (the name it had before the contract
/// called it `incident-link`; the column's CHECK constraint holds it). Shown as `incident_link`.
pub(super) const STORED_INCIDENT_LINK: &str = "link_answer";
pub(super) const INSERT_EVENT: &str = "INSERT INTO events
    (id, tenant, event_type, received_at, body, dedup_key, replay_of, headers)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// Takes a tenant's dedup key for an event unless an event stored at or after the cutoff holds
/// it: then no row changes. Parameters: tenant, key, event id, now, cutoff.
pub(super) const CLAIM_DEDUP_KEY: &str =
    "INSERT INTO dedup_keys (tenant, dedup_key, event_id, received_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant, dedup_key) DO UPDATE
         SET event_id = excluded.event_id, received_at = excluded.received_at
         WHERE dedup_keys.received_at < $5";
pub(super) const INSERT_RUN: &str = "INSERT INTO plugin_runs
    (event_id, plugin, outcome, error, duration_us, phase, action_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(super) const INSERT_ACTION: &str = "INSERT INTO actions
    (id, event_id, tenant, plugin, kind, method, url, headers, body, status, next_attempt_at,
     created_at, continuation, continuation_status, parent_action_id, lease_until)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
pub(super) const UPSERT_STATE: &str =
    "INSERT INTO plugin_state (tenant, plugin, key, value, updated_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant, plugin, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
pub(super) const DELETE_STATE: &str =
    "DELETE FROM plugin_state WHERE tenant = $1 AND plugin = $2 AND key = $3";
pub(super) const INSERT_ATTEMPT: &str =
    "INSERT INTO attempts (action_id, started_at, duration_ms, status_code, error)
     VALUES ($1, $2, $3, $4, $5)";
pub(super) const AFTER_ATTEMPT: &str =
    "UPDATE actions SET status = $1, attempts = attempts + 1, lease_until = NULL,
         next_attempt_at = COALESCE($2, next_attempt_at), last_error = $3
     WHERE id = $4
     RETURNING tenant";
pub(super) const KEEP_RESPONSE: &str =
    "UPDATE actions SET continuation_status = 'pending', response_status = $1,
         response_headers = $2, response_body = $3
     WHERE id = $4 AND continuation_status = 'waiting'";

/// One write, applied inside a transaction the writer owns.
pub(super) enum Write {
    /// An accepted event with its plugin runs, their actions and state writes.
    Event {
        id: String,
        tenant: String,
        event_type: String,
        body: Vec<u8>,
        /// The dedup key and the cutoff (Unix ms) of its window; `None` when deduplication
        /// is off.
        dedup: Option<(String, i64)>,
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
    pub plugin: String,
    pub duration: std::time::Duration,
    pub outcome: Result<Produced, String>,
}

impl Write {
    pub(super) fn event(event: &EventRecord<'_>, runs: &[RunRecord<'_>]) -> Self {
        Write::Event {
            id: event.id.to_owned(),
            tenant: event.tenant.to_owned(),
            event_type: event.event_type.to_owned(),
            body: event.body.to_vec(),
            dedup: event.dedup.map(|dedup| {
                let cutoff = now_ms() - dedup.window.as_millis() as i64;
                (dedup.key.to_owned(), cutoff)
            }),
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
}

/// The action's status after an attempt, and when it is due again if it is retried.
pub(super) fn after_attempt(next: Next, now: i64) -> (&'static str, Option<i64>) {
    match next {
        Next::Succeeded => ("succeeded", None),
        Next::Failed => ("failed", None),
        Next::RetryAfter(delay) => ("pending", Some(now + delay.as_millis() as i64)),
    }
}

/// Where a plugin run's output belongs.
pub(super) struct Origin<'a> {
    pub event_id: &'a str,
    pub tenant: &'a str,
    pub plugin: &'a str,
    /// The action whose response the run handled, for `on-response` runs.
    pub parent_action_id: Option<&'a str>,
}

impl Origin<'_> {
    pub(super) fn phase(&self) -> &'static str {
        if self.parent_action_id.is_some() {
            "on_response"
        } else {
            "handle"
        }
    }
}

/// A new action as it is stored: its id, kind, status and request, and its lease and place
/// in the worker's queue when it is handed over directly.
pub(super) struct StoredAction {
    pub id: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub request: Request,
    pub reserved: Option<super::handoff::Reserved>,
}

impl StoredAction {
    /// Plans the row of `action`; an HTTP action reserves its hand-over.
    pub(super) fn plan(
        action: &NewAction,
        route: Option<&Route>,
        effects: &mut Effects,
        now: i64,
    ) -> Self {
        match action {
            NewAction::Http(request) => StoredAction {
                id: new_id("act"),
                kind: "http",
                status: "pending",
                request: request.clone(),
                reserved: effects.reserve(route, now),
            },
            NewAction::IncidentLink { url, text } => StoredAction {
                id: new_id("act"),
                kind: STORED_INCIDENT_LINK,
                status: "succeeded",
                request: Request {
                    method: String::new(),
                    url: url.clone(),
                    headers: Vec::new(),
                    body: serde_json::json!({ "url": url, "text": text })
                        .to_string()
                        .into_bytes(),
                    continuation: None,
                },
                reserved: None,
            },
        }
    }

    pub(super) fn lease_until(&self) -> Option<i64> {
        self.reserved.as_ref().map(|reserved| reserved.lease_until)
    }

    /// Once the row is written: counts it in the tenant's backlog and hands it to the worker.
    pub(super) fn written(self, origin: &Origin<'_>, effects: &mut Effects) {
        if self.kind != "http" {
            return;
        }
        effects.backlog(origin.tenant, 1);
        if let Some(reserved) = self.reserved {
            let due = DueAction {
                id: self.id,
                event_id: origin.event_id.to_owned(),
                tenant: origin.tenant.to_owned(),
                plugin: origin.plugin.to_owned(),
                request: self.request,
                attempts: 0,
                lease_until: reserved.lease_until,
            };
            effects.hand_over(reserved.permit, due);
        }
    }
}

/// Inserts a plugin run and, when it succeeded, its actions and state writes (sqlx).
pub(super) async fn insert_run(
    connection: &mut AnyConnection,
    origin: &Origin<'_>,
    run: &RunRecord<'_>,
    now: i64,
    route: Option<&Route>,
    effects: &mut Effects,
) -> anyhow::Result<()> {
    sqlx::query(INSERT_RUN)
        .bind(origin.event_id)
        .bind(origin.plugin)
        .bind(if run.outcome.is_ok() { "ok" } else { "error" })
        .bind(run.outcome.err())
        .bind(run.duration.as_micros() as i64)
        .bind(origin.phase())
        .bind(origin.parent_action_id)
        .execute(&mut *connection)
        .await?;
    let Ok(produced) = run.outcome else {
        return Ok(());
    };
    for action in &produced.actions {
        let stored = StoredAction::plan(action, route, effects, now);
        sqlx::query(INSERT_ACTION)
            .bind(&stored.id)
            .bind(origin.event_id)
            .bind(origin.tenant)
            .bind(origin.plugin)
            .bind(stored.kind)
            .bind(&stored.request.method)
            .bind(&stored.request.url)
            .bind(serde_json::to_string(&stored.request.headers)?)
            .bind(&stored.request.body)
            .bind(stored.status)
            .bind(now)
            .bind(now)
            .bind(&stored.request.continuation)
            .bind(stored.request.continuation.as_ref().map(|_| "waiting"))
            .bind(origin.parent_action_id)
            .bind(stored.lease_until())
            .execute(&mut *connection)
            .await?;
        stored.written(origin, effects);
    }
    for write in &produced.state {
        match &write.value {
            Some(value) => sqlx::query(UPSERT_STATE)
                .bind(origin.tenant)
                .bind(origin.plugin)
                .bind(&write.key)
                .bind(value)
                .bind(now),
            None => sqlx::query(DELETE_STATE)
                .bind(origin.tenant)
                .bind(origin.plugin)
                .bind(&write.key),
        }
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}
