//! What can go wrong in an analysis, each with its exit code.

use std::path::PathBuf;

/// Why an analysis could not be made; each kind maps to its own exit code in the CLI.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// An input path does not exist.
    #[error("{0}: no such file or directory")]
    Missing(PathBuf),
    /// A directory holds no request files.
    #[error("{0}: holds no requests-*.parquet files (is it an aurax-tool run directory?)")]
    NoParquet(PathBuf),
    /// A file could not be read as Parquet.
    #[error("{path}: not a Parquet file ({reason})")]
    NotParquet {
        /// The file.
        path: PathBuf,
        /// The reader's reason.
        reason: String,
    },
    /// A Parquet file that breaks the request-file contract (a column missing or mistyped, a
    /// negative latency, …).
    #[error("{path}: not an aurax-tool request file: {reason}")]
    WrongSchema {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the row where there is one.
        reason: String,
    },
    /// A file written by a newer aurax-tool, with a schema this build does not know.
    #[error(
        "{path}: schema version {found} is newer than this aurax-tool reads ({supported}); upgrade aurax-tool"
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The files hold no arrival at all.
    #[error("the run holds no requests: nothing to analyse")]
    EmptyRun,
    /// A query failed.
    #[error("query failed: {0}")]
    Polars(#[from] polars::error::PolarsError),
    /// A report file could not be written.
    #[error("writing {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        reason: String,
    },
}

impl AnalysisError {
    /// Exit code for the CLI: 10-15, distinct from the runner's.
    pub fn exit_code(&self) -> i32 {
        match self {
            AnalysisError::Missing(_) | AnalysisError::NoParquet(_) => 10,
            AnalysisError::NotParquet { .. } => 11,
            AnalysisError::WrongSchema { .. } => 12,
            AnalysisError::NewerSchema { .. } => 13,
            AnalysisError::EmptyRun => 14,
            AnalysisError::Polars(_) | AnalysisError::Write { .. } => 1,
        }
    }
}
