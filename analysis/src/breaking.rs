//! Question 4: where the target stops coping. Signals over the load levels, each judged on
//! what the target **served** (completions by completion time), never on what was sent:
//!
//! - `served_below_offered`: completions fall under 95% of arrivals, beyond the growth in
//!   flight that Little's law expects of a ramp (a queue builds, or arrivals are dropped);
//! - `throughput_knee`: successful served throughput stops growing with load (Kneedle);
//! - `latency_knee`: p95 of successful requests turns from flat to steep (Kneedle) and at
//!   least doubles;
//! - `p95_over_target`: an endpoint's p95 crosses its target;
//! - `error_rate_over_target`: the error rate (dropped arrivals included) crosses its target.
//!
//! Each fires only when sustained: over its limit at a level and the next, after a level under
//! it. The first to fire (lowest load) is the breaking point. A target that queues trips the
//! first three; one that refuses fast trips the throughput knee and the error rate.

use aurax_schema::Targets;
use serde::Serialize;

use crate::levels::{LevelEndpoint, LoadLevel};
use crate::little::little_check;
use crate::units::rps;

/// After the knee, more load adds at most this share of throughput.
const PLATEAU_GAIN: f64 = 0.10;
/// Served below this share of offered (beyond a ramp's expected growth in flight) is a
/// target falling behind.
pub const SERVED_SHARE_FLOOR: f64 = 0.95;
/// A deficit smaller than this many requests over a level is noise, whatever its share.
const MIN_DEFICIT: f64 = 5.0;
/// A latency knee needs p95 to rise at least this much past the knee.
const LATENCY_KNEE_FACTOR: f64 = 2.0;
/// ... and by at least this many milliseconds, so jitter of a few ms on a fast endpoint is
/// no knee.
const LATENCY_KNEE_MIN_RISE_MS: f64 = 20.0;
/// A level's error rate counts from this many failures on: one failure in 20 is no signal.
const MIN_FAILURES: f64 = 3.0;
/// Lateness p99 over this at the breaking level means the generator, not the target, broke.
const GENERATOR_LATE_MS: f64 = 10.0;

/// What fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// Served fell below 95% of offered, beyond the growth in flight a ramp explains.
    ServedBelowOffered,
    /// Successful served throughput stopped growing with load (Kneedle, then a plateau).
    ThroughputKnee,
    /// p95 of successful responses bent upwards (Kneedle on its logarithm, up to its
    /// highest level), and stayed up for two levels.
    LatencyKnee,
    /// An endpoint's p95 crossed its target.
    P95OverTarget,
    /// The error rate crossed its tier.
    ErrorRateOverTarget,
}

impl SignalKind {
    /// The target ran out of capacity (as opposed to missing a target below its capacity).
    pub fn is_saturation(self) -> bool {
        matches!(
            self,
            SignalKind::ServedBelowOffered | SignalKind::ThroughputKnee | SignalKind::LatencyKnee
        )
    }

    /// The signal's name in reports and `summary.json`.
    pub fn name(self) -> &'static str {
        match self {
            SignalKind::ServedBelowOffered => "served_below_offered",
            SignalKind::ThroughputKnee => "throughput_knee",
            SignalKind::LatencyKnee => "latency_knee",
            SignalKind::P95OverTarget => "p95_over_target",
            SignalKind::ErrorRateOverTarget => "error_rate_over_target",
        }
    }
}

/// One signal that fired, at a load level.
#[derive(Debug, Clone, Serialize)]
pub struct Signal {
    /// Which signal fired.
    pub signal: SignalKind,
    /// The endpoint whose own flows fired it (judged on its own offered rate), or None for
    /// the run's totals.
    pub endpoint: Option<String>,
    /// The level's load: users, or arrivals per second targeted.
    pub load: f64,
    /// Arrivals per second of the whole mix at that level.
    pub offered_rps: f64,
    /// Successful completions per second of the whole mix at that level.
    pub succeeded_rps: f64,
    /// For an endpoint's signal: its own arrivals and successful completions per second.
    pub own: Option<OwnRates>,
    /// Seconds into the run when the level began.
    pub at_s: f64,
    /// What was measured, in words.
    pub detail: String,
}

/// An endpoint's own rates at the level where its signal fired.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct OwnRates {
    /// Its arrivals per second.
    pub offered_rps: f64,
    /// Its successful completions per second.
    pub succeeded_rps: f64,
    /// Its arrivals per second over its share of the task mix: the mix's offered rate, at its
    /// average proportions, that brings it there (None for an endpoint outside the mix).
    pub mix_equivalent_rps: Option<f64>,
}

impl Signal {
    /// Where it fired, in words: "at 108 req/s offered", or for an endpoint "generate_image
    /// saturates when offered 10.2 req/s of its own, 97.4 req/s of the mix (108 req/s offered)":
    /// the rates it was offered there, not what it serves (its capacity is read apart).
    pub fn headline(&self, unit: &str) -> String {
        match (&self.endpoint, &self.own) {
            (Some(e), Some(own)) => format!(
                "{e} saturates when offered {} req/s of its own, {} req/s of the mix ({:.0} {unit})",
                rps(own.offered_rps),
                rps(own.mix_equivalent_rps.unwrap_or(self.offered_rps)),
                self.load
            ),
            _ => format!("{:.0} {unit}", self.load),
        }
    }
}

/// The answer to "where does it break".
#[derive(Debug, Clone, Serialize)]
pub struct Breaking {
    /// The first sustained signal, when the target (not the load generator) broke.
    pub point: Option<Signal>,
    /// Set when the load generator was the limit where the first signal fired: why.
    pub generator_limit: Option<String>,
    /// Every signal that fired, lowest load first.
    pub signals: Vec<Signal>,
    /// Targets missed at every load level: problems, but not a breaking point.
    pub standing: Vec<String>,
    /// One sentence for the report.
    pub verdict: String,
}

enum Crossing {
    /// First level index over the limit (and the next too) after a level under it.
    At(usize),
    /// Over the limit from the lowest level on.
    Always,
    Never,
}

/// Where a per-level series, ordered by load, goes over `limit` to stay: the first level over
/// it whose next level is over it too, after a level under it. One noisy level is no crossing.
fn crossing(series: &[f64], limit: f64) -> Crossing {
    if !series.is_empty() && series.iter().all(|v| *v > limit) {
        return Crossing::Always;
    }
    let mut seen_under = false;
    for (i, value) in series.iter().enumerate() {
        let next_over = series.get(i + 1).is_none_or(|v| *v > limit);
        if *value > limit && next_over && seen_under {
            return Crossing::At(i);
        }
        seen_under |= *value <= limit;
    }
    Crossing::Never
}

fn signal(kind: SignalKind, l: &LoadLevel, detail: String) -> Signal {
    Signal {
        signal: kind,
        endpoint: None,
        load: l.load,
        offered_rps: l.offered_rps,
        succeeded_rps: l.succeeded_rps,
        own: None,
        at_s: l.first_s,
        detail,
    }
}

/// The three saturation signals (served below offered, throughput knee, latency knee) on
/// levels ordered by load, each judged on the levels' own flows: the run's totals, or one
/// endpoint's alone (then `who` names it, and its levels' rates are its own). `unit` names
/// the load: `users`, or `req/s offered`.
pub fn saturation_signals(trusted: &[&LoadLevel], who: &str, unit: &str) -> Vec<Signal> {
    let mut signals = Vec::new();
    // Served below offered, beyond what a ramp puts in flight (Little's law at the unloaded
    // latency): the queue's growth and the dropped arrivals.
    let base_latency_s = trusted
        .iter()
        .map(|l| l.mean_latency_ms / 1000.0)
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    // The most any later level served: a level offered no more than that was not behind, the
    // target kept up with its rate there. (A fast ramp trails: completions come a latency
    // after their sends, and near capacity that latency grows, so a 1 s level offered 86 req/s
    // served 76 while the next, offered 112, served 103.)
    let mut served_later = vec![0.0f64; trusted.len()];
    for i in (0..trusted.len().saturating_sub(1)).rev() {
        served_later[i] = served_later[i + 1].max(trusted[i + 1].served_rps);
    }
    let excess: Vec<f64> = trusted
        .iter()
        .zip(&served_later)
        .map(|(l, &later)| {
            if later >= l.offered_rps {
                return 0.0;
            }
            let ramp = if base_latency_s.is_finite() {
                (l.offered_rps * base_latency_s - l.in_flight_start).max(0.0)
            } else {
                0.0
            };
            let deficit = l.arrivals - l.completions - ramp;
            if deficit >= MIN_DEFICIT {
                deficit / l.arrivals
            } else {
                0.0
            }
        })
        .collect();
    let describe_deficit = |l: &LoadLevel| {
        let mut why = format!(
            "{who} served {:.1} req/s of {:.1} offered ({:.0}%)",
            l.served_rps,
            l.offered_rps,
            l.served_share() * 100.0
        );
        if l.in_flight_change >= MIN_DEFICIT {
            why += &format!(
                "; its requests in flight grew by {:.0} over the level's {:.0} s (a queue)",
                l.in_flight_change, l.seconds
            );
        }
        if l.dropped > 0.0 {
            why += &format!("; {:.0} arrivals dropped unsent", l.dropped);
        }
        why
    };
    match crossing(&excess, 1.0 - SERVED_SHARE_FLOOR) {
        Crossing::At(i) => signals.push(signal(
            SignalKind::ServedBelowOffered,
            trusted[i],
            format!(
                "{} at {:.0} {unit}",
                describe_deficit(trusted[i]),
                trusted[i].load
            ),
        )),
        Crossing::Always => signals.push(signal(
            SignalKind::ServedBelowOffered,
            trusted[0],
            format!(
                "{} already at the lowest load tested, {:.0} {unit}: the breaking point is at or below it",
                describe_deficit(trusted[0]),
                trusted[0].load
            ),
        )),
        Crossing::Never => {}
    }

    if let Some(k) = throughput_knee(trusted) {
        let l = trusted[k];
        let more = trusted[k..]
            .iter()
            .map(|x| x.succeeded_rps)
            .fold(0.0, f64::max)
            - l.succeeded_rps;
        signals.push(signal(
            SignalKind::ThroughputKnee,
            l,
            format!(
                "{who}'s successful throughput stops growing with load at {:.0} {unit} ({:.1} req/s served successfully); more load added {more:.1} req/s at most",
                l.load, l.succeeded_rps
            ),
        ));
    }

    if let Some((knee, at)) = latency_knee(trusted) {
        let (k, l) = (trusted[knee], trusted[at]);
        signals.push(signal(
            SignalKind::LatencyKnee,
            l,
            format!(
                "{who}'s p95 of successful requests turns steep past {:.0} {unit} ({:.0} ms there, {:.0} ms at {:.0} {unit})",
                k.load, k.p95_ms, l.p95_ms, l.load
            ),
        ));
    }
    signals
}

/// Finds the breaking point: the first sustained signal of the totals, of an endpoint's own
/// flows (`endpoint_signals`, from [`crate::saturation`]: Some when the mix was judged per
/// endpoint) or of a target. `unit` names the load: `users`, or `req/s offered`.
pub fn find(
    levels: &[LoadLevel],
    level_endpoints: &[LevelEndpoint],
    endpoint_signals: Option<&[Signal]>,
    targets: &Targets,
    unit: &str,
) -> Breaking {
    let trusted: Vec<&LoadLevel> = levels.iter().filter(|l| l.trusted()).collect();
    let mut signals = saturation_signals(&trusted, "the target", unit);
    if let Some(own) = endpoint_signals {
        // A mix's p95 blends endpoints whose latencies differ tenfold: it turns steep when the
        // random draws send a burst of the slow one, before any endpoint saturates. Each
        // endpoint's own latency knee stands in for it.
        signals.retain(|s| s.signal != SignalKind::LatencyKnee);
        signals.extend(own.iter().cloned());
    }
    let mut standing = Vec::new();
    for found in p95_crossings(levels, level_endpoints, targets, unit)
        .into_iter()
        .chain(error_rate_crossing(&trusted, targets, unit))
    {
        match found {
            Found::At(signal) => signals.push(signal),
            Found::Standing(text) => standing.push(text),
        }
    }

    // Lowest load first; at the same load, running out of capacity before missing a target.
    // An endpoint's signal before the totals' at the same load: it names the cause.
    signals.sort_by(|a, b| {
        a.load
            .total_cmp(&b.load)
            .then(a.signal.cmp(&b.signal))
            .then(a.endpoint.is_none().cmp(&b.endpoint.is_none()))
    });
    let max_ok = trusted.iter().map(|l| l.succeeded_rps).fold(0.0, f64::max);
    let max_load = levels.iter().map(|l| l.load).fold(0.0, f64::max);
    let Some(first) = signals.first().cloned() else {
        let verdict = if trusted.is_empty() {
            format!(
                "no breaking point to find: no load level had {:.0} arrivals; run longer, or at a higher rate",
                crate::levels::MIN_LEVEL_REQUESTS
            )
        } else if levels.len() < 4 {
            format!(
                "no breaking point up to {max_ok:.1} req/s served ({max_load:.0} {unit}); the load barely varied ({} level(s)), so ramp it (a low --spawn-rate or --rate-stages) to find one",
                levels.len()
            )
        } else {
            format!("no breaking point up to {max_ok:.1} req/s served ({max_load:.0} {unit})")
        };
        return Breaking {
            point: None,
            generator_limit: None,
            signals,
            standing,
            verdict,
        };
    };
    // An endpoint's levels may merge several of the run's: judge the generator at the
    // run's level nearest the signal's load.
    let level = levels.iter().min_by(|a, b| {
        (a.load - first.load)
            .abs()
            .total_cmp(&(b.load - first.load).abs())
    });
    if let Some(why) = level.and_then(generator_limit) {
        let verdict = format!(
            "the load generator was the limit at {:.0} {unit}: {why}; the limit found there is the client's, not the target's",
            first.load
        );
        return Breaking {
            point: None,
            generator_limit: Some(why),
            signals,
            standing,
            verdict,
        };
    }
    let verdict = match &first.endpoint {
        Some(_) => format!(
            "breaking point: {}, {:.0} s into the run: {}",
            first.headline(unit),
            first.at_s,
            first.detail
        ),
        None => format!(
            "breaking point at {:.0} {unit}, {:.1} req/s served successfully, {:.0} s into the run: {}",
            first.load, first.succeeded_rps, first.at_s, first.detail
        ),
    };
    // A signal of the totals came first: say which endpoint ran out on its own, and when.
    let verdict = match signals.iter().find(|s| s.endpoint.is_some()) {
        Some(own) if first.endpoint.is_none() => format!(
            "{verdict}; the first endpoint to saturate on its own: {}, {:.0} s into the run",
            own.headline(unit),
            own.at_s
        ),
        _ => verdict,
    };
    Breaking {
        point: Some(first),
        generator_limit: None,
        signals,
        standing,
        verdict,
    }
}

/// Where a target is crossed as the load rises: at a level, or at every one (a standing
/// failure, not a breaking point).
enum Found {
    At(Signal),
    Standing(String),
}

/// Each endpoint with a latency target: the level where its p95 crosses it.
fn p95_crossings(
    levels: &[LoadLevel],
    level_endpoints: &[LevelEndpoint],
    targets: &Targets,
    unit: &str,
) -> Vec<Found> {
    let mut found = Vec::new();
    for t in &targets.endpoints {
        let mine: Vec<&LevelEndpoint> = level_endpoints
            .iter()
            .filter(|e| {
                e.endpoint == t.endpoint && e.successes >= crate::levels::MIN_LEVEL_REQUESTS
            })
            .collect();
        let series: Vec<f64> = mine.iter().map(|e| e.p95_ms).collect();
        match crossing(&series, t.target_ms) {
            Crossing::At(i) => {
                if let Some(l) = levels.iter().find(|l| l.load == mine[i].load) {
                    found.push(Found::At(signal(
                        SignalKind::P95OverTarget,
                        l,
                        format!(
                            "{} p95 {:.0} ms crosses its {:.0} ms target at {:.0} {unit}",
                            t.endpoint, mine[i].p95_ms, t.target_ms, l.load
                        ),
                    )));
                }
            }
            Crossing::Always => found.push(Found::Standing(format!(
                "{} p95 is over its {:.0} ms target at every load level",
                t.endpoint, t.target_ms
            ))),
            Crossing::Never => {}
        }
    }
    found
}

/// The level where the error rate crosses its tier's limit (levels with fewer than
/// [`MIN_FAILURES`] failures count as none).
fn error_rate_crossing(trusted: &[&LoadLevel], targets: &Targets, unit: &str) -> Option<Found> {
    let limit = targets.error_rate.max_error_rate;
    let rates: Vec<f64> = trusted
        .iter()
        .map(|l| {
            if l.failures >= MIN_FAILURES {
                l.error_rate
            } else {
                0.0
            }
        })
        .collect();
    match crossing(&rates, limit) {
        Crossing::At(i) => Some(Found::At(signal(
            SignalKind::ErrorRateOverTarget,
            trusted[i],
            format!(
                "error rate {:.1}% crosses the {:.1}% target at {:.0} {unit}",
                rates[i] * 100.0,
                limit * 100.0,
                trusted[i].load
            ),
        ))),
        Crossing::Always => Some(Found::Standing(format!(
            "the error rate is over its {:.1}% target at every load level: failures that do not depend on load",
            limit * 100.0
        ))),
        Crossing::Never => None,
    }
}

/// Why the load generator, not the target, was the limit at this level: it fell behind its
/// schedule, or its own in-flight count contradicts Little's law.
fn generator_limit(l: &LoadLevel) -> Option<String> {
    if l.lateness_p99_ms > GENERATOR_LATE_MS {
        return Some(format!(
            "it fell behind its schedule (lateness p99 {:.0} ms)",
            l.lateness_p99_ms
        ));
    }
    let c = little_check(l);
    (l.trusted() && !c.holds).then(|| {
        format!(
            "Little's law fails there ({:.1} in flight measured, {:.1} expected)",
            c.in_flight, c.expected
        )
    })
}

/// Which way a rising curve bends at its knee.
#[derive(Clone, Copy)]
enum Bend {
    /// Rises, then flattens (throughput against load): the knee is above the chord.
    Flattening,
    /// Flat, then turns steep (latency against load): the knee is below the chord.
    Steepening,
}

/// Kneedle (Satopää et al.) on points ordered by x, both axes normalised to 0..1: the index
/// furthest from the chord on the side `bend` says, and how far. None for fewer than four
/// points or a flat curve.
fn kneedle(pts: &[(f64, f64)], bend: Bend) -> Option<(usize, f64)> {
    if pts.len() < 4 {
        return None;
    }
    let (x0, x1) = (pts[0].0, pts[pts.len() - 1].0);
    let y_min = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let y_max = pts.iter().map(|p| p.1).fold(0.0, f64::max);
    if x1 <= x0 || y_max <= y_min {
        return None;
    }
    let sign = match bend {
        Bend::Flattening => 1.0,
        Bend::Steepening => -1.0,
    };
    pts.iter()
        .map(|(x, y)| sign * ((y - y_min) / (y_max - y_min) - (x - x0) / (x1 - x0)))
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Kneedle on (load, successful served throughput): the point furthest above the chord,
/// moved forward to where the curve really is flat (see PLATEAU_GAIN). Index into `levels`.
fn throughput_knee(levels: &[&LoadLevel]) -> Option<usize> {
    let pts: Vec<(f64, f64)> = levels.iter().map(|l| (l.load, l.succeeded_rps)).collect();
    let (candidate, best) = kneedle(&pts, Bend::Flattening)?;
    if best < 0.1 || candidate == 0 {
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
    (before > 0.0).then_some(k)
}

/// Kneedle on (load, log of the p95 of successful requests) up to its highest level: the
/// knee is the last level before latency turns steep; the signal fires at the first later
/// level whose p95 is at least LATENCY_KNEE_FACTOR times the knee's, the next level's too (a
/// burst that queues for one level and drains in the next is no knee). Returns (knee, at).
fn latency_knee(levels: &[&LoadLevel]) -> Option<(usize, usize)> {
    let all: Vec<(usize, f64, f64)> = levels
        .iter()
        .enumerate()
        .filter(|(_, l)| l.p95_ms.is_finite() && l.p95_ms > 0.0)
        .map(|(i, l)| (i, l.load, l.p95_ms))
        .collect();
    // Up to the highest p95: past it, once requests fail at their timeout, the successful
    // ones left can be the fast endpoint's alone, and a p95 that falls for that reason is no
    // recovery to fit a curve to.
    let peak = all
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.2.total_cmp(&b.1.2))
        .map(|(i, _)| i)?;
    let pts = &all[..=peak];
    // In log space: latency grows by factors (a queue doubles it, then doubles it again), so
    // on a linear axis a queue's convex rise puts the knee of most distance from the chord
    // well past where the curve turns (at +20% of the load past saturation for a queue growing
    // quadratically over a ramp); on a log axis the rise is steepest where it begins.
    let curve: Vec<(f64, f64)> = pts.iter().map(|p| (p.1, p.2.ln())).collect();
    let (knee, best) = kneedle(&curve, Bend::Steepening)?;
    if best < 0.1 || knee + 1 >= pts.len() {
        return None;
    }
    let floor = pts[knee].2;
    let steep = |y: f64| y >= LATENCY_KNEE_FACTOR * floor && y - floor >= LATENCY_KNEE_MIN_RISE_MS;
    let at = (knee + 1..all.len())
        .find(|&j| steep(all[j].2) && all.get(j + 1).is_none_or(|p| steep(p.2)))?;
    Some((pts[knee].0, all[at].0))
}

#[cfg(test)]
mod tests;
