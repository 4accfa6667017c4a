//! Credentials never enter the sandbox: plugins see `{{secret:NAME}}`, the gateway substitutes
//! the value only on the wire, only for the secret's own tenant, only for a plugin the secret is
//! for and that has an allow-list; no value shows up in the logs, the store or what a plugin received.

use std::fs;

use serde_json::json;
use soda_gateway_tests::reload::data_dir;
use soda_gateway_tests::{
    event, wait_until, with_outcomes, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};

const PATH_SECRET: &str = "SECRET-PATH-a1b2c3";
const FILE_SECRET: &str = "FILE-SECRET-z9y8x7";

#[tokio::test(flavor = "multi_thread")]
async fn secrets_reach_only_the_wire_of_their_own_tenant() {
    let downstream = FakeDownstream::start().await;
    let secret_file = tempfile::NamedTempFile::new().expect("a temporary file");
    fs::write(secret_file.path(), format!("{FILE_SECRET}\n")).expect("the secret file");
    let file_source = format!(
        "{{ file = {:?} }}",
        secret_file.path().display().to_string()
    );

    let acme = Tenant::hmac("acme", "s3cret")
        .secret("hook_path", &format!("{{ value = \"{PATH_SECRET}\" }}"))
        .secret("api_key", &file_source)
        .plugin(
            Plugin::Slack,
            json!({ "webhook_url": downstream.url("/hook/{{secret:hook_path}}") }),
        )
        .plugin(
            Plugin::Snoop,
            json!({
                "report_url": downstream.url("/report?key={{secret:api_key}}"),
                "socket_addr": "127.0.0.1:9",
            }),
        );
    // Same names in its config, none of its own: acme's values must not be used.
    let globex = Tenant::hmac("globex", "s3cret").plugin(
        Plugin::Slack,
        json!({ "webhook_url": downstream.url("/globex/{{secret:hook_path}}") }),
    );
    let config = Config::new()
        .allowed_hosts(Plugin::Slack, &["127.0.0.1"])
        .tenant(acme)
        .tenant(globex);
    let gateway = Gateway::start(config).await;

    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    for tenant in ["acme", "globex"] {
        assert_eq!(gateway.send_event(tenant, &failing).await.status, 200);
    }
    let requests = downstream.wait_for(1, SOON).await;
    assert_eq!(
        requests[0].path,
        format!("/hook/{PATH_SECRET}"),
        "substituted on the wire"
    );
    // Every action final: the other two refused, the sent one recorded as delivered.
    wait_until(
        "the other two actions failed and the first succeeded",
        SOON,
        async || {
            gateway
                .count("SELECT COUNT(*) FROM actions WHERE status = 'failed'")
                .await
                == 2
                && gateway
                    .count("SELECT COUNT(*) FROM actions WHERE status = 'succeeded'")
                    .await
                    == 1
        },
    )
    .await;
    let refused = |tenant: &str, reason: &str| {
        format!(
            "SELECT COUNT(*) FROM actions WHERE tenant = '{tenant}' AND status = 'failed' \
             AND last_error LIKE '%{reason}%'"
        )
    };
    assert_eq!(
        gateway
            .count(&refused("globex", "no secret named `hook_path`"))
            .await,
        1,
        "another tenant's secret is unknown to globex"
    );
    assert_eq!(
        gateway.count(&refused("acme", "has no allow-list")).await,
        1,
        "the snoop plugin has no allow-list, so its secret is not sent"
    );
    assert_eq!(downstream.requests().len(), 1, "nothing else was sent");

    // The plugin received the placeholder: its report (stored as its action) echoes its config.
    let placeholder_seen = format!(
        "SELECT COUNT(*) FROM actions WHERE plugin = 'fixture_snoop' AND {} LIKE '%{{{{secret:api_key}}}}%'",
        gateway.as_text_sql("body")
    );
    assert_eq!(gateway.count(&placeholder_seen).await, 1);

    // No value anywhere: logs, and every byte of the database files.
    let logs = format!(
        "{}\n{}",
        gateway.stderr(),
        gateway.stdout_lines().join("\n")
    );
    let stored = stored_bytes(&gateway);
    for value in [PATH_SECRET, FILE_SECRET] {
        assert!(!logs.contains(value), "{value} in the logs");
        assert!(!stored.contains(value), "{value} in the store");
    }
    assert!(
        stored.contains("{{secret:hook_path}}"),
        "the store keeps the placeholder"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_secret_source_stops_the_start_with_a_clear_message() {
    let tenant = Tenant::hmac("acme", "s3cret")
        .secret("api_key", "{ env = \"SODA_TEST_SECRET_THAT_IS_NOT_SET\" }");
    let failure = Gateway::start_expecting_failure(Config::new().tenant(tenant)).await;
    assert!(!failure.status.success());
    assert!(
        failure.stderr.contains(
            "secret `api_key` of tenant `acme`: environment variable \
             `SODA_TEST_SECRET_THAT_IS_NOT_SET` is not set"
        ),
        "{}",
        failure.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn event_text_cannot_smuggle_a_placeholder_into_a_message() {
    let downstream = FakeDownstream::start().await;
    let acme = slack_with_secret_path(&downstream);
    let config = Config::new()
        .allowed_hosts(Plugin::Slack, &["127.0.0.1"])
        .tenant(acme);
    let gateway = Gateway::start(config).await;
    // A check named like a placeholder, plainly and with a JSON escape.
    for name in ["{{secret:hook_path}}", "{\\u007bsecret:hook_path}}"] {
        let mut event = with_outcomes(event("gen1_check_evaluation"), "fail");
        event["checkResults"][0]["name"] = json!("CHECK_NAME");
        let body = serde_json::to_string(&event)
            .unwrap()
            .replace("CHECK_NAME", name);
        assert_eq!(gateway.post_signed("acme", body).await.status, 200);
    }
    let requests = downstream.wait_for(2, SOON).await;
    for request in &requests {
        let text = request.text();
        assert!(
            !text.contains(PATH_SECRET),
            "the secret reached the message: {text}"
        );
        assert!(text.contains("{{ secret:hook_path}}"), "{text}");
        assert_eq!(
            request.path,
            format!("/hook/{PATH_SECRET}"),
            "the config's own placeholder still works"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_downstream_echoing_a_secret_cannot_put_it_into_the_audit_trail() {
    let downstream = FakeDownstream::start().await;
    downstream.set_status(401);
    downstream.set_reply_body(format!(r#"{{"error":"no such hook /hook/{PATH_SECRET}"}}"#));
    downstream.set_header("x-echo", PATH_SECRET);
    let acme = slack_with_secret_path(&downstream);
    let config = Config::new()
        .retry_delays(&[])
        .allowed_hosts(Plugin::Slack, &["127.0.0.1"])
        .tenant(acme);
    let gateway = Gateway::start(config).await;

    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    assert_eq!(gateway.send_event("acme", &failing).await.status, 200);
    let failed = "SELECT COUNT(*) FROM actions WHERE status = 'failed'";
    wait_until("the action failed", SOON, async || {
        gateway.count(failed).await == 1
    })
    .await;
    let scrubbed = "SELECT COUNT(*) FROM attempts WHERE error LIKE '%/hook/{{secret:hook_path}}%'";
    assert_eq!(
        gateway.count(scrubbed).await,
        1,
        "the error keeps the placeholder"
    );
    assert!(
        !stored_bytes(&gateway).contains(PATH_SECRET),
        "the secret reached the store"
    );
}

/// Every byte of the gateway's database files, as text.
fn stored_bytes(gateway: &Gateway) -> String {
    let mut stored = Vec::new();
    for entry in fs::read_dir(data_dir(gateway)).expect("data/") {
        let path = entry.expect("an entry").path();
        if path.is_file() {
            stored.extend(fs::read(&path).expect("a data file"));
        }
    }
    assert!(stored.len() > 10_000, "the database files were read");
    String::from_utf8_lossy(&stored).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_is_not_sent_over_plain_http_by_default() {
    let downstream = FakeDownstream::start().await;
    let acme = slack_with_secret_path(&downstream);
    let config = Config::new()
        .secrets_over_https_only()
        .retry_delays(&[])
        .allowed_hosts(Plugin::Slack, &["127.0.0.1"])
        .tenant(acme);
    let gateway = Gateway::start(config).await;

    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    assert_eq!(gateway.send_event("acme", &failing).await.status, 200);
    let refused = "SELECT COUNT(*) FROM actions WHERE status = 'failed'
                   AND last_error LIKE '%only over HTTPS to the default port%'";
    wait_until("the action is refused", SOON, async || {
        gateway.count(refused).await == 1
    })
    .await;
    assert!(downstream.requests().is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_goes_only_with_the_plugins_and_hosts_it_is_for() {
    let downstream = FakeDownstream::start().await;
    let guess = |secret: &str| json!({ "mode": "guess", "url": downstream.url("/guess"), "secret": secret });
    // `hook_path` names no plugin: it is Slack's, whose config refers to it. The hostile
    // plugin guesses its name. `pinned` names the hostile plugin but only another host.
    let acme = slack_with_secret_path(&downstream)
        .secret(
            "pinned",
            "{ value = \"PINNED-v4l\", plugins = [\"fixture_hostile\"], hosts = [\"localhost\"] }",
        )
        .plugin(Plugin::Hostile, guess("hook_path"));
    let globex = Tenant::hmac("globex", "s3cret")
        .secret(
            "pinned",
            "{ value = \"PINNED-v4l\", plugins = [\"fixture_hostile\"], hosts = [\"127.0.0.1\"] }",
        )
        .plugin(Plugin::Hostile, guess("pinned"));
    let initech = Tenant::hmac("initech", "s3cret")
        .secret(
            "pinned",
            "{ value = \"PINNED-v4l\", plugins = [\"fixture_hostile\"], hosts = [\"localhost\"] }",
        )
        .plugin(Plugin::Hostile, guess("pinned"));
    let config = Config::new()
        .retry_delays(&[])
        .allowed_hosts(Plugin::Slack, &["127.0.0.1"])
        .allowed_hosts(Plugin::Hostile, &["127.0.0.1"])
        .tenant(acme)
        .tenant(globex)
        .tenant(initech);
    let gateway = Gateway::start(config).await;

    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    for tenant in ["acme", "globex", "initech"] {
        assert_eq!(gateway.send_event(tenant, &failing).await.status, 200);
    }
    let failed = |tenant: &str, reason: &str| {
        format!(
            "SELECT COUNT(*) FROM actions WHERE tenant = '{tenant}' AND plugin = 'fixture_hostile' \
             AND status = 'failed' AND last_error LIKE '%{reason}%'"
        )
    };
    wait_until("both guesses are refused", SOON, async || {
        gateway
            .count(&failed(
                "acme",
                "secret `hook_path` of tenant `acme` is not for plugin `fixture_hostile`",
            ))
            .await
            == 1
            && gateway
                .count(&failed("initech", "may only be sent to localhost"))
                .await
                == 1
    })
    .await;
    let requests = downstream.wait_for(2, SOON).await;
    let guessed: Vec<_> = requests.iter().filter(|r| r.path == "/guess").collect();
    assert_eq!(
        guessed.len(),
        1,
        "only globex's, to its own host: {requests:?}"
    );
    assert_eq!(guessed[0].header("authorization"), Some("PINNED-v4l"));
    assert!(
        requests
            .iter()
            .any(|r| r.path == format!("/hook/{PATH_SECRET}")),
        "Slack still gets its own secret"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_naming_a_plugin_the_tenant_lacks_stops_the_start() {
    let acme = Tenant::hmac("acme", "s3cret")
        .secret("token", "{ value = \"x\", plugins = [\"jira\"] }")
        .plugin(
            Plugin::Slack,
            json!({ "webhook_url": "https://hooks.example/x" }),
        );
    let failure = Gateway::start_expecting_failure(Config::new().tenant(acme)).await;
    assert!(!failure.status.success());
    assert!(
        failure.stderr.contains("tenants[0].secrets.token.plugins")
            && failure.stderr.contains("\"jira\" is not enabled"),
        "{}",
        failure.stderr
    );
}

/// Tenant `acme` whose Slack plugin posts to `downstream` under the secret path `hook_path`.
fn slack_with_secret_path(downstream: &FakeDownstream) -> Tenant {
    Tenant::hmac("acme", "s3cret")
        .secret("hook_path", &format!("{{ value = \"{PATH_SECRET}\" }}"))
        .plugin(
            Plugin::Slack,
            json!({ "webhook_url": downstream.url("/hook/{{secret:hook_path}}") }),
        )
}
