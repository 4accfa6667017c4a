//! JavaScript plugins, built with componentize-js.
//!
//! Each plugin folder holds its own `package.json` (componentize-js pinned exactly) and
//! `package-lock.json`; `npm install` installs them into that folder's `node_modules`
//! (git-ignored) when the lock file is newer than the last install, and `node build.mjs OUT.wasm`
//! writes the component when it is older than its sources.

use std::path::{Path, PathBuf};
use std::process::{exit, Command};

use super::run;

/// JavaScript plugin folders under `plugins/`, with the component each one builds.
const PLUGINS: &[(&str, &str)] = &[("teams-workflow-js", "teams_workflow.wasm")];

/// Builds the JavaScript plugins into `out_dir` (installing the pinned toolchain locally first).
pub fn build(root: &Path, out_dir: &Path) {
    require("node");
    require("npm");
    for (folder, wasm) in PLUGINS {
        let dir = root.join("plugins").join(folder);
        if installed(&dir) {
            eprintln!("xtask: {folder}: node_modules is up to date with package-lock.json");
        } else {
            // `npm install` with the lock file present installs exactly the locked versions.
            // Not `npm ci`: it refuses a lock file that lacks other platforms' optional native
            // packages, which a registry mirror without them produces.
            run(Command::new("npm")
                .args(["install", "--no-audit", "--no-fund"])
                .current_dir(&dir));
        }
        let output = out_dir.join(wasm);
        let inputs = [
            dir.join("plugin.js"),
            dir.join("build.mjs"),
            dir.join("node_modules/.package-lock.json"),
            root.join("wit/0.2.0/gateway.wit"),
        ];
        if newer_than_all(&output, &inputs) {
            eprintln!("xtask: {folder}: {} is up to date", output.display());
            continue;
        }
        run(Command::new("node")
            .arg("build.mjs")
            .arg(&output)
            .current_dir(&dir));
    }
}

/// Whether `npm` already installed `dir`'s lock file: it writes `node_modules/.package-lock.json`
/// after `package-lock.json`, so an older one means the lock changed since.
fn installed(dir: &Path) -> bool {
    newer_than_all(
        &dir.join("node_modules/.package-lock.json"),
        &[dir.join("package-lock.json")],
    )
}

/// Whether `file` exists and was modified no earlier than every one of `inputs` (a missing input
/// counts as changed).
fn newer_than_all(file: &Path, inputs: &[PathBuf]) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let Some(built) = modified(file) else {
        return false;
    };
    inputs
        .iter()
        .all(|input| modified(input).is_some_and(|changed| changed <= built))
}

/// Exits with a clear message when `tool` cannot be run.
fn require(tool: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        eprintln!(
            "xtask: `{tool}` not found: the JavaScript plugins need Node.js (20 or newer) with \
             npm (https://nodejs.org); install it and run the task again"
        );
        exit(1);
    }
}
