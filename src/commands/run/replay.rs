//! `run --trace`: checks the replay flags, opens the traces and reads their first request
//! before any load is sent, so a missing, empty or broken trace fails at once (exit 3).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::RunArgs;
use crate::exit::{ExitCode, Fail, fail};
use crate::runner::ReplayFeed;
use crate::scenario::{DEFAULT_MAX_IN_FLIGHT, Scenario};
use crate::shape::{LoadShape, Pace};

use crate::commands::trace::replay_options;
use crate::trace::{
    Format, ReplayCounters, ReplayOptions, ReplaySchedule, TraceRequest, TraceSpec,
};

/// A replay ready to drive.
pub struct Replay {
    pub shape: LoadShape,
    pub feed: ReplayFeed,
    pub about: ReplayAbout,
}

/// What a replay is, apart from its requests: for the lines before and after it, run.json
/// and the Parquet metadata.
pub struct ReplayAbout {
    /// The traces, as named.
    pub traces: Vec<String>,
    /// `--speed`.
    pub speed: f64,
    /// `--loop 0`: until Ctrl-C.
    pub endless: bool,
    pub counters: Arc<ReplayCounters>,
    /// How the replay was asked for.
    pub record: Value,
}

pub fn resolve_replay(args: &RunArgs, scenario: &Arc<Scenario>) -> Result<Option<Replay>, Fail> {
    let bad = |e: String| fail(ExitCode::BadInput, e);
    // The trace-only flags without --trace, --user-class with it, --as-fast-as-possible
    // without -u: refused by clap (cli.rs), exit 2.
    if args.trace.is_empty() {
        return Ok(None);
    }
    let max_rate = args.max_rate;
    let pace = if let (true, Some(users)) = (args.as_fast_as_possible, args.users) {
        Pace::AsFastAsPossible { users }
    } else {
        if args.users.is_some() {
            return Err(bad(
                "-u applies to --as-fast-as-possible; a timed replay sends at the trace's times (limit concurrency with --connections)".into(),
            ));
        }
        Pace::Recorded {
            connections: args.connections.map(|n| n as usize),
            max_in_flight: args
                .max_in_flight
                .map_or(DEFAULT_MAX_IN_FLIGHT, |n| n as usize),
        }
    };
    let options = ReplayOptions {
        passes: match args.loops {
            None => Some(1),
            Some(0) => None,
            Some(n) => Some(n),
        },
        max_rate,
        ..replay_options(&args.trace, &args.selection).map_err(bad)?
    };
    let record = json!({
        "sources": options.traces.iter().map(TraceSpec::name).collect::<Vec<_>>(),
        "paths": options.traces.iter().map(|t| t.path.display().to_string()).collect::<Vec<_>>(),
        "format": options.format.map(Format::name),
        "endpoint": options.default_endpoint,
        "speed": options.speed,
        "window_s": [options.window.0.as_secs_f64(), options.window.1.map(|t| t.as_secs_f64())],
        "passes": options.passes,
        "max_rate": max_rate,
        "as_fast_as_possible": args.as_fast_as_possible,
        "lenient": options.lenient,
    });
    let counters = Arc::new(ReplayCounters::default());
    let mut rest = ReplaySchedule::new(options, scenario.clone(), counters.clone())
        .map_err(|e| bad(e.to_string()))?;
    let first = match rest.next() {
        Some(Ok(first)) => first,
        Some(Err(e)) => return Err(bad(e.to_string())),
        None => {
            return Err(bad(format!(
                "--trace {}: no requests to replay (an empty trace, or a --window past its end)",
                args.trace.join(", ")
            )));
        }
    };
    Ok(Some(Replay {
        shape: LoadShape::Replay { pace },
        feed: ReplayFeed { first, rest },
        about: ReplayAbout {
            traces: args.trace.clone(),
            speed: args.selection.speed,
            endless: args.loops == Some(0),
            counters,
            record,
        },
    }))
}

/// At most this many requests of a trace make the recorded mix a capacity search sends.
const MAX_MIX: usize = 100_000;

/// `--find-capacity --trace`: the trace's requests (its first 100,000 in the selection) as
/// the mix each step sends in turn, at the step's rate; the recorded timing is not kept.
pub fn recorded_mix(args: &RunArgs, scenario: &Arc<Scenario>) -> Result<Arc<[TraceRequest]>, Fail> {
    let bad = |e: String| fail(ExitCode::BadInput, e);
    let options = ReplayOptions {
        passes: Some(1),
        ..replay_options(&args.trace, &args.selection).map_err(bad)?
    };
    let counters = Arc::new(ReplayCounters::default());
    let schedule =
        ReplaySchedule::new(options, scenario.clone(), counters).map_err(|e| bad(e.to_string()))?;
    let mut mix = Vec::new();
    for item in schedule.take(MAX_MIX) {
        mix.push(item.map_err(|e| bad(e.to_string()))?.request);
    }
    if mix.is_empty() {
        return Err(bad(format!(
            "--trace {}: no requests to search with (an empty trace, or a --window past its end)",
            args.trace.join(", ")
        )));
    }
    Ok(mix.into())
}

impl ReplayAbout {
    /// What the replay does, for the line printed before the load starts.
    pub fn describe(&self, pace: &Pace, run_time: Option<Duration>) -> String {
        let how = match pace {
            Pace::Recorded { .. } => format!("at {}x the recorded speed", self.speed),
            Pace::AsFastAsPossible { users } => format!("as fast as {users} user(s) can"),
        };
        let until = match run_time {
            None if self.endless => "in a loop until Ctrl-C".to_string(),
            None => "until the trace ends".to_string(),
            Some(t) => format!("for at most {t:?}"),
        };
        format!("a replay of {} {how} {until}", self.traces.join(" + "))
    }

    /// After the run: how many requests of which traces were sent, and what --lenient
    /// skipped.
    pub fn print_summary(&self, rows: u64) {
        say!("replayed {rows} request(s) of {}", self.traces.join(", "));
        if let Some(note) = self.counters.skipped_note() {
            eprintln!("{note}");
        }
    }
}
