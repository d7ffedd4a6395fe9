//! The load engine: virtual users spawned at a rate, each picking tasks by weight and waiting
//! between them, every request's outcome handed to the sink.

mod clock;
mod live;
mod request;
mod users;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use clock::WallClock;
pub use live::LiveLine;
pub use request::{Target, TargetError, describe};
pub use users::assign_classes;

use crate::outcome::RequestOutcome;
use crate::scenario::{EndpointId, Scenario};
use crate::sink::OutcomeSender;
use crate::stats::RunStats;

/// How much load, for how long, from which classes.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub users: u32,
    pub spawn_rate: f64,
    pub run_time: Duration,
    /// Indexes into the scenario's user classes, with Locust-style weights.
    pub classes: Vec<(usize, u32)>,
    pub seed: u64,
    /// How long requests still in flight at the end may take to finish.
    pub stop_timeout: Duration,
}

/// Why a run stopped before its run time was up.
#[derive(Debug, Clone, PartialEq)]
pub enum StopReason {
    Interrupted,
    SinkFailed,
}

/// What the engine reports when it is done.
#[derive(Debug, Clone)]
pub struct DriveReport {
    pub sent: u64,
    pub stopped_early: Option<StopReason>,
    /// Requests still in flight after the stop timeout, cancelled and not recorded.
    pub cancelled: u64,
}

/// State shared by every virtual user of a run.
pub struct Shared {
    pub scenario: Arc<Scenario>,
    pub target: Target,
    pub sender: OutcomeSender,
    pub clock: WallClock,
    pub worker_id: u32,
    seq: AtomicU64,
    users_active: AtomicU32,
    in_flight: AtomicU32,
    class_names: Vec<Arc<str>>,
    names: Vec<(Arc<str>, Arc<str>, Arc<str>)>,
    stage_target: f64,
}

impl Shared {
    pub fn new(
        scenario: Arc<Scenario>,
        target: Target,
        sender: OutcomeSender,
        users: u32,
    ) -> Shared {
        let class_names = scenario
            .user_classes
            .iter()
            .map(|c| Arc::from(c.name.as_str()))
            .collect();
        let names = scenario
            .endpoints
            .iter()
            .map(|e| {
                (
                    Arc::from(e.name.as_str()),
                    Arc::from(e.method.as_str()),
                    Arc::from(e.path.as_str()),
                )
            })
            .collect();
        Shared {
            scenario,
            target,
            sender,
            clock: WallClock::now(),
            worker_id: 0,
            seq: AtomicU64::new(0),
            users_active: AtomicU32::new(0),
            in_flight: AtomicU32::new(0),
            class_names,
            names,
            stage_target: f64::from(users),
        }
    }

    pub fn users_active(&self) -> u32 {
        self.users_active.load(Ordering::Relaxed)
    }

    /// Sends one request of `endpoint` for a user, and hands its outcome to the sink.
    pub async fn send(
        &self,
        user_id: u32,
        class: usize,
        endpoint: EndpointId,
        rng: &mut StdRng,
        intended: Instant,
    ) {
        let ep = &self.scenario.endpoints[endpoint];
        let body = ep.body.as_ref().map(|t| t.render(rng));
        let max_tokens = body
            .as_ref()
            .and_then(|b| b.get("max_tokens"))
            .and_then(serde_json::Value::as_u64)
            .map(|n| n.min(u64::from(u32::MAX)) as u32);
        let bytes = body.map(|b| Bytes::from(b.to_string()));
        let bytes_sent = bytes.as_ref().map_or(0, |b| b.len() as u64);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let users_active = self.users_active();
        let in_flight = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        let actual = Instant::now();
        let ex = self.target.exchange(ep, bytes).await;
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let (name, method, path) = &self.names[endpoint];
        self.sender.send(RequestOutcome {
            worker_id: self.worker_id,
            seq,
            user_class: self.class_names[class].clone(),
            user_id,
            endpoint: name.clone(),
            method: method.clone(),
            path: path.clone(),
            intended_send_us: self.clock.micros_at(intended.min(actual)),
            actual_send_us: self.clock.micros_at(actual),
            ttfb_us: ex.ttfb_us,
            latency_us: ex.latency_us,
            status: ex.status,
            outcome: ex.outcome,
            error: ex.error,
            bytes_sent,
            bytes_received: ex.bytes_received,
            model_used: ex.model_used,
            response_type: ex.response_type,
            max_tokens,
            users_active,
            in_flight,
            stage: 0,
            stage_target: self.stage_target,
        });
    }

    pub fn requests_sent(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }
}

/// Spawns the users at the plan's rate, runs until the run time is up or `stop` fires, then
/// lets in-flight requests finish for up to the stop timeout.
pub async fn drive(
    shared: Arc<Shared>,
    plan: &LoadPlan,
    stats: Arc<Mutex<RunStats>>,
    mut stop: watch::Receiver<Option<StopReason>>,
) -> DriveReport {
    let start = Instant::now();
    let deadline = tokio::time::Instant::from_std(start + plan.run_time);
    let (users_stop_tx, users_stop_rx) = watch::channel(false);
    let mut set = JoinSet::new();
    let classes = assign_classes(&plan.classes, plan.users);
    let interval = Duration::from_secs_f64(1.0 / plan.spawn_rate.max(1e-6));
    let mut stopped_early = None;
    'spawn: for (i, class) in classes.iter().enumerate() {
        let at = tokio::time::Instant::from_std(start + interval.mul_f64(i as f64));
        tokio::select! {
            _ = tokio::time::sleep_until(at) => {}
            _ = tokio::time::sleep_until(deadline) => break 'spawn,
            reason = wait_stop(&mut stop) => { stopped_early = Some(reason); break 'spawn; }
        }
        let user = users::VirtualUser::new(shared.clone(), i as u32, *class, plan.seed);
        set.spawn(user.run(users_stop_rx.clone()));
        if i + 1 == classes.len()
            && let Ok(mut s) = stats.lock()
        {
            s.steady_from_us = Some(shared.clock.now_micros());
        }
    }
    if stopped_early.is_none() {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            reason = wait_stop(&mut stop) => stopped_early = Some(reason),
        }
    }
    let _ = users_stop_tx.send(true);
    let graceful = async { while set.join_next().await.is_some() {} };
    let mut cancelled = 0;
    tokio::select! {
        _ = tokio::time::timeout(plan.stop_timeout, graceful) => {}
        // A second stop request (e.g. a second Ctrl-C) ends the grace period at once.
        _ = async { let _ = stop.changed().await; } , if stopped_early.is_some() => {}
    }
    if !set.is_empty() {
        cancelled = shared.in_flight.load(Ordering::Relaxed) as u64;
        set.abort_all();
        while set.join_next().await.is_some() {}
    }
    DriveReport {
        sent: shared.requests_sent(),
        stopped_early,
        cancelled,
    }
}

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
