//! Load levels: the spans of time in which the offered load (users, or arrivals per second)
//! was at one level, and what the target did there. The served rate counts completions in the
//! level's own windows (flow balance): a target that keeps up serves what is offered, one that
//! queues serves its capacity while the requests in flight grow by the difference.

use polars::prelude::*;
use serde::Serialize;

use crate::frame::{CollectStreaming, f64s, only};
use crate::ranks::Ranks;
use crate::windows::Window;

/// A level needs this many arrivals before its rates, p95 or error rate are trusted.
pub const MIN_LEVEL_REQUESTS: f64 = 20.0;

/// One level of offered load, over every window spent at it.
#[derive(Debug, Clone, Serialize)]
pub struct LoadLevel {
    /// Users active (closed model) or arrivals per second targeted (open model).
    pub load: f64,
    /// Seconds the load was at this level.
    pub seconds: f64,
    /// When the level was first reached, seconds into the run.
    pub first_s: f64,
    /// Arrivals at this level.
    pub arrivals: f64,
    /// Arrivals dropped unsent.
    pub dropped: f64,
    /// Arrivals that failed (dropped included), by send time.
    pub failures: f64,
    /// Completions (any outcome), successful completions and those within target, by
    /// completion time, in the level's windows.
    pub completions: f64,
    /// Completions that succeeded.
    pub succeeded: f64,
    /// Completions that succeeded within their endpoint's target.
    pub good: f64,
    /// Arrivals per second.
    pub offered_rps: f64,
    /// Completions per second: what the target answered.
    pub served_rps: f64,
    /// Successful completions per second.
    pub succeeded_rps: f64,
    /// Successful completions within their endpoint's target per second.
    pub goodput_rps: f64,
    /// failures / arrivals.
    pub error_rate: f64,
    /// Requests in flight on average over the level (time-weighted, exact).
    pub in_flight: f64,
    /// Requests in flight when the level began (its first window).
    pub in_flight_start: f64,
    /// How many more requests were in flight at the level's end than at its start: a queue
    /// that grows (sent − completed over the level).
    pub in_flight_change: f64,
    /// The generator's own in-flight count at its sends (mean, the new request included).
    pub seen_in_flight: f64,
    /// Mean latency of the requests sent at this level (any outcome), for Little's law.
    pub mean_latency_ms: f64,
    /// p95 of the successful requests sent at this level (NaN without any).
    pub p95_ms: f64,
    /// p99 of how late requests went out against their schedule (ms).
    pub lateness_p99_ms: f64,
}

impl LoadLevel {
    /// Enough arrivals to trust its rates and percentiles.
    pub fn trusted(&self) -> bool {
        self.load > 0.0 && self.arrivals >= MIN_LEVEL_REQUESTS
    }

    /// served / offered: 1 while the target keeps up.
    pub fn served_share(&self) -> f64 {
        if self.offered_rps > 0.0 {
            self.served_rps / self.offered_rps
        } else {
            1.0
        }
    }
}

/// What a level's windows add up to: counts, seconds and requests in flight.
#[derive(Debug, Clone, Copy, Default)]
pub struct LevelFlows {
    /// Users, or arrivals per second targeted.
    pub load: f64,
    /// Seconds its windows cover.
    pub seconds: f64,
    /// When its first window began, seconds into the run.
    pub first_s: f64,
    /// Arrivals (sent or dropped), by send time.
    pub arrivals: f64,
    /// Arrivals dropped unsent.
    pub dropped: f64,
    /// Arrivals that failed, dropped ones included.
    pub failures: f64,
    /// Completions (any outcome), by completion time.
    pub completions: f64,
    /// Completions that succeeded.
    pub succeeded: f64,
    /// Completions that succeeded within target.
    pub good: f64,
    /// Time-weighted requests in flight (Σ mean × seconds over its windows).
    pub in_flight_seconds: f64,
    /// Requests in flight when its first window began.
    pub in_flight_start: f64,
}

impl LoadLevel {
    /// A level's rates from its flows; latency figures NaN until the rows give them.
    pub fn from_flows(f: LevelFlows) -> LoadLevel {
        let seconds = f.seconds.max(1e-9);
        LoadLevel {
            load: f.load,
            seconds: f.seconds,
            first_s: f.first_s,
            arrivals: f.arrivals,
            dropped: f.dropped,
            failures: f.failures,
            completions: f.completions,
            succeeded: f.succeeded,
            good: f.good,
            offered_rps: f.arrivals / seconds,
            served_rps: f.completions / seconds,
            succeeded_rps: f.succeeded / seconds,
            goodput_rps: f.good / seconds,
            error_rate: if f.arrivals > 0.0 {
                f.failures / f.arrivals
            } else {
                0.0
            },
            in_flight: f.in_flight_seconds / seconds,
            in_flight_start: f.in_flight_start,
            in_flight_change: f.arrivals - f.dropped - f.completions,
            seen_in_flight: f64::NAN,
            mean_latency_ms: f64::NAN,
            p95_ms: f64::NAN,
            lateness_p99_ms: f64::NAN,
        }
    }
}

#[cfg(test)]
impl LoadLevel {
    /// A level of 10 s that keeps up (served = offered) with consistent numbers, for tests of
    /// what is computed from levels.
    pub fn for_test(load: f64, succeeded_rps: f64, error_rate: f64) -> LoadLevel {
        let served = succeeded_rps / (1.0 - error_rate).max(1e-9);
        LoadLevel {
            load,
            seconds: 10.0,
            first_s: load,
            arrivals: served * 10.0,
            dropped: 0.0,
            failures: served * 10.0 * error_rate,
            completions: served * 10.0,
            succeeded: succeeded_rps * 10.0,
            good: succeeded_rps * 10.0,
            offered_rps: served,
            served_rps: served,
            succeeded_rps,
            goodput_rps: succeeded_rps,
            error_rate,
            in_flight: served * 0.1,
            in_flight_start: served * 0.1,
            in_flight_change: 0.0,
            seen_in_flight: served * 0.1 + 1.0,
            mean_latency_ms: 100.0,
            p95_ms: 200.0,
            lateness_p99_ms: 1.0,
        }
    }
}

/// p95 of the successful requests of one endpoint at one load level.
#[derive(Debug, Clone, Serialize)]
pub struct LevelEndpoint {
    /// The load level.
    pub load: f64,
    /// The endpoint.
    pub endpoint: String,
    /// p95 of its successful responses at that level (ms).
    pub p95_ms: f64,
    /// Successful requests behind the p95.
    pub successes: f64,
}

/// The load level of each window: its offered load, binned to at most `max_levels` levels so
/// a long ramp still gives levels with enough requests each.
pub fn window_levels(windows: &[Window], max_levels: usize) -> Vec<f64> {
    let max_load = windows
        .iter()
        .map(|w| w.load)
        .filter(|l| l.is_finite())
        .fold(0.0, f64::max);
    let step = (max_load / max_levels as f64).ceil().max(1.0);
    windows
        .iter()
        .map(|w| {
            if w.load > 0.0 {
                // A load under half a step joins the first level: a ramp from 0/s kept each
                // of its first windows as a level of its own (25 levels, five of 1 s). Never
                // past the highest load offered: 25 users binned by 2 is a level of 25, not 26.
                ((w.load / step).round().max(1.0) * step).min(max_load)
            } else {
                w.load
            }
        })
        .collect()
}

/// Each row's load level (`level`), looked up from its window (`win`): the level each
/// window was binned to. A gather, not a join: no row is copied.
pub fn level_of_row(window_levels: &[f64]) -> Expr {
    lit(Series::new("level".into(), window_levels.to_vec()))
        .gather(col("win"), true)
        .alias("level")
}

/// The levels, lowest load first: flows summed over their windows, percentiles from the rows.
pub fn load_levels(
    lf: &LazyFrame,
    ranks: &Ranks,
    level: &Expr,
    windows: &[Window],
    window_levels: &[f64],
) -> PolarsResult<Vec<LoadLevel>> {
    let df = lf
        .clone()
        .with_column(level.clone())
        .group_by([col("level")])
        .agg([only(col("latency_us"), col("sent"))
            .cast(DataType::Float64)
            .mean()
            .alias("mean_us")])
        .sort(["level"], SortMultipleOptions::default())
        .collect_streaming()?;
    let (level, mean) = (f64s(&df, "level")?, f64s(&df, "mean_us")?);
    let levels = Levels::of(window_levels);
    let p95 = ranks.quantiles(levels.distinct.len(), &[0.95], |k| levels.of_window(k.win));
    let p95_of = |load: f64| levels.index(load).map_or(f64::NAN, |l| p95[l].values[0]);
    Ok((0..df.height())
        .filter(|&i| level[i].is_finite())
        .map(|i| {
            let mine: Vec<&Window> = windows
                .iter()
                .zip(window_levels)
                .filter(|(_, l)| **l == level[i])
                .map(|(w, _)| w)
                .collect();
            let sum = |f: &dyn Fn(&Window) -> f64| mine.iter().map(|w| f(w)).sum::<f64>();
            let seen_weight = sum(&|w| {
                if w.seen_in_flight.is_nan() {
                    0.0
                } else {
                    w.sent()
                }
            });
            LoadLevel {
                seen_in_flight: if seen_weight > 0.0 {
                    sum(&|w| {
                        if w.seen_in_flight.is_nan() {
                            0.0
                        } else {
                            w.seen_in_flight * w.sent()
                        }
                    }) / seen_weight
                } else {
                    0.0
                },
                mean_latency_ms: mean[i] / 1000.0,
                p95_ms: p95_of(level[i]) / 1000.0,
                // From another sort: [`add_lateness`].
                lateness_p99_ms: f64::NAN,
                ..LoadLevel::from_flows(LevelFlows {
                    load: level[i],
                    seconds: sum(&|w| w.seconds),
                    first_s: mine.first().map_or(0.0, |w| w.start_s),
                    arrivals: sum(&|w| w.arrivals),
                    dropped: sum(&|w| w.dropped),
                    failures: sum(&|w| w.failures),
                    completions: sum(&|w| w.completions),
                    succeeded: sum(&|w| w.succeeded),
                    good: sum(&|w| w.good),
                    in_flight_seconds: sum(&|w| w.in_flight_mean * w.seconds),
                    in_flight_start: mine.first().map_or(0.0, |w| w.in_flight_start),
                })
            }
        })
        .collect())
}

/// Each level's p99 of how late requests went out, from the sent requests ranked by it.
pub fn add_lateness(levels: &mut [LoadLevel], window_levels: &[f64], lateness: &Ranks) {
    let distinct = Levels::of(window_levels);
    let ranked = lateness.quantiles(distinct.distinct.len(), &[0.99], |k| {
        distinct.of_window(k.win)
    });
    for level in levels {
        if let Some(i) = distinct.index(level.load) {
            level.lateness_p99_ms = ranked[i].values[0] / 1000.0;
        }
    }
}

/// The distinct load levels of the windows, lowest first, and each window's among them.
struct Levels {
    distinct: Vec<f64>,
    of_window: Vec<Option<usize>>,
}

impl Levels {
    fn of(window_levels: &[f64]) -> Levels {
        let mut distinct: Vec<f64> = window_levels
            .iter()
            .copied()
            .filter(|l| l.is_finite())
            .collect();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        let of_window = window_levels
            .iter()
            .map(|l| distinct.binary_search_by(|d| d.total_cmp(l)).ok())
            .collect();
        Levels {
            distinct,
            of_window,
        }
    }

    fn index(&self, load: f64) -> Option<usize> {
        self.distinct.binary_search_by(|d| d.total_cmp(&load)).ok()
    }

    fn of_window(&self, win: usize) -> Option<usize> {
        self.of_window.get(win).copied().flatten()
    }
}

/// p95 of the successful requests per load level and endpoint, for "p95 crossed its target"
/// and degradation: from the one sort.
pub fn level_endpoints(ranks: &Ranks, window_levels: &[f64]) -> Vec<LevelEndpoint> {
    let levels = Levels::of(window_levels);
    let n_endpoints = ranks.endpoints.len();
    let ranked = ranks.quantiles(levels.distinct.len() * n_endpoints, &[0.95], |k| {
        levels
            .of_window(k.win)
            .map(|l| l * n_endpoints + k.endpoint)
    });
    ranked
        .iter()
        .enumerate()
        .filter(|(_, q)| q.n > 0)
        .map(|(g, q)| LevelEndpoint {
            load: levels.distinct[g / n_endpoints],
            endpoint: ranks.endpoints[g % n_endpoints].clone(),
            p95_ms: q.values[0] / 1000.0,
            successes: q.n as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binned_levels_never_pass_the_highest_load_offered() {
        // A ramp to 25 users in 20 levels is binned by 2: its top level is 25, not 26.
        let windows: Vec<Window> = (1..=25)
            .map(|u| Window {
                load: f64::from(u),
                ..Window::empty(0, 0.0, 1.0)
            })
            .collect();
        let levels = window_levels(&windows, 20);
        assert_eq!(levels.iter().copied().fold(0.0, f64::max), 25.0);
        assert_eq!(levels[0], 2.0);
        assert_eq!(levels[23], 24.0);
    }
}
