//! The Azure LLM inference trace (2023): `TIMESTAMP,ContextTokens,GeneratedTokens`, e.g.
//! `2023-11-16 18:17:03.9799600,4808,10`. Each row becomes one request of an endpoint
//! (`generate_text` unless told otherwise) whose body is the endpoint's own template with a
//! prompt of about `ContextTokens` tokens and `max_tokens` = `GeneratedTokens`.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDateTime;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

use super::lines::NumberedLines;
use super::{TimedRequest, TraceError, TraceReader, TraceRequest};
use crate::scenario::{EndpointId, Scenario};

pub const DEFAULT_ENDPOINT: &str = "generate_text";

/// Common words that tokenizers keep whole: one word is about one token.
const FILLER: [&str; 16] = [
    "the", "model", "data", "user", "code", "with", "from", "that", "this", "value", "list",
    "file", "test", "time", "when", "result",
];

pub fn open(
    path: &Path,
    source: Arc<str>,
    scenario: Arc<Scenario>,
    endpoint: EndpointId,
) -> Result<TraceReader, TraceError> {
    let mut lines = NumberedLines::open(path)?;
    Ok(Box::new(std::iter::from_fn(move || {
        loop {
            let (number, text) = match lines.next_line()? {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            if number == 1 && text.to_ascii_lowercase().starts_with("timestamp") {
                continue;
            }
            let row = parse_row(text).and_then(|(time_ns, context, generated)| {
                let body = body(&scenario, endpoint, number, context, generated)?;
                Ok(TimedRequest {
                    time_ns,
                    request: TraceRequest {
                        endpoint,
                        method: None,
                        path: None,
                        headers: Vec::new(),
                        body: Some(body),
                        max_tokens: Some(generated),
                        source: source.clone(),
                        line: number,
                    },
                })
            });
            return Some(row.map_err(|reason| lines.bad(number, reason)));
        }
    })))
}

/// `(time in ns since the epoch, context tokens, generated tokens)`.
fn parse_row(text: &str) -> Result<(i64, u32, u32), String> {
    let mut fields = text.split(',');
    let (Some(ts), Some(ctx), Some(gen_tokens), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(format!(
            "expected TIMESTAMP,ContextTokens,GeneratedTokens, found {text:?}"
        ));
    };
    let time = NaiveDateTime::parse_from_str(ts.trim(), "%Y-%m-%d %H:%M:%S%.f")
        .map_err(|e| format!("TIMESTAMP {ts:?}: {e} (expected 2023-11-16 18:17:03.9799600)"))?;
    let time_ns = time
        .and_utc()
        .timestamp_nanos_opt()
        .ok_or_else(|| format!("TIMESTAMP {ts:?} is out of range"))?;
    let count = |field: &str, what: &str| {
        let n = field
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("{what} {field:?} is not a whole number"))?;
        if u64::from(n) > crate::limits::MAX_TRACE_TOKENS {
            return Err(format!(
                "{what} {n} is over the ceiling of {} tokens (the largest context windows)",
                crate::limits::MAX_TRACE_TOKENS
            ));
        }
        Ok(n)
    };
    Ok((
        time_ns,
        count(ctx, "ContextTokens")?,
        count(gen_tokens, "GeneratedTokens")?,
    ))
}

/// The endpoint's template (seeded by the line, so a replay sends the same bodies), its
/// prompt padded to about `context` tokens and `max_tokens` set to `generated`.
fn body(
    scenario: &Scenario,
    endpoint: EndpointId,
    line: u64,
    context: u32,
    generated: u32,
) -> Result<Bytes, String> {
    let ep = &scenario.endpoints[endpoint];
    let mut rng = StdRng::seed_from_u64(line);
    let mut body = ep
        .body
        .as_ref()
        .map_or(Value::Object(Default::default()), |t| t.render(&mut rng));
    let Some(obj) = body.as_object_mut() else {
        return Err(format!("endpoint {} has no JSON object body", ep.name));
    };
    let field = if obj.contains_key("query") && !obj.contains_key("prompt") {
        "query"
    } else {
        "prompt"
    };
    let start = obj
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    obj.insert(field.into(), Value::String(pad_prompt(&start, context)));
    obj.insert("max_tokens".into(), Value::from(generated));
    Ok(Bytes::from(body.to_string()))
}

/// `start` followed by filler words up to `tokens` words in all (at least `start` itself).
fn pad_prompt(start: &str, tokens: u32) -> String {
    let have = start.split_whitespace().count();
    let want = tokens as usize;
    let mut prompt = String::with_capacity(start.len() + want.saturating_sub(have) * 6);
    prompt.push_str(start);
    for i in have..want {
        if !prompt.is_empty() {
            prompt.push(' ');
        }
        prompt.push_str(FILLER[i % FILLER.len()]);
    }
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_the_100ns_timestamps_and_token_counts() {
        let (t0, c, g) = parse_row("2023-11-16 18:17:03.9799600,4808,10").expect("row");
        let (t1, _, _) = parse_row("2023-11-16 18:17:04.0319600,3180,8").expect("row");
        assert_eq!(t1 - t0, 52_000_000);
        assert_eq!((c, g), (4808, 10));
        assert!(parse_row("2023-11-16 18:17:03.97,abc,10").is_err());
        assert!(parse_row("2023-11-16,1,2,3").is_err());
        assert!(
            parse_row("yesterday,1,2")
                .expect_err("ts")
                .contains("TIMESTAMP")
        );
    }

    #[test]
    fn bodies_carry_the_tokens_on_the_endpoints_template() {
        let scenario = Scenario::builtin().expect("builtin");
        let code = scenario.endpoint_id("generate_code").expect("code");
        let b = body(&scenario, code, 7, 500, 12).expect("body");
        let v: Value = serde_json::from_slice(&b).expect("json");
        assert_eq!(v["max_tokens"], 12);
        assert_eq!(v["routing_metadata"]["preferred_model"], "code");
        let words = v["prompt"]
            .as_str()
            .expect("prompt")
            .split_whitespace()
            .count();
        assert_eq!(words, 500);
    }
}
