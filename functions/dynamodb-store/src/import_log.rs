//! Import-log entries: one item each, found by id or by time. A CSV
//! import's entry also heads a partition of its rejected rows.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use learning_core::import_log::{
    CsvImportEntry, DownloadEntry, LogEntry, SyncCounts, SyncLogEntry, Trigger,
};

use crate::items::{Item, n, s, text};
use crate::{Change, Store, StoreError};

fn month_partition(year: i32, month: u32) -> String {
    format!("LOGS#{year:04}-{month:02}")
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The sort key of a download's kept keys, beside its entry.
const DOWNLOADED: &str = "KEYS";

/// The sort keys of an entry's changes, by agency and page.
const CHANGES: &str = "CHANGES#";

/// Changes per item: far under DynamoDB's 400 KB an item, whatever the
/// night.
const CHANGES_PER_ITEM: usize = 4000;

/// A natural key as one line of text (kept beside log entries).
fn key_text(key: &learning_core::NaturalKey) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        key.id_no.as_str(),
        key.course_code,
        key.term,
        key.start_date
    )
}

fn key_from_text(text: &str) -> Option<learning_core::NaturalKey> {
    let mut parts = text.split('\t');
    Some(learning_core::NaturalKey {
        id_no: learning_core::NationalId::parse(parts.next()?).ok()?,
        course_code: parts.next()?.to_string(),
        term: parts.next()?.parse().ok()?,
        start_date: parts.next()?.parse().ok()?,
    })
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
const EVERYONE: &str = "*";

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
    let mut item: Item = [
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
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
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

/// Items a page may have DynamoDB read at most: with a filter (a trigger,
/// an agency), a page can end short of its limit, with a cursor, rather
/// than read a month of other entries to fill it.
const MAX_EVALUATED: i32 = 1000;

/// Which entries a page of the log holds.
#[derive(Debug, Clone)]
pub struct LogQuery {
    /// Entries started in `[from, to)`.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub trigger: Option<Trigger>,
    /// `Some`: the nightly runs (with this agency's counts) and this
    /// agency's uploads and downloads only; `None`: everything.
    pub agency: Option<String>,
    pub limit: usize,
    /// Where the page before ended ([`LogPage::next`]).
    pub after: Option<String>,
}

/// One page, newest first, and where the next one starts.
#[derive(Debug, Clone)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// Opaque; `None` on the last page.
    pub next: Option<String>,
}

/// Where the next page starts: a month partition, and after which entry
/// of it (its index key and id), or at its newest when `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    month: NaiveDate,
    after: Option<(String, String)>,
}

impl Cursor {
    fn encode(&self) -> String {
        let (gsi1sk, pk) = self.after.clone().unwrap_or_default();
        URL_SAFE_NO_PAD.encode(format!("{}|{gsi1sk}|{pk}", self.month))
    }

    fn decode(text: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, '|');
        let month: NaiveDate = parts.next()?.parse().ok()?;
        let (gsi1sk, pk) = (parts.next()?.to_string(), parts.next()?.to_string());
        let after = match (gsi1sk.is_empty(), pk.starts_with("LOG#")) {
            (true, _) if pk.is_empty() => None,
            (false, true) => Some((gsi1sk, pk)),
            _ => return None,
        };
        (month.day() == 1).then_some(Cursor { month, after })
    }
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

    /// Keeps the keys of the records a download brought, beside its entry
    /// until `expires`: its CSV (or JSON) is made again from them without
    /// asking the portal a second time.
    pub async fn put_download_keys(
        &self,
        log_id: &str,
        keys: &[learning_core::NaturalKey],
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let listed: Vec<AttributeValue> = keys.iter().map(|k| s(key_text(k))).collect();
        let item: Item = [
            ("pk", s(log_pk(log_id))),
            ("sk", s(DOWNLOADED)),
            ("entity", s("download_keys")),
            ("keys", AttributeValue::L(listed)),
            ("ttl", n(expires.timestamp().max(0))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.put(item).await
    }

    /// The keys a download brought ([`Store::put_download_keys`]); `None`
    /// once they have expired.
    pub async fn download_keys(
        &self,
        log_id: &str,
    ) -> Result<Option<Vec<learning_core::NaturalKey>>, StoreError> {
        let Some(item) = self.get(log_pk(log_id), DOWNLOADED.into()).await? else {
            return Ok(None);
        };
        let corrupt = || StoreError::Corrupt {
            key: format!("{} / {DOWNLOADED}", log_pk(log_id)),
            detail: "keys".into(),
        };
        let Some(AttributeValue::L(listed)) = item.get("keys") else {
            return Err(corrupt());
        };
        listed
            .iter()
            .map(|value| {
                value
                    .as_s()
                    .ok()
                    .and_then(|text| key_from_text(text))
                    .ok_or_else(corrupt)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// Keeps what a sync day or a download did to `agency`'s records,
    /// record by record, beside its entry (pages of [`CHANGES_PER_ITEM`],
    /// expiring with the rejection reports): what its staff read from the
    /// entry's detail. Writing it again (a replay) changes nothing.
    pub async fn put_changes(
        &self,
        log_id: &str,
        agency: &str,
        changes: &[(Change, learning_core::NaturalKey)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let expires = (now + crate::REJECTED_ROWS_KEPT).timestamp().max(0);
        let items = changes
            .chunks(CHANGES_PER_ITEM)
            .enumerate()
            .map(|(page, chunk)| {
                let listed = chunk
                    .iter()
                    .map(|(change, key)| s(format!("{}\t{}", change.as_str(), key_text(key))))
                    .collect();
                [
                    ("pk", s(log_pk(log_id))),
                    ("sk", s(format!("{CHANGES}{agency}#{page:04}"))),
                    ("entity", s("log_changes")),
                    ("changes", AttributeValue::L(listed)),
                    ("ttl", n(expires)),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect()
            })
            .collect();
        self.write_all(items).await
    }

    /// What [`Store::put_changes`] kept for `agency`, in order.
    pub async fn changes(
        &self,
        log_id: &str,
        agency: &str,
    ) -> Result<Vec<(Change, learning_core::NaturalKey)>, StoreError> {
        let items: Vec<Item> = crate::query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :changes)")
                .expression_attribute_values(":pk", s(log_pk(log_id)))
                .expression_attribute_values(":changes", s(format!("{CHANGES}{agency}#"))),
        )
        .await?;
        let corrupt = || StoreError::Corrupt {
            key: format!("{} / {CHANGES}{agency}", log_pk(log_id)),
            detail: "changes".into(),
        };
        let mut changes = Vec::new();
        for item in &items {
            let Some(AttributeValue::L(listed)) = item.get("changes") else {
                return Err(corrupt());
            };
            for value in listed {
                let (change, key) = value
                    .as_s()
                    .ok()
                    .and_then(|text| text.split_once('\t'))
                    .ok_or_else(corrupt)?;
                changes.push((
                    Change::parse(change).ok_or_else(corrupt)?,
                    key_from_text(key).ok_or_else(corrupt)?,
                ));
            }
        }
        Ok(changes)
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

    /// One page of the log, read page by page inside DynamoDB: `Limit` and
    /// `ExclusiveStartKey` across the month partitions, newest first, the
    /// trigger and the agency filtered by the query, only the listed form
    /// of each entry (and one agency's counts) projected. A page reads at
    /// most [`MAX_EVALUATED`] items, so it costs the same whether the range
    /// holds thirty entries or thousands; a filtered page may hold fewer
    /// than `limit` entries and still have a next one.
    pub async fn logs_page(&self, query: &LogQuery) -> Result<LogPage, StoreError> {
        let invalid = || StoreError::InvalidCursor;
        let after = query
            .after
            .as_deref()
            .map(|c| Cursor::decode(c).ok_or_else(invalid))
            .transpose()?;
        let first =
            NaiveDate::from_ymd_opt(query.from.year(), query.from.month(), 1).unwrap_or_default();
        let last =
            NaiveDate::from_ymd_opt(query.to.year(), query.to.month(), 1).unwrap_or_default();
        let (mut month, mut start) = match after {
            Some(c) if c.month < first || c.month > last => return Err(invalid()),
            Some(c) => {
                let key = c.after.map(|(gsi1sk, pk)| {
                    HashMap::from([
                        ("pk".to_string(), s(pk)),
                        ("sk".to_string(), s("LOG")),
                        (
                            "gsi1pk".to_string(),
                            s(month_partition(c.month.year(), c.month.month())),
                        ),
                        ("gsi1sk".to_string(), s(gsi1sk)),
                    ])
                });
                (c.month, key)
            }
            None => (last, None),
        };
        let mut projection = vec!["pk", "gsi1sk", "#kind", "summary"];
        let mut filters = Vec::new();
        let mut names = HashMap::from([("#kind".to_string(), "kind".to_string())]);
        let mut values = HashMap::from([
            (":from".to_string(), s(timestamp(query.from))),
            (":to".to_string(), s(timestamp(query.to))),
        ]);
        match &query.agency {
            Some(agency) => {
                projection.extend(["ag.#own", "ac.#own"]);
                names.insert("#own".into(), agency.clone());
                names.insert("#audience".into(), "audience".into());
                values.insert(":everyone".into(), s(EVERYONE));
                values.insert(":agency".into(), s(format!("|{agency}|")));
                filters.push("(#audience = :everyone OR contains(#audience, :agency))");
            }
            None => projection.push("ag"),
        }
        if let Some(trigger) = query.trigger {
            names.insert("#trigger".into(), "trigger".into());
            values.insert(":trigger".into(), s(trigger.as_str()));
            filters.push("#trigger = :trigger");
        }
        let projection = projection.join(", ");
        let filter = filters.join(" AND ");
        let filtered = !filter.is_empty();
        let mut entries = Vec::with_capacity(query.limit);
        let mut evaluated = 0;
        let mut filtered_batch = (query.limit as i32).saturating_mul(2).max(20);
        // Where the next page would start, were this one to end now.
        let mut resume = None;
        loop {
            if month < first {
                resume = None;
                break;
            }
            if entries.len() == query.limit || evaluated >= MAX_EVALUATED {
                break;
            }
            let wanted = (query.limit - entries.len()) as i32;
            // A filter is applied after DynamoDB reads: read twice the page
            // first (most entries pass a staff filter: the nightly runs),
            // then four times more per call, within the page's budget, so
            // a page of common entries costs little and one of rare ones
            // takes few calls.
            let batch = if filtered {
                let batch = filtered_batch.min(MAX_EVALUATED - evaluated).max(wanted);
                filtered_batch = filtered_batch.saturating_mul(4);
                batch
            } else {
                wanted
            };
            let partition = month_partition(month.year(), month.month());
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(crate::table::GSI1)
                .key_condition_expression("gsi1pk = :month AND gsi1sk BETWEEN :from AND :to")
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .expression_attribute_values(":month", s(&partition))
                .projection_expression(&projection)
                .scan_index_forward(false)
                .limit(batch)
                .set_exclusive_start_key(start.take());
            if filtered {
                request = request.filter_expression(&filter);
            }
            let output = request
                .send()
                .await
                .map_err(|e| StoreError::sdk("Query", e))?;
            evaluated += output.scanned_count();
            let items = output.items();
            let mut full_at = None;
            for (at, item) in items.iter().enumerate() {
                let entry = self.listed_entry(item).await?;
                // `to` is exclusive; BETWEEN includes it.
                if entry.started_at() >= query.to {
                    continue;
                }
                entries.push(entry);
                if entries.len() == query.limit {
                    full_at = Some(at);
                    break;
                }
            }
            let key_of =
                |item: &Item| Some((text(item, "gsi1sk").unwrap_or_default(), text(item, "pk")?));
            match (full_at, output.last_evaluated_key()) {
                // Full before the month's end: resume after the last entry.
                (Some(at), more) if at + 1 < items.len() || more.is_some() => {
                    resume = Some(Cursor {
                        month,
                        after: key_of(&items[at]),
                    });
                    break;
                }
                // More of this month: on from where DynamoDB stopped.
                (_, Some(key)) => {
                    resume = Some(Cursor {
                        month,
                        after: key_of(key),
                    });
                    start = Some(key.clone());
                }
                // The month is read: the one before, from its newest.
                (_, None) => {
                    month = month
                        .checked_sub_months(chrono::Months::new(1))
                        .unwrap_or(NaiveDate::MIN);
                    resume = Some(Cursor { month, after: None });
                }
            }
        }
        let next = resume.filter(|c| c.month >= first).map(|c| c.encode());
        Ok(LogPage { entries, next })
    }

    /// An entry as a page lists it, from its projected attributes; an
    /// entry written before the listed form existed is read whole.
    async fn listed_entry(&self, item: &Item) -> Result<LogEntry, StoreError> {
        let Some(summary) = text(item, "summary") else {
            let pk = text(item, "pk").unwrap_or_default();
            let log_id = pk.strip_prefix("LOG#").unwrap_or(&pk);
            let entry = self.get_log(log_id).await?.ok_or(StoreError::NotFound)?;
            return Ok(summary_of(entry, item));
        };
        let mut whole = item.clone();
        whole.insert("body".into(), s(summary));
        let entry = entry_from_item(&whole)?;
        Ok(summary_of(entry, item))
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
            let items: Vec<Item> = crate::query_all(
                self.client
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
                    .scan_index_forward(false),
            )
            .await?;
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

/// `entry` as listed: its detail dropped, the projected agencies' counts
/// (`ag`, `ac`) put back.
fn summary_of(entry: LogEntry, item: &Item) -> LogEntry {
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
