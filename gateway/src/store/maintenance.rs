//! Deduplication look-ups and retention: reads and deletes over whole events.

use sqlx::Row;

use super::Store;

/// What one retention pass deleted.
#[derive(Debug, Default, PartialEq)]
pub struct Pruned {
    pub events: u64,
    pub actions: u64,
    pub attempts: u64,
}

/// Events received before the cutoff whose work is finished: no action still to send, no
/// response still to hand back. Bound parameter: the cutoff.
const PRUNABLE: &str = "SELECT e.id FROM events e WHERE e.received_at < $1 AND NOT EXISTS (
        SELECT 1 FROM actions a WHERE a.event_id = e.id
          AND (a.status = 'pending' OR a.continuation_status IN ('waiting', 'pending')))";

impl Store {
    /// The event a tenant received with this dedup key at or after `since_ms`, if any, with the
    /// incident link it was answered with.
    pub async fn find_duplicate(
        &self,
        tenant: &str,
        dedup_key: &str,
        since_ms: i64,
    ) -> anyhow::Result<Option<(String, Option<serde_json::Value>)>> {
        let row = sqlx::query(
            "SELECT e.id,
                    (SELECT body FROM actions a WHERE a.event_id = e.id AND a.kind = 'link_answer'
                     ORDER BY a.id LIMIT 1) AS link
             FROM events e
             WHERE e.tenant = $1 AND e.dedup_key = $2 AND e.received_at >= $3
             ORDER BY e.received_at LIMIT 1",
        )
        .bind(tenant)
        .bind(dedup_key)
        .bind(since_ms)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let link: Option<Vec<u8>> = row.try_get("link")?;
        let link = link.map(|body| serde_json::from_slice(&body)).transpose()?;
        Ok(Some((row.try_get("id")?, link)))
    }

    /// Deletes finished events received before `before_ms`, with their runs, actions and
    /// attempts; events with work still to do are kept whatever their age.
    pub async fn prune(&self, before_ms: i64) -> anyhow::Result<Pruned> {
        let mut tx = self.writes.begin().await?;
        // A replay that is kept outlives the original it points at.
        sqlx::query(&format!(
            "UPDATE events SET replay_of = NULL WHERE replay_of IN ({PRUNABLE})"
        ))
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
        let of_prunable_actions =
            format!("SELECT a.id FROM actions a WHERE a.event_id IN ({PRUNABLE})");
        let attempts = sqlx::query(&format!(
            "DELETE FROM attempts WHERE action_id IN ({of_prunable_actions})"
        ))
        .bind(before_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(&format!(
            "DELETE FROM plugin_runs WHERE event_id IN ({PRUNABLE})"
        ))
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
        let actions = sqlx::query(&format!(
            "DELETE FROM actions WHERE event_id IN ({PRUNABLE})"
        ))
        .bind(before_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let events = sqlx::query(&format!("DELETE FROM events WHERE id IN ({PRUNABLE})"))
            .bind(before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Pruned {
            events,
            actions,
            attempts,
        })
    }
}
