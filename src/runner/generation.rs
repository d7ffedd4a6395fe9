//! What a model server's answer says of its generation: a token stream read chunk by chunk
//! as it arrives (Ollama's NDJSON, OpenAI's server-sent events), timed per token chunk, and
//! the server's own report (token counts, Ollama's durations) from its final object or a
//! whole JSON body. Definitions: docs/streaming.md.

use std::time::{Duration, Instant};

use aurax_schema::Outcome;
use serde_json::{Map, Value};

use crate::outcome::{Generation, ServerTimes};
use crate::scenario::StreamFormat;

/// A streamed answer as it arrives: bytes cut into lines and events, each JSON chunk's text
/// appended, each token chunk's arrival time kept as first, last and longest gap.
pub struct TokenStream {
    format: StreamFormat,
    start: Instant,
    /// Bytes of a line not ended yet.
    partial: Vec<u8>,
    /// SSE: the `data:` lines of the event under way.
    event: String,
    /// The text of every token chunk, in order: the assembled answer.
    text: String,
    /// Where the chunks carry their text, from the first that had any.
    text_at: Option<TextField>,
    /// The last JSON chunk (Ollama's final chunk holds the report; OpenAI's the usage).
    last: Option<Value>,
    /// OpenAI: the `usage` object, wherever it came.
    usage: Option<Value>,
    chunks: u32,
    token_chunks: u32,
    first_token: Option<Instant>,
    last_token: Option<Instant>,
    longest_gap: Duration,
    /// Ollama `"done": true`, SSE `[DONE]`.
    done: bool,
    /// OpenAI: a chunk gave a `finish_reason`.
    finished: bool,
    /// The server said it failed, mid-stream (`{"error": ...}`).
    server_error: Option<String>,
    /// A line that is no JSON: the stream is not what the endpoint declared.
    garbled: Option<String>,
}

/// Where a chunk's text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextField {
    /// Ollama `/api/generate`: `response`.
    Response,
    /// Ollama `/api/chat`: `message.content`.
    MessageContent,
    /// OpenAI `/v1/completions`: `choices[0].text`.
    ChoiceText,
    /// OpenAI `/v1/chat/completions`: `choices[0].delta.content`.
    ChoiceDelta,
}

impl TextField {
    fn of(chunk: &Value) -> Option<(TextField, &str)> {
        if let Some(t) = chunk.get("response").and_then(Value::as_str) {
            return Some((TextField::Response, t));
        }
        if let Some(t) = chunk.pointer("/message/content").and_then(Value::as_str) {
            return Some((TextField::MessageContent, t));
        }
        let choice = chunk.get("choices")?.get(0)?;
        if let Some(t) = choice.get("text").and_then(Value::as_str) {
            return Some((TextField::ChoiceText, t));
        }
        choice
            .pointer("/delta/content")
            .and_then(Value::as_str)
            .map(|t| (TextField::ChoiceDelta, t))
    }

    /// Puts `text` where the chunks carried theirs, in `object`.
    fn set(self, object: &mut Map<String, Value>, text: String) {
        let slot = |m: &mut Map<String, Value>, key: &str| -> Map<String, Value> {
            match m.remove(key) {
                Some(Value::Object(inner)) => inner,
                _ => Map::new(),
            }
        };
        match self {
            TextField::Response => {
                object.insert("response".into(), Value::String(text));
            }
            TextField::MessageContent => {
                let mut message = slot(object, "message");
                message.insert("content".into(), Value::String(text));
                object.insert("message".into(), Value::Object(message));
            }
            TextField::ChoiceText | TextField::ChoiceDelta => {
                let mut choices = match object.remove("choices") {
                    Some(Value::Array(c)) => c,
                    _ => Vec::new(),
                };
                if choices.is_empty() {
                    choices.push(Value::Object(Map::new()));
                }
                if let Some(Value::Object(first)) = choices.get_mut(0) {
                    if self == TextField::ChoiceText {
                        first.insert("text".into(), Value::String(text));
                    } else {
                        let mut delta = slot(first, "delta");
                        delta.insert("content".into(), Value::String(text));
                        first.insert("delta".into(), Value::Object(delta));
                    }
                }
                object.insert("choices".into(), Value::Array(choices));
            }
        }
    }
}

/// A stream read to its end.
pub struct Streamed {
    /// The final chunk with the whole text where the chunks carried theirs: what the
    /// endpoint's checks judge.
    pub assembled: Value,
    pub generation: Generation,
}

impl TokenStream {
    /// `start` is when the request went out: token times are measured from it.
    pub fn new(format: StreamFormat, start: Instant) -> TokenStream {
        TokenStream {
            format,
            start,
            partial: Vec::new(),
            event: String::new(),
            text: String::new(),
            text_at: None,
            last: None,
            usage: None,
            chunks: 0,
            token_chunks: 0,
            first_token: None,
            last_token: None,
            longest_gap: Duration::ZERO,
            done: false,
            finished: false,
            server_error: None,
            garbled: None,
        }
    }

    /// Reads the bytes that arrived `at`: every line they complete is parsed now.
    pub fn feed(&mut self, bytes: &[u8], at: Instant) {
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            let line = if self.partial.is_empty() {
                String::from_utf8_lossy(&rest[..end]).into_owned()
            } else {
                self.partial.extend_from_slice(&rest[..end]);
                let whole = String::from_utf8_lossy(&self.partial).into_owned();
                self.partial.clear();
                whole
            };
            self.line(line.trim_end_matches('\r'), at);
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
    }

    fn line(&mut self, line: &str, at: Instant) {
        match self.format {
            StreamFormat::Ndjson => {
                if !line.trim().is_empty() {
                    self.chunk(line, at);
                }
            }
            // An event is its `data:` lines, ended by a blank line; comments (`:`), `event:`,
            // `id:` and `retry:` lines carry no data.
            StreamFormat::Sse => {
                if line.is_empty() {
                    let data = std::mem::take(&mut self.event);
                    if !data.is_empty() {
                        self.chunk(&data, at);
                    }
                } else if let Some(data) = line.strip_prefix("data:") {
                    if !self.event.is_empty() {
                        self.event.push('\n');
                    }
                    self.event.push_str(data.strip_prefix(' ').unwrap_or(data));
                }
            }
        }
    }

    fn chunk(&mut self, data: &str, at: Instant) {
        if self.format == StreamFormat::Sse && data.trim() == "[DONE]" {
            self.done = true;
            return;
        }
        let value: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(_) => {
                if self.garbled.is_none() {
                    let shown: String = data.chars().take(60).collect();
                    self.garbled =
                        Some(format!("chunk {} is not JSON: {shown:?}", self.chunks + 1));
                }
                return;
            }
        };
        self.chunks += 1;
        if let Some(e) = value.get("error").filter(|e| !e.is_null()) {
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| e.as_str())
                .map_or_else(|| e.to_string(), str::to_owned);
            self.server_error.get_or_insert(message);
        }
        if let Some((field, text)) = TextField::of(&value) {
            self.text_at.get_or_insert(field);
            if !text.is_empty() {
                self.text.push_str(text);
                self.token_chunks += 1;
                if let Some(last) = self.last_token {
                    self.longest_gap = self.longest_gap.max(at.duration_since(last));
                }
                self.first_token.get_or_insert(at);
                self.last_token = Some(at);
            }
        }
        if value.get("done").and_then(Value::as_bool) == Some(true) {
            self.done = true;
        }
        if value
            .pointer("/choices/0/finish_reason")
            .is_some_and(|r| !r.is_null())
        {
            self.finished = true;
        }
        if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        self.last = Some(value);
    }

    /// The stream once the body has ended: its assembled answer and timing, or why it is no
    /// complete stream: the server's own error (`app_error`: it answered 2xx), or a stream
    /// cut short or garbled (`other`).
    pub fn finish(mut self, at: Instant) -> Result<Streamed, (Outcome, String)> {
        if !self.partial.is_empty() {
            // A last line without its newline still counts (NDJSON); an SSE event needs its
            // blank line, but a final `data:` line is read as one.
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            self.line(line.trim_end_matches('\r'), at);
        }
        if self.format == StreamFormat::Sse && !self.event.is_empty() {
            let data = std::mem::take(&mut self.event);
            self.chunk(&data, at);
        }
        if let Some(message) = self.server_error {
            return Err((Outcome::AppError, message));
        }
        if let Some(garbled) = self.garbled {
            return Err((
                Outcome::Other,
                format!("not a {} stream: {garbled}", self.format.name()),
            ));
        }
        let ended = match self.format {
            StreamFormat::Ndjson => self.done,
            StreamFormat::Sse => self.done || self.finished,
        };
        if !ended {
            return Err((
                Outcome::Other,
                format!(
                    "stream cut short: it ended after {} chunk(s) ({} with tokens) without its end ({})",
                    self.chunks,
                    self.token_chunks,
                    match self.format {
                        StreamFormat::Ndjson => "no chunk with \"done\": true",
                        StreamFormat::Sse => "no data: [DONE] and no finish_reason",
                    }
                ),
            ));
        }
        let mut object = match self.last.take() {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if let Some(usage) = self.usage.take() {
            object.insert("usage".into(), usage);
        }
        if let Some(field) = self.text_at {
            field.set(&mut object, std::mem::take(&mut self.text));
        }
        let assembled = Value::Object(object);
        let micros = |d: Duration| d.as_micros().min(i64::MAX as u128) as i64;
        let mut generation = report(&assembled);
        generation.ttft_us = self
            .first_token
            .map(|t| micros(t.duration_since(self.start)));
        if self.token_chunks >= 2
            && let (Some(first), Some(last)) = (self.first_token, self.last_token)
        {
            let gaps = i64::from(self.token_chunks - 1);
            generation.itl_mean_us = Some(micros(last.duration_since(first)) / gaps);
            generation.itl_max_us = Some(micros(self.longest_gap));
        }
        if generation.tokens_out.is_none() && self.token_chunks > 0 {
            generation.tokens_out = Some(self.token_chunks);
        }
        Ok(Streamed {
            assembled,
            generation,
        })
    }
}

impl StreamFormat {
    fn name(self) -> &'static str {
        match self {
            StreamFormat::Ndjson => "NDJSON",
            StreamFormat::Sse => "server-sent events",
        }
    }
}

/// The server's own report in a final chunk or a whole JSON answer: Ollama's token counts and
/// durations (ns), OpenAI's `usage`. Empty for an answer that has neither (AURAX's own).
pub fn report(body: &Value) -> Generation {
    let count = |v: Option<&Value>| {
        v.and_then(Value::as_u64)
            .map(|n| n.min(u64::from(u32::MAX)) as u32)
    };
    let nanos = |key: &str| body.get(key).and_then(Value::as_u64);
    let micros = |ns: u64| (ns / 1000).min(i64::MAX as u64) as i64;
    let server = nanos("total_duration").map(|total| {
        let load = nanos("load_duration").unwrap_or(0);
        let prompt = nanos("prompt_eval_duration").unwrap_or(0);
        let eval = nanos("eval_duration").unwrap_or(0);
        ServerTimes {
            queue_us: micros(total.saturating_sub(load + prompt + eval)),
            load_us: micros(load),
            prompt_us: micros(prompt),
            gen_us: micros(eval),
        }
    });
    Generation {
        tokens_in: count(body.get("prompt_eval_count"))
            .or_else(|| count(body.pointer("/usage/prompt_tokens"))),
        tokens_out: count(body.get("eval_count"))
            .or_else(|| count(body.pointer("/usage/completion_tokens"))),
        server,
        ..Generation::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn ndjson_tokens_are_timed_and_the_report_read_from_the_final_chunk() {
        let t0 = Instant::now();
        let mut s = TokenStream::new(StreamFormat::Ndjson, t0);
        // The first chunk split across two reads; the final one carries Ollama's report.
        s.feed(b"{\"model\":\"m\",\"respo", at(t0, 100));
        s.feed(b"nse\":\"Hel\",\"done\":false}\n", at(t0, 120));
        s.feed(b"{\"response\":\"lo\",\"done\":false}\n", at(t0, 150));
        s.feed(b"{\"response\":\"!\",\"done\":false}\n{\"response\":\"\",\"done\":true,\"total_duration\":400000000,\"load_duration\":50000000,\"prompt_eval_count\":12,\"prompt_eval_duration\":60000000,\"eval_count\":3,\"eval_duration\":200000000}\n", at(t0, 220));
        let done = s.finish(at(t0, 221)).expect("complete stream");
        let g = done.generation;
        assert_eq!(g.ttft_us, Some(120_000));
        assert_eq!(g.itl_mean_us, Some(50_000), "(220 - 120) / 2");
        assert_eq!(g.itl_max_us, Some(70_000));
        assert_eq!((g.tokens_in, g.tokens_out), (Some(12), Some(3)));
        assert_eq!(
            g.server,
            Some(ServerTimes {
                queue_us: 90_000,
                load_us: 50_000,
                prompt_us: 60_000,
                gen_us: 200_000
            })
        );
        assert_eq!(done.assembled["response"], json!("Hello!"));
        assert_eq!(done.assembled["done"], json!(true));
    }

    #[test]
    fn sse_chat_stream_counts_chunks_and_reads_usage() {
        let t0 = Instant::now();
        let mut s = TokenStream::new(StreamFormat::Sse, t0);
        let event = |content: &str| {
            format!(
                "data: {}\r\n\r\n",
                json!({"choices":[{"index":0,"delta":{"content":content},"finish_reason":null}]})
            )
        };
        s.feed(b": keep-alive\n\n", at(t0, 5));
        s.feed(
            format!("{}{}", event("A"), event("")).as_bytes(),
            at(t0, 30),
        );
        s.feed(event("B").as_bytes(), at(t0, 40));
        s.feed(event("C").as_bytes(), at(t0, 70));
        s.feed(b"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n", at(t0, 71));
        let done = s.finish(at(t0, 72)).expect("complete stream");
        let g = done.generation;
        assert_eq!(g.ttft_us, Some(30_000));
        assert_eq!(g.itl_mean_us, Some(20_000));
        assert_eq!(g.itl_max_us, Some(30_000));
        assert_eq!((g.tokens_in, g.tokens_out), (Some(7), Some(3)));
        assert_eq!(g.server, None, "OpenAI servers report no durations");
        assert_eq!(
            done.assembled["choices"][0]["delta"]["content"],
            json!("ABC")
        );
    }

    #[test]
    fn a_stream_cut_short_says_so() {
        let t0 = Instant::now();
        let mut s = TokenStream::new(StreamFormat::Ndjson, t0);
        s.feed(
            b"{\"response\":\"a\",\"done\":false}\n{\"response\":\"b\",\"done\":false}\n",
            t0,
        );
        let (outcome, err) = s.finish(t0).err().expect("cut short");
        assert_eq!(outcome, Outcome::Other);
        assert!(
            err.contains("cut short") && err.contains("2 chunk(s)"),
            "{err}"
        );

        let mut s = TokenStream::new(StreamFormat::Sse, t0);
        s.feed(
            b"data: {\"choices\":[{\"text\":\"a\",\"finish_reason\":null}]}\n\n",
            t0,
        );
        let (_, err) = s.finish(t0).err().expect("cut short");
        assert!(err.contains("[DONE]"), "{err}");
    }

    #[test]
    fn a_server_error_mid_stream_and_garbage_fail_with_their_reason() {
        let t0 = Instant::now();
        let mut s = TokenStream::new(StreamFormat::Ndjson, t0);
        s.feed(b"{\"response\":\"a\",\"done\":false}\n{\"error\":\"model runner has unexpectedly stopped\"}\n", t0);
        assert_eq!(
            s.finish(t0).err(),
            Some((
                Outcome::AppError,
                "model runner has unexpectedly stopped".to_string()
            ))
        );
        let mut s = TokenStream::new(StreamFormat::Ndjson, t0);
        s.feed(b"<html>502</html>\n", t0);
        let (_, err) = s.finish(t0).err().expect("garbage");
        assert!(
            err.starts_with("not a NDJSON stream: chunk 1 is not JSON"),
            "{err}"
        );
    }

    #[test]
    fn a_whole_ollama_answer_reports_its_durations() {
        let body = json!({"response":"hi","done":true,"total_duration":1_000_000u64,"load_duration":0,"prompt_eval_count":4,"prompt_eval_duration":200_000u64,"eval_count":9,"eval_duration":700_000u64});
        let g = report(&body);
        assert_eq!((g.tokens_in, g.tokens_out), (Some(4), Some(9)));
        assert_eq!(g.server.map(|s| s.queue_us), Some(100));
        assert_eq!(
            g.ttft_us, None,
            "an answer not streamed has no first token of its own"
        );
        assert_eq!(report(&json!({"success": true})), Generation::default());
    }
}
