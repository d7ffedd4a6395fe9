//! `aurax-tool run`: resolve the plan, prepare the run directory, find or start the target,
//! drive the load, close the files, print the table and the verdict.

mod capacity;
mod finish;
mod identity;
mod monitoring;
mod out_dir;
mod plan;
mod records;
mod replay;
mod target;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aurax_schema::request_schema;
use tokio::sync::watch;

use crate::cli::RunArgs;
use crate::exit::{ExitCode, Fail, OrExit, fail};
use crate::runner::{self, LiveLine, Shared, StopReason};
use crate::shape::LoadShape;
use crate::sink::{SegmentPolicy, Sink};
use crate::stats::RunStats;
use monitoring::MonitorPlan;
use replay::ReplayAbout;

pub(crate) use identity::Environment;
pub(crate) use plan::{ResolvedRun, resolve};

/// `aurax-tool run`.
pub fn execute(args: RunArgs) -> Result<ExitCode, Fail> {
    let run = resolve(args, &Environment::current())?;
    // The exporter's port, bound before any load (exit 6 when taken).
    let monitor = monitoring::prepare(&run.monitor, run.plan.run_time)?;
    out_dir::prepare(&run.out_dir)?;
    let dir = run.out_dir.clone();
    let rt = super::runtime()?;
    let result = rt.block_on(run_in_phases(run, monitor));
    if result.is_err() {
        // Failed before the run began (an unreachable host): give the directory back.
        out_dir::release(&dir);
    }
    result
}

/// The run over its plan, phase by phase: the target up, the records begun, the load driven
/// (`drive`), the files closed, the verdict printed, the exports and report written; one
/// [`finish::RunEnd`] decides the exit code.
async fn run_in_phases(mut run: ResolvedRun, monitor: MonitorPlan) -> Result<ExitCode, Fail> {
    crate::http::install_tls_provider();
    let target = target::start(&run).await?;
    // Said once the run will happen: before an unreachable host's error it was noise.
    for note in &run.notes {
        eprintln!("note: {note}");
    }
    // A distributed run's workers start together: wait for --start-at, or say how late.
    let start_late_ms = match run.start_at {
        Some(at) => Some(wait_for_start(at).await?),
        None => None,
    };
    let config = records::config(&run, &target);
    let started = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let metadata = records::file_metadata(&run, &config, &target.shown_host, &started)?;
    let mut manifest = records::new_manifest(&run, &target, config, started, start_late_ms);
    manifest
        .write(&run.out_dir)
        .map_err(out_err(&run.out_dir))?;

    let driven = drive(&mut run, monitor, target, metadata).await?;

    let stats = driven
        .stats
        .lock()
        .map_err(|_| fail(ExitCode::Failure, "statistics lock poisoned"))?;
    records::finish_manifest(&mut manifest, &stats, &driven.sink, &driven.report);
    let late_p99_ms = stats.lateness.value_at_quantile(0.99) as f64 / 1000.0;
    drop(stats);
    // A segment cut short (a full disk) is no valid file: removed, or named when it cannot be.
    manifest.partial_files = out_dir::remove_partial_files(&run.out_dir);
    manifest
        .write(&run.out_dir)
        .map_err(out_err(&run.out_dir))?;
    let sink = driven.sink.or_exit(ExitCode::Output)?;

    // The table and the verdict come from the run's own files, exact, through the same judge
    // as `analyze`: the same run gets the same figures and exit code from both.
    let analysis = (sink.rows > 0)
        .then(|| aurax_analysis::analyze(std::slice::from_ref(&run.out_dir)))
        .and_then(|a| {
            a.map_err(|e| eprintln!("cannot analyse the run's files, so nothing is judged: {e}"))
                .ok()
        });
    finish::print_verdict(analysis.as_ref(), sink.rows);
    finish::print_recorded(&finish::Recorded {
        manifest: &manifest,
        sink: &sink,
        resources: &driven.resources,
        report: &driven.report,
        out_dir: &run.out_dir,
        late_p99_ms,
        replay_behind_hint: driven.replay.as_ref().map(|r| format!(
            "the replay could not keep up with the trace at --speed {}: lower --speed, cap it with --max-rate, or raise --connections",
            r.speed
        )),
    });
    if let Some(r) = &driven.replay {
        r.print_summary(sink.rows);
    }
    if let Some(a) = &analysis {
        super::analyze::export(a, &run.output.exports)?;
    }
    if let Some(dir) = &run.output.report {
        finish::write_report(dir, analysis.as_ref())?;
    }
    if let Some(StopReason::Condition(why)) = &driven.report.stopped_early {
        eprintln!("{why}");
    }
    finish::RunEnd::of(&driven.report, analysis.as_ref(), run.output.no_thresholds).exit()
}

/// An error writing the run directory (exit 5).
fn out_err(dir: &std::path::Path) -> impl Fn(std::io::Error) -> Fail + '_ {
    move |e| fail(ExitCode::Output, format!("{}: {e}", dir.display()))
}

/// What driving the load left: how it ended, the sink's and the samplers' reports, the live
/// statistics and, for a replay, its counters.
struct Driven {
    report: runner::DriveReport,
    sink: Result<crate::sink::SinkReport, crate::sink::SegmentError>,
    resources: crate::monitor::SamplerReport,
    stats: Arc<Mutex<RunStats>>,
    replay: Option<ReplayAbout>,
}

/// The load itself: the sink on its thread, the monitors, the stop watcher and the live
/// line around the engine (or the capacity search); all of them ended and flushed when it
/// returns.
async fn drive(
    run: &mut ResolvedRun,
    monitor: MonitorPlan,
    target: target::TargetUp,
    metadata: HashMap<String, String>,
) -> Result<Driven, Fail> {
    let simulator_metrics = target
        .simulated()
        .then(|| format!("{}/metrics", target.host));
    let against = target.shown_host.clone();
    let (target, _simulator) = target.into_parts();
    let stats = Arc::new(Mutex::new(RunStats::default()));
    let sink_failed = Arc::new(AtomicBool::new(false));
    let (sender, sink) = Sink::start(
        &run.out_dir,
        request_schema(metadata),
        vec![Box::new(stats.clone())],
        SegmentPolicy::default(),
        sink_failed.clone(),
    )
    .map_err(out_err(&run.out_dir))?;
    let shared = Shared::new(run.scenario.clone(), target, sender).with_shard(run.plan.shard);
    let shared = Arc::new(if run.search.is_some() {
        shared.with_step_log()
    } else {
        shared
    });
    let monitoring = monitoring::start(
        monitor,
        &run.out_dir,
        &run.run_id,
        shared.clone(),
        stats.clone(),
        simulator_metrics,
    )
    .await?;
    let (stop_tx, stop_rx) = watch::channel(None);
    let conditions =
        runner::watch_conditions(run.plan.stop_on.clone(), stats.clone(), shared.clone());
    let watcher = tokio::spawn(watch_for_stop(stop_tx, sink_failed, conditions));
    let live = tokio::spawn(
        LiveLine::new(
            run.plan.run_time,
            run.plan.shape.is_open(),
            run.output.quiet,
        )
        .run(shared.clone(), stats.clone(), run.output.quiet),
    );
    let (feed, replay) = match run.replay.take() {
        Some(r) => (Some(r.feed), Some(r.about)),
        None => (None, None),
    };
    eprintln!(
        "running {} against {against}; writing {}",
        describe_load(run, replay.as_ref()),
        run.out_dir.display()
    );
    let report = load(run, shared.clone(), stop_rx, feed).await;
    live.abort();
    let _ = live.await;
    watcher.abort();
    drop(shared);
    // Every outcome counted before the exporter says the run is over: the sink thread has
    // folded the last ones into the live statistics once it has ended.
    let sink = sink.finish();
    let resources = monitoring.finish().await;
    Ok(Driven {
        report,
        sink,
        resources,
        stats,
        replay,
    })
}

/// The engine over the plan, or the capacity search's steps, until it ends or is stopped.
async fn load(
    run: &ResolvedRun,
    shared: Arc<Shared>,
    stop: watch::Receiver<Option<StopReason>>,
    feed: Option<runner::ReplayFeed>,
) -> runner::DriveReport {
    match &run.search {
        Some(search) => {
            capacity::search(
                shared,
                &run.plan,
                search,
                &run.targets,
                run.timeout.max(run.plan.stop_timeout),
                stop,
                run.output.quiet,
            )
            .await
        }
        None => runner::drive(shared, &run.plan, stop, feed).await,
    }
}

/// The load in words, for the line that starts it.
fn describe_load(run: &ResolvedRun, replay: Option<&ReplayAbout>) -> String {
    if let Some(search) = &run.search {
        return format!(
            "a capacity search from {} req/s (open-model steps, doubled then bisected to {:.0}%) within {:?}",
            search.start_rps,
            search.precision * 100.0,
            Duration::from_secs_f64(search.budget_s)
        );
    }
    // What the run will reach: `-t` may end a load scenario's stages early (exhaustion's
    // 400 stages to 4000 req/s, cut at 30 s, reach 100).
    let end = run.plan.synthetic_end();
    let shape = &run.plan.shape;
    let peak = shape.peak_before(end);
    let peak = if (peak - peak.round()).abs() < 1e-6 {
        format!("{}", peak.round())
    } else {
        format!("{peak:.1}")
    };
    let begun = shape.stages_before(end).len();
    match (shape, replay) {
        (LoadShape::Open { .. }, _) => {
            format!("arrivals up to {peak} req/s (open model) in {begun} stage(s) for {end:?}")
        }
        (LoadShape::Replay { pace }, Some(replay)) => replay.describe(pace, run.plan.run_time),
        _ => format!("up to {peak} users (closed model) in {begun} stage(s) for {end:?}"),
    }
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
