//! Monitoring end to end: the live exporter scraped mid-run and parsed with a Prometheus
//! text parser, its counts against the Parquet rows; the Grafana dashboard's queries against
//! what is really exported. Resource analysis is in `resources_e2e.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{Simulator, aurax, bin, http_get, read_rows, text};
use prometheus_parse::{Scrape, Value};

fn parse(body: &str) -> Scrape {
    Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("valid exposition")
}

fn scalar(s: &prometheus_parse::Sample) -> f64 {
    match s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        _ => f64::NAN,
    }
}

fn gauge(scrape: &Scrape, name: &str) -> Option<f64> {
    scrape.samples.iter().find(|s| s.metric == name).map(scalar)
}

/// Metric families a scrape holds (histogram parts by their family name too).
fn families(scrape: &Scrape) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in &scrape.samples {
        out.insert(s.metric.clone());
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = s.metric.strip_suffix(suffix) {
                out.insert(base.to_string());
            }
        }
        if matches!(s.value, Value::Histogram(_)) {
            out.insert(format!("{}_bucket", s.metric));
        }
    }
    out
}

#[test]
fn live_exporter_counts_match_the_parquet_rows_and_the_dashboard_queries_exist() {
    let sim = Simulator::start(&[]);
    let pid = sim.pid().to_string();
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let mut child = bin()
        .args([
            "run",
            "--host",
            &sim.url,
            "--rate",
            "25/s",
            "-t",
            "6s",
            "--watch-pid",
            &pid,
            "--metrics-listen",
            "127.0.0.1:0",
            "--metrics-hold",
            "4s",
            "--no-thresholds",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run starts");
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stdout = child.stdout.take().expect("stdout");
    let stdout_text =
        std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the exporter's URL");
        if let Some(u) = line.strip_prefix("live metrics (Prometheus) at ") {
            break u.trim().to_string();
        }
    };
    // Scraped until the run has counted 25 requests (a second at 25/s), with a deadline: the
    // event, not a guess at how long a loaded machine takes to get there.
    let requests = |scrape: &Scrape| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == "aurax_load_requests_total")
            .map(scalar)
            .sum()
    };
    // The watched simulator, by pid: it has used CPU and holds memory; its disk I/O is
    // there when /proc/PID/io is readable (it is for our own child).
    let watched = |scrape: &Scrape, name: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && s.labels.get("pid") == Some(pid.as_str()))
            .map(scalar)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mid = loop {
        let scrape = parse(&http_get(&url));
        let sampled = watched(&scrape, "aurax_load_watched_process_cpu_seconds_total")
            .is_some_and(|v| v > 0.0);
        if requests(&scrape) >= 25.0 && sampled {
            break scrape;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} requests counted after 60 s at 25/s, the watched process sampled: {sampled}",
            requests(&scrape)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(gauge(&mid, "aurax_load_running"), Some(1.0));
    assert!(gauge(&mid, "process_resident_memory_bytes").is_some_and(|b| b > 1e6));
    assert!(watched(&mid, "aurax_load_watched_process_cpu_seconds_total").is_some_and(|v| v > 0.0));
    assert!(
        watched(&mid, "aurax_load_watched_process_resident_memory_bytes").is_some_and(|v| v > 1e6)
    );
    if std::fs::read_to_string("/proc/self/io").is_ok() {
        for io in [
            "aurax_load_watched_process_read_bytes_total",
            "aurax_load_watched_process_written_bytes_total",
        ] {
            assert!(watched(&mid, io).is_some_and(|v| v >= 0.0), "{io}");
        }
    }

    // After the load: held open with the final numbers.
    let deadline = Instant::now() + Duration::from_secs(30);
    let last = loop {
        let s = parse(&http_get(&url));
        if gauge(&s, "aurax_load_running") == Some(0.0) {
            break s;
        }
        assert!(Instant::now() < deadline, "the run never finished");
        std::thread::sleep(Duration::from_millis(200));
    };
    let status = child.wait().expect("run exits");
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        stdout_text.join().unwrap_or_default()
    );
    let rows = read_rows(&out);
    let mut expected: BTreeMap<(String, String), f64> = BTreeMap::new();
    for r in &rows {
        *expected
            .entry((r.endpoint.clone(), r.outcome.clone()))
            .or_default() += 1.0;
    }
    let mut exported: BTreeMap<(String, String), f64> = BTreeMap::new();
    for s in last
        .samples
        .iter()
        .filter(|s| s.metric == "aurax_load_requests_total")
    {
        let key = (
            s.labels.get("endpoint").expect("endpoint").to_string(),
            s.labels.get("outcome").expect("outcome").to_string(),
        );
        *exported.entry(key).or_default() += scalar(s);
    }
    assert_eq!(exported, expected, "exporter counts = Parquet rows");
    for s in last
        .samples
        .iter()
        .filter(|s| s.metric == "aurax_load_request_duration_seconds")
    {
        let Value::Histogram(buckets) = &s.value else {
            panic!("a histogram")
        };
        let endpoint = s.labels.get("endpoint").expect("endpoint");
        // Successful responses only, as every latency figure.
        let n = rows
            .iter()
            .filter(|r| r.endpoint == endpoint && r.outcome == "ok")
            .count() as f64;
        let inf = buckets
            .iter()
            .find(|b| b.less_than.is_infinite())
            .expect("+Inf");
        assert_eq!(inf.count, n, "{endpoint}");
        assert!(
            buckets.windows(2).all(|w| w[0].count <= w[1].count),
            "cumulative"
        );
    }

    // Every query of the dashboard names a metric that the exporter or AURAX's /metrics has.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/dashboards/aurax-load-test.json"
        ))
        .expect("dashboard"),
    )
    .expect("JSON");
    for field in [
        "title",
        "uid",
        "schemaVersion",
        "panels",
        "templating",
        "time",
    ] {
        assert!(dashboard.get(field).is_some(), "dashboard lacks {field}");
    }
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 30));
    let mut known = families(&last);
    known.extend(families(&parse(&http_get(&format!("{}/metrics", sim.url)))));
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8);
    let mut ids = BTreeSet::new();
    for p in panels {
        assert!(
            ids.insert(p["id"].as_u64().expect("id")),
            "panel ids are unique"
        );
        for k in ["type", "title", "gridPos", "targets", "datasource"] {
            assert!(p.get(k).is_some(), "panel {} lacks {k}", p["title"]);
        }
        for t in p["targets"].as_array().expect("targets") {
            let expr = t["expr"].as_str().expect("expr");
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .filter(|w| w.starts_with("aurax_") || w.starts_with("process_"))
                .collect();
            assert!(!names.is_empty(), "{expr}");
            for n in names {
                assert!(
                    known.contains(n),
                    "panel {:?}: {n} is not exported",
                    p["title"]
                );
            }
        }
    }
    let titles: String = panels
        .iter()
        .map(|p| p["title"].as_str().unwrap_or(""))
        .collect();
    for want in [
        "P50 / P95 / P99",
        "Requests per second",
        "Error rate",
        "Active users",
        "Model usage",
        "CPU",
        "memory",
        "Disk I/O",
    ] {
        assert!(titles.contains(want), "no panel for {want}");
    }
}

#[test]
fn a_busy_metrics_port_fails_before_any_load_or_file() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = busy.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let run = aurax(&[
        "run",
        "-t",
        "2s",
        "--metrics-listen",
        &addr,
        "--out",
        out.to_str().expect("utf8"),
    ]);
    // Exit 6, an address in use: exit 3 is for bad input only a file can tell.
    assert_eq!(run.status.code(), Some(6), "{}", text(&run));
    assert!(
        text(&run).contains(&format!("--metrics-listen {addr}: cannot listen")),
        "{}",
        text(&run)
    );
    assert!(
        !out.exists(),
        "no run directory for a run that never started"
    );
    // The simulator and the recorder on the same busy port: the same code.
    let port = busy.local_addr().expect("addr").port().to_string();
    let serve = aurax(&["serve", "--port", &port]);
    assert_eq!(serve.status.code(), Some(6), "{}", text(&serve));
    let record = aurax(&[
        "record",
        "--listen",
        &addr,
        "--upstream",
        "http://127.0.0.1:1",
        "--out",
        dir.path().join("rec.jsonl").to_str().expect("utf8"),
    ]);
    assert_eq!(record.status.code(), Some(6), "{}", text(&record));
    // An upper-case scheme is a URL like any other (RFC 3986): the run is refused for the
    // busy port, not for the URL.
    let run = aurax(&[
        "run",
        "--host",
        "HTTP://127.0.0.1:1",
        "-t",
        "1s",
        "--metrics-listen",
        &addr,
    ]);
    assert_eq!(run.status.code(), Some(6), "{}", text(&run));
}

#[test]
fn scraping_another_server_while_the_load_goes_to_the_simulator_is_warned_of() {
    // No --host: the load goes to the built-in simulator; the server scraped is another.
    let other = Simulator::start(&["--time-scale", "0.01"]);
    let dir = tempfile::tempdir().expect("tmp");
    let scrape = format!("{}/metrics", other.url);
    let o = aurax(&[
        "run",
        "--scrape",
        &scrape,
        "-t",
        "1s",
        "--quiet",
        "--no-thresholds",
        "--out",
        dir.path().join("run").to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "warning: no --host: the load goes to the built-in simulator, not to {scrape} that --scrape samples"
        )),
        "{}",
        text(&o)
    );
}
