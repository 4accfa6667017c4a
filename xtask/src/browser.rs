//! The browser the web console's tests drive (`tests/tests/console.rs`): Debian's headless
//! Chromium and its chromedriver, installed with apt when missing.

use crate::apt;

/// Where Debian's `chromium` and `chromium-driver` packages put them.
const BINARIES: &[&str] = &["/usr/bin/chromium", "/usr/bin/chromedriver"];
const PACKAGES: &[&str] = &["chromium", "chromium-driver"];

/// Installs Chromium and chromedriver unless both are there (with `sudo` when not root).
pub fn ensure_installed() {
    apt::ensure_installed(
        BINARIES,
        PACKAGES,
        "for the console's browser tests",
        "cargo xtask test",
    );
}
