//! The results table (markdown), checked against the targets of issue 7.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::load::{ClosedLoop, Errors, OpenLoop};
use crate::memory::ManyTenants;
use crate::procfs::Resident;

/// The durable gateway's maximum throughput, as a fraction of the bare endpoint's.
pub const THROUGHPUT_TARGET: f64 = 0.30;
/// The gateway's p99 latency at half its maximum rate.
pub const P99_TARGET: Duration = Duration::from_millis(10);
/// Resident memory with 1,000 tenants each enabling three plugins (MB = 10^6 bytes).
pub const MEMORY_TARGET: u64 = 200_000_000;

/// One load target's two runs.
pub struct Measured {
    pub max: ClosedLoop,
    pub at_half: OpenLoop,
}

pub struct Report {
    /// The command line, as a reader would type it.
    pub command: String,
    pub machine: Machine,
    /// One sentence on the load settings.
    pub load: String,
    pub bare: Measured,
    pub gateway: Measured,
    /// `--breakdown`: the gateway's maximum with parts taken away, by variant.
    pub breakdown: Vec<(&'static str, Measured)>,
    /// The gateway's downstream: deliveries seen against events accepted, after the runs.
    pub deliveries: String,
    /// The bare endpoint after its runs, for scale.
    pub bare_resident: Resident,
    pub gateway_ready: Resident,
    pub gateway_after_load: Resident,
    pub many: ManyTenants,
}

impl Report {
    pub fn throughput_ratio(&self) -> f64 {
        self.gateway.max.requests_per_s / self.bare.max.requests_per_s
    }

    /// `(what, measured, met)` for each target of the issue.
    pub fn targets(&self) -> [(String, String, bool); 3] {
        let ratio = self.throughput_ratio();
        let p99 = self.gateway.at_half.p99;
        let rss = self.many.resident.rss;
        [
            (
                format!(
                    "durable gateway throughput ≥ {:.0}% of the bare endpoint's",
                    THROUGHPUT_TARGET * 100.0
                ),
                format!("{ratio:.2}x"),
                ratio >= THROUGHPUT_TARGET && clean(&self.gateway.max.errors),
            ),
            (
                format!("gateway p99 < {} at half its maximum rate", ms(P99_TARGET)),
                ms(p99),
                p99 < P99_TARGET && clean(&self.gateway.at_half.errors),
            ),
            (
                format!(
                    "< {} resident with {} tenants × 3 plugins",
                    mb(MEMORY_TARGET),
                    thousands(self.many.tenants as f64)
                ),
                mb(rss),
                rss < MEMORY_TARGET,
            ),
        ]
    }

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
        let _ = writeln!(out, "{}\n", self.load);

        let _ = writeln!(
            out,
            "| target | max req/s | vs bare | server CPU per request | load generator CPU per request \
             | p50 at half rate | p99 at half rate | max at half rate | non-200 | issue target |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        let bare_max = self.bare.max.requests_per_s;
        let [throughput, latency, memory] = self.targets();
        for (name, measured, target) in [
            (
                "bare axum endpoint (reads the body, `200 {}`)",
                &self.bare,
                "ceiling".to_string(),
            ),
            (
                "gateway: HMAC, Slack plugin, durable SQLite",
                &self.gateway,
                format!(
                    "≥ {THROUGHPUT_TARGET:.2}x: **{}**; p99 < {}: **{}**",
                    verdict(throughput.2),
                    ms(P99_TARGET),
                    verdict(latency.2)
                ),
            ),
        ] {
            let max = &measured.max;
            let _ = writeln!(
                out,
                "| {name} | {} | {:.2}x | {} | {} | {} | {} | {} | {} | {target} |",
                thousands(max.requests_per_s),
                max.requests_per_s / bare_max,
                us(cpu_per_request(max, 0)),
                us(cpu_per_request(max, max.cpu.len() - 1)),
                ms(measured.at_half.p50),
                ms(measured.at_half.p99),
                ms(measured.at_half.max),
                error_count(&max.errors) + error_count(&measured.at_half.errors),
            );
        }
        let gateway_max = &self.gateway.max;
        let _ = writeln!(
            out,
            "\nCPU in the maximum runs (CPU time in the window over its length): bare endpoint \
             {}, load generator {}; gateway {}, its downstream {}, load generator {}. {}\n",
            cores(&self.bare.max, 0),
            cores(&self.bare.max, 1),
            cores(gateway_max, 0),
            cores(gateway_max, 1),
            cores(gateway_max, 2),
            delivered_in_window(gateway_max),
        );
        if !self.breakdown.is_empty() {
            let measured = gateway_max.requests_per_s;
            let _ = writeln!(
                out,
                "Where the time goes (`--breakdown`): the gateway with parts taken away, the same \
                 load (the open loop at the same rate as above), one after another after the runs \
                 above.\n"
            );
            let _ = writeln!(
                out,
                "| gateway variant | max req/s | vs bare | vs the measured gateway | gateway CPU per request \
                 | delivered in the window | p50 at the same rate | p99 at the same rate | non-200 |"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            let rows = std::iter::once((
                "HMAC, Slack plugin, durable SQLite (measured above)",
                &self.gateway,
            ))
            .chain(
                self.breakdown
                    .iter()
                    .map(|(name, m)| (name.trim_start_matches("gateway, "), m)),
            );
            for (name, m) in rows {
                let _ = writeln!(
                    out,
                    "| {name} | {} | {:.2}x | {:.2}x | {} | {} | {} | {} | {} |",
                    thousands(m.max.requests_per_s),
                    m.max.requests_per_s / bare_max,
                    m.max.requests_per_s / measured,
                    us(cpu_per_request(&m.max, 0)),
                    m.max
                        .downstream
                        .map_or_else(|| "—".to_string(), |n| thousands(n as f64)),
                    ms(m.at_half.p50),
                    ms(m.at_half.p99),
                    error_count(&m.max.errors) + error_count(&m.at_half.errors)
                );
            }
            let _ = writeln!(out);
        }

        let _ = writeln!(out, "| memory | VmRSS | VmHWM | issue target |");
        let _ = writeln!(out, "|---|---:|---:|---|");
        let _ = writeln!(
            out,
            "| bare axum endpoint, after the load | {} | {} | — |",
            mb(self.bare_resident.rss),
            mb(self.bare_resident.hwm)
        );
        let _ = writeln!(
            out,
            "| gateway, 1 tenant × Slack, ready, before the load | {} | {} | — |",
            mb(self.gateway_ready.rss),
            mb(self.gateway_ready.hwm)
        );
        let _ = writeln!(
            out,
            "| the same gateway after the load above | {} | {} | — |",
            mb(self.gateway_after_load.rss),
            mb(self.gateway_after_load.hwm)
        );
        let _ = writeln!(
            out,
            "| gateway, {} tenants × 3 plugins (slack, teams, pagerduty), ready in {:.1} s, \
             then {} events delivered | {} | {} | < {}: **{}** |",
            thousands(self.many.tenants as f64),
            self.many.ready_after.as_secs_f64(),
            self.many.events,
            mb(self.many.resident.rss),
            mb(self.many.resident.hwm),
            mb(MEMORY_TARGET),
            verdict(memory.2)
        );
        let _ = writeln!(out);

        let met = [&throughput, &latency, &memory]
            .iter()
            .filter(|t| t.2)
            .count();
        let _ = writeln!(out, "Targets met: {met} of 3.\n");
        for (what, measured, ok) in [throughput, latency, memory] {
            let _ = writeln!(out, "- {what}: {measured}, **{}**", verdict(ok));
        }
        let _ = writeln!(out, "\n{}", self.deliveries);
        for (name, measured) in [("bare endpoint", &self.bare), ("gateway", &self.gateway)] {
            for (run, errors) in [
                ("maximum", &measured.max.errors),
                ("half rate", &measured.at_half.errors),
            ] {
                if !errors.is_empty() {
                    let _ = writeln!(out, "\nNon-200 answers, {name}, {run}: {errors:?}");
                }
            }
        }
        out
    }
}

/// What the numbers were measured on.
pub struct Machine {
    pub cpus: usize,
    pub model: String,
    pub load_average: String,
    pub date: String,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| text.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            model,
            load_average,
            date: utc_now(),
        }
    }
}

/// How many Slack messages reached the downstream while the gateway's load ran.
fn delivered_in_window(run: &ClosedLoop) -> String {
    match run.downstream {
        Some(delivered) => format!(
            "While the gateway accepted {} events in the window, its downstream received {} \
             Slack messages ({:.0}%); the rest were delivered after the load stopped.",
            thousands(run.ok as f64),
            thousands(delivered as f64),
            delivered as f64 * 100.0 / run.ok.max(1) as f64
        ),
        None => String::new(),
    }
}

/// CPU time of watched process `index` per `200` answer in the measured window.
fn cpu_per_request(run: &ClosedLoop, index: usize) -> Duration {
    run.cpu
        .get(index)
        .map_or(Duration::ZERO, |cpu| cpu.div_f64(run.ok.max(1) as f64))
}

/// CPU time of watched process `index` over the window's length: cores kept busy.
fn cores(run: &ClosedLoop, index: usize) -> String {
    let window = run.ok as f64 / run.requests_per_s.max(f64::MIN_POSITIVE);
    let busy = run
        .cpu
        .get(index)
        .map_or(0.0, |cpu| cpu.as_secs_f64() / window.max(f64::MIN_POSITIVE));
    format!("{busy:.2} cores")
}

fn us(duration: Duration) -> String {
    format!("{:.0} µs", duration.as_secs_f64() * 1e6)
}

fn clean(errors: &Errors) -> bool {
    errors.is_empty()
}

fn error_count(errors: &Errors) -> u64 {
    errors.values().sum()
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

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

/// `YYYY-MM-DD HH:MM UTC`, from the system clock.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
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
