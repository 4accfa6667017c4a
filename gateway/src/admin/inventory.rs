//! What is loaded and configured now: every plugin file with its last errors, and every tenant
//! with how it is verified (never its secrets), its plugins, quotas and recent traffic. The
//! admin API (`GET /admin/plugins`, `GET /admin/tenants`) and the console show the same data.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::config::Quota;
use crate::ingress::verify::{HmacAlgorithm, SignatureEncoding, Verify};
use crate::pipeline::Pipeline;
use crate::plugins::manifest::Manifest;
use crate::store::{now_ms, LastRunError};

/// How far back [`TenantInfo::events_24h`] counts.
const DAY_MS: i64 = 24 * 3600 * 1000;

/// One plugin: a file loaded now, a file that was refused, or a name tenants enable that has
/// no file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginInfo {
    pub name: String,
    pub state: PluginState,
    /// The contract version the loaded version was built against (`soda:gateway@x.y.z`).
    pub contract: Option<&'static str>,
    /// Hex SHA-256 of the loaded version's file.
    pub sha256: Option<String>,
    /// Whether the loaded version's compiled artifact came from the on-disk cache.
    pub from_cache: Option<bool>,
    /// Time to read, compile (or deserialize) and link the loaded version.
    pub load_ms: Option<f64>,
    /// What the loaded version says about itself: name, version, contract, the hosts it
    /// reaches and its config's JSON Schema.
    pub manifest: Option<Manifest>,
    /// Hosts the loaded version declares that its allow-list refuses.
    pub warnings: Vec<String>,
    /// Tenants that enable it.
    pub enabled_for: Vec<String>,
    /// The last time its file was refused, unless it loaded since.
    pub last_load_error: Option<LoadErrorInfo>,
    /// Its most recent failed run in the store.
    pub last_run_error: Option<LastRunError>,
}

/// Whether a plugin serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PluginState {
    /// A version is loaded and serves (a newer file may have been refused meanwhile).
    Loaded,
    /// Its file was refused and no version of it ever loaded.
    Rejected,
    /// Enabled by a tenant, but there is no such file.
    Missing,
}

/// A refused plugin file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoadErrorInfo {
    /// Unix ms.
    pub at: i64,
    pub message: String,
}

/// One tenant, as configured now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantInfo {
    pub id: String,
    pub verification: Verification,
    /// Enabled plugins, in the order they run.
    pub plugins: Vec<TenantPlugin>,
    /// The quotas in force: `[quotas]` with this tenant's exceptions.
    pub quota: QuotaInfo,
    /// Events received in the last 24 hours.
    pub events_24h: i64,
}

/// How a tenant's requests are verified, without the secrets themselves.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verification {
    /// The config's `scheme`.
    pub scheme: &'static str,
    /// The header carrying the signature or token (Standard Webhooks: its three headers).
    pub header: String,
    /// The scheme's settings in a few words.
    pub detail: String,
    /// How many secrets (or token values) are accepted at once.
    pub secrets: usize,
}

/// A plugin a tenant enables.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantPlugin {
    pub name: String,
    /// Whether it is loaded now; runs of a plugin that is not are recorded as errors.
    pub loaded: bool,
}

/// A tenant's quotas in force, and which of them the tenant sets itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotaInfo {
    pub requests_per_second: f64,
    pub burst: u32,
    pub concurrent_events: usize,
    pub max_pending_actions: i64,
    /// The keys the tenant's own `quota` sets; the others come from `[quotas]`.
    pub own: Vec<&'static str>,
}

/// Every plugin loaded, refused or enabled, by name.
pub async fn plugins(pipeline: &Pipeline) -> anyhow::Result<Vec<PluginInfo>> {
    let mut run_errors = pipeline.store.last_run_errors().await?;
    let mut rejections = pipeline.plugins.rejections();
    let mut enabled_for: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let tenants = pipeline.tenants.load();
    let mut tenant_ids: Vec<&String> = tenants.keys().collect();
    tenant_ids.sort();
    for id in tenant_ids {
        for plugin in tenants[id].plugins.iter() {
            let tenants = enabled_for.entry(plugin.name.clone()).or_default();
            if !tenants.contains(id) {
                tenants.push(id.clone());
            }
        }
    }
    let mut plugins: BTreeMap<String, PluginInfo> = BTreeMap::new();
    let blank = |name: &str, state| PluginInfo {
        name: name.to_owned(),
        state,
        contract: None,
        sha256: None,
        from_cache: None,
        load_ms: None,
        manifest: None,
        warnings: Vec::new(),
        enabled_for: Vec::new(),
        last_load_error: None,
        last_run_error: None,
    };
    for loaded in pipeline.plugins.loaded() {
        let info = PluginInfo {
            contract: Some(loaded.compiled.version().name()),
            sha256: Some(loaded.sha256.clone()),
            from_cache: Some(loaded.from_cache),
            load_ms: Some(loaded.load_time.as_secs_f64() * 1000.0),
            manifest: loaded.manifest.as_ref().map(|m| m.manifest.clone()),
            warnings: pipeline.plugins.host_warnings(&loaded),
            ..blank(&loaded.name, PluginState::Loaded)
        };
        plugins.insert(loaded.name.clone(), info);
    }
    for name in rejections.keys() {
        plugins
            .entry(name.clone())
            .or_insert_with(|| blank(name, PluginState::Rejected));
    }
    for name in enabled_for.keys() {
        plugins
            .entry(name.clone())
            .or_insert_with(|| blank(name, PluginState::Missing));
    }
    Ok(plugins
        .into_values()
        .map(|mut info| {
            info.enabled_for = enabled_for.remove(&info.name).unwrap_or_default();
            info.last_load_error = rejections.remove(&info.name).map(|rejection| {
                let at = rejection
                    .at
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |since| since.as_millis() as i64);
                LoadErrorInfo {
                    at,
                    message: rejection.message,
                }
            });
            info.last_run_error = run_errors.remove(&info.name);
            info
        })
        .collect())
}

/// Every tenant configured now, by id; `quotas` is the gateway-wide `[quotas]`.
pub async fn tenants(pipeline: &Pipeline, quotas: &Quota) -> anyhow::Result<Vec<TenantInfo>> {
    let counts = pipeline
        .store
        .events_since_by_tenant(now_ms() - DAY_MS)
        .await?;
    let tenants = pipeline.tenants.load();
    let mut infos: Vec<TenantInfo> = tenants
        .values()
        .map(|tenant| {
            let config = &tenant.config;
            TenantInfo {
                id: config.id.clone(),
                verification: verification(&config.verify),
                plugins: config
                    .plugins
                    .iter()
                    .map(|plugin| TenantPlugin {
                        name: plugin.name.clone(),
                        loaded: pipeline.plugins.contains(&plugin.name),
                    })
                    .collect(),
                quota: quota(quotas, &config.quota),
                events_24h: counts.get(&config.id).copied().unwrap_or(0),
            }
        })
        .collect();
    infos.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(infos)
}

fn quota(quotas: &Quota, overrides: &crate::config::QuotaOverrides) -> QuotaInfo {
    let effective = quotas.with(overrides);
    let own = [
        (
            "requests_per_second",
            overrides.requests_per_second.is_some(),
        ),
        ("burst", overrides.burst.is_some()),
        ("concurrent_events", overrides.concurrent_events.is_some()),
        (
            "max_pending_actions",
            overrides.max_pending_actions.is_some(),
        ),
    ]
    .into_iter()
    .filter_map(|(key, set)| set.then_some(key))
    .collect();
    QuotaInfo {
        requests_per_second: effective.requests_per_second,
        burst: effective.burst,
        concurrent_events: effective.concurrent_events,
        max_pending_actions: effective.max_pending_actions,
        own,
    }
}

/// The scheme and its settings; secrets are only counted.
pub fn verification(verify: &Verify) -> Verification {
    match verify {
        Verify::Hmac {
            header,
            algorithm,
            encoding,
            prefix,
            secrets,
        } => {
            let algorithm = match algorithm {
                HmacAlgorithm::Sha256 => "sha256",
                HmacAlgorithm::Sha512 => "sha512",
            };
            let encoding = match encoding {
                SignatureEncoding::Hex => "hex",
                SignatureEncoding::Base64 => "base64",
            };
            let prefix = prefix
                .as_ref()
                .map(|prefix| format!(", prefix `{prefix}`"))
                .unwrap_or_default();
            Verification {
                scheme: "hmac",
                header: header.clone(),
                detail: format!("HMAC-{algorithm} of the body, {encoding}{prefix}"),
                secrets: secrets.len(),
            }
        }
        Verify::HmacSha256 { header, secrets } => Verification {
            scheme: "hmac-sha256",
            header: header.clone(),
            detail: "HMAC-sha256 of the body, hex, `sha256=` prefix allowed".into(),
            secrets: secrets.len(),
        },
        Verify::StandardWebhooks { secrets, tolerance } => Verification {
            scheme: "standard-webhooks",
            header: "webhook-id, webhook-timestamp, webhook-signature".into(),
            detail: format!(
                "Standard Webhooks, timestamps within {}",
                humantime::format_duration(*tolerance)
            ),
            secrets: secrets.len(),
        },
        Verify::Token { header, values } => Verification {
            scheme: "token",
            header: header.clone(),
            detail: "a fixed header value".into(),
            secrets: values.len(),
        },
    }
}
