//! From the header and each row's bytes to an accepted record or a
//! rejection that says, in Traditional Chinese, what to fix: the reader
//! here ([`CsvRows`], opened at the top or resumed where a continuation
//! left off); the header in [`columns`], a row's check in [`check`], the
//! rows' places in the bytes in [`lines`].

use std::io::Read;

use chrono::NaiveDate;
use csv::ByteRecord;
use learning_core::AgencyCode;

use crate::decode::{Encoding, FileCode, FileProblem, OpenError, sniff};

mod check;
mod columns;
mod lines;

pub use check::{Rejection, RowChecker, RowOutcome, key_hash};
pub use columns::Columns;
use lines::{Cut, LineTracker};

/// Bytes read before deciding the encoding: at least the first, and on
/// through pure ASCII up to the second.
const SNIFF_MIN: usize = 8 * 1024;
const SNIFF_MAX: usize = 1024 * 1024;

/// A row longer than this is refused without being parsed further.
pub const MAX_ROW_BYTES: usize = 64 * 1024;

type Input<R> = LineTracker<std::io::Chain<std::io::Cursor<Vec<u8>>, R>>;

/// Where a row starts: its line as staff see it, and its byte in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: u64,
    pub offset: u64,
}

/// The rows of a file, checked one at a time as they are read, in constant
/// memory whatever the file's size.
pub struct CsvRows<R: Read> {
    reader: csv::Reader<Input<R>>,
    checker: RowChecker,
    row: ByteRecord,
    start: Position,
    pub encoding: Encoding,
    pub columns: Columns,
}

/// Where an earlier invocation stopped reading a file, and what it knew:
/// enough to read on from `at` without the rows before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The first row not yet read.
    pub at: Position,
    pub encoding: Encoding,
    pub columns: Columns,
}

/// Reads on from `resume.at`; `input` starts at that byte. `seen` are the
/// keys accepted before it, so duplicates are still caught file-wide.
pub fn resume<R: Read>(
    input: R,
    resume: Resume,
    seen: impl IntoIterator<Item = u64>,
    cutoff: NaiveDate,
    agency: AgencyCode,
) -> CsvRows<R> {
    let tracker = LineTracker::new(
        std::io::Cursor::new(Vec::new()).chain(input),
        resume.at.offset,
        resume.at.line,
    );
    let mut checker = RowChecker::new(resume.columns.clone(), resume.encoding, cutoff, agency);
    checker.remember(seen);
    CsvRows {
        reader: reader(tracker),
        checker,
        row: ByteRecord::new(),
        start: resume.at,
        encoding: resume.encoding,
        columns: resume.columns,
    }
}

fn reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input)
}

/// Opens a file: sniffs the encoding from its first bytes, reads the
/// header. A file that cannot be a valid upload is refused here, as a
/// whole; a read that fails is told apart from it.
pub fn open<R: Read>(
    mut input: R,
    cutoff: NaiveDate,
    agency: AgencyCode,
) -> Result<CsvRows<R>, OpenError> {
    // Read at least 8 KiB, and on while it is all ASCII (up to 1 MiB): a
    // file with English headers can hold its first Big5 name far down.
    let mut head = Vec::with_capacity(SNIFF_MIN);
    let mut chunk = [0u8; SNIFF_MIN];
    while head.len() < SNIFF_MIN || (head.is_ascii() && head.len() < SNIFF_MAX) {
        match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(OpenError::Read(e)),
        }
    }
    let encoding = sniff(&head)?;
    let body = std::io::Cursor::new(head[encoding.preamble()..].to_vec());
    let mut reader = reader(LineTracker::new(
        body.chain(input),
        encoding.preamble() as u64,
        1,
    ));
    let mut header = ByteRecord::new();
    match reader.read_byte_record(&mut header) {
        Ok(true) => {}
        Ok(false) => return Err(FileProblem::new(FileCode::Empty, "檔案是空的").into()),
        Err(e) => return Err(OpenError::Read(e.into())),
    }
    let columns = Columns::from_header(&header, encoding)?;
    Ok(CsvRows {
        reader,
        checker: RowChecker::new(columns.clone(), encoding, cutoff, agency),
        row: ByteRecord::new(),
        start: Position::default(),
        encoding,
        columns,
    })
}

impl<R: Read> CsvRows<R> {
    /// Bytes of the file read so far (a little ahead of the rows yielded:
    /// the reader buffers).
    pub fn bytes_read(&self) -> u64 {
        self.reader.get_ref().consumed
    }

    /// The line the last row yielded starts on.
    pub fn line(&self) -> u64 {
        self.start.line
    }

    /// Where the last row yielded starts.
    pub fn start(&self) -> Position {
        self.start
    }
}

/// A row cut at the limit. With a quote left open it swallowed the lines
/// after it up to the cut: the message names them, so none goes unsaid.
fn too_long(cut: Cut) -> Rejection {
    let lines = if cut.last_line > cut.first_line {
        format!(
            "第 {} 至 {} 列未匯入（常見原因：引號未成對）",
            cut.first_line, cut.last_line
        )
    } else {
        "此列未匯入".to_string()
    };
    Rejection {
        line: cut.first_line,
        column: None,
        value: String::new(),
        code: "row_too_long",
        message: format!(
            "此列超過 {} KiB，不是一筆學習紀錄；{lines}",
            MAX_ROW_BYTES / 1024
        ),
    }
}

impl From<Rejection> for learning_core::import_log::RejectedRow {
    fn from(r: Rejection) -> Self {
        learning_core::import_log::RejectedRow {
            line: r.line,
            column: r.column.map(str::to_string),
            value: r.value,
            code: r.code.to_string(),
            message: r.message,
        }
    }
}

impl<R: Read> Iterator for CsvRows<R> {
    /// A row's outcome, or the read that failed under it.
    type Item = Result<RowOutcome, std::io::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.reader.read_byte_record(&mut self.row) {
                Ok(false) => return None,
                Err(e) => return Some(Err(e.into())),
                Ok(true)
                    if self
                        .row
                        .iter()
                        .all(|cell| cell.iter().all(u8::is_ascii_whitespace)) =>
                {
                    continue;
                }
                Ok(true) => {
                    let byte = self.row.position().map_or(0, |p| p.byte());
                    let tracker = self.reader.get_mut();
                    self.start = tracker.line_of(byte);
                    let line = self.start.line;
                    if let Some(cut) = tracker.cut_at(line) {
                        return Some(Ok(RowOutcome::Rejected(too_long(cut))));
                    }
                    return Some(Ok(self.checker.check(line, &self.row)));
                }
            }
        }
    }
}
