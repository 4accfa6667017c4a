//! `soda-gateway plugin check`: whether a file would load in this gateway, and why not; and
//! `soda-gateway plugin embed-manifest`: a manifest written into a component built without the
//! Rust SDK.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context as _};
use wasmtime::component::Component;

use crate::config::PluginLimits;
use crate::plugins::contract;
use crate::plugins::loader::{self, WasmKind};
use crate::plugins::manifest::{self, Manifest};
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
    match manifest::read(&bytes, built_for.as_deref()).map_err(anyhow::Error::msg)? {
        Some(checked) => print_manifest(&checked.manifest),
        None => println!(
            "manifest:  none (the Rust SDK's `plugin_manifest!` or `soda-gateway plugin \
             embed-manifest` adds one)"
        ),
    }
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

fn print_manifest(manifest: &Manifest) {
    println!("manifest:  {} {}", manifest.name, manifest.version);
    if let Some(description) = &manifest.description {
        println!("about:     {description}");
    }
    let hosts = match manifest.hosts.is_empty() {
        true => "none declared".to_owned(),
        false => manifest.hosts.join(", "),
    };
    println!("hosts:     {hosts}");
    let schema = match &manifest.config_schema {
        Some(schema) => {
            let required = schema["required"].as_array().map(|keys| {
                let keys: Vec<&str> = keys.iter().filter_map(|key| key.as_str()).collect();
                keys.join(", ")
            });
            match required {
                Some(keys) if !keys.is_empty() => {
                    format!("a JSON Schema, checked at load (required: {keys})")
                }
                _ => "a JSON Schema, checked at load".to_owned(),
            }
        }
        None => "no schema".to_owned(),
    };
    println!("config:    {schema}");
}

/// Embeds the manifest in `manifest_path` into the component `file`, in place. The contract is
/// the one the component imports; the manifest is checked as the gateway would at load.
pub fn embed_manifest(file: &Path, manifest_path: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    if loader::wasm_kind(&bytes) != WasmKind::Component {
        bail!("{} is not a WebAssembly component", file.display());
    }
    let text = std::fs::read(manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let invalid = |reason: String| anyhow::anyhow!("{}: {reason}", manifest_path.display());
    let mut manifest = Manifest::parse(&text).map_err(invalid)?;
    let imported = contract::imported_version(&bytes);
    if manifest.contract.is_none() {
        manifest.contract = imported.clone();
    }
    let checked = manifest.checked(imported.as_deref()).map_err(invalid)?;
    let embedded = manifest::embed(&bytes, &checked.manifest)
        .map_err(|reason| anyhow::anyhow!("{}: {reason}", file.display()))?;
    // Replaced at once, so a gateway watching the folder never loads half a file.
    let dir = file.parent().filter(|dir| !dir.as_os_str().is_empty());
    let mut temporary = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new(".")))?;
    std::io::Write::write_all(&mut temporary, &embedded)?;
    temporary
        .persist(file)
        .with_context(|| format!("cannot write {}", file.display()))?;
    println!(
        "{}: embedded the manifest of {} {}",
        file.display(),
        checked.manifest.name,
        checked.manifest.version
    );
    Ok(())
}
