//! A plugin's manifest: its name and version, the contract it was built for, the hosts it wants
//! to reach and a JSON Schema of its config, embedded in the component as the custom section
//! [`SECTION`] (written by the Rust SDK's `plugin_manifest!` and by
//! `soda-gateway plugin embed-manifest`).
//!
//! The gateway reads it before compiling, refuses a plugin whose manifest is malformed, shows it
//! (`plugin check`, `GET /admin/plugins`, the console) and checks every tenant's config for the
//! plugin against the schema before any event reaches it. A plugin without a manifest loads as
//! before.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use wasm_encoder::{CustomSection, Section as _};
use wasmparser::{Parser, Payload};

use crate::actions::policy::is_host_pattern;

/// The custom section that holds the manifest, at any nesting depth of the component.
pub const SECTION: &str = "soda-gateway:manifest";

/// A manifest larger than this is refused: it is meant for a schema, not for data.
const MAX_BYTES: usize = 256 * 1024;

/// What a plugin says about itself, as embedded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    /// The contract it was built for (`soda:gateway@x.y.z`); it must be the one the component
    /// imports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The hosts its HTTP actions go to: names, `*.domain` or `*`.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// A JSON Schema every tenant's config for it must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<Value>,
}

/// A manifest that passed [`Manifest::checked`], with its config schema compiled.
#[derive(Debug)]
pub struct Checked {
    pub manifest: Manifest,
    schema: Option<ConfigSchema>,
}

/// A compiled config schema. It may refer to nothing outside itself: no file or URL is read.
pub struct ConfigSchema {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl std::fmt::Debug for ConfigSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigSchema")
    }
}

/// Reads the manifest embedded in `component`, if any, and checks it against the contract the
/// component imports (`imported`, see `contract::imported_version`).
pub fn read(component: &[u8], imported: Option<&str>) -> Result<Option<Checked>, String> {
    let mut found: Option<&[u8]> = None;
    for payload in Parser::new(0).parse_all(component) {
        let Ok(Payload::CustomSection(section)) = payload else {
            continue;
        };
        if section.name() != SECTION {
            continue;
        }
        if found.is_some() {
            return Err(format!("embeds two `{SECTION}` sections"));
        }
        found = Some(section.data());
    }
    let Some(data) = found else {
        return Ok(None);
    };
    Manifest::parse(data)?.checked(imported).map(Some)
}

impl Manifest {
    /// Parses a manifest from its JSON text.
    pub fn parse(data: &[u8]) -> Result<Manifest, String> {
        if data.len() > MAX_BYTES {
            return Err(format!(
                "its manifest is {} bytes, more than the {MAX_BYTES} allowed",
                data.len()
            ));
        }
        serde_json::from_slice(data).map_err(|e| format!("its manifest is not valid: {e}"))
    }

    /// Checks every field and compiles the config schema.
    pub fn checked(self, imported: Option<&str>) -> Result<Checked, String> {
        let invalid = |reason: String| Err(format!("its manifest is not valid: {reason}"));
        if self.name.trim().is_empty() {
            return invalid("`name` is empty".into());
        }
        if self.version.trim().is_empty() {
            return invalid("`version` is empty".into());
        }
        if let (Some(declared), Some(imported)) = (&self.contract, imported) {
            if declared != imported {
                return invalid(format!(
                    "`contract` is {declared} but the component imports {imported}"
                ));
            }
        }
        if let Some(host) = self.hosts.iter().find(|host| !is_host_pattern(host)) {
            return invalid(format!(
                "`hosts` entry {host:?} is not a host name, `*.domain` or `*` (no scheme, port or path)"
            ));
        }
        let schema = match &self.config_schema {
            Some(schema) => Some(
                ConfigSchema::compile(schema)
                    .map_err(|e| format!("its manifest is not valid: `config_schema`: {e}"))?,
            ),
            None => None,
        };
        Ok(Checked {
            manifest: self,
            schema,
        })
    }
}

impl Checked {
    /// Checks a tenant's config for this plugin against the schema; the errors name the key.
    pub fn check_config(&self, config: &Value) -> Result<(), Vec<String>> {
        match &self.schema {
            Some(schema) => schema.check(config),
            None => Ok(()),
        }
    }
}

impl ConfigSchema {
    /// Compiles a JSON Schema (draft 2020-12 unless it says otherwise).
    pub fn compile(schema: &Value) -> Result<ConfigSchema, String> {
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V2020_12);
        // No loader at all: a `$ref` to a file or URL fails instead of being read.
        compiler.use_loader(Box::new(boon::SchemeUrlLoader::new()));
        let location = "urn:soda-gateway:config-schema";
        compiler
            .add_resource(location, schema.clone())
            .map_err(|e| one_line(&format!("{e:#}")))?;
        let mut schemas = boon::Schemas::new();
        let index = compiler
            .compile(location, &mut schemas)
            .map_err(|e| one_line(&format!("{e:#}")))?;
        Ok(ConfigSchema { schemas, index })
    }

    /// Every way `config` breaks the schema, each naming the key (`config.url: ...`).
    pub fn check(&self, config: &Value) -> Result<(), Vec<String>> {
        let Err(error) = self.schemas.validate(config, self.index) else {
            return Ok(());
        };
        let mut problems = Vec::new();
        collect_leaves(&error, &mut problems);
        Err(problems)
    }
}

/// The innermost errors of a validation error tree, as `key: what is wrong`.
fn collect_leaves(error: &boon::ValidationError, into: &mut Vec<String>) {
    if error.causes.is_empty() {
        let pointer = error.instance_location.to_string();
        let key: String = std::iter::once("config")
            .chain(pointer.split('/').skip(1))
            .collect::<Vec<_>>()
            .join(".");
        into.push(format!("`{key}`: {}", error.kind));
    }
    for cause in &error.causes {
        collect_leaves(cause, into);
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `component` with `manifest` appended as its [`SECTION`]; refused when it already has one.
pub fn embed(component: &[u8], manifest: &Manifest) -> Result<Vec<u8>, String> {
    if read(component, None).map_or(true, |found| found.is_some()) {
        return Err(format!(
            "it already embeds a manifest (`{SECTION}`); build it again to replace it"
        ));
    }
    let data = serde_json::to_vec(manifest).map_err(|e| e.to_string())?;
    let mut out = component.to_vec();
    let section = CustomSection {
        name: Cow::Borrowed(SECTION),
        data: Cow::Owned(data),
    };
    section.append_to(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The smallest component: the header and nothing else.
    const EMPTY_COMPONENT: &[u8] = &[0, b'a', b's', b'm', 0x0d, 0, 1, 0];

    fn manifest(schema: Value) -> Manifest {
        Manifest {
            name: "notify".into(),
            version: "1.0.0".into(),
            contract: Some("soda:gateway@0.2.0".into()),
            description: None,
            hosts: vec!["hooks.example.com".into(), "*.example.org".into()],
            config_schema: Some(schema),
        }
    }

    fn url_schema() -> Value {
        json!({
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": { "type": "string" },
                "retries": { "type": "integer", "minimum": 0 }
            },
            "additionalProperties": false
        })
    }

    #[test]
    fn an_embedded_manifest_is_read_back() {
        let written = manifest(url_schema());
        let component = embed(EMPTY_COMPONENT, &written).unwrap();
        let read = read(&component, Some("soda:gateway@0.2.0"))
            .unwrap()
            .unwrap();
        assert_eq!(read.manifest, written);
        assert!(read.check_config(&json!({"url": "https://x"})).is_ok());
    }

    #[test]
    fn a_component_without_a_manifest_has_none() {
        assert!(read(EMPTY_COMPONENT, None).unwrap().is_none());
    }

    #[test]
    fn a_second_manifest_is_refused() {
        let once = embed(EMPTY_COMPONENT, &manifest(url_schema())).unwrap();
        let error = embed(&once, &manifest(url_schema())).unwrap_err();
        assert!(error.contains("already embeds a manifest"), "{error}");
    }

    #[test]
    fn config_errors_name_the_key() {
        let checked = manifest(url_schema()).checked(None).unwrap();
        let problems = checked
            .check_config(&json!({"retries": -1, "chanel": "x"}))
            .unwrap_err();
        let all = problems.join("\n");
        assert!(all.contains("`config`: missing properties 'url'"), "{all}");
        assert!(all.contains("`config.retries`:"), "{all}");
        assert!(all.contains("chanel"), "{all}");
    }

    #[test]
    fn malformed_manifests_are_refused_with_the_field() {
        let cases = [
            (
                json!({"name": "x", "version": "1", "host": []}),
                "unknown field `host`",
            ),
            (json!({"name": "", "version": "1"}), "`name` is empty"),
            (
                json!({"name": "x", "version": "1", "hosts": ["https://a.example.com/x"]}),
                "`hosts` entry",
            ),
            (
                json!({"name": "x", "version": "1", "contract": "soda:gateway@0.1.0"}),
                "but the component imports soda:gateway@0.2.0",
            ),
            (
                json!({"name": "x", "version": "1", "config_schema": {"type": "strnig"}}),
                "`config_schema`",
            ),
        ];
        for (text, expected) in cases {
            let error = Manifest::parse(text.to_string().as_bytes())
                .and_then(|m| m.checked(Some("soda:gateway@0.2.0")))
                .unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn a_schema_cannot_read_files_or_urls() {
        for reference in ["file:///etc/hostname", "http://127.0.0.1:9/schema.json"] {
            let schema = json!({ "$ref": reference });
            let error = ConfigSchema::compile(&schema).unwrap_err();
            assert!(error.contains(reference), "{reference}: {error}");
        }
    }
}
