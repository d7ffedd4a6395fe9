//! How rates read in words and tables: a model's own rate is often a few requests per second
//! (1 slot x 800 ms = 1.25 req/s), where one decimal would hide what a reader checks.

/// Requests per second: two decimals under 10, one above.
pub fn rps(v: f64) -> String {
    if v.abs() < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

/// Milliseconds in a table: one decimal under 10 ms, whole above (a baseline's 3.6 -> 4.5 ms
/// read "4 -> 4" beside the regression it flagged).
pub fn ms(v: f64) -> String {
    if v.abs() < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_latencies_keep_a_decimal() {
        assert_eq!(super::ms(3.64), "3.6");
        assert_eq!(super::ms(0.4), "0.4");
        assert_eq!(super::ms(120.4), "120");
    }

    #[test]
    fn small_rates_keep_two_decimals() {
        assert_eq!(super::rps(1.25), "1.25");
        assert_eq!(super::rps(13.2051), "13.2");
    }
}
