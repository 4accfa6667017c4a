//! The published benchmark (issue 7): the release gateway next to a bare axum endpoint, under
//! the same HTTP load in the same run, and the gateway's resident memory with 1,000 tenants.
//!
//! ```sh
//! cargo build --release -p soda-gateway      # the binary under test (cargo xtask bench does it)
//! cargo run --release -p soda-gateway-bench  # about a minute; --quick for a smoke run
//! ```
//!
//! 1. Starts the bare endpoint ([`bare`], the ceiling) and a second one as the gateway's
//!    downstream, both child processes; then the gateway binary from the same target directory
//!    (`target/release` for a release build of this benchmark), with the durable SQLite store and
//!    one tenant that verifies HMAC-SHA256 and enables the Slack plugin.
//! 2. Measures each target's maximum throughput in a closed loop, then the latency of both at half
//!    the gateway's maximum in an open loop ([`load`]), with the same 2 KiB signed
//!    `checkEvaluation` ([`payload`]) and the same connections.
//! 3. Starts a second gateway with 1,000 tenants × 3 plugins and reads its resident memory
//!    ([`memory`]).
//! 4. Prints the table ([`report`]) and writes it to `bench/results.md`.

mod bare;
mod load;
mod memory;
mod payload;
mod procfs;
mod report;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use soda_gateway_tests::{Config, Gateway, Plugin, Tenant};

use crate::bare::BareEndpoint;
use crate::load::Target;
use crate::report::{Machine, Measured, Report};

const TENANT: &str = "bench";
const SECRET: &str = "bench-secret";
const SIGNATURE_HEADER: &str = "x-soda-signature";
/// Distinct bodies the load cycles through.
const BODIES: usize = 64;
/// How long the gateway may take to deliver its backlog between runs.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);

const USAGE: &str = "\
usage: cargo run --release -p soda-gateway-bench [-- OPTIONS]

  --quick           a smoke run: 0.5 s warm-up and 2 s per measurement; writes no file
  --seconds N       seconds per measurement (default 10)
  --connections N   HTTP/1.1 keep-alive connections (default 64)
  --tenants N       tenants of the memory probe (default 1000)
  --breakdown       also the maximum of the gateway with its store in memory, without its
                    plugin, and both (where the time goes; about 40 s more)
  --out FILE        where to write the table (default bench/results.md; none with --quick)";

struct Settings {
    warm_up: Duration,
    duration: Duration,
    connections: usize,
    tenants: usize,
    /// Events the memory probe sends, to as many tenants.
    memory_events: usize,
    /// Also measure the gateway with parts taken away (store in memory, no plugin).
    breakdown: bool,
    out: Option<String>,
    args: Vec<String>,
}

impl Settings {
    fn from_args(args: Vec<String>) -> Settings {
        let mut settings = Settings {
            warm_up: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            connections: 64,
            tenants: 1000,
            memory_events: 10,
            breakdown: false,
            out: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/results.md").into()),
            args: args.clone(),
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut number = |name: &str| -> u64 {
                args.next()
                    .and_then(|value| value.parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| usage_error(&format!("{name} takes a positive number")))
            };
            match arg.as_str() {
                "--quick" => {
                    settings.warm_up = Duration::from_millis(500);
                    settings.duration = Duration::from_secs(2);
                    settings.out = None;
                }
                "--breakdown" => settings.breakdown = true,
                "--seconds" => settings.duration = Duration::from_secs(number("--seconds")),
                "--connections" => settings.connections = number("--connections") as usize,
                "--tenants" => settings.tenants = number("--tenants") as usize,
                "--out" => {
                    settings.out = Some(
                        args.next()
                            .unwrap_or_else(|| usage_error("--out takes a file")),
                    )
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => usage_error(&format!("unknown argument {other:?}")),
            }
        }
        settings
    }

    fn command(&self) -> String {
        let mut command = "cargo run --release -p soda-gateway-bench".to_string();
        if !self.args.is_empty() {
            command.push_str(" -- ");
            command.push_str(&self.args.join(" "));
        }
        command
    }
}

fn usage_error(message: &str) -> ! {
    eprintln!("{message}\n\n{USAGE}");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(bare::SUBCOMMAND) {
        bare::serve_child();
    }
    let settings = Settings::from_args(args);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let report = runtime.block_on(run(&settings));
    let markdown = report.markdown();
    println!("\n{markdown}");
    if let Some(out) = &settings.out {
        std::fs::write(out, &markdown).unwrap_or_else(|e| panic!("writing {out}: {e}"));
        eprintln!("bench: wrote {out}");
    }
}

fn step(message: &str) {
    eprintln!("bench: {message}");
}

async fn run(settings: &Settings) -> Report {
    let machine = Machine::read();
    if cfg!(debug_assertions) {
        step("WARNING: a debug build measures the debug gateway; use `cargo run --release`");
    }
    let binary = soda_gateway_tests::gateway_binary();
    step(&format!("gateway binary {}", binary.display()));
    let me = std::process::id();

    let bare = BareEndpoint::spawn();
    let sink = BareEndpoint::spawn();
    let bodies = Arc::new(payload::signed_bodies(BODIES, SECRET));
    let path = format!("/hooks/{TENANT}");
    let bare_target = Target::new(bare.addr(), &path, SIGNATURE_HEADER, Arc::clone(&bodies));
    let gateway = Started::start(&sink, Variant::MEASURED).await;
    let gateway_ready = procfs::resident(gateway.pid());
    let gateway_target = Target::new(gateway.addr, &path, SIGNATURE_HEADER, Arc::clone(&bodies));
    let connections = settings.connections;

    step("maximum throughput, bare endpoint (closed loop)");
    let bare_max = load::closed_loop(
        &bare_target,
        connections,
        settings.warm_up,
        settings.duration,
        &[bare.pid(), me],
        None,
    )
    .await;
    step(&format!("  {:.0} req/s", bare_max.requests_per_s));
    step("maximum throughput, gateway (closed loop)");
    let gateway_max = load::closed_loop(
        &gateway_target,
        connections,
        settings.warm_up,
        settings.duration,
        &[gateway.pid(), sink.pid(), me],
        Some(sink.url("/count")),
    )
    .await;
    step(&format!("  {:.0} req/s", gateway_max.requests_per_s));
    let mut accepted = gateway_max.ok_total;
    let drained_after_max = memory::wait_for_count(&sink, accepted, DRAIN_TIMEOUT).await;

    let rate = gateway_max.requests_per_s / 2.0;
    step(&format!(
        "latency at {rate:.0} req/s, bare endpoint (open loop)"
    ));
    let bare_half = load::open_loop(&bare_target, connections, rate, settings.duration).await;
    step(&format!("  p99 {}", report::ms(bare_half.p99)));
    let bare_resident = procfs::resident(bare.pid());
    step(&format!("latency at {rate:.0} req/s, gateway (open loop)"));
    let gateway_half = load::open_loop(&gateway_target, connections, rate, settings.duration).await;
    step(&format!("  p99 {}", report::ms(gateway_half.p99)));
    accepted += gateway_half.ok;
    let drained_after_half = memory::wait_for_count(&sink, accepted, DRAIN_TIMEOUT).await;
    let delivered = sink.count().await;
    let gateway_after_load = procfs::resident(gateway.pid());
    drop(gateway);

    let mut breakdown = Vec::new();
    if settings.breakdown {
        for variant in Variant::BREAKDOWN {
            step(&format!("breakdown: {}", variant.name()));
            let gateway = Started::start(&sink, variant).await;
            let target = Target::new(gateway.addr, &path, SIGNATURE_HEADER, Arc::clone(&bodies));
            let delivered_before = sink.count().await;
            let max = load::closed_loop(
                &target,
                connections,
                settings.warm_up,
                settings.duration,
                &[gateway.pid(), sink.pid(), me],
                Some(sink.url("/count")),
            )
            .await;
            step(&format!("  {:.0} req/s", max.requests_per_s));
            if variant.plugin {
                let expected = delivered_before + max.ok_total;
                memory::wait_for_count(&sink, expected, DRAIN_TIMEOUT).await;
            }
            let at_half = load::open_loop(&target, connections, rate, settings.duration).await;
            step(&format!(
                "  p99 {} at {rate:.0} req/s",
                report::ms(at_half.p99)
            ));
            breakdown.push((variant.name(), Measured { max, at_half }));
        }
    }

    step(&format!(
        "memory: {} tenants × {} plugins",
        settings.tenants,
        memory::PLUGINS.len()
    ));
    let many = memory::many_tenants(settings.tenants, settings.memory_events, &sink).await;
    drop(sink);
    drop(bare);

    let drained = |after: Option<Duration>| {
        after.map_or_else(
            || format!("not within {} s", DRAIN_TIMEOUT.as_secs()),
            |d| format!("{:.1} s after", d.as_secs_f64()),
        )
    };
    Report {
        command: settings.command(),
        machine,
        load: format!(
            "Every request: `POST {path}`, a {}-byte `checkEvaluation` (one failing and one passing \
             check) signed with HMAC-SHA256, over {connections} HTTP/1.1 keep-alive connections \
             from one load generator on the same machine ({} build). Maximum: closed loop, {:.1} s \
             warm-up then {} s. Latency: open loop at half the gateway's maximum ({rate:.0} req/s, \
             the same rate for both targets) for {} s, from each request's scheduled send time.",
            payload::BODY_BYTES,
            if cfg!(debug_assertions) { "**debug**" } else { "release" },
            settings.warm_up.as_secs_f64(),
            settings.duration.as_secs(),
            settings.duration.as_secs(),
        ),
        deliveries: format!(
            "Deliveries: the gateway accepted {accepted} events; its downstream had {delivered} \
             Slack messages (all in: {} the maximum run, {} the half-rate run).",
            drained(drained_after_max),
            drained(drained_after_half),
        ),
        bare: Measured {
            max: bare_max,
            at_half: bare_half,
        },
        gateway: Measured {
            max: gateway_max,
            at_half: gateway_half,
        },
        breakdown,
        bare_resident,
        gateway_ready,
        gateway_after_load,
        many,
    }
}

/// A gateway configuration: the measured one, or one with a part taken away (`--breakdown`).
#[derive(Clone, Copy)]
struct Variant {
    durable: bool,
    plugin: bool,
}

impl Variant {
    const MEASURED: Variant = Variant {
        durable: true,
        plugin: true,
    };
    const BREAKDOWN: [Variant; 3] = [
        Variant {
            durable: false,
            plugin: true,
        },
        Variant {
            durable: true,
            plugin: false,
        },
        Variant {
            durable: false,
            plugin: false,
        },
    ];

    fn name(self) -> &'static str {
        match (self.durable, self.plugin) {
            (true, true) => "gateway: HMAC, Slack plugin, durable SQLite",
            (false, true) => "gateway, in-memory store (`sqlite::memory:`), Slack plugin",
            (true, false) => "gateway, durable SQLite, no plugin",
            (false, false) => "gateway, in-memory store, no plugin",
        }
    }

    /// The tenant: HMAC-SHA256, the Slack plugin posting to `sink`, and quotas out of the way
    /// (the defaults, 50 requests/s and 8 events at once, would answer most of the load `429`).
    fn config(self, sink: &BareEndpoint) -> Config {
        let mut tenant = Tenant::hmac(TENANT, SECRET).quota(
            "{ requests_per_second = 1000000.0, burst = 1000000, concurrent_events = 100000, \
             max_pending_actions = 1000000000 }",
        );
        if self.plugin {
            tenant = tenant.plugin(Plugin::Slack, json!({ "webhook_url": sink.url("/hook") }));
        }
        let mut config = Config::new().tenant(tenant);
        if !self.durable {
            config = config.extra_top_level_toml("[store]\nurl = \"sqlite::memory:\"");
        }
        config
    }
}

/// A gateway started and ready, with what the load needs of it; killed on drop (by [`Gateway`]).
struct Started {
    gateway: Gateway,
    addr: SocketAddr,
}

impl Started {
    async fn start(sink: &BareEndpoint, variant: Variant) -> Started {
        let gateway = Gateway::start(variant.config(sink)).await;
        memory::wait_ready(&gateway).await;
        let addr = gateway
            .url()
            .strip_prefix("http://")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("the gateway's URL {} is not http://ADDR", gateway.url()));
        Started { gateway, addr }
    }

    fn pid(&self) -> u32 {
        self.gateway.pid().expect("the gateway runs")
    }
}
