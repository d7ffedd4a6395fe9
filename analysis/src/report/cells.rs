//! How values read in a report cell, the same in every table.

/// Milliseconds in a table cell, whole: `–` where there is no value.
pub(super) fn opt_ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.0}"))
}

/// The sentence with its first letter a capital.
pub(super) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}
