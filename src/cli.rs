//! Command-line interface. Flags follow Locust's names where Locust has one.

use std::path::PathBuf;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::flags::{self, Header, StageList};
use crate::limits;
use crate::runner::StopCondition;
use crate::shape::Arrivals;
use crate::simulator::{Backend, MetricsFlavour, Overload};

/// The profile `run` uses when none is named.
pub const DEFAULT_PROFILE: &str = "light";

#[derive(Debug, Parser)]
#[command(
    name = "aurax-tool",
    version,
    about = "Load testing for the AURAX AI platform API: run, simulate, analyze"
)]
/// The command line: one subcommand.
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drive AURAX (or the built-in simulator when --host is absent) and record every request.
    Run(Box<RunArgs>),
    /// Serve the AURAX simulator alone, for demos and for other tools.
    Serve(ServeArgs),
    /// Analyse run directories: bottlenecks, errors, breaking point, scaling; charts and a report.
    Analyze(AnalyzeArgs),
    /// Print or check scenario files.
    #[command(subcommand)]
    Scenario(ScenarioCommand),
    /// A recording reverse proxy: forwards to --upstream and writes each request to a JSONL trace.
    Record(RecordArgs),
    /// Look into traces before replaying them.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Print a shell completion script: `aurax-tool completions bash > /etc/bash_completion.d/aurax-tool`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): `aurax-tool man > aurax-tool.1`, `aurax-tool man run >
    /// aurax-tool-run.1` (the pages the top one refers to).
    Man {
        /// The subcommand whose page to print (run, analyze, serve, ...).
        #[arg(value_name = "SUBCOMMAND")]
        subcommand: Option<String>,
    },
    /// Kubernetes: a distributed run as an Indexed Job (docs/distributed.md).
    #[command(subcommand)]
    K8s(K8sCommand),
}

/// `k8s` subcommands.
#[derive(Debug, Subcommand)]
pub enum K8sCommand {
    /// Print a batch/v1 Indexed Job (JSON, which kubectl reads as YAML) whose N pods each run
    /// their share of `-- run ARGS...`, starting together, writing to a shared volume.
    Job(K8sJobArgs),
}

/// `k8s job` flags.
#[derive(Debug, Args)]
pub struct K8sJobArgs {
    /// Workers (pods), each running its share: completions = parallelism = N.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub workers: u32,
    /// The container image with aurax-tool as its entrypoint.
    #[arg(long)]
    pub image: String,
    /// The Job's name (a DNS label: lowercase letters, digits and '-').
    #[arg(long, default_value = "aurax-load", value_parser = flags::dns_label)]
    pub name: String,
    /// The namespace [default: kubectl's].
    #[arg(long, value_parser = flags::dns_label)]
    pub namespace: Option<String>,
    /// A PersistentVolumeClaim (ReadWriteMany) mounted at /results: worker I writes
    /// /results/wI, collected from there after the Job completes.
    #[arg(long, value_parser = flags::dns_label)]
    pub pvc: String,
    /// When the workers start the load [default: 2 minutes from now, to the second].
    #[arg(long = "start-at", value_name = "TIME", value_parser = flags::start_at)]
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// CPU each pod requests (a Kubernetes quantity).
    #[arg(long, default_value = "1", value_parser = flags::quantity)]
    pub cpu: String,
    /// Memory each pod requests, and its limit.
    #[arg(long, default_value = "1Gi", value_parser = flags::quantity)]
    pub memory: String,
    /// Write the manifest to FILE, only once it is valid (stdout without it).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The run every worker makes its share of: `-- run --rate 2000/s -t 10m ...`.
    #[arg(last = true, required = true, value_name = "run ARGS")]
    pub run: Vec<String>,
}

/// `record` flags.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Address to listen on (port 0 picks a free one; the URL is printed on the first line).
    #[arg(long, default_value = "127.0.0.1:8001", value_parser = flags::socket_address)]
    pub listen: SocketAddr,
    /// The AURAX to forward to, e.g. http://localhost:8000.
    #[arg(long, value_parser = flags::url)]
    pub upstream: String,
    /// The JSONL trace to write (replay it with `run --trace`).
    #[arg(long)]
    pub out: PathBuf,
    /// Keep Authorization and cookie values in the trace (redacted by default).
    #[arg(long = "keep-secrets")]
    pub keep_secrets: bool,
    /// Timeout of one forwarded request.
    #[arg(long, default_value = "120s", value_parser = flags::positive_duration)]
    pub timeout: Duration,
    /// Scenario file whose endpoints name the recorded requests [default: built-in].
    #[arg(long = "scenario-file", value_name = "PATH")]
    pub scenario_file: Option<PathBuf>,
}

/// Which part of the traces, read how: shared by `run --trace` and `trace stats`, so the
/// statistics describe exactly what a replay with the same flags sends.
#[derive(Debug, Args, Clone)]
pub struct TraceSelection {
    /// Trace format when detection by content is not wanted: jsonl, azure, har, run.
    #[arg(long = "trace-format", value_name = "FORMAT")]
    pub trace_format: Option<String>,
    /// Endpoint of traces that name none (the Azure CSV) [default: generate_text].
    #[arg(long = "trace-endpoint", value_name = "ENDPOINT")]
    pub trace_endpoint: Option<String>,
    /// Replay speed: recorded gaps are divided by this (20: twenty times faster).
    #[arg(long, default_value = "1", value_parser = flags::scale)]
    pub speed: f64,
    /// Only the part of the trace between these offsets from its start, e.g. 10m..20m.
    #[arg(long, value_name = "FROM..TO", value_parser = flags::window)]
    pub window: Option<(Duration, Option<Duration>)>,
    /// Skip bad trace lines (counted in the summary) instead of stopping at the first.
    #[arg(long)]
    pub lenient: bool,
}

/// `trace` subcommands.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Arrivals per second, gaps, endpoint mix and sizes of what a replay would send.
    Stats(TraceStatsArgs),
}

/// `trace stats` flags.
#[derive(Debug, Args)]
pub struct TraceStatsArgs {
    /// Traces, PATH or PATH:ENDPOINT; several are merged as a replay merges them.
    #[arg(required = true, value_name = "PATH[:ENDPOINT]")]
    pub traces: Vec<String>,
    /// Which part of the traces, read how.
    #[command(flatten)]
    pub selection: TraceSelection,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Scenario file whose endpoints the trace names [default: built-in].
    #[arg(long = "scenario-file", value_name = "PATH")]
    pub scenario_file: Option<PathBuf>,
}

/// `analyze` flags.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Run directories (or request files) of one run; several (a distributed run's workers)
    /// are merged into one analysis, exactly.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Merge the inputs even when they hold different runs (different run ids).
    #[arg(long = "merge-runs")]
    pub merge_runs: bool,
    /// Report folder [default: reports/<name of the first run directory>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where the report folder will be served (a CI artefact or bucket URL): report.md links
    /// its charts there, so they show once the Markdown is pasted [default: relative links].
    #[arg(long = "link-base", value_name = "URL", value_parser = flags::url)]
    pub link_base: Option<String>,
    /// A previous run to compare against: what got worse, with a significance test.
    #[arg(long)]
    pub baseline: Vec<PathBuf>,
    /// Exit 98 when the baseline comparison finds a significant regression.
    #[arg(long = "fail-on-regression")]
    pub fail_on_regression: bool,
    /// Exit 99 when a response-time or error-rate target is missed.
    #[arg(long = "fail-on-targets")]
    pub fail_on_targets: bool,
    /// Judge by this objective instead of the run's recorded target: 'generate_text:p95<3s',
    /// 'generate_text:ttft_p95<1s', 'generate_text:itl_p95<50ms', 'error_rate<1%'; repeatable.
    #[arg(long = "slo", value_name = "OBJECTIVE", value_parser = flags::slo)]
    pub slo: Vec<flags::Slo>,
    /// Files for other tools.
    #[command(flatten)]
    pub exports: Exports,
}

/// Outputs for other tools, from `run` and from `analyze`.
#[derive(Debug, Args, Clone)]
pub struct Exports {
    /// Also write Locust's CSV files: PREFIX_stats.csv, PREFIX_stats_history.csv,
    /// PREFIX_failures.csv (Locust's columns, aurax-tool's definitions).
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,
    /// Also write a JUnit XML report: one test case per judged target.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
#[command(group(
    ArgGroup::new("load_shape")
        .args(["scenario", "stages", "rate", "rate_stages", "trace"])
        .multiple(false)
))]
// Every relation between flags is declared here, once, and refused by clap (exit 2).
#[command(group(
    ArgGroup::new("trace_only")
        .args(["trace_format", "trace_endpoint", "window", "lenient", "speed", "loops", "as_fast_as_possible"])
        .multiple(true)
        .requires("trace")
))]
/// `run` flags.
pub struct RunArgs {
    /// Base URL of AURAX, e.g. http://localhost:8000. Absent: start the built-in simulator on 127.0.0.1.
    #[arg(long, value_parser = flags::url)]
    pub host: Option<String>,
    /// One of the seed's recommended configurations: light, medium, heavy, burst, peak.
    #[arg(long, default_value = DEFAULT_PROFILE)]
    pub profile: String,
    /// Peak number of concurrent users (overrides the profile; with --trace, the users of
    /// --as-fast-as-possible).
    #[arg(short = 'u', long, value_parser = clap::value_parser!(u32).range(1..=i64::from(limits::MAX_USERS)),
          allow_negative_numbers = true, conflicts_with_all = ["scenario", "stages", "rate", "rate_stages"])]
    pub users: Option<u32>,
    /// Users started per second (overrides the profile).
    #[arg(short = 'r', long = "spawn-rate", value_parser = flags::spawn_rate,
          allow_negative_numbers = true, conflicts_with = "load_shape")]
    pub spawn_rate: Option<f64>,
    /// How long to run: 90s, 5m, 1h30m (overrides the profile; caps stages and replays).
    #[arg(short = 't', long = "run-time", value_parser = flags::positive_duration)]
    pub run_time: Option<Duration>,
    /// User class to run, NAME or NAME:WEIGHT; repeat for several (overrides the profile).
    #[arg(
        long = "user-class",
        value_name = "NAME[:WEIGHT]",
        conflicts_with = "trace"
    )]
    pub user_class: Vec<String>,
    /// Load scenario: ramp, spike, sustained, mixed, exhaustion (or one of --scenario-file's).
    #[arg(long)]
    pub scenario: Option<String>,
    /// Multiply the load scenario's users or rates.
    #[arg(long, default_value = "1", value_parser = flags::scale, requires = "scenario")]
    pub scale: f64,
    /// Multiply the load scenario's stage durations (0.1: ten times shorter).
    #[arg(long = "duration-scale", default_value = "1", value_parser = flags::scale,
          requires = "scenario")]
    pub duration_scale: f64,
    /// Closed model in stages, k6-style USERS:DURATION,... e.g. '0:10s,50:1m,50:3m,0:30s'.
    #[arg(long, value_parser = flags::user_stages)]
    pub stages: Option<StageList>,
    /// Open model: arrivals per second, e.g. 50/s, independent of response times.
    #[arg(long, value_parser = flags::rate)]
    pub rate: Option<f64>,
    /// Open model in stages, RATE:DURATION,... e.g. '10/s:1m,200/s:5m'.
    #[arg(long = "rate-stages", value_parser = flags::rate_stages)]
    pub rate_stages: Option<StageList>,
    /// Open-model arrival spacing [default: constant, or the scenario's].
    #[arg(long, value_enum, conflicts_with_all = ["stages", "trace"])]
    pub arrivals: Option<Arrivals>,
    /// Open model: client connections; an arrival waits for a free one (lateness recorded).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=limits::MAX_CONNECTIONS),
          conflicts_with = "stages")]
    pub connections: Option<u64>,
    /// Open model: arrivals that find this many requests in flight are recorded as `dropped`.
    #[arg(long = "max-in-flight", value_parser = clap::value_parser!(u64).range(1..=limits::MAX_IN_FLIGHT),
          conflicts_with = "stages")]
    pub max_in_flight: Option<u64>,
    /// Threads the load runs on, each user or arrival (and its connections) on one for its
    /// whole life [default: one per core].
    #[arg(long, value_name = "N", value_parser = flags::threads)]
    pub threads: Option<std::num::NonZeroUsize>,
    /// Replay a recorded mix: JSONL, Azure LLM CSV, HAR or a run directory; PATH:ENDPOINT sets
    /// the endpoint of a trace without endpoint names. Repeat to merge traces.
    #[arg(long = "trace", value_name = "PATH[:ENDPOINT]")]
    pub trace: Vec<String>,
    /// Which part of the traces, read how.
    #[command(flatten)]
    pub selection: TraceSelection,
    /// Replay the trace N times back to back; without N, until --run-time or Ctrl-C.
    #[arg(long = "loop", value_name = "N", num_args = 0..=1, default_missing_value = "0")]
    pub loops: Option<u64>,
    /// Replay at most this many requests per second (50/s); later ones are pushed back.
    #[arg(long = "max-rate", value_name = "RATE", value_parser = flags::rate, requires = "trace")]
    pub max_rate: Option<f64>,
    /// Replay the trace's requests back to back with -u users, ignoring its timing.
    #[arg(long = "as-fast-as-possible", requires = "users")]
    pub as_fast_as_possible: bool,
    /// Serve the run's live metrics in Prometheus format at http://ADDR/metrics (port 0 picks one).
    #[arg(long = "metrics-listen", value_name = "ADDR", value_parser = flags::socket_address)]
    pub metrics_listen: Option<SocketAddr>,
    /// Keep --metrics-listen serving this long after the load ends, for a last scrape.
    #[arg(long = "metrics-hold", default_value = "0s", value_parser = flags::duration)]
    pub metrics_hold: Duration,
    /// Sample the target's Prometheus /metrics into resources.parquet; repeatable.
    /// [default without --host: the built-in simulator's]
    #[arg(long = "scrape", value_name = "URL", value_parser = flags::url)]
    pub scrape: Vec<String>,
    /// Sample a local process's CPU, memory and disk I/O into resources.parquet; repeatable.
    #[arg(long = "watch-pid", value_name = "PID")]
    pub watch_pid: Vec<u32>,
    /// Ollama behind AURAX (e.g. http://127.0.0.1:11434): its /api/ps (the models in memory)
    /// sampled at the sample interval into resources.parquet, for the report's model
    /// residency: loads, swaps and the time requests lost to them [default: the scenario
    /// file's `[monitoring] ollama`].
    #[arg(long, value_name = "URL", value_parser = flags::url)]
    pub ollama: Option<String>,
    /// How often resources are sampled (the generator's own CPU and memory always are).
    /// Default: 5s; a run planned shorter than 150 s is sampled 30 times (at least every 1s).
    #[arg(long = "sample-interval", value_name = "DURATION", value_parser = flags::sample_interval)]
    pub sample_interval: Option<Duration>,
    /// Search for the highest arrival rate of the request mix at which every target holds:
    /// open-model steps, doubled until one fails, then bisected (docs/run.md).
    #[arg(long = "find-capacity",
          conflicts_with_all = ["scenario", "stages", "rate", "rate_stages", "users", "spawn_rate", "run_time", "stop_on", "as_fast_as_possible", "loops", "max_rate", "speed"])]
    pub find_capacity: bool,
    /// --find-capacity: the time the whole search may take, drains included. [default: 10m]
    // No clap default on the search's settings: `requires` holds only for flags given (and
    // not beside a flag that conflicts with the one required: see
    // `search_setting_without_search`).
    #[arg(long, value_parser = flags::positive_duration, requires = "find_capacity")]
    pub budget: Option<Duration>,
    /// --find-capacity: stop when the highest passing and lowest failing rates are this close.
    /// [default: 5%]
    #[arg(long, value_parser = flags::precision, requires = "find_capacity")]
    pub precision: Option<f64>,
    /// --find-capacity: a step's minimum hold; one that has not settled is held up to 3 times as long.
    /// [default: 30s]
    #[arg(long = "step-time", value_parser = flags::positive_duration, requires = "find_capacity")]
    pub step_time: Option<Duration>,
    /// --find-capacity: the rate of the first step (arrivals per second of the mix). [default: 1/s]
    #[arg(long = "start-rate", value_parser = flags::rate, requires = "find_capacity")]
    pub start_rate: Option<f64>,
    /// Replace a target: 'generate_text:p95<3s', 'generate_text:ttft_p95<1s' (time to first
    /// token), 'generate_text:itl_p95<50ms' (inter-token latency) or 'error_rate<1%'; repeatable.
    #[arg(long = "slo", value_name = "OBJECTIVE", value_parser = flags::slo)]
    pub slo: Vec<flags::Slo>,
    /// Stop the run when a load stage breaks a condition, 'error_rate>10%' or 'p95>15s'; repeatable.
    #[arg(long = "stop-on", value_name = "CONDITION", value_parser = flags::stop_condition)]
    pub stop_on: Vec<StopCondition>,
    /// Scenario file (TOML) instead of the built-in one; see `aurax-tool scenario show`.
    #[arg(long = "scenario-file", value_name = "PATH")]
    pub scenario_file: Option<PathBuf>,
    /// Seed for every random choice (tasks, waits, payloads): the same seed, the same run.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run directory for the Parquet files and run.json [default: runs/<run id>, or
    /// runs/<run id>/w<I> for worker I of a distributed run].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Distributed run: this worker's share, I/N (I from 0): the N workers together send
    /// exactly the one-machine load (docs/distributed.md). Needs --start-at.
    #[arg(long, value_name = "I/N", value_parser = flags::shard, conflicts_with_all = ["shards", "find_capacity"], requires = "start_at")]
    pub shard: Option<crate::shard::Shard>,
    /// Distributed run in a Kubernetes Indexed Job: N workers, this one's index from
    /// JOB_COMPLETION_INDEX. Needs --start-at.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000), conflicts_with = "find_capacity", requires = "start_at")]
    pub shards: Option<u32>,
    /// Start the load at this wall-clock time, RFC 3339 (2026-12-01T10:00:00Z): the workers
    /// of a distributed run start together; one that is late starts at once and records by
    /// how much.
    #[arg(long = "start-at", value_name = "TIME", value_parser = flags::start_at)]
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Extra request header, 'Name: value'; repeatable (e.g. Authorization).
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = flags::header)]
    pub headers: Vec<Header>,
    /// Timeout of one request, from send to the end of the body.
    #[arg(long, default_value = "60s", value_parser = flags::positive_duration)]
    pub timeout: Duration,
    /// Largest response body read; a larger one is recorded as outcome `other`.
    #[arg(long = "max-body-bytes", default_value_t = 10 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1..=limits::MAX_BODY_BYTES))]
    pub max_body_bytes: u64,
    /// How long requests still in flight at the end may take to finish.
    #[arg(long = "stop-timeout", default_value = "30s", value_parser = flags::duration)]
    pub stop_timeout: Duration,
    /// Percentile the response-time targets are judged on [default: the scenario's, 95].
    #[arg(long = "target-percentile", value_parser = flags::percentile)]
    pub target_percentile: Option<f64>,
    /// Report target failures but exit 0 anyway.
    #[arg(long = "no-thresholds")]
    pub no_thresholds: bool,
    /// No live line, only the final table.
    #[arg(short, long)]
    pub quiet: bool,
    /// After the run, analyse it into a report folder (see --report-dir).
    #[arg(long)]
    pub report: bool,
    /// Where --report writes [default: reports/<name of the run directory>].
    #[arg(long = "report-dir", requires = "report")]
    pub report_dir: Option<PathBuf>,
    /// Files for other tools.
    #[command(flatten)]
    pub exports: Exports,
}

impl RunArgs {
    /// The first of `--find-capacity`'s settings given without it, as typed.
    pub fn search_setting_without_search(&self) -> Option<&'static str> {
        if self.find_capacity {
            return None;
        }
        [
            (self.budget.is_some(), "--budget"),
            (self.precision.is_some(), "--precision"),
            (self.step_time.is_some(), "--step-time"),
            (self.start_rate.is_some(), "--start-rate"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// Port to listen on (0 picks a free one; the URL is printed on the first line).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// The simulator's settings.
    #[command(flatten)]
    pub sim: SimArgs,
}

/// The simulator's settings, shared by `serve` and tests.
#[derive(Debug, Args, Clone)]
pub struct SimArgs {
    /// Multiplies every service time; 1.0 is real-world speed (an image takes ~8 s).
    #[arg(long = "time-scale", default_value = "0.1", value_parser = flags::time_scale)]
    pub time_scale: f64,
    /// Concurrent generations of the text model (mistral:7b-instruct-q4_K_M); text and
    /// burst_request take 2 s each at real-world speed, so capacity is slots / (2 s x time scale).
    #[arg(long = "text-slots", default_value_t = 16)]
    pub text_slots: u32,
    /// Concurrent generations of the code model (qwen3:coder), 4 s each at real-world speed.
    #[arg(long = "code-slots", default_value_t = 8)]
    pub code_slots: u32,
    /// Concurrent generations of the image model (stable-diffusion), 8 s each at real-world speed.
    #[arg(long = "image-slots", default_value_t = 4)]
    pub image_slots: u32,
    /// Past a model's slots: queue (FIFO, as Ollama does) or refuse at once (a fail-fast target).
    #[arg(long, value_enum, default_value_t = Overload::Queue)]
    pub overload: Overload,
    /// Requests that may wait for one model's slots; more are answered HTTP 200
    /// "success": false [default: 512 (Ollama's OLLAMA_MAX_QUEUE) with --overload queue, 0 with refuse].
    #[arg(long = "queue")]
    pub queue_limit: Option<u32>,
    /// AURAX's model client timeout at real-world speed, queue wait included (scaled by
    /// --time-scale); a generation that takes longer is answered HTTP 200 "success": false.
    #[arg(long = "model-timeout", default_value = "120s", value_parser = crate::duration::parse_duration)]
    pub model_timeout: std::time::Duration,
    /// intended: the API as documented; published: the published code's bugs too (code answered
    /// by the text model, images failing at once, the bare /metrics).
    #[arg(long, value_enum, default_value_t = Backend::Intended)]
    pub backend: Backend,
    /// What /metrics serves [default: full, or published with --backend published].
    #[arg(long, value_enum)]
    pub metrics: Option<MetricsFlavour>,
    /// Share of generations answered HTTP 200 with "success": false (route/status: HTTP 500).
    #[arg(long = "error-rate", default_value_t = 0.0, value_parser = flags::share)]
    pub error_rate: f64,
    /// Share of requests answered 503.
    #[arg(long = "http-error-rate", default_value_t = 0.0, value_parser = flags::share)]
    pub http_error_rate: f64,
    /// Share of requests delayed by --slow.
    #[arg(long = "slow-rate", default_value_t = 0.0, value_parser = flags::share)]
    pub slow_rate: f64,
    /// Extra delay of a slow response.
    #[arg(long = "slow", default_value = "2s", value_parser = flags::duration)]
    pub slow: Duration,
    /// Share of connections cut in the middle of the response.
    #[arg(long = "reset-rate", default_value_t = 0.0, value_parser = flags::share)]
    pub reset_rate: f64,
    /// Share of responses that are not JSON.
    #[arg(long = "garbage-rate", default_value_t = 0.0, value_parser = flags::share)]
    pub garbage_rate: f64,
    /// Share of responses with a 64 MiB body.
    #[arg(long = "huge-body-rate", default_value_t = 0.0, value_parser = flags::share)]
    pub huge_body_rate: f64,
    /// Stall every request arriving in a window, AT+FOR after start, e.g. 5s+2s.
    #[arg(long, value_name = "AT+FOR", value_parser = flags::stall)]
    pub stall: Option<(Duration, Duration)>,
    /// Seed of the simulator's random choices.
    #[arg(long = "sim-seed", default_value_t = 0)]
    pub sim_seed: u64,
    /// Model-server APIs (/api/generate, /api/chat, /v1/completions, /v1/chat/completions):
    /// time per output token at real-world speed [default: each model's own, 1 ms text,
    /// 1.33 ms code, so AURAX's fixed 2,000/3,000-token request takes its /generate time].
    #[arg(long = "token-time", value_parser = flags::duration)]
    pub token_time: Option<Duration>,
    /// Model-server APIs: time per prompt token (4 characters) at real-world speed; the
    /// prompt's end is the first token.
    #[arg(long = "prompt-token-time", default_value = "0.25ms", value_parser = flags::duration)]
    pub prompt_token_time: Duration,
    /// Model-server APIs: output tokens of a request that sets no limit.
    #[arg(long = "default-tokens", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=131_072))]
    pub default_tokens: u32,
    /// Model-server APIs: loading a model on its first generation (a cold start, reported as
    /// Ollama's load_duration); 0s: models loaded from the start.
    #[arg(long = "model-load", default_value = "0s", value_parser = flags::duration)]
    pub model_load: Duration,
    /// Memory for loaded models, e.g. 24GB: when it cannot hold every model (text 4.4 GB,
    /// code 18.6 GB, image 4.0 GB), they swap as Ollama's do: the least recently used idle
    /// model is unloaded, a request for an unloaded one waits for its load (text 3 s, code
    /// 10 s, image 4 s at real-world speed, or --model-load) [default: every model fits].
    #[arg(long = "model-memory", value_name = "SIZE", value_parser = flags::memory_size)]
    pub model_memory: Option<u64>,
    /// An idle model is unloaded after this long (Ollama's keep_alive), at real-world speed.
    #[arg(long = "keep-alive", default_value = "5m", value_parser = flags::duration)]
    pub keep_alive: Duration,
}

/// `scenario` subcommands.
#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// Print the built-in scenario file as TOML, one load scenario of it (ramp, spike, ...),
    /// or the built-in file for AURAX's model server asked directly (ollama, openai).
    Show {
        /// `ollama`, `openai`, or a load scenario's name; absent: the whole AURAX file.
        name: Option<String>,
    },
    /// Check a scenario file and list what it defines.
    Check {
        /// The scenario file (TOML).
        path: PathBuf,
    },
}
