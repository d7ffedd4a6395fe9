//! A response read and judged: its body held to the size limit (whole, or a token stream read
//! as it arrives), the endpoint's success checks, the fields every row records (AURAX's model
//! and response type, a model server's report of its generation), and what a failure records.

use std::time::Instant;

use aurax_schema::Outcome;
use serde_json::Value;

use super::generation::{self, TokenStream};
use crate::outcome::Generation;
use crate::scenario::{Endpoint, Verdict, lookup};

/// What one exchange produced; the runner adds who sent it and when.
#[derive(Debug)]
pub struct Exchange {
    pub ttfb_us: Option<i64>,
    pub latency_us: i64,
    pub status: Option<u16>,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub bytes_received: u64,
    pub model_used: Option<String>,
    pub response_type: Option<String>,
    pub generation: Option<Box<Generation>>,
    /// It went a second time: an idempotent request whose reused connection closed
    /// unanswered (`plain.rs`).
    pub resent: bool,
}

/// A response body as it arrives: a token stream read chunk by chunk when the endpoint
/// declares one (and the status is one its check accepts: an error answer is no stream),
/// else kept whole. Either is held to the `--max-body-bytes` limit, counted in bytes received.
pub(super) enum Reading {
    Whole(Received),
    Stream {
        stream: Box<TokenStream>,
        bytes: u64,
    },
}

impl Reading {
    /// How the answer of `endpoint` with `status` is read; `start` is when it was sent.
    pub(super) fn of(endpoint: &Endpoint, status: u16, start: Instant) -> Reading {
        match endpoint.stream {
            Some(format) if endpoint.check.accepts_status(status) => Reading::Stream {
                stream: Box::new(TokenStream::new(format, start)),
                bytes: 0,
            },
            _ => Reading::Whole(Received::default()),
        }
    }

    pub(super) fn append(&mut self, chunk: &[u8], limit: usize) -> Result<(), String> {
        match self {
            Reading::Whole(received) => received.append(chunk, limit),
            Reading::Stream { stream, bytes } => {
                *bytes += chunk.len() as u64;
                if *bytes > limit as u64 {
                    return Err(over_limit(limit));
                }
                stream.feed(chunk, Instant::now());
                Ok(())
            }
        }
    }

    pub(super) fn bytes(&self) -> u64 {
        match self {
            Reading::Whole(received) => received.bytes,
            Reading::Stream { bytes, .. } => *bytes,
        }
    }
}

fn over_limit(limit: usize) -> String {
    format!("response body over the {limit} byte limit")
}

/// A whole response body, kept up to the `--max-body-bytes` limit and never past it.
#[derive(Default)]
pub(super) struct Received {
    body: Vec<u8>,
    /// Bytes received, those past the limit included.
    bytes: u64,
}

impl Received {
    /// Keeps `chunk`, or says the body is over `limit` (and keeps nothing more).
    pub(super) fn append(&mut self, chunk: &[u8], limit: usize) -> Result<(), String> {
        self.bytes += chunk.len() as u64;
        if self.body.len() + chunk.len() > limit {
            return Err(over_limit(limit));
        }
        self.body.extend_from_slice(chunk);
        Ok(())
    }
}

/// A complete response, judged by the endpoint's checks: a whole body parsed once (as JSON
/// when it looks like JSON), a stream on its assembled answer. `start` is when it was sent.
pub(super) fn judged(
    endpoint: &Endpoint,
    ttfb_us: Option<i64>,
    start: Instant,
    status: u16,
    reading: Reading,
) -> Exchange {
    let end = Instant::now();
    let latency_us = end.duration_since(start).as_micros() as i64;
    let (verdict, recorded, bytes_received) = match reading {
        Reading::Stream { stream, bytes } => match stream.finish(end) {
            Ok(streamed) => {
                let json = Some(&streamed.assembled);
                let mut recorded = Recorded::of(json);
                // The stream's own timing and counts, the server's report included.
                recorded.generation = Some(Box::new(streamed.generation));
                (endpoint.check.judge(status, json), recorded, bytes)
            }
            Err((outcome, msg)) => {
                return failed(latency_us, ttfb_us, Some(status), outcome, msg, bytes);
            }
        },
        Reading::Whole(received) => {
            let (verdict, recorded) = judge_whole(endpoint, status, &received.body);
            (verdict, recorded, received.body.len() as u64)
        }
    };
    Exchange {
        ttfb_us,
        latency_us,
        status: Some(status),
        outcome: verdict.outcome,
        error: verdict.error,
        bytes_received,
        model_used: recorded.model_used,
        response_type: recorded.response_type,
        generation: recorded.generation,
        resent: false,
    }
}

/// A whole body judged by the endpoint's check, and the fields every row records read from it.
fn judge_whole(endpoint: &Endpoint, status: u16, body: &[u8]) -> (Verdict, Recorded) {
    let is_json = matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{') | Some(b'[')
    );
    let (verdict, recorded) = if !is_json {
        (endpoint.check.judge(status, None), Recorded::default())
    } else if endpoint.check.reads_body(status) {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        (
            endpoint.check.judge(status, json.as_ref()),
            Recorded::of(json.as_ref()),
        )
    } else {
        // The check is on the status alone: read the recorded fields and skip the
        // rest unbuilt (a whole `Value` per response was 2% of the runner's CPU on
        // /health).
        let recorded = serde_json::from_slice::<RecordedFields>(body)
            .map(Recorded::from)
            .unwrap_or_default();
        (endpoint.check.judge(status, None), recorded)
    };
    (verdict, recorded)
}

/// The string at a dotted path of a JSON body.
fn text_at(json: Option<&Value>, path: &str) -> Option<String> {
    json.and_then(|j| lookup(j, path))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The fields of a response body every row records: AURAX's model and response type (a
/// model server's own `model` tag where AURAX's is absent), and a model server's report of
/// its generation.
#[derive(Default)]
struct Recorded {
    model_used: Option<String>,
    response_type: Option<String>,
    generation: Option<Box<Generation>>,
}

impl Recorded {
    fn of(json: Option<&Value>) -> Recorded {
        let field = |path: &str| text_at(json, path);
        Recorded {
            model_used: field("metadata.model_used").or_else(|| field("model")),
            response_type: field("response_type"),
            generation: json
                .map(generation::report)
                .filter(|g| *g != Generation::default())
                .map(Box::new),
        }
    }
}

/// [`Recorded`]'s fields as they sit in a body; every other field is skipped unbuilt.
#[derive(serde::Deserialize)]
struct RecordedFields {
    #[serde(default)]
    response_type: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    model: Option<Value>,
    #[serde(default)]
    total_duration: Option<Value>,
    #[serde(default)]
    load_duration: Option<Value>,
    #[serde(default)]
    prompt_eval_count: Option<Value>,
    #[serde(default)]
    prompt_eval_duration: Option<Value>,
    #[serde(default)]
    eval_count: Option<Value>,
    #[serde(default)]
    eval_duration: Option<Value>,
    #[serde(default)]
    usage: Option<Value>,
}

impl From<RecordedFields> for Recorded {
    fn from(f: RecordedFields) -> Recorded {
        // The few fields present, as the object `Recorded::of` reads: one definition.
        let mut object = serde_json::Map::new();
        for (key, value) in [
            ("response_type", f.response_type),
            ("metadata", f.metadata),
            ("model", f.model),
            ("total_duration", f.total_duration),
            ("load_duration", f.load_duration),
            ("prompt_eval_count", f.prompt_eval_count),
            ("prompt_eval_duration", f.prompt_eval_duration),
            ("eval_count", f.eval_count),
            ("eval_duration", f.eval_duration),
            ("usage", f.usage),
        ] {
            if let Some(value) = value {
                object.insert(key.to_string(), value);
            }
        }
        if object.is_empty() {
            // None of them (a /health answer): no paths to look up in nothing (that was
            // 3.5% of the runner's CPU on /health).
            return Recorded::default();
        }
        Recorded::of(Some(&Value::Object(object)))
    }
}

pub(super) fn failed(
    latency_us: i64,
    ttfb_us: Option<i64>,
    status: Option<u16>,
    outcome: Outcome,
    error: String,
    received: u64,
) -> Exchange {
    Exchange {
        ttfb_us,
        latency_us,
        status,
        outcome,
        error: Some(error),
        bytes_received: received,
        model_used: None,
        response_type: None,
        generation: None,
        resent: false,
    }
}
