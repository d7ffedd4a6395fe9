//! Trace replay end to end: the real binary replays the real Azure code trace, a recording
//! made through `aurax-tool record`, a previous run directory and a HAR file against the
//! simulator on 127.0.0.1, and the Parquet rows are read back.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use crate::common::{
    Row, Simulator, aurax, bin, fixture, read_rows, replay, reported_requests, text,
};

/// Offsets (ns) of the Azure CSV's rows from the first, by line number, read independently
/// of the tool: `YYYY-MM-DD HH:MM:SS.fffffff`.
fn azure_offsets(path: &Path) -> BTreeMap<u64, i64> {
    let text = std::fs::read_to_string(path).expect("fixture");
    let ns = |ts: &str| -> i64 {
        let (date, time) = ts.split_once(' ').expect("date time");
        let day: i64 = date[8..10].parse().expect("day");
        let (hms, frac) = time.split_once('.').expect("fraction");
        let p: Vec<i64> = hms.split(':').map(|x| x.parse().expect("n")).collect();
        let frac: i64 = format!("{frac:0<9}").parse().expect("frac");
        (((day * 24 + p[0]) * 60 + p[1]) * 60 + p[2]) * 1_000_000_000 + frac
    };
    let rows: Vec<(u64, i64)> = text
        .lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i as u64 + 1, ns(l.split(',').next().expect("ts"))))
        .collect();
    let t0 = rows[0].1;
    rows.into_iter().map(|(line, t)| (line, t - t0)).collect()
}

fn mix(rows: &[Row]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r.endpoint.clone()).or_default() += 1;
    }
    m
}

#[test]
fn azure_code_trace_at_speed_60_keeps_every_recorded_gap() {
    let trace = fixture("azure-code-2023.csv");
    let expected = azure_offsets(&trace);
    let sim = Simulator::start(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let spec = format!("{}:generate_code", trace.display());
    let run = replay(&spec, &sim.url, &out, &["--speed", "60", "--no-thresholds"]);
    let log = text(&run);
    assert_eq!(run.status.code(), Some(0), "{log}");
    let rows = read_rows(&out);
    // Every data row of the CSV, once (8,819 rows under the header).
    assert_eq!(rows.len(), expected.len(), "{log}");
    assert_eq!(reported_requests(&log), expected.len() as u64);
    let first = rows
        .iter()
        .find(|r| r.trace_line == Some(2))
        .expect("the first row")
        .intended_us;
    let mut lines: Vec<u64> = Vec::new();
    for r in &rows {
        let line = r.trace_line.expect("trace_line set");
        lines.push(line);
        assert_eq!(r.trace_source.as_deref(), Some("azure-code-2023.csv"));
        assert_eq!(r.endpoint, "generate_code");
        assert_eq!(r.user_class, "replay");
        // Intended offsets equal the trace's offsets / 60, to the µs (both truncate).
        let want_us = expected[&line] as f64 / 60.0 / 1000.0;
        let got_us = (r.intended_us - first) as f64;
        assert!(
            (got_us - want_us).abs() <= 1.0,
            "line {line}: {got_us} vs {want_us}"
        );
    }
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(lines.len(), expected.len(), "each line sent once");
    assert!(log.contains("scheduling lateness p99"), "{log}");
    assert!(
        log.contains(&format!("replayed {} request(s)", expected.len())),
        "{log}"
    );

    // The analysis reads the replay as it is and names the trace.
    let report = dir.path().join("report");
    let analyze = aurax(&[
        "analyze",
        out.to_str().expect("utf8"),
        "--out",
        report.to_str().expect("utf8"),
    ]);
    assert_eq!(analyze.status.code(), Some(0), "{}", text(&analyze));
    let md = std::fs::read_to_string(report.join("report.md")).expect("report");
    assert!(
        md.contains("a replay of `azure-code-2023.csv` at 60x"),
        "{md}"
    );
}

/// `aurax-tool record` as a child on a free port, stopped with SIGINT.
struct Recorder {
    child: Child,
    url: String,
}

impl Recorder {
    fn start(upstream: &str, out: &Path) -> Recorder {
        let mut child = bin()
            .args([
                "record",
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                upstream,
                "--out",
            ])
            .arg(out)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("recorder starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("first line");
        let url = first.trim().rsplit(' ').next().expect("url").to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{first}");
        Recorder { child, url }
    }

    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status();
        let out = std::mem::replace(&mut self.child, bin().arg("--version").spawn().expect("x"))
            .wait_with_output()
            .expect("recorder exits");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        text(&out)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_recording_of_a_light_run_replays_with_the_same_count_and_mix() {
    let sim = Simulator::start(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let trace = dir.path().join("recorded.jsonl");
    let recorder = Recorder::start(&sim.url, &trace);
    let original = dir.path().join("original");
    let run = aurax(&[
        "run",
        "--profile",
        "light",
        "-t",
        "6s",
        "--host",
        &recorder.url,
        "--seed",
        "3",
        "--out",
        original.to_str().expect("utf8"),
        "-q",
        "--header",
        "Authorization: Bearer s3cret",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let said = recorder.stop();
    let recorded_rows = read_rows(&original);
    assert!(recorded_rows.len() >= 5, "{}", recorded_rows.len());
    assert!(
        said.contains(&format!("recorded {} request(s)", recorded_rows.len())),
        "{said}"
    );
    let lines = std::fs::read_to_string(&trace).expect("trace");
    assert!(!lines.contains("s3cret"), "secrets are redacted");
    assert!(lines.contains("\"authorization\":\"<redacted>\""));

    let replayed_dir = dir.path().join("replay");
    let run = replay(trace.to_str().expect("utf8"), &sim.url, &replayed_dir, &[]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let replayed = read_rows(&replayed_dir);
    assert_eq!(replayed.len(), recorded_rows.len());
    assert_eq!(mix(&replayed), mix(&recorded_rows));
    assert!(
        replayed.iter().all(|r| r.outcome == "ok"),
        "{:?}",
        replayed.iter().find(|r| r.outcome != "ok")
    );

    // A run directory replays too: same requests, same endpoints, the original gaps.
    let again = dir.path().join("again");
    let run = replay(original.to_str().expect("utf8"), &sim.url, &again, &[]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let rerun = read_rows(&again);
    assert_eq!(rerun.len(), recorded_rows.len());
    assert_eq!(mix(&rerun), mix(&recorded_rows));
    let offsets = |rows: &[Row]| {
        let mut t: Vec<i64> = rows.iter().map(|r| r.intended_us).collect();
        t.sort_unstable();
        t.iter().map(|x| x - t[0]).collect::<Vec<i64>>()
    };
    for (a, b) in offsets(&rerun).iter().zip(offsets(&recorded_rows).iter()) {
        assert!((a - b).abs() <= 1, "{a} vs {b}");
    }
}

#[test]
fn har_and_as_fast_as_possible() {
    let sim = Simulator::start(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let entries: Vec<String> = (0..40)
        .map(|i| {
            let (method, path, body) = if i % 2 == 0 {
                ("GET", "/health", String::new())
            } else {
                (
                    "POST",
                    "/route",
                    r#", "postData": {"mimeType": "application/json", "text": "{\"query\": \"q\", \"metadata\": {\"test\": true}}"}"#
                        .to_string(),
                )
            };
            format!(
                r#"{{"startedDateTime": "2026-11-29T05:00:{:02}.{:03}Z", "request": {{"method": "{method}", "url": "http://example.test{path}", "headers": []{body}}}}}"#,
                i / 10,
                (i % 10) * 100
            )
        })
        .collect();
    let har = dir.path().join("browser.har");
    std::fs::write(
        &har,
        format!(
            "{{\"log\": {{\"version\": \"1.2\", \"entries\": [\n{}\n]}}}}",
            entries.join(",\n")
        ),
    )
    .expect("write");
    let out = dir.path().join("har");
    let run = replay(
        har.to_str().expect("utf8"),
        &sim.url,
        &out,
        &["--speed", "4"],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let rows = read_rows(&out);
    assert_eq!(rows.len(), 40);
    assert_eq!(mix(&rows).get("test_routing"), Some(&20));
    assert!(rows.iter().all(|r| r.outcome == "ok"));
    let span = rows.iter().map(|r| r.intended_us).max().expect("max")
        - rows.iter().map(|r| r.intended_us).min().expect("min");
    assert!(
        (span - 975_000).abs() <= 2,
        "3.9 s / 4 = 975 ms, got {span} µs"
    );

    let fast = dir.path().join("fast");
    let run = replay(
        har.to_str().expect("utf8"),
        &sim.url,
        &fast,
        &["--as-fast-as-possible", "-u", "4", "--loop", "5"],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let rows = read_rows(&fast);
    assert_eq!(rows.len(), 200);
    assert!(rows.iter().all(|r| r.users_active <= 4 && r.user_id < 4));
}
