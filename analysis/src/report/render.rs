//! The report model written three ways: `report.md` (to paste into a review), a
//! self-contained `report.html` (charts inline, nothing fetched, opens offline and in a CI
//! artefact viewer) and terminal text. Each renderer escapes plain text for its own form.

use std::fmt::Write;
use std::path::Path;

use super::model::{Align, Block, Report, Span, Table, Text};

/// Plain text as Markdown that shows it, never runs it: the characters Markdown and HTML act
/// on are escaped, so a server's `<script>` or `|` is text in a table cell (control
/// characters were dropped when the text was read, see `frame::clean`).
pub(crate) fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A Markdown code span: backticks (which would end it) become quotes; a `|` is escaped, as
/// GitHub's tables split cells on it even inside code.
fn md_code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'").replace('|', "\\|"))
}

fn md_text(t: &Text) -> String {
    t.0.iter()
        .map(|s| match s {
            Span::Plain(p) => md(p),
            Span::Strong(p) => format!("**{}**", md(p)),
            Span::Code(p) => md_code(p),
        })
        .collect()
}

fn md_table(o: &mut String, t: &Table) {
    let head: Vec<String> = t.columns.iter().map(|(name, _)| md(name)).collect();
    let rule: Vec<&str> = t
        .columns
        .iter()
        .map(|(_, a)| match a {
            Align::Left => "---",
            Align::Right => "---:",
            Align::Center => ":---:",
        })
        .collect();
    let _ = writeln!(o, "| {} |", head.join(" | "));
    let _ = writeln!(o, "|{}|", rule.join("|"));
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(md_text).collect();
        let _ = writeln!(o, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(o);
}

/// `report.md`. `link_base` prefixes chart links (where the charts will be served from),
/// else they are relative to the report folder.
pub fn markdown(r: &Report, link_base: Option<&str>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Load test report: {}\n", md(&r.title));
    let h = &r.headline;
    let _ = writeln!(
        o,
        "**{}: {}.**\n",
        h.verdict.word(),
        md(h.cause.trim_end_matches('.'))
    );
    let rest: Vec<String> = [
        Some(h.capacity.clone()),
        h.trigger.clone(),
        Some(h.passed.clone()),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.is_empty())
    .map(|p| md(p.trim_end_matches('.')))
    .collect();
    let _ = writeln!(o, "{}.\n", rest.join(" · "));
    for f in &r.header.fields {
        let value = if f.0 == "command" {
            md_code(&f.1)
        } else {
            md_text(&Text::marked(&f.1))
        };
        let _ = writeln!(o, "- **{}**: {value}", md(&f.0));
    }
    let _ = writeln!(o);
    if let Some(card) = &r.card {
        md_block(
            &mut o,
            &Block::Figure {
                file: card.clone(),
                title: "summary card".to_string(),
            },
            link_base,
        );
    }
    md_table(&mut o, &r.checks);
    if !r.findings.is_empty() {
        for f in &r.findings {
            let _ = writeln!(o, "- {}", md_text(f));
        }
        let _ = writeln!(o);
    }
    for s in &r.sections {
        let _ = writeln!(o, "## {}\n", md(&s.title));
        for b in &s.blocks {
            md_block(&mut o, b, link_base);
        }
    }
    let _ = writeln!(o, "---\n{}", md(&r.method));
    o
}

fn md_block(o: &mut String, b: &Block, link_base: Option<&str>) {
    match b {
        Block::Paragraph(t) => {
            let _ = writeln!(o, "{}\n", md_text(t));
        }
        Block::Subheading(t) => {
            let _ = writeln!(o, "### {}\n", md(t));
        }
        Block::Table(t) => md_table(o, t),
        Block::List { ordered, items } => {
            for (i, item) in items.iter().enumerate() {
                let mark = if *ordered {
                    format!("{}.", i + 1)
                } else {
                    "-".to_string()
                };
                let _ = writeln!(o, "{mark} {}", md_text(item));
            }
            let _ = writeln!(o);
        }
        Block::Figure { file, title } => {
            let link = match link_base {
                Some(base) => format!("{}/{file}", base.trim_end_matches('/')),
                None => file.clone(),
            };
            let _ = writeln!(o, "![{}]({link})\n", md(title));
        }
        Block::Details { summary, code } => {
            let _ = writeln!(o, "<details><summary>{}</summary>\n", html(summary));
            for c in code {
                let _ = writeln!(o, "```yaml\n{}\n```\n", c.trim_end());
            }
            let _ = writeln!(o, "</details>\n");
        }
    }
}

/// Text as HTML that shows it.
pub(crate) fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html_text(t: &Text) -> String {
    t.0.iter()
        .map(|s| match s {
            Span::Plain(p) => html(p),
            Span::Strong(p) => format!("<strong>{}</strong>", html(p)),
            Span::Code(p) => format!("<code>{}</code>", html(p)),
        })
        .collect()
}

fn html_table(o: &mut String, t: &Table) {
    let align = |a: Align| match a {
        Align::Left => "",
        Align::Right => " class=\"r\"",
        Align::Center => " class=\"c\"",
    };
    let _ = write!(o, "<div class=\"scroll\"><table><thead><tr>");
    for (name, a) in &t.columns {
        let _ = write!(o, "<th{}>{}</th>", align(*a), html(name));
    }
    let _ = writeln!(o, "</tr></thead><tbody>");
    for row in &t.rows {
        let _ = write!(o, "<tr>");
        for (cell, (_, a)) in row.iter().zip(&t.columns) {
            let _ = write!(o, "<td{}>{}</td>", align(*a), html_text(cell));
        }
        let _ = writeln!(o, "</tr>");
    }
    let _ = writeln!(o, "</tbody></table></div>");
}

const CSS: &str = "body{font:15px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1f2328}\
h1{font-size:1.5em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.8em}\
.verdict{color:#fff;padding:.8em 1em;border-radius:6px;font-size:1.1em}.verdict b{font-size:1.2em;margin-right:.4em}\
dl.run{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;font-size:.92em}dl.run dt{color:#59636e}dl.run dd{margin:0}\
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.6em 0 1em;font-size:.88em}th,td{border:1px solid #d0d7de;padding:.25em .6em}\
th{background:#f6f8fa}td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}td.c,th.c{text-align:center}\
code{background:#eff1f3;padding:.1em .3em;border-radius:4px;font-size:.9em}pre{background:#f6f8fa;padding:.8em;overflow-x:auto}\
img{max-width:100%;border:1px solid #d0d7de;margin:.4em 0}footer{color:#59636e;font-size:.85em;margin-top:2em}";

/// `report.html`: one file, charts inline as data URIs read from `dir`, no script, no link
/// outside itself.
pub fn html_page(r: &Report, dir: &Path) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}: {}</title><style>{CSS}</style></head><body>",
        r.headline.verdict.word(),
        html(&r.title)
    );
    let _ = writeln!(o, "<h1>Load test report: {}</h1>", html(&r.title));
    let (red, green, blue) = r.headline.verdict.rgb();
    let _ = writeln!(
        o,
        "<p class=\"verdict\" style=\"background:rgb({red},{green},{blue})\"><b>{}</b>{}</p>",
        r.headline.verdict.word(),
        html(
            r.headline
                .line()
                .trim_start_matches(r.headline.verdict.word())
                .trim_start_matches(": ")
        )
    );
    let _ = writeln!(o, "<dl class=\"run\">");
    for (k, v) in &r.header.fields {
        let v = if k == "command" {
            format!("<code>{}</code>", html(v))
        } else {
            html_text(&Text::marked(v))
        };
        let _ = writeln!(o, "<dt>{}</dt><dd>{v}</dd>", html(k));
    }
    let _ = writeln!(o, "</dl>");
    html_table(&mut o, &r.checks);
    if !r.findings.is_empty() {
        let _ = writeln!(o, "<ul>");
        for f in &r.findings {
            let _ = writeln!(o, "<li>{}</li>", html_text(f));
        }
        let _ = writeln!(o, "</ul>");
    }
    for s in &r.sections {
        let _ = writeln!(o, "<h2>{}</h2>", html(&s.title));
        for b in &s.blocks {
            html_block(&mut o, b, dir);
        }
    }
    let _ = writeln!(o, "<footer>{}</footer></body></html>", html(&r.method));
    o
}

fn html_block(o: &mut String, b: &Block, dir: &Path) {
    match b {
        Block::Paragraph(t) => {
            let _ = writeln!(o, "<p>{}</p>", html_text(t));
        }
        Block::Subheading(t) => {
            let _ = writeln!(o, "<h3>{}</h3>", html(t));
        }
        Block::Table(t) => html_table(o, t),
        Block::List { ordered, items } => {
            let tag = if *ordered { "ol" } else { "ul" };
            let _ = writeln!(o, "<{tag}>");
            for item in items {
                let _ = writeln!(o, "<li>{}</li>", html_text(item));
            }
            let _ = writeln!(o, "</{tag}>");
        }
        Block::Figure { file, title } => match std::fs::read(dir.join(file)) {
            Ok(png) => {
                let _ = writeln!(
                    o,
                    "<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\"></figure>",
                    html(title),
                    base64(&png)
                );
            }
            Err(_) => {
                let _ = writeln!(o, "<p>({}: not drawn)</p>", html(title));
            }
        },
        Block::Details { summary, code } => {
            let _ = writeln!(o, "<details><summary>{}</summary>", html(summary));
            for c in code {
                let _ = writeln!(o, "<pre><code>{}</code></pre>", html(c));
            }
            let _ = writeln!(o, "</details>");
        }
    }
}

/// Standard base64 with padding (RFC 4648), for data URIs.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A table as aligned terminal text, indented by two spaces.
pub fn text_table(t: &Table) -> String {
    let cells: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| r.iter().map(Text::to_plain).collect())
        .collect();
    let widths: Vec<usize> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([name.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: Vec<&str>| {
        let mut s = String::from(" ");
        for ((cell, (_, align)), w) in row.iter().zip(&t.columns).zip(&widths) {
            let pad = w - cell.chars().count();
            s.push(' ');
            match align {
                Align::Right => {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                }
                _ => {
                    s.push_str(cell);
                    s.push_str(&" ".repeat(pad));
                }
            }
            s.push(' ');
        }
        s.trim_end().to_string()
    };
    let mut out = line(t.columns.iter().map(|(n, _)| n.as_str()).collect());
    out.push('\n');
    for r in &cells {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// The terminal summary: the headline, the run header in short, the targets (unless the
/// caller printed them) and the findings.
pub fn terminal(r: &Report, with_checks: bool) -> String {
    let mut o = format!("{}\n", r.headline.line());
    for (k, v) in &r.header.fields {
        if matches!(k.as_str(), "target" | "load" | "duration") {
            let _ = writeln!(o, "  {k}: {v}");
        }
    }
    if with_checks {
        let _ = writeln!(o, "{}", r.checks_caption);
        o.push_str(&text_table(&r.checks));
        o.push('\n');
    }
    for f in &r.findings {
        let _ = writeln!(o, "  {}", f.to_plain());
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::clean;

    #[test]
    fn hostile_text_is_shown_never_run() {
        let server = "boom\n| x | <script>alert(1)</script> **bold** \u{1b}[31mred\u{7}";
        let shown = md(&clean(server));
        assert_eq!(
            shown,
            "boom \\| x \\| &lt;script&gt;alert(1)&lt;/script&gt; \\*\\*bold\\*\\* \\[31mred"
        );
        assert!(!shown.contains('\n') && !shown.contains('\u{1b}'));
        assert_eq!(md_code("a`b|c"), "`a'b\\|c`");
        assert_eq!(html("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }

    #[test]
    fn code_spans_render_as_code_not_as_escaped_backticks() {
        let t = Text::marked("scale `generate_image` first");
        assert_eq!(md_text(&t), "scale `generate_image` first");
        assert_eq!(html_text(&t), "scale <code>generate_image</code> first");
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn text_tables_align_numbers_right() {
        let mut t = Table::with(["endpoint", "requests>"]);
        t.plain_row(["generate_text", "7"]);
        t.plain_row(["health", "1200"]);
        assert_eq!(
            text_table(&t),
            "  endpoint       requests\n  generate_text         7\n  health             1200\n"
        );
    }
}
