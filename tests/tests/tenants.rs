//! Tenants in a shared gateway: one tenant's credentials do not open another's door, and the
//! tenants are reloaded from the config file while the gateway runs (a bad file is rejected
//! and the previous tenants keep serving).

use serde_json::{json, Value};
use soda_gateway_tests::{
    event, hmac_hex, wait_until, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};

fn validate() -> Value {
    event("gen1_validate")
}

/// A `validate` event posted to `tenant`, signed with `secret` (the tenant may not exist).
async fn post_signed_with(gateway: &Gateway, tenant: &str, secret: &str) -> u16 {
    let body = serde_json::to_vec(&validate()).unwrap();
    let signature = hmac_hex(secret, &body);
    gateway
        .post(tenant, body, &[("x-soda-signature", &signature)])
        .await
        .status
}

fn with_slack(tenant: Tenant, slack: &FakeDownstream) -> Tenant {
    tenant.plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenants_signature_does_not_open_another_tenant() {
    let gateway = Gateway::start(
        Config::new()
            .tenant(Tenant::hmac("acme", "acme-secret"))
            .tenant(Tenant::hmac("globex", "globex-secret")),
    )
    .await;
    let body = serde_json::to_vec(&validate()).unwrap();
    let acme_signature = hmac_hex("acme-secret", &body);
    let reply = gateway
        .post(
            "globex",
            body.clone(),
            &[("x-soda-signature", &acme_signature)],
        )
        .await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(gateway.count_rows("events").await, 0);
    let reply = gateway
        .post("acme", body, &[("x-soda-signature", &acme_signature)])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_are_reloaded_while_serving_and_a_bad_file_changes_nothing() {
    let slack = FakeDownstream::start().await;
    let config = Config::new().tenant(with_slack(Tenant::hmac("acme", "old-secret"), &slack));
    let mut gateway = Gateway::start(config.clone()).await;
    assert_eq!(
        post_signed_with(&gateway, "globex", "globex-secret").await,
        404
    );

    // A new tenant, and a second secret for acme (a rotation).
    let rotated = Tenant::new(
        "acme",
        soda_gateway_tests::Verify::Inline(
            r#"{ scheme = "hmac-sha256", header = "x-soda-signature", secrets = ["new-secret", "old-secret"] }"#.into(),
        ),
    );
    let reloaded = Config::new()
        .tenant(with_slack(rotated, &slack))
        .tenant(with_slack(Tenant::hmac("globex", "globex-secret"), &slack));
    gateway.rewrite_config(reloaded.clone());
    wait_until("globex is served", SOON, async || {
        post_signed_with(&gateway, "globex", "globex-secret").await == 200
    })
    .await;
    let body = serde_json::to_vec(&validate()).unwrap();
    for secret in ["new-secret", "old-secret"] {
        let signature = hmac_hex(secret, &body);
        let reply = gateway
            .post("acme", body.clone(), &[("x-soda-signature", &signature)])
            .await;
        assert_eq!(reply.status, 200, "acme with {secret}: {reply:?}");
    }

    // A file that does not validate is rejected; the tenants above keep serving.
    let twice = r#"{ scheme = "token", header = "authorization", value = "x" }"#;
    gateway.write_config_text(&format!(
        "{}\n[[tenants]]\nid = \"globex\"\nverify = {twice}\n",
        reloaded.to_toml()
    ));
    gateway.wait_for_log("config reload rejected").await;
    assert!(
        gateway
            .stderr()
            .contains("tenant \"globex\" is defined twice"),
        "the reason names the problem"
    );
    assert_eq!(
        post_signed_with(&gateway, "globex", "globex-secret").await,
        200
    );
    let signature = hmac_hex("new-secret", &body);
    let reply = gateway
        .post("acme", body.clone(), &[("x-soda-signature", &signature)])
        .await;
    assert_eq!(reply.status, 200);

    // Back to the first file: globex is gone and acme's new secret no longer works.
    gateway.rewrite_config(config);
    wait_until("globex is gone", SOON, async || {
        post_signed_with(&gateway, "globex", "globex-secret").await == 404
    })
    .await;
    let reply = gateway
        .post("acme", body, &[("x-soda-signature", &signature)])
        .await;
    assert_eq!(reply.status, 401, "the retired secret is refused");
}
