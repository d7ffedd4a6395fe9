//! `/metrics` in Prometheus text format: the families the repository's dashboard expects
//! (prometheus-fastapi-instrumentator plus AURAX's own, modelled CPU and memory), or only
//! what the published backend really exposes (`aurax_inprogress` per handler, `process_*`,
//! `python_*`).

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
    in_progress: AtomicI64,
    /// Per (handler, method); a label set appears with its handler's first request, as the
    /// published instrumentation's does.
    handlers_in_progress: Mutex<BTreeMap<(&'static str, String), i64>>,
    /// The Python worker's own CPU (µs), modelled per request handled (published flavour).
    worker_cpu_us: AtomicI64,
}

/// CPU the one uvicorn worker spends per request, whatever the model does (measured: 8–14 ms
/// per `/generate`; `/health` ~0.5 ms).
const WORKER_CPU_GENERATE_US: i64 = 10_000;
const WORKER_CPU_OTHER_US: i64 = 500;

impl Metrics {
    pub fn started(&self, method: &str, handler: &'static str) {
        self.in_progress.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.handlers_in_progress.lock() {
            *m.entry((handler, method.to_string())).or_default() += 1;
        }
        let cpu = if handler == "/generate" {
            WORKER_CPU_GENERATE_US
        } else {
            WORKER_CPU_OTHER_US
        };
        self.worker_cpu_us.fetch_add(cpu, Ordering::Relaxed);
    }

    pub fn finished(&self, method: &str, handler: &'static str) {
        self.in_progress.fetch_sub(1, Ordering::Relaxed);
        if let Ok(mut m) = self.handlers_in_progress.lock()
            && let Some(n) = m.get_mut(&(handler, method.to_string()))
        {
            *n -= 1;
        }
    }

    /// Exactly the families the published backend exposes with `ENABLE_METRICS=true`.
    pub fn render_published(&self, uptime_s: f64) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP python_gc_objects_collected_total Objects collected during gc"
        );
        let _ = writeln!(out, "# TYPE python_gc_objects_collected_total counter");
        for generation in 0..3 {
            let _ = writeln!(
                out,
                "python_gc_objects_collected_total{{generation=\"{generation}\"}} {}.0",
                120 * (3 - generation)
            );
        }
        let _ = writeln!(out, "# HELP python_info Python platform information");
        let _ = writeln!(out, "# TYPE python_info gauge");
        let _ = writeln!(
            out,
            "python_info{{implementation=\"CPython\",major=\"3\",minor=\"11\",patchlevel=\"7\",version=\"3.11.7\"}} 1.0"
        );
        let cpu = self.worker_cpu_us.load(Ordering::Relaxed) as f64 / 1e6 + 0.002 * uptime_s;
        let in_progress = self.in_progress.load(Ordering::Relaxed).max(0) as f64;
        let families: [(&str, &str, &str, f64); 4] = [
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                "gauge",
                1.2e9,
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                "gauge",
                1.5e8 + 2e5 * in_progress,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                "gauge",
                1.7e9,
            ),
            (
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                "counter",
                cpu,
            ),
        ];
        for (name, help, kind, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value:.3}");
        }
        let _ = writeln!(
            out,
            "# HELP aurax_inprogress Number of requests in progress"
        );
        let _ = writeln!(out, "# TYPE aurax_inprogress gauge");
        if let Ok(m) = self.handlers_in_progress.lock() {
            for ((handler, method), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "aurax_inprogress{{handler=\"{handler}\",method=\"{method}\"}} {:.1}",
                    (*n).max(0) as f64
                );
            }
        }
        out
    }
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
