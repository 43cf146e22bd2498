//! The process's own resource use, read from `/proc/self` when `/metrics` is scraped (Linux; on
//! other systems every value is absent and the metrics are left out).

use std::fs;

/// Linux reports CPU time in `/proc/<pid>/stat` in clock ticks of `USER_HZ`, which the kernel's ABI
/// fixes at 100 on every architecture (`sysconf(_SC_CLK_TCK)` returns it).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// User and system CPU time, in seconds.
    pub cpu_seconds: Option<f64>,
    pub resident_memory_bytes: Option<u64>,
    pub virtual_memory_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub threads: Option<u64>,
}

pub fn read() -> ProcessStats {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |field: &str| status_field(&status, field).map(|kib| kib.saturating_mul(1024));
    ProcessStats {
        cpu_seconds: fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| cpu_seconds(&stat)),
        resident_memory_bytes: kib("VmRSS:"),
        virtual_memory_bytes: kib("VmSize:"),
        open_fds: fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| entries.count() as u64),
        max_fds: fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|limits| max_open_files(&limits)),
        threads: status_field(&status, "Threads:"),
    }
}

/// `utime + stime` of a `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and
/// may hold spaces or parentheses itself: the fields are counted after its last `)`.
fn cpu_seconds(stat: &str) -> Option<f64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // After the name: state is field 3, so utime (14) and stime (15) are the 12th and 13th.
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime.saturating_add(stime) as f64 / TICKS_PER_SECOND)
}

/// The first number on the `field` line of `/proc/self/status` (`VmRSS:   1234 kB`).
fn status_field(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The soft limit of `Max open files` in `/proc/self/limits` (`unlimited` is left out).
fn max_open_files(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_counted_after_the_last_parenthesis() {
        let stat = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 3 0 9 1 2";
        assert_eq!(cpu_seconds(stat), Some(4.0));
        assert_eq!(cpu_seconds("42 (x) S 1"), None);
    }

    #[test]
    fn limits_and_status_fields_parse() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(
            max_open_files("Max open files  unlimited unlimited files"),
            None
        );
        assert_eq!(
            status_field("Name:\tx\nVmRSS:\t  2048 kB\n", "VmRSS:"),
            Some(2048)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reads_plausibly() {
        let stats = read();
        assert!(stats
            .resident_memory_bytes
            .is_some_and(|rss| rss > 1024 * 1024));
        assert!(stats.open_fds.is_some_and(|fds| fds >= 3));
        assert!(stats.threads.is_some_and(|threads| threads >= 1));
        assert!(stats.cpu_seconds.is_some_and(|cpu| cpu >= 0.0));
    }
}
