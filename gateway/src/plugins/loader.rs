//! From a `.wasm` file to a plugin ready to run: read, check the contract version (from the
//! component's import names, before compiling) and the manifest, if it has one, compile (or load the compiled artifact from the
//! cache), link against that version's imports.
//!
//! Every failure is a [`LoadError`] that names the file, the reason, the contract version the
//! plugin was built for (when it can be told) and the ones this gateway speaks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::cache::CompileCache;
use super::contract;
use super::manifest::{self, Checked};
use super::runtime::{one_line, Compiled, Runtime};

/// A loaded plugin and what is known about its file.
pub struct LoadedPlugin {
    pub name: String,
    /// Hex SHA-256 of the `.wasm` file.
    pub sha256: String,
    pub compiled: Compiled,
    /// Whether the compiled artifact came from the on-disk cache.
    pub from_cache: bool,
    /// Time to read, compile (or deserialize) and link.
    pub load_time: Duration,
    /// Whether the component embeds an interpreter (it is larger than
    /// [`INTERPRETER_BYTES`]): its instances are kept warm unless configured otherwise.
    pub embeds_interpreter: bool,
    /// What the plugin says about itself (see [`manifest`]), when it embeds a manifest.
    pub manifest: Option<Checked>,
}

/// Components larger than this embed an interpreter (CPython, StarlingMonkey): a Rust plugin
/// is a few hundred KiB, a Python or JavaScript one over 10 MiB.
pub const INTERPRETER_BYTES: usize = 4 * 1024 * 1024;

/// Why a file could not be loaded as a plugin.
#[derive(Debug, thiserror::Error)]
#[error(
    "{file}: {reason} (built for {built_for}; this gateway speaks {})",
    contract::supported()
)]
pub struct LoadError {
    pub file: PathBuf,
    pub reason: String,
    /// The contract version found in the component's imports, or "an unknown contract version".
    pub built_for: String,
}

/// The plugin name for a path: the file stem of a `*.wasm` file.
pub fn plugin_name(path: &Path) -> Option<String> {
    if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
        return None;
    }
    path.file_stem().and_then(|s| s.to_str()).map(str::to_owned)
}

/// Loads one plugin file. Blocking (compilation): call it off the async runtime.
pub fn load(
    runtime: &Runtime,
    cache: Option<&CompileCache>,
    path: &Path,
) -> Result<LoadedPlugin, LoadError> {
    let started = Instant::now();
    let fail = |reason: String, built_for: Option<String>| LoadError {
        file: path.to_owned(),
        reason,
        built_for: built_for.unwrap_or_else(|| "an unknown contract version".into()),
    };
    let name = plugin_name(path).ok_or_else(|| fail("not a `.wasm` file".into(), None))?;
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}"), None))?;
    match wasm_kind(&bytes) {
        WasmKind::Component => {}
        WasmKind::CoreModule => {
            let reason = "a core WebAssembly module, not a component (build for wasm32-wasip2)";
            return Err(fail(reason.into(), None));
        }
        WasmKind::NotWasm => return Err(fail("not a WebAssembly file".into(), None)),
    }
    let built_for = contract::imported_version(&bytes);
    let Some(version) = contract::loadable(built_for.as_deref()) else {
        return Err(fail(contract::NOT_LOADED.into(), built_for));
    };
    let manifest = manifest::read(&bytes, built_for.as_deref())
        .map_err(|reason| fail(reason, built_for.clone()))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let (component, from_cache) = match cache {
        Some(cache) => cache.load_or_compile(runtime.engine(), &sha256, &bytes),
        None => Component::new(runtime.engine(), &bytes).map(|c| (c, false)),
    }
    .map_err(|e| {
        fail(
            format!("does not compile: {}", one_line(&format!("{e:#}"))),
            None,
        )
    })?;
    let compiled = runtime.prepare(&component, version).map_err(|e| {
        fail(
            format!(
                "does not match the contract: {}",
                one_line(&format!("{e:#}"))
            ),
            built_for.clone(),
        )
    })?;
    Ok(LoadedPlugin {
        name,
        sha256,
        compiled,
        from_cache,
        load_time: started.elapsed(),
        embeds_interpreter: bytes.len() > INTERPRETER_BYTES,
        manifest,
    })
}

/// What a file's header says it is.
#[derive(Debug, PartialEq)]
pub enum WasmKind {
    Component,
    CoreModule,
    NotWasm,
}

/// Tells components from core modules by their header: `\0asm`, a version, then the layer
/// (0 for core modules, 1 for components).
pub fn wasm_kind(bytes: &[u8]) -> WasmKind {
    match bytes {
        [0, b'a', b's', b'm', _, _, 1, 0, ..] => WasmKind::Component,
        [0, b'a', b's', b'm', _, _, 0, 0, ..] => WasmKind::CoreModule,
        _ => WasmKind::NotWasm,
    }
}
