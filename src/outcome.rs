//! What the runner knows of one request once it is over: one Parquet row.

use std::sync::Arc;

use aurax_schema::Outcome;

#[derive(Debug, Clone)]
pub struct RequestOutcome {
    pub worker_id: u32,
    pub seq: u64,
    pub user_class: Arc<str>,
    pub user_id: u32,
    pub endpoint: Arc<str>,
    pub method: Arc<str>,
    pub path: Arc<str>,
    /// When the schedule meant the request to go out (µs since the Unix epoch).
    pub intended_send_us: i64,
    /// When it actually went out (µs since the Unix epoch).
    pub actual_send_us: i64,
    pub ttfb_us: Option<i64>,
    /// From the actual send to the end of the body (or the error).
    pub latency_us: i64,
    pub status: Option<u16>,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub model_used: Option<String>,
    pub response_type: Option<String>,
    pub max_tokens: Option<u32>,
    pub users_active: u32,
    pub in_flight: u32,
    pub stage: u32,
    pub stage_target: f64,
    /// Trace replay: the trace file and the line (entry, row) the request came from.
    pub trace: Option<(Arc<str>, u64)>,
}
