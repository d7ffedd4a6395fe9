//! The report's forms from one model: `report.md`, a self-contained `report.html` and the
//! `summary.png` card say the same headline and numbers as `summary.json`.

use std::path::Path;

use aurax_analysis::{analyze, report};

/// The example run: a minority model saturates first, two targets missed.
fn example_report() -> (tempfile::TempDir, report::ReportFiles) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/example-run");
    let dir = tempfile::tempdir().expect("tmp");
    let a = analyze(&[example]).expect("analyses");
    let files = report::write(&a, None, dir.path()).expect("report");
    (dir, files)
}

/// Checks the tags report.html uses are balanced (void elements aside): a renderer that
/// forgot a closing tag shifts everything after it.
fn balanced(html: &str) -> Result<(), String> {
    const VOID: [&str; 4] = ["meta", "img", "br", "!DOCTYPE"];
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..]
            .find('>')
            .ok_or_else(|| "a tag never closed".to_string())?;
        let tag = &rest[start + 1..start + end];
        rest = &rest[start + end + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect();
        if VOID.iter().any(|v| v.eq_ignore_ascii_case(&name)) {
            continue;
        }
        if tag.starts_with('/') {
            match open.pop() {
                Some(o) if o == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        } else {
            open.push(name);
        }
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!("never closed: {open:?}"))
    }
}

#[test]
fn the_html_report_is_one_balanced_file_that_needs_nothing_else() {
    let (dir, files) = example_report();
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    balanced(&html).expect("balanced tags");
    // The checker can fail.
    assert!(balanced("<p><b>x</p></b>").is_err());
    assert!(balanced("<table><tr></table>").is_err());
    // Nothing outside itself: every src and href is a data URI or an anchor, no script.
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let value = &html[i + attr.len()..];
            assert!(
                value.starts_with("data:") || value.starts_with('#'),
                "{attr}{}",
                &value[..value.len().min(60)]
            );
        }
    }
    assert!(!html.contains("<script") && !html.contains("<link"));
    // Every chart of the report is inline.
    let figures = files
        .report
        .sections
        .iter()
        .flat_map(|s| &s.blocks)
        .filter(|b| matches!(b, report::model::Block::Figure { .. }))
        .count();
    assert!(figures >= 8, "{figures} figures");
    assert_eq!(
        html.matches("src=\"data:image/png;base64,").count(),
        figures
    );
}

#[test]
fn the_card_decodes_and_carries_the_verdict_in_its_colour() {
    let (dir, files) = example_report();
    let decoder =
        png::Decoder::new(std::fs::File::open(dir.path().join("summary.png")).expect("card"));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!((info.width, info.height), (1200, 630));
    let channels = info.color_type.samples();
    let pixel = |x: u32, y: u32| {
        let i = ((y * info.width + x) as usize) * channels;
        (buf[i], buf[i + 1], buf[i + 2])
    };
    let verdict = files.report.headline.verdict;
    assert_eq!(verdict, report::model::Verdict::Fail);
    // The band behind the verdict is the verdict's colour; below it, white paper.
    assert_eq!(pixel(600, 4), verdict.rgb());
    assert_eq!(pixel(1190, 620), (255, 255, 255));
    // The card's endpoint rows: red where a target was missed.
    let red = (207, 34, 46);
    let reds = (0..info.height)
        .flat_map(|y| (0..700).map(move |x| (x, y)))
        .filter(|&(x, y)| y > 100 && pixel(x, y) == red)
        .count();
    assert!(reds > 20, "no missed target drawn in red ({reds} pixels)");
}

#[test]
fn headline_and_numbers_agree_in_every_form() {
    let (dir, files) = example_report();
    let s: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("summary.json")).expect("summary.json"),
    )
    .expect("json");
    let h = &files.report.headline;
    assert_eq!(s["headline"]["line"], h.line());
    assert_eq!(s["headline"]["verdict"], "FAIL");
    assert_eq!(s["run"]["verdict"], "FAIL");
    // One capacity and one trigger, with units, the numbers summary.json holds.
    let capacity = s["scaling"]["capacity_rps"].as_f64().expect("capacity");
    let trigger = s["scaling"]["scale_out_at_rps"].as_f64().expect("trigger");
    let shown = |v: f64| aurax_analysis::units::rps(v);
    assert_eq!(
        h.capacity,
        format!(
            "Capacity {} req/s of the mix, limited by generate_image",
            shown(capacity)
        )
    );
    assert_eq!(
        h.trigger.as_deref(),
        Some(format!("Scale out at {} req/s per instance", shown(trigger)).as_str())
    );
    // The cause comes first: the missed targets, then the endpoint that saturates.
    assert!(
        h.cause
            .starts_with("2 of 8 targets missed: generate_image p95"),
        "{}",
        h.cause
    );
    assert!(
        h.cause.contains("generate_image binds the mix first"),
        "{}",
        h.cause
    );
    // The card's cause names the missed targets without their figures (its table has them),
    // so the endpoint that saturates is never cut off its three lines.
    let (_, why) = h.cause.split_once("; ").expect("a cause after the targets");
    let missed: Vec<&str> = s["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["judgement"] == "fail")
        .filter_map(|c| c["what"].as_str())
        .collect();
    assert_eq!(
        h.brief_cause,
        format!("2 of 8 targets missed ({}); {why}", missed.join(", "))
    );
    // The same words in report.md (escaped for Markdown) and report.html.
    let md = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    let unescape = |t: &str| {
        t.replace("\\_", "_")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let md_plain = unescape(&md);
    let html_plain = unescape(&html);
    for part in [&h.cause, &h.capacity, h.trigger.as_ref().expect("trigger")] {
        let part = part.trim_end_matches('.');
        assert!(md_plain.contains(part), "report.md lacks {part}");
        assert!(html_plain.contains(part), "report.html lacks {part}");
    }
    // The run header: in summary.json and both files.
    let header = s["run_header"].as_array().expect("run_header");
    assert!(header.len() >= 5, "{header:?}");
    for field in header {
        let value = field[1].as_str().expect("value");
        assert!(md_plain.contains(value), "report.md lacks {value}");
    }
    // The example run was recorded before the command was: left out, never invented.
    assert!(!header.iter().any(|f| f[0] == "command"));
    assert!(header.iter().any(|f| f[0] == "seed" && f[1] == "11"));
}

#[test]
fn a_baseline_is_drawn_beside_the_run_and_links_can_point_where_the_folder_is_served() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/example-run");
    let a = analyze(&[example]).expect("analyses");
    let changes = aurax_analysis::baseline::compare(&a, &a);
    let (alone, compared) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    report::write(&a, None, alone.path()).expect("report");
    let base = "https://ci.example/artifacts/rep";
    report::write_with(&a, Some(&changes), Some(&a), compared.path(), Some(base)).expect("report");
    // The baseline's curve and p95 lines are drawn: the charts differ from the run alone's.
    for chart in ["load_curve.png", "latency_over_time.png", "summary.png"] {
        let read = |d: &Path| std::fs::read(d.join(chart)).expect("chart");
        assert_ne!(read(alone.path()), read(compared.path()), "{chart}");
    }
    let md = std::fs::read_to_string(compared.path().join("report.md")).expect("report.md");
    let links: Vec<&str> = md.match_indices("](").map(|(i, _)| &md[i + 2..]).collect();
    assert!(links.len() >= 9, "{} links", links.len());
    for link in links {
        assert!(
            link.starts_with(&format!("{base}/")),
            "{}",
            &link[..40.min(link.len())]
        );
    }
    assert!(md.contains("## Against the baseline"));
}
