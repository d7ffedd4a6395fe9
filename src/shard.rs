//! A worker's share of a distributed run (`--shard I/N`): the N workers together send exactly
//! the one-machine load. User k, arrival k and trace request k of the one schedule belong to
//! worker k mod N, so user ids are disjoint, a mix's classes and every random choice are the
//! one machine's (they are drawn from the global number), and the merged arrival process is
//! the requested one, Poisson included (docs/distributed.md).

use std::fmt;

/// Worker `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// A run on one machine: every user, arrival and line is its own.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether the k-th user, arrival or trace request of the one-machine load is this
    /// worker's.
    pub fn takes(self, k: u64) -> bool {
        k % u64::from(self.count) == u64::from(self.index)
    }

    /// How many of the first `n` users (arrivals, lines) are this worker's: the remainder is
    /// spread, one each, over the lowest indexes.
    pub fn share_of(self, n: u64) -> u64 {
        let (i, c) = (u64::from(self.index), u64::from(self.count));
        if n <= i { 0 } else { (n - i - 1) / c + 1 }
    }

    /// The one-machine number of this worker's `local`-th user (0-based).
    pub fn global(self, local: u64) -> u64 {
        u64::from(self.index) + local * u64::from(self.count)
    }

    /// Part of a distributed run.
    pub fn is_distributed(self) -> bool {
        self.count > 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The most workers a run may have.
pub const MAX_SHARDS: u32 = 1000;

/// `I/N`, 0 <= I < N <= 1000.
pub fn parse(text: &str) -> Result<Shard, String> {
    let (i, n) = text.split_once('/').ok_or_else(|| {
        format!("`{text}`: expected I/N, this worker's index and the workers, e.g. 0/4")
    })?;
    let number = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("`{text}`: `{s}` is not a whole number (expected I/N, e.g. 0/4)"))
    };
    let (index, count) = (number(i)?, number(n)?);
    if count == 0 || count > MAX_SHARDS {
        return Err(format!("`{text}`: between 1 and {MAX_SHARDS} workers"));
    }
    if index >= count {
        return Err(format!(
            "`{text}`: the index counts from 0, so it is below {count} (0/{count} … {}/{count})",
            count - 1
        ));
    }
    Ok(Shard { index, count })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workers_take_every_kth_and_together_all_once() {
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        for k in 0..100u64 {
            assert_eq!(shards.iter().filter(|s| s.takes(k)).count(), 1, "{k}");
        }
        for n in 0..50u64 {
            let shares: Vec<u64> = shards.iter().map(|s| s.share_of(n)).collect();
            assert_eq!(shares.iter().sum::<u64>(), n, "{n}: {shares:?}");
            assert!(shares[0] - shares[2] <= 1, "remainder spread: {shares:?}");
            for s in &shards {
                let mine = (0..n).filter(|k| s.takes(*k)).count() as u64;
                assert_eq!(s.share_of(n), mine);
                assert!((0..mine).all(|l| s.takes(s.global(l))));
            }
        }
        assert!(Shard::WHOLE.takes(7) && !Shard::WHOLE.is_distributed());
    }

    #[test]
    fn bad_shards_are_refused_with_the_form() {
        assert_eq!(parse("1/4"), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1", "a/4", "0/0", "0/1001", "-1/3"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("4/4").unwrap_err().contains("counts from 0"));
    }
}
