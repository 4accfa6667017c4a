//! The HTTPS listener: a client that trusts the gateway's certificate posts signed events over
//! TLS 1.3 and over TLS 1.2; plain HTTP to the same port gets no answer; a key that does not
//! fit the certificate stops the start with a message naming the problem; the key may come from
//! the environment instead of a file.

use std::fs;
use std::path::Path;

use rcgen::{generate_simple_self_signed, CertifiedKey};
use soda_gateway_tests::{hmac_hex, Config, Gateway, Tenant};

/// A self-signed certificate for `localhost` and 127.0.0.1, written as PEM files in `dir`.
fn certificate(dir: &Path) -> (String, String, reqwest::Certificate) {
    let CertifiedKey { cert, key_pair } =
        generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("a self-signed certificate");
    let cert_file = dir.join("cert.pem");
    let key_file = dir.join("key.pem");
    fs::write(&cert_file, cert.pem()).unwrap();
    fs::write(&key_file, key_pair.serialize_pem()).unwrap();
    let trusted = reqwest::Certificate::from_pem(cert.pem().as_bytes()).unwrap();
    (
        cert_file.display().to_string(),
        key_file.display().to_string(),
        trusted,
    )
}

fn tls_toml(cert_file: &str, key_file: &str) -> String {
    format!("tls = {{ cert_file = {cert_file:?}, key_file = {key_file:?} }}")
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_events_are_accepted_over_tls_1_2_and_1_3_and_plain_http_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file, trusted) = certificate(dir.path());
    let config = Config::new()
        .tenant(Tenant::hmac("acme", "s3cret"))
        .extra_top_level_toml(&tls_toml(&cert_file, &key_file));
    let gateway = Gateway::start(config).await;
    assert!(
        gateway.url().starts_with("https://127.0.0.1:"),
        "{}",
        gateway.url()
    );
    let port = gateway.url().rsplit(':').next().unwrap().to_string();

    let body = br#"{"event":"validate"}"#.to_vec();
    let signature = hmac_hex("s3cret", &body);
    for version in [
        reqwest::tls::Version::TLS_1_3,
        reqwest::tls::Version::TLS_1_2,
    ] {
        let client = reqwest::Client::builder()
            .no_proxy()
            .add_root_certificate(trusted.clone())
            .min_tls_version(version)
            .max_tls_version(version)
            .build()
            .unwrap();
        let response = client
            .post(format!("https://localhost:{port}/hooks/acme"))
            .header("content-type", "application/json")
            .header("x-soda-signature", &signature)
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{version:?}: {e}"));
        assert_eq!(response.status(), 200, "{version:?}");
    }
    assert_eq!(gateway.count_rows("events").await, 2);

    let plain = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap()
        .post(format!("http://127.0.0.1:{port}/hooks/acme"))
        .header("x-soda-signature", &signature)
        .body(body)
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");
    assert_eq!(gateway.count_rows("events").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_that_does_not_fit_the_certificate_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, _, _) = certificate(dir.path());
    let other = tempfile::tempdir().unwrap();
    let (_, other_key, _) = certificate(other.path());
    let config = Config::new()
        .tenant(Tenant::hmac("acme", "s3cret"))
        .extra_top_level_toml(&tls_toml(&cert_file, &other_key));
    let failure = Gateway::start_expecting_failure(config).await;
    assert!(!failure.status.success());
    assert!(
        failure
            .stderr
            .contains("the key does not fit the certificate"),
        "{}",
        failure.stderr
    );
    let missing = Config::new()
        .tenant(Tenant::hmac("acme", "s3cret"))
        .extra_top_level_toml(&tls_toml("/nonexistent/cert.pem", &other_key));
    let failure = Gateway::start_expecting_failure(missing).await;
    assert!(
        failure
            .stderr
            .contains("`tls.cert_file`: cannot read /nonexistent/cert.pem"),
        "{}",
        failure.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_private_key_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file, trusted) = certificate(dir.path());
    let pem = fs::read_to_string(&key_file).unwrap();
    fs::remove_file(&key_file).unwrap();
    let config = Config::new()
        .tenant(Tenant::hmac("acme", "s3cret"))
        .env("SODA_TEST_TLS_KEY", &pem)
        .extra_top_level_toml(&format!(
            "tls = {{ cert_file = {cert_file:?}, key = {{ env = \"SODA_TEST_TLS_KEY\" }} }}"
        ));
    let gateway = Gateway::start(config).await;
    let port = gateway.url().rsplit(':').next().unwrap().to_string();
    let body = br#"{"event":"validate"}"#.to_vec();
    let response = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(trusted)
        .build()
        .unwrap()
        .post(format!("https://localhost:{port}/hooks/acme"))
        .header("content-type", "application/json")
        .header("x-soda-signature", hmac_hex("s3cret", &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let both = Config::new().extra_top_level_toml(&format!(
        "tls = {{ cert_file = {cert_file:?}, key_file = \"k.pem\", key = {{ env = \"SODA_TEST_TLS_KEY\" }} }}"
    ));
    let failure = Gateway::start_expecting_failure(both).await;
    assert!(
        failure
            .stderr
            .contains("exactly one of `key_file` or `key`"),
        "{}",
        failure.stderr
    );
}
