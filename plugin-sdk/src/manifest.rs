//! The plugin's manifest: what it is and what it needs, embedded in the component so that the
//! gateway can show it and check tenants' configs before any event. See [`plugin_manifest!`].
//!
//! The manifest is a JSON object in the custom section [`SECTION`]. With this SDK, `name` and
//! `version` come from the crate's `Cargo.toml` and `contract` from the SDK; the file holds the
//! rest:
//!
//! ```json
//! {
//!   "description": "Posts failing checks to a channel",
//!   "hosts": ["hooks.example.com"],
//!   "config_schema": {
//!     "type": "object",
//!     "required": ["url"],
//!     "properties": { "url": { "type": "string" } }
//!   }
//! }
//! ```
//!
//! [`plugin_manifest!`]: crate::plugin_manifest

/// The custom section that holds the manifest.
pub const SECTION: &str = "soda-gateway:manifest";

/// The contract this SDK builds plugins for, as components import it.
pub const CONTRACT: &str = "soda:gateway@0.2.0";

/// Embeds the manifest file at `$path` (relative to the crate's `Cargo.toml`) in the component,
/// with `name` and `version` from `Cargo.toml` and `contract` from this SDK. Use it once per
/// plugin crate, next to [`export_plugin!`](crate::export_plugin) (not run here: it needs the
/// plugin crate's `plugin.json`):
///
/// ```ignore
/// soda_gateway_plugin_sdk::plugin_manifest!("plugin.json");
/// ```
///
/// The file must be a JSON object without `name`, `version` or `contract` (a compile error says
/// so when it does not start with `{`; `soda-gateway plugin check` reports the rest).
#[macro_export]
macro_rules! plugin_manifest {
    ($path:literal) => {
        const _: () = {
            const FILE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path));
            const NAME: &str = env!("CARGO_PKG_NAME");
            const VERSION: &str = env!("CARGO_PKG_VERSION");
            const LEN: usize = $crate::manifest::spliced_len(FILE, NAME, VERSION);
            #[cfg(target_arch = "wasm32")]
            #[link_section = "soda-gateway:manifest"]
            #[used]
            static MANIFEST: [u8; LEN] = $crate::manifest::splice(FILE, NAME, VERSION);
        };
    };
}

/// Not public API: the length of [`splice`]'s output.
#[doc(hidden)]
pub const fn spliced_len(file: &str, name: &str, version: &str) -> usize {
    let file = file.as_bytes();
    let start = members_start(file);
    let parts = head(name, version);
    let mut len = 0;
    let mut i = 0;
    while i < parts.len() {
        len += parts[i].len();
        i += 1;
    }
    if !is_empty_object(file, start) {
        len += 1;
    }
    len + file.len() - start
}

/// Not public API: `file` (a JSON object) with `name`, `version` and `contract` as its first
/// members. Evaluated at compile time by [`plugin_manifest!`](crate::plugin_manifest).
#[doc(hidden)]
pub const fn splice<const N: usize>(file: &str, name: &str, version: &str) -> [u8; N] {
    let file = file.as_bytes();
    let start = members_start(file);
    let mut out = [0u8; N];
    let mut at = 0;
    let parts = head(name, version);
    let mut i = 0;
    while i < parts.len() {
        at = put(&mut out, at, parts[i]);
        i += 1;
    }
    if !is_empty_object(file, start) {
        at = put(&mut out, at, b",");
    }
    let (_, rest) = file.split_at(start);
    at = put(&mut out, at, rest);
    assert!(at == N, "the manifest's length was miscounted");
    out
}

/// The members the SDK writes, as JSON text up to (not including) the file's own members.
const fn head<'a>(name: &'a str, version: &'a str) -> [&'a [u8]; 7] {
    [
        b"{\"name\":\"",
        name.as_bytes(),
        b"\",\"version\":\"",
        version.as_bytes(),
        b"\",\"contract\":\"",
        CONTRACT.as_bytes(),
        b"\"",
    ]
}

/// The index just after the object's opening brace.
const fn members_start(file: &[u8]) -> usize {
    let brace = skip_whitespace(file, 0);
    assert!(
        brace < file.len() && file[brace] == b'{',
        "the plugin manifest must be a JSON object: it must start with `{{`"
    );
    brace + 1
}

/// Whether the object's next non-blank character closes it (`{}`).
const fn is_empty_object(file: &[u8], start: usize) -> bool {
    let next = skip_whitespace(file, start);
    next < file.len() && file[next] == b'}'
}

const fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b'\n' | b'\r') {
        at += 1;
    }
    at
}

/// Copies `bytes` into `out` at `at`; returns where the copy ends.
const fn put<const N: usize>(out: &mut [u8; N], mut at: usize, bytes: &[u8]) -> usize {
    let mut i = 0;
    while i < bytes.len() {
        out[at] = bytes[i];
        at += 1;
        i += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The splice of `file`, padded with trailing blanks to a length known when compiling.
    fn spliced(file: &str) -> serde_json::Value {
        const LEN: usize = 512;
        let padding = LEN - spliced_len(file, "my-plugin", "1.2.3");
        let padded = format!("{file}{}", " ".repeat(padding));
        let out: [u8; LEN] = splice(&padded, "my-plugin", "1.2.3");
        serde_json::from_slice(&out).expect("the splice is JSON")
    }

    #[test]
    fn name_version_and_contract_lead_the_files_members() {
        let manifest = spliced("  {\n  \"hosts\": [\"hooks.example.com\"]\n}\n");
        assert_eq!(manifest["name"], "my-plugin");
        assert_eq!(manifest["version"], "1.2.3");
        assert_eq!(manifest["contract"], CONTRACT);
        assert_eq!(manifest["hosts"][0], "hooks.example.com");
    }

    #[test]
    fn an_empty_object_gets_no_stray_comma() {
        let manifest = spliced("{ }");
        assert_eq!(manifest.as_object().map(|m| m.len()), Some(3));
    }

    #[test]
    #[should_panic(expected = "must be a JSON object")]
    fn a_file_that_is_not_an_object_is_refused() {
        spliced_len("[1, 2]", "a", "1");
    }

    #[test]
    fn the_contract_is_the_one_the_sdk_is_generated_from() {
        let wit = include_str!("../wit/gateway.wit");
        let package = CONTRACT.replace("soda:gateway@", "package soda:gateway@");
        assert!(
            wit.contains(&format!("{package};")),
            "wit/gateway.wit is not {CONTRACT}"
        );
    }
}
