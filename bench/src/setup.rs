//! The gateway configurations measured, each with issue 7's throughput target, and a gateway
//! started in one of them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use soda_gateway_tests::postgres::PgSchema;
use soda_gateway_tests::{Config, Gateway, Plugin, Tenant, Verify};

use crate::bare::BareEndpoint;
use crate::payload::{SECRET, TENANT, TOKEN, TOKEN_HEADER};

/// One tenant verifying HMAC-SHA256 with the Slack plugin delivering to a local sink, on one of
/// the stores, with inbound deduplication off unless said.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Setup {
    /// The durable SQLite file, deduplication off: the configuration the latency is measured on.
    Sqlite,
    /// The same with deduplication on (the gateway's default window, 1 h), a body of its own
    /// per request and a token instead of the HMAC (see [`crate::payload`]).
    SqliteDedup,
    /// SQLite in memory (`[store] url = "sqlite::memory:"`): what durability costs.
    InMemory,
    /// PostgreSQL (a schema of its own on the development server).
    Postgres,
    /// The durable SQLite file with OpenTelemetry traces on, exported to a local collector (a
    /// bare endpoint of its own): what tracing every event costs.
    Traced,
}

impl Setup {
    /// Every configuration, in the order they are measured.
    pub const ALL: [Setup; 5] = [
        Setup::Sqlite,
        Setup::SqliteDedup,
        Setup::InMemory,
        Setup::Postgres,
        Setup::Traced,
    ];

    /// The configuration `--only` names (`sqlite`, `dedup`, `memory`, `postgres`, `traced`).
    pub fn named(name: &str) -> Option<Setup> {
        Some(match name {
            "sqlite" => Setup::Sqlite,
            "dedup" => Setup::SqliteDedup,
            "memory" => Setup::InMemory,
            "postgres" => Setup::Postgres,
            "traced" => Setup::Traced,
            _ => return None,
        })
    }

    /// Its row's name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Setup::Sqlite => "gateway, durable SQLite, dedup off",
            Setup::SqliteDedup => {
                "gateway, durable SQLite, dedup on (1 h window; token, a new body per request)"
            }
            Setup::InMemory => "gateway, in-memory SQLite (`sqlite::memory:`), dedup off",
            Setup::Postgres => "gateway, PostgreSQL, dedup off",
            Setup::Traced => "gateway, durable SQLite, dedup off, traces on (OTLP/HTTP)",
        }
    }

    /// Issue 7's target: the least maximum throughput, as a fraction of the bare endpoint's.
    /// Tracing is held to the durable gateway's: turning it on must not cost the target.
    pub fn target_ratio(self) -> f64 {
        match self {
            Setup::Sqlite | Setup::Traced => 0.25,
            Setup::SqliteDedup => 0.22,
            Setup::InMemory => 0.50,
            Setup::Postgres => 0.15,
        }
    }

    /// What it is sent: with deduplication on, a new body per request (the others' cycled
    /// bodies would be duplicates).
    pub fn unique_bodies(self) -> bool {
        self == Setup::SqliteDedup
    }

    /// The tenant: HMAC-SHA256 (a token with unique bodies), the Slack plugin posting to `sink`, and quotas out of the way
    /// (the defaults, 50 requests/s and 8 events at once, would answer most of the load `429`);
    /// traces, when on, go to `collector`.
    /// The harness writes `dedup_window = "0s"` unless told otherwise.
    fn config(self, sink: &BareEndpoint, postgres: &PgSchema, collector: &BareEndpoint) -> Config {
        let verify = if self.unique_bodies() {
            Verify::Token {
                header: TOKEN_HEADER.into(),
                value: TOKEN.into(),
            }
        } else {
            Verify::hmac(SECRET)
        };
        let tenant = Tenant::new(TENANT, verify)
            .quota(
                "{ requests_per_second = 1000000.0, burst = 1000000, concurrent_events = 100000, \
                 max_pending_actions = 1000000000 }",
            )
            .plugin(Plugin::Slack, json!({ "webhook_url": sink.url("/hook") }));
        let config = Config::new().tenant(tenant);
        match self {
            Setup::Sqlite => config,
            Setup::SqliteDedup => config.dedup_window("1h"),
            Setup::InMemory => config.extra_top_level_toml("[store]\nurl = \"sqlite::memory:\""),
            Setup::Postgres => config.postgres(postgres),
            Setup::Traced => config.extra_top_level_toml(&format!(
                "traces = {{ endpoint = \"{}\" }}",
                collector.url("/v1/traces")
            )),
        }
    }
}

/// A gateway started and ready; killed on drop (by [`Gateway`]).
pub struct Started {
    gateway: Gateway,
    addr: SocketAddr,
    /// Where its traces go, if they are on; lives as long as the gateway.
    _collector: BareEndpoint,
}

impl Started {
    /// Starts the gateway in `setup`, delivering to `sink`, its PostgreSQL store (if that is the
    /// one) in `postgres`, and waits until `/readyz` answers 200.
    pub async fn start(setup: Setup, sink: &BareEndpoint, postgres: &PgSchema) -> Started {
        let collector = BareEndpoint::spawn();
        let gateway = Gateway::start(setup.config(sink, postgres, &collector)).await;
        wait_ready(&gateway).await;
        let addr = gateway
            .url()
            .strip_prefix("http://")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("the gateway's URL {} is not http://ADDR", gateway.url()));
        Started {
            gateway,
            addr,
            _collector: collector,
        }
    }

    /// The loopback address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id, for `/proc`.
    pub fn pid(&self) -> u32 {
        self.gateway.pid().expect("the gateway runs")
    }
}

/// Polls `GET /readyz` until it answers 200 (the store answers and every plugin is loaded).
pub async fn wait_ready(gateway: &Gateway) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client");
    let url = format!("{}/readyz", gateway.url());
    let deadline = Instant::now() + soda_gateway_tests::START_TIMEOUT;
    loop {
        let answer = client.get(&url).send().await;
        if answer.as_ref().is_ok_and(|a| a.status() == 200) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway was not ready within {:?}: {answer:?}; stderr:\n{}",
            soda_gateway_tests::START_TIMEOUT,
            gateway.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
