//! Outbound policy: where plugins' HTTP actions may go.
//!
//! Two checks, both before any byte is sent:
//! - the URL's host must be on the plugin's allow-list (`outbound.allowed_hosts.<plugin>`), when
//!   it has one;
//! - every address the host resolves to must be public: loopback, private, link-local (cloud
//!   metadata included), CGNAT and other special-purpose ranges are refused unless
//!   `outbound.allow_private` is set. The check runs on the resolved addresses (in the HTTP
//!   client's resolver), so a public name that resolves to a private address is refused too,
//!   and the connection goes only to addresses that passed.
//!
//! A refusal is final: the action fails at once with the reason, and is not retried. The
//! section's settings and their checks are in [`settings`].

mod settings;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

pub use settings::Outbound;

/// Why a request was not sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("refused by the outbound policy: {0}")]
pub struct Refused(pub String);

/// The compiled `[outbound]` settings.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    allow_private: bool,
    allowed_hosts: HashMap<String, Vec<String>>,
    secrets_over_plain_http: bool,
    proxy: Option<String>,
}

impl OutboundPolicy {
    pub fn new(config: &Outbound) -> Self {
        Self {
            allow_private: config.allow_private,
            allowed_hosts: config
                .allowed_hosts
                .iter()
                .map(|(plugin, hosts)| {
                    let hosts = hosts.iter().map(|host| host.to_ascii_lowercase()).collect();
                    (plugin.clone(), hosts)
                })
                .collect(),
            secrets_over_plain_http: config.secrets_over_plain_http,
            proxy: config.proxy.clone(),
        }
    }

    /// The proxy every outbound request goes through, if the operator configured one.
    pub fn proxy(&self) -> Option<&str> {
        self.proxy.as_deref()
    }

    /// Checks what can be checked from the URL alone: scheme, allow-list, and literal IPs.
    pub fn check_url(&self, plugin: &str, url: &str) -> Result<(), Refused> {
        let url = Url::parse(url).map_err(|e| Refused(format!("invalid URL {url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused(format!("scheme `{}` is not http(s)", url.scheme())));
        }
        let host = match url.host() {
            Some(url::Host::Domain(name)) => name.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => return self.check_ip_host(plugin, IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => return self.check_ip_host(plugin, IpAddr::V6(ip)),
            None => return Err(Refused("the URL has no host".into())),
        };
        self.check_allowed(plugin, &host)
    }

    /// Whether `plugin` may send secrets to `url`: only when it has an allow-list of its own
    /// (the host is checked against it separately), and, unless `secrets_over_plain_http`, only over HTTPS to the default port.
    pub fn may_carry_secrets(&self, plugin: &str, url: &str) -> Result<(), Refused> {
        if !self.allowed_hosts.contains_key(plugin) {
            return Err(Refused(format!(
                "plugin `{plugin}` has no allow-list (outbound.allowed_hosts.{plugin}), so no \
                 secret is sent for it"
            )));
        }
        if self.secrets_over_plain_http {
            return Ok(());
        }
        let url = Url::parse(url).map_err(|e| Refused(format!("invalid URL: {e}")))?;
        if url.scheme() != "https" || url.port().is_some() {
            return Err(Refused(format!(
                "a secret is sent only over HTTPS to the default port, not to {}://…:{} \
                 (outbound.secrets_over_plain_http allows it)",
                url.scheme(),
                url.port_or_known_default().unwrap_or(0)
            )));
        }
        Ok(())
    }

    fn check_ip_host(&self, plugin: &str, ip: IpAddr) -> Result<(), Refused> {
        self.check_allowed(plugin, &ip.to_string())?;
        self.check_address(&ip.to_string(), ip)
    }

    /// Refuses a host missing from the plugin's allow-list, if it has one.
    fn check_allowed(&self, plugin: &str, host: &str) -> Result<(), Refused> {
        let Some(patterns) = self.allowed_hosts.get(plugin) else {
            return Ok(());
        };
        if patterns.iter().any(|pattern| host_matches(pattern, host)) {
            return Ok(());
        }
        let hint = if host_matches("*.soda.io", host) {
            format!("; incident-link callbacks go to Soda Cloud: add {SODA_HOSTS} to it")
        } else {
            String::new()
        };
        Err(Refused(format!(
            "host `{host}` is not on plugin `{plugin}`'s allow-list \
             (outbound.allowed_hosts.{plugin}){hint}"
        )))
    }

    fn check_address(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        if self.allow_private || is_public(ip) {
            Ok(())
        } else {
            Err(Refused(format!(
                "`{host}` is {ip}, a non-public address (loopback, private, link-local, CGNAT \
                 or reserved)"
            )))
        }
    }

    /// For a request sent through a proxy, which resolves the destination itself so that the
    /// client's resolver never sees it: resolves `url`'s host here and refuses it unless every
    /// address it has is allowed (a literal IP was checked by [`Self::check_url`]).
    pub async fn check_proxied_destination(&self, url: &str) -> Result<(), Refused> {
        if self.allow_private {
            return Ok(());
        }
        let url = Url::parse(url).map_err(|e| Refused(format!("invalid URL {url:?}: {e}")))?;
        let Some(url::Host::Domain(host)) = url.host() else {
            return Ok(());
        };
        let port = url.port_or_known_default().unwrap_or(0);
        let resolved = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| Refused(format!("cannot resolve `{host}`: {e}")))?;
        for address in resolved {
            self.check_address(host, address.ip())?;
        }
        Ok(())
    }

    /// A DNS resolver for the HTTP client that drops non-public addresses, and fails with
    /// [`Refused`] when none is left.
    pub fn resolver(&self) -> Arc<PublicOnlyResolver> {
        Arc::new(PublicOnlyResolver {
            policy: self.clone(),
        })
    }
}

/// Whether `text` can be an allow-list entry: a host name (or IP address), `*.domain` or `*`;
/// no scheme, port or path.
pub fn is_host_pattern(text: &str) -> bool {
    let host = text.strip_prefix("*.").unwrap_or(text);
    let plain = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    text == "*" || plain
}

/// The entries of `declared` (hosts or patterns) that `allowed` leaves wholly unreachable. A
/// declared pattern counts as reachable when the allow-list lets through some host it matches
/// (`*.atlassian.net` declared, `acme.atlassian.net` allowed): operators narrow it to theirs.
pub fn uncovered_hosts<'a>(allowed: &[String], declared: &'a [String]) -> Vec<&'a str> {
    declared
        .iter()
        .map(String::as_str)
        .filter(|declared| {
            let declared = declared.to_ascii_lowercase();
            !allowed.iter().any(|pattern| {
                let pattern = pattern.to_ascii_lowercase();
                host_matches(&pattern, &declared) || host_matches(&declared, &pattern)
            })
        })
        .collect()
}

/// `*` matches any host; `*.example.com` any subdomain of example.com (not example.com
/// itself), including patterns such as `*.eu.example.com`; anything else matches exactly.
fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        _ if pattern == "*" => true,
        Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
        None => pattern == host,
    }
}

/// Resolves with the system resolver, keeping only addresses the policy allows.
pub struct PublicOnlyResolver {
    policy: OutboundPolicy,
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.check_address(&host, addr.ip()) {
                    Ok(()) => true,
                    Err(reason) => {
                        refused.get_or_insert(reason);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(reason)) => Err(Box::new(reason) as _),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

/// Soda Cloud's hosts, EU and US, where incident-link callbacks go.
const SODA_HOSTS: &str = "`cloud.soda.io` (EU) and `cloud.us.soda.io` (US)";

/// The [`Refused`] somewhere in an error's chain, if any.
pub fn refusal_in<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e Refused> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(refused) = error.downcast_ref::<Refused>() {
            return Some(refused);
        }
        current = error.source();
    }
    None
}

/// Whether `ip` is a globally reachable unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: cloud metadata lives here
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0/24
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18/15
        || a >= 240) // reserved 240/4
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4 address that is the real target.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = segments[6].to_be_bytes();
        let [c, d] = segments[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    if segments[0] == 0x2002 {
        let [a, b] = segments[1].to_be_bytes();
        let [c, d] = segments[2].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || segments[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated) ::/96
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow_private: bool, allowed: &[(&str, &[&str])]) -> OutboundPolicy {
        OutboundPolicy::new(&Outbound {
            allow_private,
            allowed_hosts: allowed
                .iter()
                .map(|(plugin, hosts)| {
                    let hosts = hosts.iter().map(|h| h.to_string()).collect();
                    (plugin.to_string(), hosts)
                })
                .collect(),
            secrets_over_plain_http: false,
            proxy: None,
        })
    }

    #[test]
    fn non_public_addresses_are_recognised() {
        for private in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:0a00:0001::1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = private.parse().unwrap();
            assert!(!is_public(ip), "{private} counted as public");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(is_public(ip), "{public} counted as non-public");
        }
    }

    #[test]
    fn literal_private_addresses_are_refused_before_any_lookup() {
        let strict = policy(false, &[]);
        for url in [
            "http://127.0.0.1:8080/x",
            "http://10.0.0.1/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/x",
            "http://[::ffff:7f00:1]/x",
        ] {
            let refused = strict.check_url("slack", url).unwrap_err();
            assert!(refused.0.contains("non-public"), "{url}: {refused}");
        }
        assert_eq!(
            strict.check_url("slack", "https://hooks.slack.com/x"),
            Ok(())
        );
        assert_eq!(
            policy(true, &[]).check_url("slack", "http://127.0.0.1/x"),
            Ok(())
        );
        for url in ["ftp://example.com/x", "file:///etc/passwd", "not a url"] {
            assert!(strict.check_url("slack", url).is_err(), "{url}");
        }
    }

    #[test]
    fn secrets_go_only_over_https_to_the_default_port_unless_allowed() {
        let strict = policy(false, &[("jira", &["*"])]);
        assert!(strict.may_carry_secrets("jira", "https://a.test/x").is_ok());
        assert!(strict
            .may_carry_secrets("jira", "https://a.test:443/x")
            .is_ok());
        for url in ["http://a.test/x", "https://a.test:8443/x"] {
            let refused = strict.may_carry_secrets("jira", url).unwrap_err();
            assert!(refused.0.contains("only over HTTPS"), "{refused}");
        }
        assert!(
            strict
                .may_carry_secrets("slack", "https://a.test/")
                .is_err(),
            "no allow-list"
        );
        let relaxed = OutboundPolicy {
            secrets_over_plain_http: true,
            ..strict
        };
        assert!(relaxed
            .may_carry_secrets("jira", "http://127.0.0.1:9000/x")
            .is_ok());
    }

    #[test]
    fn declared_hosts_are_unreachable_only_when_nothing_they_match_is_allowed() {
        let allowed = |hosts: &[&str]| hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>();
        let declared = allowed(&["hooks.slack.com", "*.atlassian.net", "*"]);
        let narrowed = allowed(&["acme.atlassian.net", "Hooks.Slack.com"]);
        assert_eq!(uncovered_hosts(&narrowed, &declared), Vec::<&str>::new());
        let elsewhere = allowed(&["*.example.com"]);
        assert_eq!(
            uncovered_hosts(&elsewhere, &declared),
            vec!["hooks.slack.com", "*.atlassian.net"]
        );
        assert_eq!(
            uncovered_hosts(&allowed(&["*"]), &declared),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn allow_lists_are_per_plugin_with_wildcards() {
        let policy = policy(false, &[("jira", &["*.atlassian.net", "Jira.Example.com"])]);
        for ok in [
            "https://acme.atlassian.net/rest",
            "https://jira.example.com/x",
        ] {
            assert_eq!(policy.check_url("jira", ok), Ok(()), "{ok}");
        }
        for refused in [
            "https://atlassian.net/x",
            "https://evil.com/x",
            "https://acme.atlassian.net.evil.com/x",
            "https://evilatlassian.net/x",
        ] {
            let reason = policy.check_url("jira", refused).unwrap_err();
            assert!(reason.0.contains("allow-list"), "{refused}: {reason}");
        }
        assert_eq!(
            policy.check_url("slack", "https://evil.com/x"),
            Ok(()),
            "a plugin without a list may reach any public host"
        );
    }

    #[test]
    fn a_refused_soda_callback_names_both_soda_hosts() {
        let policy = policy(false, &[("jira", &["*.atlassian.net"])]);
        let callback = "https://cloud.us.soda.io/integrations/webhook/x/incident-link";
        let reason = policy.check_url("jira", callback).unwrap_err().0;
        assert!(
            reason.contains("cloud.soda.io") && reason.contains("cloud.us.soda.io"),
            "{reason}"
        );
        let other = policy
            .check_url("jira", "https://evil.com/x")
            .unwrap_err()
            .0;
        assert!(!other.contains("Soda"), "{other}");
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_only_to_private_addresses() {
        let resolver = policy(false, &[]).resolver();
        let error = resolver
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("localhost resolves to loopback only");
        let refused = refusal_in(error.as_ref()).expect("a Refused");
        assert!(refused.0.contains("localhost"), "{refused}");
        let allowed = policy(true, &[]).resolver();
        let addrs: Vec<_> = allowed
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap_or_else(|_| panic!("allowed"))
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
