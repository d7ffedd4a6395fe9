//! Trace replay input: bad traces (file, line and reason; --lenient; empty, unsorted,
//! unknown endpoints, conflicting flags) and `trace stats` on the real Azure trace.

use std::path::Path;

use crate::common::{Simulator, aurax, fixture, read_rows, replay, text};

#[test]
fn bad_traces_say_file_line_and_reason() {
    let sim = Simulator::start(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let trace = dir.path().join("t.jsonl");
    let mut lines: Vec<String> = (0..20)
        .map(|i| format!("{{\"offset_ms\": {}, \"endpoint\": \"health\"}}", i * 10))
        .collect();
    lines.insert(7, "{\"offset_ms\": 70, \"endpoint\": \"helth\"}".into());
    lines.insert(12, "{not json".into());
    std::fs::write(&trace, lines.join("\n")).expect("write");
    let t = trace.to_str().expect("utf8");
    let out = |name: &str| dir.path().join(name).to_str().expect("utf8").to_string();

    let strict = replay(t, &sim.url, Path::new(&out("strict")), &[]);
    let log = text(&strict);
    assert_eq!(strict.status.code(), Some(3), "{log}");
    assert!(log.contains("t.jsonl:8: unknown endpoint `helth`"), "{log}");

    let lenient = replay(t, &sim.url, Path::new(&out("lenient")), &["--lenient"]);
    let log = text(&lenient);
    assert_eq!(lenient.status.code(), Some(0), "{log}");
    assert!(
        log.contains("--lenient skipped 2 bad trace line(s)"),
        "{log}"
    );
    assert_eq!(read_rows(Path::new(&out("lenient"))).len(), 20);

    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "\n").expect("write");
    let run = aurax(&[
        "run",
        "--trace",
        empty.to_str().expect("utf8"),
        "--host",
        &sim.url,
        "--out",
        &out("empty"),
    ]);
    assert_eq!(run.status.code(), Some(3));
    assert!(text(&run).contains("the trace is empty"), "{}", text(&run));

    // Sorted on the fly within 120 s of trace time; line 4 comes 40 s after line 2 was due.
    let unsorted = dir.path().join("unsorted.jsonl");
    let offsets = [0, 50_000, 200_000, 10_000];
    let text_lines: Vec<String> = offsets
        .iter()
        .map(|o| format!("{{\"offset_ms\": {o}, \"endpoint\": \"health\"}}"))
        .collect();
    std::fs::write(&unsorted, text_lines.join("\n")).expect("write");
    let run = aurax(&[
        "run",
        "--trace",
        unsorted.to_str().expect("utf8"),
        "--speed",
        "1000",
        "--host",
        &sim.url,
        "--out",
        &out("unsorted"),
    ]);
    assert_eq!(run.status.code(), Some(3), "{}", text(&run));
    assert!(
        text(&run).contains("unsorted.jsonl:4: 40.000 s earlier than line 2"),
        "{}",
        text(&run)
    );
    assert_eq!(
        read_rows(Path::new(&out("unsorted"))).len(),
        2,
        "what was sent is kept"
    );

    let run = aurax(&[
        "run",
        "--trace",
        &format!("{t}:nope"),
        "--host",
        &sim.url,
        "--out",
        &out("x"),
    ]);
    assert_eq!(run.status.code(), Some(3));
    assert!(
        text(&run).contains("unknown endpoint `nope`"),
        "{}",
        text(&run)
    );
    // Two load shapes at once: a usage error that names both.
    let run = aurax(&["run", "--trace", t, "--rate", "5/s", "--host", &sim.url]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run).contains("cannot be used with") && text(&run).contains("--rate"),
        "{}",
        text(&run)
    );
    // A replay's flag without a trace: clap's usage error, like every relation of flags.
    let run = aurax(&["run", "--speed", "3", "--host", &sim.url]);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
}

#[test]
fn trace_stats_describes_the_azure_trace() {
    let trace = fixture("azure-code-2023.csv");
    let spec = format!("{}:generate_code", trace.display());
    let out = aurax(&["trace", "stats", &spec, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["requests"], 8819);
    assert_eq!(v["endpoints"]["generate_code"], 8819);
    // ~57 minutes; the busiest second holds 67 requests (SOURCE.md).
    let span = v["span_s"].as_f64().expect("span");
    assert!((3400.0..3500.0).contains(&span), "{span}");
    assert_eq!(v["arrivals_per_second"]["max"], 67);
    let table = aurax(&[
        "trace", "stats", &spec, "--speed", "60", "--window", "10m..20m",
    ]);
    let t = text(&table);
    assert_eq!(table.status.code(), Some(0), "{t}");
    assert!(t.contains("span            9."), "{t}");
}

#[test]
fn a_scenario_file_without_the_default_profile_still_replays() {
    let sim = Simulator::start(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let trace = dir.path().join("h.jsonl");
    let lines: Vec<String> = (0..10)
        .map(|i| format!("{{\"offset_ms\": {}, \"endpoint\": \"health\"}}", i * 20))
        .collect();
    std::fs::write(&trace, lines.join("\n")).expect("write");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/health.toml");
    let out = dir.path().join("run");
    let run = replay(
        trace.to_str().expect("utf8"),
        &sim.url,
        &out,
        &["--scenario-file", scenario],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(read_rows(&out).len(), 10);
    // Synthetic load runs as its flags say, and says what it took for the missing profile.
    let run = aurax(&[
        "run",
        "--scenario-file",
        scenario,
        "--host",
        &sim.url,
        "-t",
        "1s",
        "--no-thresholds",
        "--out",
        dir.path().join("synthetic").to_str().expect("utf8"),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        text(&run).contains("has no `light` profile: every class, 1 user for 60 s"),
        "{}",
        text(&run)
    );
    // A profile named and missing is still refused.
    let run = aurax(&[
        "run",
        "--scenario-file",
        scenario,
        "--host",
        &sim.url,
        "--profile",
        "heavy",
        "-t",
        "1s",
    ]);
    assert_eq!(run.status.code(), Some(3));
    assert!(
        text(&run).contains("unknown profile `heavy` (known: bench)"),
        "{}",
        text(&run)
    );
}
