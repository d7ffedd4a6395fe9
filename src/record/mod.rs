//! The recording proxy: a reverse proxy on loopback that forwards every request to the
//! upstream unchanged and appends it, with its response status and latency, to a JSONL trace
//! that `run --trace` replays. Lines are written by their own thread through a bounded
//! channel and flushed whenever the proxy is idle, so a killed recorder keeps what it saw.

mod line;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

pub use line::{RecordedLine, redact_headers};

use crate::scenario::Scenario;
use crate::trace::{ENDPOINT_HEADER, EndpointResolver, PROBE_HEADER, is_connection_header};

/// Largest request body forwarded.
const MAX_BODY: usize = 64 * 1024 * 1024;

pub struct RecorderConfig {
    pub upstream: String,
    pub out: PathBuf,
    /// Keep Authorization and cookie values in the trace instead of `<redacted>`.
    pub keep_secrets: bool,
    pub timeout: Duration,
}

struct Proxy {
    client: reqwest::Client,
    upstream: String,
    resolver: EndpointResolver,
    keep_secrets: bool,
    started: Instant,
    start_wall: chrono::DateTime<chrono::Utc>,
    lines: mpsc::Sender<String>,
    recorded: AtomicU64,
}

/// A running recorder: its address, and a handle that says how many requests it recorded.
pub struct Recorder {
    pub addr: SocketAddr,
    recorded: Arc<Proxy>,
    writer: std::thread::JoinHandle<std::io::Result<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: tokio::sync::oneshot::Sender<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("--out {path}: {source}")]
    Out {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Binds, opens the trace file and starts forwarding.
pub async fn start(
    addr: SocketAddr,
    scenario: Arc<Scenario>,
    config: RecorderConfig,
) -> Result<Recorder, RecordError> {
    let file = std::fs::File::create(&config.out).map_err(|source| RecordError::Out {
        path: config.out.clone(),
        source,
    })?;
    let (tx, rx) = mpsc::channel::<String>(65_536);
    let writer = std::thread::Builder::new()
        .name("trace-writer".into())
        .spawn(move || write_lines(file, rx))
        .map_err(|source| RecordError::Out {
            path: config.out.clone(),
            source,
        })?;
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        .tcp_nodelay(true)
        .build()?;
    let proxy = Arc::new(Proxy {
        client,
        upstream: config.upstream.trim_end_matches('/').to_string(),
        resolver: EndpointResolver::new(scenario),
        keep_secrets: config.keep_secrets,
        started: Instant::now(),
        start_wall: chrono::Utc::now(),
        lines: tx,
        recorded: AtomicU64::new(0),
    });
    let app = Router::new()
        .fallback(forward)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(proxy.clone());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| RecordError::Listen { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| RecordError::Listen { addr, source })?;
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Recorder {
        addr,
        recorded: proxy,
        writer,
        server,
        shutdown,
    })
}

impl Recorder {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish, writes the last lines; returns how
    /// many requests were recorded.
    pub async fn stop(self) -> std::io::Result<u64> {
        let _ = self.shutdown.send(());
        let _ = self.server.await;
        let recorded = self.recorded.recorded.load(Ordering::Relaxed);
        // The writer ends when the last sender (the proxy state) is gone.
        drop(self.recorded);
        tokio::task::spawn_blocking(move || self.writer.join())
            .await
            .map_err(std::io::Error::other)?
            .map_err(|_| std::io::Error::other("the trace writer panicked"))??;
        Ok(recorded)
    }
}

fn write_lines(file: std::fs::File, mut rx: mpsc::Receiver<String>) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
    while let Some(line) = rx.blocking_recv() {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        // Flush whenever nothing else is waiting: lines reach the disk within moments.
        while let Ok(line) = rx.try_recv() {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    out.flush()
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let arrived = Instant::now();
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, format!("request body: {e}")).into_response();
        }
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
    let mut upstream = proxy
        .client
        .request(parts.method.clone(), format!("{}{}", proxy.upstream, path))
        .body(body.clone());
    for (name, value) in &parts.headers {
        if !is_connection_header(name.as_str()) {
            upstream = upstream.header(name, value);
        }
    }
    let result = upstream.send().await;
    // The answer streams through as it comes: whatever its size, the proxy holds a chunk at a
    // time, never the whole body (the trace records requests, not answers).
    let (status, headers, response_body) = match result {
        Ok(r) => (
            r.status(),
            r.headers().clone(),
            Body::from_stream(chunks(r)),
        ),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            HeaderMap::new(),
            Body::from(format!("upstream: {}", crate::http::describe(&e))),
        ),
    };
    let latency = arrived.elapsed();
    if !parts.headers.contains_key(PROBE_HEADER) {
        record(
            &proxy,
            &parts,
            &path,
            &body,
            status.as_u16(),
            arrived,
            latency,
        )
        .await;
    }
    let mut response = Response::new(response_body);
    *response.status_mut() = status;
    for (name, value) in &headers {
        if !is_connection_header(name.as_str()) {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

/// The response body as a stream of its chunks; it ends after the first error.
fn chunks(
    response: reqwest::Response,
) -> impl futures_util::Stream<Item = Result<Bytes, reqwest::Error>> {
    futures_util::stream::unfold(Some(response), |state| async move {
        let mut r = state?;
        match r.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(r))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    })
}

async fn record(
    proxy: &Proxy,
    parts: &axum::http::request::Parts,
    path: &str,
    body: &Bytes,
    status: u16,
    arrived: Instant,
    latency: Duration,
) {
    let named = parts
        .headers
        .get(ENDPOINT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let endpoint = named.or_else(|| {
        proxy
            .resolver
            .resolve(None, parts.method.as_str(), path, json.as_ref())
            .ok()
            .map(|id| proxy.resolver.scenario().endpoints[id].name.clone())
    });
    let since = arrived.duration_since(proxy.started);
    let line = RecordedLine {
        timestamp: proxy.start_wall + chrono::Duration::from_std(since).unwrap_or_default(),
        offset_ms: since.as_secs_f64() * 1000.0,
        endpoint,
        method: parts.method.as_str().to_string(),
        path: if proxy.keep_secrets {
            path.to_string()
        } else {
            crate::redact::url(path)
        },
        headers: redact_headers(&parts.headers, proxy.keep_secrets),
        body: match (json, body.is_empty()) {
            (_, true) => None,
            (Some(v), false) => Some(v),
            (None, false) => Some(serde_json::Value::String(
                String::from_utf8_lossy(body).into_owned(),
            )),
        },
        status,
        latency_ms: latency.as_secs_f64() * 1000.0,
    };
    if proxy.lines.send(line.to_json()).await.is_ok() {
        proxy.recorded.fetch_add(1, Ordering::Relaxed);
    }
}
