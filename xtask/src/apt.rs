//! Debian packages the tasks need, installed with apt-get when their programs are missing.

use std::path::Path;
use std::process::{exit, Command};

/// Installs `packages` unless every path in `binaries` exists: `apt-get install -y`, through
/// `sudo` unless root, and after `apt-get update` once more if that failed (a fresh machine may
/// have no package lists yet). Exits, saying what to install by hand, when that is not possible;
/// `purpose` ends the first line it prints and `task` is the command to run again.
pub fn ensure_installed(binaries: &[&str], packages: &[&str], purpose: &str, task: &str) {
    let missing: Vec<&str> = binaries
        .iter()
        .copied()
        .filter(|path| !Path::new(path).is_file())
        .collect();
    if missing.is_empty() {
        return;
    }
    eprintln!(
        "xtask: {} missing: installing {} {purpose}",
        missing.join(" and "),
        packages.join(" ")
    );
    if Command::new("apt-get").arg("--version").output().is_err() {
        eprintln!(
            "xtask: apt-get is not available; install {} so that {} exist, then run `{task}` \
             again",
            packages.join(" and "),
            binaries.join(" and ")
        );
        exit(1);
    }
    let installed = apt_get(&["install", "-y"], packages)
        || (apt_get(&["update"], &[]) && apt_get(&["install", "-y"], packages));
    if !installed {
        eprintln!(
            "xtask: installing {} failed; install them by hand (`apt-get install {}`)",
            packages.join(" and "),
            packages.join(" ")
        );
        exit(1);
    }
    if let Some(path) = binaries.iter().find(|path| !Path::new(path).is_file()) {
        eprintln!(
            "xtask: {path} is still missing after installing {}",
            packages.join(" ")
        );
        exit(1);
    }
}

/// Runs `apt-get <args> <packages>`, through `sudo` unless root; prints the command like every
/// step. Whether it succeeded.
fn apt_get(args: &[&str], packages: &[&str]) -> bool {
    let mut command = if is_root() {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg("apt-get");
        sudo
    };
    command
        .args(args)
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
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
