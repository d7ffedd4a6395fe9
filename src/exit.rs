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
    /// The run was interrupted (Ctrl-C, SIGTERM); its files are complete up to that point.
    Interrupted = 130,
    /// The run finished but missed a performance target (as k6's thresholds).
    TargetsFailed = 99,
}

/// An error with the exit code it ends the program with.
#[derive(Debug)]
pub struct Fail {
    pub code: ExitCode,
    pub error: anyhow::Error,
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Fail {}

/// Attaches an exit code to any error.
pub trait OrExit<T> {
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

pub fn fail(code: ExitCode, msg: impl fmt::Display) -> Fail {
    Fail {
        code,
        error: anyhow::anyhow!("{msg}"),
    }
}
