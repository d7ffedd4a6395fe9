//! Exact percentiles of every grouping the report needs, from **one sort**: the successful
//! requests' latencies, sorted once with each row's endpoint, model and window beside it.
//! A grouping's percentiles are then one pass over that order: a group's k-th value is the
//! k-th of its rows met, so no group's values are gathered, copied or selected again.
//!
//! Per endpoint, per window, per endpoint and window, per load level, per level and
//! endpoint, per model (the one each response named) and per endpoint's or model's own
//! level (a model's: its endpoints' rows) are each a function of (endpoint, model, window):
//! [`Ranks::quantiles`] takes that function. The definition is
//! the one of [`crate::frame::quantile`] (nearest rank: the value at index ceil(q·n) − 1 of
//! the sorted sample, DuckDB's `quantile_disc`), and the tests hold the two equal.

use polars::prelude::*;
use rayon::slice::ParallelSliceMut;

use crate::frame::strs;
use crate::grid::Grid;

/// What a ranked row is grouped by: its endpoint and model (indices into [`Ranks::endpoints`]
/// and [`Ranks::models`]) and its window (`win`: by send time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// Index into [`Ranks::endpoints`].
    pub endpoint: usize,
    /// Index into [`Ranks::models`]; None when the response named no model.
    pub model: Option<usize>,
    /// The window the request was sent in.
    pub win: usize,
}

/// Bits of a packed key: endpoint (24), model + 1 (24, 0 = none: a model name is text a
/// server sends, so there may be many), window (16: a run has about 60 windows,
/// `window_s` = its duration / 60).
const ENDPOINT_BITS: u32 = 24;
const MODEL_BITS: u32 = 24;
const WIN_BITS: u32 = 16;

fn pack(endpoint: usize, model: Option<usize>, win: usize) -> Option<u64> {
    let model = model.map_or(0, |m| m + 1);
    (endpoint < 1 << ENDPOINT_BITS && model < 1 << MODEL_BITS && win < 1 << WIN_BITS).then_some(
        ((endpoint as u64) << (MODEL_BITS + WIN_BITS)) | ((model as u64) << WIN_BITS) | win as u64,
    )
}

fn unpack(key: u64) -> Key {
    let model = ((key >> WIN_BITS) & ((1 << MODEL_BITS) - 1)) as usize;
    Key {
        endpoint: (key >> (MODEL_BITS + WIN_BITS)) as usize,
        model: model.checked_sub(1),
        win: (key & ((1 << WIN_BITS) - 1)) as usize,
    }
}

/// Rows' values (the successful requests' latencies, or another [`Ranked`]) in ascending
/// order, each with its [`Key`].
#[derive(Debug, Clone, Default)]
pub struct Ranks {
    /// The endpoints, by name: a [`Key::endpoint`] indexes them.
    pub endpoints: Vec<String>,
    /// The models responses named, by name: a [`Key::model`] indexes them.
    pub models: Vec<String>,
    /// (value µs, packed key), ascending.
    sorted: Vec<(i64, u64)>,
}

/// One group's size and its values at the quantiles asked for (µs; NaN without rows).
#[derive(Debug, Clone, PartialEq)]
pub struct Quantiles {
    /// Rows in the group.
    pub n: u64,
    /// The value at each quantile asked for, in the order asked.
    pub values: Vec<f64>,
}

/// Which rows are ranked, by which value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranked {
    /// The successful requests, by latency: what every latency percentile is of.
    SuccessLatency,
    /// The successful requests, by latency from their intended send time (coordinated
    /// omission corrected).
    SuccessCorrected,
    /// The sent requests, by how late they went out against their schedule.
    SentLateness,
}

/// The endpoints and models of the rows, by name, and where a row's categorical id is among
/// them: read once, shared by every [`Ranks`] of the rows.
#[derive(Debug, Clone)]
pub struct Names {
    endpoints: Vec<String>,
    models: Vec<String>,
    endpoint_of: Vec<Option<usize>>,
    model_of: Vec<Option<usize>>,
}

impl Names {
    /// The names in `rows` (the frame [`crate::source::load`] read).
    pub fn of(rows: &DataFrame) -> PolarsResult<Names> {
        let (endpoints, endpoint_of) = dictionary(rows, "endpoint")?;
        let (models, model_of) = dictionary(rows, "model_used")?;
        Ok(Names {
            endpoints,
            models,
            endpoint_of,
            model_of,
        })
    }
}

impl Ranks {
    /// Ranks the rows `ranked` names of `rows` (the frame [`crate::source::load`] read:
    /// `endpoint`, `model_used`, `sent_us`, `latency_us`, `lateness_us`, `ok`, `dropped`)
    /// by their value, each with the window of `grid` it was sent in.
    pub fn of(rows: &DataFrame, names: &Names, ranked: Ranked, grid: &Grid) -> PolarsResult<Ranks> {
        let (endpoint_of, model_of) = (&names.endpoint_of, &names.model_of);
        let physical = |name: &str| -> PolarsResult<UInt32Chunked> {
            Ok(rows
                .column(name)?
                .as_materialized_series()
                .to_physical_repr()
                .cast(&DataType::UInt32)?
                .u32()?
                .clone())
        };
        let (mut endpoint, mut model) = (physical("endpoint")?, physical("model_used")?);
        let (mut sent, mut latency, mut lateness) = (
            rows.column("sent_us")?.i64()?.clone(),
            rows.column("latency_us")?.i64()?.clone(),
            rows.column("lateness_us")?.i64()?.clone(),
        );
        let (mut which, wanted) = match ranked {
            Ranked::SuccessLatency | Ranked::SuccessCorrected => {
                (rows.column("ok")?.bool()?.clone(), true)
            }
            Ranked::SentLateness => (rows.column("dropped")?.bool()?.clone(), false),
        };
        // The columns of one scan are chunked alike: read chunk by chunk, value slices side
        // by side. Any that is not gets one chunk each (a copy, rare).
        let chunks = |lengths: Vec<usize>| lengths;
        let shape = chunks(endpoint.chunk_lengths().collect());
        let aligned = [
            chunks(model.chunk_lengths().collect()),
            chunks(sent.chunk_lengths().collect()),
            chunks(latency.chunk_lengths().collect()),
            chunks(lateness.chunk_lengths().collect()),
            chunks(which.chunk_lengths().collect()),
        ]
        .iter()
        .all(|c| *c == shape);
        if !aligned {
            endpoint = endpoint.rechunk().into_owned();
            model = model.rechunk().into_owned();
            sent = sent.rechunk().into_owned();
            latency = latency.rechunk().into_owned();
            lateness = lateness.rechunk().into_owned();
            which = which.rechunk().into_owned();
        }
        let count = which.sum().unwrap_or(0) as usize;
        let mut sorted = Vec::with_capacity(if wanted { count } else { which.len() - count });
        let too_many =
            || polars_err!(ComputeError: "more endpoints, models or windows than a rank key holds");
        let arrays = endpoint
            .downcast_iter()
            .zip(model.downcast_iter())
            .zip(sent.downcast_iter())
            .zip(latency.downcast_iter().zip(lateness.downcast_iter()))
            .zip(which.downcast_iter());
        for ((((e, m), s), (l, late)), w) in arrays {
            let (ev, mv, sv) = (
                e.values().as_slice(),
                m.values().as_slice(),
                s.values().as_slice(),
            );
            let (lv, latev) = (l.values().as_slice(), late.values().as_slice());
            let (ew, sw, lw, latew, ww) = (
                e.validity(),
                s.validity(),
                l.validity(),
                late.validity(),
                w.validity(),
            );
            for i in 0..ev.len() {
                // A value is there unless its column has a validity mask that says not.
                macro_rules! valid {
                    ($v:expr) => {
                        $v.is_none_or(|b| b.get_bit(i))
                    };
                }
                let present = valid!(ew) && valid!(sw) && valid!(lw) && valid!(latew) && valid!(ww);
                if !present || w.value(i) != wanted {
                    continue;
                }
                let value = match ranked {
                    Ranked::SuccessLatency => lv[i],
                    Ranked::SuccessCorrected => lv[i] + latev[i],
                    Ranked::SentLateness => latev[i],
                };
                let Some(e) = endpoint_of.get(ev[i] as usize).copied().flatten() else {
                    continue;
                };
                let m = valid!(m.validity())
                    .then(|| model_of.get(mv[i] as usize).copied().flatten())
                    .flatten();
                let win = grid.index(sv[i]);
                sorted.push((value, pack(e, m, win).ok_or_else(too_many)?));
            }
        }
        // By value alone: ties in any order (a rank picks a value, whichever row holds it), and
        // runs of equal values (lateness is mostly 0) sort in linear time.
        sorted.par_sort_unstable_by_key(|&(value, _)| value);
        Ok(Ranks {
            endpoints: names.endpoints.clone(),
            models: names.models.clone(),
            sorted,
        })
    }

    /// The index of an endpoint's name.
    pub fn endpoint(&self, name: &str) -> Option<usize> {
        self.endpoints
            .binary_search_by(|e| e.as_str().cmp(name))
            .ok()
    }

    /// The index of a model's name.
    pub fn model(&self, name: &str) -> Option<usize> {
        self.models.binary_search_by(|m| m.as_str().cmp(name)).ok()
    }

    /// Per group (`0..groups`), its size and nearest-rank quantiles `qs` of latency; `group`
    /// says which group a row's key belongs to (None: in none). Two passes over the sorted
    /// rows: one counts the groups, one picks each group's ranks as they come.
    pub fn quantiles(
        &self,
        groups: usize,
        qs: &[f64],
        group: impl Fn(Key) -> Option<usize>,
    ) -> Vec<Quantiles> {
        let group_of = |key: u64| group(unpack(key)).filter(|&g| g < groups);
        let mut n = vec![0u64; groups];
        for &(_, key) in &self.sorted {
            if let Some(g) = group_of(key) {
                n[g] += 1;
            }
        }
        // Per group, the ranks wanted (ascending) and which quantile each answers.
        let wanted: Vec<Vec<(u64, usize)>> = n
            .iter()
            .map(|&n| {
                let mut ranks: Vec<(u64, usize)> = qs
                    .iter()
                    .enumerate()
                    .map(|(i, &q)| (nearest_rank(n, q), i))
                    .collect();
                ranks.sort_unstable();
                ranks
            })
            .collect();
        let mut out: Vec<Quantiles> = n
            .iter()
            .map(|&n| Quantiles {
                n,
                values: vec![f64::NAN; qs.len()],
            })
            .collect();
        let mut seen = vec![0u64; groups];
        let mut next = vec![0usize; groups];
        for &(value, key) in &self.sorted {
            let Some(g) = group_of(key) else {
                continue;
            };
            let rank = seen[g];
            seen[g] += 1;
            while let Some(&(r, i)) = wanted[g].get(next[g]) {
                if r != rank {
                    break;
                }
                out[g].values[i] = value as f64;
                next[g] += 1;
            }
        }
        out
    }
}

/// The 0-based index of quantile `q` among `n` sorted values: ceil(q·n) − 1, at least 0
/// (polars' `Equiprobable`, computed as polars computes it).
fn nearest_rank(n: u64, q: f64) -> u64 {
    ((n as f64 * q).ceil() - 1.0).max(0.0) as u64
}

/// A categorical column's values by name (sorted as Rust sorts strings, so a name is found
/// by binary search), and each physical id's index among them (indexed by the id: a lookup
/// a row, no hashing).
fn dictionary(rows: &DataFrame, name: &str) -> PolarsResult<(Vec<String>, Vec<Option<usize>>)> {
    let ids = rows
        .clone()
        .lazy()
        .select([col(name)])
        .filter(col(name).is_not_null())
        .group_by([col(name)])
        .agg([col(name).to_physical().first().alias("id")])
        .collect()?;
    let physical = ids.column("id")?.cast(&DataType::UInt32)?;
    let mut pairs: Vec<(String, u32)> = strs(&ids, name)?
        .into_iter()
        .zip(physical.u32()?.iter())
        .filter_map(|(n, id)| Some((n?, id?)))
        .collect();
    pairs.sort();
    let mut of = vec![
        None;
        pairs
            .iter()
            .map(|(_, id)| *id as usize + 1)
            .max()
            .unwrap_or(0)
    ];
    // Two raw names that print the same (they differ in control characters only) are one.
    let mut names: Vec<String> = Vec::new();
    for (name, id) in pairs {
        if names.last() != Some(&name) {
            names.push(name);
        }
        of[id as usize] = Some(names.len() - 1);
    }
    Ok((names, of))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{f64s, quantile};

    const START_US: i64 = 1_000_000;
    const WINDOW_US: i64 = 2_000_000;

    fn rows() -> DataFrame {
        // 1,000 rows over three endpoints, two models (and none), five windows; every
        // eleventh dropped unsent, every seventh failed, lateness from 0 to 400 µs.
        let n = 1000;
        let endpoint: Vec<&str> = (0..n).map(|i| ["a", "b", "c"][i % 3]).collect();
        let model: Vec<Option<&str>> = (0..n)
            .map(|i| [Some("m1"), None, Some("m2")][i % 3])
            .collect();
        let sent: Vec<i64> = (0..n as i64).map(|i| START_US + i * 10_000).collect();
        let latency: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % 1009 + 1).collect();
        let lateness: Vec<i64> = (0..n as i64).map(|i| (i * 31) % 5 * 100).collect();
        let dropped: Vec<bool> = (0..n).map(|i| i % 11 == 0).collect();
        let ok: Vec<bool> = (0..n).map(|i| i % 7 != 0 && i % 11 != 0).collect();
        let cat = DataType::from_categories(Categories::global());
        DataFrame::new_infer_height(vec![
            Column::new("endpoint".into(), endpoint).cast(&cat).unwrap(),
            Column::new("model_used".into(), model).cast(&cat).unwrap(),
            Column::new("sent_us".into(), sent),
            Column::new("latency_us".into(), latency),
            Column::new("lateness_us".into(), lateness),
            Column::new("ok".into(), ok),
            Column::new("dropped".into(), dropped),
        ])
        .unwrap()
    }

    fn ranked(df: &DataFrame, which: Ranked) -> Ranks {
        let grid = Grid {
            start_us: START_US,
            width_us: WINDOW_US,
            count: 1 << 16,
        };
        Ranks::of(df, &Names::of(df).unwrap(), which, &grid).unwrap()
    }

    /// Each ranking's quantiles per (endpoint, window) against polars' nearest rank over the
    /// same rows and values.
    #[test]
    fn quantiles_equal_polars_nearest_rank_per_group() {
        let df = rows();
        let qs = [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0];
        for (which, rows_kept, value) in [
            (Ranked::SuccessLatency, col("ok"), col("latency_us")),
            (
                Ranked::SuccessCorrected,
                col("ok"),
                col("latency_us") + col("lateness_us"),
            ),
            (
                Ranked::SentLateness,
                col("dropped").not(),
                col("lateness_us"),
            ),
        ] {
            let ranks = ranked(&df, which);
            assert_eq!(ranks.endpoints, ["a", "b", "c"]);
            assert_eq!(ranks.models, ["m1", "m2"]);
            let ours = ranks.quantiles(3 * 5, &qs, |k| Some(k.endpoint * 5 + k.win));
            let mut aggs: Vec<Expr> = qs
                .iter()
                .enumerate()
                .map(|(i, q)| quantile("v", *q).alias(format!("q{i}")))
                .collect();
            aggs.push(len().alias("n"));
            let theirs = df
                .clone()
                .lazy()
                .filter(rows_kept)
                .with_columns([
                    value.alias("v"),
                    ((col("sent_us") - lit(START_US)) / lit(WINDOW_US)).alias("win"),
                ])
                .group_by([col("endpoint"), col("win")])
                .agg(aggs)
                .sort(["endpoint", "win"], SortMultipleOptions::default())
                .collect()
                .unwrap();
            assert_eq!(theirs.height(), 15, "{which:?}");
            let n = f64s(&theirs, "n").unwrap();
            for (g, group) in ours.iter().enumerate() {
                assert_eq!(group.n as f64, n[g], "{which:?} group {g}");
                for (i, v) in group.values.iter().enumerate() {
                    let theirs = f64s(&theirs, &format!("q{i}")).unwrap()[g];
                    assert_eq!(*v, theirs, "{which:?} group {g} q{i}");
                }
            }
        }
    }

    #[test]
    fn rows_without_a_model_are_in_no_model_group_and_empty_groups_are_nan() {
        let ranks = ranked(&rows(), Ranked::SuccessLatency);
        let by_model = ranks.quantiles(3, &[0.5], |k| k.model);
        let successes = |i: &usize| !i.is_multiple_of(7) && !i.is_multiple_of(11);
        let no_model = (0..1000).filter(|i| i % 3 == 1 && successes(i)).count() as u64;
        let with_model: u64 = by_model.iter().map(|g| g.n).sum();
        assert_eq!(
            with_model + no_model,
            (0..1000).filter(successes).count() as u64
        );
        assert_eq!(by_model[2].n, 0);
        assert!(by_model[2].values[0].is_nan());
        assert_eq!(ranks.model("m2"), Some(1));
        assert_eq!(ranks.endpoint("zzz"), None);
    }

    #[test]
    fn keys_pack_and_unpack() {
        for (e, m, w) in [
            (0, None, 0),
            (5, Some(0), 59),
            ((1 << 24) - 1, Some(65534), 7),
        ] {
            let key = pack(e, m, w).unwrap();
            assert_eq!(
                unpack(key),
                Key {
                    endpoint: e,
                    model: m,
                    win: w
                }
            );
        }
        assert_eq!(pack(1 << 24, None, 0), None);
        assert_eq!(pack(0, Some((1 << 24) - 1), 0), None);
        assert_eq!(pack(0, None, 1 << 16), None);
    }
}
