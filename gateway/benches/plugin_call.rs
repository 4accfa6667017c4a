//! Benchmark of the plugin runtime, each figure next to a baseline measured in the same run:
//!
//! 1. One event through the Slack plugin (seed `checkEvaluation` with a failing result): a fresh
//!    sandboxed instance + `handle()`, as the gateway runs it, next to the very same plugin code
//!    compiled natively, and next to an empty plugin (the sandbox's own cost).
//!    The same event through the Python (componentize-py) and JavaScript (componentize-js)
//!    reference plugins, on the same native baseline.
//! 2. Loading the plugins folder at start: cold (compiling) next to warm (compile cache).
//! 3. Hot reload: from writing a new plugin file to the first event it serves (in-process: the
//!    watcher, the load and one call; no HTTP), next to loading the same file directly.
//!
//! Run with `cargo xtask bench` (it builds the plugins first). Compare ratios, not absolute
//! times, which depend on the machine and its load.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use soda_gateway::config::PluginLimits;
use soda_gateway::events;
use soda_gateway::plugins::bindings::{into_wit_event, wit};
use soda_gateway::plugins::{
    loader, watcher, CallScope, CompileCache, Enabled, Invocation, PluginState, Registry, Runtime,
    StateSource, WarmKey,
};
use soda_gateway_plugin_sdk::Plugin as _;

const WARMUP: usize = 300;
const ITERATIONS: usize = 3000;
const RELOAD_ROUNDS: usize = 5;
/// Python and JavaScript calls take milliseconds: fewer of them suffice.
const GUEST_ITERATIONS: usize = 300;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let plugins = target.join("wasm32-wasip2/plugin");
    let slack = plugins.join("slack.wasm");
    assert!(
        slack.exists(),
        "{} is missing: run `cargo xtask bench` (it builds the plugins)",
        slack.display()
    );
    let limits = PluginLimits::default();
    let runtime = Runtime::new(limits.memory_bytes()).expect("engine");

    per_event(&root, &runtime, &plugins, &limits);
    start_up(&plugins);
    hot_reload(&plugins);
}

/// Runs a plugin call to completion on this thread, as the gateway's async runtime would.
fn block_on<F: std::future::Future>(call: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime");
    }
    RUNTIME.with(|runtime| runtime.block_on(call))
}

/// Section 1: one event, in wasm and natively.
fn per_event(root: &Path, runtime: &Runtime, plugins: &Path, limits: &PluginLimits) {
    // The first-generation seed, with its result turned into a failure so Slack gets a message.
    let seed =
        std::fs::read_to_string(root.join("tests/fixtures/events/gen1_check_evaluation.json"))
            .expect("seed fixture");
    let mut json: serde_json::Value = serde_json::from_str(&seed).unwrap();
    json["checkResults"][0]["outcome"] = "fail".into();
    let body = json.to_string();
    let parsed = events::parse(body.as_bytes()).expect("seed parses");
    let event = into_wit_event("evt_bench", parsed, body.as_bytes()).expect("reaches plugins");
    let context = wit::Context {
        tenant: "bench".into(),
        config_json: r#"{"webhook_url":"https://hooks.slack.test/services/T/B/X"}"#.into(),
    };
    // The same values as the SDK's types, for the native run.
    let native_event: soda_gateway_plugin_sdk::Event =
        serde_json::from_value(serde_json::to_value(&event).unwrap()).unwrap();
    let native_context: soda_gateway_plugin_sdk::Context =
        serde_json::from_value(serde_json::to_value(&context).unwrap()).unwrap();

    let slack = loader::load(runtime, None, &plugins.join("slack.wasm")).expect("slack loads");
    let empty = loader::load(runtime, None, &plugins.join("fixture_link.wasm")).expect("loads");
    // `warm`: run on an instance kept from the previous call (as the gateway does for Python and
    // JavaScript plugins), instead of a fresh one.
    let call_in =
        |plugin: &loader::LoadedPlugin, event: &wit::Event, context: &wit::Context, warm: bool| {
            let scope = CallScope {
                tenant: "bench".into(),
                plugin: plugin.name.clone(),
                event_id: event.id.clone(),
            };
            let call = Invocation {
                compiled: &plugin.compiled,
                scope,
                state: PluginState::new(StateSource::Empty, "bench", &plugin.name),
                limits,
                time_left: limits.timeout,
                reuse: warm.then(|| WarmKey {
                    tenant: "bench".into(),
                    sha256: plugin.sha256.clone(),
                    config_json: context.config_json.clone(),
                }),
            };
            block_on(runtime.call(call, event, context)).expect("wasm call")
        };
    let call_with = |plugin: &loader::LoadedPlugin, event: &wit::Event, context: &wit::Context| {
        call_in(plugin, event, context, false)
    };
    let call =
        |plugin: &loader::LoadedPlugin, event: &wit::Event| call_with(plugin, event, &context);

    // Both must produce the same Slack request, or the comparison means nothing.
    let in_wasm = call(&slack, &event).actions;
    let native = slack::Slack::handle(&native_event, &native_context).expect("native call");
    assert_eq!(in_wasm.len(), 1, "one Slack message");
    assert_eq!(
        http_body(&in_wasm[0]),
        native_body(&native[0]),
        "wasm and native produce the same message"
    );

    // An event type no plugin acts on: the cost of a call that returns nothing.
    let ignored = events::parse(br#"{"event":"schemaChanged"}"#).unwrap();
    let ignored = into_wit_event("evt_bench", ignored, b"{}").expect("reaches plugins");
    let native_times = measure(|| {
        slack::Slack::handle(&native_event, &native_context).expect("native call");
    });
    let wasm_times = measure(|| {
        call(&slack, &event);
    });
    let empty_times = measure(|| {
        call(&empty, &ignored);
    });
    let warm_times = measure(|| {
        call_in(&slack, &event, &context, true);
    });
    let warm_empty_times = measure(|| {
        call_in(&empty, &ignored, &context, true);
    });
    // The Python and JavaScript plugins post the same failing check elsewhere.
    let guest = |file: &str, url: &str| {
        let plugin = loader::load(runtime, None, &plugins.join(file)).expect("loads");
        let context = wit::Context {
            tenant: "bench".into(),
            config_json: serde_json::json!({ "webhook_url": url }).to_string(),
        };
        let actions = call_with(&plugin, &event, &context).actions;
        assert_eq!(
            actions.len(),
            1,
            "{file}: one request for the failing check"
        );
        let fresh = measure_n(GUEST_ITERATIONS, || {
            call_with(&plugin, &event, &context);
        });
        let warm = measure_n(GUEST_ITERATIONS, || {
            call_in(&plugin, &event, &context, true);
        });
        (fresh, warm)
    };
    let (python_times, python_warm) =
        guest("jira_automation.wasm", "https://jira.test/automation/hook");
    let (javascript_times, javascript_warm) =
        guest("teams_workflow.wasm", "https://teams.test/workflows/hook");

    println!(
        "## One event: Slack plugin, seed checkEvaluation with one failing result ({} bytes), {ITERATIONS} iterations",
        body.len()
    );
    println!();
    println!("| run | median | p99 | vs native (median) |");
    println!("|---|---|---|---|");
    let baseline = median(&native_times);
    for (name, times) in [
        ("Rust, native function (baseline)", &native_times),
        ("Rust, wasm: new instance + handle()", &wasm_times),
        ("Rust, wasm: warm instance + handle()", &warm_times),
        (
            "wasm: new instance + empty handle() (sandbox cost)",
            &empty_times,
        ),
        (
            "wasm: warm instance + empty handle() (sandbox cost, reused)",
            &warm_empty_times,
        ),
        (
            "Python (componentize-py), jira_automation: new instance + handle()",
            &python_times,
        ),
        (
            "Python (componentize-py), jira_automation: warm instance + handle()",
            &python_warm,
        ),
        (
            "JavaScript (componentize-js), teams_workflow: new instance + handle()",
            &javascript_times,
        ),
        (
            "JavaScript (componentize-js), teams_workflow: warm instance + handle()",
            &javascript_warm,
        ),
    ] {
        println!(
            "| {name} | {} | {} | {:.1}x |",
            micros(median(times)),
            micros(percentile(times, 0.99)),
            ratio(median(times), baseline)
        );
    }
    println!();
}

/// Section 2: loading a plugins folder with a cold and a warm compile cache.
fn start_up(plugins: &Path) {
    let folder = tempfile::tempdir().unwrap();
    std::fs::copy(plugins.join("slack.wasm"), folder.path().join("slack.wasm")).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let open = || {
        let runtime = Runtime::new(PluginLimits::default().memory_bytes()).expect("engine");
        let cache = CompileCache::new(cache_dir.path()).unwrap();
        let started = Instant::now();
        let registry = Registry::open(
            runtime,
            folder.path(),
            Some(cache),
            Default::default(),
            Default::default(),
        )
        .expect("opens");
        assert!(registry.contains("slack"));
        started.elapsed()
    };
    let cold = open();
    let warm: Vec<Duration> = (0..RELOAD_ROUNDS).map(|_| open()).collect();
    let warm = warm.iter().min().copied().unwrap_or_default();
    println!("## Start-up: loading slack.wasm from the plugins folder");
    println!();
    println!("| run | time | vs cold |");
    println!("|---|---|---|");
    println!(
        "| cold: compile and write the cache (baseline) | {} | 1.00x |",
        millis(cold)
    );
    println!(
        "| warm: checked load from the compile cache (best of {RELOAD_ROUNDS}) | {} | {:.2}x |",
        millis(warm),
        ratio(warm, cold)
    );
    println!();
}

/// Section 3: a new plugin file, picked up by the watcher, serving its first event.
fn hot_reload(plugins: &Path) {
    let folder = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(PluginLimits::default().memory_bytes()).expect("engine");
    let registry = Arc::new(
        Registry::open(
            runtime,
            folder.path(),
            None,
            Default::default(),
            Default::default(),
        )
        .expect("opens"),
    );
    let _watcher = watcher::watch(registry.clone()).expect("watches");
    let bytes = std::fs::read(plugins.join("slack.wasm")).unwrap();
    // An event type no plugin acts on: the cost of a call that returns nothing.
    let ignored = events::parse(br#"{"event":"schemaChanged"}"#).unwrap();
    let ignored = into_wit_event("evt_bench", ignored, b"{}").expect("reaches plugins");
    let mut to_first_event = Vec::new();
    for round in 0..RELOAD_ROUNDS {
        // A different file each round (one extra byte in a custom section changes its hash).
        let name = format!("slack_{round}");
        let staged = folder.path().join(format!("{name}.part"));
        std::fs::write(&staged, with_custom_section(&bytes, round)).unwrap();
        let written = Instant::now();
        std::fs::rename(&staged, folder.path().join(format!("{name}.wasm"))).unwrap();
        while !registry.contains(&name) {
            assert!(
                written.elapsed() < Duration::from_secs(30),
                "{name} never loaded"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let enabled = [Enabled {
            name: name.clone(),
            config_json: r#"{"webhook_url":"https://hooks.slack.test/x"}"#.into(),
            limits: PluginLimits::default(),
        }];
        let budget = Duration::from_secs(5);
        let runs = block_on(registry.run("bench", &enabled, &ignored, &StateSource::Empty, budget))
            .expect("an instance is free");
        assert!(runs[0].outcome.is_ok(), "{:?}", runs[0].outcome);
        to_first_event.push(written.elapsed());
    }
    let runtime = Runtime::new(PluginLimits::default().memory_bytes()).expect("engine");
    let direct: Vec<Duration> = (0..RELOAD_ROUNDS)
        .map(|round| {
            let file = folder.path().join(format!("slack_{round}.wasm"));
            let started = Instant::now();
            loader::load(&runtime, None, &file).expect("loads");
            started.elapsed()
        })
        .collect();
    to_first_event.sort();
    let mut direct = direct;
    direct.sort();
    println!("## Hot reload: a new slack.wasm written into the watched folder ({RELOAD_ROUNDS} rounds, median)");
    println!();
    println!("| run | time | vs direct load |");
    println!("|---|---|---|");
    println!(
        "| load the file directly, no watcher (baseline) | {} | 1.00x |",
        millis(median(&direct))
    );
    println!(
        "| file renamed into the folder → first event served ({} ms debounce included) | {} | {:.2}x |",
        soda_gateway::watch::DEBOUNCE.as_millis(),
        millis(median(&to_first_event)),
        ratio(median(&to_first_event), median(&direct))
    );
}

/// A component with an extra custom section at its end, so that its hash differs.
fn with_custom_section(component: &[u8], tag: usize) -> Vec<u8> {
    let name = b"bench";
    let payload = tag.to_le_bytes();
    let mut out = component.to_vec();
    out.push(0); // custom section id
    out.push((1 + name.len() + payload.len()) as u8); // section size (fits in one LEB byte)
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out
}

fn measure(run: impl FnMut()) -> Vec<Duration> {
    measure_n(ITERATIONS, run)
}

/// `iterations` timed runs after a warm-up of a tenth as many, sorted.
fn measure_n(iterations: usize, mut run: impl FnMut()) -> Vec<Duration> {
    for _ in 0..WARMUP.min(iterations / 10).max(1) {
        run();
    }
    let mut times: Vec<Duration> = (0..iterations)
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

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
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
