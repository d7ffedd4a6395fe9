//! Our own trace format: one JSON object per line (JSON Schema in `schema/trace.schema.json`).
//!
//! `{"offset_ms": 12.5, "endpoint": "generate_text", "method": "POST", "path": "/generate",
//!   "body": {...}, "headers": {"X-Tenant": "a"}}` — `offset_ms` (since the trace's start) or
//! `timestamp` (RFC 3339) says when; `endpoint` or `method` + `path` say what. Other fields
//! (what `aurax-tool record` adds: `status`, `latency_ms`) are read past.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use super::lines::NumberedLines;
use super::{EndpointResolver, TimedRequest, TraceError, TraceReader, TraceRequest, max_tokens_of};
use crate::scenario::EndpointId;

#[derive(Debug, Deserialize)]
struct Line {
    offset_ms: Option<f64>,
    timestamp: Option<String>,
    endpoint: Option<String>,
    method: Option<String>,
    path: Option<String>,
    body: Option<Value>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Clock {
    Offset,
    Timestamp,
}

pub fn open(
    path: &Path,
    source: Arc<str>,
    resolver: Arc<EndpointResolver>,
    fixed: Option<EndpointId>,
) -> Result<TraceReader, TraceError> {
    let mut lines = NumberedLines::open(path)?;
    let mut clock = None;
    Ok(Box::new(std::iter::from_fn(move || {
        let (number, text) = match lines.next_line()? {
            Ok(l) => l,
            Err(e) => return Some(Err(e)),
        };
        let parsed = parse(text, &mut clock, &resolver, fixed, &source, number);
        Some(parsed.map_err(|reason| lines.bad(number, reason)))
    })))
}

fn parse(
    text: &str,
    clock: &mut Option<Clock>,
    resolver: &EndpointResolver,
    fixed: Option<EndpointId>,
    source: &Arc<str>,
    number: u64,
) -> Result<TimedRequest, String> {
    let line: Line = serde_json::from_str(text).map_err(|e| format!("not a trace line: {e}"))?;
    let this = match (&line.offset_ms, &line.timestamp) {
        (Some(_), _) => Clock::Offset,
        (None, Some(_)) => Clock::Timestamp,
        (None, None) => return Err("needs `offset_ms` or `timestamp`".into()),
    };
    let clock = *clock.get_or_insert(this);
    let time_ns = match clock {
        Clock::Offset => {
            let ms = line
                .offset_ms
                .ok_or("no `offset_ms`, which the trace's first line set the clock by")?;
            if !(ms.is_finite() && ms >= 0.0) {
                return Err(format!("`offset_ms` {ms} must be a number of 0 or more"));
            }
            (ms * 1e6).round() as i64
        }
        Clock::Timestamp => {
            let ts = line
                .timestamp
                .as_deref()
                .ok_or("no `timestamp`, which the trace's first line set the clock by")?;
            chrono::DateTime::parse_from_rfc3339(ts)
                .ok()
                .and_then(|t| t.timestamp_nanos_opt())
                .ok_or_else(|| {
                    format!("`timestamp` {ts:?} is not RFC 3339 (2026-11-29T05:00:00.123Z)")
                })?
        }
    };
    let method = line.method.as_deref().map(super::http_method).transpose()?;
    let endpoint = match (fixed, &line.endpoint) {
        (Some(id), None) => id,
        _ => {
            if line.endpoint.is_none() && (line.method.is_none() || line.path.is_none()) {
                return Err("needs `endpoint`, or `method` and `path`".into());
            }
            resolver.resolve(
                line.endpoint.as_deref(),
                method.as_deref().unwrap_or("GET"),
                line.path.as_deref().unwrap_or(""),
                line.body.as_ref(),
            )?
        }
    };
    let max_tokens = line.body.as_ref().and_then(max_tokens_of);
    let body = match line.body {
        None | Some(Value::Null) => None,
        // A string body is sent as it is (it need not be JSON); anything else as JSON.
        Some(Value::String(s)) => Some(Bytes::from(s)),
        Some(v) => Some(Bytes::from(v.to_string())),
    };
    Ok(TimedRequest {
        time_ns,
        request: TraceRequest {
            endpoint,
            method,
            path: line.path,
            headers: line.headers.into_iter().collect(),
            body,
            max_tokens,
            source: source.clone(),
            line: number,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn read(text: &str) -> Vec<Result<TimedRequest, TraceError>> {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, text).expect("write");
        let scenario = Arc::new(Scenario::builtin().expect("builtin"));
        let resolver = Arc::new(EndpointResolver::new(scenario));
        open(&p, Arc::from("t.jsonl"), resolver, None)
            .expect("open")
            .collect()
    }

    #[test]
    fn lines_give_times_endpoints_and_bodies() {
        let rows = read(concat!(
            "{\"offset_ms\": 0, \"endpoint\": \"health\"}\n",
            "\n",
            "{\"offset_ms\": 1.5, \"method\": \"POST\", \"path\": \"/generate\", \"body\": {\"prompt\": \"p\", \"max_tokens\": 9, \"routing_metadata\": {\"preferred_model\": \"code\"}}, \"status\": 200}\n",
        ));
        let ok: Vec<TimedRequest> = rows.into_iter().map(|r| r.expect("ok")).collect();
        assert_eq!(ok[0].time_ns, 0);
        assert_eq!(ok[1].time_ns, 1_500_000);
        assert_eq!(ok[1].request.line, 3);
        assert_eq!(ok[1].request.max_tokens, Some(9));
        let scenario = Scenario::builtin().expect("builtin");
        assert_eq!(
            scenario.endpoints[ok[1].request.endpoint].name,
            "generate_code"
        );
    }

    #[test]
    fn bad_lines_say_where_and_why() {
        let rows = read(concat!(
            "{\"offset_ms\": 0, \"endpoint\": \"health\"}\n",
            "{\"offset_ms\": 1, \"endpoint\": \"nope\"}\n",
            "not json\n",
            "{\"timestamp\": \"2026-01-01T00:00:00Z\", \"endpoint\": \"health\"}\n",
            "{\"offset_ms\": -4, \"endpoint\": \"health\"}\n",
        ));
        let errs: Vec<String> = rows
            .into_iter()
            .filter_map(|r| r.err().map(|e| e.to_string()))
            .collect();
        assert!(errs[0].ends_with("t.jsonl:2: unknown endpoint `nope` (known: burst_request, generate_code, generate_image, generate_text, health, system_status, test_routing)"), "{}", errs[0]);
        assert!(
            errs[1].contains("t.jsonl:3: not a trace line"),
            "{}",
            errs[1]
        );
        assert!(errs[2].contains(":4: no `offset_ms`"), "{}", errs[2]);
        assert!(errs[3].contains(":5: `offset_ms` -4"), "{}", errs[3]);
    }
}
