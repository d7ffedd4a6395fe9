//! The end of a run: its table and verdict from its own files (the same judge as
//! `analyze`), what was recorded where, and the one outcome that decides the exit code.

use aurax_analysis::Analysis;
use aurax_analysis::report;

use crate::exit::{ExitCode, Fail, fail};
use crate::monitor::SamplerReport;
use crate::runner::{DriveReport, StopReason};
use crate::sink::{Manifest, SinkReport};

/// Lateness p99 above this means the generator, not the target, shaped some of the numbers.
const LATENESS_WARNING_MS: f64 = 5.0;

/// The table, the capacity search's steps and the judged targets, from the run's files.
pub(super) fn print_verdict(analysis: Option<&Analysis>, rows: u64) {
    match analysis {
        Some(a) => {
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
        None if rows == 0 => {
            say!("\nno request was recorded: nothing to judge, so the run cannot pass")
        }
        None => say!(
            "\nthe run's files could not be analysed (above): nothing judged, so the run cannot pass"
        ),
    }
}

/// What was recorded and where, and how well the generator kept its schedule.
pub(super) struct Recorded<'a> {
    pub manifest: &'a Manifest,
    pub sink: &'a SinkReport,
    pub resources: &'a SamplerReport,
    pub report: &'a DriveReport,
    pub out_dir: &'a std::path::Path,
    pub late_p99_ms: f64,
    /// A replay that could not keep up gets advice of its own.
    pub replay_behind_hint: Option<String>,
}

/// The lines after the verdict: rows and files, lateness, resource samples, re-sends and
/// cancellations.
pub(super) fn print_recorded(r: &Recorded<'_>) {
    let m = r.manifest;
    // Rows are arrivals: the requests sent and the arrivals dropped unsent.
    say!(
        "{} requests sent{} recorded in {} Parquet file(s) under {}",
        m.requests,
        if m.dropped > 0 {
            format!(" and {} arrivals dropped unsent", m.dropped)
        } else {
            String::new()
        },
        r.sink.files,
        r.out_dir.display()
    );
    let late = r.late_p99_ms;
    say!(
        "scheduling lateness p99 {late:.2} ms (how late requests went out against their schedule)"
    );
    if late > LATENESS_WARNING_MS {
        eprintln!(
            "warning: the load generator fell behind its schedule (lateness p99 {late:.1} ms): these numbers are partly the client's; compare latency from the intended send time"
        );
        if let Some(hint) = &r.replay_behind_hint {
            eprintln!("{hint}");
        }
    }
    let s = r.resources;
    say!(
        "{} resource sample(s), {} value(s), in {}{}{}",
        s.samples,
        s.rows,
        aurax_schema::files::RESOURCES,
        match s.sealed {
            0 => String::new(),
            n => format!(" and {n} earlier segment(s) resources-*.parquet"),
        },
        if s.warnings.is_empty() {
            String::new()
        } else {
            format!(" ({} warning(s) above)", s.warnings.len())
        }
    );
    if m.resent > 0 {
        eprintln!(
            "{} idempotent request(s) went a second time: their reused connection closed after they were written and before any answer (rows with sends = 2; run.json resent)",
            m.resent
        );
    }
    if r.report.cancelled > 0 {
        eprintln!(
            "{} request(s) still in flight after --stop-timeout were cancelled: recorded as `cancelled` (failures, with how long they had waited)",
            r.report.cancelled
        );
    }
}

/// How a run ended, the one thing the exit code is decided from (README "Exit codes").
#[derive(Debug, PartialEq)]
pub(super) enum RunEnd {
    /// Every judged target met (or `--no-thresholds`).
    Passed,
    /// A target missed, or nothing could be judged.
    TargetsFailed,
    /// A `--stop-on` condition stopped the load (which one and where: the text, said as the
    /// run ends whatever the exit code).
    StoppedByCondition(String),
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// A replayed trace had a bad line.
    BadTrace(String),
}

impl RunEnd {
    /// The end of a run that was driven and, where it recorded anything, judged.
    pub fn of(report: &DriveReport, analysis: Option<&Analysis>, no_thresholds: bool) -> RunEnd {
        match &report.stopped_early {
            Some(StopReason::BadTrace(why)) => RunEnd::BadTrace(why.clone()),
            Some(StopReason::Condition(why)) if !no_thresholds => {
                RunEnd::StoppedByCondition(why.clone())
            }
            Some(StopReason::Interrupted) => RunEnd::Interrupted,
            _ if no_thresholds || analysis.is_some_and(|a| a.pass) => RunEnd::Passed,
            _ => RunEnd::TargetsFailed,
        }
    }

    /// The exit code, with the line that says why.
    pub fn exit(self) -> Result<ExitCode, Fail> {
        match self {
            RunEnd::Passed => Ok(ExitCode::Success),
            RunEnd::TargetsFailed => {
                eprintln!(
                    "some targets failed (exit {}; --no-thresholds to exit 0)",
                    ExitCode::TargetsFailed as i32
                );
                Ok(ExitCode::TargetsFailed)
            }
            RunEnd::StoppedByCondition(_) => {
                eprintln!(
                    "stopped by a --stop-on condition (exit {}; --no-thresholds to exit 0)",
                    ExitCode::StoppedByCondition as i32
                );
                Ok(ExitCode::StoppedByCondition)
            }
            RunEnd::Interrupted => {
                eprintln!("interrupted: the files hold every request finished before the stop");
                Ok(ExitCode::Interrupted)
            }
            RunEnd::BadTrace(why) => Err(fail(
                ExitCode::BadInput,
                format!(
                    "{why} (the replay stopped there; every request sent before it is recorded; --lenient skips bad lines)"
                ),
            )),
        }
    }
}

/// `--report`: the report folder of the run, from its files.
pub(super) fn write_report(dir: &std::path::Path, analysis: Option<&Analysis>) -> Result<(), Fail> {
    match analysis {
        Some(a) => {
            say!();
            super::super::analyze::write_and_print(a, Default::default(), dir, None, false)?;
        }
        None => eprintln!("--report: no report, as no request was recorded to analyse"),
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn report(stopped_early: Option<StopReason>) -> DriveReport {
        DriveReport {
            stopped_early,
            cancelled: 0,
        }
    }

    #[test]
    fn each_end_has_its_own_exit_code() {
        let stop = || Some(StopReason::Condition("p95>1s".into()));
        assert_eq!(RunEnd::of(&report(None), None, true), RunEnd::Passed);
        assert_eq!(
            RunEnd::of(&report(None), None, false),
            RunEnd::TargetsFailed
        );
        assert!(matches!(
            RunEnd::of(&report(stop()), None, false),
            RunEnd::StoppedByCondition(_)
        ));
        assert_eq!(RunEnd::of(&report(stop()), None, true), RunEnd::Passed);
        assert_eq!(
            RunEnd::of(&report(Some(StopReason::Interrupted)), None, true),
            RunEnd::Interrupted
        );
        let codes: Vec<i32> = [
            RunEnd::Passed,
            RunEnd::TargetsFailed,
            RunEnd::StoppedByCondition("x".into()),
            RunEnd::Interrupted,
        ]
        .into_iter()
        .map(|e| e.exit().map_or(-1, |c| c as i32))
        .collect();
        assert_eq!(codes, [0, 99, 97, 130]);
        let bad = RunEnd::BadTrace("t.jsonl:3: bad".into()).exit();
        assert!(bad.is_err_and(|f| f.code == ExitCode::BadInput));
    }
}
