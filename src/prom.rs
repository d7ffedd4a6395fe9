//! The run in Prometheus terms: counters and histograms fed by every recorded outcome (in
//! the sink thread, from the same rows that go to Parquet, so the two always agree), and the
//! text exposition the live exporter serves.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use crate::outcome::{RequestOutcome, entry_for};

/// Histogram bounds in seconds: 1 ms to 60 s, for latency and scheduling lateness.
pub const BUCKETS: [f64; 17] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
    60.0,
];

#[derive(Debug, Default, Clone)]
pub struct SecondsHistogram {
    /// Count per bound (not cumulative; made cumulative when rendered).
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl SecondsHistogram {
    pub fn observe(&mut self, seconds: f64) {
        self.count += 1;
        self.sum += seconds;
        if let Some(i) = BUCKETS.iter().position(|le| seconds <= *le) {
            self.counts[i] += 1;
        }
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (le, n) in BUCKETS.iter().zip(self.counts) {
            cumulative += n;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = |l: &str| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{{{l}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), self.sum);
        let _ = writeln!(out, "{name}_count{} {}", braces(labels), self.count);
    }
}

/// (outcome, status code) → requests.
type ByOutcome = BTreeMap<(&'static str, Option<u16>), u64>;

/// Everything the exporter reports about finished requests.
#[derive(Debug, Default, Clone)]
pub struct PromCounters {
    /// endpoint → (outcome, status code) → requests.
    requests: BTreeMap<Arc<str>, ByOutcome>,
    latency: BTreeMap<Arc<str>, SecondsHistogram>,
    lateness: SecondsHistogram,
    models: BTreeMap<String, u64>,
}

impl PromCounters {
    pub fn record(&mut self, o: &RequestOutcome) {
        let key = (o.outcome.as_str(), o.status);
        *entry_for(&mut self.requests, &o.endpoint)
            .entry(key)
            .or_default() += 1;
        // Latency of successful responses only, as every latency figure of the analysis:
        // a refused request's 2 ms would pull the dashboard's p95 down under overload.
        if o.outcome == aurax_schema::Outcome::Ok {
            let seconds = o.latency_us as f64 / 1e6;
            entry_for(&mut self.latency, &o.endpoint).observe(seconds);
        }
        self.lateness
            .observe((o.actual_send_us - o.intended_send_us).max(0) as f64 / 1e6);
        if let Some(m) = &o.model_used {
            match self.models.get_mut(m.as_str()) {
                Some(n) => *n += 1,
                None => {
                    self.models.insert(m.clone(), 1);
                }
            }
        }
    }

    /// The request families of the exposition.
    pub fn render(&self, out: &mut String) {
        family(
            out,
            "aurax_load_requests_total",
            "counter",
            "Requests finished, by endpoint, outcome (ok, http_error, app_error, timeout, connect_error, other, dropped) and HTTP status code.",
        );
        for (endpoint, by) in &self.requests {
            for ((outcome, status), n) in by {
                let status = status.map_or("none".to_string(), |s| s.to_string());
                let _ = writeln!(
                    out,
                    "aurax_load_requests_total{{endpoint=\"{}\",outcome=\"{outcome}\",status_code=\"{status}\"}} {n}",
                    escape(endpoint)
                );
            }
        }
        family(
            out,
            "aurax_load_request_duration_seconds",
            "histogram",
            "Latency from the actual send to the end of the response, by endpoint.",
        );
        for (endpoint, h) in &self.latency {
            h.render(
                out,
                "aurax_load_request_duration_seconds",
                &format!("endpoint=\"{}\"", escape(endpoint)),
            );
        }
        family(
            out,
            "aurax_load_scheduling_lateness_seconds",
            "histogram",
            "How late requests went out against their schedule (the generator's own delay).",
        );
        self.lateness
            .render(out, "aurax_load_scheduling_lateness_seconds", "");
        family(
            out,
            "aurax_load_model_requests_total",
            "counter",
            "Responses by the model that served them (metadata.model_used).",
        );
        for (model, n) in &self.models {
            let _ = writeln!(
                out,
                "aurax_load_model_requests_total{{model=\"{}\"}} {n}",
                escape(model)
            );
        }
    }
}

/// `# HELP` and `# TYPE` lines of a family.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A gauge family with one unlabelled sample.
pub fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    family(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// Label values escape backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
