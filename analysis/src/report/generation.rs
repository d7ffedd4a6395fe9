//! The report's "Generation" section: time to first token, inter-token latency and output
//! tokens of model-server answers, the model server's split of a request's time per endpoint
//! and per load level, goodput under the generation targets; and, against a baseline run on
//! the model server directly, what the layer in front of it adds.

use std::fmt::Write;

use super::{chart, md};
use crate::Analysis;
use crate::baseline::EndpointChange;
use crate::charts::ChartFile;
use crate::generation::TimeSplit;

/// Milliseconds with the digits that matter: inter-token gaps are often under 1 ms.
fn ms(v: f64) -> String {
    match v.abs() {
        x if x >= 100.0 => format!("{v:.0}"),
        x if x >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

fn ms3(v: Option<[f64; 3]>) -> String {
    v.map_or("–".into(), |[a, b, c]| {
        format!("{} / {} / {}", ms(a), ms(b), ms(c))
    })
}

pub(super) fn generation_section(o: &mut String, a: &Analysis, charts: &[ChartFile]) {
    let g = &a.generation;
    if g.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Generation\n");
    let _ = writeln!(
        o,
        "Successful responses of a model server: time to first token (TTFT) and a request's mean inter-token latency (ITL) of streamed answers, by nearest rank; output tokens as the server counted them (else the token chunks); goodput counts the responses within every generation target of their endpoint. Definitions: docs/streaming.md.\n"
    );
    let _ = writeln!(
        o,
        "| endpoint | streamed | TTFT p50 / p95 / p99 ms | ITL p50 / p95 / p99 ms | longest gap ms | output tokens/s | tokens a response | goodput req/s |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for e in &g.endpoints {
        let _ = writeln!(
            o,
            "| {} | {} of {} | {} | {} | {} | {:.1} | {} | {} |",
            md(&e.name),
            e.streamed,
            e.successes,
            ms3(e.ttft_ms),
            ms3(e.itl_ms),
            e.itl_max_ms.map_or("–".into(), ms),
            e.output_tokens_per_s,
            e.mean_tokens_out.map_or("–".into(), |t| format!("{t:.0}")),
            e.goodput_rps.map_or("–".into(), |r| format!("{r:.2}")),
        );
    }
    let split: Vec<_> = g
        .endpoints
        .iter()
        .filter_map(|e| e.split.map(|s| (e, s)))
        .collect();
    if split.is_empty() {
        let _ = writeln!(
            o,
            "\nThe server reported no durations of its own (Ollama does; OpenAI-compatible servers do not), so the time cannot be split.\n"
        );
        return;
    }
    let _ = writeln!(
        o,
        "\n### Where the time goes\n\nMeans of successful requests, as the model server accounts for them (Ollama's `total_duration` less `load_duration`, `prompt_eval_duration` and `eval_duration` is its queue); outside = the client's latency less the server's total (network, and anything in front of the model server).\n"
    );
    let _ = writeln!(
        o,
        "| endpoint | requests | queue ms | model load ms | prompt ms | generation ms | outside ms | most time in |\n|---|---:|---:|---:|---:|---:|---:|---|"
    );
    for (e, s) in &split {
        let (largest, _) = s.largest();
        let _ = writeln!(o, "| {} | {} | {largest} |", md(&e.name), split_cells(s));
    }
    chart(o, charts, "time_split.png");
    if !g.levels.is_empty() {
        let _ = writeln!(
            o,
            "\nPer load level: a queue that grows with load is the model server's capacity; a model-load spike at one level is a cold start.\n"
        );
        let _ = writeln!(
            o,
            "| load ({}) | endpoint | requests | queue ms | model load ms | prompt ms | generation ms | outside ms |\n|---:|---|---:|---:|---:|---:|---:|---:|",
            a.source.load_unit()
        );
        for l in &g.levels {
            let _ = writeln!(
                o,
                "| {:.1} | {} | {} |",
                l.load,
                md(&l.endpoint),
                split_cells(&l.split)
            );
        }
        let _ = writeln!(o);
    }
}

/// A split's cells, the same in every table: requests, then each part's mean (ms).
fn split_cells(s: &TimeSplit) -> String {
    let parts: Vec<String> = s.parts().iter().map(|(_, ms)| format!("{ms:.0}")).collect();
    format!("{} | {}", s.requests, parts.join(" | "))
}

/// Against a baseline run on the model server directly: the time added in front of it.
pub(super) fn overhead_section(o: &mut String, changes: &[EndpointChange]) {
    let with: Vec<_> = changes
        .iter()
        .filter_map(|c| c.overhead.as_ref().map(|h| (c, h)))
        .collect();
    if with.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "\n### Overhead in front of the model server\n\nThe baseline asked the model server directly (its answers carry generation figures) and this run did not: the difference is what the layer in front (AURAX) adds, per endpoint of the same name.\n"
    );
    let _ = writeln!(
        o,
        "| endpoint | p50 ms direct → through | added at p50 | added on average | |\n|---|---:|---:|---:|---|"
    );
    for (c, h) in with {
        let _ = writeln!(
            o,
            "| {} | {:.0} → {:.0} | {:+.0} ms ({:.0}%) | {:+.0} ms | {} |",
            md(&c.name),
            c.p50_ms.0,
            c.p50_ms.1,
            h.p50_ms,
            h.share_of_p50 * 100.0,
            h.mean_ms,
            md(&h.verdict)
        );
    }
}
