//! The tenants page: each tenant's verification scheme (never its secrets), its plugins with
//! the ones not loaded marked, the quotas in force and its events of the last 24 hours, from
//! [`inventory::tenants`].

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};

use super::layout::{self, badge, Nav, Tone};
use super::Console;
use crate::admin::inventory::{self, QuotaInfo};

/// `GET /console/tenants`.
pub async fn page(State(console): State<Arc<Console>>) -> Response {
    let tenants = match inventory::tenants(&console.pipeline, &console.quotas).await {
        Ok(tenants) => tenants,
        Err(failure) => return layout::internal(&failure),
    };
    let body = html! {
        h1 { "Tenants" }
        table #tenants {
            thead { tr {
                th { "Tenant" } th { "Verification" } th { "Plugins" } th { "Quotas" }
                th { "Events, last 24 h" }
            } }
            tbody {
                @for tenant in &tenants {
                    tr.tenant data-id=(tenant.id) {
                        td {
                            a.mono href={ "/console/events?tenant=" (layout::encode(&tenant.id)) } {
                                (tenant.id)
                            }
                        }
                        td {
                            (badge(Tone::Grey, tenant.verification.scheme))
                            div.muted { "in " span.mono { (tenant.verification.header) } }
                            div { (layout::with_code(&tenant.verification.detail)) }
                            div.muted {
                                (tenant.verification.secrets)
                                @if tenant.verification.secrets == 1 { " secret" }
                                @else { " secrets accepted (rotation)" }
                            }
                        }
                        td {
                            @for plugin in &tenant.plugins {
                                div {
                                    span.mono { (plugin.name) } " "
                                    @if !plugin.loaded { (badge(Tone::Red, "not loaded")) }
                                }
                            }
                            @if tenant.plugins.is_empty() { span.muted { "none" } }
                        }
                        td { (quota(&tenant.quota)) }
                        td.events-24h { (tenant.events_24h) }
                    }
                }
                @if tenants.is_empty() {
                    tr { td.empty colspan="5" { "No tenants configured." } }
                }
            }
        }
        p.muted { "Quotas in bold are the tenant's own; the others come from " code { "[quotas]" } "." }
    };
    layout::page(StatusCode::OK, "Tenants", Nav::Tenants, body)
}

fn quota(quota: &QuotaInfo) -> Markup {
    let line = |key: &str, text: String| {
        html! {
            div {
                @if quota.own.contains(&key) { strong { (text) } } @else { (text) }
            }
        }
    };
    html! {
        (line("requests_per_second", format!("{} requests/s", quota.requests_per_second)))
        (line("burst", format!("burst {}", quota.burst)))
        (line("concurrent_events", format!("{} events at once", quota.concurrent_events)))
        (line("max_pending_actions", format!("{} pending actions", quota.max_pending_actions)))
    }
}
