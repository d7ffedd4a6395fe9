//! CPU, memory and disk I/O of a local process, read from Linux's /proc. Elsewhere (or for a
//! process that is gone) the reading is `None` and the sampler says so once.

/// Linux reports CPU times in clock ticks of USER_HZ, which is 100 on every architecture
/// Linux supports today (the kernel's own HZ may differ; /proc always uses USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessUsage {
    pub cpu_seconds: f64,
    pub resident_bytes: f64,
    /// Bytes read from and written to storage; `None` when /proc/PID/io is not readable.
    pub io: Option<(f64, f64)>,
}

/// The usage of `pid`, or of this process when `None`.
pub fn usage(pid: Option<u32>) -> Option<ProcessUsage> {
    let dir = match pid {
        Some(p) => format!("/proc/{p}"),
        None => "/proc/self".to_string(),
    };
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    let io = std::fs::read_to_string(format!("{dir}/io"))
        .ok()
        .and_then(|s| {
            let field = |name: &str| {
                s.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.trim().parse::<f64>().ok())
            };
            Some((field("read_bytes:")?, field("write_bytes:")?))
        });
    Some(ProcessUsage {
        cpu_seconds: ticks / TICKS_PER_SECOND,
        resident_bytes: rss_kb * 1024.0,
        io,
    })
}

/// CPU cores this machine offers to a process.
pub fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_uses_memory_and_its_cpu_time_grows() {
        let Some(before) = usage(None) else {
            return; // not Linux: nothing to read
        };
        assert!(before.resident_bytes > 1e6, "{before:?}");
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed().as_millis() < 300 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = usage(None).expect("still readable");
        assert!(
            after.cpu_seconds > before.cpu_seconds,
            "{before:?} {after:?}"
        );
        assert!(usage(Some(u32::MAX)).is_none());
    }
}
