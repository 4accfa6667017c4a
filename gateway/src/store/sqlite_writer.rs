//! The SQLite writer: one thread with the database's only writing connection (rusqlite, cached
//! prepared statements). It blocks for the first job, takes whatever else is queued (up to
//! [`MAX_BATCH`]), applies them all in one `BEGIN IMMEDIATE … COMMIT` and then completes every
//! waiter: one fsync for the batch (`synchronous = FULL`), and no thread hand-off per
//! statement. Every caller still waits for the commit that holds its write, so a 2xx still
//! means durable.
//!
//! A job whose statements fail (say, a duplicate id) is left out and the batch runs again
//! without it; it gets its error once the rest committed. A commit that fails fails every job
//! of the batch, and none of them is stored.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rusqlite::{params, Connection, OptionalExtension as _, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::handoff::{Effects, Route, Shared};
use super::writes::{self, Origin, StoredAction, Write};
use super::{now_ms, DueAction, DuplicateEvent, OnCommit, Pruned};
use crate::records::{ActionStatus, PluginRun};

/// Jobs committed together at most; bounded so a batch stays a short transaction.
const MAX_BATCH: usize = 256;
/// Jobs waiting for the writer before callers wait to hand theirs over.
const QUEUE: usize = 4096;

/// Hands jobs to the writer thread; cheap to clone. The thread ends when every handle is gone.
#[derive(Clone)]
pub(super) struct SqliteWriter {
    jobs: mpsc::Sender<Job>,
}

/// What the writer does for one caller.
// Most ops are event writes, moved once into the writer's channel: boxing them would add an
// allocation per event to save bytes on the rare claims.
#[allow(clippy::large_enum_variant)]
pub(super) enum Op {
    Write(Write),
    /// Leases up to `limit` due actions (see `Store::claim_due`).
    Claim {
        limit: usize,
        lease_ms: i64,
    },
    /// Forgets every lease (see `Store::release_leases`).
    ReleaseLeases,
    /// Deletes finished events received before the cutoff (see `Store::prune`).
    Prune {
        before_ms: i64,
    },
}

/// What an [`Op`] returns.
pub(super) enum Done {
    Nothing,
    Claimed(Vec<DueAction>),
    Pruned(Pruned),
}

struct Job {
    op: Op,
    reply: Reply,
}

/// Whom the writer tells how a job ended.
enum Reply {
    /// A caller waiting for the commit.
    Waiter(oneshot::Sender<anyhow::Result<Done>>),
    /// A callback run on the writer's thread (see [`OnCommit`]).
    Then(OnCommit),
}

impl Reply {
    fn send(self, result: anyhow::Result<Done>) {
        match self {
            Reply::Waiter(waiter) => {
                let _ = waiter.send(result);
            }
            Reply::Then(then) => then(result.map(|_| ())),
        }
    }
}

/// How SQLite syncs commits.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Durability {
    /// `synchronous = FULL`: a commit is on disk when it returns.
    Full,
    /// `synchronous = OFF`: for the throwaway in-memory store.
    Off,
}

impl SqliteWriter {
    /// Opens the writing connection to `file` and starts its thread.
    pub(super) fn start(
        file: &Path,
        durability: Durability,
        shared: Arc<Shared>,
    ) -> anyhow::Result<Self> {
        let connection = Connection::open(file)
            .with_context(|| format!("cannot open database {}", file.display()))?;
        connection.execute_batch(match durability {
            Durability::Full => "PRAGMA synchronous = FULL;",
            Durability::Off => "PRAGMA synchronous = OFF;",
        })?;
        // Checkpoints run in the background (`database::checkpoint_wal`), never inside a commit
        // that requests are waiting for.
        connection.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;
             PRAGMA wal_autocheckpoint = 0;",
        )?;
        connection.set_prepared_statement_cache_capacity(32);
        let (jobs, queue) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(connection, queue, &shared))
            .context("cannot start the SQLite writer thread")?;
        Ok(Self { jobs })
    }

    /// Runs `op` in the next batch and returns once that batch committed.
    pub(super) async fn run(&self, op: Op) -> anyhow::Result<Done> {
        let (done, committed) = oneshot::channel();
        self.enqueue(op, Reply::Waiter(done))
            .await
            .map_err(|_| anyhow::anyhow!("the store's writer has stopped"))?;
        committed
            .await
            .map_err(|_| anyhow::anyhow!("the store's writer stopped before committing"))?
    }

    /// Queues `op` and returns; `then` is called on the writer's thread once its batch
    /// committed or failed.
    pub(super) async fn run_then(&self, op: Op, then: OnCommit) {
        if let Err(error) = self.enqueue(op, Reply::Then(then)).await {
            if let Reply::Then(then) = error.0.reply {
                then(Err(anyhow::anyhow!("the store's writer has stopped")));
            }
        }
    }

    async fn enqueue(&self, op: Op, reply: Reply) -> Result<(), mpsc::error::SendError<Job>> {
        self.jobs.send(Job { op, reply }).await
    }
}

fn run(mut connection: Connection, mut queue: mpsc::Receiver<Job>, shared: &Shared) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&mut connection, &mut batch, shared);
    }
}

/// Why a batch did not commit.
enum Failure {
    /// The job at this index failed; the others may be tried again without it.
    Job(usize, anyhow::Error),
    /// The transaction failed as a whole (begin or commit).
    Batch(rusqlite::Error),
}

/// Commits the batch and answers every job of it, leaving `batch` empty. A job that failed is
/// answered once the rest committed (or failed), so that what it may look at next (say, the
/// original of a duplicate stored in the same batch) is there to be read.
fn commit_batch(connection: &mut Connection, batch: &mut Vec<Job>, shared: &Shared) {
    let mut failed = Vec::new();
    while !batch.is_empty() {
        let mut effects = Effects::default();
        match try_commit(connection, batch, shared.route.get(), &mut effects) {
            Ok(results) => {
                shared.publish(effects);
                for (job, result) in batch.drain(..).zip(results) {
                    job.reply.send(Ok(result));
                }
            }
            Err(Failure::Job(index, error)) => failed.push((batch.remove(index), error)),
            Err(Failure::Batch(error)) => {
                tracing::error!("the store could not commit {} writes: {error}", batch.len());
                for job in batch.drain(..) {
                    let error = anyhow::anyhow!("the store could not commit: {error}");
                    job.reply.send(Err(error));
                }
            }
        }
    }
    for (job, error) in failed {
        job.reply.send(Err(error));
    }
}

fn try_commit(
    connection: &mut Connection,
    batch: &[Job],
    route: Option<&Route>,
    effects: &mut Effects,
) -> Result<Vec<Done>, Failure> {
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(Failure::Batch)?;
    let now = now_ms();
    let mut results = Vec::with_capacity(batch.len());
    for (index, job) in batch.iter().enumerate() {
        let result = apply(&tx, &job.op, now, route, effects);
        results.push(result.map_err(|error| Failure::Job(index, error))?);
    }
    tx.commit().map_err(Failure::Batch)?;
    Ok(results)
}

fn apply(
    tx: &Transaction<'_>,
    op: &Op,
    now: i64,
    route: Option<&Route>,
    effects: &mut Effects,
) -> anyhow::Result<Done> {
    match op {
        Op::Write(Write::Event {
            id,
            tenant,
            event_type,
            body,
            dedup,
            replay_of,
            headers,
            runs,
            trace_parent,
        }) => {
            if let Some((key, cutoff)) = dedup {
                let claimed = tx
                    .prepare_cached(writes::CLAIM_DEDUP_KEY)?
                    .execute(params![tenant, key, id, now, cutoff])?;
                if claimed == 0 {
                    return Err(DuplicateEvent.into());
                }
            }
            let dedup_key = dedup.as_ref().map(|(key, _)| key);
            tx.prepare_cached(writes::INSERT_EVENT)?.execute(params![
                id, tenant, event_type, now, body, dedup_key, replay_of, headers
            ])?;
            for run in runs {
                let origin = Origin {
                    event_id: id,
                    tenant,
                    plugin: &run.plugin,
                    parent_action_id: None,
                    trace_parent: trace_parent.as_deref(),
                };
                insert_run(tx, &origin, run, now, route, effects)?;
            }
            Ok(Done::Nothing)
        }
        Op::Write(Write::Attempt {
            action_id,
            attempt,
            next,
            response,
        }) => {
            tx.prepare_cached(writes::INSERT_ATTEMPT)?.execute(params![
                action_id,
                attempt.started_at_ms,
                attempt.duration.as_millis() as i64,
                attempt.status_code,
                attempt.error
            ])?;
            let (status, next_attempt_at) = writes::after_attempt(*next, now);
            let tenant: Option<String> = tx
                .prepare_cached(writes::AFTER_ATTEMPT)?
                .query_row(
                    params![status.as_str(), next_attempt_at, attempt.error, action_id],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(response) = response {
                tx.prepare_cached(writes::KEEP_RESPONSE)?.execute(params![
                    response.status,
                    serde_json::to_string(&response.headers)?,
                    response.body,
                    action_id
                ])?;
            }
            if let Some(tenant) = tenant.filter(|_| status != ActionStatus::Pending) {
                effects.backlog(&tenant, -1);
            }
            Ok(Done::Nothing)
        }
        Op::Claim { limit, lease_ms } => Ok(Done::Claimed(claim(tx, *limit, now, *lease_ms)?)),
        Op::ReleaseLeases => {
            tx.prepare_cached(super::RELEASE_LEASES)?.execute([])?;
            Ok(Done::Nothing)
        }
        Op::Prune { before_ms } => Ok(Done::Pruned(prune(tx, *before_ms)?)),
    }
}

/// Inserts a plugin run and, when it succeeded, its actions and state writes (rusqlite).
fn insert_run(
    tx: &Transaction<'_>,
    origin: &Origin<'_>,
    run: &PluginRun,
    now: i64,
    route: Option<&Route>,
    effects: &mut Effects,
) -> anyhow::Result<()> {
    tx.prepare_cached(writes::INSERT_RUN)?.execute(params![
        origin.event_id,
        origin.plugin,
        if run.outcome.is_ok() { "ok" } else { "error" },
        run.outcome.as_ref().err(),
        run.duration.as_micros() as i64,
        origin.phase(),
        origin.parent_action_id
    ])?;
    let Ok(produced) = &run.outcome else {
        return Ok(());
    };
    let mut insert_action = tx.prepare_cached(writes::INSERT_ACTION)?;
    for action in &produced.actions {
        let stored = StoredAction::plan(action, route, effects, now);
        insert_action.execute(params![
            stored.id,
            origin.event_id,
            origin.tenant,
            origin.plugin,
            stored.kind(),
            stored.method(),
            stored.url(),
            stored.headers_json(),
            stored.body(),
            stored.status(),
            now,
            now,
            stored.continuation(),
            stored.continuation_status(),
            origin.parent_action_id,
            stored.lease_until(),
            origin.trace_parent
        ])?;
        stored.written(origin, effects);
    }
    for write in &produced.state {
        match &write.value {
            Some(value) => tx.prepare_cached(writes::UPSERT_STATE)?.execute(params![
                origin.tenant,
                origin.plugin,
                write.key,
                value,
                now
            ])?,
            None => tx.prepare_cached(writes::DELETE_STATE)?.execute(params![
                origin.tenant,
                origin.plugin,
                write.key
            ])?,
        };
    }
    Ok(())
}

fn claim(
    tx: &Transaction<'_>,
    limit: usize,
    now: i64,
    lease_ms: i64,
) -> anyhow::Result<Vec<DueAction>> {
    let lease_until = now + lease_ms;
    let mut due = Vec::new();
    for claimable in super::Claimable::ALL {
        let left = limit.saturating_sub(due.len());
        if left == 0 {
            break;
        }
        let sql = super::claim_sql(super::Dialect::Sqlite, claimable);
        let mut statement = tx.prepare_cached(&sql)?;
        let mut rows = statement.query(params![lease_until, now, left as i64])?;
        while let Some(row) = rows.next()? {
            let headers: String = row.get("headers")?;
            due.push(DueAction {
                id: row.get("id")?,
                event_id: row.get("event_id")?,
                tenant: row.get("tenant")?,
                plugin: row.get("plugin")?,
                request: crate::records::Request {
                    method: writes::stored_method(&row.get::<_, String>("method")?)?,
                    url: row.get("url")?,
                    headers: serde_json::from_str(&headers)?,
                    body: row.get("body")?,
                    continuation: row.get("continuation")?,
                },
                attempts: row.get::<_, i64>("attempts")? as u32,
                lease_until,
                trace_parent: row.get("trace_parent")?,
            });
        }
    }
    Ok(due)
}

fn prune(tx: &Transaction<'_>, before_ms: i64) -> anyhow::Result<Pruned> {
    let [replays, attempts, runs, actions, events, keys] = super::maintenance::PRUNE_STEPS;
    tx.prepare_cached(replays)?.execute([before_ms])?;
    let attempts = tx.prepare_cached(attempts)?.execute([before_ms])? as u64;
    tx.prepare_cached(runs)?.execute([before_ms])?;
    let actions = tx.prepare_cached(actions)?.execute([before_ms])? as u64;
    let events = tx.prepare_cached(events)?.execute([before_ms])? as u64;
    tx.prepare_cached(keys)?.execute([before_ms])?;
    Ok(Pruned {
        events,
        actions,
        attempts,
    })
}
