//! `soda-gateway plugin run`: feeds a plugin events, exactly as the gateway would, and prints the
//! actions it returns as JSON.
//!
//! One event prints its actions (a JSON array); several print one entry per event. State can
//! be seeded (`--state`) and is kept from one event to the next, as the store would keep it; an
//! action that sets a continuation has `on-response` run on the given `--response`. The
//! component comes from the compile cache when it was compiled before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context as _};
use serde::Deserialize;
use serde_json::{json, Value};

use super::inputs::{self, EventInput};
use crate::actions::secrets::neutralize_response;
use crate::config::PluginLimits;
use crate::events;
use crate::plugins::bindings::{into_wit_event, wit};
use crate::plugins::{
    loader, plan, CallError, CallOutput, CallScope, CompileCache, Invocation, LoadedPlugin,
    PluginState, Runtime, StateSource, WarmKey,
};
use crate::records::{NewAction, Response, StateWrite};

/// What `plugin run` was asked to do.
pub struct RunArgs {
    pub file: PathBuf,
    /// `--event` arguments (see `inputs::events`).
    pub events: Vec<String>,
    /// `--config`: inline JSON, `@FILE` or a path.
    pub config: Option<String>,
    pub tenant: String,
    /// `--state`: a JSON object of key to value, inline or `@FILE`.
    pub state: Option<String>,
    /// `--response`: the HTTP response handed to `on-response`, inline or `@FILE`.
    pub response: Option<String>,
}

/// Runs the plugin on every event and prints the actions; fails if any run failed.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let events = inputs::events(&args.events)?;
    let config_json = match &args.config {
        Some(config) => inputs::json_text(config, "--config")?,
        None => "{}".to_owned(),
    };
    let mut state = match &args.state {
        Some(state) => seeded_state(&inputs::json_text(state, "--state")?)?,
        None => BTreeMap::new(),
    };
    let response = match &args.response {
        Some(response) => Some(parse_response(&inputs::json_text(response, "--response")?)?),
        None => None,
    };
    let limits = PluginLimits::default();
    let runtime = Runtime::new(limits.memory_bytes())?;
    let loaded = load(&runtime, &args.file)?;
    check_config(&loaded, &config_json)?;
    let session = Session {
        runtime: &runtime,
        loaded: &loaded,
        limits: &limits,
        context: wit::Context {
            tenant: args.tenant.clone(),
            config_json,
        },
        response,
    };
    let single = events.len() == 1;
    let mut printed = Vec::new();
    let mut failed = 0;
    for (index, event) in events.iter().enumerate() {
        let event_id = format!("evt_cli_{}", index + 1);
        let outcome = session.run_event(&event_id, event, &mut state).await;
        if single {
            let actions = outcome.map_err(|reason| anyhow::anyhow!("{reason}"))?;
            println!("{}", serde_json::to_string_pretty(&actions)?);
            return Ok(());
        }
        printed.push(match outcome {
            Ok(actions) => json!({ "event": event.label, "actions": actions }),
            Err(RunFailure::NotForPlugins(reason)) => {
                json!({ "event": event.label, "skipped": reason })
            }
            Err(RunFailure::Failed(reason)) => {
                failed += 1;
                json!({ "event": event.label, "error": reason })
            }
        });
    }
    println!("{}", serde_json::to_string_pretty(&printed)?);
    if failed > 0 {
        bail!("{failed} of {} events failed", events.len());
    }
    Ok(())
}

/// Why an event produced no actions.
enum RunFailure {
    /// The event never reaches plugins (Soda's `validate`).
    NotForPlugins(String),
    /// It did not parse, or the plugin failed.
    Failed(String),
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunFailure::NotForPlugins(reason) | RunFailure::Failed(reason) => f.write_str(reason),
        }
    }
}

/// What stays the same across the events of one `plugin run`.
struct Session<'a> {
    runtime: &'a Runtime,
    loaded: &'a LoadedPlugin,
    limits: &'a PluginLimits,
    context: wit::Context,
    response: Option<wit::HttpResponse>,
}

impl Session<'_> {
    /// Runs `handle` on one event (and `on-response` for its continuations), applying the state
    /// writes to `state`; returns the actions as printed.
    async fn run_event(
        &self,
        event_id: &str,
        input: &EventInput,
        state: &mut BTreeMap<String, Vec<u8>>,
    ) -> Result<Vec<Value>, RunFailure> {
        let parsed = events::parse(&input.body)
            .map_err(|e| RunFailure::Failed(format!("{}: {e}", input.label)))?;
        let Some(event) = into_wit_event(event_id, parsed, &input.body) else {
            let reason = "a `validate` event never reaches plugins: the gateway answers it";
            return Err(RunFailure::NotForPlugins(format!(
                "{}: {reason}",
                input.label
            )));
        };
        let output = self.call(&event, None, state).await?;
        let actions = self.planned(output, &event, &input.label, state)?;
        let mut printed = Vec::with_capacity(actions.len());
        for (index, action) in actions.iter().enumerate() {
            let mut shown = action_json(action);
            if let NewAction::Http(request) = action {
                if let Some(continuation) = &request.continuation {
                    shown["http"]["on_response"] = self
                        .follow(&event, continuation, &input.label, index, state)
                        .await?;
                }
            }
            printed.push(shown);
        }
        Ok(printed)
    }

    /// The actions `on-response` returns for the `--response`, or a note that none was given.
    async fn follow(
        &self,
        event: &wit::Event,
        continuation: &str,
        label: &str,
        index: usize,
        state: &mut BTreeMap<String, Vec<u8>>,
    ) -> Result<Value, RunFailure> {
        let Some(response) = &self.response else {
            eprintln!(
                "{label}: action {index} sets a continuation; pass --response to run on-response"
            );
            return Ok(Value::Null);
        };
        let response = wit::HttpResponse {
            continuation: continuation.to_owned(),
            ..response.clone()
        };
        let output = self.call(event, Some(&response), state).await?;
        let actions = self.planned(output, event, label, state)?;
        Ok(actions.iter().map(action_json).collect())
    }

    /// One call of `handle` (or of `on-response`, given a response) from the current state.
    async fn call(
        &self,
        event: &wit::Event,
        response: Option<&wit::HttpResponse>,
        state: &BTreeMap<String, Vec<u8>>,
    ) -> Result<CallOutput, RunFailure> {
        let tenant = &self.context.tenant;
        let name = &self.loaded.name;
        let source = StateSource::Snapshot(Arc::new(state.clone()));
        let call = Invocation {
            compiled: &self.loaded.compiled,
            scope: CallScope {
                tenant: tenant.clone(),
                plugin: name.clone(),
                event_id: event.id.clone(),
            },
            state: PluginState::new(source, tenant, name),
            limits: self.limits,
            time_left: self.limits.timeout,
            // Interpreters (Python, JavaScript) run warm, as in the gateway.
            reuse: self.loaded.embeds_interpreter.then(|| WarmKey {
                tenant: tenant.clone(),
                sha256: self.loaded.sha256.clone(),
                config_json: self.context.config_json.clone(),
            }),
        };
        let result = match response {
            None => self.runtime.call(call, event, &self.context).await,
            Some(response) => {
                self.runtime
                    .call_on_response(call, event, response, &self.context)
                    .await
            }
        };
        result.map_err(|error| match error {
            CallError::Failed(reason) | CallError::Overloaded(reason) => {
                RunFailure::Failed(format!("plugin `{name}`: {reason}"))
            }
        })
    }

    /// Validates a call's actions as the gateway would and applies its state writes.
    fn planned(
        &self,
        output: CallOutput,
        event: &wit::Event,
        label: &str,
        state: &mut BTreeMap<String, Vec<u8>>,
    ) -> Result<Vec<NewAction>, RunFailure> {
        let callback_url = event.incident_link_callback_url.as_deref();
        let actions = plan(output.actions, callback_url).map_err(|reason| {
            RunFailure::Failed(format!("plugin `{}`: {reason}", self.loaded.name))
        })?;
        apply(state, output.state, label);
        Ok(actions)
    }
}

/// Loads the plugin, from the compile cache when one is at hand; says on stderr which.
fn load(runtime: &Runtime, file: &Path) -> anyhow::Result<LoadedPlugin> {
    let cache = compile_cache_dir().and_then(|dir| match CompileCache::new(&dir) {
        Ok(cache) => Some(cache),
        Err(error) => {
            eprintln!("no compile cache: {error:#}");
            None
        }
    });
    let started = Instant::now();
    let loaded = loader::load(runtime, cache.as_ref(), file)?;
    let how = if loaded.from_cache {
        "from the compile cache"
    } else {
        "compiled"
    };
    eprintln!(
        "plugin `{}`: {how} in {} ms",
        loaded.name,
        started.elapsed().as_millis()
    );
    Ok(loaded)
}

/// Refuses a config that breaks the plugin's manifest schema, as the gateway would at start.
fn check_config(loaded: &LoadedPlugin, config_json: &str) -> anyhow::Result<()> {
    let Some(manifest) = &loaded.manifest else {
        return Ok(());
    };
    if let Err(problems) = manifest.check_config(&serde_json::from_str(config_json)?) {
        bail!(
            "--config does not match the plugin's config schema: {}",
            problems.join(", ")
        );
    }
    Ok(())
}

/// `$SODA_GATEWAY_CACHE_DIR`, else `$XDG_CACHE_HOME/soda-gateway`, else
/// `$HOME/.cache/soda-gateway`; `None` when none is set.
fn compile_cache_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = var("SODA_GATEWAY_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("soda-gateway").join("plugin-cache"))
}

/// `--state`: a JSON object; a string value is stored as its text, anything else as its JSON.
fn seeded_state(text: &str) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let Value::Object(values) = serde_json::from_str::<Value>(text)? else {
        bail!("--state must be a JSON object of key to value");
    };
    Ok(values
        .into_iter()
        .map(|(key, value)| {
            let bytes = match value {
                Value::String(text) => text.into_bytes(),
                other => other.to_string().into_bytes(),
            };
            (key, bytes)
        })
        .collect())
}

/// `--response` as written by a user.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseArg {
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Text as it is; any other JSON value as its JSON text.
    #[serde(default)]
    body: Value,
}

fn parse_response(text: &str) -> anyhow::Result<wit::HttpResponse> {
    let arg: ResponseArg = serde_json::from_str(text).context(
        "--response must be {\"status\": 201, \"headers\": {...}, \"body\": ...} (headers and body optional)",
    )?;
    let body = match arg.body {
        Value::Null => Vec::new(),
        Value::String(text) => text.into_bytes(),
        other => other.to_string().into_bytes(),
    };
    // Neutralized as the gateway does: the downstream's text cannot forge a secret placeholder.
    let (headers, body) = neutralize_response(&Response {
        status: arg.status,
        headers: arg.headers.into_iter().collect(),
        body,
    });
    Ok(wit::HttpResponse {
        status: arg.status,
        headers,
        body,
        continuation: String::new(),
    })
}

/// Applies a call's writes to `state`, saying each on stderr.
fn apply(state: &mut BTreeMap<String, Vec<u8>>, writes: Vec<StateWrite>, label: &str) {
    for write in writes {
        match write.value {
            Some(value) => {
                eprintln!(
                    "{label}: state set `{}` = {}",
                    write.key,
                    shown_bytes(&value)
                );
                state.insert(write.key, value);
            }
            None => {
                eprintln!("{label}: state deleted `{}`", write.key);
                state.remove(&write.key);
            }
        }
    }
}

fn shown_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => format!("{text:?}"),
        Err(_) => format!("<{} bytes of binary>", bytes.len()),
    }
}

/// An action as printed: the body as JSON when it is, the continuation when one is set.
fn action_json(action: &NewAction) -> Value {
    match action {
        NewAction::Http(request) => {
            let body = match std::str::from_utf8(&request.body) {
                Ok(text) => serde_json::from_str::<Value>(text).unwrap_or_else(|_| text.into()),
                Err(_) => format!("<{} bytes of binary>", request.body.len()).into(),
            };
            let mut http = json!({
                "method": request.method.as_str(),
                "url": request.url,
                "headers": request.headers,
                "body": body,
            });
            if let Some(continuation) = &request.continuation {
                http["continuation"] = continuation.as_str().into();
            }
            json!({ "http": http })
        }
        NewAction::IncidentLink { url, text } => {
            json!({ "incident_link": { "url": url, "text": text } })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_state_keeps_text_as_text_and_other_values_as_json() {
        let state = seeded_state(r#"{"a":"x","b":{"n":1}}"#).unwrap();
        assert_eq!(state["a"], b"x");
        assert_eq!(state["b"], br#"{"n":1}"#);
        assert!(seeded_state("[1]").is_err());
    }

    #[test]
    fn a_response_takes_text_or_json_and_neutralizes_placeholders() {
        let response = parse_response(r#"{"status":201,"body":{"key":"{{secret:x}}"}}"#).unwrap();
        assert_eq!(response.status, 201);
        let body = String::from_utf8(response.body).unwrap();
        assert!(!body.contains("{{secret:"), "{body}");
        let error = parse_response(r#"{"code":201}"#).unwrap_err();
        assert!(
            format!("{error:#}").contains("--response must be"),
            "{error:#}"
        );
    }
}
