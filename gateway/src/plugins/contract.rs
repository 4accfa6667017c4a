//! Contract versions: which `soda:gateway` versions this gateway loads, how a component's
//! version is read before it is compiled, and how a plugin of an older version is called.
//!
//! Every released contract is frozen in `wit/<version>/`; the newest is the current one. A
//! plugin built against an older contract runs next to current ones: the host links every
//! version's imports (see `adapt_v0_1`) and converts at the boundary. Events go down (what was
//! added since is dropped: check results' `value` and `attributes`), actions come up (every
//! older action is a current one). An older contract is a subset of the current one, field by
//! field and case by case, so the conversion is serde's: one version's value serialized, the
//! other's deserialized from it.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasmparser::{Parser, Payload};
use wasmtime::component::{ComponentExportIndex, Instance, InstancePre, TypedFunc};
use wasmtime::Store;

use super::bindings::{current, v0_1, wit};
use super::host::HostState;

/// The package plugins import their interfaces from.
const PACKAGE: &str = "soda:gateway";
/// The export only plugins that chain have (world `chaining-plugin` of the current contract).
const ON_RESPONSE: &str = "on-response";

/// A contract version this gateway loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `wit/0.2.0`.
    Current,
    /// `wit/0.1.0`: no check-result `value` or `attributes`; every plugin exports `on-response`.
    V0_1,
}

impl Version {
    /// Every version this gateway loads, newest first.
    pub const ALL: [Version; 2] = [Version::Current, Version::V0_1];

    /// Its name as components import it: `soda:gateway@x.y.z`.
    pub fn name(self) -> &'static str {
        match self {
            Version::Current => "soda:gateway@0.2.0",
            Version::V0_1 => "soda:gateway@0.1.0",
        }
    }

    /// The version of that name, if this gateway loads it.
    pub fn named(name: &str) -> Option<Version> {
        Self::ALL.into_iter().find(|version| version.name() == name)
    }
}

/// The versions this gateway loads, for messages: `soda:gateway@0.2.0 and soda:gateway@0.1.0`.
pub fn supported() -> String {
    let names: Vec<&str> = Version::ALL.iter().map(|version| version.name()).collect();
    names.join(" and ")
}

/// Why a component built for another contract version is refused.
pub const NOT_LOADED: &str = "built for a contract version this gateway does not load";

/// The version to link a component against, given what it imports ([`imported_version`]):
/// `None` when it names a version this gateway does not load. A component that imports nothing
/// of the contract is linked as current, so that linking says what it lacks.
pub fn loadable(built_for: Option<&str>) -> Option<Version> {
    match built_for {
        Some(name) => Version::named(name),
        None => Some(Version::Current),
    }
}

/// The `soda:gateway@x.y.z` a component imports its interfaces from, read from the names in its
/// top-level import section, without compiling it. `None` when it imports none or the file does
/// not parse (compiling it then says why).
pub fn imported_version(bytes: &[u8]) -> Option<String> {
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.ok()? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) if depth > 0 => depth -= 1,
            Payload::ComponentImportSection(imports) if depth == 0 => {
                for import in imports {
                    if let Some(version) = version_in(import.ok()?.name.name) {
                        return Some(version);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// `soda:gateway@0.1.0` from `soda:gateway/types@0.1.0`.
fn version_in(import: &str) -> Option<String> {
    let rest = import.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    let (_, version) = rest.split_once('@')?;
    Some(format!("{PACKAGE}@{version}"))
}

/// A plugin linked against the imports of its contract version.
pub enum PluginPre {
    Current {
        pre: current::PluginPre<HostState>,
        /// Where its `on-response` is, when it exports one.
        on_response: Option<ComponentExportIndex>,
    },
    V0_1(v0_1::PluginPre<HostState>),
}

/// One instance of a plugin, of its contract version.
pub enum Plugin {
    Current {
        plugin: current::Plugin,
        instance: Instance,
        on_response: Option<ComponentExportIndex>,
    },
    V0_1(v0_1::Plugin),
}

/// What a plugin's export returned, in the current contract's types.
pub type Returned = Result<Vec<wit::Action>, wit::PluginError>;

impl PluginPre {
    /// Finds the exports of `version` in a linked component; fails when one is missing.
    pub fn new(version: Version, pre: InstancePre<HostState>) -> wasmtime::Result<Self> {
        Ok(match version {
            Version::Current => {
                let on_response = pre.component().get_export_index(None, ON_RESPONSE);
                PluginPre::Current {
                    pre: current::PluginPre::new(pre)?,
                    on_response,
                }
            }
            Version::V0_1 => PluginPre::V0_1(v0_1::PluginPre::new(pre)?),
        })
    }

    /// The contract version it was built for.
    pub fn version(&self) -> Version {
        match self {
            PluginPre::Current { .. } => Version::Current,
            PluginPre::V0_1(_) => Version::V0_1,
        }
    }

    /// A new instance, its exports type-checked.
    pub async fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Plugin> {
        Ok(match self {
            PluginPre::Current { pre, on_response } => {
                let (plugin, instance) = pre.instantiate_checked(&mut *store).await?;
                if let Some(index) = on_response {
                    on_response_func(store, &instance, index)?;
                }
                let on_response = *on_response;
                Plugin::Current {
                    plugin,
                    instance,
                    on_response,
                }
            }
            PluginPre::V0_1(pre) => Plugin::V0_1(pre.instantiate_checked(store).await?.0),
        })
    }

    /// [`PluginPre::instantiate`] without type-checking the exports again.
    ///
    /// # Safety
    ///
    /// An earlier instance of this same `PluginPre` must have been made with
    /// [`PluginPre::instantiate`], which checks the exports (they cannot differ between its
    /// instances).
    pub async unsafe fn instantiate_prechecked(
        &self,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Plugin> {
        Ok(match self {
            PluginPre::Current { pre, on_response } => {
                let (plugin, instance) = pre.instantiate_prechecked(store).await?;
                Plugin::Current {
                    plugin,
                    instance,
                    on_response: *on_response,
                }
            }
            PluginPre::V0_1(pre) => Plugin::V0_1(pre.instantiate_prechecked(store).await?.0),
        })
    }
}

impl Plugin {
    /// Whether it handles the responses to its requests: a plugin that does not may not set a
    /// `continuation`.
    pub fn chains(&self) -> bool {
        match self {
            Plugin::Current { on_response, .. } => on_response.is_some(),
            Plugin::V0_1(_) => true,
        }
    }

    /// Calls `handle`.
    pub async fn call_handle(
        &self,
        store: &mut Store<HostState>,
        event: &wit::Event,
        context: &wit::Context,
    ) -> wasmtime::Result<Returned> {
        match self {
            Plugin::Current { plugin, .. } => plugin.call_handle(store, event, context).await,
            Plugin::V0_1(plugin) => {
                let returned = plugin
                    .call_handle(store, &convert(event)?, &convert(context)?)
                    .await?;
                convert(&returned)
            }
        }
    }

    /// Calls `on-response`; an error when the plugin does not export it.
    pub async fn call_on_response(
        &self,
        store: &mut Store<HostState>,
        event: &wit::Event,
        response: &wit::HttpResponse,
        context: &wit::Context,
    ) -> wasmtime::Result<Returned> {
        match self {
            Plugin::Current {
                instance,
                on_response,
                ..
            } => {
                let index = on_response.as_ref().ok_or_else(|| {
                    wasmtime::format_err!("the plugin does not export `{ON_RESPONSE}`")
                })?;
                let func = on_response_func(store, instance, index)?;
                let (returned,) = func
                    .call_async(&mut *store, (event, response, context))
                    .await?;
                Ok(returned)
            }
            Plugin::V0_1(plugin) => {
                let returned = plugin
                    .call_on_response(
                        store,
                        &convert(event)?,
                        &convert(response)?,
                        &convert(context)?,
                    )
                    .await?;
                convert(&returned)
            }
        }
    }
}

/// `on-response` with its type checked against the current contract's.
fn on_response_func<'a>(
    store: &mut Store<HostState>,
    instance: &Instance,
    index: &ComponentExportIndex,
) -> wasmtime::Result<OnResponse<'a>> {
    instance.get_typed_func(&mut *store, index)
}

/// The type of `on-response`.
type OnResponse<'a> =
    TypedFunc<(&'a wit::Event, &'a wit::HttpResponse, &'a wit::Context), (Returned,)>;

/// A value of one contract version as the same value of another; fails only when the value
/// has something the target version cannot express.
pub fn convert<From: Serialize, To: DeserializeOwned>(value: &From) -> wasmtime::Result<To> {
    let json = serde_json::to_value(value)?;
    serde_json::from_value(json)
        .map_err(|error| wasmtime::format_err!("cannot convert between contract versions: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_read_from_the_import_names() {
        assert_eq!(
            version_in("soda:gateway/types@0.1.0").as_deref(),
            Some("soda:gateway@0.1.0")
        );
        assert_eq!(version_in("wasi:io/streams@0.2.6"), None);
        assert_eq!(version_in("soda:gateway/types"), None);
        assert_eq!(Version::named("soda:gateway@0.2.0"), Some(Version::Current));
        assert_eq!(Version::named("soda:gateway@9.9.9"), None);
        assert_eq!(loadable(Some("soda:gateway@0.1.0")), Some(Version::V0_1));
        assert_eq!(loadable(Some("soda:gateway@9.9.9")), None);
        assert_eq!(loadable(None), Some(Version::Current));
        assert_eq!(supported(), "soda:gateway@0.2.0 and soda:gateway@0.1.0");
    }

    #[test]
    fn the_sdk_carries_a_copy_of_the_current_contract() {
        let current = include_str!("../../../wit/0.2.0/gateway.wit");
        assert!(current.contains(&format!("package {};", Version::Current.name())));
        assert!(
            include_str!("../../../plugin-sdk/wit/gateway.wit") == current,
            "plugin-sdk/wit/gateway.wit must be a copy of wit/0.2.0/gateway.wit"
        );
        let first = include_str!("../../../wit/0.1.0/gateway.wit");
        assert!(first.contains(&format!("package {};", Version::V0_1.name())));
    }

    #[test]
    fn what_a_file_that_is_not_a_component_imports_is_unknown() {
        assert_eq!(imported_version(b"not wasm"), None);
        assert_eq!(imported_version(&[0, b'a', b's', b'm', 13, 0, 1, 0]), None);
    }
}
