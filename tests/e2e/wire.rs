//! What goes on the wire: every request sent once (redirects followed hop by hop, a closed
//! connection never costing a POST twice), the run's headers once each and never to another
//! origin, connections kept per thread; checked with servers that count what they read.

use crate::common::{aurax, read_rows, text};

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
