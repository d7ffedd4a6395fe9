#![warn(missing_docs)]
//! Analysis of aurax-tool runs: polars lazy queries over the request files (the contract of
//! `aurax-schema`, nothing else), answers to the post-test questions, plotters charts, and a
//! report to attach to a review.
//!
//! ```no_run
//! let analysis = aurax_analysis::analyze(&["runs/medium".into()]).unwrap();
//! aurax_analysis::report::write(&analysis, None, std::path::Path::new("reports/medium")).unwrap();
//! ```

pub mod baseline;
pub mod breaking;
pub mod capacity;
mod charts;
pub mod endpoints;
mod error;
pub mod errors;
pub mod export;
mod frame;
pub mod generation;
pub mod grid;
pub mod insights;
pub mod judge;
pub mod levels;
mod little;
mod models;
pub mod ranks;
pub mod report;
pub mod residency;
pub mod resources;
pub mod saturation;
pub mod scaling;
pub mod slo;
pub mod source;
mod summary;
pub mod units;
mod usl;
mod windows;
pub mod workers;

/// The steps one by one, for `examples/probe_memory.rs` (time and peak memory per step);
/// not an API.
#[doc(hidden)]
pub mod probe {
    pub use crate::endpoints::{per_endpoint, percentile_curves};
    pub use crate::errors::patterns;
    pub use crate::grid::Grid;
    pub use crate::models::usage;
    pub use crate::ranks::{Names, Ranked, Ranks};
    pub use crate::source::{discover, load, rows, scan};
    pub use crate::windows::{WindowLoad, endpoint_windows, group_flows, timeline, with_window};
}

use std::path::PathBuf;

use polars::prelude::*;

pub use error::AnalysisError;
pub use windows::Window;

use breaking::Breaking;
use endpoints::EndpointSummary;
use errors::{ErrorBurst, ErrorPattern};
use frame::{CollectStreaming, f64s, only};
use grid::Grid;
use insights::Bottleneck;
use judge::TargetCheck;
use levels::LoadLevel;
use little::LittleCheck;
use models::ModelUsage;
use ranks::Ranked;
use scaling::Scaling;
use source::Source;
use usl::UslFit;
use windows::{EndpointWindow, FailureWindow};

/// At most this many load levels: enough resolution for a knee, enough requests per level.
const MAX_LEVELS: usize = 20;

/// Percentiles drawn in the distribution chart, HdrHistogram style.
const CURVE_QUANTILES: [f64; 10] = [0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0];

/// Everything the report says about a run (or several runs merged). Counts follow one
/// vocabulary (docs/analysis.md): an *arrival* is a request the load offered; it was either
/// *sent* (a *request*) or *dropped* unsent; a sent request *completed* with an outcome,
/// *succeeded* when that outcome is `ok`.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The files read and what their metadata says (targets, load model, hosts).
    pub source: Source,
    /// The first send of the run, µs since the Unix epoch: second 0 of every time axis.
    pub start_us: i64,
    /// The width of a time window (seconds).
    pub window_s: f64,
    /// Requests sent (dropped arrivals are not).
    pub requests: u64,
    /// Arrivals never sent (`--max-in-flight`).
    pub dropped: u64,
    /// Requests that got an HTTP response (any status): what the target can have counted.
    pub responses: u64,
    /// Sent requests that did not succeed.
    pub failures: u64,
    /// Sent requests that succeeded.
    pub succeeded: u64,
    /// Requests that completed after the last send (the drain).
    pub drained: u64,
    /// From the first send to the last completion.
    pub duration_s: f64,
    /// Completions per second over the run.
    pub throughput_rps: f64,
    /// (failures + dropped) / (requests + dropped).
    pub error_rate: f64,
    /// p99 of how late requests went out against their schedule (ms).
    pub lateness_p99_ms: f64,
    /// Per endpoint: counts, latency of successful responses, error rate, target and Apdex.
    pub endpoints: Vec<EndpointSummary>,
    pub(crate) windows: Vec<Window>,
    pub(crate) endpoint_windows: Vec<EndpointWindow>,
    pub(crate) failure_windows: Vec<FailureWindow>,
    /// Every load level, lowest first.
    pub levels: Vec<LoadLevel>,
    /// Per endpoint and per model: levels of their own and where each saturated.
    pub groups: saturation::Groups,
    /// The breaking point and every saturation signal.
    pub breaking: Breaking,
    pub(crate) usl: Option<UslFit>,
    pub(crate) little: Vec<LittleCheck>,
    /// Failures grouped by endpoint, outcome, status and message, most frequent first.
    pub errors: Vec<ErrorPattern>,
    pub(crate) bursts: Vec<ErrorBurst>,
    /// Failures that came back as HTTP 200 (`success: false`): invisible to status codes.
    pub hidden_app_errors: u64,
    pub(crate) models: Vec<ModelUsage>,
    /// The endpoints ranked as bottlenecks.
    pub bottlenecks: Vec<Bottleneck>,
    /// Model-server answers: token timing, output tokens, the server's time split.
    pub generation: generation::Generations,
    /// A distributed run's workers (empty for one process): each one's share, and which fell
    /// behind.
    pub workers: Vec<workers::WorkerSummary>,
    /// Capacity per instance and when to scale out.
    pub scaling: Scaling,
    /// `run --find-capacity`: the search's steps and answer, re-derived from the files.
    pub capacity: Option<capacity::CapacityAnswer>,
    /// Every target judged (the one judge, shared with `run`), and whether all passed.
    pub checks: Vec<TargetCheck>,
    /// Whether every judged target passed.
    pub pass: bool,
    /// What to optimise first, in order.
    pub optimisation: Vec<String>,
    pub(crate) percentile_curves: Vec<endpoints::PercentileCurve>,
    /// CPU, memory and in-flight of the target and the generator against load.
    pub resources: resources::ResourceFindings,
    /// Ollama's models in memory over the run (`run --ollama`): loads, swaps, the requests
    /// that waited for them; None when `/api/ps` was not sampled.
    pub residency: Option<residency::Residency>,
    /// What this run cannot tell, said plainly.
    pub notes: Vec<String>,
    /// What must be said beside the verdict: a run that ended early.
    pub warnings: Vec<String>,
}

impl Analysis {
    /// The run's time windows, first to last: the offered load each read, its flows and
    /// latency percentiles.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }
}

/// Analyses the request files under `inputs` (run directories or files), merged.
pub fn analyze(inputs: &[PathBuf]) -> Result<Analysis, AnalysisError> {
    analyze_source(source::discover(inputs)?)
}

/// Analyses the files [`source::discover`] found, judged by `source.targets` (a caller may
/// change them first, as `analyze --slo` does, or look at the run ids without reading the
/// footers twice).
pub fn analyze_source(source: Source) -> Result<Analysis, AnalysisError> {
    // The main questions read the rows once, in memory; the side ones (workers, a search's
    // steps) scan the files for the few columns they need.
    let loaded = source::load(&source)?;
    source::check_rows(&source, &loaded)?;
    let rows = source::rows(&loaded, &source.targets);
    let base = source::scan(&source)?;
    let totals = Totals::of(&rows)?;
    let Totals {
        arrivals,
        dropped,
        failures,
        succeeded,
        start_us,
        last_send_us,
        ..
    } = totals;
    let requests = arrivals - dropped;
    let duration_s = totals.duration_s();
    let window_s = (duration_s / 60.0).round().max(1.0);
    let grid = Grid::new(start_us, last_send_us, window_s);
    let lf = windows::with_window(&rows, &grid);
    // The successes' latencies, sorted once: every latency percentile below comes from it.
    let names = ranks::Names::of(&loaded)?;
    let ranks = ranks::Ranks::of(&loaded, &names, Ranked::SuccessLatency, &grid)?;

    let targets = &source.targets;
    let mut endpoints = endpoints::per_endpoint(&lf, &ranks, targets, duration_s)?;
    let time = over_time(
        (&loaded, &names),
        &lf,
        &ranks,
        &grid,
        (&totals, source.window_load()),
        &mut endpoints,
    )?;
    // Scanned once: the generation figures and the residency's load_duration both read it.
    let generation_frame = source::scan_generation(&source)?;
    let generation = generation_frame
        .as_ref()
        .map(|g| {
            let g = windows::with_window(g, &grid);
            generation::generations(&g, &time.level, targets, duration_s)
        })
        .transpose()?
        .unwrap_or_default();
    let unit = source.load_unit();
    let run_levels = saturation::RunLevels {
        windows: &time.windows,
        window_levels: &time.window_levels,
        levels: &time.levels,
        grid,
    };
    let groups = saturation::groups(&lf, &time.flows, &ranks, &run_levels, &source, unit)?;
    let breaking = breaking::find(
        &time.levels,
        &time.level_endpoints,
        groups.endpoint_signals().as_deref(),
        targets,
        unit,
    );
    // The USL models throughput against concurrency; an open model's levels are rates.
    let usl = if source.open_model {
        None
    } else {
        usl::fit_usl(&time.levels)
    };
    let little = little::little_checks(&time.levels);
    let error_rate = totals.error_rate();
    let errors = errors::patterns(&lf, start_us)?;
    let bursts = errors::bursts(&time.windows, window_s, error_rate);
    let models = models::usage(&lf, &ranks)?;
    let Verdict {
        capacity,
        scaling,
        checks,
        pass,
    } = verdict(
        &source,
        &base,
        &totals,
        (&time.levels, &breaking, &groups),
        &endpoints,
        &generation,
    )?;
    let bottlenecks = insights::bottlenecks(
        &endpoints,
        &time.level_endpoints,
        &groups,
        &scaling,
        targets.percentile,
        unit,
    );
    let hidden_app_errors = totals.hidden as u64;
    let optimisation = insights::optimisation_targets(
        &bottlenecks,
        &errors,
        &breaking,
        &scaling,
        hidden_app_errors,
    );
    let percentile_curves = endpoints::percentile_curves(&ranks, &CURVE_QUANTILES);
    let (resources, residency) = machine(
        &source,
        &base,
        generation_frame.as_ref(),
        &run_levels,
        unit,
        breaking.point.as_ref(),
    )?;
    let workers = workers::per_worker(&base)?;
    let warnings = warnings_of(&source, &totals);
    let mut analysis = Analysis {
        lateness_p99_ms: if time.lateness_p99_us.is_finite() {
            time.lateness_p99_us / 1000.0
        } else {
            0.0
        },
        source,
        start_us,
        window_s,
        requests: requests as u64,
        dropped: dropped as u64,
        responses: totals.responses as u64,
        failures: failures as u64,
        succeeded: succeeded as u64,
        drained: time.drained as u64,
        duration_s,
        throughput_rps: requests / duration_s,
        error_rate,
        endpoints,
        windows: time.windows,
        endpoint_windows: time.endpoint_windows,
        failure_windows: time.failure_windows,
        levels: time.levels,
        groups,
        breaking,
        usl,
        little,
        errors,
        bursts,
        hidden_app_errors,
        models,
        bottlenecks,
        generation,
        workers,
        scaling,
        capacity,
        checks,
        pass,
        optimisation,
        percentile_curves,
        resources,
        residency,
        notes: Vec::new(),
        warnings,
    };
    analysis.notes = notes_of(&analysis);
    Ok(analysis)
}

/// The run's totals: one query over every row.
#[derive(Debug, Clone, Copy)]
struct Totals {
    arrivals: f64,
    dropped: f64,
    failures: f64,
    succeeded: f64,
    /// The first send and the last (µs since the epoch).
    start_us: i64,
    last_send_us: i64,
    /// The last completion, at least the last send.
    end_us: f64,
    hidden: f64,
    responses: f64,
    /// Requests that completed after the last send.
    drained: f64,
}

impl Totals {
    fn of(rows: &LazyFrame) -> Result<Totals, AnalysisError> {
        let count = |e: Expr| e.cast(DataType::Float64).sum();
        let totals = rows
            .clone()
            .select([
                len().cast(DataType::Float64).alias("arrivals"),
                count(col("dropped")).alias("dropped"),
                count(col("failed").and(col("sent"))).alias("failures"),
                count(col("ok")).alias("succeeded"),
                col("sent_us").min().cast(DataType::Float64).alias("start"),
                col("sent_us")
                    .max()
                    .cast(DataType::Float64)
                    .alias("last_send"),
                only(col("ended_us"), col("sent"))
                    .max()
                    .cast(DataType::Float64)
                    .alias("end"),
                count(col("hidden_app_error")).alias("hidden"),
                count(col("responded")).alias("responses"),
                count(col("sent").and(col("ended_us").gt(col("sent_us").max()))).alias("drained"),
            ])
            .collect_streaming()?;
        let one = |name: &str| -> Result<f64, AnalysisError> {
            Ok(f64s(&totals, name)?
                .first()
                .copied()
                .filter(|v| v.is_finite())
                .unwrap_or(0.0))
        };
        let arrivals = one("arrivals")?;
        if arrivals < 1.0 {
            return Err(AnalysisError::EmptyRun);
        }
        let last_send_us = one("last_send")? as i64;
        Ok(Totals {
            arrivals,
            dropped: one("dropped")?,
            failures: one("failures")?,
            succeeded: one("succeeded")?,
            start_us: one("start")? as i64,
            last_send_us,
            end_us: one("end")?.max(last_send_us as f64),
            hidden: one("hidden")?,
            responses: one("responses")?,
            drained: one("drained")?,
        })
    }

    /// (failures + dropped) / arrivals: the share of the offered load that did not succeed.
    fn error_rate(&self) -> f64 {
        (self.failures + self.dropped) / self.arrivals
    }

    /// From the first send to the last completion.
    fn duration_s(&self) -> f64 {
        ((self.end_us - self.start_us as f64) / 1e6).max(1e-3)
    }
}

/// The run over time: its windows, the load levels they bin into, and what is read per
/// window and per level.
struct OverTime {
    /// Each endpoint's flows a window.
    flows: Vec<(String, Vec<windows::Flows>)>,
    windows: Vec<Window>,
    endpoint_windows: Vec<windows::EndpointWindow>,
    failure_windows: Vec<windows::FailureWindow>,
    /// Each window's load level.
    window_levels: Vec<f64>,
    /// A row's load level, as a polars expression.
    level: Expr,
    levels: Vec<LoadLevel>,
    level_endpoints: Vec<levels::LevelEndpoint>,
    /// The run's lateness p99 (µs).
    lateness_p99_us: f64,
    /// Requests that completed after the last send.
    drained: f64,
}

fn over_time(
    (loaded, names): (&DataFrame, &ranks::Names),
    lf: &LazyFrame,
    ranks: &ranks::Ranks,
    grid: &Grid,
    (totals, window_load): (&Totals, windows::WindowLoad),
    endpoints: &mut [EndpointSummary],
) -> Result<OverTime, AnalysisError> {
    let window_s = grid.window_s();
    // Every endpoint's flows per window, in one query by send time and one by completion
    // time: the run's windows, and each endpoint's and model's own levels, add them up.
    let flows = windows::group_flows(lf, "endpoint", grid, totals.last_send_us)?;
    let timeline = windows::timeline(
        &flows,
        ranks,
        grid,
        (totals.last_send_us, totals.drained),
        window_load,
    );
    let mut windows = timeline.windows;
    let endpoint_windows = windows::endpoint_windows(ranks, windows.len(), window_s);
    let failure_windows = windows::failure_windows(lf, window_s)?;
    let window_levels = levels::window_levels(&windows, MAX_LEVELS);
    let level = levels::level_of_row(&window_levels);
    let mut levels = levels::load_levels(lf, ranks, &level, &windows, &window_levels)?;
    let lateness_p99_us = other_percentiles(
        loaded,
        names,
        grid,
        endpoints,
        &mut windows,
        (&mut levels, &window_levels),
    )?;
    let level_endpoints = levels::level_endpoints(ranks, &window_levels);
    Ok(OverTime {
        flows,
        windows,
        endpoint_windows,
        failure_windows,
        window_levels,
        level,
        levels,
        level_endpoints,
        lateness_p99_us,
        drained: timeline.drained,
    })
}

/// Percentiles of other values than latency, each from one sort used and dropped (so no more
/// than two sorts are held at once): lateness (the run's p99, returned in µs, and each
/// window's and level's) and latency from the intended send time (each endpoint's and
/// window's).
fn other_percentiles(
    loaded: &DataFrame,
    names: &ranks::Names,
    grid: &Grid,
    endpoints: &mut [EndpointSummary],
    windows: &mut [Window],
    (levels, window_levels): (&mut [LoadLevel], &[f64]),
) -> Result<f64, AnalysisError> {
    let lateness = ranks::Ranks::of(loaded, names, Ranked::SentLateness, grid)?;
    windows::add_lateness(windows, &lateness);
    levels::add_lateness(levels, window_levels, &lateness);
    let p99_us = lateness.quantiles(1, &[0.99], |_| Some(0))[0].values[0];
    drop(lateness);
    let corrected = ranks::Ranks::of(loaded, names, Ranked::SuccessCorrected, grid)?;
    endpoints::add_corrected(endpoints, &corrected);
    windows::add_corrected(windows, &corrected);
    Ok(p99_us)
}

/// What the machines said: the resource samples read against the run (`resources.parquet`),
/// and Ollama's model residency where it was sampled. `generation` (the generation files,
/// when the run wrote any) gives Ollama's own load durations; else `base`'s rows are used.
fn machine(
    source: &Source,
    base: &LazyFrame,
    generation: Option<&LazyFrame>,
    run: &saturation::RunLevels,
    unit: &str,
    breaking_point: Option<&breaking::Signal>,
) -> Result<(resources::ResourceFindings, Option<residency::Residency>), AnalysisError> {
    let resources = resources::analyse(
        &source.resource_files,
        run.grid.start_us,
        run.windows,
        run.window_levels,
        run.levels,
        unit,
        breaking_point,
    )?;
    let residency = residency::analyse(
        &source.resource_files,
        || match generation {
            Some(g) => residency::requests(g, true),
            None => residency::requests(base, false),
        },
        run.grid.start_us,
        run.windows,
        run.window_levels,
        run.levels,
    )?;
    Ok((resources, residency))
}

/// The run read against the seed's targets: a capacity search's answer (when one ran), the
/// scaling thresholds, every check and the verdict.
struct Verdict {
    capacity: Option<capacity::CapacityAnswer>,
    scaling: Scaling,
    checks: Vec<TargetCheck>,
    pass: bool,
}

fn verdict(
    source: &Source,
    base: &LazyFrame,
    totals: &Totals,
    (levels, breaking, groups): (&[LoadLevel], &Breaking, &saturation::Groups),
    endpoints: &[EndpointSummary],
    generation: &generation::Generations,
) -> Result<Verdict, AnalysisError> {
    let targets = &source.targets;
    let t = &targets.throughput;
    let tiers = [
        ("minimum", t.minimum_rps),
        ("target", t.target_rps),
        ("peak", t.peak_rps),
    ];
    let capacity = match &source.capacity_search {
        Some(search) => Some(capacity::from_frame(base, targets, search)?),
        None => None,
    };
    let level_scaling = scaling::scaling(levels, breaking, groups, &tiers);
    // A search's capacity is its answer; the levels' reading only where it found none.
    let mut scaling = capacity
        .as_ref()
        .and_then(|c| scaling::for_search(c, level_scaling.max_throughput_rps, &tiers))
        .unwrap_or(level_scaling);
    // The load it suggests sends the run's own mix (the light profile's otherwise).
    if scaling.to_find_capacity.is_some() {
        let advice = scaling::to_find_capacity(scaling.max_throughput_rps, &source.mix_flags());
        scaling.to_find_capacity = Some(advice);
    }
    let run_figures = run_figures(source, totals, levels, groups, &scaling);
    let mut checks = judge::judge(endpoints, run_figures, targets);
    checks.extend(judge::generation_checks(&generation.judged));
    let checks = match &capacity {
        Some(c) => judge::search_checks(checks, c, targets),
        None => checks,
    };
    let pass = judge::all_pass(&checks);
    Ok(Verdict {
        capacity,
        scaling,
        checks,
        pass,
    })
}

/// What the run's throughput and error targets are judged on: the most served successfully at
/// a trusted level (in the mix's proportions: its cheap calls do not carry a tier its
/// generations miss), never more than the capacity found (one level's burst of completions
/// above it is noise, and a tier passed above the capacity the report gives would contradict
/// it); a run too short to have a level is judged on its whole length.
fn run_figures(
    source: &Source,
    totals: &Totals,
    levels: &[LoadLevel],
    groups: &saturation::Groups,
    scaling: &Scaling,
) -> judge::RunFigures {
    let duration_s = totals.duration_s();
    let trusted_offered = levels
        .iter()
        .filter(|l| l.trusted())
        .map(|l| l.offered_rps)
        .fold(0.0, f64::max);
    let served_total = if scaling.max_throughput_rps > 0.0 {
        scaling.max_throughput_rps
    } else {
        totals.succeeded / duration_s
    };
    let mix = groups.mix_served_rps();
    judge::RunFigures {
        // An endpoint of the mix that never succeeded at a level of its own: the mix in its
        // proportions was never served, and the check says which endpoint kept it at zero.
        never_served: mix
            .filter(|(rps, _)| *rps <= 0.0)
            .map(|(_, endpoint)| endpoint.to_string()),
        served_rps: mix
            .map_or(served_total, |(mix, _)| mix.min(served_total))
            .min(if scaling.capacity_is_lower_bound {
                f64::INFINITY
            } else {
                scaling.capacity_rps
            }),
        offered_ceiling_rps: source
            .offered_ceiling_rps
            .unwrap_or(if trusted_offered > 0.0 {
                trusted_offered
            } else {
                totals.arrivals / duration_s
            }),
        error_rate: totals.error_rate(),
        partial_workers: source.partial_workers,
    }
}

/// What must be said beside the verdict: a run directory that did not run to its end.
fn warnings_of(source: &Source, totals: &Totals) -> Vec<String> {
    let requests = totals.arrivals - totals.dropped;
    source
        .ended_early
        .iter()
        .map(|why| {
            format!(
                "{why}; the files hold {:.0} s of load and {requests:.0} requests: judge them as a partial run",
                (totals.last_send_us - totals.start_us) as f64 / 1e6
            )
        })
        .collect()
}

/// What this run cannot tell, said plainly: from what the analysis found.
fn notes_of(a: &Analysis) -> Vec<String> {
    let mut notes = Vec::new();
    for w in a.workers.iter().filter(|w| w.behind.is_some()) {
        notes.push(format!(
            "Worker {} fell behind: {}; the merged figures describe less load than was asked for.",
            w.worker,
            w.behind.as_deref().unwrap_or_default()
        ));
    }
    notes.extend(a.warnings.iter().cloned());
    let requests = a.requests as f64;
    if requests < 1000.0 {
        notes.push(format!(
            "Only {requests:.0} requests: percentiles above p{:.1} are the slowest few requests, not a tail estimate.",
            100.0 * (1.0 - 10.0 / requests.max(1.0)).max(0.0)
        ));
    }
    if a.source.open_model {
        notes.push("Open-model run: load levels are offered arrival rates, so no Universal Scalability Law fit (it models concurrency).".into());
    }
    if a.endpoints.len() == 1 {
        notes.push("One endpoint only: no comparison between endpoints.".into());
    }
    if !a.source.targets_recorded {
        notes.push("The files carry no targets: the seed's defaults were used.".into());
    }
    if a.dropped > 0 {
        notes.push(format!(
            "{} arrivals were dropped unsent (--max-in-flight): they are in no latency and no served throughput, and count as failures in the error rate.",
            a.dropped
        ));
    }
    if a.drained > 0 {
        notes.push(format!(
            "{} completed after the last send (the drain): in the totals and percentiles, in no load level.",
            match a.drained {
                1 => "1 request".to_string(),
                n => format!("{n} requests"),
            }
        ));
    }
    notes.extend(a.resources.notes.iter().cloned());
    notes.extend(a.residency.iter().flat_map(|r| r.notes.iter().cloned()));
    notes.extend(a.resources.generator_saturated.iter().cloned());
    if a.little.iter().any(|l| !l.holds) {
        notes.push("Little's law (in flight ≈ served throughput × latency) fails at some load levels: the load generator's measurements there are suspect.".into());
    }
    notes
}
