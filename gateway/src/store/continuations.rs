//! Stored responses waiting for their plugin's `on-response`, and the runs that handled them.

use std::time::Duration;

use sqlx::Row;

use super::handoff::Effects;
use super::writes::{insert_run, Origin};
use super::{now_ms, Store};
use crate::records::{PluginRun, Response};

/// A response whose plugin has not handled it yet.
#[derive(Debug, Clone)]
pub struct PendingContinuation {
    pub action_id: String,
    pub event_id: String,
    pub tenant: String,
    pub plugin: String,
    pub continuation: String,
    /// The trace context of the action's event (see `traces`).
    pub trace_parent: Option<String>,
    pub response: Response,
}

/// Where a response stands in its event's chain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChainPosition {
    /// The `on-response` step this response would start: 1 for the response to an action
    /// from `handle`, 2 for one to an action from that step, and so on.
    pub step: u32,
    /// Actions stored for the event so far.
    pub event_actions: u32,
}

impl Store {
    /// Leases up to `limit` responses waiting for their plugin.
    pub async fn claim_continuations(
        &self,
        limit: usize,
        lease: Duration,
    ) -> anyhow::Result<Vec<PendingContinuation>> {
        let now = now_ms();
        // Looked for on a reading connection first: a claim is a write, and on SQLite every
        // write outside the store's writer makes that writer wait for the lock.
        let any: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM actions WHERE continuation_status = 'pending'
                 AND (continuation_lease_until IS NULL OR continuation_lease_until < $1) LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&format!(
            "UPDATE actions SET continuation_lease_until = $1
             WHERE id IN (
                 SELECT id FROM actions
                 WHERE continuation_status = 'pending'
                   AND (continuation_lease_until IS NULL OR continuation_lease_until < $2)
                 LIMIT $3 {})
             RETURNING id, event_id, tenant, plugin, continuation, response_status,
                       response_headers, response_body, trace_parent",
            self.database.dialect().skip_locked()
        ))
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.writes)
        .await?;
        rows.into_iter()
            .map(|row| {
                let headers: String = row.try_get("response_headers")?;
                Ok(PendingContinuation {
                    action_id: row.try_get("id")?,
                    event_id: row.try_get("event_id")?,
                    tenant: row.try_get("tenant")?,
                    plugin: row.try_get("plugin")?,
                    continuation: row.try_get("continuation")?,
                    trace_parent: row.try_get("trace_parent")?,
                    response: Response {
                        status: row.try_get::<i64, _>("response_status")? as u16,
                        headers: serde_json::from_str(&headers)?,
                        body: row.try_get("response_body")?,
                    },
                })
            })
            .collect()
    }

    /// How far along its chain a response is, and how many actions its event has produced so
    /// far over all plugins and steps: what `max_chain_depth` and `max_actions_per_event` are
    /// checked against before the next step runs.
    pub async fn chain_position(
        &self,
        pending: &PendingContinuation,
    ) -> anyhow::Result<ChainPosition> {
        // The action's ancestors, itself included: 1 for an action from `handle`.
        let depth: i64 = sqlx::query_scalar(
            "WITH RECURSIVE chain(id, parent) AS (
                 SELECT id, parent_action_id FROM actions WHERE id = $1
                 UNION ALL
                 SELECT actions.id, actions.parent_action_id FROM actions
                 JOIN chain ON actions.id = chain.parent
             )
             SELECT COUNT(*) FROM chain",
        )
        .bind(&pending.action_id)
        .fetch_one(&self.pool)
        .await?;
        let event_actions: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM actions WHERE event_id = $1")
                .bind(&pending.event_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(ChainPosition {
            step: u32::try_from(depth).unwrap_or(u32::MAX),
            event_actions: u32::try_from(event_actions).unwrap_or(u32::MAX),
        })
    }

    /// The raw body of a stored event.
    pub async fn event_body(&self, event_id: &str) -> anyhow::Result<Vec<u8>> {
        Ok(sqlx::query_scalar("SELECT body FROM events WHERE id = $1")
            .bind(event_id)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Stores the plugin's `on-response` run with its actions and state writes, and marks the
    /// continuation handled, in one transaction.
    pub async fn complete_continuation(
        &self,
        pending: &PendingContinuation,
        run: &PluginRun,
    ) -> anyhow::Result<()> {
        let now = now_ms();
        let mut tx = self.writes.begin().await?;
        let origin = Origin {
            event_id: &pending.event_id,
            tenant: &pending.tenant,
            plugin: &pending.plugin,
            parent_action_id: Some(&pending.action_id),
            trace_parent: pending.trace_parent.as_deref(),
        };
        let mut effects = Effects::default();
        let route = self.shared.route.get();
        insert_run(&mut tx, &origin, run, now, route, &mut effects).await?;
        sqlx::query(
            "UPDATE actions SET continuation_status = $1, continuation_lease_until = NULL WHERE id = $2",
        )
        .bind(if run.outcome.is_ok() { "done" } else { "error" })
        .bind(&pending.action_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.shared.publish(effects);
        Ok(())
    }
}
