//! The on-disk compile cache: compiled plugins keyed by content hash and engine.
//!
//! An entry is `<sha256 of the .wasm>-<engine compatibility hash>.cwasm` in the cache folder,
//! written by this gateway only (write to a temporary file, then rename): the SHA-256 of the
//! compiled artifact, then the artifact. The checksum is verified before the artifact is loaded,
//! because wasmtime trusts compiled code it deserializes: a flipped bit there could crash the
//! gateway. A missing, corrupt or stale entry is a cache miss: the plugin is compiled again and
//! the entry rewritten.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Length of the SHA-256 that starts every entry.
const CHECKSUM_BYTES: usize = 32;

/// A folder of precompiled plugins.
pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    /// Uses (and creates) `dir` for cached artifacts.
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// The component for these bytes, from the cache when a valid entry exists; the flag says
    /// whether it did.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, bool)> {
        let entry = self.entry(engine, sha256);
        if let Some(artifact) = read_verified(&entry) {
            // SAFETY: the artifact's checksum matches the one written with it by `store`, from
            // `precompile_component` of an engine with the same compatibility hash (part of the
            // file name).
            match unsafe { Component::deserialize(engine, &artifact) } {
                Ok(component) => return Ok((component, true)),
                Err(error) => tracing::warn!(
                    entry = %entry.display(),
                    "ignoring unusable compile cache entry: {error}"
                ),
            }
        }
        let artifact = engine.precompile_component(bytes)?;
        if let Err(error) = self.store(&entry, &artifact) {
            tracing::warn!(entry = %entry.display(), "cannot write compile cache entry: {error}");
        }
        // SAFETY: the artifact was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &artifact)? };
        Ok((component, false))
    }

    fn entry(&self, engine: &Engine, sha256: &str) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{sha256}-{:016x}.cwasm", hasher.finish()))
    }

    fn store(&self, entry: &Path, artifact: &[u8]) -> std::io::Result<()> {
        let temporary = entry.with_extension(format!("tmp{}", std::process::id()));
        let mut contents = Sha256::digest(artifact).to_vec();
        contents.extend_from_slice(artifact);
        std::fs::write(&temporary, contents)?;
        std::fs::rename(&temporary, entry)
    }
}

/// The artifact of an entry whose checksum matches; `None` (a miss) otherwise.
fn read_verified(entry: &Path) -> Option<Vec<u8>> {
    let mut contents = std::fs::read(entry).ok()?;
    if contents.len() < CHECKSUM_BYTES {
        return None;
    }
    let artifact = contents.split_off(CHECKSUM_BYTES);
    if Sha256::digest(&artifact).as_slice() == contents.as_slice() {
        Some(artifact)
    } else {
        tracing::warn!(entry = %entry.display(), "ignoring compile cache entry with a bad checksum");
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::default()
    }

    /// The empty component, `(component)`, in binary form: magic, version 0x0d, layer 1.
    fn bytes() -> Vec<u8> {
        vec![0, b'a', b's', b'm', 0x0d, 0, 1, 0]
    }

    #[test]
    fn a_second_load_comes_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path()).unwrap();
        let engine = engine();
        let (_, hit) = cache.load_or_compile(&engine, "abc", &bytes()).unwrap();
        assert!(!hit);
        let (_, hit) = cache.load_or_compile(&engine, "abc", &bytes()).unwrap();
        assert!(hit);
    }

    #[test]
    fn a_corrupt_entry_is_a_miss_and_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path()).unwrap();
        let engine = engine();
        cache.load_or_compile(&engine, "abc", &bytes()).unwrap();
        let entry = cache.entry(&engine, "abc");
        std::fs::write(&entry, b"garbage").unwrap();
        let (_, hit) = cache.load_or_compile(&engine, "abc", &bytes()).unwrap();
        assert!(!hit, "garbage is not used");
        let (_, hit) = cache.load_or_compile(&engine, "abc", &bytes()).unwrap();
        assert!(hit, "the entry was rewritten");
    }

    #[test]
    fn a_flipped_bit_in_the_artifact_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path()).unwrap();
        let engine = engine();
        cache.load_or_compile(&engine, "abc", &bytes()).unwrap();
        let entry = cache.entry(&engine, "abc");
        let mut contents = std::fs::read(&entry).unwrap();
        let middle = CHECKSUM_BYTES + (contents.len() - CHECKSUM_BYTES) / 2;
        contents[middle] ^= 1;
        std::fs::write(&entry, contents).unwrap();
        let (_, hit) = cache.load_or_compile(&engine, "abc", &bytes()).unwrap();
        assert!(!hit);
    }

    #[test]
    fn an_entry_of_another_engine_configuration_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path()).unwrap();
        cache.load_or_compile(&engine(), "abc", &bytes()).unwrap();
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let other = Engine::new(&config).unwrap();
        let (_, hit) = cache.load_or_compile(&other, "abc", &bytes()).unwrap();
        assert!(!hit);
    }
}
