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
//! - every endpoint with a response-time target met it: at least the run's percentile (95% by
//!   default) of its arrivals succeeded strictly under the target (attainment,
//!   [`crate::slo`]), and at least one succeeded;
//! - the error rate (failed and dropped arrivals over arrivals) was strictly under the run's
//!   tier.

mod frame;
mod judge;
mod search;

pub use frame::from_frame;
pub use judge::{
    CLEAR_QUEUE_SHARE, QUEUE_MIN_GROWTH, QUEUE_SHARE, StepEndpoint, StepFailure, StepOutcome,
    StepRequest, StepSignal, StepVerdict, is_queue, judge_step, slope,
};
pub use search::{
    CapacityAnswer, LiveSeries, MIN_RATE, NextStep, answer, bracket, next_step, step_may_end,
};

#[cfg(test)]
mod tests {
    use super::*;
    use aurax_schema::{CapacitySearch, Targets};
    use std::sync::Arc;

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
