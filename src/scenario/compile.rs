//! From the TOML form to a checked [`Scenario`]: every name resolved, every range valid, each
//! error located at the table it comes from.

use std::collections::BTreeMap;
use std::time::Duration;

use aurax_schema::ThroughputTiers;

use toml::Spanned;

use super::file::{EndpointDef, LoadScenarioDef, ProfileDef, ScenarioFile, UserClassDef};
use super::load::LoadScenario;
use super::template::BodyTemplate;
use super::{Endpoint, Profile, Scenario, SuccessCheck, UserClass, WeightedTasks, load, template};
use crate::duration::parse_duration;

type Located = (Option<std::ops::Range<usize>>, String);

pub(super) fn compile(raw: ScenarioFile) -> Result<Scenario, Located> {
    let endpoints = raw
        .endpoints
        .iter()
        .map(|(name, def)| endpoint(name, def))
        .collect::<Result<Vec<_>, _>>()?;
    let targets_span = raw.targets.as_ref().map(|t| t.span());
    let targets = raw.targets.as_ref().map(|t| t.get_ref());
    check_targets(targets).map_err(|m| (targets_span, m))?;
    let error_rate_tiers: BTreeMap<String, f64> = targets
        .and_then(|t| t.error_rate.clone())
        .unwrap_or_else(|| BTreeMap::from([("normal".to_string(), 0.01)]));
    let user_classes = raw
        .user_classes
        .iter()
        .map(|(name, def)| user_class(name, def, &endpoints, &error_rate_tiers))
        .collect::<Result<Vec<_>, _>>()?;
    if user_classes.is_empty() {
        return Err((None, "the scenario defines no user_classes".into()));
    }
    let profiles = raw
        .profiles
        .iter()
        .map(|(name, def)| Ok((name.clone(), profile(name, def, &user_classes)?)))
        .collect::<Result<BTreeMap<_, _>, Located>>()?;
    let load_scenarios = raw
        .scenarios
        .iter()
        .map(|(name, def)| Ok((name.clone(), load_scenario(name, def, &user_classes)?)))
        .collect::<Result<BTreeMap<_, _>, Located>>()?;
    let throughput = targets
        .and_then(|t| t.throughput_rps.as_ref())
        .map(|t| ThroughputTiers {
            minimum_rps: t.minimum,
            target_rps: t.target,
            peak_rps: t.peak,
        })
        .unwrap_or(ThroughputTiers {
            minimum_rps: 10.0,
            target_rps: 50.0,
            peak_rps: 100.0,
        });
    Ok(Scenario {
        name: raw.name.unwrap_or_else(|| "scenario".into()),
        ollama: ollama_url(raw.monitoring.ollama.as_ref())?,
        base_path: raw.defaults.base_path.trim_end_matches('/').to_string(),
        headers: raw.defaults.headers.into_iter().collect(),
        endpoints,
        user_classes,
        profiles,
        load_scenarios,
        percentile: targets.and_then(|t| t.percentile).unwrap_or(95.0),
        throughput,
        error_rate_tiers,
    })
}

/// An `[endpoints.NAME]` table: a known method, a path from the root, its body template, its
/// success check and latency target.
fn endpoint(name: &str, def: &Spanned<EndpointDef>) -> Result<Endpoint, Located> {
    let span = Some(def.span());
    let def = def.get_ref();
    let method = def.method.to_ascii_uppercase();
    if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(&method.as_str()) {
        return Err((
            span,
            format!("endpoint {name}: unknown method `{}`", def.method),
        ));
    }
    if !def.path.starts_with('/') {
        return Err((span, format!("endpoint {name}: path must start with `/`")));
    }
    let body = match &def.body {
        Some(v) => Some(
            BodyTemplate::compile(v, &format!("endpoints.{name}.body"))
                .map_err(|m| (span.clone(), m))?,
        ),
        None => None,
    };
    let check = SuccessCheck {
        status: def.check.status.clone(),
        equals: def
            .check
            .equals
            .iter()
            .map(|(k, v)| (k.clone(), template::toml_to_json(v)))
            .collect(),
        present: def.check.present.clone(),
        error_field: def
            .check
            .error_field
            .clone()
            .unwrap_or_else(|| "error".into()),
    };
    let target_ms = match def.target_ms {
        Some(t) if !(t.is_finite() && t > 0.0) => {
            return Err((
                span,
                format!(
                    "endpoint {name}: target_ms = {t}: expected a positive number of milliseconds, e.g. 5000"
                ),
            ));
        }
        t => t,
    };
    Ok(Endpoint {
        name: name.to_string(),
        method,
        path: def.path.clone(),
        target_ms,
        body,
        headers: def
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        check,
        stream: def.stream,
    })
}

/// A `[user_classes.NAME]` table: its wait range, its tasks' cumulative weights (each task an
/// endpoint of the scenario), the tasks it runs on start and an error-rate tier of the
/// targets.
fn user_class(
    name: &str,
    def: &Spanned<UserClassDef>,
    endpoints: &[Endpoint],
    error_rate_tiers: &BTreeMap<String, f64>,
) -> Result<UserClass, Located> {
    let span = Some(def.span());
    let def = def.get_ref();
    let find = |task: &str| {
        endpoints
            .iter()
            .position(|e| e.name == task)
            .ok_or_else(|| {
                let known: Vec<&str> = endpoints.iter().map(|e| e.name.as_str()).collect();
                (
                    span.clone(),
                    format!(
                        "user class {name}: `{task}` is not an endpoint (known: {})",
                        known.join(", ")
                    ),
                )
            })
    };
    let [lo, hi] = def.wait_s;
    if !(lo >= 0.0 && hi >= lo && hi <= crate::limits::MAX_DURATION.as_secs_f64()) {
        return Err((
            span,
            format!(
                "user class {name}: wait_s must be [low, high] seconds with 0 <= low <= high <= 30 days"
            ),
        ));
    }
    let mut cumulative = Vec::new();
    let mut total = 0u64;
    for (task, weight) in &def.tasks {
        let id = find(task)?;
        if *weight > 0 {
            total += u64::from(*weight);
            cumulative.push((total, id));
        }
    }
    if total == 0 {
        return Err((
            span,
            format!("user class {name}: needs at least one task with a weight above 0"),
        ));
    }
    let on_start = def
        .on_start
        .iter()
        .map(|t| find(t))
        .collect::<Result<_, _>>()?;
    let tier = def
        .error_rate_tier
        .clone()
        .unwrap_or_else(|| "normal".into());
    if !error_rate_tiers.contains_key(&tier) {
        let known: Vec<&String> = error_rate_tiers.keys().collect();
        return Err((
            span,
            format!(
                "user class {name}: error_rate_tier `{tier}` is not in targets.error_rate ({known:?})"
            ),
        ));
    }
    Ok(UserClass {
        name: name.to_string(),
        wait: (Duration::from_secs_f64(lo), Duration::from_secs_f64(hi)),
        on_start,
        tasks: WeightedTasks { cumulative, total },
        error_rate_tier: tier,
        weight: def.weight.unwrap_or(1).max(1),
    })
}

/// A `[profiles.NAME]` table: a run time, users and a spawn rate in range, known classes.
fn profile(
    name: &str,
    def: &Spanned<ProfileDef>,
    user_classes: &[UserClass],
) -> Result<Profile, Located> {
    let span = Some(def.span());
    let def = def.get_ref();
    let run_time = parse_duration(&def.run_time)
        .map_err(|e| (span.clone(), format!("profile {name}: run_time: {e}")))?;
    if def.user_classes.is_empty() {
        return Err((
            span,
            format!("profile {name}: user_classes is empty: name at least one class"),
        ));
    }
    if !(def.spawn_rate > 0.0 && def.spawn_rate <= crate::limits::MAX_SPAWN_RATE)
        || def.users > crate::limits::MAX_USERS
    {
        return Err((
            span,
            format!(
                "profile {name}: users must be at most {} and spawn_rate above 0 and at most {}",
                crate::limits::MAX_USERS,
                crate::limits::MAX_SPAWN_RATE
            ),
        ));
    }
    if let Some(class) = def
        .user_classes
        .iter()
        .find(|class| !user_classes.iter().any(|c| &c.name == *class))
    {
        return Err((
            span,
            format!("profile {name}: unknown user class `{class}`"),
        ));
    }
    Ok(Profile {
        users: def.users,
        spawn_rate: def.spawn_rate,
        run_time,
        user_classes: def.user_classes.clone(),
    })
}

/// A `[scenarios.NAME]` table (a load shape), its classes known.
fn load_scenario(
    name: &str,
    def: &Spanned<LoadScenarioDef>,
    user_classes: &[UserClass],
) -> Result<LoadScenario, Located> {
    let span = Some(def.span());
    let compiled = load::compile(name, def.get_ref()).map_err(|m| (span.clone(), m))?;
    for class in &compiled.classes {
        let class_name = class.split(':').next().unwrap_or(class);
        if !user_classes.iter().any(|c| c.name == class_name) {
            return Err((
                span,
                format!("scenario {name}: unknown user class `{class_name}`"),
            ));
        }
    }
    Ok(compiled)
}

/// `[monitoring] ollama`: an http(s) URL, without its trailing slash.
fn ollama_url(url: Option<&Spanned<String>>) -> Result<Option<String>, Located> {
    match url {
        Some(url)
            if !(url.get_ref().starts_with("http://") || url.get_ref().starts_with("https://")) =>
        {
            Err((
                Some(url.span()),
                format!(
                    "monitoring.ollama: `{}` is no URL such as http://127.0.0.1:11434",
                    crate::redact::url(url.get_ref())
                ),
            ))
        }
        Some(url) => Ok(Some(url.get_ref().trim_end_matches('/').to_string())),
        None => Ok(None),
    }
}

/// The `[targets]` table's values in range: a percentile in (0, 100], error-rate tiers as
/// shares in [0, 1) (`1` would be 100%: a tier no run could miss), tiers of throughput
/// finite and not negative.
fn check_targets(targets: Option<&super::file::TargetsDef>) -> Result<(), String> {
    let Some(t) = targets else { return Ok(()) };
    if let Some(p) = t.percentile
        && !(p > 0.0 && p <= 100.0)
    {
        return Err(format!(
            "targets.percentile = {p}: expected a percentile above 0 and at most 100, e.g. 95"
        ));
    }
    for (tier, share) in t.error_rate.iter().flatten() {
        if !(*share >= 0.0 && *share < 1.0) {
            return Err(format!(
                "targets.error_rate.{tier} = {share}: expected a share of the requests from 0 up to 1 (not included), e.g. 0.01 for 1%"
            ));
        }
    }
    if let Some(tp) = &t.throughput_rps {
        for (tier, rps) in [
            ("minimum", tp.minimum),
            ("target", tp.target),
            ("peak", tp.peak),
        ] {
            if !(rps.is_finite() && rps >= 0.0) {
                return Err(format!(
                    "targets.throughput_rps.{tier} = {rps}: expected requests per second, 0 or more"
                ));
            }
        }
    }
    Ok(())
}

/// 1-based line and column of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
