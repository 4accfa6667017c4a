//! Plugin manifests: a tenant config that breaks a plugin's schema is refused at start, on a
//! tenants reload (the previous tenants keep serving) and when a new plugin version arrives (the
//! previous version keeps serving); the admin API shows the manifest and warns about declared
//! hosts the allow-list refuses.

use std::fs;
use std::process::Command;

use serde_json::{json, Value};
use soda_gateway_tests::reload::{
    config_with, install, install_and_wait, log_mark, send, wait_for_rejection, Fixture,
    NamedTenant,
};
use soda_gateway_tests::{
    event, gateway_binary, wait_until, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};

const TOKEN: &str = "admin-s3cret";

fn admin_config(config: Config) -> Config {
    config.extra_top_level_toml(&format!("[admin]\ntoken = \"{TOKEN}\""))
}

/// `GET /admin/plugins`, the entry of plugin `name`.
async fn admin_plugin(gateway: &Gateway, name: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}/admin/plugins", gateway.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("admin request");
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.expect("a body");
    let listed: Value = serde_json::from_str(&text).expect("JSON");
    let plugins = listed["plugins"].as_array().expect("a list of plugins");
    plugins
        .iter()
        .find(|plugin| plugin["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no plugin {name} in /admin/plugins"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_that_breaks_the_schema_is_refused_at_start_naming_tenant_plugin_and_key() {
    let acme = Tenant::hmac("acme", "s3cret").plugin(
        Plugin::Slack,
        json!({ "webhook_url": 42, "chanel": "#data" }),
    );
    let failure = Gateway::start_expecting_failure(Config::new().tenant(acme)).await;
    assert!(!failure.status.success());
    let stderr = failure.stderr;
    assert!(
        stderr.contains("refused by the plugins' schemas"),
        "{stderr}"
    );
    assert!(
        stderr.contains("tenant `acme`: plugin `slack`: `config.webhook_url`: want string"),
        "{stderr}"
    );
    assert!(stderr.contains("'chanel' not allowed"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_that_breaks_the_schema_is_rejected_and_the_previous_config_keeps_serving() {
    let slack = FakeDownstream::start().await;
    let good = Config::new().tenant(
        Tenant::hmac("acme", "s3cret")
            .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") })),
    );
    let mut gateway = Gateway::start(good).await;

    let broken = Config::new().tenant(
        Tenant::hmac("acme", "s3cret")
            .plugin(Plugin::Slack, json!({ "webhook": slack.url("/elsewhere") })),
    );
    gateway.rewrite_config(broken);
    gateway.wait_for_log("config reload rejected").await;
    let stderr = gateway.stderr();
    assert!(
        stderr
            .contains("tenant `acme`: plugin `slack`: `config`: missing properties 'webhook_url'"),
        "{stderr}"
    );

    // The previous config serves: the event reaches the first URL.
    let failing = event("gen2_check_evaluation");
    assert_eq!(gateway.send_event("acme", &failing).await.status, 200);
    wait_until("the message is delivered", SOON, async || {
        !slack.requests().is_empty()
    })
    .await;
    let paths: Vec<String> = slack.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.iter().all(|path| path == "/hook"), "{paths:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_version_whose_schema_refuses_a_config_in_use_is_not_loaded() {
    let downstream = FakeDownstream::start().await;
    let acme = NamedTenant::new("acme", "s3cret")
        .plugin("echo", json!({ "url": downstream.url("/echo") }));
    let gateway = Gateway::start(config_with(std::slice::from_ref(&acme))).await;
    install_and_wait(&gateway, "echo", &Fixture::EchoV1.bytes(), SOON).await;

    // Version 2, with a manifest whose schema requires a key acme's config lacks.
    let dir = tempfile::tempdir().unwrap();
    let stricter = dir.path().join("echo.wasm");
    fs::write(&stricter, Fixture::EchoV2.bytes()).unwrap();
    let manifest = dir.path().join("plugin.json");
    let schema = json!({ "type": "object", "required": ["url", "channel"] });
    let text = json!({ "name": "echo", "version": "2.0.0", "config_schema": schema });
    fs::write(&manifest, text.to_string()).unwrap();
    let embed = Command::new(gateway_binary())
        .args(["plugin", "embed-manifest"])
        .arg(&stricter)
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(embed.status.success(), "{embed:?}");

    let mark = log_mark(&gateway);
    install(&gateway, "echo", &fs::read(&stricter).unwrap());
    let refusal = wait_for_rejection(&gateway, mark, "echo", SOON).await;
    assert!(refusal.contains("refuses configs in use"), "{refusal:?}");
    assert!(
        refusal.contains("tenant `acme`: plugin `echo`: `config`: missing properties 'channel'"),
        "{refusal:?}"
    );

    // Version 1 keeps serving.
    assert_eq!(
        send(&gateway, &acme, &event("gen1_check_evaluation"))
            .await
            .status,
        200
    );
    let requests = downstream.wait_for(1, SOON).await;
    assert_eq!(requests[0].json()["version"], 1, "{requests:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_shows_the_manifest_and_warns_about_hosts_the_allow_list_refuses() {
    let slack = FakeDownstream::start().await;
    let config = admin_config(
        Config::new()
            .tenant(
                Tenant::hmac("acme", "s3cret")
                    .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") })),
            )
            .allowed_hosts(Plugin::Slack, &["127.0.0.1"]),
    );
    let gateway = Gateway::start(config).await;
    let plugin = admin_plugin(&gateway, "slack").await;
    let manifest = &plugin["manifest"];
    assert_eq!(manifest["name"], "slack");
    assert_eq!(manifest["version"], "0.1.0");
    assert_eq!(manifest["contract"], "soda:gateway@0.2.0");
    assert_eq!(manifest["hosts"], json!(["hooks.slack.com"]));
    assert_eq!(
        manifest["config_schema"]["required"],
        json!(["webhook_url"])
    );
    let warnings = plugin["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.contains("declares host `hooks.slack.com`")
            && warning.contains("outbound.allowed_hosts.slack"),
        "{warning}"
    );
    gateway
        .wait_for_log("declares host `hooks.slack.com`")
        .await;
}
