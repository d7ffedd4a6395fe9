//! Resource constraints: the target's CPU, memory and requests in progress (scraped), local
//! processes (by pid, with their disk I/O) and the load generator's own CPU, from `resources.parquet`, set against
//! the load levels and p95 of the requests. Counters become rates; a resource saturates when
//! it reaches 90% of its ceiling (the cores, when known) and the first to do so is named as the
//! constraint, with a scaling trigger at 70% of that ceiling.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aurax_schema::{ResourceColumn, metrics, sources};
use polars::prelude::*;
use serde::Serialize;

use crate::error::AnalysisError;
use crate::windows::{LoadLevel, Window};

/// Share of its ceiling at which a resource counts as saturated.
const SATURATED: f64 = 0.9;
/// Share of the ceiling a scale-out trigger is set at.
const TRIGGER: f64 = 0.7;
/// A CPU that levels off below one busy core is not what limits: even one thread can use a
/// whole core, so the process is waiting on something else (the load, a lock, a downstream).
const MIN_CPU_PLATEAU_CORES: f64 = 0.9;
/// A counter of cores, when a source says how many it has.
const CORES_METRICS: [&str; 2] = [metrics::MACHINE_CORES, metrics::SIMULATED_CORES];

#[derive(Debug, Clone, Serialize)]
pub struct ResourceSeries {
    /// "target CPU", "generator memory", "pid:4242 CPU", ...
    pub name: String,
    pub source: String,
    pub unit: &'static str,
    /// The value it cannot pass (cores for CPU when known); else the highest value seen.
    pub ceiling: f64,
    pub ceiling_known: bool,
    /// Mean per load level, in the order of the analysis' levels (None: no sample there).
    pub per_level: Vec<Option<f64>>,
    /// (seconds from the start, value) per sample, for the chart.
    pub over_time: Vec<(f64, f64)>,
    /// Whether this is the load generator's own resource.
    pub generator: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ResourceFindings {
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
    pub notes: Vec<String>,
}

struct Sample {
    time_us: i64,
    value: f64,
}

/// Reads the samples and relates them to the windows and load levels of the requests.
pub fn analyse(
    files: &[PathBuf],
    start_us: i64,
    windows: &[Window],
    window_levels: &[f64],
    levels: &[LoadLevel],
    load_unit: &str,
    breaking_found: bool,
) -> Result<ResourceFindings, AnalysisError> {
    let mut findings = ResourceFindings::default();
    if files.is_empty() {
        return Ok(findings);
    }
    let raw = read(files)?;
    let window_s = windows.first().map_or(1.0, |w| w.seconds.max(1e-3));
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
            metrics::CPU_SECONDS => ("CPU", "cores", rates(samples)),
            metrics::RESIDENT_BYTES => (
                "memory",
                "MiB",
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
                "MiB/s",
                rates(samples)
                    .into_iter()
                    .map(|(t, v)| (t, v / 1048576.0))
                    .collect(),
            ),
            metrics::SERVED_REQUESTS => ("requests answered (own count)", "req/s", rates(samples)),
            metrics::IN_PROGRESS => (
                "requests in progress",
                "requests",
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
            let win = ((t - start_us) as f64 / 1e6 / window_s).floor() as i64;
            let Some(level) = level_of_window.get(&win) else {
                continue;
            };
            if let Some(i) = levels.iter().position(|l| l.users == *level) {
                let e = sums.entry(i).or_default();
                e.0 += v;
                e.1 += 1.0;
            }
        }
        let per_level: Vec<Option<f64>> = (0..levels.len())
            .map(|i| sums.get(&i).map(|(s, n)| s / n))
            .collect();
        let seen_max = values.iter().map(|(_, v)| *v).fold(0.0, f64::max);
        if unit == "MiB/s" && seen_max == 0.0 {
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
    judge(&mut findings, levels, load_unit, breaking_found);
    Ok(findings)
}

/// Per (source, metric), unlabelled samples in time order.
type Raw = BTreeMap<(String, String), Vec<Sample>>;

fn read(files: &[PathBuf]) -> Result<Raw, AnalysisError> {
    let paths: Vec<PlRefPath> = files
        .iter()
        .map(|p| PlRefPath::try_from_path(p))
        .collect::<PolarsResult<_>>()?;
    let wanted = [
        metrics::CPU_SECONDS,
        metrics::RESIDENT_BYTES,
        metrics::IN_PROGRESS,
        metrics::MACHINE_CORES,
        metrics::SIMULATED_CORES,
        metrics::IO_READ_BYTES,
        metrics::IO_WRITE_BYTES,
    ];
    let metric = col(ResourceColumn::Metric.name()).cast(DataType::String);
    let is_wanted = wanted
        .iter()
        .map(|m| metric.clone().eq(lit(*m)))
        .reduce(|a, b| a.or(b))
        .unwrap_or(lit(false));
    let df =
        LazyFrame::scan_parquet_files(paths.into_iter().collect(), ScanArgsParquet::default())?
            .select([
                col(ResourceColumn::Time.name())
                    .cast(DataType::Int64)
                    .alias("t"),
                col(ResourceColumn::Source.name())
                    .cast(DataType::String)
                    .alias("source"),
                metric.alias("metric"),
                col(ResourceColumn::Labels.name())
                    .cast(DataType::String)
                    .alias("labels"),
                col(ResourceColumn::Value.name()).alias("value"),
            ])
            .filter(
                is_wanted
                    .and(col("labels").eq(lit("")))
                    .or(col("metric").eq(lit(metrics::SERVED_REQUESTS))),
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
        if m == metrics::SERVED_REQUESTS {
            // One series per (method, handler, status): their sum at each scrape.
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
fn increase(samples: &[Sample]) -> f64 {
    samples
        .windows(2)
        .map(|w| {
            let dv = w[1].value - w[0].value;
            if dv >= 0.0 { dv } else { w[1].value }
        })
        .sum()
}

/// A counter's rate between consecutive samples, placed at the later one; resets skipped.
fn rates(samples: &[Sample]) -> Vec<(i64, f64)> {
    samples
        .windows(2)
        .filter_map(|w| {
            let dt = (w[1].time_us - w[0].time_us) as f64 / 1e6;
            let dv = w[1].value - w[0].value;
            (dt > 0.0 && dv >= 0.0).then_some((w[1].time_us, dv / dt))
        })
        .collect()
}

/// The first load level at which a series saturates: it is at 90% of its ceiling there and
/// stays within 10% of that while the load rises at least 10% further (a plateau); a series
/// at its cores' limit saturates without waiting for the plateau, and a CPU plateau below one
/// core is no saturation at all. A plateau counts only in a run that found a breaking point:
/// under a load that never limited the target, a flat series (one request in progress at
/// 1 to 5 users) says the load did not push it, not that it ran out.
fn saturation_level(
    s: &ResourceSeries,
    levels: &[LoadLevel],
    breaking_found: bool,
) -> Option<usize> {
    (0..s.per_level.len()).find(|&i| {
        let Some(v) = s.per_level[i] else {
            return false;
        };
        if v < SATURATED * s.ceiling {
            return false;
        }
        if s.ceiling_known && v >= SATURATED * s.ceiling {
            return true;
        }
        if !breaking_found || (s.unit == "cores" && v < MIN_CPU_PLATEAU_CORES) {
            return false;
        }
        let later: Vec<(f64, f64)> = levels
            .iter()
            .zip(&s.per_level)
            .skip(i + 1)
            .filter_map(|(l, x)| Some((l.users, (*x)?)))
            .collect();
        later.iter().any(|(load, _)| *load >= 1.1 * levels[i].users)
            && later.iter().all(|(_, x)| *x <= 1.1 * v)
    })
}

/// Names the first resource to saturate, a trigger on it, and a saturated generator.
fn judge(f: &mut ResourceFindings, levels: &[LoadLevel], load_unit: &str, breaking_found: bool) {
    let mut first: Option<(usize, &ResourceSeries)> = None;
    // Memory and disk I/O are shown, not judged: their ceiling is not in the samples.
    let judged = |s: &&ResourceSeries| !s.generator && matches!(s.unit, "cores" | "requests");
    for s in f.series.iter().filter(judged) {
        // At the same level a CPU goes before requests in progress: requests pile up because
        // something saturated, so a plateau in them alone is the symptom, not the cause.
        if let Some(at) = saturation_level(s, levels, breaking_found)
            && first.is_none_or(|(i, f)| at < i || (at == i && f.unit != "cores"))
        {
            first = Some((at, s));
        }
    }
    if let Some((at, s)) = first {
        let value = s.per_level[at].unwrap_or(0.0);
        f.constraint = Some((s.name.clone(), levels[at].users, value));
        f.trigger = trigger(s, levels, load_unit);
    } else if !breaking_found {
        f.notes.push("The load found no breaking point, so no resource is named as the constraint: only a CPU at its cores' limit would be, and none was.".into());
    } else {
        f.notes.push(format!(
            "No target resource reached a plateau at {:.0}% of its ceiling: the constraint (if the load found one) is not CPU or in-flight requests as sampled (queues, locks, a downstream service?), so no resource-based scaling trigger is set.",
            SATURATED * 100.0
        ));
    }
    if let Some(g) = f
        .series
        .iter()
        .find(|s| s.generator && s.name.ends_with("CPU") && s.ceiling_known)
        && let Some(at) = g
            .per_level
            .iter()
            .position(|v| v.is_some_and(|v| v >= SATURATED * g.ceiling))
    {
        f.generator_saturated = Some(format!(
            "The load generator's CPU reached {:.2} of its {:.0} cores at {:.0} {load_unit}: from there the client, not the target, limited the load.",
            g.per_level[at].unwrap_or(0.0),
            g.ceiling,
            levels[at].users
        ));
    }
}

/// Where the series first reaches 70% of its ceiling, interpolated between load levels.
fn trigger(s: &ResourceSeries, levels: &[LoadLevel], load_unit: &str) -> Option<String> {
    let threshold = TRIGGER * s.ceiling;
    let points: Vec<(f64, f64)> = levels
        .iter()
        .zip(&s.per_level)
        .filter_map(|(l, v)| Some((l.users, (*v)?)))
        .collect();
    let crossing = points.windows(2).find_map(|w| {
        let ((l0, v0), (l1, v1)) = (w[0], w[1]);
        (v0 < threshold && v1 >= threshold)
            .then(|| l0 + (threshold - v0) / (v1 - v0).max(1e-12) * (l1 - l0))
    });
    let what = if s.ceiling_known {
        format!(
            "{:.0}% {} ({} of {:.0} {})",
            TRIGGER * 100.0,
            s.name,
            amount(threshold),
            s.ceiling,
            s.unit
        )
    } else {
        format!(
            "{:.0}% of the {} {} {} plateaued at ({} {})",
            TRIGGER * 100.0,
            amount(s.ceiling),
            s.unit,
            s.name,
            amount(threshold),
            s.unit
        )
    };
    match crossing {
        Some(load) => Some(format!(
            "scale out at {what}, reached at ~{load:.0} {load_unit}"
        )),
        None if points.first().is_some_and(|(_, v)| *v >= threshold) => Some(format!(
            "scale out at {what}: already passed at the lowest load ({:.0} {load_unit})",
            points[0].0
        )),
        None => Some(format!("scale out at {what}: not reached in this run")),
    }
}

/// A value with the decimals it needs to say something: 2.8, 0.035, 17.
fn amount(v: f64) -> String {
    match v.abs() {
        x if x >= 10.0 => format!("{v:.0}"),
        x if x >= 1.0 => format!("{v:.1}"),
        x if x >= 0.1 => format!("{v:.2}"),
        _ => format!("{v:.3}"),
    }
}
