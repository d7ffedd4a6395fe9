//! Finite model capacity, as the model server behind AURAX (Ollama) has it: each model runs a
//! fixed number of generations at once (`OLLAMA_NUM_PARALLEL`) and queues the rest FIFO up to
//! a limit (`OLLAMA_MAX_QUEUE`, 512); beyond it the model server answers "busy". AURAX's model
//! client gives up after its timeout (`OLLAMA_TIMEOUT`, 120 s), queue wait included. So past
//! capacity latency grows while the served rate stays flat, which is what a load test of the
//! real stack meets (see `aurax-api.md`, "How the published backend really behaves").

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// The model tags as the published backend reports them in `metadata.model_used`.
pub const TEXT_MODEL: &str = "mistral:7b-instruct-q4_K_M";
pub const CODE_MODEL: &str = "qwen3:coder";
pub const IMAGE_MODEL: &str = "stable-diffusion";

pub struct ModelPool {
    pub name: &'static str,
    pub slots: u32,
    pub queue_limit: u32,
    /// Fair (FIFO) in tokio: permits go out in the order they were asked for.
    permits: Semaphore,
    waiting: AtomicU32,
    busy: AtomicU32,
    pub served: AtomicU64,
    clock: Instant,
    work: Mutex<BusyTime>,
}

/// Slot-seconds of generation: finished ones, plus those under way (count and start sum), so
/// the modelled CPU grows while a long generation runs, not only when it ends.
#[derive(Default)]
struct BusyTime {
    done: f64,
    running: u32,
    started_sum: f64,
}

/// Why a generation did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum NotServed {
    /// Every slot was busy and `queued` requests already waited: refused at once.
    QueueFull { queued: u32 },
    /// The model client's timeout passed, in the queue or while generating.
    TimedOut,
}

/// Holds a slot: counts it busy and books its time, also when the generation is abandoned
/// (the model client timed out and the model server dropped the request).
struct InService<'a> {
    pool: &'a ModelPool,
    start: f64,
}

impl Drop for InService<'_> {
    fn drop(&mut self) {
        if let Ok(mut w) = self.pool.work.lock() {
            w.running -= 1;
            w.started_sum -= self.start;
            w.done += self.pool.clock.elapsed().as_secs_f64() - self.start;
        }
        self.pool.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a request waiting for a slot until it gets one or gives up.
struct Waiting<'a>(&'a AtomicU32);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ModelPool {
    pub fn new(name: &'static str, slots: u32, queue_limit: u32) -> ModelPool {
        ModelPool {
            name,
            slots,
            queue_limit,
            permits: Semaphore::new(slots.max(1) as usize),
            waiting: AtomicU32::new(0),
            busy: AtomicU32::new(0),
            served: AtomicU64::new(0),
            clock: Instant::now(),
            work: Mutex::new(BusyTime::default()),
        }
    }

    /// Joins the queue for a slot, or is refused at once (every slot busy and `queue_limit`
    /// requests already waiting): Ollama's "server busy".
    pub fn enqueue(&self) -> Result<Queued<'_>, NotServed> {
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        let waiting = Waiting(&self.waiting);
        if self.permits.available_permits() == 0 && queued >= self.queue_limit {
            return Err(NotServed::QueueFull { queued });
        }
        Ok(Queued {
            pool: self,
            _waiting: waiting,
        })
    }

    /// Waits in FIFO order for a slot, then holds it for `service`; gives up when `deadline`
    /// (queue wait and generation together) passes. A request that finds every slot busy and
    /// `queue_limit` others waiting is refused at once.
    pub async fn serve(&self, service: Duration, deadline: Duration) -> Result<(), NotServed> {
        let work = async {
            let slot = self.enqueue()?.slot().await;
            tokio::time::sleep(service).await;
            slot.served(self);
            Ok(())
        };
        match tokio::time::timeout(deadline, work).await {
            Ok(result) => result,
            Err(_) => Err(NotServed::TimedOut),
        }
    }

    pub fn queued(&self) -> u32 {
        self.waiting.load(Ordering::Relaxed)
    }

    pub fn busy(&self) -> u32 {
        self.busy.load(Ordering::Relaxed)
    }

    /// Seconds of slot time spent generating so far, those under way included.
    pub fn busy_seconds(&self) -> f64 {
        let now = self.clock.elapsed().as_secs_f64();
        self.work
            .lock()
            .map_or(0.0, |w| w.done + f64::from(w.running) * now - w.started_sum)
    }
}

/// A request in a model's queue; dropped, it leaves the queue.
pub struct Queued<'a> {
    pool: &'a ModelPool,
    _waiting: Waiting<'a>,
}

impl<'a> Queued<'a> {
    /// Waits in FIFO order for a slot, and holds it until the returned slot is dropped.
    pub async fn slot(self) -> Slot<'a> {
        let pool = self.pool;
        // The semaphore is never closed: acquire cannot fail.
        let permit = pool.permits.acquire().await.ok();
        drop(self);
        pool.busy.fetch_add(1, Ordering::SeqCst);
        let start = pool.clock.elapsed().as_secs_f64();
        if let Ok(mut w) = pool.work.lock() {
            w.running += 1;
            w.started_sum += start;
        }
        Slot {
            _service: InService { pool, start },
            _permit: permit,
        }
    }
}

/// A model slot held: counted busy, its time booked, freed when dropped.
pub struct Slot<'a> {
    _service: InService<'a>,
    _permit: Option<SemaphorePermit<'a>>,
}

impl Slot<'_> {
    /// The generation held its slot to the end: count it served.
    pub fn served(self, pool: &ModelPool) {
        drop(self);
        pool.served.fetch_add(1, Ordering::Relaxed);
    }
}

/// Output tokens AURAX asks each model for, whatever the request says (`aurax-api.md`).
pub fn aurax_tokens(model: &str) -> u32 {
    match model {
        CODE_MODEL => 3000,
        _ => 2000,
    }
}

/// Mean service time of one generation at real-world speed, per model. The published backend
/// ignores the request's `max_tokens` (the text model always asks for its configured 2,000
/// tokens, code for 3,000), so service time depends on the request class, not its size.
/// Each generation is jittered uniformly by ±20% around it.
pub fn generation_seconds(model: &str) -> f64 {
    match model {
        IMAGE_MODEL => 8.0,
        CODE_MODEL => 4.0,
        _ => 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn queue_overflow_is_refused_and_slots_limit_concurrency() {
        let pool = Arc::new(ModelPool::new("m", 2, 3));
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let p = pool.clone();
            tasks.push(tokio::spawn(async move {
                p.serve(Duration::from_millis(200), Duration::from_secs(10))
                    .await
            }));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(pool.busy(), 2);
        assert_eq!(pool.queued(), 3);
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.expect("task"));
        }
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            5,
            "2 in service + 3 queued succeed, the 6th is refused: {results:?}"
        );
        assert_eq!(results[5], Err(NotServed::QueueFull { queued: 3 }));
    }

    #[tokio::test]
    async fn the_queue_is_served_in_arrival_order_at_the_slots_rate() {
        // One slot of 20 ms: the n-th request (from 0) ends after (n + 1) x 20 ms.
        let pool = Arc::new(ModelPool::new("m", 1, 512));
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let p = pool.clone();
            tasks.push(tokio::spawn(async move {
                p.serve(Duration::from_millis(20), Duration::from_secs(10))
                    .await
                    .map(|()| t0.elapsed())
            }));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut ends = Vec::new();
        for t in tasks {
            ends.push(t.await.expect("task").expect("served"));
        }
        for (n, end) in ends.iter().enumerate() {
            let want = Duration::from_millis(20 * (n as u64 + 1));
            assert!(
                *end >= want && *end < want + Duration::from_millis(15),
                "request {n} ended at {end:?}, expected ~{want:?}: {ends:?}"
            );
        }
        assert!(ends.windows(2).all(|w| w[0] < w[1]), "FIFO: {ends:?}");
    }

    #[tokio::test]
    async fn a_request_queued_past_the_deadline_times_out_and_frees_nothing() {
        let pool = Arc::new(ModelPool::new("m", 1, 512));
        let p = pool.clone();
        let first = tokio::spawn(async move {
            p.serve(Duration::from_millis(100), Duration::from_secs(10))
                .await
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = pool
            .serve(Duration::from_millis(100), Duration::from_millis(30))
            .await;
        assert_eq!(second, Err(NotServed::TimedOut));
        assert_eq!(pool.queued(), 0, "the timed-out request left the queue");
        assert_eq!(first.await.expect("task"), Ok(()));
        assert_eq!(pool.busy(), 0);
        assert_eq!(pool.served.load(Ordering::Relaxed), 1);
    }
}
