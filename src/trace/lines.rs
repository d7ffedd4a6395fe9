//! The text formats' common reading: a file line by line through one reused buffer, with
//! line numbers, blank lines skipped, and read errors naming the file and line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::TraceError;

/// The longest line read (a recorded request body is at most 64 MiB).
pub const MAX_LINE_BYTES: usize = 64 << 20;

pub struct NumberedLines {
    reader: BufReader<File>,
    name: String,
    number: u64,
    buf: String,
    failed: bool,
}

impl NumberedLines {
    pub fn open(path: &Path) -> Result<NumberedLines, TraceError> {
        let file =
            File::open(path).map_err(|e| TraceError::file(path, format!("cannot open: {e}")))?;
        Ok(NumberedLines {
            reader: BufReader::with_capacity(256 * 1024, file),
            name: path.display().to_string(),
            number: 0,
            buf: String::new(),
            failed: false,
        })
    }

    /// The next non-blank line, trimmed, with its 1-based number; `None` at the end.
    pub fn next_line(&mut self) -> Option<Result<(u64, &str), TraceError>> {
        if self.failed {
            return None;
        }
        loop {
            self.buf.clear();
            self.number += 1;
            match (&mut self.reader)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_line(&mut self.buf)
            {
                Ok(0) => return None,
                Ok(n) if n > MAX_LINE_BYTES => {
                    // Never held whole: the rest of the line is skipped unread.
                    if let Err(e) = self.reader.skip_until(b'\n') {
                        self.failed = true;
                        return Some(Err(TraceError::File {
                            file: self.name.clone(),
                            reason: format!("reading line {}: {e}", self.number),
                        }));
                    }
                    return Some(Err(self.bad(
                        self.number,
                        format!(
                            "over the ceiling of {} MiB for a line",
                            MAX_LINE_BYTES >> 20
                        ),
                    )));
                }
                Ok(_) if self.buf.trim().is_empty() => continue,
                Ok(_) => return Some(Ok((self.number, self.buf.trim()))),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(TraceError::File {
                        file: self.name.clone(),
                        reason: format!("reading line {}: {e}", self.number),
                    }));
                }
            }
        }
    }

    /// A reason about line `line` as a [`TraceError::Line`].
    pub fn bad(&self, line: u64, reason: String) -> TraceError {
        TraceError::Line {
            file: self.name.clone(),
            unit: "line",
            line,
            reason,
        }
    }
}
