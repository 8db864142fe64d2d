//! Where each row starts and ends in the bytes read: the line and byte
//! offset a continuation reads on from, and a row too long cut short
//! before the CSV reader buffers it.

use std::io::Read;

use super::{MAX_ROW_BYTES, Position};

/// Where the bytes are in CSV terms, as the csv reader sees them: a quote
/// opens a quoted field only at a field's start, `""` inside one is a
/// quote, and line ends inside one belong to the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// At the start of a row or of a field.
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: its end, or half of `""`.
    QuoteInQuoted,
}

/// A row cut at [`MAX_ROW_BYTES`]: the lines it spans, from its first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cut {
    pub(super) first_line: u64,
    pub(super) last_line: u64,
}

/// The bytes that move [`LineTracker`]'s state other than by one more
/// byte of a field.
const SPECIAL: [bool; 256] = {
    let mut special = [false; 256];
    special[b'"' as usize] = true;
    special[b',' as usize] = true;
    special[b'\r' as usize] = true;
    special[b'\n' as usize] = true;
    special
};

/// Counts lines as the bytes go by, remembering where each line with
/// content starts: the csv crate's own line numbers drift after CRLF line
/// ends and blank lines, and staff need the line their spreadsheet shows.
///
/// It also holds the row limit before the csv reader buffers anything: a
/// row that reaches [`MAX_ROW_BYTES`] (a 10 MB line, or an unclosed quote
/// that would make the rest of the file one field) is cut there — its
/// quote closed, the rest of its line dropped — and noted, so the row is
/// refused and the file read on from the next line.
pub(super) struct LineTracker<R> {
    inner: R,
    /// Bytes taken from `inner` (the file's own offset).
    pub(super) consumed: u64,
    /// Bytes handed to the csv reader (its offsets).
    offset: u64,
    line: u64,
    at_line_start: bool,
    /// The last byte read was a CR (a CRLF may span two reads).
    after_cr: bool,
    /// Content line starts not yet reported: (csv offset, line, file offset).
    starts: std::collections::VecDeque<(u64, u64, u64)>,
    quoting: Quoting,
    /// Bytes of the current row so far, and the line it started on.
    row_bytes: usize,
    row_line: u64,
    /// Dropping the rest of a cut row's line.
    cutting: Option<u64>,
    cuts: std::collections::VecDeque<Cut>,
}

impl<R> LineTracker<R> {
    /// Reading `inner`, which starts at byte `at` of the file, on `line`.
    pub(super) fn new(inner: R, at: u64, line: u64) -> Self {
        LineTracker {
            inner,
            consumed: at,
            offset: 0,
            line,
            at_line_start: true,
            after_cr: false,
            starts: std::collections::VecDeque::new(),
            quoting: Quoting::FieldStart,
            row_bytes: 0,
            row_line: 1,
            cutting: None,
            cuts: std::collections::VecDeque::new(),
        }
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let kept = self.track(&mut buf[..n]);
            self.consumed += n as u64;
            // A read that was all dropped bytes is not the end of the file.
            if kept > 0 {
                return Ok(kept);
            }
        }
    }
}

impl<R> LineTracker<R> {
    /// Follows lines and quotes through `buf`, compacting it in place to
    /// the bytes the csv reader gets; returns how many. Only bytes already
    /// looked at are written, so the buffer is never overrun.
    fn track(&mut self, buf: &mut [u8]) -> usize {
        let mut kept = 0;
        let mut i = 0;
        while i < buf.len() {
            // Most bytes are none of `"`, `,`, CR and LF: a run of them in a
            // row's middle moves the state once, not byte by byte.
            if self.cutting.is_none() && !self.at_line_start {
                let run = buf[i..]
                    .iter()
                    .position(|&b| SPECIAL[usize::from(b)])
                    .unwrap_or(buf.len() - i);
                if run > 0 && self.row_bytes + run <= MAX_ROW_BYTES {
                    if self.row_bytes == 0 {
                        self.row_line = self.line;
                    }
                    self.row_bytes += run;
                    self.after_cr = false;
                    if self.quoting != Quoting::Quoted {
                        self.quoting = Quoting::Unquoted;
                    }
                    buf.copy_within(i..i + run, kept);
                    kept += run;
                    i += run;
                    continue;
                }
            }
            let (at, b) = (i, buf[i]);
            i += 1;
            let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
            let line_end = matches!(b, b'\r' | b'\n');
            if line_end && !(b == b'\n' && after_cr) {
                self.line += 1;
                self.at_line_start = true;
            }
            if let Some(first_line) = self.cutting {
                if !line_end {
                    continue;
                }
                // The cut row ends at this line end, which the reader gets.
                self.cutting = None;
                self.cuts.push_back(Cut {
                    first_line,
                    last_line: self.line - 1,
                });
                self.quoting = Quoting::FieldStart;
                self.row_bytes = 0;
            } else {
                if !line_end && self.at_line_start {
                    self.starts.push_back((
                        self.offset + kept as u64,
                        self.line,
                        self.consumed + at as u64,
                    ));
                    self.at_line_start = false;
                }
                let before = self.quoting;
                if !self.follow(b) {
                    // Too long: drop this byte and the rest of the line; an
                    // open quote is closed so the reader ends the field there.
                    self.cutting = Some(self.row_line);
                    if before == Quoting::Quoted {
                        buf[kept] = b'"';
                        kept += 1;
                    }
                    continue;
                }
            }
            buf[kept] = b;
            kept += 1;
        }
        self.offset += kept as u64;
        kept
    }

    /// Moves the quote state over one byte; false when the row has grown
    /// past the limit with this byte.
    fn follow(&mut self, b: u8) -> bool {
        let line_end = matches!(b, b'\r' | b'\n');
        if line_end && self.quoting != Quoting::Quoted {
            self.quoting = Quoting::FieldStart;
            self.row_bytes = 0;
            return true;
        }
        if self.row_bytes == 0 {
            self.row_line = self.line;
        }
        self.row_bytes += 1;
        self.quoting = match (self.quoting, b) {
            (Quoting::FieldStart, b'"') => Quoting::Quoted,
            (Quoting::Quoted, b'"') => Quoting::QuoteInQuoted,
            (Quoting::Quoted, _) => Quoting::Quoted,
            (Quoting::QuoteInQuoted, b'"') => Quoting::Quoted,
            (_, b',') => Quoting::FieldStart,
            (_, _) => Quoting::Unquoted,
        };
        self.row_bytes <= MAX_ROW_BYTES
    }

    /// The line of the record the csv reader places at `byte` (which may
    /// point at the line ends before it); forgets earlier lines.
    pub(super) fn line_of(&mut self, byte: u64) -> Position {
        while self.starts.front().is_some_and(|&(at, _, _)| at < byte) {
            self.starts.pop_front();
        }
        self.starts.front().map_or(
            Position {
                line: self.line,
                offset: self.consumed,
            },
            |&(_, line, offset)| Position { line, offset },
        )
    }

    /// The cut that the row starting on `line` ended in, if it was cut.
    pub(super) fn cut_at(&mut self, line: u64) -> Option<Cut> {
        while self.cuts.front().is_some_and(|cut| cut.first_line < line) {
            self.cuts.pop_front();
        }
        self.cuts
            .front()
            .filter(|cut| cut.first_line == line)
            .copied()
    }
}
