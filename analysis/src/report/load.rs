//! The report's sections on what the load showed: the breaking point and the load levels,
//! the scaling thresholds and capacity by endpoint and model, and a capacity search's steps.

use super::cells::{capitalise, opt_ms};
use super::model::{Block, Section, Table, Text};
use crate::Analysis;
use crate::charts::ChartFile;
use crate::insights::pct;
use crate::judge::format_ms;
use crate::units::rps;

pub(super) fn breaking(a: &Analysis, charts: &[ChartFile]) -> Section {
    let mut s = Section::new("Breaking point");
    s.para(capitalise(&a.breaking.verdict));
    s.list(
        false,
        a.breaking
            .standing
            .iter()
            .map(|p| {
                Text::from(format!(
                    "Not a breaking point, but a standing problem: {p}."
                ))
            })
            .collect(),
    );
    let unit = a.source.load_unit();
    let mut t = Table::with([
        "signal",
        "of",
        format!("load ({unit})>").as_str(),
        "mix offered req/s>",
        "mix served successfully req/s>",
        "its own offered req/s>",
        "at s>",
        "detail",
    ]);
    for sig in &a.breaking.signals {
        t.row(vec![
            sig.signal.name().into(),
            sig.endpoint
                .as_deref()
                .map_or(Text::from("the whole mix"), |e| Text::new().code(e)),
            format!("{:.0}", sig.load).into(),
            format!("{:.1}", sig.offered_rps).into(),
            format!("{:.1}", sig.succeeded_rps).into(),
            sig.own
                .map_or("–".to_string(), |o| format!("{:.1}", o.offered_rps))
                .into(),
            format!("{:.0}", sig.at_s).into(),
            sig.detail.clone().into(),
        ]);
    }
    s.table(t);
    if let Some(u) = &a.usl {
        // The fit extrapolates: without a coherency penalty it has no peak, only the
        // asymptote λ/σ (a 100 req/s target's fit read "peak throughput 633.7 req/s at none
        // within reach").
        let peak = match u.peak_users {
            Some(n) if n >= 1.0 => format!(
                "the fitted curve peaks at {:.1} req/s at {n:.0} users (the model's, not a measured capacity)",
                u.peak_throughput_rps
            ),
            _ if u.peak_throughput_rps.is_finite() => format!(
                "with no coherency penalty the fitted curve has no peak: it approaches λ/σ = {:.1} req/s as users grow (the model's limit, not a measured capacity)",
                u.peak_throughput_rps
            ),
            _ => "with no contention or coherency penalty the fitted curve has no peak (the model's, not a capacity)".to_string(),
        };
        s.para(format!(
            "Universal Scalability Law fit X(N) = λN / (1 + σ(N−1) + κN(N−1)): λ = {:.2} req/s per user, σ = {:.4}, κ = {:.6} (R² = {:.3}); {peak}.",
            u.lambda, u.sigma, u.kappa, u.r_squared
        ));
    }
    s.para(format!(
        "Per load level. Offered: arrivals per second (dropped ones included). Served: completions per second in the level's own time, by completion time (send + latency), so a target that queues serves its capacity here however much is sent; succeeded and goodput (succeeded within target) likewise. In flight: requests sent and not yet completed, time-averaged and exact from the rows; Δ in flight: how many more there were at the level's end than at its start (sent − completed): a queue that grows. p95 of successful requests sent at the level. Little's law checks the generator's own in-flight count against served × latency. Levels with fewer than {:.0} arrivals are shown but not judged.",
        crate::levels::MIN_LEVEL_REQUESTS
    ));
    s.table(levels_table(a));
    if let Some(g) = a
        .scaling
        .limiting
        .as_ref()
        .and_then(|l| a.groups.endpoints.iter().find(|g| g.name == l.endpoint))
    {
        group_levels(&mut s, g, unit);
    }
    s.figure(charts, "load_curve.png");
    s
}

fn levels_table(a: &Analysis) -> Table {
    let unit = a.source.load_unit();
    let mut t = Table::with([
        format!("load ({unit})>").as_str(),
        "seconds>",
        "offered req/s>",
        "served req/s>",
        "succeeded req/s>",
        "goodput req/s>",
        "error rate>",
        "in flight>",
        "Δ in flight>",
        "p95 ms>",
        "Little's law^",
        "lateness p99 ms>",
    ]);
    for l in &a.levels {
        let little = a
            .little
            .iter()
            .find(|x| x.load == l.load)
            .map_or("–", |x| if x.holds { "holds" } else { "fails" });
        t.plain_row([
            format!("{:.0}", l.load),
            format!("{:.0}", l.seconds),
            format!("{:.1}", l.offered_rps),
            format!("{:.1}", l.served_rps),
            format!("{:.1}", l.succeeded_rps),
            format!("{:.1}", l.goodput_rps),
            pct(l.error_rate),
            format!("{:.1}", l.in_flight),
            format!("{:+.0}", l.in_flight_change),
            opt_ms(Some(l.p95_ms).filter(|v| v.is_finite())),
            little.to_string(),
            format!("{:.1}", l.lateness_p99_ms),
        ]);
    }
    t
}

/// The limiting endpoint's own flows at each of its levels: where its queue formed.
fn group_levels(s: &mut Section, g: &crate::saturation::Group, unit: &str) {
    s.para(
        Text::new().code(g.name.clone()).plain(format!(
            " on its own ({} of the mix; its levels merge the run's until each has {:.0} of its arrivals):",
            pct(g.share),
            crate::levels::MIN_LEVEL_REQUESTS
        )),
    );
    let mut t = Table::with([
        format!("load ({unit})>").as_str(),
        "mix offered req/s>",
        "its offered req/s>",
        "served req/s>",
        "succeeded req/s>",
        "in flight>",
        "Δ in flight>",
        "p95 ms>",
        "in target>",
    ]);
    for l in &g.levels {
        let own = &l.own;
        t.plain_row([
            format!("{:.0}", own.load),
            format!("{:.1}", l.mix_offered_rps),
            format!("{:.2}", own.offered_rps),
            format!("{:.2}", own.served_rps),
            format!("{:.2}", own.succeeded_rps),
            format!("{:.1}", own.in_flight),
            format!("{:+.0}", own.in_flight_change),
            opt_ms(Some(own.p95_ms).filter(|v| v.is_finite())),
            l.attainment.map_or("–".to_string(), pct),
        ]);
    }
    s.table(t);
}

pub(super) fn scaling(a: &Analysis, charts: &[ChartFile]) -> Section {
    let s = &a.scaling;
    let unit = a.source.load_unit();
    let mut sec = Section::new("Scaling thresholds");
    if let Some(l) = &s.limiting {
        sec.para(
            Text::new()
                .strong(format!("{} binds first", l.endpoint))
                .plain(format!(
                    "{}: it saturated when offered {} req/s of its own, {} req/s of the mix ({:.0} {unit}, ",
                    l.model
                        .as_deref()
                        .map_or(String::new(), |m| format!(" (model {m})")),
                    rps(l.saturated_at_own_rps),
                    rps(l.saturated_at_mix_rps),
                    l.saturated_at_load,
                ))
                .code(l.signal.clone())
                .plain(format!(
                    "), and serves at most {} req/s successfully. It is {} of the mix, so the mix as offered binds at ",
                    rps(l.capacity_rps),
                    pct(l.share),
                ))
                .strong(format!("{} req/s", rps(s.capacity_rps)))
                .plain(format!(
                    ": scale {} (or shrink its share) before anything else.",
                    l.model.as_deref().unwrap_or(&l.endpoint)
                )),
        );
    }
    match (s.scale_out_at_rps, s.scale_out_at_in_flight) {
        (Some(rate), Some(in_flight)) => {
            sec.para(
                Text::new()
                    .plain(format!(
                        "One instance {} ",
                        if s.capacity_is_lower_bound {
                            "served at least"
                        } else {
                            "serves at most"
                        }
                    ))
                    .strong(format!("{} req/s", rps(s.capacity_rps)))
                    .plain(format!(
                        " successfully ({}); with {:.0}% headroom, ",
                        s.capacity_basis,
                        s.headroom * 100.0
                    ))
                    .strong(format!("scale out at {} req/s per instance", rps(rate)))
                    .plain(". The same trigger as requests in flight per instance (what ")
                    .code("aurax_inprogress")
                    .plain(format!(
                        " would show, measured at the load levels around that rate): {in_flight:.1}{}.",
                        match (&s.limiting, s.scale_out_at_limiting_in_flight) {
                            (Some(l), Some(n)) => format!(", {n:.1} of them {}'s", l.endpoint),
                            _ => String::new(),
                        }
                    )),
            );
        }
        _ => {
            sec.para(
                Text::new()
                    .strong("No capacity and no scale-out trigger")
                    .plain(format!(
                        ": {}.",
                        s.to_find_capacity.as_deref().unwrap_or("nothing saturated")
                    )),
            );
        }
    }
    capacity_by_group(&mut sec, "endpoint", "model", &s.by_endpoint, unit);
    if s.by_model.len() > 1 {
        capacity_by_group(&mut sec, "model", "endpoints", &s.by_model, unit);
    }
    sec.figure(charts, "capacity_by_endpoint.png");
    sec.figure(charts, "endpoint_load.png");
    let mut tiers = Table::with(["seed tier", "req/s>", "instances at that trigger>"]);
    for t in &s.instances {
        tiers.plain_row([
            t.tier.clone(),
            format!("{:.0}", t.rps),
            t.instances.to_string(),
        ]);
    }
    sec.table(tiers);
    if let (Some(hpa), Some(keda)) = (&s.hpa_yaml, &s.keda_yaml) {
        sec.blocks.push(Block::Details {
            summary: "Kubernetes HPA and KEDA snippets".to_string(),
            code: vec![hpa.clone(), keda.clone()],
        });
    }
    sec
}

/// Each endpoint's (or model's) own capacity and the mix's rate at which it binds.
fn capacity_by_group(
    s: &mut Section,
    what: &str,
    with: &str,
    rows: &[crate::scaling::GroupCapacity],
    unit: &str,
) {
    // Lower bounds alone say nothing of which binds first.
    if rows.iter().all(|r| r.capacity_is_lower_bound) {
        return;
    }
    s.para(format!(
        "Capacity by {what}: what each serves successfully at its limit, its share of the task mix (users' on_start requests left out), and so the mix's rate at which it binds; headroom is how much more of the mix it takes than the {what} that binds first (≥: it never saturated, so a lower bound)."
    ));
    let mut t = Table::with([
        what,
        with,
        "share of mix>",
        "its capacity req/s>",
        "mix binds at req/s>",
        "headroom>",
        format!("saturated at ({unit})").as_str(),
    ]);
    for c in rows {
        let bound = if c.capacity_is_lower_bound {
            "≥ "
        } else {
            ""
        };
        t.row(vec![
            Text::new().code(c.name.clone()),
            c.with.join(", ").into(),
            pct(c.share).into(),
            format!("{bound}{}", rps(c.capacity_rps)).into(),
            format!("{bound}{}", rps(c.mix_capacity_rps)).into(),
            if c.headroom.is_finite() {
                format!("{bound}{:.1}x", c.headroom)
            } else {
                "–".to_string()
            }
            .into(),
            c.saturated_at
                .as_ref()
                .map_or(Text::from("never"), |(load, signal)| {
                    Text::new()
                        .plain(format!("{load:.0} ("))
                        .code(signal.clone())
                        .plain(")")
                }),
        ]);
    }
    s.table(t);
}

/// The search: its answer, the goodput at capacity and every step.
pub(super) fn capacity_search(
    c: &crate::capacity::CapacityAnswer,
    percentile: f64,
    charts: &[ChartFile],
) -> Section {
    let mut s = Section::new("Capacity search");
    s.para(Text::new().strong(format!("{}.", c.sentence)));
    s.para(format!(
        "Each step offered one arrival rate of the run's mix and was judged on the second half of its arrivals: every endpoint served at least 97% of what it was offered (its requests in flight not growing), at least {percentile}% of every endpoint's arrivals successful under its target, the error rate under the tier. The search doubled the rate until a step failed, then bisected to {:.0}%.",
        c.precision * 100.0
    ));
    let mut t = Table::with([
        "endpoint at capacity",
        "offered req/s>",
        "goodput req/s>",
        format!("p{percentile} ms>").as_str(),
        "target ms>",
    ]);
    for e in &c.goodput {
        t.row(vec![
            Text::new().code(e.endpoint.clone()),
            format!("{:.2}", e.offered_rps).into(),
            format!("{:.2}", e.goodput_rps).into(),
            opt_ms(e.judged_ms).into(),
            opt_ms(e.target_ms).into(),
        ]);
    }
    s.table(t);
    s.table(steps_table(&c.steps, percentile));
    s.figure(charts, "capacity.png");
    s
}

/// The search's steps, one row each: the same table on the terminal and in the report.
pub fn steps_table(steps: &[crate::capacity::StepVerdict], percentile: f64) -> Table {
    use crate::capacity::StepOutcome;
    let mut t = Table::with([
        "step>",
        "rate req/s>",
        "held s>",
        "offered req/s>",
        "served req/s>",
        "in flight>",
        "growth /s>",
        "errors>",
        format!("worst p{percentile} / target").as_str(),
        "verdict",
    ]);
    let mut sorted: Vec<_> = steps.iter().collect();
    sorted.sort_by_key(|s| s.step);
    for s in sorted {
        let worst = s.worst_endpoint().map_or("–".to_string(), |e| {
            format!(
                "{} {} / {}",
                e.endpoint,
                e.judged_ms.map_or("–".into(), format_ms),
                e.target_ms.map_or("–".into(), format_ms)
            )
        });
        let verdict = match &s.outcome {
            StepOutcome::Pass => "✓ PASS".to_string(),
            StepOutcome::Fail(f) => format!(
                "✗ FAIL: {}",
                f.iter()
                    .map(|f| f.text.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            StepOutcome::NotJudged(why) => format!("– {why}"),
        };
        t.plain_row([
            s.step.to_string(),
            format!("{:.2}", s.rate_rps),
            format!("{:.1}", s.held_s),
            format!("{:.2}", s.offered_rps),
            format!("{:.2}", s.served_rps),
            format!("{:.1}", s.mean_in_flight),
            format!("{:.2}", s.growth_rps),
            pct(s.error_rate),
            worst,
            verdict,
        ]);
    }
    t
}
