//! Fault injection: the ways a real AURAX deployment fails, each at a configurable share.

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    /// Share of generations answered HTTP 200 with `"success": false` (and of `/route`,
    /// `/system/status` answered 500, which is how those fail).
    pub error_rate: f64,
    /// Share of requests answered with a 5xx status.
    pub http_error_rate: f64,
    /// Share of requests delayed by `slow_extra`.
    pub slow_rate: f64,
    pub slow_extra: Duration,
    /// Share of requests whose connection is cut in the middle of the response.
    pub reset_rate: f64,
    /// Share of requests answered 200 with a body that is not JSON.
    pub garbage_rate: f64,
    /// Share of requests answered with a 64 MiB body.
    pub huge_body_rate: f64,
    /// Stall: every request arriving in [at, at + for) after start is held until the end of
    /// that window (a GC pause, a failover), the classic coordinated-omission test.
    pub stall: Option<(std::time::Duration, std::time::Duration)>,
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    AppError,
    HttpError,
    Reset,
    Garbage,
    HugeBody,
}

/// Messages in the shape the AURAX backend gives, ids and numbers included, so the
/// analysis has something real to normalise.
const APP_ERRORS: &[&str] = &[
    "Model {model} is unavailable: connection refused (ollama at 127.0.0.1:11434)",
    "RAG store unavailable: query timed out after 30s",
    "Internal error: CUDA out of memory (request {id})",
];

pub struct FaultInjector {
    config: FaultConfig,
    rng: Mutex<StdRng>,
}

impl FaultInjector {
    pub fn new(config: FaultConfig, seed: u64) -> FaultInjector {
        FaultInjector {
            config,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// Picks this request's fault and any extra delay.
    pub fn draw(&self, is_health: bool) -> (Fault, Duration) {
        let Ok(mut rng) = self.rng.lock() else {
            return (Fault::None, Duration::ZERO);
        };
        let c = &self.config;
        let slow = if rng.random_bool(c.slow_rate.clamp(0.0, 1.0)) {
            c.slow_extra
        } else {
            Duration::ZERO
        };
        if is_health {
            return (Fault::None, slow);
        }
        let x: f64 = rng.random();
        let mut edge = 0.0;
        for (rate, fault) in [
            (c.error_rate, Fault::AppError),
            (c.http_error_rate, Fault::HttpError),
            (c.reset_rate, Fault::Reset),
            (c.garbage_rate, Fault::Garbage),
            (c.huge_body_rate, Fault::HugeBody),
        ] {
            edge += rate.max(0.0);
            if x < edge {
                return (fault, slow);
            }
        }
        (Fault::None, slow)
    }

    pub fn app_error_message(&self, model: &str) -> String {
        let (i, id) = match self.rng.lock() {
            Ok(mut rng) => (
                rng.random_range(0..APP_ERRORS.len()),
                rng.random_range(1000..99999u32),
            ),
            Err(_) => (0, 0),
        };
        APP_ERRORS[i]
            .replace("{model}", model)
            .replace("{id}", &id.to_string())
    }

    /// Uniform jitter factor in 0.8..1.2 for service times.
    pub fn jitter(&self) -> f64 {
        self.rng
            .lock()
            .map_or(1.0, |mut r| r.random_range(0.8..1.2))
    }
}
