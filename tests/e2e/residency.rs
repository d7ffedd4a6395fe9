//! Model residency end to end: the simulator swapping its models as Ollama does when memory
//! holds one of two, sampled through `/api/ps` by `run --ollama`, counted and priced by the
//! analysis, named in the report; and an Ollama that turns to garbage, then goes down, mid-run.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;

use crate::common::{
    Simulator, http_get, manifest, png_facts, read_request, read_rows, replay,
    resource_sample_times, summary, text,
};

/// Text 2 s x 0.02 = 40 ms a generation, code 80 ms; every load (`--model-load 15s`) 300 ms.
const SCALE: &str = "0.02";
const MODEL_LOAD: &str = "15s";
const LOAD_S: f64 = 0.3;
/// Between two requests of a trace: a load and a generation (0.38 s at most) end well before
/// the next, even on a machine busy elsewhere (at 0.7 s, a run beside a build once saw a
/// second request of a run arrive while the first still waited for the load).
const SPACING_MS: usize = 1000;
/// Text 4.4 GB and code 18.6 GB: 20 GB holds one of them, 24 GB both.
const ONE_MODEL: &str = "20GB";
const BOTH_MODELS: &str = "24GB";

/// A `/health` first, then `blocks` runs of three requests to one model, text then code in
/// turn, [`SPACING_MS`] apart (each done before the next): the first of a run finds the other model
/// in memory. The first generation goes 0.5 s after the start, so the sampler's first
/// `/api/ps` (at the start) sees no model and the first load is seen too.
fn alternating_trace(path: &Path, blocks: usize) {
    let mut lines = String::from("{\"offset_ms\":0,\"endpoint\":\"health\"}\n");
    for i in 0..blocks * 3 {
        let code = (i / 3) % 2 == 1;
        let body = if code {
            r#"{"prompt":"Write a binary search in Go.","model":"qwen3:coder","routing_metadata":{"preferred_model":"code"}}"#
        } else {
            r#"{"prompt":"Explain attention."}"#
        };
        let endpoint = if code {
            "generate_code"
        } else {
            "generate_text"
        };
        lines.push_str(&format!(
            "{{\"offset_ms\":{},\"endpoint\":\"{endpoint}\",\"body\":{body}}}\n",
            500 + i * SPACING_MS
        ));
    }
    std::fs::write(path, lines).expect("trace written");
}

/// The sum of a counter's samples over its labels in a Prometheus exposition.
fn counter(exposition: &str, name: &str) -> f64 {
    exposition
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A replay of `blocks` alternating runs against a simulator with `memory`, its residency
/// sampled every 100 ms; the report's summary and the simulator's own counters.
fn swapping_run(memory: &str, blocks: usize) -> (serde_json::Value, String, tempfile::TempDir) {
    let sim = Simulator::start(&[
        "--time-scale",
        SCALE,
        "--model-memory",
        memory,
        "--model-load",
        MODEL_LOAD,
    ]);
    let dir = tempfile::tempdir().expect("tmp");
    let trace = dir.path().join("alternating.jsonl");
    alternating_trace(&trace, blocks);
    let (summary, metrics) = sampled_replay(&sim, &trace, dir.path(), &[]);
    (summary, metrics, dir)
}

/// A replay of `trace` against `sim` with its `/api/ps` sampled every 100 ms and a report
/// in `dir/rep`: the report's summary and the simulator's `/metrics` after it.
fn sampled_replay(
    sim: &Simulator,
    trace: &Path,
    dir: &Path,
    extra: &[&str],
) -> (serde_json::Value, String) {
    let rep = dir.join("rep");
    let mut args = vec![
        "--ollama",
        &sim.url,
        "--sample-interval",
        "100ms",
        "--no-thresholds",
        "--report",
        "--report-dir",
        rep.to_str().expect("utf8"),
    ];
    args.extend_from_slice(extra);
    let run = replay(
        trace.to_str().expect("utf8"),
        &sim.url,
        &dir.join("run"),
        &args,
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    (summary(&rep), http_get(&format!("{}/metrics", sim.url)))
}

#[test]
fn memory_for_one_of_two_models_swaps_and_the_report_counts_and_prices_every_swap() {
    let (s, metrics, dir) = swapping_run(ONE_MODEL, 8);
    // The simulator's own count: 8 runs, 8 loads, 7 of them swaps (the first finds the
    // memory empty).
    let simulated_loads = counter(&metrics, "aurax_simulated_model_loads_total");
    let simulated = counter(&metrics, "aurax_simulated_model_swaps_total");
    assert_eq!((simulated_loads, simulated), (8.0, 7.0), "{metrics}");
    let r = &s["residency"];
    assert_eq!(r["loads"].as_f64(), Some(simulated_loads), "{r}");
    assert_eq!(r["swaps"].as_f64(), Some(simulated), "{r}");
    // The first request of each run waited for its model: one load each.
    assert_eq!(r["waited"], 8, "{r}");
    let lost = r["time_lost_s"].as_f64().expect("time lost estimated");
    let expected = simulated_loads * LOAD_S;
    assert!(
        (lost - expected).abs() <= 0.05 * expected,
        "time lost {lost:.3} s, loads x load time {expected:.3} s"
    );
    assert_eq!(r["exact"], false, "AURAX's answers carry no load_duration");
    let constraint = r["constraint"].as_str().expect("a constraint");
    assert!(
        constraint.starts_with("model swapping: 7 swaps"),
        "{constraint}"
    );
    let headline = s["headline"]["line"].as_str().expect("headline");
    assert!(headline.contains("model swapping"), "{headline}");
    let rep = dir.path().join("rep");
    let md = std::fs::read_to_string(rep.join("report.md")).expect("report.md");
    assert!(md.contains("## Model residency"), "{md}");
    assert!(md.contains("**Constraint: model swapping"), "{md}");
    assert!(md.contains("in memory"), "{md}");
    assert!(md.contains("its own Ollama instance"), "{md}");
    let (w, h, ink) = png_facts(&rep.join("residency.png"));
    assert_eq!((w, h), (1400, 800));
    assert!(ink > 0.02, "residency.png is drawn ({ink})");
}

#[test]
fn memory_for_both_models_loads_each_once_and_names_no_swapping() {
    let (s, metrics, dir) = swapping_run(BOTH_MODELS, 4);
    assert_eq!(counter(&metrics, "aurax_simulated_model_swaps_total"), 0.0);
    assert_eq!(counter(&metrics, "aurax_simulated_model_loads_total"), 2.0);
    let r = &s["residency"];
    assert_eq!(r["loads"], 2, "{r}");
    assert_eq!(r["swaps"], 0, "{r}");
    assert_eq!(r["unloads"], 0, "{r}");
    assert!(r["constraint"].is_null(), "{r}");
    let md = std::fs::read_to_string(dir.path().join("rep/report.md")).expect("report.md");
    assert!(md.contains("## Model residency"), "{md}");
    assert!(!md.contains("model swapping"), "{md}");
}

/// An `/api/ps` that answers as Ollama documents for its first 5 requests, garbage for the
/// next 5, then goes away (connections refused).
fn flaky_ollama() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate().take(10) {
            let Ok(mut stream) = stream else { continue };
            if read_request(&mut stream).is_none() {
                continue;
            }
            let body = if i < 5 {
                r#"{"models":[{"name":"mistral:latest","model":"mistral:latest","size":5137025024,"digest":"2ae6","details":{"format":"gguf"},"expires_at":"2024-06-04T14:38:31.83753-07:00","size_vram":5137025024,"context_length":4096}]}"#
            } else {
                "<html>502 Bad Gateway</html>"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        // The listener dropped: Ollama is down.
    });
    url
}

#[test]
fn an_ollama_turning_to_garbage_then_down_mid_run_costs_one_warning_and_nothing_else() {
    let sim = Simulator::start(&["--time-scale", "0.01"]);
    let ollama = flaky_ollama();
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let run = crate::common::aurax(&[
        "run",
        "--host",
        &sim.url,
        "--rate",
        "10/s",
        "-t",
        "3s",
        "--user-class",
        "AuraxBurstUser",
        "--ollama",
        &ollama,
        "--sample-interval",
        "100ms",
        "--no-thresholds",
        "--out",
        out.to_str().expect("utf8"),
        "-q",
    ]);
    let log = text(&run);
    assert_eq!(run.status.code(), Some(0), "{log}");
    let warning = format!("warning: --ollama {ollama}: /api/ps:");
    assert_eq!(log.matches(&warning).count(), 1, "{log}");
    // The 5 good answers are samples; the garbage and the refusals are none.
    let sampled = resource_sample_times(&out, &format!("ollama:{ollama}"));
    assert_eq!(sampled.len(), 5, "{sampled:?}");
    // Every request the run sent is in the files.
    let rows = read_rows(&out).len() as u64;
    assert_eq!(manifest(&out)["requests"].as_u64(), Some(rows));
    assert_eq!(rows, 30, "10/s for 3 s");
}

#[test]
fn driving_ollama_directly_prices_each_wait_with_its_own_load_duration() {
    let sim = Simulator::start(&[
        "--time-scale",
        SCALE,
        "--model-memory",
        ONE_MODEL,
        "--model-load",
        MODEL_LOAD,
    ]);
    let dir = tempfile::tempdir().expect("tmp");
    let scenario = dir.path().join("ollama.toml");
    let shown = crate::common::aurax(&["scenario", "show", "ollama"]);
    std::fs::write(&scenario, &shown.stdout).expect("scenario written");
    // One request at a time, [`SPACING_MS`] apart, two of each model in turn: every load (the first
    // two included) is paid by exactly one request, which reports it as load_duration.
    let mut lines = String::new();
    for i in 0..8 {
        let (endpoint, model) = if (i / 2) % 2 == 0 {
            ("generate_text", "mistral:7b-instruct-q4_K_M")
        } else {
            ("generate_code", "qwen3:coder")
        };
        lines.push_str(&format!(
            "{{\"offset_ms\":{},\"endpoint\":\"{endpoint}\",\"body\":{{\"model\":\"{model}\",\"prompt\":\"hi\",\"options\":{{\"num_predict\":8}}}}}}\n",
            i * SPACING_MS
        ));
    }
    let trace = dir.path().join("direct.jsonl");
    std::fs::write(&trace, lines).expect("trace written");
    let file = scenario.to_str().expect("utf8");
    let (s, metrics) = sampled_replay(&sim, &trace, dir.path(), &["--scenario-file", file]);
    let loads = counter(&metrics, "aurax_simulated_model_loads_total");
    assert_eq!(loads, 4.0, "{metrics}");
    let loaded_s = counter(&metrics, "aurax_simulated_model_load_seconds_total");
    let r = &s["residency"];
    assert_eq!(r["exact"], true, "{r}");
    assert_eq!(r["waited"], 4, "{r}");
    let lost = r["time_lost_s"].as_f64().expect("time lost");
    // Each reported load_duration is the load plus the scheduler's microseconds.
    assert!(
        (lost - loaded_s).abs() <= 0.02 * loaded_s,
        "time lost {lost:.3} s, the simulator loaded for {loaded_s:.3} s"
    );
    assert_eq!(
        r["swaps"].as_f64(),
        Some(counter(&metrics, "aurax_simulated_model_swaps_total"))
    );
}
