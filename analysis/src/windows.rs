//! Time windows of the run: what was offered, sent and completed when, and how many requests
//! were in flight. Arrivals count by send time; completions count by **completion time**
//! (actual send + latency), so a window's served rate is what the target answered in it, not
//! what was sent to it. Requests in flight are exact: counted from every row's send and
//! completion, not sampled.

use polars::prelude::*;
use serde::Serialize;

use crate::frame::{CollectStreaming, f64s, quantile, quantile_of, strs};

/// One time window of the run, from its first send to its last send; completions after the
/// last send (the drain) belong to no window.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub index: i64,
    pub start_s: f64,
    /// Seconds the window covers: the last one ends with the last send (at least a quarter
    /// window, so a sliver does not make a wild rate).
    pub seconds: f64,
    /// Offered load: the users active (closed model) or the arrival rate targeted (open
    /// model) at the window's arrivals, the highest; a window without arrivals keeps the
    /// previous window's.
    pub load: f64,
    /// Arrivals: requests sent plus arrivals dropped (never sent).
    pub arrivals: f64,
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
    /// Latency percentiles of the successful requests sent in the window (NaN without any).
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub corrected_p95_ms: f64,
    pub lateness_p99_ms: f64,
}

impl Window {
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
    pub fn succeeded_rps(&self) -> f64 {
        self.succeeded / self.seconds
    }
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

/// Failures of one outcome in one window.
#[derive(Debug, Clone)]
pub struct OutcomeWindow {
    pub outcome: String,
    pub start_s: f64,
    pub count: f64,
}

/// Adds `win`: the window each request was sent in.
pub fn with_window(lf: &LazyFrame, start_us: i64, window_s: f64) -> LazyFrame {
    let w_us = (window_s * 1e6) as i64;
    lf.clone()
        .with_column(((col("sent_us") - lit(start_us)) / lit(w_us)).alias("win"))
}

/// Every window from the first send to the last, with its flows and in-flight count.
/// `last_send_us` ends the last window.
pub fn timeline(
    lf: &LazyFrame,
    start_us: i64,
    window_s: f64,
    last_send_us: i64,
) -> PolarsResult<Timeline> {
    let w_us = (window_s * 1e6) as i64;
    let count = |e: Expr| e.cast(DataType::Float64).sum();
    let offset_s = |c: &str| (col(c) - lit(start_us)).cast(DataType::Float64) / lit(1e6);
    let sends = lf
        .clone()
        .group_by([col("win")])
        .agg([
            len().cast(DataType::Float64).alias("arrivals"),
            count(col("dropped")).alias("dropped"),
            count(col("failed")).alias("failures"),
            col("load").max().alias("load"),
            col("in_flight")
                .filter(col("sent"))
                .cast(DataType::Float64)
                .mean()
                .alias("seen"),
            offset_s("sent_us")
                .filter(col("sent"))
                .sum()
                .alias("send_offsets"),
            col("latency_us")
                .filter(col("sent"))
                .cast(DataType::Float64)
                .mean()
                .alias("mean_us"),
            quantile_of(col("latency_us").filter(col("ok")), 0.50).alias("p50"),
            quantile_of(col("latency_us").filter(col("ok")), 0.95).alias("p95"),
            quantile_of(col("latency_us").filter(col("ok")), 0.99).alias("p99"),
            quantile_of(col("corrected_us").filter(col("ok")), 0.95).alias("c95"),
            quantile_of(col("lateness_us").filter(col("sent")), 0.99).alias("late99"),
        ])
        .sort(["win"], SortMultipleOptions::default())
        .collect_streaming()?;
    let ends = lf
        .clone()
        .filter(col("sent").and(col("ended_us").lt_eq(lit(last_send_us))))
        .with_column(((col("ended_us") - lit(start_us)) / lit(w_us)).alias("end_win"))
        .group_by([col("end_win")])
        .agg([
            len().cast(DataType::Float64).alias("completions"),
            count(col("ok")).alias("succeeded"),
            count(col("good")).alias("good"),
            offset_s("ended_us").sum().alias("end_offsets"),
        ])
        .collect_streaming()?;
    let drained = lf
        .clone()
        .filter(col("sent").and(col("ended_us").gt(lit(last_send_us))))
        .select([len().cast(DataType::Float64).alias("n")])
        .collect_streaming()?;
    let drained = f64s(&drained, "n")?.first().copied().unwrap_or(0.0);

    let c = |n: &str| f64s(&sends, n);
    let (win, arrivals, dropped, failures, load, seen) = (
        c("win")?,
        c("arrivals")?,
        c("dropped")?,
        c("failures")?,
        c("load")?,
        c("seen")?,
    );
    let (send_offsets, mean_us) = (c("send_offsets")?, c("mean_us")?);
    let (p50, p95, p99, c95, late) = (c("p50")?, c("p95")?, c("p99")?, c("c95")?, c("late99")?);
    let e = |n: &str| f64s(&ends, n);
    let (end_win, completions, succeeded, good, end_offsets) = (
        e("end_win")?,
        e("completions")?,
        e("succeeded")?,
        e("good")?,
        e("end_offsets")?,
    );

    let last_send_s = (last_send_us - start_us) as f64 / 1e6;
    let n_windows = win.iter().fold(0.0, |m: f64, w| m.max(*w)) as usize + 1;
    let mut windows: Vec<Window> = (0..n_windows)
        .map(|i| {
            let start_s = i as f64 * window_s;
            Window {
                index: i as i64,
                start_s,
                seconds: (last_send_s - start_s).clamp(window_s / 4.0, window_s),
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
        })
        .collect();
    // Σ (offset − window start) over a window's sends and completions, for the integral.
    let mut send_sum = vec![0.0; n_windows];
    let mut end_sum = vec![0.0; n_windows];
    for i in 0..win.len() {
        let w = &mut windows[win[i] as usize];
        w.arrivals = arrivals[i];
        w.dropped = dropped[i];
        w.failures = failures[i];
        w.load = load[i];
        w.seen_in_flight = seen[i];
        w.mean_latency_ms = mean_us[i] / 1000.0;
        w.p50_ms = p50[i] / 1000.0;
        w.p95_ms = p95[i] / 1000.0;
        w.p99_ms = p99[i] / 1000.0;
        w.corrected_p95_ms = c95[i] / 1000.0;
        w.lateness_p99_ms = late[i] / 1000.0;
        send_sum[win[i] as usize] = nan_is_zero(send_offsets[i]);
    }
    for i in 0..end_win.len() {
        let Some(w) = windows.get_mut(end_win[i] as usize) else {
            continue;
        };
        w.completions = completions[i];
        w.succeeded = succeeded[i];
        w.good = good[i];
        end_sum[end_win[i] as usize] = nan_is_zero(end_offsets[i]);
    }
    // In flight, exact: N(t) = sends before t − completions before t. Over a window of
    // length L ending at `end`, ∫N = N(start)·L + Σ_sends (end − send) − Σ_completions
    // (end − completion).
    let mut n = 0.0;
    let mut previous_load = f64::NAN;
    for (i, w) in windows.iter_mut().enumerate() {
        if w.load.is_nan() {
            w.load = previous_load;
        }
        previous_load = w.load;
        let end_s = (w.start_s + window_s).min(last_send_s.max(w.start_s));
        let length = end_s - w.start_s;
        let sent = w.sent();
        let integral =
            n * length + (sent * end_s - send_sum[i]) - (w.completions * end_s - end_sum[i]);
        w.in_flight_start = n;
        w.in_flight_mean = if length > 0.0 {
            (integral / length).max(0.0)
        } else {
            n
        };
        n += sent - w.completions;
    }
    Ok(Timeline { windows, drained })
}

fn nan_is_zero(v: f64) -> f64 {
    if v.is_nan() { 0.0 } else { v }
}

/// p50/p95/p99 of the successful requests per endpoint and window.
pub fn endpoint_windows(lf: &LazyFrame, window_s: f64) -> PolarsResult<Vec<EndpointWindow>> {
    let df = lf
        .clone()
        .filter(col("ok"))
        .group_by([col("endpoint"), col("win")])
        .agg([
            quantile("latency_us", 0.50).alias("p50"),
            quantile("latency_us", 0.95).alias("p95"),
            quantile("latency_us", 0.99).alias("p99"),
        ])
        .sort(["endpoint", "win"], SortMultipleOptions::default())
        .collect_streaming()?;
    let names = strs(&df, "endpoint")?;
    let (win, p50, p95, p99) = (
        f64s(&df, "win")?,
        f64s(&df, "p50")?,
        f64s(&df, "p95")?,
        f64s(&df, "p99")?,
    );
    Ok((0..df.height())
        .map(|i| EndpointWindow {
            endpoint: names[i].clone().unwrap_or_default(),
            start_s: win[i] * window_s,
            p50_ms: p50[i] / 1000.0,
            p95_ms: p95[i] / 1000.0,
            p99_ms: p99[i] / 1000.0,
        })
        .collect())
}

pub fn outcome_windows(lf: &LazyFrame, window_s: f64) -> PolarsResult<Vec<OutcomeWindow>> {
    let df = lf
        .clone()
        .filter(col("failed"))
        .group_by([col("outcome"), col("win")])
        .agg([len().cast(DataType::Float64).alias("n")])
        .sort(["outcome", "win"], SortMultipleOptions::default())
        .collect_streaming()?;
    let names = strs(&df, "outcome")?;
    let (win, n) = (f64s(&df, "win")?, f64s(&df, "n")?);
    Ok((0..df.height())
        .map(|i| OutcomeWindow {
            outcome: names[i].clone().unwrap_or_default(),
            start_s: win[i] * window_s,
            count: n[i],
        })
        .collect())
}
