//! Wall-clock timestamps derived from the monotonic clock: one reading of the system clock
//! at the start, then `Instant` arithmetic, so send times never jump with NTP adjustments.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    origin: Instant,
    origin_us: i64,
}

impl WallClock {
    pub fn now() -> WallClock {
        let origin_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        WallClock {
            origin: Instant::now(),
            origin_us,
        }
    }

    /// Microseconds since the Unix epoch at `t`.
    pub fn micros_at(&self, t: Instant) -> i64 {
        if t >= self.origin {
            self.origin_us + t.duration_since(self.origin).as_micros() as i64
        } else {
            self.origin_us - self.origin.duration_since(t).as_micros() as i64
        }
    }
}
