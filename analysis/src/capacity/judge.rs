//! How one step is judged on its arrivals: the queue, latency and error rules.

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
    /// Fewer than the target percentile of an endpoint's arrivals succeeded under its target
    /// (attainment, [`crate::slo`]).
    Latency,
    /// An endpoint with arrivals had no successful response.
    NoSuccess,
    /// The error rate reached the tier.
    Errors,
}

impl StepSignal {
    /// Its name, as `summary.json` writes it.
    pub fn name(self) -> &'static str {
        match self {
            StepSignal::Queue => "queue",
            StepSignal::Latency => "latency",
            StepSignal::NoSuccess => "no_success",
            StepSignal::Errors => "errors",
        }
    }
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
    /// Its arrivals in the judged part, and those that succeeded under its target (all its
    /// successes when it has none).
    pub arrivals: u64,
    /// See `arrivals`.
    pub in_target: u64,
    /// Successful responses within the endpoint's target per second (all successes when it
    /// has none).
    pub goodput_rps: f64,
    /// The judged percentile of its successful responses (ms).
    pub judged_ms: Option<f64>,
    /// Share of its arrivals that succeeded under its target (None without one): what the
    /// latency rule judges ([`crate::slo`]).
    pub attainment: Option<f64>,
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
    let endpoints = step_endpoints(&by_endpoint, &endpoint_samples, targets, judged_s);

    let outcome = if held_s < search.step_min_s * 0.9 {
        StepOutcome::NotJudged(format!(
            "held {held_s:.1} s, less than the minimum hold of {:.0} s (the search was stopped)",
            search.step_min_s
        ))
    } else {
        let whole = Flow {
            offered_rps,
            served_rps,
            growth_rps,
        };
        let mut failures: Vec<StepFailure> =
            queue_failure(&endpoints, &endpoint_samples, &samples, whole)
                .into_iter()
                .chain(error_failure(&by_endpoint, error_rate, targets))
                .collect();
        failures.extend(latency_failures(&endpoints, targets));
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

/// Each endpoint's figures over the judged half of a step: its arrivals, its successes within
/// target and the judged percentile, its requests in flight's growth (`own`: its samples).
fn step_endpoints(
    by_endpoint: &BTreeMap<&str, Vec<&StepRequest>>,
    endpoint_samples: &[Vec<(f64, f64)>],
    targets: &Targets,
    judged_s: f64,
) -> Vec<StepEndpoint> {
    by_endpoint
        .iter()
        .zip(endpoint_samples)
        .map(|((name, rows), own)| {
            let target_ms = targets.endpoint_target_ms(name);
            let mut ok: Vec<i64> = rows.iter().filter(|r| r.ok).map(|r| r.latency_us).collect();
            ok.sort_unstable();
            let within = match target_ms {
                Some(t) => ok
                    .iter()
                    .filter(|l| crate::slo::within_target(**l as f64, t))
                    .count(),
                None => ok.len(),
            };
            StepEndpoint {
                endpoint: name.to_string(),
                offered_rps: rows.len() as f64 / judged_s,
                arrivals: rows.len() as u64,
                in_target: within as u64,
                goodput_rps: within as f64 / judged_s,
                judged_ms: nearest_rank(&ok, targets.percentile).map(|us| us as f64 / 1000.0),
                attainment: target_ms
                    .and_then(|_| crate::slo::attainment(within as f64, rows.len() as f64)),
                target_ms,
                growth_rps: slope(own),
            }
        })
        .collect()
}

/// The whole step's flow: offered, served and the growth of its requests in flight (req/s).
#[derive(Clone, Copy)]
struct Flow {
    offered_rps: f64,
    served_rps: f64,
    growth_rps: f64,
}

/// A queue, if the step has one. Every endpoint must keep up with its own arrivals (a model
/// that serves a tenth of the mix can queue while the total hardly grows): the one queueing
/// most for its arrivals is named; else the whole must keep up.
fn queue_failure(
    endpoints: &[StepEndpoint],
    endpoint_samples: &[Vec<(f64, f64)>],
    samples: &[(f64, f64)],
    whole: Flow,
) -> Option<StepFailure> {
    let queued = endpoints
        .iter()
        .zip(endpoint_samples)
        .filter(|(e, own)| is_queue(own, e.offered_rps, QUEUE_SHARE))
        .map(|(e, _)| e)
        .max_by(|a, b| {
            (a.growth_rps / a.offered_rps.max(1e-9))
                .total_cmp(&(b.growth_rps / b.offered_rps.max(1e-9)))
        });
    if let Some(e) = queued {
        let served = (e.offered_rps - e.growth_rps).max(0.0);
        return Some(StepFailure {
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
    }
    if !is_queue(samples, whole.offered_rps, QUEUE_SHARE) {
        return None;
    }
    // The whole queues though no endpoint alone passed the noise floor: name the one whose
    // requests in flight grew most. In requests, not against its arrivals: a small
    // endpoint's ratio is mostly noise, while the endpoint at its limit is the one whose
    // queue wanders and grows.
    let Flow {
        offered_rps,
        served_rps,
        growth_rps,
    } = whole;
    let endpoint = endpoints
        .iter()
        .filter(|e| e.growth_rps > 0.0)
        .max_by(|a, b| a.growth_rps.total_cmp(&b.growth_rps))
        .map(|e| e.endpoint.clone());
    Some(StepFailure {
        signal: StepSignal::Queue,
        text: format!(
            "served {served_rps:.1} of {offered_rps:.1} req/s offered ({:.0}%): requests in flight grew {growth_rps:.1}/s{}",
            100.0 * served_rps / offered_rps.max(1e-9),
            endpoint
                .as_deref()
                .map_or(String::new(), |e| format!(", most of all {e}'s"))
        ),
        endpoint,
    })
}

/// Errors at or past the tier's rate, naming the endpoint with the most failures. (Judged
/// before latency: failures also count against attainment, and when they are what failed a
/// step, the errors name the cause.)
fn error_failure(
    by_endpoint: &BTreeMap<&str, Vec<&StepRequest>>,
    error_rate: f64,
    targets: &Targets,
) -> Option<StepFailure> {
    let tier = &targets.error_rate;
    if by_endpoint.is_empty() || error_rate < tier.max_error_rate {
        return None;
    }
    let endpoint = by_endpoint
        .iter()
        .max_by_key(|(_, rows)| rows.iter().filter(|r| !r.ok).count())
        .map(|(e, _)| e.to_string());
    Some(StepFailure {
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
    })
}

/// The one latency rule per endpoint with a target: no success at all, or fewer than the
/// target percentile of its arrivals successful under the target (attainment).
fn latency_failures(endpoints: &[StepEndpoint], targets: &Targets) -> Vec<StepFailure> {
    let mut failures = Vec::new();
    for e in endpoints {
        let Some(target) = e.target_ms else { continue };
        let attainment = e.attainment.unwrap_or(0.0);
        match e.judged_ms {
            None => failures.push(StepFailure {
                signal: StepSignal::NoSuccess,
                endpoint: Some(e.endpoint.clone()),
                text: format!("{} had no successful response", e.endpoint),
            }),
            // The one latency rule: attainment over every arrival ([`crate::slo`]).
            Some(judged)
                if !crate::slo::attains(
                    e.in_target as f64,
                    e.arrivals as f64,
                    targets.percentile,
                ) =>
            {
                failures.push(StepFailure {
                    signal: StepSignal::Latency,
                    endpoint: Some(e.endpoint.clone()),
                    text: format!(
                        "{} p{} {}: {:.1}% of its arrivals under its target {} (needs {}%)",
                        e.endpoint,
                        targets.percentile,
                        format_ms(judged),
                        attainment * 100.0,
                        format_ms(target),
                        targets.percentile
                    ),
                })
            }
            Some(_) => {}
        }
    }
    failures
}

pub(super) fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
}
