//! The replay schedule: traces opened lazily, each sorted within a bounded window, sliced by
//! `--window`, merged by time, compressed by `--speed`, repeated by `--loop` and capped by
//! `--max-rate`. Each item says when, from the start of the replay, its request is due.

use std::iter::Peekable;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::options::{ReplayCounters, ReplayOptions};
use super::order::Reorder;
use super::{TraceError, TraceRequest, detect_format, open};
use crate::scenario::Scenario;

/// A request and when it is due, from the start of the replay (speed applied).
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub at: Duration,
    /// 0 for the first pass over the trace, 1 for the second (`--loop`)...
    pub pass: u32,
    pub request: TraceRequest,
}

type Offsets = Peekable<Box<dyn Iterator<Item = Result<(i64, TraceRequest), TraceError>> + Send>>;

pub struct ReplaySchedule {
    options: ReplayOptions,
    scenario: Arc<Scenario>,
    counters: Arc<ReplayCounters>,
    sources: Vec<Offsets>,
    pass: u32,
    /// Start of this pass and end of the previous item's slot, in ns of replay time.
    pass_start_ns: f64,
    prev_at_ns: Option<f64>,
    /// This pass's largest offset (trace time, window-relative) and its item count.
    last_offset_ns: i64,
    in_pass: u64,
    finished: bool,
}

impl ReplaySchedule {
    /// Opens every trace (checking that each exists and is of a known format) but reads no
    /// request yet.
    pub fn new(
        options: ReplayOptions,
        scenario: Arc<Scenario>,
        counters: Arc<ReplayCounters>,
    ) -> Result<ReplaySchedule, TraceError> {
        let mut s = ReplaySchedule {
            sources: Vec::new(),
            options,
            scenario,
            counters,
            pass: 0,
            pass_start_ns: 0.0,
            prev_at_ns: None,
            last_offset_ns: 0,
            in_pass: 0,
            finished: false,
        };
        s.open_pass()?;
        Ok(s)
    }

    fn open_pass(&mut self) -> Result<(), TraceError> {
        self.sources.clear();
        for spec in &self.options.traces {
            let format = match self.options.format {
                Some(f) => f,
                None => detect_format(&spec.path)?,
            };
            let reader = open(
                spec,
                Some(format),
                &self.scenario,
                self.options.default_endpoint.as_deref(),
            )?;
            let sorted = Reorder::new(reader, spec.path.display().to_string(), format.unit());
            let (from, to) = self.options.window;
            let from = from.as_nanos() as i64;
            let to = to.map(|t| t.as_nanos() as i64);
            let mut origin = None;
            let offsets = sorted
                .map(move |r| {
                    r.map(|t| {
                        let origin = *origin.get_or_insert(t.time_ns);
                        (t.time_ns - origin - from, t.request)
                    })
                })
                // Past the window's end nothing more is read (errors still end the stream).
                .take_while(move |r| match (r, to) {
                    (Ok((offset, _)), Some(to)) => *offset < to - from,
                    _ => true,
                })
                .filter(|r| !matches!(r, Ok((offset, _)) if *offset < 0));
            let boxed: Box<dyn Iterator<Item = _> + Send> = Box::new(offsets);
            self.sources.push(boxed.peekable());
        }
        Ok(())
    }

    /// The next item of the merged traces, in offset order.
    fn next_merged(&mut self) -> Option<Result<(i64, TraceRequest), TraceError>> {
        let mut best: Option<(usize, i64)> = None;
        for (i, s) in self.sources.iter_mut().enumerate() {
            match s.peek() {
                Some(Err(_)) => return s.next(),
                Some(Ok((offset, _))) if best.is_none_or(|(_, b)| *offset < b) => {
                    best = Some((i, *offset));
                }
                _ => {}
            }
        }
        let (i, _) = best?;
        self.sources[i].next()
    }

    /// Starts the next pass when `--loop` asks for one; false when the replay is over.
    fn next_pass(&mut self) -> Result<bool, TraceError> {
        let more = match self.options.passes {
            None => true,
            Some(n) => u64::from(self.pass) + 1 < n,
        };
        if !more || self.in_pass == 0 {
            return Ok(false);
        }
        // A pass lasts the window, or the trace's span plus one mean gap (so the last
        // request of a pass and the first of the next do not coincide).
        let span_ns = match self.options.window {
            (from, Some(to)) => (to - from).as_nanos() as f64,
            _ => {
                let last = self.last_offset_ns as f64;
                last + if self.in_pass > 1 {
                    last / (self.in_pass - 1) as f64
                } else {
                    1e9
                }
            }
        };
        self.pass_start_ns += span_ns / self.options.speed;
        self.pass += 1;
        self.in_pass = 0;
        self.last_offset_ns = 0;
        self.open_pass()?;
        Ok(true)
    }
}

impl Iterator for ReplaySchedule {
    type Item = Result<Scheduled, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.finished {
                return None;
            }
            let (offset, request) = match self.next_merged() {
                Some(Ok(item)) => item,
                Some(Err(e)) if e.is_line() && self.options.lenient => {
                    self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut first) = self.counters.first_skipped.lock() {
                        first.get_or_insert_with(|| e.to_string());
                    }
                    continue;
                }
                Some(Err(e)) => {
                    self.finished = true;
                    return Some(Err(e));
                }
                None => match self.next_pass() {
                    Ok(true) => continue,
                    Ok(false) => {
                        self.finished = true;
                        return None;
                    }
                    Err(e) => {
                        self.finished = true;
                        return Some(Err(e));
                    }
                },
            };
            self.last_offset_ns = self.last_offset_ns.max(offset);
            self.in_pass += 1;
            let mut at_ns = self.pass_start_ns + offset as f64 / self.options.speed;
            if let (Some(rate), Some(prev)) = (self.options.max_rate, self.prev_at_ns) {
                at_ns = at_ns.max(prev + 1e9 / rate);
            }
            self.prev_at_ns = Some(at_ns);
            self.counters.scheduled.fetch_add(1, Ordering::Relaxed);
            self.counters
                .last_at_ns
                .fetch_max(at_ns.max(0.0) as u64, Ordering::Relaxed);
            return Some(Ok(Scheduled {
                at: Duration::from_nanos(at_ns.max(0.0).round() as u64),
                pass: self.pass,
                request,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TraceSpec;

    fn schedule(
        text: &str,
        tweak: impl FnOnce(&mut ReplayOptions),
    ) -> Vec<Result<Scheduled, TraceError>> {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, text).expect("write");
        let mut options = ReplayOptions::new(vec![TraceSpec {
            path: p,
            endpoint: None,
        }]);
        tweak(&mut options);
        let scenario = Arc::new(Scenario::builtin().expect("builtin"));
        ReplaySchedule::new(options, scenario, Arc::default())
            .expect("open")
            .collect()
    }

    fn times_ms(items: &[Result<Scheduled, TraceError>]) -> Vec<u64> {
        items
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|s| s.at.as_millis() as u64))
            .collect()
    }

    const TRACE: &str = concat!(
        "{\"offset_ms\": 1000, \"endpoint\": \"health\"}\n",
        "{\"offset_ms\": 3000, \"endpoint\": \"health\"}\n",
        "{\"offset_ms\": 2000, \"endpoint\": \"health\"}\n",
        "{\"offset_ms\": 5000, \"endpoint\": \"health\"}\n",
    );

    #[test]
    fn gaps_are_kept_sorted_and_divided_by_speed() {
        assert_eq!(
            times_ms(&schedule(TRACE, |_| {})),
            vec![0, 1000, 2000, 4000]
        );
        assert_eq!(
            times_ms(&schedule(TRACE, |o| o.speed = 2.0)),
            vec![0, 500, 1000, 2000]
        );
    }

    #[test]
    fn window_loop_and_max_rate() {
        let w = schedule(TRACE, |o| {
            o.window = (Duration::from_secs(1), Some(Duration::from_secs(3)))
        });
        assert_eq!(times_ms(&w), vec![0, 1000]);
        // Span 4 s + mean gap 4/3 s per pass.
        let looped = schedule(TRACE, |o| o.passes = Some(2));
        assert_eq!(
            times_ms(&looped),
            vec![0, 1000, 2000, 4000, 5333, 6333, 7333, 9333]
        );
        let capped = schedule(TRACE, |o| o.max_rate = Some(0.5));
        assert_eq!(times_ms(&capped), vec![0, 2000, 4000, 6000]);
    }

    #[test]
    fn traces_merge_by_offset_each_from_its_own_start() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = dir.path().join("a.jsonl");
        let b = dir.path().join("b.jsonl");
        std::fs::write(&a, TRACE).expect("write");
        // Absolute times, 1.5 s apart, starting at an arbitrary moment.
        std::fs::write(
            &b,
            concat!(
                "{\"timestamp\": \"2026-11-29T05:00:10Z\", \"endpoint\": \"system_status\"}\n",
                "{\"timestamp\": \"2026-11-29T05:00:11.5Z\", \"endpoint\": \"system_status\"}\n",
            ),
        )
        .expect("write");
        let options = ReplayOptions::new(vec![
            TraceSpec {
                path: a,
                endpoint: None,
            },
            TraceSpec {
                path: b,
                endpoint: None,
            },
        ]);
        let scenario = Arc::new(Scenario::builtin().expect("builtin"));
        let items: Vec<_> = ReplaySchedule::new(options, scenario.clone(), Arc::default())
            .expect("open")
            .collect();
        let got: Vec<(u64, String)> = items
            .iter()
            .map(|r| {
                let s = r.as_ref().expect("ok");
                (
                    s.at.as_millis() as u64,
                    scenario.endpoints[s.request.endpoint].name.clone(),
                )
            })
            .collect();
        let named = |ms: u64, e: &str| (ms, e.to_string());
        assert_eq!(
            got,
            vec![
                named(0, "health"),
                named(0, "system_status"),
                named(1000, "health"),
                named(1500, "system_status"),
                named(2000, "health"),
                named(4000, "health"),
            ]
        );
    }

    #[test]
    fn lenient_skips_and_counts_bad_lines_strict_stops_at_the_first() {
        let text = format!(
            "{TRACE}{{\"offset_ms\": 6000, \"endpoint\": \"x\"}}\n{{\"offset_ms\": 7000, \"endpoint\": \"health\"}}\n"
        );
        // Requests are held for sorting, so the error comes out before them and ends the
        // replay: nothing after a bad line is sent.
        let strict = schedule(&text, |_| {});
        assert_eq!(strict.len(), 1);
        let err = strict[0].as_ref().expect_err("bad line").to_string();
        assert!(err.contains("t.jsonl:5: unknown endpoint `x`"), "{err}");
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, &text).expect("write");
        let counters = Arc::new(ReplayCounters::default());
        let options = ReplayOptions {
            lenient: true,
            ..ReplayOptions::new(vec![TraceSpec {
                path: p,
                endpoint: None,
            }])
        };
        let scenario = Arc::new(Scenario::builtin().expect("builtin"));
        let items: Vec<_> = ReplaySchedule::new(options, scenario, counters.clone())
            .expect("open")
            .collect();
        assert_eq!(times_ms(&items), vec![0, 1000, 2000, 4000, 6000]);
        assert!(
            counters
                .skipped_note()
                .expect("note")
                .contains("skipped 1 bad trace line(s); the first: ")
        );
    }
}
