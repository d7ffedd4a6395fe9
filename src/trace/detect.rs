//! Trace formats, told apart by content (the first bytes), never by file name alone.

use std::io::Read;
use std::path::Path;

use super::TraceError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (our own format, and what `aurax-tool record` writes).
    Jsonl,
    /// The Azure LLM inference trace: `TIMESTAMP,ContextTokens,GeneratedTokens`.
    Azure,
    /// HAR 1.2, as browsers and proxies export it.
    Har,
    /// A previous run directory: its Parquet rows.
    RunDir,
}

impl Format {
    pub fn parse(text: &str) -> Result<Format, String> {
        match text {
            "jsonl" => Ok(Format::Jsonl),
            "azure" | "azure-csv" => Ok(Format::Azure),
            "har" => Ok(Format::Har),
            "run" => Ok(Format::RunDir),
            other => Err(format!(
                "--trace-format {other}: use jsonl, azure, har or run"
            )),
        }
    }

    /// What a position in the trace is called in messages.
    pub fn unit(self) -> &'static str {
        match self {
            Format::Jsonl | Format::Azure => "line",
            Format::Har => "entry",
            Format::RunDir => "seq",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Azure => "azure",
            Format::Har => "har",
            Format::RunDir => "run",
        }
    }
}

/// Looks at the first 64 KiB: a directory is a run, a CSV header naming `ContextTokens` is
/// the Azure trace, a JSON document with a `log` key (or one that does not end on its first
/// line) is HAR, one object per line is JSONL.
pub fn detect_format(path: &Path) -> Result<Format, TraceError> {
    if path.is_dir() {
        return Ok(Format::RunDir);
    }
    let mut head = Vec::with_capacity(64 * 1024);
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|e| TraceError::file(path, format!("cannot read: {e}")))?;
    let text = String::from_utf8_lossy(&head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.is_empty() {
        return Err(TraceError::file(path, "the trace is empty"));
    }
    let first = text.lines().next().unwrap_or("");
    if first.to_ascii_lowercase().contains("contexttokens") {
        return Ok(Format::Azure);
    }
    if first.starts_with('{') {
        let one_line = serde_json::from_str::<serde_json::Value>(first);
        return Ok(match one_line {
            Ok(v) if v.get("log").is_some() => Format::Har,
            Ok(_) => Format::Jsonl,
            Err(_) => Format::Har,
        });
    }
    Err(TraceError::file(
        path,
        "not a trace this tool reads (JSONL, Azure LLM CSV, HAR or a run directory); name the format with --trace-format",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart_by_content() {
        let dir = tempfile::tempdir().expect("tmp");
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write");
            p
        };
        let azure = write("a.txt", "TIMESTAMP,ContextTokens,GeneratedTokens\n");
        assert_eq!(detect_format(&azure).expect("azure"), Format::Azure);
        let jsonl = write("b.txt", "{\"offset_ms\": 0, \"endpoint\": \"health\"}\n");
        assert_eq!(detect_format(&jsonl).expect("jsonl"), Format::Jsonl);
        let har = write("c.txt", "{\n  \"log\": {\"entries\": []}\n}\n");
        assert_eq!(detect_format(&har).expect("har"), Format::Har);
        assert_eq!(detect_format(dir.path()).expect("dir"), Format::RunDir);
        let empty = write("d.txt", "\n\n");
        assert!(
            detect_format(&empty)
                .expect_err("empty")
                .to_string()
                .contains("empty")
        );
        let other = write("e.txt", "hello");
        assert!(detect_format(&other).is_err());
    }
}
