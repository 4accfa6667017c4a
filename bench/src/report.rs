//! The results table (markdown), checked against the targets of issue 7.

use std::fmt::Write as _;
use std::time::Duration;

use crate::load::OpenLoop;
use crate::machine::Machine;
use crate::measure::{Maximum, DELIVERY_GRACE, DRAIN_TIMEOUT};
use crate::memory::ManyTenants;
use crate::payload;
use crate::procfs::Resident;
use crate::setup::Setup;

/// The durable gateway's maximum throughput the issue aims at, beyond its target
/// ([`Setup::target_ratio`]).
pub const RATIO_AIM: f64 = 0.40;
/// The share of the durable gateway's accepted events delivered by the window's end plus
/// [`DELIVERY_GRACE`].
pub const DELIVERED_TARGET: f64 = 0.90;
/// The durable gateway's p99 latency at half its maximum rate, open loop.
pub const P99_TARGET: Duration = Duration::from_millis(5);
/// The durable gateway's CPU time per accepted and delivered event the issue aims at (printed,
/// not a pass/fail target).
pub const CPU_AIM: Duration = Duration::from_micros(60);
/// Resident memory with 1,000 tenants each enabling three plugins (MB = 10^6 bytes).
pub const MEMORY_TARGET: u64 = 200_000_000;

/// One target's two runs.
pub struct Measured {
    /// The closed-loop maximum (wrk).
    pub max: Maximum,
    /// The open loop at the fixed rate.
    pub at_rate: OpenLoop,
}

impl Measured {
    /// No error in either run.
    fn clean(&self) -> bool {
        self.max.wrk.errors() == 0 && self.at_rate.errors.is_empty()
    }
}

/// Everything one run measured, and how.
pub struct Report {
    /// The command line, as a reader would type it.
    pub command: String,
    pub machine: Machine,
    /// The load's settings.
    pub connections: usize,
    pub warm_up: Duration,
    pub duration: Duration,
    /// The open loop's rate: half the durable SQLite gateway's maximum.
    pub rate: f64,
    /// The ceiling.
    pub bare: Measured,
    /// Each gateway configuration, [`Setup::Sqlite`] first.
    pub gateways: Vec<(Setup, Measured)>,
    /// The bare endpoint after its runs, for scale.
    pub bare_resident: Resident,
    /// The durable SQLite gateway once ready, and after its runs.
    pub gateway_ready: Resident,
    pub gateway_after_load: Resident,
    /// The memory probe.
    pub many: ManyTenants,
}

/// One of the targets: what, the measured figure, and whether it was met.
struct Checked {
    what: String,
    measured: String,
    met: bool,
}

impl Report {
    fn durable(&self) -> &Measured {
        self.gateways
            .iter()
            .find(|(setup, _)| *setup == Setup::Sqlite)
            .map(|(_, measured)| measured)
            .expect("the durable SQLite gateway was measured")
    }

    fn ratio(&self, measured: &Measured) -> f64 {
        measured.max.per_s() / self.bare.max.per_s().max(f64::MIN_POSITIVE)
    }

    /// The throughput target of `setup` (for the durable gateway with its deliveries).
    fn throughput_target(&self, setup: Setup, measured: &Measured) -> Checked {
        let ratio = self.ratio(measured);
        let mut met = ratio >= setup.target_ratio() && measured.max.wrk.errors() == 0;
        let mut what = format!(
            "{}: ≥ {:.2}x the bare endpoint's maximum",
            setup.name(),
            setup.target_ratio()
        );
        let mut figure = format!("{ratio:.2}x");
        if setup == Setup::Sqlite {
            let delivered = measured.max.delivered_in_time().unwrap_or(0.0);
            met &= delivered >= DELIVERED_TARGET;
            let _ = write!(
                what,
                " (aim {RATIO_AIM:.2}x), ≥ {:.0}% of its accepted events delivered by the \
                 window's end + {} s",
                DELIVERED_TARGET * 100.0,
                DELIVERY_GRACE.as_secs()
            );
            let _ = write!(figure, ", {}", percent(delivered));
        }
        what.push_str(", no errors");
        Checked {
            what,
            measured: figure,
            met,
        }
    }

    fn latency_target(&self) -> Checked {
        let durable = self.durable();
        Checked {
            what: format!(
                "durable SQLite gateway: p99 ≤ {} at half its maximum ({:.0} req/s, open loop), \
                 no errors",
                ms(P99_TARGET),
                self.rate
            ),
            measured: ms(durable.at_rate.p99),
            met: durable.at_rate.p99 <= P99_TARGET && durable.at_rate.errors.is_empty(),
        }
    }

    fn memory_target(&self) -> Checked {
        let rss = self.many.resident.rss;
        Checked {
            what: format!(
                "< {} resident with {} tenants × 3 plugins",
                mb(MEMORY_TARGET),
                thousands(self.many.tenants as f64)
            ),
            measured: mb(rss),
            met: rss < MEMORY_TARGET,
        }
    }

    /// Every pass/fail target of the issue.
    fn targets(&self) -> Vec<Checked> {
        let mut targets: Vec<Checked> = self
            .gateways
            .iter()
            .map(|(setup, measured)| self.throughput_target(*setup, measured))
            .collect();
        targets.push(self.latency_target());
        targets.push(self.memory_target());
        targets
    }

    /// The whole report, as written to `bench/results.md`.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(out, "# Published benchmark: results\n");
        let _ = writeln!(
            out,
            "`{}` on {}: {} CPUs ({}), load average {} at start. The machine is shared: \
             compare the ratios, not the absolute figures.\n",
            self.command, m.date, m.cpus, m.model, m.load_average
        );
        let _ = writeln!(
            out,
            "Every request: `POST {}`, a {}-byte `checkEvaluation` (one failing and one passing \
             check, {} distinct bodies in turn) signed with HMAC-SHA256, over **{} HTTP/1.1 \
             keep-alive connections** from one load generator on the same machine ({} build). \
             Every gateway: one tenant verifying HMAC-SHA256 with the Slack plugin delivering to \
             a local sink (one message per event); with dedup on, which keys on the signed body, \
             every request has a body of its own and the tenant verifies a token header instead \
             (wrk cannot sign per request). Maximum: `wrk -t1 -c{} \
             -d{}s --latency` (closed loop) after a {} s warm-up run; accepted (2xx) answers per \
             second. Latency: open loop at half the durable SQLite gateway's maximum ({:.0} \
             req/s, the same rate for every target) for {} s, from each request's scheduled send \
             time.\n",
            payload::path(),
            payload::BODY_BYTES,
            payload::BODIES,
            self.connections,
            if cfg!(debug_assertions) {
                "**debug**"
            } else {
                "release"
            },
            self.connections,
            self.duration.as_secs(),
            self.warm_up.as_secs(),
            self.rate,
            self.duration.as_secs(),
        );
        self.throughput_table(&mut out);
        self.memory_table(&mut out);

        let targets = self.targets();
        let met = targets.iter().filter(|t| t.met).count();
        let _ = writeln!(out, "Targets met: {met} of {}.\n", targets.len());
        for target in &targets {
            let _ = writeln!(
                out,
                "- {}: {}, **{}**",
                target.what,
                target.measured,
                verdict(target.met)
            );
        }
        let cpu = self.durable().max.cpu_per_event();
        let _ = writeln!(
            out,
            "- printed, not a target: the durable SQLite gateway's CPU per accepted and \
             delivered event, {} (aim ≤ {}: {})",
            us(cpu),
            us(CPU_AIM),
            if cpu <= CPU_AIM { "met" } else { "not met" }
        );
        self.errors(&mut out);
        out
    }

    fn throughput_table(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "| target | max req/s | vs bare | server CPU per event | wrk CPU per request \
             | delivered by end + {} s | all delivered | p99 at max (wrk) | p50 at {:.0} req/s \
             | p99 at {:.0} req/s | max at {:.0} req/s | errors (max / at rate) | issue target |",
            DELIVERY_GRACE.as_secs(),
            self.rate,
            self.rate,
            self.rate
        );
        let _ = writeln!(
            out,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        );
        let bare = std::iter::once((
            "bare axum endpoint (reads the body, `200 {}`)",
            &self.bare,
            "ceiling".to_string(),
        ));
        let gateways = self.gateways.iter().map(|(setup, measured)| {
            let mut target = format!(
                "≥ {:.2}x: **{}**",
                setup.target_ratio(),
                verdict(self.throughput_target(*setup, measured).met)
            );
            if *setup == Setup::Sqlite {
                let _ = write!(
                    target,
                    " (with ≥ {:.0}% delivered); p99 ≤ {}: **{}**",
                    DELIVERED_TARGET * 100.0,
                    ms(P99_TARGET),
                    verdict(self.latency_target().met)
                );
            }
            (setup.name(), measured, target)
        });
        for (name, measured, target) in bare.chain(gateways) {
            let max = &measured.max;
            let (in_time, all) = match &max.deliveries {
                Some(deliveries) => (
                    percent(max.delivered_in_time().unwrap_or(0.0)),
                    match deliveries.all_after {
                        _ if deliveries.in_time >= max.wrk.accepted() => {
                            format!("within {} s", DELIVERY_GRACE.as_secs())
                        }
                        Some(after) => format!("{:.1} s after", after.as_secs_f64()),
                        None => format!("not within {} s", DRAIN_TIMEOUT.as_secs()),
                    },
                ),
                None => ("—".to_string(), "—".to_string()),
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {:.2}x | {} | {} | {in_time} | {all} | {} | {} | {} | {} \
                 | {} / {} | {target} |",
                thousands(max.per_s()),
                self.ratio(measured),
                us(max.cpu_per_event()),
                us(max.wrk_cpu_per_request()),
                ms(max.wrk.p99),
                ms(measured.at_rate.p50),
                ms(measured.at_rate.p99),
                ms(measured.at_rate.max),
                max.wrk.errors(),
                measured.at_rate.errors.values().sum::<u64>(),
            );
        }
        let _ = writeln!(
            out,
            "\nServer CPU per event: for a gateway, its process's CPU time (`/proc/<pid>/stat`) \
             from the start of the measured window until every event it accepted in the window \
             had reached its sink, over those events (PostgreSQL's own server processes not \
             included); for the bare endpoint, its CPU time in the window per answer. \
             \"Delivered by end + {} s\": the share of the window's accepted events whose Slack \
             message had reached the sink {} s after the window; \"all delivered\": when the last \
             one had, after the window. A target whose maximum is below the fixed rate queues \
             requests in the open loop: its latencies there are the queue's.\n",
            DELIVERY_GRACE.as_secs(),
            DELIVERY_GRACE.as_secs()
        );
    }

    fn memory_table(&self, out: &mut String) {
        let _ = writeln!(out, "| memory | VmRSS | VmHWM | issue target |");
        let _ = writeln!(out, "|---|---:|---:|---|");
        for (name, resident) in [
            ("bare axum endpoint, after the load", &self.bare_resident),
            (
                "durable SQLite gateway, 1 tenant × Slack, ready, before the load",
                &self.gateway_ready,
            ),
            ("the same gateway after its load", &self.gateway_after_load),
        ] {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | — |",
                mb(resident.rss),
                mb(resident.hwm)
            );
        }
        let _ = writeln!(
            out,
            "| gateway, {} tenants × 3 plugins (slack, teams, pagerduty), ready in {:.1} s, \
             then {} events delivered | {} | {} | < {}: **{}** |\n",
            thousands(self.many.tenants as f64),
            self.many.ready_after.as_secs_f64(),
            self.many.events,
            mb(self.many.resident.rss),
            mb(self.many.resident.hwm),
            mb(MEMORY_TARGET),
            verdict(self.memory_target().met)
        );
    }

    /// The errors behind the table's counts, if any.
    fn errors(&self, out: &mut String) {
        let runs = std::iter::once(("bare endpoint", &self.bare)).chain(
            self.gateways
                .iter()
                .map(|(setup, measured)| (setup.name(), measured)),
        );
        for (name, measured) in runs {
            if measured.clean() {
                continue;
            }
            let wrk = &measured.max.wrk;
            let _ = writeln!(
                out,
                "\nErrors, {name}: maximum: {} answers ≥ 400, socket errors {:?}; at the fixed \
                 rate: {:?}",
                wrk.rejected, wrk.socket_errors, measured.at_rate.errors
            );
        }
    }
}

/// Microseconds, no decimals.
pub fn us(duration: Duration) -> String {
    format!("{:.0} µs", duration.as_secs_f64() * 1e6)
}

/// `12.3%`.
fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

/// Milliseconds: two decimals under 10 ms.
pub fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// Megabytes (10^6 bytes), one decimal.
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// A whole number with thousands separators.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(ms(Duration::from_micros(1234)), "1.23 ms");
        assert_eq!(ms(Duration::from_millis(25)), "25 ms");
        assert_eq!(mb(123_456_789), "123.5 MB");
    }
}
