//! The tenant's configuration for the Teams plugin.

use serde::Deserialize;
use soda_gateway_plugin_sdk::Error;

/// The plugin's configuration for a tenant (see `README.md`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The Workflows (or incoming webhook) URL to POST to (required).
    pub webhook_url: String,
    /// Whether results whose outcome is `warn` are posted too, not only `fail` ones.
    #[serde(default = "yes")]
    pub include_warnings: bool,
}

fn yes() -> bool {
    true
}

impl Config {
    /// Parses and checks the tenant's config JSON; errors name the offending key.
    pub fn parse(json: &str) -> Result<Self, Error> {
        let config: Config = serde_json::from_str(json)
            .map_err(|e| Error::new(format!("invalid teams plugin config: {e}")))?;
        if config.webhook_url.trim().is_empty() {
            return Err(Error::new(
                "invalid teams plugin config: `webhook_url` must not be empty",
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn defaults_and_errors() {
        let config = Config::parse(r#"{"webhook_url": "https://x"}"#).unwrap();
        assert!(config.include_warnings);
        let error = Config::parse(r#"{"webhook_url": ""}"#).unwrap_err();
        assert!(
            error.message().contains("`webhook_url` must not be empty"),
            "{error}"
        );
        let error = Config::parse("{}").unwrap_err();
        assert!(
            error.message().contains("missing field `webhook_url`"),
            "{error}"
        );
    }
}
