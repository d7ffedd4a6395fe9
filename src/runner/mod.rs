//! The load engine: a closed model (virtual users following stages of user counts, waiting
//! between requests) or an open model (arrivals at a rate, independent of responses), every
//! request's outcome handed to the sink.

mod admission;
mod clock;
mod closed;
mod conditions;
mod generation;
mod h1;
mod lanes;
mod live;
mod open;
mod plain;
mod replay;
mod request;
mod response;
mod shared;
mod users;

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

pub use clock::WallClock;
pub use conditions::{StopCondition, watch_conditions};
pub use lanes::default_count as default_threads;
pub use live::LiveLine;
pub use replay::ReplayFeed;
pub use request::Target;
pub use shared::Shared;
pub(crate) use users::splitmix;

use crate::shape::LoadShape;
use crate::shard::Shard;
use crate::trace::TraceRequest;
use lanes::Lanes;

/// How much load, of which shape, for how long, from which classes.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub shape: LoadShape,
    /// The run ends at this time even if stages remain (`-t`); normally the stages' length.
    /// None only for a replay without `-t`: it runs until its trace ends.
    pub run_time: Option<Duration>,
    /// Indexes into the scenario's user classes, with Locust-style weights.
    pub classes: Vec<(usize, u32)>,
    pub seed: u64,
    /// How long requests still in flight at the end may take to finish.
    pub stop_timeout: Duration,
    pub stop_on: Vec<StopCondition>,
    /// A capacity search's step: the rows' `stage` is the step's number, not the index of the
    /// shape's stage (open model).
    pub step: Option<u32>,
    /// Open model: how each arrival takes its class and task from the mix.
    pub mix_draw: MixDraw,
    /// Open model: arrivals send these recorded requests in turn (a trace's mix, at the
    /// plan's rate) instead of drawing from the user classes.
    pub recorded_mix: Option<Arc<[TraceRequest]>>,
    /// This worker's share of a distributed run ([`Shard::WHOLE`] on one machine).
    pub shard: Shard,
    /// The threads the load runs on (`--threads`; one per core by default).
    pub threads: NonZeroUsize,
}

impl LoadPlan {
    /// When a synthetic load ends: the run time, else the end of its stages.
    pub fn synthetic_end(&self) -> Duration {
        self.run_time.unwrap_or_else(|| self.shape.duration())
    }
}

/// How an open-model arrival takes its class and task from the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixDraw {
    /// Each arrival draws at random, by the weights (Locust's way).
    Random,
    /// Arrival n takes the n-th point of a low-discrepancy (golden-ratio) sequence through
    /// the weights: every span of time offers the mix's proportions to within a request or
    /// two. A capacity search's steps are judged on the mix they offer, so they draw this way.
    Exact,
}

/// Why a run stopped before its run time was up.
#[derive(Debug, Clone, PartialEq)]
pub enum StopReason {
    Interrupted,
    SinkFailed,
    /// A capacity search ended this step (it settled, or its queue plainly grew): the
    /// search goes on with the next.
    StepOver,
    /// A `--stop-on` condition fired; the text says which, where and what was measured.
    Condition(String),
    /// The trace being replayed has a bad line (file, line, reason) and `--lenient` is off.
    BadTrace(String),
}

/// What the engine reports when it is done.
#[derive(Debug, Clone)]
pub struct DriveReport {
    pub stopped_early: Option<StopReason>,
    /// Requests still in flight after the stop timeout: cancelled, each recorded as a
    /// `cancelled` row.
    pub cancelled: u64,
}

/// Runs the plan until its run time is up or `stop` fires, then lets in-flight requests
/// finish for up to the stop timeout.
pub async fn drive(
    shared: Arc<Shared>,
    plan: &LoadPlan,
    mut stop: watch::Receiver<Option<StopReason>>,
    feed: Option<ReplayFeed>,
) -> DriveReport {
    let lanes = match Lanes::start(plan.threads) {
        Ok(lanes) => lanes,
        Err(e) => {
            // No threads, no load: said, and the run ends at once with nothing sent.
            eprintln!("cannot start the load's threads: {e}");
            return DriveReport {
                stopped_early: Some(StopReason::Interrupted),
                cancelled: 0,
            };
        }
    };
    let mut tasks = Tasks {
        set: JoinSet::new(),
        lanes: &lanes,
    };
    let stopped_early = match (&plan.shape, feed) {
        (LoadShape::Closed { .. }, _) => closed::run(&shared, plan, &mut stop, &mut tasks).await,
        (LoadShape::Open { .. }, _) => open::run(&shared, plan, &mut stop, &mut tasks).await,
        (LoadShape::Replay { pace }, Some(feed)) => {
            let pace = *pace;
            replay::run(&shared, plan, pace, feed, &mut stop, &mut tasks).await
        }
        (LoadShape::Replay { .. }, None) => Some(StopReason::BadTrace("no trace to replay".into())),
    };
    let mut tasks = tasks.set;
    let graceful = async { while tasks.join_next().await.is_some() {} };
    tokio::select! {
        _ = tokio::time::timeout(plan.stop_timeout, graceful) => {}
        // A second stop request (e.g. a second Ctrl-C) ends the grace period at once.
        _ = async { let _ = stop.changed().await; }, if stopped_early.is_some() => {}
    }
    let mut cancelled = 0;
    if !tasks.is_empty() {
        cancelled = u64::from(shared.in_flight());
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    // The lanes stop here, their idle connections with them: the next load (a capacity
    // search's next step) starts lanes of its own and must not reuse a connection whose
    // runtime is gone.
    drop(lanes);
    shared.target.forget_idle();
    DriveReport {
        stopped_early,
        cancelled,
    }
}

/// The load's tasks: each user or arrival spawned on a lane of its own for its whole life.
struct Tasks<'a> {
    set: JoinSet<()>,
    lanes: &'a Lanes,
}

impl Tasks<'_> {
    /// Spawns user or arrival number `k` on its lane.
    fn spawn(&mut self, k: u64, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.set.spawn_on(task, self.lanes.for_number(k));
    }

    /// Reaps the tasks that have ended.
    fn reap(&mut self) {
        while self.set.try_join_next().is_some() {}
    }
}

/// Resolves when a stop is requested, with its reason.
async fn wait_stop(stop: &mut watch::Receiver<Option<StopReason>>) -> StopReason {
    loop {
        if let Some(reason) = stop.borrow_and_update().clone() {
            return reason;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
