//! Each tenant's count of actions waiting to be sent, kept in memory for the backlog quota, so
//! that no request counts rows.
//!
//! The writers add what they commit (new pending actions, finished ones), and
//! [`Store::keep_backlog_counts`] reads the true counts from the database every
//! [`RECOUNT_EVERY`], which corrects whatever the writers do not see: other replicas on a shared
//! PostgreSQL, dead letters requeued by an operator.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::Row;

use super::Store;

/// How often the counts are read again from the database.
pub const RECOUNT_EVERY: Duration = Duration::from_secs(1);

/// Pending actions per tenant.
#[derive(Default)]
pub struct Backlog {
    counts: RwLock<HashMap<String, Arc<AtomicI64>>>,
}

impl Backlog {
    /// The live count of `tenant`'s pending actions (shared: it follows every change).
    pub fn counter(&self, tenant: &str) -> Arc<AtomicI64> {
        if let Some(counter) = self.read().get(tenant) {
            return counter.clone();
        }
        let mut counts = self.counts.write().unwrap_or_else(|e| e.into_inner());
        counts.entry(tenant.to_owned()).or_default().clone()
    }

    /// Adds `change` to `tenant`'s count.
    pub(super) fn add(&self, tenant: &str, change: i64) {
        self.counter(tenant).fetch_add(change, Ordering::Relaxed);
    }

    /// Replaces every count with the ones read from the database (absent tenants: zero).
    fn set_all(&self, counted: &HashMap<String, i64>) {
        for (tenant, counter) in self.read().iter() {
            counter.store(counted.get(tenant).copied().unwrap_or(0), Ordering::Relaxed);
        }
        for (tenant, pending) in counted {
            self.counter(tenant).store(*pending, Ordering::Relaxed);
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<AtomicI64>>> {
        self.counts.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store {
    /// The live count of `tenant`'s actions waiting to be sent.
    pub fn backlog_of(&self, tenant: &str) -> Arc<AtomicI64> {
        self.shared.backlog.counter(tenant)
    }

    /// Reads every tenant's pending actions from the database every [`RECOUNT_EVERY`], for as
    /// long as the gateway runs.
    pub async fn keep_backlog_counts(self) {
        let mut ticks = tokio::time::interval(RECOUNT_EVERY);
        loop {
            ticks.tick().await;
            match self.pending_by_tenant().await {
                Ok(counted) => self.shared.backlog.set_all(&counted),
                Err(error) => tracing::warn!("cannot count pending actions: {error:#}"),
            }
        }
    }

    async fn pending_by_tenant(&self) -> anyhow::Result<HashMap<String, i64>> {
        let rows = sqlx::query(
            "SELECT tenant, COUNT(*) AS pending FROM actions WHERE status = 'pending' GROUP BY tenant",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| Ok((row.try_get("tenant")?, row.try_get("pending")?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_changes_and_recounts() {
        let backlog = Backlog::default();
        let acme = backlog.counter("acme");
        backlog.add("acme", 3);
        backlog.add("acme", -1);
        assert_eq!(acme.load(Ordering::Relaxed), 2);
        let counted = HashMap::from([("other".to_owned(), 5)]);
        backlog.set_all(&counted);
        assert_eq!(acme.load(Ordering::Relaxed), 0, "absent from the recount");
        assert_eq!(backlog.counter("other").load(Ordering::Relaxed), 5);
    }
}
