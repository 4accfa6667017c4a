//! Plugins change while the gateway runs: a file dropped into, replaced in or deleted from the
//! plugins folder takes effect without a restart and without failing a request; a file that does
//! not load is rejected with a reason and the previous version keeps serving. Compiled plugins
//! are cached across restarts, and a bad cache entry costs a recompile, never the gateway.

use std::collections::BTreeMap;
use std::fs;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use soda_gateway_tests::reload::{
    cache_entries, config_with, install, install_and_wait, log_lines, log_mark, remove, send,
    wait_for_loaded, wait_for_log, wait_for_rejection, Fixture, LogLine, LogMark, NamedTenant,
    CORE_MODULE_HEADER, GARBAGE, OTHER_CONTRACT, SUPPORTED,
};
use soda_gateway_tests::{
    event, wait_until, with_outcomes, Config, FakeDownstream, Gateway, Plugin, Recorded, Tenant,
    SOON,
};

/// The name the tests give the echo fixtures in the plugins folder.
const ECHO: &str = "echo";

/// How long the continuous load runs at most (one event per 20 ms tick): it only stops the
/// test should the swap never finish, so it leaves the swap time even on a busy machine.
const LOAD_LIMIT: Duration = Duration::from_secs(180);

/// A failing `checkEvaluation` whose check result id is `seq-{seq}`, so that the echo plugin's
/// body tells which request it answered.
fn numbered_event(seq: usize) -> Value {
    let mut event = with_outcomes(event("gen1_check_evaluation"), "fail");
    for result in event["checkResults"].as_array_mut().expect("check results") {
        result["id"] = json!(format!("seq-{seq}"));
    }
    event
}

/// The tenant `acme` with `echo` posting to `downstream`.
fn echo_tenant(downstream: &FakeDownstream) -> NamedTenant {
    NamedTenant::new("acme", "s3cret").plugin(ECHO, json!({ "url": downstream.url("/echo") }))
}

/// `(seq, version)` of one echo body.
fn echoed(request: &Recorded) -> (usize, u64) {
    let body = request.json();
    let version = body["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("an echo body: {body}"));
    let seq = body["checks"][0]
        .as_str()
        .and_then(|id| id.strip_prefix("seq-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("an echo body naming its check: {body}"));
    (seq, version)
}

/// Sends event `seq` and returns the version of echo that answered it.
async fn version_serving(
    gateway: &Gateway,
    tenant: &NamedTenant,
    downstream: &FakeDownstream,
    seq: usize,
) -> u64 {
    let before = downstream.requests().len();
    let reply = send(gateway, tenant, &numbered_event(seq)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let requests = downstream.wait_for(before + 1, SOON).await;
    requests
        .iter()
        .map(echoed)
        .find_map(|(answered, version)| (answered == seq).then_some(version))
        .unwrap_or_else(|| panic!("an echo of event {seq}: {requests:#?}"))
}

/// Starts a gateway for `tenant` and installs echo version 1 into its plugins folder.
async fn gateway_serving_echo_v1(tenant: &NamedTenant) -> Gateway {
    let gateway = Gateway::start(config_with(std::slice::from_ref(tenant))).await;
    install_and_wait(&gateway, ECHO, &Fixture::EchoV1.bytes(), SOON).await;
    gateway
}

#[tokio::test(flavor = "multi_thread")]
async fn hot_reload_swaps_versions_under_continuous_load_without_failed_requests() {
    let downstream = FakeDownstream::start().await;
    let tenant = echo_tenant(&downstream);
    let gateway = gateway_serving_echo_v1(&tenant).await;
    let v2 = Fixture::EchoV2.bytes();

    let sent = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // Events go out every 20 ms, each awaited, until told to stop (or LOAD_LIMIT / 9,000
    // events).
    let load = async {
        let mut replies = Vec::new();
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !stop.load(Ordering::SeqCst)
            && replies.len() < 9_000
            && started.elapsed() < LOAD_LIMIT
        {
            tick.tick().await;
            let seq = replies.len();
            replies.push(send(&gateway, &tenant, &numbered_event(seq)).await);
            sent.store(replies.len(), Ordering::SeqCst);
        }
        replies
    };
    // Meanwhile: let some events through on version 1, swap in version 2, let more through.
    let swap = async {
        let sent_at_least = |n: usize| {
            let sent = &sent;
            async move {
                wait_until(&format!("{n} events were sent"), SOON, async || {
                    sent.load(Ordering::SeqCst) >= n
                })
                .await;
            }
        };
        sent_at_least(15).await;
        let mark = log_mark(&gateway);
        let before_swap = sent.load(Ordering::SeqCst);
        install(&gateway, ECHO, &v2);
        wait_for_loaded(&gateway, mark, ECHO, &v2, SOON).await;
        let loaded_by = sent.load(Ordering::SeqCst);
        sent_at_least(loaded_by + 15).await;
        stop.store(true, Ordering::SeqCst);
        before_swap
    };
    let (replies, before_swap) = tokio::join!(load, swap);

    let failed: Vec<_> = replies
        .iter()
        .enumerate()
        .filter(|(_, reply)| reply.status != 200)
        .collect();
    assert!(failed.is_empty(), "requests that failed: {failed:?}");

    let runs = gateway.plugin_runs().await;
    let echo_runs: Vec<_> = runs.iter().filter(|run| run.plugin == ECHO).collect();
    assert_eq!(echo_runs.len(), replies.len(), "one echo run per event");
    let bad: Vec<_> = echo_runs.iter().filter(|run| run.outcome != "ok").collect();
    assert!(bad.is_empty(), "every echo run succeeded: {bad:?}");

    // Delivery is concurrent, so order the answers by the event they answer.
    let requests = downstream.wait_for(replies.len(), SOON).await;
    let versions: BTreeMap<usize, u64> = requests.iter().map(echoed).collect();
    assert_eq!(
        versions.keys().copied().collect::<Vec<_>>(),
        (0..replies.len()).collect::<Vec<_>>(),
        "exactly one answer per event"
    );
    let first_v2 = versions
        .iter()
        .find(|(_, version)| **version == 2)
        .map(|(seq, _)| *seq)
        .unwrap_or_else(|| panic!("version 2 never answered: {versions:?}"));
    assert!(
        first_v2 >= before_swap,
        "version 2 answered event {first_v2}, sent before the swap began (event {before_swap})"
    );
    let stray: Vec<_> = versions
        .iter()
        .filter(|(seq, version)| {
            let expected = if **seq < first_v2 { 1 } else { 2 };
            **version != expected
        })
        .collect();
    assert!(
        stray.is_empty(),
        "only version 1 before the first version-2 answer (event {first_v2}) and only version 2 \
         after it; out of place: {stray:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_file_is_rejected_and_the_previous_version_keeps_serving() {
    let downstream = FakeDownstream::start().await;
    let tenant = echo_tenant(&downstream);
    let gateway = gateway_serving_echo_v1(&tenant).await;
    install_and_wait(&gateway, ECHO, &Fixture::EchoV2.bytes(), SOON).await;

    let mark = log_mark(&gateway);
    install(&gateway, ECHO, GARBAGE);
    let rejection = wait_for_rejection(&gateway, mark, ECHO, SOON).await;
    assert!(rejection.is_level("ERROR"), "{rejection:?}");
    assert!(
        rejection.contains("not a WebAssembly file"),
        "the reason: {rejection:?}"
    );
    assert!(
        rejection.contains(&format!(
            "(built for an unknown contract version; this gateway speaks {SUPPORTED})"
        )),
        "{rejection:?}"
    );

    assert_eq!(
        version_serving(&gateway, &tenant, &downstream, 0).await,
        2,
        "version 2 still serves"
    );
    let runs = gateway.plugin_runs().await;
    assert!(runs.iter().all(|run| run.outcome == "ok"), "{runs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn core_module_is_rejected_and_the_previous_version_keeps_serving() {
    let downstream = FakeDownstream::start().await;
    let tenant = echo_tenant(&downstream);
    let gateway = gateway_serving_echo_v1(&tenant).await;

    let mark = log_mark(&gateway);
    install(&gateway, ECHO, CORE_MODULE_HEADER);
    let rejection = wait_for_rejection(&gateway, mark, ECHO, SOON).await;
    assert!(rejection.is_level("ERROR"), "{rejection:?}");
    assert!(
        rejection.contains("core WebAssembly module, not a component"),
        "the reason: {rejection:?}"
    );
    assert!(rejection.contains(SUPPORTED), "{rejection:?}");

    assert_eq!(version_serving(&gateway, &tenant, &downstream, 0).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn plugin_for_another_contract_version_is_rejected_naming_both_versions() {
    let downstream = FakeDownstream::start().await;
    let tenant = echo_tenant(&downstream);
    let gateway = gateway_serving_echo_v1(&tenant).await;

    let mark = log_mark(&gateway);
    install(&gateway, ECHO, &Fixture::OtherVersion.bytes());
    let rejection = wait_for_rejection(&gateway, mark, ECHO, SOON).await;
    assert!(rejection.is_level("ERROR"), "{rejection:?}");
    assert!(
        rejection.contains(&format!(
            ": built for a contract version this gateway does not load (built for \
             {OTHER_CONTRACT}; this gateway speaks {SUPPORTED})"
        )),
        "the rejection names both versions: {rejection:?}"
    );

    assert_eq!(
        version_serving(&gateway, &tenant, &downstream, 0).await,
        1,
        "version 1 still serves"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_plugin_stops_receiving_events() {
    let downstream = FakeDownstream::start().await;
    let tenant = echo_tenant(&downstream).plugin(
        Plugin::Slack.name(),
        json!({ "webhook_url": downstream.url("/slack") }),
    );
    let gateway = gateway_serving_echo_v1(&tenant).await;
    install_and_wait(
        &gateway,
        Plugin::Slack.name(),
        &fs::read(Plugin::Slack.wasm_path()).expect("the Slack plugin"),
        SOON,
    )
    .await;
    let to = |path: &str| {
        let path = path.to_owned();
        move |request: &&Recorded| request.path == path
    };

    let reply = send(&gateway, &tenant, &numbered_event(0)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    downstream.wait_for(2, SOON).await;

    let mark = log_mark(&gateway);
    remove(&gateway, ECHO);
    wait_for_log(&gateway, mark, "`plugin unloaded` for echo", SOON, |line| {
        line.contains("plugin unloaded") && line.has("plugin", ECHO)
    })
    .await;

    let reply = send(&gateway, &tenant, &numbered_event(1)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let runs = gateway.plugin_runs().await;
    let unloaded: Vec<_> = runs
        .iter()
        .filter(|run| run.plugin == ECHO && run.outcome == "error")
        .collect();
    assert_eq!(unloaded.len(), 1, "{runs:?}");
    assert!(
        unloaded[0]
            .error
            .as_deref()
            .is_some_and(|error| error.contains("plugin `echo` is not loaded")),
        "{unloaded:?}"
    );
    // Slack still answers the second event; echo does not.
    let requests = downstream.wait_for(3, SOON).await;
    assert_eq!(
        requests.iter().filter(to("/slack")).count(),
        2,
        "{requests:#?}"
    );
    let echoes: Vec<_> = requests.iter().filter(to("/echo")).map(echoed).collect();
    assert_eq!(echoes, [(0, 1)], "only the event before the deletion");
    assert_eq!(
        gateway
            .count("SELECT COUNT(*) FROM actions WHERE plugin = 'echo'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn new_plugin_dropped_in_is_served_without_restart() {
    let downstream = FakeDownstream::start().await;
    let tenant = echo_tenant(&downstream);
    let gateway = Gateway::start(config_with(std::slice::from_ref(&tenant))).await;

    let reply = send(&gateway, &tenant, &numbered_event(0)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let runs = gateway.plugin_runs().await;
    assert!(
        runs.iter().any(|run| run.plugin == ECHO
            && run.outcome == "error"
            && run
                .error
                .as_deref()
                .is_some_and(|e| e.contains("plugin `echo` is not loaded"))),
        "not loaded yet: {runs:?}"
    );

    install_and_wait(&gateway, ECHO, &Fixture::EchoV1.bytes(), SOON).await;
    assert_eq!(version_serving(&gateway, &tenant, &downstream, 1).await, 1);
    assert_eq!(
        gateway.stdout_lines().len(),
        1,
        "one listening line, no restart: {:?}",
        gateway.stdout_lines()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_loaded_plugin_is_not_reloaded_by_reading_it() {
    let gateway = Gateway::start(config_with(&[])).await;
    let mark = log_mark(&gateway);
    install_and_wait(&gateway, ECHO, &Fixture::EchoV1.bytes(), SOON).await;
    // Loading reads the file; reads must not count as changes (that would reload forever).
    // The watcher handles changes in order: once a file dropped in after the load is loaded,
    // any change the load's reads caused was handled before it.
    install_and_wait(&gateway, "echo_later", &Fixture::EchoV1.bytes(), SOON).await;
    let loads = log_lines(&gateway, mark)
        .into_iter()
        .filter(|line| line.contains("plugin loaded") && line.has("plugin", ECHO))
        .count();
    assert_eq!(loads, 1, "{}", gateway.stderr());
}

/// A gateway with the Slack plugin posting to `slack`.
async fn slack_gateway(slack: &FakeDownstream) -> Gateway {
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    Gateway::start(Config::new().tenant(tenant)).await
}

/// The line saying the Slack plugin was loaded, the first logged after `since`.
async fn loaded(gateway: &Gateway, since: LogMark) -> LogLine {
    wait_for_log(gateway, since, "`plugin loaded` for slack", SOON, |line| {
        line.contains("plugin loaded") && line.has("plugin", Plugin::Slack.name())
    })
    .await
}

/// Sends a failing check evaluation and waits for Slack's `n`th message.
async fn slack_posts(gateway: &Gateway, slack: &FakeDownstream, n: usize) {
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    let reply = gateway.send_event("acme", &failing).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let requests = slack.wait_for(n, SOON).await;
    assert!(
        requests[n - 1].json()["text"]
            .as_str()
            .is_some_and(|text| text.starts_with("Soda: 1 check failed")),
        "{requests:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_with_a_warm_cache_loads_plugins_from_the_cache() {
    let slack = FakeDownstream::start().await;
    let mut gateway = slack_gateway(&slack).await;
    let first = loaded(&gateway, LogMark::default()).await;
    assert!(first.has("from_cache", "false"), "{first:?}");
    assert_eq!(
        cache_entries(&gateway).len(),
        1,
        "one compiled plugin cached"
    );

    let mark = log_mark(&gateway);
    gateway.restart().await;
    let again = loaded(&gateway, mark).await;
    assert!(again.has("from_cache", "true"), "{again:?}");
    slack_posts(&gateway, &slack, 1).await;
}

/// Starts a gateway with Slack, lets it fill the compile cache, kills it, damages every cache
/// entry with `corrupt`, restarts it and returns it, still serving, with its new `loaded` line.
async fn restart_with_corrupted_cache(
    slack: &FakeDownstream,
    corrupt: impl Fn(&mut Vec<u8>),
) -> (Gateway, LogLine) {
    let mut gateway = slack_gateway(slack).await;
    let entries = cache_entries(&gateway);
    assert!(!entries.is_empty(), "the first start fills the cache");
    gateway.kill();
    for entry in &entries {
        let mut bytes = fs::read(entry).expect("a cache entry");
        corrupt(&mut bytes);
        fs::write(entry, bytes).expect("corrupting a cache entry");
    }
    let mark = log_mark(&gateway);
    gateway.restart().await;
    // Serving first: running code from a bad entry crashes the gateway.
    slack_posts(&gateway, slack, 1).await;
    let reloaded = loaded(&gateway, mark).await;
    (gateway, reloaded)
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_cache_entry_is_recompiled_not_a_crash() {
    let slack = FakeDownstream::start().await;
    let (gateway, recompiled) = restart_with_corrupted_cache(&slack, |bytes| {
        *bytes = GARBAGE.to_vec();
    })
    .await;
    assert!(recompiled.has("from_cache", "false"), "{recompiled:?}");
    for entry in cache_entries(&gateway) {
        assert_ne!(
            fs::read(&entry).expect("a cache entry"),
            GARBAGE,
            "{} is rewritten",
            entry.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_entry_with_corrupted_code_is_recompiled_not_a_crash() {
    let slack = FakeDownstream::start().await;
    // Headers and section tables intact, the compiled code in the middle scrambled: what a bad
    // disk or a stray write leaves behind.
    let (_gateway, recompiled) = restart_with_corrupted_cache(&slack, |bytes| {
        let len = bytes.len();
        for byte in &mut bytes[len / 4..len / 2] {
            *byte ^= 0xff;
        }
    })
    .await;
    assert!(
        recompiled.has("from_cache", "false"),
        "a corrupt entry is a cache miss: {recompiled:?}"
    );
}
