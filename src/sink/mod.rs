//! The outcome sink: a thread of its own behind a bounded channel, so the load never waits
//! on disk. It feeds the live statistics and writes rolling Parquet segments (every few
//! seconds), so a run killed outright loses at most the last segment's worth of rows.

mod manifest;
mod resources;
mod segment;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
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
            max_age: Duration::from_secs(5),
            max_rows: 128 * 1024,
        }
    }
}

/// Room for this many outcomes in flight to the sink before a sender has to wait.
const CHANNEL_CAPACITY: usize = 64 * 1024;

/// The sending side, cloned into every virtual user.
#[derive(Clone)]
pub struct OutcomeSender {
    tx: SyncSender<RequestOutcome>,
}

impl OutcomeSender {
    /// Hands an outcome to the sink. Only when 64k outcomes are already queued does this
    /// block, and then off the async scheduler (`block_in_place`), never silently dropping.
    pub fn send(&self, outcome: RequestOutcome) {
        match self.tx.try_send(outcome) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(outcome)) => {
                let _ = tokio::task::block_in_place(|| self.tx.send(outcome).is_ok());
            }
        }
    }
}

/// What the sink did, once it has stopped.
#[derive(Debug, Clone, Copy)]
pub struct SinkReport {
    pub rows: u64,
    pub segments: u32,
}

pub struct Sink {
    handle: JoinHandle<Result<SinkReport, SegmentError>>,
}

impl Sink {
    /// Starts the sink thread; `failed` is raised if a segment cannot be written, so the
    /// runner can stop instead of measuring what it cannot keep.
    pub fn start(
        dir: &Path,
        schema: Arc<Schema>,
        stats: Arc<Mutex<RunStats>>,
        policy: SegmentPolicy,
        failed: Arc<AtomicBool>,
    ) -> std::io::Result<(OutcomeSender, Sink)> {
        let (tx, rx) = sync_channel(CHANNEL_CAPACITY);
        let writer = SegmentWriter::new(dir, schema);
        let handle = std::thread::Builder::new()
            .name("aurax-sink".into())
            .spawn(move || drain(rx, writer, stats, policy, failed))?;
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
    mut writer: SegmentWriter,
    stats: Arc<Mutex<RunStats>>,
    policy: SegmentPolicy,
    failed: Arc<AtomicBool>,
) -> Result<SinkReport, SegmentError> {
    let mut buffer: Vec<RequestOutcome> = Vec::with_capacity(4096);
    let mut rows = 0u64;
    let mut opened = Instant::now();
    let mut first_error: Option<SegmentError> = None;
    let mut flush = |buffer: &mut Vec<RequestOutcome>, first_error: &mut Option<SegmentError>| {
        if buffer.is_empty() || first_error.is_some() {
            buffer.clear();
            return;
        }
        match writer.write(buffer) {
            Ok(_) => rows += buffer.len() as u64,
            Err(e) => {
                failed.store(true, Ordering::SeqCst);
                *first_error = Some(e);
            }
        }
        buffer.clear();
    };
    loop {
        let wait = policy.max_age.saturating_sub(opened.elapsed());
        match rx.recv_timeout(wait) {
            Ok(first) => {
                let mut batch = vec![first];
                batch.extend(rx.try_iter().take(4095));
                if let Ok(mut s) = stats.lock() {
                    batch.iter().for_each(|o| s.record(o));
                }
                buffer.extend(batch);
                if buffer.len() >= policy.max_rows {
                    flush(&mut buffer, &mut first_error);
                    opened = Instant::now();
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                flush(&mut buffer, &mut first_error);
                opened = Instant::now();
            }
            Err(RecvTimeoutError::Disconnected) => {
                flush(&mut buffer, &mut first_error);
                break;
            }
        }
        if opened.elapsed() >= policy.max_age {
            flush(&mut buffer, &mut first_error);
            opened = Instant::now();
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(SinkReport {
            rows,
            segments: writer.segments_written(),
        }),
    }
}
