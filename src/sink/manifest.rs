//! `run.json`: what a run directory holds, written when the run starts (status `running`) and
//! rewritten when it ends, so even a killed run says what it was.

use std::path::Path;

use serde::Serialize;

pub use aurax_schema::RunStatus;

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub run_id: String,
    pub tool_version: String,
    pub schema_version: u32,
    pub status: RunStatus,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub target_host: String,
    /// True when the target was the built-in simulator.
    pub simulated_target: bool,
    /// Requests sent (dropped arrivals are not).
    pub requests: u64,
    /// Arrivals never sent (`--max-in-flight`).
    pub dropped: u64,
    /// Requests sent and cut off unanswered when the run stopped (among `requests` and
    /// `failures`).
    pub cancelled: u64,
    /// Requests sent a second time on a new connection: idempotent ones whose reused
    /// connection closed after they were written and before any answer (the `sends` column).
    pub resent: u64,
    /// Sent requests that did not succeed.
    pub failures: u64,
    /// Request files in the directory: 1 once the run's one-second segments are merged at its
    /// end; the segments themselves when a run was killed (or the merge failed).
    pub request_file_count: u32,
    /// Files left half-written (`*.partial`) that could not be removed when the run ended
    /// (after a full disk, say): not valid files, named so nobody mistakes them for data.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partial_files: Vec<String>,
    /// Glob of the request files, relative to the run directory.
    pub request_files: String,
    pub config: serde_json::Value,
    pub targets: aurax_schema::Targets,
    /// A worker of a distributed run: `I/N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// `--start-at`: when the load was to start (RFC 3339), and how late this process began
    /// it (ms; 0 when on time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_late_ms: Option<f64>,
}

impl Manifest {
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let path = dir.join(aurax_schema::files::MANIFEST);
        let tmp = dir.join("run.json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text + "\n")?;
        std::fs::rename(tmp, path)
    }
}
