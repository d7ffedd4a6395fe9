//! Small helpers between polars results and plain Rust values.

use polars::prelude::*;

/// The one quantile definition used everywhere: nearest rank (the value at index
/// ceil(q·n) − 1 of the sorted sample), which is polars' `Equiprobable`, HdrHistogram's and
/// DuckDB's `quantile_disc`. Never interpolated, never averaged across groups.
pub fn quantile(column: &str, q: f64) -> Expr {
    quantile_of(col(column), q)
}

/// [`quantile`] of any expression, e.g. a column filtered to the successful rows.
pub fn quantile_of(expr: Expr, q: f64) -> Expr {
    expr.quantile(lit(q), QuantileMethod::Equiprobable)
}

/// A column as f64 values (nulls as NaN).
pub fn f64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<f64>> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// A column as strings (nulls as None), each [`clean`]ed: text a target sent (an error
/// message, a model name) reaches terminals and reports only through here.
pub fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|v| v.map(clean)).collect())
}

/// Text from a target or a file made safe to print: line breaks and tabs become spaces,
/// every other control character (ESC, BEL, the C1 range, DEL) is dropped, so nothing a
/// server sends can move a terminal's cursor or split a report's table row.
pub fn clean(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// A column as i64 values (nulls as None).
pub fn i64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i64>>> {
    let c = df.column(name)?.cast(&DataType::Int64)?;
    Ok(c.i64()?.iter().collect())
}

/// Runs a query on polars' streaming engine, which processes the files in batches instead of
/// loading whole columns where the query allows it.
pub trait CollectStreaming {
    fn collect_streaming(self) -> PolarsResult<DataFrame>;
}

impl CollectStreaming for LazyFrame {
    fn collect_streaming(self) -> PolarsResult<DataFrame> {
        // One plan has one sink, so the result is always a single frame.
        Ok(self.collect_with_engine(Engine::Streaming)?.unwrap_single())
    }
}

/// `expr` where `condition` holds, null elsewhere: an aggregation over it skips the other
/// rows as a filter would. Row by row, so polars' streaming engine keeps the aggregation
/// streaming, where a filter inside an aggregation makes it gather every row of the group
/// first.
pub fn only(expr: Expr, condition: Expr) -> Expr {
    when(condition).then(expr).otherwise(lit(NULL))
}
