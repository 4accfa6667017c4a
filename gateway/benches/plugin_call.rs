//! Benchmark: the Slack plugin on a seed `checkEvaluation` (with a failing result), as a
//! sandboxed component (fresh store and instance per event, as the gateway runs it) next to
//! the very same plugin code compiled natively, in one run.
//!
//! Run with `cargo xtask bench` (it builds the plugins first). It prints a table; compare the
//! ratio, not the absolute times, which depend on the machine and its load.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use soda_gateway::config::PluginLimits;
use soda_gateway::events;
use soda_gateway::plugins::bindings::{to_wit_event, wit};
use soda_gateway::plugins::{CallScope, Runtime};
use soda_gateway_plugin_sdk::Plugin as _;

const WARMUP: usize = 300;
const ITERATIONS: usize = 3000;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let wasm = target.join("wasm32-wasip2/plugin/slack.wasm");
    assert!(
        wasm.exists(),
        "{} is missing: run `cargo xtask bench` (it builds the plugins)",
        wasm.display()
    );

    // The first-generation seed, with its result turned into a failure so Slack gets a message.
    let seed =
        std::fs::read_to_string(root.join("tests/fixtures/events/gen1_check_evaluation.json"))
            .expect("seed fixture");
    let mut json: serde_json::Value = serde_json::from_str(&seed).unwrap();
    json["checkResults"][0]["outcome"] = "fail".into();
    let body = json.to_string();
    let parsed = events::parse(body.as_bytes()).expect("seed parses");
    let event = to_wit_event("evt_bench", &parsed, &body);
    let context = wit::Context {
        tenant: "bench".into(),
        config_json: r#"{"webhook_url":"https://hooks.slack.test/services/T/B/X"}"#.into(),
    };

    // The same values as the SDK's types, for the native run.
    let native_event: soda_gateway_plugin_sdk::Event =
        serde_json::from_value(serde_json::to_value(&event).unwrap()).unwrap();
    let native_context: soda_gateway_plugin_sdk::Context =
        serde_json::from_value(serde_json::to_value(&context).unwrap()).unwrap();

    let runtime = Runtime::new(&PluginLimits::default()).expect("engine");
    let compile_started = Instant::now();
    let compiled = runtime.compile_file(&wasm).expect("slack.wasm compiles");
    let compile_time = compile_started.elapsed();
    let scope = CallScope {
        tenant: "bench".into(),
        plugin: "slack".into(),
        event_id: "evt_bench".into(),
    };

    // Both must produce the same Slack request, or the comparison means nothing.
    let in_wasm = runtime
        .call(&compiled, scope.clone(), &event, &context)
        .expect("wasm call");
    let native = slack::Slack::handle(&native_event, &native_context).expect("native call");
    assert_eq!(in_wasm.len(), 1, "one Slack message");
    assert_eq!(
        http_body(&in_wasm[0]),
        native_body(&native[0]),
        "wasm and native produce the same message"
    );

    // The cost of the sandbox alone: a plugin that returns no actions for `validate`.
    let empty = runtime
        .compile_file(&target.join("wasm32-wasip2/plugin/fixture_link.wasm"))
        .expect("fixture_link.wasm compiles");
    let validate = events::parse(br#"{"event":"validate"}"#).unwrap();
    let validate = to_wit_event("evt_bench", &validate, "{}");
    let empty_times = measure(|| {
        runtime
            .call(&empty, scope.clone(), &validate, &context)
            .expect("wasm call");
    });
    let wasm_times = measure(|| {
        runtime
            .call(&compiled, scope.clone(), &event, &context)
            .expect("wasm call");
    });
    let native_times = measure(|| {
        slack::Slack::handle(&native_event, &native_context).expect("native call");
    });

    println!("Slack plugin, seed checkEvaluation with one failing result ({} bytes), {ITERATIONS} iterations", body.len());
    println!(
        "(compiling slack.wasm once: {:.1} ms)",
        compile_time.as_secs_f64() * 1e3
    );
    println!();
    println!("| run | median | p99 | mean | vs native (median) |");
    println!("|---|---|---|---|---|");
    let baseline = median(&native_times);
    for (name, times) in [
        ("native Rust function (baseline)", &native_times),
        ("wasm: new instance + handle()", &wasm_times),
        (
            "wasm: new instance + empty handle() (sandbox cost)",
            &empty_times,
        ),
    ] {
        println!(
            "| {name} | {} | {} | {} | {:.1}x |",
            micros(median(times)),
            micros(percentile(times, 0.99)),
            micros(mean(times)),
            median(times).as_secs_f64() / baseline.as_secs_f64()
        );
    }
}

fn measure(mut run: impl FnMut()) -> Vec<Duration> {
    for _ in 0..WARMUP {
        run();
    }
    let mut times: Vec<Duration> = (0..ITERATIONS)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn mean(times: &[Duration]) -> Duration {
    times.iter().sum::<Duration>() / times.len() as u32
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn http_body(action: &wit::Action) -> Vec<u8> {
    match action {
        wit::Action::Http(request) => request.body.clone().unwrap_or_default(),
        other => panic!("expected an HTTP action, got {other:?}"),
    }
}

fn native_body(action: &soda_gateway_plugin_sdk::Action) -> Vec<u8> {
    match action {
        soda_gateway_plugin_sdk::Action::Http(request) => request.body.clone().unwrap_or_default(),
        other => panic!("expected an HTTP action, got {other:?}"),
    }
}
