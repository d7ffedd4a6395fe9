//! What the run writes about itself: the key-value metadata in every request file's footer
//! (docs/parquet.md) and run.json, at the start (`running`) and at the end (counts, status).

use std::collections::HashMap;

use aurax_schema::{SCHEMA_VERSION, files, meta};
use serde_json::{Value, json};

use super::plan::ResolvedRun;
use super::target::TargetUp;
use crate::exit::{ExitCode, Fail, OrExit};
use crate::redact;
use crate::runner::{DriveReport, StopReason};
use crate::sink::{Manifest, RunStatus, SinkReport};
use crate::stats::RunStats;

/// The run's configuration as the files and run.json record it, with what the report's run
/// header shows: the command as typed (secrets redacted), the build that ran it and the load
/// machine's cores.
pub(super) fn config(run: &ResolvedRun, target: &TargetUp) -> Value {
    let mut config = config_record(run, &target.host, target.simulator.clone());
    // Arguments that are no UTF-8 (a path) are shown lossily, never a panic.
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    config["command"] = json!(crate::redact::command_line(&argv));
    config["tool_commit"] = json!(env!("AURAX_COMMIT"));
    config["load_cores"] = json!(std::thread::available_parallelism().map_or(0, |n| n.get()));
    config
}

/// The run configuration as recorded in run.json and the Parquet metadata, with the
/// values of secret-looking headers redacted.
fn config_record(run: &ResolvedRun, host: &str, simulator: Option<Value>) -> Value {
    let classes: Vec<Value> = run
        .plan
        .classes
        .iter()
        .map(|(i, w)| json!({"name": run.scenario.user_classes[*i].name, "weight": w}))
        .collect();
    let headers: serde_json::Map<String, Value> = run
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Value::String(redact::header_value(k, v).to_string()),
            )
        })
        .collect();
    json!({
        "profile": run.profile_name,
        "scenario": run.scenario_source,
        "host": redact::url(host),
        "load_model": if run.plan.shape.is_open() { "open" } else { "closed" },
        "load_scenario": run.load_scenario_name,
        // What the run reaches: -t may end a scenario's stages early.
        "peak_load": run.plan.shape.peak_before(run.plan.synthetic_end()),
        "stages": run.plan.shape.stages_before(run.plan.synthetic_end()).iter().map(|s| json!({"target": s.target, "duration_s": s.duration.as_secs_f64()})).collect::<Vec<_>>(),
        "stop_on": run.plan.stop_on.iter().map(|c| c.text.clone()).collect::<Vec<_>>(),
        "run_time_s": run.plan.run_time.map(|t| t.as_secs_f64()),
        "user_classes": classes,
        "seed": run.plan.seed,
        "headers": headers,
        "timeout_s": run.timeout.as_secs_f64(),
        "max_body_bytes": run.max_body_bytes,
        "stop_timeout_s": run.plan.stop_timeout.as_secs_f64(),
        "offered_rps": run.offered_rps,
        "simulator": simulator,
        "trace": run.replay.as_ref().map(|r| r.about.record.clone()),
        "capacity_search": run.search,
        "recorded_mix": run.plan.recorded_mix.as_ref().map(|m| json!({"traces": run.traces, "requests": m.len()})),
        // An open model draws each arrival's task from these shares: the mix as configured,
        // which the analysis reads capacity against (the drawn shares wander).
        "task_mix": (run.plan.shape.is_open() && run.replay.is_none() && run.plan.recorded_mix.is_none())
            .then(|| run.scenario.task_mix(&run.plan.classes)),
        "shard": run.plan.shard.is_distributed().then(|| json!({"index": run.plan.shard.index, "count": run.plan.shard.count})),
        "ollama": run.monitor.ollama.as_deref().map(redact::url),
        "start_at": run.start_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    })
}

/// The key-value metadata of every request file.
pub(super) fn file_metadata(
    run: &ResolvedRun,
    config: &Value,
    shown_host: &str,
    started: &str,
) -> Result<HashMap<String, String>, Fail> {
    let targets_json = serde_json::to_string(&run.targets).or_exit(ExitCode::Failure)?;
    let load_model = if run.plan.shape.is_open() {
        "open"
    } else {
        "closed"
    };
    let mut metadata = HashMap::from([
        (meta::SCHEMA_VERSION.to_string(), SCHEMA_VERSION.to_string()),
        (
            meta::TOOL_VERSION.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        (meta::RUN_ID.to_string(), run.run_id.clone()),
        (meta::RUN_CONFIG.to_string(), config.to_string()),
        (meta::TARGET_HOST.to_string(), shown_host.to_string()),
        (meta::START_TIME.to_string(), started.to_string()),
        (meta::TARGETS.to_string(), targets_json),
        (meta::LOAD_MODEL.to_string(), load_model.to_string()),
    ]);
    match &run.replay {
        Some(r) => {
            metadata.insert(meta::TRACE.to_string(), r.about.record.to_string());
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
    if let Some(on_start) = on_start_record(run) {
        metadata.insert(meta::ON_START.to_string(), on_start);
    }
    if let Some(search) = &run.search {
        metadata.insert(
            meta::CAPACITY_SEARCH.to_string(),
            serde_json::to_string(search).or_exit(ExitCode::Failure)?,
        );
    }
    Ok(metadata)
}

/// run.json as the run begins: `running`, no counts yet.
pub(super) fn new_manifest(
    run: &ResolvedRun,
    target: &TargetUp,
    config: Value,
    started: String,
    start_late_ms: Option<f64>,
) -> Manifest {
    Manifest {
        run_id: run.run_id.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version: SCHEMA_VERSION,
        status: RunStatus::Running,
        started_at: started,
        finished_at: None,
        target_host: target.shown_host.clone(),
        simulated_target: target.simulated(),
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
        start_at: run
            .start_at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        start_late_ms,
    }
}

/// run.json's end: the counts the live statistics hold, and the status the load and the
/// sink ended with.
pub(super) fn finish_manifest(
    manifest: &mut Manifest,
    stats: &RunStats,
    sink: &Result<SinkReport, crate::sink::SegmentError>,
    report: &DriveReport,
) {
    manifest.finished_at =
        Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    manifest.requests = stats.total.arrivals - stats.total.dropped;
    manifest.dropped = stats.total.dropped;
    manifest.cancelled = stats.total.cancelled;
    manifest.resent = stats.total.resent;
    manifest.failures = stats.total.failures - stats.total.dropped;
    manifest.status = match (sink, &report.stopped_early) {
        (Err(_), _) => RunStatus::Failed,
        (Ok(_), Some(StopReason::Condition(_))) => RunStatus::StoppedByCondition,
        (Ok(_), Some(StopReason::BadTrace(_))) => RunStatus::Failed,
        (Ok(_), Some(_)) => RunStatus::Interrupted,
        (Ok(_), None) => RunStatus::Completed,
    };
    if let Ok(r) = sink {
        manifest.request_file_count = r.files;
        if let Some(e) = &r.merge_failed {
            eprintln!(
                "warning: the run's {} Parquet segments could not be merged into one file ({e}); they are kept as they are, every row in them",
                r.files
            );
        }
    }
}

/// `aurax.on_start`: the closed model's classes that send requests when a user starts, and
/// which (None when none does, or the load is open: no user starts).
fn on_start_record(run: &ResolvedRun) -> Option<String> {
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
