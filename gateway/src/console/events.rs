//! The events pages: the filtered list, one event's whole story, and the Replay button.
//!
//! Filters are the admin API's ([`EventQuery`]); a value that does not parse is shown on the
//! page with a 400, with the form kept as typed. A replay redirects to the new event's page,
//! whose banner names the original.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, badge, encode, event_href, notice, time, Nav, Notice, Tone};
use super::Console;
use crate::admin::query::{EventQuery, DEFAULT_LIMIT};
use crate::pipeline::ReplayError;
use crate::store::{ActionView, EventStatus, EventStory, EventSummary, RunView};

/// The event types Soda sends, offered by the type filter.
const EVENT_TYPES: &[&str] = &[
    "validate",
    "checkEvaluation",
    "incidentCreated",
    "incidentUpdated",
    "contractPublished",
];

/// The filter form's fields as the browser sends them: every field, empty when unused.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    tenant: String,
    #[serde(default, rename = "type")]
    event_type: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    limit: String,
}

impl Filters {
    /// The admin API's query for these fields, or a message saying which one is wrong.
    fn to_query(&self) -> Result<EventQuery, String> {
        let limit = match self.limit.trim() {
            "" => None,
            text => Some(
                text.parse()
                    .map_err(|_| format!("limit must be a whole number, not `{text}`"))?,
            ),
        };
        let text = |value: &String| Some(value.clone());
        Ok(EventQuery {
            tenant: text(&self.tenant),
            event_type: text(&self.event_type),
            status: text(&self.status),
            since: text(&self.since),
            until: text(&self.until),
            limit,
        })
    }
}

/// `GET /console/events`.
pub async fn list(
    State(console): State<Arc<Console>>,
    query: Result<Query<Filters>, QueryRejection>,
) -> Response {
    let (filters, filter) = match query {
        Ok(Query(filters)) => {
            let filter = filters.to_query().and_then(|query| query.to_filter());
            (filters, filter)
        }
        Err(rejection) => (Filters::default(), Err(rejection.body_text())),
    };
    let (status, events, error) = match filter {
        Ok(filter) => match console.pipeline.store.events(&filter).await {
            Ok(events) => (StatusCode::OK, events, None),
            Err(failure) => return layout::internal(&failure),
        },
        Err(reason) => (StatusCode::BAD_REQUEST, Vec::new(), Some(reason)),
    };
    let mut tenants: Vec<String> = console.pipeline.tenants.load().keys().cloned().collect();
    tenants.sort();
    let body = html! {
        h1 { "Events" }
        @if let Some(error) = &error {
            (notice(Notice::Error, html! { "Bad filter: " (error) }))
        }
        (filter_form(&filters, &tenants))
        (event_table(&events))
    };
    layout::page(status, "Events", Nav::Events, body)
}

fn filter_form(filters: &Filters, tenants: &[String]) -> Markup {
    let mut types: Vec<&str> = EVENT_TYPES.to_vec();
    let typed = filters.event_type.trim();
    if !typed.is_empty() && !types.contains(&typed) {
        types.push(typed);
    }
    let mut tenant_ids: Vec<&str> = tenants.iter().map(String::as_str).collect();
    let chosen = filters.tenant.trim();
    if !chosen.is_empty() && !tenant_ids.contains(&chosen) {
        tenant_ids.push(chosen);
    }
    html! {
        form.filters #filters method="get" action="/console/events" {
            label { "Tenant"
                select #filter-tenant name="tenant" {
                    option value="" { "any" }
                    @for id in &tenant_ids {
                        option value=(id) selected[*id == chosen] { (id) }
                    }
                }
            }
            label { "Type"
                select #filter-type name="type" {
                    option value="" { "any" }
                    @for kind in &types {
                        option value=(kind) selected[*kind == typed] { (kind) }
                    }
                }
            }
            label { "Status"
                select #filter-status name="status" {
                    option value="" { "any" }
                    @for status in ["done", "pending", "failed"] {
                        option value=(status) selected[filters.status.trim() == status] {
                            (status)
                        }
                    }
                }
            }
            label { "Since (RFC 3339 or age: 2h)"
                input #filter-since type="text" name="since" value=(filters.since)
                    placeholder="24h";
            }
            label { "Until"
                input #filter-until type="text" name="until" value=(filters.until)
                    placeholder="2026-11-22T10:00:00Z";
            }
            label { "Limit"
                input.narrow #filter-limit type="text" name="limit" value=(filters.limit)
                    placeholder=(DEFAULT_LIMIT);
            }
            button #filter-submit type="submit" { "Filter" }
            a href="/console/events" { "Clear" }
        }
    }
}

fn event_table(events: &[EventSummary]) -> Markup {
    html! {
        table #events {
            thead { tr {
                th { "Received (UTC)" } th { "Event" } th { "Tenant" } th { "Type" }
                th { "Status" } th { "Plugin runs / errors" } th { "Actions pending / failed" }
                th { "Replay of" }
            } }
            tbody {
                @for event in events {
                    tr.event {
                        td { (time(event.received_at)) }
                        td { a.mono href=(event_href(&event.id)) { (event.id) } }
                        td.tenant { (event.tenant) }
                        td { (event.event_type) }
                        td.status { (status_badge(event.status)) }
                        td { (event.plugin_runs) " / " (errors(event.plugin_errors)) }
                        td { (event.pending) " / " (errors(event.failed)) }
                        td {
                            @if let Some(original) = &event.replay_of {
                                a.mono href=(event_href(original)) { (original) }
                            }
                        }
                    }
                }
                @if events.is_empty() {
                    tr { td.empty colspan="8" { "No events match." } }
                }
            }
        }
    }
}

/// A count that is red when it is not zero.
fn errors(count: i64) -> Markup {
    html! {
        @if count > 0 { span.error-text { (count) } } @else { (count) }
    }
}

fn status_badge(status: EventStatus) -> Markup {
    let tone = match status {
        EventStatus::Done => Tone::Green,
        EventStatus::Pending => Tone::Amber,
        EventStatus::Failed => Tone::Red,
    };
    badge(tone, status.as_str())
}

/// The query of an event page: set after a replay, to the event that was replayed.
#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    replayed_from: Option<String>,
}

/// `GET /console/events/{id}`.
pub async fn show(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    query: Result<Query<Shown>, QueryRejection>,
) -> Response {
    let shown = query.map(|Query(shown)| shown).unwrap_or_default();
    match console.pipeline.store.event_story(&id).await {
        Ok(Some(story)) => story_page(&story, shown.replayed_from.as_deref()),
        Ok(None) => layout::error_page(
            StatusCode::NOT_FOUND,
            "No such event",
            &format!("There is no event `{id}` (it may have been pruned past retention)."),
        ),
        Err(failure) => layout::internal(&failure),
    }
}

fn story_page(story: &EventStory, replayed_from: Option<&str>) -> Response {
    let event = &story.event;
    // The banner only confirms what the store says: this event replays that one.
    let replayed_from = replayed_from.filter(|from| event.replay_of.as_deref() == Some(from));
    let body = html! {
        @if let Some(original) = replayed_from {
            (notice(Notice::Success, html! {
                "Replayed " a.mono href=(event_href(original)) { (original) }
                " as " span.mono { (event.id) } "."
            }))
        }
        h1 { "Event " span.mono { (event.id) } }
        div.actions-bar {
            form #replay method="post" action={ (event_href(&event.id)) "/replay" } {
                button.primary #replay-button type="submit" { "Replay" }
            }
            span.muted { "Runs the stored event again through the plugins loaded now, as a new event." }
        }
        (summary(story))
        h2 { "Headers" }
        (headers(&story.headers))
        h2 { "Body" }
        pre #body { (pretty_json(&story.body)) }
        h2 { "Plugin runs" }
        (runs(&story.runs))
        h2 { "Actions" }
        (actions(&story.actions))
    };
    layout::page(StatusCode::OK, &event.id, Nav::Events, body)
}

fn summary(story: &EventStory) -> Markup {
    let event = &story.event;
    html! {
        dl.summary #summary {
            dt { "Tenant" } dd { (event.tenant) }
            dt { "Type" } dd { (event.event_type) }
            dt { "Received" } dd { (time(event.received_at)) }
            dt { "Status" } dd { (status_badge(event.status)) }
            dt { "Plugin runs" } dd { (event.plugin_runs) " (" (errors(event.plugin_errors)) " failed)" }
            dt { "HTTP actions" } dd {
                (event.actions) " (" (event.pending) " pending, " (errors(event.failed)) " failed)"
            }
            @if let Some(original) = &event.replay_of {
                dt { "Replay of" } dd { a.mono #replay-of href=(event_href(original)) { (original) } }
            }
            @if !story.replays.is_empty() {
                dt { "Replays" } dd {
                    @for (index, replay) in story.replays.iter().enumerate() {
                        @if index > 0 { ", " }
                        a.mono.replay href=(event_href(replay)) { (replay) }
                    }
                }
            }
        }
    }
}

fn headers(headers: &[(String, String)]) -> Markup {
    html! {
        table #headers {
            thead { tr { th { "Header" } th { "Value" } } }
            tbody {
                @for (name, value) in headers {
                    tr { td.mono { (name) } td.mono { (value) } }
                }
                @if headers.is_empty() {
                    tr { td.empty colspan="2" { "None kept (replays keep no headers)." } }
                }
            }
        }
    }
}

/// The body indented when it is JSON (every stored event is), as is otherwise. Keys keep the
/// order they arrived in and numbers their spelling: only whitespace changes.
fn pretty_json(body: &str) -> String {
    if serde_json::from_str::<serde::de::IgnoredAny>(body).is_err() {
        return body.to_owned();
    }
    let mut out = String::with_capacity(body.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = body.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
                match chars.next_if(|next| matches!(next, '}' | ']')) {
                    Some(close) => out.push(close),
                    None => {
                        depth += 1;
                        newline(&mut out, depth);
                    }
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

fn runs(runs: &[RunView]) -> Markup {
    html! {
        table #runs {
            thead { tr {
                th { "Plugin" } th { "Phase" } th { "Outcome" } th { "Duration" } th { "Error" }
            } }
            tbody {
                @for run in runs {
                    tr.run {
                        td { (run.plugin) }
                        td {
                            (run.phase)
                            @if let Some(action) = &run.action_id {
                                " of " span.mono { (action) }
                            }
                        }
                        td {
                            @if run.ok { (badge(Tone::Green, "ok")) }
                            @else { (badge(Tone::Red, "error")) }
                        }
                        td { (layout::micros(run.duration_us)) }
                        td.error-text { (run.error.as_deref().unwrap_or_default()) }
                    }
                }
                @if runs.is_empty() {
                    tr { td.empty colspan="5" { "No plugin ran on this event." } }
                }
            }
        }
    }
}

fn actions(actions: &[ActionView]) -> Markup {
    html! {
        table #actions {
            thead { tr {
                th { "Action" } th { "Plugin" } th { "Request" } th { "Status" }
                th { "Attempts" } th { "Last error" }
            } }
            tbody {
                @for action in actions {
                    tr.action {
                        td.mono { (action.id) }
                        td { (action.plugin) }
                        td {
                            @if action.kind == "http" {
                                span.mono { (action.method) " " (action.url) }
                            } @else {
                                "incident link answered to Soda: " span.mono { (action.url) }
                            }
                        }
                        td { (action_badge(&action.status)) }
                        td { (action.attempts) }
                        td.error-text { (action.last_error.as_deref().unwrap_or_default()) }
                    }
                    @if !action.attempt_log.is_empty() {
                        tr { td colspan="6" { (attempts(action)) } }
                    }
                }
                @if actions.is_empty() {
                    tr { td.empty colspan="6" { "No actions." } }
                }
            }
        }
    }
}

fn attempts(action: &ActionView) -> Markup {
    html! {
        table.nested.attempts {
            thead { tr {
                th { "Attempt at (UTC)" } th { "Duration" } th { "HTTP status" } th { "Error" }
            } }
            tbody {
                @for attempt in &action.attempt_log {
                    tr.attempt {
                        td { (time(attempt.started_at)) }
                        td { (attempt.duration_ms) " ms" }
                        td.http-status {
                            @match attempt.status_code {
                                Some(code) if (200..300).contains(&code) => {
                                    (badge(Tone::Green, &code.to_string()))
                                }
                                Some(code) => (badge(Tone::Red, &code.to_string())),
                                None => span.muted { "no answer" },
                            }
                        }
                        td.error-text { (attempt.error.as_deref().unwrap_or_default()) }
                    }
                }
            }
        }
    }
}

fn action_badge(status: &str) -> Markup {
    let tone = match status {
        "succeeded" => Tone::Green,
        "pending" => Tone::Amber,
        "failed" => Tone::Red,
        _ => Tone::Grey,
    };
    badge(tone, status)
}

/// `POST /console/events/{id}/replay`: on success, the new event's page with a banner.
pub async fn replay(State(console): State<Arc<Console>>, Path(id): Path<String>) -> Response {
    match console.pipeline.replay(&id).await {
        Ok(accepted) => Redirect::to(&format!(
            "{}?replayed_from={}",
            event_href(&accepted.event_id),
            encode(&id)
        ))
        .into_response(),
        Err(failure) => {
            let status = match failure {
                ReplayError::NoSuchEvent(_) => StatusCode::NOT_FOUND,
                ReplayError::Refused => StatusCode::SERVICE_UNAVAILABLE,
                ReplayError::NoSuchTenant(_) | ReplayError::Unparsable(_) => StatusCode::CONFLICT,
            };
            layout::error_page(
                status,
                "Replay failed",
                &format!("Event `{id}` was not replayed: {failure}."),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_bodies_are_indented_keeping_key_order_and_strings() {
        let body = r#"{"z":1,"a":{"s":"x, {y}: \\\"q\\\"","e":[],"o":{ }},"n":[1.50,true]}"#;
        let expected = r#"{
  "z": 1,
  "a": {
    "s": "x, {y}: \\\"q\\\"",
    "e": [],
    "o": {}
  },
  "n": [
    1.50,
    true
  ]
}"#;
        assert_eq!(pretty_json(body), expected);
        assert_eq!(pretty_json("not json {"), "not json {");
    }
}
