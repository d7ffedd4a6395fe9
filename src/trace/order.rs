//! Sorting a trace on the fly within a bounded window. Real traces are nearly sorted (a
//! recorder writes requests as they finish; a run's rows are in completion order), so a
//! request is held until the trace has moved `window` past it; one that comes later than
//! that is reported, never silently sent out of order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{TimedRequest, TraceError};

/// How far back in trace time a request may come and still be put in its place.
pub const REORDER_WINDOW_NS: i64 = 120 * 1_000_000_000;
/// At most this many requests are held, whatever their times: a fast trace's 120 s would
/// otherwise be a large part of it in memory.
const MAX_HELD: usize = 1 << 16;

pub struct Reorder<I> {
    inner: I,
    held: BinaryHeap<Reverse<Held>>,
    newest: i64,
    last_out: Option<(i64, String)>,
    done: bool,
    file: String,
    unit: &'static str,
}

struct Held(TimedRequest, u64);

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.0.time_ns, self.1) == (other.0.time_ns, other.1)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.time_ns, self.1).cmp(&(other.0.time_ns, other.1))
    }
}

impl<I: Iterator<Item = Result<TimedRequest, TraceError>>> Reorder<I> {
    pub fn new(inner: I, file: String, unit: &'static str) -> Reorder<I> {
        Reorder {
            inner,
            held: BinaryHeap::new(),
            newest: i64::MIN,
            last_out: None,
            done: false,
            file,
            unit,
        }
    }

    fn ready(&self) -> bool {
        match self.held.peek() {
            Some(Reverse(h)) => {
                self.done
                    || self.held.len() >= MAX_HELD
                    || h.0.time_ns.saturating_add(REORDER_WINDOW_NS) <= self.newest
            }
            None => false,
        }
    }
}

impl<I: Iterator<Item = Result<TimedRequest, TraceError>>> Iterator for Reorder<I> {
    type Item = Result<TimedRequest, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.ready() {
            if self.done {
                return None;
            }
            match self.inner.next() {
                None => self.done = true,
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(r)) => {
                    if let Some((t, line)) = &self.last_out
                        && r.time_ns < *t
                    {
                        return Some(Err(TraceError::Line {
                            file: self.file.clone(),
                            unit: self.unit,
                            line: r.request.line,
                            reason: format!(
                                "{:.3} s earlier than {line}, which was already sent: the trace is out of order by more than the {} s sorted on the fly; sort it first",
                                (*t - r.time_ns) as f64 / 1e9,
                                REORDER_WINDOW_NS / 1_000_000_000
                            ),
                        }));
                    }
                    self.newest = self.newest.max(r.time_ns);
                    let order = r.request.line;
                    self.held.push(Reverse(Held(r, order)));
                }
            }
        }
        let Reverse(Held(r, _)) = self.held.pop()?;
        self.last_out = Some((r.time_ns, format!("{} {}", self.unit, r.request.line)));
        Some(Ok(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TraceRequest;
    use std::sync::Arc;

    fn at(ns: i64, line: u64) -> Result<TimedRequest, TraceError> {
        Ok(TimedRequest {
            time_ns: ns,
            request: TraceRequest {
                endpoint: 0,
                method: None,
                path: None,
                headers: Vec::new(),
                body: None,
                max_tokens: None,
                source: Arc::from("t"),
                line,
            },
        })
    }

    #[test]
    fn nearly_sorted_traces_come_out_sorted_and_far_jumps_are_reported() {
        let s = 1_000_000_000;
        let input = vec![
            at(5 * s, 1),
            at(3 * s, 2),
            at(4 * s, 3),
            at(200 * s, 4),
            at(2 * s, 5),
        ];
        let out: Vec<_> = Reorder::new(input.into_iter(), "t".into(), "line").collect();
        let times: Vec<i64> = out
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|r| r.time_ns / s))
            .collect();
        assert_eq!(times, vec![3, 4, 5, 200]);
        let err = out
            .iter()
            .find_map(|r| r.as_ref().err())
            .expect("late line");
        assert!(
            err.to_string().contains("t:5: 3.000 s earlier than line 1"),
            "{err}"
        );
    }
}
