//! The live exporter (`--metrics-listen`): the run in Prometheus text exposition at
//! `/metrics`, for a Prometheus scraping it and the Grafana dashboard in `dashboards/`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

use super::procfs;
use crate::prom::{family, gauge};
use crate::runner::Shared;
use crate::stats::RunStats;

struct Live {
    /// Weak: the load's state holds the sink's sender, and the sink must be able to finish
    /// (and count the last outcomes) while the exporter still serves the final numbers.
    shared: Weak<Shared>,
    stats: Arc<Mutex<RunStats>>,
    running: Arc<AtomicBool>,
    /// `--watch-pid` processes, read from /proc at each scrape like the generator itself.
    watched: Vec<u32>,
}

pub struct Exporter {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Exporter {
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }
}

/// Serves `/metrics` on a listener bound beforehand (so a port in use fails before any
/// load or file), until the task is aborted. `running` turns `aurax_load_running` to 0 when
/// the load is over (the exporter may be held open for a last scrape).
pub async fn start(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    stats: Arc<Mutex<RunStats>>,
    running: Arc<AtomicBool>,
    watched: Vec<u32>,
) -> std::io::Result<Exporter> {
    let live = Arc::new(Live {
        shared: Arc::downgrade(&shared),
        stats,
        running,
        watched,
    });
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(live);
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Exporter { addr, task })
}

async fn metrics(State(live): State<Arc<Live>>) -> impl IntoResponse {
    let mut out = String::with_capacity(16 * 1024);
    // Copy under the lock, render outside it: the sink thread must never wait on a scrape.
    let counters = live.stats.lock().map(|s| s.prom.clone()).ok();
    if let Some(c) = counters {
        c.render(&mut out);
    }
    // Once the load's state is gone the run is over: no user, nothing in flight.
    let s = live.shared.upgrade();
    let (stage, target) = s.as_ref().map_or((0, 0.0), |s| s.stage());
    gauge(
        &mut out,
        "aurax_load_users_active",
        "Virtual users running (closed model; 0 in the open model).",
        f64::from(s.as_ref().map_or(0, |s| s.users_active())),
    );
    gauge(
        &mut out,
        "aurax_load_in_flight_requests",
        "Requests sent and not yet finished.",
        f64::from(s.as_ref().map_or(0, |s| s.in_flight())),
    );
    gauge(
        &mut out,
        "aurax_load_stage",
        "Index of the load stage under way (a replay: the --loop pass).",
        f64::from(stage),
    );
    gauge(
        &mut out,
        "aurax_load_stage_target",
        "The stage's target: users (closed model) or requests per second (open model, replay).",
        target,
    );
    drop(s);
    gauge(
        &mut out,
        "aurax_load_running",
        "1 while the load runs, 0 once it is over.",
        if live.running.load(Ordering::Relaxed) {
            1.0
        } else {
            0.0
        },
    );
    if let Some(u) = procfs::usage(None) {
        family(
            &mut out,
            "process_cpu_seconds_total",
            "counter",
            "CPU seconds used by the load generator.",
        );
        out.push_str(&format!("process_cpu_seconds_total {}\n", u.cpu_seconds));
        gauge(
            &mut out,
            "process_resident_memory_bytes",
            "Resident memory of the load generator.",
            u.resident_bytes,
        );
    }
    watched_processes(&mut out, &live.watched);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out,
    )
}

/// CPU, memory and disk I/O of the `--watch-pid` processes, labelled by pid; a process that
/// is gone (or a system without /proc) is left out rather than reported as zero.
fn watched_processes(out: &mut String, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let read: Vec<(u32, procfs::ProcessUsage)> = pids
        .iter()
        .filter_map(|p| Some((*p, procfs::usage(Some(*p))?)))
        .collect();
    type Field = fn(&procfs::ProcessUsage) -> Option<f64>;
    let families: [(&str, &str, &str, Field); 4] = [
        (
            "aurax_load_watched_process_cpu_seconds_total",
            "counter",
            "CPU seconds used by a --watch-pid process.",
            |u| Some(u.cpu_seconds),
        ),
        (
            "aurax_load_watched_process_resident_memory_bytes",
            "gauge",
            "Resident memory of a --watch-pid process.",
            |u| Some(u.resident_bytes),
        ),
        (
            "aurax_load_watched_process_read_bytes_total",
            "counter",
            "Bytes a --watch-pid process read from storage (/proc/PID/io read_bytes).",
            |u| u.io.map(|(r, _)| r),
        ),
        (
            "aurax_load_watched_process_written_bytes_total",
            "counter",
            "Bytes a --watch-pid process wrote to storage (/proc/PID/io write_bytes).",
            |u| u.io.map(|(_, w)| w),
        ),
    ];
    for (name, kind, help, field) in families {
        family(out, name, kind, help);
        for (pid, u) in &read {
            if let Some(v) = field(u) {
                out.push_str(&format!("{name}{{pid=\"{pid}\"}} {v}\n"));
            }
        }
    }
}
