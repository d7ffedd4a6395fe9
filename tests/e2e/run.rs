//! `aurax-tool run` end to end: the real binary against the simulator on 127.0.0.1, the
//! Parquet files read back.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;

use crate::common::{
    Simulator, aurax, manifest, read_rows, reported_requests, resource_sample_times, text,
};
use parquet::file::reader::{FileReader, SerializedFileReader};

#[test]
fn light_profile_without_host_exits_0_and_parquet_matches_the_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let o = aurax(&[
        "run",
        "--profile",
        "light",
        "-t",
        "6s",
        "--seed",
        "3",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(
        all.contains("started the built-in AURAX simulator at http://127.0.0.1:"),
        "{all}"
    );
    let rows = read_rows(&out);
    assert!(!rows.is_empty());
    assert_eq!(rows.len() as u64, reported_requests(&all));
    let m = manifest(&out);
    assert_eq!(m["status"], "completed");
    assert_eq!(m["requests"].as_u64(), Some(rows.len() as u64));
    assert_eq!(m["config"]["peak_load"], 5.0);
    assert_eq!(m["config"]["load_model"], "closed");
    // A 6 s run is sampled about every second by default (30 samples per short run, at least
    // 1 s apart), not every 5 s: its load levels each get resource samples.
    let sampled = resource_sample_times(&out, "generator").len();
    assert!((5..=9).contains(&sampled), "{sampled} generator samples");
    // Every user checks /health once when it starts.
    let health = rows.iter().filter(|r| r.endpoint == "health").count();
    assert_eq!(health, 5);
    assert!(
        rows.iter()
            .all(|r| r.outcome == "ok" && r.status == Some(200))
    );

    // The 5-second segments (two in 6 s) were merged into one file when the run ended, rows
    // sorted by send time, its footer naming what it holds.
    let request_files = crate::common::segment_files(&out);
    assert_eq!(request_files.len(), 1, "{request_files:?}");
    assert_eq!(m["request_file_count"], 1);
    assert!(
        rows.windows(2).all(|w| w[0].actual_us <= w[1].actual_us),
        "rows sorted by actual send time"
    );
    let first = request_files.into_iter().next().expect("a request file");
    let reader = SerializedFileReader::new(File::open(first).expect("open")).expect("parquet");
    let kv: HashMap<String, String> = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .expect("key-value metadata")
        .iter()
        .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        kv.get("aurax.schema_version").map(String::as_str),
        Some("4")
    );
    // A 6 s run closes a segment a second: 6 to 8 merged into one file.
    let merged = kv.get("aurax.merged_segments").map(String::as_str);
    assert!(
        matches!(merged, Some("1-6") | Some("1-7") | Some("1-8")),
        "merged segments {merged:?}"
    );
    // Synthetic load: no trace metadata.
    assert!(!kv.contains_key("aurax.trace"));
    assert!(
        kv.get("aurax.target_host")
            .is_some_and(|h| h.starts_with("http://127.0.0.1:"))
    );
    let config: serde_json::Value =
        serde_json::from_str(&kv["aurax.run_config"]).expect("config JSON");
    assert_eq!(config["seed"], 3);
    let targets: serde_json::Value =
        serde_json::from_str(&kv["aurax.targets"]).expect("targets JSON");
    assert_eq!(targets["percentile"], 95.0);
}

#[test]
fn seeded_load_test_user_keeps_the_seed_mix_and_wait_times() {
    // Room for 400 users' mix (the default simulator would queue their code and images, and
    // users who wait on a queue send less): this test is about the mix and the waits.
    let sim = Simulator::start(&[
        "--text-slots",
        "64",
        "--code-slots",
        "64",
        "--image-slots",
        "64",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let o = aurax(&[
        "run",
        "--host",
        &sim.url,
        "--user-class",
        "AuraxLoadTestUser",
        "-u",
        "400",
        "-r",
        "200",
        "-t",
        "20s",
        "--seed",
        "7",
        "--no-thresholds",
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = read_rows(&out);
    let tasks: Vec<_> = rows.iter().filter(|r| r.endpoint != "health").collect();
    assert!(
        tasks.len() > 2000,
        "too few requests for shares: {}",
        tasks.len()
    );
    let share = |names: &[&str]| {
        100.0
            * tasks
                .iter()
                .filter(|r| names.contains(&r.endpoint.as_str()))
                .count() as f64
            / tasks.len() as f64
    };
    for (names, want) in [
        (&["generate_text"][..], 50.0),
        (&["generate_code"][..], 30.0),
        (&["generate_image"][..], 10.0),
        (&["system_status", "test_routing"][..], 10.0),
    ] {
        let got = share(names);
        assert!((got - want).abs() <= 3.0, "{names:?}: {got:.1}% vs {want}%");
    }
    // Each user's gaps: from the end of one request to the send of the next, 1-3 s.
    let mut by_user: BTreeMap<u32, Vec<&crate::common::Row>> = BTreeMap::new();
    for r in &rows {
        by_user.entry(r.user_id).or_default().push(r);
    }
    let mut gaps = 0;
    for user_rows in by_user.values_mut() {
        user_rows.sort_by_key(|r| r.actual_us);
        for pair in user_rows.windows(2) {
            if pair[0].endpoint == "health" {
                continue; // tasks start right after the on-start health check
            }
            let gap_s = (pair[1].actual_us - (pair[0].actual_us + pair[0].latency_us)) as f64 / 1e6;
            assert!(
                (0.995..=3.25).contains(&gap_s),
                "user {} gap {gap_s:.3}s",
                pair[0].user_id
            );
            let planned_s =
                (pair[1].intended_us - (pair[0].actual_us + pair[0].latency_us)) as f64 / 1e6;
            assert!(
                (0.995..=3.01).contains(&planned_s),
                "planned gap {planned_s:.3}s"
            );
            gaps += 1;
        }
    }
    assert!(gaps > 1000);
}

#[test]
fn success_false_is_an_app_error_with_the_server_message() {
    let sim = Simulator::start(&["--error-rate", "0.2", "--time-scale", "0.02"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let o = aurax(&[
        "run",
        "--host",
        &sim.url,
        "--user-class",
        "AuraxPeakHourUser",
        "-u",
        "60",
        "-r",
        "60",
        "-t",
        "10s",
        "--seed",
        "5",
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    let all = text(&o);
    // 20% failures is over the peak profile's 5% error-rate target: the documented exit 99.
    assert_eq!(o.status.code(), Some(99), "{all}");
    assert!(
        all.contains("error rate (peak)") && all.contains("FAIL"),
        "{all}"
    );
    let rows = read_rows(&out);
    let generations: Vec<_> = rows
        .iter()
        .filter(|r| r.endpoint.starts_with("generate_"))
        .collect();
    assert!(generations.len() > 300, "{}", generations.len());
    let failed: Vec<_> = generations.iter().filter(|r| r.outcome != "ok").collect();
    let rate = failed.len() as f64 / generations.len() as f64;
    assert!((0.13..=0.27).contains(&rate), "failure share {rate:.3}");
    for r in &failed {
        assert_eq!(r.outcome, "app_error");
        assert_eq!(r.status, Some(200), "HTTP 200 with success:false");
        let msg = r.error.as_deref().unwrap_or_default();
        assert!(
            msg.contains("unavailable") || msg.contains("out of memory"),
            "the server's own message is kept: {msg}"
        );
    }
    assert!(all.contains("generate_text") && all.contains('%'));
}

#[test]
fn hostile_server_is_recorded_as_outcomes_and_never_hangs() {
    let sim = Simulator::start(&[
        "--time-scale",
        "0.01",
        "--reset-rate",
        "0.1",
        "--garbage-rate",
        "0.1",
        "--huge-body-rate",
        "0.05",
        "--http-error-rate",
        "0.1",
        "--slow-rate",
        "0.1",
        "--slow",
        "5s",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let started = std::time::Instant::now();
    let o = aurax(&[
        "run",
        "--host",
        &sim.url,
        "--user-class",
        "AuraxPeakHourUser",
        "-u",
        "30",
        "-r",
        "30",
        "-t",
        "8s",
        "--timeout",
        "1s",
        "--max-body-bytes",
        "1048576",
        "--seed",
        "9",
        "--no-thresholds",
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        started.elapsed().as_secs() < 25,
        "the run must end: {:?}",
        started.elapsed()
    );
    let rows = read_rows(&out);
    let count = |o: &str| rows.iter().filter(|r| r.outcome == o).count();
    assert!(count("ok") > 0);
    assert!(count("timeout") > 0, "slow responses past --timeout");
    assert!(count("http_error") > 0, "503s");
    assert!(count("other") > 0, "resets and huge bodies");
    assert!(count("app_error") > 0, "non-JSON bodies");
    assert!(
        rows.iter()
            .any(|r| r.error.as_deref().is_some_and(|e| e.contains("byte limit")))
    );
    assert!(
        rows.iter()
            .any(|r| r.error.as_deref() == Some("response body is not JSON"))
    );
    assert_eq!(rows.len() as u64, reported_requests(&text(&o)));
}

#[test]
fn at_time_scale_zero_no_generation_times_out_waiting_for_its_slot() {
    // The benchmarks' setting: every service instant. Two text slots, 600 arrivals a second
    // (its queue never near the 512 limit): requests wait microseconds for the slot, and a
    // model timeout scaled to zero failed them ("Failed to generate response from LLM").
    let sim = Simulator::start(&["--time-scale", "0", "--text-slots", "2"]);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let o = aurax(&[
        "run",
        "--host",
        &sim.url,
        "--user-class",
        "AuraxBurstUser",
        "--rate",
        "600/s",
        "-t",
        "2s",
        "--quiet",
        "--no-thresholds",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = read_rows(&out);
    assert!(rows.len() > 1000, "{} rows", rows.len());
    let failed: Vec<_> = rows.iter().filter(|r| r.outcome != "ok").collect();
    assert_eq!(failed.len(), 0, "{:?}", failed.first());
}

#[test]
fn a_run_that_fails_says_why_and_a_wrong_path_is_warned_of_before_the_load() {
    // AURAX serves at its root: under /api every request fails, and the run says why.
    let sim = Simulator::start(&["--time-scale", "0.02"]);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let host = format!("{}/api", sim.url);
    let o = aurax(&[
        "run",
        "--host",
        &host,
        "--user-class",
        "AuraxBurstUser",
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "2s",
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    let said = text(&o);
    assert_eq!(o.status.code(), Some(99), "{said}");
    assert!(
        said.contains("/api/health answered HTTP 404: is the URL's path right"),
        "{said}"
    );
    let rows = read_rows(&out);
    let failed = rows.iter().filter(|r| r.outcome != "ok").count();
    assert_eq!(failed, rows.len(), "every request fails under /api");
    assert!(
        said.contains(&format!(
            "failures, most common first ({failed} failed, 0 dropped):"
        )),
        "{said}"
    );
    // Under /api, /generate is Ollama's own /api/generate, which wants a model: every request
    // fails alike, said with its message as it came (numbers and all).
    let top = said
        .lines()
        .skip_while(|l| !l.starts_with("failures, most common first"))
        .nth(1)
        .unwrap_or_default();
    assert_eq!(
        top,
        format!(
            "  {failed} x http_error HTTP 400 on burst_request: status 400, expected 200: model is required"
        ),
        "{said}"
    );
}

#[test]
fn the_live_line_of_an_open_model_shows_its_rate_not_users() {
    let sim = Simulator::start(&["--time-scale", "0.01"]);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let o = aurax(&[
        "run",
        "--host",
        &sim.url,
        "--user-class",
        "AuraxBurstUser",
        "--rate",
        "20/s",
        "-t",
        "6s",
        "--no-thresholds",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    let said = text(&o);
    assert_eq!(o.status.code(), Some(0), "{said}");
    // Not a terminal: a plain line every 5 s.
    let live: Vec<&str> = said.lines().filter(|l| l.starts_with("[ ")).collect();
    assert_eq!(live.len(), 1, "{said}");
    assert!(
        live[0].starts_with("[     5s/6s] rate    20/s | in flight"),
        "{}",
        live[0]
    );
}
