//! Known answers for capacity: the simulator's capacity follows from first principles (text
//! slots / service time), and the analysis must find it from what the target *served*, in a
//! target that queues past capacity (the real stack) and in one that refuses fast, under an
//! open ramp and a closed ramp past it.

use std::path::Path;

use crate::common::{Simulator, aurax, read_rows, summary, text};
use serde_json::Value;

/// Text slots of the simulators here; text (and burst_request) take 2 s at real-world speed.
const SLOTS: f64 = 4.0;
const TIME_SCALE: f64 = 0.04;
/// 4 slots / (2 s x 0.04) = 50 requests per second.
const CAPACITY: f64 = SLOTS / (2.0 * TIME_SCALE);

fn simulator(extra: &[&str]) -> Simulator {
    let mut args = vec!["--text-slots", "4", "--time-scale", "0.04"];
    args.extend_from_slice(extra);
    Simulator::start(&args)
}

/// `run ... --report` against `sim`; returns (summary.json, run dir, output).
fn run_with_report(sim: &Simulator, dir: &Path, args: &[&str]) -> (Value, String) {
    let (run, rep) = (dir.join("run"), dir.join("rep"));
    let mut all = vec![
        "run",
        "--host",
        &sim.url,
        "--user-class",
        "AuraxBurstUser",
        "--seed",
        "7",
        "--quiet",
        "--no-thresholds",
        "--report",
        "--report-dir",
        rep.to_str().expect("utf8"),
        "--out",
        run.to_str().expect("utf8"),
    ];
    all.extend_from_slice(args);
    let o = aurax(&all);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    (summary(&rep), text(&o))
}

/// Capacity and breaking point within 10% of the known capacity, the trigger below it.
fn assert_capacity(s: &Value, output: &str) {
    let bp = &s["breaking_point"];
    assert_eq!(bp["found"], true, "{bp}\n{output}");
    let served_at_break = bp["throughput_rps"].as_f64().expect("throughput");
    assert!(
        (served_at_break - CAPACITY).abs() / CAPACITY <= 0.10,
        "served {served_at_break} req/s at the breaking point, capacity {CAPACITY}: {bp}"
    );
    let scaling = &s["scaling"];
    let capacity = scaling["capacity_rps"].as_f64().expect("capacity");
    assert!(
        (capacity - CAPACITY).abs() / CAPACITY <= 0.10,
        "reported capacity {capacity} req/s, known {CAPACITY}: {scaling}"
    );
    assert_eq!(scaling["capacity_is_lower_bound"], false, "{scaling}");
    let trigger = scaling["scale_out_at_rps"].as_f64().expect("trigger");
    assert!(trigger < capacity, "{scaling}");
    assert!(
        scaling["scale_out_at_in_flight"]
            .as_f64()
            .is_some_and(|n| n > 0.0),
        "{scaling}"
    );
}

/// For an open model the breaking level is an offered rate: within 10% of capacity too (a
/// level is 5 req/s wide here, so "the first level past capacity" may be 55).
fn assert_breaking_load(s: &Value) {
    let load = s["breaking_point"]["load"].as_f64().expect("load");
    assert!(
        (CAPACITY * 0.9..=CAPACITY * 1.1 + 1e-9).contains(&load),
        "breaking at {load} req/s offered, capacity {CAPACITY}: {}",
        s["breaking_point"]
    );
}

#[test]
fn an_open_ramp_into_a_queueing_target_finds_the_capacity_it_served() {
    // The published backend's /metrics: aurax_inprogress per handler, nothing else.
    let sim = simulator(&["--metrics", "published"]);
    let dir = tempfile::tempdir().expect("tmp");
    let scrape = format!("{}/metrics", sim.url);
    let (s, out) = run_with_report(
        &sim,
        dir.path(),
        &["--rate-stages", "10/s:2s,100/s:40s", "--scrape", &scrape],
    );
    assert_capacity(&s, &out);
    assert_breaking_load(&s);
    // Offered went to 100 req/s; nothing may report more served than the target can serve.
    for l in s["levels"].as_array().expect("levels") {
        let served = l["succeeded_rps"].as_f64().expect("succeeded");
        assert!(
            served <= CAPACITY * 1.1,
            "a level served {served} req/s successfully, above capacity: {l}"
        );
    }
    // The queue: requests in flight grow without bound past capacity, and the resource
    // analysis reads it from aurax_inprogress, the one request metric there is.
    let last = s["levels"]
        .as_array()
        .and_then(|l| l.last())
        .expect("level");
    assert!(
        last["in_flight"].as_f64().expect("in flight") > 50.0,
        "{last}"
    );
    let constraint = &s["resources"]["constraint"];
    assert!(
        constraint["resource"]
            .as_str()
            .is_some_and(|r| r.contains("requests in progress")),
        "{constraint}"
    );
}

#[test]
fn an_open_ramp_into_a_refusing_target_finds_the_same_capacity() {
    let sim = simulator(&["--overload", "refuse", "--queue", "8"]);
    let dir = tempfile::tempdir().expect("tmp");
    let (s, out) = run_with_report(&sim, dir.path(), &["--rate-stages", "10/s:2s,100/s:40s"]);
    assert_capacity(&s, &out);
    assert_breaking_load(&s);
    // Refused at once: the failures are fast and answered HTTP 200 success: false.
    let e = &s["endpoints"][0];
    assert!(e["failures"].as_u64().expect("failures") > 100, "{e}");
    assert!(
        e["failure_latency"]["p95_ms"].as_f64().expect("p95") < 20.0,
        "{e}"
    );
}

#[test]
fn a_closed_ramp_into_a_queueing_target_finds_its_capacity() {
    // AuraxBurstUser waits 0.1-0.5 s: ~2.6 req/s per user, so ~19 users saturate 50 req/s.
    let sim = simulator(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let (s, out) = run_with_report(&sim, dir.path(), &["-u", "45", "-r", "1", "-t", "45s"]);
    assert_capacity(&s, &out);
    let users = s["breaking_point"]["load"].as_f64().expect("users");
    assert!((15.0..=26.0).contains(&users), "{}", s["breaking_point"]);
}

#[test]
fn a_closed_ramp_into_a_refusing_target_finds_its_capacity() {
    let sim = simulator(&["--overload", "refuse", "--queue", "8"]);
    let dir = tempfile::tempdir().expect("tmp");
    let (s, out) = run_with_report(&sim, dir.path(), &["-u", "45", "-r", "1", "-t", "45s"]);
    assert_capacity(&s, &out);
}

#[test]
fn dropped_arrivals_are_in_no_percentile_and_no_served_figure() {
    // 2 slots x 80 ms = 25 req/s offered 40/s, at most 4 in flight: most arrivals dropped.
    let sim = Simulator::start(&["--text-slots", "2", "--time-scale", "0.04"]);
    let dir = tempfile::tempdir().expect("tmp");
    let (s, out) = run_with_report(
        &sim,
        dir.path(),
        &["--rate", "40/s", "-t", "6s", "--max-in-flight", "4"],
    );
    let rows = read_rows(&dir.path().join("run"));
    let dropped = rows.iter().filter(|r| r.outcome == "dropped").count();
    assert!(dropped > 20, "{dropped} dropped\n{out}");
    // A dropped arrival never went out; every other row went once.
    for r in &rows {
        assert_eq!(r.sends, u8::from(r.outcome != "dropped"), "{r:?}");
    }
    let mut ok: Vec<i64> = rows
        .iter()
        .filter(|r| r.outcome == "ok")
        .map(|r| r.latency_us)
        .collect();
    ok.sort_unstable();
    let nearest = |q: f64| ok[((q * ok.len() as f64).ceil() as usize).max(1) - 1] as f64 / 1000.0;
    let e = &s["endpoints"][0];
    // Every latency figure is the successful requests' alone: a dropped arrival's 0 µs is in
    // none of them.
    assert_eq!(e["p50_ms"].as_f64(), Some(nearest(0.50)), "{e}");
    assert_eq!(e["p95_ms"].as_f64(), Some(nearest(0.95)), "{e}");
    assert_eq!(e["min_ms"].as_f64(), Some(ok[0] as f64 / 1000.0), "{e}");
    assert!(e["min_ms"].as_f64().expect("min") >= 60.0, "{e}");
    // Counted apart: sent requests, dropped arrivals, and both in the error rate.
    assert_eq!(e["dropped"].as_u64(), Some(dropped as u64));
    assert_eq!(e["requests"].as_u64(), Some((rows.len() - dropped) as u64));
    assert_eq!(
        s["run"]["requests"].as_u64(),
        Some((rows.len() - dropped) as u64)
    );
    let failed = rows.iter().filter(|r| r.outcome != "ok").count();
    let rate = s["run"]["error_rate"].as_f64().expect("rate");
    assert!(
        (rate - failed as f64 / rows.len() as f64).abs() < 1e-9,
        "{rate}"
    );
    // No level serves more than the two slots can.
    for l in s["levels"].as_array().expect("levels") {
        let served = l["served_rps"].as_f64().expect("served");
        assert!(served <= 25.0 * 1.15, "{l}");
    }
    // The run's own words count the same way: requests sent, arrivals dropped apart, and
    // the table's failures are of the requests sent (never more than them).
    let sent = rows.len() - dropped;
    assert!(
        out.contains(&format!(
            "{sent} requests sent and {dropped} arrivals dropped unsent recorded in"
        )),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("burst_request "))
        .expect("the table's row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    let failed_sent = rows
        .iter()
        .filter(|r| r.outcome != "ok" && r.outcome != "dropped")
        .count();
    assert_eq!(cells[1], sent.to_string(), "{row}");
    assert_eq!(cells[2], failed_sent.to_string(), "{row}");
    assert_eq!(cells[4], dropped.to_string(), "{row}");
}

/// The "targets" block a command printed: the lines between its header and the next blank.
fn checks_block(output: &str) -> Vec<String> {
    output
        .lines()
        .skip_while(|l| !l.starts_with("targets ("))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn run_and_analyze_judge_a_run_alike() {
    // The published backend fails every code and image request: the default mix fails its
    // error-rate target. The light profile against the intended backend passes.
    let broken = Simulator::start(&["--backend", "published", "--time-scale", "0.02"]);
    let working = Simulator::start(&["--time-scale", "0.02"]);
    for (sim, want) in [(&broken, 99), (&working, 0)] {
        let dir = tempfile::tempdir().expect("tmp");
        let run = dir.path().join("run");
        let o = aurax(&[
            "run",
            "--host",
            &sim.url,
            "-u",
            "8",
            "-r",
            "8",
            "-t",
            "6s",
            "--seed",
            "3",
            "--quiet",
            "--out",
            run.to_str().expect("utf8"),
        ]);
        assert_eq!(o.status.code(), Some(want), "{}", text(&o));
        let from_run = checks_block(&text(&o));
        assert!(from_run.len() >= 5, "{}", text(&o));
        let rep = dir.path().join("rep");
        let a = aurax(&[
            "analyze",
            run.to_str().expect("utf8"),
            "--fail-on-targets",
            "--out",
            rep.to_str().expect("utf8"),
        ]);
        assert_eq!(a.status.code(), Some(want), "{}", text(&a));
        assert_eq!(checks_block(&text(&a)), from_run, "{}", text(&a));
        assert_eq!(summary(&rep)["run"]["pass"], want == 0);
        if want == 99 {
            // The failed check says what came back.
            let rows = read_rows(&run);
            let code = rows
                .iter()
                .find(|r| r.endpoint == "generate_code")
                .expect("a code request");
            assert_eq!(
                code.error.as_deref(),
                Some(r#"response_type was "text", expected "code""#),
                "{code:?}"
            );
            assert_eq!(
                code.model_used.as_deref(),
                Some("mistral:7b-instruct-q4_K_M")
            );
            if let Some(image) = rows.iter().find(|r| r.endpoint == "generate_image") {
                assert!(
                    image
                        .error
                        .as_deref()
                        .is_some_and(|e| e.starts_with("Image generation error")),
                    "{image:?}"
                );
            }
        }
    }
}
