//! The report as data: a headline, a run header, sections of paragraphs, tables, lists and
//! figures. Built once from the analysis ([`super::document`]); the renderers
//! ([`super::render`]) write it as Markdown, self-contained HTML and terminal text, so a table
//! is formatted in one place and every form says the same.

/// Inline text: plain words, strong words and code. Plain text is escaped by each renderer,
/// so text from a target (an error message, a model name) is shown, never interpreted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Text(pub Vec<Span>);

/// A run of inline text.
#[derive(Debug, Clone, PartialEq)]
pub enum Span {
    /// Words as they are.
    Plain(String),
    /// Words to stand out (Markdown `**`).
    Strong(String),
    /// A name, a flag or a value to copy (Markdown code span).
    Code(String),
}

impl Text {
    /// Empty text, to build on.
    pub fn new() -> Text {
        Text(Vec::new())
    }

    /// Adds plain words.
    pub fn plain(mut self, s: impl Into<String>) -> Text {
        self.0.push(Span::Plain(s.into()));
        self
    }

    /// Adds strong words.
    pub fn strong(mut self, s: impl Into<String>) -> Text {
        self.0.push(Span::Strong(s.into()));
        self
    }

    /// Adds a code span.
    pub fn code(mut self, s: impl Into<String>) -> Text {
        self.0.push(Span::Code(s.into()));
        self
    }

    /// Text the analysis wrote with `backticks` around names: those become code spans, the
    /// rest plain. (Its sentences mark flags and metric names that way.)
    pub fn marked(s: &str) -> Text {
        let parts: Vec<&str> = s.split('`').collect();
        let mut text = Text::new();
        for (i, part) in parts.iter().enumerate() {
            // Odd parts are inside backticks, unless the last one opened and never closed.
            text = match (i % 2 == 1, i + 1 < parts.len()) {
                (true, true) => text.code(*part),
                (true, false) => text.plain(format!("`{part}")),
                _ if part.is_empty() => text,
                _ => text.plain(*part),
            };
        }
        text
    }

    /// The words without any markup: for a terminal or an image.
    pub fn to_plain(&self) -> String {
        self.0
            .iter()
            .map(|s| match s {
                Span::Plain(t) | Span::Strong(t) | Span::Code(t) => t.as_str(),
            })
            .collect()
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(vec![Span::Plain(s)])
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(vec![Span::Plain(s.to_string())])
    }
}

/// How a column's cells line up: names left, numbers right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text columns.
    Left,
    /// Number columns.
    Right,
    /// Marks (✓, ✗).
    Center,
}

/// A table: every row has one cell per column (the builder pads or cuts, so no renderer
/// ever meets a short row).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column headers with their alignment.
    pub columns: Vec<(String, Align)>,
    /// The rows.
    pub rows: Vec<Vec<Text>>,
}

impl Table {
    /// A table with these columns: a header ending in `>` is right-aligned (numbers), in `^`
    /// centred, else left: `Table::with(["endpoint", "requests>"])`.
    pub fn with<S: AsRef<str>>(columns: impl IntoIterator<Item = S>) -> Table {
        Table {
            columns: columns
                .into_iter()
                .map(|c| {
                    let c = c.as_ref();
                    if let Some(name) = c.strip_suffix('>') {
                        (name.to_string(), Align::Right)
                    } else if let Some(name) = c.strip_suffix('^') {
                        (name.to_string(), Align::Center)
                    } else {
                        (c.to_string(), Align::Left)
                    }
                })
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row, padded with empty cells or cut to the columns.
    pub fn row(&mut self, cells: Vec<Text>) {
        let mut cells = cells;
        cells.resize(self.columns.len(), Text::new());
        self.rows.push(cells);
    }

    /// Adds a row of plain cells.
    pub fn plain_row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.row(cells.into_iter().map(|s| Text::from(s.into())).collect());
    }
}

/// One block of a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A paragraph.
    Paragraph(Text),
    /// A heading inside a section.
    Subheading(String),
    /// A table.
    Table(Table),
    /// A list, numbered or not.
    List {
        /// Numbered (a ranking) or not.
        ordered: bool,
        /// The items.
        items: Vec<Text>,
    },
    /// A chart of the report folder: its file name and what it shows.
    Figure {
        /// The PNG's file name in the report folder.
        file: String,
        /// What it shows.
        title: String,
    },
    /// Folded text to copy: a summary line and code blocks (YAML snippets).
    Details {
        /// The line shown folded.
        summary: String,
        /// The code blocks inside.
        code: Vec<String>,
    },
}

/// A section: a heading and its blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The heading.
    pub title: String,
    /// What it holds.
    pub blocks: Vec<Block>,
}

impl Section {
    /// An empty section.
    pub fn new(title: impl Into<String>) -> Section {
        Section {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// Adds a paragraph.
    pub fn para(&mut self, text: impl Into<Text>) {
        self.blocks.push(Block::Paragraph(text.into()));
    }

    /// Adds a table, unless it has no rows.
    pub fn table(&mut self, table: Table) {
        if !table.rows.is_empty() {
            self.blocks.push(Block::Table(table));
        }
    }

    /// Adds a list, unless it is empty.
    pub fn list(&mut self, ordered: bool, items: Vec<Text>) {
        if !items.is_empty() {
            self.blocks.push(Block::List { ordered, items });
        }
    }

    /// Adds a chart when it was drawn.
    pub fn figure(&mut self, charts: &[crate::charts::ChartFile], file: &str) {
        if let Some(c) = charts.iter().find(|c| c.file == file) {
            self.blocks.push(Block::Figure {
                file: c.file.clone(),
                title: c.title.clone(),
            });
        }
    }
}

/// The verdict, one word and one colour in every form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every judged target met.
    Pass,
    /// A target missed.
    Fail,
    /// No target missed, a regression against the baseline found.
    Regressed,
}

impl Verdict {
    /// `PASS`, `FAIL`, `REGRESSED`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Regressed => "REGRESSED",
        }
    }

    /// The colour of the verdict (RGB): green, red, amber.
    pub fn rgb(self) -> (u8, u8, u8) {
        match self {
            Verdict::Pass => (26, 127, 55),
            Verdict::Fail => (207, 34, 46),
            Verdict::Regressed => (191, 135, 0),
        }
    }
}

/// The first thing a reader sees: the verdict, the cause, the capacity and the trigger,
/// then what passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    /// The verdict.
    pub verdict: Verdict,
    /// What failed and why (or, on a pass, what was shown), one sentence.
    pub cause: String,
    /// The cause with the missed targets named, not measured: for the card, whose table
    /// holds their figures.
    pub brief_cause: String,
    /// The capacity with its limiting endpoint, or why there is none.
    pub capacity: String,
    /// The one scale-out trigger, with its unit, when there is one.
    pub trigger: Option<String>,
    /// What passed.
    pub passed: String,
}

impl Headline {
    /// The headline in one line, for a terminal and the top of every form.
    pub fn line(&self) -> String {
        let mut parts = vec![format!("{}: {}", self.verdict.word(), self.cause)];
        parts.push(self.capacity.clone());
        parts.extend(self.trigger.clone());
        parts.push(self.passed.clone());
        let mut line = parts
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| p.trim_end_matches('.').to_string())
            .collect::<Vec<_>>()
            .join(". ");
        line.push('.');
        line
    }
}

/// What was run, against what, when: the lines every form opens with.
#[derive(Debug, Clone, PartialEq)]
pub struct RunHeader {
    /// (label, value) pairs in the order shown: command, target, load, duration, start, end,
    /// seed, tool, load machine.
    pub fields: Vec<(String, String)>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The title (the run ids).
    pub title: String,
    /// The headline.
    pub headline: Headline,
    /// The run header.
    pub header: RunHeader,
    /// What the judged targets are, in a line.
    pub checks_caption: String,
    /// The judged targets, one row each.
    pub checks: Table,
    /// The few lines a terminal shows after the targets: warnings, bottlenecks, top error.
    pub findings: Vec<Text>,
    /// The sections, in order.
    pub sections: Vec<Section>,
    /// `summary.png`, the card for the review, once drawn.
    pub card: Option<String>,
    /// The closing line: the method and the tool.
    pub method: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_text_keeps_code_spans_and_plain_text_apart() {
        assert_eq!(
            Text::marked("scale `generate_image` first"),
            Text::new()
                .plain("scale ")
                .code("generate_image")
                .plain(" first")
        );
        // An unclosed backtick is plain text.
        assert_eq!(Text::marked("a `b").to_plain(), "a `b");
        assert_eq!(Text::marked("a `b").0.len(), 2);
        assert!(matches!(Text::marked("a `b").0[1], Span::Plain(_)));
    }

    #[test]
    fn every_row_has_a_cell_per_column() {
        let mut t = Table::with(["endpoint", "requests>", "ok^"]);
        t.plain_row(["a"]);
        t.plain_row(["a", "1", "x", "extra"]);
        assert!(t.rows.iter().all(|r| r.len() == 3));
        assert_eq!(t.columns[1], ("requests".to_string(), Align::Right));
        assert_eq!(t.columns[2].1, Align::Center);
    }
}
