//! Reads of plugin state; writes are committed with the run that made them (see `insert_run`).

use super::Store;

impl Store {
    /// The value of a plugin's key for a tenant.
    pub async fn state_get(
        &self,
        tenant: &str,
        plugin: &str,
        key: &str,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar(
            "SELECT value FROM plugin_state WHERE tenant = $1 AND plugin = $2 AND key = $3",
        )
        .bind(tenant)
        .bind(plugin)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// How many keys a plugin holds for a tenant.
    pub async fn state_count(&self, tenant: &str, plugin: &str) -> anyhow::Result<usize> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM plugin_state WHERE tenant = $1 AND plugin = $2",
        )
        .bind(tenant)
        .bind(plugin)
        .fetch_one(&self.pool)
        .await?;
        Ok(count as usize)
    }
}
