//! JavaScript plugins, built with componentize-js. Work in progress: nothing is built yet.

use std::path::Path;

/// Builds the JavaScript plugins into `out_dir` (installing the pinned toolchain locally first).
pub fn build(_root: &Path, _out_dir: &Path) {}
