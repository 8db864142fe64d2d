//! The import log (自動入檔紀錄): one entry per synced day (and, later, per
//! CSV upload and per download), so staff can check what arrived.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::problem::Problem;

/// What started the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The nightly EventBridge schedule.
    Schedule,
    /// An operator's re-run or a local run.
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        [Trigger::Schedule, Trigger::Manual]
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
    /// Passed records that replaced an older version.
    pub updated: u64,
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
        self.inserted + self.updated + self.unchanged + self.withdrawn + self.skipped + self.failed
    }
}

/// One refused record: where it was, whose (masked), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFailure {
    /// Position in the day's feed, from 1.
    pub position: u64,
    /// The national ID as masked by DOMAIN.md rules.
    pub masked_id: String,
    pub code: String,
    pub field: Option<String>,
    pub message: String,
}

impl RecordFailure {
    pub fn new(position: u64, masked_id: String, problem: &Problem) -> Self {
        RecordFailure {
            position,
            masked_id,
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
    /// Records written (inserted or updated) per agency code.
    pub agencies: BTreeMap<String, u64>,
    /// Why the day failed, for staff and operators.
    pub error: Option<ErrorSummary>,
    pub failures: Vec<RecordFailure>,
}

impl SyncLogEntry {
    pub fn start(run_id: &str, trigger: Trigger, data_date: NaiveDate, now: DateTime<Utc>) -> Self {
        SyncLogEntry {
            log_id: format!("sync-{data_date}-{run_id}"),
            run_id: run_id.to_string(),
            trigger,
            data_date,
            started_at: now,
            finished_at: None,
            status: RunStatus::Running,
            counts: SyncCounts::default(),
            agencies: BTreeMap::new(),
            error: None,
            failures: Vec::new(),
        }
    }
}
