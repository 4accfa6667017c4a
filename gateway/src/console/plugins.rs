//! The plugins page: every plugin file loaded now (contract, manifest, SHA-256, compiled or from
//! the cache, load time), every file that was refused, and each plugin's last errors, from
//! [`inventory::plugins`].

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::layout::{self, badge, time, Nav, Tone};
use super::Console;
use crate::admin::inventory::{self, PluginState};

/// `GET /console/plugins`.
pub async fn page(State(console): State<Arc<Console>>) -> Response {
    let plugins = match inventory::plugins(&console.pipeline).await {
        Ok(plugins) => plugins,
        Err(failure) => return layout::internal(&failure),
    };
    let folder = console.pipeline.plugins.dir().display().to_string();
    let body = html! {
        h1 { "Plugins" }
        p.muted { "The " code { "*.wasm" } " files in " code { (folder) }
            ", reloaded when they change. A refused file leaves the previous version serving." }
        table #plugins {
            thead { tr {
                th { "Plugin" } th { "State" } th { "Contract" } th { "Manifest" } th { "SHA-256" }
                th { "Compiled" } th { "Load time" } th { "Enabled for" } th { "Last error" }
            } }
            tbody {
                @for plugin in &plugins {
                    tr.plugin data-name=(plugin.name) {
                        td.name { (plugin.name) }
                        td { @match plugin.state {
                            PluginState::Loaded => (badge(Tone::Green, "loaded")),
                            PluginState::Rejected => (badge(Tone::Red, "rejected")),
                            PluginState::Missing => (badge(Tone::Amber, "no file")),
                        } }
                        td.mono { (plugin.contract.unwrap_or("—")) }
                        td.manifest {
                            @if let Some(manifest) = &plugin.manifest {
                                div { strong { (manifest.name) } " " span.mono { (manifest.version) } }
                                @if let Some(description) = &manifest.description {
                                    div.muted { (description) }
                                }
                                div { "Hosts: " span.mono.hosts {
                                    @if manifest.hosts.is_empty() { "none declared" }
                                    @else { (manifest.hosts.join(", ")) }
                                } }
                                div { "Config schema: " @if manifest.config_schema.is_some() {
                                    "checked at load"
                                } @else { "none" } }
                            } @else {
                                span.muted { "none" }
                            }
                            @for warning in &plugin.warnings {
                                div.warning { (badge(Tone::Amber, "warning")) " " (warning) }
                            }
                        }
                        td.mono.sha256 { (plugin.sha256.as_deref().unwrap_or("—")) }
                        td { @match plugin.from_cache {
                            Some(true) => "from the cache",
                            Some(false) => "compiled",
                            None => "—",
                        } }
                        td { @match plugin.load_ms {
                            Some(ms) => (format!("{ms:.1} ms")),
                            None => "—",
                        } }
                        td { (plugin.enabled_for.join(", ")) }
                        td.last-error {
                            @if let Some(error) = &plugin.last_load_error {
                                div.load-error {
                                    strong { "Refused " } (time(error.at)) ": "
                                    span.error-text { (error.message) }
                                }
                            }
                            @if let Some(error) = &plugin.last_run_error {
                                div.run-error {
                                    strong { "Failed run " } (time(error.at)) " on "
                                    a.mono href=(layout::event_href(&error.event_id)) {
                                        (error.event_id)
                                    }
                                    ": " span.error-text {
                                        (error.error.as_deref().unwrap_or("error"))
                                    }
                                }
                            }
                            @if plugin.last_load_error.is_none() && plugin.last_run_error.is_none() {
                                span.muted { "none" }
                            }
                        }
                    }
                }
                @if plugins.is_empty() {
                    tr { td.empty colspan="9" { "No plugin files." } }
                }
            }
        }
    };
    layout::page(StatusCode::OK, "Plugins", Nav::Plugins, body)
}
