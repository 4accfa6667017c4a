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
use super::{new_id, now_ms, AttemptRecord, DueAction, EventRecord};
use axum::http::Method;

use crate::records::{ActionStatus, NewAction, Next, PluginRun, Request, Response};

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
     created_at, continuation, continuation_status, parent_action_id, lease_until, trace_parent)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";
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
        runs: Vec<PluginRun>,
        /// The event's trace context, kept on its actions.
        trace_parent: Option<String>,
    },
    /// A delivery attempt and the action's next state (and its response, for `on-response`).
    Attempt {
        action_id: String,
        attempt: AttemptRecord,
        next: Next,
        response: Option<Response>,
    },
}

impl Write {
    pub(super) fn event(event: &EventRecord<'_>, runs: &[PluginRun]) -> Self {
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
            runs: runs.to_vec(),
            trace_parent: event.trace_parent.map(str::to_owned),
        }
    }
}

/// The action's status after an attempt, and when it is due again if it is retried.
pub(super) fn after_attempt(next: Next, now: i64) -> (ActionStatus, Option<i64>) {
    match next {
        Next::Succeeded => (ActionStatus::Succeeded, None),
        Next::Failed => (ActionStatus::Failed, None),
        Next::RetryAfter(delay) => (ActionStatus::Pending, Some(now + delay.as_millis() as i64)),
    }
}

/// Where a plugin run's output belongs.
pub(super) struct Origin<'a> {
    pub event_id: &'a str,
    pub tenant: &'a str,
    pub plugin: &'a str,
    /// The action whose response the run handled, for `on-response` runs.
    pub parent_action_id: Option<&'a str>,
    /// The event's trace context, kept on the new actions.
    pub trace_parent: Option<&'a str>,
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

/// A new action as it is stored: its id and row, and for an HTTP action its lease and place
/// in the worker's queue when it is handed over directly.
pub(super) struct StoredAction {
    pub id: String,
    planned: Planned,
}

enum Planned {
    Http {
        request: Request,
        reserved: Option<super::handoff::Reserved>,
    },
    /// An incident link, answered to Soda: stored done, with the link as its body.
    Link { url: String, body: Vec<u8> },
}

impl StoredAction {
    /// Plans the row of `action`; an HTTP action reserves its hand-over.
    pub(super) fn plan(
        action: &NewAction,
        route: Option<&Route>,
        effects: &mut Effects,
        now: i64,
    ) -> Self {
        let planned = match action {
            NewAction::Http(request) => Planned::Http {
                request: request.clone(),
                reserved: effects.reserve(route, now),
            },
            NewAction::IncidentLink { url, text } => Planned::Link {
                url: url.clone(),
                body: serde_json::json!({ "url": url, "text": text })
                    .to_string()
                    .into_bytes(),
            },
        };
        Self {
            id: new_id("act"),
            planned,
        }
    }

    /// The `kind` column.
    pub(super) fn kind(&self) -> &'static str {
        match self.planned {
            Planned::Http { .. } => "http",
            Planned::Link { .. } => STORED_INCIDENT_LINK,
        }
    }

    /// The `status` column: an HTTP action waits to be sent, a link was answered already.
    pub(super) fn status(&self) -> &'static str {
        match self.planned {
            Planned::Http { .. } => ActionStatus::Pending,
            Planned::Link { .. } => ActionStatus::Succeeded,
        }
        .as_str()
    }

    /// The `method` column (empty for a link).
    pub(super) fn method(&self) -> &str {
        match &self.planned {
            Planned::Http { request, .. } => request.method.as_str(),
            Planned::Link { .. } => "",
        }
    }

    pub(super) fn url(&self) -> &str {
        match &self.planned {
            Planned::Http { request, .. } => &request.url,
            Planned::Link { url, .. } => url,
        }
    }

    /// The `headers` column: a JSON array of `[name, value]` pairs.
    pub(super) fn headers_json(&self) -> String {
        let none = Vec::new();
        let headers = match &self.planned {
            Planned::Http { request, .. } => &request.headers,
            Planned::Link { .. } => &none,
        };
        serde_json::to_string(headers).expect("strings serialise")
    }

    pub(super) fn body(&self) -> &[u8] {
        match &self.planned {
            Planned::Http { request, .. } => &request.body,
            Planned::Link { body, .. } => body,
        }
    }

    pub(super) fn continuation(&self) -> Option<&str> {
        match &self.planned {
            Planned::Http { request, .. } => request.continuation.as_deref(),
            Planned::Link { .. } => None,
        }
    }

    /// The `continuation_status` column: `waiting` while a response is wanted.
    pub(super) fn continuation_status(&self) -> Option<&'static str> {
        self.continuation().map(|_| "waiting")
    }

    pub(super) fn lease_until(&self) -> Option<i64> {
        match &self.planned {
            Planned::Http {
                reserved: Some(reserved),
                ..
            } => Some(reserved.lease_until),
            _ => None,
        }
    }

    /// Once the row is written: counts it in the tenant's backlog and hands it to the worker.
    pub(super) fn written(self, origin: &Origin<'_>, effects: &mut Effects) {
        let Planned::Http { request, reserved } = self.planned else {
            return;
        };
        effects.backlog(origin.tenant, 1);
        if let Some(reserved) = reserved {
            let due = DueAction {
                id: self.id,
                event_id: origin.event_id.to_owned(),
                tenant: origin.tenant.to_owned(),
                plugin: origin.plugin.to_owned(),
                request,
                attempts: 0,
                lease_until: reserved.lease_until,
                trace_parent: origin.trace_parent.map(str::to_owned),
            };
            effects.hand_over(reserved.permit, due);
        }
    }
}

/// A stored action's method, read back.
pub(super) fn stored_method(text: &str) -> anyhow::Result<Method> {
    Method::from_bytes(text.as_bytes())
        .map_err(|_| anyhow::anyhow!("stored action has an invalid method {text:?}"))
}

/// Inserts a plugin run and, when it succeeded, its actions and state writes (sqlx).
pub(super) async fn insert_run(
    connection: &mut AnyConnection,
    origin: &Origin<'_>,
    run: &PluginRun,
    now: i64,
    route: Option<&Route>,
    effects: &mut Effects,
) -> anyhow::Result<()> {
    sqlx::query(INSERT_RUN)
        .bind(origin.event_id)
        .bind(origin.plugin)
        .bind(if run.outcome.is_ok() { "ok" } else { "error" })
        .bind(run.outcome.as_ref().err())
        .bind(run.duration.as_micros() as i64)
        .bind(origin.phase())
        .bind(origin.parent_action_id)
        .execute(&mut *connection)
        .await?;
    let Ok(produced) = &run.outcome else {
        return Ok(());
    };
    for action in &produced.actions {
        let stored = StoredAction::plan(action, route, effects, now);
        sqlx::query(INSERT_ACTION)
            .bind(&stored.id)
            .bind(origin.event_id)
            .bind(origin.tenant)
            .bind(origin.plugin)
            .bind(stored.kind())
            .bind(stored.method())
            .bind(stored.url())
            .bind(stored.headers_json())
            .bind(stored.body())
            .bind(stored.status())
            .bind(now)
            .bind(now)
            .bind(stored.continuation())
            .bind(stored.continuation_status())
            .bind(origin.parent_action_id)
            .bind(stored.lease_until())
            .bind(origin.trace_parent)
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
