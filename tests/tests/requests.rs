//! What `POST /hooks/{tenant}` accepts and rejects, and that rejected requests leave no trace.

use serde_json::json;
use soda_gateway_tests::{
    event, hmac_hex, with_outcomes, Config, FakeDownstream, Gateway, Plugin, Stored, Tenant,
};

/// A failing check evaluation: accepted, it would make the Slack plugin send a message.
fn failing_event() -> Vec<u8> {
    serde_json::to_vec(&with_outcomes(event("gen1_check_evaluation"), "fail")).unwrap()
}

/// A gateway with tenant `acme` (HMAC secret `s3cret`) sending to a fake Slack.
async fn acme(config: Config) -> (Gateway, FakeDownstream) {
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    (Gateway::start(config.tenant(tenant)).await, slack)
}

/// Nothing is stored, and nothing was sent either: the gateway only sends stored actions, and
/// stores them before it answers, so with nothing stored after the answer nothing is left to
/// send.
async fn assert_no_trace(gateway: &Gateway, slack: &FakeDownstream) {
    assert_eq!(gateway.stored().await, Stored::default(), "nothing stored");
    assert!(
        slack.requests().is_empty(),
        "nothing sent: {:#?}",
        slack.requests()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_signature_is_rejected_and_nothing_is_stored_or_sent() {
    let (gateway, slack) = acme(Config::new()).await;
    let body = failing_event();

    let wrong_secret = hmac_hex("not-the-secret", &body);
    let other_body = hmac_hex("s3cret", b"{\"event\":\"validate\"}");
    let cases: [(&str, Vec<(&str, &str)>); 5] = [
        ("no signature", vec![]),
        ("wrong secret", vec![("x-soda-signature", &wrong_secret)]),
        (
            "signature of another body",
            vec![("x-soda-signature", &other_body)],
        ),
        (
            "not hex",
            vec![("x-soda-signature", "sha256=not-a-signature")],
        ),
        ("empty", vec![("x-soda-signature", "")]),
    ];
    for (case, headers) in cases {
        let reply = gateway.post("acme", body.clone(), &headers).await;
        assert_eq!(reply.status, 401, "{case}: {reply:?}");
    }
    assert_no_trace(&gateway, &slack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hmac_signature_is_accepted_with_or_without_the_sha256_prefix() {
    let (gateway, slack) = acme(Config::new()).await;
    let body = failing_event();
    let signature = hmac_hex("s3cret", &body);

    let bare = gateway
        .post("acme", body.clone(), &[("x-soda-signature", &signature)])
        .await;
    assert_eq!(bare.status, 200, "{bare:?}");
    let prefixed = format!("sha256={signature}");
    let prefixed = gateway
        .post("acme", body, &[("x-soda-signature", &prefixed)])
        .await;
    assert_eq!(prefixed.status, 200, "{prefixed:?}");

    assert_eq!(gateway.count_rows("events").await, 2);
    slack.wait_for(2, soda_gateway_tests::SOON).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_verification_accepts_the_right_token_and_rejects_others() {
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::token("globex", "Bearer abc")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let gateway = Gateway::start(Config::new().tenant(tenant)).await;
    let body = failing_event();

    for (case, headers) in [
        ("no token", vec![]),
        ("wrong token", vec![("authorization", "Bearer abd")]),
        ("token without scheme", vec![("authorization", "abc")]),
        (
            "token in another header",
            vec![("x-soda-signature", "Bearer abc")],
        ),
    ] {
        let reply = gateway.post("globex", body.clone(), &headers).await;
        assert_eq!(reply.status, 401, "{case}: {reply:?}");
    }
    assert_eq!(
        gateway.stored().await,
        Stored::default(),
        "rejections store nothing"
    );

    let reply = gateway
        .post("globex", body, &[("authorization", "Bearer abc")])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        gateway.events().await,
        vec![("globex".to_string(), "checkEvaluation".to_string())]
    );
    slack.wait_for(1, soda_gateway_tests::SOON).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_tenant_is_404() {
    let (gateway, slack) = acme(Config::new()).await;
    let body = failing_event();
    let signature = hmac_hex("s3cret", &body);

    let signed = gateway
        .post("initech", body.clone(), &[("x-soda-signature", &signature)])
        .await;
    assert_eq!(signed.status, 404, "{signed:?}");
    let unsigned = gateway.post("initech", body, &[]).await;
    assert_eq!(unsigned.status, 404, "{unsigned:?}");
    assert_no_trace(&gateway, &slack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_body_is_413_and_nothing_is_stored() {
    let (gateway, slack) = acme(Config::new().max_body_bytes(2048)).await;

    // A genuine, correctly signed failing event, padded past the limit.
    let mut event = with_outcomes(event("gen1_check_evaluation"), "fail");
    event["padding"] = json!("x".repeat(4096));
    let body = serde_json::to_vec(&event).unwrap();
    assert!(body.len() > 2048);
    let reply = gateway.post_signed("acme", body).await;
    assert_eq!(reply.status, 413, "{reply:?}");
    let reason = reply.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("length limit"), "{reply:?}");
    assert_no_trace(&gateway, &slack).await;

    // The limit is about size only: the same event unpadded is accepted.
    let reply = gateway.post_signed("acme", failing_event()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_400_with_a_one_line_reason() {
    let (gateway, slack) = acme(Config::new()).await;

    for (case, body) in [
        ("not JSON", "{\"event\": \"checkEvaluation\", "),
        ("plain text", "hello"),
        ("empty body", ""),
        ("JSON without an event field", "{\"checkResults\": []}"),
        ("event is not a string", "{\"event\": 42}"),
        ("JSON array", "[{\"event\": \"validate\"}]"),
        ("JSON string", "\"checkEvaluation\""),
    ] {
        let reply = gateway.post_signed("acme", body).await;
        assert_eq!(reply.status, 400, "{case}: {reply:?}");
        let reason = reply.body.trim_end_matches('\n');
        assert!(
            !reason.trim().is_empty(),
            "{case}: a reason is given: {reply:?}"
        );
        assert!(
            !reason.contains('\n'),
            "{case}: the reason is one line: {reply:?}"
        );
    }
    assert_no_trace(&gateway, &slack).await;
}
