//! The closed-loop maximum: [wrk](https://github.com/wg/wrk) as a child process, one thread
//! (`-t1`: the load generator should not take more than a core from the servers), with a Lua
//! script this module writes to a temporary file.
//!
//! The script holds the requests of [`crate::payload::Requests`]: the signed bodies as a Lua
//! table, each request taking the next; or the body template, each request writing the run's
//! number (the script's argument) and its own into the serial. wrk's report (`--latency`) is parsed for the
//! completed requests, the answers with a status of 400 or more, the socket errors, the rate and
//! the 99th percentile.

use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::NamedTempFile;

use crate::load::REQUEST_TIMEOUT;
use crate::payload::{self, Requests, Signed, Template};
use crate::procfs::cpu_time;

/// The program run; `cargo xtask bench` installs Debian's `wrk` package when it is missing.
const PROGRAM: &str = "wrk";

/// The Lua script for every run, and the connections they open.
pub struct Wrk {
    script: NamedTempFile,
    connections: usize,
}

impl Wrk {
    /// Writes the script that posts `requests` over `connections` connections.
    pub fn new(requests: &Requests, connections: usize) -> Wrk {
        let mut script = NamedTempFile::with_suffix(".lua").expect("a temporary file");
        script
            .write_all(lua_script(requests).as_bytes())
            .and_then(|()| script.flush())
            .expect("writing the wrk script");
        Wrk {
            script,
            connections,
        }
    }

    /// `wrk -t1 -c{connections} -d{duration} --latency` against `addr`, the run numbered `run`
    /// ([`payload::run_number`]); blocks until wrk exits. `duration` counts in whole seconds.
    pub fn run(&self, addr: SocketAddr, duration: Duration, run: u64) -> Run {
        let mut child = Command::new(PROGRAM)
            .arg("-t1")
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", duration.as_secs().max(1)))
            .arg("--latency")
            .arg(format!("--timeout={}s", REQUEST_TIMEOUT.as_secs()))
            .arg("-s")
            .arg(self.script.path())
            .arg(format!("http://{addr}{}", payload::path()))
            .args(["--", &run.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {PROGRAM} ({e}): install it (`apt-get install wrk`; \
                     `cargo xtask bench` does)"
                )
            });
        let mut output = String::new();
        child
            .stdout
            .take()
            .expect("piped stdout")
            .read_to_string(&mut output)
            .expect("reading wrk's report");
        // Its output ends when it exits: read its CPU time while it waits to be reaped.
        let cpu = cpu_time(child.id());
        let status = child.wait().expect("waiting for wrk");
        assert!(status.success(), "wrk failed ({status}):\n{output}");
        let report = Report::parse(&output)
            .unwrap_or_else(|e| panic!("cannot read wrk's report ({e}):\n{output}"));
        Run { report, cpu }
    }
}

/// One wrk run: its report and the CPU time wrk itself used.
pub struct Run {
    pub report: Report,
    pub cpu: Duration,
}

/// What wrk printed about a run.
#[derive(Debug, PartialEq)]
pub struct Report {
    /// Answers read in the run (`N requests in ...`), whatever their status.
    pub requests: u64,
    /// Answers with a status of 400 or more (`Non-2xx or 3xx responses`).
    pub rejected: u64,
    pub socket_errors: SocketErrors,
    /// `Requests/sec`: every answer read, over the run's length.
    pub requests_per_s: f64,
    /// The 99th percentile of the latency distribution (closed loop: under saturation).
    pub p99: Duration,
}

/// wrk's `Socket errors` line (absent, all zero, when there were none).
#[derive(Debug, Default, PartialEq)]
pub struct SocketErrors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
}

impl SocketErrors {
    /// All of them together.
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout
    }
}

impl Report {
    /// Answers below 400, which the gateway only gives to accepted (stored) events.
    pub fn accepted(&self) -> u64 {
        self.requests - self.rejected
    }

    /// Accepted answers per second.
    pub fn accepted_per_s(&self) -> f64 {
        self.requests_per_s * self.accepted() as f64 / self.requests.max(1) as f64
    }

    /// Non-accepted answers and socket errors together.
    pub fn errors(&self) -> u64 {
        self.rejected + self.socket_errors.total()
    }

    fn parse(output: &str) -> Result<Report, String> {
        let mut report = Report {
            requests: 0,
            rejected: 0,
            socket_errors: SocketErrors::default(),
            requests_per_s: f64::NAN,
            p99: Duration::MAX,
        };
        for line in output.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("Requests/sec:") {
                report.requests_per_s = number(rest)?;
            } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
                report.rejected = number(rest)?;
            } else if let Some(rest) = line.strip_prefix("Socket errors:") {
                for field in rest.split(',') {
                    let (name, count) = field
                        .trim()
                        .split_once(' ')
                        .ok_or_else(|| format!("socket errors {field:?}"))?;
                    let count = number(count)?;
                    match name {
                        "connect" => report.socket_errors.connect = count,
                        "read" => report.socket_errors.read = count,
                        "write" => report.socket_errors.write = count,
                        "timeout" => report.socket_errors.timeout = count,
                        other => return Err(format!("unknown socket error {other:?}")),
                    }
                }
            } else if let Some(rest) = line.strip_prefix("99%") {
                report.p99 = latency(rest.trim())?;
            } else if let Some((count, _)) = line.split_once(" requests in ") {
                report.requests = number(count)?;
            }
        }
        if report.requests_per_s.is_nan() {
            return Err("no `Requests/sec` line".into());
        }
        if report.p99 == Duration::MAX {
            return Err("no 99% latency (was --latency given?)".into());
        }
        Ok(report)
    }
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))
}

/// wrk's latency format: a number and `us`, `ms`, `s`, `m` or `h`.
fn latency(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| format!("latency {text:?} has no unit"))?;
    let value: f64 = number(&text[..split])?;
    let seconds = match &text[split..] {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        unit => return Err(format!("unknown latency unit {unit:?}")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// The script for `requests`: [`signed_script`] or [`unique_script`].
fn lua_script(requests: &Requests) -> String {
    match requests {
        Requests::Signed(bodies) => signed_script(bodies),
        Requests::Unique(template) => unique_script(template),
    }
}

/// The whole requests as a table, built in `init`; `request` sends the next.
fn signed_script(bodies: &[Signed]) -> String {
    let mut script = String::from(
        "-- Written by soda-gateway-bench (bench/src/wrk.rs): posts the signed bodies in turn.\n\
         local bodies = {\n",
    );
    for signed in bodies {
        let _ = writeln!(
            script,
            "  {{ {}, {} }},",
            lua_string(signed.signature.as_bytes()),
            lua_string(&signed.body)
        );
    }
    let _ = write!(
        script,
        r#"}}
local requests, sent = {{}}, 0

function init(args)
  for i, signed in ipairs(bodies) do
    requests[i] = "POST " .. wrk.path .. " HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port
      .. "\r\nContent-Type: application/json\r\nContent-Length: " .. #signed[2]
      .. "\r\n{signature}: " .. signed[1] .. "\r\n\r\n" .. signed[2]
  end
end

function request()
  sent = sent + 1
  return requests[(sent - 1) % #bodies + 1]
end
"#,
        signature = payload::SIGNATURE_HEADER,
    );
    script
}

/// The body around its serial; `request` writes the run's number and its own into it.
fn unique_script(template: &Template) -> String {
    let (before, after) = template.parts();
    format!(
        r#"-- Written by soda-gateway-bench (bench/src/wrk.rs): a body of its own per request.
local before, after = {before}, {after}
local head, run, sent = "", 0, 0

function init(args)
  run = tonumber(args[1]) % 10000
  head = "POST " .. wrk.path .. " HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port
    .. "\r\nContent-Type: application/json\r\nContent-Length: "
    .. (#before + {digits} + #after) .. "\r\n{header}: {token}\r\n\r\n" .. before
end

function request()
  sent = sent + 1
  return head .. string.format("%04d%012d", run, sent) .. after
end
"#,
        before = lua_string(before),
        after = lua_string(after),
        digits = payload::SERIAL_DIGITS,
        header = payload::TOKEN_HEADER,
        token = payload::TOKEN,
    )
}

/// A Lua string literal: printable ASCII as is, everything else (and `"`, `\`) as `\ddd`.
fn lua_string(bytes: &[u8]) -> String {
    let mut literal = String::with_capacity(bytes.len() + 2);
    literal.push('"');
    for &byte in bytes {
        if (0x20..0x7f).contains(&byte) && byte != b'"' && byte != b'\\' {
            literal.push(char::from(byte));
        } else {
            let _ = write!(literal, "\\{byte:03}");
        }
    }
    literal.push('"');
    literal
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
Running 2s test @ http://127.0.0.1:40000/hooks/bench
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    14.20ms    3.01ms  40.12ms   80.00%
    Req/Sec     2.26k   120.00     2.50k    70.00%
  Latency Distribution
     50%   13.90ms
     75%   15.10ms
     90%   17.80ms
     99%  850.00us
  4520 requests in 2.00s, 0.51MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 20
Requests/sec:   2259.50
Transfer/sec:    259.21KB
";

    #[test]
    fn parses_the_report() {
        let report = Report::parse(OUTPUT).expect("a report");
        assert_eq!(
            report,
            Report {
                requests: 4520,
                rejected: 20,
                socket_errors: SocketErrors {
                    connect: 0,
                    read: 2,
                    write: 0,
                    timeout: 1
                },
                requests_per_s: 2259.5,
                p99: Duration::from_micros(850),
            }
        );
        assert_eq!(report.accepted(), 4500);
        assert_eq!(report.errors(), 23);
        assert!((report.accepted_per_s() - 2259.5 * 4500.0 / 4520.0).abs() < 1e-9);
    }

    #[test]
    fn a_clean_report_has_no_error_lines() {
        let clean: String = OUTPUT
            .lines()
            .filter(|line| !line.contains("errors") && !line.contains("Non-2xx"))
            .map(|line| format!("{line}\n"))
            .collect();
        let report = Report::parse(&clean).expect("a report");
        assert_eq!((report.rejected, report.socket_errors.total()), (0, 0));
        assert!(Report::parse("Running 2s test").is_err());
    }

    #[test]
    fn latencies_in_every_unit() {
        assert_eq!(latency("850.00us"), Ok(Duration::from_micros(850)));
        assert_eq!(latency("1.50ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(latency("2.00s"), Ok(Duration::from_secs(2)));
        assert_eq!(latency("1.00m"), Ok(Duration::from_secs(60)));
        assert!(latency("3").is_err());
    }

    #[test]
    fn lua_strings_escape_what_is_not_plain() {
        assert_eq!(
            lua_string(b"a\"b\\c\r\n\x7f"),
            r#""a\034b\092c\013\010\127""#
        );
        assert_eq!(lua_string("é1".as_bytes()), r#""\195\1691""#);
    }
}
