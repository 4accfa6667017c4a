//! Who may use the console: whoever knows the admin token.
//!
//! The login form takes the token and, when it matches (compared in constant time, as the
//! admin API does), opens a session (see `sessions`: a random id, unrelated to the token, that
//! expires after `admin.session_ttl` and that logout revokes) and sets it as a cookie
//! `HttpOnly; SameSite=Strict; Path=/console` with the same `Max-Age`, `Secure` when the gateway
//! serves HTTPS. Wrong tokens count against the client address (`admin::throttle`).
//! `Authorization: Bearer <token>` works too, for scripts.
//!
//! Without either, a page request is redirected to the login form and a form post gets 401.
//! Cross-site posts are refused twice over: the cookie is never sent with them (`SameSite`),
//! and a post whose `Origin` is not this host gets 403.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::layout::{self, Nav};
use super::Console;
use crate::admin::token_matches;

/// The session cookie's name.
pub const COOKIE: &str = "soda_console";

impl Console {
    /// Whether the request carries an open session's cookie or the bearer token.
    fn authenticated(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        if bearer.is_some_and(|bearer| token_matches(bearer, &self.token)) {
            return true;
        }
        cookie(headers, COOKIE).is_some_and(|id| self.sessions.is_open(id, Instant::now()))
    }
}

/// `Set-Cookie` for a session lasting `max_age` (`Some`) or for ending it (`None`); `Secure`
/// under HTTPS.
fn set_cookie(value: Option<(&str, Duration)>, secure: bool) -> HeaderValue {
    let cookie = match value {
        Some((value, max_age)) => format!(
            "{COOKIE}={value}; Max-Age={}; HttpOnly; SameSite=Strict; Path=/console",
            max_age.as_secs()
        ),
        None => format!("{COOKIE}=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/console"),
    };
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{cookie}{secure}")).expect("a hex cookie is a header value")
}

/// The value of cookie `name`, if the request carries it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Lets authenticated requests through; sends others to the login form (pages) or answers 401
/// (posts).
pub async fn require_session(
    State(console): State<Arc<Console>>,
    request: Request,
    next: Next,
) -> Response {
    if console.authenticated(request.headers()) {
        return next.run(request).await;
    }
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return Redirect::to("/console/login").into_response();
    }
    layout::error_page(
        StatusCode::UNAUTHORIZED,
        "Not logged in",
        "This action needs the admin token: log in first.",
    )
}

/// Refuses (403) a post whose `Origin` header names another site than the `Host` it was sent
/// to; browsers send `Origin` with every form post.
pub async fn same_origin_posts(request: Request, next: Next) -> Response {
    let safe = request.method() == Method::GET || request.method() == Method::HEAD;
    if safe || same_origin(request.headers()) {
        return next.run(request).await;
    }
    layout::error_page(
        StatusCode::FORBIDDEN,
        "Cross-site request refused",
        "The request came from another site than the console.",
    )
}

/// Whether the request has no `Origin`, or one whose host and port are the request's `Host`.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let authority = origin.to_str().ok().and_then(|origin| {
        origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
    });
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    match (authority, host) {
        (Some(authority), Some(host)) => authority.eq_ignore_ascii_case(host),
        _ => false,
    }
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct Login {
    #[serde(default)]
    token: String,
}

/// `GET /console/login`.
pub async fn login_form() -> Response {
    login_page(StatusCode::OK, None)
}

/// `POST /console/login`: a matching token sets the session cookie and opens the events.
pub async fn login(
    State(console): State<Arc<Console>>,
    form: Result<Form<Login>, FormRejection>,
) -> Response {
    let presented = form.map(|Form(login)| login.token).unwrap_or_default();
    if !token_matches(&presented, &console.token) {
        return login_page(
            StatusCode::UNAUTHORIZED,
            Some("Wrong admin token. It is `admin.token` in the gateway's config file."),
        );
    }
    let session = console.sessions.open(Instant::now());
    let mut response = Redirect::to("/console/events").into_response();
    let ttl = console.sessions.ttl();
    let cookie = set_cookie(Some((&session, ttl)), console.secure_cookie);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

/// `POST /console/logout`: ends the session on the server and forgets its cookie.
pub async fn logout(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, COOKIE) {
        console.sessions.close(id);
    }
    let mut response = Redirect::to("/console/login").into_response();
    let cookie = set_cookie(None, console.secure_cookie);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

fn login_page(status: StatusCode, error: Option<&str>) -> Response {
    let body = html! {
        section.login {
            h1 { "Log in" }
            p { "The console is for the gateway's operators: enter the admin token." }
            @if let Some(error) = error {
                (layout::notice(layout::Notice::Error, html! { (error) }))
            }
            form #login method="post" action="/console/login" {
                label for="token" { "Admin token" }
                input #token type="password" name="token" autocomplete="current-password"
                    required autofocus;
                button #login-submit type="submit" { "Log in" }
            }
        }
    };
    layout::page(status, "Log in", Nav::None, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn console_session_cookies_are_secure_under_https() {
        let cookie = |value, secure| set_cookie(value, secure).to_str().unwrap().to_owned();
        let hour = Duration::from_secs(3600);
        assert_eq!(
            cookie(Some(("ab12", hour)), false),
            "soda_console=ab12; Max-Age=3600; HttpOnly; SameSite=Strict; Path=/console"
        );
        assert_eq!(
            cookie(Some(("ab12", hour)), true),
            "soda_console=ab12; Max-Age=3600; HttpOnly; SameSite=Strict; Path=/console; Secure"
        );
        assert!(cookie(None, true).starts_with("soda_console=; Max-Age=0;"));
    }

    #[test]
    fn console_cookies_are_found_among_others() {
        let headers = headers(&[
            (header::COOKIE, "a=1; soda_console=abc ; b=2"),
            (header::COOKIE, "c=3"),
        ]);
        assert_eq!(cookie(&headers, COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), Some("3"));
        assert_eq!(cookie(&headers, "d"), None);
    }

    #[test]
    fn console_posts_from_another_origin_are_refused() {
        let host = (header::HOST, "127.0.0.1:8080");
        assert!(same_origin(&headers(std::slice::from_ref(&host))));
        let origin = |origin| headers(&[host.clone(), (header::ORIGIN, origin)]);
        assert!(same_origin(&origin("http://127.0.0.1:8080")));
        assert!(same_origin(&origin("https://127.0.0.1:8080")));
        assert!(!same_origin(&origin("http://evil.example")));
        assert!(!same_origin(&origin("http://127.0.0.1:9090")));
        assert!(!same_origin(&origin("null")));
        assert!(!same_origin(&headers(&[(header::ORIGIN, "http://x")])));
    }
}
