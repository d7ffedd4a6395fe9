//! A synthetic run writer: request files that follow the contract, with known answers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int64Array, StringDictionaryBuilder, TimestampMicrosecondArray,
    UInt16Array, UInt32Array, UInt64Array,
};
use arrow::datatypes::Int32Type;
use arrow::record_batch::RecordBatch;
use aurax_schema::{Column, Targets, meta, request_schema};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

/// One synthetic request.
#[derive(Debug, Clone)]
pub struct Req {
    pub endpoint: &'static str,
    pub sent_s: f64,
    pub latency_ms: f64,
    pub outcome: &'static str,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub model: Option<&'static str>,
    pub users: u32,
    pub in_flight: u32,
    /// `stage_target`: the rate the schedule targeted at its send (open model, replay).
    pub stage_target: f64,
}

impl Req {
    pub fn ok(endpoint: &'static str, sent_s: f64, latency_ms: f64, users: u32) -> Req {
        Req {
            endpoint,
            sent_s,
            latency_ms,
            outcome: "ok",
            status: Some(200),
            error: None,
            model: None,
            users,
            in_flight: 1,
            stage_target: 0.0,
        }
    }
}

pub const START_US: i64 = 1_800_000_000_000_000;

/// Writes `reqs` as `requests-00001.parquet` in `dir`, with the given schema version.
pub fn write_run(dir: &Path, reqs: &[Req], schema_version: &str) {
    write_run_with(dir, reqs, schema_version, &[]);
}

/// [`write_run`] with more key-value metadata (`aurax.load_model`, `aurax.trace`, ...).
pub fn write_run_with(dir: &Path, reqs: &[Req], schema_version: &str, extra: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut meta_map = HashMap::from([
        (meta::SCHEMA_VERSION.to_string(), schema_version.to_string()),
        (meta::RUN_ID.to_string(), "synthetic".to_string()),
        (
            meta::TARGET_HOST.to_string(),
            "http://127.0.0.1:1".to_string(),
        ),
        (
            meta::TARGETS.to_string(),
            serde_json::to_string(&Targets::seed_defaults()).expect("json"),
        ),
    ]);
    meta_map.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let schema = request_schema(meta_map.clone());
    let n = reqs.len();
    let dict = |f: &dyn Fn(&Req) -> Option<String>| -> ArrayRef {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        reqs.iter().for_each(|r| b.append_option(f(r)));
        Arc::new(b.finish())
    };
    let sent: Vec<i64> = reqs
        .iter()
        .map(|r| START_US + (r.sent_s * 1e6) as i64)
        .collect();
    let columns: Vec<ArrayRef> = Column::ALL
        .iter()
        .map(|c| -> ArrayRef {
            match c {
                Column::RunId => dict(&|_| Some("synthetic".into())),
                Column::WorkerId => Arc::new(UInt32Array::from(vec![0; n])),
                Column::Seq => Arc::new(UInt64Array::from((0..n as u64).collect::<Vec<_>>())),
                Column::UserClass => dict(&|_| Some("Synthetic".into())),
                Column::UserId => Arc::new(UInt32Array::from(vec![0; n])),
                Column::Endpoint => dict(&|r| Some(r.endpoint.into())),
                Column::Method => dict(&|_| Some("POST".into())),
                Column::Path => dict(&|_| Some("/generate".into())),
                Column::IntendedSendTime | Column::ActualSendTime => {
                    Arc::new(TimestampMicrosecondArray::from(sent.clone()).with_timezone("UTC"))
                }
                Column::TtfbUs => Arc::new(Int64Array::from(
                    reqs.iter()
                        .map(|r| Some((r.latency_ms * 900.0) as i64))
                        .collect::<Vec<_>>(),
                )),
                Column::LatencyUs => Arc::new(Int64Array::from(
                    reqs.iter()
                        .map(|r| (r.latency_ms * 1000.0).round() as i64)
                        .collect::<Vec<_>>(),
                )),
                Column::Status => Arc::new(UInt16Array::from(
                    reqs.iter().map(|r| r.status).collect::<Vec<_>>(),
                )),
                Column::Outcome => dict(&|r| Some(r.outcome.into())),
                Column::Error => dict(&|r| r.error.clone()),
                Column::BytesSent | Column::BytesReceived => {
                    Arc::new(UInt64Array::from(vec![100; n]))
                }
                Column::ModelUsed => dict(&|r| r.model.map(Into::into)),
                Column::ResponseType => dict(&|_| None),
                Column::MaxTokens => Arc::new(UInt32Array::from(vec![Some(100); n])),
                Column::UsersActive => Arc::new(UInt32Array::from(
                    reqs.iter().map(|r| r.users).collect::<Vec<_>>(),
                )),
                Column::InFlight => Arc::new(UInt32Array::from(
                    reqs.iter().map(|r| r.in_flight).collect::<Vec<_>>(),
                )),
                Column::Stage => Arc::new(UInt32Array::from(vec![0; n])),
                Column::StageTarget => Arc::new(Float64Array::from(
                    reqs.iter().map(|r| r.stage_target).collect::<Vec<_>>(),
                )),
                Column::TraceSource => dict(&|_| None),
                Column::TraceLine => Arc::new(UInt64Array::from(vec![None; n])),
                Column::TokensIn | Column::TokensOut => {
                    Arc::new(UInt32Array::from(vec![None::<u32>; n]))
                }
                Column::TtftUs
                | Column::ItlMeanUs
                | Column::ItlMaxUs
                | Column::ServerQueueUs
                | Column::ServerLoadUs
                | Column::ServerPromptUs
                | Column::ServerGenUs => Arc::new(Int64Array::from(vec![None::<i64>; n])),
                Column::Sends => Arc::new(arrow::array::UInt8Array::from(vec![1u8; n])),
            }
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
    let kv = meta_map
        .into_iter()
        .map(|(k, v)| KeyValue::new(k, v))
        .collect();
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(kv))
        .build();
    let file = std::fs::File::create(dir.join("requests-00001.parquet")).expect("create");
    let mut w = ArrowWriter::try_new(file, schema, Some(props)).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

/// A closed-model ramp: `users` goes 1..=max_users, `secs_per_level` seconds each; each
/// user completes `per_user_rps` requests/s until the system's `capacity_rps` caps it.
pub fn saturating_ramp(
    max_users: u32,
    secs_per_level: f64,
    per_user_rps: f64,
    capacity_rps: f64,
) -> Vec<Req> {
    let mut out = Vec::new();
    for u in 1..=max_users {
        let rate = (per_user_rps * f64::from(u)).min(capacity_rps);
        let t0 = f64::from(u - 1) * secs_per_level;
        let n = (rate * secs_per_level).round() as usize;
        for i in 0..n {
            let t = t0 + secs_per_level * (i as f64 + 0.5) / n as f64;
            // Latency grows once demand exceeds capacity (the queue), as it does in reality.
            let latency = 100.0 * (per_user_rps * f64::from(u) / capacity_rps).max(1.0);
            let mut r = Req::ok("burst_request", t, latency, u);
            // Consistent with Little's law: in flight = throughput x latency, plus itself.
            r.in_flight = (rate * latency / 1000.0).round() as u32 + 1;
            out.push(r);
        }
    }
    out
}

/// Decodes a PNG: (width, height, share of pixels that are not white).
pub fn png_facts(path: &Path) -> (u32, u32, f64) {
    let decoder = png::Decoder::new(std::fs::File::open(path).expect("png exists"));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let bytes = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    let pixels = bytes.chunks(channels);
    let total = (info.width * info.height) as f64;
    let ink = pixels
        .filter(|p| p.iter().take(3).any(|v| *v < 245))
        .count() as f64;
    (info.width, info.height, ink / total)
}

/// Writes `resources.parquet` in `dir`: (seconds from START_US, source, metric, value).
pub fn write_resources(dir: &Path, file: &str, samples: &[(f64, &str, &str, f64)]) {
    use arrow::array::{Float64Array, TimestampMicrosecondArray};
    use aurax_schema::{ResourceColumn, resource_schema};
    let schema = resource_schema(HashMap::new());
    type Field<'a> = dyn Fn(&(f64, &str, &str, f64)) -> String + 'a;
    let dict = |f: &Field| -> ArrayRef {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        samples.iter().for_each(|s| b.append_value(f(s)));
        Arc::new(b.finish())
    };
    let columns: Vec<ArrayRef> = ResourceColumn::ALL
        .iter()
        .map(|c| -> ArrayRef {
            match c {
                ResourceColumn::Time => Arc::new(
                    TimestampMicrosecondArray::from(
                        samples
                            .iter()
                            .map(|s| START_US + (s.0 * 1e6) as i64)
                            .collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ),
                ResourceColumn::Source => dict(&|s| s.1.to_string()),
                ResourceColumn::Metric => dict(&|s| s.2.to_string()),
                ResourceColumn::Labels => dict(&|_| String::new()),
                ResourceColumn::Value => Arc::new(Float64Array::from(
                    samples.iter().map(|s| s.3).collect::<Vec<_>>(),
                )),
            }
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
    let file = std::fs::File::create(dir.join(file)).expect("create");
    let mut w = ArrowWriter::try_new(file, schema, None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}
