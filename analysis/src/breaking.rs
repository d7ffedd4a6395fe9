//! Question 4: where the system stops scaling. Three signals over the load levels — the
//! throughput knee (Kneedle), p95 over its target, the error rate over its target — the
//! first to fire is the breaking point; the Universal Scalability Law is fitted beside them.

use aurax_schema::Targets;
use serde::Serialize;

use crate::little::little_check;
use crate::windows::LoadLevel;

/// After the knee, more load adds at most this share of throughput.
const PLATEAU_GAIN: f64 = 0.10;

/// A level needs this many requests before its p95 or error rate is trusted.
pub(crate) const MIN_LEVEL_REQUESTS: f64 = 20.0;

#[derive(Debug, Clone, Serialize)]
pub struct Signal {
    pub signal: String,
    pub users: f64,
    pub throughput_rps: f64,
    pub at_s: f64,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakingPoint {
    pub found: bool,
    pub signal: Option<String>,
    pub users: Option<f64>,
    pub throughput_rps: Option<f64>,
    pub at_s: Option<f64>,
    /// One sentence for the report.
    pub verdict: String,
    /// Every signal that fired, lowest load first.
    pub signals: Vec<Signal>,
    /// The load generator, not the target, limited the run at the breaking level.
    pub generator_limited: bool,
    /// Targets missed at every load level: problems, but not a breaking point.
    pub standing: Vec<String>,
}

enum Crossing {
    /// First (users, value) over the limit after a level under it.
    At(f64, f64),
    /// Over the limit from the lowest level on.
    Always,
    Never,
}

/// Where a per-level series, ordered by load, goes over `limit` to stay: the first level over
/// it whose next level is over it too, after a level under it. One noisy level is no crossing.
fn crossing(series: &[(f64, f64)], limit: f64) -> Crossing {
    if !series.is_empty() && series.iter().all(|(_, v)| *v > limit) {
        return Crossing::Always;
    }
    let mut seen_under = false;
    for (i, (users, value)) in series.iter().enumerate() {
        let next_over = series.get(i + 1).is_none_or(|(_, v)| *v > limit);
        if *value > limit && next_over && seen_under {
            return Crossing::At(*users, *value);
        }
        seen_under |= *value <= limit;
    }
    Crossing::Never
}

/// Finds the breaking point. A p95 or error-rate signal is a *crossing*: under its target at
/// a lower load level, over it at this one. Over target at every level is a standing problem
/// (said in `standing`), not a breaking point. `level_p95` holds (users, endpoint, p95 ms,
/// requests) per level and endpoint.
/// `unit` names the load: `users`, or `req/s offered` for an open-model run.
pub fn find(
    levels: &[LoadLevel],
    level_p95: &[(f64, String, f64, f64)],
    targets: &Targets,
    unit: &str,
) -> BreakingPoint {
    let mut signals = Vec::new();
    let mut standing = Vec::new();
    if let Some(k) = throughput_knee(levels) {
        let l = &levels[k];
        signals.push(Signal {
            signal: "throughput_knee".into(),
            users: l.users,
            throughput_rps: l.ok_rps,
            at_s: l.first_s,
            detail: format!(
                "throughput stops growing with load at {:.0} {unit} ({:.1} req/s succeeded); more load added {:.1} req/s at most",
                l.users,
                l.ok_rps,
                levels[k..].iter().map(|x| x.ok_rps).fold(0.0, f64::max) - l.ok_rps
            ),
        });
    }
    for t in &targets.endpoints {
        let mine: Vec<(f64, f64)> = level_p95
            .iter()
            .filter(|(_, e, _, n)| *e == t.endpoint && *n >= MIN_LEVEL_REQUESTS)
            .map(|(u, _, p95, _)| (*u, *p95))
            .collect();
        match crossing(&mine, t.target_ms) {
            Crossing::At(users, p95) => {
                if let Some(l) = levels.iter().find(|l| l.users == users) {
                    signals.push(Signal {
                        signal: "p95_over_target".into(),
                        users,
                        throughput_rps: l.ok_rps,
                        at_s: l.first_s,
                        detail: format!(
                            "{} p95 {p95:.0} ms crosses its {:.0} ms target at {users:.0} {unit}",
                            t.endpoint, t.target_ms
                        ),
                    });
                }
            }
            Crossing::Always => standing.push(format!(
                "{} p95 is over its {:.0} ms target at every load level",
                t.endpoint, t.target_ms
            )),
            Crossing::Never => {}
        }
    }
    let limit = targets.error_rate.max_error_rate;
    // A level's error rate counts from three failures on: one failure in 20 is no signal.
    let rates: Vec<(f64, f64)> = levels
        .iter()
        .filter(|l| l.requests >= MIN_LEVEL_REQUESTS)
        .map(|l| {
            (
                l.users,
                if l.error_rate * l.requests >= 3.0 {
                    l.error_rate
                } else {
                    0.0
                },
            )
        })
        .collect();
    match crossing(&rates, limit) {
        Crossing::At(users, rate) => {
            if let Some(l) = levels.iter().find(|l| l.users == users) {
                signals.push(Signal {
                    signal: "error_rate_over_target".into(),
                    users,
                    throughput_rps: l.ok_rps,
                    at_s: l.first_s,
                    detail: format!("error rate {:.1}% crosses the {:.1}% target at {users:.0} {unit}", rate * 100.0, limit * 100.0),
                });
            }
        }
        Crossing::Always => standing.push(format!(
            "the error rate is over its {:.1}% target at every load level: failures that do not depend on load",
            limit * 100.0
        )),
        Crossing::Never => {}
    }
    signals.sort_by(|a, b| a.users.total_cmp(&b.users));
    let max_ok = levels.iter().map(|l| l.ok_rps).fold(0.0, f64::max);
    let max_users = levels.iter().map(|l| l.users).fold(0.0, f64::max);
    match signals.first().cloned() {
        Some(first) => {
            let level = levels.iter().find(|l| l.users == first.users);
            // The client was the limit where it fell behind its schedule, or where its own
            // in-flight count contradicts Little's law (in flight = throughput x latency).
            let late = level.is_some_and(|l| l.lateness_p99_ms > 10.0);
            let little_fails =
                level.is_some_and(|l| l.requests >= MIN_LEVEL_REQUESTS && !little_check(l).holds);
            let generator_limited = late || little_fails;
            let verdict = if generator_limited {
                let why = match level {
                    Some(l) if late => format!(
                        "it fell behind its schedule (lateness p99 {:.0} ms)",
                        l.lateness_p99_ms
                    ),
                    Some(l) => {
                        let c = little_check(l);
                        format!(
                            "Little's law fails there ({:.1} in flight measured, {:.1} expected)",
                            c.in_flight, c.expected
                        )
                    }
                    None => String::new(),
                };
                format!(
                    "the load generator was the limit at {:.0} {unit}: {why}; the limit found there is the client's, not the target's",
                    first.users
                )
            } else {
                format!(
                    "breaking point at {:.0} {unit}, {:.1} req/s, {:.0} s into the run: {}",
                    first.users, first.throughput_rps, first.at_s, first.detail
                )
            };
            BreakingPoint {
                found: !generator_limited,
                standing,
                signal: Some(first.signal.clone()),
                users: Some(first.users),
                throughput_rps: Some(first.throughput_rps),
                at_s: Some(first.at_s),
                verdict,
                signals,
                generator_limited,
            }
        }
        None => BreakingPoint {
            found: false,
            standing,
            signal: None,
            users: None,
            throughput_rps: None,
            at_s: None,
            verdict: if levels.len() < 4 {
                format!(
                    "no breaking point up to {max_ok:.1} req/s ({max_users:.0} {unit}); the load barely varied ({} level(s)), so ramp it (a low --spawn-rate or a step scenario) to find one",
                    levels.len()
                )
            } else {
                format!("no breaking point up to {max_ok:.1} req/s ({max_users:.0} {unit})")
            },
            signals,
            generator_limited: false,
        },
    }
}

/// (load, successful req/s) of the levels with enough requests to trust: the others are noise.
pub(crate) fn level_points(levels: &[LoadLevel]) -> Vec<(f64, f64)> {
    levels
        .iter()
        .filter(|l| l.users > 0.0 && l.requests >= MIN_LEVEL_REQUESTS)
        .map(|l| (l.users, l.ok_rps))
        .collect()
}

/// Kneedle on (load, successful throughput): the point furthest above the chord, moved
/// forward to where the curve really is flat (see PLATEAU_GAIN).
fn throughput_knee(levels: &[LoadLevel]) -> Option<usize> {
    let pts = level_points(levels);
    if pts.len() < 4 {
        return None;
    }
    let (x0, x1) = (pts[0].0, pts[pts.len() - 1].0);
    let y_min = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let y_max = pts.iter().map(|p| p.1).fold(0.0, f64::max);
    if x1 <= x0 || y_max <= y_min {
        return None;
    }
    let diff: Vec<f64> = pts
        .iter()
        .map(|(x, y)| (y - y_min) / (y_max - y_min) - (x - x0) / (x1 - x0))
        .collect();
    let (candidate, best) = diff.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    if *best < 0.1 || candidate == 0 {
        return None;
    }
    // Kneedle proposes; a plateau decides: from the knee on, no higher load may add more than
    // PLATEAU_GAIN, over at least two more levels. Overloaded last levels (throughput falling)
    // must not pull the knee early, so the candidate moves forward until that holds.
    let k = (candidate..pts.len().saturating_sub(2)).find(|&k| {
        let later = pts[k + 1..].iter().map(|p| p.1).fold(0.0, f64::max);
        later <= pts[k].1 * (1.0 + PLATEAU_GAIN)
    })?;
    let before = (pts[k].1 - pts[0].1) / (pts[k].0 - pts[0].0);
    if before <= 0.0 {
        return None;
    }
    // Index among all levels (levels with 0 users were skipped above).
    levels.iter().position(|l| l.users == pts[k].0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(users: f64, ok_rps: f64, error_rate: f64) -> LoadLevel {
        LoadLevel::for_test(users, ok_rps, error_rate)
    }

    #[test]
    fn knee_at_the_saturation_corner() {
        // Linear to 50 req/s at 10 users, then flat.
        let levels: Vec<_> = (1..=20)
            .map(|u| level(f64::from(u), (5.0 * f64::from(u)).min(50.0), 0.0))
            .collect();
        let bp = find(&levels, &[], &targets(0.01), "users");
        assert!(bp.found, "{}", bp.verdict);
        assert_eq!(bp.signal.as_deref(), Some("throughput_knee"));
        assert_eq!(bp.users, Some(10.0));
        assert_eq!(bp.throughput_rps, Some(50.0));
    }

    #[test]
    fn linear_growth_has_no_breaking_point() {
        let levels: Vec<_> = (1..=10)
            .map(|u| level(f64::from(u), 3.0 * f64::from(u), 0.0))
            .collect();
        let bp = find(&levels, &[], &targets(0.01), "users");
        assert!(!bp.found);
        assert!(
            bp.verdict.starts_with("no breaking point up to 30.0 req/s"),
            "{}",
            bp.verdict
        );
    }

    #[test]
    fn errors_fire_first_when_they_come_first() {
        let levels: Vec<_> = (1..=10)
            .map(|u| {
                level(
                    f64::from(u),
                    3.0 * f64::from(u),
                    if u >= 6 { 0.2 } else { 0.0 },
                )
            })
            .collect();
        let bp = find(&levels, &[], &targets(0.05), "users");
        assert_eq!(bp.signal.as_deref(), Some("error_rate_over_target"));
        assert_eq!(bp.users, Some(6.0));
    }

    fn targets(max_error_rate: f64) -> Targets {
        let mut t = Targets::seed_defaults();
        t.error_rate.max_error_rate = max_error_rate;
        t
    }

    #[test]
    fn a_constant_error_rate_is_standing_not_a_breaking_point() {
        let levels: Vec<_> = (1..=10)
            .map(|u| level(f64::from(u), 3.0 * f64::from(u), 0.05))
            .collect();
        let bp = find(&levels, &[], &targets(0.01), "users");
        assert!(!bp.found, "{}", bp.verdict);
        assert_eq!(bp.standing.len(), 1);
    }

    #[test]
    fn p95_crossing_its_target_is_a_signal() {
        let levels: Vec<_> = (1..=10)
            .map(|u| level(f64::from(u), 3.0 * f64::from(u), 0.0))
            .collect();
        let p95: Vec<_> = (1..=10)
            .map(|u| {
                (
                    f64::from(u),
                    "health".to_string(),
                    if u >= 7 { 80.0 } else { 10.0 },
                    100.0,
                )
            })
            .collect();
        let bp = find(&levels, &p95, &targets(0.01), "users");
        assert_eq!(bp.signal.as_deref(), Some("p95_over_target"));
        assert_eq!(bp.users, Some(7.0));
    }

    #[test]
    fn a_client_that_contradicts_littles_law_is_not_a_breaking_point() {
        // 40 req/s at 500 ms means ~20 in flight; the client saw 2: it was not sending.
        let levels: Vec<_> = (1..=20)
            .map(|u| LoadLevel {
                mean_latency_ms: 500.0,
                in_flight: 3.0,
                ..level(f64::from(u), (5.0 * f64::from(u)).min(40.0), 0.0)
            })
            .collect();
        let bp = find(&levels, &[], &targets(0.01), "users");
        assert!(bp.generator_limited && !bp.found, "{}", bp.verdict);
        assert!(bp.verdict.contains("Little's law"), "{}", bp.verdict);
    }
}
