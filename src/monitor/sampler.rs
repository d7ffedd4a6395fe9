//! Resource sampling during a run: every interval, the generator's own CPU and memory, each
//! watched local process, and each scraped `/metrics` (every sample kept as exposed), into
//! `resources.parquet`. A scrape that fails or a process that is gone is a warning, once;
//! never a failed run.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aurax_schema::{metrics, sources};
use prometheus_parse::{Scrape, Value};
use tokio::sync::watch;

use super::procfs;
use crate::sink::{ResourceSample, ResourceWriter};

pub struct SamplerConfig {
    /// `/metrics` URLs to scrape.
    pub scrape: Vec<String>,
    /// Ollama's base URL, whose `/api/ps` is polled (`--ollama`).
    pub ollama: Option<String>,
    /// Local processes to sample.
    pub pids: Vec<u32>,
    pub interval: Duration,
    /// Rows after which `resources.parquet` is sealed as a segment and a new one begins.
    pub segment_rows: usize,
}

/// A rewrite of this many rows (histogram buckets of a FastAPI target) measured 0.2 s in a
/// debug build, 140 kB on disk; a target with 500 series sampled every 5 s fills it in about
/// 8 minutes, so a day-long soak holds at most this many rows in memory, not millions.
pub const SEGMENT_ROWS: usize = 50_000;

/// What the sampler did, for the end-of-run summary.
#[derive(Debug, Default)]
pub struct SamplerReport {
    /// Sampling instants (one reading of every source each).
    pub samples: usize,
    /// Rows written: a sample holds one per metric and source.
    pub rows: usize,
    /// `resources-NNNNN.parquet` segments sealed before the last `resources.parquet`.
    pub sealed: usize,
    pub warnings: Vec<String>,
}

/// The file is rewritten after this many intervals (and at the end).
const WRITE_EVERY: u32 = 6;

/// Samples until `stop` turns true, then writes the file a last time.
pub async fn run(
    config: SamplerConfig,
    writer: ResourceWriter,
    mut stop: watch::Receiver<bool>,
) -> SamplerReport {
    // Only when there is something to scrape: building a client reads the system's root
    // certificates, milliseconds of every run for nothing.
    let client = if config.scrape.is_empty() && config.ollama.is_none() {
        None
    } else {
        crate::http::install_tls_provider();
        reqwest::Client::builder()
            .timeout(
                config
                    .interval
                    .clamp(Duration::from_millis(500), Duration::from_secs(5)),
            )
            .build()
            .ok()
    };
    let writer = Arc::new(writer);
    let mut rows: Vec<ResourceSample> = Vec::new();
    let mut warned: HashSet<String> = HashSet::new();
    let mut report = SamplerReport::default();
    let mut warn = |key: String, message: String, report: &mut SamplerReport| {
        if warned.insert(key) {
            eprintln!("warning: {message}");
            report.warnings.push(message);
        }
    };
    let mut tick = tokio::time::interval(config.interval);
    let mut ticks = 0u32;
    let mut sealed_rows = 0usize;
    loop {
        let done = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.changed() => true,
        };
        let now = chrono::Utc::now().timestamp_micros();
        sample_process(&mut rows, now, sources::GENERATOR, None);
        for pid in &config.pids {
            let source = format!("{}{pid}", sources::PID_PREFIX);
            if !sample_process(&mut rows, now, &source, Some(*pid)) {
                warn(
                    source.clone(),
                    format!(
                        "--watch-pid {pid}: no such process (or /proc unreadable); its samples are missing"
                    ),
                    &mut report,
                );
            }
        }
        for (key, message) in sample_remote(&config, client.as_ref(), &mut rows, now).await {
            warn(key, message, &mut report);
        }
        ticks += 1;
        if done || ticks.is_multiple_of(WRITE_EVERY) {
            // The rows move to the writing thread and back: no copy of a long run's samples.
            let (w, all) = (writer.clone(), std::mem::take(&mut rows));
            let written = tokio::task::spawn_blocking(move || {
                let result = w.write_all(&all);
                (result, all)
            })
            .await;
            let result = match written {
                Ok((result, all)) => {
                    rows = all;
                    result.map_err(|e| e.to_string())
                }
                Err(e) => Err(format!("the writing thread failed: {e}")),
            };
            // Sealed only once written whole: the rows leave memory when they are on disk.
            let result = result.and_then(|()| {
                if rows.len() < config.segment_rows || done {
                    return Ok(());
                }
                writer.seal().map_err(|e| e.to_string())?;
                sealed_rows += rows.len();
                report.sealed += 1;
                rows.clear();
                Ok(())
            });
            if let Err(e) = result {
                warn(
                    "write".into(),
                    format!("resource samples: {e}"),
                    &mut report,
                );
            }
        }
        if done {
            report.samples = ticks as usize;
            report.rows = sealed_rows + rows.len();
            return report;
        }
    }
}

/// Samples every `--scrape` URL and `--ollama`'s `/api/ps` into `rows`; what failed comes
/// back as (key, warning) to be said once per key.
async fn sample_remote(
    config: &SamplerConfig,
    client: Option<&reqwest::Client>,
    rows: &mut Vec<ResourceSample>,
    now: i64,
) -> Vec<(String, String)> {
    let mut failed = Vec::new();
    for url in &config.scrape {
        let shown = crate::redact::url(url);
        let source: Arc<str> = Arc::from(format!("{}{shown}", sources::SCRAPE_PREFIX));
        match scrape(client, url).await {
            Ok(scraped) => push_scrape(rows, now, &source, scraped),
            Err(e) => failed.push((
                url.clone(),
                format!(
                    "--scrape {shown}: {e}; the target's resource samples are missing (the run goes on)"
                ),
            )),
        }
    }
    if let (Some(base), Some(client)) = (&config.ollama, client) {
        let shown = crate::redact::url(base);
        let source: Arc<str> = Arc::from(format!("{}{shown}", sources::OLLAMA_PREFIX));
        match super::ollama::poll(client, base).await {
            Ok(models) => super::ollama::push(rows, now, &source, &models),
            // One warning for every way it fails: garbage, then down, is one story.
            Err(e) => failed.push((
                format!("ollama {base}"),
                format!(
                    "--ollama {shown}: /api/ps: {e}; model residency is missing where it failed (the run goes on)"
                ),
            )),
        }
    }
    failed
}

/// Samples a local process; false when it cannot be read.
fn sample_process(
    rows: &mut Vec<ResourceSample>,
    now: i64,
    source: &str,
    pid: Option<u32>,
) -> bool {
    let Some(u) = procfs::usage(pid) else {
        return false;
    };
    let source: Arc<str> = Arc::from(source);
    let mut push = |metric: &str, value: f64| {
        rows.push(ResourceSample {
            time_us: now,
            source: source.clone(),
            metric: metric.to_string(),
            labels: String::new(),
            value,
        })
    };
    push(metrics::CPU_SECONDS, u.cpu_seconds);
    push(metrics::RESIDENT_BYTES, u.resident_bytes);
    push(metrics::MACHINE_CORES, procfs::cores());
    if let Some((read, write)) = u.io {
        push(metrics::IO_READ_BYTES, read);
        push(metrics::IO_WRITE_BYTES, write);
    }
    true
}

async fn scrape(client: Option<&reqwest::Client>, url: &str) -> Result<Scrape, String> {
    let client = client.ok_or("no HTTP client")?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| crate::http::describe(&e))?;
    if !response.status().is_success() {
        return Err(format!(
            "HTTP {} (does the target expose /metrics?)",
            response.status()
        ));
    }
    let body = crate::http::body_up_to(response, MAX_SCRAPE_BYTES).await?;
    let text = String::from_utf8_lossy(&body);
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).map_err(|e| e.to_string())
}

/// The largest `/metrics` read; a larger one is skipped with a warning, never held whole
/// (a Prometheus exposition of a real service is kilobytes).
pub const MAX_SCRAPE_BYTES: usize = 16 * 1024 * 1024;

/// Every sample as exposed; histogram buckets as `<name>_bucket` with `le`, summary
/// quantiles with `quantile`.
fn push_scrape(rows: &mut Vec<ResourceSample>, now: i64, source: &Arc<str>, scraped: Scrape) {
    for s in scraped.samples {
        let mut pairs: Vec<(String, String)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.sort();
        let mut push = |metric: String, extra: Option<(&str, f64)>, value: f64| {
            let mut all = pairs.clone();
            if let Some((k, v)) = extra {
                all.push((k.to_string(), v.to_string()));
            }
            rows.push(ResourceSample {
                time_us: now,
                source: source.clone(),
                metric,
                labels: all
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(","),
                value,
            });
        };
        match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => push(s.metric, None, v),
            Value::Histogram(buckets) => {
                for b in buckets {
                    push(
                        format!("{}_bucket", s.metric),
                        Some(("le", b.less_than)),
                        b.count,
                    );
                }
            }
            Value::Summary(qs) => {
                for q in qs {
                    push(s.metric.clone(), Some(("quantile", q.quantile)), q.count);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::fs::File;

    use aurax_schema::{ResourceColumn, files, resource_schema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    /// (rows, first time, last time) of a resource file.
    fn read(path: &std::path::Path) -> (usize, i64, i64) {
        let file = File::open(path).expect("open");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        let mut times = Vec::new();
        for batch in reader {
            let batch = batch.expect("batch");
            let t = batch
                .column_by_name(ResourceColumn::Time.name())
                .expect("time")
                .as_any()
                .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
                .expect("µs timestamps")
                .clone();
            times.extend(t.values().iter().copied());
        }
        let first = times.iter().copied().min().unwrap_or(0);
        let last = times.iter().copied().max().unwrap_or(0);
        (times.len(), first, last)
    }

    #[tokio::test]
    async fn a_long_run_seals_its_samples_into_segments_and_loses_none() {
        if procfs::usage(None).is_none() {
            return; // no /proc: the generator is not sampled, nothing to write
        }
        let dir = tempfile::tempdir().expect("tmp");
        let writer = ResourceWriter::new(dir.path(), resource_schema(HashMap::new()));
        let config = SamplerConfig {
            ollama: None,
            scrape: Vec::new(),
            pids: Vec::new(),
            interval: Duration::from_millis(5),
            segment_rows: 20,
        };
        let (stop, stopped) = watch::channel(false);
        let sampler = tokio::spawn(run(config, writer, stopped));
        // Until two segments are sealed (however slow a busy machine makes the sampler),
        // then a little more for the newest file.
        let sealed = |dir: &std::path::Path| {
            std::fs::read_dir(dir).map_or(0, |d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("resources-0"))
                    .count()
            })
        };
        for _ in 0..600 {
            if sealed(dir.path()) >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.send(true).expect("sampler listens");
        let report = sampler.await.expect("sampler ends");

        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        assert!(report.sealed >= 2, "{report:?} {names:?}");
        assert_eq!(names.len(), report.sealed + 1, "{names:?}");
        assert!(
            names.iter().all(|n| files::is_resource_file(n)),
            "{names:?}"
        );
        assert_eq!(names[0], "resources-00001.parquet");
        assert_eq!(names.last().map(String::as_str), Some(files::RESOURCES));
        // Every sample once, the sealed segments in time order before the newest file.
        let mut total = 0;
        let mut previous_last = i64::MIN;
        let ordered = names[..names.len() - 1]
            .iter()
            .chain(std::iter::once(&names[names.len() - 1]));
        for name in ordered {
            let (rows, first, last) = read(&dir.path().join(name));
            assert!(rows > 0, "{name} is empty");
            assert!(first > previous_last, "{name} overlaps the segment before");
            previous_last = last;
            total += rows;
        }
        assert_eq!(total, report.rows);
        // Samples count instants, not rows: each instant holds every metric of the
        // generator's (CPU, memory, disk I/O), the same number each time.
        assert!(report.samples > 0, "{report:?}");
        assert_eq!(report.rows % report.samples, 0, "{report:?}");
        assert!(report.rows / report.samples >= 2, "{report:?}");
    }
}
