//! The browser the web console's tests drive (`tests/tests/console.rs`): Debian's headless
//! Chromium and its chromedriver, installed with apt when missing.

use std::path::Path;
use std::process::{exit, Command};

/// Where Debian's `chromium` and `chromium-driver` packages put them.
const BINARIES: &[&str] = &["/usr/bin/chromium", "/usr/bin/chromedriver"];
const PACKAGES: &[&str] = &["chromium", "chromium-driver"];

/// Installs Chromium and chromedriver unless both are there (with `sudo` when not root).
pub fn ensure_installed() {
    let missing: Vec<&str> = BINARIES
        .iter()
        .copied()
        .filter(|path| !Path::new(path).is_file())
        .collect();
    if missing.is_empty() {
        return;
    }
    eprintln!(
        "xtask: {} missing: installing {} for the console's browser tests",
        missing.join(" and "),
        PACKAGES.join(" ")
    );
    if Command::new("apt-get").arg("--version").output().is_err() {
        eprintln!(
            "xtask: apt-get is not available; install Chromium and chromedriver so that {} \
             exist, then run `cargo xtask test` again",
            BINARIES.join(" and ")
        );
        exit(1);
    }
    // A fresh machine may have no package lists yet: then update them and try once more.
    let installed =
        apt_get(&["install", "-y"]) || (apt_get(&["update"]) && apt_get(&["install", "-y"]));
    if !installed {
        eprintln!(
            "xtask: installing {} failed; install them by hand (`apt-get install {}`)",
            PACKAGES.join(" and "),
            PACKAGES.join(" ")
        );
        exit(1);
    }
    if let Some(path) = BINARIES.iter().find(|path| !Path::new(path).is_file()) {
        eprintln!(
            "xtask: {path} is still missing after installing {}",
            PACKAGES.join(" ")
        );
        exit(1);
    }
}

/// Runs `apt-get <args>` (plus the packages, for `install`), through `sudo` unless root;
/// prints the command like every step. Whether it succeeded.
fn apt_get(args: &[&str]) -> bool {
    let mut command = if is_root() {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg("apt-get");
        sudo
    };
    command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    if args.first() == Some(&"install") {
        command.args(PACKAGES);
    }
    eprintln!("xtask: {command:?}");
    command.status().is_ok_and(|status| status.success())
}

/// Whether this process runs as root (`id -u` says 0).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}
