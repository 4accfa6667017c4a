//! The charts page: for each tenant, its events per minute over the last 24 hours, and for each
//! of its plugins the failed runs and the mean delivery latency, as inline SVG bar charts of
//! ten-minute buckets ([`svg`](super::svg)). The store counts per bucket
//! ([`Store::activity`](crate::store::Store::activity)); [`series`](super::series) turns the
//! counts into bars. `?tenant=` and `?plugin=` narrow the page to one of each.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, notice, time, Nav, Notice};
use super::series::{self, PluginSeries, TenantSeries};
use super::svg::{bar_chart, short_number, Bar, BarChart};
use super::Console;
use crate::admin::query::format_instant;
use crate::store::{now_ms, Window};

/// The bars' colours, one per kind of chart; the browser tests find the bars in screenshots by
/// them, so they appear nowhere else on the console.
const EVENTS_COLOUR: &str = "#2f80ed";
const FAILURES_COLOUR: &str = "#c0392b";
const LATENCY_COLOUR: &str = "#7b4fc9";
/// Labelled ticks under the x axis, every this many hours.
const TICK_HOURS: i64 = 6;
const HOUR_MS: i64 = 3_600_000;

/// The filter form's fields; empty means all.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    plugin: String,
}

/// `GET /console/charts`.
pub async fn page(
    State(console): State<Arc<Console>>,
    query: Result<Query<Filters>, QueryRejection>,
) -> Response {
    let (filters, mut error) = match query {
        Ok(Query(filters)) => (filters, None),
        Err(rejection) => (Filters::default(), Some(rejection.body_text())),
    };
    let tenant_filter = filters.tenant.trim();
    let plugin_filter = filters.plugin.trim();
    let configured = console.pipeline.tenants.load_full();
    let mut tenants: Vec<(&String, Vec<String>)> = configured
        .iter()
        .map(|(id, entry)| {
            let plugins = entry.config.plugins.iter().map(|p| p.name.clone());
            (id, plugins.collect())
        })
        .collect();
    tenants.sort();
    let plugin_names: BTreeSet<&str> = tenants
        .iter()
        .flat_map(|(_, plugins)| plugins.iter().map(String::as_str))
        .collect();
    if !tenant_filter.is_empty() && !tenants.iter().any(|(id, _)| *id == tenant_filter) {
        error = Some(format!("there is no tenant `{tenant_filter}`"));
    }
    let window = series::last_day(now_ms());
    let mut sections = Vec::new();
    if error.is_none() {
        for (id, plugins) in &tenants {
            if !tenant_filter.is_empty() && *id != tenant_filter {
                continue;
            }
            let activity = match console.pipeline.store.activity(id, &window).await {
                Ok(activity) => activity,
                Err(failure) => return layout::internal(&failure),
            };
            let series = series::tenant_series(&activity, &window, plugins);
            sections.push(tenant_section(id, &series, &window, plugin_filter));
        }
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = html! {
        h1 { "Charts" }
        @if let Some(error) = &error {
            (notice(Notice::Error, html! { "Bad filter: " (layout::with_code(error)) }))
        }
        p.muted {
            "The last 24 hours, " (time(window.start_ms)) " to " (time(window.end_ms()))
            ", in bars of 10 minutes: each tenant's events per minute, and for each of its \
             plugins the failed runs and the mean time from an action being stored to its \
             delivery."
        }
        (filter_form(&filters, &tenants, &plugin_names))
        @for section in &sections { (section) }
        @if tenants.is_empty() {
            p.no-data { "No tenants configured." }
        }
    };
    layout::page(status, "Charts", Nav::Charts, body)
}

fn filter_form(
    filters: &Filters,
    tenants: &[(&String, Vec<String>)],
    plugins: &BTreeSet<&str>,
) -> Markup {
    let tenant = filters.tenant.trim();
    let plugin = filters.plugin.trim();
    html! {
        form.filters #chart-filters method="get" action="/console/charts" {
            label { "Tenant"
                select #chart-tenant name="tenant" {
                    option value="" { "all" }
                    @for (id, _) in tenants {
                        option value=(id) selected[*id == tenant] { (id) }
                    }
                }
            }
            label { "Plugin"
                select #chart-plugin name="plugin" {
                    option value="" { "all" }
                    @for name in plugins {
                        option value=(name) selected[*name == plugin] { (name) }
                    }
                }
            }
            button #chart-filter-submit type="submit" { "Show" }
            a href="/console/charts" { "Clear" }
        }
    }
}

fn tenant_section(id: &str, series: &TenantSeries, window: &Window, plugin: &str) -> Markup {
    let ticks = ticks(window);
    let bars = bars(window, &series.events_per_minute, |value| {
        format!("{} events/min", short_number(value))
    });
    let peak = series.events_per_minute.iter().copied().fold(0.0, f64::max);
    let plugins = series
        .plugins
        .iter()
        .filter(|series| plugin.is_empty() || series.name == plugin);
    html! {
        section.tenant-charts data-tenant=(id) {
            h2 { "Tenant " span.mono { (id) } }
            @if series.events == 0 {
                p.no-data.events { "No events in the last 24 hours." }
            } @else {
                figure.chart.events {
                    figcaption {
                        strong { "Events per minute" } " · " (series.events) " events, at most "
                        (short_number(peak)) "/min"
                    }
                    (bar_chart(&BarChart {
                        title: &format!("{id}: events per minute, last 24 hours"),
                        colour: EVENTS_COLOUR,
                        bars: &bars,
                        ticks: &ticks,
                        unit: |value| format!("{}/min", short_number(value)),
                    }))
                }
                @for plugin in plugins {
                    (plugin_charts(id, plugin, window, &ticks))
                }
            }
        }
    }
}

fn plugin_charts(
    tenant: &str,
    plugin: &PluginSeries,
    window: &Window,
    ticks: &[(usize, String)],
) -> Markup {
    let failures = bars(window, &plugin.failures, |value| {
        format!("{} failed runs", short_number(value))
    });
    let latency = bars(window, &plugin.latency_ms, |value| {
        format!("{} mean", milliseconds(value))
    });
    let name = &plugin.name;
    html! {
        div.plugin-charts data-plugin=(name) {
            h3 { "Plugin " span.mono { (name) } }
            @if plugin.failed == 0 {
                p.no-data.failures { "No failed runs in the last 24 hours." }
            } @else {
                figure.chart.failures {
                    figcaption {
                        strong { "Failed runs" } " · " (plugin.failed) " in the last 24 hours"
                    }
                    (bar_chart(&BarChart {
                        title: &format!("{tenant} / {name}: failed runs per 10 minutes"),
                        colour: FAILURES_COLOUR,
                        bars: &failures,
                        ticks,
                        unit: short_number,
                    }))
                }
            }
            @if let (Some(mean), Some(max)) = (plugin.mean_ms, plugin.max_ms) {
                figure.chart.latency {
                    figcaption {
                        strong { "Delivery latency" } " · " (plugin.delivered)
                        " delivered, mean " (milliseconds(mean)) ", slowest "
                        (milliseconds(max as f64))
                    }
                    (bar_chart(&BarChart {
                        title: &format!("{tenant} / {name}: mean delivery latency per 10 minutes"),
                        colour: LATENCY_COLOUR,
                        bars: &latency,
                        ticks,
                        unit: milliseconds,
                    }))
                }
            } @else {
                p.no-data.latency { "Nothing delivered in the last 24 hours." }
            }
        }
    }
}

/// A bar per bucket, its label the bucket's start and `describe(value)`.
fn bars(window: &Window, values: &[f64], describe: impl Fn(f64) -> String) -> Vec<Bar> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| Bar {
            value: *value,
            label: format!(
                "10 minutes from {}: {}",
                format_instant(window.bucket_start(index)),
                describe(*value)
            ),
        })
        .collect()
}

/// "24 h ago", "18 h ago", ..., "now", at the bucket boundaries they fall on.
fn ticks(window: &Window) -> Vec<(usize, String)> {
    let span_hours = window.bucket_ms * window.buckets as i64 / HOUR_MS;
    (0..=span_hours / TICK_HOURS)
        .map(|step| {
            let hours_ago = span_hours - step * TICK_HOURS;
            let boundary = ((span_hours - hours_ago) * HOUR_MS / window.bucket_ms) as usize;
            let label = match hours_ago {
                0 => "now".to_owned(),
                hours => format!("{hours} h ago"),
            };
            (boundary, label)
        })
        .collect()
}

/// A latency in ms, in seconds from one second up.
fn milliseconds(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", short_number(ms / 1000.0))
    } else {
        format!("{} ms", short_number(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_is_labelled_every_six_hours_at_bucket_boundaries() {
        let window = series::last_day(1_800_000_000_000);
        let ticks = ticks(&window);
        let labels: Vec<(usize, &str)> = ticks
            .iter()
            .map(|(boundary, label)| (*boundary, label.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                (0, "24 h ago"),
                (36, "18 h ago"),
                (72, "12 h ago"),
                (108, "6 h ago"),
                (144, "now")
            ]
        );
    }

    #[test]
    fn latencies_read_in_ms_then_seconds() {
        assert_eq!(milliseconds(152.4), "152 ms");
        assert_eq!(milliseconds(2500.0), "2.5 s");
    }

    #[test]
    fn each_bar_is_labelled_with_its_bucket_and_value() {
        let window = Window::ending_at(1_800_000_600_000, series::BUCKET_MS, 2);
        let bars = bars(&window, &[0.0, 0.3], |v| format!("{v} events/min"));
        assert_eq!(
            bars[1].label,
            "10 minutes from 2027-01-15T08:00:00Z: 0.3 events/min"
        );
    }
}
