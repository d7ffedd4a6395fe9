//! The open model's admission, one rule for synthetic arrivals and timed replays: at most
//! `--max-in-flight` arrivals in flight (one past it is recorded as `dropped`, never silently
//! skipped), each waiting for one of `--connections` when they are limited (that wait is
//! recorded as lateness, since the row keeps the intended send time).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::Semaphore;

use super::shared::{Shared, Who};

#[derive(Clone)]
pub(super) struct Admission {
    pending: Arc<AtomicUsize>,
    max_in_flight: usize,
    connections: Option<Arc<Semaphore>>,
}

impl Admission {
    pub(super) fn new(max_in_flight: usize, connections: Option<usize>) -> Admission {
        Admission {
            pending: Arc::new(AtomicUsize::new(0)),
            max_in_flight,
            connections: connections.map(|n| Arc::new(Semaphore::new(n.max(1)))),
        }
    }

    /// Runs `send` for the arrival `who` unless the in-flight limit is reached, in which case
    /// the arrival is recorded as dropped.
    pub(super) async fn send(
        &self,
        shared: &Shared,
        who: Who,
        intended: Instant,
        send: impl Future<Output = ()>,
    ) {
        if self.pending.fetch_add(1, Ordering::SeqCst) >= self.max_in_flight {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            shared.record_dropped(who, intended, self.max_in_flight);
            return;
        }
        let _permit = match &self.connections {
            Some(c) => c.clone().acquire_owned().await.ok(),
            None => None,
        };
        send.await;
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }
}
