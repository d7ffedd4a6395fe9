//! What the runner knows of one request once it is over: one Parquet row.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use aurax_schema::Outcome;

#[derive(Debug, Clone)]
pub struct RequestOutcome {
    pub worker_id: u32,
    pub seq: u64,
    pub user_class: Name,
    pub user_id: u32,
    pub endpoint: Name,
    pub method: Name,
    pub path: Name,
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
    /// Times it went out: 1; 2 for an idempotent request sent again after a reused
    /// connection closed unanswered; 0 for a dropped arrival.
    pub sends: u8,
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

/// `text` kept for the process's life, one copy per distinct text: for what a run builds
/// once and copies into every request or row (its scenario's names, its header values), a
/// bounded set; never for text read from a trace.
pub fn intern(text: &str) -> &'static str {
    static TEXTS: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut texts = TEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    match texts.get(text) {
        Some(kept) => kept,
        None => {
            let kept: &'static str = Box::leak(text.into());
            texts.insert(kept);
            kept
        }
    }
}

/// The value kept for `name` in a map keyed by shared names, made on first sight. A row's
/// name is looked up, never cloned into the key: the key is copied into an `Arc` once, not
/// once a row.
pub fn entry_for<'m, V: Default>(map: &'m mut BTreeMap<Arc<str>, V>, name: &str) -> &'m mut V {
    if !map.contains_key(name) {
        map.insert(Arc::from(name), V::default());
    }
    map.get_mut(name)
        .unwrap_or_else(|| unreachable!("the entry was just made"))
}

/// A name a row carries (its endpoint, method, path, user class). The scenario's names are
/// interned once for the process's life, so copying one into a row copies a pointer: an
/// `Arc` clone per name and row was a reference count that every load thread and the sink
/// thread wrote, its cache line bouncing between cores (4 a request). A replayed request's
/// own path, of unbounded variety, is carried as it is.
#[derive(Debug, Clone)]
pub enum Name {
    Interned(&'static str),
    Own(Arc<str>),
}

impl Name {
    /// The name interned: every later call with the same text returns the same one. For the
    /// scenario's names only (a bounded set), never for text from a trace.
    pub fn interned(text: &str) -> Name {
        Name::Interned(intern(text))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Name::Interned(name) => name,
            Name::Own(name) => name,
        }
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Name {
        Name::Own(Arc::from(text))
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_names_are_one_copy_and_equal_their_text() {
        let (a, b) = (
            Name::interned("generate_text"),
            Name::interned("generate_text"),
        );
        match (&a, &b) {
            (Name::Interned(x), Name::Interned(y)) => assert!(std::ptr::eq(*x, *y)),
            _ => panic!("not interned"),
        }
        assert_eq!(a, Name::from("generate_text"));
        assert_ne!(a, Name::interned("health"));
        assert_eq!(&*a, "generate_text");
    }
}
