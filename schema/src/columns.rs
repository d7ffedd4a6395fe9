//! Columns of the request files: one row per request outcome.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

/// Defines [`Column`] from one list: each variant's name in the files and its description,
/// which is the variant's documentation, [`Column::description`], and the text of the
/// column table in docs/parquet.md (a test holds the table to it).
macro_rules! columns {
    ($($variant:ident = $name:literal: $doc:literal,)*) => {
        /// Every column of a request file, in file order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Column {
            $(#[doc = $doc] $variant,)*
        }

        impl Column {
            /// Every column, in file order.
            pub const ALL: [Column; [$(Column::$variant),*].len()] = [$(Column::$variant),*];

            /// The column's name in the files.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Column::$variant => $name,)*
                }
            }

            /// What the column holds, as docs/parquet.md says it.
            pub const fn description(self) -> &'static str {
                match self {
                    $(Column::$variant => $doc,)*
                }
            }
        }
    };
}

columns! {
    RunId = "run_id": "the run: `<UTC start to the ms>-<4 hex digits unique to the process>`",
    WorkerId = "worker_id": "load-generator process: a distributed run's worker (`--shard`'s index), 0 for a single process",
    Seq = "seq": "sequence number of the request within the worker",
    UserClass = "user_class": "the virtual user's class",
    UserId = "user_id": "the virtual user (0-based spawn order)",
    Endpoint = "endpoint": "endpoint name (`generate_text`, `health`, …)",
    Method = "method": "HTTP method",
    Path = "path": "request path (without the host)",
    IntendedSendTime = "intended_send_time": "when the schedule meant to send it (previous end + wait)",
    ActualSendTime = "actual_send_time": "when it was sent",
    TtfbUs = "ttfb_us": "time to the response headers; null without a response",
    LatencyUs = "latency_us": "from the actual send to the end of the body (or the error)",
    Status = "status": "HTTP status; null without a response",
    Outcome = "outcome": "`ok`, `http_error` (4xx/5xx), `app_error` (2xx whose body failed a check), `timeout`, `connect_error`, `other` (reset, body too large, …), `dropped` (an open-model arrival not sent: `--max-in-flight` was reached; latency 0, in no latency figure), `cancelled` (sent, unanswered when the run stopped; latency = how long it waited)",
    Error = "error": "the server's message or the client's reason",
    BytesSent = "bytes_sent": "request body bytes",
    BytesReceived = "bytes_received": "response body bytes",
    ModelUsed = "model_used": "`metadata.model_used` of the response (a model server's: its `model`)",
    ResponseType = "response_type": "`response_type` of the response",
    MaxTokens = "max_tokens": "output tokens requested: `max_tokens` (OpenAI's `max_completion_tokens`, Ollama's `options.num_predict`)",
    UsersActive = "users_active": "virtual users running when it was sent (0 in the open model)",
    InFlight = "in_flight": "requests in flight when it was sent, itself included",
    Stage = "stage": "load stage index (with `-u/-r`: 0 the spawn ramp, 1 the hold; `--find-capacity`: the step)",
    StageTarget = "stage_target": "the load targeted: the stage's users (closed model), or the arrival rate the schedule targeted when the request was sent (open model: a ramp's rows climb with it; a replay: the trace's rate over the last 5 s)",
    TraceSource = "trace_source": "replay: the trace file the request came from; null for synthetic load (since version 2)",
    TraceLine = "trace_line": "replay: its line (JSONL, CSV), entry (HAR) or `seq` (run directory) (since version 2)",
    TtftUs = "ttft_us": "streamed response: from the actual send to the first chunk carrying a token; null for a response not streamed (since version 3)",
    ItlMeanUs = "itl_mean_us": "streamed response: mean gap between consecutive token chunks, (last − first) / (chunks − 1); null under 2 token chunks (since version 3)",
    ItlMaxUs = "itl_max_us": "streamed response: longest gap between consecutive token chunks; null under 2 token chunks (since version 3)",
    TokensIn = "tokens_in": "prompt tokens as the server counted them (Ollama `prompt_eval_count`, OpenAI `usage.prompt_tokens`); null when it did not say (since version 3)",
    TokensOut = "tokens_out": "output tokens: the server's count (Ollama `eval_count`, OpenAI `usage.completion_tokens`), else the token chunks of a stream; null otherwise (since version 3)",
    ServerQueueUs = "server_queue_us": "Ollama: `total_duration` less load, prompt and generation: the time the model server held the request outside them (waiting for a slot); null from other servers (since version 3)",
    ServerLoadUs = "server_load_us": "Ollama `load_duration`: loading the model (a cold start); null from other servers (since version 3)",
    ServerPromptUs = "server_prompt_us": "Ollama `prompt_eval_duration`: processing the prompt; null from other servers (since version 3)",
    ServerGenUs = "server_gen_us": "Ollama `eval_duration`: generating the output tokens; null from other servers (since version 3)",
    Sends = "sends": "times the request went out: 1; 2 when a reused keep-alive connection closed after it was written and before any answer and the request is idempotent (GET, HEAD, PUT, DELETE, OPTIONS), so it went again on a new connection (a POST never does: it fails instead); 0 for a dropped arrival (since version 4)",
}

impl Column {
    /// The generation columns (version 3): a model server's answer, streamed or not.
    pub const GENERATION: [Column; 9] = [
        Column::TtftUs,
        Column::ItlMeanUs,
        Column::ItlMaxUs,
        Column::TokensIn,
        Column::TokensOut,
        Column::ServerQueueUs,
        Column::ServerLoadUs,
        Column::ServerPromptUs,
        Column::ServerGenUs,
    ];

    /// Whether the column is one of [`Column::GENERATION`].
    pub const fn is_generation(self) -> bool {
        let mut i = 0;
        while i < Column::GENERATION.len() {
            if Column::GENERATION[i] as u8 == self as u8 {
                return true;
            }
            i += 1;
        }
        false
    }

    /// The schema version that added the column: a file of an older version lacks it.
    pub const fn since(self) -> u32 {
        match self {
            Column::TraceSource | Column::TraceLine => 2,
            c if c.is_generation() => 3,
            Column::Sends => 4,
            _ => 1,
        }
    }

    /// Arrow type and nullability. Strings that repeat are dictionary-encoded, which pandas,
    /// DuckDB, Spark and polars all read as plain (or categorical) strings.
    pub fn data_type(self) -> (DataType, bool) {
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let micros = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        match self {
            Column::RunId
            | Column::UserClass
            | Column::Endpoint
            | Column::Method
            | Column::Path
            | Column::Outcome => (dict, false),
            Column::Error | Column::ModelUsed | Column::ResponseType | Column::TraceSource => {
                (dict, true)
            }
            Column::TraceLine => (DataType::UInt64, true),
            Column::WorkerId | Column::UserId | Column::UsersActive | Column::InFlight => {
                (DataType::UInt32, false)
            }
            Column::Stage => (DataType::UInt32, false),
            Column::StageTarget => (DataType::Float64, false),
            Column::Seq | Column::BytesSent | Column::BytesReceived => (DataType::UInt64, false),
            Column::IntendedSendTime | Column::ActualSendTime => (micros, false),
            Column::TokensIn | Column::TokensOut => (DataType::UInt32, true),
            // Durations in µs, null where they do not apply.
            Column::TtfbUs
            | Column::TtftUs
            | Column::ItlMeanUs
            | Column::ItlMaxUs
            | Column::ServerQueueUs
            | Column::ServerLoadUs
            | Column::ServerPromptUs
            | Column::ServerGenUs => (DataType::Int64, true),
            Column::LatencyUs => (DataType::Int64, false),
            Column::Status => (DataType::UInt16, true),
            Column::MaxTokens => (DataType::UInt32, true),
            Column::Sends => (DataType::UInt8, false),
        }
    }
}

/// The Arrow schema of a request file, with the given key-value metadata.
pub fn request_schema(metadata: HashMap<String, String>) -> Arc<Schema> {
    let fields: Vec<Field> = Column::ALL
        .iter()
        .map(|c| {
            let (ty, nullable) = c.data_type();
            Field::new(c.name(), ty, nullable)
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// What became of a request. Stored as its [`Outcome::as_str`] in the `outcome` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// A response that passed every success check.
    Ok,
    /// HTTP status 4xx or 5xx.
    HttpError,
    /// A 2xx response whose body failed a check (e.g. HTTP 200 with `"success": false`).
    AppError,
    /// No complete response within the per-request timeout.
    Timeout,
    /// The connection could not be made.
    ConnectError,
    /// Anything else: reset mid-response, body over the size limit, undecodable body.
    Other,
    /// An open-model arrival that found the in-flight limit full and was not sent.
    Dropped,
    /// Sent, but the run ended (its stop timeout, or a signal) before any complete answer:
    /// the latency is how long it had waited.
    Cancelled,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::HttpError,
        Outcome::AppError,
        Outcome::Timeout,
        Outcome::ConnectError,
        Outcome::Other,
        Outcome::Dropped,
        Outcome::Cancelled,
    ];

    /// The outcome as the `outcome` column holds it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::HttpError => "http_error",
            Outcome::AppError => "app_error",
            Outcome::Timeout => "timeout",
            Outcome::ConnectError => "connect_error",
            Outcome::Other => "other",
            Outcome::Dropped => "dropped",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// Anything but `ok`: failed sent requests, and dropped arrivals.
    pub fn is_failure(self) -> bool {
        self != Outcome::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Column::ALL.len());
    }

    /// The column table of docs/parquet.md names every column, with its type, once: the
    /// contract and its documentation cannot drift apart.
    #[test]
    fn every_column_is_documented() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/parquet.md"))
                .expect("docs/parquet.md");
        for c in Column::ALL {
            let rows: Vec<&str> = doc
                .lines()
                .filter(|l| l.starts_with(&format!("| `{}` |", c.name())))
                .collect();
            assert_eq!(
                rows.len(),
                1,
                "column {} in docs/parquet.md: {rows:?}",
                c.name()
            );
            let (ty, nullable) = c.data_type();
            let documented = rows[0];
            let kind = match ty {
                DataType::Dictionary(..) => "dict string",
                DataType::Timestamp(..) => "timestamp",
                DataType::UInt8 => "uint8",
                DataType::UInt16 => "uint16",
                DataType::UInt32 => "uint32",
                DataType::UInt64 => "uint64",
                DataType::Int64 => "int64",
                DataType::Float64 => "float64",
                other => panic!("undocumented type {other:?}"),
            };
            assert!(
                documented.contains(kind),
                "{}: {kind}: {documented}",
                c.name()
            );
            assert_eq!(
                documented.contains("null"),
                nullable,
                "{}: nullability: {documented}",
                c.name()
            );
        }
        for o in Outcome::ALL {
            assert!(
                doc.contains(&format!("`{}`", o.as_str())),
                "outcome {}",
                o.as_str()
            );
        }
    }

    #[test]
    fn schema_carries_metadata_and_timestamp_units() {
        let meta = HashMap::from([("k".to_string(), "v".to_string())]);
        let schema = request_schema(meta);
        assert_eq!(schema.metadata().get("k").map(String::as_str), Some("v"));
        let sent = schema
            .field_with_name("actual_send_time")
            .expect("column exists");
        assert_eq!(
            sent.data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
    }
}
