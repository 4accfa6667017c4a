//! The published benchmark (issue 7): the release gateway in four configurations next to a bare
//! axum endpoint, under the same HTTP load in the same run, and the gateway's resident memory
//! with 1,000 tenants. See `bench/README.md`.
//!
//! ```sh
//! cargo build --release -p soda-gateway      # the binary under test (cargo xtask bench does it)
//! cargo run --release -p soda-gateway-bench  # a few minutes; --quick for a smoke run
//! ```
//!
//! 1. Starts the bare endpoint ([`bare`], the ceiling) as a child process and measures its
//!    maximum throughput with wrk ([`wrk`], [`measure`]), the signed 2 KiB `checkEvaluation`s of
//!    [`payload`] over the same connections as every other target.
//! 2. For each gateway configuration ([`setup`]: durable SQLite with deduplication off and on,
//!    SQLite in memory, PostgreSQL), starts the gateway binary from the same target directory
//!    with a fresh sink (another bare endpoint) for its Slack plugin, measures its maximum and
//!    its deliveries, then its latency in an open loop ([`load`]) at half the durable SQLite
//!    gateway's maximum; then the bare endpoint's latency at the same rate.
//! 3. Starts a gateway with 1,000 tenants × 3 plugins and reads its resident memory
//!    ([`memory`]).
//! 4. Prints the table ([`report`], with the [`machine`]) and writes it to `bench/results.md`.

mod bare;
mod load;
mod machine;
mod measure;
mod memory;
mod payload;
mod procfs;
mod report;
mod settings;
mod setup;
mod wrk;

use std::sync::Arc;

use soda_gateway_tests::postgres::PgSchema;

use crate::bare::BareEndpoint;
use crate::load::Target;
use crate::machine::Machine;
use crate::measure::Server;
use crate::payload::Requests;
use crate::report::{Measured, Report};
use crate::settings::Settings;
use crate::setup::{Setup, Started};
use crate::wrk::Wrk;

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
    if let Some(setup) = settings.only {
        runtime.block_on(run_only(&settings, setup));
        return;
    }
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

/// `--only`: the bare endpoint's maximum and one gateway configuration's, and the gateway's
/// latency at half its own maximum (open loop), printed.
async fn run_only(settings: &Settings, setup: Setup) {
    let postgres = PgSchema::new().await;
    let requests = if setup.unique_bodies() {
        Requests::unique()
    } else {
        Requests::signed()
    };
    let wrk = Wrk::new(&requests, settings.connections);
    let bare = BareEndpoint::spawn();
    let bare_server = Server {
        addr: bare.addr(),
        pid: bare.pid(),
        sink: None,
    };
    let bare_max = measure::maximum(&wrk, &bare_server, settings.warm_up, settings.duration).await;
    drop(bare);
    let sink = BareEndpoint::spawn();
    let gateway = Started::start(setup, &sink, &postgres).await;
    step(&format!(
        "maximum, {} (wrk), pid {}",
        setup.name(),
        gateway.pid()
    ));
    let server = Server {
        addr: gateway.addr(),
        pid: gateway.pid(),
        sink: Some(&sink),
    };
    let max = measure::maximum(&wrk, &server, settings.warm_up, settings.duration).await;
    let rate = (max.per_s() / 2.0).max(1.0);
    let target = Target::new(gateway.addr(), Arc::new(requests));
    let at_rate = load::open_loop(&target, settings.connections, rate, settings.duration).await;
    println!(
        "bare {:.0} req/s ({} CPU per request); {}: {:.0} req/s, {:.3}x, {} CPU per event; \
         at {rate:.0} req/s p50 {} p99 {}",
        bare_max.per_s(),
        report::us(bare_max.cpu_per_event()),
        setup.name(),
        max.per_s(),
        max.per_s() / bare_max.per_s(),
        report::us(max.cpu_per_event()),
        report::ms(at_rate.p50),
        report::ms(at_rate.p99),
    );
}

async fn run(settings: &Settings) -> Report {
    let machine = Machine::read();
    if cfg!(debug_assertions) {
        step("WARNING: a debug build measures the debug gateway; use `cargo run --release`");
    }
    step(&format!(
        "gateway binary {}",
        soda_gateway_tests::gateway_binary().display()
    ));
    // Before anything is measured, so that a missing server fails the run at once.
    let postgres = PgSchema::new().await;
    let signed = Arc::new(Requests::signed());
    let unique = Arc::new(Requests::unique());
    let wrk_signed = Wrk::new(&signed, settings.connections);
    let wrk_unique = Wrk::new(&unique, settings.connections);

    let bare = BareEndpoint::spawn();
    step("maximum, bare endpoint (wrk)");
    let bare_server = Server {
        addr: bare.addr(),
        pid: bare.pid(),
        sink: None,
    };
    let bare_max = measure::maximum(
        &wrk_signed,
        &bare_server,
        settings.warm_up,
        settings.duration,
    )
    .await;
    step(&format!("  {:.0} req/s", bare_max.per_s()));

    let mut rate = None;
    let mut gateways = Vec::new();
    let (mut durable_ready, mut durable_after_load) = (None, None);
    for setup in Setup::ALL {
        let sink = BareEndpoint::spawn();
        let gateway = Started::start(setup, &sink, &postgres).await;
        let ready = procfs::resident(gateway.pid());
        step(&format!("maximum, {} (wrk)", setup.name()));
        let server = Server {
            addr: gateway.addr(),
            pid: gateway.pid(),
            sink: Some(&sink),
        };
        let (wrk, requests) = if setup.unique_bodies() {
            (&wrk_unique, &unique)
        } else {
            (&wrk_signed, &signed)
        };
        let max = measure::maximum(wrk, &server, settings.warm_up, settings.duration).await;
        step(&format!(
            "  {:.0} req/s, gateway CPU {} per event",
            max.per_s(),
            report::us(max.cpu_per_event())
        ));
        // The first, durable SQLite, sets the rate for every target.
        let rate = *rate.get_or_insert((max.per_s() / 2.0).max(1.0));
        step(&format!("latency at {rate:.0} req/s (open loop)"));
        let target = Target::new(gateway.addr(), Arc::clone(requests));
        let at_rate = load::open_loop(&target, settings.connections, rate, settings.duration).await;
        step(&format!("  p99 {}", report::ms(at_rate.p99)));
        if setup == Setup::Sqlite {
            durable_ready = Some(ready);
            durable_after_load = Some(procfs::resident(gateway.pid()));
        }
        gateways.push((setup, Measured { max, at_rate }));
    }
    let rate = rate.expect("at least one gateway configuration");
    step(&format!(
        "latency at {rate:.0} req/s, bare endpoint (open loop)"
    ));
    let target = Target::new(bare.addr(), Arc::clone(&signed));
    let bare_at_rate =
        load::open_loop(&target, settings.connections, rate, settings.duration).await;
    step(&format!("  p99 {}", report::ms(bare_at_rate.p99)));
    let bare_resident = procfs::resident(bare.pid());
    drop(bare);

    step(&format!(
        "memory: {} tenants × {} plugins",
        settings.tenants,
        memory::PLUGINS.len()
    ));
    let sink = BareEndpoint::spawn();
    let many = memory::many_tenants(settings.tenants, settings.memory_events, &sink).await;

    Report {
        command: settings.command(),
        machine,
        connections: settings.connections,
        warm_up: settings.warm_up,
        duration: settings.duration,
        rate,
        bare: Measured {
            max: bare_max,
            at_rate: bare_at_rate,
        },
        gateways,
        bare_resident,
        gateway_ready: durable_ready.expect("the durable gateway was measured"),
        gateway_after_load: durable_after_load.expect("the durable gateway was measured"),
        many,
    }
}
