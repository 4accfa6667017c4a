//! The HTTP request a route sends for an event.

use soda_gateway_plugin_sdk::{Action, Error, Event, HttpMethod};

use crate::config::Route;
use crate::filter::Selection;
use crate::guard;
use crate::scope::Scope;

/// The request `route` sends for `event`, whose `selection` passed the route's filters: its
/// method, URL and headers as configured (`content-type: application/json` unless configured),
/// and as body the rendered template or else the event as Soda sent it. `GET` has no body.
pub fn build(route: &Route, event: &Event, selection: &Selection) -> Result<Action, Error> {
    let mut action = Action::http(route.method, route.url.clone());
    if !route
        .headers
        .keys()
        .any(|name| name.eq_ignore_ascii_case("content-type"))
    {
        action = action.header("content-type", "application/json");
    }
    for (name, value) in &route.headers {
        action = action.header(name.clone(), value.clone());
    }
    if route.method == HttpMethod::Get {
        return Ok(action);
    }
    let body = match &route.template {
        None => guard::json_document(&event.raw_json),
        Some(template) => {
            let raw = event.raw()?;
            let scope = Scope::new(event, &raw, selection);
            template.render(&|name| scope.value(name))
        }
    };
    Ok(action.body(body))
}
