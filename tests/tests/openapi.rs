//! The admin API described: `GET /admin/openapi.json` is a valid OpenAPI 3.1 document behind
//! the admin token, every operation it lists is served and answers as it says (real answers
//! checked against its schemas), and the README's admin table lists the same routes.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use soda_gateway_tests::{
    failing_check_named, wait_until, Config, FakeDownstream, Gateway, Plugin, Tenant, SOON,
};

const TOKEN: &str = "openapi-admin-token";

/// A gateway with the admin API and the Slack plugin posting to `slack`.
async fn gateway(slack: &FakeDownstream) -> Gateway {
    let tenant = Tenant::hmac("acme", "s3cret")
        .plugin(Plugin::Slack, json!({ "webhook_url": slack.url("/hook") }));
    let config = Config::new()
        .tenant(tenant)
        .extra_top_level_toml(&format!("[admin]\ntoken = \"{TOKEN}\""));
    Gateway::start(config).await
}

/// An admin answer: status, content type and body.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn call(gateway: &Gateway, method: &str, path: &str, token: Option<&str>) -> Answer {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{}{path}", gateway.url());
    let mut request = match method {
        "get" => client.get(url),
        "post" => client.post(url),
        other => panic!("the admin API has no {other} routes"),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("an admin request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.text().await.unwrap_or_default();
    Answer {
        status,
        content_type,
        body,
    }
}

async fn document(gateway: &Gateway) -> (String, Value) {
    let answer = call(gateway, "get", "/admin/openapi.json", Some(TOKEN)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.content_type, "application/json");
    let value = answer.json();
    (answer.body, value)
}

/// Every operation of the document: (method, path, operation).
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let paths = document["paths"].as_object().expect("paths");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item") {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                operations.push((method.clone(), path.clone(), operation.clone()));
            }
        }
    }
    operations
}

/// `METHOD /path` of every operation, as the README spells them.
fn routes(document: &Value) -> BTreeSet<String> {
    operations(document)
        .into_iter()
        .map(|(method, path, _)| format!("{} {path}", method.to_uppercase()))
        .collect()
}

/// Every `$ref` anywhere in `value`.
fn references(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => into.push(target.clone()),
                    _ => references(value, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, into)),
        _ => {}
    }
}

/// A content type without its parameters: `text/plain` of `text/plain; version=0.0.4`.
fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

/// `{name}` placeholders of a path template.
fn placeholders(path: &str) -> BTreeSet<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_needs_the_admin_token() {
    let slack = FakeDownstream::start().await;
    let gateway = gateway(&slack).await;
    for token in [None, Some("wrong")] {
        let answer = call(&gateway, "get", "/admin/openapi.json", token).await;
        assert_eq!(answer.status, 401, "{token:?}: {}", answer.body);
        assert!(answer.json()["error"].is_string(), "{}", answer.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_is_valid_openapi_3_1() {
    let slack = FakeDownstream::start().await;
    let gateway = gateway(&slack).await;
    let (text, document) = document(&gateway).await;

    // A typed OpenAPI 3.1 model reads it whole, and its version is 3.1.x.
    let spec = oas3::from_json(&text).expect("the document parses as OpenAPI 3.1");
    let version = spec
        .validate_version()
        .expect("a supported OpenAPI version");
    assert_eq!((version.major, version.minor), (3, 1), "{version}");
    assert!(
        spec.operations().count() > 0,
        "the document has no operations"
    );

    // Every reference resolves within the document.
    let mut targets = Vec::new();
    references(&document, &mut targets);
    assert!(!targets.is_empty(), "the document has no references");
    for target in targets {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("`{target}` points outside the document"));
        assert!(
            document.pointer(pointer).is_some(),
            "`{target}` resolves to nothing"
        );
    }

    // Operation ids are unique; each path parameter is declared, required, and in the template.
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&document) {
        let id = operation["operationId"].as_str().expect("an operationId");
        assert!(
            ids.insert(id.to_owned()),
            "operationId `{id}` is used twice"
        );
        let declared: BTreeSet<String> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|parameter| parameter["in"] == "path")
            .map(|parameter| {
                assert_eq!(parameter["required"], true, "{method} {path}: {parameter}");
                parameter["name"].as_str().expect("a name").to_owned()
            })
            .collect();
        assert_eq!(declared, placeholders(&path), "{method} {path}");
        // The token is checked before any handler runs: every operation says so.
        for refusal in ["401", "429"] {
            assert!(
                operation["responses"][refusal].is_object(),
                "{method} {path} does not document {refusal}"
            );
        }
    }

    // The bearer scheme is declared and required everywhere.
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"],
        json!({ "type": "http", "scheme": "bearer" })
    );
    assert_eq!(document["security"], json!([{ "bearer": [] }]));
}

/// A JSON Schema of `schema` (part of `document`) whose references into
/// `#/components/schemas` resolve.
fn standalone(document: &Value, schema: &Value) -> Value {
    let root = json!({
        "$defs": document["components"]["schemas"],
        "allOf": [schema],
    });
    let text = root
        .to_string()
        .replace("\"#/components/schemas/", "\"#/$defs/");
    serde_json::from_str(&text).unwrap()
}

/// Checks `body` against `schema` (part of `document`), naming `what` when it does not fit.
fn assert_fits(document: &Value, schema: &Value, body: &Value, what: &str) {
    let location = "urn:soda-gateway:admin-answer";
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V2020_12);
    compiler
        .add_resource(location, standalone(document, schema))
        .unwrap_or_else(|e| panic!("{what}: {e:#}"));
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile(location, &mut schemas)
        .unwrap_or_else(|e| panic!("{what}: the schema does not compile: {e:#}"));
    if let Err(error) = schemas.validate(body, index) {
        panic!("{what}: the answer does not fit the document: {error:#}\n{body:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_operation_is_served_and_answers_as_documented() {
    let slack = FakeDownstream::start().await;
    // Refused for good: the action becomes a dead letter, so every listing has something in it.
    slack.set_status(400);
    let gateway = gateway(&slack).await;
    assert_eq!(
        gateway
            .send_event("acme", &failing_check_named("openapi"))
            .await
            .status,
        200
    );
    let mut dead = Value::Null;
    wait_until("the Slack action is a dead letter", SOON, async || {
        dead = call(&gateway, "get", "/admin/dead-letters", Some(TOKEN))
            .await
            .json();
        dead["dead_letters"]
            .as_array()
            .is_some_and(|letters| !letters.is_empty())
    })
    .await;
    let action = dead["dead_letters"][0]["id"].as_str().unwrap().to_owned();
    let event = dead["dead_letters"][0]["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, document) = document(&gateway).await;

    for (method, path, operation) in operations(&document) {
        let real = if path.starts_with("/admin/actions/") {
            &action
        } else {
            &event
        };
        let mut targets = vec![path.replace("{id}", real)];
        if path.contains("{id}") {
            targets.push(path.replace("{id}", "does-not-exist"));
        }
        for target in targets {
            let answer = call(&gateway, &method, &target, Some(TOKEN)).await;
            let what = format!("{} {target} -> {}", method.to_uppercase(), answer.status);
            // A route the router lacks is axum's empty 404 or 405; the handlers' errors are
            // JSON with an `error`.
            assert_ne!(answer.status, 405, "{what}: not routed");
            if answer.status == 404 {
                assert!(answer.json()["error"].is_string(), "{what}: not routed");
            }
            let documented = &operation["responses"][answer.status.to_string()];
            assert!(documented.is_object(), "{what}: an undocumented status");
            let media = media_type(&answer.content_type);
            let schema = documented["content"]
                .as_object()
                .into_iter()
                .flatten()
                .find(|(documented, _)| media_type(documented) == media)
                .map(|(_, content)| &content["schema"])
                .unwrap_or_else(|| {
                    panic!(
                        "{what}: `{}` is not a documented content type",
                        answer.content_type
                    )
                });
            if media == "application/json" {
                let body: Value = serde_json::from_str(&answer.body)
                    .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", answer.body));
                assert_fits(&document, schema, &body, &what);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_admin_table_lists_every_documented_route() {
    let slack = FakeDownstream::start().await;
    let gateway = gateway(&slack).await;
    let (_, document) = document(&gateway).await;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    let section = readme
        .split("### Admin API and operator commands")
        .nth(1)
        .and_then(|rest| rest.split("\n### ").next())
        .expect("the README's admin section");
    // Rows such as "| `GET /admin/events?tenant=...` | stored events ... |".
    let listed: BTreeSet<String> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|row| row.split('`').next())
        .map(|route| route.split('?').next().unwrap_or(route).to_owned())
        .collect();
    assert_eq!(listed, routes(&document));
}
