//! `aurax-tool trace stats`: what a replay would send, read in one streaming pass: arrivals
//! per second, gaps, endpoint mix, body sizes and `max_tokens`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::{Scheduled, TraceError};
use crate::scenario::Scenario;

pub struct TraceStats {
    pub requests: u64,
    pub span: Duration,
    /// Requests in each second of replay time.
    per_second: Vec<u32>,
    gaps_us: Histogram<u64>,
    body_bytes: Histogram<u64>,
    max_tokens: Histogram<u64>,
    endpoints: BTreeMap<usize, u64>,
    sources: BTreeMap<String, u64>,
    last: Option<Duration>,
}

fn histogram() -> Histogram<u64> {
    // 3 significant digits up to ~1 hour in µs / 1 GB: fixed size, no resizing.
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits are valid"))
    })
}

impl TraceStats {
    pub fn collect(
        items: impl Iterator<Item = Result<Scheduled, TraceError>>,
    ) -> Result<TraceStats, TraceError> {
        let mut s = TraceStats {
            requests: 0,
            span: Duration::ZERO,
            per_second: Vec::new(),
            gaps_us: histogram(),
            body_bytes: histogram(),
            max_tokens: histogram(),
            endpoints: BTreeMap::new(),
            sources: BTreeMap::new(),
            last: None,
        };
        for item in items {
            s.add(&item?);
        }
        Ok(s)
    }

    fn add(&mut self, item: &Scheduled) {
        self.requests += 1;
        self.span = self.span.max(item.at);
        let second = item.at.as_secs() as usize;
        if self.per_second.len() <= second {
            self.per_second.resize(second + 1, 0);
        }
        self.per_second[second] += 1;
        if let Some(last) = self.last {
            let _ = self
                .gaps_us
                .record((item.at.saturating_sub(last).as_micros() as u64).max(1));
        }
        self.last = Some(item.at);
        let r = &item.request;
        let _ = self
            .body_bytes
            .record(r.body.as_ref().map_or(0, |b| b.len() as u64).max(1));
        if let Some(t) = r.max_tokens {
            let _ = self.max_tokens.record(u64::from(t).max(1));
        }
        *self.endpoints.entry(r.endpoint).or_default() += 1;
        *self.sources.entry(r.source.to_string()).or_default() += 1;
    }

    fn per_second_quantile(&self, q: f64) -> u32 {
        let mut sorted = self.per_second.clone();
        sorted.sort_unstable();
        let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
        sorted.get(i).copied().unwrap_or(0)
    }

    pub fn to_json(&self, scenario: &Scenario) -> Value {
        let h = |h: &Histogram<u64>| json!({"p50": h.value_at_quantile(0.5), "p99": h.value_at_quantile(0.99), "max": h.max()});
        let mix: serde_json::Map<String, Value> = self
            .endpoints
            .iter()
            .map(|(id, n)| (scenario.endpoints[*id].name.clone(), json!(n)))
            .collect();
        json!({
            "requests": self.requests,
            "span_s": self.span.as_secs_f64(),
            "mean_rps": self.mean_rps(),
            "arrivals_per_second": {"p50": self.per_second_quantile(0.5), "p99": self.per_second_quantile(0.99),
                "max": self.per_second.iter().max().copied().unwrap_or(0)},
            "gap_us": h(&self.gaps_us),
            "body_bytes": h(&self.body_bytes),
            "max_tokens": if self.max_tokens.is_empty() { Value::Null } else { h(&self.max_tokens) },
            "endpoints": mix,
            "sources": self.sources,
        })
    }

    fn mean_rps(&self) -> f64 {
        if self.span.is_zero() {
            self.requests as f64
        } else {
            self.requests as f64 / self.span.as_secs_f64()
        }
    }

    pub fn to_text(&self, scenario: &Scenario) -> String {
        let mut out = String::new();
        let secs = self.span.as_secs_f64();
        let _ = writeln!(
            out,
            "requests        {}\nspan            {secs:.3} s\nmean rate       {:.2} req/s",
            self.requests,
            self.mean_rps()
        );
        let _ = writeln!(
            out,
            "per second      p50 {}  p99 {}  max {}",
            self.per_second_quantile(0.5),
            self.per_second_quantile(0.99),
            self.per_second.iter().max().copied().unwrap_or(0)
        );
        let ms = |v: u64| v as f64 / 1000.0;
        if self.requests > 1 {
            let g = &self.gaps_us;
            let _ = writeln!(
                out,
                "gap             p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
                ms(g.value_at_quantile(0.5)),
                ms(g.value_at_quantile(0.99)),
                ms(g.max())
            );
        }
        let b = &self.body_bytes;
        let _ = writeln!(
            out,
            "body bytes      p50 {}  p99 {}  max {}",
            b.value_at_quantile(0.5),
            b.value_at_quantile(0.99),
            b.max()
        );
        if !self.max_tokens.is_empty() {
            let t = &self.max_tokens;
            let _ = writeln!(
                out,
                "max_tokens      p50 {}  p99 {}  max {}",
                t.value_at_quantile(0.5),
                t.value_at_quantile(0.99),
                t.max()
            );
        }
        let _ = writeln!(out, "endpoint mix");
        for (id, n) in &self.endpoints {
            let _ = writeln!(
                out,
                "  {:<16} {:>10}  {:>5.1}%",
                scenario.endpoints[*id].name,
                n,
                100.0 * *n as f64 / self.requests.max(1) as f64
            );
        }
        if self.sources.len() > 1 {
            let _ = writeln!(out, "traces");
            for (name, n) in &self.sources {
                let _ = writeln!(out, "  {name:<30} {n:>10}");
            }
        }
        out
    }
}
