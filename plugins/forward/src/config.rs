//! The plugin's configuration for a tenant: a list of routes.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use soda_gateway_plugin_sdk::{Error, HttpMethod};

use crate::filter::Filters;
use crate::scope;
use crate::template::Template;

/// The plugin's configuration, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub routes: Vec<Route>,
}

/// Where matching events go, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub url: String,
    pub method: HttpMethod,
    /// Sent as configured, in name order; `{{secret:NAME}}` placeholders pass through.
    pub headers: BTreeMap<String, String>,
    pub filters: Filters,
    /// The body's template; `None` sends the event as Soda sent it.
    pub template: Option<Template>,
}

/// The config as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    routes: Vec<RawRoute>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    event_types: Vec<String>,
    #[serde(default)]
    outcomes: Vec<String>,
    #[serde(default)]
    datasets: Vec<String>,
    #[serde(default)]
    datasources: Vec<String>,
    #[serde(default)]
    attributes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    template: Option<Value>,
}

impl Config {
    /// Parses and checks the tenant's config JSON; errors name the offending key.
    pub fn parse(json: &str) -> Result<Self, Error> {
        let raw: RawConfig = serde_json::from_str(json).map_err(invalid)?;
        if raw.routes.is_empty() {
            return Err(invalid("`routes` must list at least one route"));
        }
        let routes = raw
            .routes
            .into_iter()
            .enumerate()
            .map(|(i, route)| Route::check(route).map_err(|e| invalid(format!("routes[{i}].{e}"))))
            .collect::<Result<_, _>>()?;
        Ok(Config { routes })
    }
}

impl Route {
    /// The route, or an error starting with the offending key.
    fn check(raw: RawRoute) -> Result<Self, Error> {
        if raw.url.trim().is_empty() {
            return Err(Error::new("url must not be empty"));
        }
        let method = match raw.method.as_deref() {
            None => HttpMethod::Post,
            Some(method) => parse_method(method)?,
        };
        let template = raw
            .template
            .map(|t| Template::new(t, scope::NAMES))
            .transpose()
            .map_err(|e| e.context("template"))?;
        Ok(Route {
            url: raw.url,
            method,
            headers: raw.headers,
            filters: Filters {
                event_types: raw.event_types,
                outcomes: raw.outcomes,
                datasets: raw.datasets,
                datasources: raw.datasources,
                attributes: raw.attributes,
            },
            template,
        })
    }
}

/// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`, in any case.
fn parse_method(method: &str) -> Result<HttpMethod, Error> {
    Ok(match method.to_ascii_uppercase().as_str() {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        _ => {
            return Err(Error::new(format!(
                "method: `{method}` is not one of GET, POST, PUT, PATCH, DELETE"
            )))
        }
    })
}

fn invalid(error: impl std::fmt::Display) -> Error {
    Error::new(format!("invalid forward plugin config: {error}"))
}

#[cfg(test)]
mod tests;
