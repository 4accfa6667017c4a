//! Group commit: the writes that arrive while one transaction commits share the next one, so
//! many concurrent requests cost one durable commit (one fsync) instead of one each.
//!
//! Each caller still waits for the commit that holds its write before it returns, so "a 2xx
//! means durable" is unchanged. When a batch fails, its writes are tried again one transaction
//! each, so one bad write (say, a duplicate id) fails alone.

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

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
    /// Starts the writer task; it ends when every handle is dropped.
    pub(super) fn start(pool: AnyPool) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, queue));
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

async fn run(pool: AnyPool, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        if jobs.len() > 1 {
            let writes: Vec<&Write> = jobs.iter().map(|job| &job.write).collect();
            if commit(&pool, &writes).await.is_ok() {
                for job in jobs {
                    let _ = job.done.send(Ok(()));
                }
                continue;
            }
        }
        for job in jobs {
            let result = commit(&pool, &[&job.write]).await;
            let _ = job.done.send(result);
        }
    }
}

/// Applies `writes` in one transaction and commits it.
async fn commit(pool: &AnyPool, writes: &[&Write]) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let connection: &mut AnyConnection = &mut tx;
    for write in writes {
        write.apply(connection).await?;
    }
    tx.commit().await?;
    Ok(())
}
