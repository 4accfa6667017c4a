//! `soda-gateway send` and `soda-gateway sign`: random, signed events of every type are accepted
//! by a real gateway under every verification scheme and reach the Slack plugin; a wrong
//! secret, an unknown tenant and an unreachable gateway fail with a clear message; `sign`
//! prints headers with which a plain client is accepted.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rcgen::{generate_simple_self_signed, CertifiedKey};
use serde_json::{json, Value};
use soda_gateway_tests::cli_run::CliRun;
use soda_gateway_tests::{
    event, gateway_binary, unused_port, Config, FakeDownstream, Gateway, Plugin, Tenant, Verify,
    SOON,
};
use sqlx::{AnyConnection, Connection as _};
use tempfile::TempDir;

/// Every type `send` posts by default, in its order.
const TYPES: [&str; 5] = [
    "validate",
    "checkEvaluation",
    "incidentCreated",
    "incidentUpdated",
    "contractPublished",
];

/// The Standard Webhooks specification's example secret.
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One tenant per verification scheme and option.
fn schemes() -> Vec<(&'static str, Verify)> {
    vec![
        ("sha256", Verify::hmac("s3cret")),
        (
            "sha512",
            Verify::Inline(
                r#"{ scheme = "hmac", header = "x-signature", algorithm = "sha512", encoding = "base64", prefix = "sha512=", secrets = ["new-s3cret", "old-s3cret"] }"#
                    .into(),
            ),
        ),
        ("token", Verify::token("Bearer t0ken")),
        (
            "webhooks",
            Verify::Inline(format!(
                r#"{{ scheme = "standard-webhooks", secret = "{WHSEC}" }}"#
            )),
        ),
    ]
}

/// A gateway with a tenant per scheme; with `slack`, each tenant's Slack plugin posts to
/// `/{tenant}` there.
async fn gateway(slack: Option<&FakeDownstream>) -> Gateway {
    let mut config = Config::new();
    for (id, verify) in schemes() {
        let mut tenant = Tenant::new(id, verify);
        if let Some(slack) = slack {
            let webhook = slack.url(&format!("/{id}"));
            tenant = tenant.plugin(Plugin::Slack, json!({ "webhook_url": webhook }));
        }
        config = config.tenant(tenant);
    }
    Gateway::start(config).await
}

/// The running gateway's config file.
fn config_path(gateway: &Gateway) -> PathBuf {
    let data = gateway.db_path();
    data.ancestors().nth(2).unwrap().join("gateway.toml")
}

/// A copy of the gateway's config as `dir/name`, listening where the gateway really listens
/// (on `listen_host`: the harness's `listen` has port 0), with the `edit` (from, to) applied.
fn config_copy(
    gateway: &Gateway,
    dir: &TempDir,
    name: &str,
    listen_host: &str,
    edit: Option<(&str, &str)>,
) -> PathBuf {
    let port = gateway.url().rsplit(':').next().unwrap();
    let mut text = fs::read_to_string(config_path(gateway)).unwrap();
    let listen = "listen = \"127.0.0.1:0\"";
    assert!(text.contains(listen), "{text}");
    text = text.replace(listen, &format!("listen = \"{listen_host}:{port}\""));
    if let Some((from, to)) = edit {
        assert!(text.contains(from), "{from} in {text}");
        text = text.replace(from, to);
    }
    let path = dir.path().join(name);
    fs::write(&path, text).unwrap();
    path
}

/// Runs `soda-gateway <args>` with `stdin`, off the async threads; no proxy in the way.
async fn soda_gateway(args: &[&str], stdin: &[u8]) -> CliRun {
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    let stdin = stdin.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(gateway_binary());
        command
            .args(&args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for proxy in ["http_proxy", "https_proxy", "all_proxy"] {
            command.env_remove(proxy).env_remove(proxy.to_uppercase());
        }
        let mut child = command.spawn().expect("the gateway binary runs");
        child.stdin.take().unwrap().write_all(&stdin).unwrap();
        CliRun {
            output: child.wait_with_output().expect("the command ends"),
        }
    })
    .await
    .unwrap()
}

/// `soda-gateway send --config CONFIG --tenant TENANT` followed by `extra`.
async fn send(config: &Path, tenant: &str, extra: &[&str]) -> CliRun {
    let config = config.to_str().unwrap();
    let mut args = vec!["send", "--config", config, "--tenant", tenant];
    args.extend_from_slice(extra);
    soda_gateway(&args, b"").await
}

/// The stored events of `tenant`, by type, as JSON.
async fn stored_bodies(gateway: &Gateway, tenant: &str) -> HashMap<String, Vec<Value>> {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", gateway.db_path().display());
    let mut db = AnyConnection::connect(&url).await.unwrap();
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT event_type, body FROM events WHERE tenant = ?")
            .bind(tenant)
            .fetch_all(&mut db)
            .await
            .unwrap();
    let mut bodies: HashMap<String, Vec<Value>> = HashMap::new();
    for (event_type, body) in rows {
        let body = serde_json::from_slice(&body).unwrap();
        bodies.entry(event_type).or_default().push(body);
    }
    bodies
}

/// Each stored event type of `tenant` with its count.
async fn stored_types(gateway: &Gateway, tenant: &str) -> HashMap<String, usize> {
    let bodies = stored_bodies(gateway, tenant).await;
    bodies
        .into_iter()
        .map(|(event_type, bodies)| (event_type, bodies.len()))
        .collect()
}

fn counts(pairs: &[(&str, usize)]) -> HashMap<String, usize> {
    pairs
        .iter()
        .map(|(name, count)| (name.to_string(), *count))
        .collect()
}

/// The `sodaCloudUrl`s of a check evaluation's results, split into alerting (fail or warn)
/// and the others.
fn check_urls(event: &Value) -> (Vec<String>, Vec<String>) {
    let results = event["checkResults"].as_array().unwrap();
    let url = |result: &Value| result["sodaCloudUrl"].as_str().unwrap().to_owned();
    let alerting = |result: &&Value| matches!(result["outcome"].as_str(), Some("fail" | "warn"));
    let (alerting, quiet): (Vec<&Value>, Vec<&Value>) = results.iter().partition(alerting);
    (
        alerting.into_iter().map(url).collect(),
        quiet.into_iter().map(url).collect(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn send_posts_every_event_type_under_every_scheme_and_slack_hears_of_the_failures() {
    let slack = FakeDownstream::start().await;
    let gateway = gateway(Some(&slack)).await;
    let config = config_path(&gateway);
    for (tenant, _) in schemes() {
        let run = send(&config, tenant, &["--url", gateway.url()]).await;
        assert!(run.succeeded(), "{tenant}: {run:?}");
        let stdout = run.stdout();
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), TYPES.len(), "{tenant}: {run:?}");
        for (line, kind) in lines.iter().zip(TYPES) {
            assert!(
                line.starts_with(&format!("{kind}: 200 OK {{")),
                "{tenant}: type, status and answer: {run:?}"
            );
        }
    }

    let one_each = counts(&TYPES.map(|kind| (kind, 1)));
    for (tenant, _) in schemes() {
        assert_eq!(stored_types(&gateway, tenant).await, one_each, "{tenant}");
    }
    // Slack speaks for the failing check(s) and the created incident: two messages a tenant.
    let requests = slack.wait_for(2 * schemes().len(), SOON).await;
    for (tenant, _) in schemes() {
        let bodies = stored_bodies(&gateway, tenant).await;
        let messages: Vec<String> = requests
            .iter()
            .filter(|request| request.path == format!("/{tenant}"))
            .map(|request| request.text())
            .collect();
        assert_eq!(messages.len(), 2, "{tenant}: {messages:#?}");
        let (alerting, quiet) = check_urls(&bodies["checkEvaluation"][0]);
        assert!(
            !alerting.is_empty(),
            "{tenant}: a failing check is generated"
        );
        let checks = messages
            .iter()
            .find(|message| message.contains(&alerting[0]))
            .unwrap_or_else(|| panic!("{tenant}: no message names {alerting:?}: {messages:#?}"));
        for url in &alerting {
            assert!(checks.contains(url), "{tenant}: {url} in {checks}");
        }
        for url in &quiet {
            assert!(!checks.contains(url), "{tenant}: passing {url} in {checks}");
        }
        let incident = &bodies["incidentCreated"][0]["incident"];
        let incident_url = incident["sodaCloudUrl"].as_str().unwrap();
        assert!(
            messages
                .iter()
                .any(|message| message.contains(incident_url)),
            "{tenant}: no message for incident {incident_url}: {messages:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn send_reaches_the_listen_address_and_fails_clearly_when_refused_or_lost() {
    let gateway = gateway(None).await;
    let dir = tempfile::tempdir().unwrap();
    // `listen = 0.0.0.0:PORT` is reached on loopback, without --url; --type and --count pick.
    let wildcard = config_copy(&gateway, &dir, "wildcard.toml", "0.0.0.0", None);
    let run = send(
        &wildcard,
        "sha512",
        &[
            "--type",
            "validate",
            "--type",
            "incidentUpdated",
            "--count",
            "2",
        ],
    )
    .await;
    assert!(run.succeeded(), "{run:?}");
    assert_eq!(run.stdout().lines().count(), 4, "{run:?}");
    let expected = counts(&[("validate", 2), ("incidentUpdated", 2)]);
    assert_eq!(stored_types(&gateway, "sha512").await, expected);

    // A wrong secret: the gateway answers 401, and `send` fails saying so.
    let wrong = config_copy(
        &gateway,
        &dir,
        "wrong.toml",
        "127.0.0.1",
        Some(("\"s3cret\"", "\"wrong\"")),
    );
    let run = send(&wrong, "sha256", &["--type", "checkEvaluation"]).await;
    assert!(!run.succeeded(), "{run:?}");
    assert!(
        run.stdout()
            .starts_with("checkEvaluation: 401 Unauthorized {"),
        "{run:?}"
    );
    assert!(
        run.error_line()
            .contains("1 of 1 event(s) were not accepted by http://127.0.0.1:"),
        "{run:?}"
    );
    assert!(stored_types(&gateway, "sha256").await.is_empty());

    // An unknown tenant is named, with the known ones; nothing is sent.
    let run = send(&wrong, "globex", &[]).await;
    assert!(!run.succeeded(), "{run:?}");
    let error = run.error_line();
    assert!(
        error.contains("no tenant `globex`")
            && error.contains("its tenants: sha256, sha512, token, webhooks"),
        "{run:?}"
    );
    assert_eq!(run.stdout(), "", "{run:?}");

    // No gateway there: the message names the URL.
    let nowhere = format!("http://127.0.0.1:{}", unused_port());
    let run = send(&wrong, "token", &["--url", &nowhere]).await;
    assert!(!run.succeeded(), "{run:?}");
    assert!(
        run.error_line().contains(&format!(
            "cannot reach the gateway at {nowhere}/hooks/token"
        )),
        "{run:?}"
    );

    // The harness's own config listens on port 0: there is no address to default to.
    let run = send(&config_path(&gateway), "token", &[]).await;
    assert!(
        !run.succeeded() && run.error_line().contains("--url"),
        "{run:?}"
    );
    let run = send(&wrong, "token", &["--type", "checkResult"]).await;
    assert!(
        !run.succeeded()
            && run
                .error_line()
                .contains("unknown event type `checkResult`"),
        "{run:?}"
    );
}

/// Posts `body` with `headers` as a plain client would; the status.
async fn post(url: &str, body: &[u8], headers: &[(String, String)]) -> u16 {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

/// The `Name: value` lines of `sign`'s output.
fn headers(run: &CliRun) -> Vec<(String, String)> {
    run.stdout()
        .lines()
        .map(|line| {
            let (name, value) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("`Name: value` lines: {run:?}"));
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_prints_headers_that_a_plain_client_is_accepted_with() {
    let gateway = gateway(None).await;
    let config = config_path(&gateway);
    let config = config.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = serde_json::to_vec(&event("gen2_check_evaluation")).unwrap();
    let body_file = dir.path().join("event.json");
    fs::write(&body_file, &body).unwrap();
    let body_arg = body_file.to_str().unwrap();
    let expected_names = HashMap::from([
        ("sha256", vec!["x-soda-signature"]),
        ("sha512", vec!["x-signature"]),
        ("token", vec!["authorization"]),
        (
            "webhooks",
            vec!["webhook-id", "webhook-timestamp", "webhook-signature"],
        ),
    ]);
    for (tenant, _) in schemes() {
        let from_file = &[
            "sign", "--config", config, "--tenant", tenant, "--body", body_arg,
        ];
        let from_stdin = &["sign", "--config", config, "--tenant", tenant];
        for (args, stdin) in [(&from_file[..], &b""[..]), (&from_stdin[..], &body[..])] {
            let run = soda_gateway(args, stdin).await;
            assert!(run.succeeded(), "{tenant}: {run:?}");
            let headers = headers(&run);
            let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
            assert_eq!(names, expected_names[tenant], "{tenant}: {run:?}");
            let url = format!("{}/hooks/{tenant}", gateway.url());
            assert_eq!(post(&url, &body, &headers).await, 200, "{tenant}: {run:?}");
            if tenant != "token" {
                let mut changed = body.clone();
                changed[10] ^= 0x01;
                assert_eq!(post(&url, &changed, &headers).await, 401, "{tenant}");
            }
        }
        let stored = stored_types(&gateway, tenant).await;
        assert_eq!(stored, counts(&[("checkEvaluation", 2)]), "{tenant}");
    }
    let run = soda_gateway(
        &[
            "sign", "--config", config, "--tenant", "nope", "--body", body_arg,
        ],
        b"",
    )
    .await;
    assert!(
        !run.succeeded() && run.error_line().contains("no tenant `nope`"),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn send_trusts_the_certificate_of_a_gateway_serving_https() {
    let dir = tempfile::tempdir().unwrap();
    let CertifiedKey { cert, key_pair } =
        generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    fs::write(&cert_file, cert.pem()).unwrap();
    fs::write(&key_file, key_pair.serialize_pem()).unwrap();
    let tls = format!("tls = {{ cert_file = {cert_file:?}, key_file = {key_file:?} }}");
    let config = Config::new()
        .tenant(Tenant::token("acme", "Bearer t0ken"))
        .extra_top_level_toml(&tls);
    let gateway = Gateway::start(config).await;
    assert!(gateway.url().starts_with("https://"), "{}", gateway.url());

    let copy = config_copy(&gateway, &dir, "https.toml", "127.0.0.1", None);
    let run = send(&copy, "acme", &["--type", "validate"]).await;
    assert!(run.succeeded(), "{run:?}");
    assert!(run.stdout().starts_with("validate: 200 OK"), "{run:?}");
    assert_eq!(
        stored_types(&gateway, "acme").await,
        counts(&[("validate", 1)])
    );
}
