//! The model server behind AURAX, asked directly: Ollama's API (`/api/generate`, `/api/chat`,
//! NDJSON streams, on by default) and the OpenAI-compatible one (`/v1/completions`,
//! `/v1/chat/completions`, server-sent events with `"stream": true`). Generations share the
//! model slots and queues AURAX's `/generate` uses, so a direct run meets the same capacity.
//!
//! Token timing (scaled by the time scale): the request waits for the model's load (a cold
//! start, `--model-load`), then in the model's FIFO queue for a slot; the prompt takes
//! `prompt_token_time` per token (4 characters) and its end is the first token; then one token
//! every `token_time`. Ollama's durations report exactly those phases, so its
//! `total_duration` less load, prompt and generation is the queue wait.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Simulator;
use super::models::{CODE_MODEL, IMAGE_MODEL, ModelPool, NotServed, TEXT_MODEL};

type Sim = Arc<Simulator>;

pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/api/generate", post(ollama_generate))
        .route("/api/chat", post(ollama_chat))
        .route("/api/tags", get(ollama_tags))
        .route("/api/ps", get(ollama_ps))
        .route("/api/version", get(ollama_version))
        .route("/v1/completions", post(openai_completions))
        .route("/v1/chat/completions", post(openai_chat))
        .route("/v1/models", get(openai_models))
        .with_state(sim)
}

/// Which API a request came by: how its answer is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    OllamaGenerate,
    OllamaChat,
    OpenAiCompletions,
    OpenAiChat,
}

impl Api {
    fn is_ollama(self) -> bool {
        matches!(self, Api::OllamaGenerate | Api::OllamaChat)
    }

    fn handler(self) -> &'static str {
        match self {
            Api::OllamaGenerate => "/api/generate",
            Api::OllamaChat => "/api/chat",
            Api::OpenAiCompletions => "/v1/completions",
            Api::OpenAiChat => "/v1/chat/completions",
        }
    }
}

/// Prompt tokens of a text, as the simulator counts them: a token per 4 characters, at
/// least one.
pub fn prompt_tokens(text: &str) -> u32 {
    (text.chars().count() as u32).div_ceil(4).max(1)
}

/// A generation asked for, as read from the request.
struct Ask {
    api: Api,
    /// The tag as the client named it (answers repeat it).
    model: String,
    pool: &'static str,
    prompt_tokens: u32,
    tokens: u32,
    /// The request set the limit (`done_reason` "length"), or not ("stop").
    limited: bool,
    stream: bool,
    /// OpenAI `stream_options.include_usage`.
    include_usage: bool,
}

/// What a generation task tells the answer, in order.
enum Event {
    Token(&'static str),
    Done(Report),
    Refused(NotServed),
}

/// Ollama's account of a generation.
struct Report {
    total: Duration,
    load: Duration,
    prompt: Duration,
    eval: Duration,
    prompt_tokens: u32,
    tokens: u32,
}

async fn ollama_generate(State(sim): State<Sim>, body: Bytes) -> Response {
    answer(sim, Api::OllamaGenerate, body).await
}

async fn ollama_chat(State(sim): State<Sim>, body: Bytes) -> Response {
    answer(sim, Api::OllamaChat, body).await
}

async fn openai_completions(State(sim): State<Sim>, body: Bytes) -> Response {
    answer(sim, Api::OpenAiCompletions, body).await
}

async fn openai_chat(State(sim): State<Sim>, body: Bytes) -> Response {
    answer(sim, Api::OpenAiChat, body).await
}

async fn ollama_tags() -> Response {
    let model = |name: &str| json!({"name": name, "model": name, "details": {"format": "gguf"}});
    axum::Json(json!({"models": [model(TEXT_MODEL), model(CODE_MODEL)]})).into_response()
}

/// `GET /api/ps`: the models in memory (or being loaded), as Ollama lists them; `size_vram`
/// is the part in GPU memory (all of it, unless a model is larger than the memory).
async fn ollama_ps(State(sim): State<Sim>) -> Response {
    let now = chrono::Utc::now();
    let models: Vec<Value> = sim
        .residency
        .loaded()
        .into_iter()
        .map(|m| {
            let expires = now + chrono::Duration::from_std(m.expires_in).unwrap_or_default();
            let vram = sim
                .config
                .model_memory
                .map_or(m.size_bytes, |b| b.min(m.size_bytes));
            json!({
                "name": m.name,
                "model": m.name,
                "size": m.size_bytes,
                "digest": digest(m.name),
                "details": details(m.name),
                "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "size_vram": vram,
                "context_length": 4096,
            })
        })
        .collect();
    axum::Json(json!({ "models": models })).into_response()
}

/// A stable stand-in for a model's sha256 digest (64 hex digits).
fn digest(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}").repeat(4)
}

/// `details` as Ollama gives them for each model.
fn details(name: &str) -> Value {
    let (family, parameters, quantization) = match name {
        CODE_MODEL => ("qwen3moe", "30.5B", "Q4_K_M"),
        IMAGE_MODEL => ("stable-diffusion", "1.1B", "F16"),
        _ => ("llama", "7.2B", "Q4_K_M"),
    };
    json!({"parent_model": "", "format": "gguf", "family": family, "families": [family],
        "parameter_size": parameters, "quantization_level": quantization})
}

async fn ollama_version() -> Response {
    axum::Json(json!({"version": "0.12.0"})).into_response()
}

async fn openai_models() -> Response {
    let model = |name: &str| json!({"id": name, "object": "model", "owned_by": "library"});
    axum::Json(json!({"object": "list", "data": [model(TEXT_MODEL), model(CODE_MODEL)]}))
        .into_response()
}

/// The model pool a tag names: the configured tags, or any tag of the same family.
fn pool_of(model: &str) -> Option<&'static str> {
    let m = model.to_ascii_lowercase();
    if m == CODE_MODEL || m.contains("coder") || m.starts_with("qwen") {
        Some(CODE_MODEL)
    } else if m == TEXT_MODEL.to_ascii_lowercase() || m.starts_with("mistral") {
        Some(TEXT_MODEL)
    } else {
        None
    }
}

impl Simulator {
    fn pool(&self, name: &str) -> &ModelPool {
        match name {
            CODE_MODEL => &self.code,
            _ => &self.text,
        }
    }
}

/// Reads the request, or the status and message of the error the real server answers.
fn read_ask(sim: &Simulator, api: Api, body: &[u8]) -> Result<Ask, (StatusCode, String)> {
    let req: Value = serde_json::from_slice(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            (
                StatusCode::BAD_REQUEST,
                "invalid request body: not a JSON object".to_string(),
            )
        })?;
    let model = req.get("model").and_then(Value::as_str).unwrap_or_default();
    if model.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "model is required".into()));
    }
    let pool = pool_of(model).ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            format!("model \"{model}\" not found, try pulling it first"),
        )
    })?;
    let text = match api {
        Api::OllamaGenerate | Api::OpenAiCompletions => req
            .get("prompt")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        Api::OllamaChat | Api::OpenAiChat => req
            .get("messages")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter()
                    .filter_map(|m| m.get("content").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
    };
    if text.trim().is_empty() {
        return Err((StatusCode::BAD_REQUEST, "prompt is required".into()));
    }
    let limit = if api.is_ollama() {
        req.pointer("/options/num_predict").and_then(Value::as_i64)
    } else {
        req.get("max_tokens")
            .or_else(|| req.get("max_completion_tokens"))
            .and_then(Value::as_i64)
    }
    .filter(|n| *n > 0);
    let stream = req
        .get("stream")
        .and_then(Value::as_bool)
        // Ollama streams unless told not to; OpenAI only when asked.
        .unwrap_or(api.is_ollama());
    Ok(Ask {
        api,
        model: model.to_string(),
        pool,
        prompt_tokens: prompt_tokens(&text),
        tokens: limit.map_or(sim.config.tokens.default_tokens, |n| n.min(131_072) as u32),
        limited: limit.is_some(),
        stream,
        include_usage: req
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true),
    })
}

async fn answer(sim: Sim, api: Api, body: Bytes) -> Response {
    let arrived = Instant::now();
    sim.metrics.started("POST", api.handler());
    let response = match read_ask(&sim, api, &body) {
        Ok(ask) => generate(sim.clone(), ask, arrived).await,
        Err((status, message)) => error(api, status, &message),
    };
    sim.metrics.finished("POST", api.handler());
    sim.metrics.observe(
        "POST",
        api.handler(),
        response.status().as_u16(),
        arrived.elapsed(),
    );
    response
}

/// Starts the generation and shapes its events as the API answers: a stream (Ollama: its
/// headers with the first token, as Ollama writes nothing before; OpenAI: at once) or one
/// body at the end.
async fn generate(sim: Sim, ask: Ask, arrived: Instant) -> Response {
    let (tx, mut rx) = mpsc::channel(64);
    tokio::spawn(generation(
        sim.clone(),
        ask.pool,
        ask.prompt_tokens,
        ask.tokens,
        arrived,
        tx,
    ));
    if !ask.stream {
        let mut text = String::new();
        while let Some(event) = rx.recv().await {
            match event {
                Event::Token(t) => text.push_str(t),
                Event::Done(report) => return whole(&ask, text, &report),
                Event::Refused(why) => return refused(ask.api, why),
            }
        }
        return error(
            ask.api,
            StatusCode::INTERNAL_SERVER_ERROR,
            "generation stopped",
        );
    }
    let first = if ask.api.is_ollama() {
        match rx.recv().await {
            Some(Event::Refused(why)) => return refused(ask.api, why),
            Some(event) => Some(event),
            None => {
                return error(
                    ask.api,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "generation stopped",
                );
            }
        }
    } else {
        None
    };
    let content_type = if ask.api.is_ollama() {
        "application/x-ndjson"
    } else {
        "text/event-stream"
    };
    let ask = Arc::new(ask);
    let chunks =
        futures_util::stream::unfold((rx, first, false), move |(mut rx, pending, ended)| {
            let ask = ask.clone();
            async move {
                if ended {
                    return None;
                }
                let event = match pending {
                    Some(e) => e,
                    None => rx.recv().await?,
                };
                let (text, ended) = match event {
                    Event::Token(t) => (chunk(&ask, t), false),
                    Event::Done(report) => (last_chunks(&ask, &report), true),
                    Event::Refused(why) => (failed_chunk(&ask, why), true),
                };
                let item = Ok::<_, std::convert::Infallible>(Bytes::from(text));
                Some((item, (rx, None, ended)))
            }
        });
    (
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// The generation itself, on its own task: load, queue, prompt, tokens, each timed; it
/// stops (freeing its slot) as soon as the answer is dropped (the client went away).
async fn generation(
    sim: Sim,
    model: &'static str,
    prompt_tokens: u32,
    tokens: u32,
    arrived: Instant,
    tx: mpsc::Sender<Event>,
) {
    let pool = sim.pool(model);
    let scale = sim.config.time_scale.max(0.0);
    let timing = &sim.config.tokens;
    // Ollama's load_duration: the time until the model was in memory for this request.
    let (_lease, load) = tokio::select! {
        held = sim.residency.acquire(model) => held,
        _ = tx.closed() => return,
    };
    let queued = match pool.enqueue() {
        Ok(q) => q,
        Err(why) => {
            let _ = tx.send(Event::Refused(why)).await;
            return;
        }
    };
    let slot = tokio::select! {
        slot = queued.slot() => slot,
        _ = tx.closed() => return,
    };
    let prompt_start = Instant::now();
    let prompt = timing.prompt_token.mul_f64(scale) * prompt_tokens;
    let step = timing.token_of(model).mul_f64(scale);
    let first = prompt_start + prompt;
    // Tokens as models give them: a word with its following space.
    let mut words = LOREM.split_inclusive(char::is_whitespace).cycle();
    // Each token at its own time from the first as it went out: no drift from timer
    // rounding, and a first token the timer woke late does not squeeze the gaps after it
    // (a model generates each token after the one before).
    let mut anchor = first;
    for k in 0..tokens {
        let due = anchor + step * k;
        if due > Instant::now() {
            tokio::select! {
                _ = tokio::time::sleep_until(due.into()) => {}
                _ = tx.closed() => return,
            }
        }
        let word = words.next().unwrap_or("token");
        if tx.send(Event::Token(word)).await.is_err() {
            return;
        }
        if k == 0 {
            anchor = anchor.max(Instant::now());
        }
    }
    let end = Instant::now();
    slot.served(pool);
    sim.metrics.model_used(pool.name);
    let report = Report {
        total: end.duration_since(arrived),
        load,
        prompt,
        eval: end.saturating_duration_since(first),
        prompt_tokens,
        tokens,
    };
    let _ = tx.send(Event::Done(report)).await;
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos().min(u128::from(u64::MAX)) as u64
}

/// The text of a token as each API carries it.
fn with_text(ask: &Ask, text: &str, finish: Option<&str>) -> Value {
    match ask.api {
        Api::OllamaGenerate => {
            json!({"model": ask.model, "created_at": now_rfc3339(), "response": text, "done": false})
        }
        Api::OllamaChat => json!({"model": ask.model, "created_at": now_rfc3339(),
            "message": {"role": "assistant", "content": text}, "done": false}),
        Api::OpenAiCompletions => json!({"id": "cmpl-sim", "object": "text_completion",
            "created": unix_now(), "model": ask.model,
            "choices": [{"index": 0, "text": text, "finish_reason": finish}]}),
        Api::OpenAiChat => json!({"id": "chatcmpl-sim", "object": "chat.completion.chunk",
            "created": unix_now(), "model": ask.model,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": finish}]}),
    }
}

fn framed(ask: &Ask, value: &Value) -> String {
    if ask.api.is_ollama() {
        format!("{value}\n")
    } else {
        format!("data: {value}\n\n")
    }
}

fn chunk(ask: &Ask, token: &str) -> String {
    framed(ask, &with_text(ask, token, None))
}

fn done_reason(ask: &Ask) -> &'static str {
    if ask.limited { "length" } else { "stop" }
}

fn usage(report: &Report) -> Value {
    json!({"prompt_tokens": report.prompt_tokens, "completion_tokens": report.tokens,
        "total_tokens": report.prompt_tokens + report.tokens})
}

/// Ollama's report fields.
fn ollama_report(object: &mut Value, ask: &Ask, report: &Report) {
    let fields = json!({"done": true, "done_reason": done_reason(ask),
        "total_duration": nanos(report.total), "load_duration": nanos(report.load),
        "prompt_eval_count": report.prompt_tokens, "prompt_eval_duration": nanos(report.prompt),
        "eval_count": report.tokens, "eval_duration": nanos(report.eval)});
    if let (Some(o), Some(f)) = (object.as_object_mut(), fields.as_object()) {
        o.extend(f.clone());
    }
}

/// The end of a stream: Ollama's final chunk with its report; OpenAI's finishing chunk, its
/// usage when asked for, and `[DONE]`.
fn last_chunks(ask: &Ask, report: &Report) -> String {
    if ask.api.is_ollama() {
        let mut last = with_text(ask, "", None);
        ollama_report(&mut last, ask, report);
        return framed(ask, &last);
    }
    let mut finish = with_text(ask, "", Some(done_reason(ask)));
    if ask.api == Api::OpenAiChat {
        finish["choices"][0]["delta"] = json!({});
    }
    let mut out = framed(ask, &finish);
    if ask.include_usage {
        let mut tail = with_text(ask, "", None);
        tail["choices"] = json!([]);
        tail["usage"] = usage(report);
        out += &framed(ask, &tail);
    }
    out + "data: [DONE]\n\n"
}

/// A stream whose generation was refused after its headers went out (OpenAI: headers first).
fn failed_chunk(ask: &Ask, why: NotServed) -> String {
    let value = json!({"error": {"message": not_served(&why), "type": "server_error"}});
    framed(ask, &value)
}

fn not_served(why: &NotServed) -> String {
    match why {
        NotServed::QueueFull { .. } => {
            "server busy, please try again.  maximum pending requests exceeded".into()
        }
        NotServed::TimedOut => "timed out".into(),
    }
}

fn refused(api: Api, why: NotServed) -> Response {
    error(api, StatusCode::SERVICE_UNAVAILABLE, &not_served(&why))
}

/// A whole answer (`"stream": false`).
fn whole(ask: &Ask, text: String, report: &Report) -> Response {
    let mut body = match ask.api {
        Api::OpenAiChat => json!({"id": "chatcmpl-sim", "object": "chat.completion",
            "created": unix_now(), "model": ask.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                "finish_reason": done_reason(ask)}]}),
        Api::OpenAiCompletions => with_text(ask, &text, Some(done_reason(ask))),
        Api::OllamaGenerate | Api::OllamaChat => with_text(ask, &text, None),
    };
    if ask.api.is_ollama() {
        ollama_report(&mut body, ask, report);
    } else {
        body["usage"] = usage(report);
    }
    axum::Json(body).into_response()
}

/// An error as each server shapes it: Ollama `{"error": "..."}`, OpenAI `{"error": {...}}`.
fn error(api: Api, status: StatusCode, message: &str) -> Response {
    let body = if api.is_ollama() {
        json!({"error": message})
    } else {
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}})
    };
    (status, axum::Json(body)).into_response()
}

const LOREM: &str = include_str!("lorem.txt");
