//! The open model: arrivals scheduled at the stages' rate (constant gaps or Poisson),
//! independent of how fast the target answers. A request's intended send time is its
//! arrival time; waiting for a free connection is recorded as lateness, and arrivals that
//! find the in-flight limit full are recorded as `dropped`, never silently skipped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

use super::admission::Admission;
use super::shared::Who;
use super::users::splitmix;
use super::{LoadPlan, MixDraw, Shared, StopReason, Tasks, wait_stop};
use crate::shape::{Arrivals, LoadShape};
use crate::trace::TraceRequest;

/// The golden ratio's fractional part: the additive sequence n·φ mod 1 spreads any number of
/// consecutive points most evenly over [0, 1).
const GOLDEN: f64 = 0.618_033_988_749_894_9;

pub async fn run(
    shared: &Arc<Shared>,
    plan: &LoadPlan,
    stop: &mut watch::Receiver<Option<StopReason>>,
    tasks: &mut Tasks<'_>,
) -> Option<StopReason> {
    let LoadShape::Open {
        arrivals,
        connections,
        max_in_flight,
        ..
    } = &plan.shape
    else {
        return None;
    };
    let admission = Admission::new(*max_in_flight, *connections);
    let start = Instant::now();
    let mut due = pace(plan, *arrivals, start);
    loop {
        // None: the run time is over (the pacer has stopped).
        let (intended, index, rate, k) = tokio::select! {
            next = due.recv() => next?,
            reason = wait_stop(stop) => return Some(reason),
        };
        // The rate targeted now, not the stage's end: a ramp's rows climb with it, so the
        // analysis sees every level of a ramp (a step's rate is its target either way).
        shared.set_stage(plan.step.unwrap_or(index), rate);
        let arrival = Arrival {
            shared: shared.clone(),
            // The arrival's number in the one schedule: its choices are the one machine's.
            id: k,
            intended,
            seed: plan.seed,
            classes: plan.classes.clone(),
            recorded_mix: plan.recorded_mix.clone(),
            mix_draw: plan.mix_draw,
            admission: admission.clone(),
        };
        tasks.spawn(k, arrival.run());
        tasks.reap();
    }
}

/// An arrival that is due: when it was meant to go, its stage, the rate targeted then, and
/// its number in the one schedule.
type Due = (Instant, u32, f64, u64);

/// The schedule's clock: a thread of its own that sleeps until each arrival is due and hands
/// it over at that instant. The runtime's timers tick in whole milliseconds, which made every
/// arrival up to 1 ms late (median 1.1 ms at 5,000 req/s); a thread's sleep wakes within tens
/// of microseconds. It stops at the run's end, or when the receiver is gone (a stop).
fn pace(plan: &LoadPlan, arrivals: Arrivals, start: Instant) -> tokio::sync::mpsc::Receiver<Due> {
    // Room for a second of arrivals at 65k/s: the pacer never waits on a busy runtime for
    // long, and a runtime that falls that far behind is recorded as lateness, not hidden.
    let (tx, rx) = tokio::sync::mpsc::channel::<Due>(64 * 1024);
    let shape = plan.shape.clone();
    let end = plan.synthetic_end();
    let mut gaps = StdRng::seed_from_u64(splitmix(plan.seed));
    let shard = plan.shard;
    let spawned = std::thread::Builder::new()
        .name("aurax-pacer".into())
        .spawn(move || {
            let mut schedule = Schedule::new(arrivals);
            // Every worker of a distributed run draws the one schedule (same seed) and sends
            // its every Nth arrival: together, the requested process.
            let mut k: u64 = 0;
            while let Some(t) = schedule.next_arrival(&shape, end, &mut gaps) {
                k += 1;
                if !shard.takes(k - 1) {
                    continue;
                }
                let intended = start + t;
                // Long gaps are slept in slices, so a stopped run frees the thread soon.
                loop {
                    let now = Instant::now();
                    if now >= intended || tx.is_closed() {
                        break;
                    }
                    std::thread::sleep((intended - now).min(Duration::from_millis(50)));
                }
                let (index, rate) = shape.at(t);
                if tx.blocking_send((intended, index, rate, k - 1)).is_err() {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        // No thread, no schedule: said, and the run ends at once with what it has.
        eprintln!("cannot start the arrival schedule's thread: {e}");
    }
    rx
}

/// Arrival times of a process whose rate follows the stages: the next arrival is where the
/// integral of the rate since the last one reaches 1 (constant spacing) or an Exp(1) draw
/// (Poisson, by time rescaling), so ramps from zero and steps are both exact.
struct Schedule {
    t: Duration,
    arrivals: Arrivals,
    need: f64,
}

/// Integration step while the rate changes (a constant rate needs one step per arrival).
const STEP: Duration = Duration::from_millis(50);

impl Schedule {
    /// The first arrival comes at once; after it the process's spacing applies.
    fn new(arrivals: Arrivals) -> Schedule {
        Schedule {
            t: Duration::ZERO,
            arrivals,
            need: 0.0,
        }
    }

    fn draw(&self, rng: &mut StdRng) -> f64 {
        match self.arrivals {
            Arrivals::Constant => 1.0,
            Arrivals::Poisson => -(1.0 - rng.random::<f64>()).ln(),
        }
    }

    fn next_arrival(
        &mut self,
        shape: &LoadShape,
        end: Duration,
        rng: &mut StdRng,
    ) -> Option<Duration> {
        let mut acc = 0.0;
        loop {
            if self.t >= end {
                return None;
            }
            let (_, rate) = shape.at(self.t);
            if rate > 0.0 && (self.need - acc) / rate <= STEP.as_secs_f64() {
                self.t += Duration::from_secs_f64(((self.need - acc) / rate).max(0.0));
                self.need = self.draw(rng);
                return (self.t < end).then_some(self.t);
            }
            acc += rate * STEP.as_secs_f64();
            self.t += STEP;
        }
    }
}

struct Arrival {
    shared: Arc<Shared>,
    id: u64,
    intended: Instant,
    seed: u64,
    classes: Vec<(usize, u32)>,
    recorded_mix: Option<Arc<[TraceRequest]>>,
    mix_draw: MixDraw,
    admission: Admission,
}

impl Arrival {
    async fn run(self) {
        if let Some(mix) = self.recorded_mix.clone() {
            return self.run_recorded(mix).await;
        }
        // Each arrival draws from its own stream: the same seed makes the same requests.
        let mut rng = StdRng::seed_from_u64(splitmix(self.seed ^ splitmix(self.id)));
        let total: u32 = self.classes.iter().map(|(_, w)| *w).sum();
        let total = total.max(1);
        // Where the arrival falls in the classes' weights laid end to end, in [0, 1).
        let u = match self.mix_draw {
            MixDraw::Random => rng.random::<f64>(),
            MixDraw::Exact => {
                let start = (splitmix(self.seed) >> 11) as f64 / (1u64 << 53) as f64;
                (start + self.id as f64 * GOLDEN).fract()
            }
        };
        let mut x = u * f64::from(total);
        let mut chosen = (0, 0.0);
        for (c, w) in &self.classes {
            let w = f64::from(*w);
            chosen = (*c, x / w);
            if x < w {
                break;
            }
            x -= w;
        }
        let (class, within) = chosen;
        let tasks = &self.shared.scenario.user_classes[class].tasks;
        // The place within the class picks its task: one sequence stratifies class and task.
        let endpoint = match self.mix_draw {
            MixDraw::Random => tasks.pick(&mut rng),
            MixDraw::Exact => tasks.pick_at(within.clamp(0.0, 1.0 - f64::EPSILON)),
        };
        let who = Who {
            user_id: self.user_id(),
            class: self.shared.class_name(class),
            endpoint,
            trace: None,
        };
        let (shared, intended, user_id) = (self.shared.clone(), self.intended, self.user_id());
        self.admission
            .send(&self.shared, who, intended, async move {
                shared
                    .send(user_id, class, endpoint, &mut rng, intended)
                    .await
            })
            .await;
    }

    /// An arrival of a recorded mix: the mix's next request, as recorded.
    async fn run_recorded(self, mix: Arc<[TraceRequest]>) {
        let Some(request) = mix
            .get((self.id % mix.len().max(1) as u64) as usize)
            .cloned()
        else {
            return;
        };
        let who = Who {
            user_id: self.user_id(),
            class: self.shared.replay_class(),
            endpoint: request.endpoint,
            trace: Some((request.source.clone(), request.line)),
        };
        let (shared, intended, user_id) = (self.shared.clone(), self.intended, self.user_id());
        self.admission
            .send(&self.shared, who, intended, async move {
                shared.send_recorded(user_id, request, intended).await
            })
            .await;
    }

    fn user_id(&self) -> u32 {
        (self.id % u64::from(u32::MAX)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Stage;

    fn count(shape: &LoadShape, arrivals: Arrivals, secs: u64) -> usize {
        let mut rng = StdRng::seed_from_u64(1);
        let mut s = Schedule::new(arrivals);
        std::iter::from_fn(|| s.next_arrival(shape, Duration::from_secs(secs), &mut rng)).count()
    }

    fn open(stages: Vec<Stage>) -> LoadShape {
        LoadShape::Open {
            stages,
            arrivals: Arrivals::Constant,
            connections: None,
            max_in_flight: 10,
        }
    }

    #[test]
    fn constant_rate_and_ramps_give_the_integral_of_the_rate() {
        let steady = open(vec![
            Stage {
                target: 200.0,
                duration: Duration::ZERO,
            },
            Stage {
                target: 200.0,
                duration: Duration::from_secs(60),
            },
        ]);
        assert_eq!(count(&steady, Arrivals::Constant, 60), 12_000);
        // A ramp from 0 to 100/s over 10 s carries 500 arrivals.
        let ramp = open(vec![Stage {
            target: 100.0,
            duration: Duration::from_secs(10),
        }]);
        let n = count(&ramp, Arrivals::Constant, 10);
        assert!((495..=505).contains(&n), "{n}");
        let poisson = count(&steady, Arrivals::Poisson, 60);
        assert!((11_700..=12_300).contains(&poisson), "{poisson}");
    }
}
