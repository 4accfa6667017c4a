//! Durable state: an embedded SQLite file (`data_dir/gateway.db`) by default, or a PostgreSQL
//! server that several gateway replicas share (see [`Database`]).
//!
//! The promise this module keeps: [`Store::record_event`] commits the event, its plugin runs and
//! all their actions in one transaction (SQLite: WAL with `synchronous = FULL`) before the
//! gateway answers 2xx. The worker then claims due actions with a lease ([`Store::claim_due`];
//! on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so replicas never claim the same action) and
//! records every attempt ([`Store::record_attempt`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{AnyPool, Row};

use crate::actions::retry::Next;
use crate::actions::{NewAction, Produced, Request, Response};

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    database: Database,
}

/// An accepted event, as it is stored.
pub struct EventRecord<'a> {
    pub id: &'a str,
    pub tenant: &'a str,
    pub event_type: &'a str,
    pub body: &'a [u8],
    /// Recognises a second delivery of the same event (see `ingress::dedup_key`).
    pub dedup_key: &'a str,
    /// The event this one replays, if it is a replay.
    pub replay_of: Option<&'a str>,
}

/// One plugin's run on the event, as it is stored.
pub struct RunRecord<'a> {
    pub plugin: &'a str,
    pub duration: Duration,
    /// `Ok` with the plugin's actions and state writes, or the one-line reason it failed.
    pub outcome: Result<&'a Produced, &'a str>,
}

/// A stored HTTP action the worker should send now.
#[derive(Debug, Clone)]
pub struct DueAction {
    /// Also the idempotency key sent downstream.
    pub id: String,
    pub tenant: String,
    pub plugin: String,
    pub request: Request,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// One delivery attempt, as it is stored.
pub struct AttemptRecord {
    pub started_at_ms: i64,
    pub duration: Duration,
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

impl Store {
    /// Opens (creating if needed) the database and applies the migrations.
    pub async fn open(database: &Database) -> anyhow::Result<Self> {
        Ok(Self {
            pool: database.connect().await?,
            database: database.clone(),
        })
    }

    /// The database this store lives in.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Forgets the leases of a previous process. The serving gateway calls it at start when
    /// [`Database::single_process`]: then any lease found belonged to a process that is gone.
    /// (Tools that open the store beside a running gateway must not; nor may a replica that
    /// shares PostgreSQL, where leases of a replica that died are taken over once they expire.)
    pub async fn release_leases(&self) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE actions SET lease_until = NULL, continuation_lease_until = NULL
             WHERE lease_until IS NOT NULL OR continuation_lease_until IS NOT NULL",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores an event with its plugin runs, their actions and state writes, atomically and
    /// durably.
    pub async fn record_event(
        &self,
        event: &EventRecord<'_>,
        runs: &[RunRecord<'_>],
    ) -> anyhow::Result<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO events (id, tenant, event_type, received_at, body, dedup_key, replay_of)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(event.id)
        .bind(event.tenant)
        .bind(event.event_type)
        .bind(now)
        .bind(event.body)
        .bind(event.dedup_key)
        .bind(event.replay_of)
        .execute(&mut *tx)
        .await?;
        for run in runs {
            let origin = Origin {
                event_id: event.id,
                tenant: event.tenant,
                plugin: run.plugin,
                parent_action_id: None,
            };
            insert_run(&mut tx, &origin, run, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Leases up to `limit` pending actions that are due, so no one else sends them meanwhile.
    pub async fn claim_due(&self, limit: usize, lease: Duration) -> anyhow::Result<Vec<DueAction>> {
        let now = now_ms();
        let rows = sqlx::query(&format!(
            "UPDATE actions SET lease_until = $1
             WHERE id IN (
                 SELECT id FROM actions
                 WHERE status = 'pending' AND next_attempt_at <= $2
                   AND (lease_until IS NULL OR lease_until < $3)
                 ORDER BY next_attempt_at
                 LIMIT $4 {})
             RETURNING id, tenant, plugin, method, url, headers, body, attempts, continuation",
            self.database.dialect().skip_locked()
        ))
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let headers: String = row.try_get("headers")?;
                Ok(DueAction {
                    id: row.try_get("id")?,
                    tenant: row.try_get("tenant")?,
                    plugin: row.try_get("plugin")?,
                    request: Request {
                        method: row.try_get("method")?,
                        url: row.try_get("url")?,
                        headers: serde_json::from_str(&headers)?,
                        body: row.try_get("body")?,
                        continuation: row.try_get("continuation")?,
                    },
                    attempts: row.try_get::<i64, _>("attempts")? as u32,
                })
            })
            .collect()
    }

    /// Records an attempt and moves the action to its next state, releasing the lease. A
    /// `response` (given when the action is done and its plugin asked for it) is stored and
    /// queued for the plugin's `on-response`, in the same transaction.
    pub async fn record_attempt(
        &self,
        action_id: &str,
        attempt: &AttemptRecord,
        next: Next,
        response: Option<&Response>,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO attempts (action_id, started_at, duration_ms, status_code, error) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(action_id)
        .bind(attempt.started_at_ms)
        .bind(attempt.duration.as_millis() as i64)
        .bind(attempt.status_code.map(i64::from))
        .bind(&attempt.error)
        .execute(&mut *tx)
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
        .execute(&mut *tx)
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
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Where a plugin run's output belongs.
struct Origin<'a> {
    event_id: &'a str,
    tenant: &'a str,
    plugin: &'a str,
    /// The action whose response the run handled, for `on-response` runs.
    parent_action_id: Option<&'a str>,
}

/// Inserts a plugin run and, when it succeeded, its actions and state writes.
async fn insert_run(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
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
    .execute(&mut **tx)
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
        .execute(&mut **tx)
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
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A new prefixed, time-ordered identifier such as `evt_0190...`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

mod continuations;
mod database;
mod dead_letters;
mod maintenance;
mod state;
#[cfg(test)]
mod tests;

pub use continuations::PendingContinuation;
pub use database::{Database, Dialect};
pub use dead_letters::{DeadLetter, StoredEvent};
pub use maintenance::Pruned;
