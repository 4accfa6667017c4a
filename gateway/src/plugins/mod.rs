//! Plugins: loading the `.wasm` files (and reloading them while the gateway runs), running a
//! tenant's plugins on an event, and turning what they return into actions the store can keep.
//!
//! A plugin that fails to load, traps, loops or returns something invalid is recorded as a
//! failed [`PluginRun`](crate::records::PluginRun); it never fails the request, nor touches other plugins' results.
//! The set of loaded plugins is swapped atomically: an event runs on the versions that were
//! loaded when it arrived, even if a file is replaced meanwhile.

mod adapt_v0_1;
pub mod bindings;
mod cache;
mod configs;
pub mod contract;
mod host;
mod limiter;
pub mod loader;
pub mod manifest;
mod runtime;
pub mod state;
mod threads;
mod warm;
pub mod watcher;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use arc_swap::ArcSwap;
use axum::http::Method;

use crate::actions::secrets::neutralize_response;
use crate::config::PluginLimits;
use crate::records::{NewAction, PluginRun, Produced, Request, Response};
use crate::telemetry::Metrics;
use bindings::wit;
pub use cache::CompileCache;
pub use configs::{in_use as configs_in_use, ConfigInUse, ConfigsRefused};
pub use host::CallScope;
pub use loader::{LoadError, LoadedPlugin};
pub use runtime::{CallError, CallOutput, Compiled, Invocation, Runtime, DEFAULT_MAX_INSTANCES};
pub use state::{PluginState, StateSource};
pub use threads::PluginThreads;
pub use warm::WarmKey;

/// The plugins loaded from the plugins folder, kept in sync with it.
pub struct Registry {
    runtime: Runtime,
    cache: Option<CompileCache>,
    dir: PathBuf,
    plugins: ArcSwap<HashMap<String, Arc<LoadedPlugin>>>,
    /// Serialises changes to `plugins`, so two reloads cannot lose each other's swap.
    changing: Mutex<()>,
    metrics: Arc<Metrics>,
    /// The last rejection of each plugin file, until it loads (or goes away): operators see
    /// it in the console and `GET /admin/plugins`, even when the previous version serves.
    rejections: Mutex<HashMap<String, Rejection>>,
    /// `outbound.allowed_hosts`, to warn about hosts a plugin declares that it may not reach.
    allowed_hosts: HashMap<String, Vec<String>>,
    /// The tenants' configs in use: a new version whose schema refuses one does not load.
    configs: Mutex<Vec<ConfigInUse>>,
}

/// Why a plugin file was last refused.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub at: SystemTime,
    /// The [`LoadError`], which names the file, the reason and the contract versions.
    pub message: String,
}

/// A plugin enabled for a tenant, with its configuration rendered as JSON and its limits.
#[derive(Debug, Clone)]
pub struct Enabled {
    pub name: String,
    pub config_json: String,
    pub limits: PluginLimits,
}

/// The gateway had no plugin instance slot for an event: it is refused, so that its sender
/// retries, rather than recorded with plugins that did not run.
#[derive(Debug, thiserror::Error)]
#[error("plugin `{plugin}` could not run: {reason}")]
pub struct Overloaded {
    pub plugin: String,
    pub reason: String,
}

impl Registry {
    /// Loads every `*.wasm` in `dir`. A file that does not load is logged and skipped, so one
    /// broken plugin cannot take the gateway down for every tenant. `allowed_hosts` is
    /// `outbound.allowed_hosts`, for warnings about the hosts plugins declare.
    pub fn open(
        runtime: Runtime,
        dir: &Path,
        cache: Option<CompileCache>,
        metrics: Arc<Metrics>,
        allowed_hosts: HashMap<String, Vec<String>>,
    ) -> anyhow::Result<Self> {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read plugins_dir {}", dir.display()))?;
        let registry = Self {
            runtime,
            cache,
            dir: dir.to_owned(),
            plugins: ArcSwap::from_pointee(HashMap::new()),
            changing: Mutex::new(()),
            metrics,
            rejections: Mutex::default(),
            allowed_hosts,
            configs: Mutex::default(),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| loader::plugin_name(path).is_some())
            .collect();
        paths.sort();
        for path in paths {
            registry.sync_file(&path);
        }
        Ok(registry)
    }

    /// The folder this registry follows.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Brings one file's plugin up to date: (re)loads it if the file exists, unloads it if not.
    /// A file that fails to load leaves the previous version serving.
    pub fn sync_file(&self, path: &Path) {
        let Some(name) = loader::plugin_name(path) else {
            return;
        };
        if !path.exists() {
            self.rejected(&name, None);
            self.change(|plugins| {
                if plugins.remove(&name).is_some() {
                    self.metrics.reload("unloaded");
                    tracing::info!(plugin = %name, file = %path.display(), "plugin unloaded");
                }
            });
            return;
        }
        match loader::load(&self.runtime, self.cache.as_ref(), path) {
            Ok(loaded) => {
                let version = loaded.manifest.as_ref().map(|m| m.manifest.version.clone());
                let fields = (loaded.sha256.clone(), loaded.compiled.version().name());
                let (from_cache, load_ms) = (loaded.from_cache, loaded.load_time.as_millis());
                let warnings = self.host_warnings(&loaded);
                if let Err(refused) = self.install(loaded) {
                    let reason = format!(
                        "its config schema refuses configs in use (change them first): {refused}"
                    );
                    return self.refuse(&name, format!("{}: {reason}", path.display()));
                }
                self.metrics.reload("loaded");
                tracing::info!(
                    plugin = %name,
                    file = %path.display(),
                    version = version.as_deref().unwrap_or("-"),
                    sha256 = %fields.0,
                    contract = %fields.1,
                    from_cache,
                    load_ms = load_ms as u64,
                    "plugin loaded"
                );
                for warning in warnings {
                    tracing::warn!(plugin = %name, "{warning}");
                }
                self.rejected(&name, None);
            }
            Err(error) => self.refuse(&name, error.to_string()),
        }
    }

    /// Records that a file of plugin `name` was refused; the previous version keeps serving.
    fn refuse(&self, name: &str, message: String) {
        self.metrics.reload("rejected");
        let serving = self.plugins.load().contains_key(name);
        tracing::error!(
            plugin = %name,
            previous_version_serving = serving,
            "plugin rejected: {message}"
        );
        self.rejected(name, Some(message));
    }

    /// Serves a newly loaded version, unless its schema refuses a tenant's config in use.
    fn install(&self, loaded: LoadedPlugin) -> Result<(), ConfigsRefused> {
        let mut refused = Vec::new();
        self.change(|plugins| {
            refused = configs::refusals(&loaded, &self.configs_in_use());
            if refused.is_empty() {
                plugins.insert(loaded.name.clone(), Arc::new(loaded));
            }
        });
        match refused.is_empty() {
            true => Ok(()),
            false => Err(ConfigsRefused(refused)),
        }
    }

    /// Checks the tenants' configs against the schemas of the plugins loaded now and, if none
    /// is refused, keeps them to check the plugins' next versions against.
    pub fn accept_configs(&self, uses: Vec<ConfigInUse>) -> Result<(), ConfigsRefused> {
        let _guard = self
            .changing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let plugins = self.plugins.load();
        let enabled: BTreeSet<&str> = uses.iter().map(|used| used.plugin.as_str()).collect();
        let refused: Vec<String> = enabled
            .into_iter()
            .filter_map(|name| plugins.get(name))
            .flat_map(|plugin| configs::refusals(plugin, &uses))
            .collect();
        if !refused.is_empty() {
            return Err(ConfigsRefused(refused));
        }
        *self
            .configs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = uses;
        Ok(())
    }

    fn configs_in_use(&self) -> Vec<ConfigInUse> {
        self.configs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The hosts `plugin` declares that its allow-list refuses, as warnings.
    pub fn host_warnings(&self, plugin: &LoadedPlugin) -> Vec<String> {
        let allowed = self.allowed_hosts.get(&plugin.name).map(Vec::as_slice);
        configs::host_warnings(plugin, allowed)
    }

    /// Records (`Some`) or clears (`None`) the rejection of the file of plugin `name`.
    fn rejected(&self, name: &str, message: Option<String>) {
        let mut rejections = self
            .rejections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match message {
            Some(message) => {
                let at = SystemTime::now();
                rejections.insert(name.to_owned(), Rejection { at, message });
            }
            None => {
                rejections.remove(name);
            }
        }
    }

    /// The last rejection of each plugin file that has not loaded since, by plugin name.
    pub fn rejections(&self) -> HashMap<String, Rejection> {
        self.rejections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Every plugin loaded now, by name.
    pub fn loaded(&self) -> Vec<Arc<LoadedPlugin>> {
        let mut loaded: Vec<_> = self.plugins.load().values().cloned().collect();
        loaded.sort_by(|a, b| a.name.cmp(&b.name));
        loaded
    }

    fn change(&self, edit: impl FnOnce(&mut HashMap<String, Arc<LoadedPlugin>>)) {
        let _guard = self
            .changing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut plugins = HashMap::clone(&self.plugins.load());
        edit(&mut plugins);
        self.plugins.store(Arc::new(plugins));
    }

    /// Whether a plugin of that name is loaded now.
    pub fn contains(&self, name: &str) -> bool {
        self.plugins.load().contains_key(name)
    }

    /// The plugin of that name as loaded now.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        self.plugins.load().get(name).cloned()
    }

    /// Runs each enabled plugin, in order, on the event, on the plugin versions loaded now,
    /// all of them within `budget`: each call's wall-clock limit is the smaller of its own
    /// timeout and what is left, and plugins after the budget is spent do not run.
    pub async fn run(
        &self,
        tenant: &str,
        enabled: &[Enabled],
        event: &wit::Event,
        state: &StateSource,
        budget: Duration,
    ) -> Result<Vec<PluginRun>, Overloaded> {
        let plugins = self.plugins.load_full();
        let started = Instant::now();
        let mut runs = Vec::with_capacity(enabled.len());
        for plugin in enabled {
            let time_left = budget.saturating_sub(started.elapsed());
            let call_started = Instant::now();
            let outcome = match plugins.get(&plugin.name) {
                None => Err(CallError::Failed(not_loaded(plugin))),
                Some(_) if time_left.is_zero() => Err(CallError::Failed(format!(
                    "not run: the plugins before it used the event's time budget of {}",
                    humantime::format_duration(budget)
                ))),
                Some(loaded) => {
                    let context = context(tenant, plugin);
                    let call = invocation(loaded, tenant, plugin, event, state, time_left);
                    self.runtime.call(call, event, &context).await
                }
            };
            runs.push(self.finished(plugin, call_started, outcome, event)?);
        }
        Ok(runs)
    }

    /// Hands a stored response to the plugin that asked for it.
    pub async fn run_on_response(
        &self,
        tenant: &str,
        plugin: &Enabled,
        event: &wit::Event,
        continuation: &str,
        response: &Response,
        state: &StateSource,
    ) -> Result<PluginRun, Overloaded> {
        let started = Instant::now();
        let outcome = match self.get(&plugin.name) {
            None => Err(CallError::Failed(not_loaded(plugin))),
            Some(loaded) => {
                // Neutralized like an incoming webhook: the downstream is outside the gateway.
                let (headers, body) = neutralize_response(response);
                let response = wit::HttpResponse {
                    status: response.status,
                    headers,
                    body,
                    continuation: continuation.to_owned(),
                };
                let timeout = plugin.limits.timeout;
                let call = invocation(&loaded, tenant, plugin, event, state, timeout);
                let context = context(tenant, plugin);
                self.runtime
                    .call_on_response(call, event, &response, &context)
                    .await
            }
        };
        self.finished(plugin, started, outcome, event)
    }

    /// Plugin calls running now.
    pub fn calls_running(&self) -> u64 {
        self.runtime.calls_running()
    }

    /// Instances kept warm between calls now.
    pub fn warm_instances(&self) -> usize {
        self.runtime.warm_instances()
    }

    fn finished(
        &self,
        plugin: &Enabled,
        started: Instant,
        outcome: Result<CallOutput, CallError>,
        event: &wit::Event,
    ) -> Result<PluginRun, Overloaded> {
        let outcome = match outcome {
            Ok(output) => produced(output, event),
            Err(CallError::Failed(reason)) => Err(reason),
            Err(CallError::Overloaded(reason)) => {
                let plugin = plugin.name.clone();
                return Err(Overloaded { plugin, reason });
            }
        };
        Ok(PluginRun {
            plugin: plugin.name.clone(),
            duration: started.elapsed(),
            outcome,
        })
    }
}

fn not_loaded(plugin: &Enabled) -> String {
    format!("plugin `{}` is not loaded", plugin.name)
}

fn invocation<'a>(
    loaded: &'a LoadedPlugin,
    tenant: &str,
    plugin: &'a Enabled,
    event: &wit::Event,
    state: &StateSource,
    time_left: Duration,
) -> Invocation<'a> {
    Invocation {
        compiled: &loaded.compiled,
        scope: CallScope {
            tenant: tenant.to_owned(),
            plugin: plugin.name.clone(),
            event_id: event.id.clone(),
        },
        state: PluginState::new(state.clone(), tenant, &plugin.name),
        limits: &plugin.limits,
        time_left,
        reuse: reuses(loaded, plugin).then(|| WarmKey {
            tenant: tenant.to_owned(),
            sha256: loaded.sha256.clone(),
            config_json: plugin.config_json.clone(),
        }),
    }
}

/// Whether calls of `plugin` run on warm instances.
fn reuses(loaded: &LoadedPlugin, plugin: &Enabled) -> bool {
    plugin
        .limits
        .reuse_instances
        .unwrap_or(loaded.embeds_interpreter)
}

fn context(tenant: &str, plugin: &Enabled) -> wit::Context {
    wit::Context {
        tenant: tenant.to_owned(),
        config_json: plugin.config_json.clone(),
    }
}

fn produced(output: CallOutput, event: &wit::Event) -> Result<Produced, String> {
    Ok(Produced {
        actions: plan(output.actions, event.incident_link_callback_url.as_deref())?,
        state: output.state,
    })
}

/// Validates a plugin's actions and turns them into storable ones; one invalid action rejects
/// the plugin's whole answer, so a plugin's actions are stored all or nothing.
pub fn plan(
    actions: Vec<wit::Action>,
    callback_url: Option<&str>,
) -> Result<Vec<NewAction>, String> {
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
        wit::Action::Http(request) => NewAction::Http(Request {
            continuation: request.continuation,
            ..Request::new(
                method_of(request.method),
                request.url,
                request.headers,
                request.body.unwrap_or_default(),
            )?
        }),
        wit::Action::IncidentLink(link) => NewAction::IncidentLink {
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

fn method_of(method: wit::HttpMethod) -> Method {
    match method {
        wit::HttpMethod::Get => Method::GET,
        wit::HttpMethod::Post => Method::POST,
        wit::HttpMethod::Put => Method::PUT,
        wit::HttpMethod::Patch => Method::PATCH,
        wit::HttpMethod::Delete => Method::DELETE,
    }
}
