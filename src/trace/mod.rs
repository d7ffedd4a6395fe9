//! Recorded request mixes. A trace is read lazily, one request at a time, from our JSONL
//! format, the Azure LLM inference trace CSV, a HAR 1.2 export or a previous run directory;
//! several traces are merged, sliced and paced into the replay schedule the runner follows.

mod azure;
mod detect;
mod endpoints;
mod har;
mod headers;
mod jsonl;
mod lines;
mod options;
mod order;
mod rundir;
mod schedule;
mod stats;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

pub use detect::{Format, detect_format};
pub use endpoints::{ENDPOINT_HEADER, EndpointResolver, PROBE_HEADER};
pub use headers::{is_connection_header, is_not_replayed};
pub use options::{ReplayCounters, ReplayOptions, parse_window};
pub use schedule::{ReplaySchedule, Scheduled};
pub use stats::TraceStats;

use crate::scenario::{EndpointId, Scenario};

/// One request as a trace describes it, ready to send.
#[derive(Debug, Clone)]
pub struct TraceRequest {
    pub endpoint: EndpointId,
    /// The method and path to send; the endpoint's when the trace does not say.
    pub method: Option<String>,
    pub path: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Bytes>,
    pub max_tokens: Option<u32>,
    /// The trace's name (its file name) and the line, entry or row the request came from.
    pub source: Arc<str>,
    pub line: u64,
}

/// A request with its time on the trace's own clock (nanoseconds; any origin).
#[derive(Debug, Clone)]
pub struct TimedRequest {
    pub time_ns: i64,
    pub request: TraceRequest,
}

/// A trace to replay, `PATH` or `PATH:ENDPOINT` on the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSpec {
    pub path: PathBuf,
    /// The endpoint every request of a trace without endpoint names goes to (Azure CSV).
    pub endpoint: Option<String>,
}

impl TraceSpec {
    /// `PATH[:ENDPOINT]`: a path that exists as given wins over a `:` suffix.
    pub fn parse(text: &str) -> Result<TraceSpec, String> {
        if Path::new(text).exists() {
            return Ok(TraceSpec {
                path: text.into(),
                endpoint: None,
            });
        }
        if let Some((path, endpoint)) = text.rsplit_once(':')
            && Path::new(path).exists()
            && !endpoint.is_empty()
            && !endpoint.contains('/')
        {
            return Ok(TraceSpec {
                path: path.into(),
                endpoint: Some(endpoint.to_string()),
            });
        }
        Err(format!(
            "--trace {text}: no such file or directory (give PATH or PATH:ENDPOINT)"
        ))
    }

    /// The name rows of this trace carry in `trace_source`.
    pub fn name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into(),
        )
    }
}

/// What is wrong with a trace. `Line` errors concern one request and may be skipped with
/// `--lenient`; `File` errors end the replay.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TraceError {
    #[error("{}: {reason}", place(file, unit, *line))]
    Line {
        file: String,
        /// `line` for text formats, `entry` for HAR, `seq` for run directories.
        unit: &'static str,
        line: u64,
        reason: String,
    },
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
}

fn place(file: &str, unit: &str, line: u64) -> String {
    if unit == "line" {
        format!("{file}:{line}")
    } else {
        format!("{file}: {unit} {line}")
    }
}

impl TraceError {
    pub fn file(file: &Path, reason: impl Into<String>) -> TraceError {
        TraceError::File {
            file: file.display().to_string(),
            reason: reason.into(),
        }
    }

    pub fn is_line(&self) -> bool {
        matches!(self, TraceError::Line { .. })
    }
}

/// Requests of one trace in file order, each with its time, or what is wrong with it.
pub type TraceReader = Box<dyn Iterator<Item = Result<TimedRequest, TraceError>> + Send>;

/// Opens a trace in the given format (detected from its content when `None`).
pub fn open(
    spec: &TraceSpec,
    format: Option<Format>,
    scenario: &Arc<Scenario>,
    default_endpoint: Option<&str>,
) -> Result<TraceReader, TraceError> {
    let format = match format {
        Some(f) => f,
        None => detect_format(&spec.path)?,
    };
    let resolver = Arc::new(EndpointResolver::new(scenario.clone()));
    let endpoint = spec.endpoint.as_deref().or(default_endpoint);
    let fixed = match endpoint {
        Some(name) => Some(resolver.by_name(name).map_err(|e| {
            TraceError::file(
                &spec.path,
                format!("--trace ...:{name} / --trace-endpoint: {e}"),
            )
        })?),
        None => None,
    };
    let source: Arc<str> = Arc::from(spec.name());
    match format {
        Format::Jsonl => jsonl::open(&spec.path, source, resolver, fixed),
        Format::Azure => azure::open(
            &spec.path,
            source,
            scenario.clone(),
            fixed.unwrap_or(resolver.by_name(azure::DEFAULT_ENDPOINT).map_err(|e| {
                TraceError::file(&spec.path, format!("{e}; name one with --trace-endpoint"))
            })?),
        ),
        Format::Har => har::open(&spec.path, source, resolver, fixed),
        Format::RunDir => rundir::open(&spec.path, source, resolver, fixed),
    }
}

/// The `max_tokens` of a JSON body, which the Parquet rows carry.
/// A recorded HTTP method as it goes on the wire: upper case (`post` is `POST`; most servers
/// answer 405 to the lower-case one), and a valid token or an error saying why.
pub fn http_method(text: &str) -> Result<String, String> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if text.is_empty() || text.len() > 32 || !text.chars().all(tchar) {
        return Err(format!("method {text:?} is not an HTTP method"));
    }
    Ok(text.to_ascii_uppercase())
}

/// The output-token limit a request body asks for, in whichever field its API names it.
pub fn max_tokens_of(body: &serde_json::Value) -> Option<u32> {
    // AURAX and OpenAI `max_tokens`, OpenAI's newer `max_completion_tokens`, Ollama's
    // `options.num_predict`.
    body.get("max_tokens")
        .or_else(|| body.get("max_completion_tokens"))
        .or_else(|| body.pointer("/options/num_predict"))
        .and_then(serde_json::Value::as_u64)
        .map(|n| n.min(u64::from(u32::MAX)) as u32)
}

#[cfg(test)]
mod tests {
    #[test]
    fn methods_go_out_in_upper_case_and_bad_ones_are_refused() {
        assert_eq!(super::http_method("post"), Ok("POST".to_string()));
        assert_eq!(super::http_method("GET"), Ok("GET".to_string()));
        assert!(super::http_method("PO ST").is_err());
        assert!(super::http_method("").is_err());
        assert!(super::http_method("GET\r\nX: y").is_err());
    }

    use super::*;

    #[test]
    fn spec_takes_an_endpoint_suffix_only_when_the_whole_text_is_no_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("code.csv");
        std::fs::write(&file, "x").expect("write");
        let plain = TraceSpec::parse(file.to_str().expect("utf8")).expect("plain");
        assert_eq!(plain.endpoint, None);
        let with = TraceSpec::parse(&format!("{}:generate_code", file.display())).expect("with");
        assert_eq!(with.endpoint.as_deref(), Some("generate_code"));
        assert_eq!(with.name(), "code.csv");
        let missing = TraceSpec::parse("/nonexistent/x.jsonl").expect_err("missing");
        assert!(missing.contains("no such file"), "{missing}");
    }
}
