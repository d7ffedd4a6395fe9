//! Question 10: for model-server answers, where the time goes. Per endpoint: time to first
//! token and inter-token latency of streamed answers, output tokens per second, the model
//! server's own split of a request's time (Ollama: queue, model load, prompt, generation; the
//! rest is network and everything in front of the model server), that split per load level
//! (a queue that grows with load shows as such, a cold load as a spike), goodput under the
//! generation targets, and the figures those targets are judged on. Only successful responses
//! count (docs/streaming.md).

use aurax_schema::{GenerationMetric, GenerationTarget, Targets};
use polars::prelude::*;
use serde::Serialize;

use crate::frame::{CollectStreaming, f64s, quantile_of, strs};

/// One endpoint's generations.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointGeneration {
    /// The endpoint.
    pub name: String,
    /// Successful responses.
    pub successes: u64,
    /// Successful responses that were streamed (have a time to first token).
    pub streamed: u64,
    /// Time to first token, p50/p95/p99 (ms), streamed successes.
    pub ttft_ms: Option<[f64; 3]>,
    /// A request's mean inter-token latency, p50/p95/p99 over requests (ms).
    pub itl_ms: Option<[f64; 3]>,
    /// The longest gap between two tokens of any request (ms).
    pub itl_max_ms: Option<f64>,
    /// Output tokens of the successful responses.
    pub tokens_out: u64,
    /// Output tokens per second over the run (all successful responses together).
    pub output_tokens_per_s: f64,
    /// Mean output tokens a response.
    pub mean_tokens_out: Option<f64>,
    /// Where a successful request's time went, when the server said (Ollama).
    pub split: Option<TimeSplit>,
    /// Successful responses within every generation target of the endpoint (and its
    /// response-time target) per second; None without a generation target.
    pub goodput_rps: Option<f64>,
}

/// Mean time of a request in each place (ms): the model server's own account, and the rest.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct TimeSplit {
    /// Requests the split is over (successes with the server's durations).
    pub requests: u64,
    /// Held by the model server outside its phases: waiting for a slot.
    pub queue_ms: f64,
    /// Loading the model (cold starts).
    pub load_ms: f64,
    /// Processing the prompt.
    pub prompt_ms: f64,
    /// Generating the output.
    pub gen_ms: f64,
    /// The client's latency less the server's total: network, and anything in front of the
    /// model server.
    pub outside_ms: f64,
}

impl TimeSplit {
    /// The parts' names, in order (tables, charts).
    pub const PARTS: [&'static str; 5] = [
        "queue",
        "model load",
        "prompt",
        "generation",
        "outside the model server",
    ];

    /// The parts in order, with their names, for tables and charts.
    pub fn parts(&self) -> [(&'static str, f64); 5] {
        let ms = [
            self.queue_ms,
            self.load_ms,
            self.prompt_ms,
            self.gen_ms,
            self.outside_ms,
        ];
        std::array::from_fn(|i| (Self::PARTS[i], ms[i]))
    }

    /// The part that takes the most time.
    pub fn largest(&self) -> (&'static str, f64) {
        self.parts()
            .into_iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or(("queue", 0.0))
    }
}

/// An endpoint's split at one load level.
#[derive(Debug, Clone, Serialize)]
pub struct LevelSplit {
    /// The load level (users, or offered req/s).
    pub load: f64,
    /// The endpoint.
    pub endpoint: String,
    /// The split at that level.
    pub split: TimeSplit,
}

/// A generation target and the figure it is judged on.
#[derive(Debug, Clone, Serialize)]
pub struct JudgedGeneration {
    /// The target.
    pub target: GenerationTarget,
    /// The percentile of the figure over the endpoint's successful streamed responses (ms);
    /// None when it had none.
    pub observed_ms: Option<f64>,
}

/// Everything the analysis says of generations.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Generations {
    /// Per endpoint with any generation figure, by name.
    pub endpoints: Vec<EndpointGeneration>,
    /// The split per load level and endpoint, lowest load first.
    pub levels: Vec<LevelSplit>,
    /// The generation targets, judged.
    pub judged: Vec<JudgedGeneration>,
}

impl Generations {
    /// True when no request recorded any generation figure (no model-server answers).
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }
}

fn us(c: &str) -> Expr {
    col(c).cast(DataType::Float64)
}

/// The split's parts as mean aggregations, over rows with the server's durations.
fn split_aggs() -> Vec<Expr> {
    let has = col("server_queue_us").is_not_null();
    let mean = |c: &str| us(c).filter(has.clone()).mean();
    vec![
        has.clone().cast(DataType::Float64).sum().alias("split_n"),
        mean("server_queue_us").alias("queue"),
        mean("server_load_us").alias("load"),
        mean("server_prompt_us").alias("prompt"),
        mean("server_gen_us").alias("gen"),
        (us("latency_us")
            - us("server_queue_us")
            - us("server_load_us")
            - us("server_prompt_us")
            - us("server_gen_us"))
        .filter(has)
        .mean()
        .alias("outside"),
    ]
}

fn split_at(df: &DataFrame, i: usize) -> PolarsResult<Option<TimeSplit>> {
    let n = f64s(df, "split_n")?[i];
    if n.is_nan() || n <= 0.0 {
        return Ok(None);
    }
    let ms = |c: &str| -> PolarsResult<f64> { Ok(f64s(df, c)?[i] / 1000.0) };
    Ok(Some(TimeSplit {
        requests: n as u64,
        queue_ms: ms("queue")?,
        load_ms: ms("load")?,
        prompt_ms: ms("prompt")?,
        gen_ms: ms("gen")?,
        outside_ms: ms("outside")?,
    }))
}

/// A successful response within every generation target of its endpoint (and within its
/// response-time target): what goodput counts.
fn within_targets(targets: &[GenerationTarget]) -> Expr {
    let mut expr = col("good");
    for t in targets {
        let figure = us(t.metric.column().name());
        let within = figure.lt_eq(lit(t.limit_ms * 1000.0));
        expr = expr.and(
            col("endpoint")
                .cast(DataType::String)
                .neq(lit(t.endpoint.clone()))
                .or(within),
        );
    }
    expr
}

/// The generation figures of `lf` (a [`crate::source::scan_generation`] frame with the
/// window column), its load levels given by `level` ([`crate::levels::level_of_row`]).
pub fn generations(
    lf: &LazyFrame,
    level: &Expr,
    targets: &Targets,
    duration_s: f64,
) -> PolarsResult<Generations> {
    let ok = lf.clone().filter(col("ok"));
    let q = |c: &str, p: f64| quantile_of(col(c).filter(col(c).is_not_null()), p);
    // Goodput counts over every row (a failure is no good response), the rest over successes.
    let df = lf
        .clone()
        .group_by([col("endpoint")])
        .agg([within_targets(&targets.generation)
            .cast(DataType::Float64)
            .sum()
            .alias("good_gen")])
        .collect_streaming()?;
    let mut ok_aggs = vec![
        len().cast(DataType::Float64).alias("successes"),
        col("ttft_us")
            .is_not_null()
            .cast(DataType::Float64)
            .sum()
            .alias("streamed"),
        q("ttft_us", 0.50).alias("t50"),
        q("ttft_us", 0.95).alias("t95"),
        q("ttft_us", 0.99).alias("t99"),
        q("itl_mean_us", 0.50).alias("i50"),
        q("itl_mean_us", 0.95).alias("i95"),
        q("itl_mean_us", 0.99).alias("i99"),
        col("itl_max_us")
            .max()
            .cast(DataType::Float64)
            .alias("imax"),
        us("tokens_out").sum().alias("tokens"),
        col("tokens_out")
            .is_not_null()
            .cast(DataType::Float64)
            .sum()
            .alias("with_tokens"),
    ];
    ok_aggs.extend(split_aggs());
    let okdf = ok
        .clone()
        .group_by([col("endpoint")])
        .agg(ok_aggs)
        .sort(["endpoint"], SortMultipleOptions::default())
        .collect_streaming()?;
    let good_names = strs(&df, "endpoint")?;
    let good_gen = f64s(&df, "good_gen")?;
    let names = strs(&okdf, "endpoint")?;
    let c = |n: &str| f64s(&okdf, n);
    let (successes, streamed, tokens, with_tokens, imax) = (
        c("successes")?,
        c("streamed")?,
        c("tokens")?,
        c("with_tokens")?,
        c("imax")?,
    );
    let (t50, t95, t99, i50, i95, i99) = (
        c("t50")?,
        c("t95")?,
        c("t99")?,
        c("i50")?,
        c("i95")?,
        c("i99")?,
    );
    let ms3 = |a: f64, b: f64, c: f64| a.is_finite().then_some([a / 1e3, b / 1e3, c / 1e3]);
    let per_s = |n: f64| {
        if duration_s > 0.0 {
            n / duration_s
        } else {
            0.0
        }
    };
    let mut endpoints = Vec::new();
    for i in 0..okdf.height() {
        let name = names[i].clone().unwrap_or_default();
        let split = split_at(&okdf, i)?;
        if streamed[i] < 1.0 && with_tokens[i] < 1.0 && split.is_none() {
            continue;
        }
        let has_targets = targets.generation.iter().any(|t| t.endpoint == name);
        let goodput_rps = has_targets
            .then(|| {
                good_names
                    .iter()
                    .position(|n| n.as_deref() == Some(name.as_str()))
                    .map(|j| per_s(good_gen[j]))
            })
            .flatten();
        let tokens_out = if tokens[i].is_finite() {
            tokens[i]
        } else {
            0.0
        };
        endpoints.push(EndpointGeneration {
            successes: successes[i] as u64,
            streamed: streamed[i] as u64,
            ttft_ms: ms3(t50[i], t95[i], t99[i]),
            itl_ms: ms3(i50[i], i95[i], i99[i]),
            itl_max_ms: imax[i].is_finite().then_some(imax[i] / 1e3),
            tokens_out: tokens_out as u64,
            output_tokens_per_s: per_s(tokens_out),
            mean_tokens_out: (with_tokens[i] > 0.0).then(|| tokens_out / with_tokens[i]),
            split,
            goodput_rps,
            name,
        });
    }
    let levels = level_splits(&ok, level)?;
    let judged = judged_targets(&ok, &targets.generation)?;
    Ok(Generations {
        endpoints,
        levels,
        judged,
    })
}

/// The split per load level and endpoint, over successes with the server's durations.
fn level_splits(ok: &LazyFrame, level: &Expr) -> PolarsResult<Vec<LevelSplit>> {
    let df = ok
        .clone()
        .filter(col("server_queue_us").is_not_null())
        .with_column(level.clone())
        .group_by([col("level"), col("endpoint")])
        .agg(split_aggs())
        .sort(["level", "endpoint"], SortMultipleOptions::default())
        .collect_streaming()?;
    let names = strs(&df, "endpoint")?;
    let level = f64s(&df, "level")?;
    let mut out = Vec::new();
    for i in 0..df.height() {
        if let Some(split) = split_at(&df, i)? {
            out.push(LevelSplit {
                load: level[i],
                endpoint: names[i].clone().unwrap_or_default(),
                split,
            });
        }
    }
    Ok(out)
}

/// Each generation target's figure: its percentile (nearest rank) of the metric over the
/// endpoint's successful responses that have it.
fn judged_targets(
    ok: &LazyFrame,
    targets: &[GenerationTarget],
) -> PolarsResult<Vec<JudgedGeneration>> {
    targets
        .iter()
        .map(|t| {
            let column = t.metric.column().name();
            let df = ok
                .clone()
                .filter(
                    col("endpoint")
                        .cast(DataType::String)
                        .eq(lit(t.endpoint.clone()))
                        .and(col(column).is_not_null()),
                )
                .select([quantile_of(col(column), t.percentile / 100.0).alias("v")])
                .collect_streaming()?;
            let v = f64s(&df, "v")?.first().copied().unwrap_or(f64::NAN);
            Ok(JudgedGeneration {
                target: t.clone(),
                observed_ms: v.is_finite().then_some(v / 1000.0),
            })
        })
        .collect()
}

/// `ttft p95`, `itl p99`: how a target's figure is named.
pub fn figure_name(metric: GenerationMetric, percentile: f64) -> String {
    format!("{} p{percentile}", metric.name())
}
