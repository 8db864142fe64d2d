//! The header: which column holds which field, under the names the
//! portal's export and agencies' own files give them.

use csv::ByteRecord;
use learning_core::record::Field;

use crate::decode::{Encoding, FileCode, FileProblem};

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
    pub(super) slots: Vec<(Field, usize)>,
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
