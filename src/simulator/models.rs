//! Finite model capacity: each model has a fixed number of slots and a bounded queue. Past
//! its capacity latency rises (queueing), and past the queue requests fail, as a real
//! inference backend does, so breaking points found against the simulator are real ones.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

pub const TEXT_MODEL: &str = "mistral";
pub const CODE_MODEL: &str = "qwen3:coder";
pub const IMAGE_MODEL: &str = "stable-diffusion";

pub struct ModelPool {
    pub name: &'static str,
    pub slots: u32,
    pub queue_limit: u32,
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

/// The model's queue was full: the request is refused at once.
#[derive(Debug)]
pub struct Overloaded {
    pub queued: u32,
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

    /// Waits for a slot (or fails when the queue is full), then holds it for `service`.
    pub async fn serve(&self, service: Duration) -> Result<(), Overloaded> {
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        if queued >= self.queue_limit {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Overloaded { queued });
        }
        let permit = self.permits.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        self.busy.fetch_add(1, Ordering::SeqCst);
        let start = self.clock.elapsed().as_secs_f64();
        if let Ok(mut w) = self.work.lock() {
            w.running += 1;
            w.started_sum += start;
        }
        tokio::time::sleep(service).await;
        if let Ok(mut w) = self.work.lock() {
            w.running -= 1;
            w.started_sum -= start;
            w.done += self.clock.elapsed().as_secs_f64() - start;
        }
        self.busy.fetch_sub(1, Ordering::SeqCst);
        self.served.fetch_add(1, Ordering::Relaxed);
        drop(permit);
        Ok(())
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

/// Service time of a generation before time scaling: a fixed part plus a per-token part,
/// the shape of real LLM inference (prefill, then one step per generated token).
pub fn generation_seconds(model: &str, max_tokens: u32) -> f64 {
    let tokens = f64::from(max_tokens);
    match model {
        IMAGE_MODEL => 8.0,
        CODE_MODEL => 0.6 + 0.0025 * tokens,
        _ => 0.3 + 0.002 * tokens,
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
                p.serve(Duration::from_millis(200)).await.is_ok()
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(pool.busy(), 2);
        assert_eq!(pool.queued(), 3);
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap_or(false));
        }
        assert_eq!(ok, 5, "2 in service + 3 queued succeed, the 6th is refused");
    }
}
