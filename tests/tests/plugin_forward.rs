//! The forward plugin: routes filtered by event type, outcome, dataset, data source and dataset
//! attribute send exactly the expected requests, with the raw event or a templated body, and
//! with the tenant's secrets substituted on the wire only where its config placed them.

use serde_json::{json, Value};
use soda_gateway_tests::{
    event, failing_check_named, wait_until, with_callback_url, with_outcomes, Config,
    FakeDownstream, Gateway, Plugin, Recorded, Tenant, SOON,
};

/// The tenant `acme` with the forward plugin and these routes.
fn acme_forwarding(routes: Value) -> Tenant {
    Tenant::hmac("acme", "s3cret").plugin(Plugin::Forward, json!({ "routes": routes }))
}

/// Sends `events` one by one, then waits until the plugin ran for each and every action it
/// returned was delivered; returns what the downstream received, ordered by path then body.
async fn forward(
    gateway: &Gateway,
    downstream: &FakeDownstream,
    events: &[&Value],
) -> Vec<Recorded> {
    for event in events {
        let reply = gateway.send_event("acme", event).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    wait_until("the plugin ran for every event", SOON, async || {
        gateway.count_rows("plugin_runs").await == events.len() as i64
    })
    .await;
    let runs = gateway.plugin_runs().await;
    assert!(runs.iter().all(|run| run.outcome == "ok"), "{runs:?}");
    wait_until("every action is delivered", SOON, async || {
        gateway
            .actions()
            .await
            .iter()
            .all(|action| action.status == "succeeded")
    })
    .await;
    let mut requests = downstream.requests();
    assert_eq!(
        requests.len() as i64,
        gateway.count_rows("actions").await,
        "one request per action: {requests:#?}"
    );
    requests.sort_by_key(|r| (r.path.clone(), r.text()));
    requests
}

/// The event's bytes as the harness sends them.
fn bytes(event: &Value) -> Vec<u8> {
    serde_json::to_vec(event).expect("JSON")
}

fn assert_request(request: &Recorded, method: &str, path: &str, headers: &[(&str, &str)]) {
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        (method, path),
        "{request:#?}"
    );
    for (name, value) in headers {
        assert_eq!(request.header(name), Some(*value), "{name}: {request:#?}");
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test(flavor = "multi_thread")]
async fn routes_by_event_type_forward_the_event_exactly_as_received() {
    let downstream = FakeDownstream::start().await;
    let routes = json!([
        {
            "url": downstream.url("/incidents"),
            "event_types": ["incidentCreated", "incidentUpdated"],
            "headers": { "x-source": "soda" },
        },
        {
            "url": downstream.url("/contracts"),
            "method": "PUT",
            "event_types": ["contractPublished"],
        },
    ]);
    let gateway = Gateway::start(Config::new().tenant(acme_forwarding(routes))).await;
    let callback = downstream.url("/soda-callback");
    let created = with_callback_url(event("gen1_incident_created"), &callback);
    let updated = with_callback_url(event("gen2_incident_updated"), &callback);
    let contract = event("gen2_contract_published");

    let requests = forward(
        &gateway,
        &downstream,
        &[
            &event("gen1_check_evaluation"),
            &created,
            &updated,
            &contract,
        ],
    )
    .await;

    assert_eq!(requests.len(), 3, "{requests:#?}");
    assert_request(&requests[0], "PUT", "/contracts", &[JSON]);
    assert_eq!(requests[0].body, bytes(&contract));
    // Sorted by body: the first generation's `{"event":"incidentCreated"...` first.
    for (request, sent) in requests[1..].iter().zip([&created, &updated]) {
        assert_request(request, "POST", "/incidents", &[JSON, ("x-source", "soda")]);
        assert_eq!(request.body, bytes(sent), "the body is the event as sent");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_by_outcome_and_dataset_wildcard() {
    let downstream = FakeDownstream::start().await;
    let routes = json!([
        { "url": downstream.url("/failures"), "outcomes": ["fail"] },
        { "url": downstream.url("/orders"), "datasets": ["ord*"] },
        {
            "url": downstream.url("/bnm-warnings"),
            "event_types": ["checkEvaluation"],
            "datasets": ["bnm_*"],
            "outcomes": ["warn", "error"],
        },
    ]);
    let gateway = Gateway::start(Config::new().tenant(acme_forwarding(routes))).await;
    // Passes on `bnm_orders`: no route takes it.
    let passing = event("gen1_check_evaluation");
    // Fails and passes on `orders`.
    let failing = event("gen2_check_evaluation");
    let warning = with_outcomes(event("gen1_check_evaluation"), "warn");

    let requests = forward(&gateway, &downstream, &[&passing, &failing, &warning]).await;

    let received: Vec<(&str, &str, Vec<u8>)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.body.clone()))
        .collect();
    assert_eq!(
        received,
        [
            ("POST", "/bnm-warnings", bytes(&warning)),
            ("POST", "/failures", bytes(&failing)),
            ("POST", "/orders", bytes(&failing)),
        ]
    );
    for request in &requests {
        assert_eq!(request.header("content-type"), Some("application/json"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_by_datasource_and_dataset_attribute() {
    let downstream = FakeDownstream::start().await;
    let routes = json!([
        { "url": downstream.url("/spark"), "datasources": ["sodaspark"] },
        { "url": downstream.url("/sales"), "attributes": { "data_domain": ["Sales"] } },
        {
            "url": downstream.url("/prod-incidents"),
            "event_types": ["incidentCreated"],
            "datasources": ["Postgres (prod)"],
            "attributes": { "data_domain": ["Sales", "Product"] },
        },
    ]);
    let gateway = Gateway::start(Config::new().tenant(acme_forwarding(routes))).await;
    let callback = downstream.url("/soda-callback");
    let gen1_check = event("gen1_check_evaluation");
    let gen1_incident = with_callback_url(event("gen1_incident_created"), &callback);
    let gen2_check = event("gen2_check_evaluation");
    let gen2_incident = with_callback_url(event("gen2_incident_created"), &callback);
    // postgres_prod, but a contract has no attributes and no route takes it.
    let contract = event("gen2_contract_published");

    let requests = forward(
        &gateway,
        &downstream,
        &[
            &gen1_check,
            &gen1_incident,
            &gen2_check,
            &gen2_incident,
            &contract,
        ],
    )
    .await;

    let received: Vec<(&str, Value)> = requests
        .iter()
        .map(|r| (r.path.as_str(), r.json()))
        .collect();
    assert_eq!(
        received,
        [
            ("/prod-incidents", gen2_incident.clone()),
            ("/sales", gen2_check),
            ("/sales", gen2_incident),
            ("/spark", gen1_check),
            ("/spark", gen1_incident),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_shape_the_body_with_one_request_per_event() {
    let downstream = FakeDownstream::start().await;
    let routes = json!([
        {
            "url": downstream.url("/alerts"),
            "event_types": ["checkEvaluation"],
            "outcomes": ["fail", "warn"],
            "template": {
                "source": "soda-gateway",
                "type": "{{event.type}}",
                "text": "{{check.name}} ({{check.outcome}}) on {{dataset.name}} in {{datasource.label}}",
                "check_url": "{{check.url}}",
                "alerting": "{{checks}}",
            },
        },
        {
            "url": downstream.url("/incidents"),
            "event_types": ["incidentCreated"],
            "template": {
                "title": "Incident #{{incident.number}}: {{incident.title}}",
                "number": "{{incident.number}}",
                "severity": "{{incident.severity}}",
                "status": "{{incident.status}}",
                "created": "{{incident.created}}",
                "dataset": "{{dataset.name}}",
            },
        },
    ]);
    let gateway = Gateway::start(Config::new().tenant(acme_forwarding(routes))).await;
    let callback = downstream.url("/soda-callback");
    // One failing and one passing result; then both failing: still one request.
    let one_failing = event("gen2_check_evaluation");
    let both_failing = with_outcomes(event("gen2_check_evaluation"), "fail");
    let gen1_incident = with_callback_url(event("gen1_incident_created"), &callback);
    let gen2_incident = with_callback_url(event("gen2_incident_created"), &callback);

    let requests = forward(
        &gateway,
        &downstream,
        &[&one_failing, &both_failing, &gen1_incident, &gen2_incident],
    )
    .await;

    assert_eq!(requests.len(), 4, "{requests:#?}");
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.header("content-type"), Some("application/json"));
    }
    let alert = |alerting: Value| {
        json!({
            "source": "soda-gateway",
            "type": "checkEvaluation",
            "text": "No missing customer ids (fail) on orders in Postgres (prod)",
            "check_url": "https://cloud.soda.io/checks/a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
            "alerting": alerting,
        })
    };
    let mut alerts: Vec<Value> = requests[..2].iter().map(Recorded::json).collect();
    alerts.sort_by_key(|body| body["alerting"].as_array().map(Vec::len));
    assert_eq!(requests[0].path, "/alerts");
    assert_eq!(
        alerts,
        [
            alert(json!([one_failing["checkResults"][0]])),
            alert(both_failing["checkResults"].clone()),
        ]
    );

    assert_eq!(requests[2].path, "/incidents");
    assert_eq!(
        requests[2].json(),
        json!({
            "title": "Incident #196: Invalid customer ids",
            "number": 196,
            "severity": "high",
            "status": "reported",
            "created": "2022-05-18T06:07:34Z",
            "dataset": "bnm_orders",
        }),
        "first generation, normalised"
    );
    assert_eq!(
        requests[3].json(),
        json!({
            "title": "Incident #412: Missing customer ids in orders",
            "number": 412,
            "severity": "high",
            "status": "in-progress",
            "created": "2025-06-05T13:07:12Z",
            "dataset": "orders",
        }),
        "second generation"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_placed_by_the_config_arrive_substituted_and_none_from_the_event() {
    const TOKEN: &str = "fwd-token-5e6f7a";
    let downstream = FakeDownstream::start().await;
    let routes = json!([
        {
            "url": downstream.url("/raw"),
            "outcomes": ["fail"],
            "headers": { "x-api-key": "{{secret:fwd_token}}" },
        },
        {
            "url": downstream.url("/templated"),
            "outcomes": ["fail"],
            "headers": { "authorization": "Bearer {{secret:fwd_token}}" },
            "template": { "check": "{{check.name}}", "key": "{{secret:fwd_token}}" },
        },
    ]);
    let tenant = acme_forwarding(routes).secret("fwd_token", &format!("{{ value = \"{TOKEN}\" }}"));
    let config = Config::new()
        .allowed_hosts(Plugin::Forward, &["127.0.0.1"])
        .tenant(tenant);
    let gateway = Gateway::start(config).await;
    // Whoever names a Soda check must not get the token sent in its place.
    let hostile = failing_check_named("{{secret:fwd_token}}");

    let requests = forward(&gateway, &downstream, &[&hostile]).await;

    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_request(&requests[0], "POST", "/raw", &[JSON, ("x-api-key", TOKEN)]);
    // The gateway defused the placeholder in the event before the plugin saw it.
    let defused = failing_check_named("{{ secret:fwd_token}}");
    assert_eq!(
        requests[0].json(),
        defused,
        "the event, its placeholder defused"
    );
    assert!(
        !requests[0].text().contains(TOKEN),
        "{}",
        requests[0].text()
    );

    let bearer = format!("Bearer {TOKEN}");
    assert_request(
        &requests[1],
        "POST",
        "/templated",
        &[JSON, ("authorization", &bearer)],
    );
    assert_eq!(
        requests[1].json(),
        json!({ "check": "{{ secret:fwd_token}}", "key": TOKEN })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_config_is_a_plugin_error_that_names_the_key() {
    let downstream = FakeDownstream::start().await;
    let routes = json!([{
        "url": downstream.url("/alerts"),
        "template": { "text": "{{check.nme}} failed" },
    }]);
    let gateway = Gateway::start(Config::new().tenant(acme_forwarding(routes))).await;

    let reply = gateway
        .send_event("acme", &event("gen2_check_evaluation"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    wait_until("the plugin run is recorded", SOON, async || {
        gateway.count_rows("plugin_runs").await == 1
    })
    .await;
    let runs = gateway.plugin_runs().await;
    assert_eq!(runs[0].outcome, "error", "{runs:?}");
    let error = runs[0].error.clone().unwrap_or_default();
    assert!(
        error.contains(
            "invalid forward plugin config: routes[0].template: unknown placeholder `{{check.nme}}`"
        ),
        "{error}"
    );
    assert_eq!(gateway.count_rows("actions").await, 0);
    assert!(downstream.requests().is_empty());
}
