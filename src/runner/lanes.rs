//! The threads the load runs on: one single-threaded async runtime per lane, each user or
//! arrival on one lane for its whole life, and its connections with it (oha's structure).
//!
//! On one multi-threaded runtime a request crossed threads several times: the user's task on
//! one worker, its connection's I/O task woken on the other, the answer handed back, each
//! crossing a futex wake-up. On this 2-core machine, `/health` at 64 connections, that cost
//! the runner a third more CPU a request and the target, sharing the cores, a fifth more:
//! 0.66-0.75x oha's rate before, 0.8-0.9x on lanes (docs/benchmarks.md).

use std::cell::Cell;
use std::num::NonZeroUsize;
use std::thread::JoinHandle;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

thread_local! {
    /// The lane this thread runs, if it is a lane's.
    static LANE: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The lane the calling thread runs (None off the lanes: the controller, the preflight).
pub fn current() -> Option<usize> {
    LANE.with(Cell::get)
}

/// The lanes of one load: started together, stopped together when dropped (their idle
/// connections close with them).
pub struct Lanes {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Lanes {
    /// Starts `count` lanes, each a thread running its own runtime.
    pub fn start(count: NonZeroUsize) -> std::io::Result<Lanes> {
        let mut lanes = Lanes {
            handles: Vec::new(),
            stops: Vec::new(),
            threads: Vec::new(),
        };
        for index in 0..count.get() {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            lanes.handles.push(runtime.handle().clone());
            lanes.stops.push(stop);
            lanes.threads.push(
                std::thread::Builder::new()
                    .name(format!("aurax-lane-{index}"))
                    .spawn(move || {
                        LANE.with(|lane| lane.set(Some(index)));
                        // Tasks spawned on the lane run while it waits here for its stop.
                        runtime.block_on(async {
                            let _ = stopped.await;
                        });
                    })?,
            );
        }
        Ok(lanes)
    }

    /// The lane of user or arrival `k`: they take turns.
    pub fn for_number(&self, k: u64) -> &Handle {
        &self.handles[(k % self.handles.len() as u64) as usize]
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// How many lanes a load runs on when not told: one per core the process may use.
pub fn default_count() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_on_their_lane_and_stop_with_it() {
        let lanes = Lanes::start(NonZeroUsize::new(3).unwrap()).unwrap();
        let runtime = Builder::new_current_thread().enable_all().build().unwrap();
        let seen: Vec<Option<usize>> = runtime.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for k in 0..6u64 {
                set.spawn_on(async { current() }, lanes.for_number(k));
            }
            let mut seen = Vec::new();
            while let Some(lane) = set.join_next().await {
                seen.push(lane.unwrap());
            }
            seen
        });
        let mut seen: Vec<usize> = seen.into_iter().map(|l| l.unwrap()).collect();
        seen.sort();
        assert_eq!(seen, vec![0, 0, 1, 1, 2, 2]);
        assert_eq!(current(), None);
        drop(lanes);
    }
}
