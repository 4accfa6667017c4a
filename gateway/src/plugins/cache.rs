//! The on-disk compile cache: compiled plugins keyed by content hash and engine.
//!
//! An entry is `<sha256 of the .wasm>-<engine compatibility hash>.cwasm` in the cache folder,
//! written by this gateway only (an exclusive temporary file, then a rename): the HMAC-SHA256 of
//! the compiled artifact, then the artifact. The HMAC is verified before the artifact is loaded,
//! because wasmtime runs the native code it deserializes: its key (`cache.key`, 32 random bytes
//! made at first start, mode 0600, in a folder of mode 0700) is what stops someone who can write
//! the folder but not read the key from planting code the gateway would run, and a flipped bit
//! from crashing it. A missing, corrupt, forged or stale entry is a cache miss: the plugin is
//! compiled again and the entry rewritten.

use std::fs::{self, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::component::Component;
use wasmtime::Engine;

/// Length of the HMAC-SHA256 that starts every entry, and of the key.
const CHECKSUM_BYTES: usize = 32;
/// The key's file in the cache folder.
const KEY_FILE: &str = "cache.key";

/// A folder of precompiled plugins.
pub struct CompileCache {
    dir: PathBuf,
    key: [u8; CHECKSUM_BYTES],
}

impl CompileCache {
    /// Uses (and creates, mode 0700) `dir` for cached artifacts, with the key kept there (made
    /// on first use).
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the compile cache {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {} to its owner", dir.display()))?;
        let key = load_or_create_key(&dir.join(KEY_FILE))?;
        Ok(Self {
            dir: dir.to_owned(),
            key,
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
        if let Some(artifact) = self.read_verified(&entry) {
            // SAFETY: the artifact's HMAC, under a key only this gateway can read, matches the
            // one `store` wrote with it, from `precompile_component` of an engine with the same
            // compatibility hash (part of the file name).
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
        let suffix = format!("tmp{}-{:016x}", std::process::id(), fastrand::u64(..));
        let temporary = entry.with_extension(suffix);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(&self.mac(artifact).finalize().into_bytes())?;
        file.write_all(artifact)?;
        file.sync_all()?;
        fs::rename(&temporary, entry)
    }

    /// The keyed MAC of `artifact`, to write or to verify.
    fn mac(&self, artifact: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length works");
        mac.update(artifact);
        mac
    }

    /// The artifact of an entry whose HMAC matches; `None` (a miss) otherwise.
    fn read_verified(&self, entry: &Path) -> Option<Vec<u8>> {
        let mut contents = fs::read(entry).ok()?;
        if contents.len() < CHECKSUM_BYTES {
            return None;
        }
        let artifact = contents.split_off(CHECKSUM_BYTES);
        if self.mac(&artifact).verify_slice(&contents).is_ok() {
            Some(artifact)
        } else {
            tracing::warn!(entry = %entry.display(), "ignoring compile cache entry with a bad HMAC");
            None
        }
    }
}

/// The cache's key: read from `path`, or made from the operating system's random generator and
/// written there (mode 0600) when there is none. A key file of the wrong size is replaced, which
/// only turns every entry into a miss.
fn load_or_create_key(path: &Path) -> anyhow::Result<[u8; CHECKSUM_BYTES]> {
    if let Ok(bytes) = fs::read(path) {
        if let Ok(key) = <[u8; CHECKSUM_BYTES]>::try_from(bytes.as_slice()) {
            return Ok(key);
        }
        fs::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    let mut key = [0; CHECKSUM_BYTES];
    getrandom::getrandom(&mut key).context("no random bytes for the compile cache's key")?;
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(&key).and_then(|()| file.sync_all()));
    match written {
        Ok(()) => Ok(key),
        // Another process made it first: use that one.
        Err(error) if error.kind() == ErrorKind::AlreadyExists => {
            let bytes = fs::read(path)?;
            <[u8; CHECKSUM_BYTES]>::try_from(bytes.as_slice())
                .map_err(|_| anyhow::anyhow!("{} is not a 32-byte key", path.display()))
        }
        Err(error) => Err(error).with_context(|| format!("cannot write {}", path.display())),
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
    fn an_entry_forged_without_the_key_is_a_miss_and_the_key_is_private() {
        use sha2::Digest;
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path()).unwrap();
        let engine = engine();
        cache.load_or_compile(&engine, "abc", &bytes()).unwrap();
        // A planted entry with a plain SHA-256, as anyone who can write the folder could make.
        let entry = cache.entry(&engine, "abc");
        let artifact = engine.precompile_component(&bytes()).unwrap();
        let mut forged = Sha256::digest(&artifact).to_vec();
        forged.extend_from_slice(&artifact);
        std::fs::write(&entry, forged).unwrap();
        let (_, hit) = cache.load_or_compile(&engine, "abc", &bytes()).unwrap();
        assert!(!hit, "the forged entry is not used");
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join(KEY_FILE)), 0o600);
        assert_eq!(mode(dir.path()), 0o700);
        let again = CompileCache::new(dir.path()).unwrap();
        assert_eq!(again.key, cache.key, "the key survives a restart");
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
