//! Questions 2, 5 and 8: which endpoints are the bottlenecks and why, what auto-scaling
//! trigger to set, and what to fix first.

use serde::Serialize;

use crate::breaking::BreakingPoint;
use crate::endpoints::EndpointSummary;
use crate::errors::ErrorPattern;
use crate::windows::LoadLevel;

#[derive(Debug, Clone, Serialize)]
pub struct Bottleneck {
    pub name: String,
    pub reason: String,
    /// Judged p95 over target (1.0 = exactly on target); None without a target.
    pub over_target: Option<f64>,
    pub time_share: f64,
    /// p95 at the highest load level over p95 at the lowest.
    pub degradation: Option<f64>,
}

/// Ranks endpoints: furthest over target first, then by share of waiting time; each with
/// the reasons in words. `unit` names the load levels (`users` or `req/s offered`).
pub fn bottlenecks(
    endpoints: &[EndpointSummary],
    level_p95: &[(f64, String, f64, f64)],
    unit: &str,
) -> Vec<Bottleneck> {
    let mut out: Vec<Bottleneck> = endpoints
        .iter()
        .map(|e| {
            let over = e.target_ms.map(|t| e.judged_ms / t);
            let mine: Vec<&(f64, String, f64, f64)> = level_p95
                .iter()
                .filter(|l| l.1 == e.name && l.3 >= 10.0)
                .collect();
            let degradation = match (mine.first(), mine.last()) {
                (Some(lo), Some(hi)) if hi.0 > lo.0 && lo.2 > 0.0 => Some(hi.2 / lo.2),
                _ => None,
            };
            let mut reasons = Vec::new();
            if let (Some(o), Some(t)) = (over, e.target_ms) {
                if o >= 1.0 {
                    reasons.push(format!(
                        "p95 {:.0} ms is {o:.1}× its {t:.0} ms target",
                        e.judged_ms
                    ));
                } else {
                    reasons.push(format!("p95 at {:.0}% of its {t:.0} ms target", o * 100.0));
                }
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
                    lo.0, hi.0
                ));
            }
            if e.failures > 0 {
                reasons.push(format!(
                    "{} failures ({:.1}%)",
                    e.failures,
                    e.error_rate * 100.0
                ));
            }
            Bottleneck {
                name: e.name.clone(),
                reason: reasons.join("; "),
                over_target: over,
                time_share: e.time_share,
                degradation,
            }
        })
        .collect();
    let key = |b: &Bottleneck| {
        let over = b.over_target.unwrap_or(0.0);
        // Over target dominates; then waiting time, degradation and failures add up.
        (if over >= 1.0 { 10.0 + over } else { 0.0 })
            + b.time_share * 5.0
            + b.degradation.unwrap_or(1.0).min(10.0)
            - 1.0
    };
    out.sort_by(|a, b| key(b).total_cmp(&key(a)));
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct Scaling {
    /// The most successful requests/s seen at any load level.
    pub max_throughput_rps: f64,
    /// Successful requests/s one instance sustains: the breaking point's, else the most seen.
    pub capacity_rps: f64,
    /// True when capacity is only a lower bound (no breaking point was reached).
    pub capacity_is_lower_bound: bool,
    /// Scale out when one instance carries this many requests/s (capacity less headroom).
    pub scale_out_at_rps: f64,
    /// The same trigger expressed as requests in flight per instance (Little's law).
    pub scale_out_at_in_flight: f64,
    pub headroom: f64,
    /// Instances needed for the seed's tiers: (tier, req/s, instances).
    pub instances: Vec<(String, f64, u32)>,
    pub hpa_yaml: String,
    pub keda_yaml: String,
}

pub fn scaling(levels: &[LoadLevel], breaking: &BreakingPoint, tiers: &[(&str, f64)]) -> Scaling {
    let headroom = 0.3;
    let max_ok = levels.iter().map(|l| l.ok_rps).fold(0.0, f64::max);
    let (capacity, lower_bound) = match (breaking.found, breaking.throughput_rps) {
        (true, Some(t)) if t > 0.0 => (t, false),
        _ => (max_ok, true),
    };
    let trigger = capacity * (1.0 - headroom);
    let latency_s = levels
        .iter()
        .min_by(|a, b| {
            (a.ok_rps - trigger)
                .abs()
                .total_cmp(&(b.ok_rps - trigger).abs())
        })
        .map_or(0.0, |l| l.mean_latency_ms / 1000.0);
    let in_flight = trigger * latency_s;
    let instances = tiers
        .iter()
        .map(|(name, rps)| {
            (
                name.to_string(),
                *rps,
                if trigger > 0.0 {
                    (rps / trigger).ceil().max(1.0) as u32
                } else {
                    0
                },
            )
        })
        .collect::<Vec<_>>();
    let max_replicas = instances.iter().map(|i| i.2).max().unwrap_or(1).max(2) * 2;
    let hpa_yaml = format!(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: aurax-backend\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: aurax-backend\n  minReplicas: {}\n  maxReplicas: {max_replicas}\n  metrics:\n    - type: Pods\n      pods:\n        metric:\n          name: aurax_requests_per_second   # e.g. rate(fastapi_requests_total[1m]) via prometheus-adapter\n        target:\n          type: AverageValue\n          averageValue: \"{:.1}\"\n",
        instances.first().map_or(1, |i| i.2.max(1)),
        trigger
    );
    let keda_yaml = format!(
        "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: aurax-backend\nspec:\n  scaleTargetRef:\n    name: aurax-backend\n  minReplicaCount: {}\n  maxReplicaCount: {max_replicas}\n  triggers:\n    - type: prometheus\n      metadata:\n        serverAddress: http://prometheus:9090\n        query: sum(rate(fastapi_requests_total{{handler!=\"/metrics\"}}[1m]))\n        threshold: \"{:.1}\"   # requests/s per replica\n",
        instances.first().map_or(1, |i| i.2.max(1)),
        trigger
    );
    Scaling {
        max_throughput_rps: max_ok,
        capacity_rps: capacity,
        capacity_is_lower_bound: lower_bound,
        scale_out_at_rps: trigger,
        scale_out_at_in_flight: in_flight,
        headroom,
        instances,
        hpa_yaml,
        keda_yaml,
    }
}

/// What to fix first, in order, drawn from the other answers.
pub fn optimisation_targets(
    bottlenecks: &[Bottleneck],
    errors: &[ErrorPattern],
    breaking: &BreakingPoint,
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
    if breaking.found {
        out.push(format!(
            "Capacity: one instance breaks at ~{:.0} req/s; scale out at {:.0} req/s per instance.",
            scaling.capacity_rps, scaling.scale_out_at_rps
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

pub fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}
