//! The records that pass between the plugins, the store and the delivery worker: what a plugin
//! produced, the actions it asked for, the responses handed back and what became of an attempt.
//! Data only (with the checks that make a [`Request`] valid), so that `plugins/`, `store/` and
//! `actions/` all depend on this module and none of them on another for its types.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method};
use reqwest::Url;

/// An action as planned from a plugin's answer, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub enum NewAction {
    /// An HTTP request the worker sends after the event is stored.
    Http(Request),
    /// A link answered to Soda in the HTTP response (`200 {"link": ...}`).
    IncidentLink { url: String, text: String },
}

/// A validated outbound HTTP request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    /// Text, not a parsed URL: it may hold `{{secret:NAME}}` placeholders, which the worker
    /// replaces only when it sends the request (see `actions::secrets`).
    pub url: String,
    /// In the plugin's order; values may hold placeholders too.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Set when the plugin wants the response handed back (see `on-response` in the WIT).
    pub continuation: Option<String>,
}

/// A change to a plugin's private state, committed with the actions of the same call.
#[derive(Debug, Clone, PartialEq)]
pub struct StateWrite {
    pub key: String,
    /// `None` deletes the key.
    pub value: Option<Vec<u8>>,
}

/// What one successful plugin call produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Produced {
    pub actions: Vec<NewAction>,
    pub state: Vec<StateWrite>,
}

/// The response to an HTTP action that asked for it, as stored for the plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// 0 when no response came at all.
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Headers only the gateway sets: `host` (a plugin choosing it could reach another site behind
/// a shared front end with the secrets of the URL's host), the framing headers, hop-by-hop
/// headers, and the idempotency key.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
    "idempotency-key",
];

impl Request {
    /// Validates the parts of a request; the error says which part is wrong.
    pub fn new(
        method: Method,
        url: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<Self, String> {
        let parsed = Url::parse(&url).map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("URL {url:?} must use http or https"));
        }
        for (name, value) in &headers {
            let parsed = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {name:?}"))?;
            if RESERVED_HEADERS.contains(&parsed.as_str()) {
                return Err(format!(
                    "header `{parsed}` is set by the gateway, not by plugins"
                ));
            }
            HeaderValue::from_str(value)
                .map_err(|_| format!("invalid value for header {name:?}"))?;
        }
        Ok(Self {
            method,
            url,
            headers,
            body,
            continuation: None,
        })
    }

    /// The POST of `{"url", "text"}` that links a Soda incident, sent to its callback URL.
    pub fn link_callback(callback_url: &str, url: &str, text: &str) -> Result<Self, String> {
        let body = serde_json::json!({ "url": url, "text": text }).to_string();
        Self::new(
            Method::POST,
            callback_url.to_owned(),
            vec![("content-type".into(), "application/json".into())],
            body.into_bytes(),
        )
    }
}

/// One plugin call on an event (or on a response), as it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginRun {
    pub plugin: String,
    pub duration: Duration,
    /// `Ok` with the plugin's actions and state writes, or the one-line reason it failed.
    pub outcome: Result<Produced, String>,
}

/// The action's state after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    Succeeded,
    /// Try again after this delay.
    RetryAfter(Duration),
    Failed,
}

/// Where a stored action stands, as the `actions.status` column spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionStatus {
    /// Waiting to be sent (again).
    Pending,
    Succeeded,
    /// Failed for good: a dead letter.
    Failed,
}

impl ActionStatus {
    /// Every status.
    pub const ALL: [ActionStatus; 3] = [Self::Pending, Self::Succeeded, Self::Failed];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_request_is_kept_as_given() {
        let request = Request::new(
            Method::PATCH,
            "https://example.test/x".into(),
            vec![("x-a".into(), "1".into())],
            b"{}".to_vec(),
        )
        .unwrap();
        assert_eq!(request.method, Method::PATCH);
        assert_eq!(request.headers, vec![("x-a".to_string(), "1".to_string())]);
    }

    #[test]
    fn invalid_parts_are_named() {
        let bad_url = Request::new(Method::GET, "not a url".into(), vec![], vec![]).unwrap_err();
        assert!(bad_url.contains("invalid URL"), "{bad_url}");
        let bad_scheme = Request::new(Method::GET, "file:///etc/passwd".into(), vec![], vec![]);
        assert!(bad_scheme.unwrap_err().contains("http or https"));
        let bad_header = Request::new(
            Method::GET,
            "http://a.test/".into(),
            vec![("bad header".into(), "v".into())],
            vec![],
        );
        assert!(bad_header.unwrap_err().contains("header name"));
        let bad_value = Request::new(
            Method::GET,
            "http://a.test/".into(),
            vec![("x".into(), "line\nbreak".into())],
            vec![],
        );
        assert!(bad_value.unwrap_err().contains("value for header"));
        for reserved in ["Host", "content-length", "Transfer-Encoding", "connection"] {
            let refused = Request::new(
                Method::POST,
                "https://a.test/".into(),
                vec![(reserved.into(), "x".into())],
                vec![],
            )
            .unwrap_err();
            assert!(refused.contains("set by the gateway"), "{refused}");
        }
    }

    #[test]
    fn a_link_callback_posts_url_and_text_as_json() {
        let request =
            Request::link_callback("https://cloud.soda.test/cb", "https://jira.test/X-1", "X-1")
                .unwrap();
        assert_eq!(request.method, Method::POST);
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"url": "https://jira.test/X-1", "text": "X-1"})
        );
    }
}
