//! What a replay is asked to do (`--speed`, `--window`, `--loop`, `--max-rate`, `--lenient`)
//! and what it counted while reading, shared with the runner for the end-of-run summary.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Format, TraceSpec};
use crate::duration::parse_duration;

#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOptions {
    pub traces: Vec<TraceSpec>,
    pub format: Option<Format>,
    /// Endpoint of traces that name none (the Azure CSV): `--trace-endpoint`.
    pub default_endpoint: Option<String>,
    /// Recorded gaps are divided by this.
    pub speed: f64,
    /// Only requests whose offset from the trace's start is in `[from, to)`.
    pub window: (Duration, Option<Duration>),
    /// Passes over the trace: 1 normally, `None` for endless (`--loop` without a count).
    pub passes: Option<u64>,
    /// At most this many requests per second: later requests are pushed back.
    pub max_rate: Option<f64>,
    /// Bad lines are skipped and counted instead of ending the replay.
    pub lenient: bool,
}

impl ReplayOptions {
    /// The traces once, at their own speed, whole, uncapped, stopping at a bad line.
    pub fn new(traces: Vec<TraceSpec>) -> ReplayOptions {
        ReplayOptions {
            traces,
            format: None,
            default_endpoint: None,
            speed: 1.0,
            window: (Duration::ZERO, None),
            passes: Some(1),
            max_rate: None,
            lenient: false,
        }
    }
}

/// What the replay read, shared with the runner for the summary.
#[derive(Debug, Default)]
pub struct ReplayCounters {
    pub scheduled: AtomicU64,
    /// When the latest scheduled request is due (ns from the start of the replay).
    pub last_at_ns: AtomicU64,
    pub skipped: AtomicU64,
    pub first_skipped: Mutex<Option<String>>,
}

impl ReplayCounters {
    pub fn skipped_note(&self) -> Option<String> {
        let n = self.skipped.load(Ordering::Relaxed);
        (n > 0).then(|| {
            let first = self
                .first_skipped
                .lock()
                .ok()
                .and_then(|f| f.clone())
                .unwrap_or_default();
            format!("--lenient skipped {n} bad trace line(s); the first: {first}")
        })
    }
}

/// `FROM..TO`, `FROM..` or `..TO`, each a duration from the trace's start (`--window`).
pub fn parse_window(text: &str) -> Result<(Duration, Option<Duration>), String> {
    let (from, to) = text
        .split_once("..")
        .ok_or("expected FROM..TO such as 10m..20m")?;
    let from = match from.trim() {
        "" => Duration::ZERO,
        f => parse_duration(f)?,
    };
    let to = match to.trim() {
        "" => None,
        t => Some(parse_duration(t)?),
    };
    if to.is_some_and(|t| t <= from) {
        return Err("the window ends before it starts".into());
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let m = |n: u64| Duration::from_secs(60 * n);
        assert_eq!(parse_window("10m..20m"), Ok((m(10), Some(m(20)))));
        assert_eq!(parse_window("..5m"), Ok((Duration::ZERO, Some(m(5)))));
        assert_eq!(parse_window("5m.."), Ok((m(5), None)));
        assert!(parse_window("20m..10m").is_err());
        assert!(parse_window("10m").is_err());
    }
}
