//! `soda-gateway config check`: the configuration as the gateway would run it.

use std::path::Path;

use anyhow::Context as _;

use crate::config::Config;

/// Loads and validates the file with its environment overrides, then prints the effective
/// configuration as TOML, defaults included, with every secret and credential masked.
pub fn check(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let text = toml::to_string_pretty(&config).context("cannot print the configuration")?;
    println!(
        "# {}: valid; as the gateway runs it (secrets masked)",
        path.display()
    );
    println!("{}", text.trim_end());
    Ok(())
}
