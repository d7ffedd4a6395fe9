use clap::Parser;
use proptest::prelude::*;

use super::resolve;
use crate::cli::{Cli, Command, RunArgs};
use crate::commands::run::Environment;

/// A fixed world: the same flags resolve to the same plan.
fn env(index: Option<&str>) -> Environment {
    Environment {
        now: chrono::DateTime::from_timestamp(1_800_000_000, 123_000_000).expect("time"),
        process_id: 4242,
        job_completion_index: index.map(str::to_string),
    }
}

fn args(argv: &[&str]) -> RunArgs {
    let mut full = vec!["aurax-tool", "run"];
    full.extend(argv);
    match Cli::try_parse_from(full) {
        Ok(Cli {
            command: Command::Run(args),
        }) => *args,
        other => panic!("{argv:?}: {other:?}"),
    }
}

#[test]
fn the_same_flags_and_world_resolve_to_the_same_run() {
    let a = resolve(args(&["-t", "30s"]), &env(None)).expect("resolves");
    let b = resolve(args(&["-t", "30s"]), &env(None)).expect("resolves");
    assert_eq!(a.run_id, b.run_id);
    assert!(
        a.run_id.starts_with("20270115T080000.123Z-"),
        "{}",
        a.run_id
    );
    // The seed defaults to the clock's microseconds.
    assert_eq!(a.plan.seed, 1_800_000_000_123_000);
}

#[test]
fn a_pod_takes_its_share_from_its_job_completion_index() {
    let at = "2026-12-01T10:00:00Z";
    let run = resolve(
        args(&[
            "--shards",
            "3",
            "--start-at",
            at,
            "--rate",
            "9/s",
            "-t",
            "10s",
        ]),
        &env(Some("2")),
    )
    .expect("resolves");
    assert_eq!((run.plan.shard.index, run.plan.shard.count), (2, 3));
    assert!(run.out_dir.ends_with("w2"), "{}", run.out_dir.display());
    for (index, says) in [(None, "is not set"), (Some("3"), "JOB_COMPLETION_INDEX=3")] {
        let e = resolve(
            args(&["--shards", "3", "--start-at", at, "--rate", "9/s"]),
            &env(index),
        )
        .err()
        .expect("refused");
        assert_eq!(e.code, crate::exit::ExitCode::BadInput);
        assert!(e.to_string().contains(says), "{e}");
    }
}

/// Numbers as users type them, and as attackers do.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("0".to_string()),
        1 => Just("-1".to_string()),
        1 => Just("1e308".to_string()),
        1 => Just("-1e308".to_string()),
        1 => Just("inf".to_string()),
        1 => Just("NaN".to_string()),
        1 => Just("18446744073709551616".to_string()),
        1 => Just("99999999999999999h".to_string()),
        1 => Just("".to_string()),
        1 => Just("abc".to_string()),
        1 => Just("1e-300".to_string()),
        1 => Just("0.000001".to_string()),
        1 => any::<f64>().prop_map(|f| f.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => (
            any::<u32>(),
            prop::sample::select(vec!["h", "m", "s", "ms", "/s", "/m"])
        )
            .prop_map(|(n, u)| format!("{n}{u}")),
        // Values a flag takes, so that many cases reach resolve and plan.
        8 => (1..400u32).prop_map(|n| n.to_string()),
        8 => (1..400u32, prop::sample::select(vec!["s", "m", "/s"]))
            .prop_map(|(n, u)| format!("{n}{u}")),
    ]
}

const FLAGS: [&str; 14] = [
    "-u",
    "-r",
    "-t",
    "--timeout",
    "--stop-timeout",
    "--scale",
    "--duration-scale",
    "--rate",
    "--rate-stages",
    "--stages",
    "--connections",
    "--max-in-flight",
    "--max-body-bytes",
    "--target-percentile",
];

/// Every edge value on every flag, deterministically (the random pairs below add mixes).
#[test]
fn no_edge_value_of_a_flag_panics() {
    let edges = [
        "0",
        "-1",
        "1e308",
        "-1e308",
        "inf",
        "NaN",
        "18446744073709551616",
        "99999999999999999h",
        "",
        "abc",
        "1e-300",
        "0.000001",
        "4294967296",
        "1e9/s",
    ];
    let (mut planned, mut refused_by_resolve, mut refused_by_clap) = (0, 0, 0);
    for base in [
        "--profile=light",
        "--scenario=exhaustion",
        "--scenario=ramp",
    ] {
        for flag in FLAGS {
            for v in edges {
                let v = if flag.ends_with("stages") {
                    format!("{v}:{v}")
                } else {
                    v.to_string()
                };
                let argv = ["aurax-tool", "run", base, flag, &v];
                match Cli::try_parse_from(argv) {
                    Ok(Cli {
                        command: Command::Run(args),
                    }) => match resolve(*args, &env(None)) {
                        Ok(_) => planned += 1,
                        Err(_) => refused_by_resolve += 1,
                    },
                    _ => refused_by_clap += 1,
                }
            }
        }
    }
    // Every value was tried, and each kind of answer was given: a test that passed
    // because everything was refused (or nothing was) would fail here.
    assert_eq!(
        planned + refused_by_resolve + refused_by_clap,
        3 * FLAGS.len() * edges.len()
    );
    // Exact: the typed flags refuse every bad value at the edge (exit 2), so resolve
    // refuses none of what reaches it, and the values that are fine make a plan.
    assert_eq!(
        (planned, refused_by_resolve, refused_by_clap),
        (35, 0, 553),
        "planned, refused by resolve, refused by clap"
    );
}

/// Any value of any numeric flag (and of two at once) is a usage error or a plan, never a
/// panic: the run would stop with exit 2 or 3, or run within the ceilings. 3000 cases
/// drawn from a fixed seed, each answer counted: a test that passed because every input
/// was refused (or none was) would fail on the counts.
#[test]
fn no_numeric_flag_value_panics() {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    use std::cell::Cell;
    let mut runner = TestRunner::new_with_rng(
        Config::with_cases(3000),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let (planned, refused_by_resolve, refused_by_clap) = (Cell::new(0), Cell::new(0), Cell::new(0));
    let bases = vec![
        "--profile=light",
        "--scenario=exhaustion",
        "--scenario=ramp",
    ];
    let strategy = (
        prop::sample::select(bases),
        prop::sample::select(FLAGS.to_vec()),
        number(),
        prop::sample::select(FLAGS.to_vec()),
        number(),
    );
    let result = runner.run(&strategy, |(base, a, x, b, y)| {
        let value = |flag: &str, v: &str| {
            if flag.ends_with("stages") {
                format!("{v}:{v}")
            } else {
                v.to_string()
            }
        };
        let argv = vec![
            "aurax-tool".to_string(),
            "run".to_string(),
            base.to_string(),
            a.to_string(),
            value(a, &x),
            b.to_string(),
            value(b, &y),
        ];
        let Ok(Cli {
            command: Command::Run(args),
        }) = Cli::try_parse_from(&argv)
        else {
            refused_by_clap.set(refused_by_clap.get() + 1);
            return Ok(());
        };
        match resolve(*args, &env(None)) {
            Ok(run) => {
                planned.set(planned.get() + 1);
                prop_assert!(
                    run.plan.shape.peak()
                        <= crate::limits::MAX_RATE.max(f64::from(crate::limits::MAX_USERS))
                );
                prop_assert!(
                    run.plan
                        .run_time
                        .is_none_or(|t| t <= crate::limits::MAX_DURATION)
                );
            }
            Err(_) => refused_by_resolve.set(refused_by_resolve.get() + 1),
        }
        Ok(())
    });
    result.expect("every value is refused or planned within the ceilings");
    let counts = (
        planned.get(),
        refused_by_resolve.get(),
        refused_by_clap.get(),
    );
    assert_eq!(
        counts.0 + counts.1 + counts.2,
        3000,
        "every case tried once"
    );
    assert_eq!(
        counts,
        (130, 8, 2862),
        "planned, refused by resolve, refused by clap"
    );
}

/// run.json names the profile only where it gave the run its classes or its users, spawn rate
/// or length: `--stages` with `--user-class` ran none.
#[test]
fn the_profile_is_named_only_where_it_gave_the_run_something() {
    let profile = |argv: &[&str]| {
        resolve(args(argv), &env(None))
            .expect("resolves")
            .profile_name
    };
    let light = Some("light".to_string());
    // Its classes, and its users and spawn rate.
    assert_eq!(profile(&["--profile", "light", "-t", "20s"]), light);
    // Its classes, with the shape from the flags.
    assert_eq!(profile(&["--rate-stages", "5/s:10s"]), light);
    // Its length, with the classes from the flags.
    assert_eq!(
        profile(&["--user-class", "AuraxLoadTestUser", "--rate", "5/s"]),
        light
    );
    // Nothing of it.
    for argv in [
        &["--user-class", "AuraxLoadTestUser", "--stages", "5:10s"][..],
        &[
            "--user-class",
            "AuraxLoadTestUser",
            "-u",
            "5",
            "-r",
            "1",
            "-t",
            "10s",
        ],
        &[
            "--user-class",
            "AuraxLoadTestUser",
            "--rate",
            "5/s",
            "-t",
            "10s",
        ],
        &["--user-class", "AuraxLoadTestUser", "--find-capacity"],
        &["--scenario", "exhaustion"],
    ] {
        assert_eq!(profile(argv), None, "{argv:?}");
    }
}
