//! Unit tests for the Slack message builders (run natively with `cargo test -p slack`).

use super::*;
use soda_gateway_plugin_sdk::{testing, Agreement, IncidentStatus, Severity};

fn config() -> Config {
    Config::parse(r#"{"webhook_url": "https://hooks.slack.com/services/T/B/X"}"#).unwrap()
}

fn dataset(name: &str) -> Dataset {
    Dataset {
        id: Some(format!("{name}-id")),
        soda_cloud_url: Some(format!("https://cloud.soda.io/datasets/{name}")),
        datasource: Some(testing::datasource("postgres_prod")),
        ..testing::dataset(name)
    }
}

fn result(name: &str, outcome: Outcome) -> CheckResult {
    CheckResult {
        soda_cloud_url: Some(format!("https://cloud.soda.io/checks/{}", slug(name))),
        datasets: vec![dataset("orders")],
        ..testing::check_result(name, outcome)
    }
}

/// `row_count > 0` → `row_count---0`.
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn incident() -> Incident {
    Incident {
        number: Some(42),
        title: Some("Orders <late> & missing".into()),
        description: Some("Nightly load did not arrive".into()),
        severity_raw: Some("major".into()),
        lead: Some(User {
            id: Some("u1".into()),
            ..testing::user("lead@example.com")
        }),
        check_results: vec![result("row_count > 0", Outcome::Fail)],
        ..testing::incident(Severity::High, IncidentStatus::Reported)
    }
}

#[test]
fn config_requires_webhook_url() {
    let error = Config::parse("{}").unwrap_err();
    assert!(error.message().contains("webhook_url"), "{error}");
    let error = Config::parse(r#"{"webhook_url": " "}"#).unwrap_err();
    assert!(error.message().contains("webhook_url"), "{error}");
    let error = Config::parse(r##"{"webhook_url": "https://x", "chanel": "#a"}"##).unwrap_err();
    assert!(error.message().contains("chanel"), "{error}");
}

#[test]
fn mention_markup() {
    let with = |m: &str| Config {
        mention: Some(m.to_string()),
        ..config()
    };
    assert_eq!(with("@here").mention_markup().as_deref(), Some("<!here>"));
    assert_eq!(
        with("channel").mention_markup().as_deref(),
        Some("<!channel>")
    );
    assert_eq!(
        with("<@U024BE7LH>").mention_markup().as_deref(),
        Some("<@U024BE7LH>")
    );
    assert_eq!(with(" ").mention_markup(), None);
    assert_eq!(config().mention_markup(), None);
}

#[test]
fn no_message_when_nothing_alerts() {
    let results = [result("a", Outcome::Pass), result("b", Outcome::Error)];
    assert_eq!(check_evaluation(&config(), &results), None);
    assert_eq!(check_evaluation(&config(), &[]), None);
}

#[test]
fn one_message_with_a_section_per_alerting_result() {
    let mut failing = result("row_count > 0", Outcome::Fail);
    failing.column = Some("id".to_string());
    failing.agreement = Some(Agreement {
        id: Some("ag".to_string()),
        soda_cloud_url: Some("https://cloud.soda.io/agreements/ag".to_string()),
        label: Some("Orders SLA".to_string()),
        approval_state: None,
        evaluation_result: None,
    });
    let results = [
        failing,
        result("fresh", Outcome::Pass),
        result("missing_count(email) < 5", Outcome::Warn),
    ];
    let message = check_evaluation(&config(), &results).unwrap();

    assert_eq!(
        message["text"],
        "Soda: 1 check failed, 1 warned: row_count &gt; 0, missing_count(email) &lt; 5"
    );
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 5, "{message:#}");
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "Soda: 1 check failed, 1 warned");
    assert_eq!(blocks[1]["type"], "divider");

    let first = &blocks[2];
    assert_eq!(
        first["text"]["text"],
        ":red_circle: *row_count &gt; 0* — fail"
    );
    assert_eq!(
        first["fields"],
        json!([
            { "type": "mrkdwn", "text": "*Dataset*\n<https://cloud.soda.io/datasets/orders|orders> (postgres_prod)" },
            { "type": "mrkdwn", "text": "*Column*\nid" },
            { "type": "mrkdwn", "text": "*Agreement*\n<https://cloud.soda.io/agreements/ag|Orders SLA>" },
        ])
    );
    assert_eq!(
        first["accessory"]["url"],
        "https://cloud.soda.io/checks/row_count---0"
    );

    let second = &blocks[4];
    assert_eq!(
        second["text"]["text"],
        ":large_yellow_circle: *missing_count(email) &lt; 5* — warn"
    );
    assert!(message.get("channel").is_none());
    assert!(message.get("username").is_none());
}

#[test]
fn definition_is_shown_when_there_is_no_name() {
    let mut r = result("x", Outcome::Fail);
    r.name = None;
    r.definition = Some("checks for orders:\n  - row_count > 0".to_string());
    let message = check_evaluation(&config(), &[r]).unwrap();
    let text = message["blocks"][2]["text"]["text"].as_str().unwrap();
    assert!(
        text.starts_with(":red_circle: *checks for orders:"),
        "{text}"
    );
}

#[test]
fn the_measured_value_is_shown_when_soda_sends_one() {
    let mut r = result("row_count > 1000", Outcome::Fail);
    let fields = |r: &CheckResult| {
        let message = check_evaluation(&config(), std::slice::from_ref(r)).unwrap();
        message["blocks"][2]["fields"].to_string()
    };
    assert!(!fields(&r).contains("*Value*"), "{}", fields(&r));
    r.value = Some("812".to_string());
    assert!(fields(&r).contains(r#"*Value*\n812"#), "{}", fields(&r));
}

#[test]
fn mention_channel_and_username_are_applied() {
    let config = Config {
        channel: Some("#data".to_string()),
        username: Some("Soda".to_string()),
        mention: Some("@here".to_string()),
        ..config()
    };
    let message = check_evaluation(&config, &[result("a", Outcome::Fail)]).unwrap();
    assert_eq!(message["channel"], "#data");
    assert_eq!(message["username"], "Soda");
    assert!(message["text"]
        .as_str()
        .unwrap()
        .starts_with("<!here> Soda: 1 check failed"));
    assert_eq!(message["blocks"][1]["text"]["text"], "<!here>");
}

#[test]
fn many_results_stay_within_slack_block_limit() {
    let results: Vec<CheckResult> = (0..60)
        .map(|i| result(&format!("check {i}"), Outcome::Fail))
        .collect();
    let message = check_evaluation(&config(), &results).unwrap();
    let blocks = message["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50, "{}", blocks.len());
    let last = blocks.last().unwrap();
    assert_eq!(last["type"], "context");
    assert_eq!(last["elements"][0]["text"], "…and 40 more alerting checks");
}

#[test]
fn incident_message() {
    let message = incident_created(&config(), &incident());
    assert_eq!(
        message["text"],
        "Soda: Incident #42 created: Orders &lt;late&gt; &amp; missing (severity high, status reported)"
    );
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(
        blocks[0]["text"]["text"],
        "Incident #42: Orders <late> & missing"
    );
    let section = &blocks[1];
    assert_eq!(
        section["fields"],
        json!([
            { "type": "mrkdwn", "text": "*Severity*\nhigh" },
            { "type": "mrkdwn", "text": "*Status*\nreported" },
            { "type": "mrkdwn", "text": "*Lead*\nlead@example.com" },
        ])
    );
    assert_eq!(
        section["accessory"]["url"],
        "https://cloud.soda.io/incidents/inc-1"
    );
    assert_eq!(blocks[2]["text"]["text"], "Nightly load did not arrive");
    assert_eq!(
        blocks[3]["elements"][0]["text"],
        "Checks: :red_circle: <https://cloud.soda.io/checks/row_count---0|row_count &gt; 0>"
    );
}

#[test]
fn incident_without_optional_fields() {
    let bare = Incident {
        soda_cloud_url: None,
        number: None,
        title: None,
        description: None,
        severity: Severity::Other,
        severity_raw: Some("blocker".to_string()),
        status: IncidentStatus::Other,
        status_raw: None,
        lead: None,
        check_results: Vec::new(),
        ..incident()
    };
    let message = incident_created(&config(), &bare);
    assert_eq!(
        message["text"],
        "Soda: Incident created: (untitled) (severity blocker, status other)"
    );
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2);
    assert!(blocks[1].get("accessory").is_none());
}

#[test]
fn truncates_long_headers() {
    let mut long = incident();
    long.title = Some("x".repeat(500));
    let message = incident_created(&config(), &long);
    let header = message["blocks"][0]["text"]["text"].as_str().unwrap();
    assert_eq!(header.chars().count(), 150);
    assert!(header.ends_with('…'));
}
