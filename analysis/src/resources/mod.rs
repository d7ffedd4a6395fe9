//! Resource constraints: the target's CPU, memory, requests in progress and its own count of
//! requests answered (scraped), local processes (by pid, with their disk I/O) and the load
//! generator's own CPU, from the resource files, set against the load levels and p95 of the
//! requests. Counters become rates; a resource saturates when
//! it reaches 90% of its ceiling (the cores, when known) and the first to do so is named as the
//! constraint, with a scaling trigger at 70% of that ceiling.
//!
//! `samples` reads the file and turns counters into rates; `saturation` judges the series.

mod samples;
mod saturation;

use std::collections::BTreeMap;
use std::path::PathBuf;

use aurax_schema::{metrics, sources};
use serde::Serialize;

use crate::breaking::Signal;
use crate::error::AnalysisError;
use crate::levels::LoadLevel;
use crate::windows::Window;
pub(crate) use samples::scan as scan_samples;
use samples::{increase, rates, read};
use saturation::{SATURATED, judge};

/// A counter of cores, when a source says how many it has.
const CORES_METRICS: [&str; 2] = [metrics::MACHINE_CORES, metrics::SIMULATED_CORES];

/// Units of the series; what a series is measured in decides how it is judged and drawn.
const CORES: &str = "cores";
const MIB: &str = "MiB";
const MIB_PER_S: &str = "MiB/s";
const REQ_PER_S: &str = "req/s";
const REQUESTS: &str = "requests";

/// One resource measured over the run (a source's CPU, memory, in flight, …).
#[derive(Debug, Clone, Serialize)]
pub struct ResourceSeries {
    /// "target CPU", "generator memory", "pid:4242 CPU", ...
    pub name: String,
    /// Where it was measured (`generator`, `pid:N`, `scrape:URL`).
    pub source: String,
    /// Its unit.
    pub unit: &'static str,
    /// The value it cannot pass (cores for CPU when known); else the highest value seen.
    pub ceiling: f64,
    /// Whether its ceiling is known (cores, a limit) rather than the highest value seen.
    pub ceiling_known: bool,
    /// Mean per load level, in the order of the analysis' levels (None: no sample there).
    pub per_level: Vec<Option<f64>>,
    /// (seconds from the start, value) per sample, for the chart.
    pub over_time: Vec<(f64, f64)>,
    /// Whether this is the load generator's own resource.
    pub generator: bool,
}

impl ResourceSeries {
    /// Whether it is a CPU series.
    pub fn is_cpu(&self) -> bool {
        self.unit == CORES
    }

    /// Whether it can be the target's constraint: CPU and requests in progress; memory, disk
    /// I/O and the target's own request count have no ceiling in the samples.
    pub fn judged(&self) -> bool {
        !self.generator && matches!(self.unit, CORES | REQUESTS)
    }

    /// Whether resources.png draws it as a share of its ceiling: disk I/O and the request
    /// count, as shares of their own noisy peaks, would mislead (throughput has its chart).
    pub fn charted(&self) -> bool {
        matches!(self.unit, CORES | MIB | REQUESTS)
    }
}

/// What the resource samples say about the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResourceFindings {
    /// Every series, with its mean per load level.
    pub series: Vec<ResourceSeries>,
    /// The resource that saturated first: its name, the load where it did, its value there.
    pub constraint: Option<(String, f64, f64)>,
    /// "scale out at 70% CPU (…), reached at ~N …".
    pub trigger: Option<String>,
    /// Set when the load generator's CPU was saturated: the client, not the target, limited.
    pub generator_saturated: Option<String>,
    /// Per scraped target: the requests it counted as answered while it was sampled
    /// (`fastapi_requests_total`, scrapes left out), to hold against the rows recorded.
    pub answered: Vec<(String, f64)>,
    /// What the samples cannot tell, said plainly.
    pub notes: Vec<String>,
}

/// Reads the samples and relates them to the windows and load levels of the requests.
pub fn analyse(
    files: &[PathBuf],
    start_us: i64,
    windows: &[Window],
    window_levels: &[f64],
    levels: &[LoadLevel],
    load_unit: &str,
    breaking: Option<&Signal>,
) -> Result<ResourceFindings, AnalysisError> {
    let mut findings = ResourceFindings::default();
    if files.is_empty() {
        return Ok(findings);
    }
    let raw = read(files)?;
    let level_of_window: BTreeMap<i64, f64> = windows
        .iter()
        .zip(window_levels)
        .map(|(w, l)| (w.index, *l))
        .collect();
    let cores: BTreeMap<String, f64> = raw
        .iter()
        .filter(|((_, m), _)| CORES_METRICS.contains(&m.as_str()))
        .filter_map(|((s, _), v)| Some((s.clone(), v.last()?.value)))
        .collect();
    for ((source, metric), samples) in &raw {
        if metric == metrics::SERVED_REQUESTS {
            findings.answered.push((source.clone(), increase(samples)));
        }
        let (what, unit, values) = match metric.as_str() {
            metrics::CPU_SECONDS => ("CPU", CORES, rates(samples)),
            metrics::RESIDENT_BYTES => (
                "memory",
                MIB,
                samples
                    .iter()
                    .map(|s| (s.time_us, s.value / 1048576.0))
                    .collect(),
            ),
            metrics::IO_READ_BYTES | metrics::IO_WRITE_BYTES => (
                if metric == metrics::IO_READ_BYTES {
                    "disk read"
                } else {
                    "disk write"
                },
                MIB_PER_S,
                rates(samples)
                    .into_iter()
                    .map(|(t, v)| (t, v / 1048576.0))
                    .collect(),
            ),
            metrics::SERVED_REQUESTS => {
                ("requests answered (own count)", REQ_PER_S, rates(samples))
            }
            metrics::IN_PROGRESS => (
                "requests in progress",
                REQUESTS,
                samples.iter().map(|s| (s.time_us, s.value)).collect(),
            ),
            _ => continue,
        };
        if values.is_empty() {
            continue;
        }
        let generator = source == sources::GENERATOR;
        let who = if generator {
            "generator".to_string()
        } else if source.starts_with(sources::SCRAPE_PREFIX) {
            "target".to_string()
        } else {
            source.clone()
        };
        let mut sums: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
        for (t, v) in &values {
            let Some(level) = crate::windows::window_at(windows, (t - start_us) as f64 / 1e6)
                .and_then(|w| level_of_window.get(&w.index))
            else {
                continue;
            };
            if let Some(i) = levels.iter().position(|l| l.load == *level) {
                let e = sums.entry(i).or_default();
                e.0 += v;
                e.1 += 1.0;
            }
        }
        let per_level: Vec<Option<f64>> = (0..levels.len())
            .map(|i| sums.get(&i).map(|(s, n)| s / n))
            .collect();
        let seen_max = values.iter().map(|(_, v)| *v).fold(0.0, f64::max);
        if unit == MIB_PER_S && seen_max == 0.0 {
            // Nothing went to or came from the disk (page-cache hits do not count): no line.
            continue;
        }
        // Cores are the ceiling when the series got near them; otherwise (a target that runs
        // out of something else first, e.g. model slots) its own plateau is.
        let known = (what == "CPU")
            .then(|| cores.get(source).copied())
            .flatten()
            .filter(|c| generator || seen_max >= SATURATED * c);
        findings.series.push(ResourceSeries {
            name: format!("{who} {what}"),
            source: source.clone(),
            unit,
            ceiling: known.unwrap_or(seen_max).max(1e-9),
            ceiling_known: known.is_some(),
            per_level,
            over_time: values
                .iter()
                .map(|(t, v)| ((t - start_us) as f64 / 1e6, *v))
                .collect(),
            generator,
        });
    }
    judge(&mut findings, levels, load_unit, breaking);
    Ok(findings)
}
