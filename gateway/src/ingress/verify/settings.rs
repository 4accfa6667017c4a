//! The `verify` section of a tenant: which scheme its requests are checked with, and the
//! checks of the settings themselves, made when the configuration is loaded.

use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use crate::config::masked_list;

/// How a tenant's requests prove they come from its Soda organisation. Every scheme takes
/// several secrets (or token values) at once, so they can be rotated without downtime: a request
/// matching any of them is accepted.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "scheme", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Verify {
    /// An HMAC of the raw body in `header`, optionally after a fixed `prefix` (such as
    /// `sha256=`), which is then required.
    Hmac {
        header: String,
        #[serde(default)]
        algorithm: HmacAlgorithm,
        #[serde(default)]
        encoding: SignatureEncoding,
        #[serde(default)]
        prefix: Option<String>,
        #[serde(
            alias = "secret",
            deserialize_with = "one_or_many",
            serialize_with = "masked_list"
        )]
        secrets: Vec<String>,
    },
    /// Shorthand for `hmac` with sha256 and hex, the `sha256=` prefix allowed but not required.
    HmacSha256 {
        header: String,
        #[serde(
            alias = "secret",
            deserialize_with = "one_or_many",
            serialize_with = "masked_list"
        )]
        secrets: Vec<String>,
    },
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp` and `webhook-signature` headers,
    /// `whsec_` secrets, and timestamps accepted only within `tolerance` of now (replays of an
    /// old request are refused).
    StandardWebhooks {
        #[serde(
            alias = "secret",
            deserialize_with = "one_or_many",
            serialize_with = "masked_list"
        )]
        secrets: Vec<String>,
        #[serde(default = "default_tolerance", with = "humantime_serde")]
        tolerance: Duration,
    },
    /// A static header value, such as `Authorization: Bearer ...` set in Soda's webhook form.
    Token {
        header: String,
        #[serde(
            alias = "value",
            deserialize_with = "one_or_many",
            serialize_with = "masked_list"
        )]
        values: Vec<String>,
    },
}

/// The hash an `hmac` signature uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    #[default]
    Sha256,
    Sha512,
}

/// How an `hmac` signature is written in its header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureEncoding {
    #[default]
    Hex,
    Base64,
}

fn default_tolerance() -> Duration {
    Duration::from_secs(300)
}

impl Verify {
    /// Checks the settings; errors name the setting under `key` (the tenant's `verify`).
    pub fn validate(&self, key: &str) -> anyhow::Result<()> {
        let (header, secrets_key, secrets) = match self {
            Verify::Hmac {
                header, secrets, ..
            }
            | Verify::HmacSha256 { header, secrets } => (Some(header), "secrets", secrets),
            Verify::StandardWebhooks { secrets, .. } => (None, "secrets", secrets),
            Verify::Token { header, values } => (Some(header), "values", values),
        };
        if let Some(header) = header {
            if axum::http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                bail!("`{key}.header` is not a valid HTTP header name: {header:?}");
            }
        }
        if secrets.is_empty() || secrets.iter().any(String::is_empty) {
            bail!("`{key}.{secrets_key}` must hold at least one value, and none empty");
        }
        if let Verify::StandardWebhooks { secrets, tolerance } = self {
            for (index, secret) in secrets.iter().enumerate() {
                if super::standard_webhooks_key(secret).is_none() {
                    bail!(
                        "`{key}.secrets[{index}]` must be `whsec_` followed by base64 (as Standard \
                         Webhooks senders show it)"
                    );
                }
            }
            if tolerance.is_zero() {
                bail!("`{key}.tolerance` must be greater than 0");
            }
        }
        Ok(())
    }
}

/// A string or a list of strings, as a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(de)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}
