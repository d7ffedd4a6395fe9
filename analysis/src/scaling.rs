//! Question 5: capacity per instance and when to scale out. Capacity is what the target
//! **served successfully** at its limit, never a rate that was merely offered; the trigger sits
//! below it, in requests per second (HPA, KEDA on a rate) and in requests in flight (AURAX's
//! `aurax_inprogress`, the one request metric the published backend exposes).
//!
//! A mix binds where its **first** endpoint saturates ([`crate::saturation`]): each endpoint's
//! own capacity divided by its share of the mix is the mix's rate at which it binds, and the
//! lowest of those is the capacity of the mix as offered.

use serde::Serialize;

use crate::breaking::{Breaking, Signal, SignalKind};
use crate::levels::LoadLevel;
use crate::saturation::{Group, GroupKind, Groups};
use crate::units::rps;

/// Headroom between the scale-out trigger and the capacity.
pub const HEADROOM: f64 = 0.3;

/// A level of an endpoint's shows its capacity when it was offered at least this share of
/// what the endpoint served successfully where it saturated.
const DEMANDED: f64 = 0.98;

/// Question 5: capacity per instance, the scale-out trigger and the instances per tier.
#[derive(Debug, Clone, Serialize)]
pub struct Scaling {
    /// The most successful requests per second served at any trusted load level.
    pub max_throughput_rps: f64,
    /// Successful requests per second of the mix, as offered, one instance serves at its
    /// limit: where its first endpoint saturates.
    pub capacity_rps: f64,
    /// True when capacity is only a lower bound (no breaking point was reached).
    pub capacity_is_lower_bound: bool,
    /// How the capacity was read from the levels, in words.
    pub capacity_basis: String,
    /// The endpoint (and its model) whose saturation sets the capacity, when one does.
    pub limiting: Option<Limiting>,
    /// Scale out when one instance carries this many requests per second; None where no
    /// capacity was found (nothing saturated: a lower bound sets no trigger).
    pub scale_out_at_rps: Option<f64>,
    /// The same trigger as requests in flight (in progress) per instance, measured at the
    /// load levels around the trigger rate.
    pub scale_out_at_in_flight: Option<f64>,
    /// The same trigger as the limiting endpoint's own requests in flight.
    pub scale_out_at_limiting_in_flight: Option<f64>,
    /// The headroom between the trigger and the capacity (a share).
    pub headroom: f64,
    /// Every endpoint's own capacity and the mix's rate at which it binds, limiting first.
    pub by_endpoint: Vec<GroupCapacity>,
    /// The same per model (`model_used`), limiting first.
    pub by_model: Vec<GroupCapacity>,
    /// Instances needed for the seed's throughput tiers at the trigger rate (none without
    /// a trigger).
    pub instances: Vec<TierInstances>,
    /// A Kubernetes HorizontalPodAutoscaler at the trigger.
    pub hpa_yaml: Option<String>,
    /// A KEDA ScaledObject at the trigger.
    pub keda_yaml: Option<String>,
    /// Where no capacity was found: why, and what load would find it.
    pub to_find_capacity: Option<String>,
}

/// The endpoint whose saturation sets the mix's capacity.
#[derive(Debug, Clone, Serialize)]
pub struct Limiting {
    /// The endpoint.
    pub endpoint: String,
    /// The model most of its responses name, when they name one.
    pub model: Option<String>,
    /// Its share of the mix's arrivals.
    pub share: f64,
    /// What it serves successfully at its limit (req/s of its own).
    pub capacity_rps: f64,
    /// The load level where it saturated (users, or req/s offered).
    pub saturated_at_load: f64,
    /// Its own arrivals per second there over its share: the mix's offered rate, at its
    /// average proportions, at which it saturated.
    pub saturated_at_mix_rps: f64,
    /// Its own arrivals per second there.
    pub saturated_at_own_rps: f64,
    /// The signal that fired first.
    pub signal: String,
}

/// One endpoint's (or model's) capacity and what it means for the mix.
#[derive(Debug, Clone, Serialize)]
pub struct GroupCapacity {
    /// The endpoint's name or the model's tag.
    pub name: String,
    /// Its model(s), for an endpoint; its endpoints, for a model.
    pub with: Vec<String>,
    /// Its share of the mix's arrivals.
    pub share: f64,
    /// What it serves successfully at its limit, req/s of its own; for one that never
    /// saturated, the most it served (a lower bound).
    pub capacity_rps: f64,
    /// True when it never saturated: `capacity_rps` is a lower bound.
    pub capacity_is_lower_bound: bool,
    /// capacity / share: the mix's offered rate at which it binds (at least, for a lower
    /// bound).
    pub mix_capacity_rps: f64,
    /// mix_capacity over the mix's capacity: how much more it takes, before it binds, than
    /// the endpoint that binds first (1.0 for that one; at least this, for a lower bound).
    pub headroom: f64,
    /// Where it saturated: (load, the signal), when it did.
    pub saturated_at: Option<(f64, String)>,
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

/// A capacity read from levels: (req/s, lower bound, how it was read).
struct Reading {
    capacity: f64,
    lower_bound: bool,
    basis: String,
}

/// The capacity a series of levels shows from its first saturation signal `p` on (None: no
/// signal, so the most it served, a lower bound). `at_point` is the successful rate at the
/// signal's level, for when no level is left to read.
fn read_capacity(trusted: &[&LoadLevel], p: Option<&Signal>, at_point: f64) -> Reading {
    let max_ok = trusted.iter().map(|l| l.succeeded_rps).fold(0.0, f64::max);
    let at_or_after = |p: &Signal| -> Vec<f64> {
        trusted
            .iter()
            .filter(|l| l.load >= p.load)
            .map(|l| l.succeeded_rps)
            .collect()
    };
    match p {
        // A knee is a plateau by definition: more load added at most 10% after it.
        Some(p) if p.signal == SignalKind::ThroughputKnee => {
            let plateau = at_or_after(p);
            Reading {
                capacity: median(&plateau).unwrap_or(at_point),
                lower_bound: false,
                basis: format!(
                    "the median successful served rate over the {} load level(s) from the throughput knee on, where it plateaus",
                    plateau.len()
                ),
            }
        }
        // Other saturation: the two levels that made the signal sustained. Later levels may
        // still grow where part of a mix keeps up (code requests while text queues), which is
        // not capacity for the mix that was offered.
        Some(p) if p.signal.is_saturation() => {
            let pair: Vec<f64> = at_or_after(p).into_iter().take(2).collect();
            Reading {
                capacity: median(&pair).unwrap_or(at_point),
                lower_bound: false,
                basis: format!(
                    "the successful served rate where {} fired and at the next load level",
                    p.signal.name()
                ),
            }
        }
        Some(p) => Reading {
            capacity: at_point,
            lower_bound: false,
            basis: format!("the successful served rate where {} fired", p.signal.name()),
        },
        None => Reading {
            capacity: max_ok,
            lower_bound: true,
            basis: "the most served successfully at any load level: no breaking point was reached, so a lower bound".to_string(),
        },
    }
}

/// One endpoint's (or model's) capacity from its own levels, the signal it was read from and
/// how.
fn group_capacity(g: &Group) -> (GroupCapacity, Option<&Signal>, String) {
    let levels = g.own_levels();
    let trusted: Vec<&LoadLevel> = levels.into_iter().filter(|l| l.trusted()).collect();
    let point = g.saturated_at();
    let at_point = point
        .and_then(|p| p.own)
        .map_or(0.0, |own| own.succeeded_rps);
    let r = match point.and_then(|p| g.level_of(p)) {
        // Where it began to saturate: the median of its first three levels from there. Deeper
        // in overload a model whose client times out wastes slots on requests that expire
        // (goodput collapses), which is no capacity to provision for.
        Some(level) => {
            let after: Vec<&&LoadLevel> = trusted
                .iter()
                .filter(|l| l.load >= level.own.load)
                .collect();
            // Only levels that asked at least what it served where the signal fired: a level
            // that asked less shows demand, not capacity, whether a lull in its random share
            // of the mix (7 req/s offered to a model that serves 10) or a closed loop's own
            // ebb (users waiting on their think time offered 41 req/s, served all 41, to a
            // model that had served 48 and serves 50).
            let demanded: Vec<f64> = after
                .iter()
                .filter(|l| l.offered_rps >= at_point * DEMANDED)
                .take(3)
                .map(|l| l.succeeded_rps)
                .collect();
            let signal = point.map_or("", |p| p.signal.name());
            let (from, which) = if demanded.is_empty() {
                let first: Vec<f64> = after.iter().take(3).map(|l| l.succeeded_rps).collect();
                (first, "(none asked as much as it served there)")
            } else {
                (demanded, "that asked at least what it served there")
            };
            Reading {
                capacity: median(&from).unwrap_or(at_point),
                lower_bound: false,
                basis: format!(
                    "the median of its successful served rate over the first {} level(s) from where {signal} fired {which}",
                    from.len(),
                ),
            }
        }
        None => read_capacity(&trusted, point, at_point),
    };
    let mix = if g.share > 0.0 {
        r.capacity / g.share
    } else {
        f64::INFINITY
    };
    // A lower bound says no more than the load showed: at most the mix's most offered at its
    // levels (5% of a mix offered 200 req/s that was drawn 6% of the time served 12.2 req/s,
    // which over 5% claimed 244).
    let mix = if r.lower_bound {
        let most_offered = g
            .levels
            .iter()
            .map(|l| l.mix_offered_rps)
            .fold(0.0, f64::max);
        if most_offered > 0.0 {
            mix.min(most_offered)
        } else {
            mix
        }
    } else {
        mix
    };
    let with = match g.kind {
        GroupKind::Endpoint => g.models.clone(),
        GroupKind::Model => g.endpoints.clone(),
    };
    (
        GroupCapacity {
            name: g.name.clone(),
            with,
            share: g.share,
            capacity_rps: r.capacity,
            capacity_is_lower_bound: r.lower_bound,
            mix_capacity_rps: mix,
            headroom: f64::NAN,
            saturated_at: point.map(|p| (p.load, p.signal.name().to_string())),
        },
        point,
        r.basis,
    )
}

/// Every group's capacity, limiting first (then by headroom). Headroom is against the mix's
/// capacity, when one was found: against a lower bound it said nothing (a lone endpoint of a
/// run that never saturated read 0.959, "binding" before the mix).
fn by_group(groups: &[Group], mix_capacity: Option<f64>) -> Vec<GroupCapacity> {
    let mut out: Vec<GroupCapacity> = groups
        .iter()
        // Part of the task mix (not only users' on_start requests), with arrivals enough.
        .filter(|g| g.share > 0.0 && g.arrivals >= crate::levels::MIN_LEVEL_REQUESTS)
        .map(|g| {
            let (mut c, _, _) = group_capacity(g);
            c.headroom = match mix_capacity {
                Some(mix) if mix > 0.0 => c.mix_capacity_rps / mix,
                _ => f64::NAN,
            };
            c
        })
        .collect();
    out.sort_by(|a, b| {
        a.capacity_is_lower_bound
            .cmp(&b.capacity_is_lower_bound)
            .then(a.mix_capacity_rps.total_cmp(&b.mix_capacity_rps))
    });
    out
}

/// The endpoint that binds the mix first: its group, capacity, the signal and how it was read.
struct Limit<'a> {
    group: &'a Group,
    capacity: GroupCapacity,
    point: Signal,
    how: String,
}

impl Limit<'_> {
    /// The capacity of the mix it sets, and how it was read.
    fn reading(&self) -> Reading {
        let (g, c) = (self.group, &self.capacity);
        Reading {
            capacity: c.mix_capacity_rps,
            lower_bound: false,
            basis: format!(
                "{} serves at most {} req/s successfully ({}) and is {:.1}% of the mix's arrivals, so the mix as offered binds at {} / {:.3} = {} req/s",
                g.name,
                rps(c.capacity_rps),
                self.how,
                g.share * 100.0,
                rps(c.capacity_rps),
                g.share,
                rps(c.mix_capacity_rps)
            ),
        }
    }

    fn limiting(&self) -> Limiting {
        let (g, p) = (self.group, &self.point);
        Limiting {
            endpoint: g.name.clone(),
            model: g.models.first().cloned(),
            share: g.share,
            capacity_rps: self.capacity.capacity_rps,
            saturated_at_load: p.load,
            saturated_at_mix_rps: p
                .own
                .and_then(|o| o.mix_equivalent_rps)
                .unwrap_or(p.offered_rps),
            saturated_at_own_rps: p.own.map_or(p.offered_rps * g.share, |o| o.offered_rps),
            signal: p.signal.name().to_string(),
        }
    }

    /// Its own requests in flight at its share of the trigger, from its levels below its
    /// saturation.
    fn in_flight_at_trigger(&self) -> Option<f64> {
        let (g, p) = (self.group, &self.point);
        let saturated = g.level_of(p).map_or(p.load, |l| l.own.load);
        let own: Vec<&LoadLevel> = g
            .own_levels()
            .into_iter()
            .filter(|l| l.trusted() && l.load < saturated)
            .collect();
        in_flight_at(&own, self.capacity.capacity_rps * (1.0 - HEADROOM))
    }
}

/// Of the endpoints that saturated, the one whose capacity over its share is lowest: where
/// the mix binds. None where no breaking point was found (or the generator was the limit), or
/// where the totals' own reading is lower still by more than [`TOTALS_NOISE`].
fn first_to_bind<'a>(
    groups: &'a Groups,
    breaking: &Breaking,
    total: Option<f64>,
) -> Option<Limit<'a>> {
    // As the breaking point does: per endpoint only where the mix was judged so.
    if breaking.point.is_none() || !groups.per_endpoint() {
        return None;
    }
    groups
        .endpoints
        .iter()
        .filter(|g| g.share > 0.0)
        .filter_map(|group| {
            let (capacity, point, how) = group_capacity(group);
            Some(Limit {
                group,
                capacity,
                point: point?.clone(),
                how,
            })
        })
        .min_by(|a, b| {
            a.capacity
                .mix_capacity_rps
                .total_cmp(&b.capacity.mix_capacity_rps)
        })
        // The totals bind first only when clearly lower: within the noise of a level's rates
        // (a closed ramp's totals read 59.5 req/s where text bound at 60.3) the endpoint that
        // saturated is the cause to name.
        .filter(|l| total.is_none_or(|t| l.capacity.mix_capacity_rps <= t * (1.0 + TOTALS_NOISE)))
}

/// How much lower than the first endpoint to bind the totals' own capacity must read to be
/// the mix's limit instead (a shared limit, such as the backend's one worker).
const TOTALS_NOISE: f64 = 0.05;

/// Requests in flight at the trigger rate: the exact mean at the levels below the breaking
/// point, interpolated; with none, Little's law at the lowest latency measured.
fn total_in_flight(trusted: &[&LoadLevel], breaking: &Breaking, trigger: f64) -> f64 {
    let below: Vec<&LoadLevel> = match &breaking.point {
        Some(p) => trusted
            .iter()
            .copied()
            .filter(|l| l.load < p.load)
            .collect(),
        None => trusted.to_vec(),
    };
    in_flight_at(&below, trigger).unwrap_or_else(|| {
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
    })
}

/// A comment for the autoscaler snippets: which model the trigger protects.
fn snippet_note(l: &Limiting, capacity: f64, own_in_flight: Option<f64>) -> String {
    format!(
        "# The trigger protects {}{}: it binds first, at {} req/s of its own ({:.1}% of\n# the mix), so the mix at {} req/s; {} of its requests in flight at the trigger.\n",
        l.endpoint,
        l.model
            .as_deref()
            .map_or(String::new(), |m| format!(" (model {m})")),
        rps(l.capacity_rps),
        l.share * 100.0,
        rps(capacity),
        own_in_flight.map_or("–".to_string(), |n| format!("{n:.1}"))
    )
}

/// Capacity and trigger read from the load levels, the breaking point and every endpoint's
/// saturation: the lowest of the totals' reading and each saturated endpoint's capacity over
/// its share of the mix.
pub fn scaling(
    levels: &[LoadLevel],
    breaking: &Breaking,
    groups: &Groups,
    tiers: &[(&str, f64)],
) -> Scaling {
    let trusted: Vec<&LoadLevel> = levels.iter().filter(|l| l.trusted()).collect();
    let max_ok = trusted.iter().map(|l| l.succeeded_rps).fold(0.0, f64::max);
    // The totals' own first signal; nothing at all where the generator was the limit.
    let total_point = breaking
        .point
        .as_ref()
        .and_then(|_| breaking.signals.iter().find(|s| s.endpoint.is_none()));
    let total = read_capacity(
        &trusted,
        total_point,
        total_point.map_or(0.0, |p| p.succeeded_rps),
    );
    let limit = first_to_bind(groups, breaking, total_point.map(|_| total.capacity));
    let reading = limit.as_ref().map_or(total, Limit::reading);
    let capacity = reading.capacity;
    let in_flight = total_in_flight(&trusted, breaking, capacity * (1.0 - HEADROOM));
    let mut s = build(
        max_ok,
        capacity,
        reading.lower_bound,
        reading.basis,
        in_flight,
        tiers,
        !reading.lower_bound,
    );
    if let Some(l) = &limit {
        let limiting = l.limiting();
        let own_in_flight = l.in_flight_at_trigger();
        let note = snippet_note(&limiting, capacity, own_in_flight);
        for yaml in [&mut s.hpa_yaml, &mut s.keda_yaml].into_iter().flatten() {
            yaml.insert_str(0, &note);
        }
        s.limiting = Some(limiting);
        s.scale_out_at_limiting_in_flight = own_in_flight;
    }
    let found = (!reading.lower_bound).then_some(capacity);
    s.by_endpoint = by_group(&groups.endpoints, found);
    s.by_model = by_group(&groups.models, found);
    s
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
    // A search that stopped early still proved its passing rate: a trigger below it holds.
    let mut s = build(
        max_ok.max(capacity),
        capacity,
        !answer.converged,
        basis,
        in_flight,
        tiers,
        true,
    );
    s.limiting = search_limiting(answer);
    Some(s)
}

/// The search's limiting endpoint: its share and goodput at the capacity step, its own rate
/// at the lowest failing one. None where the search names no endpoint, or a step is missing.
fn search_limiting(answer: &crate::capacity::CapacityAnswer) -> Option<Limiting> {
    let failure = answer.limiting.as_ref()?;
    let endpoint = failure.endpoint.clone()?;
    let failing_rps = answer.failing_rps?;
    let offered: f64 = answer.goodput.iter().map(|e| e.offered_rps).sum();
    let at_capacity = answer.goodput.iter().find(|e| e.endpoint == endpoint)?;
    let at_failure = answer
        .steps
        .iter()
        .find(|s| s.rate_rps == failing_rps)?
        .endpoints
        .iter()
        .find(|e| e.endpoint == endpoint)?;
    (offered > 0.0).then(|| Limiting {
        share: at_capacity.offered_rps / offered,
        capacity_rps: at_capacity.goodput_rps,
        model: None,
        saturated_at_load: failing_rps,
        saturated_at_mix_rps: failing_rps,
        saturated_at_own_rps: at_failure.offered_rps,
        signal: failure.signal.name().to_string(),
        endpoint,
    })
}

/// The scaling answer at `capacity`; `with_trigger`: whether the capacity was found (a
/// passing rate the target was shown to sustain up to), so that a trigger below it holds.
fn build(
    max_ok: f64,
    capacity: f64,
    lower_bound: bool,
    basis: String,
    in_flight: f64,
    tiers: &[(&str, f64)],
    with_trigger: bool,
) -> Scaling {
    let trigger = capacity * (1.0 - HEADROOM);
    if !with_trigger || trigger <= 0.0 {
        return Scaling {
            max_throughput_rps: max_ok,
            capacity_rps: capacity,
            capacity_is_lower_bound: lower_bound,
            capacity_basis: basis,
            limiting: None,
            scale_out_at_rps: None,
            scale_out_at_in_flight: None,
            scale_out_at_limiting_in_flight: None,
            headroom: HEADROOM,
            by_endpoint: Vec::new(),
            by_model: Vec::new(),
            instances: Vec::new(),
            hpa_yaml: None,
            keda_yaml: None,
            to_find_capacity: Some(to_find_capacity(max_ok, "")),
        };
    }
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
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: aurax-backend\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: aurax-backend\n  minReplicas: {min_replicas}\n  maxReplicas: {max_replicas}\n  metrics:\n    - type: Pods\n      pods:\n        metric:\n          name: aurax_inprogress   # requests in progress per pod, via prometheus-adapter\n        target:\n          type: AverageValue\n          averageValue: \"{in_flight:.1}\"\n    # With a request counter (fastapi_requests_total, not exposed by the published backend)\n    # as a per-pod rate through prometheus-adapter:\n    # - type: Pods\n    #   pods:\n    #     metric:\n    #       name: fastapi_requests_per_second\n    #     target:\n    #       type: AverageValue\n    #       averageValue: \"{trigger:.1}\"\n",
    );
    let keda_yaml = format!(
        "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: aurax-backend\nspec:\n  scaleTargetRef:\n    name: aurax-backend\n  minReplicaCount: {min_replicas}\n  maxReplicaCount: {max_replicas}\n  triggers:\n    # Requests in progress (queued at the model server included): the published backend's\n    # only request metric, and the one that sees a queue.\n    - type: prometheus\n      metadata:\n        serverAddress: http://prometheus:9090\n        query: sum(aurax_inprogress{{handler!=\"/metrics\"}})\n        threshold: \"{in_flight:.1}\"   # requests in progress per replica\n    # With a request counter (fastapi_requests_total; not exposed by the published backend):\n    # - type: prometheus\n    #   metadata:\n    #     serverAddress: http://prometheus:9090\n    #     query: sum(rate(fastapi_requests_total{{handler!=\"/metrics\"}}[1m]))\n    #     threshold: \"{trigger:.1}\"   # requests/s per replica\n",
    );
    Scaling {
        max_throughput_rps: max_ok,
        capacity_rps: capacity,
        capacity_is_lower_bound: lower_bound,
        capacity_basis: basis,
        limiting: None,
        scale_out_at_rps: Some(trigger),
        scale_out_at_in_flight: Some(in_flight),
        scale_out_at_limiting_in_flight: None,
        headroom: HEADROOM,
        by_endpoint: Vec::new(),
        by_model: Vec::new(),
        instances,
        hpa_yaml: Some(hpa_yaml),
        keda_yaml: Some(keda_yaml),
        to_find_capacity: None,
    }
}

/// What to say where nothing saturated: the most served, and a ramp past it of the same
/// mix (`mix`: the run's own `--user-class` flags, each with a leading space, or nothing).
pub(crate) fn to_find_capacity(max_ok: f64, mix: &str) -> String {
    if max_ok <= 0.0 {
        return "no load level had 20 arrivals: run longer, or at a higher rate, to find a capacity".to_string();
    }
    format!(
        "the load never saturated the target (the most it served successfully at a load level was {} req/s), so there is no capacity and no trigger to give: ramp past it to find them (--rate-stages '{:.0}/s:10s,{:.0}/s:3m'{mix}, higher if that finds none), or let run --find-capacity{mix} search for it",
        rps(max_ok),
        (max_ok / 2.0).ceil().max(1.0),
        (max_ok * 4.0).ceil().max(4.0)
    )
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
        let point = Signal {
            signal,
            endpoint: None,
            load,
            offered_rps: load,
            succeeded_rps: 0.0,
            own: None,
            at_s: 0.0,
            detail: String::new(),
        };
        Breaking {
            point: Some(point.clone()),
            generator_limit: None,
            signals: vec![point],
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
            &Groups::default(),
            &[("target", 50.0)],
        );
        assert!((s.capacity_rps - 95.0).abs() <= 2.0, "{s:?}");
        assert!(!s.capacity_is_lower_bound);
        let (rate, in_flight) = (
            s.scale_out_at_rps.expect("a trigger"),
            s.scale_out_at_in_flight.expect("in flight"),
        );
        assert!((rate - 0.7 * s.capacity_rps).abs() < 1e-9);
        // In flight is 5% of the rate below capacity: at the trigger, ~3.3.
        assert!((in_flight - rate * 0.05).abs() < 0.1, "{s:?}");
        assert_eq!(s.instances[0].instances, 1);
        assert!(s.keda_yaml.is_some_and(|k| k.contains("aurax_inprogress")));
    }
}
