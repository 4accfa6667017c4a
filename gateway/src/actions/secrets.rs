//! Credentials outside the sandbox.
//!
//! A tenant names its secrets in the config (`[tenants.secrets]`, from the file, the
//! environment or a file). Plugin configs and the actions plugins return refer to them only as
//! `{{secret:NAME}}`; that text is what plugins see and what the store keeps. The worker
//! replaces the placeholders in the URL, header values and body of the request it is about to
//! send — in memory, never stored or logged — and only when:
//! - the secret belongs to the action's own tenant (another tenant's names are unknown here);
//! - the plugin has an allow-list (`outbound.allowed_hosts.<plugin>`) and the request's host is
//!   on it (the policy checked that), so a secret cannot be sent to a host of the plugin's
//!   choosing;
//! - the secret is for this plugin: one its `plugins` names or, without that list, one whose
//!   config refers to it (a plugin cannot guess another plugin's secret), and the host is one
//!   of the secret's `hosts` when it names some;
//! - the substitution leaves the host as it was.
//!
//! Text that comes from an event (a check named `{{secret:api_key}}`, say) must not become a
//! placeholder when a plugin copies it into a message: [`neutralize_placeholders`] rewrites such
//! text in incoming events to `{{ secret:…`, which is never substituted.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::policy::Refused;
use crate::config::Tenant;
use crate::records::{Request, Response};

const OPEN: &str = "{{secret:";
const CLOSE: &str = "}}";
/// What a placeholder from outside the gateway is rewritten to: no longer one.
const NEUTRALIZED: &str = "{{ secret:";

/// Every tenant's secret values, by tenant and name.
#[derive(Default)]
pub struct Secrets {
    by_tenant: HashMap<String, HashMap<String, Known>>,
}

/// One secret's value and who may send it where.
struct Known {
    value: String,
    /// The tenant's plugins allowed to send it (see `config::Secret::usable_by`).
    plugins: HashSet<String>,
    /// The hosts it may go to; empty: any on the plugin's allow-list.
    hosts: Vec<String>,
}

impl Secrets {
    /// Reads every tenant's secrets; an unset variable or unreadable file is an error that
    /// names the tenant, the secret and the source (never a value).
    pub fn load(tenants: &[Tenant]) -> anyhow::Result<Self> {
        let mut by_tenant = HashMap::new();
        for tenant in tenants {
            let mut known = HashMap::new();
            for (name, secret) in &tenant.secrets {
                let value = secret
                    .source
                    .read(&format!("secret `{name}` of tenant `{}`", tenant.id))?;
                let plugins = tenant
                    .plugins
                    .iter()
                    .filter(|plugin| secret.usable_by(name, plugin))
                    .map(|plugin| plugin.name.clone())
                    .collect();
                let hosts = secret.hosts.clone();
                known.insert(
                    name.clone(),
                    Known {
                        value,
                        plugins,
                        hosts,
                    },
                );
            }
            by_tenant.insert(tenant.id.clone(), known);
        }
        Ok(Self { by_tenant })
    }

    /// `bytes` (a downstream's answer to a request that carried secrets) with every value of
    /// the tenant's secrets, as sent or JSON-escaped, written back as its placeholder: a
    /// downstream that echoes a request cannot put a secret into the audit trail or a plugin.
    pub fn scrub(&self, tenant: &str, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let Some(secrets) = self.by_tenant.get(tenant) else {
            return out;
        };
        for (name, secret) in secrets {
            let placeholder = format!("{OPEN}{name}{CLOSE}");
            let escaped = serde_json::to_string(&secret.value).expect("a string serializes");
            let escaped = &escaped[1..escaped.len() - 1];
            for form in [secret.value.as_str(), escaped] {
                if !form.is_empty() {
                    out = replace_bytes(&out, form.as_bytes(), placeholder.as_bytes());
                }
            }
        }
        out
    }

    /// The request of `tenant`'s `plugin` with the secrets in place of its placeholders
    /// (borrowed unchanged when it has none). `may_carry_secrets` is asked before any
    /// substitution; then each secret must be one this plugin may send, to this host.
    pub fn substitute<'r>(
        &self,
        tenant: &str,
        plugin: &str,
        request: &'r Request,
        may_carry_secrets: impl FnOnce() -> Result<(), Refused>,
    ) -> Result<Cow<'r, Request>, Refused> {
        let body_text = std::str::from_utf8(&request.body).ok();
        let has_placeholder = request.url.contains(OPEN)
            || request
                .headers
                .iter()
                .any(|(_, value)| value.contains(OPEN))
            || body_text.is_some_and(|body| body.contains(OPEN));
        if !has_placeholder {
            return Ok(Cow::Borrowed(request));
        }
        may_carry_secrets()?;
        let empty = HashMap::new();
        let scope = Scope {
            tenant,
            plugin,
            host: host_of(&request.url).map(|(host, _)| host),
            secrets: self.by_tenant.get(tenant).unwrap_or(&empty),
        };
        let json = request.headers.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("content-type") && value.contains("json")
        });
        let mut resolved = request.clone();
        resolved.url = replace(&request.url, &scope, Escape::None)?;
        for (_, value) in &mut resolved.headers {
            *value = replace(value, &scope, Escape::None)?;
        }
        if let Some(body) = body_text {
            let escape = if json { Escape::Json } else { Escape::None };
            resolved.body = replace(body, &scope, escape)?.into_bytes();
        }
        if host_of(&resolved.url) != host_of(&request.url) {
            return Err(Refused(
                "a secret placeholder may not change the request's host".into(),
            ));
        }
        Ok(Cow::Owned(resolved))
    }
}

/// The value of `tenant`'s secret `name` from its source.
/// The event body with every `{{secret:` inside its JSON strings (keys too, and however it was
/// escaped) written `{{ secret:`; borrowed unchanged when there is none, which is the norm.
pub fn neutralize_placeholders(body: &[u8]) -> Cow<'_, [u8]> {
    // A placeholder can only hide in a string that contains it literally or spells it with
    // `\u` escapes.
    let may_hold = |needle: &[u8]| memchr::memmem::find(body, needle).is_some();
    if !may_hold(OPEN.as_bytes()) && !may_hold(b"\\u") {
        return Cow::Borrowed(body);
    }
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Cow::Borrowed(body); // not JSON: refused later anyway
    };
    if !defuse(&mut value) {
        return Cow::Borrowed(body);
    }
    Cow::Owned(serde_json::to_vec(&value).expect("a JSON value serializes"))
}

/// A downstream response as it may reach a plugin's `on-response`: every `{{secret:` in its
/// header values and body written `{{ secret:` (in a JSON body however it was escaped), so that
/// a downstream cannot make a plugin echo a placeholder the gateway would fill in.
pub fn neutralize_response(response: &Response) -> (Vec<(String, String)>, Vec<u8>) {
    let headers = response
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.replace(OPEN, NEUTRALIZED)))
        .collect();
    let body = match serde_json::from_slice::<serde_json::Value>(&response.body) {
        Ok(_) => neutralize_placeholders(&response.body).into_owned(),
        Err(_) => neutralize_bytes(&response.body),
    };
    (headers, body)
}

/// `bytes` with every literal `{{secret:` written `{{ secret:`.
fn neutralize_bytes(bytes: &[u8]) -> Vec<u8> {
    replace_bytes(bytes, OPEN.as_bytes(), NEUTRALIZED.as_bytes())
}

/// `bytes` with every occurrence of `from` replaced by `to`.
fn replace_bytes(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Rewrites placeholders in every string of `value`; whether anything changed.
fn defuse(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    let fix = |text: &str| text.replace(OPEN, NEUTRALIZED);
    match value {
        Value::String(text) if text.contains(OPEN) => {
            *text = fix(text);
            true
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, item| defuse(item) | changed),
        Value::Object(map) => {
            let mut changed = false;
            if map.keys().any(|key| key.contains(OPEN)) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(key, value)| (fix(&key), value))
                    .collect();
                changed = true;
            }
            map.values_mut()
                .fold(changed, |changed, item| defuse(item) | changed)
        }
        _ => false,
    }
}

/// How a value is written where its placeholder was.
#[derive(Clone, Copy)]
enum Escape {
    None,
    /// Inside a JSON string: quotes, backslashes and control characters escaped.
    Json,
}

/// Whose request is being filled in, and the secrets it may draw on.
struct Scope<'a> {
    tenant: &'a str,
    plugin: &'a str,
    /// The request's host, lowercase.
    host: Option<String>,
    secrets: &'a HashMap<String, Known>,
}

impl Scope<'_> {
    /// The value of the secret `name`, if this plugin may send it to this host.
    fn value(&self, name: &str) -> Result<&str, Refused> {
        let Scope { tenant, plugin, .. } = self;
        let secret = self
            .secrets
            .get(name)
            .ok_or_else(|| Refused(format!("tenant `{tenant}` has no secret named `{name}`")))?;
        if !secret.plugins.contains(*plugin) {
            return Err(Refused(format!(
                "secret `{name}` of tenant `{tenant}` is not for plugin `{plugin}` (its \
                 `plugins`, or the plugins whose config refers to it)"
            )));
        }
        let host_allowed = |host: &String| secret.hosts.contains(host);
        if !secret.hosts.is_empty() && !self.host.as_ref().is_some_and(host_allowed) {
            return Err(Refused(format!(
                "secret `{name}` of tenant `{tenant}` may only be sent to {}",
                secret.hosts.join(", ")
            )));
        }
        Ok(&secret.value)
    }
}

/// `text` with every placeholder replaced by its secret's value, escaped as `escape` says.
fn replace(text: &str, scope: &Scope, escape: Escape) -> Result<String, Refused> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else {
            return Err(Refused("an unterminated `{{secret:` placeholder".into()));
        };
        let value = scope.value(&after[..end])?;
        match escape {
            Escape::None => out.push_str(value),
            Escape::Json => {
                let quoted = serde_json::Value::String(value.to_owned()).to_string();
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
        }
        rest = &after[end + CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

fn host_of(url: &str) -> Option<(String, Option<u16>)> {
    let url = reqwest::Url::parse(url).ok()?;
    Some((url.host_str()?.to_owned(), url.port_or_known_default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    /// `acme`'s secrets for its `jira` plugin; `pinned` may only go to `h.test`.
    fn secrets() -> Secrets {
        let known = |value: &str, hosts: &[&str]| Known {
            value: value.into(),
            plugins: HashSet::from(["jira".to_string()]),
            hosts: hosts.iter().map(|host| host.to_string()).collect(),
        };
        let acme = HashMap::from([
            ("token".to_string(), known("t0k\"en", &[])),
            ("path".to_string(), known("T1/B2/xyz", &[])),
            ("pinned".to_string(), known("p1nned", &["h.test"])),
        ]);
        Secrets {
            by_tenant: HashMap::from([
                ("acme".to_string(), acme),
                ("globex".into(), HashMap::new()),
            ]),
        }
    }

    fn request(url: &str, header: &str, body: &str) -> Request {
        Request::new(
            Method::POST,
            url.into(),
            vec![
                ("content-type".into(), "application/json".into()),
                ("authorization".into(), header.into()),
            ],
            body.as_bytes().to_vec(),
        )
        .unwrap()
    }

    #[test]
    fn placeholders_are_replaced_in_url_headers_and_json_body() {
        let original = request(
            "https://hooks.test/services/{{secret:path}}",
            "Bearer {{secret:token}}",
            r#"{"key":"{{secret:token}}"}"#,
        );
        let sent = secrets()
            .substitute("acme", "jira", &original, || Ok(()))
            .unwrap();
        assert_eq!(sent.url, "https://hooks.test/services/T1/B2/xyz");
        assert_eq!(sent.headers[1].1, "Bearer t0k\"en");
        let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(body["key"], "t0k\"en", "escaped inside the JSON string");
        assert!(
            original.url.contains("{{secret:path}}"),
            "the stored request is unchanged"
        );
    }

    #[test]
    fn refusals_name_the_problem_never_a_value() {
        let with = |url: &str| request(url, "none", "{}");
        let unknown = secrets()
            .substitute(
                "globex",
                "jira",
                &with("https://h.test/{{secret:token}}"),
                || Ok(()),
            )
            .unwrap_err();
        assert!(
            unknown
                .0
                .contains("tenant `globex` has no secret named `token`"),
            "{unknown}"
        );
        let policy = secrets()
            .substitute(
                "acme",
                "jira",
                &with("https://h.test/{{secret:token}}"),
                || Err(Refused("no allow-list".into())),
            )
            .unwrap_err();
        assert_eq!(policy.0, "no allow-list");
        let open = secrets()
            .substitute(
                "acme",
                "jira",
                &with("https://h.test/{{secret:token"),
                || Ok(()),
            )
            .unwrap_err();
        assert!(open.0.contains("unterminated"));
        // Plugins cannot return such a URL (actions are validated), but the check holds anyway.
        let in_host = Request {
            url: "https://{{secret:path}}.test/".into(),
            ..with("https://h.test/")
        };
        let host = secrets()
            .substitute("acme", "jira", &in_host, || Ok(()))
            .unwrap_err();
        assert!(host.0.contains("host"), "{host}");
        let other_plugin = secrets()
            .substitute(
                "acme",
                "slack",
                &with("https://h.test/{{secret:token}}"),
                || Ok(()),
            )
            .unwrap_err();
        assert!(
            other_plugin.0.contains("is not for plugin `slack`"),
            "{other_plugin}"
        );
        let other_host = secrets()
            .substitute(
                "acme",
                "jira",
                &with("https://g.test/{{secret:pinned}}"),
                || Ok(()),
            )
            .unwrap_err();
        assert!(
            other_host.0.contains("may only be sent to h.test"),
            "{other_host}"
        );
        let to_its_host = with("https://h.test/{{secret:pinned}}");
        let pinned = secrets()
            .substitute("acme", "jira", &to_its_host, || Ok(()))
            .map(|sent| sent.url.clone())
            .unwrap();
        assert_eq!(pinned, "https://h.test/p1nned");
        for refused in [unknown, policy, open, host, other_plugin, other_host] {
            assert!(
                !refused.0.contains("t0k") && !refused.0.contains("xyz"),
                "{refused}"
            );
        }
    }

    #[test]
    fn event_text_cannot_forge_a_placeholder() {
        let plain = br#"{"checkResults":[{"name":"rows > 0"}]}"#;
        assert!(matches!(neutralize_placeholders(plain), Cow::Borrowed(_)));
        for forged in [
            &br#"{"checkResults":[{"name":"{{secret:token}}"}]}"#[..],
            br#"{"checkResults":[{"name":"{\u007bsecret:token}}"}]}"#,
            br#"{"{{secret:token}}":1}"#,
        ] {
            let safe = neutralize_placeholders(forged);
            let text = String::from_utf8(safe.to_vec()).unwrap();
            assert!(text.contains("{{ secret:token}}"), "{text}");
            let parsed: serde_json::Value = serde_json::from_slice(&safe).unwrap();
            assert!(!parsed.to_string().contains(OPEN), "{parsed}");
        }
    }

    #[test]
    fn a_request_without_placeholders_is_left_alone() {
        let plain = request("https://h.test/x", "Bearer abc", "{}");
        let sent = secrets()
            .substitute("acme", "jira", &plain, || {
                Err(Refused("never asked".into()))
            })
            .unwrap();
        assert!(matches!(sent, Cow::Borrowed(_)));
    }

    #[test]
    fn a_response_cannot_carry_a_placeholder_to_a_plugin() {
        let response = Response {
            status: 201,
            headers: vec![("location".into(), "/{{secret:token}}".into())],
            body: br#"{"key":"\u007b\u007bsecret:token}}","k2":"{{secret:path}}"}"#.to_vec(),
        };
        let (headers, body) = neutralize_response(&response);
        assert_eq!(headers[0].1, "/{{ secret:token}}");
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["key"], "{{ secret:token}}");
        assert_eq!(body["k2"], "{{ secret:path}}");
        let text = Response {
            body: b"<key>{{secret:token}}</key>".to_vec(),
            ..response
        };
        assert_eq!(
            neutralize_response(&text).1,
            b"<key>{{ secret:token}}</key>"
        );
    }

    #[test]
    fn an_echoed_secret_is_scrubbed_back_to_its_placeholder() {
        let echoed = br#"{"error":"bad token t0k\"en","path":"T1/B2/xyz"} raw: t0k"en"#;
        let scrubbed = String::from_utf8(secrets().scrub("acme", echoed)).unwrap();
        assert_eq!(
            scrubbed,
            r#"{"error":"bad token {{secret:token}}","path":"{{secret:path}}"} raw: {{secret:token}}"#
        );
        assert_eq!(secrets().scrub("globex", echoed), echoed.to_vec());
    }
}
