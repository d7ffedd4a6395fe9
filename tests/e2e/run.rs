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

/// The heads a [`capture_server`] read, in order.
type Heads = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A server on 127.0.0.1 that keeps every request head it reads and answers each with
/// `answer(head)` (a whole HTTP/1.1 response). Returns its URL and the heads.
fn capture_server(answer: fn(&str) -> String) -> (String, Heads) {
    let (host, heads, _) = counting_capture_server(answer);
    (host, heads)
}

/// [`capture_server`], also counting the connections it accepted.
fn counting_capture_server(
    answer: fn(&str) -> String,
) -> (
    String,
    Heads,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    serving_capture_server(answer, false)
}

/// [`counting_capture_server`]; with `close_after_each`, every connection is closed after its
/// first answer without saying so (as a keep-alive timeout does to an idle connection).
fn serving_capture_server(
    answer: fn(&str) -> String,
    close_after_each: bool,
) -> (
    String,
    Heads,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::io::{BufRead, BufReader, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let host = format!("http://{}", listener.local_addr().expect("addr"));
    let heads: Heads = Default::default();
    let connections: std::sync::Arc<std::sync::atomic::AtomicUsize> = Default::default();
    let (seen, accepted) = (heads.clone(), connections.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut stream = stream;
                loop {
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => head.push_str(&line),
                        }
                    }
                    // The body, by its length: the next head starts after it.
                    let length = head
                        .lines()
                        .filter_map(|l| l.split_once(':'))
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
                        return;
                    }
                    let response = answer(&head);
                    seen.lock().expect("lock").push(head);
                    if stream.write_all(response.as_bytes()).is_err() || close_after_each {
                        return;
                    }
                }
            });
        }
    });
    (host, heads, connections)
}

/// The heads of the `one_get_scenario` requests (`GET /ping`), in order.
fn pings(heads: &Heads) -> Vec<String> {
    heads
        .lock()
        .expect("lock")
        .iter()
        .filter(|h| h.starts_with("GET /ping "))
        .cloned()
        .collect()
}

fn ok_json(_: &str) -> String {
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}".into()
}

/// A scenario of one GET endpoint at `path`, 2 users every 0.1 s for 2 s (profile `p`).
fn one_get_scenario(dir: &std::path::Path, path: &str) -> std::path::PathBuf {
    one_scenario(dir, "GET", path)
}

/// [`one_get_scenario`] with another method (a POST carries a JSON body).
fn one_scenario(dir: &std::path::Path, method: &str, path: &str) -> std::path::PathBuf {
    let scenario = dir.join("one.toml");
    let body = if method == "POST" {
        "body = { prompt = \"Hello\" }"
    } else {
        ""
    };
    std::fs::write(
        &scenario,
        format!(
            r#"name = "one"
[defaults]
headers = {{ Accept = "text/plain", X-Endpoint-Only = "kept" }}
[endpoints.ping]
method = "{method}"
path = "{path}"
{body}
check = {{ status = [200] }}
[user_classes.Pinger]
wait_s = [0.1, 0.1]
tasks = {{ ping = 1 }}
[profiles.p]
users = 2
spawn_rate = 10
run_time = "2s"
user_classes = ["Pinger"]
"#
        ),
    )
    .expect("write scenario");
    scenario
}

/// `run` of `one_get_scenario`'s profile against `host`, quiet, with `extra` flags.
fn run_one(
    host: &str,
    scenario: &std::path::Path,
    out: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let (scenario, out) = (
        scenario.to_str().expect("utf8"),
        out.to_str().expect("utf8"),
    );
    let mut args = vec![
        "run",
        "--host",
        host,
        "--scenario-file",
        scenario,
        "--profile",
        "p",
        "--quiet",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    aurax(&args)
}

/// The load runs on `--threads` lanes, each user on one for its whole life, and a lane's
/// keep-alive connections stay with it: 6 users (waiting 0.1 s) on 3 lanes use at least one
/// connection a lane and at most one a user, plus the preflight's, for a hundred requests,
/// every one recorded. A pool shared across lanes would reuse the preflight's connection and
/// need fewer; a lane that lost its connections between requests would open one a request.
#[test]
fn connections_stay_with_their_thread_and_are_reused() {
    let (host, heads, connections) = counting_capture_server(ok_json);
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = one_get_scenario(dir.path(), "/ping");
    let out = dir.path().join("run");
    let o = run_one(
        &host,
        &scenario,
        &out,
        &["-u", "6", "-r", "100", "--threads", "3"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let pings = pings(&heads).len();
    assert!(pings >= 60, "{pings} requests");
    assert_eq!(read_rows(&out).len(), pings, "every request recorded");
    let opened = connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (4..=7).contains(&opened),
        "{opened} connections for 6 users on 3 threads and a preflight"
    );
}

/// The run's `--header`s go out on every request, once, and win over an endpoint's own header
/// of the same name (the command line overrides the file).
#[test]
fn run_headers_go_out_once_and_override_the_endpoints() {
    let (host, heads) = capture_server(ok_json);
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = one_get_scenario(dir.path(), "/ping");
    let out = dir.path().join("run");
    let o = run_one(
        &host,
        &scenario,
        &out,
        &[
            "--header",
            "Accept: application/x-override",
            "--header",
            "X-Run: 1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let pings = pings(&heads);
    assert!(pings.len() >= 10, "{} pings", pings.len());
    let host_port = host.trim_start_matches("http://");
    for head in pings {
        let values = |name: &str| -> Vec<String> {
            head.lines()
                .filter_map(|l| l.split_once(':'))
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
                .collect()
        };
        assert_eq!(values("accept"), vec!["application/x-override"], "{head}");
        assert_eq!(values("x-run"), vec!["1"], "{head}");
        assert_eq!(values("x-endpoint-only"), vec!["kept"], "{head}");
        assert_eq!(values("host"), vec![host_port.to_string()], "{head}");
        assert_eq!(values("user-agent").len(), 1, "{head}");
    }
}

/// A redirect is followed (as Locust, k6 and oha do by default), and the request's latency
/// counts both hops: `/old` answers 307 to `/ping`. Each hop goes out once: the target
/// counts as many `/old` and `/ping` requests as rows were recorded.
#[test]
fn a_redirect_is_followed_and_both_hops_are_timed() {
    fn answer(head: &str) -> String {
        if head.starts_with("GET /old ") {
            std::thread::sleep(std::time::Duration::from_millis(30));
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: /ping\r\ncontent-length: 0\r\n\r\n".into()
        } else {
            ok_json(head)
        }
    }
    let (host, heads) = capture_server(answer);
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = one_get_scenario(dir.path(), "/old");
    let out = dir.path().join("run");
    let o = run_one(&host, &scenario, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = read_rows(&out);
    assert!(rows.len() >= 10, "{} rows", rows.len());
    assert!(
        rows.iter()
            .all(|r| r.outcome == "ok" && r.status == Some(200)),
        "{rows:?}"
    );
    // Both hops: the redirect's 30 ms is in every latency.
    assert!(rows.iter().all(|r| r.latency_us >= 30_000), "{rows:?}");
    assert!(rows.iter().all(|r| r.sends == 1), "every row went once");
    let heads = heads.lock().expect("lock").clone();
    let count = |start: &str| heads.iter().filter(|h| h.starts_with(start)).count();
    // The preflight checks reachability with `GET /health`, never an endpoint.
    assert_eq!(
        (count("GET /old "), count("GET /ping ")),
        (rows.len(), rows.len()),
        "each hop once per request"
    );
}

/// Redirects as browsers, reqwest and Go follow them, each hop sent once: 307 keeps a POST
/// and its body, 303 turns it into a GET, 301 on a GET stays a GET.
#[test]
fn each_redirect_hop_goes_out_exactly_once_with_the_method_its_status_says() {
    fn answer(head: &str) -> String {
        let redirect = |status: &str, to: &str| {
            format!("HTTP/1.1 {status}\r\nlocation: {to}\r\ncontent-length: 5\r\n\r\nmoved")
        };
        let first = head.lines().next().unwrap_or_default();
        match first.split(' ').take(2).collect::<Vec<_>>()[..] {
            ["POST", "/keep"] => redirect("307 Temporary Redirect", "/kept"),
            ["POST", "/see"] => redirect("303 See Other", "/seen"),
            ["GET", "/moved"] => redirect("301 Moved Permanently", "/here"),
            _ => ok_json(head),
        }
    }
    for (method, path, next) in [
        ("POST", "/keep", "POST /kept "),
        ("POST", "/see", "GET /seen "),
        ("GET", "/moved", "GET /here "),
    ] {
        let (host, heads) = capture_server(answer);
        let dir = tempfile::tempdir().expect("tempdir");
        let scenario = one_scenario(dir.path(), method, path);
        let out = dir.path().join("run");
        let o = run_one(&host, &scenario, &out, &[]);
        assert_eq!(o.status.code(), Some(0), "{path}: {}", text(&o));
        let rows = read_rows(&out);
        assert!(rows.len() >= 10, "{path}: {} rows", rows.len());
        assert!(rows.iter().all(|r| r.outcome == "ok"), "{path}: {rows:?}");
        let heads = heads.lock().expect("lock").clone();
        let first = format!("{method} {path} ");
        let count = |start: &str| heads.iter().filter(|h| h.starts_with(start)).count();
        assert_eq!(
            (count(&first), count(next)),
            (rows.len(), rows.len()),
            "{path}: the target saw {heads:#?}"
        );
        // A POST kept by 307 carries its body again; one turned into a GET by 303 none.
        let lengths: Vec<&String> = heads.iter().filter(|h| h.starts_with(next)).collect();
        let has_body = |h: &&String| h.to_ascii_lowercase().contains("content-length: ");
        match next {
            "POST /kept " => assert!(lengths.iter().all(has_body), "{lengths:?}"),
            _ => assert!(!lengths.iter().any(has_body), "{lengths:?}"),
        }
    }
}

/// Where the cross-origin redirect test's first server sends its requests.
static ELSEWHERE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A redirect to another origin: the run's credentials stay with the origin they were
/// given for (as reqwest does on the hops it follows), its other headers go on.
#[test]
fn credentials_never_follow_a_redirect_to_another_origin() {
    fn answer(head: &str) -> String {
        if head.starts_with("GET /away ") {
            let to = ELSEWHERE.get().map_or("", String::as_str);
            format!("HTTP/1.1 302 Found\r\nlocation: {to}/there\r\ncontent-length: 0\r\n\r\n")
        } else {
            ok_json(head)
        }
    }
    let (elsewhere, away_heads) = capture_server(ok_json);
    // The other origin: another port of 127.0.0.1 (an origin is scheme, host and port).
    ELSEWHERE.set(elsewhere).expect("set once");
    let (host, heads) = capture_server(answer);
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = one_get_scenario(dir.path(), "/away");
    let out = dir.path().join("run");
    let o = run_one(
        &host,
        &scenario,
        &out,
        &[
            "--header",
            "Authorization: Bearer T0KEN",
            "--header",
            "X-Run: 1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = read_rows(&out);
    assert!(
        rows.len() >= 10 && rows.iter().all(|r| r.outcome == "ok"),
        "{rows:?}"
    );
    let has = |h: &String, name: &str| {
        h.lines()
            .any(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
    };
    let first: Vec<String> = heads
        .lock()
        .expect("lock")
        .iter()
        .filter(|h| h.starts_with("GET /away "))
        .cloned()
        .collect();
    let there: Vec<String> = away_heads.lock().expect("lock").clone();
    assert_eq!((first.len(), there.len()), (rows.len(), rows.len()));
    assert!(first.iter().all(|h| has(h, "authorization")), "{first:?}");
    assert!(
        there
            .iter()
            .all(|h| !has(h, "authorization") && has(h, "x-run")),
        "the token went to another origin: {there:?}"
    );
}

/// A server that closes every connection after its answer, without a `connection: close`:
/// the client notices the close before it writes again, so each POST and each GET reaches the
/// target exactly once, on a connection of its own, and every row says it went once.
#[test]
fn a_connection_closed_after_each_answer_costs_no_request_twice() {
    for method in ["POST", "GET"] {
        let (host, heads, connections) = serving_capture_server(ok_json, true);
        let dir = tempfile::tempdir().expect("tempdir");
        let scenario = one_scenario(dir.path(), method, "/ping");
        let out = dir.path().join("run");
        let o = run_one(&host, &scenario, &out, &[]);
        assert_eq!(o.status.code(), Some(0), "{method}: {}", text(&o));
        let rows = read_rows(&out);
        assert!(rows.len() >= 10, "{method}: {} rows", rows.len());
        assert!(
            rows.iter().all(|r| r.outcome == "ok" && r.sends == 1),
            "{method}: {rows:?}"
        );
        let seen = heads
            .lock()
            .expect("lock")
            .iter()
            .filter(|h| h.starts_with(&format!("{method} /ping ")))
            .count();
        assert_eq!(seen, rows.len(), "{method}: each request once");
        // One connection a request, and the preflight's.
        let opened = connections.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(opened, rows.len() + 1, "{method}");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).expect("run.json"))
                .expect("json");
        assert_eq!(manifest["resent"], 0, "{method}");
    }
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
