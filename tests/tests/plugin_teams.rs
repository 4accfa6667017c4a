//! The Teams plugin against a fake webhook: the exact Adaptive Card messages for both payload
//! generations, and when it stays silent.

use serde_json::{json, Value};
use soda_gateway_tests::{
    event, wait_until, with_callback_url, with_outcomes, Config, FakeDownstream, Gateway, Plugin,
    Recorded, Tenant, SOON,
};

fn tenant(id: &str, config: Value) -> Tenant {
    Tenant::hmac(id, "s3cret").plugin(Plugin::Teams, config)
}

/// Asserts one webhook call: `POST path` with JSON carrying `card` as its only attachment.
fn assert_card(request: &Recorded, path: &str, card: Value) {
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", path)
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": card,
            }],
        })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gen2_failing_check_posts_one_card() {
    let teams = FakeDownstream::start().await;
    let config = json!({ "webhook_url": teams.url("/workflows/hook") });
    let gateway = Gateway::start(Config::new().tenant(tenant("acme", config))).await;

    let reply = gateway
        .send_event("acme", &event("gen2_check_evaluation"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let requests = teams.wait_for(1, SOON).await;
    assert_card(
        &requests[0],
        "/workflows/hook",
        json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.2",
            "body": [
                { "type": "TextBlock", "text": "Soda: 1 check failed", "size": "Medium", "weight": "Bolder", "color": "attention", "wrap": true },
                {
                    "type": "Container",
                    "separator": true,
                    "items": [
                        { "type": "TextBlock", "text": "No missing customer ids", "weight": "Bolder", "wrap": true },
                        { "type": "FactSet", "facts": [
                            { "title": "Outcome", "value": "fail" },
                            { "title": "Dataset", "value": "orders" },
                            { "title": "Data source", "value": "Postgres (prod)" },
                            { "title": "Column", "value": "customer_id" },
                            { "title": "Data timestamp", "value": "2025-06-05T13:00:00Z" },
                        ] },
                        { "type": "ActionSet", "actions": [{
                            "type": "Action.OpenUrl",
                            "title": "Open in Soda",
                            "url": "https://cloud.soda.io/checks/a3c9f2e4-6b71-4d08-9f5a-2e8b7c1d0f36",
                        }] },
                    ],
                },
            ],
        }),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gen1_warnings_post_unless_turned_off_and_passes_post_nothing() {
    let teams = FakeDownstream::start().await;
    let gateway = Gateway::start(
        Config::new()
            .tenant(tenant("acme", json!({ "webhook_url": teams.url("/acme") })))
            .tenant(tenant(
                "globex",
                json!({ "webhook_url": teams.url("/globex"), "include_warnings": false }),
            )),
    )
    .await;

    let warning = with_outcomes(event("gen1_check_evaluation"), "warn");
    for tenant in ["acme", "globex"] {
        assert_eq!(gateway.send_event(tenant, &warning).await.status, 200);
    }
    let passing = event("gen1_check_evaluation");
    assert_eq!(gateway.send_event("acme", &passing).await.status, 200);

    let requests = teams.wait_for(1, SOON).await;
    assert_card(
        &requests[0],
        "/acme",
        json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.2",
            "body": [
                { "type": "TextBlock", "text": "Soda: 1 check warned", "size": "Medium", "weight": "Bolder", "color": "warning", "wrap": true },
                {
                    "type": "Container",
                    "separator": true,
                    "items": [
                        { "type": "TextBlock", "text": "checks for SODATEST_Customers_6f90f4ad:\ncount same as SODATEST_RAWCUSTOMERS_7275c02c in postgres2", "weight": "Bolder", "wrap": true },
                        { "type": "FactSet", "facts": [
                            { "title": "Outcome", "value": "warn" },
                            { "title": "Dataset", "value": "bnm_orders" },
                            { "title": "Data source", "value": "sodaspark" },
                            { "title": "Column", "value": "columnName" },
                            { "title": "Agreement", "value": "My new agreement pending" },
                            { "title": "Data timestamp", "value": "2022-01-04T09:49:48.060897Z" },
                        ] },
                        { "type": "ActionSet", "actions": [{
                            "type": "Action.OpenUrl",
                            "title": "Open in Soda",
                            "url": "https://cloud.soda.io/checks/39d706c3-5a48-b",
                        }] },
                    ],
                },
            ],
        }),
    );

    wait_until("all three runs are stored", SOON, async || {
        gateway
            .count("SELECT COUNT(*) FROM plugin_runs WHERE plugin = 'teams' AND outcome = 'ok'")
            .await
            == 3
    })
    .await;
    // Each run is stored with its actions: once none is left to send, nothing more comes.
    gateway.wait_until_settled().await;
    assert_eq!(teams.requests().len(), 1, "{:?}", teams.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn incidents_of_both_generations_post_a_card() {
    let teams = FakeDownstream::start().await;
    let config = json!({ "webhook_url": teams.url("/hook") });
    let gateway = Gateway::start(Config::new().tenant(tenant("acme", config))).await;
    // Teams posts no link, but the gateway only accepts loopback callbacks in tests.
    let callback = "http://127.0.0.1:9/cb";

    let gen1 = with_callback_url(event("gen1_incident_created"), callback);
    assert_eq!(gateway.send_event("acme", &gen1).await.status, 200);
    let requests = teams.wait_for(1, SOON).await;
    assert_card(
        &requests[0],
        "/hook",
        json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.2",
            "body": [
                { "type": "TextBlock", "text": "Soda incident #196: Invalid customer ids", "size": "Medium", "weight": "Bolder", "color": "attention", "wrap": true },
                { "type": "TextBlock", "text": "Invalid customer ids", "wrap": true },
                { "type": "FactSet", "facts": [
                    { "title": "Severity", "value": "high" },
                    { "title": "Status", "value": "reported" },
                    { "title": "Lead", "value": "personn@soda.io" },
                    { "title": "Reporter", "value": "person@soda.io" },
                    { "title": "Dataset", "value": "bnm_orders" },
                    { "title": "Data source", "value": "sodaspark" },
                    { "title": "Checks", "value": "checks for SODATEST_Customers_6f90f4ad:\ncount same as SODATEST_RAWCUSTOMERS_7275c02c in postgres2 (fail)" },
                ] },
            ],
            "actions": [{
                "type": "Action.OpenUrl",
                "title": "Open in Soda",
                "url": "https://cloud.soda.io/incidents/e1f399a3-******-1992d2744ef6",
            }],
        }),
    );

    let gen2 = with_callback_url(event("gen2_incident_created"), callback);
    assert_eq!(gateway.send_event("acme", &gen2).await.status, 200);
    let requests = teams.wait_for(2, SOON).await;
    assert_card(
        &requests[1],
        "/hook",
        json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.2",
            "body": [
                { "type": "TextBlock", "text": "Soda incident #412: Missing customer ids in orders", "size": "Medium", "weight": "Bolder", "color": "attention", "wrap": true },
                { "type": "TextBlock", "text": "42 orders arrived without a customer id since the 13:00 load.", "wrap": true },
                { "type": "FactSet", "facts": [
                    { "title": "Severity", "value": "high" },
                    { "title": "Status", "value": "in-progress" },
                    { "title": "Reporter", "value": "maria.lopez@example.com" },
                    { "title": "Dataset", "value": "orders" },
                    { "title": "Data source", "value": "Postgres (prod)" },
                    { "title": "Checks", "value": "No missing customer ids (fail)" },
                ] },
            ],
            "actions": [{
                "type": "Action.OpenUrl",
                "title": "Open in Soda",
                "url": "https://cloud.soda.io/incidents/b7e4c1a9-3f62-4d85-a0e7-9c2b5f8d1e43",
            }],
        }),
    );
}
