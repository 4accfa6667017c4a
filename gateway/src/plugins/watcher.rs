//! Hot reload of plugins: watches the plugins folder (see [`crate::watch`]) and keeps the
//! [`Registry`] in sync with it. Replace plugins atomically (write elsewhere, then `mv`) to
//! never expose a half-written file; a half-written file is rejected anyway and the previous
//! version keeps serving.

use std::sync::Arc;

use super::Registry;
use crate::watch::{watch_folder, FolderWatcher};

/// Starts watching the registry's folder; dropping the watcher stops hot reload.
pub fn watch(registry: Arc<Registry>) -> anyhow::Result<FolderWatcher> {
    let dir = registry.dir().to_owned();
    let watcher = watch_folder(
        &dir,
        "plugin-reload",
        |_| true,
        move |paths| {
            for path in paths {
                registry.sync_file(&path);
            }
        },
    )?;
    tracing::info!(dir = %dir.display(), "watching for plugin changes");
    Ok(watcher)
}
