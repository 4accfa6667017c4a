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

use group_commit::GroupCommit;
use writes::Write;

use crate::actions::retry::Next;
use crate::actions::{Produced, Request, Response};

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// For reading.
    pool: AnyPool,
    /// For every statement that writes (on SQLite, one connection: see `Database::connect`).
    writes: AnyPool,
    database: Database,
    /// The writer that batches [`Store::record_event`] and [`Store::record_attempt`].
    writer: GroupCommit,
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
    /// The request's headers, credentials redacted, for the audit trail (empty for replays).
    pub headers: &'a [(String, String)],
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
    pub event_id: String,
    pub tenant: String,
    pub plugin: String,
    pub request: Request,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// One delivery attempt, as it is stored.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub started_at_ms: i64,
    pub duration: Duration,
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

impl Store {
    /// Opens (creating if needed) the database and applies the migrations.
    pub async fn open(database: &Database) -> anyhow::Result<Self> {
        let pools = database.connect().await?;
        if let Database::Sqlite(_) = database {
            tokio::spawn(database::checkpoint_wal(pools.reads.clone()));
        }
        Ok(Self {
            writer: GroupCommit::start(pools.writes.clone(), database.dialect().writers()),
            pool: pools.reads,
            writes: pools.writes,
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
        .execute(&self.writes)
        .await?;
        Ok(())
    }

    /// Stores an event with its plugin runs, their actions and state writes, atomically and
    /// durably (see [`group_commit`] for how concurrent calls share a commit).
    pub async fn record_event(
        &self,
        event: &EventRecord<'_>,
        runs: &[RunRecord<'_>],
    ) -> anyhow::Result<()> {
        self.writer.write(Write::event(event, runs)).await
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
             RETURNING id, event_id, tenant, plugin, method, url, headers, body, attempts, continuation",
            self.database.dialect().skip_locked()
        ))
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.writes)
        .await?;
        rows.into_iter()
            .map(|row| {
                let headers: String = row.try_get("headers")?;
                Ok(DueAction {
                    id: row.try_get("id")?,
                    event_id: row.try_get("event_id")?,
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
        self.writer
            .write(Write::Attempt {
                action_id: action_id.to_owned(),
                attempt: attempt.clone(),
                next,
                response: response.cloned(),
            })
            .await
    }
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

mod audit;
mod continuations;
mod database;
mod dead_letters;
mod group_commit;
mod maintenance;
mod plugin_errors;
mod state;
#[cfg(test)]
mod tests;
mod writes;

pub use audit::{
    ActionFilter, ActionView, AttemptView, EventFilter, EventStatus, EventStory, EventSummary,
    RetryOutcome, RunView,
};
pub use continuations::PendingContinuation;
pub use database::{Database, Dialect};
pub use dead_letters::{DeadLetter, StoredEvent};
pub use maintenance::Pruned;
pub use plugin_errors::LastRunError;
