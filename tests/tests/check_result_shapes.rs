//! Both check-result shapes Soda sends alert: the older one with `outcome` and the newer one
//! with `evaluationStatus` (and no `outcome`), alone and mixed in one event, through every
//! alerting plugin and a forward route that filters on outcomes.

use serde_json::{json, Value};
use soda_gateway_tests::{event, Config, FakeDownstream, Gateway, Plugin, Recorded, Tenant, SOON};

/// The newer shape: one failing check reported as `evaluationStatus`.
fn newer_shape() -> Value {
    let newer = event("gen3_check_evaluation");
    let result = &newer["checkResults"][0];
    assert!(
        result.get("outcome").is_none(),
        "the fixture has no outcome"
    );
    assert_eq!(result["evaluationStatus"], "fail");
    newer
}

/// One event with a failing check of each shape.
fn mixed() -> Value {
    let mut both = newer_shape();
    let mut older = event("gen1_check_evaluation")["checkResults"][0].clone();
    older["outcome"] = "fail".into();
    both["checkResults"].as_array_mut().unwrap().push(older);
    both
}

/// One tenant per alerting plugin, each sending to its own path of `downstream`.
fn config(downstream: &FakeDownstream) -> Config {
    let tenant =
        |id: &str, plugin: Plugin, config: Value| Tenant::hmac(id, "s3cret").plugin(plugin, config);
    Config::new()
        .allowed_hosts(Plugin::PagerDuty, &["127.0.0.1"])
        .allowed_hosts(Plugin::Opsgenie, &["127.0.0.1"])
        .tenant(tenant(
            "slack",
            Plugin::Slack,
            json!({ "webhook_url": downstream.url("/slack") }),
        ))
        .tenant(tenant(
            "teams",
            Plugin::Teams,
            json!({ "webhook_url": downstream.url("/teams") }),
        ))
        .tenant(
            Tenant::hmac("pagerduty", "s3cret")
                .secret("pd_key", "{ value = \"R0UTING\" }")
                .plugin(
                    Plugin::PagerDuty,
                    json!({
                        "routing_key": "{{secret:pd_key}}",
                        "events_url": downstream.url("/pagerduty"),
                    }),
                ),
        )
        .tenant(
            Tenant::hmac("opsgenie", "s3cret")
                .secret("og_key", "{ value = \"G3NIE\" }")
                .plugin(
                    Plugin::Opsgenie,
                    json!({
                        "api_key": "{{secret:og_key}}",
                        "api_url": downstream.url("/opsgenie"),
                    }),
                ),
        )
        .tenant(tenant(
            "forward",
            Plugin::Forward,
            json!({ "routes": [{ "url": downstream.url("/failures"), "outcomes": ["fail"] }] }),
        ))
}

fn on<'a>(requests: &'a [Recorded], prefix: &str) -> Vec<&'a Recorded> {
    requests
        .iter()
        .filter(|request| request.path.starts_with(prefix))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_checks_of_either_shape_alert_through_every_plugin() {
    let downstream = FakeDownstream::start().await;
    let gateway = Gateway::start(config(&downstream)).await;
    let tenants = ["slack", "teams", "pagerduty", "opsgenie", "forward"];
    for body in [newer_shape(), mixed()] {
        for tenant in tenants {
            let reply = gateway.send_event(tenant, &body).await;
            assert_eq!(reply.status, 200, "{tenant}: {reply:?}");
        }
    }
    // Slack, Teams and the route: one request per event; PagerDuty and Opsgenie: one alert per
    // failing check (1 + 2).
    let requests = downstream.wait_for(2 + 2 + 3 + 3 + 2, SOON).await;
    let runs = gateway.plugin_runs().await;
    assert!(runs.iter().all(|run| run.outcome == "ok"), "{runs:#?}");

    for (prefix, expected) in [("/slack", 2), ("/teams", 2), ("/failures", 2)] {
        assert_eq!(
            on(&requests, prefix).len(),
            expected,
            "{prefix}: {requests:#?}"
        );
    }
    let triggers: Vec<Value> = on(&requests, "/pagerduty")
        .iter()
        .map(|request| request.json())
        .collect();
    assert_eq!(triggers.len(), 3, "{triggers:#?}");
    assert!(
        triggers.iter().all(|t| t["event_action"] == "trigger"),
        "{triggers:#?}"
    );
    let newer_key = "soda-check-7c1e2b90-1f4d-4c4e-9d1a-3b0f5f6a7e21";
    let newer = triggers.iter().filter(|t| t["dedup_key"] == newer_key);
    assert_eq!(
        newer.count(),
        2,
        "the newer-shape check alerts in both events"
    );
    let alerts = on(&requests, "/opsgenie/v2/alerts");
    assert_eq!(alerts.len(), 3, "{requests:#?}");
    assert!(alerts.iter().all(|alert| alert.method == "POST"));
    // The route forwards the raw event: the check still says `evaluationStatus`.
    let forwarded = on(&requests, "/failures")[0].json();
    assert_eq!(forwarded["checkResults"][0]["evaluationStatus"], "fail");
}
