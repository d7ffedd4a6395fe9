//! Per endpoint and per model: what each part of the mix was offered and served at every load
//! level, and where it saturated, judged on **its own** offered rate.
//!
//! AURAX is several models of different capacities behind one `/generate`: when a model that
//! serves a tenth of the mix saturates, its queue grows while the run's totals still serve
//! over 95% of what is offered. So every saturation signal of the totals
//! ([`crate::breaking::saturation_signals`]: served below offered, throughput knee, latency
//! knee) runs on each endpoint's own flows too, and on each model's (the endpoints whose
//! responses name it, `model_used`, summed: two endpoints on one model share its slots).
//!
//! An endpoint's levels are the run's load levels, merged in order of load until each holds
//! at least [`MIN_LEVEL_REQUESTS`] of its own arrivals: a 10% endpoint of a short ramp has a
//! few requests per level of the run, too few to judge one.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use crate::breaking::{OwnRates, Signal, SignalKind, saturation_signals};
use crate::frame::{CollectStreaming, f64s, strs};
use crate::levels::{LevelFlows, LoadLevel, MIN_LEVEL_REQUESTS};
use crate::ranks::Ranks;
use crate::windows::{Flows, Window};

/// An endpoint (or a model) needs this many load levels of its own for a knee to be judged;
/// served below offered (a queue that grows, arrivals dropped) is judged from one: a steady
/// rate above a model's capacity is a single level.
const MIN_GROUP_LEVELS: usize = 4;

/// One load level of one endpoint (or model): its own flows, and the mix's at that level.
#[derive(Debug, Clone, Serialize)]
pub struct GroupLevel {
    /// Its own arrivals, completions, in flight and latency, at the mix's load (`load`).
    #[serde(flatten)]
    pub own: LoadLevel,
    /// Arrivals per second of the whole mix over the same windows.
    pub mix_offered_rps: f64,
    /// Successful completions per second of the whole mix over the same windows.
    pub mix_succeeded_rps: f64,
    /// Share of its arrivals that succeeded within its response-time target (None without
    /// one): the figure a latency target is judged on ([`crate::slo`]).
    pub attainment: Option<f64>,
}

/// Whether a group is one endpoint or one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// One endpoint of the scenario.
    Endpoint,
    /// One model (`model_used`), over the endpoints whose responses name it.
    Model,
}

/// One endpoint's (or model's) part of the mix, level by level.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// The endpoint's name, or the model's tag.
    pub name: String,
    /// Endpoint or model.
    pub kind: GroupKind,
    /// For an endpoint, the model most of its responses name; for a model, its endpoints.
    pub models: Vec<String>,
    /// For a model, its endpoints; for an endpoint, itself.
    pub endpoints: Vec<String>,
    /// Its arrivals over the run.
    pub arrivals: f64,
    /// Its share of the task mix: as configured for an open model that recorded it
    /// (`task_mix`), else of the arrivals measured (users' `on_start` requests left out).
    pub share: f64,
    /// Its levels, lowest load first.
    pub levels: Vec<GroupLevel>,
    /// Its saturation signals, lowest load first (each names it).
    pub signals: Vec<Signal>,
    /// Whether it had a level of its own to be judged (20 arrivals): for served below
    /// offered; the knees need 4.
    pub judged: bool,
}

impl Group {
    /// Its first saturation signal: where it ran out of capacity.
    pub fn saturated_at(&self) -> Option<&Signal> {
        self.signals.first()
    }

    /// Its levels as the breaking and scaling rules take them.
    pub fn own_levels(&self) -> Vec<&LoadLevel> {
        self.levels.iter().map(|l| &l.own).collect()
    }

    /// The level a signal of its own fired at (by when the level began).
    pub fn level_of(&self, signal: &Signal) -> Option<&GroupLevel> {
        self.levels.iter().find(|l| l.own.first_s == signal.at_s)
    }
}

/// Every endpoint's and every model's levels and saturation signals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Groups {
    /// Per endpoint, by name.
    pub endpoints: Vec<Group>,
    /// Per model (where responses name one), by tag.
    pub models: Vec<Group>,
}

impl Groups {
    /// The endpoints of the task mix that had levels enough of their own to be judged.
    fn judged(&self) -> impl Iterator<Item = &Group> {
        self.endpoints.iter().filter(|g| g.judged && g.share > 0.0)
    }

    /// Whether the mix was judged per endpoint: two endpoints of its tasks or more with
    /// levels enough of their own. Then the breaking point and the capacity come from them.
    pub fn per_endpoint(&self) -> bool {
        self.judged().count() > 1
    }

    /// The most the mix, in its proportions, was served successfully: each endpoint of the
    /// task mix's most successes per second at a level of its own over its share, the lowest
    /// of them. A mix whose generations fail is not carried by its cheap calls: 2,000 status
    /// checks a second beside 9 generations are a mix served at about 20 req/s, not 2,000.
    /// None where no endpoint has a trusted level of its own; else the rate and the endpoint
    /// that sets it.
    pub fn mix_served_rps(&self) -> Option<(f64, &str)> {
        self.endpoints
            .iter()
            .filter(|g| g.share > 0.0)
            .filter_map(|g| {
                let most = g
                    .levels
                    .iter()
                    .filter(|l| l.own.trusted())
                    .map(|l| l.own.succeeded_rps)
                    .fold(f64::NAN, f64::max);
                most.is_finite().then(|| (most / g.share, g.name.as_str()))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// Every judged endpoint's saturation signals, for the breaking point; None unless the
    /// mix was judged per endpoint.
    pub fn endpoint_signals(&self) -> Option<Vec<Signal>> {
        self.per_endpoint().then(|| {
            self.judged()
                .flat_map(|g| g.signals.iter().cloned())
                .collect()
        })
    }
}

/// Each endpoint's share of the task mix as the run configured it (`task_mix` in the run
/// configuration: an open model's draws), when it recorded one.
fn configured_mix(source: &crate::source::Source) -> Option<BTreeMap<String, f64>> {
    let mix = source.config.as_ref()?.get("task_mix")?.as_object()?;
    Some(
        mix.iter()
            .filter_map(|(endpoint, share)| Some((endpoint.clone(), share.as_f64()?)))
            .collect(),
    )
}

/// What the run's levels are made of, as [`groups`] needs it.
pub struct RunLevels<'a> {
    /// The timeline's windows.
    pub windows: &'a [Window],
    /// Each window's load level (as [`crate::levels::window_levels`] binned it).
    pub window_levels: &'a [f64],
    /// The run's levels, lowest load first.
    pub levels: &'a [LoadLevel],
    /// How the run is cut into those windows.
    pub grid: crate::grid::Grid,
}

/// Per endpoint and per model: levels and saturation signals. `lf` is the loaded rows
/// ([`crate::source::load`]) with `win` ([`crate::windows::with_window`]); `flows`, each
/// endpoint's per window ([`crate::windows::group_flows`]).
pub fn groups(
    lf: &LazyFrame,
    flows: &[(String, Vec<Flows>)],
    ranks: &Ranks,
    run: &RunLevels,
    source: &crate::source::Source,
    unit: &str,
) -> Result<Groups, crate::AnalysisError> {
    let targets = &source.targets;
    let n_windows = run.windows.len();
    let model_of = dominant_models(lf)?;
    // A model's flows are its endpoints' summed (arrivals, completions and in flight add up).
    let mut model_flows: BTreeMap<String, (Vec<String>, Vec<Flows>)> = BTreeMap::new();
    for (endpoint, f) in flows {
        let Some(model) = model_of.get(endpoint) else {
            continue;
        };
        let (endpoints, sum) = model_flows
            .entry(model.clone())
            .or_insert_with(|| (Vec::new(), vec![Flows::default(); n_windows]));
        endpoints.push(endpoint.clone());
        for (s, w) in sum.iter_mut().zip(f) {
            s.add(w);
        }
    }
    // Shares of the task mix: each user's `on_start` requests are load, but no part of it.
    let on_start = on_start_arrivals(source)?;
    let mix_arrivals = |endpoints: &[String], flows: &[Flows]| {
        let all: f64 = flows.iter().map(|f| f.arrivals).sum();
        let once: f64 = endpoints.iter().filter_map(|e| on_start.get(e)).sum();
        (all - once).max(0.0)
    };
    let total_arrivals: f64 = flows
        .iter()
        .map(|(e, f)| mix_arrivals(std::slice::from_ref(e), f))
        .sum();
    // The shares an open model drew from, where the run recorded them: its capacity is the
    // configured mix's (a short run's drawn shares wander: image drawn 9.2% of a 10% mix put
    // its capacity 9% high). Else the shares measured.
    let configured = configured_mix(source);
    let share_of = |endpoints: &[String], f: &[Flows]| match &configured {
        Some(mix) => endpoints.iter().filter_map(|e| mix.get(e)).sum(),
        None => mix_arrivals(endpoints, f) / total_arrivals.max(1e-9),
    };
    let mut plans: Vec<(Group, Vec<Vec<usize>>)> = Vec::new();
    for (name, f) in flows {
        let models = model_of.get(name).cloned().into_iter().collect();
        let share = share_of(std::slice::from_ref(name), f);
        plans.push(plan_group(
            name,
            GroupKind::Endpoint,
            models,
            vec![name.clone()],
            f,
            run,
            share,
        ));
    }
    for (model, (endpoints, f)) in &model_flows {
        let share = share_of(endpoints, f);
        plans.push(plan_group(
            model,
            GroupKind::Model,
            Vec::new(),
            endpoints.clone(),
            f,
            run,
            share,
        ));
    }
    let p95s = bucket_p95s(ranks, &plans);
    let mut out = Groups::default();
    for (i, (mut group, _)) in plans.into_iter().enumerate() {
        let target = match group.kind {
            GroupKind::Endpoint => targets.endpoint_target_ms(&group.name),
            GroupKind::Model => None,
        };
        for (b, level) in group.levels.iter_mut().enumerate() {
            if let Some(&p95_us) = p95s.get(&(i, b)) {
                level.own.p95_ms = p95_us / 1000.0;
            }
            level.attainment = target.and(level.attainment);
        }
        let trusted: Vec<&LoadLevel> = group
            .own_levels()
            .into_iter()
            .filter(|l| l.trusted())
            .collect();
        let judged = !trusted.is_empty();
        let knees = trusted.len() >= MIN_GROUP_LEVELS;
        if judged {
            let mut signals: Vec<Signal> = saturation_signals(&trusted, &group.name, unit)
                .into_iter()
                .filter(|s| knees || s.signal == SignalKind::ServedBelowOffered)
                .filter(|s| {
                    s.signal != SignalKind::ThroughputKnee || queued_or_refused(&trusted, s)
                })
                .map(|s| own_signal(&group, s))
                .collect();
            signals.sort_by(|a, b| a.load.total_cmp(&b.load).then(a.signal.cmp(&b.signal)));
            group.signals = signals;
        }
        group.judged = judged;
        match group.kind {
            GroupKind::Endpoint => out.endpoints.push(group),
            GroupKind::Model => out.models.push(group),
        }
    }
    Ok(out)
}

/// A plateau of an endpoint's successes is saturation only with a sign of it: its own
/// arrivals outgrew its successes over the plateau (a queue or refusals), or its latency at
/// least doubled from its lowest. Else the endpoint's own offered rate simply stopped growing
/// (a 5% endpoint's arrivals wander with the mix's random draws).
fn queued_or_refused(levels: &[&LoadLevel], knee: &Signal) -> bool {
    let plateau: Vec<&&LoadLevel> = levels.iter().filter(|l| l.load >= knee.load).collect();
    let arrivals: f64 = plateau.iter().map(|l| l.arrivals).sum();
    let succeeded: f64 = plateau.iter().map(|l| l.succeeded).sum();
    let lowest = levels
        .iter()
        .map(|l| l.mean_latency_ms)
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let last = plateau.last().map_or(f64::NAN, |l| l.mean_latency_ms);
    arrivals > succeeded * (1.0 + PLATEAU_EXCESS) || last >= 2.0 * lowest
}

/// Over the plateau, arrivals beyond successes by more than this share are a queue or
/// refusals.
const PLATEAU_EXCESS: f64 = 0.10;

/// A group's signal, named, with its own rates beside the mix's at that level, and the mix's
/// rate it stands for: its own offered rate over its share of the mix (the mix, at its
/// average proportions, binds there; a level's own share wanders with the mix's random
/// draws, so the level's measured mix rate would not say where).
fn own_signal(group: &Group, mut s: Signal) -> Signal {
    if let Some(l) = group.level_of(&s) {
        s.own = Some(OwnRates {
            offered_rps: l.own.offered_rps,
            succeeded_rps: l.own.succeeded_rps,
            mix_equivalent_rps: (group.share > 0.0).then(|| l.own.offered_rps / group.share),
        });
        s.offered_rps = l.mix_offered_rps;
        s.succeeded_rps = l.mix_succeeded_rps;
    }
    s.endpoint = Some(group.name.clone());
    s
}

/// Per endpoint, how many of its arrivals were users' `on_start` requests: each user of a
/// class (a distinct `(worker_id, user_id)`) sent its class's once.
fn on_start_arrivals(
    source: &crate::source::Source,
) -> Result<BTreeMap<String, f64>, crate::AnalysisError> {
    let on_start = &source.on_start;
    let mut out = BTreeMap::new();
    if on_start.is_empty() {
        return Ok(out);
    }
    // Users are a side question: the files are scanned for their three columns.
    let df = crate::source::scan(source)?
        .group_by([col("user_class")])
        .agg([(col("worker_id") * lit(1i64 << 32) + col("user_id"))
            .n_unique()
            .cast(DataType::Float64)
            .alias("users")])
        .collect_streaming()?;
    let (classes, users) = (strs(&df, "user_class")?, f64s(&df, "users")?);
    for (class, users) in classes.into_iter().zip(users) {
        for endpoint in class.and_then(|c| on_start.get(&c)).into_iter().flatten() {
            *out.entry(endpoint.clone()).or_insert(0.0) += users;
        }
    }
    Ok(out)
}

/// The model most of each endpoint's responses name (`model_used`).
fn dominant_models(lf: &LazyFrame) -> PolarsResult<BTreeMap<String, String>> {
    let df = lf
        .clone()
        .filter(col("model_used").is_not_null())
        .group_by([col("endpoint"), col("model_used")])
        .agg([len().cast(DataType::Float64).alias("n")])
        .sort(
            ["n"],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .collect_streaming()?;
    let (endpoints, models) = (strs(&df, "endpoint")?, strs(&df, "model_used")?);
    let mut out = BTreeMap::new();
    for (e, m) in endpoints.into_iter().zip(models) {
        if let (Some(e), Some(m)) = (e, m) {
            out.entry(e).or_insert(m);
        }
    }
    Ok(out)
}

/// A group's levels from its flows (latencies filled in later), and the windows of each.
fn plan_group(
    name: &str,
    kind: GroupKind,
    models: Vec<String>,
    endpoints: Vec<String>,
    flows: &[Flows],
    run: &RunLevels,
    share: f64,
) -> (Group, Vec<Vec<usize>>) {
    // The run's levels in order of load, merged until each holds enough of its arrivals.
    let mut buckets: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut arrivals = 0.0;
    for level in run.levels {
        let wins: Vec<usize> = (0..run.windows.len())
            .filter(|&i| run.window_levels[i] == level.load)
            .collect();
        arrivals += wins.iter().map(|&i| flows[i].arrivals).sum::<f64>();
        current.extend(wins);
        if arrivals >= MIN_LEVEL_REQUESTS {
            buckets.push(std::mem::take(&mut current));
            arrivals = 0.0;
        }
    }
    if !current.is_empty() {
        match buckets.last_mut() {
            Some(last) => last.extend(current),
            None => buckets.push(current),
        }
    }
    let own_arrivals: f64 = flows.iter().map(|f| f.arrivals).sum();
    let levels = buckets
        .iter()
        .map(|wins| group_level(flows, wins, run))
        .collect();
    let group = Group {
        name: name.to_string(),
        kind,
        models,
        endpoints,
        arrivals: own_arrivals,
        share,
        levels,
        signals: Vec::new(),
        judged: false,
    };
    (group, buckets)
}

/// One merged level of a group: its flows summed over the windows, the mix's beside them.
fn group_level(flows: &[Flows], wins: &[usize], run: &RunLevels) -> GroupLevel {
    let sum = |f: &dyn Fn(usize) -> f64| wins.iter().map(|&i| f(i)).sum::<f64>();
    let seconds = sum(&|i| run.windows[i].seconds).max(1e-9);
    let arrivals = sum(&|i| flows[i].arrivals);
    let first = wins.first().copied().unwrap_or(0);
    // The generator's own in-flight count and its lateness are the run's, not an
    // endpoint's: they stay NaN here. Its mean latency comes from its flows, its p95 from
    // the one sort ([`bucket_p95s`]).
    let sent = sum(&|i| flows[i].sent());
    let mut own = LoadLevel::from_flows(LevelFlows {
        // The lowest of the run's levels merged here: where this level of its own began.
        load: wins
            .iter()
            .map(|&i| run.window_levels[i])
            .fold(f64::INFINITY, f64::min),
        seconds,
        first_s: run.windows.get(first).map_or(0.0, |w| w.start_s),
        arrivals,
        dropped: sum(&|i| flows[i].dropped),
        failures: sum(&|i| flows[i].failures),
        completions: sum(&|i| flows[i].completions),
        succeeded: sum(&|i| flows[i].succeeded),
        good: sum(&|i| flows[i].good),
        in_flight_seconds: sum(&|i| flows[i].in_flight_mean * run.windows[i].seconds),
        in_flight_start: flows.get(first).map_or(0.0, |f| f.in_flight_start),
    });
    // Of the requests sent at this level (any outcome), for Little's law and the plateau.
    if sent > 0.0 {
        own.mean_latency_ms = sum(&|i| flows[i].sent_latency_us) / sent / 1000.0;
    }
    GroupLevel {
        own,
        mix_offered_rps: sum(&|i| run.windows[i].arrivals) / seconds,
        mix_succeeded_rps: sum(&|i| run.windows[i].succeeded) / seconds,
        // By send time: of the arrivals at this level, the share that succeeded in time.
        attainment: crate::slo::attainment(sum(&|i| flows[i].within), arrivals),
    }
}

/// The p95 (successful requests) of every group's every level, from the one sort
/// ([`Ranks`]): a pass for the endpoints' levels, one for the models'. A model's rows are
/// its endpoints' (as its flows are), whatever model each response named.
fn bucket_p95s(ranks: &Ranks, plans: &[(Group, Vec<Vec<usize>>)]) -> BTreeMap<(usize, usize), f64> {
    // Per group, each window's level of its own.
    let bucket_of: Vec<Vec<Option<usize>>> = plans
        .iter()
        .map(|(_, buckets)| {
            let n = buckets.iter().flatten().max().map_or(0, |w| w + 1);
            let mut of = vec![None; n];
            for (b, wins) in buckets.iter().enumerate() {
                for &w in wins {
                    of[w] = Some(b);
                }
            }
            of
        })
        .collect();
    let most = plans.iter().map(|(_, b)| b.len()).max().unwrap_or(0);
    let mut p95s = BTreeMap::new();
    for kind in [GroupKind::Endpoint, GroupKind::Model] {
        // Each endpoint is in one group of each kind at most: its own, its dominant model's.
        let mut plan_of: BTreeMap<usize, usize> = BTreeMap::new();
        for (g, (plan, _)) in plans
            .iter()
            .enumerate()
            .filter(|(_, (p, _))| p.kind == kind)
        {
            for e in plan.endpoints.iter().filter_map(|e| ranks.endpoint(e)) {
                plan_of.insert(e, g);
            }
        }
        let ranked = ranks.quantiles(plans.len() * most, &[0.95], |k| {
            let g = *plan_of.get(&k.endpoint)?;
            Some(g * most + bucket_of[g].get(k.win).copied().flatten()?)
        });
        for (r, q) in ranked.iter().enumerate().filter(|(_, q)| q.n > 0) {
            p95s.insert((r / most, r % most), q.values[0]);
        }
    }
    p95s
}
