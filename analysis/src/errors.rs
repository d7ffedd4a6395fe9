//! Question 3: how the run failed. Failures grouped by endpoint × outcome × status ×
//! normalised message, bursts of errors in time, and the HTTP-200 failures status codes hide.

use polars::prelude::*;
use serde::Serialize;

use crate::frame::{CollectStreaming, f64s, i64s, strs};
use crate::windows::Window;

/// Failures that share an endpoint, an outcome, a status and a message (numbers masked).
#[derive(Debug, Clone, Serialize)]
pub struct ErrorPattern {
    /// The endpoint.
    pub endpoint: String,
    /// The outcome (`http_error`, `app_error`, `timeout`, …).
    pub outcome: String,
    /// The HTTP status, when there was a response.
    pub status: Option<i64>,
    /// The message, numbers masked so that variants group together.
    pub message: String,
    /// One message of the pattern as it came, numbers and all (`status 404, expected 200`).
    pub example: String,
    /// How many failures share it.
    pub count: u64,
    /// Share of all failures.
    pub share: f64,
    /// Seconds into the run of the first one.
    pub first_s: f64,
    /// Seconds into the run of the last one.
    pub last_s: f64,
}

/// A stretch of windows whose error rate was well above the run's.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBurst {
    /// Seconds into the run where it began.
    pub start_s: f64,
    /// Seconds into the run where it ended.
    pub end_s: f64,
    /// Failures in it.
    pub failures: f64,
    /// The highest error rate of a window in it.
    pub peak_error_rate: f64,
}

/// Numbers, hex ids and UUIDs replaced, so "request 4711" and "request 815" are one pattern;
/// digits inside a word (`qwen3`) are part of a name and stay.
fn normalised_message() -> Expr {
    col("error")
        .cast(DataType::String)
        .fill_null(lit("(no message)"))
        .str()
        .replace_all(
            lit(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
            lit("<uuid>"),
            false,
        )
        .str()
        .replace_all(
            lit(r"0x[0-9a-fA-F]+|\b[0-9a-fA-F]{8,}\b"),
            lit("<hex>"),
            false,
        )
        .str()
        .replace_all(lit(r"\b\d+(\.\d+)?"), lit("<n>"), false)
}

/// Failures grouped into patterns, most frequent first.
pub fn patterns(lf: &LazyFrame, start_us: i64) -> PolarsResult<Vec<ErrorPattern>> {
    let t_s = (col("sent_us") - lit(start_us)).cast(DataType::Float64) / lit(1e6);
    let df = lf
        .clone()
        .filter(col("failed"))
        .with_columns([normalised_message().alias("message"), t_s.alias("t_s")])
        .group_by([
            col("endpoint"),
            col("outcome"),
            col("status"),
            col("message"),
        ])
        .agg([
            len().cast(DataType::Float64).alias("count"),
            col("error")
                .cast(DataType::String)
                .fill_null(lit("(no message)"))
                .first()
                .alias("example"),
            col("t_s").min().alias("first_s"),
            col("t_s").max().alias("last_s"),
        ])
        .sort(
            ["count"],
            SortMultipleOptions::default()
                .with_order_descending(true)
                .with_maintain_order(true),
        )
        .collect_streaming()?;
    let (endpoint, outcome, message, example) = (
        strs(&df, "endpoint")?,
        strs(&df, "outcome")?,
        strs(&df, "message")?,
        strs(&df, "example")?,
    );
    let status = i64s(&df, "status")?;
    let (count, first, last) = (
        f64s(&df, "count")?,
        f64s(&df, "first_s")?,
        f64s(&df, "last_s")?,
    );
    let total: f64 = count.iter().sum();
    let mut out: Vec<ErrorPattern> = (0..df.height())
        .map(|i| ErrorPattern {
            endpoint: endpoint[i].clone().unwrap_or_default(),
            outcome: outcome[i].clone().unwrap_or_default(),
            status: status[i],
            message: message[i].clone().unwrap_or_default(),
            example: example[i].clone().unwrap_or_default(),
            count: count[i] as u64,
            share: count[i] / total,
            first_s: first[i],
            last_s: last[i],
        })
        .collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.endpoint.cmp(&b.endpoint))
            .then_with(|| a.message.cmp(&b.message))
    });
    Ok(out)
}

/// Windows whose error rate jumps well above the run's (at least double it and 5 points over
/// it, with at least 5 failures and three times the failures the run's rate predicts there),
/// merged when adjacent.
pub fn bursts(windows: &[Window], window_s: f64, run_error_rate: f64) -> Vec<ErrorBurst> {
    let threshold = (2.0 * run_error_rate).max(run_error_rate + 0.05);
    let mut out: Vec<ErrorBurst> = Vec::new();
    for w in windows.iter().filter(|w| {
        w.failures >= (3.0 * w.arrivals * run_error_rate).max(5.0) && w.error_rate() > threshold
    }) {
        match out.last_mut() {
            Some(b) if (w.start_s - b.end_s).abs() < window_s * 0.5 => {
                b.end_s = w.start_s + w.seconds;
                b.failures += w.failures;
                b.peak_error_rate = b.peak_error_rate.max(w.error_rate());
            }
            _ => out.push(ErrorBurst {
                start_s: w.start_s,
                end_s: w.start_s + w.seconds,
                failures: w.failures,
                peak_error_rate: w.error_rate(),
            }),
        }
    }
    out
}
