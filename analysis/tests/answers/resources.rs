//! Resource analysis on synthetic runs and samples whose answers are known.

use crate::common::{png_facts, saturating_ramp, write_resources, write_run};
use aurax_analysis::analyze;

#[test]
fn a_saturated_generator_is_named_and_a_saturating_target_cpu_is_the_constraint() {
    // 10 levels of 10 s, 20 req/s per user up to 100 req/s of capacity (5 users).
    let reqs = saturating_ramp(10, 10.0, 20.0, 100.0);
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("run");
    write_run(&run, &reqs, "2");
    let mut samples = Vec::new();
    for t in 0..=100 {
        let t = f64::from(t);
        // Target: 0.8 cores per user, up to 4 cores at 5 users, then flat (its ceiling).
        let target_cpu: f64 = (0..t as i32)
            .map(|s| (0.8 * ((f64::from(s) / 10.0).floor() + 1.0)).min(4.0))
            .sum();
        samples.push((
            t,
            "scrape:http://t/metrics",
            "process_cpu_seconds_total",
            target_cpu,
        ));
        samples.push((
            t,
            "scrape:http://t/metrics",
            "aurax_simulated_cpu_cores",
            16.0,
        ));
        // Its requests in progress pile up to 20 at the same level as its CPU: the CPU is
        // the cause and is named (in-progress sorts first, so a tie must be broken on purpose).
        samples.push((
            t,
            "scrape:http://t/metrics",
            "aurax_inprogress",
            (4.0 * ((t / 10.0).floor() + 1.0)).min(20.0),
        ));
        // A watched process that levels off at 0.06 cores from the third level: a plateau far
        // below one core is no CPU limit (CI once named such a process the constraint).
        let pid_cpu: f64 = (0..t as i32)
            .map(|s| (0.02 * ((f64::from(s) / 10.0).floor() + 1.0)).min(0.06))
            .sum();
        samples.push((t, "pid:77", "process_cpu_seconds_total", pid_cpu));
        // Its disk writes grow by 1 MiB/s per level and it never reads (no line for reads).
        let pid_writes: f64 = (0..t as i32)
            .map(|s| 1048576.0 * ((f64::from(s) / 10.0).floor() + 1.0))
            .sum();
        samples.push((t, "pid:77", "process_io_write_bytes_total", pid_writes));
        samples.push((t, "pid:77", "process_io_read_bytes_total", 0.0));
        // Generator: 1.9 of 2 cores from the start.
        samples.push((t, "generator", "process_cpu_seconds_total", 1.9 * t));
        samples.push((t, "generator", "machine_cpu_cores", 2.0));
        samples.push((t, "generator", "process_resident_memory_bytes", 80e6));
    }
    // A long run seals its older samples: the first 30 s are in a segment of their own.
    let (sealed, newest): (Vec<_>, Vec<_>) = samples.iter().partition(|s| s.0 < 30.0);
    write_resources(&run, "resources-00001.parquet", &sealed);
    write_resources(&run, "resources.parquet", &newest);
    let a = analyze(std::slice::from_ref(&run)).expect("analysis");
    let r = &a.resources;
    let (name, load, value) = r.constraint.clone().expect("a constraint");
    assert_eq!(name, "target CPU");
    assert_eq!(load, 5.0, "saturates at 5 users");
    // The level mean: 90% of the 4-core plateau or more.
    assert!((3.6..=4.0).contains(&value), "{value}");
    let names: Vec<&str> = r.series.iter().map(|s| s.name.as_str()).collect();
    assert!(!names.contains(&"pid:77 disk read"), "{names:?}");
    let writes = r
        .series
        .iter()
        .find(|s| s.name == "pid:77 disk write")
        .expect("disk writes shown");
    assert_eq!(writes.unit, "MiB/s");
    // Level 3 (samples at 21..=29 s, rates of seconds 20..28): 3 MiB/s throughout.
    let level3 = writes.per_level[2].expect("level 3");
    assert!((level3 - 3.0).abs() < 0.35, "{level3}");
    let trigger = r.trigger.clone().expect("trigger");
    assert!(
        trigger.contains("(2.8 cores)") && trigger.contains("reached at ~"),
        "{trigger}"
    );
    let g = r
        .generator_saturated
        .clone()
        .expect("the generator saturated");
    assert!(g.contains("1.90 of its 2 cores"), "{g}");
    let out = dir.path().join("rep");
    aurax_analysis::report::write(&a, None, &out).expect("report");
    let md = std::fs::read_to_string(out.join("report.md")).expect("md");
    assert!(
        md.contains("**The load generator was the bottleneck.**"),
        "{md}"
    );
    let (w, h, ink) = png_facts(&out.join("resources.png"));
    assert_eq!((w, h), (1400, 800));
    assert!(ink > 0.01, "{ink}");
}

#[test]
fn a_cpu_that_tops_out_only_at_the_last_level_is_not_guessed_to_be_the_constraint() {
    // Breaks at 5 users (100 req/s of capacity); the target's CPU rises 0.4 cores a level to
    // its highest, 4.0, at the last one: a plateau or still rising, nobody can tell.
    let reqs = saturating_ramp(10, 10.0, 20.0, 100.0);
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("run");
    write_run(&run, &reqs, "2");
    let samples: Vec<(f64, &str, &str, f64)> = (0..=100)
        .map(|t| {
            let cpu: f64 = (0..t).map(|s| 0.4 * (f64::from(s / 10) + 1.0)).sum();
            (
                f64::from(t),
                "scrape:http://t/metrics",
                "process_cpu_seconds_total",
                cpu,
            )
        })
        .collect();
    write_resources(&run, "resources.parquet", &samples);
    let a = analyze(std::slice::from_ref(&run)).expect("analysis");
    assert!(a.breaking.point.is_some(), "{}", a.breaking.verdict);
    let r = &a.resources;
    assert!(r.constraint.is_none(), "{:?}", r.constraint);
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("target CPU was highest at the last load level (10 users)")),
        "{:?}",
        r.notes
    );
}
