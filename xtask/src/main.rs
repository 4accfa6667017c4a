//! Project automation, so that a fresh machine with only rustup needs two commands.
//!
//! - `cargo xtask run`: builds the reference plugins and runs the gateway with the example
//!   tenant (`examples/gateway.toml`).
//! - `cargo xtask test`: builds every plugin (reference and test fixtures) and runs every test,
//!   all of them even when some fail, then names each failed one. `--stress N` runs the
//!   black-box suites N times with every core kept busy, and counts failures per test.
//! - `cargo xtask bench`: builds the plugins and the release gateway, installs wrk if missing,
//!   and runs the benchmarks, the published one (`bench/`) last.
//!
//! Each step prints the command it runs, so nothing here is magic.

mod apt;
mod browser;
mod javascript;
mod python;
mod stress;
mod suite;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::{exit, Command};

/// Plugins shipped with the gateway, copied into `examples/plugins` by `run`.
const REFERENCE_PLUGINS: &[&str] = &[
    "slack",
    "jira",
    "servicenow",
    "pagerduty",
    "opsgenie",
    "teams",
    "forward",
];
/// Plugins that exist only for tests.
const FIXTURE_PLUGINS: &[&str] = &[
    "fixture-trap",
    "fixture-loop",
    "fixture-link",
    "fixture-chain",
    "fixture-memory",
    "fixture-flood",
    "fixture-snoop",
    "fixture-echo-v1",
    "fixture-echo-v2",
    "fixture-other-version",
    "fixture-handle-only",
    "fixture-hostile",
];
const WASM_TARGET: &str = "wasm32-wasip2";
/// The Cargo profile plugins are built with (see the workspace `Cargo.toml`).
const PLUGIN_PROFILE: &str = "plugin";

fn main() {
    let task = std::env::args().nth(1).unwrap_or_default();
    let root = workspace_root();
    match task.as_str() {
        "run" => {
            build_plugins(&root, REFERENCE_PLUGINS);
            install_example_plugins(&root);
            cargo(
                &root,
                &[
                    "run",
                    "--release",
                    "-p",
                    "soda-gateway",
                    "--",
                    "serve",
                    "--config",
                    "examples/gateway.toml",
                ],
            );
        }
        "test" => {
            let stress = stress_rounds();
            build_all_plugins(&root);
            // The console's browser tests drive headless Chromium through chromedriver.
            browser::ensure_installed();
            // Every test executable, and the gateway binary the black-box tests start, built
            // with the features the tests unify: `cargo test` reuses all of it.
            cargo(&root, suite::BUILD_ARGS);
            if let Some(rounds) = stress {
                exit(if stress::run(&root, rounds) { 0 } else { 1 });
            }
            let tests = suite::run(&root, suite::TEST_ARGS);
            // The SDK carries its own copy of the contract, so it can be published.
            cargo(
                &root,
                &[
                    "package",
                    "-p",
                    "soda-gateway-plugin-sdk",
                    "--no-verify",
                    "--allow-dirty",
                ],
            );
            tests.report();
            if !tests.success() {
                exit(1);
            }
        }
        "bench" => {
            build_all_plugins(&root);
            // The published benchmark starts the release binary and drives it with wrk.
            cargo(&root, &["build", "--release", "-p", "soda-gateway"]);
            wrk::ensure_installed();
            cargo(&root, &["bench", "-p", "soda-gateway"]);
            // The published benchmark (bench/README.md): the gateway on each store next to a
            // bare endpoint, and the memory of 1,000 tenants.
            cargo(&root, &["run", "--release", "-p", "soda-gateway-bench"]);
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: cargo xtask <run | test [--stress ROUNDS] | bench>");
    exit(2);
}

/// `test --stress N`: how many rounds of the black-box suites to run under load, if asked.
fn stress_rounds() -> Option<u32> {
    let args: Vec<String> = std::env::args().skip(2).collect();
    match args.as_slice() {
        [] => None,
        [flag, rounds] if flag == "--stress" => match rounds.parse() {
            Ok(rounds) if rounds > 0 => Some(rounds),
            _ => usage(),
        },
        _ => usage(),
    }
}

fn build_all_plugins(root: &Path) {
    let all: Vec<&str> = REFERENCE_PLUGINS
        .iter()
        .chain(FIXTURE_PLUGINS)
        .copied()
        .collect();
    build_plugins(root, &all);
    let out_dir = target_dir(root).join(WASM_TARGET).join(PLUGIN_PROFILE);
    python::build(root, &out_dir);
    javascript::build(root, &out_dir);
}

/// Adds the wasm target if missing, then builds the given plugin packages as components.
fn build_plugins(root: &Path, packages: &[&str]) {
    run(Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .current_dir(root));
    let mut args = vec![
        "build",
        "--profile",
        PLUGIN_PROFILE,
        "--target",
        WASM_TARGET,
    ];
    for package in packages {
        args.extend(["-p", package]);
    }
    cargo(root, &args);
}

/// Copies the reference plugins next to the example config.
fn install_example_plugins(root: &Path) {
    let dest = root.join("examples/plugins");
    std::fs::create_dir_all(&dest).expect("create examples/plugins");
    for plugin in REFERENCE_PLUGINS {
        let file = format!("{}.wasm", plugin.replace('-', "_"));
        let built = target_dir(root)
            .join(WASM_TARGET)
            .join(PLUGIN_PROFILE)
            .join(&file);
        std::fs::copy(&built, dest.join(&file))
            .unwrap_or_else(|e| panic!("copy {}: {e}", built.display()));
    }
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn cargo(root: &Path, args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo).args(args).current_dir(root));
}

fn run(command: &mut Command) {
    eprintln!("xtask: {command:?}");
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    if !status.success() {
        exit(status.code().unwrap_or(1));
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}
