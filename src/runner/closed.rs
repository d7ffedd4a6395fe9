//! The closed model: a controller that keeps the number of virtual users on the stages'
//! target, spawning users as it rises (Locust's spawn rate is a linear ramp) and stopping the
//! newest ones after their current request as it falls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::users::{VirtualUser, assign_classes};
use super::{LoadPlan, Shared, StopReason, Tasks, wait_stop};

/// How often the users are counted again during a ramp. In a hold the controller sleeps
/// to the hold's end instead: a wake-up every 20 ms was a tenth of an idle run's CPU.
const TICK: Duration = Duration::from_millis(20);

pub async fn run(
    shared: &Arc<Shared>,
    plan: &LoadPlan,
    stop: &mut watch::Receiver<Option<StopReason>>,
    tasks: &mut Tasks<'_>,
) -> Option<StopReason> {
    let stages = plan.shape.stages();
    let peak = plan.shape.peak().ceil() as u32;
    let order = assign_classes(&plan.classes, peak.max(1));
    let start = Instant::now();
    let shard = plan.shard;
    let mut running: Vec<watch::Sender<bool>> = Vec::new();
    // This worker's users so far; user k of the one-machine load is worker k mod N's.
    let mut next_local = 0u64;
    let stopped = loop {
        let t = start.elapsed();
        if t >= plan.synthetic_end() {
            break None;
        }
        let (index, want) = plan.shape.at(t);
        shared.set_stage(index, stages.get(index as usize).map_or(want, |s| s.target));
        // User k (0-based) starts once the target passes k: users spawn at the ramp's rate.
        let want_all = (want - 1e-9).ceil().max(0.0) as u64;
        shared.set_users_scheduled(want_all);
        let want = shard.share_of(want_all) as usize;
        while running.len() < want {
            let (tx, rx) = watch::channel(false);
            // Its global number picks its class and seeds its choices: the one machine's.
            let id = shard.global(next_local);
            let class = order[id as usize % order.len()];
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            tasks.spawn(
                next_local,
                VirtualUser::new(shared.clone(), id, class, plan.seed).run(rx),
            );
            running.push(tx);
            next_local += 1;
        }
        while running.len() > want {
            // Ramp-down: the newest user stops after its current request.
            if let Some(tx) = running.pop() {
                let _ = tx.send(true);
            }
        }
        tasks.reap();
        let next = match plan.shape.hold_until(t) {
            Some(end) => end.min(plan.synthetic_end()),
            None => t + TICK,
        };
        tokio::select! {
            _ = tokio::time::sleep_until((start + next).into()) => {}
            reason = wait_stop(stop) => break Some(reason),
        }
    };
    for tx in running {
        let _ = tx.send(true);
    }
    stopped
}
