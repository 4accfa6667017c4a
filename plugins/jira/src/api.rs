//! The Jira Cloud REST calls the plugin makes, as gateway actions.

use serde_json::{json, Value};
use soda_gateway_plugin_sdk::{Action, Error, HttpMethod};

use crate::config::Config;

/// `POST {base_url}/rest/api/3/issue` with `body`.
pub fn create_issue(config: &Config, body: &Value) -> Result<Action, Error> {
    let url = format!("{}/rest/api/3/issue", config.base_url);
    Ok(authorized(config, Action::post_json(url, body)?))
}

/// `GET {base_url}/rest/api/3/issue/{key}/transitions`: the transitions open to the issue now.
pub fn list_transitions(config: &Config, key: &str) -> Action {
    let action = Action::http(HttpMethod::Get, transitions_url(config, key))
        .header("accept", "application/json");
    authorized(config, action)
}

/// `POST {base_url}/rest/api/3/issue/{key}/transitions` `{"transition":{"id"}}`.
pub fn transition_issue(config: &Config, key: &str, transition_id: &str) -> Result<Action, Error> {
    let body = json!({ "transition": { "id": transition_id } });
    Ok(authorized(
        config,
        Action::post_json(transitions_url(config, key), &body)?,
    ))
}

/// The issue's page for people: `{base_url}/browse/{key}`.
pub fn browse_url(config: &Config, key: &str) -> String {
    format!("{}/browse/{key}", config.base_url)
}

fn transitions_url(config: &Config, key: &str) -> String {
    format!("{}/rest/api/3/issue/{key}/transitions", config.base_url)
}

fn authorized(config: &Config, action: Action) -> Action {
    action.header("authorization", config.authorization.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use soda_gateway_plugin_sdk::HttpRequest;

    fn config() -> Config {
        Config::parse(
            r#"{"base_url": "https://acme.atlassian.net", "project_key": "DATA",
                "authorization": "Basic {{secret:jira_auth}}"}"#,
        )
        .unwrap()
    }

    fn request(action: Action) -> HttpRequest {
        match action {
            Action::Http(request) => request,
            other => panic!("not an HTTP action: {other:?}"),
        }
    }

    fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
        let mut values = request.headers.iter().filter(|(n, _)| n == name);
        let value = values.next().map(|(_, v)| v.as_str());
        assert!(values.next().is_none(), "one {name} header");
        value
    }

    #[test]
    fn create_posts_the_body_with_json_and_authorization_headers() {
        let body = json!({ "fields": { "summary": "x" } });
        let request = request(create_issue(&config(), &body).unwrap());
        assert!(matches!(request.method, HttpMethod::Post));
        assert_eq!(request.url, "https://acme.atlassian.net/rest/api/3/issue");
        assert_eq!(header(&request, "content-type"), Some("application/json"));
        assert_eq!(
            header(&request, "authorization"),
            Some("Basic {{secret:jira_auth}}")
        );
        let sent: Value = serde_json::from_slice(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(sent, body);
    }

    #[test]
    fn transitions_are_listed_then_posted_for_the_issue() {
        let list = request(list_transitions(&config(), "DATA-7"));
        assert!(matches!(list.method, HttpMethod::Get));
        assert_eq!(
            list.url,
            "https://acme.atlassian.net/rest/api/3/issue/DATA-7/transitions"
        );
        assert_eq!(list.body, None);
        assert_eq!(
            header(&list, "authorization"),
            Some("Basic {{secret:jira_auth}}")
        );

        let post = request(transition_issue(&config(), "DATA-7", "31").unwrap());
        assert!(matches!(post.method, HttpMethod::Post));
        assert_eq!(post.url, list.url);
        assert_eq!(
            header(&post, "authorization"),
            Some("Basic {{secret:jira_auth}}")
        );
        let sent: Value = serde_json::from_slice(post.body.as_deref().unwrap()).unwrap();
        assert_eq!(sent, json!({ "transition": { "id": "31" } }));
    }

    #[test]
    fn the_browse_url_is_on_the_site() {
        assert_eq!(
            browse_url(&config(), "DATA-7"),
            "https://acme.atlassian.net/browse/DATA-7"
        );
    }
}
