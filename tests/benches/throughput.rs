//! Throughput of the real gateway binary (release build) on each store, in one run:
//!
//! - **ingest**: signed `checkEvaluation` events posted by concurrent clients, each answered 200
//!   only once durable, through the Slack plugin; per store, next to the in-memory store.
//! - **delivery**: the rate at which the resulting Slack messages reach a local downstream,
//!   next to a plain reqwest loop sending the same bodies to the same downstream with the same
//!   concurrency as the gateway's worker.
//!
//! Run with `cargo xtask bench` (it builds the plugins and the release binary first). Absolute
//! rates on a shared machine are noise; the ratios are the result.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use soda_gateway_tests::postgres::PgSchema;
use soda_gateway_tests::{failing_check_named, Config, FakeDownstream, Gateway, Plugin, Tenant};
use tokio::task::JoinSet;

/// Events per measurement, after a warm-up.
const EVENTS: usize = 2000;
const WARM_UP: usize = 100;
/// Clients posting at once.
const CLIENTS: usize = 32;
/// The gateway's `delivery.concurrency` (its default), also the baseline loop's.
const DELIVERY_CONCURRENCY: usize = 16;

#[derive(Clone, Copy, PartialEq)]
enum Store {
    Memory,
    Sqlite,
    Postgres,
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::Memory => "in-memory (SQLite :memory:)",
            Store::Sqlite => "SQLite file (durable)",
            Store::Postgres => "PostgreSQL (durable)",
        }
    }
}

struct Measured {
    ingest_per_s: f64,
    delivery_per_s: f64,
}

async fn measure(store: Store) -> Measured {
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let mut config = Config::new().tenant(tenant);
    let schema = match store {
        Store::Postgres => Some(PgSchema::new().await),
        _ => None,
    };
    if let Some(schema) = &schema {
        config = config.postgres(schema);
    }
    if store == Store::Memory {
        config = config.extra_top_level_toml("[store]\nurl = \"sqlite::memory:\"");
    }
    let gateway = Arc::new(Gateway::start(config).await);

    post_all(&gateway, "warm", WARM_UP).await;
    slack.wait_for(WARM_UP, Duration::from_secs(120)).await;

    let started = Instant::now();
    let posting = tokio::spawn({
        let gateway = Arc::clone(&gateway);
        async move { post_all(&gateway, "run", EVENTS).await }
    });
    slack.wait_for(WARM_UP + 1, Duration::from_secs(120)).await;
    let first_delivery = started.elapsed();
    posting.await.expect("the posting task");
    let ingest = started.elapsed();
    slack
        .wait_for(WARM_UP + EVENTS, Duration::from_secs(300))
        .await;
    let last_delivery = started.elapsed();
    drop(gateway);
    Measured {
        ingest_per_s: EVENTS as f64 / ingest.as_secs_f64(),
        delivery_per_s: (EVENTS - 1) as f64 / (last_delivery - first_delivery).as_secs_f64(),
    }
}

/// Posts `count` signed events from [`CLIENTS`] concurrent clients; every one must get 200.
async fn post_all(gateway: &Arc<Gateway>, prefix: &str, count: usize) {
    let mut clients = JoinSet::new();
    for client in 0..CLIENTS {
        let gateway = Arc::clone(gateway);
        let prefix = prefix.to_string();
        clients.spawn(async move {
            for i in (client..count).step_by(CLIENTS) {
                let body = failing_check_named(&format!("{prefix}-{i}"));
                let reply = gateway.send_event("acme", &body).await;
                assert_eq!(reply.status, 200, "{reply:?}");
            }
        });
    }
    while let Some(done) = clients.join_next().await {
        done.expect("a client task");
    }
}

/// A plain reqwest loop: `EVENTS` POSTs of a Slack-sized body, `DELIVERY_CONCURRENCY` at once.
async fn reqwest_loop() -> f64 {
    let downstream = FakeDownstream::start().await;
    let url = downstream.url("/hook");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let body = serde_json::to_vec(&json!({ "text": "x".repeat(600) })).expect("JSON");
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for worker in 0..DELIVERY_CONCURRENCY {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        workers.spawn(async move {
            for _ in (worker..EVENTS).step_by(DELIVERY_CONCURRENCY) {
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("POST");
                assert!(response.status().is_success());
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("a worker");
    }
    EVENTS as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    println!(
        "throughput: {EVENTS} signed checkEvaluation events, {CLIENTS} concurrent clients, \
         Slack plugin, local downstream"
    );
    let mut rows = Vec::new();
    for store in [Store::Memory, Store::Sqlite, Store::Postgres] {
        rows.push((store, measure(store).await));
    }
    let baseline_loop = reqwest_loop().await;
    let memory_ingest = rows[0].1.ingest_per_s;

    println!();
    println!(
        "| {:<28} | {:>12} | {:>10} | {:>14} | {:>14} |",
        "store", "ingest ev/s", "vs memory", "delivered/s", "vs plain loop"
    );
    println!(
        "|{:-<30}|{:->14}|{:->12}|{:->16}|{:->16}|",
        "", "", "", "", ""
    );
    for (store, measured) in &rows {
        println!(
            "| {:<28} | {:>12.0} | {:>9.2}x | {:>14.0} | {:>13.2}x |",
            store.name(),
            measured.ingest_per_s,
            measured.ingest_per_s / memory_ingest,
            measured.delivery_per_s,
            measured.delivery_per_s / baseline_loop
        );
    }
    println!(
        "| {:<28} | {:>12} | {:>10} | {:>14.0} | {:>13.2}x |",
        format!("plain reqwest loop ({DELIVERY_CONCURRENCY} at once)"),
        "-",
        "-",
        baseline_loop,
        1.0
    );
}
