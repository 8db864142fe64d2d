//! The import log (自動入檔紀錄): one entry per synced day (and, later, per
//! CSV upload and per download), so staff can check what arrived.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::AgencyCode;
use crate::hash::fnv1a;
use crate::problem::Problem;

mod csv;

pub use csv::{
    AFTER_CUTOFF, CsvCounts, CsvImportEntry, CsvImportView, FileView, RejectedRow, UploadedFile,
};

/// What started the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The nightly EventBridge schedule.
    Schedule,
    /// An operator's re-run or a local run.
    Manual,
    /// A CSV file uploaded to the bucket.
    Upload,
    /// Staff downloading a window of records (學員通過認證名單下載).
    Download,
    /// An administrator removing a locked record the portal can no longer
    /// reach.
    Removal,
    /// An administrator settling a dispute over a key (see
    /// `crate::ownership`).
    Settlement,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Upload => "upload",
            Trigger::Download => "download",
            Trigger::Removal => "removal",
            Trigger::Settlement => "settlement",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        [
            Trigger::Schedule,
            Trigger::Manual,
            Trigger::Upload,
            Trigger::Download,
            Trigger::Removal,
            Trigger::Settlement,
        ]
        .into_iter()
        .find(|t| t.as_str() == input)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Under way; counts so far.
    Running,
    /// Every record accounted for and written.
    Succeeded,
    /// Written, but some records were refused (see `failures`); the day is
    /// fetched again by the next run.
    Partial,
    /// Nothing new was written (the portal or the store failed); fetched
    /// again by the next run.
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }

    /// Whether the work is over (nothing will change the entry again).
    pub fn is_final(self) -> bool {
        self != RunStatus::Running
    }

    pub fn parse(input: &str) -> Option<Self> {
        [Self::Running, Self::Succeeded, Self::Partial, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == input)
    }
}

/// What happened to the records of one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCounts {
    /// Records the portal reported as changed that day.
    pub fetched: u64,
    /// Passed records new to WebHR.
    pub inserted: u64,
    /// Passed records that replaced an older version from the portal.
    pub updated: u64,
    /// Passed records that replaced a record staff typed in by hand (the
    /// portal's is the official one).
    #[serde(default)]
    pub replaced_staff: u64,
    /// Passed records already stored exactly so.
    pub unchanged: u64,
    /// Locked records removed because the portal no longer reports them
    /// as passed.
    pub withdrawn: u64,
    /// Records that needed no write: reported as not passed but not held
    /// by WebHR, or repeating a key already seen that day.
    pub skipped: u64,
    /// Records refused for invalid data (listed in `failures`).
    pub failed: u64,
}

impl SyncCounts {
    /// Every fetched record is accounted for exactly once.
    pub fn accounted(&self) -> u64 {
        self.inserted
            + self.updated
            + self.replaced_staff
            + self.unchanged
            + self.withdrawn
            + self.skipped
            + self.failed
    }
}

impl std::ops::AddAssign for SyncCounts {
    fn add_assign(&mut self, other: SyncCounts) {
        self.fetched += other.fetched;
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.replaced_staff += other.replaced_staff;
        self.unchanged += other.unchanged;
        self.withdrawn += other.withdrawn;
        self.skipped += other.skipped;
        self.failed += other.failed;
    }
}

/// One refused record: where it was, whose (masked), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFailure {
    /// Position in the day's feed, from 1.
    pub position: u64,
    /// The national ID as masked by DOMAIN.md rules.
    pub masked_id: String,
    /// The record's agency code, when it has a valid one: its staff see
    /// the failure, other agencies' do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    pub code: String,
    pub field: Option<String>,
    pub message: String,
}

impl RecordFailure {
    pub fn new(position: u64, masked_id: String, problem: &Problem) -> Self {
        RecordFailure {
            position,
            masked_id,
            agency: None,
            code: problem.code.to_string(),
            field: problem.field.map(str::to_string),
            message: problem.message.clone(),
        }
    }
}

/// Why a day (or a file) failed as a whole: a stable code and a message in
/// Traditional Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorSummary {
    pub code: String,
    pub message: String,
}

impl ErrorSummary {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorSummary {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// An entry keeps at most this many failures; `counts.failed` has the total.
pub const MAX_LISTED_FAILURES: usize = 100;

/// One import-log entry for one day of the automatic import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncLogEntry {
    /// `sync-<data date>-<run id>`: unique per run and day, stable if the
    /// same invocation is retried.
    pub log_id: String,
    pub run_id: String,
    pub trigger: Trigger,
    pub data_date: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub counts: SyncCounts,
    /// Passed records per agency code.
    pub agencies: BTreeMap<String, u64>,
    /// `counts`, per agency code (records without a valid one under `?`):
    /// staff see their agency's as the entry's counts, national totals
    /// are for administrators.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agency_counts: BTreeMap<String, SyncCounts>,
    /// Why the day failed, for staff and operators.
    pub error: Option<ErrorSummary>,
    pub failures: Vec<RecordFailure>,
    /// The administrator who asked for this re-run; `None` for the
    /// nightly schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// A day the watermark had already passed, read again by the nightly
    /// run's lookback (`SYNC_LOOKBACK_DAYS`): its counts are the late
    /// changes the portal recorded under that day since.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lookback: bool,
}

impl SyncLogEntry {
    /// The entry of `run_id`'s run of `data_date` (the run id itself is
    /// kept in the entry: Lambda's request id may hold an ID-shaped run,
    /// see [`event_log_id`]).
    pub fn log_id(data_date: NaiveDate, run_id: &str) -> String {
        format!("sync-{data_date}-{:020}", fnv1a(&[run_id]))
    }

    pub fn start(run_id: &str, trigger: Trigger, data_date: NaiveDate, now: DateTime<Utc>) -> Self {
        SyncLogEntry {
            log_id: Self::log_id(data_date, run_id),
            run_id: run_id.to_string(),
            trigger,
            data_date,
            started_at: now,
            finished_at: None,
            status: RunStatus::Running,
            counts: SyncCounts::default(),
            agencies: BTreeMap::new(),
            agency_counts: BTreeMap::new(),
            error: None,
            failures: Vec::new(),
            requested_by: None,
            lookback: false,
        }
    }
}

/// The log id of an event at `now` (a download, a removal, a settlement),
/// with the agency it concerns: `<kind>-[<agency>-]<yyyymmdd>-<hhmmssmmm>-<4 hex>`.
///
/// Log ids reach URLs, logs and error answers, so none may look like a
/// national ID (a letter, then nine digits) to the rules that mask them
/// (`national_id::redact`, the pages' own check): times and hashes are
/// written in digits set apart from any letter.
pub fn event_log_id(kind: &str, agency: Option<&str>, now: DateTime<Utc>) -> String {
    let agency = agency.map(|a| format!("{a}-")).unwrap_or_default();
    format!(
        "{kind}-{agency}{}-{:04x}",
        now.format("%Y%m%d-%H%M%S%3f"),
        fastrand::u16(..)
    )
}

/// One download (學員通過認證名單下載): an agency's passed records of a
/// window of days, fetched from the portal on request and written as
/// locked download records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadEntry {
    /// `download-<agency>-<unique id of the request>`.
    pub log_id: String,
    pub trigger: Trigger,
    /// Who asked (the token's subject).
    pub requested_by: String,
    pub agency: String,
    /// The window, inclusive.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    /// As for a day of the automatic import; `withdrawn` counts the
    /// agency's locked records the portal now reports as not passed.
    pub counts: SyncCounts,
    pub error: Option<ErrorSummary>,
    pub failures: Vec<RecordFailure>,
}

/// An administrator's removal of a locked record: a record whose key
/// (class start date, term) the portal has since corrected stays locked for
/// ever otherwise — staff cannot delete it and the portal never withdraws
/// that key. Who, why, and what was removed (personal data masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalEntry {
    /// `removal-<time>-<random>`.
    pub log_id: String,
    pub trigger: Trigger,
    /// The administrator (the token's subject); shown to administrators
    /// only.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub requested_by: String,
    /// Why, in the administrator's words.
    pub reason: String,
    /// The removed record's agency.
    pub agency: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    /// The removed record's fields by id, the ID, name and birth date
    /// masked; with its `source` and `version`.
    pub record: BTreeMap<String, String>,
}

/// An administrator's settlement of a dispute: a key the holder's agency
/// held and the claimant's agency tried to write. Both agencies' staff
/// see it (without the administrator's id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementEntry {
    /// `settlement-<time>-<random>`.
    pub log_id: String,
    pub trigger: Trigger,
    /// The administrator (the token's subject); shown to administrators
    /// only.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub requested_by: String,
    /// `keep` (the holder keeps its record) or `transfer` (the claimant's
    /// record replaced it).
    pub decision: String,
    /// The agency that held the key.
    pub agency: String,
    /// The agency that tried to write it.
    pub claimant: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    /// The claimed record's fields by id, the ID, name and birth date
    /// masked.
    pub record: BTreeMap<String, String>,
}

/// Any import-log entry, as the log lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogEntry {
    Sync(Box<SyncLogEntry>),
    CsvImport(Box<CsvImportEntry>),
    Download(Box<DownloadEntry>),
    Removal(Box<RemovalEntry>),
    Settlement(Box<SettlementEntry>),
}

impl LogEntry {
    pub fn log_id(&self) -> &str {
        match self {
            LogEntry::Sync(e) => &e.log_id,
            LogEntry::CsvImport(e) => &e.log_id,
            LogEntry::Download(e) => &e.log_id,
            LogEntry::Removal(e) => &e.log_id,
            LogEntry::Settlement(e) => &e.log_id,
        }
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        match self {
            LogEntry::Sync(e) => e.started_at,
            LogEntry::CsvImport(e) => e.started_at,
            LogEntry::Download(e) => e.started_at,
            LogEntry::Removal(e) => e.started_at,
            LogEntry::Settlement(e) => e.started_at,
        }
    }

    pub fn status(&self) -> RunStatus {
        match self {
            LogEntry::Sync(e) => e.status,
            LogEntry::CsvImport(e) => e.status,
            LogEntry::Download(e) => e.status,
            LogEntry::Removal(e) => e.status,
            LogEntry::Settlement(e) => e.status,
        }
    }

    pub fn trigger(&self) -> Trigger {
        match self {
            LogEntry::Sync(e) => e.trigger,
            LogEntry::CsvImport(e) => e.trigger,
            LogEntry::Download(e) => e.trigger,
            LogEntry::Removal(e) => e.trigger,
            LogEntry::Settlement(e) => e.trigger,
        }
    }

    /// Whose staff see this entry (administrators see every one): `None`
    /// for every agency's (a nightly run: each agency's staff see their
    /// own part of it), else the agencies it concerns — an upload's, a
    /// download's or a removal's agency, both agencies of a settlement,
    /// none for an upload outside `uploads/<agency>/`. The one rule: the
    /// store filters pages by it, the API single entries.
    pub fn audience(&self) -> Option<Vec<&str>> {
        match self {
            LogEntry::Sync(_) => None,
            LogEntry::CsvImport(e) => Some(e.agency.iter().map(AgencyCode::as_str).collect()),
            LogEntry::Download(e) => Some(vec![e.agency.as_str()]),
            LogEntry::Removal(e) => Some(vec![e.agency.as_str()]),
            LogEntry::Settlement(e) => Some(vec![e.agency.as_str(), e.claimant.as_str()]),
        }
    }

    /// Whether `agency`'s staff see this entry ([`LogEntry::audience`]).
    pub fn is_for(&self, agency: &AgencyCode) -> bool {
        self.audience()
            .is_none_or(|agencies| agencies.contains(&agency.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A national ID's shape, as the pages' check and proxies see it.
    fn id_shaped(text: &str) -> bool {
        text.as_bytes().windows(10).any(|w| {
            w[0].is_ascii_alphabetic()
                && matches!(
                    w[1].to_ascii_uppercase(),
                    b'1' | b'2' | b'8' | b'9' | b'A'..=b'D'
                )
                && w[2..].iter().all(u8::is_ascii_digit)
        })
    }

    #[test]
    fn no_log_id_looks_like_a_national_id() {
        // Every millisecond-free time of a day, with the milliseconds that
        // once made `T1030123456` out of 10:30:12.345 (a letter, nine digits).
        let day = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        for second in (0..86_400).step_by(7) {
            let now = day.and_hms_milli_opt(0, 0, 0, 345).unwrap().and_utc()
                + chrono::Duration::seconds(second);
            for agency in [None, Some("376550000A"), Some("A21000000A")] {
                let id = event_log_id("download", agency, now);
                assert!(!id_shaped(&id), "{id}");
            }
        }
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..20_000 {
            // Lambda's request ids are UUIDs; files are any key and ETag.
            let run_id = format!(
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                rng.u32(..),
                rng.u16(..),
                rng.u16(..0x1000),
                rng.u16(..0x1000),
                rng.u64(..1 << 48)
            );
            let sync = SyncLogEntry::log_id(day, &run_id);
            let csv = file(None, &run_id).log_id();
            assert!(!id_shaped(&sync) && !id_shaped(&csv), "{sync} {csv}");
        }
        assert!(
            id_shaped("20261205T1030123456"),
            "the check finds the old form"
        );
    }

    fn file(version: Option<&str>, etag: &str) -> UploadedFile {
        UploadedFile {
            bucket: "b".into(),
            key: "uploads/376550000A/名單.csv".into(),
            version_id: version.map(str::to_string),
            etag: Some(etag.into()),
            size: 10,
        }
    }

    #[test]
    fn an_object_version_has_one_stable_import_id() {
        let a = file(Some("v1"), "e1");
        assert_eq!(a.log_id(), file(Some("v1"), "e1").log_id());
        assert_ne!(a.log_id(), file(Some("v2"), "e1").log_id());
        assert_ne!(a.log_id(), file(None, "e2").log_id());
        // Ids must not change between builds, or a redelivered event would
        // import the file twice: the hash under them is pinned in `hash`.
        assert_eq!(a.file_name(), "名單.csv");
    }

    #[test]
    fn rejections_are_counted_by_reason() {
        let mut entry = CsvImportEntry::start(file(None, "e"), None, Utc::now());
        entry.reject("after_cutoff");
        entry.reject("after_cutoff");
        entry.reject("invalid_id");
        assert_eq!(entry.counts.rejected, 3);
        assert_eq!(entry.reasons["after_cutoff"], 2);
        assert_eq!(entry.counts.accounted(), 3);
    }

    #[test]
    fn staff_see_every_nightly_run_and_only_the_entries_of_their_agency() {
        let ours = AgencyCode::parse("376550000A").unwrap();
        let theirs = AgencyCode::parse("379000000A").unwrap();
        let file = UploadedFile {
            bucket: "b".into(),
            key: "uploads/376550000A/a.csv".into(),
            version_id: None,
            etag: None,
            size: 1,
        };
        let now = Utc::now();
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let sync = LogEntry::Sync(Box::new(SyncLogEntry::start(
            "run",
            Trigger::Schedule,
            day,
            now,
        )));
        let upload = |agency| {
            LogEntry::CsvImport(Box::new(CsvImportEntry::start(file.clone(), agency, now)))
        };
        assert!(sync.is_for(&ours) && sync.is_for(&theirs));
        let ours_upload = upload(Some(ours.clone()));
        assert!(ours_upload.is_for(&ours) && !ours_upload.is_for(&theirs));
        let nobodys = upload(None);
        assert!(!nobodys.is_for(&ours) && !nobodys.is_for(&theirs));
    }
}
