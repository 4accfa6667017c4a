//! Request verification: does this request really come from the tenant's Soda organisation?
//!
//! Pure functions over the configured scheme, the headers, the raw body and the clock. Every
//! comparison of secret material is constant-time; with several secrets configured (rotation),
//! a request matching any of them passes. The section's settings and their checks are in
//! [`settings`].

mod settings;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

pub use settings::{HmacAlgorithm, SignatureEncoding, Verify};

/// Standard Webhooks' headers.
pub const WEBHOOK_ID: &str = "webhook-id";
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Why a request failed verification (never revealing what would have been valid).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VerifyError {
    #[error("missing header `{0}`")]
    MissingHeader(String),
    #[error("header `{0}` does not match")]
    Mismatch(String),
    #[error("header `{0}` is outside the accepted time window")]
    Stale(String),
}

/// Checks `body` and `headers` against the tenant's scheme at time `now`.
pub fn verify(
    scheme: &Verify,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), VerifyError> {
    match scheme {
        Verify::Hmac {
            header,
            algorithm,
            encoding,
            prefix,
            secrets,
        } => {
            let presented = header_value(headers, header)?;
            let encoded = match prefix {
                Some(prefix) => presented
                    .strip_prefix(prefix.as_str())
                    .ok_or_else(|| VerifyError::Mismatch(header.clone()))?,
                None => presented,
            };
            let signature = decode(*encoding, encoded.trim())
                .ok_or_else(|| VerifyError::Mismatch(header.clone()))?;
            let matches = secrets
                .iter()
                .any(|secret| equal(&mac(*algorithm, secret.as_bytes(), &[body]), &signature));
            matches
                .then_some(())
                .ok_or_else(|| VerifyError::Mismatch(header.clone()))
        }
        Verify::HmacSha256 { header, secrets } => {
            let presented = header_value(headers, header)?;
            let hex_signature = presented.strip_prefix("sha256=").unwrap_or(presented);
            let signature = hex::decode(hex_signature.trim())
                .map_err(|_| VerifyError::Mismatch(header.clone()))?;
            let matches = secrets.iter().any(|secret| {
                equal(
                    &mac(HmacAlgorithm::Sha256, secret.as_bytes(), &[body]),
                    &signature,
                )
            });
            matches
                .then_some(())
                .ok_or_else(|| VerifyError::Mismatch(header.clone()))
        }
        Verify::StandardWebhooks { secrets, tolerance } => {
            standard_webhooks(secrets, *tolerance, headers, body, now)
        }
        Verify::Token { header, values } => {
            let presented = header_value(headers, header)?;
            // Hashing first makes the comparison independent of the lengths, too.
            let presented = Sha256::digest(presented.as_bytes());
            let matches = values
                .iter()
                .any(|value| bool::from(presented.ct_eq(&Sha256::digest(value.as_bytes()))));
            matches
                .then_some(())
                .ok_or_else(|| VerifyError::Mismatch(header.clone()))
        }
    }
}

/// Standard Webhooks: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` entries, separated by
/// spaces, in `webhook-signature`; the timestamp within `tolerance` of now either way.
fn standard_webhooks(
    secrets: &[String],
    tolerance: Duration,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), VerifyError> {
    let id = header_value(headers, WEBHOOK_ID)?;
    let timestamp = header_value(headers, WEBHOOK_TIMESTAMP)?;
    let signatures = header_value(headers, WEBHOOK_SIGNATURE)?;
    let sent_at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::Mismatch(WEBHOOK_TIMESTAMP.into()))?;
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if now.abs_diff(sent_at) > tolerance.as_secs() {
        return Err(VerifyError::Stale(WEBHOOK_TIMESTAMP.into()));
    }
    let presented: Vec<Vec<u8>> = signatures
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|encoded| BASE64.decode(encoded).ok())
        .collect();
    let matches = secrets
        .iter()
        .filter_map(|s| standard_webhooks_key(s))
        .any(|key| {
            let expected = standard_webhooks_mac(&key, id, timestamp, body);
            presented
                .iter()
                .any(|signature| equal(&expected, signature))
        });
    matches
        .then_some(())
        .ok_or_else(|| VerifyError::Mismatch(WEBHOOK_SIGNATURE.into()))
}

/// Why a request cannot be signed (a configuration that `Config::load` would refuse).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SignError {
    #[error("the scheme has no secret (or token value) to sign with")]
    NoSecret,
    #[error("the Standard Webhooks secret is not `whsec_` followed by base64")]
    NotAStandardWebhooksSecret,
}

/// The headers, as (name, value), that a sender sets so that `body` passes [`verify`] under
/// `scheme` at time `now`: the signing counterpart of verification, for test senders such as
/// `soda-gateway send`. Signs with the first configured secret (`token`: sends the first
/// value). `message_id` is Standard Webhooks' `webhook-id`; the other schemes ignore it.
pub fn sign(
    scheme: &Verify,
    body: &[u8],
    now: SystemTime,
    message_id: &str,
) -> Result<Vec<(String, String)>, SignError> {
    let headers = match scheme {
        Verify::Hmac {
            header,
            algorithm,
            encoding,
            prefix,
            secrets,
        } => {
            let signature = mac(*algorithm, first(secrets)?.as_bytes(), &[body]);
            let value = format!(
                "{}{}",
                prefix.as_deref().unwrap_or_default(),
                encode(*encoding, &signature)
            );
            vec![(header.clone(), value)]
        }
        Verify::HmacSha256 { header, secrets } => {
            vec![(header.clone(), hmac_sha256_hex(first(secrets)?, body))]
        }
        Verify::StandardWebhooks { secrets, .. } => {
            let key = standard_webhooks_key(first(secrets)?)
                .ok_or(SignError::NotAStandardWebhooksSecret)?;
            let timestamp = now
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
                .to_string();
            let signature =
                BASE64.encode(standard_webhooks_mac(&key, message_id, &timestamp, body));
            vec![
                (WEBHOOK_ID.to_owned(), message_id.to_owned()),
                (WEBHOOK_TIMESTAMP.to_owned(), timestamp),
                (WEBHOOK_SIGNATURE.to_owned(), format!("v1,{signature}")),
            ]
        }
        Verify::Token { header, values } => vec![(header.clone(), first(values)?.clone())],
    };
    Ok(headers)
}

/// The secret (or token value) a sender signs with: the first configured.
fn first(secrets: &[String]) -> Result<&String, SignError> {
    secrets.first().ok_or(SignError::NoSecret)
}

/// Standard Webhooks' HMAC-SHA256 of `id.timestamp.body`.
fn standard_webhooks_mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let signed = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
    mac(HmacAlgorithm::Sha256, key, &signed)
}

/// The HMAC key of a Standard Webhooks secret: the base64 after `whsec_`.
pub fn standard_webhooks_key(secret: &str) -> Option<Vec<u8>> {
    BASE64.decode(secret.strip_prefix("whsec_")?).ok()
}

/// The HMAC of the concatenated `parts` under `key`.
fn mac(algorithm: HmacAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
            .expect("HMAC accepts keys of any length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
    match algorithm {
        HmacAlgorithm::Sha256 => run::<Hmac<Sha256>>(key, parts),
        HmacAlgorithm::Sha512 => run::<Hmac<Sha512>>(key, parts),
    }
}

fn decode(encoding: SignatureEncoding, text: &str) -> Option<Vec<u8>> {
    match encoding {
        SignatureEncoding::Hex => hex::decode(text).ok(),
        SignatureEncoding::Base64 => BASE64.decode(text).ok(),
    }
}

fn encode(encoding: SignatureEncoding, bytes: &[u8]) -> String {
    match encoding {
        SignatureEncoding::Hex => hex::encode(bytes),
        SignatureEncoding::Base64 => BASE64.encode(bytes),
    }
}

/// Constant-time equality (lengths are not secret: every signature of a scheme has one).
fn equal(expected: &[u8], presented: &[u8]) -> bool {
    bool::from(expected.ct_eq(presented))
}

/// The lower-case hex HMAC-SHA256 of `body`, as a sender would put it in the header.
pub fn hmac_sha256_hex(secret: &str, body: &[u8]) -> String {
    hex::encode(mac(HmacAlgorithm::Sha256, secret.as_bytes(), &[body]))
}

fn header_value<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, VerifyError> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| VerifyError::MissingHeader(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"event":"validate"}"#;
    const FOX: &[u8] = b"The quick brown fox jumps over the lazy dog";

    fn hmac_scheme() -> Verify {
        Verify::HmacSha256 {
            header: "x-soda-signature".into(),
            secrets: vec!["key".into()],
        }
    }

    fn with_header(name: &'static str, value: &str) -> HeaderMap {
        with_headers(&[(name, value)])
    }

    fn with_headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        headers
    }

    fn check(scheme: &Verify, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        verify(scheme, headers, body, SystemTime::now())
    }

    #[test]
    fn hmac_matches_the_published_vectors() {
        // HMAC("key", "The quick brown fox jumps over the lazy dog"), as published for
        // SHA-256 and SHA-512 (e.g. on Wikipedia's HMAC page).
        assert_eq!(
            hmac_sha256_hex("key", FOX),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        assert_eq!(
            hex::encode(mac(HmacAlgorithm::Sha512, b"key", &[FOX])),
            "b42af09057bac1e2d41708e48a902e09b5ff7f12ab428a4fe86653c73dd248fb\
             82f948a549f7b791a5b41915ee4d1ec3935357e4e2317250d0372afa2ebeeb3a"
        );
    }

    #[test]
    fn a_correct_hmac_is_accepted_with_or_without_prefix() {
        let signature = hmac_sha256_hex("key", BODY);
        let scheme = hmac_scheme();
        assert_eq!(
            check(&scheme, &with_header("x-soda-signature", &signature), BODY),
            Ok(())
        );
        let prefixed = format!("sha256={signature}");
        assert_eq!(
            check(&scheme, &with_header("x-soda-signature", &prefixed), BODY),
            Ok(())
        );
    }

    #[test]
    fn wrong_truncated_garbled_and_missing_hmacs_are_rejected() {
        let scheme = hmac_scheme();
        let good = hmac_sha256_hex("key", BODY);
        let wrong_key = hmac_sha256_hex("other", BODY);
        for bad in [wrong_key.as_str(), &good[..32], "zz-not-hex", ""] {
            assert!(
                check(&scheme, &with_header("x-soda-signature", bad), BODY).is_err(),
                "{bad:?} accepted"
            );
        }
        assert_eq!(
            check(&scheme, &HeaderMap::new(), BODY),
            Err(VerifyError::MissingHeader("x-soda-signature".into()))
        );
        let tampered = br#"{"event":"validate "}"#;
        assert!(check(&scheme, &with_header("x-soda-signature", &good), tampered).is_err());
    }

    #[test]
    fn sha512_base64_with_a_required_prefix() {
        let scheme = Verify::Hmac {
            header: "x-signature".into(),
            algorithm: HmacAlgorithm::Sha512,
            encoding: SignatureEncoding::Base64,
            prefix: Some("sha512=".into()),
            secrets: vec!["key".into()],
        };
        let good = BASE64.encode(mac(HmacAlgorithm::Sha512, b"key", &[FOX]));
        let header = |value: &str| with_header("x-signature", value);
        assert_eq!(
            check(&scheme, &header(&format!("sha512={good}")), FOX),
            Ok(())
        );
        let sha256 = BASE64.encode(mac(HmacAlgorithm::Sha256, b"key", &[FOX]));
        for bad in [
            good.clone(),                                 // prefix missing
            format!("sha256={good}"),                     // wrong prefix
            format!("sha512={}", &good[..40]),            // truncated
            format!("sha512={sha256}"),                   // other algorithm
            format!("sha512={}", hex::encode([0u8; 64])), // hex, not base64
        ] {
            assert!(
                check(&scheme, &header(&bad), FOX).is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn any_of_several_secrets_is_accepted_during_a_rotation() {
        let scheme = Verify::HmacSha256 {
            header: "x-soda-signature".into(),
            secrets: vec!["new".into(), "old".into()],
        };
        for secret in ["new", "old"] {
            let headers = with_header("x-soda-signature", &hmac_sha256_hex(secret, BODY));
            assert_eq!(check(&scheme, &headers, BODY), Ok(()), "{secret}");
        }
        let retired = with_header("x-soda-signature", &hmac_sha256_hex("older", BODY));
        assert!(check(&scheme, &retired, BODY).is_err());
    }

    /// The example in the Standard Webhooks specification and its reference libraries.
    mod standard_webhooks_vector {
        pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        pub const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        pub const TIMESTAMP: &str = "1614265330";
        pub const BODY: &[u8] = br#"{"test": 2432232314}"#;
        pub const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    }

    #[test]
    fn standard_webhooks_accepts_the_spec_vector_and_refuses_stale_wrong_and_missing() {
        use standard_webhooks_vector::*;
        let scheme = Verify::StandardWebhooks {
            secrets: vec!["whsec_AAAAAAAAAAAAAAAAAAAAAAAA".into(), SECRET.into()],
            tolerance: Duration::from_secs(300),
        };
        let sent_at = UNIX_EPOCH + Duration::from_secs(TIMESTAMP.parse().unwrap());
        let headers = |signature: &str| {
            with_headers(&[
                (WEBHOOK_ID, ID),
                (WEBHOOK_TIMESTAMP, TIMESTAMP),
                (WEBHOOK_SIGNATURE, signature),
            ])
        };
        let at = |headers: &HeaderMap, now: SystemTime| verify(&scheme, headers, BODY, now);
        assert_eq!(at(&headers(SIGNATURE), sent_at), Ok(()));
        let several = format!("v1,Zm9v v2,abc {SIGNATURE}");
        assert_eq!(at(&headers(&several), sent_at), Ok(()), "one of several");
        let four_min = Duration::from_secs(240);
        assert_eq!(at(&headers(SIGNATURE), sent_at + four_min), Ok(()));
        assert_eq!(at(&headers(SIGNATURE), sent_at - four_min), Ok(()));
        let six_min = Duration::from_secs(360);
        let stale = Err(VerifyError::Stale(WEBHOOK_TIMESTAMP.into()));
        assert_eq!(
            at(&headers(SIGNATURE), sent_at + six_min),
            stale,
            "replayed later"
        );
        assert_eq!(
            at(&headers(SIGNATURE), sent_at - six_min),
            stale,
            "from the future"
        );
        for bad in [
            &SIGNATURE[..20],
            "v1,",
            "",
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ] {
            assert_eq!(
                at(&headers(bad), sent_at),
                Err(VerifyError::Mismatch(WEBHOOK_SIGNATURE.into())),
                "{bad:?}"
            );
        }
        assert!(
            verify(
                &scheme,
                &headers(SIGNATURE),
                br#"{"test": 2432232315}"#,
                sent_at
            )
            .is_err(),
            "another body"
        );
        for missing in [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE] {
            let mut partial = headers(SIGNATURE);
            partial.remove(missing);
            assert_eq!(
                at(&partial, sent_at),
                Err(VerifyError::MissingHeader(missing.into()))
            );
        }
        let other_id = with_headers(&[
            (WEBHOOK_ID, "msg_other"),
            (WEBHOOK_TIMESTAMP, TIMESTAMP),
            (WEBHOOK_SIGNATURE, SIGNATURE),
        ]);
        assert!(at(&other_id, sent_at).is_err(), "the id is signed");
    }

    #[test]
    fn a_token_must_match_one_value_exactly() {
        let scheme = Verify::Token {
            header: "authorization".into(),
            values: vec!["Bearer abc".into(), "Bearer next".into()],
        };
        for good in ["Bearer abc", "Bearer next"] {
            assert_eq!(
                check(&scheme, &with_header("authorization", good), BODY),
                Ok(())
            );
        }
        for bad in ["Bearer abcd", "Bearer ab", "bearer abc", ""] {
            assert!(check(&scheme, &with_header("authorization", bad), BODY).is_err());
        }
        assert!(check(&scheme, &HeaderMap::new(), BODY).is_err());
    }

    /// Every scheme and option, each with two secrets (or token values): the first signs.
    fn every_scheme() -> Vec<Verify> {
        let two = |first: &str, second: &str| vec![first.to_owned(), second.to_owned()];
        let mut schemes = vec![
            Verify::HmacSha256 {
                header: "X-Soda-Signature".into(),
                secrets: two("new", "old"),
            },
            Verify::Token {
                header: "authorization".into(),
                values: two("Bearer new", "Bearer old"),
            },
            Verify::StandardWebhooks {
                secrets: two(
                    standard_webhooks_vector::SECRET,
                    "whsec_AAAAAAAAAAAAAAAAAAAAAAAA",
                ),
                tolerance: Duration::from_secs(300),
            },
        ];
        for algorithm in [HmacAlgorithm::Sha256, HmacAlgorithm::Sha512] {
            for encoding in [SignatureEncoding::Hex, SignatureEncoding::Base64] {
                for prefix in [None, Some("sha256=".to_owned()), Some("v1=".to_owned())] {
                    schemes.push(Verify::Hmac {
                        header: "x-signature".into(),
                        algorithm,
                        encoding,
                        prefix,
                        secrets: two("new", "old"),
                    });
                }
            }
        }
        schemes
    }

    /// The scheme with only its first (`first: true`) or only its second secret.
    fn keeping_one_secret(scheme: &Verify, first: bool) -> Verify {
        let mut scheme = scheme.clone();
        let secrets = match &mut scheme {
            Verify::Hmac { secrets, .. }
            | Verify::HmacSha256 { secrets, .. }
            | Verify::StandardWebhooks { secrets, .. } => secrets,
            Verify::Token { values, .. } => values,
        };
        secrets.remove(usize::from(first));
        scheme
    }

    fn header_map(headers: &[(String, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let name: axum::http::HeaderName = name.parse().unwrap();
            map.insert(name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn what_sign_signs_verifies_under_every_scheme_and_option() {
        let now = SystemTime::now();
        for scheme in every_scheme() {
            let headers = sign(&scheme, FOX, now, "msg_1").unwrap();
            let map = header_map(&headers);
            assert_eq!(verify(&scheme, &map, FOX, now), Ok(()), "{scheme:?}");
            let first = keeping_one_secret(&scheme, true);
            assert_eq!(verify(&first, &map, FOX, now), Ok(()), "{scheme:?}");
            let second = keeping_one_secret(&scheme, false);
            assert!(
                verify(&second, &map, FOX, now).is_err(),
                "signed with the first secret, not the second: {scheme:?}"
            );
        }
    }

    #[test]
    fn a_one_byte_change_of_the_body_fails_verification() {
        let now = SystemTime::now();
        // A token is a static header: it does not depend on the body by design.
        let signing = every_scheme()
            .into_iter()
            .filter(|scheme| !matches!(scheme, Verify::Token { .. }));
        for scheme in signing {
            let map = header_map(&sign(&scheme, FOX, now, "msg_1").unwrap());
            for index in [0, FOX.len() / 2, FOX.len() - 1] {
                let mut changed = FOX.to_vec();
                changed[index] ^= 0x01;
                assert!(
                    verify(&scheme, &map, &changed, now).is_err(),
                    "byte {index} changed, still accepted: {scheme:?}"
                );
            }
            let mut longer = FOX.to_vec();
            longer.push(b' ');
            assert!(verify(&scheme, &map, &longer, now).is_err(), "{scheme:?}");
        }
    }

    #[test]
    fn sign_produces_the_published_vectors_and_the_configured_format() {
        use standard_webhooks_vector::*;
        let scheme = Verify::StandardWebhooks {
            secrets: vec![SECRET.into()],
            tolerance: Duration::from_secs(300),
        };
        let at = UNIX_EPOCH + Duration::from_secs(TIMESTAMP.parse().unwrap());
        let pairs = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            sign(&scheme, BODY, at, ID),
            Ok(pairs(&[
                (WEBHOOK_ID, ID),
                (WEBHOOK_TIMESTAMP, TIMESTAMP),
                (WEBHOOK_SIGNATURE, SIGNATURE)
            ]))
        );
        let sha512 = Verify::Hmac {
            header: "x-signature".into(),
            algorithm: HmacAlgorithm::Sha512,
            encoding: SignatureEncoding::Base64,
            prefix: Some("sha512=".into()),
            secrets: vec!["key".into()],
        };
        let expected = BASE64.encode(mac(HmacAlgorithm::Sha512, b"key", &[FOX]));
        assert_eq!(
            sign(&sha512, FOX, at, ID),
            Ok(pairs(&[("x-signature", &format!("sha512={expected}"))]))
        );
        let legacy = hmac_scheme();
        let hex = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        assert_eq!(
            sign(&legacy, FOX, at, ID),
            Ok(pairs(&[("x-soda-signature", hex)]))
        );
    }

    #[test]
    fn a_standard_webhooks_signature_goes_stale_after_the_tolerance() {
        let scheme = Verify::StandardWebhooks {
            secrets: vec![standard_webhooks_vector::SECRET.into()],
            tolerance: Duration::from_secs(300),
        };
        let now = SystemTime::now();
        let map = header_map(&sign(&scheme, BODY, now, "msg_2").unwrap());
        let later = now + Duration::from_secs(301);
        assert_eq!(
            verify(&scheme, &map, BODY, later),
            Err(VerifyError::Stale(WEBHOOK_TIMESTAMP.into()))
        );
    }

    #[test]
    fn a_scheme_without_a_usable_secret_cannot_sign() {
        let now = SystemTime::now();
        let empty = Verify::Token {
            header: "authorization".into(),
            values: Vec::new(),
        };
        assert_eq!(sign(&empty, BODY, now, "m"), Err(SignError::NoSecret));
        let not_whsec = Verify::StandardWebhooks {
            secrets: vec!["plain".into()],
            tolerance: Duration::from_secs(300),
        };
        assert_eq!(
            sign(&not_whsec, BODY, now, "m"),
            Err(SignError::NotAStandardWebhooksSecret)
        );
    }
}
