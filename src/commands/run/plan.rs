//! Turns `run` flags, the profile and the scenario into a load plan, checking every name
//! against what exists and saying what does when it does not.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aurax_schema::{CapacitySearch, Targets};

use crate::cli::{DEFAULT_PROFILE, Exports, RunArgs};
use crate::exit::{ExitCode, Fail, OrExit, fail};
use crate::flags::StageList;
use crate::limits::{MAX_RATE, MAX_USERS};
use crate::runner::{LoadPlan, MixDraw, StopCondition, default_threads};
use crate::scenario::DEFAULT_MAX_IN_FLIGHT;
use crate::scenario::{LoadScenario, Profile, Scenario};
use crate::shape::{Arrivals, LoadShape, Stage, locust_ramp};

use super::identity::{Environment, identity, out_dir_of, shard_of};
use super::monitoring::MonitorFlags;
use super::replay::{Replay, resolve_replay};

pub struct ResolvedRun {
    pub scenario: Arc<Scenario>,
    pub scenario_source: String,
    pub plan: LoadPlan,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub targets: Targets,
    /// The most requests per second the plan's users can offer (users / mean wait).
    pub offered_rps: f64,
    pub out_dir: PathBuf,
    pub run_id: String,
    pub replay: Option<Replay>,
    /// `--trace`: the traces named, for a replay or a search's recorded mix.
    pub traces: Vec<String>,
    /// `--host`, checked to be a URL; none: the built-in simulator.
    pub host: Option<String>,
    /// `--max-body-bytes`: how much of an answer is read.
    pub max_body_bytes: u64,
    /// `--start-at`: when a distributed run's workers begin together.
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The exporter and the resource sampler, as asked (bound by `monitoring::prepare`).
    pub monitor: MonitorFlags,
    /// What the run writes and says besides its records.
    pub output: Output,
    /// The profile, where it gave the run its classes or its shape, for run.json.
    pub profile_name: Option<String>,
    /// The load scenario as named, for run.json.
    pub load_scenario_name: Option<String>,
    /// What the user should know about how the flags were read, one line each.
    pub notes: Vec<String>,
    /// `--find-capacity`: how the search holds and judges its steps. The plan's shape is then
    /// the first step's; the search sets each step's rate.
    pub search: Option<CapacitySearch>,
}

/// What a run writes and says besides its records, and how it ends.
pub struct Output {
    /// `--quiet`: no live line.
    pub quiet: bool,
    /// `--report`: the report's folder (`--report-dir`, or one named after the run).
    pub report: Option<PathBuf>,
    pub exports: Exports,
    /// `--no-thresholds`: exit 0 whatever the targets say.
    pub no_thresholds: bool,
}

/// `4s`, `2m 30s`: a duration as the user would write it.
fn humantime(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else {
        format!("{:.0} min {:.0} s", (secs / 60.0).floor(), secs % 60.0)
    }
}

/// The flags resolved into the run's plan: no clock, environment or socket of its own (they
/// come in `env`; the metrics port is bound by `monitoring::prepare`), so the same flags and
/// environment give the same plan.
pub fn resolve(args: RunArgs, env: &Environment) -> Result<ResolvedRun, Fail> {
    let args = &args;
    let (scenario, scenario_source) = scenario_of(args)?;
    let mut notes = Vec::new();
    let profile = profile_of(args, &scenario, &scenario_source, &mut notes)?;
    let load_scenario = load_scenario_of(args, &scenario)?;
    let (classes, classes_from) = classes_of(args, &scenario, load_scenario.as_ref(), &profile)?;
    let scenario = Arc::new(scenario);
    // A search with --trace sends the trace's mix at each step's rate: no replay.
    let (replay, recorded_mix) = if args.find_capacity && !args.trace.is_empty() {
        (None, Some(super::replay::recorded_mix(args, &scenario)?))
    } else {
        (resolve_replay(args, &scenario)?, None)
    };
    let search = search_of(args)?;
    // A replay takes neither the profile's classes nor its shape.
    let (shape, run_time, profile_used) = match &replay {
        // Without -t a replay runs until its trace ends.
        Some(r) => (r.shape.clone(), args.run_time, false),
        None => {
            let (shape, shape_from) = shape_of(
                args,
                &profile,
                load_scenario.as_ref(),
                search.is_some(),
                &mut notes,
            )?;
            within_ceilings(&shape)?;
            // -t caps a shape with stages; otherwise its stages say how long it runs.
            let run_time = args
                .run_time
                .map_or(shape.duration(), |t| t.min(shape.duration()));
            let used = [classes_from, shape_from].contains(&Origin::Profile);
            (shape, Some(run_time), used)
        }
    };
    let stop_on = stop_on_of(args, load_scenario.as_ref())?;
    let mut headers = scenario.headers.clone();
    headers.extend(
        args.headers
            .iter()
            .map(|h| (h.name.clone(), h.value.clone())),
    );
    let targets = targets_of(args, &scenario, &classes)?;
    let shard = shard_of(args, env)?;
    let (run_id, seed) = identity(args, env, shard);
    let out_dir = out_dir_of(args, &run_id, shard);
    let offered_rps = offered_rps_of(search.is_some(), &shape, run_time, &scenario, &classes);
    let profile_name = profile_used.then(|| args.profile.clone());
    let monitor = monitor_of(args, &scenario);
    Ok(ResolvedRun {
        monitor,
        scenario,
        scenario_source,
        offered_rps,
        plan: LoadPlan {
            shape,
            run_time,
            classes,
            seed,
            stop_timeout: args.stop_timeout,
            stop_on,
            step: None,
            recorded_mix,
            mix_draw: MixDraw::Random,
            shard,
            threads: args.threads.unwrap_or_else(default_threads),
        },
        headers,
        timeout: args.timeout,
        targets,
        run_id,
        replay,
        traces: args.trace.clone(),
        host: args.host.clone(),
        max_body_bytes: args.max_body_bytes,
        start_at: args.start_at,
        output: output_of(args, &out_dir),
        profile_name,
        load_scenario_name: args.scenario.clone(),
        out_dir,
        notes,
        search,
    })
}

/// When the run stops early: the load scenario's `stop_on` and `--stop-on`. The scenario's
/// are text of a file (exit 3 when bad); the flag's are parsed already.
fn stop_on_of(
    args: &RunArgs,
    load_scenario: Option<&LoadScenario>,
) -> Result<Vec<StopCondition>, Fail> {
    let mut stop_on = Vec::new();
    for text in load_scenario.iter().flat_map(|l| l.stop_on.iter()) {
        stop_on.push(StopCondition::parse(text).map_err(bad)?);
    }
    stop_on.extend(args.stop_on.iter().cloned());
    Ok(stop_on)
}

/// `--scenario-file`, or the built-in scenario; and how the files name it.
fn scenario_of(args: &RunArgs) -> Result<(Scenario, String), Fail> {
    Ok(match &args.scenario_file {
        Some(path) => (
            Scenario::from_path(path).or_exit(ExitCode::BadInput)?,
            path.display().to_string(),
        ),
        None => (
            Scenario::builtin().or_exit(ExitCode::Failure)?,
            "built-in".to_string(),
        ),
    })
}

/// `--scenario NAME`: one of the scenario's load scenarios.
fn load_scenario_of(args: &RunArgs, scenario: &Scenario) -> Result<Option<LoadScenario>, Fail> {
    let Some(name) = &args.scenario else {
        return Ok(None);
    };
    let known = || {
        let names: Vec<&str> = scenario.load_scenarios.keys().map(String::as_str).collect();
        names.join(", ")
    };
    match scenario.load_scenarios.get(name) {
        Some(l) => Ok(Some(l.clone())),
        None => Err(bad(format!(
            "unknown scenario `{name}` (known: {})",
            known()
        ))),
    }
}

/// The monitoring flags, as they are (`monitoring::prepare` binds the port).
fn monitor_of(args: &RunArgs, scenario: &Scenario) -> MonitorFlags {
    MonitorFlags {
        ollama: args.ollama.clone().or_else(|| scenario.ollama.clone()),
        metrics_listen: args.metrics_listen,
        metrics_hold: args.metrics_hold,
        sample_interval: args.sample_interval,
        scrape: args.scrape.clone(),
        watch_pid: args.watch_pid.clone(),
    }
}

/// The report, exports, live line and exit code asked for.
fn output_of(args: &RunArgs, out_dir: &std::path::Path) -> Output {
    Output {
        quiet: args.quiet,
        report: args.report.then(|| {
            args.report_dir
                .clone()
                .unwrap_or_else(|| crate::commands::analyze::default_report_dir(out_dir))
        }),
        exports: args.exports.clone(),
        no_thresholds: args.no_thresholds,
    }
}

/// `--find-capacity`'s settings where not given (`--help` says them).
const SEARCH_BUDGET: Duration = Duration::from_secs(600);
const SEARCH_PRECISION: f64 = 0.05;
const SEARCH_STEP_TIME: Duration = Duration::from_secs(30);
const SEARCH_START_RATE: f64 = 1.0;

/// `--find-capacity`: the search's settings.
fn search_of(args: &RunArgs) -> Result<Option<CapacitySearch>, Fail> {
    if !args.find_capacity {
        return Ok(None);
    }
    let budget = args.budget.unwrap_or(SEARCH_BUDGET);
    let step_time = args.step_time.unwrap_or(SEARCH_STEP_TIME);
    if step_time > budget {
        return Err(bad(format!(
            "--step-time {step_time:?} is longer than --budget {budget:?}: not one step fits (lower --step-time or raise --budget)",
        )));
    }
    Ok(Some(CapacitySearch {
        precision: args.precision.unwrap_or(SEARCH_PRECISION),
        step_min_s: step_time.as_secs_f64(),
        step_max_s: step_time.as_secs_f64() * STEP_MAX_HOLDS,
        budget_s: budget.as_secs_f64(),
        start_rps: args.start_rate.unwrap_or(SEARCH_START_RATE),
    }))
}

/// Bad input only a file can tell (exit 3).
fn bad(e: String) -> Fail {
    fail(ExitCode::BadInput, e)
}

/// The profile named by `--profile`. A scenario file without the default profile runs as its
/// flags say (a replay takes no load from a profile anyway): every class, one user, a minute,
/// unless -u, -r, -t, --user-class, --rate or --stages say otherwise.
fn profile_of(
    args: &RunArgs,
    scenario: &Scenario,
    source: &str,
    notes: &mut Vec<String>,
) -> Result<Profile, Fail> {
    let default_missing = args.profile == DEFAULT_PROFILE;
    match scenario.profiles.get(&args.profile) {
        Some(p) => Ok(p.clone()),
        None if default_missing => {
            if args.trace.is_empty() {
                notes.push(format!(
                    "{source} has no `{DEFAULT_PROFILE}` profile: every class, 1 user for 60 s, where -u, -r, -t, --user-class, --rate or --stages do not say otherwise"
                ));
            }
            Ok(Profile {
                users: 1,
                spawn_rate: 1.0,
                run_time: Duration::from_secs(60),
                user_classes: scenario
                    .class_names()
                    .iter()
                    .map(|c| c.to_string())
                    .collect(),
            })
        }
        None => {
            let known: Vec<&str> = scenario.profiles.keys().map(String::as_str).collect();
            Err(bad(format!(
                "unknown profile `{}` (known: {})",
                args.profile,
                known.join(", ")
            )))
        }
    }
}

/// Where a part of the plan came from: the run names its profile (run.json's `profile`) only
/// where the profile gave it something, its classes or its users, spawn rate or length
/// (`--stages` with `--user-class` ran no profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The flags, a load scenario or the built-in defaults.
    Flags,
    /// The profile's values.
    Profile,
}

/// The user classes and their weights: `--user-class NAME[:WEIGHT]`, else the load
/// scenario's, else the profile's; and which it was.
fn classes_of(
    args: &RunArgs,
    scenario: &Scenario,
    load_scenario: Option<&LoadScenario>,
    profile: &Profile,
) -> Result<(Vec<(usize, u32)>, Origin), Fail> {
    let (specs, origin): (&[String], Origin) = match (load_scenario, args.user_class.is_empty()) {
        (_, false) => (&args.user_class, Origin::Flags),
        (Some(l), true) => (&l.classes, Origin::Flags),
        (None, true) => (&profile.user_classes, Origin::Profile),
    };
    let mut classes = Vec::new();
    for spec in specs {
        let (name, weight) = match spec.split_once(':') {
            Some((n, w)) => {
                let w: u32 = w.parse().ok().filter(|w| *w > 0).ok_or_else(|| {
                    bad(format!(
                        "--user-class {spec}: the weight must be a whole number above 0"
                    ))
                })?;
                (n, Some(w))
            }
            None => (spec.as_str(), None),
        };
        let index = scenario
            .user_classes
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| {
                bad(format!(
                    "unknown user class `{name}` (known: {})",
                    scenario.class_names().join(", ")
                ))
            })?;
        classes.push((index, weight.unwrap_or(scenario.user_classes[index].weight)));
    }
    if classes.is_empty() {
        return Err(bad(
            "no user class to run: name one with --user-class (the profile or scenario lists none)"
                .into(),
        ));
    }
    Ok((classes, origin))
}

/// The synthetic load's shape: a search's first step, `--rate`, `--rate-stages`,
/// `--stages`, a load scenario, or the profile's Locust-style ramp (-u, -r, -t); and whether
/// the profile gave it a value. Flag values arrive typed and within their ceilings
/// (crate::flags).
fn shape_of(
    args: &RunArgs,
    profile: &Profile,
    load_scenario: Option<&LoadScenario>,
    search: bool,
    notes: &mut Vec<String>,
) -> Result<(LoadShape, Origin), Fail> {
    let open = |stages: Vec<Stage>,
                default_arrivals: Arrivals,
                default_max: usize,
                default_conn: Option<usize>| LoadShape::Open {
        stages,
        arrivals: args.arrivals.unwrap_or(default_arrivals),
        connections: args.connections.map(|n| n as usize).or(default_conn),
        max_in_flight: args
            .max_in_flight
            .map(|n| n as usize)
            .unwrap_or(default_max),
    };
    // A constant rate from the start: held for `length`.
    let constant = |rate: f64, length: Duration| {
        open(
            vec![
                Stage {
                    target: rate,
                    duration: Duration::ZERO,
                },
                Stage {
                    target: rate,
                    duration: length,
                },
            ],
            Arrivals::Constant,
            DEFAULT_MAX_IN_FLIGHT,
            None,
        )
    };
    let length = args.run_time.unwrap_or(profile.run_time);
    let length_from = match args.run_time {
        Some(_) => Origin::Flags,
        None => Origin::Profile,
    };
    Ok(if search {
        // The first step; the search sets each step's rate and hold.
        let step = constant(
            args.start_rate.unwrap_or(SEARCH_START_RATE),
            args.budget.unwrap_or(SEARCH_BUDGET),
        );
        (step, Origin::Flags)
    } else if let Some(rate) = args.rate {
        (constant(rate, length), length_from)
    } else if let Some(StageList(stages)) = &args.rate_stages {
        let shape = open(
            stages.clone(),
            Arrivals::Constant,
            DEFAULT_MAX_IN_FLIGHT,
            None,
        );
        (shape, Origin::Flags)
    } else if let Some(StageList(stages)) = &args.stages {
        let shape = LoadShape::Closed {
            stages: stages.clone(),
        };
        (shape, Origin::Flags)
    } else if let Some(l) = load_scenario {
        let shape = match l.scaled(args.scale, args.duration_scale) {
            LoadShape::Open {
                stages,
                arrivals: a,
                connections,
                max_in_flight,
            } => open(stages, a, max_in_flight, connections),
            closed => closed,
        };
        (shape, Origin::Flags)
    } else {
        let users = args.users.unwrap_or(profile.users);
        let spawn_rate = args.spawn_rate.unwrap_or(profile.spawn_rate);
        if users == 0 {
            return Err(bad("the profile's users must be at least 1".into()));
        }
        let stages = locust_ramp(users, spawn_rate, length);
        let reached = stages.first().map_or(0.0, |s| s.target);
        if reached < f64::from(users) {
            notes.push(format!(
                "at --spawn-rate {spawn_rate}/s the run reaches {reached:.0} of {users} users in its {}: users arrive at the spawn rate, as in Locust (a longer -t or a higher -r reaches them all)",
                humantime(length)
            ));
        }
        let origin = match (args.users, args.spawn_rate, args.run_time) {
            (Some(_), Some(_), Some(_)) => Origin::Flags,
            _ => Origin::Profile,
        };
        (LoadShape::Closed { stages }, origin)
    })
}

/// A synthetic load that rises above 0 and stays under the ceilings (users or rate, 30 days).
fn within_ceilings(shape: &LoadShape) -> Result<(), Fail> {
    if shape.peak() <= 0.0 {
        return Err(bad("the load never rises above 0".into()));
    }
    let (what, max) = if shape.is_open() {
        ("arrivals per second", MAX_RATE)
    } else {
        ("users", f64::from(MAX_USERS))
    };
    // NaN is no load either: only a number up to the ceiling passes.
    if shape.peak().partial_cmp(&max) == Some(std::cmp::Ordering::Greater) || shape.peak().is_nan()
    {
        return Err(bad(format!(
            "the load peaks at {} {what}, over the ceiling of {max}",
            shape.peak()
        )));
    }
    if shape.duration() > crate::limits::MAX_DURATION {
        return Err(bad(
            "the load's stages last over the ceiling of 30 days".into()
        ));
    }
    Ok(())
}

/// The targets the run is judged on: its classes' endpoints', the percentile and `--slo`s.
fn targets_of(
    args: &RunArgs,
    scenario: &Scenario,
    classes: &[(usize, u32)],
) -> Result<Targets, Fail> {
    let class_refs: Vec<_> = classes
        .iter()
        .map(|(i, _)| &scenario.user_classes[*i])
        .collect();
    let mut targets = scenario.targets_for(&class_refs);
    if let Some(p) = args.target_percentile {
        targets.percentile = p;
    }
    let known: Vec<&str> = scenario.endpoints.iter().map(|e| e.name.as_str()).collect();
    crate::flags::apply_slos(
        &mut targets,
        &args.slo,
        args.target_percentile,
        Some(&known),
    )
    .map_err(bad)?;
    Ok(targets)
}

/// The most requests per second the load offers before `run_time` ends. A search offers
/// what its steps find (infinite here): its throughput tiers are judged on what was served.
fn offered_rps_of(
    search: bool,
    shape: &LoadShape,
    run_time: Option<Duration>,
    scenario: &Scenario,
    classes: &[(usize, u32)],
) -> f64 {
    let until = run_time.unwrap_or(Duration::MAX);
    if search {
        f64::INFINITY
    } else if shape.is_open() {
        shape.peak_before(until)
    } else {
        per_user_rps(scenario, classes) * shape.peak_before(until)
    }
}

/// Requests per second one user of the mix sends: each class's weight over its mean wait.
fn per_user_rps(scenario: &Scenario, classes: &[(usize, u32)]) -> f64 {
    let total_weight: f64 = classes.iter().map(|(_, w)| f64::from(*w)).sum();
    classes
        .iter()
        .map(|(i, w)| {
            let (lo, hi) = scenario.user_classes[*i].wait;
            let mean = (lo + hi).as_secs_f64() / 2.0;
            f64::from(*w) / total_weight / mean.max(1e-3)
        })
        .sum()
}

/// A step not settled after its minimum hold is held up to this many times as long.
const STEP_MAX_HOLDS: f64 = 3.0;

#[cfg(test)]
mod tests;
