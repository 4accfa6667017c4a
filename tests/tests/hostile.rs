//! Hostile plugins: each one is stopped, recorded and contained, while the Slack plugin of the
//! same tenant still delivers its message and the next event is handled normally.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use soda_gateway_tests::{
    event, with_outcomes, Config, FakeDownstream, Gateway, Plugin, PluginRun, Tenant, SOON,
};

/// The tenant every test posts for.
const TENANT: &str = "acme";

/// An upper bound on answering an event whose hostile plugin is cut off within seconds: far
/// above what a busy machine adds, still well under the 60 s the test's HTTP client waits.
const ANSWERED_IN_TIME: Duration = Duration::from_secs(20);

/// A tenant with `hostile` (and its config) enabled before Slack, which posts to `slack`.
fn tenant_with_slack(hostile: Plugin, config: Value, slack: &FakeDownstream) -> Tenant {
    Tenant::hmac(TENANT, "s3cret")
        .plugin(hostile, config)
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }))
}

/// A `checkEvaluation` with failing checks: Slack posts one message for it.
fn failing_check() -> Value {
    with_outcomes(event("gen1_check_evaluation"), "fail")
}

/// Every run of `plugin`, asserting there is at least one.
async fn runs_of(gateway: &Gateway, plugin: Plugin) -> Vec<PluginRun> {
    let runs = gateway.plugin_runs().await;
    let of_plugin: Vec<PluginRun> = runs
        .iter()
        .filter(|run| run.plugin == plugin.name())
        .cloned()
        .collect();
    assert!(
        !of_plugin.is_empty(),
        "a run of {}: {runs:?}",
        plugin.name()
    );
    of_plugin
}

/// Asserts every run of `plugin` failed with an error containing each of `words`, and every run
/// of Slack succeeded.
async fn assert_failed_beside_slack(gateway: &Gateway, plugin: Plugin, words: &[&str]) {
    for run in runs_of(gateway, plugin).await {
        assert_eq!(run.outcome, "error", "{run:?}");
        let error = run.error.clone().unwrap_or_default();
        for word in words {
            assert!(error.contains(word), "the error mentions {word:?}: {run:?}");
        }
    }
    for run in runs_of(gateway, Plugin::Slack).await {
        assert_eq!(run.outcome, "ok", "{run:?}");
    }
}

/// Sends a failing check evaluation, expects 200 and Slack's `nth` message.
async fn send_and_expect_slack(gateway: &Gateway, slack: &FakeDownstream, nth: usize) {
    let reply = gateway.send_event(TENANT, &failing_check()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let requests = slack.wait_for(nth, SOON).await;
    let hooks = requests.iter().filter(|r| r.path == "/hook").count();
    assert_eq!(hooks, nth, "Slack's messages: {requests:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn infinite_loop_is_stopped_within_its_deadline() {
    let slack = FakeDownstream::start().await;
    let tenant = tenant_with_slack(Plugin::Loop, json!({}), &slack);
    let gateway = Gateway::start(Config::new().deadline("200ms").tenant(tenant)).await;

    let reply = gateway.send_event(TENANT, &failing_check()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // Which limit stopped the loop is in its recorded error (the deadline, not the 5 s
    // timeout); the answer only has to come in time, however busy the machine.
    assert!(
        reply.elapsed < ANSWERED_IN_TIME,
        "the loop is cut off, the event answered: {reply:?}"
    );
    slack.wait_for(1, SOON).await;
    assert_failed_beside_slack(&gateway, Plugin::Loop, &["deadline"]).await;

    send_and_expect_slack(&gateway, &slack, 2).await;
    assert_failed_beside_slack(&gateway, Plugin::Loop, &["deadline"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_per_plugin_override_applies_a_shorter_wall_clock_timeout() {
    let slack = FakeDownstream::start().await;
    let tenant = tenant_with_slack(Plugin::Loop, json!({}), &slack);
    let config = Config::new()
        .deadline("20s")
        .tenant(tenant)
        .extra_top_level_toml("[plugin_overrides.fixture_loop]\ntimeout = \"300ms\"");
    let gateway = Gateway::start(config).await;

    let reply = gateway.send_event(TENANT, &failing_check()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // Which limit stopped the loop (the 300 ms override, not the 20 s deadline) is in its
    // recorded error below; the answer only has to come in time.
    assert!(
        reply.elapsed < ANSWERED_IN_TIME,
        "the loop is cut off, the event answered: {reply:?}"
    );
    slack.wait_for(1, SOON).await;
    assert_failed_beside_slack(&gateway, Plugin::Loop, &["wall-clock timeout of 300ms"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_bomb_is_stopped_at_its_cap() {
    let slack = FakeDownstream::start().await;
    let tenant = tenant_with_slack(Plugin::Memory, json!({}), &slack);
    let gateway = Gateway::start(Config::new().memory_mib(16).tenant(tenant)).await;

    send_and_expect_slack(&gateway, &slack, 1).await;
    assert_failed_beside_slack(&gateway, Plugin::Memory, &["memory cap of 16 MiB"]).await;

    send_and_expect_slack(&gateway, &slack, 2).await;
    assert_failed_beside_slack(&gateway, Plugin::Memory, &["memory cap of 16 MiB"]).await;
    assert_eq!(gateway.count_rows("events").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn trap_is_recorded() {
    let slack = FakeDownstream::start().await;
    let tenant = tenant_with_slack(Plugin::Trap, json!({}), &slack);
    let gateway = Gateway::start(Config::new().tenant(tenant)).await;

    send_and_expect_slack(&gateway, &slack, 1).await;
    assert_failed_beside_slack(&gateway, Plugin::Trap, &["trap"]).await;

    send_and_expect_slack(&gateway, &slack, 2).await;
    assert_failed_beside_slack(&gateway, Plugin::Trap, &["trap"]).await;
    assert_eq!(
        gateway
            .count("SELECT COUNT(*) FROM plugin_runs WHERE plugin = 'fixture_trap'")
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn flood_of_actions_is_cut_off_with_an_error() {
    let downstream = FakeDownstream::start().await;
    let tenant = tenant_with_slack(
        Plugin::Flood,
        json!({ "url": downstream.url("/flood") }),
        &downstream,
    );
    let gateway = Gateway::start(Config::new().max_actions(250).tenant(tenant)).await;

    send_and_expect_slack(&gateway, &downstream, 1).await;
    assert_failed_beside_slack(&gateway, Plugin::Flood, &["actions", "250"]).await;
    let flood_actions = "SELECT COUNT(*) FROM actions WHERE plugin = 'fixture_flood'";
    assert_eq!(
        gateway.count(flood_actions).await,
        0,
        "no flood action is stored"
    );

    send_and_expect_slack(&gateway, &downstream, 2).await;
    assert_failed_beside_slack(&gateway, Plugin::Flood, &["actions", "250"]).await;
    assert_eq!(
        gateway.count(flood_actions).await,
        0,
        "no flood action is stored"
    );

    // Once no action is pending, everything the gateway will ever send has arrived.
    gateway.wait_until_settled().await;
    let requests = downstream.requests();
    assert!(
        requests.iter().all(|r| r.path == "/hook"),
        "only Slack's messages arrive: {} request(s), {} of them to /flood",
        requests.len(),
        requests.iter().filter(|r| r.path == "/flood").count()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_grants_no_files_env_or_sockets() {
    let slack = FakeDownstream::start().await;
    let reports = FakeDownstream::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding the bait listener");
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let socket_addr = listener.local_addr().expect("the bait address").to_string();
    let config = json!({ "report_url": reports.url("/report"), "socket_addr": socket_addr });
    let tenant = tenant_with_slack(Plugin::Snoop, config, &slack);
    let gateway = Gateway::start(Config::new().tenant(tenant)).await;

    send_and_expect_slack(&gateway, &slack, 1).await;
    let report = reports.wait_for(1, SOON).await[0].json();
    eprintln!("what the plugin observed: {report:#}");
    for run in gateway.plugin_runs().await {
        assert_eq!(run.outcome, "ok", "{run:?}");
    }

    assert!(report["file"]["error"].is_string(), "/etc/passwd: {report}");
    assert!(report["dir"]["."]["error"].is_string(), "`.`: {report}");
    assert!(report["dir"]["/"]["error"].is_string(), "`/`: {report}");
    assert_eq!(report["env"], json!([]), "the environment: {report}");
    assert!(report["home"]["error"].is_string(), "HOME: {report}");
    assert!(report["path"]["error"].is_string(), "PATH: {report}");
    assert!(
        report["socket"]["error"].is_string(),
        "the socket: {report}"
    );
    assert_no_connection(&listener, Duration::from_millis(500)).await;

    // The next event is handled the same way.
    send_and_expect_slack(&gateway, &slack, 2).await;
    let second = reports.wait_for(2, SOON).await[1].json();
    assert_eq!(second, report);
    assert_no_connection(&listener, Duration::from_millis(200)).await;
}

/// Asserts `listener` (non-blocking) accepts no connection during `window`.
async fn assert_no_connection(listener: &TcpListener, window: Duration) {
    let started = Instant::now();
    loop {
        match listener.accept() {
            Ok((_, peer)) => panic!("the plugin connected to the bait listener from {peer}"),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("accepting on the bait listener: {e}"),
        }
        if started.elapsed() > window {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
