//! `summary.json`: the stable, machine-readable answer (keys are added, never renamed).

use serde::Serialize;

use crate::Analysis;
use crate::baseline::EndpointChange;
use crate::breaking::Signal;
use crate::insights::Bottleneck;
use crate::judge::TargetCheck;
use crate::levels::LoadLevel;
use crate::usl::UslFit;

pub const SUMMARY_SCHEMA_VERSION: u32 = 4;

#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    pub schema_version: u32,
    /// The report's headline: `verdict`, `cause`, `capacity`, `trigger`, `passed` and the
    /// whole `line`, as report.md, report.html, summary.png and the terminal show it.
    pub headline: HeadlineJson,
    /// The report's run header: `[label, value]` pairs (command, target, load, duration,
    /// UTC, seed, tool, load machine), as every form shows them.
    pub run_header: &'a [(String, String)],
    pub run: RunSummary<'a>,
    pub endpoints: &'a [crate::endpoints::EndpointSummary],
    pub bottlenecks: &'a [Bottleneck],
    pub errors: &'a [crate::errors::ErrorPattern],
    pub error_bursts: &'a [crate::errors::ErrorBurst],
    pub hidden_app_errors: u64,
    pub breaking_point: BreakingJson<'a>,
    /// Every load level, lowest load first (offered, served, in flight, p95...).
    pub levels: &'a [LoadLevel],
    /// Per endpoint: its share of the mix, its own levels (offered, served, succeeded,
    /// goodput, in flight, p95, attainment at the mix's load) and its saturation signals.
    pub endpoint_levels: &'a [crate::saturation::Group],
    /// The same per model (`model_used`), over the endpoints whose responses name it.
    pub model_levels: &'a [crate::saturation::Group],
    /// Every target judged, as `run` and `analyze --fail-on-targets` judge them.
    pub checks: &'a [TargetCheck],
    pub usl: Option<&'a UslFit>,
    pub scaling: ScalingJson<'a>,
    /// `run --find-capacity`: the answer, the limiting endpoint and signal, every step.
    pub capacity: Option<&'a crate::capacity::CapacityAnswer>,
    pub models: &'a [crate::models::ModelUsage],
    /// Model-server answers: TTFT, ITL, output tokens, the server's time split (version 3).
    pub generation: &'a crate::generation::Generations,
    /// A distributed run's workers (empty for one process).
    pub workers: &'a [crate::workers::WorkerSummary],
    pub optimisation_targets: &'a [String],
    pub notes: &'a [String],
    pub baseline: Option<&'a [EndpointChange]>,
    pub resources: ResourcesJson<'a>,
    /// Ollama's models in memory (`run --ollama`): loads, swaps, the requests that waited
    /// and the time they lost; null when `/api/ps` was not sampled.
    pub residency: Option<&'a crate::residency::Residency>,
}

/// The headline, in its parts.
#[derive(Debug, Serialize)]
pub struct HeadlineJson {
    pub verdict: &'static str,
    pub cause: String,
    pub capacity: String,
    pub trigger: Option<String>,
    pub passed: String,
    pub line: String,
}

/// The resource findings without the per-sample series (the Parquet file has those).
#[derive(Debug, Serialize)]
pub struct ResourcesJson<'a> {
    pub constraint: Option<ConstraintJson<'a>>,
    pub trigger: Option<&'a str>,
    pub generator_saturated: Option<&'a str>,
    /// Per series: name, unit, ceiling and its mean per load level (levels as in breaking_point).
    pub series: Vec<SeriesJson<'a>>,
    /// Per scraped target: requests it counted as answered while sampled (`fastapi_requests_total`).
    pub answered: Vec<AnsweredJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct AnsweredJson<'a> {
    pub source: &'a str,
    pub requests: f64,
}

#[derive(Debug, Serialize)]
pub struct ConstraintJson<'a> {
    pub resource: &'a str,
    pub load: f64,
    pub value: f64,
}

#[derive(Debug, Serialize)]
pub struct SeriesJson<'a> {
    pub name: &'a str,
    pub source: &'a str,
    pub unit: &'a str,
    pub ceiling: f64,
    pub ceiling_is_cores: bool,
    pub per_level: &'a [Option<f64>],
}

#[derive(Debug, Serialize)]
pub struct RunSummary<'a> {
    /// The traces replayed and how (null for synthetic load).
    pub trace: Option<&'a serde_json::Value>,
    /// Requests sent; dropped arrivals are not among them.
    pub requests: u64,
    /// Arrivals never sent (`--max-in-flight`).
    pub dropped: u64,
    /// Requests that got an HTTP response (any status).
    pub responses: u64,
    /// Sent requests that did not succeed.
    pub failures: u64,
    pub succeeded: u64,
    /// Requests that completed after the last send (in no load level).
    pub drained: u64,
    pub duration_s: f64,
    /// Requests sent per second over the run.
    pub throughput_rps: f64,
    /// (failures + dropped) / (requests + dropped).
    pub error_rate: f64,
    /// Every judged target passed (the verdict of `run` and of `analyze --fail-on-targets`).
    pub pass: bool,
    /// The headline's word: `FAIL` (a target missed), `REGRESSED` (none missed, a regression
    /// against the `--baseline`: `--fail-on-regression` exits 98), or `PASS`.
    pub verdict: &'static str,
    pub run_ids: &'a [String],
    pub hosts: &'a [String],
    pub target_percentile: f64,
    pub max_error_rate: f64,
    pub error_rate_tier: &'a str,
    pub meets_error_rate_target: bool,
    pub lateness_p99_ms: f64,
    pub quantile_definition: &'static str,
}

#[derive(Debug, Serialize)]
pub struct BreakingJson<'a> {
    pub found: bool,
    pub signal: Option<&'a str>,
    /// The breaking level's load (`users` is its older name, kept: for an open-model run it
    /// holds arrivals per second).
    pub users: Option<f64>,
    pub load: Option<f64>,
    pub load_unit: &'a str,
    /// Arrivals per second of the mix at the breaking level.
    pub offered_rps: Option<f64>,
    /// Successful requests served per second at the breaking level.
    pub throughput_rps: Option<f64>,
    pub at_s: Option<f64>,
    pub verdict: &'a str,
    /// The endpoint whose own saturation is the breaking point (null: the totals' or a
    /// target's signal).
    pub endpoint: Option<&'a str>,
    /// For an endpoint's: its own offered rate there over its share of the task mix, the
    /// mix's offered rate (at its average proportions) at which it saturates.
    pub mix_equivalent_rps: Option<f64>,
    pub generator_limited: bool,
    pub signals: Vec<SignalJson<'a>>,
    pub standing: &'a [String],
}

#[derive(Debug, Serialize)]
pub struct SignalJson<'a> {
    pub signal: &'a str,
    /// The endpoint whose own flows fired it; null for the run's totals.
    pub endpoint: Option<&'a str>,
    /// That endpoint's own arrivals and successful completions per second at the level.
    pub own_offered_rps: Option<f64>,
    pub own_throughput_rps: Option<f64>,
    /// Its own offered rate over its share of the task mix: the mix's rate it stands for.
    pub own_mix_equivalent_rps: Option<f64>,
    pub users: f64,
    pub load: f64,
    pub offered_rps: f64,
    pub throughput_rps: f64,
    pub at_s: f64,
    pub detail: &'a str,
}

impl<'a> SignalJson<'a> {
    fn of(s: &'a Signal) -> SignalJson<'a> {
        SignalJson {
            signal: s.signal.name(),
            endpoint: s.endpoint.as_deref(),
            own_offered_rps: s.own.map(|o| o.offered_rps),
            own_throughput_rps: s.own.map(|o| o.succeeded_rps),
            own_mix_equivalent_rps: s.own.and_then(|o| o.mix_equivalent_rps),
            users: s.load,
            load: s.load,
            offered_rps: s.offered_rps,
            throughput_rps: s.succeeded_rps,
            at_s: s.at_s,
            detail: &s.detail,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ScalingJson<'a> {
    pub max_throughput_rps: f64,
    /// null where the capacity is only a lower bound (nothing saturated: the most served
    /// successfully is `max_throughput_rps`; a search that did not converge: its bracket is
    /// in `capacity`).
    pub capacity_rps: Option<f64>,
    pub capacity_is_lower_bound: bool,
    pub capacity_basis: &'a str,
    /// The endpoint (and model) whose saturation sets the capacity of the mix.
    pub limiting: Option<&'a crate::scaling::Limiting>,
    /// null where no capacity was found (`to_find_capacity` says why).
    pub scale_out_at_rps: Option<f64>,
    pub scale_out_at_in_flight: Option<f64>,
    /// Where nothing saturated: why there is no capacity, and what load would find it.
    pub to_find_capacity: Option<&'a str>,
    /// The trigger as the limiting endpoint's own requests in flight.
    pub scale_out_at_limiting_in_flight: Option<f64>,
    /// Per endpoint: its own capacity, share, the mix's rate at which it binds, headroom.
    pub by_endpoint: &'a [crate::scaling::GroupCapacity],
    /// The same per model.
    pub by_model: &'a [crate::scaling::GroupCapacity],
    /// (tier, req/s, instances) per seed tier.
    pub instances: Vec<(&'a str, f64, u32)>,
}

pub fn build<'a>(
    a: &'a Analysis,
    baseline: Option<&'a [EndpointChange]>,
    report: &'a crate::report::model::Report,
) -> Summary<'a> {
    let h = &report.headline;
    Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        headline: HeadlineJson {
            verdict: h.verdict.word(),
            cause: h.cause.clone(),
            capacity: h.capacity.clone(),
            trigger: h.trigger.clone(),
            passed: h.passed.clone(),
            line: h.line(),
        },
        run_header: &report.header.fields,
        run: RunSummary::of(a, baseline),
        endpoints: &a.endpoints,
        generation: &a.generation,
        workers: &a.workers,
        bottlenecks: &a.bottlenecks,
        errors: &a.errors,
        error_bursts: &a.bursts,
        hidden_app_errors: a.hidden_app_errors,
        breaking_point: BreakingJson::of(a),
        levels: &a.levels,
        endpoint_levels: &a.groups.endpoints,
        model_levels: &a.groups.models,
        checks: &a.checks,
        usl: a.usl.as_ref(),
        capacity: a.capacity.as_ref(),
        scaling: ScalingJson::of(&a.scaling),
        models: &a.models,
        optimisation_targets: &a.optimisation,
        notes: &a.notes,
        baseline,
        resources: ResourcesJson::of(&a.resources),
        residency: a.residency.as_ref(),
    }
}

impl<'a> RunSummary<'a> {
    fn of(a: &'a Analysis, baseline: Option<&'a [EndpointChange]>) -> RunSummary<'a> {
        let t = &a.source.targets;
        RunSummary {
            trace: a.source.trace.as_ref(),
            requests: a.requests,
            dropped: a.dropped,
            responses: a.responses,
            failures: a.failures,
            succeeded: a.succeeded,
            drained: a.drained,
            duration_s: a.duration_s,
            throughput_rps: a.throughput_rps,
            error_rate: a.error_rate,
            pass: a.pass,
            verdict: crate::judge::verdict_word(
                a.pass,
                baseline.is_some_and(|b| b.iter().any(|c| c.regression)),
            ),
            run_ids: &a.source.run_ids,
            hosts: &a.source.hosts,
            target_percentile: t.percentile,
            max_error_rate: t.error_rate.max_error_rate,
            error_rate_tier: &t.error_rate.tier,
            meets_error_rate_target: a.error_rate < t.error_rate.max_error_rate,
            lateness_p99_ms: a.lateness_p99_ms,
            quantile_definition: "nearest rank: the value at index ceil(q*n)-1 of the sorted latencies (polars Equiprobable)",
        }
    }
}

impl<'a> BreakingJson<'a> {
    fn of(a: &'a Analysis) -> BreakingJson<'a> {
        let p = a.breaking.point.as_ref();
        BreakingJson {
            found: p.is_some(),
            signal: p.map(|p| p.signal.name()),
            users: p.map(|p| p.load),
            load: p.map(|p| p.load),
            load_unit: a.source.load_unit(),
            offered_rps: p.map(|p| p.offered_rps),
            throughput_rps: p.map(|p| p.succeeded_rps),
            at_s: p.map(|p| p.at_s),
            verdict: &a.breaking.verdict,
            endpoint: p.and_then(|p| p.endpoint.as_deref()),
            mix_equivalent_rps: p.and_then(|p| p.own).and_then(|o| o.mix_equivalent_rps),
            generator_limited: a.breaking.generator_limit.is_some(),
            signals: a.breaking.signals.iter().map(SignalJson::of).collect(),
            standing: &a.breaking.standing,
        }
    }
}

impl<'a> ScalingJson<'a> {
    fn of(s: &'a crate::scaling::Scaling) -> ScalingJson<'a> {
        ScalingJson {
            max_throughput_rps: s.max_throughput_rps,
            capacity_rps: (!s.capacity_is_lower_bound).then_some(s.capacity_rps),
            capacity_is_lower_bound: s.capacity_is_lower_bound,
            capacity_basis: &s.capacity_basis,
            limiting: s.limiting.as_ref(),
            scale_out_at_rps: s.scale_out_at_rps,
            scale_out_at_in_flight: s.scale_out_at_in_flight,
            to_find_capacity: s.to_find_capacity.as_deref(),
            scale_out_at_limiting_in_flight: s.scale_out_at_limiting_in_flight,
            by_endpoint: &s.by_endpoint,
            by_model: &s.by_model,
            instances: s
                .instances
                .iter()
                .map(|t| (t.tier.as_str(), t.rps, t.instances))
                .collect(),
        }
    }
}

impl<'a> ResourcesJson<'a> {
    fn of(r: &'a crate::resources::ResourceFindings) -> ResourcesJson<'a> {
        ResourcesJson {
            constraint: r
                .constraint
                .as_ref()
                .map(|(r, load, value)| ConstraintJson {
                    resource: r,
                    load: *load,
                    value: *value,
                }),
            trigger: r.trigger.as_deref(),
            generator_saturated: r.generator_saturated.as_deref(),
            series: r
                .series
                .iter()
                .map(|s| SeriesJson {
                    name: &s.name,
                    source: &s.source,
                    unit: s.unit,
                    ceiling: s.ceiling,
                    ceiling_is_cores: s.ceiling_known,
                    per_level: &s.per_level,
                })
                .collect(),
            answered: r
                .answered
                .iter()
                .map(|(source, requests)| AnsweredJson {
                    source,
                    requests: *requests,
                })
                .collect(),
        }
    }
}
