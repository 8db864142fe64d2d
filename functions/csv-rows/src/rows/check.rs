//! One row checked: an accepted record, or a rejection that says, in
//! Traditional Chinese, which column is wrong and what to fix.

use std::collections::HashSet;

use chrono::NaiveDate;
use csv::ByteRecord;
use learning_core::hash::Fnv1a;
use learning_core::national_id::mask_raw_id;
use learning_core::record::{Field, RawRecord, mask_birth_date, mask_name};
use learning_core::roc_date::shown as roc;
use learning_core::{AgencyCode, TrainingRecord};

use super::{Columns, MAX_ROW_BYTES};
use crate::decode::Encoding;

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
