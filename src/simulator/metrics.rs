//! `/metrics` in Prometheus text format, with the families the real AURAX backend exposes
//! (prometheus-fastapi-instrumentator plus AURAX's own), CPU and memory read from /proc.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use super::handlers::ModelledHost;

/// A gauge family: name, help, and (labels, value) samples.
pub type GaugeFamily<'a> = (&'a str, &'a str, Vec<(String, f64)>);

const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, &'static str, u16), u64>>,
    durations: Mutex<BTreeMap<&'static str, Histogram>>,
    models: Mutex<BTreeMap<&'static str, u64>>,
    pub in_progress: AtomicI64,
}

impl Metrics {
    pub fn observe(&self, method: &str, handler: &'static str, status: u16, took: Duration) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_string(), handler, status)).or_default() += 1;
        }
        if let Ok(mut d) = self.durations.lock() {
            let h = d.entry(handler).or_default();
            let secs = took.as_secs_f64();
            h.count += 1;
            h.sum += secs;
            for (i, le) in BUCKETS.iter().enumerate() {
                if secs <= *le {
                    h.counts[i] += 1;
                }
            }
        }
    }

    pub fn model_used(&self, model: &'static str) {
        if let Ok(mut m) = self.models.lock() {
            *m.entry(model).or_default() += 1;
        }
    }

    pub fn render(&self, extra_gauges: &[GaugeFamily], host: &ModelledHost) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP fastapi_requests_total Total number of requests by method, status and handler."
        );
        let _ = writeln!(out, "# TYPE fastapi_requests_total counter");
        if let Ok(r) = self.requests.lock() {
            for ((method, handler, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "fastapi_requests_total{{method=\"{method}\",handler=\"{handler}\",status_code=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP fastapi_request_duration_seconds Latency with only few buckets by handler."
        );
        let _ = writeln!(out, "# TYPE fastapi_request_duration_seconds histogram");
        if let Ok(d) = self.durations.lock() {
            for (handler, h) in d.iter() {
                for (le, n) in BUCKETS.iter().zip(h.counts) {
                    let _ = writeln!(
                        out,
                        "fastapi_request_duration_seconds_bucket{{handler=\"{handler}\",le=\"{le}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "fastapi_request_duration_seconds_bucket{{handler=\"{handler}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "fastapi_request_duration_seconds_sum{{handler=\"{handler}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "fastapi_request_duration_seconds_count{{handler=\"{handler}\"}} {}",
                    h.count
                );
            }
        }
        let _ = writeln!(out, "# HELP aurax_inprogress Requests in progress.");
        let _ = writeln!(out, "# TYPE aurax_inprogress gauge");
        let _ = writeln!(
            out,
            "aurax_inprogress {}",
            self.in_progress.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP aurax_model_requests_total Generations served by model."
        );
        let _ = writeln!(out, "# TYPE aurax_model_requests_total counter");
        if let Ok(m) = self.models.lock() {
            for (model, n) in m.iter() {
                let _ = writeln!(out, "aurax_model_requests_total{{model=\"{model}\"}} {n}");
            }
        }
        for (name, help, samples) in extra_gauges {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds (modelled: one core per generation under way)."
        );
        let _ = writeln!(out, "# TYPE process_cpu_seconds_total counter");
        let _ = writeln!(out, "process_cpu_seconds_total {}", host.cpu_seconds);
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory size in bytes (modelled)."
        );
        let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge");
        let _ = writeln!(out, "process_resident_memory_bytes {}", host.resident_bytes);
        let cores = aurax_schema::metrics::SIMULATED_CORES;
        let _ = writeln!(
            out,
            "# HELP {cores} CPU cores of the simulated host (one per model slot)."
        );
        let _ = writeln!(out, "# TYPE {cores} gauge");
        let _ = writeln!(out, "{cores} {}", host.cores);
        out
    }
}
