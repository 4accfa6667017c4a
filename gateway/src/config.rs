//! The gateway's configuration: one TOML file, validated at start.
//!
//! Every section has defaults compiled in, so a minimal file only names its tenants. Unknown
//! keys are errors that name the key, and relative paths are resolved against the folder of the
//! configuration file, so a config works the same from any working directory.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use figment::providers::{Env, Format as _, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::actions::policy::Outbound;
use crate::ingress::verify::Verify;
use crate::store::{with_password_masked, Database};
use crate::traces::TraceSettings;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the webhook listener binds to.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// Serve HTTPS (TLS 1.2 and 1.3) instead of plain HTTP.
    #[serde(default)]
    pub tls: Option<Tls>,
    /// Connection limits of the listener.
    #[serde(default)]
    pub listener: Listener,
    /// On SIGTERM or Ctrl-C, how long the gateway may take to stop: the requests in flight
    /// finish, then the deliveries running; what is left after it is cut off (and sent again
    /// once its lease runs out).
    #[serde(default = "defaults::shutdown_grace", with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Folder whose `*.wasm` files are the plugins; a plugin's name is its file stem.
    #[serde(default = "defaults::plugins_dir")]
    pub plugins_dir: PathBuf,
    /// Folder for the SQLite database (`gateway.db`).
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    /// Largest accepted webhook body; larger ones get 413.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: usize,
    /// A second delivery of the same event to a tenant within this window is acknowledged
    /// without running plugins again (`0s` turns deduplication off).
    #[serde(default = "defaults::dedup_window", with = "humantime_serde")]
    pub dedup_window: Duration,
    #[serde(default)]
    pub store: StoreSettings,
    #[serde(default)]
    pub retention: Retention,
    /// The admin API; off unless a token is set.
    #[serde(default)]
    pub admin: Admin,
    #[serde(default)]
    pub plugin_limits: PluginLimits,
    /// Plugin calls that may be alive at once, over all tenants; an event that finds none free
    /// gets 503 (and is retried by Soda).
    #[serde(default = "defaults::max_plugin_instances")]
    pub max_plugin_instances: u32,
    /// Per-plugin exceptions to `plugin_limits`, by plugin name.
    #[serde(default)]
    pub plugin_overrides: HashMap<String, LimitOverrides>,
    #[serde(default)]
    pub delivery: Delivery,
    #[serde(default)]
    pub outbound: Outbound,
    /// Per-tenant limits, so one tenant cannot crowd out the others; overridable per tenant.
    #[serde(default)]
    pub quotas: Quota,
    /// OpenTelemetry traces over OTLP/HTTP; off unless set.
    #[serde(default)]
    pub traces: Option<TraceSettings>,
    #[serde(default)]
    pub tenants: Vec<Tenant>,
}

/// The longest `event_budget`: Soda gives up on an answer after 10 s, and the event must be
/// stored after its plugins ran.
const MAX_EVENT_BUDGET: Duration = Duration::from_secs(9);

/// What one tenant may use of a shared gateway. Past a limit, requests get `429` with
/// `Retry-After`, and nothing of them is stored or run.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quota {
    /// Requests per second, on average (a token bucket).
    pub requests_per_second: f64,
    /// Requests that may arrive at once above the average.
    pub burst: u32,
    /// Events whose plugins run at the same time.
    pub concurrent_events: usize,
    /// Actions waiting to be sent; past it, new events are refused until the backlog drains.
    pub max_pending_actions: i64,
    /// Wall-clock time all plugins of one event may take together; the gateway answers within
    /// it even when every plugin hangs. At most 9 s: Soda waits 10 s for an answer.
    #[serde(with = "humantime_serde")]
    pub event_budget: Duration,
    /// Responses handed back in a row (`on-response` answered with a request that asks for its
    /// response again, and so on) before the chain is cut.
    pub max_chain_depth: u32,
    /// Actions one event may produce over all its plugins and chain steps; past it, a step's
    /// new actions are refused and its run records why.
    pub max_actions_per_event: u32,
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            requests_per_second: 50.0,
            burst: 100,
            concurrent_events: 8,
            max_pending_actions: 10_000,
            event_budget: Duration::from_secs(5),
            max_chain_depth: 10,
            max_actions_per_event: 500,
        }
    }
}

/// One tenant's exceptions to `[quotas]`; unset keys fall back to it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaOverrides {
    pub requests_per_second: Option<f64>,
    pub burst: Option<u32>,
    pub concurrent_events: Option<usize>,
    pub max_pending_actions: Option<i64>,
    #[serde(default, with = "humantime_serde")]
    pub event_budget: Option<Duration>,
    pub max_chain_depth: Option<u32>,
    pub max_actions_per_event: Option<u32>,
}

impl Quota {
    /// These limits with a tenant's overrides applied.
    pub fn with(&self, overrides: &QuotaOverrides) -> Self {
        Self {
            requests_per_second: overrides
                .requests_per_second
                .unwrap_or(self.requests_per_second),
            burst: overrides.burst.unwrap_or(self.burst),
            concurrent_events: overrides
                .concurrent_events
                .unwrap_or(self.concurrent_events),
            max_pending_actions: overrides
                .max_pending_actions
                .unwrap_or(self.max_pending_actions),
            event_budget: overrides.event_budget.unwrap_or(self.event_budget),
            max_chain_depth: overrides.max_chain_depth.unwrap_or(self.max_chain_depth),
            max_actions_per_event: overrides
                .max_actions_per_event
                .unwrap_or(self.max_actions_per_event),
        }
    }

    fn validate(&self, key: &str) -> anyhow::Result<()> {
        if !(self.requests_per_second > 0.0 && self.requests_per_second.is_finite()) {
            bail!("`{key}.requests_per_second` must be a number greater than 0");
        }
        for (name, zero) in [
            ("burst", self.burst == 0),
            ("concurrent_events", self.concurrent_events == 0),
            ("max_pending_actions", self.max_pending_actions <= 0),
            ("event_budget", self.event_budget.is_zero()),
            ("max_actions_per_event", self.max_actions_per_event == 0),
        ] {
            if zero {
                bail!("`{key}.{name}` must be greater than 0");
            }
        }
        if self.event_budget > MAX_EVENT_BUDGET {
            bail!(
                "`{key}.event_budget` must be at most {} (Soda waits 10 s for an answer), found {}",
                humantime::format_duration(MAX_EVENT_BUDGET),
                humantime::format_duration(self.event_budget)
            );
        }
        Ok(())
    }
}

/// What one client connection may hold of the listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listener {
    /// Time a client has to send a request's headers (and an idle keep-alive connection to
    /// start its next request); past it the connection is closed.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// Time a client has to send a request's whole body; past it the answer is `408`.
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
    /// Connections one client address may hold at once; more are closed as soon as they are
    /// accepted, so that one client cannot take every connection slot.
    pub max_connections_per_address: usize,
}

impl Default for Listener {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_connections_per_address: 256,
        }
    }
}

impl Listener {
    fn validate(&self) -> anyhow::Result<()> {
        for (name, zero) in [
            ("header_timeout", self.header_timeout.is_zero()),
            ("body_timeout", self.body_timeout.is_zero()),
            ("max_connections", self.max_connections == 0),
            (
                "max_connections_per_address",
                self.max_connections_per_address == 0,
            ),
        ] {
            if zero {
                bail!("`listener.{name}` must be greater than 0");
            }
        }
        Ok(())
    }
}

/// Sandbox limits applied to every plugin call.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginLimits {
    /// Time one call may spend running WebAssembly before it is interrupted.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
    /// Wall-clock time one call may take, host calls included.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Linear memory one instance may grow to, in MiB.
    pub memory_mib: u64,
    /// Actions one call may return; more is an error and none of them is kept.
    pub max_actions: usize,
    /// Size of one action (URL, headers and body); larger is an error.
    pub max_action_bytes: usize,
    /// Keep an instance warm after a successful call for the next event of the same tenant
    /// (see `plugins::warm`). Unset: only for components that embed an interpreter (larger
    /// than 4 MiB: Python, JavaScript), whose instantiation costs milliseconds.
    pub reuse_instances: Option<bool>,
}

/// Limits that differ for one plugin; unset keys fall back to `plugin_limits`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    #[serde(default, with = "humantime_serde")]
    pub deadline: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    pub memory_mib: Option<u64>,
    pub max_actions: Option<usize>,
    pub max_action_bytes: Option<usize>,
    pub reuse_instances: Option<bool>,
}

impl PluginLimits {
    /// These limits with a plugin's overrides applied.
    pub fn with(&self, overrides: &LimitOverrides) -> Self {
        Self {
            deadline: overrides.deadline.unwrap_or(self.deadline),
            timeout: overrides.timeout.unwrap_or(self.timeout),
            memory_mib: overrides.memory_mib.unwrap_or(self.memory_mib),
            max_actions: overrides.max_actions.unwrap_or(self.max_actions),
            max_action_bytes: overrides.max_action_bytes.unwrap_or(self.max_action_bytes),
            reuse_instances: overrides.reuse_instances.or(self.reuse_instances),
        }
    }

    /// The memory cap in bytes.
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    fn validate(&self, key: &str) -> anyhow::Result<()> {
        for (name, zero) in [
            ("deadline", self.deadline.is_zero()),
            ("timeout", self.timeout.is_zero()),
            ("memory_mib", self.memory_mib == 0),
            ("max_action_bytes", self.max_action_bytes == 0),
        ] {
            if zero {
                bail!("`{key}.{name}` must be greater than 0");
            }
        }
        if self.memory_mib > 4096 {
            bail!(
                "`{key}.memory_mib` must be at most 4096 (4 GiB), found {}",
                self.memory_mib
            );
        }
        Ok(())
    }
}

/// How stored actions are executed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    /// Timeout of one outbound request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Waits after each failed attempt; when they run out the action is failed.
    #[serde(deserialize_with = "duration_list", serialize_with = "humantime_list")]
    pub retry_delays: Vec<Duration>,
    /// How much each wait may vary either way, as a fraction (0.2: ±20 %).
    pub jitter: f64,
    /// How often the worker looks for due actions when nothing wakes it.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Outbound requests in flight at once.
    pub concurrency: usize,
    /// Outbound requests of one tenant in flight at once, so that a tenant whose downstream
    /// hangs cannot hold every slot. Default: half of `concurrency` (at least 1).
    pub per_tenant_concurrency: Option<usize>,
    /// How long a claimed action (or response waiting for its plugin) belongs to the process
    /// that claimed it. If that process dies, another replica, or this one restarted on
    /// PostgreSQL, takes the work over once the lease has run out. Longer than `timeout`.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
}

/// The admin API's settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Admin {
    /// Bearer token every admin request must carry; no token, no admin API. Read from
    /// [`Admin::token_source`] at load.
    #[serde(skip)]
    pub token: Option<String>,
    /// Where `token` comes from: the file, the environment or a file.
    #[serde(rename = "token")]
    pub(crate) token_source: Option<Sourced>,
    /// How long a console login lasts.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
}

impl Default for Admin {
    fn default() -> Self {
        Self {
            token: None,
            token_source: None,
            session_ttl: Duration::from_secs(12 * 3600),
        }
    }
}

/// The HTTPS listener's certificate and key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM file with the certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1); or `key` instead.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The private key's PEM text kept out of the file: `{ env = "…" }` (or `file`, `value`),
    /// read at load into [`Tls::key_pem`].
    #[serde(default, rename = "key")]
    pub(crate) key_source: Option<Sourced>,
    /// The PEM text `key` gave.
    #[serde(skip)]
    pub key_pem: Option<String>,
}

/// Where events and actions are stored.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `postgres://user@host:5432/db` for a database that several replicas share, or
    /// `sqlite::memory:` (nothing survives a restart: for benchmarks and trials). Unset: the
    /// SQLite file `data_dir/gateway.db`. Read from [`StoreSettings::url_source`] at load.
    #[serde(skip)]
    pub url: Option<String>,
    /// Where `url` comes from: the file, the environment or a file (it may hold a password).
    #[serde(rename = "url", serialize_with = "shown_store_url")]
    pub(crate) url_source: Option<Sourced>,
    /// PostgreSQL only: the schema the tables live in, created if missing.
    pub schema: Option<String>,
}

/// How long finished events are kept.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Finished events (every action delivered or failed) older than this are deleted with their
    /// runs, actions and attempts. Events with work left are kept whatever their age.
    #[serde(with = "humantime_serde")]
    pub keep: Duration,
    /// How often old events are looked for.
    #[serde(with = "humantime_serde")]
    pub every: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            keep: Duration::from_secs(30 * 24 * 3600),
            every: Duration::from_secs(3600),
        }
    }
}

/// One tenant: who may post for it and which plugins run for it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// The `{tenant}` in `POST /hooks/{tenant}`.
    pub id: String,
    pub verify: Verify,
    /// Named secrets that this tenant's plugin configs and actions refer to as
    /// `{{secret:NAME}}`; the gateway substitutes them only when sending (see
    /// `actions::secrets`).
    #[serde(default)]
    pub secrets: HashMap<String, Secret>,
    /// This tenant's exceptions to `[quotas]`.
    #[serde(default)]
    pub quota: QuotaOverrides,
    #[serde(default)]
    pub plugins: Vec<EnabledPlugin>,
}

/// A tenant's secret: where its value comes from and who may send it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(try_from = "SecretFields", into = "SecretFields")]
pub struct Secret {
    pub source: SecretSource,
    /// The plugins whose requests may carry it; `None`: those of the tenant's plugins whose
    /// config refers to it.
    pub plugins: Option<Vec<String>>,
    /// The hosts it may be sent to, within the plugin's allow-list; empty: any host on it.
    pub hosts: Vec<String>,
}

/// Where a secret's value comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// Written in the config file.
    Value(String),
    /// An environment variable of the gateway process.
    Env(String),
    /// A file's contents, without a trailing newline (relative to the config file).
    File(PathBuf),
}

impl SecretSource {
    /// The value, read now: `what` names the setting in errors (never the value). A file's
    /// trailing newline is dropped; an empty value is an error.
    pub fn read(&self, what: &str) -> anyhow::Result<String> {
        let value = match self {
            SecretSource::Value(value) => value.clone(),
            SecretSource::Env(variable) => std::env::var(variable)
                .with_context(|| format!("{what}: environment variable `{variable}` is not set"))?,
            SecretSource::File(path) => std::fs::read_to_string(path)
                .with_context(|| format!("{what}: cannot read {}", path.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        };
        if value.is_empty() {
            bail!("{what} is empty");
        }
        Ok(value)
    }

    /// The source from its one field of `value`, `env` or `file`.
    fn of(value: Option<String>, env: Option<String>, file: Option<PathBuf>) -> Option<Self> {
        match (value, env, file) {
            (Some(value), None, None) => Some(SecretSource::Value(value)),
            (None, Some(variable), None) => Some(SecretSource::Env(variable)),
            (None, None, Some(path)) => Some(SecretSource::File(path)),
            _ => None,
        }
    }

    /// A `file` source taken relative to `base`.
    fn relative_to(&mut self, base: &Path) {
        if let SecretSource::File(path) = self {
            *path = base.join(&*path);
        }
    }
}

/// A setting that may be kept out of the config file: a plain string, or `{ value | env | file
/// = "…" }` as tenant secrets take.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "toml::Value")]
pub(crate) struct Sourced(SecretSource);

impl Serialize for Sourced {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ShownSource::of(&self.0).serialize(serializer)
    }
}

/// What `config check` prints for a secret or credential: masked.
pub const MASK: &str = "********";

/// A source as `config check` shows it: where the value comes from, the value itself masked.
#[derive(Serialize)]
struct ShownSource<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a Path>,
}

impl<'a> ShownSource<'a> {
    fn of(source: &'a SecretSource) -> Self {
        let mut shown = Self {
            value: None,
            env: None,
            file: None,
        };
        match source {
            SecretSource::Value(_) => shown.value = Some(MASK),
            SecretSource::Env(variable) => shown.env = Some(variable),
            SecretSource::File(path) => shown.file = Some(path),
        }
        shown
    }
}

/// Serializes a list of secrets as as many masks.
pub(crate) fn masked_list<S: serde::Serializer>(
    values: &[String],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    vec![MASK; values.len()].serialize(serializer)
}

/// Serializes `store.url` with the password of a URL written in the file masked.
fn shown_store_url<S: serde::Serializer>(
    source: &Option<Sourced>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match source {
        Some(Sourced(SecretSource::Value(url))) => {
            with_password_masked(url, MASK).serialize(serializer)
        }
        Some(other) => other.serialize(serializer),
        None => serializer.serialize_none(),
    }
}

/// Serializes durations as `humantime` writes them (`5s`, `1h 30m`).
fn humantime_list<S: serde::Serializer>(
    delays: &[Duration],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let texts: Vec<String> = delays
        .iter()
        .map(|delay| humantime::format_duration(*delay).to_string())
        .collect();
    texts.serialize(serializer)
}

impl TryFrom<toml::Value> for Sourced {
    type Error = String;

    fn try_from(value: toml::Value) -> Result<Self, String> {
        const EXPECTED: &str = "a string or a table with one of `value`, `env` or `file`";
        let mut table = match value {
            toml::Value::String(text) => return Ok(Sourced(SecretSource::Value(text))),
            toml::Value::Table(table) => table,
            other => return Err(format!("expected {EXPECTED}, found {}", other.type_str())),
        };
        let mut text = |key: &str| match table.remove(key) {
            None => Ok(None),
            Some(toml::Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(format!(
                "`{key}` must be a string, found {}",
                other.type_str()
            )),
        };
        let (value, env, file) = (text("value")?, text("env")?, text("file")?);
        if let Some(unknown) = table.keys().next() {
            return Err(format!("unknown field `{unknown}`, expected {EXPECTED}"));
        }
        SecretSource::of(value, env, file.map(PathBuf::from))
            .map(Sourced)
            .ok_or_else(|| format!("expected {EXPECTED}"))
    }
}

/// A secret as written: `{ value | env | file = …, plugins = […], hosts = […] }`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SecretFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plugins: Option<Vec<String>>,
    #[serde(default)]
    hosts: Vec<String>,
}

/// A secret as `config check` shows it: its source, its value masked.
impl From<Secret> for SecretFields {
    fn from(secret: Secret) -> Self {
        let (value, env, file) = match secret.source {
            SecretSource::Value(_) => (Some(MASK.to_owned()), None, None),
            SecretSource::Env(variable) => (None, Some(variable), None),
            SecretSource::File(path) => (None, None, Some(path)),
        };
        Self {
            value,
            env,
            file,
            plugins: secret.plugins,
            hosts: secret.hosts,
        }
    }
}

impl TryFrom<SecretFields> for Secret {
    type Error = String;

    fn try_from(fields: SecretFields) -> Result<Self, String> {
        let source = SecretSource::of(fields.value, fields.env, fields.file)
            .ok_or("a secret takes exactly one of `value`, `env` or `file`")?;
        let hosts = fields
            .hosts
            .into_iter()
            .map(|host| host.to_ascii_lowercase())
            .collect();
        Ok(Self {
            source,
            plugins: fields.plugins,
            hosts,
        })
    }
}

impl Secret {
    /// Whether `plugin` of `tenant` may send this secret, called `name`: a plugin it names,
    /// or, when it names none, one whose config refers to `{{secret:NAME}}`.
    pub fn usable_by(&self, name: &str, plugin: &EnabledPlugin) -> bool {
        match &self.plugins {
            Some(plugins) => plugins.contains(&plugin.name),
            None => plugin
                .config
                .to_string()
                .contains(&format!("{{{{secret:{name}}}}}")),
        }
    }
}

/// A plugin enabled for a tenant, with that tenant's configuration for it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnabledPlugin {
    /// The plugin's file stem in the plugins folder.
    pub name: String,
    /// Handed to the plugin as JSON.
    #[serde(default = "defaults::plugin_config")]
    pub config: toml::Table,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            memory_mib: 64,
            max_actions: 100,
            max_action_bytes: 1024 * 1024,
            reuse_instances: None,
        }
    }
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            // Svix's schedule: about a day and a half of attempts in all.
            retry_delays: [5, 300, 1800, 7200, 18000, 36000, 36000]
                .map(Duration::from_secs)
                .to_vec(),
            jitter: 0.2,
            poll_interval: Duration::from_secs(1),
            concurrency: 16,
            per_tenant_concurrency: None,
            lease: Duration::from_secs(60),
        }
    }
}

impl Delivery {
    /// Slots one tenant may hold: `per_tenant_concurrency`, or half of `concurrency`.
    pub fn per_tenant_concurrency(&self) -> usize {
        self.per_tenant_concurrency
            .unwrap_or((self.concurrency / 2).max(1))
    }
}

/// The file alone, its errors placed by line and column.
fn from_file<T: serde::de::DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    toml::from_str(text).map_err(|error| anyhow::anyhow!(toml_error(text, &error)))
}

/// Environment variables that override the file: `SODA_GATEWAY__STORE__URL` sets `store.url`,
/// `SODA_GATEWAY__DELIVERY__TIMEOUT` sets `delivery.timeout` (a value in TOML syntax, or text).
pub const ENV_PREFIX: &str = "SODA_GATEWAY__";

/// An error of the file and the environment together: the key, where its value came from (the
/// variable, or the file), and what is wrong, without the value itself.
fn layered_error(errors: figment::Error, env_prefix: &str) -> String {
    let lines: Vec<String> = errors
        .into_iter()
        .map(|error| {
            let key = error.path.join(".");
            let from = match &error.metadata {
                Some(metadata) if metadata.name.contains("environment") => {
                    let variable = error.path.join("__").to_uppercase();
                    format!("environment variable `{env_prefix}{variable}`")
                }
                _ => "the config file".to_owned(),
            };
            let what = match &error.kind {
                figment::error::Kind::InvalidType(_, expected)
                | figment::error::Kind::InvalidValue(_, expected) => {
                    format!("invalid value, expected {expected}")
                }
                kind => kind.to_string(),
            };
            if key.is_empty() {
                format!("{from}: {what}")
            } else {
                format!("`{key}` (from {from}): {what}")
            }
        })
        .collect();
    lines.join("; ")
}

/// A TOML error without the offending line's value, which may be a secret (the parser's own
/// message quotes the whole line): where the error is, the line's key, and what it is.
fn toml_error(text: &str, error: &toml::de::Error) -> String {
    let Some(span) = error.span() else {
        return error.message().to_owned();
    };
    let before = &text[..span.start.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let line = before.matches('\n').count() + 1;
    let column = before.len() - line_start + 1;
    let key = text[line_start..]
        .lines()
        .next()
        .and_then(|line| line.split_once('='))
        .map(|(key, _)| format!(" (`{}`)", key.trim()))
        .unwrap_or_default();
    format!("line {line}, column {column}{key}: {}", error.message())
}

mod defaults {
    use super::*;

    pub fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }
    pub fn plugins_dir() -> PathBuf {
        "plugins".into()
    }
    pub fn data_dir() -> PathBuf {
        "data".into()
    }
    pub fn max_body_bytes() -> usize {
        1024 * 1024
    }
    pub fn max_plugin_instances() -> u32 {
        crate::plugins::DEFAULT_MAX_INSTANCES
    }
    pub fn shutdown_grace() -> Duration {
        Duration::from_secs(30)
    }
    pub fn dedup_window() -> Duration {
        Duration::from_secs(3600)
    }
    pub fn plugin_config() -> toml::Table {
        toml::Table::new()
    }
}

impl Config {
    /// Reads, parses and validates a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml(&text, base).with_context(|| format!("invalid config {}", path.display()))
    }

    /// Parses configuration text with the environment's overrides (see [`ENV_PREFIX`]) and
    /// validates it; relative paths are taken from `base`.
    pub fn from_toml(text: &str, base: &Path) -> anyhow::Result<Self> {
        Self::layered(text, base, ENV_PREFIX)
    }

    /// Defaults, then the file, then the variables named `env_prefix` + key path, then the
    /// checks.
    fn layered(text: &str, base: &Path, env_prefix: &str) -> anyhow::Result<Self> {
        let overrides = Env::prefixed(env_prefix).split("__");
        let mut config: Config = if overrides.iter().next().is_none() {
            from_file(text)?
        } else {
            // Syntax errors keep their place in the file.
            from_file::<toml::Table>(text)?;
            Figment::from(Toml::string(text))
                .merge(overrides)
                .extract()
                .map_err(|error| anyhow::anyhow!(layered_error(error, env_prefix)))?
        };
        config.plugins_dir = base.join(&config.plugins_dir);
        config.data_dir = base.join(&config.data_dir);
        if let Some(tls) = &mut config.tls {
            tls.cert_file = base.join(&tls.cert_file);
            if tls.key_file.is_some() == tls.key_source.is_some() {
                bail!("`tls` takes the private key as exactly one of `key_file` or `key`");
            }
            tls.key_file = tls.key_file.as_ref().map(|path| base.join(path));
            tls.key_pem = read_sourced(&mut tls.key_source, base, "`tls.key`")?;
        }
        for tenant in &mut config.tenants {
            for secret in tenant.secrets.values_mut() {
                secret.source.relative_to(base);
            }
        }
        config.store.url = read_sourced(&mut config.store.url_source, base, "`store.url`")?;
        config.admin.token = read_sourced(&mut config.admin.token_source, base, "`admin.token`")?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.listener.validate()?;
        if self.max_plugin_instances == 0 {
            bail!("`max_plugin_instances` must be greater than 0");
        }
        if self.max_body_bytes == 0 {
            bail!("`max_body_bytes` must be greater than 0");
        }
        self.plugin_limits.validate("plugin_limits")?;
        for name in self.plugin_overrides.keys() {
            self.limits_for(name)
                .validate(&format!("plugin_overrides.{name}"))?;
        }
        if self.admin.token.as_deref() == Some("") {
            bail!("`admin.token` must not be empty (leave it out to turn the admin API off)");
        }
        if self.retention.every.is_zero() {
            bail!("`retention.every` must be greater than 0");
        }
        if !(0.0..=1.0).contains(&self.delivery.jitter) {
            bail!(
                "`delivery.jitter` must be between 0 and 1, found {}",
                self.delivery.jitter
            );
        }
        if self.delivery.concurrency == 0 {
            bail!("`delivery.concurrency` must be greater than 0");
        }
        if let Some(per_tenant) = self.delivery.per_tenant_concurrency {
            if per_tenant == 0 || per_tenant > self.delivery.concurrency {
                bail!(
                    "`delivery.per_tenant_concurrency` must be between 1 and \
                     `delivery.concurrency` ({}), found {per_tenant}",
                    self.delivery.concurrency
                );
            }
        }
        let longest_plugin_call = self
            .plugin_overrides
            .keys()
            .map(|name| self.limits_for(name).timeout)
            .fold(self.plugin_limits.timeout, Duration::max);
        let longest_step = self.delivery.timeout.max(longest_plugin_call);
        if self.delivery.lease <= longest_step {
            bail!(
                "`delivery.lease` ({}) must be longer than `delivery.timeout` and every \
                 plugin call's `timeout` ({}), or work would be taken over while it runs",
                humantime::format_duration(self.delivery.lease),
                humantime::format_duration(longest_step)
            );
        }
        self.database()?;
        self.quotas.validate("quotas")?;
        self.outbound.validate()?;
        if let Some(traces) = &self.traces {
            traces.validate()?;
        }
        let mut ids = HashSet::new();
        for (index, tenant) in self.tenants.iter().enumerate() {
            let key = format!("tenants[{index}]");
            if tenant.id.is_empty() || !tenant.id.chars().all(is_id_char) {
                bail!("`{key}.id` must be non-empty and use only letters, digits, `-` and `_`, found {:?}", tenant.id);
            }
            if !ids.insert(tenant.id.as_str()) {
                bail!("`{key}.id`: tenant {:?} is defined twice", tenant.id);
            }
            tenant.verify.validate(&format!("{key}.verify"))?;
            self.quotas
                .with(&tenant.quota)
                .validate(&format!("{key}.quota"))?;
            for (name, secret) in &tenant.secrets {
                if name.is_empty() || !name.chars().all(is_id_char) {
                    bail!("`{key}.secrets`: a secret's name must use only letters, digits, `-` and `_`, found {name:?}");
                }
                let enabled = |plugin: &String| tenant.plugins.iter().any(|p| p.name == *plugin);
                if let Some(unknown) = secret.plugins.iter().flatten().find(|p| !enabled(p)) {
                    bail!("`{key}.secrets.{name}.plugins`: plugin {unknown:?} is not enabled for this tenant");
                }
                if let Some(host) = secret
                    .hosts
                    .iter()
                    .find(|host| host.is_empty() || host.contains(['/', ':', '*']))
                {
                    bail!("`{key}.secrets.{name}.hosts`: {host:?} is not a host name (no scheme, port, path or wildcard)");
                }
            }
            let mut plugins = HashSet::new();
            for (p, plugin) in tenant.plugins.iter().enumerate() {
                if !plugins.insert(plugin.name.as_str()) {
                    bail!(
                        "`{key}.plugins[{p}].name`: plugin {:?} is enabled twice",
                        plugin.name
                    );
                }
            }
        }
        Ok(())
    }
}

impl Config {
    /// The database `[store]` names.
    pub fn database(&self) -> anyhow::Result<Database> {
        Database::from_url(
            self.store.url.as_deref(),
            self.store.schema.as_deref(),
            self.data_dir.clone(),
        )
    }

    /// The limits a plugin runs under: `plugin_limits` with its overrides applied.
    pub fn limits_for(&self, plugin: &str) -> PluginLimits {
        match self.plugin_overrides.get(plugin) {
            Some(overrides) => self.plugin_limits.with(overrides),
            None => self.plugin_limits.clone(),
        }
    }

    /// The largest memory cap of any plugin, which sizes the engine's memory pool.
    pub fn largest_memory_bytes(&self) -> usize {
        self.plugin_overrides
            .keys()
            .map(|name| self.limits_for(name).memory_bytes())
            .fold(self.plugin_limits.memory_bytes(), usize::max)
    }
}

/// The value of a setting that may be kept out of the file, read now.
fn read_sourced(
    source: &mut Option<Sourced>,
    base: &Path,
    what: &str,
) -> anyhow::Result<Option<String>> {
    let Some(Sourced(source)) = source else {
        return Ok(None);
    };
    source.relative_to(base);
    source.read(what).map(Some)
}

/// A list of human-readable durations such as `["5s", "1m"]`.
fn duration_list<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<Duration>, D::Error> {
    Vec::<String>::deserialize(de)?
        .iter()
        .map(|text| {
            humantime::parse_duration(text)
                .map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}")))
        })
        .collect()
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingress::verify::{HmacAlgorithm, SignatureEncoding};

    const TENANT: &str = r#"
        [[tenants]]
        id = "acme"
        verify = { scheme = "hmac-sha256", header = "x-soda-signature", secret = "s3cret" }
        [[tenants.plugins]]
        name = "slack"
        config = { webhook_url = "https://hooks.example/x" }
    "#;

    fn error_of(text: &str) -> String {
        format!(
            "{:#}",
            Config::from_toml(text, Path::new("/etc/gw")).unwrap_err()
        )
    }

    #[test]
    fn a_syntax_error_names_its_place_but_never_quotes_the_line() {
        let text = "[[tenants]]\nid = \"acme\"\nsecrets = { jira = { value = \"T0PS3CRET }\n";
        let error = error_of(text);
        assert!(error.contains("line 3, column"), "{error}");
        assert!(!error.contains("T0PS3CRET"), "{error}");
    }

    #[test]
    fn a_secret_has_one_source_and_names_whom_it_is_for() {
        let text = format!(
            "{TENANT}\n[tenants.secrets]\nt = {{ env = \"T\", plugins = [\"slack\"], hosts = [\"Hooks.Example\"] }}\n"
        );
        let config = Config::from_toml(&text, Path::new("/")).unwrap();
        let secret = &config.tenants[0].secrets["t"];
        assert!(matches!(&secret.source, SecretSource::Env(v) if v == "T"));
        assert_eq!(secret.hosts, ["hooks.example"]);
        assert!(secret.usable_by("t", &config.tenants[0].plugins[0]));
        for (secret, expected) in [
            (
                r#"{ value = "a", env = "B" }"#,
                "exactly one of `value`, `env` or `file`",
            ),
            (
                r#"{ plugins = ["slack"] }"#,
                "exactly one of `value`, `env` or `file`",
            ),
            (
                r#"{ value = "a", plugins = ["jira"] }"#,
                "`tenants[0].secrets.t.plugins`: plugin \"jira\"",
            ),
            (
                r#"{ value = "a", hosts = ["https://x"] }"#,
                "is not a host name",
            ),
        ] {
            let text = format!("{TENANT}\n[tenants.secrets]\nt = {secret}\n");
            let error = error_of(&text);
            assert!(error.contains(expected), "{secret}: {error}");
        }
        // Without `plugins`: the plugins whose config refers to it.
        let text = format!("{TENANT}\n[tenants.secrets]\nt = {{ value = \"a\" }}\n");
        let config = Config::from_toml(&text, Path::new("/")).unwrap();
        let slack = &config.tenants[0].plugins[0];
        assert!(!config.tenants[0].secrets["t"].usable_by("t", slack));
        let mut referring = slack.clone();
        referring
            .config
            .insert("token".into(), "Bearer {{secret:t}}".into());
        assert!(config.tenants[0].secrets["t"].usable_by("t", &referring));
    }

    #[test]
    fn verification_schemes_parse_with_one_or_several_secrets() {
        let tenant = |verify: &str| {
            let text = format!("[[tenants]]\nid = \"t\"\nverify = {verify}\n");
            Config::from_toml(&text, Path::new("/")).map(|c| c.tenants[0].verify.clone())
        };
        let hmac = tenant(
            r#"{ scheme = "hmac", header = "x-sig", algorithm = "sha512", encoding = "base64", prefix = "sha512=", secrets = ["a", "b"] }"#,
        )
        .unwrap();
        assert!(matches!(
            hmac,
            Verify::Hmac { algorithm: HmacAlgorithm::Sha512, encoding: SignatureEncoding::Base64, ref prefix, ref secrets, .. }
                if prefix.as_deref() == Some("sha512=") && secrets.len() == 2
        ));
        let legacy =
            tenant(r#"{ scheme = "hmac-sha256", header = "x-sig", secret = "s" }"#).unwrap();
        assert!(matches!(legacy, Verify::HmacSha256 { ref secrets, .. } if secrets == &["s"]));
        let token = tenant(r#"{ scheme = "token", header = "authorization", value = "Bearer x" }"#);
        assert!(
            matches!(token.unwrap(), Verify::Token { ref values, .. } if values == &["Bearer x"])
        );
        let webhooks = tenant(
            r#"{ scheme = "standard-webhooks", secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }"#,
        );
        assert!(matches!(
            webhooks.unwrap(),
            Verify::StandardWebhooks { tolerance, .. } if tolerance == Duration::from_secs(300)
        ));
        for (bad, expected) in [
            (
                r#"{ scheme = "standard-webhooks", secret = "not-whsec" }"#,
                "whsec_",
            ),
            (
                r#"{ scheme = "hmac", header = "x", secrets = [] }"#,
                "at least one",
            ),
            (
                r#"{ scheme = "hmac", header = "x", algorithm = "md5", secret = "s" }"#,
                "md5",
            ),
            (
                r#"{ scheme = "token", header = "bad header", value = "v" }"#,
                "header name",
            ),
        ] {
            let err = format!("{:#}", tenant(bad).unwrap_err());
            assert!(err.contains(expected), "{bad}: {err}");
        }
    }

    #[test]
    fn the_per_tenant_share_of_delivery_slots_defaults_to_half_and_is_checked() {
        let config = Config::from_toml(TENANT, Path::new("/")).unwrap();
        assert_eq!(config.delivery.per_tenant_concurrency(), 8);
        let err = error_of("[delivery]\nconcurrency = 4\nper_tenant_concurrency = 5");
        assert!(
            err.contains("`delivery.per_tenant_concurrency` must be between 1 and"),
            "{err}"
        );
    }

    #[test]
    fn the_store_and_its_lease_are_checked() {
        let config = Config::from_toml(TENANT, Path::new("/etc/gw")).unwrap();
        assert_eq!(
            config.database().unwrap(),
            Database::Sqlite("/etc/gw/data/gateway.db".into())
        );
        let pg = format!("[store]\nurl = \"postgres://db/gw\"\nschema = \"soda\"\n{TENANT}");
        let config = Config::from_toml(&pg, Path::new("/")).unwrap();
        assert!(!config.database().unwrap().single_process());
        let err = error_of("[store]\nurl = \"mysql://db/gw\"");
        assert!(err.contains("store.url"), "{err}");
        let err = error_of("[delivery]\ntimeout = \"30s\"\nlease = \"30s\"");
        assert!(
            err.contains("`delivery.lease` (30s) must be longer"),
            "{err}"
        );
        let err =
            error_of("[delivery]\nlease = \"20s\"\n[plugin_overrides.slow]\ntimeout = \"25s\"");
        assert!(
            err.contains("(25s)"),
            "a plugin's own timeout counts: {err}"
        );
    }

    #[test]
    fn a_minimal_file_gets_defaults_and_paths_relative_to_the_config() {
        let config = Config::from_toml(TENANT, Path::new("/etc/gw")).unwrap();
        assert_eq!(config.listen.port(), 8080);
        assert_eq!(config.plugins_dir, Path::new("/etc/gw/plugins"));
        assert_eq!(config.data_dir, Path::new("/etc/gw/data"));
        assert_eq!(config.plugin_limits.deadline, Duration::from_secs(2));
        assert_eq!(
            config.tenants[0].plugins[0].config["webhook_url"].as_str(),
            Some("https://hooks.example/x")
        );
    }

    #[test]
    fn an_unknown_key_is_named() {
        let error = error_of("lisen = \"127.0.0.1:1\"");
        assert!(error.contains("lisen"), "{error}");
    }

    #[test]
    fn an_unknown_verification_scheme_is_named() {
        let error = error_of("[[tenants]]\nid = \"a\"\nverify = { scheme = \"md5\", header = \"x\", secret = \"s\" }");
        assert!(error.contains("md5"), "{error}");
    }

    #[test]
    fn duplicate_tenants_are_rejected_naming_the_key() {
        let error = error_of(&format!("{TENANT}{}", TENANT.replace("[[tenants.plugins]]\n        name = \"slack\"\n        config = { webhook_url = \"https://hooks.example/x\" }", "")));
        assert!(error.contains("tenants[1].id"), "{error}");
    }

    #[test]
    fn an_empty_secret_is_rejected_naming_the_key() {
        let error = error_of(&TENANT.replace("s3cret", ""));
        assert!(error.contains("tenants[0].verify.secret"), "{error}");
    }

    #[test]
    fn per_plugin_overrides_replace_only_the_keys_they_set() {
        let text = format!("{TENANT}\n[plugin_limits]\nmax_actions = 7\n[plugin_overrides.slack]\ndeadline = \"50ms\"\nmemory_mib = 128");
        let config = Config::from_toml(&text, Path::new("/")).unwrap();
        let slack = config.limits_for("slack");
        assert_eq!(slack.deadline, Duration::from_millis(50));
        assert_eq!(slack.max_actions, 7, "inherited");
        assert_eq!(config.limits_for("other").deadline, Duration::from_secs(2));
        assert_eq!(config.largest_memory_bytes(), 128 * 1024 * 1024);
    }

    #[test]
    fn a_zero_limit_in_an_override_is_named() {
        let error = error_of("[plugin_overrides.jira]\ntimeout = \"0s\"");
        assert!(error.contains("plugin_overrides.jira.timeout"), "{error}");
    }

    #[test]
    fn a_bad_duration_is_named() {
        let error = error_of("[plugin_limits]\ndeadline = \"soon\"\nmemory_mib = 1");
        assert!(error.contains("deadline"), "{error}");
    }

    #[test]
    fn the_store_url_and_admin_token_may_come_from_the_environment_or_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("admin-token"), "from-a-file\n").unwrap();
        std::env::set_var("SODA_TEST_STORE_URL_1", "sqlite::memory:");
        let config = Config::from_toml(
            "[store]\nurl = { env = \"SODA_TEST_STORE_URL_1\" }\n[admin]\ntoken = { file = \"admin-token\" }",
            dir.path(),
        )
        .unwrap();
        assert_eq!(config.store.url.as_deref(), Some("sqlite::memory:"));
        assert_eq!(config.admin.token.as_deref(), Some("from-a-file"));

        let plain = Config::from_toml("[admin]\ntoken = \"t0k3n\"", dir.path()).unwrap();
        assert_eq!(
            plain.admin.token.as_deref(),
            Some("t0k3n"),
            "a plain string as before"
        );
        assert!(plain.store.url.is_none());
    }

    #[test]
    fn a_missing_source_is_named_by_its_setting_and_never_shows_a_value() {
        let error = error_of("[store]\nurl = { env = \"SODA_TEST_UNSET_VARIABLE\" }");
        assert!(
            error.contains(
                "`store.url`: environment variable `SODA_TEST_UNSET_VARIABLE` is not set"
            ),
            "{error}"
        );
        let error = error_of("[admin]\ntoken = { file = \"no-such-token\" }");
        assert!(
            error.contains("`admin.token`: cannot read /etc/gw/no-such-token"),
            "{error}"
        );
        let error = error_of("[admin]\ntoken = { env = \"A\", file = \"b\" }");
        assert!(
            error.contains("token") && error.contains("one of `value`, `env` or `file`"),
            "{error}"
        );
        let error = error_of("[admin]\ntoken = 42");
        assert!(error.contains("found integer"), "{error}");
        std::env::set_var("SODA_TEST_EMPTY_TOKEN", "");
        let error = error_of("[admin]\ntoken = { env = \"SODA_TEST_EMPTY_TOKEN\" }");
        assert!(error.contains("`admin.token` is empty"), "{error}");
    }

    #[test]
    fn the_environment_overrides_the_file_and_is_named_when_invalid() {
        let base = Path::new("/etc/gw");
        std::env::set_var("SODA_TEST_LAYERS_A__DEDUP_WINDOW", "5m");
        std::env::set_var("SODA_TEST_LAYERS_A__DELIVERY__TIMEOUT", "3s");
        let file = "dedup_window = \"1h\"\n[delivery]\ntimeout = \"9s\"\nconcurrency = 4";
        let config = Config::layered(file, base, "SODA_TEST_LAYERS_A__").unwrap();
        assert_eq!(config.dedup_window, Duration::from_secs(300));
        assert_eq!(config.delivery.timeout, Duration::from_secs(3));
        assert_eq!(
            config.delivery.concurrency, 4,
            "what the environment leaves comes from the file"
        );
        let unset = Config::layered(file, base, "SODA_TEST_LAYERS_UNSET__").unwrap();
        assert_eq!(
            unset.dedup_window,
            Duration::from_secs(3600),
            "the file, alone"
        );

        std::env::set_var("SODA_TEST_LAYERS_B__DELIVERY__CONCURRENCY", "many-s3cret");
        let error = format!(
            "{:#}",
            Config::layered("", base, "SODA_TEST_LAYERS_B__").unwrap_err()
        );
        assert!(
            error.contains(
                "`delivery.concurrency` (from environment variable \
                 `SODA_TEST_LAYERS_B__DELIVERY__CONCURRENCY`)"
            ),
            "{error}"
        );
        assert!(!error.contains("s3cret"), "never the value: {error}");

        std::env::set_var("SODA_TEST_LAYERS_C__NO_SUCH_KEY", "1");
        let error = format!(
            "{:#}",
            Config::layered("", base, "SODA_TEST_LAYERS_C__").unwrap_err()
        );
        assert!(error.contains("no_such_key"), "{error}");

        std::env::set_var("SODA_TEST_LAYERS_D__ADMIN__TOKEN", "from-the-environment");
        let config = Config::layered("", base, "SODA_TEST_LAYERS_D__").unwrap();
        assert_eq!(config.admin.token.as_deref(), Some("from-the-environment"));
    }

    #[test]
    fn the_effective_config_prints_with_every_secret_masked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "file-t0ken-s3cret").unwrap();
        std::env::set_var("SODA_TEST_MASK_DB_URL", "postgres://u:env-pw-s3cret@db/x");
        let text = r#"
            [store]
            url = "postgres://gateway:file-pw-s3cret@db.internal:5432/soda"
            [admin]
            token = { file = "token" }
            [[tenants]]
            id = "acme"
            verify = { scheme = "hmac-sha256", header = "x-soda-signature", secrets = ["hmac-s3cret", "old-s3cret"] }
            [tenants.secrets]
            jira_token = { value = "jira-s3cret", plugins = ["jira"] }
            pd_key = { env = "PD_KEY_VARIABLE" }
            [[tenants.plugins]]
            name = "jira"
            [[tenants]]
            id = "globex"
            verify = { scheme = "token", header = "authorization", value = "Bearer token-s3cret" }
        "#;
        let config = Config::from_toml(text, dir.path()).unwrap();
        let printed = toml::to_string_pretty(&config).unwrap();
        assert!(!printed.contains("s3cret"), "a secret is shown:\n{printed}");
        assert!(
            printed.contains("postgres://gateway:********@db.internal:5432/soda"),
            "the URL without its password:\n{printed}"
        );
        assert!(
            printed.contains("PD_KEY_VARIABLE"),
            "a source's name is shown:\n{printed}"
        );
        assert!(
            printed.contains("dedup_window = \"1h\""),
            "defaults are shown:\n{printed}"
        );
        assert!(printed.contains("retry_delays = ["), "{printed}");

        let from_env = Config::from_toml(
            "[store]\nurl = { env = \"SODA_TEST_MASK_DB_URL\" }",
            dir.path(),
        )
        .unwrap();
        let printed = toml::to_string_pretty(&from_env).unwrap();
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("SODA_TEST_MASK_DB_URL"), "{printed}");
    }
}
