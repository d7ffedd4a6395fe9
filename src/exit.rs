//! Exit codes: distinct per kind of failure, so scripts and CI can tell them apart.

use std::fmt;

/// Documented in the README; never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything ran and every judged target passed.
    Success = 0,
    /// Unexpected runtime failure.
    Failure = 1,
    /// Bad command-line usage (clap's own code).
    Usage = 2,
    /// A scenario, profile, class, header or other input is invalid.
    BadInput = 3,
    /// The target host could not be reached before the load started.
    Unreachable = 4,
    /// The output directory could not be created or written.
    Output = 5,
    /// An address to listen on is in use or not allowed (`serve --port`, `record`,
    /// `--metrics-listen`).
    CannotListen = 6,
    /// analyze: a path holds no request files, or does not exist.
    NoRunData = 10,
    /// analyze: a file is not Parquet.
    NotParquet = 11,
    /// analyze: a Parquet file of another schema.
    WrongSchema = 12,
    /// analyze: a file of a newer schema version than this build reads.
    NewerSchema = 13,
    /// analyze: the run holds no requests.
    EmptyRun = 14,
    /// analyze: the inputs are files of different runs (`--merge-runs` merges them anyway).
    DifferentRuns = 15,
    /// The run was interrupted (Ctrl-C, SIGTERM); its files are complete up to that point.
    Interrupted = 130,
    /// The run finished but missed a performance target (as k6's thresholds).
    TargetsFailed = 99,
    /// A `--stop-on` condition stopped the run before its end (its files hold every request
    /// up to the stop): distinct from a missed target, so CI can tell them apart.
    StoppedByCondition = 97,
    /// `analyze --fail-on-regression` found a significant regression against the baseline.
    Regression = 98,
}

/// An error with the exit code it ends the program with.
#[derive(Debug)]
pub struct Fail {
    /// The exit code.
    pub code: ExitCode,
    /// What went wrong, with its context.
    pub error: anyhow::Error,
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Fail {}

impl From<aurax_analysis::AnalysisError> for Fail {
    /// Analysis errors keep their own codes (10-14), distinct from the runner's.
    fn from(e: aurax_analysis::AnalysisError) -> Fail {
        let code = match e.exit_code() {
            10 => ExitCode::NoRunData,
            11 => ExitCode::NotParquet,
            12 => ExitCode::WrongSchema,
            13 => ExitCode::NewerSchema,
            14 => ExitCode::EmptyRun,
            _ => ExitCode::Failure,
        };
        Fail {
            code,
            error: e.into(),
        }
    }
}

/// Attaches an exit code to any error.
pub trait OrExit<T> {
    /// The error with `code` as its exit code.
    fn or_exit(self, code: ExitCode) -> Result<T, Fail>;
}

impl<T, E: Into<anyhow::Error>> OrExit<T> for Result<T, E> {
    fn or_exit(self, code: ExitCode) -> Result<T, Fail> {
        self.map_err(|e| Fail {
            code,
            error: e.into(),
        })
    }
}

/// A failure with an exit code and a message.
pub fn fail(code: ExitCode, msg: impl fmt::Display) -> Fail {
    Fail {
        code,
        error: anyhow::anyhow!("{msg}"),
    }
}
