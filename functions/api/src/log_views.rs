//! Import-log entries as the API answers them: one view type per kind,
//! so what the table stores (a CSV import's checkpoint, a sync's run
//! bookkeeping) can change without changing the API. Built from the
//! caller's part of an entry ([`crate::logs::visible`]).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use learning_core::import_log::{
    CsvImportView, DownloadEntry, ErrorSummary, LogEntry, RecordFailure, RemovalEntry, RunStatus,
    SettlementEntry, SyncCounts, SyncLogEntry, Trigger,
};
use serde::Serialize;

/// An import-log entry as the API answers it.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryView {
    Sync(Box<SyncView>),
    CsvImport(Box<CsvImportView>),
    Download(Box<DownloadView>),
    Removal(Box<RemovalView>),
    Settlement(Box<SettlementView>),
}

impl From<LogEntry> for EntryView {
    fn from(entry: LogEntry) -> Self {
        match entry {
            LogEntry::Sync(e) => EntryView::Sync(Box::new(SyncView::from(*e))),
            LogEntry::CsvImport(e) => EntryView::CsvImport(Box::new(CsvImportView::from(&*e))),
            LogEntry::Download(e) => EntryView::Download(Box::new(DownloadView::from(*e))),
            LogEntry::Removal(e) => EntryView::Removal(Box::new(RemovalView::from(*e))),
            LogEntry::Settlement(e) => EntryView::Settlement(Box::new(SettlementView::from(*e))),
        }
    }
}

/// One day of the automatic import.
#[derive(Debug, Serialize)]
pub struct SyncView {
    pub log_id: String,
    pub run_id: String,
    pub trigger: Trigger,
    pub data_date: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub counts: SyncCounts,
    pub agencies: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub agency_counts: BTreeMap<String, SyncCounts>,
    pub error: Option<ErrorSummary>,
    pub failures: Vec<RecordFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lookback: bool,
}

impl From<SyncLogEntry> for SyncView {
    fn from(e: SyncLogEntry) -> Self {
        SyncView {
            log_id: e.log_id,
            run_id: e.run_id,
            trigger: e.trigger,
            data_date: e.data_date,
            started_at: e.started_at,
            finished_at: e.finished_at,
            status: e.status,
            counts: e.counts,
            agencies: e.agencies,
            agency_counts: e.agency_counts,
            error: e.error,
            failures: e.failures,
            requested_by: e.requested_by,
            lookback: e.lookback,
        }
    }
}

/// An agency's download from the portal.
#[derive(Debug, Serialize)]
pub struct DownloadView {
    pub log_id: String,
    pub trigger: Trigger,
    pub requested_by: String,
    pub agency: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub counts: SyncCounts,
    pub error: Option<ErrorSummary>,
    pub failures: Vec<RecordFailure>,
}

impl From<DownloadEntry> for DownloadView {
    fn from(e: DownloadEntry) -> Self {
        DownloadView {
            log_id: e.log_id,
            trigger: e.trigger,
            requested_by: e.requested_by,
            agency: e.agency,
            from: e.from,
            to: e.to,
            started_at: e.started_at,
            finished_at: e.finished_at,
            status: e.status,
            counts: e.counts,
            error: e.error,
            failures: e.failures,
        }
    }
}

/// An administrator's removal of a locked record (who removed it, for
/// administrators only).
#[derive(Debug, Serialize)]
pub struct RemovalView {
    pub log_id: String,
    pub trigger: Trigger,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    pub reason: String,
    pub agency: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub record: BTreeMap<String, String>,
}

impl From<RemovalEntry> for RemovalView {
    fn from(e: RemovalEntry) -> Self {
        RemovalView {
            log_id: e.log_id,
            trigger: e.trigger,
            requested_by: Some(e.requested_by).filter(|by| !by.is_empty()),
            reason: e.reason,
            agency: e.agency,
            started_at: e.started_at,
            finished_at: e.finished_at,
            status: e.status,
            record: e.record,
        }
    }
}

/// An administrator's settlement of a dispute (who settled it, for
/// administrators only).
#[derive(Debug, Serialize)]
pub struct SettlementView {
    pub log_id: String,
    pub trigger: Trigger,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    pub decision: String,
    pub agency: String,
    pub claimant: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub record: BTreeMap<String, String>,
}

impl From<SettlementEntry> for SettlementView {
    fn from(e: SettlementEntry) -> Self {
        SettlementView {
            log_id: e.log_id,
            trigger: e.trigger,
            requested_by: Some(e.requested_by).filter(|by| !by.is_empty()),
            decision: e.decision,
            agency: e.agency,
            claimant: e.claimant,
            started_at: e.started_at,
            finished_at: e.finished_at,
            status: e.status,
            record: e.record,
        }
    }
}
