//! From the header and each row's bytes to an accepted record or a
//! rejection that says, in Traditional Chinese, what to fix.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::Read;

use chrono::NaiveDate;
use csv::ByteRecord;
use learning_core::national_id::mask_raw_id;
use learning_core::record::{Field, RawRecord, mask_name};
use learning_core::roc_date::format_roc;
use learning_core::{AgencyCode, TrainingRecord};

use crate::decode::{Encoding, FileProblem, sniff};

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
                    "file_undecodable",
                    "標題列無法辨識，檔案須為 UTF-8 或 Big5 編碼的 CSV",
                ));
            };
            let name = name.trim().trim_start_matches('\u{feff}');
            let Some(field) = Field::from_name(name).or_else(|| alias(name)) else {
                continue;
            };
            if slots.iter().any(|(f, _)| *f == field) {
                return Err(FileProblem::new(
                    "header_duplicate",
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
                "header_missing",
                "第 1 列不是標題列：請保留範本的欄位名稱（如 身分證字號、姓名、課程代碼…）",
            ));
        }
        if !missing.is_empty() {
            return Err(FileProblem::new(
                "missing_columns",
                format!("缺少必要欄位：{}", missing.join("、")),
            ));
        }
        Ok(Columns { slots })
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
    seen: HashSet<u64>,
    raw: RawRecord,
}

fn shown(field: Field, raw: &str) -> String {
    match field {
        Field::IdNo => mask_raw_id(raw),
        Field::Name => mask_name(raw),
        _ => raw.chars().take(100).collect(),
    }
}

fn roc(date: NaiveDate) -> String {
    format_roc(date).unwrap_or_else(|_| date.to_string())
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
            seen: HashSet::new(),
            raw: RawRecord::default(),
        }
    }

    pub fn check(&mut self, line: u64, row: &ByteRecord) -> RowOutcome {
        let reject = |field: Option<Field>, value: String, code: &'static str, message: String| {
            RowOutcome::Rejected(Rejection {
                line,
                column: field.map(Field::header),
                value,
                code,
                message,
            })
        };
        if row.as_slice().len() > MAX_ROW_BYTES {
            return reject(
                None,
                String::new(),
                "row_too_long",
                format!("此列超過 {} KiB，不是一筆學習紀錄", MAX_ROW_BYTES / 1024),
            );
        }
        // One RawRecord reused for every row: its strings keep their memory.
        let raw = &mut self.raw;
        for &(field, index) in &self.columns.slots {
            let bytes = row.get(index).unwrap_or_default();
            if !self.encoding.decode_into(bytes, raw.field_mut(field)) {
                return reject(
                    Some(field),
                    "（無法辨識的字元）".to_string(),
                    "undecodable",
                    format!(
                        "{}含有無法對應的字元（可能是造字或編碼錯誤），請改用標準字或以 UTF-8 儲存",
                        field.header()
                    ),
                );
            }
        }
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
                raw.status.clone(),
                "status_not_passed",
                "學習資料狀態須為「通過」，只有通過的紀錄可以入檔".to_string(),
            );
        }
        if record.changed_date > self.cutoff {
            return reject(
                Some(Field::ChangedDate),
                raw.changed_date.clone(),
                "after_cutoff",
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
                raw.org_code.clone(),
                "other_agency",
                format!(
                    "服務機關代碼不是上傳機關 {}，只能匯入本機關人員的紀錄",
                    self.agency
                ),
            );
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (
            record.id_no.as_str(),
            &record.course_code,
            record.term,
            record.start_date,
        )
            .hash(&mut hasher);
        if !self.seen.insert(hasher.finish()) {
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

/// Counts lines as the bytes go by, remembering where each line with
/// content starts: the csv crate's own line numbers drift after CRLF line
/// ends and blank lines, and staff need the line their spreadsheet shows.
struct LineTracker<R> {
    inner: R,
    offset: u64,
    line: u64,
    at_line_start: bool,
    /// The last byte read was a CR (a CRLF may span two reads).
    after_cr: bool,
    /// (byte offset, line number) of content line starts not yet reported.
    starts: std::collections::VecDeque<(u64, u64)>,
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
            match b {
                // CRLF is one line end; a CR or an LF alone is one too, as
                // the csv reader (and a spreadsheet) splits rows there.
                b'\n' if after_cr => {}
                b'\r' | b'\n' => {
                    self.line += 1;
                    self.at_line_start = true;
                }
                _ if self.at_line_start => {
                    self.starts.push_back((self.offset + i as u64, self.line));
                    self.at_line_start = false;
                }
                _ => {}
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> LineTracker<R> {
    /// The line of the record the csv reader places at `byte` (which may
    /// point at the line ends before it); forgets earlier lines.
    fn line_of(&mut self, byte: u64) -> u64 {
        while self.starts.front().is_some_and(|&(at, _)| at < byte) {
            self.starts.pop_front();
        }
        self.starts.front().map_or(self.line, |&(_, line)| line)
    }
}

type Input<R> = LineTracker<std::io::Chain<std::io::Cursor<Vec<u8>>, R>>;

/// The rows of a file, checked one at a time as they are read, in constant
/// memory whatever the file's size.
pub struct CsvRows<R: Read> {
    reader: csv::Reader<Input<R>>,
    checker: RowChecker,
    row: ByteRecord,
    line: u64,
    pub encoding: Encoding,
}

/// Opens a file: sniffs the encoding from its first bytes, reads the
/// header. A file that cannot be a valid upload fails here, as a whole.
pub fn open<R: Read>(
    mut input: R,
    cutoff: NaiveDate,
    agency: AgencyCode,
) -> Result<CsvRows<R>, FileProblem> {
    // Read at least 8 KiB, and on while it is all ASCII (up to 1 MiB): a
    // file with English headers can hold its first Big5 name far down.
    let mut head = Vec::with_capacity(SNIFF_MIN);
    let mut chunk = [0u8; SNIFF_MIN];
    while head.len() < SNIFF_MIN || (head.is_ascii() && head.len() < SNIFF_MAX) {
        match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) => {
                return Err(FileProblem::new(
                    "file_unreadable",
                    format!("無法讀取檔案：{e}"),
                ));
            }
        }
    }
    let encoding = sniff(&head)?;
    let body = std::io::Cursor::new(head[encoding.preamble()..].to_vec());
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(LineTracker {
            inner: body.chain(input),
            offset: 0,
            line: 1,
            at_line_start: true,
            after_cr: false,
            starts: std::collections::VecDeque::new(),
        });
    let mut header = ByteRecord::new();
    match reader.read_byte_record(&mut header) {
        Ok(true) => {}
        Ok(false) => return Err(FileProblem::new("file_empty", "檔案是空的")),
        Err(e) => {
            return Err(FileProblem::new(
                "file_unreadable",
                format!("無法讀取標題列：{e}"),
            ));
        }
    }
    let columns = Columns::from_header(&header, encoding)?;
    Ok(CsvRows {
        reader,
        checker: RowChecker::new(columns, encoding, cutoff, agency),
        row: ByteRecord::new(),
        line: 1,
        encoding,
    })
}

impl<R: Read> CsvRows<R> {
    /// Bytes of the file read so far (a little ahead of the rows yielded:
    /// the reader buffers).
    pub fn bytes_read(&self) -> u64 {
        self.reader.get_ref().offset
    }

    /// The line the last row yielded starts on.
    pub fn line(&self) -> u64 {
        self.line
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
    type Item = Result<RowOutcome, FileProblem>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.reader.read_byte_record(&mut self.row) {
                Ok(false) => return None,
                Err(e) => {
                    return Some(Err(FileProblem::new(
                        "file_unreadable",
                        format!("檔案讀取中斷：{e}"),
                    )));
                }
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
                    self.line = self.reader.get_mut().line_of(byte);
                    return Some(Ok(self.checker.check(self.line, &self.row)));
                }
            }
        }
    }
}
