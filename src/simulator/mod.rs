//! A faithful AURAX simulator on loopback: the API of `aurax-api.md`, latencies shaped like
//! real inference (scaled by `time_scale`), finite model capacity that queues past its slots
//! as the real stack does, the published backend's own bugs on request, and injected faults.

mod faults;
mod handlers;
mod metrics;
mod model_api;
mod models;
mod residency;

use std::net::SocketAddr;
use std::sync::Arc;

pub use faults::FaultConfig;
pub use models::{CODE_MODEL, IMAGE_MODEL, TEXT_MODEL};

use faults::FaultInjector;
use metrics::Metrics;
use models::ModelPool;
use residency::Residency;
pub use residency::{ModelSpec, ResidencyConfig, default_models};

/// What happens to a generation that finds every slot of its model busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Overload {
    /// Wait in the model server's FIFO queue (the real stack): latency grows, the served rate
    /// stays at capacity; a full queue or the model client's timeout fails the request.
    Queue,
    /// Refuse at once once the (by default empty) queue is full: a fail-fast target.
    Refuse,
}

/// Which AURAX backend the simulator behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The API as documented: every endpoint works.
    Intended,
    /// The published code as measured: code requests answered by the text model
    /// (`response_type: "text"`), image requests failing at once, the bare `/metrics`.
    Published,
}

/// What `/metrics` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsFlavour {
    /// What the repository's Grafana dashboard expects: request counters and histograms,
    /// model counters, queue gauges, modelled CPU and memory.
    Full,
    /// What the published backend really exposes with `ENABLE_METRICS=true`:
    /// `aurax_inprogress{handler,method}`, `process_*` and `python_*`, nothing else.
    Published,
    /// 404, as the published backend without `ENABLE_METRICS`.
    Off,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorConfig {
    /// Multiplies every service time: 1.0 is real-world speed (an image takes ~8 s).
    pub time_scale: f64,
    pub text_slots: u32,
    pub code_slots: u32,
    pub image_slots: u32,
    pub overload: Overload,
    /// Requests that may wait for a slot of one model; past it the model server is "busy".
    pub queue_limit: u32,
    /// AURAX's model client timeout at real-world speed (scaled by `time_scale`), queue wait
    /// included; a generation that takes longer comes back HTTP 200 `success: false`.
    pub model_timeout: std::time::Duration,
    pub backend: Backend,
    pub metrics: MetricsFlavour,
    pub faults: FaultConfig,
    pub seed: u64,
    /// Token timing of the model-server APIs (Ollama's `/api/*`, OpenAI's `/v1/*`).
    pub tokens: TokenTiming,
    /// Memory for loaded models (`--model-memory`): when it cannot hold every model, the
    /// model server swaps them as Ollama does. None: every model fits.
    pub model_memory: Option<u64>,
    /// Idle time after which a loaded model is unloaded (Ollama's `keep_alive`), at
    /// real-world speed (scaled by `time_scale`).
    pub keep_alive: std::time::Duration,
}

/// How the simulated model server times a generation asked for directly, at real-world
/// speed (scaled by `time_scale`): the prompt is processed at `prompt_token` a token (its
/// end is the first token), then one token every `token` (docs/simulator.md).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenTiming {
    /// Time per output token; None: each model's own, so that AURAX's fixed request (2,000
    /// tokens text, 3,000 code) takes the model's `/generate` service time (1 ms, 1.33 ms).
    pub token: Option<std::time::Duration>,
    /// Time per prompt token (a prompt is a token per 4 characters, at least 1).
    pub prompt_token: std::time::Duration,
    /// Output tokens when the request sets no limit.
    pub default_tokens: u32,
    /// Loading a model on its first generation (a cold start); zero: loaded from the start.
    pub model_load: std::time::Duration,
}

impl Default for TokenTiming {
    fn default() -> Self {
        TokenTiming {
            token: None,
            prompt_token: std::time::Duration::from_micros(250),
            default_tokens: 256,
            model_load: std::time::Duration::ZERO,
        }
    }
}

impl TokenTiming {
    /// Time per output token of `model`, at real-world speed.
    pub fn token_of(&self, model: &str) -> std::time::Duration {
        self.token.unwrap_or_else(|| {
            std::time::Duration::from_secs_f64(
                models::generation_seconds(model) / f64::from(models::aurax_tokens(model)),
            )
        })
    }
}

/// How long Ollama keeps an idle model loaded (`OLLAMA_KEEP_ALIVE`), at real-world speed.
pub const DEFAULT_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(300);

/// The model server's queue (`OLLAMA_MAX_QUEUE`).
pub const DEFAULT_QUEUE: u32 = 512;
/// AURAX's model client timeout (`OLLAMA_TIMEOUT`), at real-world speed.
pub const DEFAULT_MODEL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            time_scale: 0.1,
            text_slots: 16,
            code_slots: 8,
            image_slots: 4,
            overload: Overload::Queue,
            queue_limit: DEFAULT_QUEUE,
            model_timeout: DEFAULT_MODEL_TIMEOUT,
            backend: Backend::Intended,
            metrics: MetricsFlavour::Full,
            faults: FaultConfig::default(),
            seed: 0,
            tokens: TokenTiming::default(),
            model_memory: None,
            keep_alive: DEFAULT_KEEP_ALIVE,
        }
    }
}

impl SimulatorConfig {
    /// Generations per second a model sustains, from first principles: slots / mean service
    /// time. Text capacity is also `burst_request`'s (the backend ignores `max_tokens`).
    pub fn capacity_rps(&self, model: &str) -> f64 {
        let slots = match model {
            IMAGE_MODEL => self.image_slots,
            CODE_MODEL => self.code_slots,
            _ => self.text_slots,
        };
        f64::from(slots) / (models::generation_seconds(model) * self.time_scale)
    }

    /// The model client's timeout as the simulator applies it: scaled, except at time scale
    /// 0 (every service instant, the benchmarks' setting), where a timeout scaled to zero
    /// would fail each generation that waited a microsecond for its slot: there it stays
    /// unscaled.
    pub fn scaled_model_timeout(&self) -> std::time::Duration {
        if self.time_scale > 0.0 {
            self.model_timeout.mul_f64(self.time_scale)
        } else {
            self.model_timeout
        }
    }

    /// How the model server keeps its models, at this time scale: without `--model-memory`
    /// every model is loaded from the start (or on its first request with `--model-load`);
    /// with it, each model loads in its own time (or `--model-load`) and they swap.
    pub fn residency(&self) -> ResidencyConfig {
        let scale = self.time_scale.max(0.0);
        let load_of = |spec: &ModelSpec| match (self.model_memory, self.tokens.model_load) {
            (_, given) if !given.is_zero() => given,
            (Some(_), _) => spec.load,
            (None, _) => std::time::Duration::ZERO,
        };
        ResidencyConfig {
            memory_bytes: self.model_memory,
            keep_alive: self.keep_alive.mul_f64(scale),
            models: default_models()
                .into_iter()
                .map(|spec| ModelSpec {
                    load: load_of(&spec).mul_f64(scale),
                    ..spec
                })
                .collect(),
        }
    }

    /// One line describing capacity, printed when the simulator starts.
    pub fn describe(&self) -> String {
        let model = |name: &str, slots: u32| {
            format!(
                "{name} {slots} slot(s) x {:.0} ms = {:.1} req/s",
                models::generation_seconds(name) * self.time_scale * 1000.0,
                self.capacity_rps(name)
            )
        };
        format!(
            "time scale {}; {}, {}, {}; overload: {} (queue {} per model, model timeout {:.1} s); backend {:?}",
            self.time_scale,
            model(TEXT_MODEL, self.text_slots),
            model(CODE_MODEL, self.code_slots),
            model(IMAGE_MODEL, self.image_slots),
            match self.overload {
                Overload::Queue => "queue",
                Overload::Refuse => "refuse",
            },
            self.queue_limit,
            self.scaled_model_timeout().as_secs_f64(),
            self.backend,
        ) + &match self.model_memory {
            None => String::new(),
            Some(bytes) => format!(
                "; model memory {:.1} GB for {} (models swap when it cannot hold them all; keep_alive {:.0} s)",
                bytes as f64 / 1e9,
                default_models()
                    .iter()
                    .map(|m| format!("{} {:.1} GB", m.name, m.size_bytes as f64 / 1e9))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.keep_alive.mul_f64(self.time_scale).as_secs_f64()
            ),
        }
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
    residency: Arc<Residency>,
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
        residency: Residency::new(config.residency()),
        started: std::time::Instant::now(),
        config,
    });
    let app = handlers::router(sim.clone()).merge(model_api::router(sim));
    // TCP_NODELAY as Go (Ollama) and uvicorn set it: a streamed token goes out when written,
    // not held back for the previous segment's acknowledgement.
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(RunningSimulator { addr, task })
}
