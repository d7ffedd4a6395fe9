//! Question 1: per endpoint, how many, how fast, how often failed, and against its target.

use aurax_schema::Targets;
use polars::prelude::*;
use serde::Serialize;

use crate::frame::{CollectStreaming, f64s, only, quantile, strs};
use crate::ranks::Ranks;

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

/// Each endpoint's counts, sums and extremes over every row, and its failures' percentiles
/// (over the failures alone, so no query holds every row's values for them), sorted by name.
/// The successes' percentiles come from the one sort ([`Ranks`]).
fn counts_by_endpoint(lf: &LazyFrame) -> PolarsResult<DataFrame> {
    let ok = col("ok");
    let lat = || col("latency_us").cast(DataType::Float64);
    let failed_sent = col("failed").and(col("sent"));
    let count = |e: Expr| e.cast(DataType::Float64).sum();
    let t_us = col("target_ms") * lit(1000.0);
    let counts = lf.clone().group_by([col("endpoint")]).agg([
        count(col("sent")).alias("requests"),
        count(failed_sent.clone()).alias("failures"),
        count(col("dropped")).alias("dropped"),
        count(ok.clone()).alias("successes"),
        count(col("good")).alias("good"),
        count(col("timeout")).alias("timeouts"),
        count(col("cancelled")).alias("cancelled"),
        only(lat(), ok.clone()).mean().alias("mean_us"),
        only(lat(), col("sent")).sum().alias("sum_us"),
        only(col("latency_us"), ok.clone()).min().alias("min"),
        only(col("latency_us"), ok.clone()).max().alias("max"),
        col("target_ms").first().alias("target_ms"),
        count(ok.clone().and(lat().lt_eq(t_us.clone()))).alias("satisfied"),
        count(
            ok.clone()
                .and(lat().gt(t_us.clone()))
                .and(lat().lt_eq(t_us * lit(4.0))),
        )
        .alias("tolerating"),
    ]);
    let failures = lf
        .clone()
        .filter(failed_sent)
        .group_by([col("endpoint")])
        .agg([
            quantile("latency_us", 0.50).alias("f50"),
            quantile("latency_us", 0.95).alias("f95"),
            col("latency_us").max().alias("fmax"),
        ]);
    let by_endpoint = || JoinArgs::new(JoinType::Left);
    counts
        .collect_streaming()?
        .lazy()
        .join(
            failures.collect_streaming()?.lazy(),
            [col("endpoint")],
            [col("endpoint")],
            by_endpoint(),
        )
        .sort(["endpoint"], SortMultipleOptions::default())
        .collect()
}

/// Every endpoint's summary: counts, latency of successful responses, error rate, Apdex.
pub fn per_endpoint(
    lf: &LazyFrame,
    ranks: &Ranks,
    targets: &Targets,
    duration_s: f64,
) -> PolarsResult<Vec<EndpointSummary>> {
    let df = counts_by_endpoint(lf)?;
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
    let ranked = ranks.quantiles(
        ranks.endpoints.len(),
        &[0.5, 0.9, 0.95, 0.99, 0.999, targets.percentile / 100.0],
        |k| Some(k.endpoint),
    );
    let at = |i: usize, q: usize| {
        names[i]
            .as_deref()
            .and_then(|n| ranks.endpoint(n))
            .map_or(f64::NAN, |e| ranked[e].values[q])
    };
    let (target, sat, tol) = (col("target_ms")?, col("satisfied")?, col("tolerating")?);
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
            let judged_ms = ms(at(i, 5));
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
                p50_ms: ms(at(i, 0)),
                p90_ms: ms(at(i, 1)),
                p95_ms: ms(at(i, 2)),
                p99_ms: ms(at(i, 3)),
                p999_ms: ms(at(i, 4)),
                min_ms: ms(min[i]),
                max_ms: ms(max[i]),
                // From another sort: [`add_corrected`].
                corrected_p95_ms: None,
                corrected_p99_ms: None,
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

/// Each endpoint's p95 and p99 latency from the intended send time (coordinated omission
/// corrected), from the successes ranked by it.
pub fn add_corrected(endpoints: &mut [EndpointSummary], corrected: &Ranks) {
    let ranked = corrected.quantiles(corrected.endpoints.len(), &[0.95, 0.99], |k| {
        Some(k.endpoint)
    });
    for e in endpoints {
        if let Some(q) = corrected.endpoint(&e.name).map(|i| &ranked[i]) {
            let ms = |us: f64| us.is_finite().then_some(us / 1000.0);
            (e.corrected_p95_ms, e.corrected_p99_ms) = (ms(q.values[0]), ms(q.values[1]));
        }
    }
}

/// An endpoint and its (quantile, latency ms) points.
pub type PercentileCurve = (String, Vec<(f64, f64)>);

/// Latency of the successful responses at each of `qs` per endpoint, for the
/// percentile-distribution chart: from the one sort, no query.
pub fn percentile_curves(ranks: &Ranks, qs: &[f64]) -> Vec<PercentileCurve> {
    let ranked = ranks.quantiles(ranks.endpoints.len(), qs, |k| Some(k.endpoint));
    ranks
        .endpoints
        .iter()
        .zip(ranked)
        .filter(|(_, q)| q.n > 0)
        .map(|(name, q)| {
            let points = qs
                .iter()
                .zip(&q.values)
                .map(|(q, v)| (*q, v / 1000.0))
                .collect();
            (name.clone(), points)
        })
        .collect()
}
