//! The plugin contract evolves without breaking plugins: a plugin built against the first
//! released contract (`soda:gateway@0.1.0`, the committed Slack fixture) loads and delivers next
//! to plugins built against the current one, and receives what its contract can express (the
//! current one also gets the check's measured `value`, new in 0.2.0).

use serde_json::{json, Value};
use soda_gateway_tests::reload::{
    config_with, install, log_mark, send, wait_for_loaded, Fixture, NamedTenant, CONTRACT,
    FIRST_CONTRACT,
};
use soda_gateway_tests::{event, FakeDownstream, Gateway, Plugin, SOON};

/// A failing check in the newest shape (`evaluationStatus`, `value`, map `attributes`).
fn newest_failing_check() -> Value {
    let event = event("gen3_check_evaluation");
    assert_eq!(event["checkResults"][0]["evaluationStatus"], "fail");
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_built_for_the_first_contract_runs_next_to_a_current_one() {
    let downstream = FakeDownstream::start().await;
    let tenant = NamedTenant::new("acme", "s3cret")
        .plugin(
            "slack_first",
            json!({ "webhook_url": downstream.url("/first") }),
        )
        .plugin(
            "slack_now",
            json!({ "webhook_url": downstream.url("/now") }),
        );
    let gateway = Gateway::start(config_with(std::slice::from_ref(&tenant))).await;

    let first = Fixture::SlackContract0_1.bytes();
    let now = std::fs::read(Plugin::Slack.wasm_path()).expect("the current Slack plugin");
    for (name, bytes, contract) in [
        ("slack_first", &first, FIRST_CONTRACT),
        ("slack_now", &now, CONTRACT),
    ] {
        let mark = log_mark(&gateway);
        install(&gateway, name, bytes);
        let loaded = wait_for_loaded(&gateway, mark, name, bytes, SOON).await;
        assert!(loaded.has("contract", contract), "{name}: {loaded:?}");
    }

    let reply = send(&gateway, &tenant, &newest_failing_check()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let requests = downstream.wait_for(2, SOON).await;
    let text_to = |path: &str| {
        let request = requests
            .iter()
            .find(|request| request.path == path)
            .unwrap_or_else(|| panic!("a message to {path}: {requests:#?}"));
        request.json().to_string()
    };
    let check_name = event("gen3_check_evaluation")["checkResults"][0]["name"]
        .as_str()
        .expect("the check has a name")
        .to_owned();
    for path in ["/first", "/now"] {
        assert!(
            text_to(path).contains(&check_name),
            "{path} alerts on the failing check"
        );
    }
    // The measured value is new in 0.2.0: the current plugin shows it, the older one cannot.
    let value = r"*Value*\n812";
    assert!(text_to("/now").contains(value), "{}", text_to("/now"));
    assert!(
        !text_to("/first").contains("*Value*"),
        "{}",
        text_to("/first")
    );

    let runs = gateway.plugin_runs().await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|run| run.outcome == "ok"), "{runs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_without_on_response_delivers_but_may_not_ask_to_hear_back() {
    let downstream = FakeDownstream::start().await;
    let plain = json!({ "url": downstream.url("/plain") });
    let asking = json!({ "url": downstream.url("/asking"), "continuation": "step-2" });
    let tenants = [
        NamedTenant::new("plain", "s3cret").plugin("handle_only", plain),
        NamedTenant::new("asking", "s3cret").plugin("handle_only", asking),
    ];
    let gateway = Gateway::start(config_with(&tenants)).await;
    let bytes = Fixture::HandleOnly.bytes();
    let mark = log_mark(&gateway);
    install(&gateway, "handle_only", &bytes);
    let loaded = wait_for_loaded(&gateway, mark, "handle_only", &bytes, SOON).await;
    assert!(loaded.has("contract", CONTRACT), "{loaded:?}");

    for tenant in &tenants {
        let reply = send(&gateway, tenant, &newest_failing_check()).await;
        assert_eq!(reply.status, 200, "{}: {reply:?}", tenant.id);
    }
    let requests = downstream.wait_for(1, SOON).await;
    assert_eq!(requests[0].path, "/plain", "{requests:#?}");

    let runs = gateway.plugin_runs().await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    let refused = runs
        .iter()
        .find(|run| run.outcome != "ok")
        .unwrap_or_else(|| panic!("the asking tenant's run is refused: {runs:?}"));
    assert!(
        refused
            .error
            .as_deref()
            .is_some_and(|error| error.contains("sets a continuation")
                && error.contains("does not export `on-response`")),
        "{refused:?}"
    );
    // Nothing of the refused answer is sent, even later: once no action is pending, the
    // gateway has sent everything it ever will.
    gateway.wait_until_settled().await;
    assert_eq!(
        downstream.requests().len(),
        1,
        "{:#?}",
        downstream.requests()
    );
}
