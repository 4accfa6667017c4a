//! Durable state: an embedded SQLite file (`data_dir/gateway.db`) by default, or a PostgreSQL
//! server that several gateway replicas share (see [`Database`]).
//!
//! The promise this module keeps: [`Store::record_event`] commits the event, its plugin runs and
//! all their actions in one transaction (SQLite: WAL with `synchronous = FULL`) before the
//! gateway answers 2xx. Writes are batched: on SQLite one writer thread commits whatever is
//! queued in one transaction ([`sqlite_writer`]); on PostgreSQL a few tasks do the same on the
//! shared pool ([`group_commit`]). New HTTP actions are leased to this process as they are
//! stored and handed straight to the delivery worker ([`handoff`]); the worker also claims due
//! actions with a lease ([`Store::claim_due`]; on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so
//! replicas never claim the same action) for retries, restarts and other replicas' expired
//! leases, and records every attempt ([`Store::record_attempt`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{AnyPool, Row};

use group_commit::GroupCommit;
use handoff::Shared;
use sqlite_writer::{Done, Op, SqliteWriter};
use writes::Write;

use crate::records::{Next, PluginRun, Request, Response};

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// For reading.
    pool: AnyPool,
    /// For the statements that write outside the writer (operator commands, continuations).
    writes: AnyPool,
    database: Database,
    /// The writer that batches events, attempts, claims and retention.
    writer: Writer,
    /// The route to the delivery worker and the backlog counts, shared with the writer.
    shared: Arc<Shared>,
    /// The in-memory store's scratch folder, deleted with the last handle.
    _scratch: Option<Arc<tempfile::TempDir>>,
}

/// The batching writer of each kind of database.
#[derive(Clone)]
enum Writer {
    /// One thread with the only writing connection (see [`sqlite_writer`]).
    Sqlite(SqliteWriter),
    /// Tasks that commit batches on the shared pool (see [`group_commit`]).
    Postgres(GroupCommit),
}

/// An accepted event, as it is stored.
pub struct EventRecord<'a> {
    pub id: &'a str,
    pub tenant: &'a str,
    pub event_type: &'a str,
    pub body: &'a [u8],
    /// Recognises a second delivery of the same event; `None` when deduplication is off.
    pub dedup: Option<Dedup<'a>>,
    /// The event this one replays, if it is a replay.
    pub replay_of: Option<&'a str>,
    /// The request's headers, credentials redacted, for the audit trail (empty for replays).
    pub headers: &'a [(String, String)],
    /// The event's trace context, kept with each of its actions (`None`: traces are off).
    pub trace_parent: Option<&'a str>,
}

/// What makes a second delivery of an event a duplicate: the same key (see
/// `ingress::dedup`) to the same tenant within the window.
#[derive(Debug, Clone, Copy)]
pub struct Dedup<'a> {
    pub key: &'a str,
    pub window: Duration,
}

/// The error [`Store::record_event`] fails with when the event's dedup key was taken by an
/// event stored within the window: the event is a duplicate and nothing of it was stored.
#[derive(Debug, thiserror::Error)]
#[error("a delivery with the same dedup key was stored within the dedup window")]
pub struct DuplicateEvent;

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
    /// Until when (Unix ms) the action is leased to this process: no one else sends it before.
    pub lease_until: i64,
    /// The trace context of the action's event (see `traces`).
    pub trace_parent: Option<String>,
}

/// Called once a write that nobody awaits committed (`Ok`) or failed.
pub type OnCommit = Box<dyn FnOnce(anyhow::Result<()>) + Send>;

/// One delivery attempt, as it is stored.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub started_at_ms: i64,
    pub duration: Duration,
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

/// Forgets every lease (see [`Store::release_leases`]).
const RELEASE_LEASES: &str =
    "UPDATE actions SET lease_until = NULL, continuation_lease_until = NULL
     WHERE lease_until IS NOT NULL OR continuation_lease_until IS NOT NULL";

/// Leases due actions. Parameters: lease end, now, now, limit.
/// Which due actions a claim takes. Each kind has a partial index of its own
/// (`actions_due`, `actions_leased`), so that a claim never steps over the actions already
/// leased to a worker: under load those are thousands, and stepping over them made every claim
/// of a backlog cost milliseconds.
#[derive(Clone, Copy)]
enum Claimable {
    /// Actions whose lease ran out (a replica or a process that stopped), oldest lease first.
    LeaseExpired,
    /// Actions nobody holds (retries, a full hand-over queue), oldest due first.
    Free,
}

impl Claimable {
    /// Both, in the order a claim takes them.
    const ALL: [Claimable; 2] = [Claimable::LeaseExpired, Claimable::Free];
}

/// Leases up to `$3` actions of the kind, due at `$2` (now), until `$1`.
fn claim_sql(dialect: Dialect, claimable: Claimable) -> String {
    let (held, order) = match claimable {
        Claimable::LeaseExpired => (
            "lease_until IS NOT NULL AND lease_until < $2",
            "lease_until",
        ),
        Claimable::Free => ("lease_until IS NULL", "next_attempt_at"),
    };
    format!(
        "UPDATE actions SET lease_until = $1
         WHERE id IN (
             SELECT id FROM actions
             WHERE status = 'pending' AND {held} AND next_attempt_at <= $2
             ORDER BY {order}
             LIMIT $3 {})
         RETURNING id, event_id, tenant, plugin, method, url, headers, body, attempts, continuation,
                   trace_parent",
        dialect.skip_locked()
    )
}

impl Store {
    /// Opens (creating if needed) the database and applies the migrations.
    pub async fn open(database: &Database) -> anyhow::Result<Self> {
        let pools = database.connect().await?;
        let shared = Arc::new(Shared::default());
        let (writer, scratch) = match pools.sqlite {
            Some(file) => {
                tokio::spawn(database::checkpoint_wal(pools.reads.clone()));
                let writer = SqliteWriter::start(&file.path, file.durability, shared.clone())?;
                (Writer::Sqlite(writer), file.scratch.map(Arc::new))
            }
            None => {
                let writers = database.dialect().writers();
                let writer = GroupCommit::start(pools.writes.clone(), writers, shared.clone());
                (Writer::Postgres(writer), None)
            }
        };
        Ok(Self {
            writer,
            shared,
            pool: pools.reads,
            writes: pools.writes,
            database: database.clone(),
            _scratch: scratch,
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
        match &self.writer {
            Writer::Sqlite(writer) => {
                writer.run(Op::ReleaseLeases).await?;
            }
            Writer::Postgres(_) => {
                sqlx::query(RELEASE_LEASES).execute(&self.writes).await?;
            }
        }
        Ok(())
    }

    /// Gives back the leases of actions this process holds but will not send (it is stopping),
    /// so that another replica, or the next start, takes them without waiting for the leases
    /// to run out.
    pub async fn release(&self, action_ids: &[String]) -> anyhow::Result<()> {
        if action_ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.writes.begin().await?;
        for id in action_ids {
            sqlx::query(
                "UPDATE actions SET lease_until = NULL WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores an event with its plugin runs, their actions and state writes, atomically and
    /// durably (concurrent calls share a commit). Its new HTTP actions go straight to the
    /// worker that called [`Store::deliver_directly`], if any.
    pub async fn record_event(
        &self,
        event: &EventRecord<'_>,
        runs: &[PluginRun],
    ) -> anyhow::Result<()> {
        self.write(Write::event(event, runs)).await
    }

    /// Leases up to `limit` pending actions that are due, so no one else sends them meanwhile.
    pub async fn claim_due(&self, limit: usize, lease: Duration) -> anyhow::Result<Vec<DueAction>> {
        let lease_ms = lease.as_millis() as i64;
        if let Writer::Sqlite(writer) = &self.writer {
            return match writer.run(Op::Claim { limit, lease_ms }).await? {
                Done::Claimed(due) => Ok(due),
                _ => unreachable!("a claim returns the claimed actions"),
            };
        }
        let now = now_ms();
        let lease_until = now + lease_ms;
        let mut rows = Vec::new();
        for claimable in Claimable::ALL {
            let left = limit.saturating_sub(rows.len());
            if left == 0 {
                break;
            }
            let sql = claim_sql(self.database.dialect(), claimable);
            let claimed = sqlx::query(&sql)
                .bind(lease_until)
                .bind(now)
                .bind(left as i64)
                .fetch_all(&self.writes)
                .await?;
            rows.extend(claimed);
        }
        rows.into_iter()
            .map(|row| {
                let headers: String = row.try_get("headers")?;
                Ok(DueAction {
                    id: row.try_get("id")?,
                    event_id: row.try_get("event_id")?,
                    tenant: row.try_get("tenant")?,
                    plugin: row.try_get("plugin")?,
                    request: Request {
                        method: writes::stored_method(&row.try_get::<String, _>("method")?)?,
                        url: row.try_get("url")?,
                        headers: serde_json::from_str(&headers)?,
                        body: row.try_get("body")?,
                        continuation: row.try_get("continuation")?,
                    },
                    attempts: row.try_get::<i64, _>("attempts")? as u32,
                    lease_until,
                    trace_parent: row.try_get("trace_parent")?,
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
        self.write(Write::Attempt {
            action_id: action_id.to_owned(),
            attempt: attempt.clone(),
            next,
            response: response.cloned(),
        })
        .await
    }

    /// [`Store::record_attempt`] without waiting for the commit: returns once the write is
    /// queued, and `then` learns how it ended (on the writer's thread: keep it short).
    pub async fn record_attempt_then(
        &self,
        action_id: &str,
        attempt: &AttemptRecord,
        next: Next,
        response: Option<&Response>,
        then: OnCommit,
    ) {
        let write = Write::Attempt {
            action_id: action_id.to_owned(),
            attempt: attempt.clone(),
            next,
            response: response.cloned(),
        };
        match &self.writer {
            Writer::Sqlite(writer) => writer.run_then(Op::Write(write), then).await,
            Writer::Postgres(writer) => {
                let writer = writer.clone();
                tokio::spawn(async move { then(writer.write(write).await) });
            }
        }
    }

    async fn write(&self, write: Write) -> anyhow::Result<()> {
        match &self.writer {
            Writer::Sqlite(writer) => writer.run(Op::Write(write)).await.map(|_| ()),
            Writer::Postgres(writer) => writer.write(write).await,
        }
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

mod activity;
mod audit;
mod backlog;
mod continuations;
mod database;
mod dead_letters;
mod group_commit;
mod handoff;
mod maintenance;
mod pg_batch;
mod plugin_errors;
mod sqlite_writer;
mod state;
#[cfg(test)]
mod tests;
mod writes;

pub use activity::{Activity, Counted, Deliveries, PluginCounted, Window};
pub use audit::{
    ActionFilter, ActionView, AttemptView, EventFilter, EventStatus, EventStory, EventSummary,
    RetryOutcome, RunView,
};
pub use continuations::{ChainPosition, PendingContinuation};
pub use database::{with_password_masked, Database, Dialect};
pub use dead_letters::{DeadLetter, StoredEvent};
pub use maintenance::Pruned;
pub use plugin_errors::LastRunError;
