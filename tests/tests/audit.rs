//! The audit trail: an event's whole story (what arrived, plugin runs, actions, attempts) from
//! the admin API and the CLI; actions listed and retried; JSON logs that name tenant, event and
//! plugin.

use serde_json::{json, Value};
use soda_gateway_tests::{
    failing_check_named, wait_until, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};

const TOKEN: &str = "audit-admin-token";
const SECRET: &str = "audit-signing-s3cret";

fn config(slack: &FakeDownstream, plugins: &[Plugin]) -> Config {
    let mut tenant = Tenant::hmac("acme", SECRET);
    for plugin in plugins {
        tenant = tenant.plugin(*plugin, json!({ "webhook_url": slack.url("/hook") }));
    }
    Config::new()
        .tenant(tenant)
        .tenant(Tenant::hmac("globex", "other-secret"))
        .retry_delays(&["200ms", "200ms", "200ms"])
        .extra_top_level_toml(&format!("[admin]\ntoken = \"{TOKEN}\""))
}

async fn admin(gateway: &Gateway, method: &str, path: &str) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", gateway.url());
    let request = match method {
        "GET" => client.get(url),
        _ => client.post(url),
    };
    let response = request.bearer_auth(TOKEN).send().await.expect("admin");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Runs `soda-gateway <args>` on the gateway's config: (success, stdout, stderr).
fn cli(gateway: &Gateway, args: &[&str]) -> (bool, String, String) {
    let run = gateway.cli(args);
    (run.succeeded(), run.stdout(), run.stderr())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_events_whole_story_is_retrievable_from_the_admin_api_and_the_cli() {
    let slack = FakeDownstream::start().await;
    slack.set_status(503);
    // The retry waits long enough for the test to see the first attempt recorded and turn the
    // 503 into 200 in between, however loaded the machine.
    let retrying = config(&slack, &[Plugin::Slack, Plugin::Trap]).retry_delays(&["5s"]);
    let gateway = Gateway::start(retrying).await;
    let sent = failing_check_named("story");
    let signature = soda_gateway_tests::hmac_hex(SECRET, &serde_json::to_vec(&sent).unwrap());
    assert_eq!(gateway.send_event("acme", &sent).await.status, 200);
    let (_, listed) = admin(&gateway, "GET", "/admin/events").await;
    let id = listed["events"][0]["id"].as_str().unwrap().to_owned();
    // Answered 503 once (recorded as an attempt), then 200.
    wait_until("the first attempt is recorded", SOON, async || {
        let (_, story) = admin(&gateway, "GET", &format!("/admin/events/{id}")).await;
        story["actions"][0]["attempts"] == 1
    })
    .await;
    slack.set_status(200);
    wait_until("the second attempt is recorded", SOON, async || {
        let (_, story) = admin(&gateway, "GET", &format!("/admin/events/{id}")).await;
        story["actions"][0]["status"] == "succeeded"
    })
    .await;

    // The admin API.
    let (status, story) = admin(&gateway, "GET", &format!("/admin/events/{id}")).await;
    assert_eq!(status, 200, "{story}");
    assert_eq!(story["event"]["tenant"], "acme");
    assert_eq!(story["event"]["event_type"], "checkEvaluation");
    assert_eq!(story["event"]["status"], "failed", "the trap plugin failed");
    assert_eq!(story["body"], sent, "the body as it arrived");
    let header = |name: &str| {
        story["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|pair| pair[0] == name)
            .map(|pair| pair[1].clone())
    };
    assert_eq!(header("content-type"), Some(json!("application/json")));
    assert_eq!(header("x-soda-signature"), Some(json!("[redacted]")));
    let text = story.to_string();
    assert!(!text.contains(&signature) && !text.contains(SECRET));
    let runs: Vec<(&str, bool)> = story["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            (
                run["plugin"].as_str().unwrap(),
                run["ok"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(runs, [("slack", true), (Plugin::Trap.name(), false)]);
    assert!(story["runs"][1]["error"].as_str().unwrap().contains("trap"));
    let action = &story["actions"][0];
    assert_eq!(action["url"], slack.url("/hook"));
    let codes: Vec<&Value> = action["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| &attempt["status_code"])
        .collect();
    assert_eq!(codes, [&json!(503), &json!(200)]);

    // Filters.
    let (_, failed) = admin(&gateway, "GET", "/admin/events?status=failed&tenant=acme").await;
    assert_eq!(failed["events"].as_array().unwrap().len(), 1);
    let (_, none) = admin(&gateway, "GET", "/admin/events?tenant=globex").await;
    assert_eq!(none["events"], json!([]));
    let (status, bad) = admin(&gateway, "GET", "/admin/events?status=lost").await;
    assert_eq!(status, 400);
    assert!(bad["error"]
        .as_str()
        .unwrap()
        .contains("unknown event status"));
    let (status, _) = admin(&gateway, "GET", "/admin/events/evt_nope").await;
    assert_eq!(status, 404);

    // The CLI.
    let (ok, out, err) = cli(&gateway, &["events", "list", "--status", "failed"]);
    assert!(ok, "{err}");
    assert!(out.contains(&id) && out.contains("tenant=acme"), "{out}");
    let (ok, out, _) = cli(
        &gateway,
        &["events", "list", "--since", "1h", "--tenant", "globex"],
    );
    assert!(ok);
    assert_eq!(out.trim(), "no events");
    let (ok, _, err) = cli(&gateway, &["events", "list", "--since", "yesterday"]);
    assert!(!ok && err.contains("neither an RFC 3339 time"), "{err}");
    let (ok, out, err) = cli(&gateway, &["events", "show", &id]);
    assert!(ok, "{err}");
    for expected in [
        "x-soda-signature: [redacted]",
        "fixture_trap (handle) error",
        "slack (handle) ok",
        "HTTP 503",
        "HTTP 200",
        "\"story\"",
    ] {
        assert!(out.contains(expected), "{expected} missing from\n{out}");
    }
    let (ok, out, _) = cli(&gateway, &["events", "show", &id, "--json"]);
    assert!(ok);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["actions"][0]["attempt_log"][1]["status_code"], 200);
    let (ok, _, err) = cli(&gateway, &["events", "show", "evt_nope"]);
    assert!(!ok && err.contains("no event `evt_nope`"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_are_listed_and_retried_from_the_cli_and_the_admin_api() {
    let slack = FakeDownstream::start().await;
    slack.set_status(400);
    let gateway = Gateway::start(config(&slack, &[Plugin::Slack])).await;
    assert_eq!(
        gateway
            .send_event("acme", &failing_check_named("retry-me"))
            .await
            .status,
        200
    );
    slack.wait_for(1, SOON).await;
    wait_until("the action is a dead letter", SOON, async || {
        let (_, out, _) = cli(&gateway, &["actions", "list", "--status", "failed"]);
        out.contains("act_")
    })
    .await;
    let (ok, out, err) = cli(&gateway, &["actions", "list", "--status", "failed"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("plugin=slack") && out.contains("last error: HTTP 400"),
        "{out}"
    );
    let id = out.split_whitespace().next().unwrap().to_owned();
    let (ok, out, _) = cli(&gateway, &["actions", "list", "--status", "pending"]);
    assert!(ok);
    assert_eq!(out.trim(), "no actions");

    slack.set_status(200);
    let (ok, out, err) = cli(&gateway, &["actions", "retry", &id]);
    assert!(ok, "{err}");
    assert!(out.contains("requeued"), "{out}");
    slack.wait_for(2, SOON).await;
    wait_until("the retried action is delivered", SOON, async || {
        let (_, out, _) = cli(&gateway, &["actions", "list", "--status", "succeeded"]);
        out.contains(&id)
    })
    .await;
    // Delivered, so nothing more is sent for it.
    assert_eq!(slack.requests().len(), 2, "sent again once");
    let (ok, out, err) = cli(&gateway, &["actions", "retry", &id, "act_nope"]);
    assert!(!ok, "{out}");
    assert!(out.contains("already delivered") && out.contains("no such HTTP action"));
    assert!(err.contains("2 of 2 action(s) were not retried"), "{err}");

    let (status, body) = admin(&gateway, "POST", &format!("/admin/actions/{id}/retry")).await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = admin(&gateway, "POST", "/admin/actions/act_nope/retry").await;
    assert_eq!(status, 404);
    let (status, listed) = admin(&gateway, "GET", "/admin/actions?plugin=slack").await;
    assert_eq!(status, 200);
    assert_eq!(listed["actions"][0]["id"], id.as_str());
    assert_eq!(
        listed["actions"][0]["attempts"], 1,
        "counted from the retry"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_name_the_tenant_event_and_plugin_of_every_line_about_an_event() {
    let slack = FakeDownstream::start().await;
    slack.set_status(500);
    let gateway = Gateway::start(
        config(&slack, &[Plugin::Slack, Plugin::Trap]).env("SODA_LOG_FORMAT", "json"),
    )
    .await;
    assert_eq!(
        gateway
            .send_event("acme", &failing_check_named("logged"))
            .await
            .status,
        200
    );
    slack.wait_for(2, SOON).await;
    let (_, listed) = admin(&gateway, "GET", "/admin/events").await;
    let id = listed["events"][0]["id"].as_str().unwrap().to_owned();
    let expected = [
        "event accepted",
        "plugin trapped",
        "attempt failed, retrying in",
    ];
    // Lines reach stderr through the gateway's log thread, maybe a little after the fact.
    wait_until("the lines about the event are logged", SOON, async || {
        let lines = json_lines(&gateway);
        expected.iter().all(|prefix| {
            lines.iter().any(|line| {
                line["event_id"] == id.as_str()
                    && line["message"]
                        .as_str()
                        .is_some_and(|message| message.starts_with(prefix))
            })
        })
    })
    .await;
    let lines = json_lines(&gateway);
    let about_event: Vec<&Value> = lines
        .iter()
        .filter(|line| line["event_id"] == id.as_str())
        .collect();
    let messages: Vec<&str> = about_event
        .iter()
        .map(|line| line["message"].as_str().unwrap())
        .collect();
    for expected in expected {
        assert!(
            messages.iter().any(|m| m.starts_with(expected)),
            "no `{expected}` line in {messages:?}"
        );
    }
    for line in &about_event {
        assert_eq!(line["tenant"], "acme", "{line}");
        assert!(line["plugin"].is_string(), "{line}");
        assert!(line["level"].is_string() && line["timestamp"].is_string());
    }
    let trapped = about_event
        .iter()
        .find(|line| {
            line["message"]
                .as_str()
                .unwrap()
                .starts_with("plugin trapped")
        })
        .unwrap();
    assert_eq!(trapped["plugin"], Plugin::Trap.name());
}

/// The complete lines of the gateway's stderr, each parsed as JSON. A last line without its
/// newline is still being written (the log thread writes in buffered chunks) and is left out.
fn json_lines(gateway: &Gateway) -> Vec<Value> {
    let stderr = gateway.stderr();
    stderr
        .split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"))
        })
        .collect()
}
