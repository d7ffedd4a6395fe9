//! The outcome sink: a thread of its own behind a bounded channel, so the load never waits
//! on disk. It feeds the live statistics and writes rolling Parquet segments (every few
//! seconds), so a run killed outright loses at most the last segment's worth of rows.

mod manifest;
mod merge;
mod resources;
mod segment;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow::datatypes::Schema;

pub use manifest::{Manifest, RunStatus};
pub use resources::{ResourceSample, ResourceWriter};
pub use segment::{SegmentError, SegmentWriter};

use crate::outcome::RequestOutcome;
use crate::stats::RunStats;

/// How often a segment is closed, and the most rows one holds.
#[derive(Debug, Clone, Copy)]
pub struct SegmentPolicy {
    pub max_age: Duration,
    pub max_rows: usize,
}

impl Default for SegmentPolicy {
    fn default() -> Self {
        SegmentPolicy {
            // A SIGKILL loses at most the open segment: about the last second.
            max_age: Duration::from_secs(1),
            max_rows: 128 * 1024,
        }
    }
}

/// Room for this many outcomes in flight to the sink before a sender has to wait.
const CHANNEL_CAPACITY: usize = 64 * 1024;

/// The most outcomes the sink takes from the channel before the observers see them.
const BATCH: usize = 4096;

/// How long the sink sleeps when the channel is empty. It polls instead of blocking: a
/// receiver blocked on the channel makes every send wake it (a futex call and a context
/// switch per request: 8% of the runner's CPU at 30k req/s, measured with perf), a sleeping
/// one costs a send nothing. The channel's room covers 50 ms at up to a million req/s; at
/// 10 ms the wake-ups alone were a fifth of an idle run's CPU (perf, 2026-11-30).
const POLL: Duration = Duration::from_millis(50);

/// The sending side, cloned into every virtual user.
#[derive(Clone)]
pub struct OutcomeSender {
    tx: SyncSender<RequestOutcome>,
}

impl OutcomeSender {
    /// Hands an outcome to the sink. Only when 64k outcomes are already queued does this
    /// block, never silently dropping: a load thread of its own (a single-threaded runtime)
    /// waits as it is, holding back its own requests; a multi-threaded runtime's worker
    /// waits off the scheduler (`block_in_place`).
    pub fn send(&self, outcome: RequestOutcome) {
        match self.tx.try_send(outcome) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(outcome)) => {
                let multi_threaded = tokio::runtime::Handle::try_current().is_ok_and(|h| {
                    h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
                });
                if multi_threaded {
                    let _ = tokio::task::block_in_place(|| self.tx.send(outcome).is_ok());
                } else {
                    let _ = self.tx.send(outcome);
                }
            }
        }
    }
}

/// What the sink did, once it has stopped.
#[derive(Debug)]
pub struct SinkReport {
    pub rows: u64,
    /// Request files in the run directory: 1 once the segments are merged.
    pub files: u32,
    /// Why the segments could not be merged (they are kept, every row in them).
    pub merge_failed: Option<SegmentError>,
}

/// A consumer of the outcomes, fed in batches on the sink thread (ripgrep's `Sink` idea): the
/// live statistics are one (read by the live line, `--stop-on` and the exporter). Every
/// observer sees a batch before the Parquet segments, which keep the rows, take it. Nothing an
/// observer does can slow the load: it runs behind the bounded channel, off the request path.
pub trait Observer: Send {
    /// A batch of outcomes, in the order they were handed over.
    fn observe(&mut self, batch: &[RequestOutcome]);
    /// Called at least every [`TICK`], outcomes or not (a segment closes on age).
    fn tick(&mut self) {}
}

/// How often observers are ticked.
pub const TICK: Duration = Duration::from_millis(500);

/// The live statistics (the live line, `--stop-on`, the exporter) observe every outcome.
impl Observer for Arc<Mutex<RunStats>> {
    fn observe(&mut self, batch: &[RequestOutcome]) {
        if let Ok(mut s) = self.lock() {
            batch.iter().for_each(|o| s.record(o));
        }
    }
}

/// The rolling Parquet segments: buffered rows written when a segment is old or full.
struct Segments {
    writer: SegmentWriter,
    /// The columns and the run's metadata, for the merged file.
    schema: Arc<Schema>,
    buffer: Vec<RequestOutcome>,
    rows: u64,
    opened: Instant,
    policy: SegmentPolicy,
    failed: Arc<AtomicBool>,
    first_error: Option<SegmentError>,
}

impl Segments {
    fn flush(&mut self) {
        if !self.buffer.is_empty() && self.first_error.is_none() {
            match self.writer.write(&self.buffer) {
                Ok(_) => self.rows += self.buffer.len() as u64,
                Err(e) => {
                    // The run stops: there is no point measuring what cannot be kept.
                    self.failed.store(true, Ordering::SeqCst);
                    self.first_error = Some(e);
                }
            }
        }
        self.buffer.clear();
        self.opened = Instant::now();
    }

    /// Closes the last segment and merges them all into one file (`merge.rs`).
    fn finish(mut self) -> Result<SinkReport, SegmentError> {
        self.flush();
        if let Some(e) = self.first_error {
            return Err(e);
        }
        let written = self.writer.written();
        let (files, merge_failed) = if written.len() > 1 {
            match merge::merge_segments(self.writer.dir(), &self.schema, written) {
                Ok(_) => (1, None),
                Err(e) => (written.len() as u32, Some(e)),
            }
        } else {
            (written.len() as u32, None)
        };
        Ok(SinkReport {
            rows: self.rows,
            files,
            merge_failed,
        })
    }
}

impl Segments {
    /// Takes what the channel holds (up to a batch) straight into the open segment's rows,
    /// and returns them for the observers: each row is moved once, out of the channel.
    fn receive(
        &mut self,
        first: RequestOutcome,
        rx: &Receiver<RequestOutcome>,
    ) -> &[RequestOutcome] {
        let start = self.buffer.len();
        self.buffer.push(first);
        self.buffer.extend(rx.try_iter().take(BATCH - 1));
        &self.buffer[start..]
    }

    /// Closes the segment once it is full (after the observers have seen its last rows).
    fn close_if_full(&mut self) {
        if self.buffer.len() >= self.policy.max_rows {
            self.flush();
        }
    }

    fn tick(&mut self) {
        if self.opened.elapsed() >= self.policy.max_age {
            self.flush();
        }
    }
}

pub struct Sink {
    handle: JoinHandle<Result<SinkReport, SegmentError>>,
}

impl Sink {
    /// Starts the sink thread: every outcome goes to the Parquet segments in `dir` and to
    /// each of `observers`; `failed` is raised if a segment cannot be written, so the runner
    /// can stop instead of measuring what it cannot keep.
    pub fn start(
        dir: &Path,
        schema: Arc<Schema>,
        observers: Vec<Box<dyn Observer>>,
        policy: SegmentPolicy,
        failed: Arc<AtomicBool>,
    ) -> std::io::Result<(OutcomeSender, Sink)> {
        let (tx, rx) = sync_channel(CHANNEL_CAPACITY);
        let segments = Segments {
            writer: SegmentWriter::new(dir, &schema),
            schema,
            buffer: Vec::with_capacity(BATCH),
            rows: 0,
            opened: Instant::now(),
            policy,
            failed,
            first_error: None,
        };
        let handle = std::thread::Builder::new()
            .name("aurax-sink".into())
            .spawn(move || drain(rx, segments, observers))?;
        Ok((OutcomeSender { tx }, Sink { handle }))
    }

    /// Waits until every sender is gone and the last segment is closed.
    pub fn finish(self) -> Result<SinkReport, SegmentError> {
        self.handle.join().unwrap_or_else(|_| {
            Err(SegmentError::Io {
                path: "<sink thread>".into(),
                source: std::io::Error::other("the sink thread panicked"),
            })
        })
    }
}

fn drain(
    rx: Receiver<RequestOutcome>,
    mut segments: Segments,
    mut observers: Vec<Box<dyn Observer>>,
) -> Result<SinkReport, SegmentError> {
    let mut ticked = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(first) => {
                let batch = segments.receive(first, &rx);
                for o in observers.iter_mut() {
                    o.observe(batch);
                }
                segments.close_if_full();
            }
            Err(TryRecvError::Empty) => std::thread::sleep(POLL),
            // Every sender is gone and every outcome they sent has been taken.
            Err(TryRecvError::Disconnected) => break,
        }
        if ticked.elapsed() >= TICK {
            observers.iter_mut().for_each(|o| o.tick());
            segments.tick();
            ticked = Instant::now();
        }
    }
    segments.finish()
}
