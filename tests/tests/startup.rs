//! Starting the gateway: the listening line, and refusing a config it does not understand.

use soda_gateway_tests::{event, Config, Gateway, Tenant, LISTENING_PREFIX};

#[tokio::test(flavor = "multi_thread")]
async fn startup_prints_exactly_one_listening_line_on_stdout() {
    let mut gateway = Gateway::start(Config::new().tenant(Tenant::hmac("acme", "s3cret"))).await;
    let reply = gateway.send_event("acme", &event("gen1_validate")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = gateway
        .send_event("acme", &event("gen2_contract_published"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    gateway.kill();
    let lines = gateway.stdout_lines();
    assert_eq!(
        lines,
        [format!("{LISTENING_PREFIX}{}", gateway.url())],
        "stdout holds the listening line only; logs go to stderr"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn config_with_an_unknown_key_fails_at_start_naming_the_key() {
    let failure = Gateway::start_expecting_failure(
        Config::new()
            .tenant(Tenant::hmac("acme", "s3cret"))
            .extra_top_level_toml("retry_forever = true"),
    )
    .await;

    assert!(!failure.status.success(), "{failure:?}");
    assert!(
        failure.stderr.contains("retry_forever"),
        "stderr names the key: {failure:?}"
    );
    assert!(
        !failure.stdout.contains(LISTENING_PREFIX),
        "it never listened: {failure:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_key_in_a_section_is_refused_too() {
    let config = Config::new().tenant(Tenant::hmac("acme", "s3cret"));
    let toml = config
        .to_toml()
        .replace("[delivery]\n", "[delivery]\nmax_attempts = 3\n");
    assert!(toml.contains("max_attempts"));
    let failure = Gateway::start_with_toml_expecting_failure(&toml, &[]).await;

    assert!(!failure.status.success(), "{failure:?}");
    assert!(failure.stderr.contains("max_attempts"), "{failure:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_compile_cache_entry_forged_without_the_key_is_rejected_and_recompiled() {
    use sha2::{Digest, Sha256};
    use soda_gateway_tests::reload::data_dir;
    use soda_gateway_tests::{with_outcomes, FakeDownstream, Plugin, SOON};

    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret").plugin(
        Plugin::Slack,
        serde_json::json!({ "webhook_url": slack.url("/hook") }),
    );
    let mut gateway = Gateway::start(Config::new().tenant(tenant)).await;
    let cache = data_dir(&gateway).join("plugin-cache");
    let entry = std::fs::read_dir(&cache)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "cwasm"))
        .expect("a cache entry for slack");
    // What someone who can write the folder, but not read its key, could plant: the artifact
    // behind a plain SHA-256 (here the real artifact; a planted one would be their own code).
    let contents = std::fs::read(&entry).unwrap();
    let artifact = &contents[32..];
    let mut forged = Sha256::digest(artifact).to_vec();
    forged.extend_from_slice(artifact);
    std::fs::write(&entry, forged).unwrap();

    gateway.restart().await;
    gateway
        .wait_for_log("ignoring compile cache entry with a bad HMAC")
        .await;
    let reply = gateway
        .send_event(
            "acme",
            &with_outcomes(event("gen1_check_evaluation"), "fail"),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    slack.wait_for(1, SOON).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_url_and_the_admin_token_can_come_from_a_file_and_the_environment() {
    let outside = tempfile::tempdir().unwrap();
    let url_file = outside.path().join("store-url");
    std::fs::write(&url_file, "sqlite::memory:\n").unwrap();
    let config = Config::new()
        .tenant(Tenant::hmac("acme", "s3cret"))
        .env("SODA_TEST_ADMIN_TOKEN", "t0ken-from-the-environment")
        .extra_top_level_toml(&format!(
            "[store]\nurl = {{ file = {:?} }}\n[admin]\ntoken = {{ env = \"SODA_TEST_ADMIN_TOKEN\" }}",
            url_file.display().to_string()
        ));
    let gateway = Gateway::start(config).await;

    let allowed = admin_status(&gateway, "t0ken-from-the-environment").await;
    assert_eq!(allowed, 200, "the token from the environment");
    let refused = admin_status(&gateway, "SODA_TEST_ADMIN_TOKEN").await;
    assert_eq!(refused, 401, "not the variable's name");

    // The file named the in-memory store: events are accepted, and no database file is made.
    let reply = gateway.send_event("acme", &event("gen1_validate")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        !gateway.db_path().exists(),
        "the store is the one the file names, not data_dir/gateway.db"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unset_variable_for_the_admin_token_stops_the_start_and_is_named() {
    let config = Config::new()
        .extra_top_level_toml("[admin]\ntoken = { env = \"SODA_TEST_ADMIN_TOKEN_NOBODY_SET\" }");
    let failure = Gateway::start_expecting_failure(config).await;
    assert!(
        failure.stderr.contains(
            "`admin.token`: environment variable `SODA_TEST_ADMIN_TOKEN_NOBODY_SET` is not set"
        ),
        "{failure:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_environment_variable_overrides_the_file_and_is_named_when_invalid() {
    let config = Config::new()
        .tenant(Tenant::hmac("acme", "s3cret"))
        .extra_top_level_toml("[admin]\ntoken = \"from-the-file\"")
        .env("SODA_GATEWAY__ADMIN__TOKEN", "from-the-environment");
    let gateway = Gateway::start(config).await;
    for (token, status) in [("from-the-environment", 200), ("from-the-file", 401)] {
        assert_eq!(admin_status(&gateway, token).await, status, "token {token}");
    }

    let invalid = Config::new().env("SODA_GATEWAY__DELIVERY__CONCURRENCY", "lots");
    let failure = Gateway::start_expecting_failure(invalid).await;
    assert!(
        failure.stderr.contains(
            "`delivery.concurrency` (from environment variable `SODA_GATEWAY__DELIVERY__CONCURRENCY`)"
        ),
        "{failure:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn config_check_prints_the_effective_config_with_every_secret_masked() {
    let config = Config::new()
        .tenant(Tenant::hmac("acme", "hmac-s3cret").secret("api_key", "{ value = \"key-s3cret\" }"))
        .tenant(Tenant::token("globex", "Bearer token-s3cret"))
        .extra_top_level_toml("[admin]\ntoken = \"admin-s3cret\"");
    let gateway = Gateway::start(config).await;
    let run = gateway.cli(&["config", "check"]);
    assert!(run.succeeded(), "{}", run.stderr());
    let printed = run.stdout();
    assert!(
        !printed.contains("s3cret"),
        "a secret is printed:\n{printed}"
    );
    for shown in [
        "valid",
        "id = \"acme\"",
        "id = \"globex\"",
        "********",
        "max_body_bytes = ",
        "shutdown_grace = \"30s\"",
    ] {
        assert!(printed.contains(shown), "{shown} missing from\n{printed}");
    }
}

/// The status `GET /admin/tenants` answers with `token`.
async fn admin_status(gateway: &Gateway, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/admin/tenants", gateway.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
