//! Live statistics of a run from HdrHistogram: exact enough for the live line and the
//! end-of-run table (3 significant digits), and never an average of percentiles.

use std::collections::BTreeMap;
use std::sync::Arc;

use hdrhistogram::Histogram;

use crate::monitor::PromCounters;
use crate::outcome::RequestOutcome;

/// 1 µs to 1 hour at 3 significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid")
}

#[derive(Debug, Clone)]
pub struct EndpointStats {
    pub requests: u64,
    pub failures: u64,
    /// Latency from the actual send (µs).
    pub latency: Histogram<u64>,
    /// Latency from the intended send (µs): corrected for coordinated omission.
    pub corrected: Histogram<u64>,
    pub latency_sum_us: u128,
}

impl Default for EndpointStats {
    fn default() -> Self {
        EndpointStats {
            requests: 0,
            failures: 0,
            latency: new_histogram(),
            corrected: new_histogram(),
            latency_sum_us: 0,
        }
    }
}

impl EndpointStats {
    fn record(&mut self, o: &RequestOutcome) {
        self.requests += 1;
        if o.outcome.is_failure() {
            self.failures += 1;
        }
        let raw = o.latency_us.max(1) as u64;
        self.latency.saturating_record(raw);
        self.corrected
            .saturating_record(o.corrected_latency_us().max(1) as u64);
        self.latency_sum_us += u128::from(raw);
    }

    pub fn mean_us(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.latency_sum_us as f64 / self.requests as f64
        }
    }

    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
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
    /// First actual send and last completion seen (µs since the epoch).
    pub first_send_us: Option<i64>,
    pub last_end_us: Option<i64>,
    /// How late requests went out against their schedule (µs): the generator's own delay.
    pub lateness: Histogram<u64>,
    /// Requests sent once every user had been spawned, for the throughput verdict.
    pub steady_from_us: Option<i64>,
    pub steady_requests: u64,
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
            first_send_us: None,
            last_end_us: None,
            lateness: new_histogram(),
            steady_from_us: None,
            steady_requests: 0,
            prom: PromCounters::default(),
            window: EndpointStats::default(),
        }
    }
}

/// What the live line shows for the last interval.
#[derive(Debug, Clone, Copy)]
pub struct WindowSnapshot {
    pub requests: u64,
    pub failures: u64,
    pub p95_ms: f64,
    pub total_requests: u64,
    pub total_failures: u64,
}

impl RunStats {
    pub fn record(&mut self, o: &RequestOutcome) {
        self.endpoints
            .entry(o.endpoint.clone())
            .or_default()
            .record(o);
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
        let end = o.actual_send_us + o.latency_us;
        self.first_send_us = Some(
            self.first_send_us
                .map_or(o.actual_send_us, |f| f.min(o.actual_send_us)),
        );
        self.last_end_us = Some(self.last_end_us.map_or(end, |l| l.max(end)));
        if self.steady_from_us.is_some_and(|s| o.actual_send_us >= s) {
            self.steady_requests += 1;
        }
    }

    /// Returns the interval since the last call and starts a new one.
    pub fn take_window(&mut self) -> WindowSnapshot {
        let w = std::mem::take(&mut self.window);
        WindowSnapshot {
            requests: w.requests,
            failures: w.failures,
            p95_ms: w.latency.value_at_quantile(0.95) as f64 / 1000.0,
            total_requests: self.total.requests,
            total_failures: self.total.failures,
        }
    }

    /// Seconds from the first send to the last completion.
    pub fn duration_s(&self) -> f64 {
        match (self.first_send_us, self.last_end_us) {
            (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e6,
            _ => 0.0,
        }
    }

    /// Throughput once all users were running (the whole run when spawning never finished).
    pub fn steady_throughput_rps(&self) -> f64 {
        match (self.steady_from_us, self.last_end_us) {
            (Some(s), Some(end)) if end > s && self.steady_requests > 0 => {
                self.steady_requests as f64 / ((end - s) as f64 / 1e6)
            }
            _ => {
                let d = self.duration_s();
                if d > 0.0 {
                    self.total.requests as f64 / d
                } else {
                    0.0
                }
            }
        }
    }
}
