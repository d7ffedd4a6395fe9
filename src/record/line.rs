//! One line of a recorded trace: the JSONL format `run --trace` reads, plus what the proxy
//! saw of the response (read past on replay).

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use serde::Serialize;
use serde_json::Value;

use crate::redact;
use crate::trace::{ENDPOINT_HEADER, PROBE_HEADER, is_connection_header};

#[derive(Debug, Serialize)]
pub struct RecordedLine {
    #[serde(serialize_with = "rfc3339_micros")]
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// Arrival at the proxy, from the recorder's start.
    pub offset_ms: f64,
    /// The scenario endpoint: named by `aurax-tool run`, or inferred from path and body.
    pub endpoint: Option<String>,
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    pub status: u16,
    pub latency_ms: f64,
}

impl RecordedLine {
    pub fn to_json(&self) -> String {
        // Serialising plain data to a String cannot fail; an empty object is a safe fallback.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

fn rfc3339_micros<S: serde::Serializer>(
    t: &chrono::DateTime<chrono::Utc>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// Headers worth replaying, with secrets replaced by `<redacted>` unless `keep_secrets`.
/// Connection-level headers and the load tool's own markers are left out.
pub fn redact_headers(headers: &HeaderMap, keep_secrets: bool) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter(|(n, _)| {
            !is_connection_header(n.as_str()) && *n != ENDPOINT_HEADER && *n != PROBE_HEADER
        })
        .map(|(n, v)| {
            let value = String::from_utf8_lossy(v.as_bytes());
            let value = if keep_secrets {
                value.into_owned()
            } else {
                redact::header_value(n.as_str(), &value).to_string()
            };
            (n.as_str().to_string(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_unless_kept() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer s3cret".parse().expect("value"));
        h.insert("cookie", "a=b".parse().expect("value"));
        h.insert("x-tenant", "t1".parse().expect("value"));
        h.insert("x-api-key", "k3y".parse().expect("value"));
        h.insert(ENDPOINT_HEADER, "health".parse().expect("value"));
        let r = redact_headers(&h, false);
        assert_eq!(r["authorization"], "<redacted>");
        assert_eq!(r["cookie"], "<redacted>");
        assert_eq!(r["x-api-key"], "<redacted>");
        assert_eq!(r["x-tenant"], "t1");
        assert!(!r.contains_key(ENDPOINT_HEADER));
        assert_eq!(redact_headers(&h, true)["authorization"], "Bearer s3cret");
    }
}
