//! The web console: server-rendered pages for operators, behind the admin token. Like the admin
//! API, it exists only when `admin.token` is configured.
//!
//! - `GET  /console/login`, `POST /console/login`, `POST /console/logout`: a form that takes the
//!   admin token and sets a session cookie derived from it (see [`auth`]).
//! - `GET  /console`: redirects to the events.
//! - `GET  /console/events?tenant=&type=&status=&since=&until=&limit=`: stored events with
//!   filters (see [`events`]).
//! - `GET  /console/events/{id}`: one event's whole story, with a Replay button;
//!   `POST /console/events/{id}/replay` runs it again and shows the new event.
//! - `GET  /console/plugins`: every plugin file with its version, hash and last errors.
//! - `GET  /console/tenants`: every tenant with its verification scheme, plugins and quotas.
//! - `GET  /console/charts?tenant=&plugin=`: per tenant, events per minute over the last 24
//!   hours, and per plugin its failed runs and mean delivery latency, as inline SVG bar charts
//!   drawn on the server (see [`charts`]).
//!
//! Every page but the login form needs the session cookie or `Authorization: Bearer <token>`.
//! No JavaScript and no external assets: [`layout`] inlines the stylesheet, the charts are
//! `<svg>` elements inside the page ([`svg`]), and the pages are sent with a
//! Content-Security-Policy that allows nothing else.

mod auth;
mod charts;
mod events;
mod layout;
mod plugins;
mod series;
mod sessions;
mod svg;
mod tenants;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::middleware;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;

use crate::admin::throttle::{throttle_failures, FailedAuth};
use crate::config::{Admin, Quota};
use crate::pipeline::Pipeline;

/// What every console page needs.
struct Console {
    pipeline: Arc<Pipeline>,
    /// The admin token, for `Authorization: Bearer` and the login form.
    token: String,
    /// The logged-in sessions.
    sessions: sessions::Sessions,
    /// Whether the cookie is marked `Secure` (the gateway serves HTTPS).
    secure_cookie: bool,
    /// The gateway-wide `[quotas]`, shown with each tenant's exceptions.
    quotas: Quota,
}

/// The console's routes: `admin` holds the token and how long a login lasts, `secure_cookie`
/// when the gateway serves HTTPS, `quotas` is the gateway-wide `[quotas]`, and `failed` counts
/// wrong tokens per address with the admin API.
pub fn router(
    pipeline: Arc<Pipeline>,
    admin: &Admin,
    secure_cookie: bool,
    quotas: Quota,
    failed: Arc<FailedAuth>,
) -> Router {
    let console = Arc::new(Console {
        pipeline,
        sessions: sessions::Sessions::new(admin.session_ttl),
        token: admin.token.clone().unwrap_or_default(),
        secure_cookie,
        quotas,
    });
    let pages = Router::new()
        .route("/console/events", get(events::list))
        .route("/console/events/{id}", get(events::show))
        .route("/console/events/{id}/replay", post(events::replay))
        .route("/console/plugins", get(plugins::page))
        .route("/console/tenants", get(tenants::page))
        .route("/console/charts", get(charts::page))
        .route("/console/logout", post(auth::logout))
        .route_layer(middleware::from_fn_with_state(
            console.clone(),
            auth::require_session,
        ));
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::to("/console/events") }),
        )
        .route(
            "/console/login",
            get(auth::login_form)
                .post(auth::login)
                .route_layer(middleware::from_fn_with_state(failed, throttle_failures)),
        )
        .merge(pages)
        .layer(middleware::from_fn(auth::same_origin_posts))
        .with_state(console)
}
