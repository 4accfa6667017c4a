//! What the console's plugins and tenants pages (and `GET /admin/plugins`, `/admin/tenants`)
//! read from the store: each plugin's most recent failed run, and each tenant's recent events.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::Store;

/// A plugin's most recent failed run.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct LastRunError {
    /// When the event the run belongs to was received, Unix ms (runs carry no time of their
    /// own; an `on_response` run happened later than this).
    pub at: i64,
    pub event_id: String,
    pub tenant: String,
    pub error: Option<String>,
}

impl Store {
    /// The most recent failed run of every plugin that ever failed, by plugin name.
    pub async fn last_run_errors(&self) -> anyhow::Result<HashMap<String, LastRunError>> {
        let rows = sqlx::query(
            "SELECT r.plugin, r.error, r.event_id, e.tenant, e.received_at
             FROM plugin_runs r JOIN events e ON e.id = r.event_id
             WHERE r.id IN (SELECT MAX(id) FROM plugin_runs WHERE outcome = 'error'
                            GROUP BY plugin)",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("plugin")?,
                    LastRunError {
                        at: row.try_get("received_at")?,
                        event_id: row.try_get("event_id")?,
                        tenant: row.try_get("tenant")?,
                        error: row.try_get("error")?,
                    },
                ))
            })
            .collect()
    }

    /// How many events each tenant had received at or after `since_ms` (Unix ms); tenants
    /// without any are left out.
    pub async fn events_since_by_tenant(
        &self,
        since_ms: i64,
    ) -> anyhow::Result<HashMap<String, i64>> {
        let rows = sqlx::query(
            "SELECT tenant, COUNT(*) AS events FROM events WHERE received_at >= $1
             GROUP BY tenant",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("tenant")?, row.try_get("events")?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{now_ms, Database, EventRecord};
    use super::*;
    use crate::records::{PluginRun, Produced};

    async fn record(store: &Store, id: &str, tenant: &str, runs: &[PluginRun]) {
        let event = EventRecord {
            id,
            tenant,
            event_type: "checkEvaluation",
            body: b"{}",
            dedup: None,
            replay_of: None,
            headers: &[],
            trace_parent: None,
        };
        store.record_event(&event, runs).await.unwrap();
    }

    #[tokio::test]
    async fn the_console_sees_each_plugins_last_failure_and_recent_events_per_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Database::Sqlite(dir.path().join("gateway.db")))
            .await
            .unwrap();
        let run = |plugin: &str, outcome: Result<Produced, &str>| PluginRun {
            plugin: plugin.into(),
            duration: Duration::ZERO,
            outcome: outcome.map_err(str::to_owned),
        };
        record(&store, "evt_1", "acme", &[run("slack", Err("first"))]).await;
        record(&store, "evt_2", "acme", &[run("slack", Err("second"))]).await;
        let ok = run("slack", Ok(Produced::default()));
        record(&store, "evt_3", "globex", &[ok, run("jira", Err("boom"))]).await;

        let errors = store.last_run_errors().await.unwrap();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors["slack"].event_id, "evt_2");
        assert_eq!(errors["slack"].error.as_deref(), Some("second"));
        assert_eq!(errors["jira"].tenant, "globex");

        let counts = store
            .events_since_by_tenant(now_ms() - 60_000)
            .await
            .unwrap();
        assert_eq!(counts.get("acme"), Some(&2));
        assert_eq!(counts.get("globex"), Some(&1));
        let none = store
            .events_since_by_tenant(now_ms() + 60_000)
            .await
            .unwrap();
        assert!(none.is_empty());
    }
}
