//! Time windows of the run: what was offered, sent and completed when, and how many requests
//! were in flight. Arrivals count by send time; completions count by **completion time**
//! (actual send + latency), so a window's served rate is what the target answered in it, not
//! what was sent to it. Requests in flight are exact: counted from every row's send and
//! completion, not sampled.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use crate::frame::{CollectStreaming, f64s, only, strs};
use crate::grid::Grid;
use crate::ranks::Ranks;

/// How a window's offered load is read from its arrivals: the one rule for the levels, the
/// charts and `summary.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowLoad {
    /// Closed model: the most users active at its sends (`users_active`).
    MostUsers,
    /// Open model: the mean rate the schedule targeted at its arrivals (`stage_target`). On a
    /// ramp the highest was the rate at the window's end, half a window's climb above what it
    /// offered ("70 req/s" beside 63 offered, a 10 → 200/s ramp in 20 s).
    MeanScheduledRate,
    /// A replay: its own arrivals a second. The trace is the schedule; the runner's
    /// `stage_target` is the trace's rate over the last 5 s, which lags a burst (a level
    /// labelled 45 req/s offered 63).
    Arrivals,
    /// A capacity search: the step's rate, as [`WindowLoad::MeanScheduledRate`], in the
    /// windows a step filled; a window whose arrivals met two steps' rates, or that holds
    /// under 90% of what its rate schedules (a pause between steps, a step's first or last
    /// moments), belongs to no level. The pauses had been counted as seconds at the step
    /// before: a step of 80 req/s read 44.6 offered.
    SearchSteps,
}

/// A search's window holding fewer arrivals than this share of what its rate schedules is
/// a step's edge or a pause, where the rate can tell at least [`EDGE_MIN_SCHEDULED`].
const EDGE_SHARE: f64 = 0.9;
/// ... arrivals: at a step of 1 req/s a 1 s window of none is the schedule's own gap.
const EDGE_MIN_SCHEDULED: f64 = 10.0;

/// One time window of the run, from its first send to its last send; completions after the
/// last send (the drain) belong to no window.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// Its place on the run's grid, 0 first.
    pub index: i64,
    /// When it began, seconds after the run's first send.
    pub start_s: f64,
    /// Seconds the window covers: the last one ends with the last send (at least a quarter
    /// window, so a sliver does not make a wild rate).
    pub seconds: f64,
    /// Offered load, as [`WindowLoad`] reads it: users active, the rate the schedule
    /// targeted, or a replay's own arrivals a second; a window without arrivals keeps the
    /// previous window's.
    pub load: f64,
    /// Arrivals: requests sent plus arrivals dropped (never sent).
    pub arrivals: f64,
    /// Arrivals dropped unsent (`--max-in-flight`).
    pub dropped: f64,
    /// Arrivals that failed, dropped ones included.
    pub failures: f64,
    /// Requests (any outcome) that completed in the window.
    pub completions: f64,
    /// Successful requests that completed in the window.
    pub succeeded: f64,
    /// Successful requests within their endpoint's target that completed in the window.
    pub good: f64,
    /// Requests in flight when the window began (exact).
    pub in_flight_start: f64,
    /// Requests in flight on average over the window (time-weighted, exact).
    pub in_flight_mean: f64,
    /// The generator's own count of requests in flight at each send (mean, the new request
    /// included): what Little's law checks the measurements against.
    pub seen_in_flight: f64,
    /// Mean latency of the requests sent in the window (any outcome), ms.
    pub mean_latency_ms: f64,
    /// p50 of the successful requests sent in the window, ms (NaN without any, as the
    /// others).
    pub p50_ms: f64,
    /// p95 of the successful requests sent in the window, ms.
    pub p95_ms: f64,
    /// p99 of the successful requests sent in the window, ms.
    pub p99_ms: f64,
    /// p95 of their latency from the intended send time (coordinated omission corrected), ms.
    pub corrected_p95_ms: f64,
    /// p99 of how late its requests went out against their schedule, ms.
    pub lateness_p99_ms: f64,
}

impl Window {
    /// A window with nothing in it yet: no load, no flows, no latency.
    pub fn empty(index: i64, start_s: f64, seconds: f64) -> Window {
        Window {
            index,
            start_s,
            seconds,
            load: f64::NAN,
            arrivals: 0.0,
            dropped: 0.0,
            failures: 0.0,
            completions: 0.0,
            succeeded: 0.0,
            good: 0.0,
            in_flight_start: 0.0,
            in_flight_mean: 0.0,
            seen_in_flight: f64::NAN,
            mean_latency_ms: f64::NAN,
            p50_ms: f64::NAN,
            p95_ms: f64::NAN,
            p99_ms: f64::NAN,
            corrected_p95_ms: f64::NAN,
            lateness_p99_ms: f64::NAN,
        }
    }
}

impl Window {
    /// Requests sent: its arrivals less those dropped.
    pub fn sent(&self) -> f64 {
        self.arrivals - self.dropped
    }
    /// Arrivals per second.
    pub fn offered_rps(&self) -> f64 {
        self.arrivals / self.seconds
    }
    /// Completions per second.
    pub fn served_rps(&self) -> f64 {
        self.completions / self.seconds
    }
    /// Successful completions per second.
    pub fn succeeded_rps(&self) -> f64 {
        self.succeeded / self.seconds
    }
    /// failures / arrivals (0 without arrivals).
    pub fn error_rate(&self) -> f64 {
        if self.arrivals > 0.0 {
            self.failures / self.arrivals
        } else {
            0.0
        }
    }
}

/// The run cut into windows, and what completed after the last send.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub windows: Vec<Window>,
    /// Requests that completed after the last send (the drain): in the totals, in no window.
    pub drained: f64,
}

/// Latency percentiles of one endpoint in one window (successful requests).
#[derive(Debug, Clone)]
pub struct EndpointWindow {
    pub endpoint: String,
    pub start_s: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// Failures of one endpoint in one window.
#[derive(Debug, Clone)]
pub struct FailureWindow {
    pub endpoint: String,
    pub start_s: f64,
    pub count: f64,
}

/// Adds `win`: the window each request was sent in.
pub fn with_window(lf: &LazyFrame, grid: &Grid) -> LazyFrame {
    lf.clone()
        .with_column(grid.index_of("sent_us").alias("win"))
}

/// Every window from the first send to the last (`last_send_us` ends the last one), with its
/// flows and in-flight count: the endpoints' flows ([`group_flows`]) added up, window by
/// window (counts, sums and requests in flight all add), so the run's windows take no query
/// of their own; latency percentiles from the one sort. `drained`: requests that completed
/// after the last send. `load` says how a window's offered load is read.
pub fn timeline(
    flows: &[(String, Vec<Flows>)],
    ranks: &Ranks,
    grid: &Grid,
    (last_send_us, drained): (i64, f64),
    load: WindowLoad,
) -> Timeline {
    let (start_us, window_s, n_windows) = (grid.start_us, grid.window_s(), grid.count);
    let mut total = vec![Flows::default(); n_windows];
    for (_, f) in flows {
        for (t, w) in total.iter_mut().zip(f) {
            t.add(w);
        }
    }
    // Latency percentiles from the one sort; corrected latency and lateness rank other
    // values ([`add_corrected`], [`add_lateness`]).
    let ranked = ranks.quantiles(n_windows, &[0.5, 0.95, 0.99], |k| Some(k.win));
    let last_send_s = (last_send_us - start_us) as f64 / 1e6;
    let mut windows: Vec<Window> = (0..n_windows)
        .map(|i| {
            let start_s = i as f64 * window_s;
            // The last window runs to the last send (a sliver past it folded in: `Grid`);
            // a run of one short window counts at least a quarter of one.
            let seconds = if i + 1 == n_windows {
                (last_send_s - start_s).max(window_s / 4.0)
            } else {
                window_s
            };
            Window::empty(i as i64, start_s, seconds)
        })
        .collect();
    // A search's window whose arrivals met two steps' rates is a step's edge.
    let mut two_steps = vec![false; windows.len()];
    for (((w, f), q), two) in windows
        .iter_mut()
        .zip(&total)
        .zip(&ranked)
        .zip(two_steps.iter_mut())
    {
        w.arrivals = f.arrivals;
        w.dropped = f.dropped;
        w.failures = f.failures;
        w.completions = f.completions;
        w.succeeded = f.succeeded;
        w.good = f.good;
        let sent = f.sent();
        if f.arrivals > 0.0 {
            w.load = match load {
                WindowLoad::MostUsers => f.load,
                WindowLoad::MeanScheduledRate | WindowLoad::SearchSteps => f.load_sum / f.arrivals,
                WindowLoad::Arrivals => f.arrivals / w.seconds,
            };
            *two = f.load > w.load * (1.0 + 1e-9);
        }
        if sent > 0.0 {
            w.seen_in_flight = f.seen_in_flight_sum / sent;
            w.mean_latency_ms = f.sent_latency_us / sent / 1000.0;
        }
        (w.p50_ms, w.p95_ms, w.p99_ms) = (
            q.values[0] / 1000.0,
            q.values[1] / 1000.0,
            q.values[2] / 1000.0,
        );
    }
    let mut previous_load = f64::NAN;
    for (w, two) in windows.iter_mut().zip(two_steps) {
        if w.load.is_nan() {
            w.load = previous_load;
        }
        previous_load = w.load;
        let scheduled = w.load * w.seconds;
        let partial = scheduled >= EDGE_MIN_SCHEDULED && w.arrivals < EDGE_SHARE * scheduled;
        if load == WindowLoad::SearchSteps && (two || partial) {
            w.load = f64::NAN;
        }
    }
    let series: Vec<(f64, f64, f64, f64)> = total
        .iter()
        .map(|f| (f.sent(), f.send_offsets, f.completions, f.end_offsets))
        .collect();
    for (w, (start, mean)) in windows
        .iter_mut()
        .zip(in_flight(&series, window_s, last_send_s))
    {
        w.in_flight_start = start;
        w.in_flight_mean = mean;
    }
    Timeline { windows, drained }
}

/// The window a moment falls in (seconds from the first send), if any: the windows are
/// contiguous from 0 and the last runs to the last send (it may be longer than the others,
/// `Grid`), so a moment is found by the windows' own starts and lengths, never by a width.
pub fn window_at(windows: &[Window], offset_s: f64) -> Option<&Window> {
    let i = windows
        .partition_point(|w| w.start_s <= offset_s)
        .checked_sub(1)?;
    let w = &windows[i];
    (offset_s <= w.start_s + w.seconds).then_some(w)
}

/// Each window's p95 of latency from the intended send time (successes), from the
/// successes ranked by it.
pub fn add_corrected(windows: &mut [Window], corrected: &Ranks) {
    let ranked = corrected.quantiles(windows.len(), &[0.95], |k| Some(k.win));
    for (w, q) in windows.iter_mut().zip(ranked) {
        w.corrected_p95_ms = q.values[0] / 1000.0;
    }
}

/// Each window's p99 of how late requests went out, from the sent requests ranked by it.
pub fn add_lateness(windows: &mut [Window], lateness: &Ranks) {
    let ranked = lateness.quantiles(windows.len(), &[0.99], |k| Some(k.win));
    for (w, q) in windows.iter_mut().zip(ranked) {
        w.lateness_p99_ms = q.values[0] / 1000.0;
    }
}

/// Requests in flight per window, exact: (at its start, time-averaged over it), from each
/// window's (sends, Σ send offsets, completions, Σ completion offsets), offsets in seconds
/// from the run's start. N(t) = sends before t − completions before t; over a window of
/// length L ending at `end`, ∫N = N(start)·L + Σ_sends (end − send) − Σ_completions
/// (end − completion). Additive: the in flight of a union of requests is the sum of theirs.
fn in_flight(flows: &[(f64, f64, f64, f64)], window_s: f64, last_send_s: f64) -> Vec<(f64, f64)> {
    let mut n = 0.0;
    flows
        .iter()
        .enumerate()
        .map(|(i, &(sent, send_sum, completions, end_sum))| {
            let start_s = i as f64 * window_s;
            // The last window ends at the last send (it may run past a window's width).
            let end_s = if i + 1 == flows.len() {
                last_send_s.max(start_s)
            } else {
                (start_s + window_s).min(last_send_s.max(start_s))
            };
            let length = end_s - start_s;
            let integral = n * length + (sent * end_s - send_sum) - (completions * end_s - end_sum);
            let at_start = n;
            n += sent - completions;
            let mean = if length > 0.0 {
                (integral / length).max(0.0)
            } else {
                at_start
            };
            (at_start, mean)
        })
        .collect()
}

/// What one group of requests (an endpoint's, a model's) did in one window: the same flows
/// as [`Window`]'s, by send time and by completion time, and its own requests in flight.
#[derive(Debug, Clone)]
pub struct Flows {
    pub arrivals: f64,
    pub dropped: f64,
    pub failures: f64,
    /// Arrivals that succeeded under their target, by send time (attainment's numerator).
    pub within: f64,
    pub completions: f64,
    pub succeeded: f64,
    pub good: f64,
    /// Σ latency of the requests sent (µs, any outcome), for their mean.
    pub sent_latency_us: f64,
    /// The highest load its arrivals met (NaN without arrivals).
    pub load: f64,
    /// Σ the load its arrivals met, for their mean ([`WindowLoad::MeanScheduledRate`]).
    pub load_sum: f64,
    /// Σ the generator's in-flight count at each send (for its mean).
    pub seen_in_flight_sum: f64,
    /// Σ (send offset), Σ (completion offset), seconds from the run's start: what requests in
    /// flight are integrated from ([`in_flight`]).
    pub send_offsets: f64,
    pub end_offsets: f64,
    pub in_flight_start: f64,
    pub in_flight_mean: f64,
}

impl Default for Flows {
    fn default() -> Flows {
        Flows {
            arrivals: 0.0,
            dropped: 0.0,
            failures: 0.0,
            within: 0.0,
            completions: 0.0,
            succeeded: 0.0,
            good: 0.0,
            sent_latency_us: 0.0,
            load: f64::NAN,
            load_sum: 0.0,
            seen_in_flight_sum: 0.0,
            send_offsets: 0.0,
            end_offsets: 0.0,
            in_flight_start: 0.0,
            in_flight_mean: 0.0,
        }
    }
}

impl Flows {
    pub fn sent(&self) -> f64 {
        self.arrivals - self.dropped
    }

    /// Adds another group's flows in the same window (in flight is additive too).
    pub fn add(&mut self, o: &Flows) {
        self.arrivals += o.arrivals;
        self.dropped += o.dropped;
        self.failures += o.failures;
        self.within += o.within;
        self.completions += o.completions;
        self.succeeded += o.succeeded;
        self.good += o.good;
        self.sent_latency_us += o.sent_latency_us;
        // NaN (no arrivals) gives way to any load.
        self.load = self.load.max(o.load);
        self.load_sum += o.load_sum;
        self.seen_in_flight_sum += o.seen_in_flight_sum;
        self.send_offsets += o.send_offsets;
        self.end_offsets += o.end_offsets;
        self.in_flight_start += o.in_flight_start;
        self.in_flight_mean += o.in_flight_mean;
    }
}

/// A group's flows per window, and each window's (Σ send offsets, Σ completion offsets).
type GroupSeries = (Vec<Flows>, Vec<(f64, f64)>);

/// The window `win` of group `name`, created empty; None outside the timeline.
fn group_slot(
    groups: &mut BTreeMap<String, GroupSeries>,
    name: Option<String>,
    win: f64,
    n_windows: usize,
) -> Option<(&mut Flows, &mut (f64, f64))> {
    if !(win >= 0.0 && (win as usize) < n_windows) {
        return None;
    }
    let (flows, sums) = groups.entry(name.unwrap_or_default()).or_insert_with(|| {
        (
            vec![Flows::default(); n_windows],
            vec![(0.0, 0.0); n_windows],
        )
    });
    let i = win as usize;
    Some((&mut flows[i], &mut sums[i]))
}

/// Per value of `group` (a string column: `endpoint`), its flows in each of the timeline's
/// `n_windows` windows, counted as [`timeline`] counts the whole run's, groups by name.
pub fn group_flows(
    lf: &LazyFrame,
    group: &str,
    grid: &Grid,
    last_send_us: i64,
) -> PolarsResult<Vec<(String, Vec<Flows>)>> {
    let (start_us, window_s, n_windows) = (grid.start_us, grid.window_s(), grid.count);
    let count = |e: Expr| e.cast(DataType::Float64).sum();
    let offset_s = |c: &str| (col(c) - lit(start_us)).cast(DataType::Float64) / lit(1e6);
    let sends = lf
        .clone()
        .group_by([col(group), col("win")])
        .agg([
            len().cast(DataType::Float64).alias("arrivals"),
            count(col("dropped")).alias("dropped"),
            count(col("failed")).alias("failures"),
            count(col("good")).alias("within"),
            only(col("latency_us").cast(DataType::Float64), col("sent"))
                .sum()
                .alias("latency_sum"),
            col("load").max().cast(DataType::Float64).alias("load"),
            col("load").cast(DataType::Float64).sum().alias("load_sum"),
            only(col("in_flight").cast(DataType::Float64), col("sent"))
                .sum()
                .alias("seen_sum"),
            only(offset_s("sent_us"), col("sent"))
                .sum()
                .alias("offsets"),
        ])
        .collect_streaming()?;
    let ends = lf
        .clone()
        .filter(col("sent").and(col("ended_us").lt_eq(lit(last_send_us))))
        .with_column(grid.index_of("ended_us").alias("win"))
        .group_by([col(group), col("win")])
        .agg([
            len().cast(DataType::Float64).alias("completions"),
            count(col("ok")).alias("succeeded"),
            count(col("good")).alias("good"),
            offset_s("ended_us").sum().alias("offsets"),
        ])
        .collect_streaming()?;
    // Per group: its flows and (Σ send offsets, Σ completion offsets) per window.
    let mut groups: BTreeMap<String, GroupSeries> = BTreeMap::new();
    let (names, win) = (strs(&sends, group)?, f64s(&sends, "win")?);
    let (arrivals, dropped, failures, within, offsets) = (
        f64s(&sends, "arrivals")?,
        f64s(&sends, "dropped")?,
        f64s(&sends, "failures")?,
        f64s(&sends, "within")?,
        f64s(&sends, "offsets")?,
    );
    let (latency_sum, load, load_sum, seen_sum) = (
        f64s(&sends, "latency_sum")?,
        f64s(&sends, "load")?,
        f64s(&sends, "load_sum")?,
        f64s(&sends, "seen_sum")?,
    );
    for (r, name) in names.into_iter().enumerate() {
        if let Some((f, sums)) = group_slot(&mut groups, name, win[r], n_windows) {
            f.arrivals = arrivals[r];
            f.dropped = dropped[r];
            f.failures = failures[r];
            f.within = within[r];
            f.sent_latency_us = nan_is_zero(latency_sum[r]);
            f.load = load[r];
            f.load_sum = nan_is_zero(load_sum[r]);
            f.seen_in_flight_sum = nan_is_zero(seen_sum[r]);
            f.send_offsets = nan_is_zero(offsets[r]);
            sums.0 = nan_is_zero(offsets[r]);
        }
    }
    let (names, win) = (strs(&ends, group)?, f64s(&ends, "win")?);
    let (completions, succeeded, good, offsets) = (
        f64s(&ends, "completions")?,
        f64s(&ends, "succeeded")?,
        f64s(&ends, "good")?,
        f64s(&ends, "offsets")?,
    );
    for (r, name) in names.into_iter().enumerate() {
        if let Some((f, sums)) = group_slot(&mut groups, name, win[r], n_windows) {
            f.completions = completions[r];
            f.succeeded = succeeded[r];
            f.good = good[r];
            f.end_offsets = nan_is_zero(offsets[r]);
            sums.1 = nan_is_zero(offsets[r]);
        }
    }
    let last_send_s = (last_send_us - start_us) as f64 / 1e6;
    Ok(groups
        .into_iter()
        .map(|(name, (mut flows, sums))| {
            let series: Vec<(f64, f64, f64, f64)> = flows
                .iter()
                .zip(&sums)
                .map(|(f, s)| (f.sent(), s.0, f.completions, s.1))
                .collect();
            for (f, (start, mean)) in
                flows
                    .iter_mut()
                    .zip(in_flight(&series, window_s, last_send_s))
            {
                f.in_flight_start = start;
                f.in_flight_mean = mean;
            }
            (name, flows)
        })
        .collect())
}

fn nan_is_zero(v: f64) -> f64 {
    if v.is_nan() { 0.0 } else { v }
}

/// p50/p95/p99 of the successful requests per endpoint and window, from the one sort.
pub fn endpoint_windows(ranks: &Ranks, n_windows: usize, window_s: f64) -> Vec<EndpointWindow> {
    let ranked = ranks.quantiles(ranks.endpoints.len() * n_windows, &[0.5, 0.95, 0.99], |k| {
        (k.win < n_windows).then_some(k.endpoint * n_windows + k.win)
    });
    ranked
        .iter()
        .enumerate()
        .filter(|(_, q)| q.n > 0)
        .map(|(g, q)| EndpointWindow {
            endpoint: ranks.endpoints[g / n_windows].clone(),
            start_s: (g % n_windows) as f64 * window_s,
            p50_ms: q.values[0] / 1000.0,
            p95_ms: q.values[1] / 1000.0,
            p99_ms: q.values[2] / 1000.0,
        })
        .collect()
}

pub fn failure_windows(lf: &LazyFrame, window_s: f64) -> PolarsResult<Vec<FailureWindow>> {
    let df = lf
        .clone()
        .filter(col("failed"))
        .group_by([col("endpoint"), col("win")])
        .agg([len().cast(DataType::Float64).alias("n")])
        .sort(["endpoint", "win"], SortMultipleOptions::default())
        .collect_streaming()?;
    let endpoints = strs(&df, "endpoint")?;
    let (win, n) = (f64s(&df, "win")?, f64s(&df, "n")?);
    Ok((0..df.height())
        .map(|i| FailureWindow {
            endpoint: endpoints[i].clone().unwrap_or_default(),
            start_s: win[i] * window_s,
            count: n[i],
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A moment is found in the window that holds it, the last one to the last send (1.4 s
    /// long here: a sliver folded in); before the first send and past the last, in none.
    #[test]
    fn a_moment_is_found_by_the_windows_own_lengths() {
        let windows = [Window::empty(0, 0.0, 1.0), Window::empty(1, 1.0, 1.4)];
        let at = |t: f64| window_at(&windows, t).map(|w| w.index);
        assert_eq!(at(0.5), Some(0));
        assert_eq!(at(1.0), Some(1));
        assert_eq!(at(2.3), Some(1), "in the folded sliver");
        assert_eq!(at(2.4), Some(1), "at the last send");
        assert_eq!(at(2.5), None, "in the drain");
        assert_eq!(at(-0.1), None, "before the first send");
    }
}
