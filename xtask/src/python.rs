//! Python plugins, built with componentize-py. Work in progress: nothing is built yet.

use std::path::Path;

/// Builds the Python plugins into `out_dir` (installing the pinned toolchain locally first).
pub fn build(_root: &Path, _out_dir: &Path) {}
