//! Group commit on PostgreSQL: the writes that arrive while one transaction commits share the next one, so
//! many concurrent requests cost one durable commit (one fsync) instead of one each, and their
//! rows one statement per table instead of one round trip each (see `pg_batch`).
//!
//! Each caller still waits for the commit that holds its write before it returns, so "a 2xx
//! means durable" is unchanged. When a batch fails, its writes are tried again one transaction
//! each, so one bad write (say, a duplicate id) fails alone.

use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::handoff::{Effects, Shared};
use super::now_ms;
use super::pg_batch::Batch;
use super::writes::Write;

/// Writes committed together at most; bounded so a batch stays a short transaction.
const MAX_BATCH: usize = 64;
/// Writes waiting for the writer before callers wait to hand theirs over.
const QUEUE: usize = 1024;

/// Hands writes to the store's writer task; cheap to clone.
#[derive(Clone)]
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

struct Job {
    write: Write,
    done: oneshot::Sender<anyhow::Result<()>>,
}

impl GroupCommit {
    /// Starts `writers` writer tasks, each committing its own batches; they end when every
    /// handle is dropped. SQLite takes one writer at a time anyway; PostgreSQL commits several
    /// transactions at once, so there more writers keep its connections busy.
    pub(super) fn start(pool: AnyPool, writers: usize, shared: Arc<Shared>) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..writers {
            tokio::spawn(run(pool.clone(), Arc::clone(&queue), shared.clone()));
        }
        Self { jobs }
    }

    /// Commits `write` (with whatever else is waiting) and returns once it is durable.
    pub(super) async fn write(&self, write: Write) -> anyhow::Result<()> {
        let (done, committed) = oneshot::channel();
        self.jobs
            .send(Job { write, done })
            .await
            .map_err(|_| anyhow::anyhow!("the store's writer has stopped"))?;
        committed
            .await
            .map_err(|_| anyhow::anyhow!("the store's writer stopped before committing"))?
    }
}

async fn run(pool: AnyPool, queue: Arc<Mutex<mpsc::Receiver<Job>>>, shared: Arc<Shared>) {
    loop {
        // The lock is held only while taking a batch, not while committing it.
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        if queue.lock().await.recv_many(&mut jobs, MAX_BATCH).await == 0 {
            return;
        }
        if jobs.len() > 1 {
            let writes: Vec<&Write> = jobs.iter().map(|job| &job.write).collect();
            if commit(&pool, &writes, &shared).await.is_ok() {
                for job in jobs {
                    let _ = job.done.send(Ok(()));
                }
                continue;
            }
        }
        for job in jobs {
            let result = commit(&pool, &[&job.write], &shared).await;
            let _ = job.done.send(result);
        }
    }
}

/// Applies `writes` in one transaction, commits it and publishes what it set in motion. The
/// rows go in one multi-row statement per table (see [`Batch`]).
async fn commit(pool: &AnyPool, writes: &[&Write], shared: &Shared) -> anyhow::Result<()> {
    let mut effects = Effects::default();
    let mut tx = pool.begin().await?;
    let connection: &mut AnyConnection = &mut tx;
    let now = now_ms();
    let mut batch = Batch::new();
    for write in writes {
        batch.add(write, now, shared.route.get(), &mut effects)?;
    }
    batch.apply(connection, now, &mut effects).await?;
    tx.commit().await?;
    shared.publish(effects);
    Ok(())
}
