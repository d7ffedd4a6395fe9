//! Per-window aggregates (what happened when) and per-load-level aggregates (what happened
//! at how much load), the raw material of breaking points, bursts and charts.

use polars::prelude::*;
use serde::Serialize;

use crate::frame::{CollectStreaming, f64s, quantile, strs};

/// One time window of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub index: i64,
    pub start_s: f64,
    /// Seconds the window covers: the last window of a run is usually cut short.
    pub seconds: f64,
    pub requests: f64,
    pub failures: f64,
    pub throughput_rps: f64,
    pub ok_rps: f64,
    pub error_rate: f64,
    pub users: f64,
    pub in_flight: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub corrected_p95_ms: f64,
    pub lateness_p99_ms: f64,
}

#[cfg(test)]
impl LoadLevel {
    /// A level of 10 s with consistent numbers, for tests of what is computed from levels.
    pub fn for_test(users: f64, ok_rps: f64, error_rate: f64) -> LoadLevel {
        LoadLevel {
            users,
            seconds: 10.0,
            first_s: users,
            requests: ok_rps * 10.0 + 100.0,
            throughput_rps: ok_rps,
            ok_rps,
            error_rate,
            mean_latency_ms: 100.0,
            p95_ms: 200.0,
            in_flight: 5.0,
            lateness_p99_ms: 1.0,
        }
    }
}

/// Latency percentiles of one endpoint in one window.
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

/// One level of offered load (users active), over all the windows spent at it.
#[derive(Debug, Clone, Serialize)]
pub struct LoadLevel {
    pub users: f64,
    pub seconds: f64,
    pub first_s: f64,
    pub requests: f64,
    pub throughput_rps: f64,
    pub ok_rps: f64,
    pub error_rate: f64,
    pub mean_latency_ms: f64,
    pub p95_ms: f64,
    pub in_flight: f64,
    pub lateness_p99_ms: f64,
}

/// Adds `win`: the window each request was sent in.
pub fn with_window(lf: &LazyFrame, start_us: i64, window_s: f64) -> LazyFrame {
    let w_us = (window_s * 1e6) as i64;
    lf.clone()
        .with_column(((col("sent_us") - lit(start_us)) / lit(w_us)).alias("win"))
}

/// `last_send_s` is when the run's last request was sent, so the last window's throughput is
/// counted over the time it really covers.
pub fn windows(lf: &LazyFrame, window_s: f64, last_send_s: f64) -> PolarsResult<Vec<Window>> {
    let df = lf
        .clone()
        .group_by([col("win")])
        .agg([
            len().cast(DataType::Float64).alias("n"),
            col("failed")
                .cast(DataType::Float64)
                .sum()
                .alias("failures"),
            col("load").max().alias("users"),
            col("in_flight")
                .cast(DataType::Float64)
                .mean()
                .alias("in_flight"),
            quantile("latency_us", 0.50).alias("p50"),
            quantile("latency_us", 0.95).alias("p95"),
            quantile("latency_us", 0.99).alias("p99"),
            quantile("corrected_us", 0.95).alias("c95"),
            quantile("lateness_us", 0.99).alias("late99"),
        ])
        .sort(["win"], SortMultipleOptions::default())
        .collect_streaming()?;
    let c = |n: &str| f64s(&df, n);
    let (win, n, failures, users, in_flight) = (
        c("win")?,
        c("n")?,
        c("failures")?,
        c("users")?,
        c("in_flight")?,
    );
    let (p50, p95, p99, c95, late) = (c("p50")?, c("p95")?, c("p99")?, c("c95")?, c("late99")?);
    Ok((0..df.height())
        .map(|i| {
            let seconds = covered(win[i] * window_s, window_s, last_send_s);
            Window {
                index: win[i] as i64,
                start_s: win[i] * window_s,
                seconds,
                requests: n[i],
                failures: failures[i],
                throughput_rps: n[i] / seconds,
                ok_rps: (n[i] - failures[i]) / seconds,
                error_rate: failures[i] / n[i],
                users: users[i],
                in_flight: in_flight[i],
                p50_ms: p50[i] / 1000.0,
                p95_ms: p95[i] / 1000.0,
                p99_ms: p99[i] / 1000.0,
                corrected_p95_ms: c95[i] / 1000.0,
                lateness_p99_ms: late[i] / 1000.0,
            }
        })
        .collect())
}

pub fn endpoint_windows(lf: &LazyFrame, window_s: f64) -> PolarsResult<Vec<EndpointWindow>> {
    let df = lf
        .clone()
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

/// How long a window starting at `start_s` really lasted: all of it, but for the last one,
/// which ends with the last send (and counts at least a quarter window, so a sliver of a
/// window does not make a wild rate).
fn covered(start_s: f64, window_s: f64, last_send_s: f64) -> f64 {
    (last_send_s - start_s).clamp(window_s / 4.0, window_s)
}

/// The load level of each window: the users active in it (or offered req/s), binned to at
/// most `max_levels` levels so a long ramp still gives levels with enough requests each.
pub fn window_levels(windows: &[Window], max_levels: usize) -> Vec<f64> {
    let max_users = windows.iter().map(|w| w.users).fold(0.0, f64::max);
    let step = (max_users / max_levels as f64).ceil().max(1.0);
    windows
        .iter()
        .map(|w| ((w.users / step).round() * step).max(w.users.min(step)))
        .collect()
}

/// Which load level each window belongs to: the users active in it, binned to at most
/// `max_levels` levels so a long ramp still gives levels with enough requests each.
pub fn level_map(windows: &[Window], levels: &[f64]) -> PolarsResult<DataFrame> {
    let win_index: Vec<i64> = windows.iter().map(|w| w.index).collect();
    DataFrame::new_infer_height(vec![
        Column::new("win".into(), win_index),
        Column::new("level".into(), levels.to_vec()),
    ])
}

/// Aggregates the rows of each load level; percentiles come from the rows, not windows.
/// `windows` and `levels` (one per window) give the seconds spent at each level.
pub fn load_levels(
    lf: &LazyFrame,
    map: &DataFrame,
    windows: &[Window],
    levels: &[f64],
    window_s: f64,
) -> PolarsResult<Vec<LoadLevel>> {
    let df = lf
        .clone()
        .join(
            map.clone().lazy(),
            [col("win")],
            [col("win")],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col("level")])
        .agg([
            len().cast(DataType::Float64).alias("n"),
            col("failed")
                .cast(DataType::Float64)
                .sum()
                .alias("failures"),
            col("win").min().cast(DataType::Float64).alias("first_win"),
            col("latency_us")
                .cast(DataType::Float64)
                .mean()
                .alias("mean_us"),
            quantile("latency_us", 0.95).alias("p95"),
            col("in_flight")
                .cast(DataType::Float64)
                .mean()
                .alias("in_flight"),
            quantile("lateness_us", 0.99).alias("late99"),
        ])
        .sort(["level"], SortMultipleOptions::default())
        .collect_streaming()?;
    let c = |n: &str| f64s(&df, n);
    let (level, n, failures, first) = (c("level")?, c("n")?, c("failures")?, c("first_win")?);
    let (mean, p95, in_flight, late) = (c("mean_us")?, c("p95")?, c("in_flight")?, c("late99")?);
    Ok((0..df.height())
        .map(|i| {
            let seconds: f64 = windows
                .iter()
                .zip(levels)
                .filter(|(_, l)| **l == level[i])
                .map(|(w, _)| w.seconds)
                .sum();
            LoadLevel {
                users: level[i],
                seconds,
                first_s: first[i] * window_s,
                requests: n[i],
                throughput_rps: n[i] / seconds,
                ok_rps: (n[i] - failures[i]) / seconds,
                error_rate: failures[i] / n[i],
                mean_latency_ms: mean[i] / 1000.0,
                p95_ms: p95[i] / 1000.0,
                in_flight: in_flight[i],
                lateness_p99_ms: late[i] / 1000.0,
            }
        })
        .collect())
}

/// p95 per load level and endpoint, for "p95 crossed its target" and degradation.
pub fn level_endpoint_p95(
    lf: &LazyFrame,
    map: &DataFrame,
) -> PolarsResult<Vec<(f64, String, f64, f64)>> {
    let df = lf
        .clone()
        .join(
            map.clone().lazy(),
            [col("win")],
            [col("win")],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col("level"), col("endpoint")])
        .agg([
            quantile("latency_us", 0.95).alias("p95"),
            len().cast(DataType::Float64).alias("n"),
        ])
        .sort(["level", "endpoint"], SortMultipleOptions::default())
        .collect_streaming()?;
    let names = strs(&df, "endpoint")?;
    let (level, p95, n) = (f64s(&df, "level")?, f64s(&df, "p95")?, f64s(&df, "n")?);
    Ok((0..df.height())
        .map(|i| {
            (
                level[i],
                names[i].clone().unwrap_or_default(),
                p95[i] / 1000.0,
                n[i],
            )
        })
        .collect())
}
