//! Unit tests for config parsing (run natively with `cargo test -p forward`).

use super::*;

fn error(json: &str) -> String {
    Config::parse(json).unwrap_err().message().to_string()
}

#[test]
fn a_minimal_route_posts_everything_raw() {
    let config = Config::parse(r#"{"routes": [{"url": "https://hooks.test/in"}]}"#).unwrap();
    assert_eq!(
        config.routes,
        vec![Route {
            url: "https://hooks.test/in".into(),
            method: HttpMethod::Post,
            headers: BTreeMap::new(),
            filters: Filters::default(),
            template: None,
        }]
    );
}

#[test]
fn every_key_is_read() {
    let config = Config::parse(
        r#"{"routes": [{
            "url": "https://hooks.test/in",
            "method": "put",
            "headers": {"authorization": "Bearer {{secret:token}}"},
            "event_types": ["checkEvaluation"],
            "outcomes": ["fail"],
            "datasets": ["orders_*"],
            "datasources": ["postgres_prod"],
            "attributes": {"data_domain": ["Sales"]},
            "template": {"text": "{{check.name}}"}
        }]}"#,
    )
    .unwrap();
    let route = &config.routes[0];
    assert_eq!(route.method, HttpMethod::Put);
    assert_eq!(route.headers["authorization"], "Bearer {{secret:token}}");
    assert_eq!(route.filters.event_types, ["checkEvaluation"]);
    assert_eq!(route.filters.outcomes, ["fail"]);
    assert_eq!(route.filters.datasets, ["orders_*"]);
    assert_eq!(route.filters.datasources, ["postgres_prod"]);
    assert_eq!(route.filters.attributes["data_domain"], ["Sales"]);
    assert!(route.template.is_some());
}

#[test]
fn errors_name_the_offending_key() {
    assert!(error("{}").contains("missing field `routes`"));
    assert!(error(r#"{"routes": []}"#).contains("`routes` must list at least one route"));
    assert!(error(r#"{"routes": [{"url": "x", "outcome": ["fail"]}]}"#)
        .contains("unknown field `outcome`"));
    assert_eq!(
        error(r#"{"routes": [{"url": "x"}, {"url": " "}]}"#),
        "invalid forward plugin config: routes[1].url must not be empty"
    );
    assert_eq!(
        error(r#"{"routes": [{"url": "x", "method": "HEAD"}]}"#),
        "invalid forward plugin config: routes[0].method: `HEAD` is not one of GET, POST, PUT, PATCH, DELETE"
    );
    assert!(error(r#"{"routes": [{"url": "x", "template": {"t": "{{check.nme}}"}}]}"#)
        .starts_with("invalid forward plugin config: routes[0].template: unknown placeholder `{{check.nme}}`"));
}
