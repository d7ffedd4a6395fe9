use super::*;

fn level(load: f64, ok_rps: f64, error_rate: f64) -> LoadLevel {
    LoadLevel::for_test(load, ok_rps, error_rate)
}

fn targets(max_error_rate: f64) -> Targets {
    let mut t = Targets::seed_defaults();
    t.error_rate.max_error_rate = max_error_rate;
    t
}

/// An open-model ramp against a target that queues past `capacity`: served flat at
/// capacity, the queue (and so latency) growing by the excess.
fn queueing_ramp(capacity: f64) -> Vec<LoadLevel> {
    let mut queue: f64 = 0.0;
    (1..=20)
        .map(|i| {
            let offered = 10.0 * f64::from(i);
            let served = offered.min(capacity);
            let start = queue;
            queue += (offered - served) * 10.0;
            let wait_ms = 1000.0 * (start + queue) / 2.0 / capacity;
            LoadLevel {
                arrivals: offered * 10.0,
                completions: served * 10.0,
                offered_rps: offered,
                served_rps: served,
                in_flight: offered * 0.05 + (start + queue) / 2.0,
                in_flight_start: (offered - 10.0) * 0.05 + start,
                in_flight_change: queue - start,
                seen_in_flight: offered * 0.05 + (start + queue) / 2.0 + 1.0,
                mean_latency_ms: 50.0 + wait_ms,
                p95_ms: 60.0 + wait_ms * 1.5,
                ..level(offered, served, 0.0)
            }
        })
        .collect()
}

#[test]
fn a_queueing_target_breaks_where_served_stops_tracking_offered() {
    let b = find(
        &queueing_ramp(95.0),
        &[],
        None,
        &targets(0.01),
        "req/s offered",
    );
    let p = b.point.as_ref().expect("found");
    // Served flattens at the first level past capacity.
    assert_eq!(p.signal, SignalKind::ThroughputKnee, "{}", b.verdict);
    assert_eq!(p.load, 100.0, "{}", b.verdict);
    assert_eq!(p.succeeded_rps, 95.0);
    // 100 offered is 5% over 95 (a deficit of 5%, not more): 110 is the first level
    // where served falls behind offered, the queue growing.
    let behind = b
        .signals
        .iter()
        .find(|s| s.signal == SignalKind::ServedBelowOffered)
        .expect("served below offered");
    assert_eq!(behind.load, 110.0);
    assert!(behind.detail.contains("a queue"), "{}", behind.detail);
    // Latency turns steep there too.
    assert!(
        b.signals
            .iter()
            .any(|s| s.signal == SignalKind::LatencyKnee)
    );
}

#[test]
fn knee_at_the_saturation_corner() {
    // Linear to 50 req/s at 10 users, then flat.
    let levels: Vec<_> = (1..=20)
        .map(|u| level(f64::from(u), (5.0 * f64::from(u)).min(50.0), 0.0))
        .collect();
    let b = find(&levels, &[], None, &targets(0.01), "users");
    let p = b.point.expect("found");
    assert_eq!(p.signal, SignalKind::ThroughputKnee, "{}", b.verdict);
    assert_eq!(p.load, 10.0);
    assert_eq!(p.succeeded_rps, 50.0);
}

#[test]
fn linear_growth_has_no_breaking_point() {
    let levels: Vec<_> = (1..=10)
        .map(|u| level(f64::from(u), 3.0 * f64::from(u), 0.0))
        .collect();
    let b = find(&levels, &[], None, &targets(0.01), "users");
    assert!(b.point.is_none());
    assert!(
        b.verdict.starts_with("no breaking point up to 30.0 req/s"),
        "{}",
        b.verdict
    );
}

#[test]
fn a_ramp_of_slow_requests_is_not_a_queue() {
    // Latency 2 s everywhere: every level ends with more in flight than it began with
    // (offered x 2 s), which is the ramp, not a target falling behind.
    let levels: Vec<_> = (1..=20)
        .map(|i| {
            let offered = 5.0 * f64::from(i);
            let in_flight_growth = 5.0 * 2.0;
            LoadLevel {
                arrivals: offered * 10.0,
                completions: offered * 10.0 - in_flight_growth,
                served_rps: offered - in_flight_growth / 10.0,
                in_flight_change: in_flight_growth,
                mean_latency_ms: 2000.0,
                in_flight: offered * 2.0,
                in_flight_start: (offered - 5.0) * 2.0,
                seen_in_flight: offered * 2.0 + 1.0,
                ..level(offered, offered, 0.0)
            }
        })
        .collect();
    let b = find(&levels, &[], None, &targets(0.01), "req/s offered");
    assert!(b.point.is_none(), "{}", b.verdict);
}

/// A fast ramp's 1 s level trails its sends near capacity (latency grows there): it is
/// not behind when a later level served more than it was offered. The level that is
/// behind, its rate never served later, is the one named.
#[test]
fn a_level_a_later_one_outserved_was_not_behind() {
    let level_of = |offered: f64, served: f64, in_flight_start: f64| LoadLevel {
        arrivals: offered,
        completions: served,
        offered_rps: offered,
        served_rps: served,
        seconds: 1.0,
        in_flight_start,
        in_flight_change: offered - served,
        mean_latency_ms: 100.0,
        ..level(offered, served, 0.0)
    };
    let levels = vec![
        level_of(20.0, 20.0, 0.0),
        level_of(40.0, 40.0, 2.0),
        level_of(60.0, 60.0, 4.0),
        // 10 behind beyond the ramp's 8.6 - 6: yet the next level served 103.
        level_of(86.0, 76.0, 6.0),
        level_of(112.0, 103.0, 16.0),
        level_of(150.0, 104.0, 25.0),
    ];
    let b = find(&levels, &[], None, &targets(0.01), "req/s offered");
    let behind = b
        .signals
        .iter()
        .find(|s| s.signal == SignalKind::ServedBelowOffered)
        .expect("served below offered");
    assert_eq!(behind.load, 112.0, "{}", b.verdict);
}

#[test]
fn errors_fire_first_when_they_come_first() {
    let levels: Vec<_> = (1..=10)
        .map(|u| {
            level(
                f64::from(u),
                3.0 * f64::from(u),
                if u >= 6 { 0.2 } else { 0.0 },
            )
        })
        .collect();
    let b = find(&levels, &[], None, &targets(0.05), "users");
    let p = b.point.expect("found");
    assert_eq!(p.signal, SignalKind::ErrorRateOverTarget);
    assert_eq!(p.load, 6.0);
}

#[test]
fn a_constant_error_rate_is_standing_not_a_breaking_point() {
    let levels: Vec<_> = (1..=10)
        .map(|u| level(f64::from(u), 30.0 * f64::from(u), 0.05))
        .collect();
    let b = find(&levels, &[], None, &targets(0.01), "users");
    assert!(b.point.is_none(), "{}", b.verdict);
    assert_eq!(b.standing.len(), 1);
}

#[test]
fn p95_crossing_its_target_is_a_signal() {
    let levels: Vec<_> = (1..=10)
        .map(|u| level(f64::from(u), 3.0 * f64::from(u), 0.0))
        .collect();
    let p95: Vec<_> = (1..=10)
        .map(|u| LevelEndpoint {
            load: f64::from(u),
            endpoint: "health".to_string(),
            p95_ms: if u >= 7 { 80.0 } else { 10.0 },
            successes: 100.0,
        })
        .collect();
    let b = find(&levels, &p95, None, &targets(0.01), "users");
    let p = b.point.expect("found");
    assert_eq!(p.signal, SignalKind::P95OverTarget);
    assert_eq!(p.load, 7.0);
}

#[test]
fn latency_turning_steep_is_a_knee() {
    // Throughput keeps growing (a generous target), latency flat then exploding.
    let levels: Vec<_> = (1..=10)
        .map(|u| LoadLevel {
            p95_ms: if u <= 6 {
                100.0 + f64::from(u)
            } else {
                400.0 * f64::from(u - 5)
            },
            ..level(f64::from(u), 3.0 * f64::from(u), 0.0)
        })
        .collect();
    let b = find(&levels, &[], None, &targets(0.01), "users");
    let p = b.point.expect("found");
    assert_eq!(p.signal, SignalKind::LatencyKnee, "{}", b.verdict);
    assert_eq!(p.load, 7.0, "{}", b.verdict);
}

#[test]
fn a_client_that_contradicts_littles_law_is_not_a_breaking_point() {
    // 40 req/s at 500 ms means ~20 in flight; the client saw 2: it was not sending.
    let levels: Vec<_> = (1..=20)
        .map(|u| LoadLevel {
            mean_latency_ms: 500.0,
            seen_in_flight: 3.0,
            ..level(f64::from(u), (5.0 * f64::from(u)).min(40.0), 0.0)
        })
        .collect();
    let b = find(&levels, &[], None, &targets(0.01), "users");
    assert!(
        b.point.is_none() && b.generator_limit.is_some(),
        "{}",
        b.verdict
    );
    assert!(b.verdict.contains("Little's law"), "{}", b.verdict);
}
