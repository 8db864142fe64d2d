//! Training records: batched portal upserts, withdrawals, and staff edits
//! under the lock.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use learning_core::{AgencyCode, NationalId, NaturalKey, Source, TrainingRecord};
use tracing::{debug, instrument};

use crate::items::{
    Item, describe_key, key_item, n, number, person_pk, record_attributes, record_from_item,
    record_sk, s, text,
};
use crate::{Store, StoreError};

/// DynamoDB's limits per batch call.
const BATCH_GET_MAX: usize = 100;
const BATCH_WRITE_MAX: usize = 25;

/// What an upsert did with records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    pub inserted: u64,
    /// Replaced an earlier version from the portal (or a CSV import).
    pub updated: u64,
    /// Replaced a record staff typed in by hand.
    pub replaced_staff: u64,
    pub unchanged: u64,
}

impl UpsertCounts {
    pub fn written(&self) -> u64 {
        self.inserted + self.updated + self.replaced_staff
    }

    pub fn total(&self) -> u64 {
        self.written() + self.unchanged
    }
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, other: UpsertCounts) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.replaced_staff += other.replaced_staff;
        self.unchanged += other.unchanged;
    }
}

/// What an upsert did, in all and per agency code, and record by record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upserted {
    pub total: UpsertCounts,
    pub by_agency: std::collections::BTreeMap<String, UpsertCounts>,
    /// Each record written (not the unchanged), with its agency.
    pub changed: Vec<(AgencyCode, Change, NaturalKey)>,
}

impl Upserted {
    fn count(&mut self, agency: &AgencyCode, add: impl Fn(&mut UpsertCounts)) {
        add(&mut self.total);
        add(self.by_agency.entry(agency.to_string()).or_default());
    }
}

/// What a sync or download did to one record, as its agency's staff read
/// it record by record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    Inserted,
    Updated,
    /// Replaced a record staff typed in by hand.
    ReplacedStaff,
    /// Removed: the portal no longer reports it as passed.
    Withdrawn,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Inserted => "inserted",
            Change::Updated => "updated",
            Change::ReplacedStaff => "replaced_staff",
            Change::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<Change> {
        [
            Change::Inserted,
            Change::Updated,
            Change::ReplacedStaff,
            Change::Withdrawn,
        ]
        .into_iter()
        .find(|c| c.as_str() == text)
    }
}

/// A record with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub record: TrainingRecord,
    pub source: Source,
    pub locked: bool,
    /// Starts at 1; every write adds 1. The ETag of the API.
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
    /// The import-log entry (or staff action) that wrote this version.
    pub written_by: String,
}

/// One record's hours, with its person (a yearly summary's row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursRow {
    pub id_no: NationalId,
    pub name: String,
    pub digital: learning_core::Hours,
    pub physical: learning_core::Hours,
    pub total: learning_core::Hours,
}

/// What we need of an existing item to decide on a write.
pub(crate) struct Existing {
    pub(crate) fingerprint: String,
    /// The agency the stored record belongs to.
    pub(crate) org_code: String,
    pub(crate) source: String,
    pub(crate) version: u64,
    pub(crate) created_at: String,
    /// The import that wrote it, and what that import did (CSV imports
    /// only), so an import replaying its own rows counts them as before.
    pub(crate) written_by: String,
    pub(crate) written_as: Option<String>,
}

pub(crate) fn bookkeeping(
    item: &mut Item,
    source: Source,
    version: u64,
    created_at: &str,
    now: &str,
    written_by: &str,
) {
    item.insert("entity".into(), s("record"));
    item.insert("source".into(), s(source.as_str()));
    item.insert("locked".into(), AttributeValue::Bool(source.is_locked()));
    item.insert("version".into(), n(version));
    item.insert("created_at".into(), s(created_at));
    item.insert("updated_at".into(), s(now));
    item.insert("written_by".into(), s(written_by));
}

fn stored_from_item(item: &Item) -> Result<StoredRecord, StoreError> {
    let corrupt = |detail: &str| StoreError::Corrupt {
        key: describe_key(item),
        detail: detail.to_string(),
    };
    Ok(StoredRecord {
        record: record_from_item(item)?,
        source: text(item, "source")
            .as_deref()
            .and_then(Source::parse)
            .ok_or_else(|| corrupt("source"))?,
        locked: matches!(item.get("locked"), Some(AttributeValue::Bool(true))),
        version: number(item, "version").ok_or_else(|| corrupt("version"))?,
        created_at: text(item, "created_at").unwrap_or_default(),
        updated_at: text(item, "updated_at").unwrap_or_default(),
        written_by: text(item, "written_by").unwrap_or_default(),
    })
}

/// The condition of every staff edit and delete: the record is there,
/// unlocked, at the version the caller read, and still the caller's
/// agency's.
const STAFF_WRITE: &str =
    "attribute_exists(pk) AND #locked = :false AND version = :expected AND org_code = :agency";

impl Store {
    /// Writes records the portal delivered (automatic import or download).
    ///
    /// Keys repeated in `records` are written once (the last one wins).
    /// Each chunk of 100 is read first so that identical records cost no
    /// write and the counts are exact, then its changed records are written;
    /// chunks run concurrently, so reading one overlaps writing another. A
    /// staff-entered record with the same natural key is replaced by the
    /// portal's version (see README).
    #[instrument(skip(self, records), fields(records = records.len(), source = source.as_str()))]
    pub async fn upsert_portal_records(
        &self,
        records: &[TrainingRecord],
        source: Source,
        written_by: &str,
        now: DateTime<Utc>,
    ) -> Result<Upserted, StoreError> {
        let mut position: HashMap<NaturalKey, usize> = HashMap::with_capacity(records.len());
        let mut unique: Vec<&TrainingRecord> = Vec::with_capacity(records.len());
        for record in records {
            match position.entry(record.key()) {
                std::collections::hash_map::Entry::Occupied(at) => unique[*at.get()] = record,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(unique.len());
                    unique.push(record);
                }
            }
        }
        let now = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        // The chunks' futures are made first, not in a `map` closure over
        // the stream: a closure there keeps the whole future from being
        // provably `Send` (rust-lang/rust#64552), which axum handlers need.
        let chunks: Vec<_> = unique
            .chunks(BATCH_GET_MAX)
            .map(|chunk| self.upsert_chunk(chunk, source, written_by, &now))
            .collect();
        let counts = stream::iter(chunks)
            .buffer_unordered(self.retry.concurrency)
            .try_fold(Upserted::default(), |mut all, part| async move {
                all.total += part.total;
                for (agency, counts) in part.by_agency {
                    *all.by_agency.entry(agency).or_default() += counts;
                }
                all.changed.extend(part.changed);
                Ok(all)
            })
            .await?;
        debug!(counts = ?counts.total, "upserted");
        Ok(counts)
    }

    async fn upsert_chunk(
        &self,
        chunk: &[&TrainingRecord],
        source: Source,
        written_by: &str,
        now: &str,
    ) -> Result<Upserted, StoreError> {
        let existing = self.read_existing(chunk).await?;
        let mut counts = Upserted::default();
        let mut writes = Vec::with_capacity(chunk.len());
        for record in chunk {
            let mut item = record_attributes(record);
            let key = (
                text(&item, "pk").unwrap_or_default(),
                text(&item, "sk").unwrap_or_default(),
            );
            let (version, created_at) = match existing.get(&key) {
                Some(old)
                    if old.fingerprint == text(&item, "fingerprint").unwrap_or_default()
                        && Source::parse(&old.source).is_some_and(Source::is_locked) =>
                {
                    counts.count(&record.org_code, |c| c.unchanged += 1);
                    continue;
                }
                Some(old) => {
                    let change = if Source::parse(&old.source) == Some(Source::StaffEntered) {
                        counts.count(&record.org_code, |c| c.replaced_staff += 1);
                        Change::ReplacedStaff
                    } else {
                        counts.count(&record.org_code, |c| c.updated += 1);
                        Change::Updated
                    };
                    counts
                        .changed
                        .push((record.org_code.clone(), change, record.key()));
                    (old.version.saturating_add(1), old.created_at.clone())
                }
                None => {
                    counts.count(&record.org_code, |c| c.inserted += 1);
                    counts
                        .changed
                        .push((record.org_code.clone(), Change::Inserted, record.key()));
                    (1, now.to_string())
                }
            };
            bookkeeping(&mut item, source, version, &created_at, now, written_by);
            writes.push(item);
        }
        self.write_all(writes).await?;
        Ok(counts)
    }

    pub(crate) async fn read_existing(
        &self,
        chunk: &[&TrainingRecord],
    ) -> Result<HashMap<(String, String), Existing>, StoreError> {
        let keys = chunk.iter().map(|r| key_item(&r.key())).collect();
        let projection =
            "pk, sk, fingerprint, org_code, #source, version, created_at, written_by, written_as";
        let items = self.batch_get(keys, Some(projection), false).await?;
        Ok(items
            .iter()
            .map(|item| {
                (
                    (
                        text(item, "pk").unwrap_or_default(),
                        text(item, "sk").unwrap_or_default(),
                    ),
                    Existing {
                        fingerprint: text(item, "fingerprint").unwrap_or_default(),
                        org_code: text(item, "org_code").unwrap_or_default(),
                        source: text(item, "source").unwrap_or_default(),
                        version: number(item, "version").unwrap_or(0),
                        created_at: text(item, "created_at").unwrap_or_default(),
                        written_by: text(item, "written_by").unwrap_or_default(),
                        written_as: text(item, "written_as"),
                    },
                )
            })
            .collect())
    }

    /// The items of `keys` (at most 100) that exist, in no order: one
    /// BatchGetItem, its unprocessed keys asked again with backoff.
    /// `projection` may name `#source` (for `source`).
    async fn batch_get(
        &self,
        mut keys: Vec<Item>,
        projection: Option<&str>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        let mut attempt = 0;
        while !keys.is_empty() {
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .consistent_read(consistent);
            if let Some(projection) = projection {
                request = request
                    .projection_expression(projection)
                    .expression_attribute_names("#source", "source");
            }
            let request = request
                .build()
                .map_err(|e| StoreError::build("BatchGetItem", e))?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| StoreError::sdk("BatchGetItem", e))?;
            found.extend(
                output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default(),
            );
            keys = output
                .unprocessed_keys
                .unwrap_or_default()
                .remove(&self.table)
                .map(|k| k.keys)
                .unwrap_or_default();
            if !keys.is_empty() {
                self.retry
                    .again(&mut attempt, "BatchGetItem", keys.len())
                    .await?;
            }
        }
        Ok(found)
    }

    /// Puts `items` (distinct keys), 25 to a BatchWriteItem.
    pub(crate) async fn write_all(&self, mut items: Vec<Item>) -> Result<(), StoreError> {
        while !items.is_empty() {
            let rest = items.split_off(items.len().min(BATCH_WRITE_MAX));
            self.write_batch(std::mem::replace(&mut items, rest))
                .await?;
        }
        Ok(())
    }

    /// One BatchWriteItem of at most 25 puts with distinct keys, retrying
    /// unprocessed items with backoff; fails loudly when the budget runs out.
    pub(crate) async fn write_batch(&self, batch: Vec<Item>) -> Result<(), StoreError> {
        let mut pending: Vec<WriteRequest> = batch
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(|e| StoreError::build("BatchWriteItem", e))
            })
            .collect::<Result<_, _>>()?;
        let mut attempt = 0;
        while !pending.is_empty() {
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, std::mem::take(&mut pending))
                .send()
                .await
                .map_err(|e| StoreError::sdk("BatchWriteItem", e))?;
            pending = output
                .unprocessed_items
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default();
            if !pending.is_empty() {
                self.retry
                    .again(&mut attempt, "BatchWriteItem", pending.len())
                    .await?;
            }
        }
        Ok(())
    }

    /// Removes the records the portal no longer reports as passed — its
    /// own (locked) and those an agency imported from its export (CSV);
    /// with `agency`, only that agency's (a download acts for one agency).
    /// A record staff typed in under the same key is not the portal's to
    /// remove and stays (the condition refuses it). Returns the keys that
    /// went.
    #[instrument(skip(self, keys), fields(keys = keys.len()))]
    pub async fn withdraw(
        &self,
        keys: &[NaturalKey],
        agency: Option<&AgencyCode>,
    ) -> Result<Vec<NaturalKey>, StoreError> {
        // Futures made before the stream, as in `upsert_portal_records`.
        let deletes: Vec<_> =
            keys.iter()
                .map(|key| {
                    let delete = self
                        .client
                        .delete_item()
                        .table_name(&self.table)
                        .set_key(Some(key_item(key)))
                        .expression_attribute_names("#source", "source")
                        .expression_attribute_values(":staff", s(Source::StaffEntered.as_str()));
                    match agency {
                        Some(agency) => delete
                            .condition_expression(
                                "attribute_exists(pk) AND #source <> :staff AND org_code = :agency",
                            )
                            .expression_attribute_values(":agency", s(agency.as_str())),
                        None => delete
                            .condition_expression("attribute_exists(pk) AND #source <> :staff"),
                    }
                    .send()
                })
                .collect();
        let outcomes: Vec<bool> = stream::iter(deletes)
            .map(|delete| async move {
                match delete.await {
                    Ok(_) => Ok(true),
                    Err(e) if is_condition_failure(&e) => Ok(false),
                    Err(e) => Err(StoreError::sdk("DeleteItem", e)),
                }
            })
            // In order, so each outcome meets its key.
            .buffered(self.retry.concurrency * 2)
            .try_collect()
            .await?;
        Ok(keys
            .iter()
            .zip(outcomes)
            .filter(|(_, removed)| *removed)
            .map(|(key, _)| key.clone())
            .collect())
    }

    /// The records of `keys` the table holds, by key (read in batches).
    pub async fn records_by_key(
        &self,
        keys: &[NaturalKey],
    ) -> Result<HashMap<NaturalKey, StoredRecord>, StoreError> {
        Ok(self
            .get_records(keys)
            .await?
            .into_iter()
            .map(|stored| (stored.record.key(), stored))
            .collect())
    }

    /// The records of `keys` the table holds, in the keys' order (a key
    /// no longer held is left out).
    pub async fn get_records(&self, keys: &[NaturalKey]) -> Result<Vec<StoredRecord>, StoreError> {
        let mut found: HashMap<(String, String), StoredRecord> = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let items = self
                .batch_get(chunk.iter().map(key_item).collect(), None, true)
                .await?;
            for item in &items {
                let at = (
                    text(item, "pk").unwrap_or_default(),
                    text(item, "sk").unwrap_or_default(),
                );
                found.insert(at, stored_from_item(item)?);
            }
        }
        Ok(keys
            .iter()
            .filter_map(|key| found.remove(&(person_pk(&key.id_no), record_sk(key))))
            .collect())
    }

    pub async fn get_record(&self, key: &NaturalKey) -> Result<Option<StoredRecord>, StoreError> {
        let item = self.get(person_pk(&key.id_no), record_sk(key)).await?;
        item.as_ref().map(stored_from_item).transpose()
    }

    /// Every record of one person, in key order.
    pub async fn records_of_person(
        &self,
        id: &NationalId,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :rec)")
            .expression_attribute_values(":pk", s(person_pk(id)))
            .expression_attribute_values(":rec", s("REC#"))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        items.iter().map(stored_from_item).collect()
    }

    /// One page of `agency`'s records passed in `[from, to]` (by passed
    /// date, or change date where none), oldest first: a Query on `gsi1`
    /// with `Limit`, continued after `after` (the `gsi1sk` a page ended
    /// at, from [`Store::agency_records`]'s second value).
    pub async fn agency_records(
        &self,
        agency: &AgencyCode,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<StoredRecord>, Option<String>), StoreError> {
        let pk = format!("AGENCY#{agency}");
        // The index key starts with the date: every key of a day sorts
        // between `<day>#` and `<day>#~`.
        let (low, high) = (format!("{from}#"), format!("{to}#~"));
        if after.is_some_and(|a| a < low.as_str() || a > high.as_str()) {
            return Err(StoreError::InvalidCursor);
        }
        let start = match after {
            Some(sk) => {
                // The index key and the table key of the item the page
                // ended at (the table key follows from the index key).
                let mut parts = sk.splitn(5, '#');
                let (_, id, course, term, start_date) = (
                    parts.next(),
                    parts.next().ok_or(StoreError::InvalidCursor)?,
                    parts.next().ok_or(StoreError::InvalidCursor)?,
                    parts.next().ok_or(StoreError::InvalidCursor)?,
                    parts.next().ok_or(StoreError::InvalidCursor)?,
                );
                Some(HashMap::from([
                    ("gsi1pk".to_string(), s(&pk)),
                    ("gsi1sk".to_string(), s(sk)),
                    ("pk".to_string(), s(format!("PERSON#{id}"))),
                    (
                        "sk".to_string(),
                        s(format!("REC#{course}#{term}#{start_date}")),
                    ),
                ]))
            }
            None => None,
        };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(crate::table::GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high))
            .limit(limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        let records = output
            .items()
            .iter()
            .map(stored_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next = output
            .last_evaluated_key()
            .and_then(|key| text(key, "gsi1sk"));
        Ok((records, next))
    }

    /// The hours of every record of `agency` passed in `[from, to]`, each
    /// with its person: only the attributes a yearly summary needs are
    /// read (a Query on `gsi1`, every page).
    pub async fn agency_hours(
        &self,
        agency: &AgencyCode,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<HoursRow>, StoreError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(crate::table::GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(format!("AGENCY#{agency}")))
            .expression_attribute_values(":low", s(format!("{from}#")))
            .expression_attribute_values(":high", s(format!("{to}#~")))
            .projection_expression(
                "pk, sk, id_no, #name, digital_hours, physical_hours, total_hours, #status",
            )
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#status", "status")
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        items
            .iter()
            .filter(|item| text(item, "status").as_deref() == Some("passed"))
            .map(|item| {
                let corrupt = |detail: &str| StoreError::Corrupt {
                    key: describe_key(item),
                    detail: detail.to_string(),
                };
                let hours = |name: &str| {
                    text(item, name)
                        .and_then(|h| learning_core::Hours::parse(&h).ok())
                        .ok_or_else(|| corrupt(name))
                };
                Ok(HoursRow {
                    id_no: text(item, "id_no")
                        .and_then(|id| NationalId::parse(&id).ok())
                        .ok_or_else(|| corrupt("id_no"))?,
                    name: text(item, "name").unwrap_or_default(),
                    digital: hours("digital_hours")?,
                    physical: hours("physical_hours")?,
                    total: hours("total_hours")?,
                })
            })
            .collect()
    }

    /// Creates a record staff typed in. Refused when any record (a portal
    /// one included) already has its natural key.
    pub async fn create_staff_record(
        &self,
        record: &TrainingRecord,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredRecord, StoreError> {
        let now = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut item = record_attributes(record);
        bookkeeping(&mut item, Source::StaffEntered, 1, &now, &now, by);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => stored_from_item(&item),
            Err(e) if is_condition_failure(&e) => Err(StoreError::AlreadyExists),
            Err(e) => Err(StoreError::sdk("PutItem", e)),
        }
    }

    /// Replaces a staff-entered record, only if it is unlocked, still at
    /// `expected_version` and still `agency`'s (the agency the caller was
    /// allowed to act for). The database refuses the write otherwise, so
    /// a record that moved to another agency meanwhile is out of reach.
    pub async fn update_staff_record(
        &self,
        record: &TrainingRecord,
        agency: &AgencyCode,
        expected_version: u64,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredRecord, StoreError> {
        let key = record.key();
        let now = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let current = self
            .get_record(&key)
            .await?
            .filter(|current| &current.record.org_code == agency)
            .ok_or(StoreError::NotFound)?;
        // A version no record reaches (`If-Match` is the caller's): not
        // the record's, so refused as any stale one.
        let Some(next) = expected_version.checked_add(1) else {
            return Err(self.why_refused(&key, agency).await);
        };
        let mut item = record_attributes(record);
        bookkeeping(
            &mut item,
            current.source,
            next,
            &current.created_at,
            &now,
            by,
        );
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression(STAFF_WRITE)
            .expression_attribute_names("#locked", "locked")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":expected", n(expected_version))
            .expression_attribute_values(":agency", s(agency.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => stored_from_item(&item),
            Err(e) if is_condition_failure(&e) => Err(self.why_refused(&key, agency).await),
            Err(e) => Err(StoreError::sdk("PutItem", e)),
        }
    }

    /// Deletes a staff-entered record of `agency` at `expected_version`;
    /// the database refuses a locked one, a newer one and another
    /// agency's.
    pub async fn delete_staff_record(
        &self,
        key: &NaturalKey,
        agency: &AgencyCode,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .condition_expression(STAFF_WRITE)
            .expression_attribute_names("#locked", "locked")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":expected", n(expected_version))
            .expression_attribute_values(":agency", s(agency.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(self.why_refused(key, agency).await),
            Err(e) => Err(StoreError::sdk("DeleteItem", e)),
        }
    }

    /// Removes a locked record at `expected_version` and writes the
    /// administrator's removal entry, in one transaction: the record is
    /// gone exactly when the entry that says who removed it and why exists.
    pub async fn remove_locked_record(
        &self,
        key: &NaturalKey,
        expected_version: u64,
        entry: &learning_core::import_log::RemovalEntry,
    ) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
        let build = |e| StoreError::build("TransactWriteItems", e);
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .condition_expression(
                "attribute_exists(pk) AND #locked = :true AND version = :expected",
            )
            .expression_attribute_names("#locked", "locked")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":expected", n(expected_version))
            .build()
            .map_err(build)?;
        let log = learning_core::import_log::LogEntry::Removal(Box::new(entry.clone()));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(crate::import_log::log_item(&log)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                Err(match self.get_record(key).await? {
                    None => StoreError::NotFound,
                    Some(current) if !current.locked => StoreError::NotLocked,
                    Some(current) => StoreError::VersionMismatch {
                        current: current.version,
                    },
                })
            }
            Err(e) => Err(StoreError::sdk("TransactWriteItems", e)),
        }
    }

    /// After the database refused a conditional write: which condition?
    /// Another agency's record is told as a missing one.
    async fn why_refused(&self, key: &NaturalKey, agency: &AgencyCode) -> StoreError {
        match self.get_record(key).await {
            Ok(None) => StoreError::NotFound,
            Ok(Some(current)) if &current.record.org_code != agency => StoreError::NotFound,
            Ok(Some(current)) if current.locked => StoreError::Locked,
            Ok(Some(current)) => StoreError::VersionMismatch {
                current: current.version,
            },
            Err(e) => e,
        }
    }
}

pub(crate) fn is_condition_failure<E, R>(error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}
