//! Question 1: per endpoint, how many, how fast, how often failed, and against its target.

use aurax_schema::Targets;
use polars::prelude::*;
use serde::Serialize;

use crate::frame::{CollectStreaming, f64s, quantile, strs};

#[derive(Debug, Clone, Serialize)]
pub struct EndpointSummary {
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub error_rate: f64,
    pub throughput_rps: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// p95 and p99 measured from the intended send time (coordinated omission corrected).
    pub corrected_p95_ms: f64,
    pub corrected_p99_ms: f64,
    pub target_ms: Option<f64>,
    /// The target judged on the run's target percentile.
    pub judged_ms: f64,
    pub meets_target: Option<bool>,
    /// Apdex with the target as T; failures count as frustrated.
    pub apdex: Option<f64>,
    /// Share of all time spent waiting on responses that this endpoint accounts for.
    pub time_share: f64,
}

/// `target_ms` per row, from the run's targets (null for endpoints without one).
fn target_expr(targets: &Targets) -> Expr {
    let mut expr = lit(NULL).cast(DataType::Float64);
    for t in &targets.endpoints {
        expr = when(col("endpoint").eq(lit(t.endpoint.clone())))
            .then(lit(t.target_ms))
            .otherwise(expr);
    }
    expr
}

pub fn per_endpoint(
    lf: &LazyFrame,
    targets: &Targets,
    duration_s: f64,
) -> PolarsResult<Vec<EndpointSummary>> {
    let ok = col("failed").not();
    let t_us = col("target_ms") * lit(1000.0);
    let df = lf
        .clone()
        .with_column(target_expr(targets).alias("target_ms"))
        .group_by([col("endpoint")])
        .agg([
            len().cast(DataType::Float64).alias("requests"),
            col("failed")
                .cast(DataType::Float64)
                .sum()
                .alias("failures"),
            col("latency_us")
                .cast(DataType::Float64)
                .mean()
                .alias("mean_us"),
            col("latency_us")
                .cast(DataType::Float64)
                .sum()
                .alias("sum_us"),
            quantile("latency_us", 0.50).alias("p50"),
            quantile("latency_us", 0.90).alias("p90"),
            quantile("latency_us", 0.95).alias("p95"),
            quantile("latency_us", 0.99).alias("p99"),
            quantile("latency_us", 0.999).alias("p999"),
            col("latency_us").max().alias("max"),
            quantile("latency_us", targets.percentile / 100.0).alias("judged"),
            quantile("corrected_us", 0.95).alias("c95"),
            quantile("corrected_us", 0.99).alias("c99"),
            col("target_ms").first().alias("target_ms"),
            (ok.clone().and(
                col("latency_us")
                    .cast(DataType::Float64)
                    .lt_eq(t_us.clone()),
            ))
            .cast(DataType::Float64)
            .sum()
            .alias("satisfied"),
            (ok.and(col("latency_us").cast(DataType::Float64).gt(t_us.clone()))
                .and(
                    col("latency_us")
                        .cast(DataType::Float64)
                        .lt_eq(t_us * lit(4.0)),
                ))
            .cast(DataType::Float64)
            .sum()
            .alias("tolerating"),
        ])
        .sort(["endpoint"], SortMultipleOptions::default())
        .collect_streaming()?;
    let names = strs(&df, "endpoint")?;
    let col = |n: &str| f64s(&df, n);
    let (requests, failures, mean, sum) = (
        col("requests")?,
        col("failures")?,
        col("mean_us")?,
        col("sum_us")?,
    );
    let (p50, p90, p95, p99, p999, max) = (
        col("p50")?,
        col("p90")?,
        col("p95")?,
        col("p99")?,
        col("p999")?,
        col("max")?,
    );
    let (judged, c95, c99, target, sat, tol) = (
        col("judged")?,
        col("c95")?,
        col("c99")?,
        col("target_ms")?,
        col("satisfied")?,
        col("tolerating")?,
    );
    let total_wait: f64 = sum.iter().sum();
    let ms = |us: f64| us / 1000.0;
    Ok((0..df.height())
        .map(|i| {
            let target_ms = (!target[i].is_nan()).then_some(target[i]);
            EndpointSummary {
                name: names[i].clone().unwrap_or_default(),
                requests: requests[i] as u64,
                failures: failures[i] as u64,
                error_rate: failures[i] / requests[i],
                throughput_rps: if duration_s > 0.0 {
                    requests[i] / duration_s
                } else {
                    0.0
                },
                mean_ms: ms(mean[i]),
                p50_ms: ms(p50[i]),
                p90_ms: ms(p90[i]),
                p95_ms: ms(p95[i]),
                p99_ms: ms(p99[i]),
                p999_ms: ms(p999[i]),
                max_ms: ms(max[i]),
                corrected_p95_ms: ms(c95[i]),
                corrected_p99_ms: ms(c99[i]),
                judged_ms: ms(judged[i]),
                meets_target: target_ms.map(|t| ms(judged[i]) < t),
                apdex: target_ms.map(|_| (sat[i] + tol[i] / 2.0) / requests[i]),
                target_ms,
                time_share: if total_wait > 0.0 {
                    sum[i] / total_wait
                } else {
                    0.0
                },
            }
        })
        .collect())
}

/// An endpoint and its (quantile, latency ms) points.
pub type PercentileCurve = (String, Vec<(f64, f64)>);

/// Latency at each of `qs` per endpoint, for the percentile-distribution chart.
pub fn percentile_curves(lf: &LazyFrame, qs: &[f64]) -> PolarsResult<Vec<PercentileCurve>> {
    let aggs: Vec<Expr> = qs
        .iter()
        .enumerate()
        .map(|(i, q)| quantile("latency_us", *q).alias(format!("q{i}")))
        .collect();
    let df = lf
        .clone()
        .group_by([col("endpoint")])
        .agg(aggs)
        .sort(["endpoint"], SortMultipleOptions::default())
        .collect_streaming()?;
    let names = strs(&df, "endpoint")?;
    let mut columns = Vec::new();
    for i in 0..qs.len() {
        columns.push(f64s(&df, &format!("q{i}"))?);
    }
    Ok((0..df.height())
        .map(|row| {
            let points = qs
                .iter()
                .enumerate()
                .map(|(i, q)| (*q, columns[i][row] / 1000.0))
                .collect();
            (names[row].clone().unwrap_or_default(), points)
        })
        .collect())
}
