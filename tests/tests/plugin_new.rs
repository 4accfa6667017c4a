//! `soda-gateway plugin new`: a folder created outside this repository builds as it is, passes
//! `plugin check` and `plugin run`, and serves a real gateway.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use soda_gateway_tests::cli_run::CliRun;
use soda_gateway_tests::reload::{config_with, install_and_wait, send, NamedTenant};
use soda_gateway_tests::{event, gateway_binary, with_outcomes, FakeDownstream, Gateway, SOON};
use tempfile::TempDir;

/// How long a gateway may take to compile an interpreter-sized plugin (18 MB for Python).
const COMPILE_TIME: Duration = Duration::from_secs(120);

/// A folder written by `soda-gateway plugin new NAME --lang LANG` in a fresh temporary folder,
/// outside this repository, with a compile cache beside it.
struct NewPlugin {
    _outside: TempDir,
    name: &'static str,
    folder: PathBuf,
    cache: PathBuf,
}

impl NewPlugin {
    fn create(name: &'static str, lang: &str) -> NewPlugin {
        let outside = tempfile::tempdir().expect("a temporary directory");
        let cache = outside.path().join("cache");
        let parent = outside.path().to_str().expect("a UTF-8 path");
        let args = ["plugin", "new", name, "--lang", lang, "--dir", parent];
        let created = CliRun::author(&args, None, &cache);
        assert!(created.succeeded(), "{created:?}");
        let folder = outside.path().join(name);
        assert!(folder.join("README.md").is_file(), "{created:?}");
        NewPlugin {
            _outside: outside,
            name,
            folder,
            cache,
        }
    }

    /// Runs `program args` in the folder, as its README does; panics with stderr on failure.
    fn build(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> String {
        let output = Command::new(program)
            .args(args)
            .current_dir(&self.folder)
            .env("CARGO_TARGET_DIR", self.folder.join("target"))
            .output()
            .expect("the build tool runs");
        assert!(
            output.status.success(),
            "`{}` in the new plugin: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `plugin check` and `plugin run` on the built `wasm` (relative to the folder), then a
    /// real gateway serving it.
    async fn check_run_and_serve(&self, wasm: &str) {
        let wasm = self.folder.join(wasm);
        let wasm = wasm.to_str().expect("a UTF-8 path");
        let check = CliRun::author(&["plugin", "check", wasm], None, &self.cache);
        assert!(check.succeeded(), "{check:?}");
        assert_eq!(check.field("result"), "loads in this gateway", "{check:?}");

        // From the folder, as its README runs it (`@config.json` is relative).
        let run = CliRun::author(
            &[
                "plugin",
                "run",
                wasm,
                "--event",
                "gen2_incident_created",
                "--config",
                "@config.json",
            ],
            Some(&self.folder),
            &self.cache,
        );
        assert!(run.succeeded(), "{run:?}");
        let actions: Value = serde_json::from_str(&run.stdout()).expect("JSON actions");
        assert_eq!(
            actions[0]["http"]["body"]["text"], "New Soda incident: Missing customer ids in orders",
            "{run:?}"
        );

        let downstream = FakeDownstream::start().await;
        let tenant = NamedTenant::new("acme", "s3cret")
            .plugin(self.name, json!({ "url": downstream.url("/hook") }));
        let gateway = Gateway::start(config_with(std::slice::from_ref(&tenant))).await;
        let bytes = std::fs::read(wasm).expect("the built plugin");
        install_and_wait(&gateway, self.name, &bytes, COMPILE_TIME).await;
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
async fn a_new_rust_plugin_builds_outside_the_repository_and_serves_a_gateway() {
    let plugin = NewPlugin::create("demo_alerts", "rust");
    // Tested and built exactly as its README says, with a target folder of its own.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tested = plugin.build(&cargo, &["test"]);
    assert!(
        tested.contains("test result: ok. 1 passed"),
        "its unit test ran: {tested}"
    );
    plugin.build(&cargo, &["build", "--release", "--target", "wasm32-wasip2"]);
    plugin
        .check_run_and_serve("target/wasm32-wasip2/release/demo_alerts.wasm")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_python_plugin_builds_outside_the_repository_and_serves_a_gateway() {
    let plugin = NewPlugin::create("demo_py", "python");
    // The README's build command, with the componentize-py of this repository's tools.
    let componentize = [
        "-d",
        "wit",
        "-w",
        "plugin",
        "componentize",
        "app",
        "-o",
        "demo_py.wasm",
    ];
    plugin.build(componentize_py(), &componentize);
    plugin.check_run_and_serve("demo_py.wasm").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_javascript_plugin_builds_outside_the_repository_and_serves_a_gateway() {
    let plugin = NewPlugin::create("demo_js", "javascript");
    // The README's `npm install` gets the versions `package.json` pins, which `cargo xtask test`
    // installed for the reference JavaScript plugin (a unit test checks the pins are the same):
    // link those instead of downloading them again.
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let installed = repository.join("plugins/teams-workflow-js/node_modules");
    assert!(
        installed.is_dir(),
        "{} is missing: run `cargo xtask test`",
        installed.display()
    );
    std::os::unix::fs::symlink(&installed, plugin.folder.join("node_modules")).expect("a symlink");
    plugin.build("node", &["build.mjs", "demo_js.wasm"]);
    plugin.check_run_and_serve("demo_js.wasm").await;
}
