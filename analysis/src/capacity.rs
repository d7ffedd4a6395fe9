//! Capacity search (`run --find-capacity`): how a step is judged, when a step has settled,
//! which rate comes next and what the answer is. Written once and used twice: by the runner,
//! on each step's requests held in memory while it searches, and by the analysis, on the same
//! requests read back from the files, so both give the same answer. The definitions are in
//! docs/analysis.md, "Capacity search"; this module is pure Rust (no polars), so the runner
//! can use it without building a frame.
//!
//! A step is an open-model load at one arrival rate of the run's request mix. Its *judged
//! part* is the second half of its arrivals (by intended send time): the first half lets the
//! target warm up and its queues fill to where the rate puts them. A step **passes** when, on
//! its judged part:
//! - the target kept up: requests in flight did not grow (least-squares trend of in flight,
//!   sampled every 100 ms) by more than [`QUEUE_SHARE`] of the offered rate and by at least
//!   [`QUEUE_MIN_GROWTH`] requests. Flow balance makes this the served rate: served = offered −
//!   dropped − growth of in flight, so the rule reads "served ≥ 97% of offered";
//! - every endpoint with a response-time target met it: its judged percentile (the run's, p95
//!   by default) of successful responses strictly under the target, and at least one success;
//! - the error rate (failed and dropped arrivals over arrivals) was strictly under the run's
//!   tier.

use std::collections::BTreeMap;
use std::sync::Arc;

use aurax_schema::{CapacitySearch, Targets};
use serde::Serialize;

/// A step whose requests in flight grow by more than this share of its offered rate per
/// second has a growing queue: the target serves less than 97% of what is offered.
pub const QUEUE_SHARE: f64 = 0.03;
/// ...and by at least this many requests over the judged part (fewer is noise).
pub const QUEUE_MIN_GROWTH: f64 = 3.0;
/// While a step is held, a trend of in flight above this share of the offered rate is a queue
/// so plain that the step ends at its minimum hold instead of its maximum.
pub const CLEAR_QUEUE_SHARE: f64 = 0.10;
/// In flight is sampled this often (µs) to find its trend.
const SAMPLE_US: i64 = 100_000;

/// One arrival of a step, as the judge needs it.
#[derive(Debug, Clone)]
pub struct StepRequest {
    /// Its endpoint's name.
    pub endpoint: Arc<str>,
    /// When the schedule meant it to go (µs; any clock the step's requests share).
    pub intended_us: i64,
    /// When it went out; `None` for an arrival dropped unsent (`--max-in-flight`).
    pub sent_us: Option<i64>,
    /// From the send to the end of the answer (µs); how long a cancelled request waited.
    pub latency_us: i64,
    /// Whether its outcome is `ok`.
    pub ok: bool,
}

/// Why a step failed: the signal, the endpoint it names, and what was measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepFailure {
    /// The kind of failure.
    pub signal: StepSignal,
    /// The endpoint that failed (for the queue, the one whose requests in flight grew most
    /// against its arrivals; for errors, the one with the most failures).
    pub endpoint: Option<String>,
    /// The sentence the answer and the report say.
    pub text: String,
}

/// The kinds of step failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepSignal {
    /// Requests in flight grew: served below 97% of offered.
    Queue,
    /// An endpoint's judged percentile reached its target.
    Latency,
    /// An endpoint with arrivals had no successful response.
    NoSuccess,
    /// The error rate reached the tier.
    Errors,
}

/// A step's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "why")]
pub enum StepOutcome {
    /// Every rule held.
    Pass,
    /// Some rule failed: each failure, in the order the answer names them.
    Fail(Vec<StepFailure>),
    /// Stopped before its minimum hold (Ctrl-C): no verdict.
    NotJudged(String),
}

impl StepOutcome {
    /// The verdict in words: `pass`, `FAIL: why; why`, `not judged: why`.
    pub fn text(&self) -> String {
        match self {
            StepOutcome::Pass => "pass".to_string(),
            StepOutcome::Fail(f) => format!(
                "FAIL: {}",
                f.iter()
                    .map(|f| f.text.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            StepOutcome::NotJudged(why) => format!("not judged: {why}"),
        }
    }
}

/// One endpoint within a step's judged part.
#[derive(Debug, Clone, Serialize)]
pub struct StepEndpoint {
    /// The endpoint.
    pub endpoint: String,
    /// Its arrivals per second in the judged part.
    pub offered_rps: f64,
    /// Successful responses within the endpoint's target per second (all successes when it
    /// has none).
    pub goodput_rps: f64,
    /// The judged percentile of its successful responses (ms).
    pub judged_ms: Option<f64>,
    /// Its response-time target (ms), when it has one.
    pub target_ms: Option<f64>,
    /// Growth of its requests in flight (per second).
    pub growth_rps: f64,
}

/// One judged step.
#[derive(Debug, Clone, Serialize)]
pub struct StepVerdict {
    /// The stage index of its rows.
    pub step: u32,
    /// The arrival rate the step offered (its `stage_target`).
    pub rate_rps: f64,
    /// How long it was held (first to last arrival, plus one gap).
    pub held_s: f64,
    /// The length of its judged part (seconds).
    pub judged_s: f64,
    /// Arrivals per second in the judged part.
    pub offered_rps: f64,
    /// offered − dropped − growth of requests in flight (flow balance).
    pub served_rps: f64,
    /// Trend of requests in flight over the judged part (per second).
    pub growth_rps: f64,
    /// Mean requests in flight over the judged part.
    pub mean_in_flight: f64,
    /// (failed + dropped) / arrivals in the judged part.
    pub error_rate: f64,
    /// Per endpoint, in name order.
    pub endpoints: Vec<StepEndpoint>,
    /// The verdict.
    pub outcome: StepOutcome,
}

impl StepVerdict {
    /// Whether the step passed.
    pub fn passed(&self) -> bool {
        self.outcome == StepOutcome::Pass
    }

    /// Whether the step failed (a step not judged did neither).
    pub fn failed(&self) -> bool {
        matches!(self.outcome, StepOutcome::Fail(_))
    }

    /// The first failure, the one the answer names.
    pub fn first_failure(&self) -> Option<&StepFailure> {
        match &self.outcome {
            StepOutcome::Fail(f) => f.first(),
            _ => None,
        }
    }

    /// The step's p of the endpoint with the highest judged percentile against its target.
    pub fn worst_endpoint(&self) -> Option<&StepEndpoint> {
        self.endpoints
            .iter()
            .filter(|e| e.judged_ms.is_some())
            .max_by(|a, b| ratio(a).total_cmp(&ratio(b)))
    }
}

fn ratio(e: &StepEndpoint) -> f64 {
    match (e.judged_ms, e.target_ms) {
        (Some(j), Some(t)) if t > 0.0 => j / t,
        (Some(_), _) => 0.0,
        _ => f64::NEG_INFINITY,
    }
}

/// Nearest-rank percentile of sorted values.
fn nearest_rank(sorted: &[i64], percentile: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((percentile / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Least-squares slope of `y` against `x`.
pub fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx > 0.0 { sxy / sxx } else { 0.0 }
}

/// Whether requests in flight, sampled as `(seconds, in flight)`, grow like a queue at an
/// offered rate: the one rule for "the target does not keep up".
pub fn is_queue(samples: &[(f64, f64)], offered_rps: f64, share: f64) -> bool {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return false;
    };
    let growth = slope(samples);
    growth > share * offered_rps && growth * (last.0 - first.0) >= QUEUE_MIN_GROWTH
}

/// In flight at every sample time from `from` to `to` (µs), exact from the requests' send
/// and completion times: (seconds since `from`, requests in flight).
fn in_flight_samples<'a>(
    requests: impl Iterator<Item = &'a StepRequest>,
    from: i64,
    to: i64,
) -> Vec<(f64, f64)> {
    let mut events: Vec<(i64, i32)> = Vec::new();
    for r in requests {
        if let Some(sent) = r.sent_us {
            events.push((sent, 1));
            events.push((sent + r.latency_us.max(0), -1));
        }
    }
    // A completion at the instant of a send counts first: in flight means sent, not done.
    events.sort_unstable();
    let mut samples = Vec::new();
    let mut level = 0i64;
    let mut next = 0;
    let mut t = from;
    while t <= to {
        while next < events.len() && events[next].0 <= t {
            level += i64::from(events[next].1);
            next += 1;
        }
        samples.push(((t - from) as f64 / 1e6, level as f64));
        t += SAMPLE_US;
    }
    samples
}

/// Judges one step from all its arrivals (the drain included: every request sent in the step
/// has completed, or been cancelled, when it is judged).
pub fn judge_step(
    step: u32,
    rate_rps: f64,
    requests: &[StepRequest],
    targets: &Targets,
    search: &CapacitySearch,
) -> StepVerdict {
    let first = requests.iter().map(|r| r.intended_us).min().unwrap_or(0);
    let last = requests.iter().map(|r| r.intended_us).max().unwrap_or(0);
    let gap_s = if rate_rps > 0.0 { 1.0 / rate_rps } else { 0.0 };
    let held_s = (last - first) as f64 / 1e6 + gap_s;
    let mid = first + (last - first) / 2;
    let judged: Vec<&StepRequest> = requests.iter().filter(|r| r.intended_us >= mid).collect();
    let judged_s = ((last - mid) as f64 / 1e6 + gap_s).max(1e-3);
    let arrivals = judged.len() as f64;
    let offered_rps = arrivals / judged_s;
    let dropped = judged.iter().filter(|r| r.sent_us.is_none()).count() as f64;
    let failed = judged.iter().filter(|r| !r.ok).count() as f64;
    let error_rate = if arrivals > 0.0 {
        failed / arrivals
    } else {
        0.0
    };
    let samples = in_flight_samples(requests.iter(), mid, last);
    let growth_rps = slope(&samples);
    let mean_in_flight = samples.iter().map(|s| s.1).sum::<f64>() / (samples.len().max(1) as f64);
    let served_rps = (offered_rps - dropped / judged_s - growth_rps).max(0.0);

    let mut by_endpoint: BTreeMap<&str, Vec<&StepRequest>> = BTreeMap::new();
    for r in &judged {
        by_endpoint.entry(&r.endpoint).or_default().push(r);
    }
    let endpoint_samples: Vec<Vec<(f64, f64)>> = by_endpoint
        .keys()
        .map(|name| in_flight_samples(requests.iter().filter(|r| &*r.endpoint == *name), mid, last))
        .collect();
    let endpoints: Vec<StepEndpoint> = by_endpoint
        .iter()
        .zip(&endpoint_samples)
        .map(|((name, rows), own)| {
            let target_ms = targets.endpoint_target_ms(name);
            let mut ok: Vec<i64> = rows.iter().filter(|r| r.ok).map(|r| r.latency_us).collect();
            ok.sort_unstable();
            let within = match target_ms {
                Some(t) => ok.iter().filter(|l| (**l as f64) < t * 1000.0).count(),
                None => ok.len(),
            };
            StepEndpoint {
                endpoint: name.to_string(),
                offered_rps: rows.len() as f64 / judged_s,
                goodput_rps: within as f64 / judged_s,
                judged_ms: nearest_rank(&ok, targets.percentile).map(|us| us as f64 / 1000.0),
                target_ms,
                growth_rps: slope(own),
            }
        })
        .collect();

    let outcome = if held_s < search.step_min_s * 0.9 {
        StepOutcome::NotJudged(format!(
            "held {held_s:.1} s, less than the minimum hold of {:.0} s (the search was stopped)",
            search.step_min_s
        ))
    } else {
        let mut failures = Vec::new();
        // Every endpoint must keep up with its own arrivals (a model that serves a tenth of
        // the mix can queue while the total hardly grows), and so must the whole.
        let queued = endpoints
            .iter()
            .zip(&endpoint_samples)
            .filter(|(e, own)| is_queue(own, e.offered_rps, QUEUE_SHARE))
            .map(|(e, _)| e)
            .max_by(|a, b| {
                (a.growth_rps / a.offered_rps.max(1e-9))
                    .total_cmp(&(b.growth_rps / b.offered_rps.max(1e-9)))
            });
        if let Some(e) = queued {
            let served = (e.offered_rps - e.growth_rps).max(0.0);
            failures.push(StepFailure {
                signal: StepSignal::Queue,
                endpoint: Some(e.endpoint.clone()),
                text: format!(
                    "{} served {served:.1} of {:.1} req/s offered ({:.0}%): its requests in flight grew {:.1}/s",
                    e.endpoint,
                    e.offered_rps,
                    100.0 * served / e.offered_rps.max(1e-9),
                    e.growth_rps
                ),
            });
        } else if is_queue(&samples, offered_rps, QUEUE_SHARE) {
            // The whole queues though no endpoint alone passed the noise floor: name the one
            // whose requests in flight grew most. In requests, not against its arrivals: a
            // small endpoint's ratio is mostly noise, while the endpoint at its limit is the
            // one whose queue wanders and grows.
            let endpoint = endpoints
                .iter()
                .filter(|e| e.growth_rps > 0.0)
                .max_by(|a, b| a.growth_rps.total_cmp(&b.growth_rps))
                .map(|e| e.endpoint.clone());
            failures.push(StepFailure {
                signal: StepSignal::Queue,
                text: format!(
                    "served {served_rps:.1} of {offered_rps:.1} req/s offered ({:.0}%): requests in flight grew {growth_rps:.1}/s{}",
                    100.0 * served_rps / offered_rps.max(1e-9),
                    endpoint
                        .as_deref()
                        .map_or(String::new(), |e| format!(", most of all {e}'s"))
                ),
                endpoint,
            });
        }
        for e in &endpoints {
            let Some(target) = e.target_ms else { continue };
            match e.judged_ms {
                None => failures.push(StepFailure {
                    signal: StepSignal::NoSuccess,
                    endpoint: Some(e.endpoint.clone()),
                    text: format!("{} had no successful response", e.endpoint),
                }),
                Some(j) if j >= target => failures.push(StepFailure {
                    signal: StepSignal::Latency,
                    endpoint: Some(e.endpoint.clone()),
                    text: format!(
                        "{} p{} {} reached its target {}",
                        e.endpoint,
                        targets.percentile,
                        format_ms(j),
                        format_ms(target)
                    ),
                }),
                Some(_) => {}
            }
        }
        let tier = &targets.error_rate;
        if arrivals > 0.0 && error_rate >= tier.max_error_rate {
            let endpoint = by_endpoint
                .iter()
                .max_by_key(|(_, rows)| rows.iter().filter(|r| !r.ok).count())
                .map(|(e, _)| e.to_string());
            failures.push(StepFailure {
                signal: StepSignal::Errors,
                text: format!(
                    "error rate {:.1}% reached the {} tier's {}%{}",
                    error_rate * 100.0,
                    tier.tier,
                    tier.max_error_rate * 100.0,
                    endpoint
                        .as_deref()
                        .map_or(String::new(), |e| format!(", most failures on {e}"))
                ),
                endpoint,
            });
        }
        if failures.is_empty() {
            StepOutcome::Pass
        } else {
            StepOutcome::Fail(failures)
        }
    };
    StepVerdict {
        step,
        rate_rps,
        held_s,
        judged_s,
        offered_rps,
        served_rps,
        growth_rps,
        mean_in_flight,
        error_rate,
        endpoints,
        outcome,
    }
}

fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
}

/// One series watched while a step is held (the total, or one endpoint): at each sample,
/// seconds into the step, requests in flight and requests sent so far.
pub type LiveSeries = Vec<(f64, f64, f64)>;

/// While a step is held: whether it may end now. Past the minimum hold a step ends when no
/// series (the total, each endpoint) grows like a queue over the second half of the hold (it
/// settled), or when one grows so plainly that waiting longer only builds a queue to drain; at
/// the maximum hold it ends as it is (a queue still growing there fails the step).
pub fn step_may_end(held_s: f64, series: &[LiveSeries], search: &CapacitySearch) -> bool {
    if held_s >= search.step_max_s {
        return true;
    }
    if held_s < search.step_min_s {
        return false;
    }
    let mut settled = true;
    for s in series {
        let half: Vec<&(f64, f64, f64)> = s.iter().filter(|p| p.0 >= held_s / 2.0).collect();
        let (Some(first), Some(last)) = (half.first(), half.last()) else {
            continue;
        };
        let offered = (last.2 - first.2) / (last.0 - first.0).max(1e-9);
        let points: Vec<(f64, f64)> = half.iter().map(|p| (p.0, p.1)).collect();
        if is_queue(&points, offered, CLEAR_QUEUE_SHARE) {
            return true;
        }
        settled &= !is_queue(&points, offered, QUEUE_SHARE);
    }
    settled
}

/// What the search does next, from the steps judged so far.
#[derive(Debug, Clone, PartialEq)]
pub enum NextStep {
    /// Offer this rate (req/s of the mix) next.
    Rate(f64),
    /// The bracket is within the precision.
    Converged,
    /// Even the lowest rate tried failed, and the next would be below [`MIN_RATE`].
    FailsAtLowest,
}

/// No step is offered below this rate (req/s).
pub const MIN_RATE: f64 = 0.05;

/// The bracket the steps prove: the highest passing rate below the lowest failing one, and
/// the lowest failing rate.
pub fn bracket(steps: &[StepVerdict]) -> (Option<f64>, Option<f64>) {
    let fail = steps
        .iter()
        .filter(|s| s.failed())
        .map(|s| s.rate_rps)
        .min_by(f64::total_cmp);
    let pass = steps
        .iter()
        .filter(|s| s.passed() && fail.is_none_or(|f| s.rate_rps < f))
        .map(|s| s.rate_rps)
        .max_by(f64::total_cmp);
    (pass, fail)
}

/// Start low, double until a step fails (halve while the first ones fail), then bisect the
/// bracket until it is within the precision.
pub fn next_step(steps: &[StepVerdict], search: &CapacitySearch) -> NextStep {
    match bracket(steps) {
        (None, None) => NextStep::Rate(search.start_rps),
        (Some(pass), None) => NextStep::Rate(pass * 2.0),
        (None, Some(fail)) if fail / 2.0 < MIN_RATE => NextStep::FailsAtLowest,
        (None, Some(fail)) => NextStep::Rate(fail / 2.0),
        (Some(pass), Some(fail)) if (fail - pass) / pass <= search.precision => NextStep::Converged,
        (Some(pass), Some(fail)) => NextStep::Rate((pass + fail) / 2.0),
    }
}

/// The search's answer.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityAnswer {
    /// The highest rate of the mix that passed below the lowest that failed (req/s).
    pub capacity_rps: Option<f64>,
    /// The lowest rate that failed.
    pub failing_rps: Option<f64>,
    /// Whether the bracket is within the precision; not when the budget or Ctrl-C stopped
    /// the search first.
    pub converged: bool,
    /// The search's precision (a share).
    pub precision: f64,
    /// The failure at the lowest failing rate: the limiting endpoint and signal.
    pub limiting: Option<StepFailure>,
    /// Per endpoint, its goodput at the capacity step.
    pub goodput: Vec<StepEndpoint>,
    /// The answer in one sentence.
    pub sentence: String,
    /// Every step, judged.
    pub steps: Vec<StepVerdict>,
}

/// The answer the judged steps give: the bracket, the limiting failure, the sentence.
pub fn answer(steps: Vec<StepVerdict>, search: &CapacitySearch) -> CapacityAnswer {
    let (pass, fail) = bracket(&steps);
    let converged = matches!(next_step(&steps, search), NextStep::Converged);
    let at = |rate: Option<f64>| {
        rate.and_then(|r| {
            steps
                .iter()
                .find(|s| s.rate_rps == r && !matches!(s.outcome, StepOutcome::NotJudged(_)))
        })
    };
    let limiting = at(fail).and_then(|s| s.first_failure().cloned());
    let goodput = at(pass).map(|s| s.endpoints.clone()).unwrap_or_default();
    let precision_pct = search.precision * 100.0;
    let sentence = match (pass, fail, &limiting) {
        (Some(p), Some(f), Some(l)) => format!(
            "capacity {p:.1} req/s of this mix{}: at {f:.1} req/s {}; at {p:.1} req/s every target held",
            if converged {
                format!(" (within {precision_pct:.0}%)")
            } else {
                format!(
                    ", a lower bound: the search stopped before its {precision_pct:.0}% precision (the capacity is between {p:.1} and {f:.1} req/s)"
                )
            },
            l.text
        ),
        (Some(p), None, _) => format!(
            "capacity at least {p:.1} req/s of this mix: every step passed, the search stopped before one failed"
        ),
        (None, Some(f), Some(l)) => format!(
            "no capacity found: even {f:.1} req/s, the lowest rate tried, failed: {}",
            l.text
        ),
        _ => "no step was judged: no capacity found".to_string(),
    };
    CapacityAnswer {
        capacity_rps: pass,
        failing_rps: fail,
        converged,
        precision: search.precision,
        limiting,
        goodput,
        sentence,
        steps,
    }
}

/// The step table, aligned for a terminal.
pub fn step_table(steps: &[StepVerdict], percentile: f64) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "{:>4} {:>10} {:>8} {:>10} {:>10} {:>10} {:>8}  {:<28} verdict\n",
        "step",
        "rate/s",
        "held s",
        "offered/s",
        "served/s",
        "in flight",
        "errors",
        format!("worst p{percentile} / target")
    );
    let mut sorted: Vec<&StepVerdict> = steps.iter().collect();
    sorted.sort_by_key(|s| s.step);
    for s in sorted {
        let worst = s.worst_endpoint().map_or("–".to_string(), |e| {
            format!(
                "{} {} / {}",
                e.endpoint,
                e.judged_ms.map_or("–".into(), format_ms),
                e.target_ms.map_or("–".into(), format_ms)
            )
        });
        let verdict = s.outcome.text();
        let _ = writeln!(
            out,
            "{:>4} {:>10.2} {:>8.1} {:>10.2} {:>10.2} {:>10.1} {:>7.1}%  {:<28} {verdict}",
            s.step,
            s.rate_rps,
            s.held_s,
            s.offered_rps,
            s.served_rps,
            s.mean_in_flight,
            s.error_rate * 100.0,
            worst
        );
    }
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// A first-principles target: `slots` servers, FIFO, each request `service_s` long;
    /// arrivals at `rate` for `hold_s`. Capacity = slots / service.
    fn queueing_step(rate: f64, hold_s: f64, slots: usize, service_s: f64) -> Vec<StepRequest> {
        let name: Arc<str> = Arc::from("generate_text");
        let mut free = vec![0i64; slots];
        let service = (service_s * 1e6) as i64;
        let n = (rate * hold_s).floor() as i64;
        (0..n)
            .map(|i| {
                let t = (i as f64 * 1e6 / rate) as i64;
                let (slot, at) = free
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, f)| **f)
                    .map(|(k, f)| (k, *f))
                    .expect("slots");
                let start = at.max(t);
                free[slot] = start + service;
                StepRequest {
                    endpoint: name.clone(),
                    intended_us: t,
                    sent_us: Some(t),
                    latency_us: start + service - t,
                    ok: true,
                }
            })
            .collect()
    }

    fn search() -> CapacitySearch {
        CapacitySearch {
            precision: 0.05,
            step_min_s: 10.0,
            step_max_s: 30.0,
            budget_s: 600.0,
            start_rps: 1.0,
        }
    }

    fn targets(text_ms: f64) -> Targets {
        let mut t = Targets::seed_defaults();
        t.endpoints.retain(|e| e.endpoint != "generate_text");
        t.endpoints.push(aurax_schema::EndpointTarget {
            endpoint: "generate_text".into(),
            target_ms: text_ms,
        });
        t
    }

    #[test]
    fn a_step_below_capacity_passes_and_one_above_queues() {
        // 4 slots x 80 ms = 50 req/s.
        let t = targets(5000.0);
        let below = judge_step(0, 45.0, &queueing_step(45.0, 10.0, 4, 0.08), &t, &search());
        assert!(below.passed(), "{below:?}");
        assert!((below.served_rps - 45.0).abs() < 1.0, "{below:?}");
        let above = judge_step(1, 55.0, &queueing_step(55.0, 10.0, 4, 0.08), &t, &search());
        let failure = above.first_failure().expect("fails");
        assert_eq!(failure.signal, StepSignal::Queue, "{above:?}");
        assert_eq!(failure.endpoint.as_deref(), Some("generate_text"));
        // Flow balance: served is the capacity, the rest queues.
        assert!((above.served_rps - 50.0).abs() < 2.0, "{above:?}");
        assert!((above.growth_rps - 5.0).abs() < 1.0, "{above:?}");
    }

    #[test]
    fn a_small_endpoint_that_queues_fails_the_step_the_total_would_pass() {
        // 36 req/s of text on 8 slots x 80 ms (100/s) and 4 req/s of images on 1 slot x 0.3 s
        // (3.3/s): the images queue at 0.7/s, under 2% of the 40 req/s offered in all.
        let mut requests = queueing_step(36.0, 20.0, 8, 0.08);
        let image: Arc<str> = Arc::from("generate_image");
        requests.extend(
            queueing_step(4.0, 20.0, 1, 0.3)
                .into_iter()
                .map(|r| StepRequest {
                    endpoint: image.clone(),
                    ..r
                }),
        );
        let v = judge_step(0, 40.0, &requests, &targets(5000.0), &search());
        let f = v.first_failure().expect("fails");
        assert_eq!(f.signal, StepSignal::Queue, "{v:?}");
        assert_eq!(f.endpoint.as_deref(), Some("generate_image"), "{}", f.text);
        assert!(
            f.text.starts_with("generate_image served 3.3 of 4.0"),
            "{}",
            f.text
        );
    }

    #[test]
    fn latency_and_errors_fail_a_step_that_keeps_up() {
        // Keeps up (no queue) but every request takes 80 ms against a 50 ms objective.
        let slow = judge_step(
            0,
            10.0,
            &queueing_step(10.0, 10.0, 4, 0.08),
            &targets(50.0),
            &search(),
        );
        let f = slow.first_failure().expect("fails");
        assert_eq!(f.signal, StepSignal::Latency, "{slow:?}");
        assert!(f.text.contains("generate_text p95 80 ms"), "{}", f.text);
        let mut failing = queueing_step(10.0, 10.0, 4, 0.01);
        for r in failing.iter_mut().step_by(10) {
            r.ok = false;
        }
        let errors = judge_step(0, 10.0, &failing, &targets(5000.0), &search());
        assert_eq!(
            errors.first_failure().map(|f| f.signal),
            Some(StepSignal::Errors),
            "{errors:?}"
        );
    }

    #[test]
    fn a_step_stopped_before_its_minimum_hold_is_not_judged() {
        let v = judge_step(
            0,
            10.0,
            &queueing_step(10.0, 3.0, 4, 0.01),
            &targets(5000.0),
            &search(),
        );
        assert!(matches!(v.outcome, StepOutcome::NotJudged(_)), "{v:?}");
    }

    #[test]
    fn the_search_doubles_then_bisects_to_the_precision() {
        // Capacity 50 req/s from first principles; each step judged as the runner would.
        let s = search();
        let t = targets(5000.0);
        let mut steps = Vec::new();
        while let NextStep::Rate(rate) = next_step(&steps, &s) {
            let requests = queueing_step(rate, 20.0, 4, 0.08);
            steps.push(judge_step(steps.len() as u32, rate, &requests, &t, &s));
            assert!(steps.len() < 20, "no convergence: {steps:?}");
        }
        let rates: Vec<f64> = steps.iter().map(|s| s.rate_rps).collect();
        assert_eq!(&rates[..7], &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]);
        let a = answer(steps, &s);
        let cap = a.capacity_rps.expect("capacity");
        assert!(a.converged);
        assert!((cap - 50.0).abs() / 50.0 <= 0.05, "{cap}: {}", a.sentence);
        let fail = a.failing_rps.expect("fail");
        assert!((fail - cap) / cap <= 0.05);
        assert!(
            a.sentence.contains("requests in flight grew"),
            "{}",
            a.sentence
        );
        assert_eq!(
            a.limiting.and_then(|l| l.endpoint).as_deref(),
            Some("generate_text")
        );
    }

    #[test]
    fn the_first_step_failing_halves_the_rate() {
        let s = CapacitySearch {
            start_rps: 100.0,
            ..search()
        };
        let t = targets(5000.0);
        let step =
            |rate: f64, i: u32| judge_step(i, rate, &queueing_step(rate, 20.0, 1, 0.1), &t, &s);
        let steps = vec![step(100.0, 0)];
        assert_eq!(next_step(&steps, &s), NextStep::Rate(50.0));
    }

    #[test]
    fn settling_ends_a_step_early_and_a_queue_holds_it() {
        let s = search();
        // 40 req/s sent; in flight per sample as given.
        let series = |in_flight: &dyn Fn(f64) -> f64| -> LiveSeries {
            (0..100)
                .map(|i| {
                    let t = f64::from(i) * 0.1;
                    (t, in_flight(t), 40.0 * t)
                })
                .collect()
        };
        let flat = series(&|_| 4.0);
        assert!(
            !step_may_end(5.0, &[flat[..50].to_vec()], &s),
            "before the minimum hold"
        );
        assert!(step_may_end(10.0, std::slice::from_ref(&flat), &s));
        // Growing 1.6/s at 40 req/s: 4%, a queue but not a plain one: held on.
        let slow = series(&|t| 1.6 * t);
        assert!(!step_may_end(10.0, std::slice::from_ref(&slow), &s));
        // One endpoint of a tenth of the arrivals (4 req/s) growing 0.3/s (7.5%) holds a
        // step whose total (0.3/s of 40, under 1%) would have settled.
        let long = CapacitySearch {
            step_max_s: 90.0,
            ..search()
        };
        let thirty = |f: &dyn Fn(f64) -> (f64, f64)| -> LiveSeries {
            (0..300)
                .map(|i| {
                    let t = f64::from(i) * 0.1;
                    let (n, rate) = f(t);
                    (t, n, rate * t)
                })
                .collect()
        };
        let total = thirty(&|t| (4.0 + 0.3 * t, 40.0));
        let small = thirty(&|t| (0.3 * t, 4.0));
        assert!(step_may_end(30.0, std::slice::from_ref(&total), &long));
        assert!(!step_may_end(30.0, &[total, small], &long));
        // Growing 8/s at 40 req/s: plain, ends at the minimum hold.
        let fast = series(&|t| 8.0 * t);
        assert!(step_may_end(10.0, &[fast], &s));
        assert!(step_may_end(30.0, &[slow], &s), "the maximum hold");
    }
}
