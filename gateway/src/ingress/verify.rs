//! Request verification: does this request really come from the tenant's Soda organisation?
//!
//! Pure functions over the configured scheme, the headers and the raw body. Every comparison
//! of secret material is constant-time.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Verify;

/// Why a request failed verification (never revealing what would have been valid).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VerifyError {
    #[error("missing header `{0}`")]
    MissingHeader(String),
    #[error("header `{0}` does not match")]
    Mismatch(String),
}

/// Checks `body` and `headers` against the tenant's scheme.
pub fn verify(scheme: &Verify, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
    match scheme {
        Verify::HmacSha256 { header, secret } => {
            let presented = header_value(headers, header)?;
            let hex_signature = presented.strip_prefix("sha256=").unwrap_or(presented);
            let signature = hex::decode(hex_signature.trim())
                .map_err(|_| VerifyError::Mismatch(header.clone()))?;
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                .expect("HMAC accepts keys of any length");
            mac.update(body);
            mac.verify_slice(&signature)
                .map_err(|_| VerifyError::Mismatch(header.clone()))
        }
        Verify::Token { header, value } => {
            let presented = header_value(headers, header)?;
            // Hashing first makes the comparison independent of the lengths, too.
            let equal =
                Sha256::digest(presented.as_bytes()).ct_eq(&Sha256::digest(value.as_bytes()));
            if bool::from(equal) {
                Ok(())
            } else {
                Err(VerifyError::Mismatch(header.clone()))
            }
        }
    }
}

/// The lower-case hex HMAC-SHA256 of `body`, as a sender would put it in the header.
pub fn hmac_sha256_hex(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
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

    fn hmac_scheme() -> Verify {
        Verify::HmacSha256 {
            header: "x-soda-signature".into(),
            secret: "key".into(),
        }
    }

    fn with_header(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().unwrap());
        headers
    }

    #[test]
    fn hmac_matches_the_published_rfc_4231_style_vector() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a widely
        // published vector.
        assert_eq!(
            hmac_sha256_hex("key", b"The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn a_correct_hmac_is_accepted_with_or_without_prefix() {
        let signature = hmac_sha256_hex("key", BODY);
        let scheme = hmac_scheme();
        assert_eq!(
            verify(&scheme, &with_header("x-soda-signature", &signature), BODY),
            Ok(())
        );
        let prefixed = format!("sha256={signature}");
        assert_eq!(
            verify(&scheme, &with_header("x-soda-signature", &prefixed), BODY),
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
                verify(&scheme, &with_header("x-soda-signature", bad), BODY).is_err(),
                "{bad:?} accepted"
            );
        }
        assert_eq!(
            verify(&scheme, &HeaderMap::new(), BODY),
            Err(VerifyError::MissingHeader("x-soda-signature".into()))
        );
        let tampered = br#"{"event":"validate "}"#;
        assert!(verify(&scheme, &with_header("x-soda-signature", &good), tampered).is_err());
    }

    #[test]
    fn a_token_must_match_exactly() {
        let scheme = Verify::Token {
            header: "authorization".into(),
            value: "Bearer abc".into(),
        };
        assert_eq!(
            verify(&scheme, &with_header("authorization", "Bearer abc"), BODY),
            Ok(())
        );
        for bad in ["Bearer abcd", "Bearer ab", "bearer abc", ""] {
            assert!(verify(&scheme, &with_header("authorization", bad), BODY).is_err());
        }
        assert!(verify(&scheme, &HeaderMap::new(), BODY).is_err());
    }
}
