//! From the header and each row's bytes to an accepted record or a
//! rejection that says, in Traditional Chinese, what to fix.

use std::collections::HashSet;
use std::io::Read;

use chrono::NaiveDate;
use csv::ByteRecord;
use learning_core::hash::Fnv1a;
use learning_core::national_id::mask_raw_id;
use learning_core::record::{Field, RawRecord, mask_birth_date, mask_name};
use learning_core::roc_date::shown as roc;
use learning_core::{AgencyCode, TrainingRecord};

use crate::decode::{Encoding, FileCode, FileProblem, OpenError, sniff};

/// Bytes read before deciding the encoding: at least the first, and on
/// through pure ASCII up to the second.
const SNIFF_MIN: usize = 8 * 1024;
const SNIFF_MAX: usize = 1024 * 1024;

/// A row longer than this is refused without being parsed further.
pub const MAX_ROW_BYTES: usize = 64 * 1024;

/// Columns a file may leave out.
const OPTIONAL: [Field; 3] = [Field::BirthDate, Field::CategoryCode, Field::Provider];

/// Headers seen in real files besides the ones of DOMAIN.md.
fn alias(header: &str) -> Option<Field> {
    match header {
        "實体時數" => Some(Field::PhysicalHours),
        "訓練總數" | "總時數" => Some(Field::TotalHours),
        "生日" => Some(Field::BirthDate),
        _ => None,
    }
}

/// Where each field is in the file's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    slots: Vec<(Field, usize)>,
}

impl Columns {
    /// Reads the header row: Chinese headers or English ids, any order,
    /// extra columns ignored.
    pub fn from_header(header: &ByteRecord, encoding: Encoding) -> Result<Columns, FileProblem> {
        let mut slots: Vec<(Field, usize)> = Vec::new();
        for (index, cell) in header.iter().enumerate() {
            let Some(name) = encoding.decode(cell) else {
                return Err(FileProblem::new(
                    FileCode::Undecodable,
                    "標題列無法辨識，檔案須為 UTF-8 或 Big5 編碼的 CSV",
                ));
            };
            let name = name.trim().trim_start_matches('\u{feff}');
            let Some(field) = Field::from_name(name).or_else(|| alias(name)) else {
                continue;
            };
            if slots.iter().any(|(f, _)| *f == field) {
                return Err(FileProblem::new(
                    FileCode::HeaderDuplicate,
                    format!("標題列中「{}」欄位出現兩次", field.header()),
                ));
            }
            slots.push((field, index));
        }
        let missing: Vec<&str> = Field::ALL
            .into_iter()
            .filter(|f| !OPTIONAL.contains(f) && !slots.iter().any(|(s, _)| s == f))
            .map(Field::header)
            .collect();
        if missing.len() == Field::ALL.len() - OPTIONAL.len() {
            return Err(FileProblem::new(
                FileCode::HeaderMissing,
                "第 1 列不是標題列：請保留範本的欄位名稱（如 身分證字號、姓名、課程代碼…）",
            ));
        }
        if !missing.is_empty() {
            return Err(FileProblem::new(
                FileCode::MissingColumns,
                format!("缺少必要欄位：{}", missing.join("、")),
            ));
        }
        Ok(Columns { slots })
    }
}

impl Columns {
    /// The layout in a line, `id_no=0,name=1,…`: a continuation carries it
    /// so the next invocation reads on without the header.
    pub fn to_line(&self) -> String {
        self.slots
            .iter()
            .map(|(field, index)| format!("{}={index}", field.id()))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn from_line(line: &str) -> Option<Columns> {
        let slots = line
            .split(',')
            .map(|slot| {
                let (id, index) = slot.split_once('=')?;
                Some((Field::from_name(id)?, index.parse().ok()?))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Columns { slots })
    }
}

/// A record's key as the duplicate check remembers it: the hash
/// (`learning_core::hash`) of ID, course, term and start date, stable
/// across builds, so a continuation can hand the keys seen so far to the
/// next invocation.
pub fn key_hash(record: &TrainingRecord) -> u64 {
    Fnv1a::default()
        .part(record.id_no.as_str().as_bytes())
        .part(record.course_code.as_bytes())
        .part(&record.term.to_le_bytes())
        .part(&chrono::Datelike::num_days_from_ce(&record.start_date).to_le_bytes())
        .finish()
}

/// The seen set's keys are hashes already ([`key_hash`]): hashing them
/// again would only cost time.
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

/// One refused row: where, what (masked), why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Line in the file, from 1 (the header is line 1).
    pub line: u64,
    /// The column's Chinese header, when one column is at fault.
    pub column: Option<&'static str>,
    /// The cell as written, with IDs and names masked.
    pub value: String,
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    Accepted(Box<TrainingRecord>),
    Rejected(Rejection),
}

/// Checks rows one by one, remembering the keys already seen in the file
/// (as 64-bit hashes, so a million rows take a few MiB).
pub struct RowChecker {
    columns: Columns,
    encoding: Encoding,
    cutoff: NaiveDate,
    agency: AgencyCode,
    seen: HashSet<u64, std::hash::BuildHasherDefault<KeyHasher>>,
    raw: RawRecord,
}

fn shown(field: Field, raw: &str) -> String {
    match field {
        Field::IdNo => mask_raw_id(raw),
        Field::Name => mask_name(raw),
        Field::BirthDate => mask_birth_date(raw),
        _ => raw.chars().take(100).collect(),
    }
}

fn rejected(
    line: u64,
    column: Option<Field>,
    value: String,
    code: &'static str,
    message: String,
) -> RowOutcome {
    RowOutcome::Rejected(Rejection {
        line,
        column: column.map(Field::header),
        value,
        code,
        message,
    })
}

impl RowChecker {
    pub fn new(
        columns: Columns,
        encoding: Encoding,
        cutoff: NaiveDate,
        agency: AgencyCode,
    ) -> Self {
        RowChecker {
            columns,
            encoding,
            cutoff,
            agency,
            seen: HashSet::default(),
            raw: RawRecord::default(),
        }
    }

    /// Keys of rows accepted before this checker started (by an earlier
    /// invocation): a later row with one of them is a duplicate.
    pub fn remember(&mut self, keys: impl IntoIterator<Item = u64>) {
        self.seen.extend(keys);
    }

    pub fn check(&mut self, line: u64, row: &ByteRecord) -> RowOutcome {
        if row.as_slice().len() > MAX_ROW_BYTES {
            return rejected(
                line,
                None,
                String::new(),
                "row_too_long",
                format!("此列超過 {} KiB，不是一筆學習紀錄", MAX_ROW_BYTES / 1024),
            );
        }
        // UTF-8: the row's text is checked once and its cells are
        // validated where they lie, borrowed. A cell cut mid-character
        // (possible only where the row's bytes are not text cell by cell)
        // sends the row the way of Big5, which finds the cell at fault.
        if self.encoding != Encoding::Big5
            && let Ok(text) = std::str::from_utf8(row.as_slice())
        {
            let mut cells = [""; Field::ALL.len()];
            let mut whole = true;
            for &(field, index) in &self.columns.slots {
                match row.range(index).and_then(|range| text.get(range)) {
                    Some(cell) => cells[field as usize] = cell,
                    None if index >= row.len() => {}
                    None => whole = false,
                }
            }
            if whole {
                return self.judge(line, &RawRecord::from_fn(|field| cells[field as usize]));
            }
        }
        // Cell by cell into one RawRecord reused for every row: its
        // strings keep their memory.
        let mut raw = std::mem::take(&mut self.raw);
        let outcome = self.decode_cells(line, row, &mut raw);
        let outcome = outcome.unwrap_or_else(|| self.judge(line, &raw));
        self.raw = raw;
        outcome
    }

    /// Decodes the row's cells into `raw`; the rejection when one does not
    /// decode.
    fn decode_cells(&self, line: u64, row: &ByteRecord, raw: &mut RawRecord) -> Option<RowOutcome> {
        for &(field, index) in &self.columns.slots {
            let bytes = row.get(index).unwrap_or_default();
            if !self.encoding.decode_into(bytes, raw.field_mut(field)) {
                return Some(rejected(
                    line,
                    Some(field),
                    "（無法辨識的字元）".to_string(),
                    "undecodable",
                    format!(
                        "{}含有無法對應的字元（可能是造字或編碼錯誤），請改用標準字或以 UTF-8 儲存",
                        field.header()
                    ),
                ));
            }
        }
        None
    }

    /// The rules for a decoded row.
    fn judge<S: AsRef<str>>(&mut self, line: u64, raw: &RawRecord<S>) -> RowOutcome {
        let reject = |field: Option<Field>, value: String, code: &'static str, message: String| {
            rejected(line, field, value, code, message)
        };
        let record = match raw.validate() {
            Ok(record) => record,
            Err(problems) => {
                let field = problems[0].field.and_then(Field::from_name);
                let value = field.map(|f| shown(f, raw.field(f))).unwrap_or_default();
                let message = problems
                    .iter()
                    .map(|p| p.message.as_str())
                    .collect::<Vec<_>>()
                    .join("；");
                return reject(field, value, problems[0].code, message);
            }
        };
        if !record.status.is_passed() {
            return reject(
                Some(Field::Status),
                raw.status.as_ref().to_string(),
                "status_not_passed",
                "學習資料狀態須為「通過」，只有通過的紀錄可以入檔".to_string(),
            );
        }
        if record.changed_date > self.cutoff {
            return reject(
                Some(Field::ChangedDate),
                raw.changed_date.as_ref().to_string(),
                learning_core::import_log::AFTER_CUTOFF,
                format!(
                    "異動日期 {} 晚於 {}：此後的紀錄由終身學習自動入檔每日匯入，不必以 CSV 上傳",
                    roc(record.changed_date),
                    roc(self.cutoff)
                ),
            );
        }
        if record.org_code != self.agency {
            return reject(
                Some(Field::OrgCode),
                raw.org_code.as_ref().to_string(),
                "other_agency",
                format!(
                    "服務機關代碼不是上傳機關 {}，只能匯入本機關人員的紀錄",
                    self.agency
                ),
            );
        }
        if !self.seen.insert(key_hash(&record)) {
            return reject(
                None,
                String::new(),
                "duplicate_in_file",
                "與檔案中前面的一列重複（身分證字號、課程代碼、期別與開課起始日期相同）"
                    .to_string(),
            );
        }
        RowOutcome::Accepted(Box::new(record))
    }
}

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
struct Cut {
    first_line: u64,
    last_line: u64,
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
struct LineTracker<R> {
    inner: R,
    /// Bytes taken from `inner` (the file's own offset).
    consumed: u64,
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
    fn new(inner: R, at: u64, line: u64) -> Self {
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
    fn line_of(&mut self, byte: u64) -> Position {
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
    fn cut_at(&mut self, line: u64) -> Option<Cut> {
        while self.cuts.front().is_some_and(|cut| cut.first_line < line) {
            self.cuts.pop_front();
        }
        self.cuts
            .front()
            .filter(|cut| cut.first_line == line)
            .copied()
    }
}

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
