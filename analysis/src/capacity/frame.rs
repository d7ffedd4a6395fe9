//! The search's steps read back from the request files.

use std::collections::BTreeMap;

use aurax_schema::{CapacitySearch, Targets};

use super::judge::{StepRequest, judge_step};
use super::search::{CapacityAnswer, answer};

/// The search's steps re-derived from the files: each stage's arrivals judged by
/// [`judge_step`], then [`answer`].
pub fn from_frame(
    base: &polars::prelude::LazyFrame,
    targets: &Targets,
    search: &CapacitySearch,
) -> Result<CapacityAnswer, crate::AnalysisError> {
    use crate::frame::{CollectStreaming, f64s, i64s, strs};
    use polars::prelude::*;
    let df = base
        .clone()
        .select([
            col("stage"),
            col("stage_target"),
            col("endpoint").cast(DataType::String),
            col("intended_us"),
            col("sent_us"),
            col("latency_us"),
            col("ok"),
            col("dropped"),
        ])
        .collect_streaming()?;
    let stage = i64s(&df, "stage")?;
    let rate = f64s(&df, "stage_target")?;
    let endpoint = strs(&df, "endpoint")?;
    let intended = i64s(&df, "intended_us")?;
    let sent = i64s(&df, "sent_us")?;
    let latency = i64s(&df, "latency_us")?;
    let bools = |name: &str| -> PolarsResult<Vec<bool>> {
        Ok(df
            .column(name)?
            .bool()?
            .iter()
            .map(|v| v.unwrap_or(false))
            .collect())
    };
    let (ok, dropped) = (bools("ok")?, bools("dropped")?);
    let mut names: BTreeMap<String, Arc<str>> = BTreeMap::new();
    let mut steps: BTreeMap<u32, (f64, Vec<StepRequest>)> = BTreeMap::new();
    for i in 0..df.height() {
        let name = endpoint[i].clone().unwrap_or_default();
        let name = names
            .entry(name.clone())
            .or_insert_with(|| Arc::from(name.as_str()))
            .clone();
        let step = steps
            .entry(stage[i].unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32)
            .or_insert((rate[i], Vec::new()));
        step.1.push(StepRequest {
            endpoint: name,
            intended_us: intended[i].unwrap_or(0),
            sent_us: if dropped[i] { None } else { sent[i] },
            latency_us: latency[i].unwrap_or(0),
            ok: ok[i],
        });
    }
    let verdicts = steps
        .into_iter()
        .map(|(step, (rate, requests))| judge_step(step, rate, &requests, targets, search))
        .collect();
    Ok(answer(verdicts, search))
}
