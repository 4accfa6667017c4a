//! `soda-gateway send` and `soda-gateway sign`: set up and smoke-test a tenant without Soda.
//!
//! `send` builds a valid event of each type with random values (see [`super::sample_events`]),
//! signs it as the tenant's `verify` scheme says and posts it to the gateway. `sign` prints the
//! headers a sender sets for a given body, for `curl` and friends.

use std::io::Read as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context as _};
use fastrand::Rng;

use super::sample_events::{build, EventType};
use crate::config::{Config, Tenant};
use crate::ingress::verify;

/// How long `send` waits for one answer (Soda itself gives up after 10 s).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// What `soda-gateway send` was asked to do.
pub struct SendOptions<'a> {
    /// The gateway's configuration file (for the tenant's scheme and the default URL).
    pub config: &'a Path,
    /// The tenant's id, as in `/hooks/{tenant}`.
    pub tenant: &'a str,
    /// Event type names, or `all`; empty means all.
    pub types: &'a [String],
    /// The gateway's base URL; by default built from the config's `listen` and `tls`.
    pub url: Option<&'a str>,
    /// Events per type.
    pub count: u32,
}

/// Posts `count` random, signed events of each selected type to the tenant's endpoint and
/// prints one line per event: its type, the HTTP status and the answer. Fails when the gateway
/// cannot be reached or any answer is not 2xx.
pub async fn send(options: SendOptions<'_>) -> anyhow::Result<()> {
    let config = Config::load(options.config)?;
    let tenant = find_tenant(&config, options.config, options.tenant)?;
    let types = EventType::select(options.types)?;
    let base = match options.url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => default_url(&config)?,
    };
    let url = format!("{base}/hooks/{}", tenant.id);
    let client = client(&config)?;
    let mut rng = Rng::new();
    let (mut sent, mut refused) = (0, 0);
    for kind in types {
        for _ in 0..options.count {
            let body = serde_json::to_vec(&build(kind, &mut rng))?;
            let id = message_id(&mut rng);
            let (status, answer) = post(&client, &url, tenant, body, &id).await?;
            println!("{}: {status} {}", kind.name(), one_line(&answer));
            sent += 1;
            if !status.is_success() {
                refused += 1;
            }
        }
    }
    if refused > 0 {
        bail!("{refused} of {sent} event(s) were not accepted by {url}");
    }
    Ok(())
}

/// Prints one `Header-Name: value` line per header a sender of `body` (the file, or stdin when
/// `None`) sets for the tenant, signed now. Standard Webhooks headers get a fresh message id and
/// are only valid within the scheme's `tolerance`.
pub fn sign(config_path: &Path, tenant: &str, body: Option<&Path>) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let tenant = find_tenant(&config, config_path, tenant)?;
    let body = read_body(body)?;
    let id = message_id(&mut Rng::new());
    let headers = verify::sign(&tenant.verify, &body, SystemTime::now(), &id)
        .with_context(|| format!("cannot sign for tenant `{}`", tenant.id))?;
    for (name, value) in headers {
        println!("{name}: {value}");
    }
    Ok(())
}

/// The tenant `id` of `config`; the error names it and the tenants there are.
fn find_tenant<'a>(config: &'a Config, path: &Path, id: &str) -> anyhow::Result<&'a Tenant> {
    if let Some(tenant) = config.tenants.iter().find(|tenant| tenant.id == id) {
        return Ok(tenant);
    }
    let known: Vec<&str> = config.tenants.iter().map(|t| t.id.as_str()).collect();
    let known = if known.is_empty() {
        "it has none".to_owned()
    } else {
        format!("its tenants: {}", known.join(", "))
    };
    bail!("no tenant `{id}` in {} ({known})", path.display())
}

/// The gateway's own address from `listen`, `https` when `tls` is set; an unspecified address
/// (`0.0.0.0`, `::`) is reached on loopback.
pub fn default_url(config: &Config) -> anyhow::Result<String> {
    let mut addr = config.listen;
    if addr.port() == 0 {
        bail!(
            "the config listens on port 0 (a port picked at start): pass --url with the \
             gateway's address"
        );
    }
    if addr.ip().is_unspecified() {
        match addr.ip() {
            std::net::IpAddr::V4(_) => addr.set_ip(Ipv4Addr::LOCALHOST.into()),
            std::net::IpAddr::V6(_) => addr.set_ip(Ipv6Addr::LOCALHOST.into()),
        }
    }
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    Ok(format!("{scheme}://{addr}"))
}

/// An HTTP client that does not follow redirects and, with `tls` configured, trusts the
/// gateway's own certificate (a self-signed one included).
fn client(config: &Config) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ANSWER_TIMEOUT)
        .user_agent(concat!("soda-gateway-send/", env!("CARGO_PKG_VERSION")));
    if let Some(tls) = &config.tls {
        let path = &tls.cert_file;
        let pem = std::fs::read(path)
            .with_context(|| format!("`tls.cert_file`: cannot read {}", path.display()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).with_context(|| {
            format!("`tls.cert_file`: no PEM certificate in {}", path.display())
        })?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder.build()?)
}

/// Signs and posts one body; the answer's status and text.
async fn post(
    client: &reqwest::Client,
    url: &str,
    tenant: &Tenant,
    body: Vec<u8>,
    message_id: &str,
) -> anyhow::Result<(reqwest::StatusCode, String)> {
    let headers = verify::sign(&tenant.verify, &body, SystemTime::now(), message_id)
        .with_context(|| format!("cannot sign for tenant `{}`", tenant.id))?;
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach the gateway at {url}"))?;
    let status = response.status();
    let answer = response
        .text()
        .await
        .with_context(|| format!("cannot read the answer from {url}"))?;
    Ok((status, answer))
}

fn read_body(path: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    match path {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read the body {}", path.display()))
        }
        None => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .context("cannot read the body from stdin")?;
            Ok(body)
        }
    }
}

/// A Standard Webhooks message id, as Soda-like senders make them (`msg_` and 24 characters).
fn message_id(rng: &mut Rng) -> String {
    let suffix: String = std::iter::repeat_with(|| rng.alphanumeric())
        .take(24)
        .collect();
    format!("msg_{suffix}")
}

/// `text` on one line, for the per-event report.
fn one_line(text: &str) -> String {
    text.trim().replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_look_like_standard_webhooks_ids_and_differ() {
        let mut rng = Rng::new();
        let (a, b) = (message_id(&mut rng), message_id(&mut rng));
        assert!(a.starts_with("msg_") && a.len() == 28, "{a}");
        assert_ne!(a, b);
    }

    fn config(toml: &str) -> Config {
        let tenants = "[[tenants]]\nid = \"acme\"\nverify = { scheme = \"token\", header = \"authorization\", value = \"t\" }\n";
        Config::from_toml(&format!("{toml}\n{tenants}"), Path::new("/etc/gw")).unwrap()
    }

    #[test]
    fn the_default_url_is_the_listen_address_on_loopback_when_unspecified() {
        let url = |toml: &str| default_url(&config(toml)).map_err(|e| e.to_string());
        assert_eq!(url(""), Ok("http://127.0.0.1:8080".into()));
        assert_eq!(
            url("listen = \"0.0.0.0:9000\""),
            Ok("http://127.0.0.1:9000".into())
        );
        assert_eq!(
            url("listen = \"[::]:9000\""),
            Ok("http://[::1]:9000".into())
        );
        assert_eq!(
            url("listen = \"10.1.2.3:443\""),
            Ok("http://10.1.2.3:443".into())
        );
        assert_eq!(
            url("listen = \"0.0.0.0:8443\"\ntls = { cert_file = \"c.pem\", key_file = \"k.pem\" }"),
            Ok("https://127.0.0.1:8443".into())
        );
        let error = url("listen = \"127.0.0.1:0\"").unwrap_err();
        assert!(
            error.contains("port 0") && error.contains("--url"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_tenant_is_named_with_the_known_ones() {
        let config = config("");
        let path = Path::new("/etc/gw/gateway.toml");
        assert_eq!(find_tenant(&config, path, "acme").unwrap().id, "acme");
        let error = find_tenant(&config, path, "globex")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "no tenant `globex` in /etc/gw/gateway.toml (its tenants: acme)"
        );
        let empty = Config::from_toml("", Path::new("/")).unwrap();
        let error = find_tenant(&empty, path, "acme").unwrap_err().to_string();
        assert!(error.ends_with("(it has none)"), "{error}");
    }

    #[test]
    fn answers_are_reported_on_one_line() {
        assert_eq!(
            one_line("{\n  \"error\": \"x\"\r\n}\n"),
            "{   \"error\": \"x\"  }"
        );
    }
}
