//! Monitoring end to end: the live exporter scraped mid-run and parsed with a Prometheus
//! text parser, its counts against the Parquet rows; the Grafana dashboard's queries against
//! what is really exported; resource sampling of the simulator and the report's constraint.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Simulator, allowed_cpus, aurax, bin, http_get, pin, read_rows, text};
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
    std::thread::sleep(Duration::from_secs(3));
    let mid = parse(&http_get(&url));
    assert_eq!(gauge(&mid, "aurax_load_running"), Some(1.0));
    let mid_requests: f64 = mid
        .samples
        .iter()
        .filter(|s| s.metric == "aurax_load_requests_total")
        .map(scalar)
        .sum();
    assert!(
        mid_requests >= 25.0,
        "{mid_requests} requests after 3 s at 25/s"
    );
    assert!(gauge(&mid, "process_resident_memory_bytes").is_some_and(|b| b > 1e6));
    // The watched simulator, by pid: it has used CPU and holds memory; its disk I/O is
    // there when /proc/PID/io is readable (it is for our own child).
    let watched = |scrape: &Scrape, name: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && s.labels.get("pid") == Some(pid.as_str()))
            .map(scalar)
    };
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
        let n = rows.iter().filter(|r| r.endpoint == endpoint).count() as f64;
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
fn scraping_the_simulator_names_its_cpu_as_the_constraint_when_it_saturates() {
    // 4 text slots of 50 ms: the modelled CPU rises to 4 cores and stays there from 80 req/s.
    let sim = Simulator::start(&["--text-slots", "4", "--time-scale", "0.1", "--queue", "16"]);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let rep = dir.path().join("rep");
    let metrics = format!("{}/metrics", sim.url);
    let pid = sim.pid().to_string();
    let run = aurax(&[
        "run",
        "--host",
        &sim.url,
        "--scenario",
        "exhaustion",
        "--duration-scale",
        "0.1",
        "--scrape",
        &metrics,
        "--watch-pid",
        &pid,
        "--scrape",
        "http://127.0.0.1:9/metrics",
        "--sample-interval",
        "1s",
        "--no-thresholds",
        "--report",
        "--report-dir",
        rep.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        "-q",
    ]);
    let log = text(&run);
    assert_eq!(run.status.code(), Some(0), "{log}");
    // An unreachable scrape is a warning, once, never a failed run.
    assert_eq!(
        log.matches("warning: --scrape http://127.0.0.1:9/metrics")
            .count(),
        1,
        "{log}"
    );
    assert!(out.join("resources.parquet").is_file());

    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rep.join("summary.json")).expect("summary"))
            .expect("json");
    let r = &s["resources"];
    assert_eq!(r["constraint"]["resource"], "target CPU", "{r}");
    let at = r["constraint"]["load"].as_f64().expect("load");
    assert!(
        (50.0..=100.0).contains(&at),
        "saturated at {at} req/s offered"
    );
    assert!(
        r["trigger"]
            .as_str()
            .is_some_and(|t| t.contains("target CPU") && t.contains("reached at ~")),
        "{r}"
    );
    let series = r["series"].as_array().expect("series");
    let cpu = series
        .iter()
        .find(|x| x["name"] == "target CPU")
        .expect("target CPU");
    let levels: Vec<f64> = cpu["per_level"]
        .as_array()
        .expect("levels")
        .iter()
        .filter_map(|v| v.as_f64())
        .collect();
    assert!(levels.len() >= 5);
    assert!(
        levels[levels.len() - 1] > 3.0 * levels[0],
        "CPU rises with load: {levels:?}"
    );
    assert!(series.iter().any(|x| x["name"] == "generator CPU"));
    assert!(
        series
            .iter()
            .any(|x| x["source"] == format!("pid:{pid}").as_str()),
        "watched pid sampled"
    );
    let md = std::fs::read_to_string(rep.join("report.md")).expect("report");
    assert!(
        md.contains("**Constraint: target CPU saturates first"),
        "{md}"
    );
    assert!(
        md.contains("The load generator's own CPU peaked at"),
        "{md}"
    );
    assert!(md.contains("![Resources against load"), "{md}");
    let png = std::fs::read(rep.join("resources.png")).expect("chart");
    assert!(png.len() > 20_000, "a drawn chart, {} bytes", png.len());
    // PNG signature, then the IHDR chunk: width and height, big-endian.
    assert_eq!(&png[1..4], b"PNG");
    let dim = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    assert_eq!((dim(16), dim(20)), (1400, 800));
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
    assert_eq!(run.status.code(), Some(3), "{}", text(&run));
    assert!(
        text(&run).contains(&format!("--metrics-listen {addr}: cannot listen")),
        "{}",
        text(&run)
    );
    assert!(
        !out.exists(),
        "no run directory for a run that never started"
    );
}

#[test]
fn a_load_generator_pinned_to_one_core_says_it_was_the_bottleneck() {
    // The generator on one core and the simulator on the others: 4,000 req/s is more than
    // one core of the client can send, and the report must blame the client, not AURAX.
    let cpus = allowed_cpus();
    assert!(
        cpus.len() >= 2,
        "needs two CPUs (one for the generator, one for the simulator): {cpus:?}"
    );
    let sim = Simulator::start_on(&cpus[1..], &["--time-scale", "0.001"]);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let rep = dir.path().join("rep");
    let mut cmd = bin();
    pin(&mut cmd, &cpus[..1]);
    let run = cmd
        .args([
            "run",
            "--host",
            &sim.url,
            "--rate",
            "4000/s",
            "-t",
            "6s",
            "--connections",
            "64",
            "--sample-interval",
            "1s",
            "--no-thresholds",
            "--report",
            "--report-dir",
            rep.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
            "-q",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    let log = text(&run);
    assert_eq!(run.status.code(), Some(0), "{log}");
    assert!(
        log.contains("warning: The load generator's CPU reached") && log.contains("of its 1 cores"),
        "{log}"
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rep.join("summary.json")).expect("summary"))
            .expect("json");
    let generator = s["resources"]["series"]
        .as_array()
        .expect("series")
        .iter()
        .find(|x| x["name"] == "generator CPU")
        .expect("generator CPU")
        .clone();
    assert_eq!(generator["ceiling"], 1.0, "{generator}");
    assert!(s["resources"]["generator_saturated"].is_string(), "{s}");
    let md = std::fs::read_to_string(rep.join("report.md")).expect("report");
    assert!(
        md.contains("**The load generator was the bottleneck.**"),
        "{md}"
    );
}
