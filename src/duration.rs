//! Durations as Locust and k6 users write them: `90s`, `5m`, `1h30m`, `250ms`, or bare seconds.

use std::time::Duration;

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration (try 90s, 5m or 1h30m)".into());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return seconds(secs, text);
    }
    let mut total = 0.0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{text}`: a number needs a unit (h, m, s, ms)"))?;
        if digits == 0 {
            return Err(format!("`{text}` is not a duration (try 90s, 5m or 1h30m)"));
        }
        let value: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` is not a duration (try 90s, 5m or 1h30m)"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" | "min" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            unit => return Err(format!("`{text}`: unknown unit `{unit}` (use h, m, s, ms)")),
        };
        total += value * factor;
        rest = &rest[unit_len..];
    }
    seconds(total, text)
}

fn seconds(secs: f64, text: &str) -> Result<Duration, String> {
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(format!("`{text}` is not a positive duration"));
    }
    if secs > crate::limits::MAX_DURATION.as_secs_f64() {
        return Err(format!(
            "`{text}` is over the ceiling of 30 days for any duration"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locust_style_durations() {
        let secs = |s: &str| parse_duration(s).map(|d| d.as_secs_f64());
        assert_eq!(secs("90s"), Ok(90.0));
        assert_eq!(secs("5m"), Ok(300.0));
        assert_eq!(secs("1h30m"), Ok(5400.0));
        assert_eq!(secs("250ms"), Ok(0.25));
        assert_eq!(secs("20"), Ok(20.0));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("-3").is_err());
        // Past the ceiling, never a panic converting to a Duration.
        assert!(parse_duration("99999999999999999h").is_err());
        assert!(parse_duration("1e308").is_err());
        assert!(parse_duration("31d").is_err());
        assert_eq!(secs("720h"), Ok(2_592_000.0));
    }
}
