//! The JavaScript Teams workflow plugin (plugins/teams-workflow-js, built with componentize-js)
//! posts the exact Adaptive Card messages for both generations of Soda's payloads.
//!
//! One gateway runs every case: the component is 12 MB and each gateway compiles it on start
//! (its compile cache lives in the test's own data directory), so one start keeps this file fast.

use serde_json::{json, Value};
use soda_gateway_tests::{
    event, wait_until, with_callback_url, with_outcomes, Config, FakeDownstream, Gateway, Plugin,
    Recorded, Tenant, SOON,
};

/// The signature part of the workflow URL, kept in a secret and substituted on the wire.
const SIGNATURE: &str = "sig-0123456789abcdef";
const WEBHOOK_PATH: &str = "/workflows/4f1c/triggers/manual/paths/invoke?api-version=1&sig=";

#[tokio::test(flavor = "multi_thread")]
async fn teams_workflow_posts_adaptive_cards_for_failing_checks_and_new_incidents() {
    let teams = FakeDownstream::start().await;
    let acme = Tenant::hmac("acme", "s3cret")
        .secret("teams_sig", &format!("{{ value = \"{SIGNATURE}\" }}"))
        .plugin(
            Plugin::TeamsWorkflow,
            json!({ "webhook_url": teams.url(&format!("{WEBHOOK_PATH}{{{{secret:teams_sig}}}}")) }),
        );
    // A typo in the config is the plugin's error, recorded for the run; nothing is sent.
    let globex = Tenant::hmac("globex", "s3cret").plugin(
        Plugin::TeamsWorkflow,
        json!({ "webhook_url": teams.url("/globex"), "webhook": "typo" }),
    );
    let gateway = Gateway::start(
        Config::new()
            .allowed_hosts(Plugin::TeamsWorkflow, &["127.0.0.1"])
            .tenant(acme)
            .tenant(globex),
    )
    .await;

    // A passing evaluation: the plugin runs and asks for nothing.
    send(&gateway, "acme", &event("gen1_check_evaluation")).await;
    wait_until("the plugin ran", SOON, async || {
        gateway.plugin_runs().await.len() == 1
    })
    .await;
    let runs = gateway.plugin_runs().await;
    assert_eq!(
        (runs[0].plugin.as_str(), runs[0].outcome.as_str()),
        ("teams_workflow", "ok"),
        "{runs:?}"
    );
    assert_eq!(gateway.count_rows("actions").await, 0);

    // Second generation: one failing and one passing result; the card has the failing one.
    send(&gateway, "acme", &event("gen2_check_evaluation")).await;
    let request = nth_request(&teams, 1).await;
    assert_request(&request);
    assert_eq!(
        request.json(),
        message(
            json!([
                title("Soda: 1 check failed"),
                check(
                    "No missing customer ids",
                    json!([
                        fact("Outcome", "fail"),
                        fact("Dataset", "orders"),
                        fact("Datasource", "Postgres (prod)"),
                        fact("Column", "customer_id"),
                        fact("Data timestamp", "2025-06-05T13:00:00Z"),
                    ]),
                    "https://cloud.soda.io/checks/a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
                ),
            ]),
            None,
        )
    );

    // First generation, made to fail: the check has no name, so its definition names it.
    let failing = with_outcomes(event("gen1_check_evaluation"), "fail");
    send(&gateway, "acme", &failing).await;
    let request = nth_request(&teams, 2).await;
    assert_request(&request);
    assert_eq!(
        request.json(),
        message(
            json!([
                title("Soda: 1 check failed"),
                check(
                    GEN1_CHECK,
                    json!([
                        fact("Outcome", "fail"),
                        fact("Dataset", "bnm_orders"),
                        fact("Datasource", "sodaspark"),
                        fact("Column", "columnName"),
                        fact("Agreement", "My new agreement pending"),
                        fact("Data timestamp", "2022-01-04T09:49:48.060897Z"),
                    ]),
                    "https://cloud.soda.io/checks/39d706c3-5a48-b",
                ),
            ]),
            None,
        )
    );

    // First-generation incident: `major` is shown as high, `opened` as reported.
    send(&gateway, "acme", &incident("gen1_incident_created", &teams)).await;
    let request = nth_request(&teams, 3).await;
    assert_request(&request);
    assert_eq!(
        request.json(),
        message(
            json!([
                title("Soda: Incident #196: Invalid customer ids"),
                text("Invalid customer ids"),
                {
                    "type": "FactSet",
                    "facts": [
                        fact("Severity", "high"),
                        fact("Status", "reported"),
                        fact("Lead", "personn@soda.io"),
                        fact("Reporter", "person@soda.io"),
                        fact("Dataset", "bnm_orders"),
                        fact("Datasource", "sodaspark"),
                        fact("Checks", &format!("{GEN1_CHECK} (fail)")),
                        fact("Created", "2022-05-18T06:07:34Z"),
                    ],
                },
            ]),
            Some("https://cloud.soda.io/incidents/e1f399a3-******-1992d2744ef6"),
        )
    );

    // Second-generation incident: no lead, `in_progress` status.
    send(&gateway, "acme", &incident("gen2_incident_created", &teams)).await;
    let request = nth_request(&teams, 4).await;
    assert_request(&request);
    assert_eq!(
        request.json(),
        message(
            json!([
                title("Soda: Incident #412: Missing customer ids in orders"),
                text("42 orders arrived without a customer id since the 13:00 load."),
                {
                    "type": "FactSet",
                    "facts": [
                        fact("Severity", "high"),
                        fact("Status", "in-progress"),
                        fact("Reporter", "maria.lopez@example.com"),
                        fact("Dataset", "orders"),
                        fact("Datasource", "Postgres (prod)"),
                        fact("Checks", "No missing customer ids (fail)"),
                        fact("Created", "2025-06-05T13:07:12Z"),
                    ],
                },
            ]),
            Some("https://cloud.soda.io/incidents/b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43"),
        )
    );

    // The misconfigured tenant: the run is an error naming the key.
    send(&gateway, "globex", &failing).await;
    wait_until("globex's plugin run is recorded", SOON, async || {
        gateway.plugin_runs().await.len() == 6
    })
    .await;
    let errors: Vec<_> = gateway
        .plugin_runs()
        .await
        .into_iter()
        .filter(|run| run.outcome == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = errors[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("unknown key `webhook`"),
        "the error names the key: {error}"
    );

    // Every action was delivered once, and nothing else was sent: every run is stored with its
    // actions, so once those four succeeded nothing is left to send.
    assert_eq!(gateway.count_rows("actions").await, 4);
    wait_until("the four actions succeeded", SOON, async || {
        gateway
            .count("SELECT COUNT(*) FROM actions WHERE status = 'succeeded'")
            .await
            == 4
    })
    .await;
    assert_eq!(teams.requests().len(), 4, "{:#?}", teams.requests());
}

/// The first-generation seed's check: unnamed, so shown by its definition.
const GEN1_CHECK: &str =
    "checks for SODATEST_Customers_6f90f4ad:\ncount same as SODATEST_RAWCUSTOMERS_7275c02c in postgres2";

async fn send(gateway: &Gateway, tenant: &str, event: &Value) {
    let reply = gateway.send_event(tenant, event).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!({}), "the plugin returns no link");
}

/// An incident seed whose callback URL points at the fake (the plugin never calls it).
fn incident(seed: &str, teams: &FakeDownstream) -> Value {
    with_callback_url(event(seed), &teams.url("/callback"))
}

/// Waits for the `n`th request and returns it.
async fn nth_request(teams: &FakeDownstream, n: usize) -> Recorded {
    let requests = teams.wait_for(n, SOON).await;
    assert_eq!(requests.len(), n, "{requests:#?}");
    requests[n - 1].clone()
}

/// Method, path (the secret substituted), and headers: JSON, an idempotency key, our agent.
fn assert_request(request: &Recorded) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, format!("{WEBHOOK_PATH}{SIGNATURE}"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(
        request
            .header("idempotency-key")
            .is_some_and(|key| !key.is_empty()),
        "{:?}",
        request.headers
    );
    assert!(
        request
            .header("user-agent")
            .is_some_and(|agent| agent.starts_with("soda-gateway/")),
        "{:?}",
        request.headers
    );
    let mut names: Vec<&str> = request.headers.keys().map(|name| name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "accept",
            "content-length",
            "content-type",
            "host",
            "idempotency-key",
            "user-agent"
        ],
        "no other headers: {:?}",
        request.headers
    );
}

/// The Teams webhook body around an Adaptive Card 1.2 with `body` and, when given, an
/// "Open in Soda" action.
fn message(body: Value, open_url: Option<&str>) -> Value {
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.2",
        "body": body,
        "msteams": { "width": "Full" },
    });
    if let Some(url) = open_url {
        content["actions"] = json!([open_in_soda(url)]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content,
        }],
    })
}

fn title(value: &str) -> Value {
    json!({ "type": "TextBlock", "text": value, "wrap": true, "size": "Medium", "weight": "Bolder" })
}

fn text(value: &str) -> Value {
    json!({ "type": "TextBlock", "text": value, "wrap": true })
}

fn fact(title: &str, value: &str) -> Value {
    json!({ "title": title, "value": value })
}

fn open_in_soda(url: &str) -> Value {
    json!({ "type": "Action.OpenUrl", "title": "Open in Soda", "url": url })
}

/// One failing check's section.
fn check(name: &str, facts: Value, url: &str) -> Value {
    json!({
        "type": "Container",
        "separator": true,
        "items": [
            { "type": "TextBlock", "text": name, "wrap": true, "weight": "Bolder", "color": "Attention" },
            { "type": "FactSet", "facts": facts },
            { "type": "ActionSet", "actions": [open_in_soda(url)] },
        ],
    })
}
