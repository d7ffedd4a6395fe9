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

#[cfg(test)]
mod tests {
    #[test]
    fn small_rates_keep_two_decimals() {
        assert_eq!(super::rps(1.25), "1.25");
        assert_eq!(super::rps(13.2051), "13.2");
    }
}
