//! The `[outbound]` section: where plugins' HTTP actions may go, checked when the
//! configuration is loaded.

use std::collections::HashMap;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use super::is_host_pattern;

/// Where plugins' HTTP actions may go.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Outbound {
    /// Allow loopback, private, link-local and other non-public addresses. Off by default; for
    /// tests and for gateways whose downstream services are on a private network.
    pub allow_private: bool,
    /// Hosts each plugin may reach, by plugin name: exact names, `*.example.com` for any
    /// subdomain, or `*`. A plugin left out may reach any public host.
    pub allowed_hosts: HashMap<String, Vec<String>>,
    /// Let secrets go over plain HTTP and to non-default ports. Off by default: a request that
    /// carries a secret must be HTTPS to port 443. For tests and local trials.
    pub secrets_over_plain_http: bool,
    /// An HTTP(S) proxy for every outbound request (`http://proxy.internal:3128`). Proxy
    /// environment variables (`HTTP_PROXY`, ...) are never consulted: a proxy is used only when
    /// set here, and the gateway still resolves and checks each destination itself.
    pub proxy: Option<String>,
}

impl Outbound {
    /// Checks the host patterns and the proxy URL; errors name the setting.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (plugin, hosts) in &self.allowed_hosts {
            for (index, host) in hosts.iter().enumerate() {
                if !is_host_pattern(host) {
                    bail!(
                        "`outbound.allowed_hosts.{plugin}[{index}]` must be a host name, \
                     `*.domain` or `*` (no scheme, port or path), found {host:?}"
                    );
                }
            }
        }
        if let Some(proxy) = &self.proxy {
            let parsed = url::Url::parse(proxy)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host());
            if parsed.is_none() {
                bail!("`outbound.proxy` must be an http:// or https:// URL with a host, found {proxy:?}");
            }
        }
        Ok(())
    }
}
