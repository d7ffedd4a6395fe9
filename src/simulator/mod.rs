//! A faithful AURAX simulator on loopback: the API of `aurax-api.md`, latencies shaped like
//! real inference (scaled by `time_scale`), finite model capacity and injected faults.

mod faults;
mod handlers;
mod metrics;
mod models;

use std::net::SocketAddr;
use std::sync::Arc;

pub use faults::FaultConfig;
pub use models::{CODE_MODEL, IMAGE_MODEL, TEXT_MODEL};

use faults::FaultInjector;
use metrics::Metrics;
use models::ModelPool;

#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorConfig {
    /// Multiplies every service time: 1.0 is real-world speed (an image takes ~8 s).
    pub time_scale: f64,
    pub text_slots: u32,
    pub code_slots: u32,
    pub image_slots: u32,
    /// Requests that may wait for a slot of one model before it refuses more.
    pub queue_limit: u32,
    pub faults: FaultConfig,
    pub seed: u64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            time_scale: 0.1,
            text_slots: 16,
            code_slots: 8,
            image_slots: 4,
            queue_limit: 64,
            faults: FaultConfig::default(),
            seed: 0,
        }
    }
}

impl SimulatorConfig {
    /// Requests per second each model sustains at a given `max_tokens`: slots / service time.
    pub fn capacity_rps(&self, model: &str, max_tokens: u32) -> f64 {
        let slots = match model {
            IMAGE_MODEL => self.image_slots,
            CODE_MODEL => self.code_slots,
            _ => self.text_slots,
        };
        f64::from(slots) / (models::generation_seconds(model, max_tokens) * self.time_scale)
    }

    /// One line describing capacity, printed when the simulator starts.
    pub fn describe(&self) -> String {
        format!(
            "time scale {}, slots {} {} / {} {} / {} {}, queue {} per model; burst_request capacity ~{:.0} req/s",
            self.time_scale,
            TEXT_MODEL,
            self.text_slots,
            CODE_MODEL,
            self.code_slots,
            IMAGE_MODEL,
            self.image_slots,
            self.queue_limit,
            self.capacity_rps(TEXT_MODEL, 100),
        )
    }
}

pub struct Simulator {
    config: SimulatorConfig,
    started: std::time::Instant,
    text: ModelPool,
    code: ModelPool,
    image: ModelPool,
    faults: FaultInjector,
    metrics: Metrics,
}

/// A running simulator; dropping the handle does not stop it, aborting the task does.
pub struct RunningSimulator {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningSimulator {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Binds `addr` and serves the simulator on the current runtime.
pub async fn start(addr: SocketAddr, config: SimulatorConfig) -> std::io::Result<RunningSimulator> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let sim = Arc::new(Simulator {
        text: ModelPool::new(TEXT_MODEL, config.text_slots, config.queue_limit),
        code: ModelPool::new(CODE_MODEL, config.code_slots, config.queue_limit),
        image: ModelPool::new(IMAGE_MODEL, config.image_slots, config.queue_limit),
        faults: FaultInjector::new(config.faults.clone(), config.seed),
        metrics: Metrics::default(),
        started: std::time::Instant::now(),
        config,
    });
    let app = handlers::router(sim);
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(RunningSimulator { addr, task })
}
