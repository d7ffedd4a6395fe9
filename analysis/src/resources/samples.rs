//! Resource samples read back from `resources.parquet` (and sealed segments), and counters
//! turned into rates and increases.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aurax_schema::{ResourceColumn, metrics};
use polars::prelude::*;

use crate::error::AnalysisError;

pub(super) struct Sample {
    pub(super) time_us: i64,
    pub(super) value: f64,
}

/// Per (source, metric), samples in time order: unlabelled ones, and the served-requests
/// counter and the requests in progress summed over their labels (the published backend
/// labels `aurax_inprogress` by handler and method), the `/metrics` handler left out.
pub(super) type Raw = BTreeMap<(String, String), Vec<Sample>>;

/// Every sample of the resource files (and sealed segments) as columns `t` (µs), `source`,
/// `metric`, `labels` (strings) and `value`: the one reading of the resources contract.
pub(crate) fn scan(files: &[PathBuf]) -> Result<LazyFrame, AnalysisError> {
    let paths: Vec<PlRefPath> = files
        .iter()
        .map(|p| PlRefPath::try_from_path(p))
        .collect::<PolarsResult<_>>()?;
    Ok(
        LazyFrame::scan_parquet_files(paths.into_iter().collect(), ScanArgsParquet::default())?
            .select([
                col(ResourceColumn::Time.name())
                    .cast(DataType::Int64)
                    .alias("t"),
                col(ResourceColumn::Source.name())
                    .cast(DataType::String)
                    .alias("source"),
                col(ResourceColumn::Metric.name())
                    .cast(DataType::String)
                    .alias("metric"),
                col(ResourceColumn::Labels.name())
                    .cast(DataType::String)
                    .alias("labels"),
                col(ResourceColumn::Value.name()).alias("value"),
            ]),
    )
}

pub(super) fn read(files: &[PathBuf]) -> Result<Raw, AnalysisError> {
    let wanted = [
        metrics::CPU_SECONDS,
        metrics::RESIDENT_BYTES,
        metrics::IN_PROGRESS,
        metrics::MACHINE_CORES,
        metrics::SIMULATED_CORES,
        metrics::IO_READ_BYTES,
        metrics::IO_WRITE_BYTES,
    ];
    let is_wanted = wanted
        .iter()
        .map(|m| col("metric").eq(lit(*m)))
        .reduce(|a, b| a.or(b))
        .unwrap_or(lit(false));
    let df = scan(files)?
        .filter(
            is_wanted
                .and(col("labels").eq(lit("")))
                .or(col("metric").eq(lit(metrics::SERVED_REQUESTS)))
                .or(col("metric").eq(lit(metrics::IN_PROGRESS))),
        )
        .sort(["t"], SortMultipleOptions::default())
        .collect()?;
    let t = df.column("t")?.i64()?;
    let source = df.column("source")?.str()?;
    let metric = df.column("metric")?.str()?;
    let labels = df.column("labels")?.str()?;
    let value = df.column("value")?.f64()?;
    let mut raw: Raw = BTreeMap::new();
    for i in 0..df.height() {
        let (Some(t), Some(s), Some(m), Some(v)) =
            (t.get(i), source.get(i), metric.get(i), value.get(i))
        else {
            continue;
        };
        let samples = raw.entry((s.to_string(), m.to_string())).or_default();
        if m == metrics::SERVED_REQUESTS || m == metrics::IN_PROGRESS {
            // One series per label set (method, handler, status): their sum at each scrape.
            if labels
                .get(i)
                .is_some_and(|l| l.contains(metrics::METRICS_HANDLER_LABEL))
            {
                continue;
            }
            if let Some(last) = samples.last_mut().filter(|last| last.time_us == t) {
                last.value += v;
                continue;
            }
        }
        samples.push(Sample {
            time_us: t,
            value: v,
        });
    }
    Ok(raw)
}

/// How much a counter grew over the samples; after a reset it counts from zero again (as
/// Prometheus' increase() does).
pub(super) fn increase(samples: &[Sample]) -> f64 {
    samples
        .windows(2)
        .map(|w| {
            let dv = w[1].value - w[0].value;
            if dv >= 0.0 { dv } else { w[1].value }
        })
        .sum()
}

/// A counter's rate between samples, placed at the later one; resets skipped. Samples that
/// come less than half the usual interval after the previous one (a sampler starved of CPU
/// takes several at once) are merged into the next interval: a rate over almost no time is
/// noise, and reads 0 cores on a saturated machine.
pub(super) fn rates(samples: &[Sample]) -> Vec<(i64, f64)> {
    let mut gaps: Vec<i64> = samples
        .windows(2)
        .map(|w| w[1].time_us - w[0].time_us)
        .collect();
    gaps.sort_unstable();
    let min_gap = gaps.get(gaps.len() / 2).map_or(0, |median| median / 2);
    let mut out = Vec::new();
    let Some(mut anchor) = samples.first() else {
        return out;
    };
    for s in &samples[1..] {
        let dt_us = s.time_us - anchor.time_us;
        if dt_us <= 0 || dt_us < min_gap {
            continue;
        }
        let dv = s.value - anchor.value;
        if dv >= 0.0 {
            out.push((s.time_us, dv / (dt_us as f64 / 1e6)));
        }
        anchor = s;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(points: &[(f64, f64)]) -> Vec<Sample> {
        points
            .iter()
            .map(|(t, v)| Sample {
                time_us: (t * 1e6) as i64,
                value: *v,
            })
            .collect()
    }

    #[test]
    fn samples_taken_at_once_by_a_starved_sampler_are_no_zero_rate() {
        // One core busy throughout; the sampler stalled from 5 s to 8 s, then sampled three
        // times in a row.
        let s = counter(&[
            (1.0, 1.0),
            (2.0, 2.0),
            (3.0, 3.0),
            (4.0, 4.0),
            (5.0, 5.0),
            (8.0, 8.0),
            (8.001, 8.0),
            (8.002, 8.0),
            (9.0, 9.0),
        ]);
        let r = rates(&s);
        assert!(r.iter().all(|(_, v)| (v - 1.0).abs() < 0.01), "{r:?}");
        assert_eq!(r.len(), 6);
    }
}
