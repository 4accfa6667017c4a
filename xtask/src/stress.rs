//! `cargo xtask test --stress N`: the black-box suites N times while every core is kept busy,
//! and a table of the failures per test, to find tests that depend on the machine's speed.
//!
//! The load is this process's own: one thread per core spinning on arithmetic for the whole
//! run, so the tests, the gateway and Chromium get about half the CPU they would on a quiet
//! machine, as on a CI runner or a laptop doing other work. Nothing to install.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crate::suite::{self, Outcome};

/// The black-box suites: every integration test target of the workspace (the `tests` package
/// starts the real binary). The same packages as [`suite::TEST_ARGS`], so nothing recompiles.
const BLACK_BOX_ARGS: &[&str] = &["test", "--workspace", "--no-fail-fast", "--test", "*"];

/// Runs the black-box suites `rounds` times under load; prints each round's failures and a
/// table of failures per test. Returns whether every round passed.
pub fn run(root: &Path, rounds: u32) -> bool {
    let load = CpuLoad::start();
    eprintln!(
        "xtask: stress: {rounds} round(s) of the black-box suites with {} busy thread(s)",
        load.threads.len()
    );
    let mut outcomes = Vec::new();
    for round in 1..=rounds {
        eprintln!("xtask: stress: round {round} of {rounds}");
        let outcome = suite::run(root, BLACK_BOX_ARGS);
        outcome.report();
        outcomes.push(outcome);
    }
    load.stop();
    print_table(&outcomes);
    outcomes.iter().all(Outcome::success)
}

/// Prints each round's duration and result, then how often each failing test failed.
fn print_table(outcomes: &[Outcome]) {
    let rounds = outcomes.len();
    println!("\nround  duration  result");
    for (index, outcome) in outcomes.iter().enumerate() {
        let result = match (outcome.success(), outcome.failed.len()) {
            (true, _) => "passed".to_owned(),
            (false, 0) => format!("cargo failed outside a test ({})", outcome.status),
            (false, failed) => format!("{failed} test(s) failed"),
        };
        let seconds = outcome.duration.as_secs();
        println!("{:>5}  {:>7}s  {result}", index + 1, seconds);
    }
    let mut failures: BTreeMap<&str, usize> = BTreeMap::new();
    for test in outcomes.iter().flat_map(|outcome| &outcome.failed) {
        *failures.entry(test).or_default() += 1;
    }
    if failures.is_empty() {
        println!("\nno test failed in {rounds} round(s)");
        return;
    }
    println!("\nfailures  test");
    for (test, count) in failures {
        println!("{:>4}/{rounds:<3}  {test}", count);
    }
}

/// One thread per available core, spinning until stopped.
struct CpuLoad {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl CpuLoad {
    fn start() -> CpuLoad {
        let cores = thread::available_parallelism().map_or(2, |n| n.get());
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..cores)
            .map(|_| {
                let stop = Arc::clone(&stop);
                thread::spawn(move || spin_until(&stop))
            })
            .collect();
        CpuLoad { stop, threads }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            thread.join().expect("a load thread");
        }
    }
}

/// Burns CPU in slices of about a millisecond of arithmetic, checking `stop` between them.
fn spin_until(stop: &AtomicBool) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..1_000_000 {
            // xorshift: work the optimiser cannot remove (black_box) and that never blocks.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x = std::hint::black_box(x);
        }
    }
}
