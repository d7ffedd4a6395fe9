//! The report's "Generation" section: time to first token, inter-token latency and output
//! tokens of model-server answers, the model server's split of a request's time per endpoint
//! and per load level, goodput under the generation targets; and, against a baseline run on
//! the model server directly, what the layer in front of it adds.

use super::model::{Block, Section, Table, Text};
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

/// The section, when a model server's answers were measured.
pub(super) fn generation_section(a: &Analysis, charts: &[ChartFile]) -> Option<Section> {
    let g = &a.generation;
    if g.is_empty() {
        return None;
    }
    let mut s = Section::new("Generation");
    s.para("Successful responses of a model server: time to first token (TTFT) and a request's mean inter-token latency (ITL) of streamed answers, by nearest rank; output tokens as the server counted them (else the token chunks); goodput counts the responses within every generation target of their endpoint. Definitions: docs/streaming.md.");
    let mut t = Table::with([
        "endpoint",
        "streamed>",
        "TTFT p50 / p95 / p99 ms>",
        "ITL p50 / p95 / p99 ms>",
        "longest gap ms>",
        "output tokens/s>",
        "tokens a response>",
        "goodput req/s>",
    ]);
    for e in &g.endpoints {
        t.row(vec![
            Text::new().code(e.name.clone()),
            format!("{} of {}", e.streamed, e.successes).into(),
            ms3(e.ttft_ms).into(),
            ms3(e.itl_ms).into(),
            e.itl_max_ms.map_or("–".into(), ms).into(),
            format!("{:.1}", e.output_tokens_per_s).into(),
            e.mean_tokens_out
                .map_or("–".into(), |t| format!("{t:.0}"))
                .into(),
            e.goodput_rps
                .map_or("–".into(), |r| format!("{r:.2}"))
                .into(),
        ]);
    }
    s.table(t);
    let split: Vec<_> = g
        .endpoints
        .iter()
        .filter_map(|e| e.split.map(|s| (e, s)))
        .collect();
    if split.is_empty() {
        s.para("The server reported no durations of its own (Ollama does; OpenAI-compatible servers do not), so the time cannot be split.");
        return Some(s);
    }
    s.blocks
        .push(Block::Subheading("Where the time goes".to_string()));
    s.para(
        Text::new()
            .plain("Means of successful requests, as the model server accounts for them (Ollama's ")
            .code("total_duration")
            .plain(" less ")
            .code("load_duration")
            .plain(", ")
            .code("prompt_eval_duration")
            .plain(" and ")
            .code("eval_duration")
            .plain(" is its queue); outside = the client's latency less the server's total (network, and anything in front of the model server)."),
    );
    let mut t = Table::with(
        ["endpoint"]
            .into_iter()
            .chain(SPLIT_COLUMNS)
            .chain(["most time in"]),
    );
    for (e, sp) in &split {
        let (largest, _) = sp.largest();
        let mut row = vec![Text::new().code(e.name.clone())];
        row.extend(split_cells(sp));
        row.push(largest.to_string().into());
        t.row(row);
    }
    s.table(t);
    s.figure(charts, "time_split.png");
    if !g.levels.is_empty() {
        s.para("Per load level: a queue that grows with load is the model server's capacity; a model-load spike at one level is a cold start.");
        let load = format!("load ({})>", a.source.load_unit());
        let mut t = Table::with([load.as_str(), "endpoint"].into_iter().chain(SPLIT_COLUMNS));
        for l in &g.levels {
            let mut row = vec![
                Text::from(format!("{:.1}", l.load)),
                Text::new().code(l.endpoint.clone()),
            ];
            row.extend(split_cells(&l.split));
            t.row(row);
        }
        s.table(t);
    }
    Some(s)
}

/// The columns of [`split_cells`].
const SPLIT_COLUMNS: [&str; 6] = [
    "requests>",
    "queue ms>",
    "model load ms>",
    "prompt ms>",
    "generation ms>",
    "outside ms>",
];

/// A split's cells, the same in every table: requests, then each part's mean (ms).
fn split_cells(s: &TimeSplit) -> Vec<Text> {
    std::iter::once(s.requests.to_string())
        .chain(s.parts().iter().map(|(_, ms)| format!("{ms:.0}")))
        .map(Text::from)
        .collect()
}

/// Against a baseline run on the model server directly: the time added in front of it.
pub(super) fn overhead(s: &mut Section, changes: &[EndpointChange]) {
    let with: Vec<_> = changes
        .iter()
        .filter_map(|c| c.overhead.as_ref().map(|h| (c, h)))
        .collect();
    if with.is_empty() {
        return;
    }
    s.blocks.push(Block::Subheading(
        "Overhead in front of the model server".to_string(),
    ));
    s.para("The baseline asked the model server directly (its answers carry generation figures) and this run did not: the difference is what the layer in front (AURAX) adds, per endpoint of the same name.");
    let mut t = Table::with([
        "endpoint",
        "p50 ms direct → through>",
        "added at p50>",
        "added on average>",
        "",
    ]);
    for (c, h) in with {
        t.row(vec![
            Text::new().code(c.name.clone()),
            format!("{:.0} → {:.0}", c.p50_ms.0, c.p50_ms.1).into(),
            format!("{:+.0} ms ({:.0}%)", h.p50_ms, h.share_of_p50 * 100.0).into(),
            format!("{:+.0} ms", h.mean_ms).into(),
            h.verdict.clone().into(),
        ]);
    }
    s.table(t);
}
