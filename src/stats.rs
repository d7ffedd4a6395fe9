//! Live statistics of a run from HdrHistogram (3 significant digits, never an average of
//! percentiles): for the live line, the stop conditions and the live exporter. The end-of-run
//! table and verdict are not from here: they come from the run's own files, exact, through
//! the same judge as `analyze` (aurax_analysis::judge). Same definitions as there: latency of
//! successful responses; failures, dropped arrivals included, over arrivals.

use std::collections::BTreeMap;
use std::sync::Arc;

use hdrhistogram::Histogram;

use aurax_schema::Outcome;

use crate::outcome::{RequestOutcome, entry_for};
use crate::prom::PromCounters;

/// 1 µs to 1 hour at 3 significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid")
}

#[derive(Debug, Clone)]
pub struct EndpointStats {
    /// Requests sent plus arrivals dropped unsent.
    pub arrivals: u64,
    /// Arrivals that failed, dropped ones included.
    pub failures: u64,
    pub dropped: u64,
    /// Sent and cut off unanswered when the run stopped.
    pub cancelled: u64,
    /// Sent a second time (`sends` 2: an idempotent request whose reused connection closed
    /// unanswered).
    pub resent: u64,
    /// Latency of successful responses from the actual send (µs).
    pub latency: Histogram<u64>,
}

impl Default for EndpointStats {
    fn default() -> Self {
        EndpointStats {
            arrivals: 0,
            failures: 0,
            dropped: 0,
            cancelled: 0,
            resent: 0,
            latency: new_histogram(),
        }
    }
}

impl EndpointStats {
    fn record(&mut self, o: &RequestOutcome) {
        self.arrivals += 1;
        if o.sends > 1 {
            self.resent += 1;
        }
        if o.outcome.is_failure() {
            self.failures += 1;
        }
        if o.outcome == Outcome::Dropped {
            self.dropped += 1;
        } else if o.outcome == Outcome::Cancelled {
            self.cancelled += 1;
        } else if o.outcome == Outcome::Ok {
            self.latency.saturating_record(o.latency_us.max(1) as u64);
        }
    }

    pub fn error_rate(&self) -> f64 {
        if self.arrivals == 0 {
            0.0
        } else {
            self.failures as f64 / self.arrivals as f64
        }
    }
}

/// What one load stage saw, for stop conditions judged per stage.
#[derive(Debug, Clone, Default)]
pub struct StageStats {
    pub target: f64,
    pub all: EndpointStats,
    pub first_send_us: Option<i64>,
    pub last_send_us: Option<i64>,
}

impl StageStats {
    pub fn span_s(&self) -> f64 {
        match (self.first_send_us, self.last_send_us) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e6,
            _ => 0.0,
        }
    }
}

#[derive(Debug)]
pub struct RunStats {
    /// Per load stage (index), all endpoints together.
    pub stages: BTreeMap<u32, StageStats>,
    pub endpoints: BTreeMap<Arc<str>, EndpointStats>,
    pub total: EndpointStats,
    /// How late requests went out against their schedule (µs): the generator's own delay.
    pub lateness: Histogram<u64>,
    /// The same outcomes in Prometheus terms, for the live exporter.
    pub prom: PromCounters,
    window: EndpointStats,
}

impl Default for RunStats {
    fn default() -> Self {
        RunStats {
            stages: BTreeMap::new(),
            endpoints: BTreeMap::new(),
            total: EndpointStats::default(),
            lateness: new_histogram(),
            prom: PromCounters::default(),
            window: EndpointStats::default(),
        }
    }
}

/// What the live line shows for the last interval.
#[derive(Debug, Clone, Copy)]
pub struct WindowSnapshot {
    pub requests: u64,
    pub p95_ms: f64,
    pub total_requests: u64,
    pub total_failures: u64,
}

impl RunStats {
    pub fn record(&mut self, o: &RequestOutcome) {
        entry_for(&mut self.endpoints, &o.endpoint).record(o);
        self.total.record(o);
        self.window.record(o);
        self.prom.record(o);
        self.lateness
            .saturating_record((o.actual_send_us - o.intended_send_us).max(0) as u64);
        let stage = self.stages.entry(o.stage).or_default();
        stage.target = o.stage_target;
        stage.all.record(o);
        stage.first_send_us = Some(
            stage
                .first_send_us
                .map_or(o.actual_send_us, |f| f.min(o.actual_send_us)),
        );
        stage.last_send_us = Some(
            stage
                .last_send_us
                .map_or(o.actual_send_us, |l| l.max(o.actual_send_us)),
        );
    }

    /// Returns the interval since the last call and starts a new one.
    pub fn take_window(&mut self) -> WindowSnapshot {
        let w = std::mem::take(&mut self.window);
        WindowSnapshot {
            requests: w.arrivals,
            p95_ms: w.latency.value_at_quantile(0.95) as f64 / 1000.0,
            total_requests: self.total.arrivals,
            total_failures: self.total.failures,
        }
    }
}
