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

mod mask;
mod validate;

pub use mask::{mask_birth_date, mask_name};

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
