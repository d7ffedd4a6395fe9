//! At the end of a run, the one-second segments are merged into one request file, sorted by
//! send time in row groups of up to [`ROW_GROUP_ROWS`]: one footer instead of one a second,
//! and send times that delta-encode to the gaps between requests. The segments are what makes
//! a killed run lose at most about a second; the merge keeps that guarantee:
//!
//! 1. the merged file is written beside them (`requests-merged.parquet.partial`, which no
//!    reader's `requests-*.parquet` matches) and synced;
//! 2. its row count is checked against the segments' footers;
//! 3. it is renamed over `requests-00001.parquet` (atomic: a reader sees the old segment or
//!    the merged file, never neither), and names the segments it holds in its metadata
//!    (`aurax.merged_segments = 1-N`);
//! 4. segments 2..=N are removed. A run killed between 3 and 4 leaves some of them beside the
//!    merged file; aurax-tool's readers skip them by that key (docs/parquet.md).
//!
//! Any failure before 3 leaves the segments as they were: nothing is lost, the run just
//! keeps its segments.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{RecordBatch, new_null_array};
use arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_record_batch};
use arrow::datatypes::Schema;
use aurax_schema::{Column, MergedSegments, files, meta};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};

use super::SegmentError;
use super::segment::{
    HeldColumns, MERGED_ROW_GROUP_ROWS as ROW_GROUP_ROWS, Packing, bare, request_file_properties,
};

/// Merges request segments `1..=segments.len()` of `dir` into `requests-00001.parquet` (see
/// the module's steps); `segments[i]` says which columns of segment `i + 1` hold values.
/// `schema` carries the run's metadata. Returns the rows merged.
pub(super) fn merge_segments(
    dir: &Path,
    schema: &Schema,
    segments: &[HeldColumns],
) -> Result<u64, SegmentError> {
    let count = segments.len() as u32;
    let partial = dir.join(format!(
        "{}merged.{}.{}",
        files::REQUEST_SEGMENT_PREFIX,
        files::PARQUET_EXT,
        files::PARTIAL_EXT
    ));
    let result = write_merged(dir, schema, segments, &partial);
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    let rows = result?;
    let first = dir.join(files::request_segment(1));
    std::fs::rename(&partial, &first).map_err(|source| SegmentError::Io {
        path: first.clone(),
        source,
    })?;
    sync_dir(dir);
    for index in (2..=count).rev() {
        let path = dir.join(files::request_segment(index));
        std::fs::remove_file(&path).map_err(|source| SegmentError::Io { path, source })?;
    }
    sync_dir(dir);
    Ok(rows)
}

fn write_merged(
    dir: &Path,
    schema: &Schema,
    segments: &[HeldColumns],
    partial: &Path,
) -> Result<u64, SegmentError> {
    let count = segments.len() as u32;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SegmentError::Io { path, source }
    };
    let pq = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SegmentError::Parquet { path, source }
    };
    let columns = bare(schema);
    let merged = MergedSegments {
        first: 1,
        last: count,
    };
    let props = request_file_properties(
        schema,
        &[(meta::MERGED_SEGMENTS, merged.to_string())],
        Packing::Merged,
    );
    let file = File::create(partial).map_err(io(partial))?;
    let mut writer =
        ArrowWriter::try_new(file, columns.clone(), Some(props)).map_err(pq(partial))?;
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0usize;
    let (mut rows_in, mut rows_out) = (0u64, 0u64);
    for (index, held) in (1..=count).zip(segments) {
        let path = dir.join(files::request_segment(index));
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(File::open(&path).map_err(io(&path))?)
                .map_err(pq(&path))?;
        rows_in += reader.metadata().file_metadata().num_rows() as u64;
        let read: Vec<usize> = (0..columns.fields().len())
            .filter(|&i| held.holds(i))
            .collect();
        let projection = ProjectionMask::roots(reader.parquet_schema(), read.iter().copied());
        for batch in reader
            .with_batch_size(64 * 1024)
            .with_projection(projection)
            .build()
            .map_err(pq(&path))?
        {
            let batch = with_nulls(&columns, &read, batch?)?;
            pending_rows += batch.num_rows();
            pending.push(batch);
            if pending_rows >= ROW_GROUP_ROWS {
                rows_out += write_sorted(&mut writer, &columns, &mut pending, partial)?;
                pending_rows = 0;
            }
        }
    }
    rows_out += write_sorted(&mut writer, &columns, &mut pending, partial)?;
    let file = writer.into_inner().map_err(pq(partial))?;
    file.sync_all().map_err(io(partial))?;
    if rows_out != rows_in {
        return Err(SegmentError::Io {
            path: partial.to_path_buf(),
            source: std::io::Error::other(format!(
                "the merge wrote {rows_out} rows of the segments' {rows_in}; the segments are kept"
            )),
        });
    }
    Ok(rows_out)
}

/// The rows of `read` (the columns `read` names, in order) with every other column of
/// `columns` as nulls. Built on the merged columns, not the segment's own schema object (it
/// carries the embedded Arrow schema's metadata, if an older writer put any there).
fn with_nulls(
    columns: &Arc<Schema>,
    read: &[usize],
    batch: RecordBatch,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let rows = batch.num_rows();
    let mut values = batch.columns().iter();
    let mut all = Vec::with_capacity(columns.fields().len());
    for (i, field) in columns.fields().iter().enumerate() {
        all.push(if read.contains(&i) {
            values.next().cloned().ok_or_else(|| {
                arrow::error::ArrowError::SchemaError(format!("no column {}", field.name()))
            })?
        } else {
            new_null_array(field.data_type(), rows)
        });
    }
    RecordBatch::try_new(columns.clone(), all)
}

/// Sorts the pending rows by actual send time (then `seq`, so equal times keep one order)
/// and writes them as one row group.
fn write_sorted(
    writer: &mut ArrowWriter<File>,
    columns: &Arc<Schema>,
    pending: &mut Vec<RecordBatch>,
    partial: &Path,
) -> Result<u64, SegmentError> {
    if pending.is_empty() {
        return Ok(0);
    }
    let all = concat_batches(columns, pending.iter())?;
    pending.clear();
    let key = |c: Column| -> Result<SortColumn, SegmentError> {
        let values = all
            .column_by_name(c.name())
            .ok_or_else(|| arrow::error::ArrowError::SchemaError(format!("no {}", c.name())))?
            .clone();
        Ok(SortColumn {
            values,
            options: None,
        })
    };
    let order = lexsort_to_indices(&[key(Column::ActualSendTime)?, key(Column::Seq)?], None)?;
    let sorted = take_record_batch(&all, &order)?;
    let pq = |source| SegmentError::Parquet {
        path: partial.to_path_buf(),
        source,
    };
    writer.write(&sorted).map_err(pq)?;
    writer.flush().map_err(pq)?;
    Ok(sorted.num_rows() as u64)
}

/// Makes the renames and removals durable where the platform allows it (a directory cannot
/// be opened for syncing everywhere; the files themselves were synced before).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use arrow::array::{AsArray, TimestampMicrosecondArray};
    use arrow::datatypes::{Float64Type, UInt16Type};
    use aurax_schema::{Outcome, request_schema};

    use super::*;
    use crate::outcome::RequestOutcome;
    use crate::sink::SegmentWriter;

    fn row(seq: u64, sent_us: i64) -> RequestOutcome {
        RequestOutcome {
            worker_id: 0,
            seq,
            user_class: "U".into(),
            user_id: (seq % 3) as u32,
            endpoint: "generate_text".into(),
            method: "POST".into(),
            path: "/generate".into(),
            intended_send_us: sent_us - 5,
            actual_send_us: sent_us,
            ttfb_us: Some(900),
            latency_us: 1000 + seq as i64,
            status: Some(200),
            outcome: Outcome::Ok,
            error: None,
            bytes_sent: 120,
            bytes_received: 300,
            model_used: Some("llama3.2:1b".into()),
            response_type: Some("text".into()),
            max_tokens: Some(512),
            users_active: 3,
            in_flight: 1,
            stage: 0,
            stage_target: 3.0,
            trace: None,
            generation: None,
            sends: 1,
        }
    }

    /// The file names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn schema() -> Arc<Schema> {
        let meta = HashMap::from([
            (meta::RUN_ID.to_string(), "r1".to_string()),
            (meta::SCHEMA_VERSION.to_string(), "2".to_string()),
        ]);
        request_schema(meta)
    }

    /// Three segments of rows in completion order (send times out of order) become one file
    /// sorted by send time, every row kept, with the merged range in its footer.
    #[test]
    fn segments_merge_into_one_sorted_file_with_every_row() {
        let dir = tempfile::tempdir().expect("tempdir");
        let schema = schema();
        let mut writer = SegmentWriter::new(dir.path(), &schema);
        writer
            .write(&[row(1, 300), row(0, 100)])
            .expect("segment 1");
        // A segment writes status and stage_target plain; a null and a second value must
        // come through the merge as they were.
        let mut unanswered = row(3, 250);
        unanswered.status = None;
        unanswered.stage_target = 7.5;
        writer.write(&[unanswered, row(2, 200)]).expect("segment 2");
        writer.write(&[row(4, 50)]).expect("segment 3");
        let merged = merge_segments(dir.path(), &schema, writer.written()).expect("merge");
        assert_eq!(merged, 5);
        assert_eq!(names(dir.path()), vec!["requests-00001.parquet"]);
        let path = dir.path().join("requests-00001.parquet");
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).expect("open"))
            .expect("parquet");
        let kv = reader
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .cloned()
            .unwrap_or_default();
        let value = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
        assert_eq!(value(meta::MERGED_SEGMENTS).as_deref(), Some("1-3"));
        // Each column as docs/parquet.md says: durations split by byte, send times as deltas,
        // strings as dictionaries, zstd; no offset index (the levels are not in the file:
        // `segment::tests`).
        let group = reader.metadata().row_group(0);
        let chunk = |name: &str| {
            group
                .columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .expect(name)
        };
        use parquet::basic::{Compression, Encoding};
        for (name, encoding) in [
            ("latency_us", Encoding::BYTE_STREAM_SPLIT),
            ("ttfb_us", Encoding::BYTE_STREAM_SPLIT),
            ("user_id", Encoding::BYTE_STREAM_SPLIT),
            ("actual_send_time", Encoding::DELTA_BINARY_PACKED),
            ("endpoint", Encoding::RLE_DICTIONARY),
            ("status", Encoding::RLE_DICTIONARY),
            ("stage_target", Encoding::RLE_DICTIONARY),
        ] {
            let c = chunk(name);
            assert!(
                c.encodings().any(|e| e == encoding),
                "{name}: {:?}",
                c.encodings().collect::<Vec<_>>()
            );
            assert!(matches!(c.compression(), Compression::ZSTD(_)), "{name}");
            assert!(c.offset_index_offset().is_none(), "{name}: no offset index");
        }
        assert_eq!(value(meta::RUN_ID).as_deref(), Some("r1"));
        let batches: Vec<RecordBatch> = reader
            .build()
            .expect("reader")
            .collect::<Result<_, _>>()
            .expect("rows");
        let sent: Vec<i64> = batches
            .iter()
            .flat_map(|b| {
                b.column_by_name("actual_send_time")
                    .expect("column")
                    .as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .expect("timestamps")
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(sent, vec![50, 100, 200, 250, 300]);
        let status: Vec<Option<u16>> = batches
            .iter()
            .flat_map(|b| {
                b.column_by_name("status")
                    .expect("status")
                    .as_primitive::<UInt16Type>()
                    .iter()
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(status, [Some(200), Some(200), Some(200), None, Some(200)]);
        let stage_target: Vec<f64> = batches
            .iter()
            .flat_map(|b| {
                b.column_by_name("stage_target")
                    .expect("stage_target")
                    .as_primitive::<Float64Type>()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(stage_target, [3.0, 3.0, 3.0, 7.5, 3.0]);
        let endpoint = batches[0].column_by_name("endpoint").expect("endpoint");
        assert!(
            endpoint.as_any_dictionary_opt().is_some(),
            "strings stay dictionaries"
        );
    }

    /// A column that holds values in one segment and none in another (an error, the model
    /// of a failed request) is read where it has them and null elsewhere: every value kept,
    /// in its row, and the columns that never held one stay null.
    #[test]
    fn a_column_null_in_one_segment_keeps_its_values_from_the_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let schema = schema();
        let mut writer = SegmentWriter::new(dir.path(), &schema);
        let failed = |seq, sent_us| RequestOutcome {
            error: Some(format!("error {seq}")),
            model_used: None,
            ..row(seq, sent_us)
        };
        writer
            .write(&[row(0, 100), row(1, 300)])
            .expect("segment 1");
        writer.write(&[failed(2, 200)]).expect("segment 2");
        writer.write(&[row(3, 400)]).expect("segment 3");
        let held = writer.written();
        let error = Column::ALL
            .iter()
            .position(|c| *c == Column::Error)
            .expect("error");
        assert_eq!(
            held.iter().map(|h| h.holds(error)).collect::<Vec<_>>(),
            vec![false, true, false]
        );
        assert_eq!(merge_segments(dir.path(), &schema, held).expect("merge"), 4);
        let path = dir.path().join("requests-00001.parquet");
        let batch = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).expect("open"))
            .expect("parquet")
            .build()
            .expect("reader")
            .next()
            .expect("a batch")
            .expect("rows");
        let strings = |name: &str| -> Vec<Option<String>> {
            let column = batch.column_by_name(name).expect(name);
            let column =
                arrow::compute::cast(column, &arrow::datatypes::DataType::Utf8).expect("cast");
            column
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect()
        };
        assert_eq!(
            strings("error"),
            vec![None, Some("error 2".into()), None, None]
        );
        let model = Some("llama3.2:1b".to_string());
        assert_eq!(
            strings("model_used"),
            vec![model.clone(), None, model.clone(), model]
        );
        assert_eq!(strings("trace_source"), vec![None; 4]);
        let seq: Vec<u64> = batch
            .column_by_name("seq")
            .expect("seq")
            .as_primitive::<arrow::datatypes::UInt64Type>()
            .values()
            .to_vec();
        assert_eq!(seq, vec![0, 2, 1, 3]);
    }

    /// A file that is not a readable segment stops the merge before anything is renamed or
    /// removed: every segment is still there, and no partial file is left.
    #[test]
    fn a_failed_merge_keeps_every_segment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let schema = schema();
        let mut writer = SegmentWriter::new(dir.path(), &schema);
        writer.write(&[row(0, 100)]).expect("segment 1");
        writer.write(&[row(1, 200)]).expect("segment 2");
        std::fs::write(dir.path().join("requests-00003.parquet"), b"not parquet").expect("write");
        let segments = [writer.written(), &[HeldColumns::ALL]].concat();
        assert!(merge_segments(dir.path(), &schema, &segments).is_err());
        assert_eq!(
            names(dir.path()),
            vec![
                "requests-00001.parquet",
                "requests-00002.parquet",
                "requests-00003.parquet"
            ]
        );
    }

    /// Killed after the rename, before the old segments were removed: the analysis reads the
    /// merged file alone, so every row counts once.
    #[test]
    fn leftovers_of_an_interrupted_merge_are_counted_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let schema = schema();
        let mut writer = SegmentWriter::new(dir.path(), &schema);
        writer
            .write(&[row(0, 100), row(1, 150)])
            .expect("segment 1");
        writer.write(&[row(2, 200)]).expect("segment 2");
        writer.write(&[row(3, 300)]).expect("segment 3");
        let kept = dir.path().join("kept");
        std::fs::create_dir(&kept).expect("mkdir");
        for i in [2, 3] {
            let name = files::request_segment(i);
            std::fs::copy(dir.path().join(&name), kept.join(&name)).expect("copy");
        }
        merge_segments(dir.path(), &schema, writer.written()).expect("merge");
        std::fs::copy(
            kept.join(files::request_segment(3)),
            dir.path().join(files::request_segment(3)),
        )
        .expect("restore");
        std::fs::remove_dir_all(&kept).expect("clean");
        let source =
            aurax_analysis::source::discover(&[dir.path().to_path_buf()]).expect("discover");
        assert_eq!(
            source.files,
            vec![dir.path().join("requests-00001.parquet")]
        );
    }
}
