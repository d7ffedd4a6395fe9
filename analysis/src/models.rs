//! Question 6: which models served the run, and how fast each was.

use polars::prelude::*;
use serde::Serialize;

use crate::frame::{CollectStreaming, f64s, quantile_of, strs};

#[derive(Debug, Clone, Serialize)]
pub struct ModelUsage {
    pub model: String,
    pub requests: u64,
    pub share: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// Per model (`metadata.model_used`): requests, share and latency of successful responses.
pub fn usage(lf: &LazyFrame) -> PolarsResult<Vec<ModelUsage>> {
    let df = lf
        .clone()
        .filter(col("model_used").is_not_null())
        .group_by([col("model_used")])
        .agg([
            len().cast(DataType::Float64).alias("n"),
            quantile_of(col("latency_us").filter(col("ok")), 0.5).alias("p50"),
            quantile_of(col("latency_us").filter(col("ok")), 0.95).alias("p95"),
        ])
        .sort(
            ["n"],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .collect_streaming()?;
    let names = strs(&df, "model_used")?;
    let (n, p50, p95) = (f64s(&df, "n")?, f64s(&df, "p50")?, f64s(&df, "p95")?);
    let total: f64 = n.iter().sum();
    Ok((0..df.height())
        .map(|i| ModelUsage {
            model: names[i].clone().unwrap_or_default(),
            requests: n[i] as u64,
            share: n[i] / total,
            p50_ms: p50[i] / 1000.0,
            p95_ms: p95[i] / 1000.0,
        })
        .collect())
}
