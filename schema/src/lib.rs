#![warn(missing_docs)]
//! The Parquet contract between the runner (`aurax-tool run`) and the analysis crate.
//!
//! Everything a reader needs to interpret a run's files is defined here and nowhere else:
//! the column names and Arrow types, the outcome vocabulary, the key-value metadata keys and
//! the JSON form of the targets recorded with a run. The analysis depends on this crate only,
//! never on runner internals, so any tool that honours this file can produce or consume runs.
//!
//! Versioning: `SCHEMA_VERSION` is written into every file's key-value metadata. Adding a
//! column bumps the version and records it in [`Column::since`]: a reader of version N reads
//! every file of version N or older, expecting only the columns that version had. Renaming,
//! removing or retyping a column is never done.
//!
//! Version history: 1, the first; 2 added `trace_source` and `trace_line` (trace replay); 3
//! added the generation columns (`ttft_us`, `itl_mean_us`, `itl_max_us`, `tokens_in`,
//! `tokens_out`, `server_*_us`: streamed responses and a model server's own timings).

mod columns;
mod resources;
mod search;
mod targets;

pub use columns::{Column, Outcome, request_schema};
pub use resources::{ResourceColumn, metrics, resource_schema, sources};
pub use search::CapacitySearch;
pub use targets::{
    EndpointTarget, ErrorRateTier, GenerationMetric, GenerationTarget, Targets, ThroughputTiers,
};

/// Version of the request-file schema, stored under [`meta::SCHEMA_VERSION`].
pub const SCHEMA_VERSION: u32 = 4;

/// File names inside a run directory.
pub mod files {
    /// Prefix of the rolling request segment files: `requests-00001.parquet`, ...
    pub const REQUEST_SEGMENT_PREFIX: &str = "requests-";
    /// Extension of a closed, valid segment.
    pub const PARQUET_EXT: &str = "parquet";
    /// Extension of the segment being written; never a valid file to read.
    pub const PARTIAL_EXT: &str = "partial";
    /// The run manifest (JSON).
    pub const MANIFEST: &str = "run.json";
    /// Resource samples (CPU, memory, in-flight) of the target and the generator: the newest
    /// ones. A long run seals older samples into `resources-00001.parquet`, ... (see
    /// [`is_resource_file`]), so the file rewritten during the run stays small.
    pub const RESOURCES: &str = "resources.parquet";
    /// Prefix of the sealed resource segments.
    pub const RESOURCE_SEGMENT_PREFIX: &str = "resources-";

    /// The name of request segment `index` (1-based): `requests-00001.parquet`.
    pub fn request_segment(index: u32) -> String {
        format!("{REQUEST_SEGMENT_PREFIX}{index:05}.{PARQUET_EXT}")
    }

    /// The index of a request segment's file name (`requests-00042.parquet` is 42); None
    /// for any other name.
    pub fn request_segment_index(name: &str) -> Option<u32> {
        name.strip_prefix(REQUEST_SEGMENT_PREFIX)?
            .strip_suffix(".parquet")
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))?
            .parse()
            .ok()
    }

    /// Whether a file name in a run directory holds resource samples.
    pub fn is_resource_file(name: &str) -> bool {
        name == RESOURCES
            || name
                .strip_prefix(RESOURCE_SEGMENT_PREFIX)
                .and_then(|rest| rest.strip_suffix(".parquet"))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    }
}

/// How a run ended, as `run.json` (the manifest) records it in `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Under way, or killed (SIGKILL, a crash): the last few seconds are not in the files.
    Running,
    /// Ran to its end.
    Completed,
    /// Stopped early by Ctrl-C or SIGTERM; every finished request is in the files.
    Interrupted,
    /// Stopped by a `--stop-on` condition (e.g. the exhaustion scenario's breaking step).
    StoppedByCondition,
    /// The files could not be written (a full disk) or a trace line was bad: the run stopped.
    Failed,
}

impl RunStatus {
    /// Why a run with this status did not run to its end, when it did not.
    pub fn ended_early(self) -> Option<&'static str> {
        match self {
            RunStatus::Running => Some(
                "run.json still says `running`: the run was killed or crashed (or is still going), so its last seconds are missing",
            ),
            RunStatus::Failed => Some(
                "run.json says `failed`: the run stopped when its files could not be written or a trace line was bad",
            ),
            RunStatus::Interrupted => {
                Some("run.json says `interrupted`: stopped by Ctrl-C or SIGTERM")
            }
            RunStatus::StoppedByCondition => None,
            RunStatus::Completed => None,
        }
    }
}

/// Key-value metadata keys written into every request file's footer.
pub mod meta {
    /// The file's schema version ([`crate::SCHEMA_VERSION`] when written).
    pub const SCHEMA_VERSION: &str = "aurax.schema_version";
    /// The aurax-tool version that wrote the file.
    pub const TOOL_VERSION: &str = "aurax.tool_version";
    /// The run's id (also the `run_id` column).
    pub const RUN_ID: &str = "aurax.run_id";
    /// The run configuration as JSON, with secret header values redacted.
    pub const RUN_CONFIG: &str = "aurax.run_config";
    /// The target's base URL, its password redacted.
    pub const TARGET_HOST: &str = "aurax.target_host";
    /// RFC 3339 UTC time the run started.
    pub const START_TIME: &str = "aurax.start_time";
    /// [`crate::Targets`] as JSON.
    pub const TARGETS: &str = "aurax.targets";
    /// `closed` (virtual users; `stage_target` is users) or `open` (arrivals; `stage_target`
    /// is arrivals per second). Absent means closed.
    pub const LOAD_MODEL: &str = "aurax.load_model";
    /// Trace replay: the traces replayed and how, as JSON `{"sources": [..], "speed": ..}`.
    /// Absent for synthetic runs.
    pub const TRACE: &str = "aurax.trace";
    /// The most requests per second the configured load could offer (closed model: users /
    /// mean wait; open model: the peak arrival rate), as a decimal number. Throughput targets
    /// above it are not judged. Absent when unknown in advance (a replay).
    pub const OFFERED_CEILING_RPS: &str = "aurax.offered_ceiling_rps";
    /// `run --find-capacity`: the search's settings, [`crate::CapacitySearch`] as JSON. Each
    /// step of the search is one `stage` (its index), at the arrival rate in `stage_target`.
    /// Absent for other runs.
    pub const CAPACITY_SEARCH: &str = "aurax.capacity_search";
    /// A worker of a distributed run: `I/N` (its index is the rows' `worker_id`; the workers
    /// share the run id). Its offered ceiling is its share; merged, the workers' ceilings
    /// add up. Absent on a run of one machine.
    pub const WORKER: &str = "aurax.worker";
    /// A merged request file: the segments whose rows it holds, `first-last` (indexes, e.g.
    /// `1-24`); the file is named after the first. At the end of a run the one-second segments
    /// are merged into one file; a run killed during the merge can leave segments
    /// `first+1..=last` beside it, holding the same rows: readers skip them
    /// ([`crate::MergedSegments::covers`]). Absent on a segment that was not merged.
    pub const MERGED_SEGMENTS: &str = "aurax.merged_segments";
    /// Closed model: each user class's `on_start` endpoints, as JSON `{"class": ["endpoint",
    /// ..]}`: requests every user sends once when it starts, outside the task mix. The
    /// analysis counts them out of each endpoint's share of the mix (the users of a class are
    /// its distinct `(worker_id, user_id)`). Absent when no class of the run has any.
    pub const ON_START: &str = "aurax.on_start";
}

/// The value of [`meta::MERGED_SEGMENTS`]: request segments `first..=last` merged into the
/// file named after `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergedSegments {
    /// The first segment merged, whose name the merged file takes.
    pub first: u32,
    /// The last segment merged.
    pub last: u32,
}

impl MergedSegments {
    /// Reads `first-last`; None for anything else.
    pub fn parse(value: &str) -> Option<MergedSegments> {
        let (first, last) = value.split_once('-')?;
        let (first, last) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
        (first <= last).then_some(MergedSegments { first, last })
    }

    /// Whether segment `index` is one whose rows the merged file holds, other than the file
    /// itself: such a segment, if still present, is a leftover of an interrupted merge.
    pub fn covers(self, index: u32) -> bool {
        index > self.first && index <= self.last
    }
}

/// Of a run directory's request segments, given as their index and the range their metadata
/// names as merged (if any), the indexes to read: every segment but those a merged file beside
/// them already holds (the leftovers of a merge that was interrupted).
pub fn segments_to_read(segments: &[(u32, Option<MergedSegments>)]) -> Vec<u32> {
    segments
        .iter()
        .filter(|(index, _)| {
            !segments
                .iter()
                .any(|(_, merged)| merged.is_some_and(|m| m.covers(*index)))
        })
        .map(|(index, _)| *index)
        .collect()
}

impl std::fmt::Display for MergedSegments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(files::request_segment(7), "requests-00007.parquet");
        assert_eq!(
            files::request_segment_index("requests-00007.parquet"),
            Some(7)
        );
        assert_eq!(
            files::request_segment_index("requests-merged.parquet.partial"),
            None
        );
        assert_eq!(files::request_segment_index("requests-.parquet"), None);
        assert_eq!(
            files::request_segment_index("resources-00001.parquet"),
            None
        );
    }

    #[test]
    fn leftovers_of_an_interrupted_merge_are_not_read() {
        let merged = MergedSegments::parse("1-4");
        assert_eq!(merged, Some(MergedSegments { first: 1, last: 4 }));
        assert_eq!(merged.map(|m| m.to_string()).as_deref(), Some("1-4"));
        assert_eq!(MergedSegments::parse("4-1"), None);
        assert_eq!(MergedSegments::parse("x"), None);
        // Killed after the rename, before every old segment was removed: 3 and 4 remain.
        let dir = [(1, merged), (3, None), (4, None), (5, None)];
        assert_eq!(segments_to_read(&dir), vec![1, 5]);
        // No merge: every segment.
        let dir = [(1, None), (2, None)];
        assert_eq!(segments_to_read(&dir), vec![1, 2]);
    }
}
