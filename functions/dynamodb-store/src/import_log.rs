//! Import-log entries: one item each, found by id or by time.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use learning_core::import_log::SyncLogEntry;

use crate::items::{Item, s, text};
use crate::{Store, StoreError};

fn month_partition(year: i32, month: u32) -> String {
    format!("LOGS#{year:04}-{month:02}")
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Writes (or rewrites, as the day progresses) one entry.
    pub async fn put_sync_log(&self, entry: &SyncLogEntry) -> Result<(), StoreError> {
        let body = serde_json::to_string(entry).map_err(|e| StoreError::Corrupt {
            key: entry.log_id.clone(),
            detail: e.to_string(),
        })?;
        let started = entry.started_at;
        let item: Item = [
            ("pk", s(format!("LOG#{}", entry.log_id))),
            ("sk", s("LOG")),
            (
                "gsi1pk",
                s(month_partition(started.year(), started.month())),
            ),
            (
                "gsi1sk",
                s(format!("{}#{}", timestamp(started), entry.log_id)),
            ),
            ("entity", s("import_log")),
            ("kind", s("sync")),
            ("trigger", s(entry.trigger.as_str())),
            ("status", s(entry.status.as_str())),
            ("data_date", s(entry.data_date.to_string())),
            ("body", s(body)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::sdk("PutItem", e))?;
        Ok(())
    }

    pub async fn get_sync_log(&self, log_id: &str) -> Result<Option<SyncLogEntry>, StoreError> {
        let item = self.get(format!("LOG#{log_id}"), "LOG".into()).await?;
        item.as_ref().map(entry_from_item).transpose()
    }

    /// Entries started in `[from, to)`, newest first.
    pub async fn sync_logs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SyncLogEntry>, StoreError> {
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
                if entry.started_at < to {
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

fn entry_from_item(item: &Item) -> Result<SyncLogEntry, StoreError> {
    let body = text(item, "body").unwrap_or_default();
    serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
        key: text(item, "pk").unwrap_or_default(),
        detail: e.to_string(),
    })
}
