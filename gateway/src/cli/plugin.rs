//! `soda-gateway plugin check`: whether a file would load in this gateway, and why not.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context as _};
use wasmtime::component::Component;

use crate::config::PluginLimits;
use crate::plugins::contract;
use crate::plugins::loader::{self, WasmKind};
use crate::plugins::Runtime;

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
