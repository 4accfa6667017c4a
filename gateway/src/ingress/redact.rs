//! What the audit trail keeps of a request's headers: everything but credentials.
//!
//! A header is redacted when it carries the tenant's signature or token, or when its name says
//! it holds a credential (`authorization`, `cookie`, anything with `token`, `secret`,
//! `signature`, `password`, `auth` or `key` in it). Values that are not valid UTF-8 are kept as
//! a note, not as bytes.

use axum::http::HeaderMap;

use super::verify::Verify;

/// Stands in for a redacted value.
pub const REDACTED: &str = "[redacted]";

/// Name fragments that mark a header as a credential.
const CREDENTIAL_WORDS: &[&str] = &[
    "auth",
    "cookie",
    "token",
    "secret",
    "signature",
    "password",
    "key",
];

/// The request's headers in arrival order, as `(name, value)`, credentials redacted.
pub fn redacted_headers(headers: &HeaderMap, verify: &Verify) -> Vec<(String, String)> {
    let verify_header = verify_header(verify);
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str();
            let value = if is_credential(name, verify_header) {
                REDACTED.to_owned()
            } else {
                value
                    .to_str()
                    .map_or_else(|_| "[not UTF-8]".to_owned(), str::to_owned)
            };
            (name.to_owned(), value)
        })
        .collect()
}

fn is_credential(name: &str, verify_header: Option<&str>) -> bool {
    verify_header.is_some_and(|header| header.eq_ignore_ascii_case(name))
        || CREDENTIAL_WORDS.iter().any(|word| name.contains(word))
}

/// The header the tenant's scheme reads its credential from (names are lowercase on the wire).
fn verify_header(verify: &Verify) -> Option<&str> {
    match verify {
        Verify::Hmac { header, .. } | Verify::HmacSha256 { header, .. } => Some(header),
        Verify::Token { header, .. } => Some(header),
        Verify::StandardWebhooks { .. } => Some("webhook-signature"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.parse().unwrap(), value.parse().unwrap()))
            .collect()
    }

    #[test]
    fn credentials_are_redacted_and_the_rest_kept() {
        let verify = Verify::Token {
            header: "x-soda-check".into(),
            values: vec!["hunter2".into()],
        };
        let kept = redacted_headers(
            &headers(&[
                ("content-type", "application/json"),
                ("x-soda-check", "hunter2"),
                ("authorization", "Bearer abc"),
                ("x-api-key", "k"),
                ("webhook-signature", "v1,xyz"),
                ("user-agent", "Soda"),
            ]),
            &verify,
        );
        let value = |name: &str| {
            kept.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("content-type"), Some("application/json"));
        assert_eq!(value("user-agent"), Some("Soda"));
        for secret in [
            "x-soda-check",
            "authorization",
            "x-api-key",
            "webhook-signature",
        ] {
            assert_eq!(value(secret), Some(REDACTED), "{secret}");
        }
        assert_eq!(kept.len(), 6);
    }
}
