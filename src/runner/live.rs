//! The live line while a run goes: a progress bar on a terminal, a plain line every few
//! seconds otherwise (CI logs stay readable).

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Shared;
use crate::stats::RunStats;

pub struct LiveLine {
    bar: Option<ProgressBar>,
    started: Instant,
    /// None: a replay that runs until its trace ends, no length to show.
    total: Option<Duration>,
    /// An open model (or a replay at its times): no users, an arrival rate instead.
    open_model: bool,
}

impl LiveLine {
    pub fn new(total: Option<Duration>, open_model: bool, quiet: bool) -> LiveLine {
        let known = total.is_some();
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(
                total.map(|t| t.as_secs().max(1)),
                ProgressDrawTarget::stderr(),
            );
            let template = if known {
                "{bar:24.cyan/blue} {elapsed_precise}/{duration_precise} {msg}"
            } else {
                "{spinner} {elapsed_precise} {msg}"
            };
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        LiveLine {
            bar,
            started: Instant::now(),
            total,
            open_model,
        }
    }

    /// Updates once a second until the future it runs in is dropped.
    pub async fn run(self, shared: Arc<Shared>, stats: Arc<Mutex<RunStats>>, quiet: bool) {
        let tick = Duration::from_secs(1);
        let plain_every = 5;
        let mut ticks = 0u64;
        let mut interval = tokio::time::interval(tick);
        interval.tick().await;
        loop {
            interval.tick().await;
            ticks += 1;
            let Ok(snap) = stats.lock().map(|mut s| s.take_window()) else {
                return;
            };
            let elapsed = self.started.elapsed();
            let error_pct = if snap.total_requests == 0 {
                0.0
            } else {
                100.0 * snap.total_failures as f64 / snap.total_requests as f64
            };
            // Past the run time the load is over and the requests in flight drain.
            let draining = self.total.is_some_and(|t| elapsed > t);
            let load = if draining {
                "draining  ".to_string()
            } else if self.open_model {
                format!("rate {:>5.0}/s", shared.stage().1)
            } else {
                format!("users {:>4}", shared.users_active())
            };
            let msg = format!(
                "{load} | in flight {:>4} | {:>7.1} req/s | p95 {:>8.1} ms | errors {:>5.2}% | {} requests",
                shared.in_flight(),
                snap.requests as f64 / tick.as_secs_f64(),
                snap.p95_ms,
                error_pct,
                snap.total_requests,
            );
            match &self.bar {
                Some(bar) => {
                    bar.set_position(
                        elapsed
                            .as_secs()
                            .min(self.total.map_or(u64::MAX, |t| t.as_secs())),
                    );
                    bar.set_message(msg);
                }
                None if !quiet && ticks.is_multiple_of(plain_every) => {
                    let at = match self.total {
                        // Draining: the load's length, and how long past it.
                        Some(t) if draining => format!(
                            "{:>6.0}s/{:.0}s +{:.0}s",
                            t.as_secs_f64(),
                            t.as_secs_f64(),
                            (elapsed - t).as_secs_f64()
                        ),
                        Some(t) => {
                            format!("{:>6.0}s/{:.0}s", elapsed.as_secs_f64(), t.as_secs_f64())
                        }
                        None => format!("{:>6.0}s", elapsed.as_secs_f64()),
                    };
                    eprintln!("[{at}] {msg}");
                }
                None => {}
            }
        }
    }
}

impl Drop for LiveLine {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
