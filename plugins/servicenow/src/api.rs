//! The requests this plugin sends to ServiceNow's table API, and how it reads the answers.

use serde::Deserialize;
use serde_json::Value;
use soda_gateway_plugin_sdk::{Action, Error, HttpMethod, HttpResponse};

use crate::config::Config;

/// The continuation of the request that creates an incident.
pub const CREATED: &str = "incident-created";

/// How much of an error answer's body goes into the plugin's error message.
const ERROR_BODY_MAX: usize = 500;

/// `POST {instance_url}/api/now/table/incident` with `body`, asking for the response.
pub fn create(config: &Config, body: &Value) -> Result<Action, Error> {
    let url = format!("{}/api/now/table/incident", config.instance_url);
    Ok(request(HttpMethod::Post, url, config, body)?.continue_with(CREATED))
}

/// `PATCH {instance_url}/api/now/table/incident/{sys_id}` with `body`.
pub fn update(config: &Config, sys_id: &str, body: &Value) -> Result<Action, Error> {
    let url = format!("{}/api/now/table/incident/{sys_id}", config.instance_url);
    request(HttpMethod::Patch, url, config, body)
}

/// Where a person opens the incident in the instance's UI.
pub fn incident_url(config: &Config, sys_id: &str) -> String {
    format!(
        "{}/nav_to.do?uri=incident.do?sys_id={sys_id}",
        config.instance_url
    )
}

/// The state key under which the ServiceNow `sys_id` of the Soda incident `soda_id` is kept.
pub fn state_key(soda_id: &str) -> String {
    format!("incident:{soda_id}")
}

/// What ServiceNow answers a created record with: `{"result": {"sys_id", "number", …}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    /// The record's id, for later `PATCH`es and links.
    pub sys_id: String,
    /// The human number, e.g. `INC0010001`.
    pub number: String,
}

/// Reads the answer to the create request; an error status or body is an error naming it.
pub fn parse_created(response: &HttpResponse) -> Result<Created, Error> {
    #[derive(Deserialize)]
    struct Answer {
        result: Record,
    }
    #[derive(Deserialize)]
    struct Record {
        sys_id: String,
        number: String,
    }

    if response.status == 0 {
        return Err(Error::new(
            "ServiceNow did not create the incident: no response came",
        ));
    }
    if !(200..300).contains(&response.status) {
        return Err(Error::new(format!(
            "ServiceNow did not create the incident: HTTP {}: {}",
            response.status,
            body_excerpt(&response.body)
        )));
    }
    let answer: Answer = serde_json::from_slice(&response.body).map_err(|e| {
        Error::new(format!(
            "unexpected answer from ServiceNow to the incident creation ({e}): {}",
            body_excerpt(&response.body)
        ))
    })?;
    let Record { sys_id, number } = answer.result;
    if sys_id.is_empty() || !sys_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::new(format!(
            "unexpected sys_id from ServiceNow: {sys_id:?}"
        )));
    }
    Ok(Created { sys_id, number })
}

/// A JSON request with the configured `authorization`.
fn request(
    method: HttpMethod,
    url: String,
    config: &Config,
    body: &Value,
) -> Result<Action, Error> {
    Ok(Action::http(method, url)
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .header("authorization", &config.authorization)
        .body(serde_json::to_vec(body)?))
}

/// The start of a response body, as text.
fn body_excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(ERROR_BODY_MAX)
        .collect()
}
