//! A broken plugin costs its own run, never the gateway or the other plugins.

use serde_json::json;
use soda_gateway_tests::{
    event, with_outcomes, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};

#[tokio::test(flavor = "multi_thread")]
async fn trapping_plugin_leaves_the_gateway_serving_and_other_plugins_running() {
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Trap, json!({}))
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let gateway = Gateway::start(Config::new().tenant(tenant)).await;
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");

    let reply = gateway.send_event("acme", &failing).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    slack.wait_for(1, SOON).await;

    let runs = gateway.plugin_runs().await;
    let trap = runs
        .iter()
        .find(|run| run.plugin == "fixture_trap")
        .unwrap_or_else(|| panic!("a run of fixture_trap: {runs:?}"));
    assert_eq!(trap.outcome, "error", "{trap:?}");
    assert!(
        trap.error.clone().unwrap_or_default().contains("trapped"),
        "the trap is described: {trap:?}"
    );
    let slack_run = runs.iter().find(|run| run.plugin == "slack");
    assert_eq!(
        slack_run.map(|run| run.outcome.as_str()),
        Some("ok"),
        "{runs:?}"
    );

    // The next event is handled just the same.
    let reply = gateway.send_event("acme", &failing).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    slack.wait_for(2, SOON).await;
    assert_eq!(gateway.count_rows("events").await, 2);
    assert_eq!(
        gateway
            .count("SELECT COUNT(*) FROM plugin_runs WHERE plugin = 'fixture_trap' AND outcome = 'error'")
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn looping_plugin_is_stopped_by_its_deadline() {
    let slack = FakeDownstream::start().await;
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Loop, json!({}))
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let gateway = Gateway::start(Config::new().deadline("300ms").tenant(tenant)).await;
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");

    // Not timed: how long the answer takes also measures the machine's load. The recorded
    // reason shows the 300 ms deadline cut the loop off, not the event's 5 s budget.
    let reply = gateway.send_event("acme", &failing).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let runs = gateway.plugin_runs().await;
    let looping = runs
        .iter()
        .find(|run| run.plugin == "fixture_loop")
        .unwrap_or_else(|| panic!("a run of fixture_loop: {runs:?}"));
    assert_eq!(looping.outcome, "error", "{looping:?}");
    assert!(
        looping
            .error
            .clone()
            .unwrap_or_default()
            .contains("exceeded its deadline of 300ms"),
        "the reason names the deadline: {looping:?}"
    );
    slack.wait_for(1, SOON).await;

    // Still serving, and still cutting the loop off.
    let validate = gateway.send_event("acme", &event("gen1_validate")).await;
    assert_eq!(validate.status, 200, "{validate:?}");
    let again = gateway.send_event("acme", &failing).await;
    assert_eq!(again.status, 200, "{again:?}");
    let cut_off = "SELECT COUNT(*) FROM plugin_runs WHERE plugin = 'fixture_loop' \
                   AND error LIKE '%exceeded its deadline of 300ms%'";
    assert_eq!(
        gateway.count(cut_off).await,
        2,
        "the deadline cuts it off again"
    );
    slack.wait_for(2, SOON).await;
}
