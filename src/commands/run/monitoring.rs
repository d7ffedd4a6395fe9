//! `run --metrics-listen/--scrape/--watch-pid`: the live exporter and the resource sampler,
//! started before the load and stopped after it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aurax_schema::{SCHEMA_VERSION, meta, resource_schema};
use tokio::sync::watch;

use crate::exit::{ExitCode, Fail, fail};
use crate::monitor::exporter::{self, Exporter};
use crate::monitor::{SamplerConfig, SamplerReport, sampler};
use crate::runner::Shared;
use crate::sink::ResourceWriter;
use crate::stats::RunStats;

pub struct Monitoring {
    exporter: Option<Exporter>,
    running: Arc<AtomicBool>,
    hold: Duration,
    stop: watch::Sender<bool>,
    sampler: tokio::task::JoinHandle<SamplerReport>,
}

/// `--metrics-listen`, `--metrics-hold`, `--sample-interval`, `--scrape`, `--watch-pid`.
pub struct MonitorFlags {
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub metrics_hold: Duration,
    pub sample_interval: Option<Duration>,
    /// Prometheus endpoints to sample; none: the built-in simulator's, when it is the target.
    pub scrape: Vec<String>,
    pub watch_pid: Vec<u32>,
    /// Ollama's base URL, whose `/api/ps` is sampled.
    pub ollama: Option<String>,
}

/// The monitoring flags, checked, with the exporter's port already bound.
pub struct MonitorPlan {
    listener: Option<std::net::TcpListener>,
    hold: Duration,
    interval: Duration,
    scrape: Vec<String>,
    watch_pid: Vec<u32>,
    ollama: Option<String>,
}

/// Resource samples per run when --sample-interval is not given and the run is short.
const SAMPLES_PER_SHORT_RUN: u32 = 30;

/// 5 s, the usual Prometheus-like cadence; a shorter run (the README's 30 s one) is sampled
/// 30 times, at least every second, so each of its load levels gets samples of its own.
fn default_interval(run_time: Duration) -> Duration {
    (run_time / SAMPLES_PER_SHORT_RUN).clamp(Duration::from_secs(1), Duration::from_secs(5))
}

/// Checks the monitoring flags and binds `--metrics-listen`, before any load or file.
/// `run_time` is the run's planned length (it sets the default sample interval).
pub fn prepare(flags: &MonitorFlags, run_time: Option<Duration>) -> Result<MonitorPlan, Fail> {
    let listener = match flags.metrics_listen {
        None => None,
        Some(addr) => Some(std::net::TcpListener::bind(addr).map_err(|e| {
            fail(
                ExitCode::CannotListen,
                format!("--metrics-listen {addr}: cannot listen: {e}"),
            )
        })?),
    };
    let interval = flags
        .sample_interval
        .unwrap_or_else(|| run_time.map_or(Duration::from_secs(5), default_interval));
    Ok(MonitorPlan {
        listener,
        hold: flags.metrics_hold,
        interval,
        scrape: flags.scrape.clone(),
        watch_pid: flags.watch_pid.clone(),
        ollama: flags.ollama.clone(),
    })
}

pub async fn start(
    plan: MonitorPlan,
    dir: &Path,
    run_id: &str,
    shared: Arc<Shared>,
    stats: Arc<Mutex<RunStats>>,
    simulator_metrics: Option<String>,
) -> Result<Monitoring, Fail> {
    let MonitorPlan {
        listener,
        hold,
        interval,
        mut scrape,
        watch_pid,
        ollama,
    } = plan;
    let running = Arc::new(AtomicBool::new(true));
    let exporter = match listener {
        Some(l) => {
            let e = exporter::start(l, shared, stats, running.clone(), watch_pid.clone())
                .await
                .map_err(|e| fail(ExitCode::Failure, format!("--metrics-listen: {e}")))?;
            eprintln!("live metrics (Prometheus) at {}", e.url());
            Some(e)
        }
        None => None,
    };
    if scrape.is_empty() {
        scrape.extend(simulator_metrics);
    }
    let metadata = HashMap::from([
        (meta::SCHEMA_VERSION.to_string(), SCHEMA_VERSION.to_string()),
        (meta::RUN_ID.to_string(), run_id.to_string()),
    ]);
    let writer = ResourceWriter::new(dir, resource_schema(metadata));
    let config = SamplerConfig {
        scrape,
        pids: watch_pid,
        ollama,
        interval,
        segment_rows: sampler::SEGMENT_ROWS,
    };
    let (stop, stopped) = watch::channel(false);
    let sampler = tokio::spawn(sampler::run(config, writer, stopped));
    Ok(Monitoring {
        exporter,
        running,
        hold,
        stop,
        sampler,
    })
}

impl Monitoring {
    /// The load is over: a last sample, the file written, the exporter held then stopped.
    pub async fn finish(self) -> SamplerReport {
        self.running.store(false, Ordering::Relaxed);
        let _ = self.stop.send(true);
        let report = self.sampler.await.unwrap_or_default();
        if let Some(e) = self.exporter {
            if !self.hold.is_zero() {
                eprintln!("holding {} for {:?} for a last scrape", e.url(), self.hold);
                tokio::time::sleep(self.hold).await;
            }
            e.task.abort();
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_runs_are_sampled_thirty_times_and_long_ones_every_five_seconds() {
        let s = Duration::from_secs;
        assert_eq!(default_interval(s(30)), s(1));
        assert_eq!(default_interval(s(90)), s(3));
        assert_eq!(default_interval(s(3600)), s(5));
        assert_eq!(default_interval(Duration::MAX), s(5));
        assert_eq!(default_interval(s(5)), s(1));
    }
}
