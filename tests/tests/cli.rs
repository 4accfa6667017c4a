//! `soda-gateway plugin check|run|embed-manifest`: what a plugin author learns about (and
//! writes into) a `.wasm` file without running a server.

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
        [
            "file", "format", "contract", "manifest", "about", "hosts", "config", "compile",
            "imports", "exports", "result"
        ],
        "{run:?}"
    );
    assert_eq!(run.field("manifest"), "slack 0.1.0", "{run:?}");
    assert_eq!(run.field("hosts"), "hooks.slack.com", "{run:?}");
    assert!(
        run.field("config").contains("required: webhook_url"),
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

/// Runs `soda-gateway plugin run <args>` with its compile cache in `cache`.
fn plugin_run(args: &[&str], cache: &Path) -> CliRun {
    CliRun::author(&[&["plugin", "run"], args].concat(), None, cache)
}

/// The JSON `plugin run` printed.
fn printed(run: &CliRun) -> Value {
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("stdout is JSON ({e}): {run:?}"))
}

/// The incident of the gen2 seeds: created, then resolved.
const SEED_INCIDENT: &str = "b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43";

#[test]
fn plugin_run_takes_inline_json_and_sample_event_names() {
    let cache = tempfile::tempdir().unwrap();
    let webhook = "http://127.0.0.1:9/slack-hook";
    let config = json!({ "webhook_url": webhook }).to_string();
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail").to_string();
    let slack = Plugin::Slack.wasm_path();
    let slack = slack.to_str().unwrap();

    let inline = plugin_run(
        &[slack, "--event", &failing, "--config", &config],
        cache.path(),
    );
    assert!(inline.succeeded(), "{inline:?}");
    assert_eq!(printed(&inline)[0]["http"]["url"], webhook, "{inline:?}");

    // The guide's spelling: a seed's file name, not a path; it is built into the binary.
    let sample = plugin_run(
        &[
            slack,
            "--event",
            "gen2_incident_created.json",
            "--config",
            &config,
        ],
        cache.path(),
    );
    assert!(sample.succeeded(), "{sample:?}");
    let text = printed(&sample)[0]["http"]["body"]["text"].to_string();
    assert!(
        text.contains("Missing customer ids in orders"),
        "{sample:?}"
    );

    let unknown = plugin_run(&[slack, "--event", "gen9_nothing"], cache.path());
    assert!(!unknown.succeeded(), "{unknown:?}");
    assert!(
        unknown.error_line().contains("no file `gen9_nothing`")
            && unknown.error_line().contains("gen2_incident_created"),
        "names the samples: {unknown:?}"
    );

    let bad_config = plugin_run(
        &[slack, "--event", &failing, "--config", "{oops"],
        cache.path(),
    );
    assert!(!bad_config.succeeded(), "{bad_config:?}");
    assert!(
        bad_config
            .error_line()
            .contains("--config (inline) is not JSON"),
        "{bad_config:?}"
    );
}

#[test]
fn plugin_run_feeds_on_response_and_keeps_state_from_one_event_to_the_next() {
    let cache = tempfile::tempdir().unwrap();
    let chain = Plugin::Chain.wasm_path();
    let run = plugin_run(
        &[
            chain.to_str().unwrap(),
            "--event",
            "gen2_incident_created",
            "--event",
            "gen2_incident_updated",
            "--config",
            r#"{"tracker_url":"http://127.0.0.1:9/tracker"}"#,
            "--response",
            r#"{"status":201,"headers":{"content-type":"application/json"},"body":{"key":"OPS-7"}}"#,
        ],
        cache.path(),
    );
    assert!(run.succeeded(), "{run:?}");
    let entries = printed(&run);
    let entries = entries.as_array().expect("one entry per event");
    assert_eq!(entries.len(), 2, "{run:?}");
    assert_eq!(
        entries[0]["event"], "sample gen2_incident_created",
        "{run:?}"
    );

    let create = &entries[0]["actions"][0]["http"];
    assert_eq!(create["url"], "http://127.0.0.1:9/tracker/issue", "{run:?}");
    assert_eq!(create["continuation"], "created", "{run:?}");
    // on-response got the 201 and linked the issue back to Soda through the callback URL.
    let link = &create["on_response"][0]["http"];
    assert_eq!(link["method"], "POST", "{run:?}");
    assert!(
        link["body"].to_string().contains("OPS-7"),
        "the link names the issue: {run:?}"
    );
    assert!(
        run.stderr()
            .contains(&format!("state set `issue:{SEED_INCIDENT}` = \"OPS-7\"")),
        "the state write is shown: {run:?}"
    );
    // The resolution found the key that on-response remembered.
    assert_eq!(
        entries[1]["actions"][0]["http"]["url"], "http://127.0.0.1:9/tracker/issue/OPS-7/resolve",
        "{run:?}"
    );
}

#[test]
fn plugin_run_starts_from_seeded_state() {
    let cache = tempfile::tempdir().unwrap();
    let chain = Plugin::Chain.wasm_path();
    let chain = chain.to_str().unwrap();
    let config = r#"{"tracker_url":"http://127.0.0.1:9/tracker"}"#;
    let dir = files(&[(
        "state.json",
        json!({ format!("issue:{SEED_INCIDENT}"): "OPS-9" })
            .to_string()
            .as_bytes(),
    )]);
    let state = format!("@{}", dir.path().join("state.json").display());
    let seeded = plugin_run(
        &[
            chain,
            "--event",
            "gen2_incident_updated",
            "--config",
            config,
            "--state",
            &state,
        ],
        cache.path(),
    );
    assert!(seeded.succeeded(), "{seeded:?}");
    assert_eq!(
        printed(&seeded)[0]["http"]["url"],
        "http://127.0.0.1:9/tracker/issue/OPS-9/resolve",
        "{seeded:?}"
    );

    let empty = plugin_run(
        &[
            chain,
            "--event",
            "gen2_incident_updated",
            "--config",
            config,
        ],
        cache.path(),
    );
    assert!(empty.succeeded(), "{empty:?}");
    assert_eq!(printed(&empty), json!([]), "no key, no action: {empty:?}");
}

#[test]
fn plugin_run_takes_a_folder_of_events_and_reports_each() {
    let cache = tempfile::tempdir().unwrap();
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    let dir = files(&[
        ("1_failing.json", &serde_json::to_vec(&failing).unwrap()),
        (
            "2_validate.json",
            &serde_json::to_vec(&event("gen1_validate")).unwrap(),
        ),
        ("3_broken.json", b"{\"event\": \"checkEvaluation\""),
        ("notes.txt", b"not an event"),
    ]);
    let slack = Plugin::Slack.wasm_path();
    let run = plugin_run(
        &[
            slack.to_str().unwrap(),
            "--event",
            dir.path().to_str().unwrap(),
            "--config",
            r#"{"webhook_url":"http://127.0.0.1:9/hook"}"#,
        ],
        cache.path(),
    );
    assert!(!run.succeeded(), "a broken event fails the run: {run:?}");
    assert_eq!(run.error_line(), "error: 1 of 3 events failed", "{run:?}");
    let entries = printed(&run);
    let entries = entries.as_array().expect("one entry per .json file");
    assert_eq!(entries.len(), 3, "{run:?}");
    assert!(entries[0]["event"]
        .as_str()
        .unwrap()
        .ends_with("1_failing.json"));
    assert_eq!(
        entries[0]["actions"].as_array().map(Vec::len),
        Some(1),
        "{run:?}"
    );
    assert!(
        entries[1]["skipped"]
            .as_str()
            .unwrap()
            .contains("never reaches plugins"),
        "{run:?}"
    );
    assert!(entries[2]["error"].as_str().is_some(), "{run:?}");
}

#[test]
fn plugin_run_compiles_once_then_loads_from_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let slack = Plugin::Slack.wasm_path();
    let args = [
        slack.to_str().unwrap(),
        "--event",
        "gen2_incident_created",
        "--config",
        r#"{"webhook_url":"http://127.0.0.1:9/hook"}"#,
    ];
    let first = plugin_run(&args, cache.path());
    let second = plugin_run(&args, cache.path());
    assert!(
        first.succeeded() && second.succeeded(),
        "{first:?} {second:?}"
    );
    assert!(
        first.stderr().contains("plugin `slack`: compiled in"),
        "{first:?}"
    );
    assert!(
        second
            .stderr()
            .contains("plugin `slack`: from the compile cache in"),
        "{second:?}"
    );
    assert_eq!(first.stdout(), second.stdout());
}

#[test]
fn plugin_run_tells_the_plugin_its_tenant_and_prints_its_log_fields_flat() {
    let cache = tempfile::tempdir().unwrap();
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail").to_string();
    let pagerduty = Plugin::PagerDuty.wasm_path();
    let run = plugin_run(
        &[
            pagerduty.to_str().unwrap(),
            "--event",
            &failing,
            "--tenant",
            "acme-prod",
            "--config",
            r#"{"routing_key":"R0123456789abcdef0123456789abcdef"}"#,
        ],
        cache.path(),
    );
    assert!(run.succeeded(), "{run:?}");
    let stderr = run.stderr();
    let line = stderr
        .lines()
        .find(|line| line.contains("plugin: enqueueing PagerDuty events"))
        .unwrap_or_else(|| panic!("the plugin's log line: {run:?}"));
    assert!(line.contains(r#"tenant="acme-prod""#), "{line}");
    assert!(
        line.contains(r#"enqueueing PagerDuty events event_kind="checkEvaluation" count=""#),
        "the plugin's fields follow its message: {line}"
    );
    assert!(!line.contains("fields="), "not nested: {line}");
}

#[test]
fn plugin_run_refuses_a_config_that_breaks_the_plugins_schema() {
    let wasm = Plugin::Slack.wasm_path();
    let config = r##"{"webhook_url": 42, "chanel": "#x"}"##;
    let run = plugin(&[
        "run".as_ref(),
        &wasm,
        "--event".as_ref(),
        "gen2_check_evaluation".as_ref(),
        "--config".as_ref(),
        config.as_ref(),
    ]);
    assert!(!run.succeeded(), "{run:?}");
    let error = run.error_line();
    assert!(
        error.contains("does not match the plugin's config schema"),
        "{error}"
    );
    assert!(
        error.contains("`config.webhook_url`: want string"),
        "{error}"
    );
    assert!(error.contains("'chanel' not allowed"), "{error}");
    assert!(run.stdout().is_empty(), "no actions printed: {run:?}");
}

#[test]
fn embed_manifest_writes_a_manifest_that_check_shows_and_refuses_a_second() {
    let dir = files(&[(
        "plugin.json",
        br#"{"name": "echo", "version": "2.1.0", "hosts": ["hooks.example.com"],
             "config_schema": {"type": "object", "required": ["url"]}}"#,
    )]);
    let wasm = dir.path().join("echo.wasm");
    fs::copy(Plugin::Trap.wasm_path(), &wasm).expect("copying the fixture");
    let manifest = dir.path().join("plugin.json");
    let before = plugin(&["check".as_ref(), &wasm]);
    assert!(before.field("manifest").starts_with("none"), "{before:?}");

    let embed = plugin(&["embed-manifest".as_ref(), &wasm, &manifest]);
    assert!(embed.succeeded(), "{embed:?}");
    let check = plugin(&["check".as_ref(), &wasm]);
    assert!(check.succeeded(), "{check:?}");
    assert_eq!(check.field("manifest"), "echo 2.1.0", "{check:?}");
    assert_eq!(check.field("hosts"), "hooks.example.com", "{check:?}");
    assert!(check.field("config").contains("required: url"), "{check:?}");

    let again = plugin(&["embed-manifest".as_ref(), &wasm, &manifest]);
    assert!(!again.succeeded(), "{again:?}");
    assert!(
        again.error_line().contains("already embeds a manifest"),
        "{again:?}"
    );
}

#[test]
fn embed_manifest_refuses_a_manifest_the_gateway_would_refuse() {
    let dir = files(&[
        (
            "bad_host.json",
            br#"{"name": "x", "version": "1", "hosts": ["https://x.example.com/"]}"#,
        ),
        (
            "typo.json",
            br#"{"name": "x", "version": "1", "config-schema": {}}"#,
        ),
        (
            "bad_schema.json",
            br#"{"name": "x", "version": "1", "config_schema": {"type": 7}}"#,
        ),
    ]);
    let wasm = dir.path().join("echo.wasm");
    fs::copy(Plugin::Trap.wasm_path(), &wasm).expect("copying the fixture");
    let original = fs::read(&wasm).unwrap();
    for (file, reason) in [
        ("bad_host.json", "`hosts` entry \"https://x.example.com/\""),
        ("typo.json", "unknown field `config-schema`"),
        ("bad_schema.json", "`config_schema`"),
    ] {
        let run = plugin(&["embed-manifest".as_ref(), &wasm, &dir.path().join(file)]);
        assert!(!run.succeeded(), "{file}: {run:?}");
        let error = run.error_line();
        assert!(
            error.contains(file) && error.contains(reason),
            "{file}: {error}"
        );
        assert_eq!(
            fs::read(&wasm).unwrap(),
            original,
            "{file}: the plugin is unchanged"
        );
    }
}
