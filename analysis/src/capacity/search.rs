//! The search over steps: when a step may end, which rate comes next, the answer.

use aurax_schema::CapacitySearch;
use serde::Serialize;

use super::judge::{
    CLEAR_QUEUE_SHARE, QUEUE_SHARE, StepEndpoint, StepFailure, StepOutcome, StepVerdict, is_queue,
};

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
