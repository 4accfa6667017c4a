//! The frame every console page shares: the header bar with the navigation, the inline
//! stylesheet, notices and status badges, and the headers that keep the pages to themselves
//! (no scripts, no framing, no caching).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use crate::admin::query::format_instant;

/// Which navigation link is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Events,
    Plugins,
    Tenants,
    Charts,
    /// The login form and error pages: no navigation.
    None,
}

/// Only the inline stylesheet; forms post to the console itself.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The colours are fixed exactly: the browser tests find the header bar (`#16325c`) and the
/// success notice (`#cdf5d8`) in screenshots by them.
const STYLE: &str = "
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
  color: #1f2933; background: #f4f6f9; }
header.bar { background: #16325c; color: #ffffff; display: flex; align-items: center;
  gap: 24px; padding: 0 24px; height: 52px; }
header.bar .brand { font-weight: 700; font-size: 16px; letter-spacing: .2px; }
header.bar nav { display: flex; gap: 4px; flex: 1; }
header.bar nav a { color: #dbe6f5; text-decoration: none; padding: 6px 12px;
  border-radius: 4px; }
header.bar nav a.current { color: #ffffff; background: #2b4f80; }
header.bar form { margin: 0; }
header.bar button { background: transparent; color: #dbe6f5; border: 1px solid #5a7aa6;
  border-radius: 4px; padding: 4px 10px; cursor: pointer; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 22px; margin: 4px 0 16px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
a { color: #1a5fb4; }
code, .mono, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12.5px; }
table { width: 100%; border-collapse: collapse; background: #ffffff;
  border: 1px solid #d5dce5; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid #e4e9ef;
  vertical-align: top; }
th { background: #e8edf3; font-weight: 600; color: #3e4c59; white-space: nowrap; }
tr:last-child td { border-bottom: none; }
td.empty { color: #7b8794; text-align: center; padding: 18px; }
table.nested { margin: 4px 0 2px; border-color: #e4e9ef; }
table.nested th { background: #f4f6f9; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 6px 18px;
  background: #ffffff; border: 1px solid #d5dce5; padding: 14px 18px; margin: 0; }
dl.summary dt { color: #52606d; font-weight: 600; }
dl.summary dd { margin: 0; }
pre { background: #ffffff; border: 1px solid #d5dce5; padding: 12px 14px; overflow-x: auto;
  margin: 0; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px;
  font-weight: 600; color: #ffffff; white-space: nowrap; }
.badge.green { background: #1e8e3e; }
.badge.amber { background: #e8a100; color: #2b1d00; }
.badge.red { background: #d93025; }
.badge.grey { background: #7b8794; }
.notice { padding: 10px 14px; border-radius: 4px; margin: 0 0 16px; border: 1px solid; }
.notice.success { background: #cdf5d8; border-color: #1e8e3e; color: #0b4a1d; }
.notice.error { background: #fde2e1; border-color: #d93025; color: #7a1410; }
form.filters { display: flex; flex-wrap: wrap; gap: 10px 14px; align-items: flex-end;
  background: #ffffff; border: 1px solid #d5dce5; padding: 12px 14px; margin: 0 0 16px; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: #52606d;
  gap: 3px; }
input, select { font: inherit; padding: 5px 7px; border: 1px solid #bcc6d2; border-radius: 4px;
  background: #ffffff; }
input.narrow { width: 80px; }
button.primary, form.filters button { background: #1a5fb4; color: #ffffff; border: none;
  border-radius: 4px; padding: 7px 16px; font: inherit; font-weight: 600; cursor: pointer; }
.actions-bar { display: flex; gap: 12px; align-items: center; margin: 0 0 16px; }
.actions-bar form { margin: 0; }
.muted { color: #7b8794; }
.time { white-space: nowrap; }
td.sha256 { word-break: break-all; min-width: 160px; }
.error-text { color: #a61b12; }
section.login { max-width: 420px; margin: 60px auto; background: #ffffff;
  border: 1px solid #d5dce5; padding: 24px 28px; }
section.tenant-charts { margin: 0 0 32px; }
h3 { font-size: 15px; margin: 18px 0 8px; }
figure.chart { margin: 0 0 12px; background: #ffffff; border: 1px solid #d5dce5;
  padding: 10px 14px; width: max-content; max-width: 100%; overflow-x: auto; }
figure.chart figcaption { color: #52606d; margin: 0 0 6px; }
figure.chart svg { display: block; }
p.no-data { background: #ffffff; border: 1px dashed #bcc6d2; color: #7b8794; padding: 12px 14px;
  margin: 0 0 12px; }
section.login form { display: flex; flex-direction: column; gap: 10px; }
";

/// A whole page: the header bar (with `nav` current), then `body`.
pub fn page(status: StatusCode, title: &str, nav: Nav, body: Markup) -> Response {
    let link = |target: Nav, href: &str, text: &str| {
        html! { a.current[nav == target] href=(href) { (text) } }
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Soda gateway console" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header.bar {
                    span.brand { "Soda gateway" }
                    @if nav != Nav::None {
                        nav {
                            (link(Nav::Events, "/console/events", "Events"))
                            (link(Nav::Plugins, "/console/plugins", "Plugins"))
                            (link(Nav::Tenants, "/console/tenants", "Tenants"))
                            (link(Nav::Charts, "/console/charts", "Charts"))
                        }
                        form method="post" action="/console/logout" {
                            button #logout type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
        // Not `no-referrer`: with it, browsers send `Origin: null` on form posts.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A page that only says what went wrong.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let nav = if status == StatusCode::UNAUTHORIZED {
        Nav::None
    } else {
        Nav::Events
    };
    let body = html! {
        h1 { (title) }
        (notice(Notice::Error, html! { (message) }))
        p { a href="/console/events" { "Back to the events" } }
    };
    page(status, title, nav, body)
}

/// The page for a failure of the gateway itself; the details go to the log.
pub fn internal(failure: &anyhow::Error) -> Response {
    tracing::error!("console request failed: {failure:#}");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal error",
        "The store could not be read; the gateway's log says why.",
    )
}

/// The kind of a notice above a page's content.
#[derive(Debug, Clone, Copy)]
pub enum Notice {
    Success,
    Error,
}

/// A coloured box with a message.
pub fn notice(kind: Notice, message: Markup) -> Markup {
    let class = match kind {
        Notice::Success => "notice success",
        Notice::Error => "notice error",
    };
    html! { div class=(class) role="status" { (message) } }
}

/// A badge's colour.
#[derive(Debug, Clone, Copy)]
pub enum Tone {
    Green,
    Amber,
    Red,
    Grey,
}

/// A small coloured label.
pub fn badge(tone: Tone, text: &str) -> Markup {
    let class = match tone {
        Tone::Green => "badge green",
        Tone::Amber => "badge amber",
        Tone::Red => "badge red",
        Tone::Grey => "badge grey",
    };
    html! { span class=(class) { (text) } }
}

/// A Unix ms time as RFC 3339 in UTC.
pub fn time(ms: i64) -> Markup {
    html! { span.mono.time { (format_instant(ms)) } }
}

/// The console page of event `id`.
pub fn event_href(id: &str) -> String {
    format!("/console/events/{}", encode(id))
}

/// `text` percent-encoded for a path segment or a query value.
pub fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `text` with its `backquoted` parts set as code.
pub fn with_code(text: &str) -> Markup {
    html! {
        @for (index, part) in text.split('`').enumerate() {
            @if index % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

/// A duration in microseconds, in the unit that reads best.
pub fn micros(us: i64) -> String {
    if us >= 1_000_000 {
        format!("{:.2} s", us as f64 / 1e6)
    } else if us >= 1_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else {
        format!("{us} µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_durations_read_in_their_unit() {
        assert_eq!(micros(850), "850 µs");
        assert_eq!(micros(12_345), "12.3 ms");
        assert_eq!(micros(2_500_000), "2.50 s");
    }
}
