//! `soda-gateway plugin check|run`: what a plugin author learns about a `.wasm` file without
//! running a server.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use soda_gateway_tests::cli_run::CliRun;
use soda_gateway_tests::reload::{
    Fixture, CONTRACT, CORE_MODULE_HEADER, FIRST_CONTRACT, GARBAGE, OTHER_CONTRACT, SUPPORTED,
};
use soda_gateway_tests::{event, gateway_binary, with_outcomes, Plugin};
use tempfile::TempDir;

/// Runs `soda-gateway plugin <args>`.
fn plugin(args: &[&Path]) -> CliRun {
    let output = Command::new(gateway_binary())
        .arg("plugin")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the gateway binary runs");
    CliRun { output }
}

/// A temporary directory holding `files`.
fn files(files: &[(&str, &[u8])]) -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, bytes) in files {
        fs::write(dir.path().join(name), bytes).expect("writing a file");
    }
    dir
}

#[test]
fn plugin_check_accepts_a_valid_plugin_and_names_its_contract() {
    let wasm = Plugin::Slack.wasm_path();
    let run = plugin(&["check".as_ref(), &wasm]);
    assert!(run.succeeded(), "{run:?}");
    let stdout = run.stdout();
    let labels: Vec<&str> = stdout
        .lines()
        .map(|line| line.split_once(':').map_or(line, |(label, _)| label))
        .collect();
    assert_eq!(
        labels,
        ["file", "format", "contract", "compile", "imports", "exports", "result"],
        "{run:?}"
    );
    assert!(
        run.field("file").contains("slack.wasm"),
        "names the file: {run:?}"
    );
    assert_eq!(run.field("format"), "WebAssembly component", "{run:?}");
    assert!(
        run.field("contract")
            .starts_with(&format!("{CONTRACT} (this gateway speaks {SUPPORTED})")),
        "{run:?}"
    );
    assert!(
        run.field("imports")
            .split(", ")
            .any(|import| import.starts_with("soda:gateway/") && import.ends_with("@0.2.0")),
        "{run:?}"
    );
    assert!(
        run.field("exports").split(", ").any(|e| e == "handle"),
        "{run:?}"
    );
    assert_eq!(run.field("result"), "loads in this gateway", "{run:?}");
}

#[test]
fn plugin_check_rejects_a_core_module_or_garbage() {
    let dir = files(&[("core.wasm", CORE_MODULE_HEADER), ("garbage.wasm", GARBAGE)]);
    for (file, reason) in [
        ("core.wasm", "a core WebAssembly module, not a component"),
        ("garbage.wasm", "not a WebAssembly file"),
    ] {
        let run = plugin(&["check".as_ref(), &dir.path().join(file)]);
        assert!(!run.succeeded(), "{file}: {run:?}");
        assert!(
            run.error_line().contains(reason),
            "{file}: the reason is `{reason}`: {run:?}"
        );
        assert!(!run.stdout().contains("result:"), "{file}: {run:?}");
    }
}

#[test]
fn plugin_check_rejects_another_contract_version() {
    let run = plugin(&["check".as_ref(), &Fixture::OtherVersion.wasm_path()]);
    assert!(!run.succeeded(), "{run:?}");
    assert_eq!(
        run.field("contract"),
        format!("{OTHER_CONTRACT} (this gateway speaks {SUPPORTED})"),
        "{run:?}"
    );
    assert!(
        run.error_line()
            .contains("built for a contract version this gateway does not load"),
        "{run:?}"
    );
    // Refused from the import names alone, before compiling.
    assert!(!run.stdout().contains("compile:"), "{run:?}");
    assert!(!run.stdout().contains("result:"), "{run:?}");
}

#[test]
fn plugin_check_accepts_a_plugin_built_for_the_first_contract() {
    let run = plugin(&["check".as_ref(), &Fixture::SlackContract0_1.wasm_path()]);
    assert!(run.succeeded(), "{run:?}");
    assert_eq!(
        run.field("contract"),
        format!("{FIRST_CONTRACT} (this gateway speaks {SUPPORTED})"),
        "{run:?}"
    );
    assert!(
        run.field("exports").split(", ").any(|e| e == "on-response"),
        "0.1.0 plugins all export on-response: {run:?}"
    );
    assert_eq!(run.field("result"), "loads in this gateway", "{run:?}");
}

#[test]
fn plugin_run_prints_the_slack_message_for_a_failing_check() {
    let webhook = "http://127.0.0.1:9/slack-hook";
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    let dir = files(&[
        ("event.json", &serde_json::to_vec(&failing).unwrap()),
        (
            "config.json",
            &serde_json::to_vec(&json!({ "webhook_url": webhook })).unwrap(),
        ),
    ]);
    let run = plugin(&[
        "run".as_ref(),
        &Plugin::Slack.wasm_path(),
        "--event".as_ref(),
        &dir.path().join("event.json"),
        "--config".as_ref(),
        &dir.path().join("config.json"),
    ]);
    assert!(run.succeeded(), "{run:?}");

    let actions: Value = serde_json::from_str(&run.stdout())
        .unwrap_or_else(|e| panic!("stdout is the actions as JSON ({e}): {run:?}"));
    let actions = actions.as_array().expect("a JSON array of actions");
    assert_eq!(actions.len(), 1, "one Slack message: {run:?}");
    let http = &actions[0]["http"];
    assert_eq!(http["method"], "POST", "{run:?}");
    assert_eq!(http["url"], webhook, "{run:?}");
    let text = http["body"]["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("Soda: 1 check failed"),
        "the Slack message summarises the failure: {run:?}"
    );
    assert!(
        http["body"]["blocks"]
            .as_array()
            .is_some_and(|blocks| !blocks.is_empty()),
        "{run:?}"
    );
    assert!(
        run.stdout().contains("\n  "),
        "pretty-printed JSON: {run:?}"
    );
}

#[test]
fn plugin_run_reports_a_trapping_plugin() {
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    let dir = files(&[("event.json", &serde_json::to_vec(&failing).unwrap())]);
    let run = plugin(&[
        "run".as_ref(),
        &Plugin::Trap.wasm_path(),
        "--event".as_ref(),
        &dir.path().join("event.json"),
    ]);
    assert!(!run.succeeded(), "{run:?}");
    let error = run.error_line();
    assert!(
        error.starts_with(&format!("error: plugin `{}`: ", Plugin::Trap.name())),
        "names the plugin: {run:?}"
    );
    assert!(error.contains("trapped"), "says it trapped: {run:?}");
    assert!(
        !run.stdout().trim_start().starts_with('['),
        "no actions printed: {run:?}"
    );
}
