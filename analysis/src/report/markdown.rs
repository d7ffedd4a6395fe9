//! `report.md`: the verdict first, then a section per question, charts by relative link,
//! ready to paste into a pull request.

use std::fmt::Write;

use super::{chart, md, verdict};
use crate::Analysis;
use crate::baseline::EndpointChange;
use crate::charts::ChartFile;
use crate::insights::pct;
use crate::judge::Judgement;
use crate::units::rps;

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.0}"))
}

/// `report.md`: the verdict first, then every answer, charts linked by relative path.
pub fn markdown(a: &Analysis, baseline: Option<&[EndpointChange]>, charts: &[ChartFile]) -> String {
    let mut o = String::new();
    let t = &a.source.targets;
    let (_, headline) = verdict(a, baseline);
    let runs = if a.source.run_ids.is_empty() {
        "(no run id)".to_string()
    } else {
        md(&a.source.run_ids.join(", "))
    };
    let _ = writeln!(o, "# Load test report: {runs}\n");
    let _ = writeln!(o, "**{}**\n", md(&headline));
    let _ = writeln!(
        o,
        "{} requests sent over {:.0} s ({:.1} req/s), {} failed{}: error rate {}; against {}; {} Parquet file(s). Scheduling lateness p99 {:.1} ms.\n",
        a.requests,
        a.duration_s,
        a.throughput_rps,
        a.failures,
        if a.dropped > 0 {
            format!(" and {} arrivals dropped unsent", a.dropped)
        } else {
            String::new()
        },
        pct(a.error_rate),
        if a.source.hosts.is_empty() {
            "(unknown host)".into()
        } else {
            md(&a.source.hosts.join(", "))
        },
        a.source.files.len(),
        a.lateness_p99_ms
    );
    let _ = writeln!(
        o,
        "| target | observed | limit | verdict |\n|---|---:|---|---|"
    );
    for c in &a.checks {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            md(&c.what),
            c.observed,
            c.limit,
            match &c.judgement {
                Judgement::Pass => "✅ pass".to_string(),
                Judgement::Fail => "❌ fail".to_string(),
                Judgement::NotJudged(why) => format!("– not judged: {why}"),
            }
        );
    }
    let _ = writeln!(o);
    if let Some(trace) = a.source.trace_line() {
        let _ = writeln!(
            o,
            "The load was {}: requests sent at their recorded times (each row's `trace_source` and `trace_line` say where it came from).\n",
            trace
        );
    }

    if let Some(c) = &a.capacity {
        capacity_section(&mut o, c, t.percentile);
        chart(&mut o, charts, "capacity.png");
    }

    let _ = writeln!(o, "## Endpoints\n");
    let _ = writeln!(
        o,
        "Latency in ms of **successful** responses; percentiles by nearest rank from every one. *In target*: the share of the endpoint's arrivals that succeeded under its target; a target \"p{0} < T\" is met when at least {0}% of arrivals were (failures, timeouts and dropped arrivals count as over it, so a target is never met by leaving its slow requests out). Apdex with the target as T over every arrival (failures and dropped frustrated). req/s: requests sent per second over the run; goodput: successful responses within target per second.\n",
        t.percentile
    );
    let _ = writeln!(
        o,
        "| endpoint | requests | failures | error rate | req/s | goodput/s | mean | p50 | p90 | p95 | p99 | p99.9 | max | target | in target | meets | Apdex |"
    );
    let _ = writeln!(
        o,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|"
    );
    for e in &a.endpoints {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md(&e.name),
            e.requests,
            e.failures + e.dropped,
            pct(e.error_rate),
            e.throughput_rps,
            e.goodput_rps,
            opt_ms(e.mean_ms),
            opt_ms(e.p50_ms),
            opt_ms(e.p90_ms),
            opt_ms(e.p95_ms),
            opt_ms(e.p99_ms),
            opt_ms(e.p999_ms),
            opt_ms(e.max_ms),
            opt_ms(e.target_ms),
            e.attainment.map_or("–".into(), pct),
            match e.meets_target {
                Some(true) => "✅",
                Some(false) => "❌",
                None => "–",
            },
            e.apdex.map_or("–".into(), |v| format!("{v:.2}"))
        );
    }
    let failing: Vec<_> = a
        .endpoints
        .iter()
        .filter_map(|e| Some((e, e.failure_latency.as_ref()?)))
        .collect();
    if !failing.is_empty() {
        let _ = writeln!(
            o,
            "\nFailed requests, apart from the latencies above (fast failures pull percentiles down exactly when a target is overloaded, so they are never mixed in):\n"
        );
        let _ = writeln!(
            o,
            "| endpoint | failed | timeouts | cancelled at the end | other failures | dropped unsent | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for (e, f) in failing {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.0} |",
                md(&e.name),
                e.failures,
                f.timeouts,
                f.cancelled,
                f.other,
                e.dropped,
                f.p50_ms,
                f.p95_ms,
                f.max_ms
            );
        }
    }
    let co: Vec<_> = a
        .endpoints
        .iter()
        .filter(|e| match (e.corrected_p99_ms, e.p99_ms) {
            (Some(c), Some(p)) => c > p * 1.1 + 1.0,
            _ => false,
        })
        .collect();
    if !co.is_empty() {
        let _ = writeln!(
            o,
            "\nMeasured from the intended send time (coordinated omission corrected), latency is higher:\n"
        );
        for e in co {
            let _ = writeln!(
                o,
                "- {}: p95 {} ms (raw {}), p99 {} ms (raw {})",
                md(&e.name),
                opt_ms(e.corrected_p95_ms),
                opt_ms(e.p95_ms),
                opt_ms(e.corrected_p99_ms),
                opt_ms(e.p99_ms)
            );
        }
    }
    chart(&mut o, charts, "latency_over_time.png");
    chart(&mut o, charts, "latency_percentiles.png");
    chart(&mut o, charts, "throughput_users.png");

    let _ = writeln!(o, "## Bottlenecks\n");
    for (i, b) in a.bottlenecks.iter().enumerate() {
        let _ = writeln!(o, "{}. **{}**: {}", i + 1, md(&b.name), md(&b.reason));
    }
    chart(&mut o, charts, "bottlenecks.png");

    let _ = writeln!(o, "## Error patterns\n");
    if a.errors.is_empty() {
        let _ = writeln!(o, "No failures.\n");
    } else {
        if a.hidden_app_errors > 0 {
            let _ = writeln!(
                o,
                "**{} failures ({} of all failures) came back as HTTP 200 with `success: false`**: a status-code check reports them as successes.\n",
                a.hidden_app_errors,
                pct(a.hidden_app_errors as f64 / a.failures.max(1) as f64)
            );
        }
        let _ = writeln!(
            o,
            "| endpoint | outcome | status | message (normalised) | count | share | first s | last s |"
        );
        let _ = writeln!(o, "|---|---|---:|---|---:|---:|---:|---:|");
        for e in a.errors.iter().take(15) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} |",
                md(&e.endpoint),
                md(&e.outcome),
                e.status.map_or("–".into(), |s| s.to_string()),
                md(&e.message),
                e.count,
                pct(e.share),
                e.first_s,
                e.last_s
            );
        }
        if a.errors.len() > 15 {
            let _ = writeln!(
                o,
                "\n({} more patterns in summary.json)",
                a.errors.len() - 15
            );
        }
        if a.bursts.is_empty() {
            let _ = writeln!(o, "\nNo error bursts: failures are spread over the run.");
        } else {
            let _ = writeln!(
                o,
                "\nError bursts (windows whose error rate jumps well above the run's):\n"
            );
            for b in &a.bursts {
                let _ = writeln!(
                    o,
                    "- {:.0}–{:.0} s: {:.0} failures, error rate up to {}",
                    b.start_s,
                    b.end_s,
                    b.failures,
                    pct(b.peak_error_rate)
                );
            }
        }
        chart(&mut o, charts, "errors_over_time.png");
    }

    let _ = writeln!(o, "## Breaking point\n");
    let _ = writeln!(o, "{}\n", md(&capitalise(&a.breaking.verdict)));
    for s in &a.breaking.standing {
        let _ = writeln!(
            o,
            "- Not a breaking point, but a standing problem: {}.",
            md(s)
        );
    }
    if !a.breaking.standing.is_empty() {
        let _ = writeln!(o);
    }
    let unit = a.source.load_unit();
    if !a.breaking.signals.is_empty() {
        let _ = writeln!(
            o,
            "| signal | of | load ({unit}) | mix offered req/s | mix served successfully req/s | its own offered req/s | at s | detail |\n|---|---|---:|---:|---:|---:|---:|---|"
        );
        for s in &a.breaking.signals {
            let _ = writeln!(
                o,
                "| {} | {} | {:.0} | {:.1} | {:.1} | {} | {:.0} | {} |",
                s.signal.name(),
                s.endpoint
                    .as_deref()
                    .map_or("the whole mix".to_string(), md),
                s.load,
                s.offered_rps,
                s.succeeded_rps,
                s.own
                    .map_or("–".to_string(), |o| format!("{:.1}", o.offered_rps)),
                s.at_s,
                md(&s.detail)
            );
        }
    }
    if let Some(u) = &a.usl {
        let peak = u.peak_users.map_or(
            "none within reach (no coherency penalty)".to_string(),
            |n| format!("{n:.0} users"),
        );
        let _ = writeln!(
            o,
            "\nUniversal Scalability Law fit X(N) = λN / (1 + σ(N−1) + κN(N−1)): λ = {:.2} req/s per user, σ = {:.4}, κ = {:.6} (R² = {:.3}); peak throughput {:.1} req/s at {peak}.",
            u.lambda, u.sigma, u.kappa, u.r_squared, u.peak_throughput_rps
        );
    }
    let _ = writeln!(
        o,
        "\nPer load level. *Offered*: arrivals per second (dropped ones included). *Served*: completions per second in the level's own time, by completion time (send + latency), so a target that queues serves its capacity here however much is sent; *succeeded* and *goodput* (succeeded within target) likewise. *In flight*: requests sent and not yet completed, time-averaged and exact from the rows; *Δ in flight*: how many more there were at the level's end than at its start (sent − completed): a queue that grows. p95 of successful requests sent at the level. Little's law checks the generator's own in-flight count against served × latency. Levels with fewer than {:.0} arrivals are shown but not judged.\n",
        crate::levels::MIN_LEVEL_REQUESTS
    );
    let _ = writeln!(
        o,
        "| load ({unit}) | seconds | offered req/s | served req/s | succeeded req/s | goodput req/s | error rate | in flight | Δ in flight | p95 ms | Little's law | lateness p99 ms |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|"
    );
    for l in &a.levels {
        let little = a
            .little
            .iter()
            .find(|x| x.load == l.load)
            .map_or("–", |x| if x.holds { "holds" } else { "fails" });
        let _ = writeln!(
            o,
            "| {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {:.1} | {:+.0} | {} | {} | {:.1} |",
            l.load,
            l.seconds,
            l.offered_rps,
            l.served_rps,
            l.succeeded_rps,
            l.goodput_rps,
            pct(l.error_rate),
            l.in_flight,
            l.in_flight_change,
            if l.p95_ms.is_finite() {
                format!("{:.0}", l.p95_ms)
            } else {
                "–".to_string()
            },
            little,
            l.lateness_p99_ms
        );
    }
    if let Some(g) = a
        .scaling
        .limiting
        .as_ref()
        .and_then(|l| a.groups.endpoints.iter().find(|g| g.name == l.endpoint))
    {
        group_levels(&mut o, g, unit);
    }
    chart(&mut o, charts, "load_curve.png");

    let s = &a.scaling;
    let _ = writeln!(o, "## Scaling thresholds\n");
    if let Some(l) = &s.limiting {
        limiting_paragraph(&mut o, l, s.capacity_rps, unit);
    }
    match (
        s.scale_out_at_rps,
        s.scale_out_at_in_flight,
        &s.to_find_capacity,
    ) {
        (Some(rate), Some(in_flight), _) => {
            let _ = writeln!(
                o,
                "One instance {} **{:.1} req/s** successfully ({}); with {:.0}% headroom, **scale out at {:.1} req/s or {:.1} requests in flight per instance**{} (in flight measured at the load levels around that rate: the value `aurax_inprogress` would show).\n",
                if s.capacity_is_lower_bound {
                    "served at least"
                } else {
                    "serves at most"
                },
                s.capacity_rps,
                md(&s.capacity_basis),
                s.headroom * 100.0,
                rate,
                in_flight,
                match (&s.limiting, s.scale_out_at_limiting_in_flight) {
                    (Some(l), Some(n)) => format!(", {n:.1} of them {}'s", md(&l.endpoint)),
                    _ => String::new(),
                }
            );
        }
        (_, _, why) => {
            let _ = writeln!(
                o,
                "**No capacity and no scale-out trigger**: {}.\n",
                md(why.as_deref().unwrap_or("nothing saturated"))
            );
        }
    }
    capacity_by_group(&mut o, "endpoint", "model", &s.by_endpoint, unit);
    if s.by_model.len() > 1 {
        capacity_by_group(&mut o, "model", "endpoints", &s.by_model, unit);
    }
    chart(&mut o, charts, "capacity_by_endpoint.png");
    chart(&mut o, charts, "endpoint_load.png");
    if !s.instances.is_empty() {
        let _ = writeln!(
            o,
            "| seed tier | req/s | instances at that trigger |\n|---|---:|---:|"
        );
        for t in &s.instances {
            let _ = writeln!(o, "| {} | {:.0} | {} |", t.tier, t.rps, t.instances);
        }
    }
    if let (Some(hpa), Some(keda)) = (&s.hpa_yaml, &s.keda_yaml) {
        let _ = writeln!(
            o,
            "\n<details><summary>Kubernetes HPA and KEDA snippets</summary>\n\n```yaml\n{hpa}```\n\n```yaml\n{keda}```\n</details>\n"
        );
    }

    let _ = writeln!(o, "## Model performance\n");
    if a.models.is_empty() {
        let _ = writeln!(
            o,
            "No response named the model that served it (`metadata.model_used`).\n"
        );
    } else {
        let _ = writeln!(
            o,
            "| model | requests | share | p50 ms | p95 ms |\n|---|---:|---:|---:|---:|"
        );
        for m in &a.models {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {:.0} | {:.0} |",
                md(&m.model),
                m.requests,
                pct(m.share),
                m.p50_ms,
                m.p95_ms
            );
        }
        chart(&mut o, charts, "models.png");
    }

    super::generation::generation_section(&mut o, a, charts);

    if !a.workers.is_empty() {
        let _ = writeln!(o, "## Workers\n");
        let _ = writeln!(
            o,
            "A distributed run of {} workers, merged exactly (every figure above is over all their rows). Each worker's share:\n",
            a.workers.len()
        );
        let _ = writeln!(
            o,
            "| worker | arrivals | offered req/s | lateness p99 ms | error rate | |\n|---:|---:|---:|---:|---:|---|"
        );
        for w in &a.workers {
            let _ = writeln!(
                o,
                "| {} | {} | {:.1} | {:.2} | {} | {} |",
                w.worker,
                w.arrivals,
                w.offered_rps,
                w.lateness_p99_ms,
                pct(w.error_rate),
                w.behind
                    .as_deref()
                    .map_or("on time".to_string(), |b| format!("❌ behind: {}", md(b)))
            );
        }
        let _ = writeln!(o);
    }

    super::resources::resources_section(&mut o, a, charts);

    let _ = writeln!(o, "## Optimisation targets\n");
    for (i, t) in a.optimisation.iter().enumerate() {
        let _ = writeln!(o, "{}. {}", i + 1, md(t));
    }

    if let Some(changes) = baseline {
        let _ = writeln!(o, "\n## Against the baseline\n");
        let _ = writeln!(
            o,
            "Significance: two-sided Mann-Whitney U on per-window p95 (windows, not requests, because requests within a run are autocorrelated).\n"
        );
        let _ = writeln!(
            o,
            "| endpoint | p50 ms | p95 ms | p99 ms | error rate | req/s | verdict |\n|---|---|---|---|---|---|---|"
        );
        for c in changes {
            let _ = writeln!(
                o,
                "| {} | {:.0} → {:.0} | {:.0} → {:.0} | {:.0} → {:.0} | {} → {} | {:.1} → {:.1} | {}{} |",
                md(&c.name),
                c.p50_ms.0,
                c.p50_ms.1,
                c.p95_ms.0,
                c.p95_ms.1,
                c.p99_ms.0,
                c.p99_ms.1,
                pct(c.error_rate.0),
                pct(c.error_rate.1),
                c.throughput_rps.0,
                c.throughput_rps.1,
                if c.regression { "❌ " } else { "" },
                md(&c.verdict)
            );
        }
        super::generation::overhead_section(&mut o, changes);
    }

    if !a.notes.is_empty() {
        let _ = writeln!(o, "\n## What this run cannot tell\n");
        for n in &a.notes {
            let _ = writeln!(o, "- {}", md(n));
        }
    }
    let _ = writeln!(
        o,
        "\n---\nMethod: latency of successful responses; percentiles by nearest rank (the value at index ⌈q·n⌉−1 of the sorted latencies; DuckDB `quantile_disc`, HdrHistogram), never averaged; served throughput by completion time; time windows of {:.0} s; load levels by offered load; error rate target tier `{}`. Definitions: docs/analysis.md of aurax-tool. Generated by aurax-tool {}.",
        a.window_s,
        t.error_rate.tier,
        env!("CARGO_PKG_VERSION")
    );
    o
}

/// The search: its answer, the goodput at capacity and every step.
fn capacity_section(o: &mut String, c: &crate::capacity::CapacityAnswer, percentile: f64) {
    use crate::capacity::StepOutcome;
    let _ = writeln!(o, "## Capacity search\n");
    let _ = writeln!(o, "**{}.**\n", md(&c.sentence));
    let _ = writeln!(
        o,
        "Each step offered one arrival rate of the run's mix and was judged on the second half of its arrivals: every endpoint served at least 97% of what it was offered (its requests in flight not growing), at least {percentile}% of every endpoint's arrivals successful under its target, the error rate under the tier. The search doubled the rate until a step failed, then bisected to {:.0}%.\n",
        c.precision * 100.0
    );
    if !c.goodput.is_empty() {
        let _ = writeln!(
            o,
            "| endpoint at capacity | offered req/s | goodput req/s | p{percentile} ms | target ms |\n|---|---:|---:|---:|---:|"
        );
        for e in &c.goodput {
            let _ = writeln!(
                o,
                "| {} | {:.2} | {:.2} | {} | {} |",
                md(&e.endpoint),
                e.offered_rps,
                e.goodput_rps,
                opt_ms(e.judged_ms),
                opt_ms(e.target_ms)
            );
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(
        o,
        "| step | rate req/s | held s | offered req/s | served req/s | in flight | growth /s | errors | verdict |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    let mut steps: Vec<_> = c.steps.iter().collect();
    steps.sort_by_key(|s| s.step);
    for s in steps {
        let verdict = match &s.outcome {
            StepOutcome::Pass => "✅ pass".to_string(),
            StepOutcome::Fail(f) => format!(
                "❌ {}",
                md(&f
                    .iter()
                    .map(|f| f.text.as_str())
                    .collect::<Vec<_>>()
                    .join("; "))
            ),
            StepOutcome::NotJudged(why) => format!("– {}", md(why)),
        };
        let _ = writeln!(
            o,
            "| {} | {:.2} | {:.1} | {:.2} | {:.2} | {:.1} | {:.2} | {} | {verdict} |",
            s.step,
            s.rate_rps,
            s.held_s,
            s.offered_rps,
            s.served_rps,
            s.mean_in_flight,
            s.growth_rps,
            pct(s.error_rate)
        );
    }
    let _ = writeln!(o);
}

/// The endpoint that binds the mix first, and what to scale.
fn limiting_paragraph(o: &mut String, l: &crate::scaling::Limiting, capacity: f64, unit: &str) {
    let _ = writeln!(
        o,
        "**{} binds first**{}: it saturated at {} req/s of its own, {} req/s of the mix offered ({:.0} {unit}, `{}`), and serves at most {} req/s successfully. It is {} of the mix, so the mix as offered binds at **{} req/s**: scale {} (or shrink its share) before anything else.\n",
        md(&l.endpoint),
        l.model
            .as_deref()
            .map_or(String::new(), |m| format!(" (model {})", md(m))),
        rps(l.saturated_at_own_rps),
        rps(l.saturated_at_mix_rps),
        l.saturated_at_load,
        l.signal,
        rps(l.capacity_rps),
        pct(l.share),
        rps(capacity),
        l.model.as_deref().map_or_else(|| md(&l.endpoint), md),
    );
}

/// The limiting endpoint's own flows at each of its levels: where its queue formed.
fn group_levels(o: &mut String, g: &crate::saturation::Group, unit: &str) {
    let _ = writeln!(
        o,
        "\n{} on its own ({} of the mix; its levels merge the run's until each has {:.0} of its arrivals):\n",
        md(&g.name),
        pct(g.share),
        crate::levels::MIN_LEVEL_REQUESTS
    );
    let _ = writeln!(
        o,
        "| load ({unit}) | mix offered req/s | its offered req/s | served req/s | succeeded req/s | in flight | Δ in flight | p95 ms | in target |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for l in &g.levels {
        let own = &l.own;
        let _ = writeln!(
            o,
            "| {:.0} | {:.1} | {:.2} | {:.2} | {:.2} | {:.1} | {:+.0} | {} | {} |",
            own.load,
            l.mix_offered_rps,
            own.offered_rps,
            own.served_rps,
            own.succeeded_rps,
            own.in_flight,
            own.in_flight_change,
            if own.p95_ms.is_finite() {
                format!("{:.0}", own.p95_ms)
            } else {
                "–".to_string()
            },
            l.attainment.map_or("–".to_string(), pct)
        );
    }
    let _ = writeln!(o);
}

/// Each endpoint's (or model's) own capacity and the mix's rate at which it binds.
fn capacity_by_group(
    o: &mut String,
    what: &str,
    with: &str,
    rows: &[crate::scaling::GroupCapacity],
    unit: &str,
) {
    // Lower bounds alone say nothing of which binds first.
    if rows.iter().all(|r| r.capacity_is_lower_bound) {
        return;
    }
    let _ = writeln!(
        o,
        "Capacity by {what}: what each serves successfully at its limit, its share of the task mix (users' `on_start` requests left out), and so the mix's rate at which it binds; *headroom* is how much more of the mix it takes than the {what} that binds first (≥: it never saturated, so a lower bound).\n"
    );
    let _ = writeln!(
        o,
        "| {what} | {with} | share of mix | its capacity req/s | mix binds at req/s | headroom | saturated at ({unit}) |\n|---|---|---:|---:|---:|---:|---|"
    );
    for c in rows {
        let bound = if c.capacity_is_lower_bound {
            "≥ "
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {bound}{} | {bound}{} | {} | {} |",
            md(&c.name),
            md(&c.with.join(", ")),
            pct(c.share),
            rps(c.capacity_rps),
            rps(c.mix_capacity_rps),
            if c.headroom.is_finite() {
                format!("{bound}{:.1}x", c.headroom)
            } else {
                "–".to_string()
            },
            c.saturated_at
                .as_ref()
                .map_or("never".to_string(), |(load, signal)| format!(
                    "{load:.0} (`{signal}`)"
                ))
        );
    }
    let _ = writeln!(o);
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}
