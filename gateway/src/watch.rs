//! Watching a folder for changed files, for hot reload of plugins and of tenants.
//!
//! Changes (creates, writes, renames, removals; never mere reads, which a reload itself causes)
//! are collected until the folder has been quiet for [`DEBOUNCE`], since an editor or `cp`
//! writes a file in several steps. Then the changed paths are handed over at once, on the
//! watcher's own thread, off the request path.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use anyhow::Context as _;
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

/// How long the folder must be quiet before changed files are handed over.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// A running watcher; dropping it stops the watching.
pub struct FolderWatcher {
    _watcher: RecommendedWatcher,
}

/// Calls `on_change` with the paths in `dir` that changed and that `watched` accepts, once each
/// burst of such changes settles (other files' changes, a log file's say, never delay it).
pub fn watch_folder(
    dir: &Path,
    name: &str,
    watched: impl Fn(&Path) -> bool + Send + 'static,
    mut on_change: impl FnMut(BTreeSet<PathBuf>) + Send + 'static,
) -> anyhow::Result<FolderWatcher> {
    let (changes, received) = mpsc::channel();
    let what = name.to_owned();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<Event>| match event {
            Ok(event) if is_change(&event.kind) => {
                for path in event.paths.into_iter().filter(|path| watched(path)) {
                    let _ = changes.send(path);
                }
            }
            Ok(_) => {}
            Err(error) => tracing::error!("{what} watch error: {error}"),
        })
        .with_context(|| format!("cannot start the {name} watcher"))?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            while let Some(paths) = next_burst(&received) {
                on_change(paths);
            }
        })
        .with_context(|| format!("cannot start the {name} thread"))?;
    Ok(FolderWatcher { _watcher: watcher })
}

/// Whether an event may have changed a file's content or existence.
fn is_change(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any
    )
}

/// Waits for a change, then for quiet; `None` once the watcher is gone.
fn next_burst(changes: &Receiver<PathBuf>) -> Option<BTreeSet<PathBuf>> {
    let mut paths = BTreeSet::from([changes.recv().ok()?]);
    loop {
        match changes.recv_timeout(DEBOUNCE) {
            Ok(path) => {
                paths.insert(path);
            }
            Err(RecvTimeoutError::Timeout) => return Some(paths),
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}
