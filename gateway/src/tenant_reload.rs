//! Hot reload of tenants: when the config file changes, its `[[tenants]]` (verification, secrets,
//! quotas, enabled plugins and their configs) replace the running ones at once, for the next
//! request; requests in flight finish with the tenants they started with.
//!
//! The new file is validated whole, its secrets read and its plugin configs checked against the
//! plugins' schemas (see `plugins::manifest`) before anything changes: a file that
//! fails is rejected with a log line saying why, and the previous tenants keep serving. Other
//! sections take effect at the next restart; a change to them is logged as such. A reloaded
//! tenant starts with fresh quota buckets.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use arc_swap::ArcSwap;

use crate::actions::secrets::Secrets;
use crate::config::Config;
use crate::pipeline::{tenants_of, Pipeline};
use crate::plugins::configs_in_use;
use crate::watch::{watch_folder, FolderWatcher};

/// Starts watching `path`; `running` is the configuration the gateway serves now.
pub fn watch(
    path: &Path,
    running: Config,
    pipeline: Arc<Pipeline>,
    secrets: Arc<ArcSwap<Secrets>>,
) -> anyhow::Result<FolderWatcher> {
    let path = path.to_path_buf();
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let file_name = path.file_name().map(ToOwned::to_owned);
    let last_text = std::fs::read_to_string(&path).unwrap_or_default();
    let reload_path = path.clone();
    let mut reload = TenantReload {
        path,
        running,
        pipeline,
        secrets,
        last_text,
    };
    let is_config = move |changed: &Path| changed.file_name() == file_name.as_deref();
    let watcher = watch_folder(&dir, "tenant-reload", is_config, move |_| reload.apply())?;
    tracing::info!(config = %reload_path.display(), "watching the config file for tenant changes");
    Ok(watcher)
}

struct TenantReload {
    path: PathBuf,
    running: Config,
    pipeline: Arc<Pipeline>,
    secrets: Arc<ArcSwap<Secrets>>,
    /// The file as last applied, to skip saves that change nothing.
    last_text: String,
}

impl TenantReload {
    fn apply(&mut self) {
        match self.reload() {
            Ok(Some(count)) => tracing::info!(
                config = %self.path.display(),
                tenants = count,
                "tenants reloaded"
            ),
            Ok(None) => {}
            Err(error) => tracing::error!(
                config = %self.path.display(),
                "config reload rejected, the previous tenants keep serving: {error:#}"
            ),
        }
    }

    /// Applies the file's tenants; `None` when the file did not change.
    fn reload(&mut self) -> anyhow::Result<Option<usize>> {
        let text = std::fs::read_to_string(&self.path)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        if text == self.last_text {
            return Ok(None);
        }
        let base = self.path.parent().unwrap_or(Path::new("."));
        let new = Config::from_toml(&text, base).context("invalid config")?;
        let secrets = Secrets::load(&new.tenants)?;
        let mut next = self.running.clone();
        next.tenants = new.tenants;
        let tenants = tenants_of(&next, &self.pipeline.store)?;
        self.pipeline
            .plugins
            .accept_configs(configs_in_use(&next.tenants))
            .context("tenants' plugin configs refused by the plugins' schemas")?;
        if others_differ(&self.last_text, &text) {
            tracing::warn!(
                config = %self.path.display(),
                "only [[tenants]] is reloaded; the other changes take effect at the next restart"
            );
        }
        let count = tenants.len();
        self.secrets.store(Arc::new(secrets));
        self.pipeline.tenants.store(Arc::new(tenants));
        self.last_text = text;
        Ok(Some(count))
    }
}

/// Whether two config texts differ outside `[[tenants]]`.
fn others_differ(old: &str, new: &str) -> bool {
    let without_tenants = |text: &str| {
        let mut table: toml::Table = toml::from_str(text).unwrap_or_default();
        table.remove("tenants");
        table
    };
    without_tenants(old) != without_tenants(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_outside_tenants_are_told_apart() {
        let old = "listen = \"127.0.0.1:1\"\n[[tenants]]\nid = \"a\"\n";
        let tenants_only = "listen = \"127.0.0.1:1\"\n[[tenants]]\nid = \"b\"\n";
        let listen_too = "listen = \"127.0.0.1:2\"\n[[tenants]]\nid = \"b\"\n";
        assert!(!others_differ(old, tenants_only));
        assert!(others_differ(old, listen_too));
    }
}
