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
    /// What a model server's answer told of its generation; None for any other answer (boxed:
    /// most rows have none, and every row crosses the sink's channel).
    pub generation: Option<Box<Generation>>,
}

/// A generation as the client saw it (a streamed answer's token timing) and as the server
/// reported it (token counts, Ollama's own durations). Each field is null where neither said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generation {
    /// From the actual send to the first chunk that carried a token (streamed answers only).
    pub ttft_us: Option<i64>,
    /// Mean gap between consecutive token chunks (two chunks or more).
    pub itl_mean_us: Option<i64>,
    /// Longest gap between consecutive token chunks (two chunks or more).
    pub itl_max_us: Option<i64>,
    pub tokens_in: Option<u32>,
    pub tokens_out: Option<u32>,
    /// Ollama's own account of the request's time.
    pub server: Option<ServerTimes>,
}

/// Where the model server says a request's time went, in µs (Ollama reports ns).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerTimes {
    /// `total_duration` less the three below: held outside them (waiting for a slot).
    pub queue_us: i64,
    /// `load_duration`: loading the model.
    pub load_us: i64,
    /// `prompt_eval_duration`.
    pub prompt_us: i64,
    /// `eval_duration`.
    pub gen_us: i64,
}
