//! Health, readiness and metrics move as events flow.

use serde_json::json;
use soda_gateway_tests::{
    event, wait_until, with_outcomes, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};

const TOKEN: &str = "metrics-s3cret";

async fn get(gateway: &Gateway, path: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(format!("{}{path}", gateway.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn metrics(gateway: &Gateway) -> String {
    let (status, text) = get(gateway, "/metrics", Some(TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_readiness_answer_when_the_store_is_up() {
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let gateway = Gateway::start(Config::new().tenant(tenant)).await;
    assert_eq!(
        get(&gateway, "/healthz", None).await,
        (200, "ok".to_string())
    );
    let (status, body) = get(&gateway, "/readyz", None).await;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({ "store": "ok", "draining": false, "plugins_not_loaded": [] })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_plugin_calls_deliveries_and_reloads() {
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }))
        .plugin(Plugin::Trap, json!({}));
    let config = Config::new()
        .tenant(tenant)
        .extra_top_level_toml(&format!("[admin]\ntoken = \"{TOKEN}\""));
    let gateway = Gateway::start(config).await;
    assert_eq!(
        get(&gateway, "/metrics", None).await.0,
        401,
        "metrics need the token"
    );
    let before = metrics(&gateway).await;
    assert!(
        before.contains(r#"soda_plugin_reloads_total{outcome="loaded"} 2"#),
        "{before}"
    );
    assert!(!before.contains("soda_requests_total{"), "{before}");

    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    assert_eq!(gateway.send_event("acme", &failing).await.status, 200);
    let bad = gateway
        .post("acme", b"{}".to_vec(), &[("x-soda-signature", "00")])
        .await;
    assert_eq!(bad.status, 401);
    gateway.post("nobody", b"{}".to_vec(), &[]).await;
    slack.wait_for(1, SOON).await;
    wait_until("the delivery is counted", SOON, async || {
        metrics(&gateway)
            .await
            .contains(r#"soda_delivery_attempts_total{outcome="delivered"} 1"#)
    })
    .await;

    let after = metrics(&gateway).await;
    for line in [
        r#"soda_requests_total{tenant="acme",event_type="checkEvaluation",status="200"} 1"#,
        r#"soda_requests_total{tenant="acme",event_type="none",status="401"} 1"#,
        r#"soda_requests_total{tenant="unknown",event_type="none",status="404"} 1"#,
        r#"soda_plugin_call_seconds_count{plugin="slack"} 1"#,
        r#"soda_plugin_errors_total{plugin="fixture_trap"} 1"#,
        "soda_actions_pending 0",
        "soda_dead_letters 0",
    ] {
        assert!(after.contains(line), "{line} missing from\n{after}");
    }
}
