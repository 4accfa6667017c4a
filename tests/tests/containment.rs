//! Containment: hostile plugins that block in host calls, flood the host with state operations
//! or log lines, exhaust the instance pool, outnumber the plugin threads or fan a chain out are
//! held to their limits, and another tenant's events are answered and delivered meanwhile.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use soda_gateway_tests::reload::install_and_wait;
use soda_gateway_tests::{
    event, wait_until, with_outcomes, Config, FakeDownstream, Gateway, Plugin, PluginRun, Tenant,
    SOON,
};
use tokio::task::JoinSet;

const TOKEN: &str = "metrics-s3cret";
/// The tenant whose plugin attacks.
const HOSTILE: &str = "acme";
/// The tenant that must not notice.
const BYSTANDER: &str = "other";
/// How long the bystander's answer may take: far above what a busy machine adds, well under
/// the 60 s the sleeping attacks would hold it up if it waited on them.
const BYSTANDER_ANSWER: Duration = Duration::from_secs(20);

/// A `checkEvaluation` with failing checks: Slack posts one message for it.
fn failing_check() -> Value {
    with_outcomes(event("gen1_check_evaluation"), "fail")
}

/// The attacking tenant: the hostile plugin with `attack` as its config.
fn hostile(attack: Value) -> Tenant {
    Tenant::hmac(HOSTILE, "s3cret").plugin(Plugin::Hostile, attack)
}

/// The bystander: Slack posting to `slack`.
fn bystander(slack: &FakeDownstream) -> Tenant {
    Tenant::hmac(BYSTANDER, "0th3r")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }))
}

fn config(attack: Value, slack: &FakeDownstream) -> Config {
    Config::new()
        .tenant(hostile(attack))
        .tenant(bystander(slack))
}

/// Sends the bystander's event and expects it answered without waiting on the attack, and
/// its message delivered. (A busy machine makes "at once" seconds: a test that must tell a
/// held-up bystander from a served one compares with the attack's own progress instead.)
async fn bystander_is_served(gateway: &Gateway, slack: &FakeDownstream, nth: usize) {
    let reply = gateway.send_event(BYSTANDER, &failing_check()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply.elapsed < BYSTANDER_ANSWER,
        "the bystander is answered without waiting on the attack: {reply:?}"
    );
    slack.wait_for(nth, SOON).await;
}

/// The runs of the hostile plugin.
async fn hostile_runs(gateway: &Gateway) -> Vec<PluginRun> {
    let runs = gateway.plugin_runs().await;
    runs.into_iter()
        .filter(|run| run.plugin == Plugin::Hostile.name())
        .collect()
}

/// Asserts every run of the hostile plugin failed naming `words`, and there is one.
async fn assert_hostile_failed(gateway: &Gateway, words: &[&str]) {
    let runs = hostile_runs(gateway).await;
    assert!(!runs.is_empty(), "the hostile plugin ran");
    for run in runs {
        let error = run.error.clone().unwrap_or_default();
        for word in words {
            assert!(error.contains(word), "the error mentions {word:?}: {run:?}");
        }
    }
}

async fn metric(gateway: &Gateway, name: &str) -> f64 {
    let response = reqwest::Client::new()
        .get(format!("{}/metrics", gateway.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("metrics answer");
    let text = response.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} in {text}"))
        .parse()
        .unwrap()
}

fn with_admin(config: Config, top_level: &str) -> Config {
    config.extra_top_level_toml(&format!("{top_level}\n[admin]\ntoken = \"{TOKEN}\""))
}

fn rss_mib(gateway: &Gateway) -> u64 {
    let pid = gateway.pid().expect("the gateway runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib / 1024
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_asleep_in_a_host_call_is_abandoned_at_its_timeout() {
    let slack = FakeDownstream::start().await;
    let sink = FakeDownstream::start().await;
    let attack = json!({ "mode": "sleep", "seconds": 60, "url": sink.url("/woke") });
    let config = with_admin(
        config(attack, &slack),
        "[plugin_overrides.fixture_hostile]\ntimeout = \"1s\"",
    );
    let gateway = Gateway::start(config).await;

    let event = failing_check();
    let sleeper = gateway.send_event(HOSTILE, &event);
    let (reply, ()) = tokio::join!(sleeper, async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        bystander_is_served(&gateway, &slack, 1).await;
    });
    assert_eq!(reply.status, 200, "{reply:?}");
    // The recorded error below names the timeout; this bound, half the sleep, leaves a busy
    // machine tens of seconds.
    assert!(
        reply.elapsed < Duration::from_secs(30),
        "answered at the 1 s timeout, not after the 60 s sleep: {reply:?}"
    );
    assert_hostile_failed(&gateway, &["wall-clock timeout of 1s"]).await;
    assert_eq!(metric(&gateway, "soda_plugin_calls_running").await, 0.0);
    assert!(
        sink.requests().is_empty(),
        "the abandoned call sent nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn abandoned_requests_leave_no_instance_behind_and_pool_exhaustion_is_a_503() {
    let slack = FakeDownstream::start().await;
    let sink = FakeDownstream::start().await;
    let attack = json!({ "mode": "sleep", "seconds": 60, "url": sink.url("/woke") });
    let config = with_admin(
        config(attack, &slack),
        "max_plugin_instances = 3\n[plugin_overrides.fixture_hostile]\ntimeout = \"2s\"",
    );
    let gateway = Gateway::start(config).await;

    // Clients that give up after 300 ms, as in the attack that filled the pool.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let body = serde_json::to_vec(&failing_check()).unwrap();
    let headers = gateway.config().tenants[0].verify.headers_for(&body);
    let mut abandoned = Vec::new();
    for _ in 0..3 {
        let mut request = impatient
            .post(format!("{}/hooks/{HOSTILE}", gateway.url()))
            .header("content-type", "application/json")
            .body(body.clone());
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        abandoned.push(tokio::spawn(request.send()));
    }
    for request in abandoned {
        assert!(request.await.unwrap().is_err(), "the client gave up");
    }
    // Every slot may be held by a sleeper now: an event that finds none is refused with 503
    // (Soda retries it), never answered 200 with no plugin run.
    let reply = gateway.send_event(BYSTANDER, &failing_check()).await;
    assert!(
        [200, 503].contains(&reply.status),
        "served or refused for a retry: {reply:?}"
    );
    if reply.status == 503 {
        assert!(reply.body.contains("try again"), "{reply:?}");
    }
    // Within the 2 s timeout every sleeping instance is gone, and the pool serves again.
    wait_until("the sleeping instances are freed", SOON, async || {
        metric(&gateway, "soda_plugin_calls_running").await == 0.0
    })
    .await;
    let delivered = usize::from(reply.status == 200);
    bystander_is_served(&gateway, &slack, delivered + 1).await;
    let stored_without_runs = gateway
        .count(
            "SELECT COUNT(*) FROM events WHERE tenant = 'other'
             AND id NOT IN (SELECT event_id FROM plugin_runs)",
        )
        .await;
    assert_eq!(
        stored_without_runs, 0,
        "no event was stored without its plugin runs"
    );
    assert!(sink.requests().is_empty(), "no sleeper woke up to send");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_huge_state_keys_stops_the_call_without_growing_the_gateway() {
    let slack = FakeDownstream::start().await;
    let gateway = Gateway::start(config(json!({ "mode": "state-keys" }), &slack)).await;
    let before = rss_mib(&gateway);

    let reply = gateway.send_event(HOSTILE, &failing_check()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_hostile_failed(&gateway, &["state key of", "more than 256"]).await;
    bystander_is_served(&gateway, &slack, 1).await;
    let after = rss_mib(&gateway);
    assert!(
        after < before + 64,
        "the gateway grew from {before} MiB to {after} MiB"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn endless_state_operations_are_cut_off() {
    let slack = FakeDownstream::start().await;
    let gateway = Gateway::start(config(json!({ "mode": "state-operations" }), &slack)).await;

    let reply = gateway.send_event(HOSTILE, &failing_check()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_hostile_failed(&gateway, &["more than 2000 state operations"]).await;
    bystander_is_served(&gateway, &slack, 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_flood_is_capped_and_cannot_forge_log_lines() {
    let slack = FakeDownstream::start().await;
    let attack = json!({ "mode": "log-flood", "lines": 10_000 });
    let gateway = Gateway::start(config(attack, &slack)).await;

    let reply = gateway.send_event(HOSTILE, &failing_check()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    bystander_is_served(&gateway, &slack, 1).await;
    gateway.wait_for_log("log lines in one call").await;
    let log = gateway.stderr();
    let plugin_lines: Vec<&str> = log.lines().filter(|l| l.contains("FORGED")).collect();
    assert_eq!(plugin_lines.len(), 100, "at most 100 lines per call");
    for line in plugin_lines {
        assert!(
            line.contains("plugin: done\\n") && line.contains("tenant=") && line.contains("acme"),
            "the forged text stays inside the plugin's escaped line: {line}"
        );
    }
    assert!(log.contains("dropped=9900"), "the drop is counted: {log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_fanning_out_ends_at_the_event_limit_and_others_are_delivered() {
    let slack = FakeDownstream::start().await;
    let sink = FakeDownstream::start().await;
    let attack = json!({ "mode": "fan-out", "url": sink.url("/fan"), "width": 100 });
    let gateway = Gateway::start(config(attack, &slack)).await;

    let reply = gateway.send_event(HOSTILE, &failing_check()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // While the chain fans out, the bystander's events are answered and delivered.
    for nth in 1..=3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        bystander_is_served(&gateway, &slack, nth).await;
    }
    wait_until("the chain is cut", SOON, async || {
        hostile_runs(&gateway).await.iter().any(|run| {
            run.error
                .as_deref()
                .is_some_and(|e| e.contains("max_actions_per_event"))
        })
    })
    .await;
    // The chain has ended once no action is left to send and no response waits for its
    // plugin: nothing can add an action any more.
    gateway.wait_until_settled().await;
    let settled = gateway.count_rows("actions").await;
    // The default limit is 500 actions per event (plus the bystander's three messages).
    assert!(
        settled <= 500 + 3,
        "the event's actions stop at its limit: {settled}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_whose_plugins_all_hang_is_answered_within_its_budget() {
    let slack = FakeDownstream::start().await;
    let sink = FakeDownstream::start().await;
    let attack = json!({ "mode": "sleep", "seconds": 60, "url": sink.url("/woke") });
    // Each plugin alone may take 30 s; together they get the tenant's 1.5 s budget. (Limits
    // this long keep an answer held up by them far from one delayed by a busy machine.)
    let tenant = hostile(attack)
        .plugin(Plugin::Loop, json!({}))
        .quota("{ event_budget = \"1500ms\" }");
    let config = Config::new()
        .deadline("30s")
        .tenant(tenant)
        .tenant(bystander(&slack))
        .extra_top_level_toml(
            "[plugin_overrides.fixture_hostile]\ntimeout = \"30s\"\n\
             [plugin_overrides.fixture_loop]\ntimeout = \"30s\"",
        );
    let gateway = Gateway::start(config).await;

    let reply = gateway.send_event(HOSTILE, &failing_check()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply.elapsed < Duration::from_secs(15),
        "answered within the 1.5 s budget, not after a plugin's 30 s: {reply:?}"
    );
    let runs = gateway.plugin_runs().await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(
        runs.iter()
            .all(|run| run.error.as_deref().is_some_and(|e| e.contains("budget"))),
        "both runs name the budget: {runs:?}"
    );
    bystander_is_served(&gateway, &slack, 1).await;
}

#[tokio::test]
async fn an_event_budget_longer_than_soda_waits_is_refused_at_start() {
    let tenant = Tenant::hmac(HOSTILE, "s3cret").quota("{ event_budget = \"12s\" }");
    let failure = Gateway::start_expecting_failure(Config::new().tenant(tenant)).await;
    assert!(
        failure.stderr.contains("event_budget") && failure.stderr.contains("at most 9s"),
        "{failure:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_instances_serve_one_tenant_only_and_are_dropped_after_a_failure() {
    let sink = FakeDownstream::start().await;
    let counting = |tenant: &str, trap_on: Option<u32>| {
        let mut config = json!({ "mode": "count", "url": sink.url(&format!("/{tenant}")) });
        if let Some(call) = trap_on {
            config["trap_on"] = call.into();
        }
        config
    };
    let config = Config::new()
        .tenant(hostile(counting(HOSTILE, Some(3))))
        .tenant(Tenant::hmac(BYSTANDER, "0th3r").plugin(Plugin::Hostile, counting(BYSTANDER, None)))
        .extra_top_level_toml("[plugin_overrides.fixture_hostile]\nreuse_instances = true");
    let gateway = Gateway::start(config).await;

    // acme: 1 (fresh), 2 (warm), call 3 traps (the instance is dropped), 1 (fresh again).
    for _ in 0..4 {
        let reply = gateway.send_event(HOSTILE, &failing_check()).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    // other: a fresh instance of its own, never acme's warm one.
    let reply = gateway.send_event(BYSTANDER, &failing_check()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let requests = sink.wait_for(4, SOON).await;
    let counts = |path: &str| -> Vec<u64> {
        requests
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.json()["calls"].as_u64().unwrap())
            .collect()
    };
    let mut acme = counts("/acme");
    acme.sort_unstable();
    assert_eq!(acme, vec![1, 1, 2], "{requests:#?}");
    assert_eq!(counts("/other"), vec![1], "{requests:#?}");
    assert_hostile_failed_once(&gateway, "trapped").await;
}

/// Asserts exactly one run of the hostile plugin failed, naming `words`.
async fn assert_hostile_failed_once(gateway: &Gateway, words: &str) {
    let failed: Vec<PluginRun> = hostile_runs(gateway)
        .await
        .into_iter()
        .filter(|run| run.outcome == "error")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains(words),
        "{failed:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn memories_added_to_a_component_count_against_one_cap() {
    let slack = FakeDownstream::start().await;
    let sink = FakeDownstream::start().await;
    let attack = json!({ "mode": "count", "url": sink.url("/counted") });
    let gateway = Gateway::start(with_admin(config(attack, &slack), "")).await;
    let built = std::fs::read(Plugin::Hostile.wasm_path()).expect("the built hostile plugin");
    let name = Plugin::Hostile.name();

    // One extra memory of 40 MiB keeps the component under the 64 MiB cap: it still runs.
    install_and_wait(&gateway, name, &with_extra_memories(&built, 1, 40), SOON).await;
    let reply = gateway.send_event(HOSTILE, &failing_check()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    sink.wait_for(1, SOON).await;

    // Two of them are each within the per-memory limit, but not together.
    install_and_wait(&gateway, name, &with_extra_memories(&built, 2, 40), SOON).await;
    let reply = gateway.send_event(HOSTILE, &failing_check()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_hostile_failed_once(&gateway, "exceeded its memory cap of 64 MiB").await;
    bystander_is_served(&gateway, &slack, 1).await;
    // A failed run keeps no action: nothing of the capped call is left to send.
    let hostile_actions = format!("SELECT COUNT(*) FROM actions WHERE plugin = '{name}'");
    assert_eq!(
        gateway.count(&hostile_actions).await,
        1,
        "only the first call's action is stored"
    );
    assert_eq!(sink.requests().len(), 1, "the capped call sent nothing");
    assert_eq!(metric(&gateway, "soda_plugin_calls_running").await, 0.0);
}

/// `component` with `count` more core modules, each with a memory of `mib` MiB that the
/// component instantiates after its own: what a hand-made component can hold (up to 16
/// memories), which no toolchain's output does.
fn with_extra_memories(component: &[u8], count: usize, mib: u64) -> Vec<u8> {
    use wasm_encoder::{
        Component, InstanceSection, MemorySection, MemoryType, Module, ModuleSection,
    };
    use wasmparser::Payload;
    // Core modules at the top level (nested ones have index spaces of their own).
    let mut modules_before = 0;
    let mut depth = 0;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload.expect("a valid component") {
            Payload::ModuleSection { .. } => {
                modules_before += usize::from(depth == 0);
                depth += 1;
            }
            Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            _ => {}
        }
    }
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: mib * 16,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut module = Module::new();
    module.section(&memories);
    let mut extra = Component::new();
    for index in 0..count {
        extra.section(&ModuleSection(&module));
        let mut instances = InstanceSection::new();
        instances.instantiate(
            (modules_before + index) as u32,
            Vec::<(&str, wasm_encoder::ModuleArg)>::new(),
        );
        extra.section(&instances);
    }
    let extra = extra.finish();
    // Sections follow the 8-byte preamble; appended, they extend the component's index spaces.
    let mut bytes = component.to_vec();
    bytes.extend_from_slice(&extra[8..]);
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn more_spinning_plugins_than_cores_do_not_hold_up_another_tenant() {
    // Twice as many runaway calls as the gateway has plugin threads (one per core).
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let spinners = (2 * cores).max(4);
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac(HOSTILE, "s3cret")
        .plugin(Plugin::Loop, json!({}))
        .quota(&format!("{{ concurrent_events = {spinners} }}"));
    let config = Config::new()
        .deadline("2s")
        .tenant(tenant)
        .tenant(bystander(&slack));
    let gateway = Arc::new(Gateway::start(with_admin(config, "")).await);

    let mut spinning = JoinSet::new();
    for _ in 0..spinners {
        let gateway = Arc::clone(&gateway);
        spinning.spawn(async move { gateway.send_event(HOSTILE, &failing_check()).await });
    }
    // Calls that did not yield would hold the plugin threads, and the others never start.
    wait_until(
        &format!("all {spinners} runaway calls run at once"),
        SOON,
        async || metric(&gateway, "soda_plugin_calls_running").await >= spinners as f64,
    )
    .await;
    bystander_is_served(&gateway, &slack, 1).await;
    // Held up, the bystander would get a thread only once a runaway call was stopped (at its
    // 2 s deadline at the earliest), and so be answered after it.
    assert!(
        spinning.try_join_next().is_none(),
        "the bystander was answered only after a runaway call was stopped"
    );
    for reply in spinning.join_all().await {
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    let runs = gateway.plugin_runs().await;
    let stopped = runs
        .iter()
        .filter(|run| run.plugin == Plugin::Loop.name() && run.outcome != "ok")
        .count();
    assert_eq!(
        stopped, spinners,
        "every runaway call was stopped: {runs:?}"
    );
    assert_eq!(metric(&gateway, "soda_plugin_calls_running").await, 0.0);
}
