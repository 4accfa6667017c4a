//! Native unit tests for the SDK helpers.

use crate::{
    Action, CheckResult, Context, Error, Event, EventKind, HttpMethod, HttpRequest, Link, Outcome,
    PluginError,
};

fn result(outcome: Outcome) -> CheckResult {
    CheckResult {
        id: Some("id".into()),
        name: None,
        soda_cloud_url: None,
        definition: Some(" ".into()),
        datasets: Vec::new(),
        column: None,
        outcome,
        outcome_raw: Some("weird".into()),
        data_timestamp: None,
        diagnostics_json: None,
        agreement: None,
        value: None,
        attributes: Vec::new(),
    }
}

#[test]
fn config_errors_name_the_problem() {
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Config {
        url: String,
    }
    let ctx = Context {
        tenant: "t".into(),
        config_json: "{}".into(),
    };
    let error = ctx.config::<Config>().unwrap_err();
    assert!(error.message().contains("missing field `url`"), "{error}");
    let error: PluginError = error.into();
    assert!(error.message.starts_with("invalid plugin config"));
}

#[test]
fn raw_json_and_kind_names() {
    let event = Event {
        id: "e".into(),
        kind: EventKind::Unknown("somethingNew".into()),
        sent_at: None,
        incident_link_callback_url: None,
        raw_json: r#"{"event": "somethingNew"}"#.into(),
    };
    let raw: serde_json::Value = event.raw().unwrap();
    assert_eq!(raw["event"], "somethingNew");
    assert_eq!(event.kind.name(), "somethingNew");
    assert!(event.incident().is_none());
    assert!(event.check_results().is_empty());
}

#[test]
fn check_result_helpers() {
    assert!(result(Outcome::Fail).is_alerting());
    assert!(result(Outcome::Warn).is_alerting());
    assert!(!result(Outcome::Error).is_alerting());
    assert_eq!(result(Outcome::Pass).display_name(), "id");
    assert_eq!(result(Outcome::NotEvaluated).outcome_str(), "not-evaluated");
    assert_eq!(result(Outcome::Other).outcome_str(), "weird");
}

#[test]
fn action_builders() {
    let action = Action::post_json("https://x", &serde_json::json!({"a": 1}))
        .unwrap()
        .continue_with("step-2");
    let Action::Http(HttpRequest {
        method,
        url,
        headers,
        body,
        continuation,
    }) = action
    else {
        panic!("not http");
    };
    assert!(matches!(method, HttpMethod::Post));
    assert_eq!(url, "https://x");
    assert_eq!(
        headers,
        vec![("content-type".to_string(), "application/json".to_string())]
    );
    assert_eq!(body.as_deref(), Some(&br#"{"a":1}"#[..]));
    assert_eq!(continuation.as_deref(), Some("step-2"));

    let Action::IncidentLinkCallback(Link { url, text }) = Action::incident_link_callback("u", "t")
    else {
        panic!("not a callback");
    };
    assert_eq!((url.as_str(), text.as_str()), ("u", "t"));
}

#[test]
fn errors_convert_with_question_mark() {
    fn from_str() -> Result<(), Error> {
        Err("plain")?
    }
    fn from_json() -> Result<serde_json::Value, Error> {
        Ok(serde_json::from_str("{")?)
    }
    assert_eq!(from_str().unwrap_err().message(), "plain");
    assert!(from_json().is_err());
    assert_eq!(
        Error::new("boom").context("sending").to_string(),
        "sending: boom"
    );
}

#[test]
fn log_macros_accept_fields() {
    let n = 3;
    crate::info!("plain");
    crate::log::debug!(count = n, "with {} fields", 2);
    crate::log::warn!(count = n, name = ?"quoted", "message");
    crate::log::error("function form");
}
