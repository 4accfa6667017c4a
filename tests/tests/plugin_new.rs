//! `soda-gateway plugin new`: a folder created outside this repository builds as it is, passes
//! `plugin check` and `plugin run`, and serves a real gateway.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use soda_gateway_tests::cli_run::CliRun;
use soda_gateway_tests::reload::{config_with, install_and_wait, send, NamedTenant};
use soda_gateway_tests::{event, gateway_binary, with_outcomes, FakeDownstream, Gateway, SOON};

fn soda_gateway(args: &[&str], cache: &Path) -> CliRun {
    let output = Command::new(gateway_binary())
        .args(args)
        .env_remove("RUST_LOG")
        .env("SODA_GATEWAY_CACHE_DIR", cache)
        .output()
        .expect("the gateway binary runs");
    CliRun { output }
}

/// How long a gateway may take to compile an interpreter-sized plugin (18 MB for Python).
const COMPILE_TIME: Duration = Duration::from_secs(120);

/// `soda-gateway plugin run FILE --event gen2_incident_created --config @config.json`, run from
/// the plugin's folder as its README says; returns the text of the first action's message.
fn incident_message(folder: &Path, wasm: &Path, cache: &Path) -> String {
    let output = Command::new(gateway_binary())
        .arg("plugin")
        .arg("run")
        .arg(wasm)
        .args([
            "--event",
            "gen2_incident_created",
            "--config",
            "@config.json",
        ])
        .current_dir(folder)
        .env_remove("RUST_LOG")
        .env("SODA_GATEWAY_CACHE_DIR", cache)
        .output()
        .expect("the gateway binary runs");
    let run = CliRun { output };
    assert!(run.succeeded(), "{run:?}");
    let actions: Value = serde_json::from_str(&run.stdout()).expect("JSON actions");
    actions[0]["http"]["body"]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("a message: {run:?}"))
        .to_owned()
}

/// Serves `wasm` as plugin `name` for one tenant and checks that a failing check reaches the
/// plugin's downstream.
async fn serves_a_failing_check(name: &str, wasm: &Path) {
    let downstream = FakeDownstream::start().await;
    let tenant =
        NamedTenant::new("acme", "s3cret").plugin(name, json!({ "url": downstream.url("/hook") }));
    let gateway = Gateway::start(config_with(std::slice::from_ref(&tenant))).await;
    let bytes = std::fs::read(wasm).expect("the built plugin");
    install_and_wait(&gateway, name, &bytes, COMPILE_TIME).await;
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    let reply = send(&gateway, &tenant, &failing).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let requests = downstream.wait_for(1, SOON).await;
    let body: Value = serde_json::from_slice(&requests[0].body).expect("a JSON message");
    assert!(
        body["text"]
            .as_str()
            .is_some_and(|text| text.starts_with("Soda checks alerting: ")),
        "{body}"
    );
}

/// The componentize-py that `cargo xtask test` installs, as the Python template's README
/// installs it.
fn componentize_py() -> PathBuf {
    let target = gateway_binary()
        .parent()
        .and_then(Path::parent)
        .expect("the binary lives in target/<profile>/")
        .to_path_buf();
    let path = target.join("tools/python-venv/bin/componentize-py");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask test`",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_python_plugin_builds_outside_the_repository_and_serves_a_gateway() {
    let outside = tempfile::tempdir().expect("a temporary directory");
    let cache = outside.path().join("cache");
    let created = soda_gateway(
        &[
            "plugin",
            "new",
            "demo_py",
            "--lang",
            "python",
            "--dir",
            outside.path().to_str().unwrap(),
        ],
        &cache,
    );
    assert!(created.succeeded(), "{created:?}");
    let folder = outside.path().join("demo_py");

    // The README's build command, with the componentize-py of this repository's tools.
    let build = Command::new(componentize_py())
        .args([
            "-d",
            "wit",
            "-w",
            "plugin",
            "componentize",
            "app",
            "-o",
            "demo_py.wasm",
        ])
        .current_dir(&folder)
        .output()
        .expect("componentize-py runs");
    assert!(
        build.status.success(),
        "the new plugin builds: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let wasm = folder.join("demo_py.wasm");
    let check = soda_gateway(&["plugin", "check", wasm.to_str().unwrap()], &cache);
    assert!(check.succeeded(), "{check:?}");
    assert_eq!(
        incident_message(&folder, &wasm, &cache),
        "New Soda incident: Missing customer ids in orders"
    );
    serves_a_failing_check("demo_py", &wasm).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_javascript_plugin_builds_outside_the_repository_and_serves_a_gateway() {
    let outside = tempfile::tempdir().expect("a temporary directory");
    let cache = outside.path().join("cache");
    let created = soda_gateway(
        &[
            "plugin",
            "new",
            "demo_js",
            "--lang",
            "javascript",
            "--dir",
            outside.path().to_str().unwrap(),
        ],
        &cache,
    );
    assert!(created.succeeded(), "{created:?}");
    let folder = outside.path().join("demo_js");

    // The README's `npm install` gets the versions `package.json` pins, which `cargo xtask test`
    // installed for the reference JavaScript plugin: link those instead of downloading them again.
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let installed = repository.join("plugins/teams-workflow-js/node_modules");
    assert!(
        installed.is_dir(),
        "{} is missing: run `cargo xtask test`",
        installed.display()
    );
    std::os::unix::fs::symlink(&installed, folder.join("node_modules")).expect("a symlink");
    let build = Command::new("node")
        .args(["build.mjs", "demo_js.wasm"])
        .current_dir(&folder)
        .output()
        .expect("node runs");
    assert!(
        build.status.success(),
        "the new plugin builds: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let wasm = folder.join("demo_js.wasm");
    let check = soda_gateway(&["plugin", "check", wasm.to_str().unwrap()], &cache);
    assert!(check.succeeded(), "{check:?}");
    assert_eq!(
        incident_message(&folder, &wasm, &cache),
        "New Soda incident: Missing customer ids in orders"
    );
    serves_a_failing_check("demo_js", &wasm).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_rust_plugin_builds_outside_the_repository_and_serves_a_gateway() {
    let outside = tempfile::tempdir().expect("a temporary directory");
    let cache = outside.path().join("cache");
    let created = soda_gateway(
        &[
            "plugin",
            "new",
            "demo_alerts",
            "--dir",
            outside.path().to_str().unwrap(),
        ],
        &cache,
    );
    assert!(created.succeeded(), "{created:?}");
    let folder = outside.path().join("demo_alerts");
    assert!(folder.join("README.md").is_file(), "{created:?}");

    // Tested and built exactly as its README says, with a target folder of its own.
    for args in [
        &["test"][..],
        &["build", "--release", "--target", "wasm32-wasip2"][..],
    ] {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = Command::new(cargo)
            .args(args)
            .current_dir(&folder)
            .env("CARGO_TARGET_DIR", folder.join("target"))
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "`cargo {}` in the new plugin: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        if args[0] == "test" {
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                stdout.contains("test result: ok. 1 passed"),
                "its unit test ran: {stdout}"
            );
        }
    }
    let wasm = folder.join("target/wasm32-wasip2/release/demo_alerts.wasm");
    let check = soda_gateway(&["plugin", "check", wasm.to_str().unwrap()], &cache);
    assert!(check.succeeded(), "{check:?}");
    assert_eq!(check.field("result"), "loads in this gateway", "{check:?}");
    assert_eq!(
        incident_message(&folder, &wasm, &cache),
        "New Soda incident: Missing customer ids in orders"
    );
    serves_a_failing_check("demo_alerts", &wasm).await;
}
