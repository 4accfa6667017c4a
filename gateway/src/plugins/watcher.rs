//! Hot reload: watches the plugins folder and keeps the [`Registry`] in sync with it.
//!
//! Changes (creates, writes, renames, removals; never mere reads, which the loader itself
//! causes) are collected until the folder has been quiet for [`DEBOUNCE`], since an editor or
//! `cp` writes a file in several steps. Then each changed `*.wasm` is reloaded or unloaded on the
//! watcher's own thread, off the request path. Replace plugins atomically (write elsewhere, then
//! `mv`) to never expose a half-written file; a half-written file is rejected anyway and the
//! previous version keeps serving.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use super::Registry;

/// How long the folder must be quiet before changed files are (re)loaded.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// A running watcher; dropping it stops hot reload.
pub struct Watcher {
    _watcher: RecommendedWatcher,
}

/// Starts watching the registry's folder.
pub fn watch(registry: Arc<Registry>) -> anyhow::Result<Watcher> {
    let dir = registry.dir().to_owned();
    let (changes, received) = mpsc::channel();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<Event>| match event {
            Ok(event) if is_change(&event.kind) => {
                for path in event.paths {
                    let _ = changes.send(path);
                }
            }
            Ok(_) => {}
            Err(error) => tracing::error!("plugin folder watch error: {error}"),
        })
        .context("cannot start the plugin folder watcher")?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch plugins_dir {}", dir.display()))?;
    std::thread::Builder::new()
        .name("plugin-reload".into())
        .spawn(move || reload_loop(&registry, &received))
        .context("cannot start the plugin reload thread")?;
    tracing::info!(dir = %dir.display(), "watching for plugin changes");
    Ok(Watcher { _watcher: watcher })
}

/// Whether an event may have changed a file's content or existence.
fn is_change(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any
    )
}

/// Waits for changes, lets them settle, then syncs each changed path; ends with the watcher.
fn reload_loop(registry: &Registry, changes: &Receiver<PathBuf>) {
    while let Ok(first) = changes.recv() {
        let mut paths = BTreeSet::from([first]);
        loop {
            match changes.recv_timeout(DEBOUNCE) {
                Ok(path) => {
                    paths.insert(path);
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        for path in paths {
            registry.sync_file(&path);
        }
    }
}
