//! Question 11: in a distributed run, did every worker do its share? Per `worker_id`: its
//! arrivals, the rate it offered, how late its schedule ran (p99) and its error rate; a
//! worker whose schedule ran late, or that offered clearly less than the others, is named,
//! since the merged figures then describe less load than was asked for (docs/distributed.md).

use polars::prelude::*;
use serde::Serialize;

use crate::frame::{CollectStreaming, f64s, quantile_of};

/// A worker's schedule running later than this at p99 fell behind.
pub const BEHIND_LATENESS_MS: f64 = 10.0;
/// A worker offering less than this share of the workers' median rate fell behind.
pub const BEHIND_RATE_SHARE: f64 = 0.9;

/// One worker of a distributed run.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerSummary {
    /// Its `worker_id` (the shard's index).
    pub worker: u32,
    /// Its arrivals (sent and dropped).
    pub arrivals: u64,
    /// Arrivals per second over its own first to last send.
    pub offered_rps: f64,
    /// p99 of how late its requests went out against their schedule (ms).
    pub lateness_p99_ms: f64,
    /// (failed + dropped) / arrivals.
    pub error_rate: f64,
    /// Why it fell behind, when it did.
    pub behind: Option<String>,
}

/// Every worker, by index; empty for a run of one process.
pub fn per_worker(lf: &LazyFrame) -> PolarsResult<Vec<WorkerSummary>> {
    // Most runs are one process: counted first, without holding a row.
    let workers = lf
        .clone()
        .select([col("worker_id").n_unique().alias("n")])
        .collect_streaming()?;
    if f64s(&workers, "n")?.first().is_none_or(|n| *n < 2.0) {
        return Ok(Vec::new());
    }
    let df = lf
        .clone()
        .group_by([col("worker_id")])
        .agg([
            len().cast(DataType::Float64).alias("arrivals"),
            col("failed").cast(DataType::Float64).sum().alias("failed"),
            col("sent_us").min().cast(DataType::Float64).alias("first"),
            col("sent_us").max().cast(DataType::Float64).alias("last"),
            quantile_of(col("lateness_us").filter(col("sent")), 0.99).alias("late99"),
        ])
        .sort(["worker_id"], SortMultipleOptions::default())
        .collect_streaming()?;
    if df.height() < 2 {
        return Ok(Vec::new());
    }
    let (ids, arrivals, failed, first, last, late) = (
        f64s(&df, "worker_id")?,
        f64s(&df, "arrivals")?,
        f64s(&df, "failed")?,
        f64s(&df, "first")?,
        f64s(&df, "last")?,
        f64s(&df, "late99")?,
    );
    let rate = |i: usize| {
        let span = (last[i] - first[i]) / 1e6;
        if span > 0.0 {
            (arrivals[i] - 1.0).max(0.0) / span
        } else {
            0.0
        }
    };
    let mut rates: Vec<f64> = (0..df.height()).map(rate).collect();
    rates.sort_by(f64::total_cmp);
    let median = rates[(rates.len() - 1) / 2];
    Ok((0..df.height())
        .map(|i| {
            let late_ms = if late[i].is_finite() { late[i] / 1000.0 } else { 0.0 };
            let offered = rate(i);
            let behind = if late_ms > BEHIND_LATENESS_MS {
                Some(format!(
                    "its schedule ran {late_ms:.1} ms late at p99 (over {BEHIND_LATENESS_MS:.0} ms): it could not send its share on time"
                ))
            } else if median > 0.0 && offered < BEHIND_RATE_SHARE * median {
                Some(format!(
                    "it offered {offered:.1} req/s, {:.0}% below the workers' median {median:.1}",
                    100.0 * (1.0 - offered / median)
                ))
            } else {
                None
            };
            WorkerSummary {
                worker: ids[i] as u32,
                arrivals: arrivals[i] as u64,
                offered_rps: offered,
                lateness_p99_ms: late_ms,
                error_rate: if arrivals[i] > 0.0 { failed[i] / arrivals[i] } else { 0.0 },
                behind,
            }
        })
        .collect())
}
