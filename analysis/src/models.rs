//! Question 6: which models served the run, and how fast each was.

use polars::prelude::*;
use serde::Serialize;

use crate::frame::{CollectStreaming, f64s, strs};
use crate::ranks::Ranks;

#[derive(Debug, Clone, Serialize)]
pub struct ModelUsage {
    pub model: String,
    /// Answers that named it (`model_used`): a failed answer names none.
    pub requests: u64,
    /// Its share of the answers that named a model.
    pub share: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// Per model (`metadata.model_used`): requests, share and latency of successful responses.
/// The counts are a query; the percentiles come from the one sort ([`Ranks`]).
pub fn usage(lf: &LazyFrame, ranks: &Ranks) -> PolarsResult<Vec<ModelUsage>> {
    let df = lf
        .clone()
        .filter(col("model_used").is_not_null())
        .group_by([col("model_used")])
        .agg([len().cast(DataType::Float64).alias("n")])
        .sort(
            ["n"],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .collect_streaming()?;
    let names = strs(&df, "model_used")?;
    let n = f64s(&df, "n")?;
    let ranked = ranks.quantiles(ranks.models.len(), &[0.5, 0.95], |k| k.model);
    let at = |i: usize, q: usize| {
        names[i]
            .as_deref()
            .and_then(|m| ranks.model(m))
            .map_or(f64::NAN, |m| ranked[m].values[q])
    };
    let total: f64 = n.iter().sum();
    Ok((0..df.height())
        .map(|i| ModelUsage {
            model: names[i].clone().unwrap_or_default(),
            requests: n[i] as u64,
            share: n[i] / total,
            p50_ms: at(i, 0) / 1000.0,
            p95_ms: at(i, 1) / 1000.0,
        })
        .collect())
}
