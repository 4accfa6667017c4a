//! Python plugins, built with componentize-py (see `plugins/jira-automation-py/README.md`).
//!
//! The toolchain lives in a virtualenv under `target/tools/` (git-ignored), created with the
//! machine's `python3` and filled from PyPI once; later builds reuse it and work offline.

use std::path::Path;
use std::process::{exit, Command};

use super::{run, target_dir};

/// The componentize-py release the plugins are built and tested with.
const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";
/// Python plugins: (source directory under `plugins/`, plugin name = the `.wasm` file stem).
const PLUGINS: &[(&str, &str)] = &[("jira-automation-py", "jira_automation")];

/// Builds the Python plugins into `out_dir` (installing the pinned toolchain locally first).
pub fn build(root: &Path, out_dir: &Path) {
    let venv = target_dir(root).join("tools").join("python-venv");
    let componentize_py = install_toolchain(&venv);
    std::fs::create_dir_all(out_dir)
        .unwrap_or_else(|e| panic!("create {}: {e}", out_dir.display()));
    for (dir, name) in PLUGINS {
        // `componentize app` imports `app.py` from the plugin directory (`-p`) and the bindings
        // it generates from the current contract's WIT, world `plugin` (`handle` only).
        run(Command::new(&componentize_py)
            .arg("-d")
            .arg(root.join("wit/0.2.0"))
            .args(["-w", "plugin", "componentize", "-p"])
            .arg(root.join("plugins").join(dir))
            .arg("app")
            .arg("-o")
            .arg(out_dir.join(format!("{name}.wasm")))
            .current_dir(root));
    }
}

/// Creates the virtualenv and installs componentize-py into it, unless the pinned version is
/// already there. Returns the path of the `componentize-py` executable.
fn install_toolchain(venv: &Path) -> std::path::PathBuf {
    let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
    let componentize_py = bin.join(format!("componentize-py{}", std::env::consts::EXE_SUFFIX));
    let version = COMPONENTIZE_PY.trim_start_matches("componentize-py==");
    let installed = Command::new(&componentize_py)
        .arg("--version")
        .output()
        .is_ok_and(|out| {
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .ends_with(version)
        });
    if installed {
        return componentize_py;
    }

    if !venv.join("pyvenv.cfg").is_file() {
        let python = if cfg!(windows) { "python" } else { "python3" };
        let mut create = Command::new(python);
        create.args(["-m", "venv"]).arg(venv);
        if Command::new(python).arg("--version").output().is_err() {
            eprintln!(
                "xtask: `{python}` was not found on PATH: the Python plugins need Python 3 with \
                 its `venv` module to install {COMPONENTIZE_PY} (e.g. `apt-get install \
                 python3 python3-venv`)"
            );
            exit(1);
        }
        run(&mut create);
    }
    run(Command::new(bin.join("python")).args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        COMPONENTIZE_PY,
    ]));
    componentize_py
}
