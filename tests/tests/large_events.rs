//! A large evaluation still alerts: 500 checks with 125 failing make the PagerDuty and Opsgenie
//! plugins send one alert per failing check up to their `max_alerts` and one summary for the
//! rest, within the gateway's `max_actions`, instead of an over-limit answer that alerts nowhere.

use serde_json::{json, Value};
use soda_gateway_tests::{event, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON};

/// The first-generation seed with 500 checks, every fourth one failing.
fn large_evaluation() -> Value {
    let mut evaluation = event("gen1_check_evaluation");
    let seed = evaluation["checkResults"][0].clone();
    let results: Vec<Value> = (0..500)
        .map(|i| {
            let mut result = seed.clone();
            result["id"] = json!(format!("check-{i}"));
            result["name"] = json!(format!("check number {i}"));
            result["outcome"] = json!(if i % 4 == 0 { "fail" } else { "pass" });
            result
        })
        .collect();
    evaluation["checkResults"] = Value::Array(results);
    evaluation
}

#[tokio::test(flavor = "multi_thread")]
async fn a_500_check_evaluation_alerts_through_pagerduty_and_opsgenie_within_the_limits() {
    let pagerduty = FakeDownstream::start().await;
    pagerduty.set_status(202);
    let opsgenie = FakeDownstream::start().await;
    opsgenie.set_status(202);
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(
            Plugin::PagerDuty,
            json!({ "routing_key": "rk", "events_url": pagerduty.url("/v2/enqueue") }),
        )
        .plugin(
            Plugin::Opsgenie,
            json!({ "api_key": "ok", "api_url": opsgenie.url("") }),
        );
    let gateway = Gateway::start(Config::new().tenant(tenant)).await;

    let reply = gateway.send_event("acme", &large_evaluation()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let runs = gateway.plugin_runs().await;
    assert!(runs.iter().all(|run| run.outcome == "ok"), "{runs:?}");

    // 50 alerts each (the plugins' default `max_alerts`): 49 checks, then one for the other 76.
    for (downstream, summary_of) in [
        (&pagerduty, "/payload/custom_details/count"),
        (&opsgenie, "/details/count"),
    ] {
        let requests = downstream.wait_for(50, SOON).await;
        assert_eq!(requests.len(), 50);
        let counts: Vec<Value> = requests
            .iter()
            .filter_map(|request| request.json().pointer(summary_of).cloned())
            .collect();
        assert_eq!(counts.len(), 1, "one summary alert");
        assert!(
            counts[0] == json!(76) || counts[0] == json!("76"),
            "{counts:?}"
        );
    }
}
