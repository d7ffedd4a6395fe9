//! Questions 2 and 8: which endpoints are the bottlenecks and why, and what to fix first.

use serde::Serialize;

use crate::breaking::Breaking;
use crate::endpoints::EndpointSummary;
use crate::errors::ErrorPattern;
use crate::levels::LevelEndpoint;
use crate::saturation::Groups;
use crate::scaling::Scaling;

/// An endpoint ranked among the bottlenecks, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Bottleneck {
    /// The endpoint.
    pub name: String,
    /// Why, in words (judged latency against target, its share of time, its growth with load).
    pub reason: String,
    /// Judged p95 over target (1.0 = exactly on target); None without a target.
    pub over_target: Option<f64>,
    /// Its share of all time spent waiting for responses.
    pub time_share: f64,
    /// p95 at the highest load level over p95 at the lowest.
    pub degradation: Option<f64>,
    /// Whether its saturation sets the mix's capacity (`scaling.limiting`).
    pub binds: bool,
}

/// Ranks endpoints: furthest over target first, then by share of waiting time; each with
/// the reasons in words. `unit` names the load levels (`users` or `req/s offered`).
pub fn bottlenecks(
    endpoints: &[EndpointSummary],
    level_endpoints: &[LevelEndpoint],
    groups: &Groups,
    scaling: &Scaling,
    percentile: f64,
    unit: &str,
) -> Vec<Bottleneck> {
    let limiting = scaling.limiting.as_ref().map(|l| l.endpoint.as_str());
    let mut out: Vec<Bottleneck> = endpoints
        .iter()
        .map(|e| {
            // No successful response to judge is as far over target as it gets; a target
            // missed by attainment is over it, however fast the successes were.
            let over = e.target_ms.map(|t| {
                let p95 = e.judged_ms.map_or(f64::INFINITY, |j| j / t);
                if e.meets_target == Some(false) {
                    p95.max(1.0)
                } else {
                    p95
                }
            });
            let mine: Vec<&LevelEndpoint> = level_endpoints
                .iter()
                .filter(|l| l.endpoint == e.name && l.successes >= 10.0)
                .collect();
            let degradation = match (mine.first(), mine.last()) {
                (Some(lo), Some(hi)) if hi.load > lo.load && lo.p95_ms > 0.0 => {
                    Some(hi.p95_ms / lo.p95_ms)
                }
                _ => None,
            };
            let mut reasons = Vec::new();
            let saturated = groups
                .endpoints
                .iter()
                .find(|g| g.name == e.name)
                .and_then(|g| g.saturated_at());
            if let Some(p) = saturated {
                let binds = if Some(e.name.as_str()) == limiting {
                    ": it binds the mix first".to_string()
                } else {
                    String::new()
                };
                reasons.push(format!(
                    "saturates on its own when offered {} req/s, {} req/s of the mix ({:.0} {unit}){binds}",
                    crate::units::rps(p.own.map_or(f64::NAN, |o| o.offered_rps)),
                    // The mix's rate its own arrivals stand for, as the breaking point says it.
                    crate::units::rps(
                        p.own
                            .and_then(|o| o.mix_equivalent_rps)
                            .unwrap_or(p.offered_rps)
                    ),
                    p.load
                ));
            }
            if let (Some(t), Some(a), Some(false)) = (e.target_ms, e.attainment, e.meets_target) {
                reasons.push(format!(
                    "{:.1}% of its arrivals succeeded under its {t:.0} ms target, short of p{}'s {}%",
                    a * 100.0,
                    percentile,
                    percentile
                ));
            }
            let p95_over = e.target_ms.map(|t| e.judged_ms.map_or(f64::INFINITY, |j| j / t));
            match (p95_over, e.target_ms, e.judged_ms) {
                (Some(_), Some(_), None) => {
                    reasons.push("no successful response to judge".to_string())
                }
                (Some(o), Some(t), Some(j)) if o >= 1.0 => {
                    reasons.push(format!("p95 {j:.0} ms is {o:.1}× its {t:.0} ms target"))
                }
                (Some(o), Some(t), _) => {
                    reasons.push(format!("p95 at {:.0}% of its {t:.0} ms target", o * 100.0))
                }
                _ => {}
            }
            reasons.push(format!(
                "{:.0}% of all time spent waiting",
                e.time_share * 100.0
            ));
            if let (Some(d), Some(lo), Some(hi)) = (degradation, mine.first(), mine.last())
                && d >= 1.5
            {
                reasons.push(format!(
                    "p95 grows {d:.1}× from {:.0} to {:.0} {unit}",
                    lo.load, hi.load
                ));
            }
            if e.failures + e.dropped > 0 {
                reasons.push(format!(
                    "{} failures ({:.1}%)",
                    e.failures + e.dropped,
                    e.error_rate * 100.0
                ));
            }
            Bottleneck {
                name: e.name.clone(),
                reason: reasons.join("; "),
                over_target: over,
                time_share: e.time_share,
                degradation,
                binds: Some(e.name.as_str()) == limiting,
            }
        })
        .collect();
    let key = |b: &Bottleneck| {
        let over = b.over_target.unwrap_or(0.0).min(1e6);
        // Over target dominates, and the endpoint that binds the mix; then waiting time,
        // degradation and failures add up.
        (if over >= 1.0 { 10.0 + over } else { 0.0 })
            + if b.binds { 10.0 } else { 0.0 }
            + b.time_share * 5.0
            + b.degradation.unwrap_or(1.0).min(10.0)
            - 1.0
    };
    out.sort_by(|a, b| key(b).total_cmp(&key(a)));
    out
}

/// What to fix first, in order, drawn from the other answers.
pub fn optimisation_targets(
    bottlenecks: &[Bottleneck],
    errors: &[ErrorPattern],
    breaking: &Breaking,
    scaling: &Scaling,
    hidden_app_errors: u64,
) -> Vec<String> {
    let mut out = Vec::new();
    for b in bottlenecks
        .iter()
        .filter(|b| b.over_target.is_some_and(|o| o >= 1.0))
    {
        out.push(format!(
            "Bring `{}` under its target: {}.",
            b.name, b.reason
        ));
    }
    if let Some(top) = errors.first() {
        out.push(format!(
            "Fix the most common failure ({} of failures): `{}` {} on {}: \"{}\".",
            pct(top.share),
            top.outcome,
            top.status
                .map_or("(no response)".to_string(), |s| format!("HTTP {s}")),
            top.endpoint,
            top.message
        ));
    }
    if hidden_app_errors > 0 {
        out.push(format!(
            "{hidden_app_errors} failures came back as HTTP 200 with `success: false`: alert on the body, not only on status codes."
        ));
    }
    if breaking.point.is_some() {
        let binds = scaling.limiting.as_ref().map_or(String::new(), |l| {
            format!(
                "; {}{} binds first, at {} req/s of its own: scale it (or lower its share) before anything else",
                l.endpoint,
                l.model
                    .as_deref()
                    .map_or(String::new(), |m| format!(" (model {m})")),
                crate::units::rps(l.capacity_rps)
            )
        });
        let trigger = match (scaling.scale_out_at_rps, scaling.scale_out_at_in_flight) {
            (Some(r), Some(n)) => {
                format!("; scale out at {r:.0} req/s or {n:.0} requests in flight per instance")
            }
            _ => String::new(),
        };
        out.push(format!(
            "Capacity: one instance serves ~{:.0} req/s of this mix successfully at its limit{binds}{trigger}.",
            scaling.capacity_rps
        ));
    }
    if let Some(b) = bottlenecks
        .iter()
        .find(|b| b.degradation.is_some_and(|d| d >= 2.0))
    {
        out.push(format!(
            "`{}` degrades most under load: {}.",
            b.name, b.reason
        ));
    }
    if out.is_empty() {
        out.push("Nothing urgent: every target met and no failures recorded.".to_string());
    }
    out
}

pub(crate) fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}
