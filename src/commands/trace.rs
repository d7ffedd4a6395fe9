//! `aurax-tool trace stats`: know a trace before replaying it.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::{TraceCommand, TraceStatsArgs};
use crate::exit::{ExitCode, Fail, OrExit, fail};
use crate::scenario::Scenario;
use crate::trace::{
    Format, ReplayCounters, ReplayOptions, ReplaySchedule, TraceSpec, TraceStats, parse_window,
};

pub fn execute(cmd: TraceCommand) -> Result<ExitCode, Fail> {
    match cmd {
        TraceCommand::Stats(args) => stats(args),
    }
}

fn stats(args: TraceStatsArgs) -> Result<ExitCode, Fail> {
    let bad = |e: String| fail(ExitCode::BadInput, e);
    let scenario = Arc::new(match &args.scenario_file {
        Some(p) => Scenario::from_path(p).or_exit(ExitCode::BadInput)?,
        None => Scenario::builtin().or_exit(ExitCode::Failure)?,
    });
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        return Err(bad("--speed must be a number above 0".into()));
    }
    let options = ReplayOptions {
        traces: args
            .traces
            .iter()
            .map(|t| TraceSpec::parse(t))
            .collect::<Result<_, _>>()
            .map_err(bad)?,
        format: args
            .trace_format
            .as_deref()
            .map(Format::parse)
            .transpose()
            .map_err(bad)?,
        default_endpoint: args.trace_endpoint.clone(),
        speed: args.speed,
        window: match &args.window {
            Some(w) => parse_window(w).map_err(|e| bad(format!("--window {w}: {e}")))?,
            None => (Duration::ZERO, None),
        },
        passes: Some(1),
        max_rate: None,
        lenient: args.lenient,
    };
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
        println!(
            "{}",
            serde_json::to_string_pretty(&v).or_exit(ExitCode::Failure)?
        );
    } else {
        print!("{}", stats.to_text(&scenario));
        if let Some(note) = counters.skipped_note() {
            println!("{note}");
        }
    }
    Ok(ExitCode::Success)
}
