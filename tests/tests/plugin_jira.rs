//! The Jira plugin: a Soda incident becomes a Jira issue, the issue is linked back to the
//! incident through Soda's callback URL, and resolving the incident resolves the issue.

use serde_json::{json, Value};
use soda_gateway_tests::{
    event, wait_until, with_callback_url, Config, FakeDownstream, Gateway, Plugin, PluginRun,
    Recorded, Tenant, SOON,
};

/// What the tenant's `jira_auth` secret holds (`me:token` in base64).
const JIRA_AUTH: &str = "bWU6dG9rZW4=";

/// Jira's answer to the issue creation.
const CREATED: &str =
    r#"{"id":"10001","key":"DATA-7","self":"https://acme.atlassian.net/rest/api/3/issue/10001"}"#;

/// A fake Jira that answers every request like a successful issue creation.
async fn jira() -> FakeDownstream {
    let jira = FakeDownstream::start().await;
    jira.set_status(201);
    jira.set_reply_body(CREATED);
    jira
}

/// Has the fake Jira answer like `GET .../transitions` for a new issue.
fn offer_transitions(jira: &FakeDownstream, done_name: &str) {
    jira.set_status(200);
    jira.set_reply_body(
        json!({ "expand": "transitions", "transitions": [
            { "id": "11", "name": "To Do", "to": { "id": "1", "name": "To Do" } },
            { "id": "21", "name": "In Progress", "to": { "id": "3", "name": "In Progress" } },
            { "id": "31", "name": done_name, "to": { "id": "10001", "name": done_name } },
        ] })
        .to_string(),
    );
}

/// A gateway with one tenant, `acme`, whose Jira plugin talks to `jira`.
async fn gateway(jira: &FakeDownstream) -> Gateway {
    let acme = Tenant::hmac("acme", "s3cret")
        .secret("jira_auth", &format!("{{ value = \"{JIRA_AUTH}\" }}"))
        .plugin(
            Plugin::Jira,
            json!({
                "base_url": jira.url(""),
                "project_key": "DATA",
                "authorization": "Basic {{secret:jira_auth}}",
            }),
        );
    Gateway::start(
        Config::new()
            .allowed_hosts(Plugin::Jira, &["127.0.0.1"])
            .tenant(acme),
    )
    .await
}

/// The seed event `name` with its incident-link callback pointed at `soda`.
fn seed(name: &str, soda: &FakeDownstream) -> Value {
    with_callback_url(event(name), &soda.url("/incident-link/cb"))
}

fn assert_authorized_json(request: &Recorded) {
    assert_eq!(
        request.header("authorization"),
        Some(format!("Basic {JIRA_AUTH}").as_str()),
        "the secret is substituted on the wire"
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
}

/// `text` linking to `href`, in Atlassian Document Format.
fn link(text: &str, href: &str) -> Value {
    json!({ "type": "text", "text": text, "marks": [{ "type": "link", "attrs": { "href": href } }] })
}

fn text(text: &str) -> Value {
    json!({ "type": "text", "text": text })
}

fn paragraph(content: Vec<Value>) -> Value {
    json!({ "type": "paragraph", "content": content })
}

/// The create body for a seed incident with one check result.
fn create_body(summary: &str, description: &str, incident_url: &str, check: [Value; 2]) -> Value {
    json!({ "fields": {
        "project": { "key": "DATA" },
        "issuetype": { "name": "Bug" },
        "summary": summary,
        "priority": { "name": "High" },
        "description": { "type": "doc", "version": 1, "content": [
            paragraph(vec![text(description)]),
            paragraph(vec![text("Severity: high. "), link("View the incident in Soda", incident_url)]),
            paragraph(vec![text("Checks:")]),
            { "type": "bulletList", "content": [
                { "type": "listItem", "content": [paragraph(check.to_vec())] },
            ] },
        ] },
    } })
}

/// The one run of the Jira plugin that failed.
async fn failed_jira_run(gateway: &Gateway) -> PluginRun {
    let mut failed = None;
    wait_until(
        "a Jira plugin run is recorded as failed",
        SOON,
        async || {
            failed = gateway
                .plugin_runs()
                .await
                .into_iter()
                .find(|run| run.plugin == "jira" && run.outcome == "error");
            failed.is_some()
        },
    )
    .await;
    failed.expect("a failed run")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_generation_incident_creates_an_issue_and_links_it() {
    let (jira, soda) = (jira().await, FakeDownstream::start().await);
    let gateway = gateway(&jira).await;

    let reply = gateway
        .send_event("acme", &seed("gen1_incident_created", &soda))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let create = &jira.wait_for(1, SOON).await[0];
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, "/rest/api/3/issue");
    assert_authorized_json(create);
    assert_eq!(
        create.json(),
        create_body(
            "Soda incident #196: Invalid customer ids",
            "Invalid customer ids",
            "https://cloud.soda.io/incidents/e1f399a3-******-1992d2744ef6",
            [
                link(
                    "checks for SODATEST_Customers_6f90f4ad: count same as \
                     SODATEST_RAWCUSTOMERS_7275c02c in postgres2",
                    "https://cloud.soda.io/checks/39d706c3-5a48-b",
                ),
                text(" (fail) on bnm_orders"),
            ],
        )
    );

    let callback = &soda.wait_for(1, SOON).await[0];
    assert_eq!(callback.method, "POST");
    assert_eq!(callback.path, "/incident-link/cb");
    assert_eq!(
        callback.json(),
        json!({ "url": jira.url("/browse/DATA-7"), "text": "DATA-7" })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_generation_incident_creates_an_issue_and_links_it() {
    let (jira, soda) = (jira().await, FakeDownstream::start().await);
    let gateway = gateway(&jira).await;

    let reply = gateway
        .send_event("acme", &seed("gen2_incident_created", &soda))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let create = &jira.wait_for(1, SOON).await[0];
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, "/rest/api/3/issue");
    assert_authorized_json(create);
    assert_eq!(
        create.json(),
        create_body(
            "Soda incident #412: Missing customer ids in orders",
            "42 orders arrived without a customer id since the 13:00 load.",
            "https://cloud.soda.io/incidents/b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43",
            [
                link(
                    "No missing customer ids",
                    "https://cloud.soda.io/checks/a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
                ),
                text(" (fail) on orders"),
            ],
        )
    );

    // The callback URL sits inside `incident` in this generation.
    let callback = &soda.wait_for(1, SOON).await[0];
    assert_eq!(callback.path, "/incident-link/cb");
    assert_eq!(
        callback.json(),
        json!({ "url": jira.url("/browse/DATA-7"), "text": "DATA-7" })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resolving_the_incident_takes_the_issue_s_done_transition_once() {
    let (jira, soda) = (jira().await, FakeDownstream::start().await);
    let gateway = gateway(&jira).await;
    gateway
        .send_event("acme", &seed("gen2_incident_created", &soda))
        .await;
    soda.wait_for(1, SOON).await;

    offer_transitions(&jira, "Done");
    let resolved = seed("gen2_incident_updated", &soda);
    let reply = gateway.send_event("acme", &resolved).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let requests = jira.wait_for(3, SOON).await;
    let (list, transition) = (&requests[1], &requests[2]);
    assert_eq!(list.method, "GET");
    assert_eq!(list.path, "/rest/api/3/issue/DATA-7/transitions");
    assert_eq!(
        list.header("authorization"),
        Some(format!("Basic {JIRA_AUTH}").as_str())
    );
    assert_eq!(transition.method, "POST");
    assert_eq!(transition.path, "/rest/api/3/issue/DATA-7/transitions");
    assert_authorized_json(transition);
    assert_eq!(transition.json(), json!({ "transition": { "id": "31" } }));

    // The issue is forgotten once resolved: resolving again is an error, not a second transition.
    let reply = gateway.send_event("acme", &resolved).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let run = failed_jira_run(&gateway).await;
    assert!(
        run.error
            .unwrap_or_default()
            .contains("no Jira issue is known for Soda incident b7e4c1a9"),
        "the error names the incident"
    );
    gateway.wait_until_settled().await;
    assert_eq!(jira.requests().len(), 3, "nothing more sent to Jira");
    assert_eq!(soda.requests().len(), 1, "one link only");
}

#[tokio::test(flavor = "multi_thread")]
async fn resolving_an_incident_without_an_issue_is_a_recorded_error() {
    let (jira, soda) = (jira().await, FakeDownstream::start().await);
    let gateway = gateway(&jira).await;

    let reply = gateway
        .send_event("acme", &seed("gen2_incident_updated", &soda))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let run = failed_jira_run(&gateway).await;
    let error = run.error.unwrap_or_default();
    assert!(
        error.contains(
            "no Jira issue is known for Soda incident b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43"
        ),
        "{error}"
    );
    gateway.wait_until_settled().await;
    assert!(jira.requests().is_empty(), "{:?}", jira.requests());
    assert!(soda.requests().is_empty(), "{:?}", soda.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn no_transition_named_done_is_a_recorded_error_naming_those_on_offer() {
    let (jira, soda) = (jira().await, FakeDownstream::start().await);
    let gateway = gateway(&jira).await;
    gateway
        .send_event("acme", &seed("gen1_incident_created", &soda))
        .await;
    soda.wait_for(1, SOON).await;

    offer_transitions(&jira, "Ship it");
    let reply = gateway
        .send_event("acme", &event("gen1_incident_updated"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let run = failed_jira_run(&gateway).await;
    let error = run.error.unwrap_or_default();
    assert!(
        error.contains("no Jira transition named \"Done\"")
            && error.contains("To Do, In Progress, Ship it"),
        "{error}"
    );
    gateway.wait_until_settled().await;
    let paths: Vec<_> = jira
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        [
            "POST /rest/api/3/issue",
            "GET /rest/api/3/issue/DATA-7/transitions"
        ],
        "no transition was taken"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_creation_is_a_recorded_error_and_links_nothing() {
    let (jira, soda) = (jira().await, FakeDownstream::start().await);
    jira.set_status(400);
    jira.set_reply_body(r#"{"errors":{"priority":"Field 'priority' cannot be set."}}"#);
    let gateway = gateway(&jira).await;

    let reply = gateway
        .send_event("acme", &seed("gen1_incident_created", &soda))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let run = failed_jira_run(&gateway).await;
    let error = run.error.unwrap_or_default();
    assert!(
        error.contains("creating the Jira issue failed: HTTP 400")
            && error.contains("Field 'priority' cannot be set."),
        "Jira's answer is quoted: {error}"
    );
    gateway.wait_until_settled().await;
    assert!(soda.requests().is_empty(), "{:?}", soda.requests());
}
