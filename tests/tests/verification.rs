//! Every verification scheme over real HTTP: a correctly signed request is accepted (200) and
//! stored; wrong, stale, truncated and missing signatures get 401 and store nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha512;
use soda_gateway_tests::{standard_webhooks_signature, Config, Gateway, Tenant, Verify};

const BODY: &[u8] = br#"{"event":"validate"}"#;

fn sha512_base64(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    BASE64.encode(mac.finalize().into_bytes())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

async fn status(gateway: &Gateway, tenant: &str, headers: &[(&str, &str)]) -> u16 {
    gateway.post(tenant, BODY.to_vec(), headers).await.status
}

#[tokio::test(flavor = "multi_thread")]
async fn hmac_sha512_base64_with_prefix_and_rotated_secrets() {
    let verify = Verify::Inline(
        r#"{ scheme = "hmac", header = "x-signature", algorithm = "sha512", encoding = "base64", prefix = "sha512=", secrets = ["new-secret", "old-secret"] }"#.into(),
    );
    let gateway = Gateway::start(Config::new().tenant(Tenant::new("acme", verify))).await;
    for secret in ["new-secret", "old-secret"] {
        let signature = format!("sha512={}", sha512_base64(secret, BODY));
        assert_eq!(
            status(&gateway, "acme", &[("x-signature", &signature)]).await,
            200,
            "{secret}"
        );
    }
    let good = sha512_base64("new-secret", BODY);
    let bad = [
        good.clone(),                                         // prefix missing
        format!("sha512={}", sha512_base64("retired", BODY)), // wrong secret
        format!("sha512={}", &good[..good.len() / 2]),        // truncated
        format!("sha512={}", hex::encode([0u8; 64])),         // wrong encoding
    ];
    for signature in &bad {
        assert_eq!(
            status(&gateway, "acme", &[("x-signature", signature)]).await,
            401,
            "{signature}"
        );
    }
    assert_eq!(status(&gateway, "acme", &[]).await, 401, "missing");
    assert_eq!(
        gateway.count_rows("events").await,
        2,
        "only the accepted ones are stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn standard_webhooks_with_fresh_stale_and_forged_signatures() {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let verify = Verify::Inline(format!(
        r#"{{ scheme = "standard-webhooks", secrets = ["{SECRET}"], tolerance = "5m" }}"#
    ));
    let gateway = Gateway::start(Config::new().tenant(Tenant::new("acme", verify))).await;
    let post = async |id: &str, timestamp: u64, signature: &str| {
        let timestamp = timestamp.to_string();
        status(
            &gateway,
            "acme",
            &[
                ("webhook-id", id),
                ("webhook-timestamp", &timestamp),
                ("webhook-signature", signature),
            ],
        )
        .await
    };
    let now = unix_now();
    let sign = |id: &str, at: u64| standard_webhooks_signature(SECRET, id, &at.to_string(), BODY);

    assert_eq!(post("msg_1", now, &sign("msg_1", now)).await, 200);
    let several = format!("v1,Zm9yZ2Vk {}", sign("msg_2", now));
    assert_eq!(
        post("msg_2", now, &several).await,
        200,
        "one of several signatures"
    );

    let stale = now - 600;
    assert_eq!(
        post("msg_3", stale, &sign("msg_3", stale)).await,
        401,
        "10 minutes old"
    );
    let future = now + 600;
    assert_eq!(
        post("msg_4", future, &sign("msg_4", future)).await,
        401,
        "10 minutes ahead"
    );
    let other = standard_webhooks_signature(
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAA",
        "msg_5",
        &now.to_string(),
        BODY,
    );
    assert_eq!(post("msg_5", now, &other).await, 401, "another secret");
    assert_eq!(
        post("msg_6", now, &sign("msg_1", now)).await,
        401,
        "signed for another id"
    );
    let truncated = sign("msg_7", now)[..20].to_string();
    assert_eq!(post("msg_7", now, &truncated).await, 401, "truncated");
    assert_eq!(
        status(&gateway, "acme", &[("webhook-id", "msg_8")]).await,
        401,
        "missing"
    );
    assert_eq!(gateway.count_rows("events").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_with_two_values_during_a_rotation() {
    let verify = Verify::Inline(
        r#"{ scheme = "token", header = "authorization", values = ["Bearer next", "Bearer current"] }"#.into(),
    );
    let gateway = Gateway::start(Config::new().tenant(Tenant::new("acme", verify))).await;
    for token in ["Bearer next", "Bearer current"] {
        assert_eq!(
            status(&gateway, "acme", &[("authorization", token)]).await,
            200
        );
    }
    for token in ["Bearer retired", "Bearer nex", ""] {
        assert_eq!(
            status(&gateway, "acme", &[("authorization", token)]).await,
            401
        );
    }
    assert_eq!(gateway.count_rows("events").await, 2);
}
