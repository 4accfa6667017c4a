//! Tenants' configs checked against their plugins' manifests: a config that breaks the plugin's
//! schema is refused before any event reaches the plugin (at start, on a tenants reload, and
//! when a new version of the plugin arrives), and a host the plugin declares but its allow-list
//! refuses is warned about.

use serde_json::Value;

use super::LoadedPlugin;
use crate::actions::policy::uncovered_hosts;
use crate::config::Tenant;

/// One tenant's config for one plugin.
#[derive(Debug, Clone)]
pub struct ConfigInUse {
    pub tenant: String,
    pub plugin: String,
    pub config: Value,
}

/// Configs refused by their plugins' schemas: every problem, each naming tenant, plugin and key.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct ConfigsRefused(pub Vec<String>);

/// Every tenant's config for every plugin it enables.
pub fn in_use(tenants: &[Tenant]) -> Vec<ConfigInUse> {
    tenants
        .iter()
        .flat_map(|tenant| {
            tenant.plugins.iter().map(|plugin| ConfigInUse {
                tenant: tenant.id.clone(),
                plugin: plugin.name.clone(),
                config: serde_json::to_value(&plugin.config).unwrap_or(Value::Null),
            })
        })
        .collect()
}

/// What `plugin`'s schema finds wrong in the configs of the tenants that enable it: one line
/// per tenant.
pub fn refusals(plugin: &LoadedPlugin, uses: &[ConfigInUse]) -> Vec<String> {
    let Some(manifest) = &plugin.manifest else {
        return Vec::new();
    };
    uses.iter()
        .filter(|used| used.plugin == plugin.name)
        .filter_map(|used| {
            let problems = manifest.check_config(&used.config).err()?;
            Some(format!(
                "tenant `{}`: plugin `{}`: {}",
                used.tenant,
                used.plugin,
                problems.join(", ")
            ))
        })
        .collect()
}

/// The hosts `plugin` declares that its allow-list (`outbound.allowed_hosts.<plugin>`) refuses,
/// as warnings; none when it has no allow-list (it may reach any public host).
pub fn host_warnings(plugin: &LoadedPlugin, allowed: Option<&[String]>) -> Vec<String> {
    let (Some(manifest), Some(allowed)) = (&plugin.manifest, allowed) else {
        return Vec::new();
    };
    uncovered_hosts(allowed, &manifest.manifest.hosts)
        .into_iter()
        .map(|host| {
            format!(
                "plugin `{}` declares host `{host}`, which `outbound.allowed_hosts.{}` does not \
                 allow: its requests there will be refused",
                plugin.name, plugin.name
            )
        })
        .collect()
}
