//! What Linux tells about a process in `/proc/<pid>/`: resident memory and CPU time.

use std::time::Duration;

/// `/proc/<pid>/stat` counts CPU time in `USER_HZ` ticks, 100 a second on every Linux ABI.
const TICKS_PER_SECOND: u64 = 100;

/// Resident set now and at its peak, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Resident {
    /// `VmRSS`.
    pub rss: u64,
    /// `VmHWM`.
    pub hwm: u64,
}

/// `VmRSS` and `VmHWM` of `pid`.
pub fn resident(pid: u32) -> Resident {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let field = |name: &str| -> u64 {
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("{path} has no {name}"));
        let kib: u64 = line
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{path}: {name}{line}: {e}"));
        kib * 1024
    };
    Resident {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
    }
}

/// User plus system CPU time `pid` has used, all its threads together.
pub fn cpu_time(pid: u32) -> Duration {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')').expect("the command name's end") + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of the whole line; `fields[0]` is field 3.
    let ticks: u64 = [11, 12]
        .iter()
        .map(|&i| fields[i].parse::<u64>().expect("a tick count"))
        .sum();
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let resident = resident(me);
        assert!(resident.rss > 0 && resident.hwm >= resident.rss);
        let before = cpu_time(me);
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(50) {
            std::hint::black_box(0);
        }
        assert!(cpu_time(me) >= before);
    }
}
