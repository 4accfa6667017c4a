//! The HTTP load generator of the published benchmark (`bench/`, its closed-loop maximum):
//! Debian's `wrk`, installed with apt when missing.

use crate::apt;

/// Where Debian's `wrk` package puts it.
const BINARIES: &[&str] = &["/usr/bin/wrk"];
const PACKAGES: &[&str] = &["wrk"];

/// Installs wrk unless it is there (with `sudo` when not root).
pub fn ensure_installed() {
    apt::ensure_installed(
        BINARIES,
        PACKAGES,
        "for the published benchmark",
        "cargo xtask bench",
    );
}
