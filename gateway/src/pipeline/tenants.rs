//! The tenants as the pipeline serves them: each configured tenant with its enabled plugins'
//! configs rendered once and its quota state.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Config, Tenant};
use crate::ingress::quota::TenantQuota;
use crate::plugins::Enabled;
use crate::store::Store;

/// Every tenant by id.
pub type Tenants = HashMap<String, Arc<TenantEntry>>;

/// Prepares every tenant of `config` for serving; their backlogs are counted in `store`.
pub fn tenants_of(config: &Config, store: &Store) -> anyhow::Result<Tenants> {
    config
        .tenants
        .iter()
        .map(|tenant| {
            let entry = TenantEntry::new(tenant, config, store)?;
            Ok((tenant.id.clone(), Arc::new(entry)))
        })
        .collect()
}

/// A tenant with its enabled plugins' configs rendered once, at start, and its quota state.
pub struct TenantEntry {
    pub config: Tenant,
    /// Shared with every plugin call of the tenant's events, not copied per event.
    pub plugins: Arc<[Enabled]>,
    pub quota: TenantQuota,
}

impl TenantEntry {
    /// Prepares a configured tenant for serving; its backlog is counted in `store`.
    pub fn new(tenant: &Tenant, config: &Config, store: &Store) -> anyhow::Result<Self> {
        let plugins = tenant
            .plugins
            .iter()
            .map(|plugin| {
                Ok(Enabled {
                    name: plugin.name.clone(),
                    config_json: serde_json::to_string(&plugin.config)?,
                    limits: config.limits_for(&plugin.name),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            config: tenant.clone(),
            plugins: plugins.into(),
            quota: TenantQuota::new(
                config.quotas.with(&tenant.quota),
                store.backlog_of(&tenant.id),
            ),
        })
    }
}
