//! Which resource saturated first, the scaling trigger on it, and a saturated generator.

use super::{ResourceFindings, ResourceSeries};
use crate::breaking::Signal;
use crate::levels::LoadLevel;

/// Share of its ceiling at which a resource counts as saturated.
pub(super) const SATURATED: f64 = 0.9;
/// Share of the ceiling a scale-out trigger is set at.
const TRIGGER: f64 = 0.7;
/// A CPU that levels off below one busy core is not what limits: even one thread can use a
/// whole core, so the process is waiting on something else (the load, a lock, a downstream).
const MIN_CPU_PLATEAU_CORES: f64 = 0.9;

/// The first load level at which a series saturates: it is at 90% of its ceiling there and
/// stays within 10% of that while the load rises at least 10% further (a plateau); a series
/// at its cores' limit saturates without waiting for the plateau, and a CPU plateau below one
/// core is no saturation at all. A plateau counts only in a run that found a breaking point:
/// under a load that never limited the target, a flat series (one request in progress at
/// 1 to 5 users) says the load did not push it, not that it ran out.
fn saturation_level(
    s: &ResourceSeries,
    levels: &[LoadLevel],
    breaking_found: bool,
) -> Option<usize> {
    (0..s.per_level.len()).find(|&i| {
        let Some(v) = s.per_level[i] else {
            return false;
        };
        if v < SATURATED * s.ceiling {
            return false;
        }
        if s.ceiling_known && v >= SATURATED * s.ceiling {
            return true;
        }
        if !breaking_found || (s.is_cpu() && v < MIN_CPU_PLATEAU_CORES) {
            return false;
        }
        let later: Vec<(f64, f64)> = levels
            .iter()
            .zip(&s.per_level)
            .skip(i + 1)
            .filter_map(|(l, x)| Some((l.load, (*x)?)))
            .collect();
        later.iter().any(|(load, _)| *load >= 1.1 * levels[i].load)
            && later.iter().all(|(_, x)| *x <= 1.1 * v)
    })
}

/// Names the first resource to saturate, a trigger on it, and a saturated generator.
pub(super) fn judge(
    f: &mut ResourceFindings,
    levels: &[LoadLevel],
    load_unit: &str,
    breaking: Option<&Signal>,
) {
    let breaking_found = breaking.is_some();
    let mut first: Option<(usize, &ResourceSeries)> = None;
    let judged = |s: &&ResourceSeries| s.judged();
    for s in f.series.iter().filter(judged) {
        // At the same level a CPU goes before requests in progress: requests pile up because
        // something saturated, so a plateau in them alone is the symptom, not the cause.
        if let Some(at) = saturation_level(s, levels, breaking_found)
            && first.is_none_or(|(i, f)| at < i || (at == i && !f.is_cpu()))
        {
            first = Some((at, s));
        }
    }
    let queue = breaking.and_then(|b| {
        f.series
            .iter()
            .filter(judged)
            .filter(|s| s.unit == super::REQUESTS)
            .find_map(|s| queue_level(s, levels, b).map(|at| (at, s)))
    });
    if let Some((at, s)) = first {
        let value = s.per_level[at].unwrap_or(0.0);
        f.constraint = Some((s.name.clone(), levels[at].load, value));
        f.trigger = trigger(s, levels, load_unit);
    } else if let (Some((at, s)), Some(b)) = (queue, breaking) {
        let value = s.per_level[at].unwrap_or(0.0);
        f.constraint = Some((format!("{} (a queue)", s.name), levels[at].load, value));
        let at_trigger = TRIGGER * b.load;
        f.trigger = Some(match value_at(s, levels, at_trigger) {
            Some(v) => format!(
                "scale out when {} passes {} per instance: its level at ~{at_trigger:.0} {load_unit}, {:.0}% of the breaking load (past it, it grows without bound)",
                s.name,
                amount(v),
                TRIGGER * 100.0
            ),
            None => format!(
                "scale out on {} before it grows: no sample below the breaking load to set the level",
                s.name
            ),
        });
    } else if !breaking_found {
        f.notes.push("The load found no breaking point, so no resource is named as the constraint: only a CPU at its cores' limit would be, and none was.".into());
    } else if let Some(s) = f
        .series
        .iter()
        .filter(judged)
        .find(|s| tops_out_at_the_end(s))
    {
        // Its highest level is the last one: as likely a plateau as a series still rising.
        f.notes.push(format!(
            "{} was highest at the last load level ({:.0} {load_unit}): whether it saturated there cannot be told without a level beyond it, so it is not named the constraint. Run past the breaking point (a looser --stop-on, or --rate-stages ramping further).",
            s.name,
            levels.last().map_or(0.0, |l| l.load)
        ));
    } else {
        f.notes.push(format!(
            "No target resource reached a plateau at {:.0}% of its ceiling: the constraint (if the load found one) is not CPU or in-flight requests as sampled (queues, locks, a downstream service?), so no resource-based scaling trigger is set.",
            SATURATED * 100.0
        ));
    }
    if let Some(g) = f
        .series
        .iter()
        .find(|s| s.generator && s.is_cpu() && s.ceiling_known)
        && let Some(at) = g
            .per_level
            .iter()
            .position(|v| v.is_some_and(|v| v >= SATURATED * g.ceiling))
    {
        f.generator_saturated = Some(format!(
            "The load generator's CPU reached {:.2} of its {:.0} cores at {:.0} {load_unit}: from there the client, not the target, limited the load.",
            g.per_level[at].unwrap_or(0.0),
            g.ceiling,
            levels[at].load
        ));
    }
}

/// Where requests in progress start to grow without bound, the queue of a target that waits
/// instead of refusing: from the breaking level on, every level at least holds (within 10%)
/// and the last is at least three times the level below the breaking point (and 5 more).
fn queue_level(s: &ResourceSeries, levels: &[LoadLevel], breaking: &Signal) -> Option<usize> {
    let b = levels.iter().position(|l| l.load >= breaking.load)?;
    let before = (0..b).rev().find_map(|i| s.per_level[i])?;
    let after: Vec<f64> = s.per_level[b..].iter().flatten().copied().collect();
    let last = *after.last()?;
    let holds = after.windows(2).all(|w| w[1] >= 0.9 * w[0]);
    (after.len() >= 2 && holds && last >= 3.0 * before && last - before >= 5.0).then_some(b)
}

/// The series' value at a load, interpolated between levels.
fn value_at(s: &ResourceSeries, levels: &[LoadLevel], load: f64) -> Option<f64> {
    let pts: Vec<(f64, f64)> = levels
        .iter()
        .zip(&s.per_level)
        .filter_map(|(l, v)| Some((l.load, (*v)?)))
        .collect();
    let first = pts.first()?;
    if load <= first.0 {
        return Some(first.1);
    }
    pts.windows(2).find_map(|w| {
        let ((l0, v0), (l1, v1)) = (w[0], w[1]);
        (load >= l0 && load <= l1).then(|| v0 + (load - l0) / (l1 - l0).max(1e-12) * (v1 - v0))
    })
}

/// Whether the series first reaches 90% of its highest value at its last level with data.
fn tops_out_at_the_end(s: &ResourceSeries) -> bool {
    let seen: Vec<f64> = s.per_level.iter().flatten().copied().collect();
    let Some((last, before)) = seen.split_last() else {
        return false;
    };
    let busy_enough = !s.is_cpu() || *last >= MIN_CPU_PLATEAU_CORES;
    busy_enough
        && *last >= SATURATED * s.ceiling
        && before.iter().all(|v| *v < SATURATED * s.ceiling)
}

/// Where the series first reaches 70% of its ceiling, interpolated between load levels.
fn trigger(s: &ResourceSeries, levels: &[LoadLevel], load_unit: &str) -> Option<String> {
    let threshold = TRIGGER * s.ceiling;
    let points: Vec<(f64, f64)> = levels
        .iter()
        .zip(&s.per_level)
        .filter_map(|(l, v)| Some((l.load, (*v)?)))
        .collect();
    let crossing = points.windows(2).find_map(|w| {
        let ((l0, v0), (l1, v1)) = (w[0], w[1]);
        (v0 < threshold && v1 >= threshold)
            .then(|| l0 + (threshold - v0) / (v1 - v0).max(1e-12) * (l1 - l0))
    });
    let what = if s.ceiling_known {
        format!(
            "{:.0}% {} ({} of {:.0} {})",
            TRIGGER * 100.0,
            s.name,
            amount(threshold),
            s.ceiling,
            s.unit
        )
    } else {
        format!(
            "{:.0}% of the {} {} {} plateaued at ({} {})",
            TRIGGER * 100.0,
            amount(s.ceiling),
            s.unit,
            s.name,
            amount(threshold),
            s.unit
        )
    };
    match crossing {
        Some(load) => Some(format!(
            "scale out at {what}, reached at ~{load:.0} {load_unit}"
        )),
        None if points.first().is_some_and(|(_, v)| *v >= threshold) => Some(format!(
            "scale out at {what}: already passed at the lowest load ({:.0} {load_unit})",
            points[0].0
        )),
        None => Some(format!("scale out at {what}: not reached in this run")),
    }
}

/// A value with the decimals it needs to say something: 2.8, 0.035, 17.
fn amount(v: f64) -> String {
    match v.abs() {
        x if x >= 10.0 => format!("{v:.0}"),
        x if x >= 1.0 => format!("{v:.1}"),
        x if x >= 0.1 => format!("{v:.2}"),
        _ => format!("{v:.3}"),
    }
}
