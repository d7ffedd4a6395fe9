//! The end-of-run table (Locust's columns, from HdrHistogram) and the verdict on the seed's
//! targets: response time per endpoint, throughput tiers and error rate.

use std::fmt::Write;

use aurax_schema::Targets;

use crate::stats::{EndpointStats, RunStats};

#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    Pass,
    Fail,
    /// Not judged, and why (e.g. the configured load could not offer that throughput).
    NotJudged(String),
}

#[derive(Debug, Clone)]
pub struct TargetCheck {
    pub what: String,
    pub observed: String,
    pub limit: String,
    pub judgement: Judgement,
}

/// Judges a run against its targets. `offered_rps` is the most the configured load could
/// send (users / mean wait for closed-model users).
pub fn judge(stats: &RunStats, targets: &Targets, offered_rps: f64) -> Vec<TargetCheck> {
    let mut checks = Vec::new();
    let q = targets.percentile / 100.0;
    for (name, s) in &stats.endpoints {
        let Some(target_ms) = targets.endpoint_target_ms(name) else {
            continue;
        };
        let observed = s.latency.value_at_quantile(q) as f64 / 1000.0;
        checks.push(TargetCheck {
            what: format!("{name} p{}", targets.percentile),
            observed: format_ms(observed),
            limit: format!("< {}", format_ms(target_ms)),
            judgement: if observed < target_ms {
                Judgement::Pass
            } else {
                Judgement::Fail
            },
        });
    }
    let achieved = stats.steady_throughput_rps();
    let t = &targets.throughput;
    for (tier, rps) in [
        ("minimum", t.minimum_rps),
        ("target", t.target_rps),
        ("peak", t.peak_rps),
    ] {
        let judgement = if offered_rps + 1e-9 < rps {
            Judgement::NotJudged(format!("load offers at most {offered_rps:.1} req/s"))
        } else if achieved >= rps {
            Judgement::Pass
        } else {
            Judgement::Fail
        };
        checks.push(TargetCheck {
            what: format!("throughput ({tier})"),
            observed: format!("{achieved:.1} req/s"),
            limit: format!(">= {rps} req/s"),
            judgement,
        });
    }
    let e = &targets.error_rate;
    let rate = stats.total.error_rate();
    checks.push(TargetCheck {
        what: format!("error rate ({})", e.tier),
        observed: format!("{:.2}%", rate * 100.0),
        limit: format!("< {}%", e.max_error_rate * 100.0),
        judgement: if rate < e.max_error_rate {
            Judgement::Pass
        } else {
            Judgement::Fail
        },
    });
    checks
}

pub fn all_pass(checks: &[TargetCheck]) -> bool {
    checks.iter().all(|c| c.judgement != Judgement::Fail)
}

/// Locust-style table: one row per endpoint and an aggregated row.
pub fn table(stats: &RunStats) -> String {
    let secs = stats.duration_s().max(1e-9);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<18} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "endpoint",
        "requests",
        "failures",
        "avg ms",
        "min ms",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "req/s"
    );
    let row = |out: &mut String, name: &str, s: &EndpointStats| {
        let ms = |v: u64| v as f64 / 1000.0;
        let _ = writeln!(
            out,
            "{:<18} {:>8} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8.2}",
            name,
            s.requests,
            format!("{} ({:.1}%)", s.failures, s.error_rate() * 100.0),
            s.mean_us() / 1000.0,
            ms(s.latency.min()),
            ms(s.latency.value_at_quantile(0.50)),
            ms(s.latency.value_at_quantile(0.95)),
            ms(s.latency.value_at_quantile(0.99)),
            ms(s.latency.max()),
            s.requests as f64 / secs,
        );
    };
    for (name, s) in &stats.endpoints {
        row(&mut out, name, s);
    }
    let _ = writeln!(out, "{}", "-".repeat(108));
    row(&mut out, "Aggregated", &stats.total);
    let raw = stats.total.latency.value_at_quantile(0.99);
    let corrected = stats.total.corrected.value_at_quantile(0.99);
    if corrected > raw + raw / 10 + 1000 {
        let _ = writeln!(
            out,
            "latency from the intended send time (coordinated omission corrected): p99 {:.1} ms (raw {:.1} ms)",
            corrected as f64 / 1000.0,
            raw as f64 / 1000.0
        );
    }
    out
}

pub fn checks_text(checks: &[TargetCheck]) -> String {
    let mut out = String::new();
    for c in checks {
        let mark = match &c.judgement {
            Judgement::Pass => "PASS".to_string(),
            Judgement::Fail => "FAIL".to_string(),
            Judgement::NotJudged(why) => format!("n/a ({why})"),
        };
        let _ = writeln!(
            out,
            "  {:<28} {:>14}  target {:<14} {mark}",
            c.what, c.observed, c.limit
        );
    }
    out
}

pub fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}
