//! HAR 1.2 (what browsers and proxies export): one JSON document, `log.entries[]`, each with
//! `startedDateTime` and a `request` (method, absolute url, headers, `postData.text`). The
//! document is parsed on its own thread one entry at a time, so a HAR larger than memory
//! streams like any other trace.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{EndpointResolver, TimedRequest, TraceError, TraceReader, TraceRequest, max_tokens_of};
use crate::scenario::EndpointId;

pub fn open(
    path: &Path,
    source: Arc<str>,
    resolver: Arc<EndpointResolver>,
    fixed: Option<EndpointId>,
) -> Result<TraceReader, TraceError> {
    let file = File::open(path).map_err(|e| TraceError::file(path, format!("cannot open: {e}")))?;
    let name = path.display().to_string();
    let (tx, rx) = sync_channel::<Result<Value, String>>(256);
    std::thread::Builder::new()
        .name("har-reader".into())
        .spawn(move || {
            let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
            if let Err(e) = Root(&tx).deserialize(&mut de) {
                // The consumer may have stopped listening; then nobody needs the error.
                let _ = tx.send(Err(e.to_string()));
            }
        })
        .map_err(|e| TraceError::file(path, format!("starting the HAR reader: {e}")))?;
    Ok(Box::new(Entries {
        rx,
        name,
        source,
        resolver,
        fixed,
        index: 0,
        done: false,
    }))
}

struct Entries {
    rx: Receiver<Result<Value, String>>,
    name: String,
    source: Arc<str>,
    resolver: Arc<EndpointResolver>,
    fixed: Option<EndpointId>,
    index: u64,
    done: bool,
}

impl Iterator for Entries {
    type Item = Result<TimedRequest, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.rx.recv() {
            Ok(Ok(entry)) => {
                self.index += 1;
                Some(self.entry(&entry).map_err(|reason| TraceError::Line {
                    file: self.name.clone(),
                    unit: "entry",
                    line: self.index,
                    reason,
                }))
            }
            Ok(Err(reason)) => {
                self.done = true;
                Some(Err(TraceError::File {
                    file: self.name.clone(),
                    reason: format!("not a HAR 1.2 document: {reason}"),
                }))
            }
            Err(_) => None,
        }
    }
}

impl Entries {
    fn entry(&self, entry: &Value) -> Result<TimedRequest, String> {
        let started = entry
            .get("startedDateTime")
            .and_then(Value::as_str)
            .ok_or("no startedDateTime")?;
        let time_ns = chrono::DateTime::parse_from_rfc3339(started)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .ok_or_else(|| format!("startedDateTime {started:?} is not ISO 8601"))?;
        let request = entry.get("request").ok_or("no request")?;
        let method = request
            .get("method")
            .and_then(Value::as_str)
            .ok_or("no request.method")
            .map(super::http_method)??;
        let url = request
            .get("url")
            .and_then(Value::as_str)
            .ok_or("no request.url")?;
        let path = path_of(url);
        let text = request.pointer("/postData/text").and_then(Value::as_str);
        let json: Option<Value> = text.and_then(|t| serde_json::from_str(t).ok());
        let endpoint = match self.fixed {
            Some(id) => id,
            None => self.resolver.resolve(None, &method, &path, json.as_ref())?,
        };
        let headers = request
            .get("headers")
            .and_then(Value::as_array)
            .map(|hs| {
                hs.iter()
                    .filter_map(|h| Some((h.get("name")?.as_str()?, h.get("value")?.as_str()?)))
                    // HTTP/2 pseudo-headers (`:authority`) are no headers to send.
                    .filter(|(n, _)| !n.starts_with(':'))
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(TimedRequest {
            time_ns,
            request: TraceRequest {
                endpoint,
                method: Some(method),
                path: Some(path),
                headers,
                body: text.map(|t| Bytes::from(t.to_string())),
                max_tokens: json.as_ref().and_then(max_tokens_of),
                source: self.source.clone(),
                line: self.index,
            },
        })
    }
}

/// The path and query of an absolute URL (`http://h:8000/generate?x` → `/generate?x`).
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    match rest.find('/') {
        Some(i) if url.contains("://") => rest[i..].to_string(),
        _ if url.starts_with('/') => url.to_string(),
        _ => "/".to_string(),
    }
}

/// The document root: finds `log`, ignores everything else.
struct Root<'a>(&'a SyncSender<Result<Value, String>>);
/// `log`: finds `entries`.
struct Log<'a>(&'a SyncSender<Result<Value, String>>);
/// `log.entries`: hands each entry over as it is parsed.
struct EntryList<'a>(&'a SyncSender<Result<Value, String>>);

impl<'de> DeserializeSeed<'de> for Root<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Root<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a HAR object with a `log`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "log" {
                map.next_value_seed(Log(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Log<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Log<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a HAR `log` object with `entries`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "entries" {
                map.next_value_seed(EntryList(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for EntryList<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntryList<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of HAR entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element::<Value>()? {
            if self.0.send(Ok(entry)).is_err() {
                return Err(de::Error::custom("the replay stopped reading"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    #[test]
    fn entries_stream_out_with_their_paths_and_bodies() {
        let har = r#"{"log": {"version": "1.2", "creator": {"name": "x"}, "entries": [
          {"startedDateTime": "2026-11-29T05:00:00.000Z", "request": {"method": "GET",
            "url": "http://127.0.0.1:8000/health", "headers": [{"name": "Host", "value": "h"},
            {"name": "X-Tenant", "value": "a"}]}},
          {"startedDateTime": "2026-11-29T05:00:00.250+00:00", "request": {"method": "POST",
            "url": "http://127.0.0.1:8000/generate", "headers": [],
            "postData": {"mimeType": "application/json",
              "text": "{\"prompt\": \"Create an image of: x\", \"routing_metadata\": {\"preferred_model\": \"image\"}}"}}},
          {"startedDateTime": "2026-11-29T05:00:01Z", "request": {"method": "GET",
            "url": "http://127.0.0.1:8000/favicon.ico"}}
        ]}}"#;
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("t.har");
        std::fs::write(&p, har).expect("write");
        let scenario = Arc::new(Scenario::builtin().expect("builtin"));
        let resolver = Arc::new(EndpointResolver::new(scenario.clone()));
        let rows: Vec<_> = open(&p, Arc::from("t.har"), resolver, None)
            .expect("open")
            .collect();
        assert_eq!(rows.len(), 3);
        let first = rows[0].as_ref().expect("first");
        assert_eq!(first.request.headers.len(), 2);
        let second = rows[1].as_ref().expect("second");
        assert_eq!(second.time_ns - first.time_ns, 250_000_000);
        assert_eq!(
            scenario.endpoints[second.request.endpoint].name,
            "generate_image"
        );
        let third = rows[2].as_ref().expect_err("favicon").to_string();
        assert!(
            third.contains("t.har: entry 3: GET /favicon.ico"),
            "{third}"
        );
    }

    #[test]
    fn a_broken_document_is_a_file_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("t.har");
        std::fs::write(&p, "{\"log\": {\"entries\": [ {\"a\": ").expect("write");
        let scenario = Arc::new(Scenario::builtin().expect("builtin"));
        let resolver = Arc::new(EndpointResolver::new(scenario));
        let rows: Vec<_> = open(&p, Arc::from("t.har"), resolver, None)
            .expect("open")
            .collect();
        assert!(matches!(rows.last(), Some(Err(TraceError::File { .. }))));
        assert_eq!(path_of("https://a.b/x?y=1"), "/x?y=1");
        assert_eq!(path_of("http://a.b"), "/");
    }
}
