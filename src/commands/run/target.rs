//! The run's target: the host given, or the built-in simulator started on loopback; its
//! connection pool sized for the load; reachable before any load goes out.

use std::net::SocketAddr;

use serde_json::{Value, json};

use super::plan::ResolvedRun;
use crate::exit::{ExitCode, Fail, OrExit, fail};
use crate::runner::Target;
use crate::shape::{LoadShape, Pace};
use crate::simulator::{self, SimulatorConfig};

/// The target, up and reachable.
pub(super) struct TargetUp {
    /// The base URL requests go to.
    pub host: String,
    /// The host as every file and message shows it: its password redacted.
    pub shown_host: String,
    /// The built-in simulator's settings, when it is the target.
    pub simulator: Option<Value>,
    pub target: Target,
    /// Keeps the built-in simulator running for the run.
    _simulator: Option<AbortOnDrop>,
}

impl TargetUp {
    /// Whether the target is the built-in simulator.
    pub fn simulated(&self) -> bool {
        self.simulator.is_some()
    }

    /// The client, and what keeps the built-in simulator up until it is dropped.
    pub fn into_parts(self) -> (Target, Option<AbortOnDrop>) {
        (self.target, self._simulator)
    }
}

/// Starts the simulator when no `--host` is given, builds the HTTP client and checks the
/// target answers (exit 4 when it cannot be reached).
pub(super) async fn start(run: &ResolvedRun) -> Result<TargetUp, Fail> {
    let (host, simulator, guard) = match &run.host {
        Some(h) => (h.trim_end_matches('/').to_string(), None, None),
        None => {
            warn_scrape_without_host(&run.monitor.scrape);
            let (url, record, guard) = start_simulator(run.plan.seed).await?;
            (url, Some(record), Some(guard))
        }
    };
    let shown_host = crate::redact::url(&host);
    let target = Target::new(
        &host,
        &run.scenario.base_path,
        &run.headers,
        run.timeout,
        run.max_body_bytes as usize,
        max_connections(&run.plan.shape),
    )
    .or_exit(ExitCode::BadInput)?;
    check_reachable(&target, &shown_host).await?;
    Ok(TargetUp {
        host,
        shown_host,
        simulator,
        target,
        _simulator: guard,
    })
}

/// The built-in simulator on a free loopback port: its URL, its settings as run.json
/// records them, and the guard that stops it.
async fn start_simulator(seed: u64) -> Result<(String, Value, AbortOnDrop), Fail> {
    let config = SimulatorConfig {
        seed,
        ..SimulatorConfig::default()
    };
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let sim = simulator::start(addr, config.clone())
        .await
        .or_exit(ExitCode::Failure)?;
    eprintln!(
        "no --host: started the built-in AURAX simulator at {} ({})",
        sim.url(),
        config.describe()
    );
    let record = json!({"time_scale": config.time_scale, "text_slots": config.text_slots,
        "code_slots": config.code_slots, "image_slots": config.image_slots,
        "overload": config.overload, "queue_limit": config.queue_limit,
        "model_timeout_s": config.scaled_model_timeout().as_secs_f64(), "backend": config.backend});
    Ok((sim.url(), record, AbortOnDrop(sim.task)))
}

/// Connections the load can hold open at once, and some room.
fn max_connections(shape: &LoadShape) -> usize {
    let load = match shape {
        LoadShape::Open { connections, .. }
        | LoadShape::Replay {
            pace: Pace::Recorded { connections, .. },
        } => connections.unwrap_or(256),
        LoadShape::Replay {
            pace: Pace::AsFastAsPossible { users },
        } => *users as usize,
        closed => closed.peak().ceil() as usize,
    };
    load + 16
}

/// Stops the in-process simulator when the run is over.
pub(super) struct AbortOnDrop(tokio::task::JoinHandle<std::io::Result<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `GET /health` before any load: unreachable ends the run (exit 4); a 404 or a 5xx is
/// warned of and the run goes on (a target may have no /health), so the failures that follow
/// have a cause.
async fn check_reachable(target: &Target, shown_host: &str) -> Result<(), Fail> {
    match target.preflight("/health").await {
        Err(e) => Err(fail(
            ExitCode::Unreachable,
            format!(
                "cannot reach {shown_host}: {e} (is AURAX running there? omit --host to use the built-in simulator)"
            ),
        )),
        Ok(404) => {
            eprintln!(
                "warning: GET {shown_host}/health answered HTTP 404: is the URL's path right (AURAX serves /health at its root)? running anyway"
            );
            Ok(())
        }
        Ok(status) if status >= 500 => {
            eprintln!(
                "warning: GET {shown_host}/health answered HTTP {status}: the target, or a proxy in front of it, is failing; running anyway"
            );
            Ok(())
        }
        Ok(_) => Ok(()),
    }
}

/// No --host: the load goes to the built-in simulator, so another server scraped would be
/// read as the target. Said before any load, per URL.
fn warn_scrape_without_host(scrape: &[String]) {
    for url in scrape {
        eprintln!(
            "warning: no --host: the load goes to the built-in simulator, not to {} that --scrape samples; add --host for that server",
            crate::redact::url(url)
        );
    }
}
