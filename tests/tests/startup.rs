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
