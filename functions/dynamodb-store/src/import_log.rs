//! Import-log entries: one item each, found by id (pages of them in
//! `log_pages`, what they changed in `log_changes`). A CSV import's entry
//! also heads a partition of its rejected rows.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Datelike, Utc};
use learning_core::import_log::{
    CsvImportEntry, DownloadEntry, LogEntry, SyncCounts, SyncLogEntry,
};

use crate::items::{Item, item, n, s, text};
use crate::{Store, StoreError};

pub(crate) fn month_partition(year: i32, month: u32) -> String {
    format!("LOGS#{year:04}-{month:02}")
}

pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn log_pk(log_id: &str) -> String {
    format!("LOG#{log_id}")
}

/// The entry as the log's pages list it: without its refused records and
/// per-agency detail, which the entry itself (GetItem) has. Those are kept
/// beside it as map attributes (`ag`, `ac`) a page projects one agency of.
fn summary(
    entry: &LogEntry,
) -> (
    LogEntry,
    BTreeMap<String, u64>,
    BTreeMap<String, SyncCounts>,
) {
    let mut summary = entry.clone();
    let (mut agencies, mut counts) = (BTreeMap::new(), BTreeMap::new());
    match &mut summary {
        LogEntry::Sync(e) => {
            e.failures.clear();
            agencies = std::mem::take(&mut e.agencies);
            counts = std::mem::take(&mut e.agency_counts);
        }
        LogEntry::Download(e) => e.failures.clear(),
        LogEntry::CsvImport(_) | LogEntry::Removal(_) | LogEntry::Settlement(_) => {}
    }
    (summary, agencies, counts)
}

/// An entry's [`LogEntry::audience`] as the item keeps it for a page's
/// filter: [`EVERYONE`], or each agency between bars (`|A|B|`; `|` for
/// none), so `contains` finds one exactly.
pub(crate) const EVERYONE: &str = "*";

fn audience(entry: &LogEntry) -> String {
    match entry.audience() {
        None => EVERYONE.to_string(),
        Some(agencies) => format!(
            "|{}",
            agencies.iter().map(|a| format!("{a}|")).collect::<String>()
        ),
    }
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
            Some(("data_date", s(e.data_date.to_string()))),
        ),
        LogEntry::CsvImport(e) => (
            "csv_import",
            e.trigger,
            serde_json::to_string(e).map_err(corrupt)?,
            Some(("seq", n(e.seq))),
        ),
        LogEntry::Download(e) => (
            "download",
            e.trigger,
            serde_json::to_string(e).map_err(corrupt)?,
            None,
        ),
        LogEntry::Removal(e) => (
            "removal",
            e.trigger,
            serde_json::to_string(e).map_err(corrupt)?,
            None,
        ),
        LogEntry::Settlement(e) => (
            "settlement",
            e.trigger,
            serde_json::to_string(e).map_err(corrupt)?,
            None,
        ),
    };
    let started = entry.started_at();
    let (listed, agencies, counts) = summary(entry);
    let listed = match &listed {
        LogEntry::Sync(e) => serde_json::to_string(e),
        LogEntry::CsvImport(e) => serde_json::to_string(e),
        LogEntry::Download(e) => serde_json::to_string(e),
        LogEntry::Removal(e) => serde_json::to_string(e),
        LogEntry::Settlement(e) => serde_json::to_string(e),
    }
    .map_err(corrupt)?;
    let mut item: Item = item([
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
        ("body", s(body)),
        ("summary", s(listed)),
    ]);
    item.insert("audience".into(), s(audience(entry)));
    if let Some((name, value)) = extra {
        item.insert(name.into(), value);
    }
    if !agencies.is_empty() {
        let map = agencies.into_iter().map(|(a, n_)| (a, n(n_))).collect();
        item.insert("ag".into(), AttributeValue::M(map));
    }
    if !counts.is_empty() {
        let map = counts
            .into_iter()
            .map(|(a, c)| Ok((a, s(serde_json::to_string(&c).map_err(corrupt)?))))
            .collect::<Result<HashMap<_, _>, StoreError>>()?;
        item.insert("ac".into(), AttributeValue::M(map));
    }
    Ok(item)
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

    /// Writes a CSV import's entry as its next version (`seq` + 1), if no
    /// other invocation wrote it since this one read it (the stored `seq`
    /// is the entry's; none for a new entry). Fails with `ImportTakenOver`
    /// otherwise.
    pub async fn put_csv_log(&self, entry: &mut CsvImportEntry) -> Result<(), StoreError> {
        entry.seq += 1;
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
            Err(e) if crate::error::is_condition_failure(&e) => {
                // The SDK retries a write whose answer was lost; the retry
                // then meets the write itself. Only another writer's entry
                // means the import was taken over.
                match self.get_csv_log(&entry.log_id).await? {
                    Some(stored)
                        if stored.seq == entry.seq
                            && stored.lease_owner == entry.lease_owner
                            && stored.counts == entry.counts
                            && stored.status == entry.status =>
                    {
                        Ok(())
                    }
                    _ => Err(StoreError::ImportTakenOver {
                        log_id: entry.log_id.clone(),
                    }),
                }
            }
            Err(e) => Err(StoreError::sdk("PutItem", e)),
        }
    }
}

/// `entry` as listed: its detail dropped, the projected agencies' counts
/// (`ag`, `ac`) put back.
pub(crate) fn summary_of(entry: LogEntry, item: &Item) -> LogEntry {
    let (mut listed, _, _) = summary(&entry);
    if let LogEntry::Sync(e) = &mut listed {
        if let Some(AttributeValue::M(map)) = item.get("ag") {
            e.agencies = map
                .iter()
                .filter_map(|(a, v)| Some((a.clone(), v.as_n().ok()?.parse().ok()?)))
                .collect();
        }
        if let Some(AttributeValue::M(map)) = item.get("ac") {
            e.agency_counts = map
                .iter()
                .filter_map(|(a, v)| Some((a.clone(), serde_json::from_str(v.as_s().ok()?).ok()?)))
                .collect();
        }
    }
    listed
}

pub(crate) fn entry_from_item(item: &Item) -> Result<LogEntry, StoreError> {
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
        Some(AttributeValue::S(kind)) if kind == "removal" => serde_json::from_str(&body)
            .map(LogEntry::Removal)
            .map_err(corrupt),
        Some(AttributeValue::S(kind)) if kind == "settlement" => serde_json::from_str(&body)
            .map(LogEntry::Settlement)
            .map_err(corrupt),
        _ => serde_json::from_str(&body)
            .map(LogEntry::Sync)
            .map_err(corrupt),
    }
}
