//! Columns of the request files: one row per request outcome.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

/// Every column of a request file, in file order. The README documents each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    RunId,
    WorkerId,
    Seq,
    UserClass,
    UserId,
    Endpoint,
    Method,
    Path,
    IntendedSendTime,
    ActualSendTime,
    TtfbUs,
    LatencyUs,
    Status,
    Outcome,
    Error,
    BytesSent,
    BytesReceived,
    ModelUsed,
    ResponseType,
    MaxTokens,
    UsersActive,
    InFlight,
    Stage,
    StageTarget,
    TraceSource,
    TraceLine,
}

impl Column {
    pub const ALL: [Column; 26] = [
        Column::RunId,
        Column::WorkerId,
        Column::Seq,
        Column::UserClass,
        Column::UserId,
        Column::Endpoint,
        Column::Method,
        Column::Path,
        Column::IntendedSendTime,
        Column::ActualSendTime,
        Column::TtfbUs,
        Column::LatencyUs,
        Column::Status,
        Column::Outcome,
        Column::Error,
        Column::BytesSent,
        Column::BytesReceived,
        Column::ModelUsed,
        Column::ResponseType,
        Column::MaxTokens,
        Column::UsersActive,
        Column::InFlight,
        Column::Stage,
        Column::StageTarget,
        Column::TraceSource,
        Column::TraceLine,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Column::RunId => "run_id",
            Column::WorkerId => "worker_id",
            Column::Seq => "seq",
            Column::UserClass => "user_class",
            Column::UserId => "user_id",
            Column::Endpoint => "endpoint",
            Column::Method => "method",
            Column::Path => "path",
            Column::IntendedSendTime => "intended_send_time",
            Column::ActualSendTime => "actual_send_time",
            Column::TtfbUs => "ttfb_us",
            Column::LatencyUs => "latency_us",
            Column::Status => "status",
            Column::Outcome => "outcome",
            Column::Error => "error",
            Column::BytesSent => "bytes_sent",
            Column::BytesReceived => "bytes_received",
            Column::ModelUsed => "model_used",
            Column::ResponseType => "response_type",
            Column::MaxTokens => "max_tokens",
            Column::UsersActive => "users_active",
            Column::InFlight => "in_flight",
            Column::Stage => "stage",
            Column::StageTarget => "stage_target",
            Column::TraceSource => "trace_source",
            Column::TraceLine => "trace_line",
        }
    }

    /// The schema version that added the column: a file of an older version lacks it.
    pub const fn since(self) -> u32 {
        match self {
            Column::TraceSource | Column::TraceLine => 2,
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
            Column::TtfbUs => (DataType::Int64, true),
            Column::LatencyUs => (DataType::Int64, false),
            Column::Status => (DataType::UInt16, true),
            Column::MaxTokens => (DataType::UInt32, true),
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
