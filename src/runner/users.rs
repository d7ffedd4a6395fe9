//! A virtual user of the closed model: on-start tasks, then pick a task by weight, send it,
//! wait a random time in the class's range, again, until told to stop.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

use super::Shared;

pub struct VirtualUser {
    shared: Arc<Shared>,
    id: u32,
    class: usize,
    rng: StdRng,
}

impl VirtualUser {
    /// Each user draws from its own stream, derived from the run seed and its id, so a run
    /// with the same seed makes the same choices whatever the timing.
    pub fn new(shared: Arc<Shared>, id: u32, class: usize, seed: u64) -> VirtualUser {
        let rng = StdRng::seed_from_u64(splitmix(seed ^ splitmix(u64::from(id))));
        VirtualUser {
            shared,
            id,
            class,
            rng,
        }
    }

    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let shared = self.shared.clone();
        shared.users_active.fetch_add(1, Ordering::Relaxed);
        let class = &shared.scenario.user_classes[self.class];
        let mut intended = Instant::now();
        for &endpoint in &class.on_start {
            if *stop.borrow() {
                break;
            }
            shared
                .send(self.id, self.class, endpoint, &mut self.rng, intended)
                .await;
            intended = Instant::now();
        }
        while !*stop.borrow() {
            let endpoint = class.tasks.pick(&mut self.rng);
            shared
                .send(self.id, self.class, endpoint, &mut self.rng, intended)
                .await;
            let (lo, hi) = class.wait;
            let wait = if hi > lo {
                self.rng.random_range(lo..=hi)
            } else {
                lo
            };
            if wait.is_zero() {
                // No timer for no wait (a timer per request is measurable at 30k req/s); a
                // yield keeps a user whose requests fail at once from holding its thread.
                intended = Instant::now();
                tokio::task::yield_now().await;
                continue;
            }
            intended = Instant::now() + wait;
            tokio::select! {
                _ = tokio::time::sleep_until(intended.into()) => {}
                _ = stop.changed() => break,
            }
        }
        shared.users_active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Which class each of `users` users gets: smooth weighted round robin, so any prefix of
/// the spawn order (a ramp still under way) already has the classes in their proportions.
pub fn assign_classes(classes: &[(usize, u32)], users: u32) -> Vec<usize> {
    let total: i64 = classes.iter().map(|(_, w)| i64::from(*w)).sum();
    let mut current = vec![0i64; classes.len()];
    (0..users)
        .filter_map(|_| {
            classes
                .iter()
                .zip(current.iter_mut())
                .for_each(|((_, w), c)| *c += i64::from(*w));
            let (best, _) = current
                .iter()
                .enumerate()
                .max_by_key(|(i, c)| (**c, -(*i as i64)))?;
            current[best] -= total;
            Some(classes[best].0)
        })
        .collect()
}

pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_weights_in_every_prefix() {
        let order = assign_classes(&[(0, 7), (1, 2), (2, 1)], 20);
        let count = |n: usize, k: usize| order[..n].iter().filter(|c| **c == k).count();
        assert_eq!((count(10, 0), count(10, 1), count(10, 2)), (7, 2, 1));
        assert_eq!((count(20, 0), count(20, 1), count(20, 2)), (14, 4, 2));
        assert_eq!(assign_classes(&[(3, 1)], 3), vec![3, 3, 3]);
    }
}
