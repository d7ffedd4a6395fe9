//! The input of an analysis: request files found under the given paths, checked against the
//! contract (columns, schema version) from their footers before any query runs.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use aurax_schema::{
    Column, MergedSegments, Outcome, RunStatus, SCHEMA_VERSION, Targets, files, meta,
    segments_to_read,
};
use parquet::file::reader::{FileReader, SerializedFileReader};
use polars::prelude::*;

use crate::error::AnalysisError;
use crate::frame::{CollectStreaming, clean};
use crate::windows::WindowLoad;

/// What the files say about the run(s) they hold.
#[derive(Debug, Clone)]
pub struct Source {
    /// The request files read.
    pub files: Vec<PathBuf>,
    /// The request files of schema version 3 or later: those with the generation columns
    /// (`ttft_us`, `tokens_out`, `server_*_us`, ...).
    pub generation_files: Vec<PathBuf>,
    /// The run ids the files carry.
    pub run_ids: Vec<String>,
    /// The targets' hosts (passwords redacted).
    pub hosts: Vec<String>,
    /// The targets the run is judged by (its own, or the seed's).
    pub targets: Targets,
    /// True when the files carried their own targets (else the seed's are used).
    pub targets_recorded: bool,
    /// The run configuration (`aurax.run_config`).
    pub config: Option<serde_json::Value>,
    /// An open-model run: load levels are offered arrival rates, not users.
    pub open_model: bool,
    /// A trace replay: which traces, at what speed (`aurax.trace` metadata).
    pub trace: Option<serde_json::Value>,
    /// Resource sample files of the run directories (`resources.parquet` and sealed segments).
    pub resource_files: Vec<PathBuf>,
    /// Per run directory whose `run.json` says it did not run to its end: why, in words.
    pub ended_early: Vec<String>,
    /// The most requests per second the configured load could offer (`aurax.offered_ceiling_rps`),
    /// summed over merged runs; None when a file does not say (a replay, an older run).
    pub offered_ceiling_rps: Option<f64>,
    /// The aurax-tool version that wrote the files (`aurax.tool_version`), when they say.
    pub tool_version: Option<String>,
    /// A distributed run of which only some workers' files are here: the run's throughput is
    /// all workers' together, so these files alone cannot judge it.
    pub partial_workers: Option<PartialWorkers>,
    /// `run --find-capacity`: the search's settings (`aurax.capacity_search`); its steps are
    /// the stages.
    pub capacity_search: Option<aurax_schema::CapacitySearch>,
    /// Closed model: each user class's `on_start` endpoints (`aurax.on_start`), requests
    /// outside the task mix.
    pub on_start: std::collections::BTreeMap<String, Vec<String>>,
}

/// Some workers of a distributed run (`aurax.worker`, `I/N`), not all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialWorkers {
    /// Distinct workers whose files are here.
    pub present: usize,
    /// Workers in the run.
    pub count: u32,
}

impl std::fmt::Display for PartialWorkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} workers' share: analyze every worker's directory together",
            self.present, self.count
        )
    }
}

impl Source {
    /// "a replay of code.csv at 60x speed", when the run replayed traces.
    pub fn trace_line(&self) -> Option<String> {
        let t = self.trace.as_ref()?;
        let sources: Vec<String> = t["sources"]
            .as_array()?
            .iter()
            // Each name in a Markdown code span, so no backtick of its own may end it.
            .filter_map(|s| s.as_str().map(|s| format!("`{}`", s.replace('`', "'"))))
            .collect();
        let how = if t["as_fast_as_possible"].as_bool() == Some(true) {
            "as fast as possible".to_string()
        } else {
            format!(
                "at {}x the recorded speed",
                t["speed"].as_f64().unwrap_or(1.0)
            )
        };
        let mut line = format!("a replay of {} {how}", sources.join(" + "));
        if let Some([from, to]) = t["window_s"].as_array().map(Vec::as_slice)
            && (from.as_f64() > Some(0.0) || to.is_number())
        {
            let to = to
                .as_f64()
                .map_or("the end".into(), |t| format!("{t:.0} s"));
            line += &format!(", window {:.0} s to {to}", from.as_f64().unwrap_or(0.0));
        }
        Some(line)
    }

    /// How a window's offered load is read from its arrivals.
    pub fn window_load(&self) -> WindowLoad {
        match (self.open_model, &self.trace, &self.capacity_search) {
            (false, _, _) => WindowLoad::MostUsers,
            // A search with --trace sends the trace's mix at each step's rate.
            (true, _, Some(_)) => WindowLoad::SearchSteps,
            (true, Some(_), None) => WindowLoad::Arrivals,
            (true, None, None) => WindowLoad::MeanScheduledRate,
        }
    }

    /// The run's user classes as `run` flags (` --user-class NAME[:WEIGHT]` each), from its
    /// configuration: a suggested next run sends the same mix. Empty when it names none.
    pub fn mix_flags(&self) -> String {
        let Some(classes) = self
            .config
            .as_ref()
            .and_then(|c| c.get("user_classes"))
            .and_then(|c| c.as_array())
        else {
            return String::new();
        };
        let weighted = classes.len() > 1;
        classes
            .iter()
            .filter_map(|c| {
                let name = c.get("name")?.as_str()?;
                // A name from a file: only a plain one is worth a flag to paste.
                if !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
                {
                    return None;
                }
                Some(match (weighted, c.get("weight").and_then(|w| w.as_u64())) {
                    (true, Some(w)) => format!(" --user-class {name}:{w}"),
                    _ => format!(" --user-class {name}"),
                })
            })
            .collect()
    }

    /// What a load level counts.
    pub fn load_unit(&self) -> &'static str {
        if self.open_model {
            "req/s offered"
        } else {
            "users"
        }
    }
}

/// What the inputs hold: request files (each with its footer's key-value metadata),
/// resource files, and which runs ended early (by their run.json).
struct Inputs {
    requests: Vec<(PathBuf, KeyValues)>,
    resource_files: Vec<PathBuf>,
    ended_early: Vec<String>,
}

/// The files under `inputs` (run directories or files), each request file's footer checked.
fn inputs_of(inputs: &[PathBuf]) -> Result<Inputs, AnalysisError> {
    let mut found = Vec::new();
    let mut resource_files = Vec::new();
    let mut ended_early = Vec::new();
    for input in inputs {
        if input.is_dir() {
            if let Some(why) = manifest_status(input).and_then(RunStatus::ended_early) {
                ended_early.push(format!("{}: {why}", clean(&input.display().to_string())));
            }
            let here = run_files(input)?;
            if here.is_empty() {
                // A run directory (its run.json) whose run recorded nothing holds no
                // requests; any other folder holds no run.
                if input.join(aurax_schema::files::MANIFEST).is_file() {
                    return Err(AnalysisError::EmptyRun);
                }
                return Err(AnalysisError::NoParquet(input.clone()));
            }
            found.extend(here);
            let mut resources: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|_| AnalysisError::Missing(input.clone()))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(files::is_resource_file)
                })
                .collect();
            resources.sort();
            resource_files.extend(resources);
        } else if input.is_file() {
            found.push((input.clone(), check_file(input)?));
        } else {
            return Err(AnalysisError::Missing(input.clone()));
        }
    }
    Ok(Inputs {
        requests: found,
        resource_files,
        ended_early,
    })
}

/// Finds the request files under `inputs` (run directories or single files) and checks them.
pub fn discover(inputs: &[PathBuf]) -> Result<Source, AnalysisError> {
    let Inputs {
        requests: found,
        resource_files,
        ended_early,
    } = inputs_of(inputs)?;
    let mut run_ids = BTreeSet::new();
    let mut tool_version = None;
    // Per run id: the worker indices present and the run's worker count.
    let mut workers: std::collections::BTreeMap<String, (BTreeSet<u32>, u32)> = Default::default();
    let mut hosts = BTreeSet::new();
    let mut targets = None;
    let mut config = None;
    let mut open_model = false;
    let mut trace = None;
    let mut capacity_search = None;
    let mut on_start: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut ceilings: std::collections::BTreeMap<String, Option<f64>> = Default::default();
    for (_, kv) in &found {
        // Metadata is text from a file: cleaned before it reaches a terminal or a report.
        let get = |k: &str| {
            kv.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| crate::frame::clean(v))
        };
        let ceiling = get(meta::OFFERED_CEILING_RPS).and_then(|v| v.parse::<f64>().ok());
        // One ceiling per run, and per worker of a distributed run (each offers its share).
        let key = format!(
            "{} {}",
            get(meta::RUN_ID).unwrap_or_default(),
            get(meta::WORKER).unwrap_or_default()
        );
        ceilings.insert(key, ceiling);
        if let Some((index, count)) = get(meta::WORKER).as_deref().and_then(worker_of) {
            workers
                .entry(get(meta::RUN_ID).unwrap_or_default())
                .or_insert((BTreeSet::new(), count))
                .0
                .insert(index);
        }
        run_ids.extend(get(meta::RUN_ID));
        if tool_version.is_none() {
            tool_version = get(meta::TOOL_VERSION);
        }
        open_model |= get(meta::LOAD_MODEL).as_deref() == Some("open");
        hosts.extend(get(meta::TARGET_HOST));
        if targets.is_none() {
            targets = get(meta::TARGETS).and_then(|t| serde_json::from_str::<Targets>(&t).ok());
        }
        if config.is_none() {
            config = get(meta::RUN_CONFIG).and_then(|c| serde_json::from_str(&c).ok());
        }
        if capacity_search.is_none() {
            capacity_search =
                get(meta::CAPACITY_SEARCH).and_then(|c| serde_json::from_str(&c).ok());
        }
        if trace.is_none() {
            trace = get(meta::TRACE).and_then(|c| serde_json::from_str(&c).ok());
        }
        if let Some(classes) = get(meta::ON_START).and_then(|c| {
            serde_json::from_str::<std::collections::BTreeMap<String, Vec<String>>>(&c).ok()
        }) {
            on_start.extend(classes);
        }
    }
    let one_run = run_ids.len() == 1;
    let since = Column::TtftUs.since();
    let generation_files = found
        .iter()
        .filter(|(_, kv)| {
            kv.iter()
                .find(|(k, _)| k == meta::SCHEMA_VERSION)
                .and_then(|(_, v)| v.parse::<u32>().ok())
                .is_some_and(|v| v >= since)
        })
        .map(|(path, _)| path.clone())
        .collect();
    Ok(Source {
        generation_files,
        files: found.into_iter().map(|(path, _)| path).collect(),
        run_ids: run_ids.into_iter().collect(),
        hosts: hosts.into_iter().collect(),
        targets_recorded: targets.is_some(),
        targets: targets.unwrap_or_else(Targets::seed_defaults),
        config,
        open_model,
        trace,
        resource_files,
        ended_early,
        offered_ceiling_rps: ceilings.values().try_fold(0.0, |sum, c| c.map(|c| sum + c)),
        tool_version,
        partial_workers: workers
            .values()
            .find(|(present, count)| present.len() < *count as usize)
            .map(|(present, count)| PartialWorkers {
                present: present.len(),
                count: *count,
            }),
        // Several runs merged are no one search: their steps would share stage numbers.
        capacity_search: capacity_search.filter(|_| one_run),
        on_start,
    })
}

/// `I/N` of `aurax.worker`.
fn worker_of(text: &str) -> Option<(u32, u32)> {
    let (index, count) = text.split_once('/')?;
    let (index, count) = (index.trim().parse().ok()?, count.trim().parse().ok()?);
    (index < count).then_some((index, count))
}

/// The endpoints the files hold, by name: what an objective (`--slo`) may name.
pub fn endpoint_names(source: &Source) -> Result<Vec<String>, AnalysisError> {
    let df = scan(source)?
        .group_by([col("endpoint")])
        .agg([len().alias("n")])
        .sort(["endpoint"], SortMultipleOptions::default())
        .collect()?;
    Ok(crate::frame::strs(&df, "endpoint")?
        .into_iter()
        .flatten()
        .collect())
}

/// The `status` a run directory's `run.json` records (None without a readable one).
fn manifest_status(dir: &Path) -> Option<RunStatus> {
    #[derive(serde::Deserialize)]
    struct Status {
        status: RunStatus,
    }
    let text = std::fs::read_to_string(dir.join(files::MANIFEST)).ok()?;
    serde_json::from_str::<Status>(&text).ok().map(|s| s.status)
}

fn is_segment(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    name.starts_with(files::REQUEST_SEGMENT_PREFIX)
        && name.ends_with(&format!(".{}", files::PARQUET_EXT))
}

/// A file footer's key-value metadata.
type KeyValues = Vec<(String, String)>;

/// A run directory's request files (`requests-*.parquet`), checked, with their footers'
/// key-value metadata, in name order, less the leftovers of an interrupted merge: segments a
/// merged file beside them already holds (`aurax.merged_segments`, docs/parquet.md).
fn run_files(dir: &Path) -> Result<Vec<(PathBuf, KeyValues)>, AnalysisError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|_| AnalysisError::Missing(dir.to_path_buf()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_segment(p))
        .collect();
    paths.sort();
    let checked: Vec<(PathBuf, KeyValues)> = paths
        .into_iter()
        .map(|p| check_file(&p).map(|kv| (p, kv)))
        .collect::<Result<_, _>>()?;
    let index = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(files::request_segment_index)
    };
    let keys: Vec<(u32, Option<MergedSegments>)> = checked
        .iter()
        .filter_map(|(p, kv)| {
            let merged = kv
                .iter()
                .find(|(k, _)| k == meta::MERGED_SEGMENTS)
                .and_then(|(_, v)| MergedSegments::parse(v));
            Some((index(p)?, merged))
        })
        .collect();
    let keep = segments_to_read(&keys);
    Ok(checked
        .into_iter()
        .filter(|(p, _)| index(p).is_none_or(|i| keep.contains(&i)))
        .collect())
}

/// A run directory's request files to read, checked against the contract, in name order:
/// what `analyze` reads, and what a replay of a run directory sends again.
pub fn request_files(dir: &Path) -> Result<Vec<PathBuf>, AnalysisError> {
    Ok(run_files(dir)?.into_iter().map(|(path, _)| path).collect())
}

/// Reads a file's footer: it must be Parquet, of a schema version this crate reads, with
/// every contract column. Returns its key-value metadata.
fn check_file(path: &Path) -> Result<Vec<(String, String)>, AnalysisError> {
    let file = File::open(path).map_err(|_| AnalysisError::Missing(path.to_path_buf()))?;
    let reader = SerializedFileReader::new(file).map_err(|e| AnalysisError::NotParquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let meta_data = reader.metadata().file_metadata();
    let kv: Vec<(String, String)> = meta_data
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let wrong = |reason: String| AnalysisError::WrongSchema {
        path: path.to_path_buf(),
        reason,
    };
    let version = kv
        .iter()
        .find(|(k, _)| k == meta::SCHEMA_VERSION)
        .ok_or_else(|| wrong(format!("no `{}` key in its metadata", meta::SCHEMA_VERSION)))?;
    let found: u32 = version
        .1
        .parse()
        .map_err(|_| wrong(format!("bad schema version `{}`", version.1)))?;
    if found > SCHEMA_VERSION {
        return Err(AnalysisError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let columns: BTreeSet<String> = meta_data
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let missing: Vec<&str> = Column::ALL
        .iter()
        .filter(|c| c.since() <= found)
        .map(|c| c.name())
        .filter(|n| !columns.contains(*n))
        .collect();
    if !missing.is_empty() {
        return Err(wrong(format!("missing column(s) {}", missing.join(", "))));
    }
    Ok(kv)
}

/// Refuses files whose rows break the contract where the schema cannot say it: a latency that
/// is null or negative. Checked on the rows [`load`] read; the error names the file and the
/// row (0-based) and what is wrong.
pub fn check_rows(source: &Source, loaded: &DataFrame) -> Result<(), AnalysisError> {
    let latency = Column::LatencyUs.name();
    let bad = || col(latency).is_null().or(col(latency).lt(lit(0i64)));
    let scan = |paths: Vec<PlRefPath>| {
        LazyFrame::scan_parquet_files(paths.into_iter().collect(), ScanArgsParquet::default())
    };
    let any = loaded
        .clone()
        .lazy()
        .select([bad().cast(DataType::UInt32).sum().alias("n")])
        .collect()?;
    if crate::frame::f64s(&any, "n")?
        .first()
        .copied()
        .unwrap_or(0.0)
        == 0.0
    {
        return Ok(());
    }
    // Rare: find the first such row, file by file.
    for path in &source.files {
        let df = scan(vec![PlRefPath::try_from_path(path)?])?
            .select([col(latency)])
            .with_row_index("row", None)
            .filter(bad())
            .limit(1)
            .collect()?;
        if df.height() > 0 {
            let row = crate::frame::f64s(&df, "row")?[0];
            let value = crate::frame::i64s(&df, latency)?[0];
            return Err(AnalysisError::WrongSchema {
                path: path.clone(),
                reason: match value {
                    None => format!("row {row:.0}: {latency} is null; every request has a latency"),
                    Some(v) => format!(
                        "row {row:.0}: {latency} is negative ({v}); latencies are 0 or more"
                    ),
                },
            });
        }
    }
    Ok(())
}

/// The request rows as a lazy frame over the files, with the derived columns every question
/// uses ([`derive`]) and every contract column a question may group by. Each query over it
/// reads the files again: the side questions (workers, users' `on_start` requests, a
/// capacity search's steps, exports) use it; the main questions read [`load`]'s rows, read
/// once.
pub fn scan(source: &Source) -> Result<LazyFrame, AnalysisError> {
    scan_files(source, &source.files, &[])
}

/// [`scan`] of the files that have the generation columns ([`Column::GENERATION`]), with those columns (µs and token
/// counts as Int64). None when no file has them (every file older than version 3).
pub fn scan_generation(source: &Source) -> Result<Option<LazyFrame>, AnalysisError> {
    if source.generation_files.is_empty() {
        return Ok(None);
    }
    scan_files(source, &source.generation_files, &Column::GENERATION).map(Some)
}

/// The request rows every main question reads (per endpoint, per window, per level, per
/// model, failure patterns), read from the files once into memory: only the columns those
/// questions use, in their narrowest types (dictionary strings stay categorical, the flags
/// the questions ask about a bit a row), about 50 bytes a row. Every query over it is in
/// memory, none decodes the files again. Same derived columns as
/// [`scan`] once [`derive`]d ([`rows`]).
pub fn load(source: &Source) -> Result<DataFrame, AnalysisError> {
    let mut scan = parquet(&source.files)?;
    let schema = scan.collect_schema()?;
    Ok(scan
        .select(kept_columns(source, &schema))
        .collect_streaming()?)
}

/// [`load`]'s rows as a lazy frame with the derived columns.
pub fn rows(loaded: &DataFrame, targets: &Targets) -> LazyFrame {
    derive(loaded.clone().lazy(), targets)
}

fn parquet(files: &[PathBuf]) -> Result<LazyFrame, AnalysisError> {
    let paths: Vec<PlRefPath> = files
        .iter()
        .map(|p| PlRefPath::try_from_path(p))
        .collect::<PolarsResult<_>>()?;
    Ok(LazyFrame::scan_parquet_files(
        paths.into_iter().collect(),
        ScanArgsParquet::default(),
    )?)
}

/// What [`load`] keeps of a row, each the one definition of its word (docs/analysis.md):
/// - `sent_us`, `latency_us`, `lateness_us` (actual less intended send, never negative);
/// - `load`: the load a request met: users for a closed model, offered req/s for an open one;
/// - `ok`: a sent request that passed every check; `dropped`: an arrival never sent
///   (`--max-in-flight`); `timeout`, `cancelled`: those outcomes; `good` ([`good`]);
/// - `responded`: an HTTP response came (any status); `hidden_app_error`: an `app_error`
///   with HTTP 200 (`success: false`), invisible to status codes.
fn kept_columns(source: &Source, schema: &Schema) -> Vec<Expr> {
    let outcome = |o: Outcome| col("outcome").eq(lit(o.as_str()));
    // Categorical whatever wrote the file: the contract's dictionary strings already are (a
    // cast would cost a tenth of the analysis); a plain string column from another writer
    // becomes one. The ranks key rows by category.
    let categorical = |name: &str| match schema.get(name) {
        Some(DataType::Categorical(..)) => col(name),
        _ => col(name).cast(DataType::from_categories(Categories::global())),
    };
    vec![
        categorical("endpoint"),
        categorical("model_used"),
        col("actual_send_time")
            .cast(DataType::Int64)
            .alias("sent_us"),
        col("latency_us").cast(DataType::Int64),
        (col("actual_send_time").cast(DataType::Int64)
            - col("intended_send_time").cast(DataType::Int64))
        .clip_min(lit(0))
        .alias("lateness_us"),
        if source.open_model {
            col("stage_target")
        } else {
            col("users_active")
        }
        .alias("load"),
        col("in_flight"),
        outcome(Outcome::Ok).alias("ok"),
        good(&source.targets),
        outcome(Outcome::Dropped).alias("dropped"),
        outcome(Outcome::Timeout).alias("timeout"),
        outcome(Outcome::Cancelled).alias("cancelled"),
        col("status").is_not_null().alias("responded"),
        outcome(Outcome::AppError)
            .and(col("status").eq(lit(200)))
            .alias("hidden_app_error"),
        // For the failure patterns: a few bytes a row, dictionary-coded.
        col("outcome"),
        col("status"),
        col("error"),
    ]
}

fn scan_files(
    source: &Source,
    files: &[PathBuf],
    extra: &[Column],
) -> Result<LazyFrame, AnalysisError> {
    let mut scan = parquet(files)?;
    let schema = scan.collect_schema()?;
    let mut columns = kept_columns(source, &schema);
    columns.extend([
        col("method"),
        col("intended_send_time")
            .cast(DataType::Int64)
            .alias("intended_us"),
        col("bytes_received").cast(DataType::Float64),
        col("user_class"),
        col("user_id").cast(DataType::Int64),
        col("stage").cast(DataType::Int64),
        col("stage_target").cast(DataType::Float64),
        col("worker_id").cast(DataType::Int64),
    ]);
    columns.extend(extra.iter().map(|c| col(c.name()).cast(DataType::Int64)));
    // Dictionary strings stay categorical (a few bytes a row); only aggregated results are
    // turned into strings, which keeps memory small on runs of millions of rows.
    Ok(derive(parquet(files)?.select(columns), &source.targets))
}

/// The words every question uses, derived from [`kept_columns`] (docs/analysis.md):
/// - `sent`: not dropped; `failed`: not ok (dropped included);
/// - `ended_us` (actual send + latency: when the request completed);
/// - `target_ms`: the endpoint's response-time target (null without one);
/// - `corrected_us`: latency from the intended send time.
fn derive(rows: LazyFrame, targets: &Targets) -> LazyFrame {
    rows.with_columns([
        col("dropped").not().alias("sent"),
        col("ok").not().alias("failed"),
        (col("sent_us") + col("latency_us")).alias("ended_us"),
        (col("latency_us") + col("lateness_us")).alias("corrected_us"),
        target_expr(targets).alias("target_ms"),
    ])
}

/// `good`: `ok` and strictly under the endpoint's target (`crate::slo::within_target`); kept
/// a bit a row, so no query evaluates the targets again.
fn good(targets: &Targets) -> Expr {
    let target_ms = target_expr(targets);
    col("outcome")
        .eq(lit(Outcome::Ok.as_str()))
        .and(
            target_ms.clone().is_null().or(col("latency_us")
                .cast(DataType::Float64)
                .lt(target_ms * lit(1000.0))),
        )
        .alias("good")
}

/// `target_ms` per row, from the run's targets (null for endpoints without one).
fn target_expr(targets: &Targets) -> Expr {
    let mut expr = lit(NULL).cast(DataType::Float64);
    for t in &targets.endpoints {
        expr = when(col("endpoint").eq(lit(t.endpoint.clone())))
            .then(lit(t.target_ms))
            .otherwise(expr);
    }
    expr
}
