//! Harness for the hot-reload, compile-cache and command-line tests (`tests/tests/hot_reload.rs`,
//! `tests/tests/cli.rs`).
//!
//! Those tests handle plugin files themselves: they copy fixtures into a running gateway's
//! plugins directory under names of their choosing (`echo.wasm`), replace them atomically,
//! delete them, corrupt the compile cache, and read what the gateway logs about it. Plugins are
//! therefore named by file stem here, not by [`Plugin`](crate::Plugin), and tenants are written
//! as an inline `tenants = [...]` array through [`Config::extra_top_level_toml`], which the
//! gateway reads exactly like `[[tenants]]` tables.
//!
//! Build outputs these tests need besides the harness's: `cargo build --profile plugin --target
//! wasm32-wasip2 -p fixture-echo-v1 -p fixture-echo-v2 -p fixture-other-version -p fixture-handle-only`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{gateway_binary, Config, Gateway, Reply, Verify};

/// The current contract version, as the gateway's messages name it.
pub const CONTRACT: &str = "soda:gateway@0.2.0";

/// The first released contract version, which the gateway still loads.
pub const FIRST_CONTRACT: &str = "soda:gateway@0.1.0";

/// Every contract version the gateway loads, as its messages list them.
pub const SUPPORTED: &str = "soda:gateway@0.2.0 and soda:gateway@0.1.0";

/// The contract version [`Fixture::OtherVersion`] was built for.
pub const OTHER_CONTRACT: &str = "soda:gateway@9.9.9";

/// The header of a core WebAssembly module (magic, version 1, layer 0) and nothing else.
pub const CORE_MODULE_HEADER: &[u8] = b"\0asm\x01\0\0\0";

/// Bytes that are no WebAssembly at all.
pub const GARBAGE: &[u8] = b"this is not a WebAssembly component, just some garbage bytes\n";

/// Fixture plugins built from `plugins/fixtures/` that the [`Plugin`](crate::Plugin) enum does
/// not list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fixture {
    /// `fixture-echo-v1`: answers every event with one `POST` to its config key `url`, body
    /// `{"version": 1, "event": <event id>, "checks": [<check result ids>]}`.
    EchoV1,
    /// `fixture-echo-v2`: the same with `"version": 2`.
    EchoV2,
    /// `fixture-other-version`: a well-formed plugin built for `soda:gateway@9.9.9`.
    OtherVersion,
    /// `fixture-handle-only`: a plugin of the current `plugin` world (no `on-response`) that
    /// answers every event with one `POST {"event": <id>}` to its config key `url`, setting
    /// its config key `continuation` (if any) as the request's continuation.
    HandleOnly,
    /// The Slack plugin as built for `soda:gateway@0.1.0`, before 0.2.0 existed: committed in
    /// `tests/fixtures/plugins/` (see the README there), never rebuilt.
    SlackContract0_1,
}

impl Fixture {
    /// The package name, as `cargo build -p` takes it.
    pub fn package(self) -> &'static str {
        match self {
            Fixture::EchoV1 => "fixture-echo-v1",
            Fixture::EchoV2 => "fixture-echo-v2",
            Fixture::OtherVersion => "fixture-other-version",
            Fixture::HandleOnly => "fixture-handle-only",
            Fixture::SlackContract0_1 => "slack (contract 0.1.0)",
        }
    }

    /// The built component: `target/wasm32-wasip2/plugin/<package with _>.wasm`, or the
    /// committed file.
    pub fn wasm_path(self) -> PathBuf {
        if self == Fixture::SlackContract0_1 {
            return Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/plugins/slack_contract_0_1_0.wasm");
        }
        let path = built_plugins_dir().join(format!("{}.wasm", self.package().replace('-', "_")));
        assert!(
            path.is_file(),
            "the plugin {} is missing: run `cargo build --profile plugin --target wasm32-wasip2 \
             -p fixture-echo-v1 -p fixture-echo-v2 -p fixture-other-version \
             -p fixture-handle-only` before the black-box tests (`cargo xtask test` does it)",
            path.display()
        );
        path
    }

    /// The component's bytes.
    pub fn bytes(self) -> Vec<u8> {
        let path = self.wasm_path();
        fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }
}

/// `target/wasm32-wasip2/plugin`, where `--profile plugin` builds put components.
fn built_plugins_dir() -> PathBuf {
    let binary = gateway_binary();
    binary
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected gateway binary location {}", binary.display()))
        .join("wasm32-wasip2")
        .join("plugin")
}

/// Hex SHA-256, as the gateway logs a plugin file's digest.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// ---------------------------------------------------------------------------------------------
// Tenants whose plugins are named by file stem
// ---------------------------------------------------------------------------------------------

/// A tenant authenticated with HMAC-SHA256 in `x-soda-signature` whose plugins are named by
/// file stem (`echo` for `echo.wasm`).
#[derive(Clone, Debug)]
pub struct NamedTenant {
    pub id: String,
    pub secret: String,
    pub plugins: Vec<(String, Value)>,
}

impl NamedTenant {
    pub fn new(id: &str, secret: &str) -> Self {
        NamedTenant {
            id: id.into(),
            secret: secret.into(),
            plugins: Vec::new(),
        }
    }

    /// Enables the plugin `name` (a file stem) with `config` (a JSON object).
    pub fn plugin(mut self, name: &str, config: Value) -> Self {
        self.plugins.push((name.into(), config));
        self
    }

    /// The headers that authenticate `body` for this tenant.
    pub fn headers_for(&self, body: &[u8]) -> Vec<(String, String)> {
        Verify::hmac(&self.secret).headers_for(body)
    }

    /// This tenant as an inline TOML table.
    fn to_inline_toml(&self) -> String {
        let plugins: Vec<String> = self
            .plugins
            .iter()
            .map(|(name, config)| {
                format!(
                    "{{ name = {}, config = {} }}",
                    inline_toml(&Value::String(name.clone())),
                    inline_toml(config)
                )
            })
            .collect();
        format!(
            "{{ id = {}, verify = {{ scheme = \"hmac-sha256\", header = \"x-soda-signature\", \
             secret = {} }}, plugins = [{}] }}",
            inline_toml(&Value::String(self.id.clone())),
            inline_toml(&Value::String(self.secret.clone())),
            plugins.join(", ")
        )
    }
}

/// The harness's test-friendly config with `tenants` (and no `[[tenants]]` tables).
pub fn config_with(tenants: &[NamedTenant]) -> Config {
    let tenants: Vec<String> = tenants.iter().map(NamedTenant::to_inline_toml).collect();
    Config::new().extra_top_level_toml(&format!("tenants = [{}]", tenants.join(", ")))
}

/// A JSON value as an inline TOML value.
fn inline_toml(value: &Value) -> String {
    match value {
        Value::Null => panic!("TOML has no null"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        // JSON string escapes are valid TOML basic-string escapes.
        Value::String(s) => serde_json::to_string(s).expect("strings serialize"),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline_toml).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{} = {}",
                        inline_toml(&Value::String(k.clone())),
                        inline_toml(v)
                    )
                })
                .collect();
            format!("{{ {} }}", entries.join(", "))
        }
    }
}

/// Sends `event` to `/hooks/{tenant}`, signed as `tenant`.
pub async fn send(gateway: &Gateway, tenant: &NamedTenant, event: &Value) -> Reply {
    let body = serde_json::to_vec(event).expect("JSON");
    let headers = tenant.headers_for(&body);
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    gateway.post(&tenant.id, body, &headers).await
}

// ---------------------------------------------------------------------------------------------
// The gateway's directories
// ---------------------------------------------------------------------------------------------

/// The gateway's `data/` directory.
pub fn data_dir(gateway: &Gateway) -> PathBuf {
    gateway
        .db_path()
        .parent()
        .expect("the database lives in data/")
        .to_path_buf()
}

/// The gateway's `plugins/` directory (next to `data/`).
pub fn plugins_dir(gateway: &Gateway) -> PathBuf {
    data_dir(gateway)
        .parent()
        .expect("data/ lives in the gateway's directory")
        .join("plugins")
}

/// `data/plugin-cache/`.
pub fn cache_dir(gateway: &Gateway) -> PathBuf {
    data_dir(gateway).join("plugin-cache")
}

/// The compile cache's entries (`*.cwasm`), sorted.
pub fn cache_entries(gateway: &Gateway) -> Vec<PathBuf> {
    let dir = cache_dir(gateway);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .collect();
    paths.sort();
    paths
}

/// `plugins/{name}.wasm`.
pub fn plugin_file(gateway: &Gateway, name: &str) -> PathBuf {
    plugins_dir(gateway).join(format!("{name}.wasm"))
}

/// Puts `bytes` at `plugins/{name}.wasm` atomically: written to a name without the `.wasm`
/// extension in the same directory, then renamed over the target.
pub fn install(gateway: &Gateway, name: &str, bytes: &[u8]) {
    let target = plugin_file(gateway, name);
    let partial = plugins_dir(gateway).join(format!(".{name}.wasm.partial"));
    fs::write(&partial, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", partial.display()));
    fs::rename(&partial, &target).unwrap_or_else(|e| {
        panic!(
            "renaming {} to {}: {e}",
            partial.display(),
            target.display()
        )
    });
}

/// Deletes `plugins/{name}.wasm`.
pub fn remove(gateway: &Gateway, name: &str) {
    let path = plugin_file(gateway, name);
    fs::remove_file(&path).unwrap_or_else(|e| panic!("deleting {}: {e}", path.display()));
}

// ---------------------------------------------------------------------------------------------
// The gateway's log
// ---------------------------------------------------------------------------------------------

/// One stderr line with the gateway's `key=value` fields.
#[derive(Clone, Debug)]
pub struct LogLine(pub String);

impl LogLine {
    /// Whether the line has the field `key=value` (a whole whitespace-separated token).
    pub fn has(&self, key: &str, value: &str) -> bool {
        let field = format!("{key}={value}");
        self.0.split_whitespace().any(|token| token == field)
    }

    /// Whether the line contains `text`.
    pub fn contains(&self, text: &str) -> bool {
        self.0.contains(text)
    }

    /// Whether the line was logged at `level` (`INFO`, `ERROR` ...).
    pub fn is_level(&self, level: &str) -> bool {
        self.0.split_whitespace().any(|token| token == level)
    }
}

/// A position in the gateway's stderr, to look only at what it logs afterwards (for example
/// after a restart: stderr accumulates over all runs).
#[derive(Clone, Copy, Debug, Default)]
pub struct LogMark(usize);

/// Where the gateway's stderr ends now.
pub fn log_mark(gateway: &Gateway) -> LogMark {
    LogMark(gateway.stderr().len())
}

/// The lines the gateway logged on stderr since `since`.
pub fn log_lines(gateway: &Gateway, since: LogMark) -> Vec<LogLine> {
    let stderr = gateway.stderr();
    stderr
        .get(since.0..)
        .unwrap_or_default()
        .lines()
        .map(|line| LogLine(line.to_owned()))
        .collect()
}

/// Waits until the gateway logs, after `since`, a line `matches` accepts, and returns it;
/// panics naming `what` (with the log) after `timeout`.
pub async fn wait_for_log(
    gateway: &Gateway,
    since: LogMark,
    what: &str,
    timeout: Duration,
    matches: impl Fn(&LogLine) -> bool,
) -> LogLine {
    let started = Instant::now();
    loop {
        if let Some(line) = log_lines(gateway, since).into_iter().find(&matches) {
            return line;
        }
        if started.elapsed() > timeout {
            panic!(
                "timed out after {timeout:?} waiting until the gateway logs {what}; its stderr \
                 since:\n{}",
                log_lines(gateway, since)
                    .iter()
                    .map(|line| line.0.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the gateway logs that it loaded the plugin `name` from exactly `bytes` (by
/// their SHA-256), and returns that line.
pub async fn wait_for_loaded(
    gateway: &Gateway,
    since: LogMark,
    name: &str,
    bytes: &[u8],
    timeout: Duration,
) -> LogLine {
    let sha256 = sha256_hex(bytes);
    wait_for_log(
        gateway,
        since,
        &format!("`plugin loaded` for {name} with sha256={sha256}"),
        timeout,
        |line| {
            line.contains("plugin loaded")
                && line.has("plugin", name)
                && line.has("sha256", &sha256)
        },
    )
    .await
}

/// Installs `bytes` as `plugins/{name}.wasm` and waits until the gateway has loaded them.
pub async fn install_and_wait(gateway: &Gateway, name: &str, bytes: &[u8], timeout: Duration) {
    let mark = log_mark(gateway);
    install(gateway, name, bytes);
    wait_for_loaded(gateway, mark, name, bytes, timeout).await;
}

/// Waits until the gateway logs, after `since`, that it rejected `plugins/{name}.wasm`, and
/// returns that line.
pub async fn wait_for_rejection(
    gateway: &Gateway,
    since: LogMark,
    name: &str,
    timeout: Duration,
) -> LogLine {
    let needle = format!(
        "plugin rejected: {}: ",
        plugin_file(gateway, name).display()
    );
    wait_for_log(gateway, since, &format!("`{needle}...`"), timeout, |line| {
        line.contains(&needle)
    })
    .await
}
