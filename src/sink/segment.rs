//! Turns buffered outcomes into an Arrow record batch and writes it as one closed Parquet
//! segment. A segment is written to `*.partial` and renamed when its footer is on disk, so
//! every `requests-*.parquet` in a run directory is a valid file, whatever happens later.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, DictionaryArray, Float64Builder, Int32Array, Int64Builder, StringArray,
    StringBuilder, StringDictionaryBuilder, TimestampMicrosecondBuilder, UInt8Builder,
    UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow::datatypes::{Int32Type, Schema};
use arrow::record_batch::RecordBatch;
use aurax_schema::Column;
use aurax_schema::files;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

use crate::outcome::{Name, RequestOutcome};

pub struct SegmentWriter {
    dir: PathBuf,
    /// The columns, without metadata (see [`bare`]).
    schema: Arc<Schema>,
    run_id: String,
    props: WriterProperties,
    /// Segment `i + 1`'s columns that hold a value in some row.
    held: Vec<HeldColumns>,
}

/// Which columns of a segment hold a value in at least one row, a bit a column in
/// `Column::ALL` order. The merge reads only those and makes the rest nulls: a column of nulls
/// (the error of a run that had none, the generation fields of `/health`) read back as a
/// dictionary costs a hash and a compare a row in the Parquet reader, a fifth of the merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HeldColumns(u64);

// One bit a column.
const _: () = assert!(Column::ALL.len() <= 64);

impl HeldColumns {
    /// Every column, for a segment the merge knows nothing of.
    #[cfg(test)]
    pub(super) const ALL: HeldColumns = HeldColumns(u64::MAX);

    fn of(batch: &RecordBatch) -> HeldColumns {
        let bits = batch
            .columns()
            .iter()
            .enumerate()
            .filter(|(_, c)| c.null_count() < c.len())
            .fold(0u64, |bits, (i, _)| bits | 1 << i);
        HeldColumns(bits)
    }

    /// Whether column `index` (in `Column::ALL` order) holds a value.
    pub(super) fn holds(self, index: usize) -> bool {
        index < 64 && self.0 & (1 << index) != 0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("building the record batch: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("writing {path}: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How every Parquet file of a run is written: zstd, and the schema's metadata (version,
/// run id, ...) plus `extra` pairs in the footer's key-value metadata, where readers of the
/// contract look (in key order: the same run writes byte-identical footers).
pub(super) fn writer_properties(
    schema: &Schema,
    extra: &[(&str, String)],
) -> WriterPropertiesBuilder {
    let mut kv: Vec<KeyValue> = schema
        .metadata()
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .chain(
            extra
                .iter()
                .map(|(k, v)| KeyValue::new(k.to_string(), v.clone())),
        )
        .collect();
    kv.sort_by(|a, b| a.key.cmp(&b.key));
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_key_value_metadata(Some(kv))
}

/// How a request file is written, column by column (docs/parquet.md "Encodings"), for the
/// fewest bytes a row that every Parquet reader still reads as is: strings and (in the merged
/// file) the columns of few distinct values (status, byte counts, stages) as dictionaries;
/// counters and times as
/// `DELTA_BINARY_PACKED` (send times are sorted in a merged file, so their deltas are the gaps
/// between requests); statistics only on the two time columns, for readers that prune by
/// time. `extra` is key-value metadata added to the schema's.
pub(super) fn request_file_properties(
    schema: &Schema,
    extra: &[(&str, String)],
    packing: Packing,
) -> WriterProperties {
    let rows = match packing {
        Packing::Segment => 128 * 1024,
        Packing::Merged => MERGED_ROW_GROUP_ROWS,
    };
    // No offset index: readers find a run's few row groups from the footer (and it cost
    // 0.04 bytes a row of a 10-minute run).
    let mut props = writer_properties(schema, extra)
        .set_max_row_group_row_count(Some(rows))
        .set_statistics_enabled(EnabledStatistics::None)
        .set_offset_index_disabled(true);
    for c in Column::ALL {
        let path = ColumnPath::from(c.name());
        props = match column_encoding(c, packing) {
            ColumnEncoding::Dictionary => props.set_column_dictionary_enabled(path, true),
            ColumnEncoding::Plain => props.set_column_dictionary_enabled(path, false),
            ColumnEncoding::Delta => props
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED),
            ColumnEncoding::ByteStreamSplit => {
                let props = props
                    .set_column_dictionary_enabled(path.clone(), false)
                    .set_column_encoding(path.clone(), Encoding::BYTE_STREAM_SPLIT);
                match packing {
                    // The file a run keeps: the durations are most of its bytes, and zstd's
                    // stronger levels find what the split streams still hold (latency on a
                    // 10-minute heavy run: 2.69 bytes a row at level 1, 2.58 at 12; level 12
                    // codes about 7 M values a second, level 15 2.7 M for 2.51).
                    Packing::Merged => props.set_column_compression(
                        path,
                        Compression::ZSTD(ZstdLevel::try_new(12).unwrap_or_default()),
                    ),
                    // A segment is written while the load runs: the cheapest level.
                    Packing::Segment => props,
                }
            }
        };
    }
    for c in [Column::IntendedSendTime, Column::ActualSendTime] {
        props = props.set_column_statistics_enabled(c.name().into(), EnabledStatistics::Chunk);
    }
    props.build()
}

/// Which request file is written: its row groups' size.
#[derive(Debug, Clone, Copy)]
pub(super) enum Packing {
    /// A segment written while the load runs: 128k rows a row group.
    Segment,
    /// The one file a run keeps, merged after the load: row groups of 2^20 rows. (zstd
    /// level 9 instead of 1 here saved 0.2% on a 10-minute heavy run: not worth its CPU.)
    Merged,
}

/// Rows sorted and written together: a row group of the merged file. Bounds the memory the
/// merge holds (about 100 MB at this size), whatever the run's length.
pub(super) const MERGED_ROW_GROUP_ROWS: usize = 1 << 20;

enum ColumnEncoding {
    /// Few distinct values: a dictionary and run lengths of its indexes.
    Dictionary,
    /// The values as they are (zstd still packs them).
    Plain,
    /// Many distinct values that move in small steps (or are sorted).
    Delta,
    /// Many distinct values in no order (durations, user numbers, body sizes): each byte of
    /// the values in a stream of its own, so zstd codes the busy low bytes apart from the
    /// near-constant high ones (Parquet 2.11; on a 10-minute heavy run latency took 2.67
    /// bytes a row this way against 2.75 as deltas, whose differences of unordered values
    /// are twice as spread as the values).
    ByteStreamSplit,
}

/// Strings, and the numbers of few distinct values, as dictionaries; durations, user numbers
/// and request sizes split by byte; every other number (counters, times, token counts) as
/// deltas. A segment, written during the load and read once by the merge, writes its numbers
/// of few values plain: a dictionary costs the Parquet writer a hash a value, and the merge
/// reads either as the same numbers.
fn column_encoding(c: Column, packing: Packing) -> ColumnEncoding {
    const UNORDERED: [Column; 11] = [
        Column::UserId,
        Column::TtfbUs,
        Column::LatencyUs,
        Column::BytesSent,
        Column::TtftUs,
        Column::ItlMeanUs,
        Column::ItlMaxUs,
        Column::ServerQueueUs,
        Column::ServerLoadUs,
        Column::ServerPromptUs,
        Column::ServerGenUs,
    ];
    const FEW_VALUES: [Column; 5] = [
        Column::WorkerId,
        Column::Status,
        Column::BytesReceived,
        Column::Stage,
        Column::StageTarget,
    ];
    if matches!(c.data_type().0, arrow::datatypes::DataType::Dictionary(..)) {
        ColumnEncoding::Dictionary
    } else if FEW_VALUES.contains(&c) {
        match packing {
            Packing::Merged => ColumnEncoding::Dictionary,
            Packing::Segment => ColumnEncoding::Plain,
        }
    } else if UNORDERED.contains(&c) {
        ColumnEncoding::ByteStreamSplit
    } else {
        ColumnEncoding::Delta
    }
}

/// The schema without its metadata: the embedded Arrow schema (`ARROW:schema`, which tells
/// readers the dictionary and time-zone types) then carries the fields alone, and the
/// metadata is written once, as the footer's key-value pairs.
pub(super) fn bare(schema: &Schema) -> Arc<Schema> {
    Arc::new(Schema::new(schema.fields().clone()))
}

impl SegmentWriter {
    pub fn new(dir: &Path, schema: &Schema) -> SegmentWriter {
        SegmentWriter {
            dir: dir.to_path_buf(),
            schema: bare(schema),
            run_id: schema
                .metadata()
                .get(aurax_schema::meta::RUN_ID)
                .cloned()
                .unwrap_or_default(),
            props: request_file_properties(schema, &[], Packing::Segment),
            held: Vec::new(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The segments written so far, in order: which of their columns hold values.
    pub(super) fn written(&self) -> &[HeldColumns] {
        &self.held
    }

    /// Writes `rows` as the next segment file and returns its path.
    pub fn write(&mut self, rows: &[RequestOutcome]) -> Result<PathBuf, SegmentError> {
        let batch = to_record_batch(rows, &self.run_id, self.schema.clone())?;
        let name = files::request_segment(self.held.len() as u32 + 1);
        let done = self.dir.join(&name);
        let partial = self.dir.join(format!("{name}.{}", files::PARTIAL_EXT));
        let file = File::create(&partial).map_err(|source| SegmentError::Io {
            path: partial.clone(),
            source,
        })?;
        let pq = |source| SegmentError::Parquet {
            path: partial.clone(),
            source,
        };
        let mut writer = ArrowWriter::try_new(file, self.schema.clone(), Some(self.props.clone()))
            .map_err(pq)?;
        writer.write(&batch).map_err(pq)?;
        let file = writer.into_inner().map_err(pq)?;
        file.sync_all().map_err(|source| SegmentError::Io {
            path: partial.clone(),
            source,
        })?;
        std::fs::rename(&partial, &done).map_err(|source| SegmentError::Io {
            path: done.clone(),
            source,
        })?;
        self.held.push(HeldColumns::of(&batch));
        Ok(done)
    }
}

fn to_record_batch(
    rows: &[RequestOutcome],
    run: &str,
    schema: Arc<Schema>,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let n = rows.len();
    let dict = || StringDictionaryBuilder::<Int32Type>::new();
    let names = || NameColumn::with_capacity(n);
    let (mut class, mut endpoint, mut method, mut path, mut outcome) =
        (names(), names(), names(), names(), names());
    let (mut error, mut model, mut rtype, mut trace) = (dict(), dict(), dict(), dict());
    let mut trace_line = UInt64Builder::with_capacity(n);
    let mut worker = UInt32Builder::with_capacity(n);
    let mut seq = UInt64Builder::with_capacity(n);
    let mut user = UInt32Builder::with_capacity(n);
    let micros = || TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let (mut intended, mut actual) = (micros(), micros());
    let mut ttfb = Int64Builder::with_capacity(n);
    let mut latency = Int64Builder::with_capacity(n);
    let mut status = UInt16Builder::with_capacity(n);
    let mut sent = UInt64Builder::with_capacity(n);
    let mut received = UInt64Builder::with_capacity(n);
    let mut max_tokens = UInt32Builder::with_capacity(n);
    let mut users = UInt32Builder::with_capacity(n);
    let mut in_flight = UInt32Builder::with_capacity(n);
    let mut stage = UInt32Builder::with_capacity(n);
    let mut stage_target = Float64Builder::with_capacity(n);
    let micros_of = || Int64Builder::with_capacity(n);
    let (mut ttft, mut itl_mean, mut itl_max) = (micros_of(), micros_of(), micros_of());
    let (mut tokens_in, mut tokens_out) = (
        UInt32Builder::with_capacity(n),
        UInt32Builder::with_capacity(n),
    );
    let (mut s_queue, mut s_load, mut s_prompt, mut s_gen) =
        (micros_of(), micros_of(), micros_of(), micros_of());
    let mut sends = UInt8Builder::with_capacity(n);
    for r in rows {
        worker.append_value(r.worker_id);
        seq.append_value(r.seq);
        class.append(&r.user_class);
        user.append_value(r.user_id);
        endpoint.append(&r.endpoint);
        method.append(&r.method);
        path.append(&r.path);
        intended.append_value(r.intended_send_us);
        actual.append_value(r.actual_send_us);
        ttfb.append_option(r.ttfb_us);
        latency.append_value(r.latency_us);
        status.append_option(r.status);
        outcome.append_static(r.outcome.as_str());
        error.append_option(r.error.as_deref());
        sent.append_value(r.bytes_sent);
        received.append_value(r.bytes_received);
        model.append_option(r.model_used.as_deref());
        rtype.append_option(r.response_type.as_deref());
        max_tokens.append_option(r.max_tokens);
        users.append_value(r.users_active);
        in_flight.append_value(r.in_flight);
        stage.append_value(r.stage);
        stage_target.append_value(r.stage_target);
        trace.append_option(r.trace.as_ref().map(|(source, _)| &**source));
        trace_line.append_option(r.trace.as_ref().map(|(_, line)| *line));
        let g = r.generation.as_deref();
        ttft.append_option(g.and_then(|g| g.ttft_us));
        itl_mean.append_option(g.and_then(|g| g.itl_mean_us));
        itl_max.append_option(g.and_then(|g| g.itl_max_us));
        tokens_in.append_option(g.and_then(|g| g.tokens_in));
        tokens_out.append_option(g.and_then(|g| g.tokens_out));
        let server = g.and_then(|g| g.server);
        s_queue.append_option(server.map(|s| s.queue_us));
        s_load.append_option(server.map(|s| s.load_us));
        s_prompt.append_option(server.map(|s| s.prompt_us));
        s_gen.append_option(server.map(|s| s.gen_us));
        sends.append_value(r.sends);
    }
    // Same order as aurax_schema::Column::ALL.
    let columns: Vec<ArrayRef> = vec![
        Arc::new(one_value(run, n)),
        Arc::new(worker.finish()),
        Arc::new(seq.finish()),
        Arc::new(class.finish()),
        Arc::new(user.finish()),
        Arc::new(endpoint.finish()),
        Arc::new(method.finish()),
        Arc::new(path.finish()),
        Arc::new(intended.finish()),
        Arc::new(actual.finish()),
        Arc::new(ttfb.finish()),
        Arc::new(latency.finish()),
        Arc::new(status.finish()),
        Arc::new(outcome.finish()),
        Arc::new(error.finish()),
        Arc::new(sent.finish()),
        Arc::new(received.finish()),
        Arc::new(model.finish()),
        Arc::new(rtype.finish()),
        Arc::new(max_tokens.finish()),
        Arc::new(users.finish()),
        Arc::new(in_flight.finish()),
        Arc::new(stage.finish()),
        Arc::new(stage_target.finish()),
        Arc::new(trace.finish()),
        Arc::new(trace_line.finish()),
        Arc::new(ttft.finish()),
        Arc::new(itl_mean.finish()),
        Arc::new(itl_max.finish()),
        Arc::new(tokens_in.finish()),
        Arc::new(tokens_out.finish()),
        Arc::new(s_queue.finish()),
        Arc::new(s_load.finish()),
        Arc::new(s_prompt.finish()),
        Arc::new(s_gen.finish()),
        Arc::new(sends.finish()),
    ];
    RecordBatch::try_new(schema, columns)
}

/// A dictionary column of one value in every row (the run id).
fn one_value(value: &str, rows: usize) -> DictionaryArray<Int32Type> {
    let keys = Int32Array::from(vec![0; rows]);
    DictionaryArray::new(keys, Arc::new(StringArray::from(vec![value])))
}

/// A dictionary column of the names rows carry (user class, endpoint, method, path,
/// outcome). Most are texts the process keeps for its life ([`Name::Interned`], the outcome
/// labels), the same few in every row: their key is found by address in a short list, where
/// Arrow's builder hashed and compared the text, a row and a column (a quarter of the sink
/// thread's work during a `/health` load). Any other text (a replayed path) is found by its
/// text. Each distinct text has one key, whichever way it came.
struct NameColumn<'a> {
    keys: Vec<i32>,
    values: StringBuilder,
    /// Keys of the static texts seen, by address and length; at most [`Self::BY_ADDRESS`].
    by_address: Vec<(usize, usize, i32)>,
    /// Keys by text, with the hash Arrow's builder used (not std's SipHash): a replay's
    /// paths come this way, a hash a row.
    by_text: HashMap<&'a str, i32, ahash::RandomState>,
}

impl<'a> NameColumn<'a> {
    /// Past this many distinct static texts a scan of the list costs more than a hash.
    const BY_ADDRESS: usize = 16;

    fn with_capacity(rows: usize) -> NameColumn<'a> {
        NameColumn {
            keys: Vec::with_capacity(rows),
            values: StringBuilder::new(),
            by_address: Vec::new(),
            by_text: HashMap::default(),
        }
    }

    fn append(&mut self, name: &'a Name) {
        match name {
            Name::Interned(text) => self.append_static(text),
            Name::Own(text) => {
                let key = self.key_of_text(text);
                self.keys.push(key);
            }
        }
    }

    fn append_static(&mut self, text: &'static str) {
        let address = (text.as_ptr() as usize, text.len());
        let known = self
            .by_address
            .iter()
            .find(|(at, len, _)| (*at, *len) == address);
        let key = match known {
            Some((_, _, key)) => *key,
            None => {
                let key = self.key_of_text(text);
                if self.by_address.len() < Self::BY_ADDRESS {
                    self.by_address.push((address.0, address.1, key));
                }
                key
            }
        };
        self.keys.push(key);
    }

    fn key_of_text(&mut self, text: &'a str) -> i32 {
        let next = self.by_text.len() as i32;
        *self.by_text.entry(text).or_insert_with(|| {
            self.values.append_value(text);
            next
        })
    }

    fn finish(mut self) -> DictionaryArray<Int32Type> {
        DictionaryArray::new(Int32Array::from(self.keys), Arc::new(self.values.finish()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use arrow::array::{Array, AsArray};
    use aurax_schema::request_schema;

    use super::*;

    /// A name's key is found by address for static texts and by text for the rest; a text
    /// that comes both ways, or from two addresses, still has one key and one value.
    #[test]
    fn a_name_has_one_key_however_it_came() {
        let other_health: &'static str = Box::leak(String::from("/health").into_boxed_str());
        let many: Vec<&'static str> = (0..40)
            .map(|i| &*Box::leak(format!("e{i}").into_boxed_str()))
            .collect();
        const HEALTHZ: &str = "/healthz";
        let mut names = vec![
            Name::Interned("/health"),
            Name::Own(Arc::from("/health")),
            Name::Interned(other_health),
            Name::Own(Arc::from("/generate")),
            Name::Interned("/generate"),
            // At the address of another static text, shorter.
            Name::Interned(HEALTHZ),
            Name::Interned(&HEALTHZ[..7]),
        ];
        // Past the list's length, the static texts are found by text.
        names.extend(many.iter().chain(&many).map(|&e| Name::Interned(e)));
        let mut column = NameColumn::with_capacity(names.len());
        for name in &names {
            column.append(name);
        }
        let array = column.finish();
        let values = array.values().as_string::<i32>();
        assert_eq!(values.len(), 43, "one value a distinct text");
        let read: Vec<&str> = array
            .keys()
            .values()
            .iter()
            .map(|&k| values.value(k as usize))
            .collect();
        let texts: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        assert_eq!(read, texts);
        assert_eq!(array.keys().values()[..7], [0, 0, 0, 1, 1, 2, 0]);
    }

    /// The merged file codes its durations at zstd 12, a segment at the cheapest level; the
    /// rest of either at the default (a file does not record its levels: checked here).
    #[test]
    fn durations_get_the_strong_level_in_the_merged_file_only() {
        let schema = request_schema(HashMap::new());
        let level = |packing, column: Column| {
            request_file_properties(&schema, &[], packing).compression(&column.name().into())
        };
        let zstd = |n| Compression::ZSTD(ZstdLevel::try_new(n).expect("level"));
        for c in [Column::LatencyUs, Column::TtfbUs, Column::TtftUs] {
            assert_eq!(level(Packing::Merged, c), zstd(12), "{c:?}");
            assert_eq!(level(Packing::Segment, c), zstd(1), "{c:?}");
        }
        assert_eq!(level(Packing::Merged, Column::ActualSendTime), zstd(1));
    }
}
