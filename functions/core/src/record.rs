//! The training record (學習紀錄): one learner passed one class of one
//! course. What makes a record valid, where it came from, whether staff may
//! change it, and the key that makes every write idempotent.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::agency::AgencyCode;
use crate::hours::Hours;
use crate::national_id::NationalId;
use crate::problem::Problem;
use crate::roc_date::parse_date;

/// The record's fields, written once: the [`Field`] variant, the English
/// id (the [`RawRecord`] field, the JSON key, the stored attribute), the
/// Chinese header staff see in files, and whether it is text, a number or
/// a date. Everything that goes field by field
/// — [`Field::ALL`], the names, [`RawRecord`] and its accessors — comes
/// from this one table.
macro_rules! record_fields {
    ($($variant:ident $id:ident $header:literal $kind:ident,)*) => {
        /// One field of a record.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Field {
            $($variant,)*
        }

        impl Field {
            pub const ALL: [Field; [$(stringify!($id)),*].len()] = [$(Field::$variant),*];

            pub fn id(self) -> &'static str {
                match self {
                    $(Field::$variant => stringify!($id),)*
                }
            }

            pub fn header(self) -> &'static str {
                match self {
                    $(Field::$variant => $header,)*
                }
            }

            /// Whether the field is a number (stored as N).
            pub fn is_number(self) -> bool {
                match self {
                    $(Field::$variant => stringify!($kind) == "number",)*
                }
            }

            /// Whether the field is a date (ISO when stored, ROC for staff).
            pub fn is_date(self) -> bool {
                match self {
                    $(Field::$variant => stringify!($kind) == "date",)*
                }
            }
        }

        /// A record as text, straight from a CSV row or a portal page,
        /// before any check. Empty strings stand for absent values. Its
        /// `Debug` masks the ID, the name and the birth date.
        ///
        /// `RawRecord<&str>` borrows its text (a CSV row's cells are checked
        /// where they lie); `RawRecord` owns it.
        #[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct RawRecord<S = String> {
            $(pub $id: S,)*
        }

        impl<S> RawRecord<S> {
            /// A record whose every field is `text(field)`.
            pub fn from_fn(mut text: impl FnMut(Field) -> S) -> Self {
                RawRecord {
                    $($id: text(Field::$variant),)*
                }
            }
        }

        impl<S: AsRef<str>> RawRecord<S> {
            /// The text of one field.
            pub fn field(&self, field: Field) -> &str {
                match field {
                    $(Field::$variant => self.$id.as_ref(),)*
                }
            }
        }

        impl<S> RawRecord<S> {
            pub fn field_mut(&mut self, field: Field) -> &mut S {
                match field {
                    $(Field::$variant => &mut self.$id,)*
                }
            }
        }
    };
}

record_fields! {
    IdNo id_no "身分證字號" text,
    Name name "姓名" text,
    BirthDate birth_date "出生日期" date,
    OrgCode org_code "服務機關代碼" text,
    OrgName org_name "服務機關名稱" text,
    CourseCode course_code "課程代碼" text,
    CourseName course_name "課程名稱" text,
    CategoryCode category_code "課程類別代碼" text,
    Provider provider "學習機構" text,
    Term term "期別" number,
    StartDate start_date "開課起始日期" date,
    EndDate end_date "開課結束日期" date,
    Mode mode "學習性質" number,
    DigitalHours digital_hours "數位時數" number,
    PhysicalHours physical_hours "實體時數" number,
    TotalHours total_hours "認證時數" number,
    Status status "學習資料狀態" text,
    PassedDate passed_date "通過日期" date,
    ChangedDate changed_date "異動日期" date,
}

impl<S: AsRef<str>> RawRecord<S> {
    /// A hash of every field's text: the same content, the same hash (to
    /// tell a record refused before from one changed since).
    pub fn content_hash(&self) -> u64 {
        crate::hash::fnv1a(&Field::ALL.map(|f| self.field(f)))
    }
}

impl Field {
    /// The field whose English id or Chinese header is `name`.
    pub fn from_name(name: &str) -> Option<Field> {
        let name = name.trim();
        Field::ALL
            .into_iter()
            .find(|f| f.id().eq_ignore_ascii_case(name) || f.header() == name)
    }
}

/// 學習性質: how the class was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LearningMode {
    Digital,
    InPerson,
    Blended,
}

impl LearningMode {
    pub fn parse(input: &str) -> Option<Self> {
        match input.trim() {
            "1" | "數位" | "digital" => Some(Self::Digital),
            "2" | "實體" | "in_person" => Some(Self::InPerson),
            "3" | "混成" | "blended" => Some(Self::Blended),
            _ => None,
        }
    }

    pub fn number(self) -> u8 {
        match self {
            Self::Digital => 1,
            Self::InPerson => 2,
            Self::Blended => 3,
        }
    }
}

/// 學習資料狀態. Only passed records are kept; any other status reported for
/// a record means it is no longer passed (withdrawn or sent back).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LearningStatus {
    Passed,
    NotPassed(String),
}

impl LearningStatus {
    pub fn parse(input: &str) -> Self {
        match input.trim() {
            "通過" | "passed" => Self::Passed,
            other => Self::NotPassed(other.to_string()),
        }
    }

    pub fn is_passed(&self) -> bool {
        matches!(self, Self::Passed)
    }
}

/// Where a stored record came from. Decides whether staff may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// 終身學習自動入檔: the nightly sync.
    AutoImport,
    /// 學員通過認證名單下載: an on-demand download.
    Download,
    /// 學員通過認證名單入檔: a CSV upload (change date up to the cutoff).
    CsvImport,
    /// Typed into WebHR by staff.
    StaffEntered,
}

impl Source {
    /// The lock rule (R6): what the portal delivered can only be replaced by
    /// a newer version from the portal, never edited or deleted by staff.
    pub fn is_locked(self) -> bool {
        matches!(self, Source::AutoImport | Source::Download)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Source::AutoImport => "auto_import",
            Source::Download => "download",
            Source::CsvImport => "csv_import",
            Source::StaffEntered => "staff_entered",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        [
            Source::AutoImport,
            Source::Download,
            Source::CsvImport,
            Source::StaffEntered,
        ]
        .into_iter()
        .find(|s| s.as_str() == input)
    }
}

/// Identifies a record from its own data, so a re-delivered file or a re-run
/// day can never create a duplicate: learner + course + class (term and
/// start date, since a course code can repeat across years).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NaturalKey {
    pub id_no: NationalId,
    pub course_code: String,
    pub term: u32,
    pub start_date: NaiveDate,
}

/// A validated, passed-or-not record as the portal or a file states it.
/// Its `Debug` masks the ID, the name and the birth date.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingRecord {
    pub id_no: NationalId,
    pub name: String,
    pub birth_date: Option<NaiveDate>,
    pub org_code: AgencyCode,
    pub org_name: String,
    pub course_code: String,
    pub course_name: String,
    pub category_code: String,
    pub provider: String,
    pub term: u32,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub mode: LearningMode,
    pub digital_hours: Hours,
    pub physical_hours: Hours,
    pub total_hours: Hours,
    pub status: LearningStatus,
    pub passed_date: Option<NaiveDate>,
    pub changed_date: NaiveDate,
}

impl TrainingRecord {
    /// A stable fingerprint of the record's content (FNV-1a over every
    /// field's canonical [`text`](Self::text)), stored with the record so
    /// an unchanged one is recognised without reading it whole.
    pub fn fingerprint(&self) -> String {
        let fields = Field::ALL.map(|field| self.text(field));
        format!("{:016x}", crate::hash::fnv1a(&fields))
    }

    /// A field as canonical text: ISO dates, numbers in decimal, the mode
    /// as its number, `passed` for a passed status, empty when absent. The
    /// store keeps these (and fingerprints them); validating them gives
    /// the record back.
    pub fn text(&self, field: Field) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow::Borrowed;
        match field {
            Field::IdNo => Borrowed(self.id_no.as_str()),
            Field::Name => Borrowed(&self.name),
            Field::OrgCode => Borrowed(self.org_code.as_str()),
            Field::OrgName => Borrowed(&self.org_name),
            Field::CourseCode => Borrowed(&self.course_code),
            Field::CourseName => Borrowed(&self.course_name),
            Field::CategoryCode => Borrowed(&self.category_code),
            Field::Provider => Borrowed(&self.provider),
            Field::Term => self.term.to_string().into(),
            Field::Mode => self.mode.number().to_string().into(),
            Field::DigitalHours => self.digital_hours.to_string().into(),
            Field::PhysicalHours => self.physical_hours.to_string().into(),
            Field::TotalHours => self.total_hours.to_string().into(),
            Field::Status => match &self.status {
                LearningStatus::Passed => Borrowed("passed"),
                LearningStatus::NotPassed(other) => Borrowed(other),
            },
            Field::BirthDate
            | Field::StartDate
            | Field::EndDate
            | Field::PassedDate
            | Field::ChangedDate => self
                .date(field)
                .map(|d| d.to_string())
                .unwrap_or_default()
                .into(),
        }
    }

    /// A date field's value; `None` when absent, or for a field that is
    /// not a date.
    pub fn date(&self, field: Field) -> Option<NaiveDate> {
        match field {
            Field::BirthDate => self.birth_date,
            Field::StartDate => Some(self.start_date),
            Field::EndDate => Some(self.end_date),
            Field::PassedDate => self.passed_date,
            Field::ChangedDate => Some(self.changed_date),
            _ => None,
        }
    }

    pub fn key(&self) -> NaturalKey {
        NaturalKey {
            id_no: self.id_no.clone(),
            course_code: self.course_code.clone(),
            term: self.term,
            start_date: self.start_date,
        }
    }
}

const MAX_TEXT_CHARS: usize = 200;

/// Collects every problem of a row instead of stopping at the first, so
/// staff can fix a file in one pass.
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn fail(&mut self, field: Field, code: &'static str, message: impl Into<String>) {
        let message = format!("{}：{}", field.header(), message.into());
        self.problems
            .push(Problem::new(code, message).in_field(field.id()));
    }

    fn text(&mut self, field: Field, value: &str, required: bool) -> String {
        let value = value.trim();
        if value.is_empty() {
            if required {
                self.fail(field, "required", "必填欄位為空白");
            }
        } else if value.chars().count() > MAX_TEXT_CHARS {
            self.fail(field, "text_too_long", format!("超過 {MAX_TEXT_CHARS} 字"));
        } else if value.chars().any(char::is_control) {
            self.fail(field, "text_control_char", "含有控制字元");
        }
        value.to_string()
    }

    /// Course codes go into keys, where `#` separates parts.
    fn code(&mut self, field: Field, value: &str) -> String {
        let value = self.text(field, value, true);
        if value.contains('#') || value.chars().any(char::is_whitespace) {
            self.fail(field, "code_format", "不可含空白或 # 符號");
        }
        value
    }

    fn date(&mut self, field: Field, value: &str, required: bool) -> Option<NaiveDate> {
        if value.trim().is_empty() && !required {
            return None;
        }
        parse_date(value)
            .map_err(|e| {
                // A birth date is personal data: the message does not
                // repeat its day, month and year.
                let message = match (field, &e) {
                    (Field::BirthDate, crate::roc_date::DateError::NoSuchDay { .. }) => {
                        "日期不存在".to_string()
                    }
                    _ => e.to_string(),
                };
                self.fail(field, e.code(), message)
            })
            .ok()
    }

    fn hours(&mut self, field: Field, value: &str) -> Option<Hours> {
        Hours::parse(value)
            .map_err(|e| self.fail(field, e.code(), e.to_string()))
            .ok()
    }
}

impl<S: AsRef<str>> RawRecord<S> {
    /// Checks every field and the rules between them. On failure returns all
    /// problems found; messages never quote the ID or the name.
    pub fn validate(&self) -> Result<TrainingRecord, Vec<Problem>> {
        let mut c = Checker {
            problems: Vec::new(),
        };

        let id_no = NationalId::parse(self.id_no.as_ref())
            .map_err(|e| c.fail(Field::IdNo, e.code(), e.to_string()))
            .ok();
        let name = c.text(Field::Name, self.name.as_ref(), true);
        let birth_date = c.date(Field::BirthDate, self.birth_date.as_ref(), false);
        let org_code = AgencyCode::parse(self.org_code.as_ref())
            .map_err(|e| c.fail(Field::OrgCode, e.code(), e.to_string()))
            .ok();
        let org_name = c.text(Field::OrgName, self.org_name.as_ref(), true);
        let course_code = c.code(Field::CourseCode, self.course_code.as_ref());
        let course_name = c.text(Field::CourseName, self.course_name.as_ref(), true);
        let category_code = c.text(Field::CategoryCode, self.category_code.as_ref(), false);
        let provider = c.text(Field::Provider, self.provider.as_ref(), false);
        let term = match self.term.as_ref().trim().parse::<u32>() {
            Ok(term) if term <= 9999 => Some(term),
            _ => {
                c.fail(Field::Term, "term_format", "期別須為 0 到 9999 的整數");
                None
            }
        };
        let start_date = c.date(Field::StartDate, self.start_date.as_ref(), true);
        let end_date = c.date(Field::EndDate, self.end_date.as_ref(), true);
        if let (Some(start), Some(end)) = (start_date, end_date)
            && end < start
        {
            c.fail(
                Field::EndDate,
                "end_before_start",
                "開課結束日期早於開課起始日期",
            );
        }
        let mode = LearningMode::parse(self.mode.as_ref());
        if mode.is_none() {
            c.fail(
                Field::Mode,
                "mode_format",
                "學習性質須為 1（數位）、2（實體）或 3（混成）",
            );
        }
        let digital = c.hours(Field::DigitalHours, self.digital_hours.as_ref());
        let physical = c.hours(Field::PhysicalHours, self.physical_hours.as_ref());
        let total = c.hours(Field::TotalHours, self.total_hours.as_ref());
        if let (Some(d), Some(p), Some(t)) = (digital, physical, total)
            && d.checked_add(p) != Some(t)
        {
            c.fail(
                Field::TotalHours,
                "hours_total_mismatch",
                format!("認證時數 {t} 不等於數位時數 {d} 加實體時數 {p}"),
            );
        }
        let status = LearningStatus::parse(self.status.as_ref());
        if self.status.as_ref().trim().is_empty() {
            c.fail(Field::Status, "required", "必填欄位為空白");
        }
        let passed_date = c.date(
            Field::PassedDate,
            self.passed_date.as_ref(),
            status.is_passed(),
        );
        let changed_date = c.date(Field::ChangedDate, self.changed_date.as_ref(), true);
        // The change date is the day the status became what it is: a
        // record cannot have passed after it.
        if let (Some(passed), Some(changed)) = (passed_date, changed_date)
            && passed > changed
        {
            c.fail(
                Field::PassedDate,
                "passed_after_change",
                "通過日期晚於異動日期；異動日期是狀態改為通過的日期，請確認兩個日期",
            );
        }

        match (
            id_no,
            org_code,
            term,
            start_date,
            end_date,
            mode,
            digital,
            physical,
            total,
            changed_date,
        ) {
            (
                Some(id_no),
                Some(org_code),
                Some(term),
                Some(start_date),
                Some(end_date),
                Some(mode),
                Some(digital_hours),
                Some(physical_hours),
                Some(total_hours),
                Some(changed_date),
            ) if c.problems.is_empty() => Ok(TrainingRecord {
                id_no,
                name,
                birth_date,
                org_code,
                org_name,
                course_code,
                course_name,
                category_code,
                provider,
                term,
                start_date,
                end_date,
                mode,
                digital_hours,
                physical_hours,
                total_hours,
                status,
                passed_date,
                changed_date,
            }),
            _ => Err(c.problems),
        }
    }
}

/// A birth date with only its year left, e.g. `075****`, `1986-**-**`,
/// `75/*/**`: enough to tell a typing slip, not enough to identify.
pub fn mask_birth_date(raw: &str) -> String {
    let raw = raw.trim();
    let year_digits = match raw.find(['/', '-', '.']) {
        Some(at) => at,
        // Compact: 8 digits are Gregorian (4 for the year), else ROC.
        None if raw.len() == 8 => 4,
        None => raw.len().saturating_sub(4),
    };
    raw.char_indices()
        .map(|(at, c)| {
            if at >= year_digits && c.is_ascii_digit() {
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// A field's text as `Debug` shows it: the ID, the name and the birth date
/// masked (DOMAIN.md), so a `{:?}` in a log line or a panic message never
/// carries them.
fn shown(field: Field, text: &str) -> std::borrow::Cow<'_, str> {
    match field {
        Field::IdNo => crate::national_id::mask_raw_id(text).into(),
        Field::Name => mask_name(text).into(),
        Field::BirthDate => mask_birth_date(text).into(),
        _ => text.into(),
    }
}

impl std::fmt::Debug for TrainingRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("TrainingRecord");
        for field in Field::ALL {
            out.field(field.id(), &shown(field, &self.text(field)));
        }
        out.finish()
    }
}

impl<S: AsRef<str>> std::fmt::Debug for RawRecord<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("RawRecord");
        for field in Field::ALL {
            out.field(field.id(), &shown(field, self.field(field)));
        }
        out.finish()
    }
}

/// Masks a name the common way: 林怡君 → 林○君, 王明 → 王○, 歐陽娜娜 → 歐○○娜.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "○".to_string(),
        2 => format!("{}○", chars[0]),
        n => format!("{}{}{}", chars[0], "○".repeat(n - 2), chars[n - 1]),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn debug_masks_the_id_the_name_and_the_birth_date() {
        let raw = sample();
        let record = raw.validate().unwrap();
        for text in [
            format!("{raw:?}"),
            format!("{record:?}"),
            format!("{raw:#?}"),
        ] {
            for personal in [
                "F228035170",
                "林怡君",
                "0750412",
                "1986-04-12",
                "04-12",
                "0412",
            ] {
                assert!(!text.contains(personal), "{personal} in {text}");
            }
            for kept in [
                "F22803****",
                "林○君",
                "EC11400123",
                "性別主流化基礎課程",
                "changed_date",
            ] {
                assert!(text.contains(kept), "{kept} missing from {text}");
            }
        }
        assert!(format!("{record:?}").contains("1986-**-**"));
        assert!(format!("{raw:?}").contains("075****"));
    }

    #[test]
    fn a_birth_date_keeps_only_its_year() {
        for (raw, masked) in [
            ("0750412", "075****"),
            ("750412", "75****"),
            ("19860412", "1986****"),
            ("1986-04-12", "1986-**-**"),
            ("75/4/12", "75/*/**"),
            ("", ""),
        ] {
            assert_eq!(mask_birth_date(raw), masked, "{raw}");
        }
    }

    #[test]
    fn a_bad_birth_date_is_refused_without_repeating_it() {
        let mut raw = sample();
        raw.birth_date = "0750231".into();
        let problems = raw.validate().unwrap_err();
        let text = format!("{problems:?}");
        assert!(text.contains("date_not_exist"), "{text}");
        assert!(!text.contains("75") && !text.contains("31"), "{text}");
    }

    #[test]
    fn a_record_cannot_pass_after_its_change_date() {
        let refused = RawRecord {
            passed_date: "1050301".into(),
            changed_date: "1041201".into(),
            ..sample()
        };
        let problems = refused.validate().unwrap_err();
        assert_eq!(
            problems
                .iter()
                .map(|p| (p.code, p.field.unwrap()))
                .collect::<Vec<_>>(),
            [("passed_after_change", "passed_date")]
        );
        // Passed on the day of the change: the usual case.
        let same_day = RawRecord {
            passed_date: "1140919".into(),
            ..sample()
        };
        assert!(same_day.validate().is_ok());
    }

    pub fn sample() -> RawRecord {
        RawRecord {
            id_no: "F228035170".into(),
            name: "林怡君".into(),
            birth_date: "0750412".into(),
            org_code: "376550000A".into(),
            org_name: "範例市政府人事處".into(),
            course_code: "EC11400123".into(),
            course_name: "性別主流化基礎課程".into(),
            category_code: "3A".into(),
            provider: "e等公務園+".into(),
            term: "1".into(),
            start_date: "1140901".into(),
            end_date: "1140930".into(),
            mode: "1".into(),
            digital_hours: "2.0".into(),
            physical_hours: "0.0".into(),
            total_hours: "2.0".into(),
            status: "通過".into(),
            passed_date: "1140918".into(),
            changed_date: "1140919".into(),
        }
    }

    /// Stored records carry this fingerprint: the same record must give
    /// the same one in every build, or every record would count as
    /// changed. The value is FNV-1a over the canonical texts in field
    /// order, each followed by 0x1F, computed outside the code.
    #[test]
    fn the_fingerprint_of_a_record_is_stable() {
        let record = RawRecord {
            id_no: "A123456789".into(),
            name: "測試員".into(),
            course_code: "C1".into(),
            ..sample()
        };
        assert_eq!(record.validate().unwrap().fingerprint(), "b919a82cabe4c7f5");
    }

    #[test]
    fn a_sample_record_validates() {
        let record = sample().validate().unwrap();
        assert_eq!(
            record.start_date,
            NaiveDate::from_ymd_opt(2025, 9, 1).unwrap()
        );
        assert_eq!(record.total_hours, Hours::from_tenths(20));
        assert!(record.status.is_passed());
        assert_eq!(record.key().term, 1);
    }

    #[test]
    fn every_problem_is_reported_without_personal_data() {
        let raw = RawRecord {
            id_no: "F228035171".into(),
            total_hours: "2.5".into(),
            end_date: "1140801".into(),
            mode: "7".into(),
            name: String::new(),
            ..sample()
        };
        let problems = raw.validate().unwrap_err();
        let codes: Vec<_> = problems.iter().map(|p| p.code).collect();
        assert_eq!(
            codes,
            [
                "national_id_checksum",
                "required",
                "end_before_start",
                "mode_format",
                "hours_total_mismatch"
            ]
        );
        let fields: Vec<_> = problems.iter().map(|p| p.field.unwrap()).collect();
        assert_eq!(fields, ["id_no", "name", "end_date", "mode", "total_hours"]);
        for p in &problems {
            assert!(!p.message.contains("F228035171"));
            assert!(!p.message.contains("林怡君"));
        }
    }

    #[test]
    fn passed_date_is_required_only_when_passed() {
        let withdrawn = RawRecord {
            status: "撤銷".into(),
            passed_date: String::new(),
            ..sample()
        };
        assert!(!withdrawn.validate().unwrap().status.is_passed());
        let passed = RawRecord {
            passed_date: String::new(),
            ..sample()
        };
        assert_eq!(passed.validate().unwrap_err()[0].field, Some("passed_date"));
    }

    #[test]
    fn course_codes_cannot_break_keys() {
        let raw = RawRecord {
            course_code: "EC#1".into(),
            ..sample()
        };
        assert_eq!(raw.validate().unwrap_err()[0].code, "code_format");
    }

    #[test]
    fn only_portal_records_are_locked() {
        assert!(Source::AutoImport.is_locked());
        assert!(Source::Download.is_locked());
        assert!(!Source::CsvImport.is_locked());
        assert!(!Source::StaffEntered.is_locked());
        for s in [
            Source::AutoImport,
            Source::Download,
            Source::CsvImport,
            Source::StaffEntered,
        ] {
            assert_eq!(Source::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn masks_names() {
        assert_eq!(mask_name("林怡君"), "林○君");
        assert_eq!(mask_name("王明"), "王○");
        assert_eq!(mask_name("歐陽娜娜"), "歐○○娜");
    }
}
