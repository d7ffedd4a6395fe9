//! Trace replay: the requests of a [`ReplaySchedule`] sent at their recorded times (open
//! loop: a request's intended send time is its place in the trace, whatever the target does),
//! or back to back by a fixed number of users (`--as-fast-as-possible`). The schedule is read
//! on its own thread a bounded way ahead, so a trace never has to fit in memory.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, watch};

use super::admission::Admission;
use super::shared::Who;
use super::{LoadPlan, Shared, StopReason, Tasks, wait_stop};
use crate::shape::Pace;
use crate::trace::{ReplaySchedule, Scheduled, TraceError};

/// The trace to replay: its first request (read before any load, to fail early on an empty
/// or broken trace) and the rest of the schedule.
pub struct ReplayFeed {
    pub first: Scheduled,
    pub rest: ReplaySchedule,
}

/// Rates shown as the load level of replayed rows: arrivals due in the last few seconds.
const RATE_WINDOW: Duration = Duration::from_secs(5);
/// Requests read ahead of the schedule.
const READ_AHEAD: usize = 8192;

type Item = Result<Scheduled, TraceError>;

pub async fn run(
    shared: &Arc<Shared>,
    plan: &LoadPlan,
    pace: Pace,
    feed: ReplayFeed,
    stop: &mut watch::Receiver<Option<StopReason>>,
    tasks: &mut Tasks<'_>,
) -> Option<StopReason> {
    let (tx, rx) = mpsc::channel::<Item>(READ_AHEAD);
    let reader = std::thread::Builder::new()
        .name("trace-reader".into())
        .spawn(move || {
            for item in std::iter::once(Ok(feed.first)).chain(feed.rest) {
                // The replay stopped listening: stop reading.
                if tx.blocking_send(item).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = reader {
        return Some(StopReason::BadTrace(format!(
            "starting the trace reader: {e}"
        )));
    }
    match pace {
        Pace::Recorded {
            connections,
            max_in_flight,
        } => recorded(shared, plan, rx, connections, max_in_flight, stop, tasks).await,
        Pace::AsFastAsPossible { users } => fastest(shared, plan, rx, users, stop, tasks).await,
    }
}

async fn recorded(
    shared: &Arc<Shared>,
    plan: &LoadPlan,
    mut rx: mpsc::Receiver<Item>,
    connections: Option<usize>,
    max_in_flight: usize,
    stop: &mut watch::Receiver<Option<StopReason>>,
    tasks: &mut Tasks<'_>,
) -> Option<StopReason> {
    let admission = Admission::new(max_in_flight, connections);
    let mut recent: VecDeque<Duration> = VecDeque::new();
    let start = Instant::now();
    let mut n: u64 = 0;
    loop {
        let item = tokio::select! {
            item = rx.recv() => item,
            reason = wait_stop(stop) => return Some(reason),
        };
        let scheduled = match item? {
            Ok(s) => s,
            Err(e) => return Some(StopReason::BadTrace(e.to_string())),
        };
        if plan.run_time.is_some_and(|end| scheduled.at >= end) {
            return None;
        }
        // A distributed run: request k of the trace is worker k mod N's.
        n += 1;
        if !plan.shard.takes(n - 1) {
            continue;
        }
        let intended = start + scheduled.at;
        tokio::select! {
            _ = tokio::time::sleep_until(intended.into()) => {}
            reason = wait_stop(stop) => return Some(reason),
        }
        recent.push_back(scheduled.at);
        while recent
            .front()
            .is_some_and(|t| *t + RATE_WINDOW <= scheduled.at)
        {
            recent.pop_front();
        }
        let window = scheduled.at.min(RATE_WINDOW).as_secs_f64().max(1.0);
        shared.set_stage(scheduled.pass, (recent.len() as f64 / window).round());
        let shared = shared.clone();
        let admission = admission.clone();
        let user_id = ((n - 1) % u64::from(u32::MAX)) as u32;
        tasks.spawn(n, async move {
            let request = scheduled.request;
            let who = Who {
                user_id,
                class: shared.replay_class(),
                endpoint: request.endpoint,
                trace: Some((request.source.clone(), request.line)),
            };
            let sender = shared.clone();
            admission
                .send(&shared, who, intended, async move {
                    sender.send_recorded(user_id, request, intended).await
                })
                .await;
        });
        tasks.reap();
    }
}

async fn fastest(
    shared: &Arc<Shared>,
    plan: &LoadPlan,
    rx: mpsc::Receiver<Item>,
    users: u32,
    stop: &mut watch::Receiver<Option<StopReason>>,
    tasks: &mut Tasks<'_>,
) -> Option<StopReason> {
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let halt = Arc::new(AtomicBool::new(false));
    let bad: Arc<Mutex<Option<String>>> = Arc::default();
    // A distributed run: this worker's users of the `users`, and request k of the trace is
    // worker k mod N's (counted as the requests are taken, in the trace's order).
    let shard = plan.shard;
    let mine = shard.share_of(u64::from(users));
    let taken = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let running = Arc::new(AtomicUsize::new(mine as usize));
    let all_done = Arc::new(Notify::new());
    shared.set_stage(0, f64::from(users));
    shared.set_users_scheduled(u64::from(users));
    if mine == 0 {
        all_done.notify_one();
    }
    for local in 0..mine {
        let user_id = u32::try_from(shard.global(local)).unwrap_or(u32::MAX);
        let (shared, rx, halt, bad) = (shared.clone(), rx.clone(), halt.clone(), bad.clone());
        let taken = taken.clone();
        let (running, all_done) = (running.clone(), all_done.clone());
        shared.users_active.fetch_add(1, Ordering::Relaxed);
        tasks.spawn(local, async move {
            while !halt.load(Ordering::Relaxed) {
                let (item, k) = {
                    let mut rx = rx.lock().await;
                    let item = rx.recv().await;
                    (item, taken.fetch_add(1, Ordering::SeqCst))
                };
                match item {
                    Some(Ok(_)) if !shard.takes(k) => {}
                    Some(Ok(s)) => {
                        shared
                            .send_recorded(user_id, s.request, Instant::now())
                            .await
                    }
                    Some(Err(e)) => {
                        if let Ok(mut b) = bad.lock() {
                            b.get_or_insert(e.to_string());
                        }
                        halt.store(true, Ordering::Relaxed);
                    }
                    None => break,
                }
            }
            shared.users_active.fetch_sub(1, Ordering::Relaxed);
            if running.fetch_sub(1, Ordering::SeqCst) == 1 {
                all_done.notify_one();
            }
        });
    }
    let reason = tokio::select! {
        _ = all_done.notified() => None,
        _ = async {
            match plan.run_time {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        } => None,
        reason = wait_stop(stop) => Some(reason),
    };
    halt.store(true, Ordering::Relaxed);
    let bad = bad.lock().ok().and_then(|b| b.clone());
    bad.map(StopReason::BadTrace).or(reason)
}
