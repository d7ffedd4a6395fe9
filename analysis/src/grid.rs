//! Which window of the run a moment falls in: one definition for every question that cuts
//! the run into windows (the timeline, the levels, the rank keys, the exports).

use polars::prelude::*;

/// The run cut into `count` windows of `width_us` from its first send (`start_us`); the last
/// one runs to the last send. When the last send falls less than half a window past the
/// last full window's end, that sliver is folded into it rather than made a window of its
/// own: a window of a few requests, its rate divided by a whole window (or a quarter of one),
/// drew a collapse at the end of the throughput chart and took a few percent off the served
/// rate of the load level it belongs to (a 10 s run whose last send came 0.3 ms past 10 s:
/// its level's 10.25 s gave 93,934 req/s for a run of 96,256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// The first send (µs since the epoch): the first window's start.
    pub start_us: i64,
    /// A window's width (µs).
    pub width_us: i64,
    /// Windows in the run, at least one.
    pub count: usize,
}

impl Grid {
    /// The windows of `window_s` seconds from `start_us` to `last_send_us`.
    pub fn new(start_us: i64, last_send_us: i64, window_s: f64) -> Grid {
        let width_us = ((window_s * 1e6) as i64).max(1);
        let span = last_send_us.saturating_sub(start_us).max(0);
        let full = usize::try_from(span / width_us).unwrap_or(0);
        let sliver = span % width_us;
        // `full` whole windows and what the last send reaches past them; a sliver under half
        // a window goes to the one before it.
        let count = if full >= 1 && sliver < width_us / 2 {
            full
        } else {
            full + 1
        };
        Grid {
            start_us,
            width_us,
            count,
        }
    }

    /// The window of a moment (µs since the epoch): before the first, the first; past the
    /// last window's start, the last.
    pub fn index(&self, at_us: i64) -> usize {
        let raw = usize::try_from(at_us.saturating_sub(self.start_us) / self.width_us).unwrap_or(0);
        raw.min(self.count.saturating_sub(1))
    }

    /// [`Grid::index`] of the times in column `at` (µs since the epoch), as a polars
    /// expression (i64).
    pub fn index_of(&self, at: &str) -> Expr {
        let raw = (col(at) - lit(self.start_us)) / lit(self.width_us);
        let last = self.count.saturating_sub(1) as i64;
        when(raw.clone().gt(lit(last)))
            .then(lit(last))
            .otherwise(raw)
    }

    /// Seconds a window covers (the last may cover more: up to the last send).
    pub fn window_s(&self) -> f64 {
        self.width_us as f64 / 1e6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A last send 0.3 ms past the tenth second folds into the tenth window; half a window
    /// or more past it makes an eleventh; one send alone is one window.
    #[test]
    fn a_sliver_past_the_last_window_folds_into_it() {
        let second = 1_000_000;
        let grid = Grid::new(0, 10 * second + 300, 1.0);
        assert_eq!(grid.count, 10);
        assert_eq!(grid.index(10 * second + 300), 9);
        assert_eq!(grid.index(9 * second - 1), 8);
        assert_eq!(Grid::new(0, 10 * second + second / 2, 1.0).count, 11);
        assert_eq!(Grid::new(0, 10 * second - 1, 1.0).count, 10);
        assert_eq!(Grid::new(5, 5, 1.0).count, 1);
        assert_eq!(Grid::new(0, 300, 1.0).count, 1, "under a window: one");
        let df = df!("t" => [0i64, second, 10 * second + 300]).expect("frame");
        let idx = df
            .lazy()
            .select([grid.index_of("t").alias("w")])
            .collect()
            .expect("collect");
        let w: Vec<i64> = idx
            .column("w")
            .expect("w")
            .i64()
            .expect("i64")
            .into_no_null_iter()
            .collect();
        assert_eq!(w, vec![0, 1, 9]);
    }
}
