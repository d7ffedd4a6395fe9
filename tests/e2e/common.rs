//! Helpers for end-to-end tests: the real binary, a simulator child process on 127.0.0.1,
//! and the Parquet rows read back with the arrow reader.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimestampMicrosecondType, UInt16Type, UInt32Type, UInt64Type,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A trace under `fixtures/traces/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/traces")
        .join(name)
}

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aurax-tool"))
}

/// Runs the binary to completion with the given arguments.
pub fn aurax(args: &[&str]) -> Output {
    bin()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// `run --trace TRACE --host HOST --out OUT -q` and `extra`: a replay to completion.
pub fn replay(trace: &str, host: &str, out: &Path, extra: &[&str]) -> Output {
    bin()
        .args(["run", "--trace", trace, "--host", host, "-q", "--out"])
        .arg(out)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// A report directory's `summary.json`.
pub fn summary(report_dir: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(report_dir.join("summary.json")).expect("summary.json"),
    )
    .expect("json")
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The CPUs this test process may run on, in order (Linux: the affinity mask).
#[cfg(target_os = "linux")]
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for this process.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|c| libc::CPU_ISSET(*c, &set))
            .collect()
    }
}

/// Runs the child on `cpus` only; inside it, the machine has that many cores (Rust's
/// available_parallelism follows the affinity mask, as `nproc` does).
#[cfg(target_os = "linux")]
pub fn pin(cmd: &mut Command, cpus: &[usize]) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the set is built before the fork; the closure makes one system call.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for c in cpus {
            libc::CPU_SET(*c, &mut set);
        }
        set
    };
    unsafe {
        cmd.pre_exec(move || {
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// `aurax-tool serve --port 0 ...` as a child, killed when dropped.
pub struct Simulator {
    child: Child,
    pub url: String,
}

impl Simulator {
    pub fn start(extra: &[&str]) -> Simulator {
        Simulator::start_with(bin(), extra)
    }

    /// The simulator on the given CPUs only (see [`pin`]).
    pub fn start_on(cpus: &[usize], extra: &[&str]) -> Simulator {
        let mut cmd = bin();
        pin(&mut cmd, cpus);
        Simulator::start_with(cmd, extra)
    }

    fn start_with(mut cmd: Command, extra: &[&str]) -> Simulator {
        let mut child = cmd
            .args(["serve", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("simulator starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("reads the first line");
        let url = first.trim().rsplit(' ').next().expect("a URL").to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "unexpected first line: {first}"
        );
        Simulator { child, url }
    }
}

impl Simulator {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A plain HTTP/1.1 GET on loopback (no client library needed): the body as text.
pub fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).expect("connects");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("writes");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reads");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        // De-chunk: size line, data, CRLF, until a zero size.
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            if n == 0 {
                break;
            }
            out.push_str(&after[..n]);
            rest = &after[n + 2..];
        }
        out
    } else {
        body.to_string()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub user_id: u32,
    pub endpoint: String,
    pub outcome: String,
    pub error: Option<String>,
    pub status: Option<u16>,
    pub intended_us: i64,
    pub actual_us: i64,
    pub latency_us: i64,
    pub model_used: Option<String>,
    pub user_class: String,
    pub users_active: u32,
    pub in_flight: u32,
    pub stage: u32,
    pub stage_target: f64,
    pub path: String,
    pub trace_source: Option<String>,
    pub trace_line: Option<u64>,
    /// Times the request went out (schema 4).
    pub sends: u8,
}

pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("run dir exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            name.starts_with("requests-") && name.ends_with(".parquet")
        })
        .collect();
    files.sort();
    files
}

/// Every row of every closed segment in a run directory.
/// The distinct times at which `source` was sampled into the run's resources.parquet.
pub fn resource_sample_times(dir: &Path, source: &str) -> std::collections::BTreeSet<i64> {
    let f = std::fs::File::open(dir.join("resources.parquet")).expect("resources.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .expect("valid parquet")
        .build()
        .expect("reader");
    let mut times = std::collections::BTreeSet::new();
    for batch in reader {
        let b = batch.expect("batch");
        let sources = cast(b.column_by_name("source").expect("source"), &DataType::Utf8)
            .expect("cast to utf8");
        let sources = sources.as_string::<i32>();
        let time = b
            .column_by_name("time")
            .expect("time")
            .as_primitive::<TimestampMicrosecondType>()
            .clone();
        for i in 0..b.num_rows() {
            if sources.value(i) == source {
                times.insert(time.value(i));
            }
        }
    }
    times
}

pub fn read_rows(dir: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    for file in segment_files(dir) {
        let f = std::fs::File::open(&file).expect("open segment");
        let reader = ParquetRecordBatchReaderBuilder::try_new(f)
            .expect("valid parquet")
            .build()
            .expect("reader");
        for batch in reader {
            let b = batch.expect("batch");
            let strings = |name: &str| {
                let col = b.column_by_name(name).expect("column");
                cast(col, &DataType::Utf8).expect("cast to utf8")
            };
            let endpoint = strings("endpoint");
            let outcome = strings("outcome");
            let error = strings("error");
            let model = strings("model_used");
            let class = strings("user_class");
            let path = strings("path");
            let path = path.as_string::<i32>();
            let trace = strings("trace_source");
            let trace = trace.as_string::<i32>();
            let trace_line = b
                .column_by_name("trace_line")
                .expect("col")
                .as_primitive::<UInt64Type>()
                .clone();
            let class = class.as_string::<i32>();
            let users_active = b
                .column_by_name("users_active")
                .expect("col")
                .as_primitive::<UInt32Type>()
                .clone();
            let in_flight = b
                .column_by_name("in_flight")
                .expect("col")
                .as_primitive::<UInt32Type>()
                .clone();
            let stage = b
                .column_by_name("stage")
                .expect("col")
                .as_primitive::<UInt32Type>()
                .clone();
            let stage_target = b
                .column_by_name("stage_target")
                .expect("col")
                .as_primitive::<Float64Type>()
                .clone();
            let (endpoint, outcome, error, model) = (
                endpoint.as_string::<i32>(),
                outcome.as_string::<i32>(),
                error.as_string::<i32>(),
                model.as_string::<i32>(),
            );
            let user = b
                .column_by_name("user_id")
                .expect("user_id")
                .as_primitive::<UInt32Type>()
                .clone();
            let status = b
                .column_by_name("status")
                .expect("status")
                .as_primitive::<UInt16Type>()
                .clone();
            let intended = b
                .column_by_name("intended_send_time")
                .expect("col")
                .as_primitive::<TimestampMicrosecondType>()
                .clone();
            let actual = b
                .column_by_name("actual_send_time")
                .expect("col")
                .as_primitive::<TimestampMicrosecondType>()
                .clone();
            let latency = b
                .column_by_name("latency_us")
                .expect("col")
                .as_primitive::<Int64Type>()
                .clone();
            // Files of schema 3 and older (fixtures) have no `sends`: each went once.
            let sends = b
                .column_by_name("sends")
                .map(|c| c.as_primitive::<arrow::datatypes::UInt8Type>().clone());
            for i in 0..b.num_rows() {
                rows.push(Row {
                    user_id: user.value(i),
                    endpoint: endpoint.value(i).to_string(),
                    outcome: outcome.value(i).to_string(),
                    error: error.is_valid(i).then(|| error.value(i).to_string()),
                    status: status.is_valid(i).then(|| status.value(i)),
                    intended_us: intended.value(i),
                    actual_us: actual.value(i),
                    latency_us: latency.value(i),
                    model_used: model.is_valid(i).then(|| model.value(i).to_string()),
                    user_class: class.value(i).to_string(),
                    users_active: users_active.value(i),
                    in_flight: in_flight.value(i),
                    stage: stage.value(i),
                    stage_target: stage_target.value(i),
                    path: path.value(i).to_string(),
                    trace_source: trace.is_valid(i).then(|| trace.value(i).to_string()),
                    trace_line: trace_line.is_valid(i).then(|| trace_line.value(i)),
                    sends: sends.as_ref().map_or(1, |s| s.value(i)),
                });
            }
        }
    }
    rows
}

/// The rows a run says it recorded: "N requests sent [and D arrivals dropped unsent]
/// recorded in ...", N + D.
pub fn reported_requests(output: &str) -> u64 {
    output
        .lines()
        .filter(|l| l.contains(" recorded in "))
        .find_map(|l| {
            let (sent, rest) = l.split_once(" requests sent")?;
            let sent: u64 = sent.trim().parse().ok()?;
            let dropped: u64 = rest
                .strip_prefix(" and ")
                .and_then(|r| r.split_once(" arrivals dropped unsent"))
                .and_then(|(d, _)| d.trim().parse().ok())
                .unwrap_or(0);
            Some(sent + dropped)
        })
        .unwrap_or_else(|| panic!("no 'requests sent ... recorded' line in:\n{output}"))
}

pub fn manifest(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("run.json")).expect("run.json exists");
    serde_json::from_str(&text).expect("run.json is JSON")
}

/// Decodes a PNG: (width, height, share of pixels that are not white).
pub fn png_facts(path: &Path) -> (u32, u32, f64) {
    let decoder = png::Decoder::new(std::fs::File::open(path).expect("png exists"));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let bytes = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    let total = f64::from(info.width * info.height);
    let ink = bytes
        .chunks(channels)
        .filter(|p| p.iter().take(3).any(|v| *v < 245))
        .count() as f64;
    (info.width, info.height, ink / total)
}

/// Reads one request: its path and body (by content-length); None when the peer is gone.
pub fn read_request(stream: &mut std::net::TcpStream) -> Option<(String, Vec<u8>)> {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let path = head.split_whitespace().nth(1)?.to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).ok()?;
    Some((path, body))
}
