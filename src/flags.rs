//! Every flag value's type, parsed where clap reads it (its `value_parser`): a bad value is a
//! usage error (exit 2) that names the flag and says why, before anything else happens. The
//! ceilings are those of [`crate::limits`].

use std::net::SocketAddr;
use std::time::Duration;

use crate::duration::parse_duration;
use crate::limits::{MAX_RATE, MAX_SCALE, MAX_SPAWN_RATE, MAX_USERS, positive_at_most};
use crate::runner::StopCondition;
use crate::shape::{Stage, parse_rate, parse_stages};

/// Any duration up to the ceiling, 0 included: `90s`, `5m`, `1h30m`, `250ms`, seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text)
}

/// A duration above 0.
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err("must be above 0".into());
    }
    Ok(d)
}

/// A sample interval: at least 100 ms (sampling faster measures the sampler).
pub fn sample_interval(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < Duration::from_millis(100) {
        return Err("must be at least 100ms".into());
    }
    Ok(d)
}

/// `--threads`: a whole number from 1 to the ceiling.
pub fn threads(text: &str) -> Result<std::num::NonZeroUsize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n as u64 <= crate::limits::MAX_THREADS => {
            std::num::NonZeroUsize::new(n).ok_or_else(|| "must be at least 1".to_string())
        }
        Ok(n) => Err(format!(
            "{n}: over the ceiling of {}",
            crate::limits::MAX_THREADS
        )),
        Err(_) => Err(format!("{text:?} is not a whole number of threads")),
    }
}

/// Arrivals per second: `50/s`, `3000/m`, `50`; above 0, at most the ceiling.
pub fn rate(text: &str) -> Result<f64, String> {
    // parse_rate reads stage targets too, where 0 is a rate: here it is not.
    let rate = parse_rate(text).map_err(|_| {
        format!(
            "`{}` is not a rate above 0 (20/s, 1.5/s, 90/m)",
            text.trim()
        )
    })?;
    positive_at_most("rate", rate, MAX_RATE)
}

/// Users started per second.
pub fn spawn_rate(text: &str) -> Result<f64, String> {
    positive_at_most("spawn rate", number(text)?, MAX_SPAWN_RATE)
}

/// A multiplier: `--scale`, `--duration-scale`, `--speed` (clap names the flag; the
/// message must fit each).
pub fn scale(text: &str) -> Result<f64, String> {
    positive_at_most("a multiplier of", number(text)?, MAX_SCALE)
}

/// A percentile in (0, 100].
pub fn percentile(text: &str) -> Result<f64, String> {
    let p = number(text)?;
    if !(p > 0.0 && p <= 100.0) {
        return Err(format!("{p} is not in (0, 100]"));
    }
    Ok(p)
}

fn number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| format!("`{text}` is not a number"))
}

/// Stages of a load, k6-style `TARGET:DURATION,...`.
#[derive(Debug, Clone, PartialEq)]
pub struct StageList(pub Vec<Stage>);

/// `--stages`: users per stage, each at most the users' ceiling.
pub fn user_stages(text: &str) -> Result<StageList, String> {
    let stages = parse_stages(text, false)?;
    if let Some(s) = stages.iter().find(|s| s.target > f64::from(MAX_USERS)) {
        return Err(format!(
            "{} users is over the ceiling of {MAX_USERS}",
            s.target
        ));
    }
    Ok(StageList(stages))
}

/// `--rate-stages`: arrival rates per stage, each at most the rates' ceiling.
pub fn rate_stages(text: &str) -> Result<StageList, String> {
    let stages = parse_stages(text, true)?;
    if let Some(s) = stages.iter().find(|s| s.target > MAX_RATE) {
        return Err(format!(
            "{}/s is over the ceiling of {MAX_RATE}/s",
            s.target
        ));
    }
    Ok(StageList(stages))
}

/// A base URL of HTTP or HTTPS; the scheme in any case (`HTTP://` is `http://`, RFC 3986).
pub fn url(text: &str) -> Result<String, String> {
    let scheme = ["http://", "https://"].into_iter().find(|s| {
        text.get(..s.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(s))
    });
    let Some(scheme) = scheme else {
        return Err(format!(
            "`{}` is no URL such as http://localhost:8000",
            crate::redact::url(text)
        ));
    };
    Ok(format!("{scheme}{}", &text[scheme.len()..])
        .trim_end_matches('/')
        .to_string())
}

/// An address to listen on, `127.0.0.1:9646` (port 0 picks one).
pub fn socket_address(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is no socket address such as 127.0.0.1:9646"))
}

/// A request header given on the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// `Name: value`; framing and connection headers (the client sets them per request) and
/// names that are no header names are refused.
pub fn header(text: &str) -> Result<Header, String> {
    let (name, value) = text.split_once(':').ok_or("expected 'Name: value'")?;
    let name = name.trim();
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!("`{name}` is no header name"));
    }
    if reqwest::header::HeaderValue::from_str(value.trim()).is_err() {
        return Err(format!("the value of `{name}` is no header value"));
    }
    if crate::trace::is_connection_header(name) {
        return Err(format!(
            "`{name}` is set by the client itself, per request (framing and connection headers cannot be given)"
        ));
    }
    Ok(Header {
        name: name.to_string(),
        value: value.trim().to_string(),
    })
}

/// A Kubernetes name (RFC 1123 label): 1-63 lowercase letters, digits and '-', starting
/// and ending with a letter or digit.
pub fn dns_label(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    if ok {
        return Ok(text.to_string());
    }
    let lower = text.to_ascii_lowercase();
    let hint = if lower != text && dns_label(&lower).is_ok() {
        format!(" (Kubernetes names are lowercase: `{lower}`)")
    } else {
        String::new()
    };
    Err(format!(
        "`{text}`: a Kubernetes name is 1-63 lowercase letters, digits and '-', not starting or ending with '-'{hint}"
    ))
}

/// A Kubernetes quantity: `1`, `500m`, `1.5`, `512Mi`, `2G`.
pub fn quantity(text: &str) -> Result<String, String> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &text[digits.len()..];
    let known = [
        "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ];
    if !digits.is_empty() && digits.parse::<f64>().is_ok_and(|v| v > 0.0) && known.contains(&suffix)
    {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}`: not a Kubernetes quantity (e.g. 1, 500m, 512Mi, 2Gi)"
        ))
    }
}

/// `--shard I/N`.
pub fn shard(text: &str) -> Result<crate::shard::Shard, String> {
    crate::shard::parse(text)
}

/// `--start-at`: an RFC 3339 time (`2026-12-01T10:00:00Z`, or with an offset).
pub fn start_at(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("`{text}`: {e} (expected RFC 3339, e.g. 2026-12-01T10:00:00Z)"))
}

/// `--stop-on error_rate>10%` or `p95>15s`.
pub fn stop_condition(text: &str) -> Result<StopCondition, String> {
    StopCondition::parse(text)
}

/// A service-level objective that replaces a target of the run: an endpoint's response time
/// (`generate_text:p95<3s`), a streamed generation's time to first token or inter-token
/// latency (`generate_text:ttft_p95<1s`, `generate_text:itl_p95<50ms`), or the error rate
/// (`error_rate<1%`).
#[derive(Debug, Clone, PartialEq)]
pub enum Slo {
    Generation {
        endpoint: String,
        metric: aurax_schema::GenerationMetric,
        percentile: f64,
        limit: Duration,
    },
    Latency {
        endpoint: String,
        percentile: f64,
        limit: Duration,
    },
    /// A share (0.01 = 1%).
    ErrorRate(f64),
}

/// `--slo` objectives replace the targets they name (`run` before the load, `analyze` on a
/// run's recorded targets): an endpoint's response-time target (a run judges one percentile,
/// so every such objective must name the same one), a generation target (added, or replacing
/// the same figure and percentile of that endpoint), or the error rate. `known` are the
/// endpoints an objective may name (None: any, as `analyze` cannot know them beforehand).
pub fn apply_slos(
    targets: &mut aurax_schema::Targets,
    slos: &[Slo],
    percentile_flag: Option<f64>,
    known: Option<&[&str]>,
) -> Result<(), String> {
    let mut percentile = percentile_flag;
    let check = |endpoint: &str, what: &str| {
        let Some(known) = known else { return Ok(()) };
        if known.contains(&endpoint) {
            Ok(())
        } else {
            Err(format!(
                "--slo {endpoint}:{what}<…: no endpoint `{endpoint}` (known: {})",
                known.join(", ")
            ))
        }
    };
    for slo in slos {
        match slo {
            Slo::Generation {
                endpoint,
                metric,
                percentile: p,
                limit,
            } => {
                check(endpoint, &format!("{}_p{p}", metric.name()))?;
                targets.generation.retain(|t| {
                    !(t.endpoint == *endpoint && t.metric == *metric && t.percentile == *p)
                });
                targets.generation.push(aurax_schema::GenerationTarget {
                    endpoint: endpoint.clone(),
                    metric: *metric,
                    percentile: *p,
                    limit_ms: limit.as_secs_f64() * 1000.0,
                });
            }
            Slo::ErrorRate(share) => {
                targets.error_rate.tier = "--slo".into();
                targets.error_rate.max_error_rate = *share;
            }
            Slo::Latency {
                endpoint,
                percentile: p,
                limit,
            } => {
                check(endpoint, &format!("p{p}"))?;
                if let Some(q) = percentile.filter(|q| q != p) {
                    return Err(format!(
                        "--slo {endpoint}:p{p}<…: the run judges one percentile and another objective (or --target-percentile) says p{q}"
                    ));
                }
                percentile = Some(*p);
                targets.percentile = *p;
                let target_ms = limit.as_secs_f64() * 1000.0;
                match targets
                    .endpoints
                    .iter_mut()
                    .find(|t| &t.endpoint == endpoint)
                {
                    Some(t) => t.target_ms = target_ms,
                    None => targets.endpoints.push(aurax_schema::EndpointTarget {
                        endpoint: endpoint.clone(),
                        target_ms,
                    }),
                }
            }
        }
    }
    Ok(())
}

/// `--slo`: `ENDPOINT:pNN<DURATION`, `ENDPOINT:ttft_pNN<DURATION`,
/// `ENDPOINT:itl_pNN<DURATION` or `error_rate<N%`.
pub fn slo(text: &str) -> Result<Slo, String> {
    let (what, limit) = text.split_once('<').ok_or(
        "expected ENDPOINT:pNN<DURATION (generate_text:p95<3s), ENDPOINT:ttft_pNN<DURATION, ENDPOINT:itl_pNN<DURATION or error_rate<N% (error_rate<1%)",
    )?;
    let (what, limit) = (what.trim(), limit.trim());
    if what == "error_rate" {
        let pct = limit
            .strip_suffix('%')
            .ok_or("an error rate is a percentage, e.g. error_rate<1%")?;
        let share = number(pct)? / 100.0;
        if !(share > 0.0 && share <= 1.0) {
            return Err(format!("{pct}% is not a percentage in (0, 100]"));
        }
        return Ok(Slo::ErrorRate(share));
    }
    let (endpoint, p) = what
        .split_once(':')
        .ok_or("expected ENDPOINT:pNN<DURATION, e.g. generate_text:p95<3s")?;
    let (metric, p) = match p.trim().split_once('_') {
        Some(("ttft", p)) => (Some(aurax_schema::GenerationMetric::Ttft), p),
        Some(("itl", p)) => (Some(aurax_schema::GenerationMetric::Itl), p),
        Some((other, _)) => {
            return Err(format!(
                "`{other}` is no figure of a generation: write ttft_pNN or itl_pNN"
            ));
        }
        None => (None, p),
    };
    let p = p
        .trim()
        .strip_prefix('p')
        .ok_or_else(|| format!("`{p}` is no percentile: write it pNN, e.g. p95"))?;
    let percentile = percentile(p)?;
    let limit = positive_duration(limit)?;
    if endpoint.trim().is_empty() {
        return Err("the endpoint name is missing, e.g. generate_text:p95<3s".into());
    }
    if let Some(metric) = metric {
        return Ok(Slo::Generation {
            endpoint: endpoint.trim().to_string(),
            metric,
            percentile,
            limit,
        });
    }
    Ok(Slo::Latency {
        endpoint: endpoint.trim().to_string(),
        percentile,
        limit,
    })
}

/// A share written as a percentage (`5%`) or a fraction (`0.05`), in (0, 1).
pub fn precision(text: &str) -> Result<f64, String> {
    let v = match text.trim().strip_suffix('%') {
        Some(pct) => number(pct)? / 100.0,
        None => number(text)?,
    };
    if !(v > 0.0 && v < 1.0) {
        return Err(format!(
            "{v} is not a share between 0 and 1 (e.g. 5% or 0.05)"
        ));
    }
    Ok(v)
}

/// `--window FROM..TO`: offsets from the trace's start.
pub fn window(text: &str) -> Result<(Duration, Option<Duration>), String> {
    crate::trace::parse_window(text)
}

/// A share between 0 and 1.
pub fn share(text: &str) -> Result<f64, String> {
    let v = number(text)?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("{v} is not a share between 0 and 1"));
    }
    Ok(v)
}

/// The simulator's time scale: 0 or more, at most the scales' ceiling.
pub fn time_scale(text: &str) -> Result<f64, String> {
    let v = number(text)?;
    if !(0.0..=MAX_SCALE).contains(&v) {
        return Err(format!("{v} is not between 0 and {MAX_SCALE}"));
    }
    Ok(v)
}

/// `AT+FOR`, e.g. `5s+2s`: a stall starting AT after start, lasting FOR.
pub fn stall(text: &str) -> Result<(Duration, Duration), String> {
    let (at, length) = text.split_once('+').ok_or("expected AT+FOR, e.g. 5s+2s")?;
    Ok((parse_duration(at)?, parse_duration(length)?))
}

/// A memory size: `24GB`, `20GiB`, `512MB`, or bytes (`4400000000`); above 0.
pub fn memory_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let multiplier: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024f64.powi(2),
        "gib" => 1024f64.powi(3),
        "tib" => 1024f64.powi(4),
        other => {
            return Err(format!(
                "unknown unit `{other}` (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB, e.g. 24GB)"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is no size such as 24GB"))?;
    let bytes = value * multiplier;
    if !(1.0..1e18).contains(&bytes) {
        return Err(format!("{text} is not between 1 byte and 1 EB"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_read_as_users_write_them() {
        assert_eq!(memory_size("24GB"), Ok(24_000_000_000));
        assert_eq!(memory_size("20 GiB"), Ok(20 * 1024 * 1024 * 1024));
        assert_eq!(memory_size("4400000000"), Ok(4_400_000_000));
        assert_eq!(memory_size("1.5gb"), Ok(1_500_000_000));
        for bad in ["", "0GB", "GB", "-1GB", "24 parsecs", "1e30", "nan"] {
            assert!(memory_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_become_types_or_say_why() {
        assert_eq!(rate("50/s"), Ok(50.0));
        assert!(rate("0/s").is_err());
        // The messages fit the flag they follow: a rate above 0; a multiplier, not "scale"
        // (`--speed 0` said "scale 0").
        assert!(rate("abc").unwrap_err().contains("not a rate above 0"));
        assert_eq!(
            scale("0").unwrap_err(),
            "a multiplier of 0: must be a number above 0"
        );
        assert!(rate("1e9/s").unwrap_err().contains("over the ceiling"));
        assert!(positive_duration("0s").is_err());
        assert_eq!(threads("3").map(|n| n.get()), Ok(3));
        assert!(threads("0").is_err());
        assert!(threads("65").unwrap_err().contains("over the ceiling"));
        assert!(threads("two").is_err());
        assert!(scale("1e308").is_err());
        assert!(percentile("100.5").is_err());
        assert_eq!(
            header("X-Tenant: t1"),
            Ok(Header {
                name: "X-Tenant".into(),
                value: "t1".into()
            })
        );
        assert!(header("Content-Length: 5").is_err());
        assert!(header("Bad Name: x").is_err());
        assert!(url("localhost:8000").is_err());
        assert_eq!(url("http://h:1/"), Ok("http://h:1".to_string()));
        assert_eq!(url("HTTP://h:1"), Ok("http://h:1".to_string()));
        assert_eq!(url("Https://h/api/"), Ok("https://h/api".to_string()));
        assert!(url("ftp://h").is_err());
        assert!(user_stages("200000:1m").is_err());
        assert_eq!(
            slo("generate_text:p95<3s"),
            Ok(Slo::Latency {
                endpoint: "generate_text".into(),
                percentile: 95.0,
                limit: Duration::from_secs(3)
            })
        );
        assert_eq!(slo("error_rate<1%"), Ok(Slo::ErrorRate(0.01)));
        assert!(slo("error_rate<1").is_err());
        assert!(slo("generate_text:95<3s").is_err());
        assert!(slo("generate_text:p95>3s").is_err());
        assert_eq!(
            slo("generate_text:ttft_p95<1s"),
            Ok(Slo::Generation {
                endpoint: "generate_text".into(),
                metric: aurax_schema::GenerationMetric::Ttft,
                percentile: 95.0,
                limit: Duration::from_secs(1),
            })
        );
        assert!(matches!(
            slo("generate_code:itl_p99<50ms"),
            Ok(Slo::Generation {
                percentile: 99.0,
                ..
            })
        ));
        assert!(slo("generate_text:tpot_p95<1s").is_err());
        assert_eq!(precision("5%"), Ok(0.05));
        assert_eq!(precision("0.1"), Ok(0.1));
        assert!(precision("0%").is_err());
    }
}
