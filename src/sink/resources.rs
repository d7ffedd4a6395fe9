//! `resources.parquet`: the resource samples of a run, rewritten whole (to a temporary file,
//! then renamed) every few samples and at the end, so the file on disk is always complete.
//! Once it holds a segment's worth of rows it is sealed as `resources-00001.parquet`, ... and
//! a new one starts, so a rewrite (and the samples held in memory) stay bounded however
//! long the run.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use arrow::array::{
    ArrayRef, Float64Builder, StringDictionaryBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{Int32Type, Schema};
use arrow::record_batch::RecordBatch;
use aurax_schema::files;
use parquet::arrow::ArrowWriter;

use super::SegmentError;
use super::segment::writer_properties;

/// One sampled value.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSample {
    pub time_us: i64,
    pub source: Arc<str>,
    pub metric: String,
    pub labels: String,
    pub value: f64,
}

pub struct ResourceWriter {
    path: PathBuf,
    schema: Arc<Schema>,
    /// Segments sealed so far.
    sealed: AtomicU32,
}

impl ResourceWriter {
    pub fn new(dir: &Path, schema: Arc<Schema>) -> ResourceWriter {
        ResourceWriter {
            path: dir.join(files::RESOURCES),
            schema,
            sealed: AtomicU32::new(0),
        }
    }

    /// Renames the complete file written last to the next `resources-NNNNN.parquet`; the
    /// samples in it are then final, and the next write starts a new `resources.parquet`.
    pub fn seal(&self) -> Result<PathBuf, SegmentError> {
        let n = self.sealed.fetch_add(1, Ordering::Relaxed) + 1;
        let sealed = self.path.with_file_name(format!(
            "{}{n:05}.{}",
            files::RESOURCE_SEGMENT_PREFIX,
            files::PARQUET_EXT
        ));
        std::fs::rename(&self.path, &sealed).map_err(|source| SegmentError::Io {
            path: sealed.clone(),
            source,
        })?;
        Ok(sealed)
    }

    /// Writes every sample so far as the whole file.
    pub fn write_all(&self, samples: &[ResourceSample]) -> Result<(), SegmentError> {
        let partial = self.path.with_extension(files::PARTIAL_EXT);
        let io = |source| SegmentError::Io {
            path: partial.clone(),
            source,
        };
        let pq = |source| SegmentError::Parquet {
            path: partial.clone(),
            source,
        };
        let batch = batch(samples, self.schema.clone())?;
        let props = writer_properties(&self.schema, &[]).build();
        let file = File::create(&partial).map_err(io)?;
        let mut writer =
            ArrowWriter::try_new(file, self.schema.clone(), Some(props)).map_err(pq)?;
        writer.write(&batch).map_err(pq)?;
        let file = writer.into_inner().map_err(pq)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&partial, &self.path).map_err(|source| SegmentError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

fn batch(samples: &[ResourceSample], schema: Arc<Schema>) -> Result<RecordBatch, SegmentError> {
    let mut time = TimestampMicrosecondBuilder::with_capacity(samples.len()).with_timezone("UTC");
    let dict = || StringDictionaryBuilder::<Int32Type>::new();
    let (mut source, mut metric, mut labels) = (dict(), dict(), dict());
    let mut value = Float64Builder::with_capacity(samples.len());
    for s in samples {
        time.append_value(s.time_us);
        source.append_value(&*s.source);
        metric.append_value(&s.metric);
        labels.append_value(&s.labels);
        value.append_value(s.value);
    }
    // Same order as aurax_schema::ResourceColumn::ALL.
    let columns: Vec<ArrayRef> = vec![
        Arc::new(time.finish()),
        Arc::new(source.finish()),
        Arc::new(metric.finish()),
        Arc::new(labels.finish()),
        Arc::new(value.finish()),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}
