//! The settings of a capacity search (`run --find-capacity`), recorded with its files so that
//! the analysis judges its steps by the same rules the search used.

use serde::{Deserialize, Serialize};

/// How a capacity search held and judged its steps, stored under
/// [`crate::meta::CAPACITY_SEARCH`]. The rules themselves are written once, in
/// docs/analysis.md ("Capacity search"), and implemented once, in the analysis crate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacitySearch {
    /// The search stops when the highest passing rate and the lowest failing rate are within
    /// this share of each other (0.05 = 5%).
    pub precision: f64,
    /// A step is held at least this long (seconds) before it may be judged.
    pub step_min_s: f64,
    /// A step that has not settled by this hold (seconds) is judged as it is.
    pub step_max_s: f64,
    /// The time the whole search may take (seconds), drains included.
    pub budget_s: f64,
    /// The rate of the first step (arrivals per second of the mix).
    pub start_rps: f64,
}
