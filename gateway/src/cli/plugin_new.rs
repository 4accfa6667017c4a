//! `soda-gateway plugin new NAME`: a ready plugin folder (build settings, source, a unit test,
//! an example config and a README) that builds and passes `plugin check` at once, anywhere.
//!
//! The templates live in `gateway/templates/` and are built into the binary.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

/// The languages `plugin new` writes a template for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    Rust,
    /// Built with componentize-py.
    Python,
    /// Built with componentize-js.
    Javascript,
}

/// One file of a template: where it goes in the new folder, and its text with `__NAME__`,
/// `__TYPE__` and `__SDK__` still in it.
struct TemplateFile {
    path: &'static str,
    text: &'static str,
}

/// A template file: its place in the new folder and its source under `gateway/templates/`.
macro_rules! template {
    ($path:literal, $source:literal) => {
        TemplateFile {
            path: $path,
            text: include_str!(concat!("../../templates/", $source)),
        }
    };
}

/// The current contract, which Python and JavaScript plugins generate their bindings from.
const CONTRACT: TemplateFile = TemplateFile {
    path: "wit/gateway.wit",
    text: include_str!("../../../wit/0.2.0/gateway.wit"),
};

const RUST: &[TemplateFile] = &[
    template!("Cargo.toml", "rust/Cargo.toml.template"),
    template!(".cargo/config.toml", "rust/cargo-config.toml"),
    template!(".gitignore", "rust/gitignore"),
    template!("config.json", "config.json"),
    template!("plugin.json", "rust/plugin.json"),
    template!("src/lib.rs", "rust/src/lib.rs"),
    template!("README.md", "rust/README.md"),
];

const PYTHON: &[TemplateFile] = &[
    template!("app.py", "python/app.py"),
    template!("soda_gateway.py", "python/soda_gateway.py"),
    template!("soda_gateway_testing.py", "python/soda_gateway_testing.py"),
    template!("test_app.py", "python/test_app.py"),
    template!("plugin.json", "plugin.json"),
    CONTRACT,
    template!(".gitignore", "python/gitignore"),
    template!("config.json", "config.json"),
    template!("README.md", "python/README.md"),
];

const JAVASCRIPT: &[TemplateFile] = &[
    template!("plugin.js", "javascript/plugin.js"),
    template!("soda_gateway.js", "javascript/soda_gateway.js"),
    template!("testing.mjs", "javascript/testing.mjs"),
    template!("plugin.test.mjs", "javascript/plugin.test.mjs"),
    template!("plugin.json", "plugin.json"),
    template!("build.mjs", "javascript/build.mjs"),
    template!("package.json", "javascript/package.json"),
    CONTRACT,
    template!(".gitignore", "javascript/gitignore"),
    template!("config.json", "config.json"),
    template!("README.md", "javascript/README.md"),
];

/// The SDK this binary was built with, as a path dependency: the source checkout it came from
/// (`cargo install --path gateway` keeps it in place).
fn built_in_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk")
}

/// Writes the template for `language` into `parent/name`; `sdk` overrides where the Rust SDK
/// is. Prints what to run next.
pub fn new(
    name: &str,
    language: Language,
    parent: &Path,
    sdk: Option<&Path>,
) -> anyhow::Result<()> {
    check_name(name)?;
    let dir = parent.join(name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let (files, sdk) = match language {
        Language::Rust => (RUST, rust_sdk(sdk)?),
        Language::Python => (PYTHON, String::new()),
        Language::Javascript => (JAVASCRIPT, String::new()),
    };
    for file in files {
        let path = dir.join(file.path);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
        }
        let text = file
            .text
            .replace("__NAME__", name)
            .replace("__TYPE__", &type_name(name))
            .replace("__SDK__", &sdk);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("created {} ({language:?})", dir.display());
    println!("next: cd {} && cat README.md", dir.display());
    Ok(())
}

/// Where the Rust SDK is (`sdk`, else the one this binary was built from), as Cargo.toml writes
/// a path.
fn rust_sdk(sdk: Option<&Path>) -> anyhow::Result<String> {
    let sdk = sdk.map_or_else(built_in_sdk, Path::to_owned);
    let sdk = sdk.canonicalize().with_context(|| {
        format!(
            "the plugin SDK is not at {}: pass --sdk PATH (the `plugin-sdk` folder of the gateway's source)",
            sdk.display()
        )
    })?;
    if !sdk.join("Cargo.toml").is_file() {
        bail!("{} holds no Cargo.toml: not the plugin SDK", sdk.display());
    }
    let sdk = sdk
        .to_str()
        .context("the SDK's path is not UTF-8, which Cargo.toml cannot hold")?;
    Ok(sdk.replace('\\', "\\\\"))
}

/// A plugin's name is its file's stem and the crate's name: lowercase ASCII letters, digits and
/// `_`, starting with a letter.
fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        bail!(
            "`{name}` cannot name a plugin: use lowercase letters, digits and `_`, starting with a letter (e.g. `my_alerts`)"
        );
    }
    Ok(())
}

/// `my_alerts` → `MyAlerts`.
fn type_name(name: &str) -> String {
    name.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_become_type_names() {
        assert!(check_name("my_alerts2").is_ok());
        for bad in ["", "My", "2x", "my-alerts", "a b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(type_name("my_alerts2"), "MyAlerts2");
        assert_eq!(type_name("x"), "X");
    }

    #[test]
    fn every_placeholder_of_the_templates_is_known() {
        for file in RUST.iter().chain(PYTHON).chain(JAVASCRIPT) {
            let text = file
                .text
                .replace("__NAME__", "")
                .replace("__TYPE__", "")
                .replace("__SDK__", "");
            // Placeholders are `__UPPERCASE__`; Python's `__name__` is not one.
            let unknown = text
                .match_indices("__")
                .find(|(at, _)| text[at + 2..].starts_with(|c: char| c.is_ascii_uppercase()));
            assert_eq!(
                unknown.map(|(at, _)| &text[at..(at + 12).min(text.len())]),
                None,
                "{} has an unknown placeholder",
                file.path
            );
        }
    }

    #[test]
    fn the_javascript_template_pins_the_toolchain_the_reference_plugin_is_tested_with() {
        let pins = |text: &str| -> serde_json::Value {
            serde_json::from_str::<serde_json::Value>(text).unwrap()["devDependencies"].clone()
        };
        let template = JAVASCRIPT
            .iter()
            .find(|f| f.path == "package.json")
            .unwrap();
        let reference = include_str!("../../../plugins/teams-workflow-js/package.json");
        assert_eq!(pins(template.text), pins(reference));
    }

    #[test]
    fn a_missing_sdk_is_named_and_nothing_is_written() {
        let parent = tempfile::tempdir().unwrap();
        let missing = parent.path().join("no-sdk");
        let error = new("demo", Language::Rust, parent.path(), Some(&missing)).unwrap_err();
        assert!(
            format!("{error:#}").contains("pass --sdk PATH"),
            "{error:#}"
        );
        assert!(!parent.path().join("demo").exists());
    }

    #[test]
    fn a_new_folder_is_written_and_an_existing_one_refused() {
        let parent = tempfile::tempdir().unwrap();
        new("demo", Language::Rust, parent.path(), None).unwrap();
        let manifest = std::fs::read_to_string(parent.path().join("demo/Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"demo\""), "{manifest}");
        let sdk = built_in_sdk().canonicalize().unwrap();
        assert!(
            manifest.contains(&format!("path = \"{}\"", sdk.display())),
            "{manifest}"
        );
        let source = std::fs::read_to_string(parent.path().join("demo/src/lib.rs")).unwrap();
        assert!(source.contains("export_plugin!(Demo);"), "{source}");
        let again = new("demo", Language::Rust, parent.path(), None).unwrap_err();
        assert!(again.to_string().ends_with("already exists"), "{again}");
    }
}
