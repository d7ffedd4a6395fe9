//! `aurax-tool run`: resolve the plan, prepare the run directory, find or start the target,
//! drive the load, close the files, print the table and the verdict.

mod capacity;
mod monitoring;
mod out_dir;
mod plan;
mod replay;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aurax_schema::{SCHEMA_VERSION, files, meta, request_schema};
use serde_json::json;
use tokio::sync::watch;

use crate::cli::RunArgs;
use crate::exit::{ExitCode, Fail, OrExit, fail};
use crate::runner::{self, LiveLine, Shared, StopReason, Target};
use crate::shape::{LoadShape, Pace};
use crate::simulator::{self, SimulatorConfig};
use crate::sink::{Manifest, RunStatus, SegmentPolicy, Sink};
use crate::stats::RunStats;

pub(crate) use plan::{ResolvedRun, resolve};

/// Lateness p99 above this means the generator, not the target, shaped some of the numbers.
const LATENESS_WARNING_MS: f64 = 5.0;

/// `aurax-tool run`.
pub fn execute(args: RunArgs) -> Result<ExitCode, Fail> {
    let run = resolve(&args)?;
    for note in &run.notes {
        eprintln!("note: {note}");
    }
    out_dir::prepare(&run.out_dir)?;
    let dir = run.out_dir.clone();
    let rt = super::runtime()?;
    let result = rt.block_on(run_async(args, run));
    if result.is_err() {
        // Failed before the run began (an unreachable host): give the directory back.
        out_dir::release(&dir);
    }
    result
}

async fn run_async(args: RunArgs, mut run: ResolvedRun) -> Result<ExitCode, Fail> {
    crate::http::install_tls_provider();
    let (host, simulated, sim_record, _sim) = match &args.host {
        Some(h) => (h.trim_end_matches('/').to_string(), false, None, None),
        None => {
            warn_scrape_without_host(&args.scrape);
            let config = SimulatorConfig {
                seed: run.plan.seed,
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
            (sim.url(), true, Some(record), Some(AbortOnDrop(sim.task)))
        }
    };
    // The host as every file and message shows it: its password redacted.
    let shown_host = crate::redact::url(&host);
    if !(host.starts_with("http://") || host.starts_with("https://")) {
        return Err(fail(
            ExitCode::BadInput,
            format!("--host {shown_host}: expected a URL such as http://localhost:8000"),
        ));
    }
    let max_conn = match &run.plan.shape {
        LoadShape::Open { connections, .. }
        | LoadShape::Replay {
            pace: Pace::Recorded { connections, .. },
        } => connections.unwrap_or(256),
        LoadShape::Replay {
            pace: Pace::AsFastAsPossible { users },
        } => *users as usize,
        closed => closed.peak().ceil() as usize,
    } + 16;
    let target = Target::new(
        &host,
        &run.scenario.base_path,
        &run.headers,
        run.timeout,
        args.max_body_bytes as usize,
        max_conn,
    )
    .or_exit(ExitCode::BadInput)?;
    check_reachable(&target, &shown_host).await?;

    // A distributed run's workers start together: wait for --start-at, or say how late.
    let start_late_ms = match args.start_at {
        Some(at) => Some(wait_for_start(at).await?),
        None => None,
    };
    let mut config = run.config_record(&args, &host, sim_record);
    // What the report's run header shows: the command as typed (secrets redacted), the
    // build that ran it and the load machine's cores.
    config["command"] = json!(crate::redact::command_line(
        &std::env::args().collect::<Vec<_>>()
    ));
    config["tool_commit"] = json!(env!("AURAX_COMMIT"));
    config["load_cores"] = json!(std::thread::available_parallelism().map_or(0, |n| n.get()));
    let started = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let targets_json = serde_json::to_string(&run.targets).or_exit(ExitCode::Failure)?;
    let mut metadata = HashMap::from([
        (meta::SCHEMA_VERSION.to_string(), SCHEMA_VERSION.to_string()),
        (
            meta::TOOL_VERSION.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        (meta::RUN_ID.to_string(), run.run_id.clone()),
        (meta::RUN_CONFIG.to_string(), config.to_string()),
        (meta::TARGET_HOST.to_string(), shown_host.clone()),
        (meta::START_TIME.to_string(), started.clone()),
        (meta::TARGETS.to_string(), targets_json),
        (
            meta::LOAD_MODEL.to_string(),
            if run.plan.shape.is_open() {
                "open"
            } else {
                "closed"
            }
            .to_string(),
        ),
    ]);
    match &run.replay {
        Some(r) => {
            metadata.insert(meta::TRACE.to_string(), r.record.to_string());
        }
        None if run.search.is_some() => {}
        None if run.offered_rps.is_finite() => {
            // A worker offers its share of the load.
            let share = f64::from(run.plan.shard.count);
            metadata.insert(
                meta::OFFERED_CEILING_RPS.to_string(),
                (run.offered_rps / share).to_string(),
            );
        }
        None => {}
    }
    if run.plan.shard.is_distributed() {
        metadata.insert(meta::WORKER.to_string(), run.plan.shard.to_string());
    }
    if let Some(on_start) = on_start_record(&run) {
        metadata.insert(meta::ON_START.to_string(), on_start);
    }
    if let Some(search) = &run.search {
        metadata.insert(
            meta::CAPACITY_SEARCH.to_string(),
            serde_json::to_string(search).or_exit(ExitCode::Failure)?,
        );
    }
    let mut manifest = Manifest {
        run_id: run.run_id.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version: SCHEMA_VERSION,
        status: RunStatus::Running,
        started_at: started,
        finished_at: None,
        target_host: shown_host.clone(),
        simulated_target: simulated,
        requests: 0,
        dropped: 0,
        cancelled: 0,
        resent: 0,
        partial_files: Vec::new(),
        failures: 0,
        request_file_count: 0,
        request_files: format!("{}*.{}", files::REQUEST_SEGMENT_PREFIX, files::PARQUET_EXT),
        config,
        targets: run.targets.clone(),
        shard: run
            .plan
            .shard
            .is_distributed()
            .then(|| run.plan.shard.to_string()),
        start_at: args
            .start_at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        start_late_ms,
    };
    let out_err =
        |e: std::io::Error| fail(ExitCode::Output, format!("{}: {e}", run.out_dir.display()));
    manifest.write(&run.out_dir).map_err(out_err)?;

    let stats = Arc::new(Mutex::new(RunStats::default()));
    let sink_failed = Arc::new(AtomicBool::new(false));
    let (sender, sink) = Sink::start(
        &run.out_dir,
        request_schema(metadata),
        vec![Box::new(stats.clone())],
        SegmentPolicy::default(),
        sink_failed.clone(),
    )
    .map_err(out_err)?;
    let shared = Shared::new(run.scenario.clone(), target, sender).with_shard(run.plan.shard);
    let shared = Arc::new(if run.search.is_some() {
        shared.with_step_log()
    } else {
        shared
    });
    let monitor = run
        .monitor
        .take()
        .ok_or_else(|| fail(ExitCode::Failure, "monitoring prepared twice"))?;
    let monitoring = monitoring::start(
        monitor,
        &args,
        &run.out_dir,
        &run.run_id,
        shared.clone(),
        stats.clone(),
        simulated.then(|| format!("{host}/metrics")),
    )
    .await?;
    let (stop_tx, stop_rx) = watch::channel(None);
    let conditions =
        runner::watch_conditions(run.plan.stop_on.clone(), stats.clone(), shared.clone());
    let watcher = tokio::spawn(watch_for_stop(stop_tx, sink_failed, conditions));
    let live = tokio::spawn(
        LiveLine::new(run.plan.run_time, run.plan.shape.is_open(), args.quiet).run(
            shared.clone(),
            stats.clone(),
            args.quiet,
        ),
    );
    let what = match &run.plan.shape {
        _ if run.search.is_some() => format!(
            "a capacity search from {} req/s (open-model steps, doubled then bisected to {:.0}%) within {:?}",
            args.start_rate,
            args.precision * 100.0,
            args.budget
        ),
        LoadShape::Open { .. } => format!(
            "arrivals up to {} req/s (open model) in {} stage(s) for {:?}",
            run.plan.shape.peak(),
            run.plan.shape.stages().len(),
            run.plan.synthetic_end()
        ),
        LoadShape::Replay { pace } => replay::describe(&args, pace, run.plan.run_time),
        closed => format!(
            "up to {} users (closed model) in {} stage(s) for {:?}",
            closed.peak(),
            closed.stages().len(),
            run.plan.synthetic_end()
        ),
    };
    eprintln!(
        "running {what} against {shown_host}; writing {}",
        run.out_dir.display()
    );

    let (feed, counters) = match run.replay.take() {
        Some(r) => (Some(r.feed), Some(r.counters)),
        None => (None, None),
    };
    let report = match &run.search {
        Some(search) => {
            capacity::search(
                shared.clone(),
                &run.plan,
                search,
                &run.targets,
                run.timeout.max(run.plan.stop_timeout),
                stop_rx,
                args.quiet,
            )
            .await
        }
        None => runner::drive(shared.clone(), &run.plan, stop_rx, feed).await,
    };
    live.abort();
    let _ = live.await;
    watcher.abort();
    drop(shared);
    // Every outcome counted before the exporter says the run is over: the sink thread has
    // folded the last ones into the live statistics once it has ended.
    let sink_report = sink.finish();
    let resources = monitoring.finish().await;

    let stats = stats
        .lock()
        .map_err(|_| fail(ExitCode::Failure, "statistics lock poisoned"))?;
    manifest.finished_at =
        Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    manifest.requests = stats.total.arrivals - stats.total.dropped;
    manifest.dropped = stats.total.dropped;
    manifest.cancelled = stats.total.cancelled;
    manifest.resent = stats.total.resent;
    manifest.failures = stats.total.failures - stats.total.dropped;
    manifest.status = match (&sink_report, &report.stopped_early) {
        (Err(_), _) => RunStatus::Failed,
        (Ok(_), Some(StopReason::Condition(_))) => RunStatus::StoppedByCondition,
        (Ok(_), Some(StopReason::BadTrace(_))) => RunStatus::Failed,
        (Ok(_), Some(_)) => RunStatus::Interrupted,
        (Ok(_), None) => RunStatus::Completed,
    };
    if let Ok(r) = &sink_report {
        manifest.request_file_count = r.files;
        if let Some(e) = &r.merge_failed {
            eprintln!(
                "warning: the run's {} Parquet segments could not be merged into one file ({e}); they are kept as they are, every row in them",
                r.files
            );
        }
    }
    // A segment cut short (a full disk) is no valid file: removed, or named when it cannot be.
    manifest.partial_files = out_dir::remove_partial_files(&run.out_dir);
    manifest.write(&run.out_dir).map_err(out_err)?;
    let sink_report = sink_report.or_exit(ExitCode::Output)?;

    let late_p99_ms = stats.lateness.value_at_quantile(0.99) as f64 / 1000.0;
    drop(stats);
    // The table and the verdict come from the run's own files, exact, through the same judge
    // as `analyze`: the same run gets the same figures and exit code from both.
    let analysis = if sink_report.rows > 0 {
        match aurax_analysis::analyze(std::slice::from_ref(&run.out_dir)) {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("cannot analyse the run's files, so nothing is judged: {e}");
                None
            }
        }
    } else {
        None
    };
    match &analysis {
        Some(a) => {
            use aurax_analysis::report;
            say!(
                "\n{}  latency of successful responses (exact, nearest rank); failures of the requests sent, dropped arrivals apart (the error rate counts both)",
                report::text_table(&report::endpoint_summary_table(a))
            );
            if let Some(c) = &a.capacity {
                say!(
                    "capacity search (each step judged on the second half of its arrivals):\n{}",
                    report::text_table(&report::steps_table(&c.steps, a.source.targets.percentile))
                );
                say!("{}\n", c.sentence);
            }
            say!(
                "{}\n{}",
                report::checks_caption(a),
                report::text_table(&report::checks_table(a))
            );
            print_failure_reasons(a);
        }
        None if sink_report.rows == 0 => {
            say!("\nno request was recorded: nothing to judge, so the run cannot pass")
        }
        None => say!(
            "\nthe run's files could not be analysed (above): nothing judged, so the run cannot pass"
        ),
    }
    // Rows are arrivals: the requests sent and the arrivals dropped unsent.
    say!(
        "{} requests sent{} recorded in {} Parquet file(s) under {}",
        manifest.requests,
        if manifest.dropped > 0 {
            format!(" and {} arrivals dropped unsent", manifest.dropped)
        } else {
            String::new()
        },
        sink_report.files,
        run.out_dir.display()
    );
    say!(
        "scheduling lateness p99 {late_p99_ms:.2} ms (how late requests went out against their schedule)"
    );
    if late_p99_ms > LATENESS_WARNING_MS {
        eprintln!(
            "warning: the load generator fell behind its schedule (lateness p99 {late_p99_ms:.1} ms): these numbers are partly the client's; compare latency from the intended send time"
        );
        if counters.is_some() {
            eprintln!(
                "the replay could not keep up with the trace at --speed {}: lower --speed, cap it with --max-rate, or raise --connections",
                args.selection.speed
            );
        }
    }
    say!(
        "{} resource sample(s), {} value(s), in {}{}{}",
        resources.samples,
        resources.rows,
        aurax_schema::files::RESOURCES,
        match resources.sealed {
            0 => String::new(),
            n => format!(" and {n} earlier segment(s) resources-*.parquet"),
        },
        if resources.warnings.is_empty() {
            String::new()
        } else {
            format!(" ({} warning(s) above)", resources.warnings.len())
        }
    );
    if let Some(c) = &counters {
        replay::print_summary(&args, c, sink_report.rows);
    }
    if manifest.resent > 0 {
        eprintln!(
            "{} idempotent request(s) went a second time: their reused connection closed after they were written and before any answer (rows with sends = 2; run.json resent)",
            manifest.resent
        );
    }
    if report.cancelled > 0 {
        eprintln!(
            "{} request(s) still in flight after --stop-timeout were cancelled: recorded as `cancelled` (failures, with how long they had waited)",
            report.cancelled
        );
    }
    if let Some(a) = &analysis {
        super::analyze::export(a, &args.exports)?;
    }
    if args.report {
        let dir = args
            .report_dir
            .clone()
            .unwrap_or_else(|| super::analyze::default_report_dir(&run.out_dir));
        match &analysis {
            Some(a) => {
                say!();
                super::analyze::write_and_print(a, Default::default(), &dir, None, false)?;
            }
            None => eprintln!("--report: no report, as no request was recorded to analyse"),
        }
    }
    if let Some(StopReason::BadTrace(why)) = &report.stopped_early {
        return Err(fail(
            ExitCode::BadInput,
            format!(
                "{why} (the replay stopped there; every request sent before it is recorded; --lenient skips bad lines)"
            ),
        ));
    }
    if let Some(StopReason::Condition(why)) = &report.stopped_early {
        eprintln!("{why}");
        if !args.no_thresholds {
            eprintln!(
                "stopped by a --stop-on condition (exit {}; --no-thresholds to exit 0)",
                ExitCode::StoppedByCondition as i32
            );
            return Ok(ExitCode::StoppedByCondition);
        }
    }
    if report.stopped_early == Some(StopReason::Interrupted) {
        eprintln!("interrupted: the files hold every request finished before the stop");
        return Ok(ExitCode::Interrupted);
    }
    if !analysis.as_ref().is_some_and(|a| a.pass) && !args.no_thresholds {
        eprintln!(
            "some targets failed (exit {}; --no-thresholds to exit 0)",
            ExitCode::TargetsFailed as i32
        );
        return Ok(ExitCode::TargetsFailed);
    }
    Ok(ExitCode::Success)
}

/// Ctrl-C or SIGTERM stop the run gracefully; a second one ends the grace period. A sink
/// that cannot write stops it too: there is no point measuring what cannot be kept.
async fn watch_for_stop(
    stop: watch::Sender<Option<StopReason>>,
    sink_failed: Arc<AtomicBool>,
    conditions: impl Future<Output = StopReason>,
) {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut conditions = std::pin::pin!(conditions);
    let mut fired = false;
    loop {
        #[cfg(unix)]
        let terminate = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => { let _ = stop.send(Some(StopReason::Interrupted)); }
            _ = terminate => { let _ = stop.send(Some(StopReason::Interrupted)); }
            reason = &mut conditions, if !fired => {
                fired = true;
                let _ = stop.send(Some(reason));
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if sink_failed.load(Ordering::SeqCst) {
                    let _ = stop.send(Some(StopReason::SinkFailed));
                    return;
                }
            }
        }
    }
}

/// Stops the in-process simulator when the run is over.
struct AbortOnDrop(tokio::task::JoinHandle<std::io::Result<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How late a process may begin a `--start-at` run and still count as on time: a worker's
/// clock and its wake-up (docs/distributed.md).
const START_TOLERANCE_MS: f64 = 50.0;

/// Sleeps until `at` (wall clock). Returns how late the load begins (ms, 0 when on time); a
/// start later than the tolerance is said. Ctrl-C while waiting stops the run before it
/// began (exit 130).
async fn wait_for_start(at: chrono::DateTime<chrono::Utc>) -> Result<f64, Fail> {
    let ahead = at - chrono::Utc::now();
    if let Ok(wait) = ahead.to_std() {
        eprintln!(
            "waiting {:.1} s for --start-at {}",
            wait.as_secs_f64(),
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tokio::signal::ctrl_c() => {
                return Err(fail(ExitCode::Interrupted, "interrupted before --start-at: nothing was sent"));
            }
        }
    }
    let late_ms = ((chrono::Utc::now() - at)
        .num_microseconds()
        .unwrap_or(i64::MAX) as f64
        / 1000.0)
        .max(0.0);
    if late_ms > START_TOLERANCE_MS {
        eprintln!(
            "warning: the load begins {late_ms:.0} ms after --start-at (tolerance {START_TOLERANCE_MS:.0} ms): this worker's share starts late; run.json records it"
        );
    }
    Ok(late_ms)
}

/// `aurax.on_start`: the closed model's classes that send requests when a user starts, and
/// which (None when none does, or the load is open: no user starts).
fn on_start_record(run: &plan::ResolvedRun) -> Option<String> {
    if run.plan.shape.is_open() || run.replay.is_some() {
        return None;
    }
    let classes: serde_json::Map<String, serde_json::Value> = run
        .plan
        .classes
        .iter()
        .filter_map(|&(class, _)| run.scenario.user_classes.get(class))
        .filter(|c| !c.on_start.is_empty())
        .map(|c| {
            let names = c
                .on_start
                .iter()
                .filter_map(|&e| run.scenario.endpoints.get(e))
                .map(|e| serde_json::Value::from(e.name.clone()))
                .collect();
            (c.name.clone(), serde_json::Value::Array(names))
        })
        .collect();
    (!classes.is_empty()).then(|| serde_json::Value::Object(classes).to_string())
}

/// The most common failures, so a run that failed says why without a report.
fn print_failure_reasons(a: &aurax_analysis::Analysis) {
    if a.errors.is_empty() {
        return;
    }
    say!(
        "failures, most common first ({} failed, {} dropped):",
        a.failures,
        a.dropped
    );
    for e in a.errors.iter().take(3) {
        let status = e.status.map_or(String::new(), |s| format!(" HTTP {s}"));
        say!(
            "  {} x {}{status} on {}: {}",
            e.count,
            e.outcome,
            e.endpoint,
            e.example
        );
    }
    if a.errors.len() > 3 {
        say!("  ({} more patterns in the report)", a.errors.len() - 3);
    }
    say!();
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
