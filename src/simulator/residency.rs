//! Which models are in the model server's memory, as Ollama schedules them: a model is loaded
//! before it generates (its load time), stays loaded `keep_alive` after its last request, and
//! when memory (`--model-memory`) cannot hold one more, the least recently used idle model is
//! unloaded to make room. A request for a model that is not loaded waits, in arrival order,
//! for memory to free (an idle model unloaded, or a busy one finishing) and for the load, and
//! the requests behind it wait too: Ollama's scheduler handles its pending requests one at a
//! time. `GET /api/ps` lists what is loaded (a model being loaded included, as Ollama lists it).
//!
//! Without a memory budget every model fits: loaded from the start (no load time) or on its
//! first request (`--model-load`, a cold start).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::models::{CODE_MODEL, IMAGE_MODEL, TEXT_MODEL};

/// A model as the model server holds it: its memory and the time a load takes (real-world
/// speed; scaled by the simulator's time scale).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub name: &'static str,
    pub size_bytes: u64,
    pub load: Duration,
}

/// The models AURAX uses, at the sizes their tags take (Q4 weights and a 4k context) and load
/// times of a local NVMe disk: mistral 7B Q4_K_M 4.4 GB, qwen3-coder 30B Q4 18.6 GB, Stable
/// Diffusion 1.5 about 4 GB. Text and code fit a 24 GB GPU together; image makes it swap.
pub fn default_models() -> Vec<ModelSpec> {
    vec![
        ModelSpec {
            name: TEXT_MODEL,
            size_bytes: 4_400_000_000,
            load: Duration::from_secs(3),
        },
        ModelSpec {
            name: CODE_MODEL,
            size_bytes: 18_600_000_000,
            load: Duration::from_secs(10),
        },
        ModelSpec {
            name: IMAGE_MODEL,
            size_bytes: 4_000_000_000,
            load: Duration::from_secs(4),
        },
    ]
}

/// How the model server keeps its models.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidencyConfig {
    /// Memory for loaded models (`--model-memory`); None: every model fits.
    pub memory_bytes: Option<u64>,
    /// Idle time after which a model is unloaded (Ollama's `keep_alive`), scaled.
    pub keep_alive: Duration,
    /// Each model's size and load time, scaled.
    pub models: Vec<ModelSpec>,
}

/// Where one model is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Unloaded,
    /// Being loaded: it holds its memory already.
    Loading,
    Loaded,
}

#[derive(Debug)]
struct ModelState {
    spec: ModelSpec,
    phase: Phase,
    /// Requests holding the model (waiting for a slot or generating): it is not unloaded
    /// while any does.
    in_use: u32,
    last_used: Instant,
    loads: u64,
    /// Loads that first unloaded another model to make room.
    swaps: u64,
    unloads: u64,
    load_seconds: f64,
}

/// A model as `/api/ps` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub name: &'static str,
    pub size_bytes: u64,
    /// When it will be unloaded if no request comes (now + keep_alive while in use).
    pub expires_in: Duration,
}

/// What the model server counted for one model, for `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCounts {
    pub name: &'static str,
    pub loads: u64,
    pub swaps: u64,
    pub unloads: u64,
    pub load_seconds: f64,
}

pub struct Residency {
    memory_bytes: Option<u64>,
    keep_alive: Duration,
    state: Mutex<Vec<ModelState>>,
    /// Ollama's pending queue: one request at a time arranges its model's residency.
    turn: tokio::sync::Mutex<()>,
    changed: Notify,
}

/// A request holding its model in memory; dropped, the model may be unloaded.
pub struct Lease {
    residency: Arc<Residency>,
    index: usize,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(m) = self.residency.lock().get_mut(self.index) {
            m.in_use = m.in_use.saturating_sub(1);
            m.last_used = Instant::now();
        }
        self.residency.changed.notify_waiters();
    }
}

impl Residency {
    /// Without a memory budget and with no load time, every model is loaded from the start.
    pub fn new(config: ResidencyConfig) -> Arc<Residency> {
        let now = Instant::now();
        let state = config
            .models
            .into_iter()
            .map(|spec| ModelState {
                phase: if config.memory_bytes.is_none() && spec.load.is_zero() {
                    Phase::Loaded
                } else {
                    Phase::Unloaded
                },
                spec,
                in_use: 0,
                last_used: now,
                loads: 0,
                swaps: 0,
                unloads: 0,
                load_seconds: 0.0,
            })
            .collect();
        Arc::new(Residency {
            memory_bytes: config.memory_bytes,
            keep_alive: config.keep_alive,
            state: Mutex::new(state),
            turn: tokio::sync::Mutex::new(()),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<ModelState>> {
        // A panic while holding the lock leaves plain counters: keep serving with them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds `model` in memory, loading it first when it is not (and unloading idle models
    /// to make room). Returns the lease and the time spent waiting for the model: memory,
    /// the load, and the requests ahead of it that were doing the same.
    pub async fn acquire(self: &Arc<Self>, model: &str) -> (Lease, Duration) {
        let asked = Instant::now();
        let Some(index) = self.lock().iter().position(|m| m.spec.name == model) else {
            // A model the server does not hold: nothing to load.
            return (self.lease_unknown(), Duration::ZERO);
        };
        if self.memory_bytes.is_none() && self.lock()[index].spec.load.is_zero() {
            // Loaded from the start and never unloaded (the default): no scheduling to wait
            // for, so no turn taken on every generation.
            self.lock()[index].in_use += 1;
            let lease = Lease {
                residency: self.clone(),
                index,
            };
            return (lease, Duration::ZERO);
        }
        let _turn = self.turn.lock().await;
        // Held from the moment this request starts a load: the model is in use by it, so
        // neither keep_alive nor another request's room-making unloads it before it is
        // served (a keep_alive of 0 would otherwise reload it forever). Dropped with the
        // request if it gives up.
        let mut claim: Option<Lease> = None;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut s = self.lock();
                // Idle past keep_alive is unloaded, as Ollama's timer would have done; a
                // model claimed by this request is in use, so never.
                self.expire(&mut s, Instant::now());
                match s[index].phase {
                    Phase::Loaded => {
                        let lease = match claim.take() {
                            Some(lease) => lease,
                            None => {
                                s[index].in_use += 1;
                                Lease {
                                    residency: self.clone(),
                                    index,
                                }
                            }
                        };
                        drop(s);
                        return (lease, asked.elapsed());
                    }
                    Phase::Loading => {}
                    Phase::Unloaded => {
                        if let Some(swapped) = self.make_room(&mut s, index) {
                            s[index].in_use += 1;
                            claim = Some(Lease {
                                residency: self.clone(),
                                index,
                            });
                            self.start_load(&mut s, index, swapped);
                        }
                    }
                }
            }
            changed.await;
        }
    }

    /// A lease on nothing, for a model outside the server's list.
    fn lease_unknown(self: &Arc<Self>) -> Lease {
        Lease {
            residency: self.clone(),
            index: usize::MAX,
        }
    }

    /// Unloads least recently used idle models until `index` fits. Some(whether any was
    /// unloaded) when it fits, None when it must wait for a busy model to finish.
    fn make_room(&self, s: &mut [ModelState], index: usize) -> Option<bool> {
        let Some(budget) = self.memory_bytes else {
            return Some(false);
        };
        let mut unloaded = false;
        loop {
            let used: u64 = s
                .iter()
                .filter(|m| m.phase != Phase::Unloaded)
                .map(|m| m.spec.size_bytes)
                .sum();
            // A model larger than the whole memory still loads when it is alone (Ollama then
            // runs part of it on the CPU).
            if used == 0 || used + s[index].spec.size_bytes <= budget {
                return Some(unloaded);
            }
            let victim = s
                .iter()
                .enumerate()
                .filter(|(i, m)| *i != index && m.phase == Phase::Loaded && m.in_use == 0)
                .min_by_key(|(_, m)| m.last_used)
                .map(|(i, _)| i)?;
            s[victim].phase = Phase::Unloaded;
            s[victim].unloads += 1;
            unloaded = true;
        }
    }

    /// Starts loading `index` on a task of its own, so that a request giving up while it
    /// waits never leaves a load half done.
    fn start_load(self: &Arc<Self>, s: &mut [ModelState], index: usize, swapped: bool) {
        let started = Instant::now();
        s[index].phase = Phase::Loading;
        if swapped {
            s[index].swaps += 1;
        }
        let load = s[index].spec.load;
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(load).await;
            {
                let mut s = me.lock();
                let m = &mut s[index];
                m.phase = Phase::Loaded;
                m.loads += 1;
                m.load_seconds += started.elapsed().as_secs_f64();
                m.last_used = Instant::now();
            }
            me.changed.notify_waiters();
        });
    }

    /// Unloads the models idle for longer than keep_alive.
    fn expire(&self, s: &mut [ModelState], now: Instant) {
        for m in s.iter_mut() {
            if m.phase == Phase::Loaded
                && m.in_use == 0
                && now.saturating_duration_since(m.last_used) > self.keep_alive
                && !(self.memory_bytes.is_none() && m.spec.load.is_zero())
            {
                m.phase = Phase::Unloaded;
                m.unloads += 1;
            }
        }
    }

    /// What `/api/ps` lists: the models loaded or being loaded, most recently used first.
    pub fn loaded(&self) -> Vec<Loaded> {
        let now = Instant::now();
        let mut s = self.lock();
        self.expire(&mut s, now);
        let mut out: Vec<(Instant, Loaded)> = s
            .iter()
            .filter(|m| m.phase != Phase::Unloaded)
            .map(|m| {
                let idle = if m.in_use > 0 || m.phase == Phase::Loading {
                    Duration::ZERO
                } else {
                    now.saturating_duration_since(m.last_used)
                };
                (
                    m.last_used,
                    Loaded {
                        name: m.spec.name,
                        size_bytes: m.spec.size_bytes,
                        expires_in: self.keep_alive.saturating_sub(idle),
                    },
                )
            })
            .collect();
        out.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
        out.into_iter().map(|(_, l)| l).collect()
    }

    /// Loads, swaps, unloads and seconds spent loading, per model.
    pub fn counts(&self) -> Vec<ModelCounts> {
        self.lock()
            .iter()
            .map(|m| ModelCounts {
                name: m.spec.name,
                loads: m.loads,
                swaps: m.swaps,
                unloads: m.unloads,
                load_seconds: m.load_seconds,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_models(memory: Option<u64>) -> Arc<Residency> {
        Residency::new(ResidencyConfig {
            memory_bytes: memory,
            keep_alive: Duration::from_millis(300),
            models: vec![
                ModelSpec {
                    name: TEXT_MODEL,
                    size_bytes: 10,
                    load: Duration::from_millis(20),
                },
                ModelSpec {
                    name: CODE_MODEL,
                    size_bytes: 10,
                    load: Duration::from_millis(20),
                },
            ],
        })
    }

    #[tokio::test]
    async fn memory_for_one_model_swaps_on_every_change_of_model() {
        let r = two_models(Some(15));
        for model in [TEXT_MODEL, CODE_MODEL, TEXT_MODEL, TEXT_MODEL, CODE_MODEL] {
            let (lease, waited) = r.acquire(model).await;
            drop(lease);
            let _ = waited;
        }
        let counts = r.counts();
        // text, code (swap), text (swap), text (resident), code (swap).
        assert_eq!(counts[0].loads, 2);
        assert_eq!(counts[1].loads, 2);
        assert_eq!(counts.iter().map(|c| c.swaps).sum::<u64>(), 3);
        assert_eq!(counts.iter().map(|c| c.unloads).sum::<u64>(), 3);
        let ps = r.loaded();
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].name, CODE_MODEL);
    }

    #[tokio::test]
    async fn memory_for_both_loads_each_once() {
        let r = two_models(Some(20));
        for model in [TEXT_MODEL, CODE_MODEL, TEXT_MODEL, CODE_MODEL] {
            let (lease, _) = r.acquire(model).await;
            drop(lease);
        }
        let counts = r.counts();
        assert_eq!((counts[0].loads, counts[1].loads), (1, 1));
        assert_eq!(counts.iter().map(|c| c.swaps).sum::<u64>(), 0);
        assert_eq!(r.loaded().len(), 2);
    }

    #[tokio::test]
    async fn a_busy_model_is_not_unloaded_until_its_requests_end() {
        let r = two_models(Some(15));
        let (text, _) = r.acquire(TEXT_MODEL).await;
        let r2 = r.clone();
        let code = tokio::spawn(async move { r2.acquire(CODE_MODEL).await.1 });
        // Text stays busy for 100 ms: code cannot be loaded before it ends (a wait whose
        // length is the behaviour under test, not a guess at when an event happens).
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!code.is_finished(), "code waits while text is busy");
        assert_eq!(r.loaded()[0].name, TEXT_MODEL);
        drop(text);
        let waited = code.await.expect("code served");
        // 100 ms for text to finish, then code's 20 ms load.
        assert!(waited >= Duration::from_millis(120), "{waited:?}");
        assert_eq!(r.loaded()[0].name, CODE_MODEL);
    }

    #[tokio::test]
    async fn a_keep_alive_of_zero_serves_each_request_after_one_load() {
        let r = Residency::new(ResidencyConfig {
            memory_bytes: Some(15),
            keep_alive: Duration::ZERO,
            models: vec![ModelSpec {
                name: TEXT_MODEL,
                size_bytes: 10,
                load: Duration::from_millis(20),
            }],
        });
        for _ in 0..3 {
            let served = tokio::time::timeout(Duration::from_secs(5), r.acquire(TEXT_MODEL)).await;
            drop(served.expect("served, not reloaded forever"));
            // Idle for a moment: past a keep_alive of zero.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Unloaded as soon as idle: each request loads it once.
        assert_eq!(r.counts()[0].loads, 3);
    }

    #[tokio::test]
    async fn an_idle_model_is_unloaded_after_keep_alive() {
        let r = two_models(Some(100));
        drop(r.acquire(TEXT_MODEL).await.0);
        assert_eq!(r.loaded().len(), 1);
        // Past the 300 ms keep_alive.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(r.loaded().is_empty());
        assert_eq!(r.counts()[0].unloads, 1);
        assert_eq!(r.counts()[0].swaps, 0);
    }

    #[tokio::test]
    async fn without_a_budget_or_load_time_every_model_is_loaded_from_the_start() {
        let r = Residency::new(ResidencyConfig {
            memory_bytes: None,
            keep_alive: Duration::from_secs(1),
            models: default_models()
                .into_iter()
                .map(|m| ModelSpec {
                    load: Duration::ZERO,
                    ..m
                })
                .collect(),
        });
        // Past the keep_alive: always-loaded models never expire.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(r.loaded().len(), 3);
        let (_, waited) = r.acquire(IMAGE_MODEL).await;
        // No load: only the scheduler's own moment (Ollama reports microseconds too).
        assert!(waited < Duration::from_millis(50), "{waited:?}");
        assert!(r.counts().iter().all(|c| c.loads == 0));
    }
}
