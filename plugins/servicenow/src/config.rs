//! The tenant's configuration for the ServiceNow plugin.

use serde::Deserialize;
use soda_gateway_plugin_sdk::Error;

/// The `close_code` a resolved incident gets unless the config names another.
pub const DEFAULT_CLOSE_CODE: &str = "Solved (Permanently)";

/// The plugin's configuration for a tenant (see `README.md`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The instance's base URL, e.g. `https://acme.service-now.com` (required).
    pub instance_url: String,
    /// The `authorization` header value, e.g. `Basic {{secret:snow_auth}}` (required).
    pub authorization: String,
    /// The group new incidents are assigned to (sys_id or name).
    #[serde(default)]
    pub assignment_group: Option<String>,
    /// The caller of new incidents (sys_id or user name).
    #[serde(default)]
    pub caller_id: Option<String>,
    /// The `close_code` of resolved incidents.
    #[serde(default = "default_close_code")]
    pub close_code: String,
}

fn default_close_code() -> String {
    DEFAULT_CLOSE_CODE.to_string()
}

impl Config {
    /// Parses and checks the tenant's config JSON; errors name the offending key. A trailing `/`
    /// of `instance_url` is dropped.
    pub fn parse(json: &str) -> Result<Self, Error> {
        let invalid =
            |reason: String| Error::new(format!("invalid servicenow plugin config: {reason}"));
        let mut config: Config = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
        for (key, value) in [
            ("instance_url", &config.instance_url),
            ("authorization", &config.authorization),
            ("close_code", &config.close_code),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(format!("`{key}` must not be empty")));
            }
        }
        config.instance_url = config.instance_url.trim_end_matches('/').to_string();
        Ok(config)
    }
}
