//! What one `soda-gateway` command-line run did, for the tests of the operator and author
//! commands.

use std::fmt;
use std::path::Path;
use std::process::{Command, Output};

/// A finished `soda-gateway` command: its exit status, stdout and stderr.
pub struct CliRun {
    pub output: Output,
}

impl CliRun {
    /// Runs `soda-gateway <args>` as a plugin author would: from `dir` (or here), with the
    /// plugin compile cache in `cache` and the default log filter.
    pub fn author(args: &[&str], dir: Option<&Path>, cache: &Path) -> CliRun {
        let mut command = Command::new(crate::gateway_binary());
        command
            .args(args)
            .env_remove("RUST_LOG")
            .env("SODA_GATEWAY_CACHE_DIR", cache);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let output = command.output().expect("the gateway binary runs");
        CliRun { output }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn succeeded(&self) -> bool {
        self.output.status.success()
    }

    /// The `error: ...` line on stderr; panics when there is none.
    pub fn error_line(&self) -> String {
        self.stderr()
            .lines()
            .find(|line| line.starts_with("error: "))
            .unwrap_or_else(|| panic!("an `error: ...` line on stderr: {self:?}"))
            .to_owned()
    }

    /// The stdout line starting with `label:`, without it; panics when there is none.
    pub fn field(&self, label: &str) -> String {
        let prefix = format!("{label}:");
        self.stdout()
            .lines()
            .find_map(|line| {
                line.strip_prefix(&prefix)
                    .map(|rest| rest.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("a `{prefix}` line on stdout: {self:?}"))
    }
}

impl fmt::Debug for CliRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n---- stdout ----\n{}\n---- stderr ----\n{}",
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }
}
