//! A load generator pinned to one core that says it was the bottleneck. It saturates both
//! cores of a 2-core machine on purpose, so it is the only test of its binary (cargo runs
//! test binaries one after another): timing-sensitive tests never run beside it.

#[path = "e2e/common.rs"]
mod common;

use std::process::Stdio;

use common::{Simulator, allowed_cpus, bin, pin, summary, text};

#[test]
#[cfg(target_os = "linux")]
fn a_load_generator_pinned_to_one_core_says_it_was_the_bottleneck() {
    // The generator on one core and the simulator on the others: 10,000 req/s of the
    // simulator's cheapest request (`/health`, answered at once) is more than one core of
    // the client can send, and the report must blame the client, not AURAX. (On the default
    // mix a debug simulator on one core serves ~2,100 req/s, about what a debug client on one
    // core sends: which of the two gave out first was a coin toss.)
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
            "--scenario-file",
            concat!(env!("CARGO_MANIFEST_DIR"), "/bench/health.toml"),
            "--profile",
            "bench",
            "--rate",
            "10000/s",
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
    let s = summary(&rep);
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
