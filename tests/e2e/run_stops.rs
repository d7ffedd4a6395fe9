//! Stopping a run early (Ctrl-C, SIGTERM, SIGKILL) loses nothing that was measured, and bad
//! input fails fast with one line and a distinct exit code.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{aurax, bin, manifest, read_rows, reported_requests, text};

fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn wait_with_deadline(
    child: &mut std::process::Child,
    limit: Duration,
) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            start.elapsed() < limit,
            "the run did not stop within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn spawn_long_run(out: &std::path::Path) -> std::process::Child {
    bin()
        .args([
            "run", "-u", "20", "-r", "20", "-t", "120s", "--seed", "1", "--quiet", "--out",
        ])
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run starts")
}

/// Waits until the run has closed `n` segments (one a second), with a deadline: the event,
/// not a guess at how long a loaded machine takes.
fn wait_for_segments(out: &std::path::Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !out.exists() || crate::common::segment_files(out).len() < n {
        assert!(
            Instant::now() < deadline,
            "fewer than {n} segments after 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_mid_run_leaves_readable_parquet_with_every_finished_request() {
    for sig in ["-INT", "-TERM"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("run");
        let mut child = spawn_long_run(&out);
        wait_for_segments(&out, 5);
        signal(child.id(), sig);
        let status = wait_with_deadline(&mut child, Duration::from_secs(40));
        let output = child.wait_with_output().expect("output");
        let all = text(&output);
        assert_eq!(status.code(), Some(130), "{sig}: {all}");
        let rows = read_rows(&out);
        assert!(rows.len() > 20, "{sig}: {} rows", rows.len());
        assert_eq!(rows.len() as u64, reported_requests(&all), "{sig}");
        assert_eq!(manifest(&out)["status"], "interrupted");
        assert!(
            !std::fs::read_dir(&out)
                .expect("dir")
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "partial"))
        );
    }
}

#[test]
fn sigkill_loses_at_most_the_open_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let mut child = spawn_long_run(&out);
    wait_for_segments(&out, 6);
    let killed_us = chrono::Utc::now().timestamp_micros();
    signal(child.id(), "-KILL");
    let _ = wait_with_deadline(&mut child, Duration::from_secs(10));
    let rows = read_rows(&out);
    assert!(rows.len() > 20, "{} rows", rows.len());
    assert_eq!(manifest(&out)["status"], "running");
    // Segments close every second: what was lost is the open one, about the last second
    // (with room for a busy 2-core machine to be late writing it).
    let last_done = rows
        .iter()
        .map(|r| r.actual_us + r.latency_us)
        .max()
        .expect("rows");
    let lost_ms = (killed_us - last_done) / 1000;
    assert!(lost_ms < 2_500, "{lost_ms} ms before the kill not on disk");
}

#[test]
fn unreachable_host_fails_in_seconds_before_any_load() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let host = format!("http://127.0.0.1:{port}");
    let o = aurax(&[
        "run",
        "--host",
        &host,
        "-t",
        "60s",
        "--out",
        dir.path().join("r").to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(started.elapsed() < Duration::from_secs(8));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot reach") && err.contains("refused"),
        "{err}"
    );
}

#[test]
fn bad_names_and_files_get_one_line_and_exit_3() {
    let o = aurax(&["run", "--user-class", "AuraxLazyUser", "-t", "1s"]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("unknown user class `AuraxLazyUser`")
            && err.contains("AuraxBurstUser, AuraxLoadTestUser, AuraxPeakHourUser"),
        "{err}"
    );

    let o = aurax(&["run", "--profile", "extreme"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("(known: burst, heavy, light, medium, peak)")
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[endpoints.a]\nmethod = \"GET\"\npath = \"/a\"\n\n[user_classes.U]\nwait_s = [1, 2]\ntasks = { a = \"x\" }\n").expect("write");
    let o = aurax(&[
        "run",
        "--scenario-file",
        file.to_str().expect("utf8"),
        "-t",
        "1s",
    ]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("{}:7:", file.display())), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // A bad flag value is clap's usage error, naming the flag.
    let o = aurax(&["run", "-t", "5x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("'--run-time <RUN_TIME>'"));
}

#[test]
fn unwritable_out_fails_before_the_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"x").expect("write");
    let started = Instant::now();
    let o = aurax(&[
        "run",
        "-t",
        "30s",
        "--out",
        blocker.join("run").to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        !text(&o).contains("started the built-in"),
        "no load was started"
    );
}

#[test]
fn scenario_show_prints_a_file_that_runs() {
    let o = aurax(&["scenario", "show"]);
    assert_eq!(o.status.code(), Some(0));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mine.toml");
    std::fs::write(&file, &o.stdout).expect("write");
    let o = aurax(&["scenario", "check", file.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("AuraxLoadTestUser"));
    let out = dir.path().join("run");
    let o = aurax(&[
        "run",
        "--scenario-file",
        file.to_str().expect("utf8"),
        "--user-class",
        "AuraxBurstUser",
        "-u",
        "5",
        "-r",
        "5",
        "-t",
        "3s",
        "--quiet",
        "--no-thresholds",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(read_rows(&out).iter().all(|r| r.endpoint == "burst_request"
        && r.model_used.as_deref() == Some("mistral:7b-instruct-q4_K_M")));
}
