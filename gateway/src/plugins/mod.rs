//! Plugins: loading the `.wasm` files, running a tenant's plugins on an event, and turning what
//! they return into actions the store can keep.
//!
//! A plugin that fails to load, traps, loops or returns something invalid is recorded as a
//! failed [`PluginRun`]; it never fails the request, nor touches other plugins' results.

pub mod bindings;
mod host;
mod runtime;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::actions::{NewAction, Request};
use bindings::wit;
pub use host::CallScope;
pub use runtime::{Compiled, Runtime};

/// A loaded plugin.
pub struct LoadedPlugin {
    pub name: String,
    compiled: Compiled,
}

/// The plugins found in the plugins folder at start.
pub struct Registry {
    runtime: Runtime,
    plugins: HashMap<String, LoadedPlugin>,
}

/// A plugin enabled for a tenant, with its configuration already rendered as JSON.
#[derive(Debug, Clone)]
pub struct Enabled {
    pub name: String,
    pub config_json: String,
}

/// The result of running one plugin on one event.
#[derive(Debug)]
pub struct PluginRun {
    pub plugin: String,
    pub duration: Duration,
    pub outcome: Result<Vec<NewAction>, String>,
}

impl Registry {
    /// Loads every `*.wasm` in `dir`. A file that does not load is logged and skipped, so one
    /// broken plugin cannot take the gateway down for every tenant.
    pub fn load_dir(runtime: Runtime, dir: &Path) -> anyhow::Result<Self> {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read plugins_dir {}", dir.display()))?;
        let mut plugins = HashMap::new();
        for entry in entries {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            let started = Instant::now();
            match runtime.compile_file(&path) {
                Ok(compiled) => {
                    tracing::info!(plugin = %name, file = %path.display(), elapsed_ms = started.elapsed().as_millis() as u64, "plugin loaded");
                    plugins.insert(name.clone(), LoadedPlugin { name, compiled });
                }
                Err(error) => tracing::error!(
                    plugin = %name,
                    file = %path.display(),
                    gateway_contract = bindings::CONTRACT_VERSION,
                    "plugin rejected: {error:#}"
                ),
            }
        }
        Ok(Self { runtime, plugins })
    }

    /// Whether a plugin of that name is loaded.
    pub fn contains(&self, name: &str) -> bool {
        self.plugins.contains_key(name)
    }

    /// Runs each enabled plugin, in order, on the event. Blocking: call it off the async runtime.
    pub fn run(&self, tenant: &str, enabled: &[Enabled], event: &wit::Event) -> Vec<PluginRun> {
        enabled
            .iter()
            .map(|plugin| {
                let started = Instant::now();
                let outcome = self.run_one(tenant, plugin, event);
                PluginRun {
                    plugin: plugin.name.clone(),
                    duration: started.elapsed(),
                    outcome,
                }
            })
            .collect()
    }

    fn run_one(
        &self,
        tenant: &str,
        enabled: &Enabled,
        event: &wit::Event,
    ) -> Result<Vec<NewAction>, String> {
        let loaded = self
            .plugins
            .get(&enabled.name)
            .ok_or_else(|| format!("plugin `{}` is not loaded", enabled.name))?;
        let scope = CallScope {
            tenant: tenant.to_owned(),
            plugin: loaded.name.clone(),
            event_id: event.id.clone(),
        };
        let context = wit::Context {
            tenant: tenant.to_owned(),
            config_json: enabled.config_json.clone(),
        };
        let actions = self
            .runtime
            .call(&loaded.compiled, scope, event, &context)?;
        plan(actions, event.incident_link_callback_url.as_deref())
    }
}

/// Validates a plugin's actions and turns them into storable ones; one invalid action rejects
/// the plugin's whole answer, so a plugin's actions are stored all or nothing.
fn plan(actions: Vec<wit::Action>, callback_url: Option<&str>) -> Result<Vec<NewAction>, String> {
    actions
        .into_iter()
        .enumerate()
        .map(|(index, action)| {
            plan_one(action, callback_url).map_err(|reason| format!("action {index}: {reason}"))
        })
        .collect::<Result<_, String>>()
        .map_err(|reason| format!("returned an invalid action: {reason}"))
}

fn plan_one(action: wit::Action, callback_url: Option<&str>) -> Result<NewAction, String> {
    Ok(match action {
        wit::Action::Http(request) => NewAction::Http(Request::new(
            method_name(request.method),
            request.url,
            request.headers,
            request.body.unwrap_or_default(),
        )?),
        wit::Action::IncidentLink(link) => NewAction::LinkAnswer {
            url: link.url,
            text: link.text,
        },
        wit::Action::IncidentLinkCallback(link) => {
            let url = callback_url
                .ok_or("the event has no incidentLinkCallbackUrl to post the link to")?;
            NewAction::Http(Request::link_callback(url, &link.url, &link.text)?)
        }
    })
}

fn method_name(method: wit::HttpMethod) -> &'static str {
    match method {
        wit::HttpMethod::Get => "GET",
        wit::HttpMethod::Post => "POST",
        wit::HttpMethod::Put => "PUT",
        wit::HttpMethod::Patch => "PATCH",
        wit::HttpMethod::Delete => "DELETE",
    }
}
