//! The HTTP surface of the simulator, following `aurax-api.md` body for body.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::faults::Fault;
use super::models::{self, CODE_MODEL, IMAGE_MODEL, ModelPool, NotServed, TEXT_MODEL};
use super::{Backend, MetricsFlavour, Overload, Simulator};

type Sim = Arc<Simulator>;

pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/system/status", get(system_status))
        .route("/generate", post(generate))
        .route("/route", post(route))
        .route("/metrics", get(metrics))
        .with_state(sim)
}

async fn health(State(sim): State<Sim>) -> Response {
    observed(&sim, "GET", "/health", true, |_| async {
        (
            StatusCode::OK,
            axum::Json(json!({"status": "healthy", "version": "0.1.0"})),
        )
            .into_response()
    })
    .await
}

async fn system_status(State(sim): State<Sim>) -> Response {
    observed(&sim.clone(), "GET", "/system/status", false, |fault| async move {
        sim.pause(0.02, 0.08).await;
        if fault == Fault::AppError {
            return error_500("status probe failed: RAG store unreachable");
        }
        let pool = |p: &ModelPool| json!({"status": "up", "slots": p.slots, "busy": p.busy(), "queued": p.queued()});
        let body = json!({
            "success": true,
            "components": {
                "llm": {"status": "up", "models": {TEXT_MODEL: pool(&sim.text), CODE_MODEL: pool(&sim.code)}},
                "image": {"status": "up", "models": {IMAGE_MODEL: pool(&sim.image)}},
                "rag": {"status": "up", "documents": 1284},
                "router": {"status": "up"}
            }
        });
        (StatusCode::OK, axum::Json(body)).into_response()
    })
    .await
}

async fn route(State(sim): State<Sim>, body: Bytes) -> Response {
    observed(&sim.clone(), "POST", "/route", false, |fault| async move {
        let Some(req) = parse_object(&body) else { return unprocessable("body must be a JSON object") };
        let Some(query) = req.get("query").and_then(Value::as_str) else {
            return unprocessable("field required: query");
        };
        if query.trim().is_empty() {
            // The backend's router raises on an empty query: a 500, not a 400.
            return error_500("Routing failed: query cannot be empty");
        }
        sim.pause(0.015, 0.06).await;
        if fault == Fault::AppError {
            return error_500("routing failed: classifier unavailable");
        }
        let q = query.to_ascii_lowercase();
        let (model_type, reason) = if ["code", "python", "javascript", "sql", "debug", "function", "algorithm"].iter().any(|k| q.contains(k)) {
            (CODE_MODEL, "programming keywords")
        } else if ["image", "draw", "picture", "logo", "paint"].iter().any(|k| q.contains(k)) {
            (IMAGE_MODEL, "visual request")
        } else if ["news", "latest", "today"].iter().any(|k| q.contains(k)) {
            ("web-enhanced", "needs fresh information")
        } else {
            ("default", "general question")
        };
        let body = json!({
            "success": true,
            "query": query,
            "routing": {"model_type": model_type, "confidence": 0.87, "reasoning": reason, "suggested_parameters": {"temperature": 0.7}}
        });
        (StatusCode::OK, axum::Json(body)).into_response()
    })
    .await
}

async fn generate(State(sim): State<Sim>, body: Bytes) -> Response {
    observed(&sim.clone(), "POST", "/generate", false, |fault| async move {
        let Some(req) = parse_object(&body) else { return unprocessable("body must be a JSON object") };
        let Some(prompt) = req.get("prompt").and_then(Value::as_str) else {
            return unprocessable("field required: prompt");
        };
        if prompt.trim().is_empty() {
            return (StatusCode::BAD_REQUEST, axum::Json(json!({"detail": "Prompt cannot be empty"}))).into_response();
        }
        let preferred = req.pointer("/routing_metadata/preferred_model").and_then(Value::as_str);
        let class = match (preferred, req.get("model").and_then(Value::as_str)) {
            (Some("image"), _) => RequestClass::Image,
            (Some("code"), _) | (_, Some(CODE_MODEL)) => RequestClass::Code,
            _ if prompt.starts_with("Create an image") => RequestClass::Image,
            _ => RequestClass::Text,
        };
        let published = sim.config.backend == Backend::Published;
        let (pool, response_type) = match class {
            // As published, the image adapter is a module without `generate_image`.
            RequestClass::Image if published => {
                sim.pause(0.002, 0.002).await;
                return published_image_failure(prompt);
            }
            RequestClass::Image => (&sim.image, "image"),
            // As published, the code adapter is bound as a module: the text model answers.
            RequestClass::Code if published => (&sim.text, "text"),
            RequestClass::Code => (&sim.code, "code"),
            RequestClass::Text => (&sim.text, "text"),
        };
        if fault == Fault::AppError {
            return app_failure(prompt, sim.faults.app_error_message(pool.name));
        }
        let service = models::generation_seconds(pool.name) * sim.faults.jitter() * sim.config.time_scale;
        // The model in memory first (a load, or a swap, as Ollama schedules), all within the
        // model client's timeout; the lease keeps it loaded while this request needs it.
        let deadline = sim.config.scaled_model_timeout();
        let asked = std::time::Instant::now();
        let Ok((_lease, _)) = tokio::time::timeout(deadline, sim.residency.acquire(pool.name)).await else {
            return app_failure(prompt, LLM_FAILURE.to_string());
        };
        let left = deadline.saturating_sub(asked.elapsed());
        match pool.serve(Duration::from_secs_f64(service), left).await {
            Ok(()) => {}
            // What AURAX makes of the model server's "busy" and of its own client's timeout.
            Err(NotServed::QueueFull { queued }) if sim.config.overload == Overload::Refuse => {
                return app_failure(prompt, format!("Model {} is overloaded: {queued} requests queued", pool.name));
            }
            Err(NotServed::QueueFull { .. } | NotServed::TimedOut) => {
                return app_failure(prompt, LLM_FAILURE.to_string());
            }
        }
        sim.metrics.model_used(pool.name);
        let text_len = match response_type {
            "image" => LOREM.len(),
            _ => 2048.min(LOREM.len()),
        };
        let body = json!({
            "success": true,
            "query": prompt,
            "context": [],
            "response": &LOREM[..text_len],
            "response_type": response_type,
            "metadata": {
                "context_docs_count": 0,
                "model_used": pool.name,
                "prompt_length": prompt.len(),
                "routing": {"model_type": model_type(pool.name), "confidence": 0.5, "reasoning": "simulated", "suggested_parameters": {"temperature": 0.7}},
            },
            "routing_info": {"selected": pool.name},
            "error": null,
        });
        (StatusCode::OK, axum::Json(body)).into_response()
    })
    .await
}

/// What a `/generate` request asks for, before the backend decides who serves it.
#[derive(Clone, Copy)]
enum RequestClass {
    Text,
    Code,
    Image,
}

/// AURAX's answer when its model client fails: the model server's 503 "busy", its own
/// timeout, any Ollama error.
const LLM_FAILURE: &str = "Failed to generate response from LLM";

/// `routing.model_type` as `/route` names the model kinds.
fn model_type(model: &str) -> &'static str {
    match model {
        CODE_MODEL => CODE_MODEL,
        IMAGE_MODEL => IMAGE_MODEL,
        _ => "default",
    }
}

fn published_image_failure(prompt: &str) -> Response {
    let body = json!({"success": false, "query": prompt, "context": [], "response": "", "response_type": "error", "metadata": {},
        "error": "Image generation error: module 'app.adapters.stable_diffusion_adapter' has no attribute 'generate_image'"});
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn metrics(State(sim): State<Sim>) -> Response {
    match sim.config.metrics {
        MetricsFlavour::Off => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"detail": "Not Found"})),
        )
            .into_response(),
        MetricsFlavour::Published => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=1.0.0; charset=utf-8",
            )],
            sim.metrics
                .render_published(sim.started.elapsed().as_secs_f64()),
        )
            .into_response(),
        MetricsFlavour::Full => full_metrics(&sim),
    }
}

fn full_metrics(sim: &Simulator) -> Response {
    let pools = [&sim.text, &sim.code, &sim.image];
    let queue: Vec<(String, f64)> = pools
        .iter()
        .map(|p| (format!("{{model=\"{}\"}}", p.name), f64::from(p.queued())))
        .collect();
    let busy: Vec<(String, f64)> = pools
        .iter()
        .map(|p| (format!("{{model=\"{}\"}}", p.name), f64::from(p.busy())))
        .collect();
    let host = ModelledHost {
        cpu_seconds: IDLE_CORES * sim.started.elapsed().as_secs_f64()
            + pools.iter().map(|p| p.busy_seconds()).sum::<f64>(),
        resident_bytes: BASE_MEMORY
            + pools
                .iter()
                .map(|p| {
                    f64::from(p.busy()) * MEMORY_PER_GENERATION
                        + f64::from(p.queued()) * MEMORY_PER_WAITING
                })
                .sum::<f64>(),
        cores: f64::from(sim.config.text_slots + sim.config.code_slots + sim.config.image_slots),
    };
    let gauges = [
        (
            "aurax_model_queue_depth",
            "Requests waiting for a model slot.",
            queue,
        ),
        (
            "aurax_model_busy_slots",
            "Generations under way per model.",
            busy,
        ),
    ];
    let mut text = sim.metrics.render(&gauges, &host);
    residency_counters(&mut text, sim);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// The model server's own count of loads, swaps, unloads and time spent loading (the
/// simulator's ground truth: Ollama exposes none of it).
fn residency_counters(out: &mut String, sim: &Simulator) {
    use std::fmt::Write;
    let counts = sim.residency.counts();
    type Family = (
        &'static str,
        &'static str,
        fn(&super::residency::ModelCounts) -> f64,
    );
    let families: [Family; 4] = [
        (
            "aurax_simulated_model_loads_total",
            "Models loaded into memory.",
            |c| c.loads as f64,
        ),
        (
            "aurax_simulated_model_swaps_total",
            "Loads that first unloaded another model to make room.",
            |c| c.swaps as f64,
        ),
        (
            "aurax_simulated_model_unloads_total",
            "Models unloaded (to make room, or idle past keep_alive).",
            |c| c.unloads as f64,
        ),
        (
            "aurax_simulated_model_load_seconds_total",
            "Seconds spent loading models.",
            |c| c.load_seconds,
        ),
    ];
    for (name, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        for c in &counts {
            let _ = writeln!(out, "{name}{{model=\"{}\"}} {}", c.name, value(c));
        }
    }
}

/// The simulated AURAX host's CPU and memory, modelled from its work: one core per
/// generation under way, memory per generation and per waiting request. (The simulator may
/// share its process with the load generator, whose own use would hide the target's.)
pub struct ModelledHost {
    pub cpu_seconds: f64,
    pub resident_bytes: f64,
    /// One core per model slot: the CPU when every slot is busy.
    pub cores: f64,
}

const IDLE_CORES: f64 = 0.02;
const BASE_MEMORY: f64 = 512.0 * 1024.0 * 1024.0;
const MEMORY_PER_GENERATION: f64 = 24.0 * 1024.0 * 1024.0;
const MEMORY_PER_WAITING: f64 = 1024.0 * 1024.0;

/// Counts the request in `/metrics`, applies delays and transport-level faults, then runs
/// the handler with the fault it should act on (`AppError` or `None`).
async fn observed<F, Fut>(
    sim: &Sim,
    method: &str,
    handler: &'static str,
    is_health: bool,
    f: F,
) -> Response
where
    F: FnOnce(Fault) -> Fut,
    Fut: Future<Output = Response>,
{
    let start = Instant::now();
    sim.metrics.started(method, handler);
    let (fault, slow) = sim.faults.draw(is_health);
    if !slow.is_zero() {
        tokio::time::sleep(slow).await;
    }
    if let Some((at, length)) = sim.config.faults.stall {
        let since = sim.started.elapsed();
        if since >= at && since < at + length {
            tokio::time::sleep(at + length - since).await;
        }
    }
    let response = match fault {
        Fault::HttpError => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"detail": "Service Unavailable"})),
        )
            .into_response(),
        Fault::Garbage => (
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>502 Bad Gateway</body></html>",
        )
            .into_response(),
        Fault::Reset => cut_mid_response(),
        Fault::HugeBody => huge_body(),
        Fault::AppError | Fault::None => f(fault).await,
    };
    sim.metrics.finished(method, handler);
    sim.metrics
        .observe(method, handler, response.status().as_u16(), start.elapsed());
    response
}

impl Simulator {
    /// Sleeps a uniform time in `lo..hi` seconds, scaled.
    async fn pause(&self, lo: f64, hi: f64) {
        let secs = (lo + (hi - lo) * (self.faults.jitter() - 0.8) / 0.4) * self.config.time_scale;
        tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))).await;
    }
}

fn parse_object(body: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
}

fn app_failure(prompt: &str, error: String) -> Response {
    let body = json!({"success": false, "query": prompt, "context": [], "response": "", "response_type": "error", "metadata": {}, "error": error});
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn error_500(msg: &str) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(json!({"success": false, "detail": msg})),
    )
        .into_response()
}

fn unprocessable(msg: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({"detail": [{"msg": msg}]})),
    )
        .into_response()
}

/// A response whose body stream fails after the first chunk: hyper cuts the connection.
fn cut_mid_response() -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"{\"success\": true, \"response\": \"")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated reset",
        )),
    ];
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn huge_body() -> Response {
    let chunk = Bytes::from(vec![b'x'; 1 << 20]);
    let chunks = (0..64).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

const LOREM: &str = include_str!("lorem.txt");
