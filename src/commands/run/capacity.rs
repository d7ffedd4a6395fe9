//! `run --find-capacity`: the search loop. Each step is an open-model plan of its own at one
//! arrival rate of the mix, numbered by its step (its rows' `stage`). The runner drives it
//! until the step may end (it settled, its queue plainly grew, or its maximum hold), then
//! drains it; the step's arrivals, kept in memory, are judged by the judge the analysis
//! applies to the files (`aurax_analysis::capacity`), and the next rate follows from the
//! verdicts so far. Ctrl-C ends the search with the steps judged so far.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aurax_analysis::capacity::{
    self, LiveSeries, NextStep, StepVerdict, judge_step, next_step, step_may_end,
};
use aurax_schema::{CapacitySearch, Targets};
use tokio::sync::watch;

use crate::runner::{self, DriveReport, LoadPlan, MixDraw, Shared, StopReason};
use crate::shape::{LoadShape, Stage};

/// In flight is sampled this often while a step is held.
const SAMPLE: Duration = Duration::from_millis(100);

/// Runs the search; returns what the engine reports over all steps.
/// Step `index`: the mix at `rate`, from the first moment, held up to `hold`, every
/// class drawn exactly, no stop condition of the run's.
fn step_plan(plan: &LoadPlan, index: u32, rate: f64, hold: Duration, drain: Duration) -> LoadPlan {
    let shape = match &plan.shape {
        LoadShape::Open {
            arrivals,
            connections,
            max_in_flight,
            ..
        } => LoadShape::Open {
            stages: vec![
                Stage {
                    target: rate,
                    duration: Duration::ZERO,
                },
                Stage {
                    target: rate,
                    duration: hold,
                },
            ],
            arrivals: *arrivals,
            connections: *connections,
            max_in_flight: *max_in_flight,
        },
        other => other.clone(),
    };
    LoadPlan {
        shape,
        run_time: Some(hold),
        stop_on: Vec::new(),
        stop_timeout: drain,
        step: Some(index),
        mix_draw: MixDraw::Exact,
        ..plan.clone()
    }
}

/// The line that ends a search: its steps, its time and the bracket it proved.
fn search_over(steps: &[StepVerdict], took: Duration) -> String {
    let (pass, fail) = capacity::bracket(steps);
    format!(
        "search over after {} step(s) in {}: {}",
        steps.len(),
        secs(took),
        match (pass, fail) {
            (Some(p), Some(f)) => format!("passes at {p:.2} req/s, fails at {f:.2} req/s"),
            (Some(p), None) => format!("passes at {p:.2} req/s, no step failed"),
            (None, Some(f)) => format!("fails even at {f:.2} req/s"),
            (None, None) => "no step judged".to_string(),
        }
    )
}

pub async fn search(
    shared: Arc<Shared>,
    plan: &LoadPlan,
    search: &CapacitySearch,
    targets: &Targets,
    drain_limit: Duration,
    mut user_stop: watch::Receiver<Option<StopReason>>,
    quiet: bool,
) -> DriveReport {
    let started = Instant::now();
    let budget = Duration::from_secs_f64(search.budget_s);
    let step_min = Duration::from_secs_f64(search.step_min_s);
    let step_max = Duration::from_secs_f64(search.step_max_s);
    let mut steps: Vec<StepVerdict> = Vec::new();
    let mut cancelled = 0;
    let stopped_early = loop {
        let rate = match next_step(&steps, search) {
            NextStep::Rate(r) => r,
            NextStep::Converged | NextStep::FailsAtLowest => break None,
        };
        let left = budget.saturating_sub(started.elapsed());
        if left < step_min {
            eprintln!(
                "the budget is spent ({} left, a step needs {}): the search stops with the bracket it proved",
                secs(left),
                secs(step_min)
            );
            break None;
        }
        let index = steps.len() as u32;
        let hold = step_max.min(left);
        let step_plan = step_plan(plan, index, rate, hold, drain_limit);
        if !quiet {
            eprintln!(
                "step {index}: {rate:.2} req/s, held {}..{} ({} of the {} budget left)",
                secs(step_min),
                secs(hold),
                secs(left),
                secs(budget)
            );
        }
        let (step_tx, step_rx) = watch::channel(None);
        let control = hold_step(&shared, &step_tx, &mut user_stop, search, Instant::now());
        let report = tokio::select! {
            r = runner::drive(shared.clone(), &step_plan, step_rx, None) => r,
            // The control never ends on its own; it only sends.
            never = control => match never {},
        };
        cancelled += report.cancelled;
        let requests = shared.take_step_log();
        let verdict = judge_step(index, rate, &requests, targets, search);
        if !quiet {
            eprintln!("        {}", describe(&verdict, targets.percentile));
        }
        steps.push(verdict);
        match report.stopped_early {
            None | Some(StopReason::StepOver) => {}
            Some(reason) => break Some(reason),
        }
    };
    if !quiet {
        eprintln!("{}", search_over(&steps, started.elapsed()));
    }
    DriveReport {
        stopped_early,
        cancelled,
    }
}

/// Holds a step: samples in flight, ends the step when it may end, and passes the user's stop
/// requests on (a first one ends the step and the search; a second cuts the drain short).
async fn hold_step(
    shared: &Shared,
    step: &watch::Sender<Option<StopReason>>,
    user_stop: &mut watch::Receiver<Option<StopReason>>,
    search: &CapacitySearch,
    began: Instant,
) -> std::convert::Infallible {
    // The total first, then each endpoint: in flight and sent so far, from the step's start.
    let base = shared.endpoint_load();
    let sent_before: f64 = base.iter().map(|e| e.2 as f64).sum();
    let mut series: Vec<LiveSeries> = vec![Vec::new(); base.len() + 1];
    let mut ended = false;
    let mut ticker = tokio::time::interval(SAMPLE);
    loop {
        tokio::select! {
            _ = ticker.tick(), if !ended => {
                let held = began.elapsed().as_secs_f64();
                let load = shared.endpoint_load();
                let sent: f64 = load.iter().map(|e| e.2 as f64).sum();
                series[0].push((held, f64::from(shared.in_flight()), sent - sent_before));
                for (i, ((_, in_flight, sent), (_, _, before))) in load.iter().zip(&base).enumerate() {
                    series[i + 1].push((held, f64::from(*in_flight), (sent - before) as f64));
                }
                if step_may_end(held, &series, search) {
                    ended = true;
                    let _ = step.send(Some(StopReason::StepOver));
                }
            }
            changed = user_stop.changed() => {
                if changed.is_err() {
                    std::future::pending::<()>().await;
                }
                let reason = user_stop.borrow_and_update().clone();
                if reason.is_some() {
                    let _ = step.send(reason);
                }
            }
        }
    }
}

/// One step's verdict in a line; `percentile` is the one judged.
fn describe(v: &StepVerdict, percentile: f64) -> String {
    let worst = v.worst_endpoint().map_or(String::new(), |e| {
        format!(
            ", {} p{percentile} {} ms",
            e.endpoint,
            e.judged_ms.map_or("–".to_string(), |ms| format!("{ms:.0}"))
        )
    });
    let figures = format!(
        "held {:.1} s: served {:.2} of {:.2} req/s, {:.1} in flight, errors {:.1}%{worst}",
        v.held_s,
        v.served_rps,
        v.offered_rps,
        v.mean_in_flight,
        v.error_rate * 100.0
    );
    format!("{figures}: {}", v.outcome.text())
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    if s < 120 {
        format!("{s} s")
    } else {
        format!("{} min {} s", s / 60, s % 60)
    }
}
