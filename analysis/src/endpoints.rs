//! Question 1: per endpoint, how many, how fast, how often failed, and against its target.

use aurax_schema::{Outcome, Targets};
use polars::prelude::*;
use serde::Serialize;

use crate::frame::{CollectStreaming, f64s, quantile, quantile_of, strs};

/// Question 1, per endpoint. Latency figures are those of **successful** responses only;
/// failures have their own summary and count in the error rate; dropped arrivals (never sent)
/// are in no latency and no throughput, only in their own count and the error rate.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointSummary {
    /// The endpoint.
    pub name: String,
    /// Requests sent (dropped arrivals are not).
    pub requests: u64,
    /// Sent requests that did not succeed (check failed, HTTP error, timeout, no answer).
    pub failures: u64,
    /// Arrivals never sent because `--max-in-flight` was reached.
    pub dropped: u64,
    /// (failures + dropped) / (requests + dropped): the share of the offered load that failed.
    pub error_rate: f64,
    /// Requests completed per second over the run (any outcome; dropped ones never complete).
    pub throughput_rps: f64,
    /// Successful requests per second over the run.
    pub succeeded_rps: f64,
    /// Successful requests within the endpoint's target per second (= succeeded without one).
    pub goodput_rps: f64,
    /// Successful responses: the latency figures below are theirs.
    pub successes: u64,
    /// Mean latency of successful responses (ms).
    pub mean_ms: Option<f64>,
    /// p50 of successful responses (ms).
    pub p50_ms: Option<f64>,
    /// p90 of successful responses (ms).
    pub p90_ms: Option<f64>,
    /// p95 of successful responses (ms).
    pub p95_ms: Option<f64>,
    /// p99 of successful responses (ms).
    pub p99_ms: Option<f64>,
    /// p99.9 of successful responses (ms).
    pub p999_ms: Option<f64>,
    /// Fastest successful response (ms).
    pub min_ms: Option<f64>,
    /// Slowest successful response (ms).
    pub max_ms: Option<f64>,
    /// p95 and p99 from the intended send time (coordinated omission corrected), successes.
    pub corrected_p95_ms: Option<f64>,
    /// p99 of latency from the intended send time (coordinated omission corrected, ms).
    pub corrected_p99_ms: Option<f64>,
    /// Its response-time target (ms), when it has one.
    pub target_ms: Option<f64>,
    /// The run's target percentile of successful responses (None without any).
    pub judged_ms: Option<f64>,
    /// Share of its arrivals that succeeded under its target (None without a target):
    /// what the target is judged on ([`crate::slo`]).
    pub attainment: Option<f64>,
    /// None without a target; else whether at least the target percentile of its arrivals
    /// succeeded under it (attainment; failures count as over).
    pub meets_target: Option<bool>,
    /// Apdex with the target as T over every arrival: failures and dropped are frustrated.
    pub apdex: Option<f64>,
    /// Share of all time spent waiting on responses (any outcome) that this endpoint accounts for.
    pub time_share: f64,
    /// How the failed requests ended, apart from the successes.
    pub failure_latency: Option<FailureLatency>,
}

/// Latency of the failed (sent) requests of an endpoint: fast failures and timeouts apart.
#[derive(Debug, Clone, Serialize)]
pub struct FailureLatency {
    /// Failures that ended with the client's timeout.
    pub timeouts: u64,
    /// Requests cut off unanswered when the run stopped (latency: how long they waited).
    pub cancelled: u64,
    /// Every other failure (refused, failed check, reset, HTTP error).
    pub other: u64,
    /// p50 of the failures' latency (ms).
    pub p50_ms: f64,
    /// p95 of the failures' latency (ms).
    pub p95_ms: f64,
    /// The slowest failure (ms).
    pub max_ms: f64,
}

/// Every endpoint's summary: counts, latency of successful responses, error rate, Apdex.
pub fn per_endpoint(
    lf: &LazyFrame,
    targets: &Targets,
    duration_s: f64,
) -> PolarsResult<Vec<EndpointSummary>> {
    let ok = col("ok");
    let lat = || col("latency_us").cast(DataType::Float64);
    let ok_lat = |q: f64| quantile_of(col("latency_us").filter(col("ok")), q);
    let failed_sent = col("failed").and(col("sent"));
    let fail_lat = |q: f64| quantile_of(col("latency_us").filter(failed_sent.clone()), q);
    let count = |e: Expr| e.cast(DataType::Float64).sum();
    let t_us = col("target_ms") * lit(1000.0);
    let df = lf
        .clone()
        .group_by([col("endpoint")])
        .agg([
            count(col("sent")).alias("requests"),
            count(failed_sent.clone()).alias("failures"),
            count(col("dropped")).alias("dropped"),
            count(ok.clone()).alias("successes"),
            count(col("good")).alias("good"),
            count(
                failed_sent
                    .clone()
                    .and(col("outcome").eq(lit(Outcome::Timeout.as_str()))),
            )
            .alias("timeouts"),
            count(col("outcome").eq(lit(Outcome::Cancelled.as_str()))).alias("cancelled"),
            lat().filter(ok.clone()).mean().alias("mean_us"),
            lat().filter(col("sent")).sum().alias("sum_us"),
            ok_lat(0.50).alias("p50"),
            ok_lat(0.90).alias("p90"),
            ok_lat(0.95).alias("p95"),
            ok_lat(0.99).alias("p99"),
            ok_lat(0.999).alias("p999"),
            col("latency_us").filter(ok.clone()).min().alias("min"),
            col("latency_us").filter(ok.clone()).max().alias("max"),
            ok_lat(targets.percentile / 100.0).alias("judged"),
            quantile_of(col("corrected_us").filter(ok.clone()), 0.95).alias("c95"),
            quantile_of(col("corrected_us").filter(ok.clone()), 0.99).alias("c99"),
            fail_lat(0.50).alias("f50"),
            fail_lat(0.95).alias("f95"),
            col("latency_us").filter(failed_sent).max().alias("fmax"),
            col("target_ms").first().alias("target_ms"),
            count(ok.clone().and(lat().lt_eq(t_us.clone()))).alias("satisfied"),
            count(
                ok.and(lat().gt(t_us.clone()))
                    .and(lat().lt_eq(t_us * lit(4.0))),
            )
            .alias("tolerating"),
        ])
        .sort(["endpoint"], SortMultipleOptions::default())
        .collect_streaming()?;
    let names = strs(&df, "endpoint")?;
    let col = |n: &str| f64s(&df, n);
    let cancelled = col("cancelled")?;
    let (requests, failures, dropped, successes, good, timeouts) = (
        col("requests")?,
        col("failures")?,
        col("dropped")?,
        col("successes")?,
        col("good")?,
        col("timeouts")?,
    );
    let (mean, sum, min, max) = (col("mean_us")?, col("sum_us")?, col("min")?, col("max")?);
    let (p50, p90, p95, p99, p999) = (
        col("p50")?,
        col("p90")?,
        col("p95")?,
        col("p99")?,
        col("p999")?,
    );
    let (judged, c95, c99, target, sat, tol) = (
        col("judged")?,
        col("c95")?,
        col("c99")?,
        col("target_ms")?,
        col("satisfied")?,
        col("tolerating")?,
    );
    let (f50, f95, fmax) = (col("f50")?, col("f95")?, col("fmax")?);
    let total_wait: f64 = sum.iter().filter(|v| v.is_finite()).sum();
    let ms = |us: f64| us.is_finite().then_some(us / 1000.0);
    let per_s = |n: f64| {
        if duration_s > 0.0 {
            n / duration_s
        } else {
            0.0
        }
    };
    Ok((0..df.height())
        .map(|i| {
            let target_ms = (!target[i].is_nan()).then_some(target[i]);
            let arrivals = requests[i] + dropped[i];
            let judged_ms = ms(judged[i]);
            let failed = failures[i] as u64;
            EndpointSummary {
                name: names[i].clone().unwrap_or_default(),
                requests: requests[i] as u64,
                failures: failed,
                dropped: dropped[i] as u64,
                error_rate: if arrivals > 0.0 {
                    (failures[i] + dropped[i]) / arrivals
                } else {
                    0.0
                },
                throughput_rps: per_s(requests[i]),
                succeeded_rps: per_s(successes[i]),
                goodput_rps: per_s(good[i]),
                successes: successes[i] as u64,
                mean_ms: ms(mean[i]),
                p50_ms: ms(p50[i]),
                p90_ms: ms(p90[i]),
                p95_ms: ms(p95[i]),
                p99_ms: ms(p99[i]),
                p999_ms: ms(p999[i]),
                min_ms: ms(min[i]),
                max_ms: ms(max[i]),
                corrected_p95_ms: ms(c95[i]),
                corrected_p99_ms: ms(c99[i]),
                judged_ms,
                attainment: target_ms.and_then(|_| crate::slo::attainment(good[i], arrivals)),
                meets_target: target_ms
                    .map(|_| crate::slo::attains(good[i], arrivals, targets.percentile)),
                apdex: target_ms
                    .filter(|_| arrivals > 0.0)
                    .map(|_| (sat[i] + tol[i] / 2.0) / arrivals),
                target_ms,
                time_share: if total_wait > 0.0 && sum[i].is_finite() {
                    sum[i] / total_wait
                } else {
                    0.0
                },
                failure_latency: (failed > 0).then(|| FailureLatency {
                    timeouts: timeouts[i] as u64,
                    cancelled: cancelled[i] as u64,
                    other: failed - timeouts[i] as u64 - cancelled[i] as u64,
                    p50_ms: f50[i] / 1000.0,
                    p95_ms: f95[i] / 1000.0,
                    max_ms: fmax[i] / 1000.0,
                }),
            }
        })
        .collect())
}

/// An endpoint and its (quantile, latency ms) points.
pub type PercentileCurve = (String, Vec<(f64, f64)>);

/// Latency of the successful responses at each of `qs` per endpoint, for the
/// percentile-distribution chart.
pub fn percentile_curves(lf: &LazyFrame, qs: &[f64]) -> PolarsResult<Vec<PercentileCurve>> {
    let aggs: Vec<Expr> = qs
        .iter()
        .enumerate()
        .map(|(i, q)| quantile("latency_us", *q).alias(format!("q{i}")))
        .collect();
    let df = lf
        .clone()
        .filter(col("ok"))
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
