//! Harness for the black-box tests in `tests/tests/`.
//!
//! The tests start the real `soda-gateway` binary with a config written into a temporary
//! directory, speak real HTTP to it, fake the services it delivers to ([`FakeDownstream`]) and
//! read its database: the SQLite file read-only, or the test's PostgreSQL schema
//! ([`postgres::PgSchema`]). Nothing here knows how the gateway is implemented.
//!
//! Build outputs the tests need:
//! - the gateway binary: `cargo build --workspace --tests --bin soda-gateway` (the tests'
//!   features, so that `cargo test --workspace` then compiles nothing again);
//! - the plugins: `cargo build --profile plugin --target wasm32-wasip2 -p slack -p fixture-trap
//!   -p fixture-loop -p fixture-link -p fixture-memory -p fixture-flood -p fixture-snoop`.
//!
//! No test may send traffic to anything but the loopback interface: [`Gateway::post`] refuses
//! bodies whose `incidentLinkCallbackUrl` points elsewhere (see [`with_callback_url`]).

pub mod cli_run;
pub mod faults;
pub mod guide;
pub mod postgres;
pub mod reload;

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use sqlx::{AnyConnection, Connection as _};
use tempfile::TempDir;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

/// What the gateway prints on stdout, followed by its URL, once it accepts connections.
pub const LISTENING_PREFIX: &str = "soda-gateway listening on ";

/// How long the gateway may take to start: a debug build compiling a Python or JavaScript
/// plugin (12–18 MB components) takes tens of seconds on a busy 2-core machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(180);

/// How long tests wait for something that should happen "soon" (a delivery, a row). Generous:
/// a wait ends as soon as its condition holds, and on a 2-core machine busy with other work a
/// delivery that takes milliseconds when quiet can take many seconds.
pub const SOON: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Build outputs
// ---------------------------------------------------------------------------------------------

/// `target/<profile>`: test and bench executables live in `target/<profile>/deps/`, binaries
/// that use the harness (the `bench/` crate) in `target/<profile>/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running test executable");
    let dir = exe
        .parent()
        .unwrap_or_else(|| panic!("unexpected test executable location {}", exe.display()));
    match dir.file_name() {
        Some(name) if name == "deps" => dir.parent().unwrap_or(dir).to_path_buf(),
        _ => dir.to_path_buf(),
    }
}

/// The `soda-gateway` binary next to the test executable.
pub fn gateway_binary() -> PathBuf {
    let path = profile_dir().join(format!("soda-gateway{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "the gateway binary {} is missing: run `cargo build --workspace --tests --bin \
         soda-gateway` before the black-box tests (`cargo xtask test` does both)",
        path.display()
    );
    path
}

/// The plugins the tests use. The plugin name the gateway knows is the file stem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Plugin {
    /// Posts one Slack incoming-webhook message per failing/warning check evaluation and per
    /// created incident to its `webhook_url`.
    Slack,
    /// Traps on every event.
    Trap,
    /// Loops forever; only the deadline stops it.
    Loop,
    /// Answers `incidentCreated` with an incident link and an incident-link callback.
    Link,
    /// Allocates memory without bound; only the memory cap stops it.
    Memory,
    /// Returns 100,000 small `POST`s to its config key `url` (default
    /// `http://127.0.0.1:9/flood`).
    Flood,
    /// Tries to read files, the environment and to connect to its config key `socket_addr`,
    /// then `POST`s a JSON report of what it got to its config key `report_url`.
    Snoop,
    /// A Jira-like chain: on `incidentCreated` POSTs `{tracker_url}/issue` and, from the
    /// response's `key`, links the incident and remembers the key in its state; on a resolved
    /// `incidentUpdated` POSTs `{tracker_url}/issue/{key}/resolve` with the remembered key.
    Chain,
    /// Attacks the host as its config's `mode` says: `sleep`, `state-keys`, `state-operations`,
    /// `log-flood`, `fan-out` (see `plugins/fixtures/hostile`).
    Hostile,
    /// The reference integrations in `plugins/` (each has a README with its config keys).
    Jira,
    ServiceNow,
    PagerDuty,
    Opsgenie,
    Teams,
    Forward,
    /// Python (componentize-py): a Jira Automation incoming webhook (`plugins/jira-automation-py`).
    JiraAutomation,
    /// JavaScript (componentize-js): a Microsoft Teams workflow (`plugins/teams-workflow-js`).
    TeamsWorkflow,
}

impl Plugin {
    /// The name in the config and in the database (the `.wasm` file stem).
    pub fn name(self) -> &'static str {
        match self {
            Plugin::Slack => "slack",
            Plugin::Trap => "fixture_trap",
            Plugin::Loop => "fixture_loop",
            Plugin::Link => "fixture_link",
            Plugin::Memory => "fixture_memory",
            Plugin::Flood => "fixture_flood",
            Plugin::Snoop => "fixture_snoop",
            Plugin::Chain => "fixture_chain",
            Plugin::Hostile => "fixture_hostile",
            Plugin::Jira => "jira",
            Plugin::ServiceNow => "servicenow",
            Plugin::PagerDuty => "pagerduty",
            Plugin::Opsgenie => "opsgenie",
            Plugin::Teams => "teams",
            Plugin::Forward => "forward",
            Plugin::JiraAutomation => "jira_automation",
            Plugin::TeamsWorkflow => "teams_workflow",
        }
    }

    /// The built component: `target/wasm32-wasip2/plugin/<name>.wasm`.
    pub fn wasm_path(self) -> PathBuf {
        let path = profile_dir()
            .parent()
            .expect("the target directory")
            .join("wasm32-wasip2/plugin")
            .join(format!("{}.wasm", self.name()));
        assert!(
            path.exists(),
            "the plugin {} is missing: run `cargo build --profile plugin --target wasm32-wasip2 \
             -p slack -p fixture-trap -p fixture-loop -p fixture-link -p fixture-memory \
             -p fixture-flood -p fixture-snoop` before the black-box tests (`cargo xtask test` \
             does it)",
            path.display()
        );
        path
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// How a tenant's requests are authenticated.
#[derive(Clone, Debug)]
pub enum Verify {
    /// `header` carries the lowercase hex HMAC-SHA256 of the raw body under `secret`.
    Hmac { header: String, secret: String },
    /// `header` must equal `value`.
    Token { header: String, value: String },
    /// This inline TOML table, verbatim; the test builds its requests' headers itself.
    Inline(String),
}

impl Verify {
    /// HMAC-SHA256 in `x-soda-signature`.
    pub fn hmac(secret: &str) -> Self {
        Verify::Hmac {
            header: "x-soda-signature".into(),
            secret: secret.into(),
        }
    }

    /// A fixed token in `authorization`.
    pub fn token(value: &str) -> Self {
        Verify::Token {
            header: "authorization".into(),
            value: value.into(),
        }
    }

    /// The headers a legitimate sender adds to `body`.
    pub fn headers_for(&self, body: &[u8]) -> Vec<(String, String)> {
        match self {
            Verify::Hmac { header, secret } => vec![(header.clone(), hmac_hex(secret, body))],
            Verify::Token { header, value } => vec![(header.clone(), value.clone())],
            Verify::Inline(toml) => panic!("{toml}: the test signs its own requests"),
        }
    }

    fn to_toml(&self) -> String {
        match self {
            Verify::Hmac { header, secret } => format!(
                "{{ scheme = \"hmac-sha256\", header = {}, secret = {} }}",
                toml_string(header),
                toml_string(secret)
            ),
            Verify::Token { header, value } => format!(
                "{{ scheme = \"token\", header = {}, value = {} }}",
                toml_string(header),
                toml_string(value)
            ),
            Verify::Inline(toml) => toml.clone(),
        }
    }
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under a `whsec_` secret (Standard Webhooks).
pub fn standard_webhooks_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    use base64::Engine as _;
    let base64 = base64::engine::general_purpose::STANDARD;
    let key = base64
        .decode(secret.strip_prefix("whsec_").expect("whsec_"))
        .expect("base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", base64.encode(mac.finalize().into_bytes()))
}

/// Lowercase hex HMAC-SHA256 of `body` under `secret`, as the gateway expects it.
pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// One `[[tenants]]` entry.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: String,
    pub verify: Verify,
    /// Enabled plugins with their config (a JSON object, written as a TOML inline table).
    pub plugins: Vec<(Plugin, Value)>,
    /// `secrets`: names with their source as a TOML inline table (`{ value = "..." }`).
    pub secrets: Vec<(String, String)>,
    /// `quota`: this tenant's exceptions to `[quotas]`, as a TOML inline table.
    pub quota: Option<String>,
}

impl Tenant {
    pub fn new(id: &str, verify: Verify) -> Self {
        Tenant {
            id: id.into(),
            verify,
            plugins: Vec::new(),
            secrets: Vec::new(),
            quota: None,
        }
    }

    /// Sets this tenant's `quota` (a TOML inline table).
    pub fn quota(mut self, quota: &str) -> Self {
        self.quota = Some(quota.into());
        self
    }

    /// Adds a named secret; `source` is its TOML table, e.g. `{ value = "..." }`.
    pub fn secret(mut self, name: &str, source: &str) -> Self {
        self.secrets.push((name.into(), source.into()));
        self
    }

    /// A tenant whose requests are signed with HMAC-SHA256 in `x-soda-signature`.
    pub fn hmac(id: &str, secret: &str) -> Self {
        Tenant::new(id, Verify::hmac(secret))
    }

    /// A tenant whose requests carry a fixed `authorization` header.
    pub fn token(id: &str, value: &str) -> Self {
        Tenant::new(id, Verify::token(value))
    }

    /// Enables `plugin` for this tenant with `config` (a JSON object).
    pub fn plugin(mut self, plugin: Plugin, config: Value) -> Self {
        self.plugins.push((plugin, config));
        self
    }
}

/// The gateway's config file, with test-friendly defaults.
#[derive(Clone, Debug)]
pub struct Config {
    pub max_body_bytes: u64,
    pub deadline: String,
    pub memory_mib: u64,
    /// `plugin_limits.max_actions`; left out of the file (the gateway's default) when `None`.
    pub max_actions: Option<u64>,
    pub delivery_timeout: String,
    pub retry_delays: Vec<String>,
    pub poll_interval: String,
    pub tenants: Vec<Tenant>,
    /// `dedup_window`: `"0s"` (off) unless a test is about deduplication, since many tests send
    /// the same seed event more than once on purpose.
    pub dedup_window: String,
    /// Appended verbatim to the top-level table (before any `[section]`).
    pub extra_top_level_toml: String,
    /// `[store]`: PostgreSQL URL and schema; the SQLite file in `data/` when `None`.
    pub postgres: Option<(String, String)>,
    /// `delivery.lease`; the gateway's default when `None`.
    pub lease: Option<String>,
    /// `outbound.allow_private`: on, since the fake downstreams listen on loopback.
    pub allow_private: bool,
    /// `outbound.proxy`.
    pub proxy: Option<String>,
    /// `outbound.secrets_over_plain_http`: on, since the fake downstreams speak plain HTTP.
    pub secrets_over_plain_http: bool,
    /// `outbound.allowed_hosts`, by plugin.
    pub allowed_hosts: Vec<(Plugin, Vec<String>)>,
    /// Environment variables the gateway process gets (e.g. `SODA_LOG_FORMAT`).
    pub env: Vec<(String, String)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_body_bytes: 1_048_576,
            deadline: "2s".into(),
            memory_mib: 64,
            max_actions: None,
            delivery_timeout: "10s".into(),
            retry_delays: vec!["1s".into(), "5s".into(), "30s".into()],
            poll_interval: "200ms".into(),
            tenants: Vec::new(),
            dedup_window: "0s".into(),
            extra_top_level_toml: String::new(),
            postgres: None,
            lease: None,
            allow_private: true,
            proxy: None,
            secrets_over_plain_http: true,
            allowed_hosts: Vec::new(),
            env: Vec::new(),
        }
    }
}

impl Config {
    pub fn new() -> Self {
        Config::default()
    }

    /// Sets an environment variable for the gateway process.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn tenant(mut self, tenant: Tenant) -> Self {
        self.tenants.push(tenant);
        self
    }

    pub fn max_body_bytes(mut self, bytes: u64) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The CPU deadline per plugin call (humantime, e.g. `"300ms"`).
    pub fn deadline(mut self, deadline: &str) -> Self {
        self.deadline = deadline.into();
        self
    }

    /// The linear memory one plugin instance may use, in MiB.
    pub fn memory_mib(mut self, mib: u64) -> Self {
        self.memory_mib = mib;
        self
    }

    /// The most actions one plugin call may return.
    pub fn max_actions(mut self, max: u64) -> Self {
        self.max_actions = Some(max);
        self
    }

    pub fn retry_delays(mut self, delays: &[&str]) -> Self {
        self.retry_delays = delays.iter().map(|d| d.to_string()).collect();
        self
    }

    /// Turns inbound deduplication on for this window (humantime, e.g. `"1h"`).
    pub fn dedup_window(mut self, window: &str) -> Self {
        self.dedup_window = window.into();
        self
    }

    pub fn poll_interval(mut self, interval: &str) -> Self {
        self.poll_interval = interval.into();
        self
    }

    /// Stores events and actions in `schema` (on PostgreSQL) instead of the SQLite file.
    pub fn postgres(mut self, schema: &postgres::PgSchema) -> Self {
        self.postgres = Some((schema.url().into(), schema.name().into()));
        self
    }

    /// The production default: loopback, private and other non-public addresses refused.
    pub fn refuse_private_addresses(mut self) -> Self {
        self.allow_private = false;
        self
    }

    /// The production default: secrets only over HTTPS to the default port.
    pub fn secrets_over_https_only(mut self) -> Self {
        self.secrets_over_plain_http = false;
        self
    }

    /// Sends every outbound request through `proxy` (`outbound.proxy`).
    pub fn proxy(mut self, proxy: &str) -> Self {
        self.proxy = Some(proxy.into());
        self
    }

    /// The hosts `plugin` may reach (`outbound.allowed_hosts`).
    pub fn allowed_hosts(mut self, plugin: Plugin, hosts: &[&str]) -> Self {
        let hosts = hosts.iter().map(|host| host.to_string()).collect();
        self.allowed_hosts.push((plugin, hosts));
        self
    }

    /// How long claimed work belongs to a gateway process (humantime).
    pub fn lease(mut self, lease: &str) -> Self {
        self.lease = Some(lease.into());
        self
    }

    /// Adds raw TOML to the top-level table, e.g. an unknown key.
    pub fn extra_top_level_toml(mut self, toml: &str) -> Self {
        self.extra_top_level_toml.push_str(toml);
        self.extra_top_level_toml.push('\n');
        self
    }

    /// The plugins any tenant enables, each once.
    pub fn plugins(&self) -> Vec<Plugin> {
        let mut plugins = Vec::new();
        for (plugin, _) in self.tenants.iter().flat_map(|t| &t.plugins) {
            if !plugins.contains(plugin) {
                plugins.push(*plugin);
            }
        }
        plugins
    }

    /// The config file's text.
    pub fn to_toml(&self) -> String {
        let delays: Vec<String> = self.retry_delays.iter().map(|d| toml_string(d)).collect();
        let mut out = format!(
            "listen = \"127.0.0.1:0\"\n\
             plugins_dir = \"plugins\"\n\
             data_dir = \"data\"\n\
             max_body_bytes = {}\n\
             dedup_window = {}\n\
             {}\n\
             [plugin_limits]\n\
             deadline = {}\n\
             memory_mib = {}\n\
             {}\n\
             [delivery]\n\
             timeout = {}\n\
             retry_delays = [{}]\n\
             poll_interval = {}\n\
             {}\n",
            self.max_body_bytes,
            toml_string(&self.dedup_window),
            self.extra_top_level_toml,
            toml_string(&self.deadline),
            self.memory_mib,
            self.max_actions
                .map(|max| format!("max_actions = {max}\n"))
                .unwrap_or_default(),
            toml_string(&self.delivery_timeout),
            delays.join(", "),
            toml_string(&self.poll_interval),
            self.lease
                .as_ref()
                .map(|lease| format!("lease = {}\n", toml_string(lease)))
                .unwrap_or_default(),
        );
        out.push_str(&format!(
            "\n[outbound]\nallow_private = {}\nsecrets_over_plain_http = {}\n{}[outbound.allowed_hosts]\n",
            self.allow_private,
            self.secrets_over_plain_http,
            self.proxy
                .as_ref()
                .map(|proxy| format!("proxy = {}\n", toml_string(proxy)))
                .unwrap_or_default(),
        ));
        for (plugin, hosts) in &self.allowed_hosts {
            let hosts: Vec<String> = hosts.iter().map(|host| toml_string(host)).collect();
            out.push_str(&format!("{} = [{}]\n", plugin.name(), hosts.join(", ")));
        }
        if let Some((url, schema)) = &self.postgres {
            out.push_str(&format!(
                "\n[store]\nurl = {}\nschema = {}\n",
                toml_string(url),
                toml_string(schema)
            ));
        }
        for tenant in &self.tenants {
            out.push_str(&format!(
                "\n[[tenants]]\nid = {}\nverify = {}\n",
                toml_string(&tenant.id),
                tenant.verify.to_toml()
            ));
            if let Some(quota) = &tenant.quota {
                out.push_str(&format!("quota = {quota}\n"));
            }
            if !tenant.secrets.is_empty() {
                let secrets: Vec<String> = tenant
                    .secrets
                    .iter()
                    .map(|(name, source)| format!("{} = {source}", toml_string(name)))
                    .collect();
                out.push_str(&format!("secrets = {{ {} }}\n", secrets.join(", ")));
            }
            for (plugin, config) in &tenant.plugins {
                out.push_str(&format!(
                    "\n[[tenants.plugins]]\nname = {}\nconfig = {}\n",
                    toml_string(plugin.name()),
                    toml_value(config)
                ));
            }
        }
        out
    }
}

/// A TOML basic string (JSON string escapes are valid TOML escapes).
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

/// A JSON value as a TOML value (objects become inline tables).
fn toml_value(value: &Value) -> String {
    match value {
        Value::Null => panic!("TOML has no null"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => toml_string(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_value).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", toml_string(k), toml_value(v)))
                .collect();
            if entries.is_empty() {
                "{}".into()
            } else {
                format!("{{ {} }}", entries.join(", "))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The gateway process
// ---------------------------------------------------------------------------------------------

/// A running `soda-gateway serve` with its own config, plugins and data directory.
///
/// Killed (SIGKILL) on drop; when the test is failing, its stderr is printed then.
pub struct Gateway {
    dir: TempDir,
    config: Config,
    child: Option<Child>,
    url: String,
    stdout: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
}

/// A gateway that did not start.
#[derive(Debug)]
pub struct StartFailure {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// An HTTP answer from the gateway.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// How long the request took.
    pub elapsed: Duration,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

impl Reply {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the reply body is not JSON ({e}): {self:?}"))
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} {:?} after {:?}",
            self.status, self.body, self.elapsed
        )
    }
}

impl Gateway {
    /// Writes `config` into a fresh temporary directory, copies the plugins its tenants use
    /// into `plugins/`, starts the gateway and waits for its listening line.
    pub async fn start(config: Config) -> Gateway {
        let dir = Self::prepare(&config.to_toml(), &config.plugins());
        let mut gateway = Gateway {
            dir,
            config,
            child: None,
            url: String::new(),
            stdout: Arc::default(),
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
        };
        gateway.spawn().await;
        gateway
    }

    /// Starts the gateway with `config` and expects it to exit with an error.
    pub async fn start_expecting_failure(config: Config) -> StartFailure {
        Self::expect_failure(&config.to_toml(), &config.plugins(), &config.env).await
    }

    /// Starts the gateway with the config file text `toml` and `plugins` in its plugins
    /// directory, and expects it to exit with an error.
    pub async fn start_with_toml_expecting_failure(toml: &str, plugins: &[Plugin]) -> StartFailure {
        Self::expect_failure(toml, plugins, &[]).await
    }

    /// Starts the gateway on `toml` with `env` set and expects it to exit with an error.
    async fn expect_failure(
        toml: &str,
        plugins: &[Plugin],
        env: &[(String, String)],
    ) -> StartFailure {
        let dir = Self::prepare(toml, plugins);
        let config_path = dir.path().join("gateway.toml");
        let binary = gateway_binary();
        let env = env.to_vec();
        let run = tokio::task::spawn_blocking(move || {
            Command::new(binary)
                .arg("serve")
                .arg("--config")
                .arg(&config_path)
                .envs(env)
                .stdin(Stdio::null())
                .output()
        });
        let output = tokio::time::timeout(START_TIMEOUT, run)
            .await
            .expect("the gateway should exit on a bad config, but it is still running")
            .expect("the waiting task")
            .expect("the gateway binary runs");
        drop(dir);
        StartFailure {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn prepare(toml: &str, plugins: &[Plugin]) -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix("soda-gateway-test-")
            .tempdir()
            .expect("a temporary directory");
        let plugins_dir = dir.path().join("plugins");
        fs::create_dir_all(&plugins_dir).expect("the plugins directory");
        for plugin in plugins {
            let to = plugins_dir.join(format!("{}.wasm", plugin.name()));
            fs::copy(plugin.wasm_path(), &to).expect("copying a plugin");
        }
        fs::write(dir.path().join("gateway.toml"), toml).expect("the config file");
        dir
    }

    async fn spawn(&mut self) {
        assert!(self.child.is_none(), "the gateway is already running");
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_path())
            .expect("the stderr log");
        let mut child = Command::new(gateway_binary())
            .arg("serve")
            .arg("--config")
            .arg(self.dir.path().join("gateway.toml"))
            .envs(self.config.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("the gateway binary starts");

        // Read stdout on a thread for the whole life of the process, so it never blocks on a
        // full pipe; the first line comes through the channel.
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::clone(&self.stdout);
        let (tx, mut rx) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        self.child = Some(child);

        let first = tokio::time::timeout(START_TIMEOUT, rx.recv()).await;
        let line = match first {
            Ok(Some(line)) => line,
            Ok(None) => {
                let status = self.child.take().map(|mut c| c.wait());
                panic!(
                    "the gateway exited before printing its listening line ({status:?}); \
                     stderr:\n{}",
                    self.stderr()
                );
            }
            Err(_) => {
                self.kill();
                panic!(
                    "the gateway printed no listening line within {START_TIMEOUT:?}; stderr:\n{}",
                    self.stderr()
                );
            }
        };
        let url = line
            .strip_prefix(LISTENING_PREFIX)
            .unwrap_or_else(|| {
                panic!("the first stdout line should be `{LISTENING_PREFIX}http://127.0.0.1:PORT`, got {line:?}")
            })
            .trim();
        assert!(
            url.strip_prefix("http://127.0.0.1:")
                .or_else(|| url.strip_prefix("https://127.0.0.1:"))
                .is_some_and(|port| port.parse::<u16>().is_ok()),
            "the listening line should name http(s)://127.0.0.1:PORT, got {line:?}"
        );
        self.url = url.to_string();
    }

    /// Runs `soda-gateway <args> --config <this gateway's config file>` (an operator command
    /// on this gateway's store) and waits for it.
    pub fn cli(&self, args: &[&str]) -> cli_run::CliRun {
        let output = Command::new(gateway_binary())
            .args(args)
            .arg("--config")
            .arg(self.dir.path().join("gateway.toml"))
            .env_remove("RUST_LOG")
            .output()
            .expect("the gateway binary runs");
        cli_run::CliRun { output }
    }

    /// The process id of the running gateway (a benchmark reads its memory); `None` once killed.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `http://127.0.0.1:PORT` of the running gateway.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The config the gateway was started with (or last rewritten to).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replaces the config file with `toml` atomically (write beside it, then rename), as an
    /// operator's deploy would, while the gateway runs.
    pub fn write_config_text(&self, toml: &str) {
        let path = self.dir.path().join("gateway.toml");
        let staged = self.dir.path().join("gateway.toml.new");
        fs::write(&staged, toml).expect("the staged config");
        fs::rename(&staged, &path).expect("renaming the config into place");
    }

    /// Rewrites the config file from `config` while the gateway runs; later signed posts use
    /// its tenants.
    pub fn rewrite_config(&mut self, config: Config) {
        self.write_config_text(&config.to_toml());
        self.config = config;
    }

    /// Every line the gateway printed on stdout so far, over all its runs.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// Everything the gateway logged on stderr so far, over all its runs.
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    /// Kills the gateway with SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM, as a service manager stopping the gateway would, and waits (up to a
    /// minute) for the process to exit; its exit status.
    pub async fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the gateway runs");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("the kill command runs");
        assert!(sent.success(), "kill -TERM failed: {sent}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().expect("waiting for the gateway") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "the gateway did not exit within a minute of SIGTERM; stderr:\n{}",
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the gateway if it runs and starts it again on the same config and data.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// Waits (up to [`SOON`]) until the gateway has no action left to send and no response left
    /// to hand back to a plugin. Runs are stored with their actions before the 2xx, so from then
    /// on nothing more reaches the fakes for the events sent so far: a count of what arrived is
    /// final, with no sleep to guess how long "never" is.
    pub async fn wait_until_settled(&self) {
        let unfinished = "SELECT COUNT(*) FROM actions \
                          WHERE status = 'pending' OR continuation_status IN ('waiting', 'pending')";
        wait_until(
            "no action is left to send and no response to hand back",
            SOON,
            async || self.count(unfinished).await == 0,
        )
        .await;
    }

    /// Waits (up to [`SOON`]) until the gateway's stderr contains `text`. Lines reach stderr
    /// through the gateway's log thread, so a line about something already done may come a
    /// little later.
    pub async fn wait_for_log(&self, text: &str) {
        wait_until(&format!("`{text}` is logged"), SOON, async || {
            self.stderr().contains(text)
        })
        .await;
    }

    /// POSTs `body` to `/hooks/{tenant}` with exactly `headers` (plus content-type JSON).
    pub async fn post(
        &self,
        tenant: &str,
        body: impl Into<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let body = body.into();
        assert_only_loopback_callbacks(&body);
        let mut request = self
            .client
            .post(format!("{}/hooks/{tenant}", self.url))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let started = Instant::now();
        let response = request.body(body).send().await.unwrap_or_else(|e| {
            panic!(
                "POST /hooks/{tenant} failed: {e}; stderr:\n{}",
                self.stderr()
            )
        });
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.expect("the reply body");
        Reply {
            status,
            body,
            elapsed: started.elapsed(),
            retry_after,
        }
    }

    /// POSTs `body` to `/hooks/{tenant}` authenticated as that tenant's config says.
    pub async fn post_signed(&self, tenant: &str, body: impl Into<Vec<u8>>) -> Reply {
        let body = body.into();
        let verify = self
            .config
            .tenants
            .iter()
            .find(|t| t.id == tenant)
            .map(|t| t.verify.clone())
            .unwrap_or_else(|| panic!("no tenant {tenant:?} in the config"));
        let headers = verify.headers_for(&body);
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        self.post(tenant, body, &headers).await
    }

    /// Sends `event` as Soda would for `tenant`: JSON, authenticated.
    pub async fn send_event(&self, tenant: &str, event: &Value) -> Reply {
        self.post_signed(tenant, serde_json::to_vec(event).expect("JSON"))
            .await
    }

    // -- the database ---------------------------------------------------------------------

    /// `data/gateway.db`.
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("data").join("gateway.db")
    }

    /// A connection to the gateway's database; `None` while its SQLite file does not exist.
    async fn db(&self) -> Option<AnyConnection> {
        sqlx::any::install_default_drivers();
        if let Some((url, schema)) = &self.config.postgres {
            let mut connection = AnyConnection::connect(url)
                .await
                .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
            sqlx::Executor::execute(
                &mut connection,
                format!("SET search_path TO \"{schema}\"").as_str(),
            )
            .await
            .expect("setting search_path");
            return Some(connection);
        }
        let path = self.db_path();
        if !path.exists() {
            return None;
        }
        let connection = AnyConnection::connect(&format!("sqlite://{}?mode=ro", path.display()))
            .await
            .unwrap_or_else(|e| panic!("opening {} read-only: {e}", path.display()));
        Some(connection)
    }

    /// SQL for a BLOB/BYTEA column's bytes as text, in the gateway database's dialect.
    pub fn as_text_sql(&self, column: &str) -> String {
        match self.config.postgres {
            Some(_) => format!("convert_from({column}, 'UTF8')"),
            None => format!("CAST({column} AS TEXT)"),
        }
    }

    /// The number `sql` (a `SELECT COUNT(*) ...`) returns; 0 while there is no database.
    pub async fn count(&self, sql: &str) -> i64 {
        let Some(mut db) = self.db().await else {
            return 0;
        };
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&mut db)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Rows in `table` (`events`, `plugin_runs`, `actions`, `attempts`).
    pub async fn count_rows(&self, table: &str) -> i64 {
        self.count(&format!("SELECT COUNT(*) FROM {table}")).await
    }

    /// Rows in every table the contract names, for "nothing was stored" checks.
    pub async fn stored(&self) -> Stored {
        Stored {
            events: self.count_rows("events").await,
            plugin_runs: self.count_rows("plugin_runs").await,
            actions: self.count_rows("actions").await,
            attempts: self.count_rows("attempts").await,
        }
    }

    /// The `plugin_runs` table.
    pub async fn plugin_runs(&self) -> Vec<PluginRun> {
        let Some(mut db) = self.db().await else {
            return Vec::new();
        };
        sqlx::query_as::<_, (String, String, Option<String>)>(
            "SELECT plugin, outcome, error FROM plugin_runs",
        )
        .fetch_all(&mut db)
        .await
        .expect("reading plugin_runs")
        .into_iter()
        .map(|(plugin, outcome, error)| PluginRun {
            plugin,
            outcome,
            error,
        })
        .collect()
    }

    /// The `actions` table.
    pub async fn actions(&self) -> Vec<ActionRow> {
        let Some(mut db) = self.db().await else {
            return Vec::new();
        };
        sqlx::query_as::<_, (String, String, String)>("SELECT plugin, kind, status FROM actions")
            .fetch_all(&mut db)
            .await
            .expect("reading actions")
            .into_iter()
            .map(|(plugin, kind, status)| ActionRow {
                plugin,
                kind,
                status,
            })
            .collect()
    }

    /// The `events` table's tenant and event type per row.
    pub async fn events(&self) -> Vec<(String, String)> {
        let Some(mut db) = self.db().await else {
            return Vec::new();
        };
        sqlx::query_as::<_, (String, String)>("SELECT tenant, event_type FROM events")
            .fetch_all(&mut db)
            .await
            .expect("reading events")
    }

    /// The ids of the stored events, oldest first.
    pub async fn event_ids(&self) -> Vec<String> {
        let Some(mut db) = self.db().await else {
            return Vec::new();
        };
        sqlx::query_scalar("SELECT id FROM events ORDER BY received_at, id")
            .fetch_all(&mut db)
            .await
            .expect("reading event ids")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() && self.stderr_path().exists() {
            eprintln!(
                "---- gateway stdout ----\n{}\n---- gateway stderr ({}) ----\n{}",
                self.stdout_lines().join("\n"),
                self.stderr_path().display(),
                self.stderr()
            );
        }
    }
}

/// Row counts of the contract's tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    pub events: i64,
    pub plugin_runs: i64,
    pub actions: i64,
    pub attempts: i64,
}

/// One `plugin_runs` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginRun {
    pub plugin: String,
    /// `ok` or `error`.
    pub outcome: String,
    pub error: Option<String>,
}

/// One `actions` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionRow {
    pub plugin: String,
    pub kind: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
}

/// Panics when a body would make the gateway call anything but loopback.
fn assert_only_loopback_callbacks(body: &[u8]) {
    fn walk(value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    if key == "incidentLinkCallbackUrl" {
                        if let Value::String(url) = value {
                            assert!(
                                is_loopback_url(url),
                                "refusing to post an event whose incidentLinkCallbackUrl is \
                                 {url}: tests must rewrite it to a fake (with_callback_url)"
                            );
                        }
                    }
                    walk(value);
                }
            }
            Value::Array(items) => items.iter().for_each(walk),
            _ => {}
        }
    }
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        walk(&value);
    }
}

fn is_loopback_url(url: &str) -> bool {
    [
        "http://127.0.0.1:",
        "http://127.0.0.1/",
        "http://localhost:",
    ]
    .iter()
    .any(|prefix| url.starts_with(prefix))
}

// ---------------------------------------------------------------------------------------------
// Fake downstream services
// ---------------------------------------------------------------------------------------------

/// One request a [`FakeDownstream`] received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("the request body is not JSON ({e}): {}", self.text()))
    }
}

struct Shared {
    requests: Mutex<Vec<Recorded>>,
    arrived: Notify,
    status: AtomicU16,
    reply_body: Mutex<Vec<u8>>,
    reply_headers: Mutex<HeaderMap>,
    delay: Mutex<Duration>,
}

/// An HTTP server on loopback that records every request and answers a fixed status
/// (200 unless [`FakeDownstream::set_status`] says otherwise). Stops on drop.
pub struct FakeDownstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FakeDownstream {
    /// Listens on a port the OS picks.
    pub async fn start() -> FakeDownstream {
        Self::start_on(0).await
    }

    /// Listens on `127.0.0.1:port`.
    pub async fn start_on(port: u16) -> FakeDownstream {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("binding the fake downstream to port {port}: {e}"));
        let addr = listener.local_addr().expect("the bound address");
        let shared = Arc::new(Shared {
            requests: Mutex::default(),
            arrived: Notify::new(),
            status: AtomicU16::new(200),
            reply_body: Mutex::default(),
            reply_headers: Mutex::default(),
            delay: Mutex::new(Duration::ZERO),
        });
        let app = Router::new()
            .fallback(record)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the fake downstream serves");
        });
        FakeDownstream { addr, shared, task }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The status every later request is answered with.
    pub fn set_status(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// The body every later request is answered with (empty unless set).
    pub fn set_reply_body(&self, body: impl Into<Vec<u8>>) {
        *self.shared.reply_body.lock().unwrap() = body.into();
    }

    /// A header every later answer carries (e.g. `location` with a 302).
    pub fn set_header(&self, name: &'static str, value: &str) {
        let value = value.parse().expect("a valid header value");
        self.shared
            .reply_headers
            .lock()
            .unwrap()
            .insert(name, value);
    }

    /// How long every later request waits (after being recorded) before it is answered.
    pub fn set_delay(&self, delay: Duration) {
        *self.shared.delay.lock().unwrap() = delay;
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived and returns all of them; panics after
    /// `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.shared.arrived.notified();
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                let requests = self.requests();
                if requests.len() >= n {
                    return requests;
                }
                panic!(
                    "expected {n} request(s) at the fake downstream {} within {timeout:?}, \
                     got {}: {requests:#?}",
                    self.addr,
                    requests.len()
                );
            }
        }
    }
}

impl Drop for FakeDownstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    shared.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_else(|| uri.path().to_string()),
        headers,
        body: body.to_vec(),
    });
    shared.arrived.notify_waiters();
    let delay = *shared.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let status =
        StatusCode::from_u16(shared.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK);
    (
        status,
        shared.reply_headers.lock().unwrap().clone(),
        shared.reply_body.lock().unwrap().clone(),
    )
}

/// A loopback port nothing listens on (bound once, then released).
pub fn unused_port() -> u16 {
    let listener = StdTcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().expect("the bound address").port()
}

// ---------------------------------------------------------------------------------------------
// Fixtures and waiting
// ---------------------------------------------------------------------------------------------

/// `tests/fixtures/events/`.
pub fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("events")
}

/// The seed event `tests/fixtures/events/{name}.json`.
pub fn event(name: &str) -> Value {
    let path = events_dir().join(format!("{name}.json"));
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every documented seed event (the examples in Soda's documentation), by file stem, sorted.
pub fn all_events() -> Vec<(String, Value)> {
    let mut names: Vec<String> = fs::read_dir(events_dir())
        .expect("the fixtures directory")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        // `gen3_`: shapes Soda sends that are newer than its documented examples.
        .filter(|name| name.starts_with("gen1_") || name.starts_with("gen2_"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| (name.clone(), event(&name)))
        .collect()
}

/// `event` with every `incidentLinkCallbackUrl` (top level or inside `incident`) set to `url`.
pub fn with_callback_url(mut event: Value, url: &str) -> Value {
    fn walk(value: &mut Value, url: &str) {
        match value {
            Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    if key == "incidentLinkCallbackUrl" {
                        *value = Value::String(url.to_string());
                    } else {
                        walk(value, url);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| walk(item, url)),
            _ => {}
        }
    }
    walk(&mut event, url);
    event
}

/// The second-generation seed `checkEvaluation` with its failing check (the first) named
/// `marker`: the Slack plugin's message names it, so a delivery can be traced to its event.
pub fn failing_check_named(marker: &str) -> Value {
    let mut event = event("gen2_check_evaluation");
    let failing = &mut event["checkResults"][0];
    assert_eq!(failing["outcome"], "fail", "the seed's first check fails");
    failing["name"] = Value::String(marker.to_string());
    failing["id"] = Value::String(marker.to_string());
    event
}

/// `event` (a `checkEvaluation`) with every check result's outcome set to `outcome`.
pub fn with_outcomes(mut event: Value, outcome: &str) -> Value {
    let results = event["checkResults"]
        .as_array_mut()
        .expect("a checkEvaluation event");
    for result in results {
        result["outcome"] = Value::String(outcome.to_string());
    }
    event
}

/// Polls `check` every 50 ms until it holds; panics naming `what` after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    loop {
        if check().await {
            return;
        }
        if started.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        assert_eq!(
            hmac_hex("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn every_fixture_is_a_soda_event() {
        let events = all_events();
        assert_eq!(events.len(), 8);
        for (name, event) in events {
            let kind = event["event"].as_str().unwrap_or_else(|| panic!("{name}"));
            let generation_one = name.starts_with("gen1_");
            assert!(generation_one || name.starts_with("gen2_"), "{name}");
            if kind == "incidentCreated" {
                let top_level = event["incidentLinkCallbackUrl"].is_string();
                let inside = event["incident"]["incidentLinkCallbackUrl"].is_string();
                assert_eq!(
                    (top_level, inside),
                    (generation_one, !generation_one),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn callback_urls_are_rewritten_wherever_they_are() {
        for name in ["gen1_incident_created", "gen2_incident_created"] {
            let event = with_callback_url(event(name), "http://127.0.0.1:9/cb");
            let body = serde_json::to_vec(&event).unwrap();
            assert_only_loopback_callbacks(&body);
            assert!(String::from_utf8(body)
                .unwrap()
                .contains("http://127.0.0.1:9/cb"));
        }
    }

    #[test]
    #[should_panic(expected = "must rewrite")]
    fn posting_a_real_callback_url_is_refused() {
        let body = serde_json::to_vec(&event("gen2_incident_created")).unwrap();
        assert_only_loopback_callbacks(&body);
    }

    #[test]
    fn config_is_written_as_toml() {
        let config = Config::new()
            .tenant(Tenant::hmac("acme", "s\"cret").plugin(
                Plugin::Slack,
                json!({ "webhook_url": "http://127.0.0.1:1/hook" }),
            ))
            .tenant(Tenant::token("globex", "Bearer abc").plugin(Plugin::Trap, json!({})))
            .retry_delays(&["300ms", "1s"]);
        let toml = config.to_toml();
        assert!(
            toml.contains("retry_delays = [\"300ms\", \"1s\"]\n"),
            "{toml}"
        );
        assert!(toml.contains(
            "verify = { scheme = \"hmac-sha256\", header = \"x-soda-signature\", secret = \"s\\\"cret\" }\n"
        ));
        assert!(toml.contains("config = { \"webhook_url\" = \"http://127.0.0.1:1/hook\" }\n"));
        assert!(toml.contains("name = \"fixture_trap\"\nconfig = {}\n"));
        assert_eq!(config.plugins(), [Plugin::Slack, Plugin::Trap]);
        assert!(!toml.contains("max_actions"), "{toml}");
    }

    #[test]
    fn plugin_limits_are_written_under_their_table() {
        let toml = Config::new()
            .deadline("200ms")
            .memory_mib(16)
            .max_actions(250)
            .to_toml();
        assert!(
            toml.contains(
                "[plugin_limits]\ndeadline = \"200ms\"\nmemory_mib = 16\nmax_actions = 250\n\n[delivery]\n"
            ),
            "{toml}"
        );
    }
}
