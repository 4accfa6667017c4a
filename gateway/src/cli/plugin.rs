//! `soda-gateway plugin check|run`: for plugin authors, without a server.
//!
//! `check` tells whether a file would load in this gateway and why not; `run` feeds it one event
//! and prints the actions it returns, exactly as the gateway would validate them.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use wasmtime::component::Component;

use crate::actions::NewAction;
use crate::config::PluginLimits;
use crate::events;
use crate::plugins::bindings::{to_wit_event, wit};
use crate::plugins::contract;
use crate::plugins::loader::{self, WasmKind};
use crate::plugins::{plan, CallError, CallScope, Invocation, PluginState, Runtime, StateSource};

/// Prints what the gateway sees in a plugin file; fails if it would not load.
pub fn check(path: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    println!("file:      {} ({} bytes)", path.display(), bytes.len());
    match loader::wasm_kind(&bytes) {
        WasmKind::Component => println!("format:    WebAssembly component"),
        WasmKind::CoreModule => {
            bail!("a core WebAssembly module, not a component: build for wasm32-wasip2")
        }
        WasmKind::NotWasm => bail!("not a WebAssembly file"),
    }
    let built_for = contract::imported_version(&bytes);
    println!(
        "contract:  {} (this gateway speaks {})",
        built_for
            .as_deref()
            .unwrap_or("unknown: imports no soda:gateway interface"),
        contract::supported()
    );
    let Some(version) = contract::loadable(built_for.as_deref()) else {
        bail!(contract::NOT_LOADED);
    };
    let runtime = Runtime::new(PluginLimits::default().memory_bytes())?;
    let started = Instant::now();
    let component = Component::new(runtime.engine(), &bytes)
        .map_err(anyhow::Error::from)
        .context("does not compile")?;
    println!("compile:   {} ms", started.elapsed().as_millis());
    let component_type = component.component_type();
    let imports: Vec<&str> = component_type
        .imports(runtime.engine())
        .map(|(name, _)| name)
        .collect();
    let exports: Vec<&str> = component_type
        .exports(runtime.engine())
        .map(|(name, _)| name)
        .collect();
    println!("imports:   {}", imports.join(", "));
    println!("exports:   {}", exports.join(", "));
    runtime
        .prepare(&component, version)
        .map_err(anyhow::Error::from)
        .context("does not match the contract")?;
    println!("result:    loads in this gateway");
    Ok(())
}

/// Runs a plugin on one event file and prints the actions as JSON.
pub async fn run(path: &Path, event_file: &Path, config_file: Option<&Path>) -> anyhow::Result<()> {
    let body = std::fs::read(event_file)
        .with_context(|| format!("cannot read {}", event_file.display()))?;
    let event = events::parse(&body).with_context(|| format!("{}", event_file.display()))?;
    let config_json = match config_file {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            serde_json::from_str::<Value>(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            text
        }
        None => "{}".to_owned(),
    };
    let limits = PluginLimits::default();
    let runtime = Runtime::new(limits.memory_bytes())?;
    let loaded = loader::load(&runtime, None, path)?;
    let event_id = "evt_cli";
    let wit_event = to_wit_event(event_id, &event, &String::from_utf8_lossy(&body))
        .context("a `validate` event never reaches plugins: the gateway answers it")?;
    let context = wit::Context {
        tenant: "cli".into(),
        config_json,
    };
    let scope = CallScope {
        tenant: "cli".into(),
        plugin: loaded.name.clone(),
        event_id: event_id.into(),
    };
    // State starts empty and is not kept: `run` is a dry run.
    let call = Invocation {
        compiled: &loaded.compiled,
        scope,
        state: PluginState::new(StateSource::Empty, "cli", &loaded.name),
        limits: &limits,
        time_left: limits.timeout,
        reuse: None,
    };
    let actions = match runtime.call(call, &wit_event, &context).await {
        Ok(output) => plan(
            output.actions,
            wit_event.incident_link_callback_url.as_deref(),
        ),
        Err(CallError::Failed(reason) | CallError::Overloaded(reason)) => Err(reason),
    }
    .map_err(|reason| anyhow::anyhow!("plugin `{}`: {reason}", loaded.name))?;
    let printed: Vec<Value> = actions.iter().map(action_json).collect();
    println!("{}", serde_json::to_string_pretty(&printed)?);
    Ok(())
}

fn action_json(action: &NewAction) -> Value {
    match action {
        NewAction::Http(request) => {
            let body = match std::str::from_utf8(&request.body) {
                Ok(text) => serde_json::from_str::<Value>(text).unwrap_or_else(|_| text.into()),
                Err(_) => format!("<{} bytes of binary>", request.body.len()).into(),
            };
            json!({
                "http": {
                    "method": request.method,
                    "url": request.url,
                    "headers": request.headers,
                    "body": body,
                }
            })
        }
        NewAction::LinkAnswer { url, text } => {
            json!({ "link_answer": { "url": url, "text": text } })
        }
    }
}
