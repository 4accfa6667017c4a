//! Deduplication look-ups and retention: reads and deletes over whole events.

use sqlx::Row;

use super::sqlite_writer::{Done, Op};
use super::{Store, Writer};

/// What one retention pass deleted.
#[derive(Debug, Default, PartialEq)]
pub struct Pruned {
    pub events: u64,
    pub actions: u64,
    pub attempts: u64,
}

/// Events received before the cutoff whose work is finished: no action still to send, no
/// response still to hand back. Bound parameter: the cutoff.
macro_rules! prunable {
    () => {
        "SELECT e.id FROM events e WHERE e.received_at < $1 AND NOT EXISTS (
            SELECT 1 FROM actions a WHERE a.event_id = e.id
              AND (a.status = 'pending' OR a.continuation_status IN ('waiting', 'pending')))"
    };
}

/// The statements of one retention pass, in order, each bound to the cutoff: a replay that is
/// kept outlives the original it points at; then attempts, runs, actions and events go, and
/// the dedup keys of events received before the cutoff.
pub(super) const PRUNE_STEPS: [&str; 6] = [
    concat!(
        "UPDATE events SET replay_of = NULL WHERE replay_of IN (",
        prunable!(),
        ")"
    ),
    concat!(
        "DELETE FROM attempts WHERE action_id IN (SELECT a.id FROM actions a WHERE a.event_id IN (",
        prunable!(),
        "))"
    ),
    concat!(
        "DELETE FROM plugin_runs WHERE event_id IN (",
        prunable!(),
        ")"
    ),
    concat!("DELETE FROM actions WHERE event_id IN (", prunable!(), ")"),
    concat!("DELETE FROM events WHERE id IN (", prunable!(), ")"),
    "DELETE FROM dedup_keys WHERE received_at < $1",
];

impl Store {
    /// The event that holds a tenant's dedup key, if it was received at or after `since_ms`,
    /// with the incident link it was answered with.
    pub async fn find_duplicate(
        &self,
        tenant: &str,
        dedup_key: &str,
        since_ms: i64,
    ) -> anyhow::Result<Option<(String, Option<serde_json::Value>)>> {
        let row = sqlx::query(
            "SELECT k.event_id AS id,
                    (SELECT body FROM actions a WHERE a.event_id = k.event_id
                       AND a.kind = 'link_answer' ORDER BY a.id LIMIT 1) AS link
             FROM dedup_keys k
             WHERE k.tenant = $1 AND k.dedup_key = $2 AND k.received_at >= $3",
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
        if let Writer::Sqlite(writer) = &self.writer {
            return match writer.run(Op::Prune { before_ms }).await? {
                Done::Pruned(pruned) => Ok(pruned),
                _ => unreachable!("a prune returns what it deleted"),
            };
        }
        let [replays, attempts, runs, actions, events, keys] = PRUNE_STEPS;
        let mut tx = self.writes.begin().await?;
        let step = |sql: &'static str| sqlx::query(sql).bind(before_ms);
        step(replays).execute(&mut *tx).await?;
        let attempts = step(attempts).execute(&mut *tx).await?.rows_affected();
        step(runs).execute(&mut *tx).await?;
        let actions = step(actions).execute(&mut *tx).await?.rows_affected();
        let events = step(events).execute(&mut *tx).await?.rows_affected();
        step(keys).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Pruned {
            events,
            actions,
            attempts,
        })
    }
}
