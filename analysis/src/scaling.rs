//! Question 5: capacity per instance and when to scale out. Capacity is what the target
//! **served successfully** at its limit, never a rate that was merely offered; the trigger sits
//! below it, in requests per second (HPA, KEDA on a rate) and in requests in flight (AURAX's
//! `aurax_inprogress`, the one request metric the published backend exposes).

use serde::Serialize;

use crate::breaking::{Breaking, Signal, SignalKind};
use crate::levels::LoadLevel;

/// Headroom between the scale-out trigger and the capacity.
pub const HEADROOM: f64 = 0.3;

/// Question 5: capacity per instance, the scale-out trigger and the instances per tier.
#[derive(Debug, Clone, Serialize)]
pub struct Scaling {
    /// The most successful requests per second served at any trusted load level.
    pub max_throughput_rps: f64,
    /// Successful requests per second one instance serves at its limit.
    pub capacity_rps: f64,
    /// True when capacity is only a lower bound (no breaking point was reached).
    pub capacity_is_lower_bound: bool,
    /// How the capacity was read from the levels, in words.
    pub capacity_basis: String,
    /// Scale out when one instance carries this many requests per second.
    pub scale_out_at_rps: f64,
    /// The same trigger as requests in flight (in progress) per instance, measured at the
    /// load levels around the trigger rate.
    pub scale_out_at_in_flight: f64,
    /// The headroom between the trigger and the capacity (a share).
    pub headroom: f64,
    /// Instances needed for the seed's throughput tiers at the trigger rate.
    pub instances: Vec<TierInstances>,
    /// A Kubernetes HorizontalPodAutoscaler at the trigger.
    pub hpa_yaml: String,
    /// A KEDA ScaledObject at the trigger.
    pub keda_yaml: String,
}

/// Instances needed for one of the seed's throughput tiers.
#[derive(Debug, Clone, Serialize)]
pub struct TierInstances {
    /// The tier's name.
    pub tier: String,
    /// Its requests per second.
    pub rps: f64,
    /// Instances at the trigger rate.
    pub instances: u32,
}

/// Capacity and trigger read from the load levels and the breaking point.
pub fn scaling(levels: &[LoadLevel], breaking: &Breaking, tiers: &[(&str, f64)]) -> Scaling {
    let trusted: Vec<&LoadLevel> = levels.iter().filter(|l| l.trusted()).collect();
    let max_ok = trusted.iter().map(|l| l.succeeded_rps).fold(0.0, f64::max);
    let at_or_after = |p: &Signal| -> Vec<f64> {
        trusted
            .iter()
            .filter(|l| l.load >= p.load)
            .map(|l| l.succeeded_rps)
            .collect()
    };
    let (capacity, lower_bound, basis) = match &breaking.point {
        // A knee is a plateau by definition: more load added at most 10% after it.
        Some(p) if p.signal == SignalKind::ThroughputKnee => {
            let plateau = at_or_after(p);
            (
                median(&plateau).unwrap_or(p.succeeded_rps),
                false,
                format!(
                    "the median successful served rate over the {} load level(s) from the throughput knee on, where it plateaus",
                    plateau.len()
                ),
            )
        }
        // Other saturation: the two levels that made the signal sustained. Later levels may
        // still grow where part of a mix keeps up (code requests while text queues), which is
        // not capacity for the mix that was offered.
        Some(p) if p.signal.is_saturation() => {
            let pair: Vec<f64> = at_or_after(p).into_iter().take(2).collect();
            (
                median(&pair).unwrap_or(p.succeeded_rps),
                false,
                format!(
                    "the successful served rate where {} fired and at the next load level",
                    p.signal.name()
                ),
            )
        }
        Some(p) => (
            p.succeeded_rps,
            false,
            format!("the successful served rate where {} fired", p.signal.name()),
        ),
        None => (
            max_ok,
            true,
            "the most served successfully at any load level: no breaking point was reached, so a lower bound".to_string(),
        ),
    };
    let trigger = capacity * (1.0 - HEADROOM);
    let below: Vec<&LoadLevel> = match &breaking.point {
        Some(p) => trusted
            .iter()
            .copied()
            .filter(|l| l.load < p.load)
            .collect(),
        None => trusted.clone(),
    };
    let in_flight = in_flight_at(&below, trigger).unwrap_or_else(|| {
        // No level below the breaking point to read it from: Little's law at the lowest
        // latency measured.
        let latency_s = trusted
            .iter()
            .map(|l| l.mean_latency_ms / 1000.0)
            .filter(|v| v.is_finite())
            .fold(f64::INFINITY, f64::min);
        if latency_s.is_finite() {
            trigger * latency_s
        } else {
            0.0
        }
    });
    build(max_ok, capacity, lower_bound, basis, in_flight, tiers)
}

/// Capacity found by a capacity search (`run --find-capacity`): the highest passing step's
/// rate; requests in flight at the trigger interpolated over the passing steps.
pub fn for_search(
    answer: &crate::capacity::CapacityAnswer,
    max_ok: f64,
    tiers: &[(&str, f64)],
) -> Option<Scaling> {
    let capacity = answer.capacity_rps?;
    let trigger = capacity * (1.0 - HEADROOM);
    let mut pts: Vec<(f64, f64)> = answer
        .steps
        .iter()
        .filter(|s| s.passed())
        .map(|s| (s.served_rps, s.mean_in_flight))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let in_flight = interpolate(&pts, trigger).unwrap_or(0.0);
    let basis = if answer.converged {
        format!(
            "the capacity search: the highest rate of the mix at which every target held, within {:.0}%",
            answer.precision * 100.0
        )
    } else {
        "the capacity search's highest passing rate: it stopped before its precision, so a lower bound".to_string()
    };
    Some(build(
        max_ok.max(capacity),
        capacity,
        !answer.converged,
        basis,
        in_flight,
        tiers,
    ))
}

fn build(
    max_ok: f64,
    capacity: f64,
    lower_bound: bool,
    basis: String,
    in_flight: f64,
    tiers: &[(&str, f64)],
) -> Scaling {
    let trigger = capacity * (1.0 - HEADROOM);
    let instances: Vec<TierInstances> = tiers
        .iter()
        .map(|(name, rps)| TierInstances {
            tier: name.to_string(),
            rps: *rps,
            instances: if trigger > 0.0 {
                (rps / trigger).ceil().max(1.0) as u32
            } else {
                0
            },
        })
        .collect();
    let min_replicas = instances.first().map_or(1, |i| i.instances.max(1));
    let max_replicas = instances
        .iter()
        .map(|i| i.instances)
        .max()
        .unwrap_or(1)
        .max(2)
        * 2;
    let hpa_yaml = format!(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: aurax-backend\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: aurax-backend\n  minReplicas: {min_replicas}\n  maxReplicas: {max_replicas}\n  metrics:\n    - type: Pods\n      pods:\n        metric:\n          name: aurax_inprogress   # requests in progress per pod, via prometheus-adapter\n        target:\n          type: AverageValue\n          averageValue: \"{in_flight:.1}\"\n    - type: Pods\n      pods:\n        metric:\n          name: aurax_requests_per_second   # needs a request counter, which the published backend lacks\n        target:\n          type: AverageValue\n          averageValue: \"{trigger:.1}\"\n",
    );
    let keda_yaml = format!(
        "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: aurax-backend\nspec:\n  scaleTargetRef:\n    name: aurax-backend\n  minReplicaCount: {min_replicas}\n  maxReplicaCount: {max_replicas}\n  triggers:\n    # Requests in progress (queued at the model server included): the published backend's\n    # only request metric, and the one that sees a queue.\n    - type: prometheus\n      metadata:\n        serverAddress: http://prometheus:9090\n        query: sum(aurax_inprogress{{handler!=\"/metrics\"}})\n        threshold: \"{in_flight:.1}\"   # requests in progress per replica\n    # With a request counter (fastapi_requests_total; not exposed by the published backend):\n    # - type: prometheus\n    #   metadata:\n    #     serverAddress: http://prometheus:9090\n    #     query: sum(rate(fastapi_requests_total{{handler!=\"/metrics\"}}[1m]))\n    #     threshold: \"{trigger:.1}\"   # requests/s per replica\n",
    );
    Scaling {
        max_throughput_rps: max_ok,
        capacity_rps: capacity,
        capacity_is_lower_bound: lower_bound,
        capacity_basis: basis,
        scale_out_at_rps: trigger,
        scale_out_at_in_flight: in_flight,
        headroom: HEADROOM,
        instances,
        hpa_yaml,
        keda_yaml,
    }
}

/// Requests in flight at a successful served rate, interpolated between the levels (by their
/// rate); outside them, scaled from the nearest at its latency (Little's law).
fn in_flight_at(levels: &[&LoadLevel], rate: f64) -> Option<f64> {
    let mut pts: Vec<(f64, f64)> = levels
        .iter()
        .filter(|l| l.succeeded_rps > 0.0 && l.in_flight.is_finite())
        .map(|l| (l.succeeded_rps, l.in_flight))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    interpolate(&pts, rate)
}

/// `y` at `rate` between points sorted by rate; outside them, proportional to the nearest.
fn interpolate(pts: &[(f64, f64)], rate: f64) -> Option<f64> {
    let pts: Vec<(f64, f64)> = pts
        .iter()
        .copied()
        .filter(|p| p.0 > 0.0 && p.1.is_finite())
        .collect();
    let (first, last) = (pts.first()?, pts.last()?);
    if rate <= first.0 {
        return Some(first.1 * rate / first.0);
    }
    if rate >= last.0 {
        return Some(last.1 * rate / last.0);
    }
    pts.windows(2).find_map(|w| {
        let ((r0, n0), (r1, n1)) = (w[0], w[1]);
        (rate >= r0 && rate <= r1).then(|| n0 + (rate - r0) / (r1 - r0).max(1e-12) * (n1 - n0))
    })
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saturated_at(load: f64, signal: SignalKind) -> Breaking {
        Breaking {
            point: Some(Signal {
                signal,
                load,
                offered_rps: load,
                succeeded_rps: 0.0,
                at_s: 0.0,
                detail: String::new(),
            }),
            generator_limit: None,
            signals: Vec::new(),
            standing: Vec::new(),
            verdict: String::new(),
        }
    }

    #[test]
    fn capacity_is_the_served_plateau_and_the_trigger_sits_below_it() {
        // Offered 10..200 req/s; served flat at 95 from 100 on (noise ±2).
        let levels: Vec<LoadLevel> = (1..=20)
            .map(|i| {
                let offered = 10.0 * f64::from(i);
                let served = if offered < 100.0 {
                    offered
                } else {
                    95.0 + if i % 2 == 0 { 2.0 } else { -2.0 }
                };
                LoadLevel {
                    offered_rps: offered,
                    in_flight: served * 0.05,
                    ..LoadLevel::for_test(offered, served, 0.0)
                }
            })
            .collect();
        let s = scaling(
            &levels,
            &saturated_at(110.0, SignalKind::ServedBelowOffered),
            &[("target", 50.0)],
        );
        assert!((s.capacity_rps - 95.0).abs() <= 2.0, "{s:?}");
        assert!(!s.capacity_is_lower_bound);
        assert!((s.scale_out_at_rps - 0.7 * s.capacity_rps).abs() < 1e-9);
        // In flight is 5% of the rate below capacity: at the trigger, ~3.3.
        assert!(
            (s.scale_out_at_in_flight - s.scale_out_at_rps * 0.05).abs() < 0.1,
            "{s:?}"
        );
        assert_eq!(s.instances[0].instances, 1);
        assert!(s.keda_yaml.contains("aurax_inprogress"));
    }
}
