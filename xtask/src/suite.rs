//! Runs the workspace's tests with `cargo test --no-fail-fast` and names every test that failed,
//! so that one failing test binary does not hide the state of the others.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// The workspace's tests as `cargo xtask test` runs them. The same packages (hence the same
/// feature set) as [`BUILD_ARGS`], so nothing is compiled twice.
pub const TEST_ARGS: &[&str] = &["test", "--workspace", "--no-fail-fast"];

/// Builds what the tests need before they run: every test executable and, with the features the
/// tests unify (`--tests` activates the dev-dependencies), the gateway binary the black-box tests
/// start. `cargo test` then compiles nothing more.
pub const BUILD_ARGS: &[&str] = &["build", "--workspace", "--tests", "--bin", "soda-gateway"];

/// What one run of the tests came to.
pub struct Outcome {
    /// Failed tests, as `binary::test` (the test executable's name without its hash).
    pub failed: Vec<String>,
    /// How cargo exited: a failure with no failed test named means it failed outside a test
    /// (a build error, a crashed test executable).
    pub status: ExitStatus,
    pub duration: Duration,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.status.success() && self.failed.is_empty()
    }

    /// Prints which tests failed, or that cargo failed outside any test.
    pub fn report(&self) {
        if self.success() {
            eprintln!("xtask: every test passed ({:.0?})", self.duration);
            return;
        }
        if self.failed.is_empty() {
            eprintln!(
                "xtask: cargo test failed ({}) outside any test; see its output above",
                self.status
            );
            return;
        }
        eprintln!("xtask: {} test(s) failed:", self.failed.len());
        for test in &self.failed {
            eprintln!("xtask:   {test}");
        }
    }
}

/// Runs `cargo <args>` in `root`, echoing its output (stdout and stderr merged, in order) and
/// collecting the tests it reports as failed.
pub fn run(root: &Path, args: &[&str]) -> Outcome {
    let started = Instant::now();
    let (output, writer) = std::io::pipe().expect("a pipe for cargo's output");
    let mut child = {
        let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        command
            .args(args)
            .current_dir(root)
            .stdout(writer.try_clone().expect("a second handle on the pipe"))
            .stderr(writer);
        eprintln!("xtask: {command:?}");
        command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"))
        // The command, and with it this process's ends of the pipe, is dropped here, so reading
        // ends when cargo exits.
    };
    let mut failures = Failures::default();
    for line in BufReader::new(output).lines() {
        let line = line.expect("cargo's output");
        println!("{line}");
        failures.read(&line);
    }
    let status = child.wait().expect("waiting for cargo");
    Outcome {
        failed: failures.failed,
        status,
        duration: started.elapsed(),
    }
}

/// Reads cargo's and libtest's lines: which test executable runs, and which tests fail in it.
#[derive(Default)]
struct Failures {
    binary: String,
    failed: Vec<String>,
}

impl Failures {
    fn read(&mut self, line: &str) {
        let line = line.trim();
        if let Some(running) = line.strip_prefix("Running ") {
            // `Running tests/console.rs (target/debug/deps/console-0a1b2c3d)`
            let executable = running
                .rsplit_once('(')
                .map_or(running, |(_, path)| path.trim_end_matches(')'));
            let file = executable.rsplit('/').next().unwrap_or(executable);
            self.binary = file
                .rsplit_once('-')
                .map_or(file, |(name, _)| name)
                .to_owned();
        } else if let Some(crate_name) = line.strip_prefix("Doc-tests ") {
            self.binary = format!("{crate_name} (doc)");
        } else if let Some(test) = line
            .strip_prefix("test ")
            .and_then(|rest| rest.strip_suffix(" ... FAILED"))
        {
            self.failed.push(format!("{}::{test}", self.binary));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_named_after_their_test_executable() {
        let mut failures = Failures::default();
        for line in [
            "     Running unittests src/lib.rs (target/debug/deps/soda_gateway-5f2e9a)",
            "test store::tests::a_commit_is_durable ... ok",
            "     Running tests/console.rs (target/debug/deps/console-0a1b2c3d)",
            "test the_charts_page_draws_the_last_days_events ... FAILED",
            "test the_console_sends_strangers_to_the_login_form ... ok",
            "   Doc-tests soda_gateway_plugin_sdk",
            "test plugin-sdk/src/lib.rs - export (line 12) ... FAILED",
        ] {
            failures.read(line);
        }
        assert_eq!(
            failures.failed,
            [
                "console::the_charts_page_draws_the_last_days_events",
                "soda_gateway_plugin_sdk (doc)::plugin-sdk/src/lib.rs - export (line 12)",
            ]
        );
    }
}
