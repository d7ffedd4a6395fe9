use std::path::PathBuf;

/// Why an analysis could not be made; each kind maps to its own exit code in the CLI.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("{0}: no such file or directory")]
    Missing(PathBuf),
    #[error("{0}: holds no requests-*.parquet files (is it an aurax-tool run directory?)")]
    NoParquet(PathBuf),
    #[error("{path}: not a Parquet file ({reason})")]
    NotParquet { path: PathBuf, reason: String },
    #[error("{path}: not an aurax-tool request file: {reason}")]
    WrongSchema { path: PathBuf, reason: String },
    #[error(
        "{path}: schema version {found} is newer than this aurax-tool reads ({supported}); upgrade aurax-tool"
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("the run holds no requests: nothing to analyse")]
    EmptyRun,
    #[error("query failed: {0}")]
    Polars(#[from] polars::error::PolarsError),
    #[error("writing {path}: {reason}")]
    Write { path: PathBuf, reason: String },
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
