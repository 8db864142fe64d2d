//! The portal's wire format (`docs/portal-api.yaml`): a page of records
//! and an error body as JSON, each record read on its own so one that is
//! not of the API's shape is refused alone.

use learning_core::PortalId;
use learning_core::record::RawRecord;
use serde::Deserialize;

use crate::PortalRecord;

/// What was wrong with a page, without the value that was: serde's own
/// message quotes it (`invalid type: string "A123456789"`), and this text
/// reaches the import log every agency's staff read. The field's path says
/// where.
pub(crate) fn malformed(error: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match error.classify() {
        Category::Data => "型別或值不符合入口網 API 規格",
        Category::Syntax => "不是正確的 JSON",
        Category::Eof => "內容不完整（連線中斷或被截斷）",
        Category::Io => "讀取失敗",
    }
}

/// One record as the portal sends it. No `Debug`: it holds a person's ID,
/// name and birth date unmasked; its checked form, `RawRecord`, masks them.
#[derive(Deserialize)]
struct WireRecord {
    record_id: String,
    id_no: String,
    name: String,
    #[serde(default)]
    birth_date: Option<String>,
    org_code: String,
    org_name: String,
    course_code: String,
    course_name: String,
    #[serde(default)]
    category_code: String,
    #[serde(default)]
    provider: String,
    term: u32,
    start_date: String,
    end_date: String,
    mode: u8,
    digital_hours: String,
    physical_hours: String,
    total_hours: String,
    status: String,
    #[serde(default)]
    passed_date: Option<String>,
    changed_date: String,
}

impl From<WireRecord> for RawRecord {
    fn from(w: WireRecord) -> Self {
        RawRecord {
            id_no: w.id_no,
            name: w.name,
            birth_date: w.birth_date.unwrap_or_default(),
            org_code: w.org_code,
            org_name: w.org_name,
            course_code: w.course_code,
            course_name: w.course_name,
            category_code: w.category_code,
            provider: w.provider,
            term: w.term.to_string(),
            start_date: w.start_date,
            end_date: w.end_date,
            mode: w.mode.to_string(),
            digital_hours: w.digital_hours,
            physical_hours: w.physical_hours,
            total_hours: w.total_hours,
            status: w.status,
            passed_date: w.passed_date.unwrap_or_default(),
            changed_date: w.changed_date,
        }
    }
}

/// A page: its records read one by one (a record of the wrong shape is
/// refused on its own, the rest of the page read on).
#[derive(Deserialize)]
pub(crate) struct WirePage {
    pub(crate) records: Vec<serde_json::Value>,
    pub(crate) next_cursor: Option<String>,
}

/// A record of the API's shape: the portal's identity of it, and its
/// fields as text, still to be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub id: PortalId,
    pub raw: RawRecord,
}

/// A record that is not of the API's shape — a field of the wrong JSON
/// type (`"term": "1"`), a required field null or missing, not an object:
/// refused on its own, counted and listed like any invalid value, while
/// the rest of its page is read. Its `Debug` masks the ID.
#[derive(Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The ID as sent, when it was text (for the masked listing).
    pub id_no: String,
    /// The agency code as sent, when it was text.
    pub org_code: String,
    /// `invalid_type`, naming the field, never its value.
    pub problem: learning_core::Problem,
    /// A hash of the record as sent: the same record refused again is
    /// told from one the portal has changed since.
    pub content_hash: u64,
}

impl std::fmt::Debug for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unreadable")
            .field(
                "id_no",
                &learning_core::national_id::mask_raw_id(&self.id_no),
            )
            .field("org_code", &self.org_code)
            .field("problem", &self.problem)
            .finish()
    }
}

/// One record of a page: strictly of the API's shape, or refused.
pub(crate) fn read_record(value: serde_json::Value) -> PortalRecord {
    let unreadable = |field: &str| {
        let text = |name: &str| {
            value
                .get(name)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let named = learning_core::record::Field::from_name(field);
        let problem = learning_core::Problem::new(
            "invalid_type",
            format!(
                "入口網送來的欄位「{}」缺漏或型別不符合 API 規格（如數字送成文字），此筆紀錄未入檔；請入口網更正",
                named.map_or(field, |f| f.header()),
            ),
        );
        Box::new(Unreadable {
            id_no: text("id_no"),
            org_code: text("org_code"),
            content_hash: learning_core::hash::fnv1a(&[value.to_string()]),
            problem: match named {
                Some(f) => problem.in_field(f.id()),
                None => problem,
            },
        })
    };
    let wire = serde_path_to_error::deserialize::<_, WireRecord>(&value)
        .map_err(|e| unreadable(&e.path().to_string()))?;
    let id = PortalId::parse(&wire.record_id).ok_or_else(|| unreadable("record_id"))?;
    Ok(Fetched {
        id,
        raw: RawRecord::from(wire),
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireError {
    pub(crate) error: WireErrorBody,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireErrorBody {
    pub(crate) code: String,
    pub(crate) message: String,
}
