//! Model residency: which of Ollama's models were in memory when, from its `/api/ps` samples
//! (`run --ollama`), the loads, unloads and swaps between samples, the requests that waited
//! for their model to load and the time they lost, and "model swapping" named as the
//! constraint when it costs the run a material share of its latency.
//!
//! Definitions (docs/analysis.md, "Model residency"):
//! - a **load** of model M: M absent at one sample, present at the next; an **unload**: the
//!   reverse; a **swap**: a load in the same interval as another model's unload (memory made
//!   room). Resolution is the sample interval: a model loaded and unloaded between two
//!   samples is not seen.
//! - a request **waited for a load** when it names M (`model_used`) and was in flight across
//!   an interval in which M was loaded (sent before the sample that shows M, ended after the
//!   one before it); driving Ollama directly, when its `load_duration` (`server_load_us`) is
//!   at least 100 ms, exactly.
//! - **time lost** of such a request: its `load_duration` (exact), or its latency less the
//!   median latency of M's successful requests that did not wait (estimated).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use aurax_schema::{metrics, sources};
use polars::prelude::*;
use serde::Serialize;

use crate::error::AnalysisError;
use crate::frame::{CollectStreaming, f64s, strs};
use crate::levels::LoadLevel;
use crate::windows::Window;

/// `load_duration` at or above this is a load; below it, the scheduler's own moment (Ollama
/// reports milliseconds, up to tens, for a model already in memory; a load from disk takes
/// seconds).
const LOAD_US: i64 = 100_000;
/// Model swapping is the constraint when swaps cost at least this share of all latency.
const MATERIAL_SHARE: f64 = 0.05;

/// One model's time in memory.
#[derive(Debug, Clone, Serialize)]
pub struct ModelResidency {
    /// The model's name, as `/api/ps` and `model_used` give it.
    pub model: String,
    /// Memory it takes when loaded (GB), the largest seen.
    pub size_gb: f64,
    /// The part of it in GPU memory, the lowest seen (1 = all of it).
    pub vram_share: Option<f64>,
    /// Share of the sampled time it was in memory.
    pub resident_share: f64,
    /// Times it was loaded (absent at a sample, present at the next).
    pub loads: u64,
    /// Times it was unloaded.
    pub unloads: u64,
    /// Its loads that came with another model's unload (memory made room).
    pub swaps: u64,
    /// Requests that waited for it to load.
    pub waited: u64,
    /// Their time lost to the loads, seconds (None: no baseline to estimate it from).
    pub time_lost_s: Option<f64>,
    /// (from, to) seconds into the run while it was in memory, for the chart.
    pub resident: Vec<(f64, f64)>,
    /// Seconds into the run of the samples that first showed it loaded.
    pub load_times_s: Vec<f64>,
    /// Seconds into the run of the samples that first showed it gone.
    pub unload_times_s: Vec<f64>,
}

/// What the `/api/ps` samples say about the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Residency {
    /// `ollama:<URL>`.
    pub source: String,
    /// Samples where `/api/ps` answered.
    pub samples: usize,
    /// Median seconds between two samples.
    pub interval_s: f64,
    /// Each model's residency.
    pub models: Vec<ModelResidency>,
    /// Loads of every model.
    pub loads: u64,
    /// Unloads of every model.
    pub unloads: u64,
    /// Loads that came with another model's unload.
    pub swaps: u64,
    /// Swaps per minute at each load level, in the order of the analysis' levels.
    pub swaps_per_minute: Vec<Option<f64>>,
    /// Requests that waited for their model to load.
    pub waited: u64,
    /// Those requests per endpoint, most first.
    pub waited_by_endpoint: Vec<(String, u64)>,
    /// Seconds the requests lost waiting for loads (None: not estimable).
    pub time_lost_s: Option<f64>,
    /// That as a share of the latency of every request sent.
    pub latency_share: Option<f64>,
    /// Whether the time lost is Ollama's own `load_duration` (exact) or estimated from
    /// latencies.
    pub exact: bool,
    /// Set when model swapping is the run's constraint: the sentence saying so.
    pub constraint: Option<String>,
    /// What follows from it, one line each.
    pub advice: Vec<String>,
    /// What the samples cannot tell.
    pub notes: Vec<String>,
}

/// The requests a residency is held against (one row each, sent ones only).
pub struct Requests {
    /// The requests' `model_used`.
    pub model: Vec<Option<String>>,
    /// Their endpoints.
    pub endpoint: Vec<Option<String>>,
    /// Actual send times (µs since the epoch).
    pub sent_us: Vec<f64>,
    /// End times (µs since the epoch).
    pub ended_us: Vec<f64>,
    /// Latencies (µs).
    pub latency_us: Vec<f64>,
    /// Whether each succeeded.
    pub ok: Vec<bool>,
    /// Ollama's `load_duration` (µs) when the answers carried it.
    pub load_us: Option<Vec<Option<f64>>>,
}

/// The requests' columns the residency needs, from the analysis' frame (`server_load_us`
/// when the frame has the generation columns).
pub fn requests(lf: &LazyFrame, with_load: bool) -> Result<Requests, AnalysisError> {
    let mut columns = vec![
        col("model_used").cast(DataType::String),
        col("endpoint").cast(DataType::String),
        col("sent_us").cast(DataType::Float64),
        col("ended_us").cast(DataType::Float64),
        col("latency_us").cast(DataType::Float64),
        col("ok").cast(DataType::Float64),
    ];
    if with_load {
        columns.push(col("server_load_us").cast(DataType::Float64));
    }
    let df = lf
        .clone()
        .filter(col("sent"))
        .select(columns)
        .collect_streaming()?;
    let load_us = if with_load {
        // Null (no load_duration in the answer) reads as NaN; answers without it (AURAX's
        // own) leave the estimate from the samples.
        let load: Vec<Option<f64>> = f64s(&df, "server_load_us")?
            .into_iter()
            .map(|v| v.is_finite().then_some(v))
            .collect();
        load.iter().any(Option::is_some).then_some(load)
    } else {
        None
    };
    let dense = |name: &str| -> Result<Vec<f64>, AnalysisError> {
        Ok(f64s(&df, name)?
            .into_iter()
            .map(|v| if v.is_nan() { 0.0 } else { v })
            .collect())
    };
    Ok(Requests {
        model: strs(&df, "model_used")?,
        endpoint: strs(&df, "endpoint")?,
        sent_us: dense("sent_us")?,
        ended_us: dense("ended_us")?,
        latency_us: dense("latency_us")?,
        ok: dense("ok")?.into_iter().map(|v| v > 0.5).collect(),
        load_us,
    })
}

/// One `/api/ps` sample: when, and the models in memory with (size, vram) bytes.
struct Sample {
    t_us: i64,
    models: BTreeMap<String, (f64, Option<f64>)>,
}

/// Reads the `ollama:` samples of the resource files, in time order (empty without any).
fn read_samples(files: &[PathBuf]) -> Result<(String, Vec<Sample>), AnalysisError> {
    if files.is_empty() {
        return Ok((String::new(), Vec::new()));
    }
    let df = crate::resources::scan_samples(files)?
        .filter(
            col("source")
                .str()
                .starts_with(lit(sources::OLLAMA_PREFIX))
                .and(
                    col("metric")
                        .eq(lit(metrics::OLLAMA_MODELS_LOADED))
                        .or(col("metric").eq(lit(metrics::OLLAMA_MODEL_SIZE)))
                        .or(col("metric").eq(lit(metrics::OLLAMA_MODEL_VRAM))),
                ),
        )
        .sort(["t"], SortMultipleOptions::default())
        .collect()?;
    if df.height() == 0 {
        return Ok((String::new(), Vec::new()));
    }
    let t = f64s(&df, "t")?;
    let source = strs(&df, "source")?;
    let metric = strs(&df, "metric")?;
    let labels = strs(&df, "labels")?;
    let value = f64s(&df, "value")?;
    // The first Ollama sampled; a run samples one.
    let shown = source[0].clone().unwrap_or_default();
    let mut samples: Vec<Sample> = Vec::new();
    let mut vram: BTreeMap<(i64, String), f64> = BTreeMap::new();
    for i in 0..df.height() {
        if source[i].as_deref() != Some(shown.as_str()) {
            continue;
        }
        let t_us = t[i] as i64;
        let model = labels[i].as_deref().and_then(model_label);
        match (metric[i].as_deref(), model) {
            (Some(metrics::OLLAMA_MODELS_LOADED), _) => samples.push(Sample {
                t_us,
                models: BTreeMap::new(),
            }),
            (Some(metrics::OLLAMA_MODEL_SIZE), Some(m)) => {
                if let Some(s) = samples.iter_mut().rev().find(|s| s.t_us == t_us) {
                    s.models.insert(m, (value[i], None));
                }
            }
            (Some(metrics::OLLAMA_MODEL_VRAM), Some(m)) => {
                vram.insert((t_us, m), value[i]);
            }
            _ => {}
        }
    }
    for s in &mut samples {
        for (m, (_, v)) in s.models.iter_mut() {
            *v = vram.get(&(s.t_us, m.clone())).copied();
        }
    }
    Ok((shown, samples))
}

/// The value of `model="..."` in a labels string (Prometheus escapes undone).
fn model_label(labels: &str) -> Option<String> {
    let rest = labels.strip_prefix("model=\"")?;
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

/// A load or unload between two samples: the model, and the interval (µs) it fell in.
struct Change {
    model: String,
    after_us: i64,
    by_us: i64,
    swap: bool,
}

/// The residency of the run, held against its requests and load levels. None when no
/// `/api/ps` sample was taken.
pub fn analyse(
    files: &[PathBuf],
    requests: impl FnOnce() -> Result<Requests, AnalysisError>,
    start_us: i64,
    windows: &[Window],
    window_levels: &[f64],
    levels: &[LoadLevel],
) -> Result<Option<Residency>, AnalysisError> {
    let (source, samples) = read_samples(files)?;
    if samples.len() < 2 {
        return Ok(None);
    }
    let (loads, unloads) = changes(&samples);
    let requests = requests()?;
    let mut r = Residency {
        source,
        samples: samples.len(),
        interval_s: median_gap_s(&samples),
        ..Residency::default()
    };
    r.loads = loads.len() as u64;
    r.unloads = unloads.len() as u64;
    r.swaps = loads.iter().filter(|l| l.swap).count() as u64;
    r.swaps_per_minute = swaps_per_level(&loads, start_us, windows, window_levels, levels);
    let waits = waits(&requests, &loads);
    r.exact = requests
        .load_us
        .as_ref()
        .is_some_and(|l| (0..l.len()).all(|i| l[i].is_some() || requests.model[i].is_none()));
    r.waited = waits.iter().filter(|w| w.is_some()).count() as u64;
    let mut by_endpoint: BTreeMap<String, u64> = BTreeMap::new();
    for (i, w) in waits.iter().enumerate() {
        if w.is_some() {
            *by_endpoint
                .entry(requests.endpoint[i].clone().unwrap_or_default())
                .or_default() += 1;
        }
    }
    r.waited_by_endpoint = by_endpoint.into_iter().collect();
    r.waited_by_endpoint
        .sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    // The requests whose loss is known, summed; those of a model every request of which
    // waited (no latency without a load to hold against) are said, not guessed.
    let known: Vec<f64> = waits.iter().flatten().flatten().copied().collect();
    let unknown = r.waited as usize - known.len();
    if unknown > 0 {
        r.notes.push(format!(
            "{unknown} request(s) waited for a model every request of which waited: no latency without a load to hold theirs against, so their time lost is left out (drive Ollama directly for its own load_duration)."
        ));
    }
    r.time_lost_s = (r.waited == 0 || !known.is_empty())
        .then(|| known.iter().fold(0.0, |sum, l| sum + l) / 1e6);
    let all_latency: f64 = requests.latency_us.iter().sum();
    r.latency_share = r
        .time_lost_s
        .filter(|_| all_latency > 0.0)
        .map(|s| s * 1e6 / all_latency);
    r.models = per_model(&samples, &loads, &unloads, &requests, &waits, start_us);
    judge(&mut r);
    if r.interval_s > 1.0 && !r.exact && r.waited > 0 {
        r.notes.push(format!(
            "Residency sampled every {:.1} s: every request of a model in flight while it loaded counts as waiting, a load placed only within that interval, so the time lost is an upper estimate; sample faster (--sample-interval 250ms) for a close one.",
            r.interval_s
        ));
    } else if r.interval_s > 0.0 {
        r.notes.push(format!(
            "Residency sampled every {:.2} s: a model loaded and unloaded between two samples is not seen; a load is placed within one interval.",
            r.interval_s
        ));
    }
    Ok(Some(r))
}

fn median_gap_s(samples: &[Sample]) -> f64 {
    let mut gaps: Vec<i64> = samples.windows(2).map(|w| w[1].t_us - w[0].t_us).collect();
    gaps.sort_unstable();
    gaps.get(gaps.len() / 2).map_or(0.0, |g| *g as f64 / 1e6)
}

/// Loads and unloads between consecutive samples; a load is a swap when another model was
/// unloaded in the same interval.
fn changes(samples: &[Sample]) -> (Vec<Change>, Vec<Change>) {
    let (mut loads, mut unloads) = (Vec::new(), Vec::new());
    for w in samples.windows(2) {
        let before: BTreeSet<&String> = w[0].models.keys().collect();
        let after: BTreeSet<&String> = w[1].models.keys().collect();
        let gone: Vec<&String> = before.difference(&after).copied().collect();
        for m in after.difference(&before) {
            loads.push(Change {
                model: (*m).clone(),
                after_us: w[0].t_us,
                by_us: w[1].t_us,
                swap: !gone.is_empty(),
            });
        }
        for m in gone {
            unloads.push(Change {
                model: m.clone(),
                after_us: w[0].t_us,
                by_us: w[1].t_us,
                swap: false,
            });
        }
    }
    (loads, unloads)
}

/// Swaps per minute at each load level: the swaps seen in its windows over its time.
fn swaps_per_level(
    loads: &[Change],
    start_us: i64,
    windows: &[Window],
    window_levels: &[f64],
    levels: &[LoadLevel],
) -> Vec<Option<f64>> {
    let level_of: BTreeMap<i64, f64> = windows
        .iter()
        .zip(window_levels)
        .map(|(w, l)| (w.index, *l))
        .collect();
    let mut swaps = vec![0.0; levels.len()];
    for l in loads.iter().filter(|l| l.swap) {
        let window = crate::windows::window_at(windows, (l.by_us - start_us) as f64 / 1e6);
        if let Some(i) = window
            .and_then(|w| level_of.get(&w.index))
            .and_then(|lv| levels.iter().position(|x| x.load == *lv))
        {
            swaps[i] += 1.0;
        }
    }
    levels
        .iter()
        .zip(swaps)
        .map(|(l, n)| (l.seconds > 0.0).then(|| n / l.seconds * 60.0))
        .collect()
}

/// Per request: None when it did not wait for a load; Some(time lost µs) when it did (the
/// inner None: not estimable).
fn waits(requests: &Requests, loads: &[Change]) -> Vec<Option<Option<f64>>> {
    let n = requests.sent_us.len();
    // A row whose answer carried load_duration is judged by it, exactly; the others (AURAX's
    // own answers) by the samples.
    let exact = |i: usize| requests.load_us.as_ref().and_then(|l| l[i]);
    let mut by_model: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for l in loads {
        by_model
            .entry(l.model.as_str())
            .or_default()
            .push((l.after_us, l.by_us));
    }
    let waited: Vec<bool> = (0..n)
        .map(|i| {
            if let Some(load) = exact(i) {
                return load >= LOAD_US as f64;
            }
            let Some(model) = requests.model[i].as_deref() else {
                return false;
            };
            by_model.get(model).is_some_and(|intervals| {
                intervals.iter().any(|(after, by)| {
                    requests.sent_us[i] < *by as f64 && requests.ended_us[i] > *after as f64
                })
            })
        })
        .collect();
    // Each model's latency without a load: the median of its successes that did not wait.
    let mut clean: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (i, waited) in waited.iter().enumerate() {
        if let (Some(m), false, true) = (requests.model[i].as_deref(), *waited, requests.ok[i]) {
            clean.entry(m).or_default().push(requests.latency_us[i]);
        }
    }
    let baseline: BTreeMap<&str, f64> = clean
        .into_iter()
        .map(|(m, mut v)| {
            v.sort_by(f64::total_cmp);
            (m, v[v.len() / 2])
        })
        .collect();
    (0..n)
        .map(|i| {
            waited[i].then(|| {
                if let Some(load) = exact(i) {
                    return Some(load);
                }
                let model = requests.model[i].as_deref().unwrap_or_default();
                baseline
                    .get(model)
                    .map(|b| (requests.latency_us[i] - b).max(0.0))
            })
        })
        .collect()
}

/// Each model's lane: its share of time in memory, loads, unloads, swaps, the requests that
/// waited for it and their time lost.
fn per_model(
    samples: &[Sample],
    loads: &[Change],
    unloads: &[Change],
    requests: &Requests,
    waits: &[Option<Option<f64>>],
    start_us: i64,
) -> Vec<ModelResidency> {
    let seen: BTreeSet<&String> = samples.iter().flat_map(|s| s.models.keys()).collect();
    let first = samples.first().map_or(0, |s| s.t_us);
    let last = samples.last().map_or(0, |s| s.t_us);
    let span = (last - first).max(1) as f64;
    let secs = |t: i64| (t - start_us) as f64 / 1e6;
    seen.into_iter()
        .map(|model| {
            let mut resident = Vec::new();
            let mut from: Option<i64> = None;
            let mut held_us = 0i64;
            for w in samples.windows(2) {
                if w[0].models.contains_key(model) {
                    held_us += w[1].t_us - w[0].t_us;
                }
            }
            for s in samples {
                match (s.models.contains_key(model), from) {
                    (true, None) => from = Some(s.t_us),
                    (false, Some(f)) => {
                        resident.push((secs(f), secs(s.t_us)));
                        from = None;
                    }
                    _ => {}
                }
            }
            if let Some(f) = from {
                resident.push((secs(f), secs(last)));
            }
            let sizes = samples.iter().filter_map(|s| s.models.get(model));
            let size = sizes.clone().map(|(s, _)| *s).fold(0.0, f64::max);
            let vram_share = sizes
                .filter_map(|(s, v)| v.filter(|_| *s > 0.0).map(|v| v / s))
                .reduce(f64::min);
            let mine = |c: &&Change| &c.model == model;
            let mut waited = 0;
            let mut lost: Option<f64> = None;
            for (i, w) in waits.iter().enumerate() {
                if let Some(l) = w
                    && requests.model[i].as_deref() == Some(model.as_str())
                {
                    waited += 1;
                    if let Some(l) = l {
                        lost = Some(lost.unwrap_or(0.0) + l);
                    }
                }
            }
            ModelResidency {
                model: model.clone(),
                size_gb: size / 1e9,
                vram_share,
                resident_share: held_us as f64 / span,
                loads: loads.iter().filter(mine).count() as u64,
                unloads: unloads.iter().filter(mine).count() as u64,
                swaps: loads.iter().filter(mine).filter(|l| l.swap).count() as u64,
                waited,
                time_lost_s: lost.map(|l| l / 1e6).or((waited == 0).then_some(0.0)),
                resident,
                load_times_s: loads.iter().filter(mine).map(|l| secs(l.by_us)).collect(),
                unload_times_s: unloads.iter().filter(mine).map(|l| secs(l.by_us)).collect(),
            }
        })
        .collect()
}

/// Names model swapping as the constraint when the swaps cost a material share of the run's
/// latency, with the capacity it leaves each model and what to do about it.
fn judge(r: &mut Residency) {
    let Some(share) = r.latency_share else {
        return;
    };
    if r.swaps < 2 || share < MATERIAL_SHARE {
        return;
    }
    let swapping: Vec<&ModelResidency> = r.models.iter().filter(|m| m.swaps > 0).collect();
    let names: Vec<&str> = swapping.iter().map(|m| m.model.as_str()).collect();
    let grows = {
        let rates: Vec<f64> = r.swaps_per_minute.iter().flatten().copied().collect();
        // Three levels at least, the last at 1.5 times the first: a constant load's two
        // levels differ by noise alone.
        rates.len() >= 3
            && rates
                .last()
                .zip(rates.first())
                .is_some_and(|(l, f)| *l >= 1.5 * f.max(1e-9))
    };
    r.constraint = Some(format!(
        "model swapping: {} swaps between {}; waiting for {} loads cost {:.1} s, {:.0}% of all latency{}",
        r.swaps,
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.join(""),
        },
        r.loads,
        r.time_lost_s.unwrap_or(0.0),
        share * 100.0,
        if grows {
            ", and they grow with load"
        } else {
            ""
        }
    ));
    for m in &r.models {
        r.advice.push(format!(
            "{} was in memory {:.0}% of the time: at most that share of its capacity is there while the models swap.",
            m.model,
            m.resident_share * 100.0
        ));
    }
    let total_gb: f64 = r.models.iter().map(|m| m.size_gb).sum();
    r.advice.push(format!(
        "Memory for every model at once ({total_gb:.1} GB) ends the swaps; or keep them loaded (OLLAMA_MAX_LOADED_MODELS, a longer keep_alive), give each model its own Ollama instance, or change the mix so one model serves it."
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_s: i64, models: &[&str]) -> Sample {
        Sample {
            t_us: t_s * 1_000_000,
            models: models
                .iter()
                .map(|m| (m.to_string(), (10.0, Some(10.0))))
                .collect(),
        }
    }

    #[test]
    fn loads_unloads_and_swaps_come_from_consecutive_samples() {
        let samples = [
            sample(0, &[]),
            sample(1, &["text"]),
            sample(2, &["text"]),
            sample(3, &["code"]),
            sample(4, &["code", "image"]),
            sample(5, &[]),
        ];
        let (loads, unloads) = changes(&samples);
        let l: Vec<(&str, bool)> = loads.iter().map(|c| (c.model.as_str(), c.swap)).collect();
        assert_eq!(l, [("text", false), ("code", true), ("image", false)]);
        assert_eq!(unloads.len(), 3);
        assert_eq!(model_label(r#"model="a\"b""#).as_deref(), Some("a\"b"));
        assert_eq!(median_gap_s(&samples), 1.0);
    }
}
