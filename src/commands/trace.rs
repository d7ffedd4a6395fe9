//! `aurax-tool trace stats`: know a trace before replaying it.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::{TraceCommand, TraceSelection, TraceStatsArgs};
use crate::exit::{ExitCode, Fail, OrExit, fail};
use crate::scenario::Scenario;
use crate::trace::{Format, ReplayCounters, ReplayOptions, ReplaySchedule, TraceSpec, TraceStats};

/// `aurax-tool trace stats`.
pub fn execute(cmd: TraceCommand) -> Result<ExitCode, Fail> {
    match cmd {
        TraceCommand::Stats(args) => stats(args),
    }
}

/// The replay options of `--trace`s and the selection flags, every value checked; the error
/// is the one-line message for exit 3.
pub fn replay_options(traces: &[String], sel: &TraceSelection) -> Result<ReplayOptions, String> {
    let traces = traces
        .iter()
        .map(|t| TraceSpec::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ReplayOptions {
        format: sel.trace_format.as_deref().map(Format::parse).transpose()?,
        default_endpoint: sel.trace_endpoint.clone(),
        speed: sel.speed,
        window: sel.window.unwrap_or((Duration::ZERO, None)),
        lenient: sel.lenient,
        ..ReplayOptions::new(traces)
    })
}

fn stats(args: TraceStatsArgs) -> Result<ExitCode, Fail> {
    let bad = |e: String| fail(ExitCode::BadInput, e);
    let scenario = Arc::new(match &args.scenario_file {
        Some(p) => Scenario::from_path(p).or_exit(ExitCode::BadInput)?,
        None => Scenario::builtin().or_exit(ExitCode::Failure)?,
    });
    let options = replay_options(&args.traces, &args.selection).map_err(bad)?;
    let counters = Arc::new(ReplayCounters::default());
    let schedule = ReplaySchedule::new(options, scenario.clone(), counters.clone())
        .map_err(|e| bad(e.to_string()))?;
    let stats = TraceStats::collect(schedule).map_err(|e| bad(e.to_string()))?;
    if stats.requests == 0 {
        return Err(bad(format!(
            "{}: no requests (an empty trace, or a --window past its end)",
            args.traces.join(", ")
        )));
    }
    let skipped = counters.skipped.load(std::sync::atomic::Ordering::Relaxed);
    if args.json {
        let mut v = stats.to_json(&scenario);
        v["skipped_lines"] = skipped.into();
        say!(
            "{}",
            serde_json::to_string_pretty(&v).or_exit(ExitCode::Failure)?
        );
    } else {
        print!("{}", stats.to_text(&scenario));
        if let Some(note) = counters.skipped_note() {
            say!("{note}");
        }
    }
    Ok(ExitCode::Success)
}
