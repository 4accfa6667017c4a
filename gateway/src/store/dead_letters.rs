//! Dead letters (HTTP actions that failed for good) and stored events, for operators.

use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::{now_ms, Store};

/// An HTTP action that exhausted its attempts or was refused for good.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct DeadLetter {
    pub id: String,
    pub event_id: String,
    pub tenant: String,
    pub plugin: String,
    pub method: String,
    pub url: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// An event as it was received.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: String,
    pub tenant: String,
    pub body: Vec<u8>,
}

impl Store {
    /// The newest dead letters first, at most `limit`.
    pub async fn dead_letters(&self, limit: i64) -> anyhow::Result<Vec<DeadLetter>> {
        let rows = sqlx::query(
            "SELECT id, event_id, tenant, plugin, method, url, attempts, last_error, created_at
             FROM actions WHERE kind = 'http' AND status = 'failed'
             ORDER BY created_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(DeadLetter {
                    id: row.try_get("id")?,
                    event_id: row.try_get("event_id")?,
                    tenant: row.try_get("tenant")?,
                    plugin: row.try_get("plugin")?,
                    method: row.try_get("method")?,
                    url: row.try_get("url")?,
                    attempts: row.try_get("attempts")?,
                    last_error: row.try_get("last_error")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Sends dead letters again from a fresh retry schedule: the given ids, or all when `ids`
    /// is empty. Returns how many were requeued (ids that are not dead letters are skipped).
    pub async fn retry_dead_letters(&self, ids: &[String]) -> anyhow::Result<u64> {
        const REQUEUE: &str = "UPDATE actions SET status = 'pending', attempts = 0,
                 next_attempt_at = $1, lease_until = NULL
             WHERE kind = 'http' AND status = 'failed'";
        if ids.is_empty() {
            let done = sqlx::query(REQUEUE)
                .bind(now_ms())
                .execute(&self.writes)
                .await?;
            return Ok(done.rows_affected());
        }
        let mut tx = self.writes.begin().await?;
        let mut requeued = 0;
        for id in ids {
            requeued += sqlx::query(&format!("{REQUEUE} AND id = $2"))
                .bind(now_ms())
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(requeued)
    }

    /// Actions waiting to be sent, and dead letters.
    pub async fn backlog(&self) -> anyhow::Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM actions WHERE status = 'pending') AS pending,
                    (SELECT COUNT(*) FROM actions WHERE status = 'failed' AND kind = 'http')
                        AS failed",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("pending")?, row.try_get("failed")?))
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// A stored event by id.
    pub async fn event(&self, id: &str) -> anyhow::Result<Option<StoredEvent>> {
        let row = sqlx::query("SELECT id, tenant, body FROM events WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(StoredEvent {
                id: row.try_get("id")?,
                tenant: row.try_get("tenant")?,
                body: row.try_get("body")?,
            })
        })
        .transpose()
    }
}
