//! A previous run directory as a trace: each row of its request files is sent again at its
//! original intended send time, to the same endpoint, method and path, with the body
//! re-rendered from the endpoint's template (seeded by the row's `seq`) and its recorded
//! `max_tokens`. Segments are read one record batch at a time.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, UInt32Type, UInt64Type};
use aurax_schema::Column;
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

use super::{EndpointResolver, TimedRequest, TraceError, TraceReader, TraceRequest};
use crate::scenario::EndpointId;

const COLUMNS: [Column; 6] = [
    Column::Seq,
    Column::Endpoint,
    Column::Method,
    Column::Path,
    Column::IntendedSendTime,
    Column::MaxTokens,
];

pub fn open(
    dir: &Path,
    source: Arc<str>,
    resolver: Arc<EndpointResolver>,
    fixed: Option<EndpointId>,
) -> Result<TraceReader, TraceError> {
    // The files `analyze` would read: checked against the contract, less the leftovers of
    // an interrupted merge.
    let segments = aurax_analysis::source::request_files(dir)
        .map_err(|e| TraceError::file(dir, e.to_string()))?;
    if segments.is_empty() {
        return Err(TraceError::file(
            dir,
            "holds no request files (requests-*.parquet); give a run directory of `aurax-tool run`",
        ));
    }
    let mut segments = segments;
    segments.reverse();
    Ok(Box::new(Rows {
        segments,
        reader: None,
        batch: None,
        row: 0,
        source,
        resolver,
        fixed,
        dir: dir.display().to_string(),
    }))
}

struct Rows {
    /// Segments still to read, the next one last.
    segments: Vec<PathBuf>,
    reader: Option<ParquetRecordBatchReader>,
    batch: Option<Batch>,
    row: usize,
    source: Arc<str>,
    resolver: Arc<EndpointResolver>,
    fixed: Option<EndpointId>,
    dir: String,
}

/// One record batch with every column as a plain array.
struct Batch {
    seq: ArrayRef,
    endpoint: ArrayRef,
    method: ArrayRef,
    path: ArrayRef,
    intended: ArrayRef,
    max_tokens: ArrayRef,
}

impl Iterator for Rows {
    type Item = Result<TimedRequest, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(b) = &self.batch
                && self.row < b.seq.len()
            {
                let i = self.row;
                self.row += 1;
                return Some(self.request(i));
            }
            self.batch = None;
            if let Some(reader) = &mut self.reader {
                match reader.next() {
                    Some(Ok(batch)) => {
                        match plain(&batch) {
                            Ok(b) => self.batch = Some(b),
                            Err(e) => return Some(Err(self.file_error(e))),
                        }
                        self.row = 0;
                        continue;
                    }
                    Some(Err(e)) => return Some(Err(self.file_error(e.to_string()))),
                    None => self.reader = None,
                }
            }
            let next = self.segments.pop()?;
            match open_segment(&next) {
                Ok(r) => self.reader = Some(r),
                Err(e) => {
                    return Some(Err(TraceError::file(&next, e)));
                }
            }
        }
    }
}

impl Rows {
    fn file_error(&self, reason: String) -> TraceError {
        TraceError::File {
            file: self.dir.clone(),
            reason,
        }
    }

    fn request(&self, i: usize) -> Result<TimedRequest, TraceError> {
        let Some(b) = &self.batch else {
            return Err(self.file_error("no batch".into()));
        };
        let seq = b.seq.as_primitive::<UInt64Type>().value(i);
        let text = |a: &ArrayRef| a.as_string::<i32>().value(i).to_string();
        let endpoint_name = text(&b.endpoint);
        let bad = |reason: String| TraceError::Line {
            file: self.dir.clone(),
            unit: "seq",
            line: seq,
            reason,
        };
        let endpoint = match self.fixed {
            Some(id) => Ok(id),
            None => self.resolver.by_name(&endpoint_name),
        }
        .map_err(bad)?;
        let method = super::http_method(&text(&b.method)).map_err(bad)?;
        let max_tokens = b.max_tokens.as_primitive::<UInt32Type>();
        let max_tokens = (!max_tokens.is_null(i)).then(|| max_tokens.value(i));
        let ep = &self.resolver.scenario().endpoints[endpoint];
        let body = ep.body.as_ref().map(|t| {
            let mut body = t.render(&mut StdRng::seed_from_u64(seq));
            if let (Some(n), Some(obj)) = (max_tokens, body.as_object_mut())
                && obj.contains_key("max_tokens")
            {
                obj.insert("max_tokens".into(), Value::from(n));
            }
            Bytes::from(body.to_string())
        });
        Ok(TimedRequest {
            time_ns: b.intended.as_primitive::<Int64Type>().value(i) * 1000,
            request: TraceRequest {
                endpoint,
                method: Some(method),
                path: Some(text(&b.path)),
                headers: Vec::new(),
                body,
                max_tokens,
                source: self.source.clone(),
                line: seq,
            },
        })
    }
}

fn open_segment(path: &Path) -> Result<ParquetRecordBatchReader, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let schema = builder.parquet_schema();
    let indexes: Vec<usize> = COLUMNS
        .iter()
        .map(|c| {
            schema
                .columns()
                .iter()
                .position(|d| d.name() == c.name())
                .ok_or_else(|| format!("no `{}` column: not a request file", c.name()))
        })
        .collect::<Result<_, _>>()?;
    let mask = ProjectionMask::leaves(schema, indexes);
    builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .map_err(|e| e.to_string())
}

fn plain(batch: &RecordBatch) -> Result<Batch, String> {
    let column = |c: Column, to: &DataType| -> Result<ArrayRef, String> {
        let a = batch
            .column_by_name(c.name())
            .ok_or_else(|| format!("no `{}` column", c.name()))?;
        cast(a, to).map_err(|e| format!("column `{}`: {e}", c.name()))
    };
    Ok(Batch {
        seq: column(Column::Seq, &DataType::UInt64)?,
        endpoint: column(Column::Endpoint, &DataType::Utf8)?,
        method: column(Column::Method, &DataType::Utf8)?,
        path: column(Column::Path, &DataType::Utf8)?,
        intended: column(Column::IntendedSendTime, &DataType::Int64)?,
        max_tokens: column(Column::MaxTokens, &DataType::UInt32)?,
    })
}
