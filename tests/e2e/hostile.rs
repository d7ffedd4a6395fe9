//! Hostile targets on 127.0.0.1 (stall, slowloris, reset, huge body, garbage JSON, hostile
//! text, a 64 MiB /metrics): every request ends as a row with its outcome, the run fails
//! its targets rather than passing, memory stays bounded, and what a server says is shown,
//! never run.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{aurax, bin, manifest, read_request, read_rows, summary, text};

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Never answers.
    Stall,
    /// Answers the headers, then one byte a second of a 1 MB body.
    Slowloris,
    /// Closes the connection without a word.
    Reset,
    /// Announces and streams 2 GB.
    HugeBody,
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 success:false with an error made to break terminals and reports.
    HostileText,
}

/// What the hostile text server says; the tests look for each part in every output.
const HOSTILE_ERROR: &str =
    "boom\n| x | <script>alert(1)</script> \u{1b}[31mred\u{7} [link](http://evil)";

/// Serves `mode` to every request but `/health` (answered, so the run starts); `/metrics`
/// is 64 MiB of comments.
fn hostile(mode: Mode) -> String {
    counting_hostile(mode).0
}

/// [`hostile`], also counting the requests it received (`/health` and `/metrics` aside).
fn counting_hostile(mode: Mode) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let received: std::sync::Arc<std::sync::atomic::AtomicUsize> = Default::default();
    let counter = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || serve(stream, mode, &counter));
        }
    });
    (url, received)
}

fn serve(mut stream: TcpStream, mode: Mode, received: &std::sync::atomic::AtomicUsize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    loop {
        let Some((path, _)) = read_request(&mut stream) else {
            return;
        };
        let ok = |s: &mut TcpStream, body: &str| {
            s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
        };
        if path == "/health" {
            if ok(&mut stream, r#"{"status":"healthy","version":"0.1.0"}"#).is_err() {
                return;
            }
            continue;
        }
        if path == "/metrics" {
            let chunk = "# a comment line of a huge exposition\n".repeat(1024);
            let total = 64 << 20;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {total}\r\n\r\n"
            );
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            let mut sent = 0;
            while sent < total {
                let n = chunk.len().min(total - sent);
                if stream.write_all(&chunk.as_bytes()[..n]).is_err() {
                    return;
                }
                sent += n;
            }
            continue;
        }
        received.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match mode {
            Mode::Stall => {
                std::thread::sleep(Duration::from_secs(60));
                return;
            }
            Mode::Slowloris => {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n{");
                for _ in 0..60 {
                    std::thread::sleep(Duration::from_secs(1));
                    if stream.write_all(b" ").is_err() {
                        return;
                    }
                }
                return;
            }
            Mode::Reset => return,
            Mode::HugeBody => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2000000000\r\n\r\n{\"x\":\"");
                let chunk = vec![b'x'; 1 << 16];
                for _ in 0..(2_000_000_000 / chunk.len()) {
                    if stream.write_all(&chunk).is_err() {
                        return;
                    }
                }
                return;
            }
            Mode::Garbage => {
                if ok(&mut stream, r#"{"success": tru"#).is_err() {
                    return;
                }
            }
            Mode::HostileText => {
                let body =
                    serde_json::json!({"success": false, "error": HOSTILE_ERROR}).to_string();
                if ok(&mut stream, &body).is_err() {
                    return;
                }
            }
        }
    }
}

/// `run` against `host` with AuraxBurstUser, 3 users, `extra` flags; (exit code, output).
fn run(host: &str, out: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec![
        "run",
        "--host",
        host,
        "--user-class",
        "AuraxBurstUser",
        "-u",
        "3",
        "-r",
        "3",
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
    ];
    args.extend_from_slice(extra);
    let o = aurax(&args);
    (o.status.code(), text(&o))
}

#[test]
fn requests_cut_off_at_the_end_are_rows_and_the_run_fails() {
    let host = hostile(Mode::Stall);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let (code, log) = run(&host, &out, &["-t", "3s", "--stop-timeout", "1s"]);
    assert_eq!(
        code,
        Some(99),
        "a run whose requests never answered fails:\n{log}"
    );
    let rows = read_rows(&out);
    let cancelled: Vec<_> = rows.iter().filter(|r| r.outcome == "cancelled").collect();
    assert_eq!(cancelled.len(), 3, "one per user, each waiting: {rows:?}");
    for r in &cancelled {
        assert!(
            r.latency_us >= 3_000_000 && r.latency_us < 10_000_000,
            "waited from its send to the end: {r:?}"
        );
        assert!(
            r.error
                .as_deref()
                .is_some_and(|e| e.starts_with("cancelled"))
        );
    }
    let m = manifest(&out);
    assert_eq!(m["cancelled"], 3, "{m}");
    assert_eq!(m["failures"], 3, "{m}");
    assert!(
        log.contains("error rate (burst)") && log.contains("100.00%"),
        "{log}"
    );
}

#[test]
#[cfg(unix)]
fn a_sigterm_records_what_was_still_waiting() {
    let (host, received) = counting_hostile(Mode::Stall);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let child = bin()
        .args([
            "run",
            "--host",
            &host,
            "--user-class",
            "AuraxBurstUser",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "30s",
            "--stop-timeout",
            "1s",
            "--quiet",
            "--out",
            out.to_str().expect("utf8"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    // The event, not a guess at how long it takes: all 4 users' requests are held.
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.load(std::sync::atomic::Ordering::SeqCst) < 4 {
        assert!(Instant::now() < deadline, "the 4 requests never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: a plain kill(2) of our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let o = child.wait_with_output().expect("ends");
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    let rows = read_rows(&out);
    assert_eq!(
        rows.iter().filter(|r| r.outcome == "cancelled").count(),
        4,
        "{rows:?}"
    );
    assert!(!text(&o).contains("PASS"), "{}", text(&o));
}

#[test]
fn slowloris_times_out_reset_is_other_garbage_is_an_app_error() {
    let dir = tempfile::tempdir().expect("tmp");
    for (mode, outcome, message) in [
        (Mode::Slowloris, "timeout", "timed out"),
        (Mode::Reset, "other", ""),
        (Mode::Garbage, "app_error", "response body is not JSON"),
    ] {
        let host = hostile(mode);
        let out = dir.path().join(format!("{mode:?}"));
        let (code, log) = run(&host, &out, &["--timeout", "2s", "-t", "2s"]);
        assert_eq!(code, Some(99), "{mode:?}: {log}");
        let rows = read_rows(&out);
        assert!(!rows.is_empty(), "{mode:?}");
        for r in &rows {
            assert_eq!(r.outcome, outcome, "{mode:?}: {r:?}");
            assert!(
                r.error.as_deref().is_some_and(|e| e.contains(message)),
                "{mode:?}: {r:?}"
            );
        }
        if matches!(mode, Mode::Slowloris) {
            assert!(
                rows.iter()
                    .all(|r| (1_900_000..4_000_000).contains(&r.latency_us))
            );
        }
    }
}

#[test]
fn a_two_gigabyte_body_is_cut_at_the_limit() {
    let host = hostile(Mode::HugeBody);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let started = Instant::now();
    let (code, log) = run(&host, &out, &["--max-body-bytes", "1048576", "-t", "2s"]);
    assert_eq!(code, Some(99), "{log}");
    assert!(started.elapsed() < Duration::from_secs(30), "{log}");
    let rows = read_rows(&out);
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(r.outcome, "other", "{r:?}");
        assert!(
            r.error
                .as_deref()
                .is_some_and(|e| e.contains("over the 1048576 byte limit")),
            "{r:?}"
        );
    }
}

#[test]
fn a_huge_metrics_page_is_skipped_with_a_warning() {
    let host = hostile(Mode::Garbage);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let scrape = format!("{host}/metrics");
    let (_, log) = run(
        &host,
        &out,
        &["--scrape", &scrape, "--sample-interval", "1s", "-t", "2s"],
    );
    assert!(
        log.contains("warning: --scrape") && log.contains("byte limit"),
        "the 64 MiB page is cut at 16 MiB and said so:\n{log}"
    );
}

#[test]
fn hostile_text_is_shown_never_run() {
    let host = hostile(Mode::HostileText);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let rep = dir.path().join("rep");
    let (code, log) = run(
        &host,
        &out,
        &[
            "-t",
            "2s",
            "--report",
            "--report-dir",
            rep.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code, Some(99), "{log}");
    // The row keeps what the server said, as data.
    let rows = read_rows(&out);
    assert_eq!(rows[0].error.as_deref(), Some(HOSTILE_ERROR));
    // Nothing that reaches a terminal or a report carries a control character or raw HTML.
    let md = std::fs::read_to_string(rep.join("report.md")).expect("report");
    let json = std::fs::read_to_string(rep.join("summary.json")).expect("summary");
    let html = std::fs::read_to_string(rep.join("report.html")).expect("report.html");
    for (what, text) in [
        ("output", &log),
        ("report.md", &md),
        ("summary.json", &json),
        ("report.html", &html),
    ] {
        assert!(!text.contains('\u{1b}'), "{what} has ESC");
        assert!(!text.contains('\u{7}'), "{what} has BEL");
    }
    assert!(!md.contains("<script>"), "raw HTML in report.md");
    assert!(!html.contains("<script"), "a script in report.html");
    assert!(
        html.contains("&lt;script&gt;alert("),
        "shown as text in report.html"
    );
    assert!(md.contains("&lt;script&gt;alert("), "{md}");
    // Every table row of the error table is still one line with its eight cells.
    let row = md
        .lines()
        .find(|l| l.starts_with('|') && l.contains("&lt;script&gt;"))
        .expect("the error's row");
    assert_eq!(row.matches(" | ").count(), 7, "{row}");
    assert!(
        summary(&rep)["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("<script>") && !m.contains('\n'))
    );
}
