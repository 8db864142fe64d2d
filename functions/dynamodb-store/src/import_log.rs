//! Import-log entries: one item each, found by id or by time. A CSV
//! import's entry also heads a partition of its rejected rows.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use learning_core::import_log::{CsvImportEntry, DownloadEntry, LogEntry, SyncLogEntry};

use crate::items::{Item, n, s, text};
use crate::{Store, StoreError};

fn month_partition(year: i32, month: u32) -> String {
    format!("LOGS#{year:04}-{month:02}")
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn log_pk(log_id: &str) -> String {
    format!("LOG#{log_id}")
}

/// The item of any entry: its body as JSON, plus what queries need.
pub(crate) fn log_item(entry: &LogEntry) -> Result<Item, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt {
        key: entry.log_id().to_string(),
        detail: e.to_string(),
    };
    let (kind, trigger, body, extra) = match entry {
        LogEntry::Sync(e) => (
            "sync",
            e.trigger,
            serde_json::to_string(e).map_err(corrupt)?,
            ("data_date", s(e.data_date.to_string())),
        ),
        LogEntry::CsvImport(e) => (
            "csv_import",
            e.trigger,
            serde_json::to_string(e).map_err(corrupt)?,
            ("seq", n(e.seq)),
        ),
        LogEntry::Download(e) => (
            "download",
            e.trigger,
            serde_json::to_string(e).map_err(corrupt)?,
            ("agency", s(&e.agency)),
        ),
    };
    let started = entry.started_at();
    Ok([
        ("pk", s(log_pk(entry.log_id()))),
        ("sk", s("LOG")),
        (
            "gsi1pk",
            s(month_partition(started.year(), started.month())),
        ),
        (
            "gsi1sk",
            s(format!("{}#{}", timestamp(started), entry.log_id())),
        ),
        ("entity", s("import_log")),
        ("kind", s(kind)),
        ("trigger", s(trigger.as_str())),
        ("status", s(entry.status().as_str())),
        extra,
        ("body", s(body)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect())
}

impl Store {
    /// Writes (or rewrites, as the day progresses) one entry.
    pub async fn put_sync_log(&self, entry: &SyncLogEntry) -> Result<(), StoreError> {
        self.put(log_item(&LogEntry::Sync(Box::new(entry.clone())))?)
            .await
    }

    pub async fn get_sync_log(&self, log_id: &str) -> Result<Option<SyncLogEntry>, StoreError> {
        Ok(match self.get_log(log_id).await? {
            Some(LogEntry::Sync(entry)) => Some(*entry),
            _ => None,
        })
    }

    pub async fn get_csv_log(&self, log_id: &str) -> Result<Option<CsvImportEntry>, StoreError> {
        Ok(match self.get_log(log_id).await? {
            Some(LogEntry::CsvImport(entry)) => Some(*entry),
            _ => None,
        })
    }

    /// Any entry by id, read consistently.
    pub async fn get_log(&self, log_id: &str) -> Result<Option<LogEntry>, StoreError> {
        let item = self.get(log_pk(log_id), "LOG".into()).await?;
        item.as_ref().map(entry_from_item).transpose()
    }

    /// Writes (or rewrites) a download's entry.
    pub async fn put_download_log(&self, entry: &DownloadEntry) -> Result<(), StoreError> {
        self.put(log_item(&LogEntry::Download(Box::new(entry.clone())))?)
            .await
    }

    /// Writes a CSV import's entry, if no other invocation wrote it since
    /// this one read it: `entry.seq` must be one more than the stored
    /// `seq` (or 1 for a new entry). Fails with `ImportTakenOver` otherwise.
    pub async fn put_csv_log(&self, entry: &CsvImportEntry) -> Result<(), StoreError> {
        let item = log_item(&LogEntry::CsvImport(Box::new(entry.clone())))?;
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = if entry.seq <= 1 {
            request.condition_expression("attribute_not_exists(pk)")
        } else {
            request
                .condition_expression("#seq = :previous")
                .expression_attribute_names("#seq", "seq")
                .expression_attribute_values(":previous", n(entry.seq - 1))
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if crate::records::is_condition_failure(&e) => {
                Err(StoreError::ImportTakenOver {
                    log_id: entry.log_id.clone(),
                })
            }
            Err(e) => Err(StoreError::sdk("PutItem", e)),
        }
    }

    /// Sync entries started in `[from, to)`, newest first.
    pub async fn sync_logs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SyncLogEntry>, StoreError> {
        Ok(self
            .logs_between(from, to)
            .await?
            .into_iter()
            .filter_map(|entry| match entry {
                LogEntry::Sync(e) => Some(*e),
                _ => None,
            })
            .collect())
    }

    /// Entries of every kind started in `[from, to)`, newest first.
    pub async fn logs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let mut entries = Vec::new();
        let mut month = NaiveDate::from_ymd_opt(to.year(), to.month(), 1).unwrap_or_default();
        let first = NaiveDate::from_ymd_opt(from.year(), from.month(), 1).unwrap_or_default();
        while month >= first {
            let items: Vec<Item> = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(crate::table::GSI1)
                .key_condition_expression("gsi1pk = :month AND gsi1sk BETWEEN :from AND :to")
                .expression_attribute_values(
                    ":month",
                    s(month_partition(month.year(), month.month())),
                )
                .expression_attribute_values(":from", s(timestamp(from)))
                .expression_attribute_values(":to", s(timestamp(to)))
                .scan_index_forward(false)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| StoreError::sdk("Query", e))?;
            for item in &items {
                let entry = entry_from_item(item)?;
                if entry.started_at() < to {
                    entries.push(entry);
                }
            }
            month = month
                .checked_sub_months(chrono::Months::new(1))
                .unwrap_or(NaiveDate::MIN);
        }
        Ok(entries)
    }
}

fn entry_from_item(item: &Item) -> Result<LogEntry, StoreError> {
    let body = text(item, "body").unwrap_or_default();
    let corrupt = |e: serde_json::Error| StoreError::Corrupt {
        key: text(item, "pk").unwrap_or_default(),
        detail: e.to_string(),
    };
    match item.get("kind") {
        Some(AttributeValue::S(kind)) if kind == "csv_import" => serde_json::from_str(&body)
            .map(LogEntry::CsvImport)
            .map_err(corrupt),
        Some(AttributeValue::S(kind)) if kind == "download" => serde_json::from_str(&body)
            .map(LogEntry::Download)
            .map_err(corrupt),
        _ => serde_json::from_str(&body)
            .map(LogEntry::Sync)
            .map_err(corrupt),
    }
}
