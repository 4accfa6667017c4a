//! The command line.

use std::time::Duration;

use crate::setup::Setup;

const USAGE: &str = "\
usage: cargo run --release -p soda-gateway-bench [-- OPTIONS]

  --quick           a smoke run: 1 s warm-up and 2 s per measurement; writes no file
  --seconds N       seconds per measurement (default 10)
  --connections N   HTTP/1.1 keep-alive connections (default 32)
  --tenants N       tenants of the memory probe (default 1000)
  --out FILE        where to write the table (default bench/results.md; none with --quick)
  --only TARGET     the bare endpoint's and one gateway's maximum, and that gateway's latency
                    at half its maximum, printed, no file: sqlite, dedup, memory, postgres or
                    traced (for A/B runs and profiling)";

/// What the command line asked for.
pub struct Settings {
    /// wrk's warm-up run before each maximum (whole seconds: wrk's resolution).
    pub warm_up: Duration,
    /// Each measurement's length (whole seconds).
    pub duration: Duration,
    pub connections: usize,
    /// Tenants of the memory probe.
    pub tenants: usize,
    /// Events the memory probe sends, to as many tenants.
    pub memory_events: usize,
    /// Where the table goes; `None` to print it only.
    pub out: Option<String>,
    /// `--only`: one gateway configuration's maximum next to the bare endpoint's, no report.
    pub only: Option<Setup>,
    args: Vec<String>,
}

impl Settings {
    /// Parses `args` (without the program's name); prints the usage and exits on a mistake or
    /// `--help`.
    pub fn from_args(args: Vec<String>) -> Settings {
        let mut settings = Settings {
            warm_up: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            connections: 32,
            tenants: 1000,
            memory_events: 10,
            out: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/results.md").into()),
            only: None,
            args: args.clone(),
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut number = |name: &str| -> u64 {
                args.next()
                    .and_then(|value| value.parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| usage_error(&format!("{name} takes a positive number")))
            };
            match arg.as_str() {
                "--quick" => {
                    settings.warm_up = Duration::from_secs(1);
                    settings.duration = Duration::from_secs(2);
                    settings.out = None;
                }
                "--seconds" => settings.duration = Duration::from_secs(number("--seconds")),
                "--connections" => settings.connections = number("--connections") as usize,
                "--tenants" => settings.tenants = number("--tenants") as usize,
                "--out" => {
                    settings.out = Some(
                        args.next()
                            .unwrap_or_else(|| usage_error("--out takes a file")),
                    )
                }
                "--only" => {
                    let name = args.next().unwrap_or_default();
                    let setup = Setup::named(&name).unwrap_or_else(|| {
                        usage_error(&format!("--only takes a target, not {name:?}"))
                    });
                    settings.only = Some(setup);
                    settings.out = None;
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => usage_error(&format!("unknown argument {other:?}")),
            }
        }
        settings
    }

    /// The command line, as a reader would type it.
    pub fn command(&self) -> String {
        let mut command = "cargo run --release -p soda-gateway-bench".to_string();
        if !self.args.is_empty() {
            command.push_str(" -- ");
            command.push_str(&self.args.join(" "));
        }
        command
    }
}

fn usage_error(message: &str) -> ! {
    eprintln!("{message}\n\n{USAGE}");
    std::process::exit(2)
}
