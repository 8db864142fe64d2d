//! Training records: batched portal upserts, withdrawals, and staff edits
//! under the lock.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, PutRequest, TransactWriteItem, WriteRequest,
};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use learning_core::portal::{is_former_key, may_hold_former_key};
use learning_core::{AgencyCode, FromPortal, NationalId, NaturalKey, Source, TrainingRecord};
use tracing::{debug, instrument};

use crate::items::{
    Item, course_prefix, describe_key, key_item, n, number, person_pk, record_attributes,
    record_from_item, record_sk, s, text,
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

    /// Counts a record written with `change` and lists it.
    fn note(&mut self, agency: &AgencyCode, change: Change, key: NaturalKey) {
        self.count(agency, |c| match change {
            Change::Inserted => c.inserted += 1,
            Change::ReplacedStaff => c.replaced_staff += 1,
            _ => c.updated += 1,
        });
        self.changed.push((agency.clone(), change, key));
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
    /// Written under a new key: the portal corrected the record's term or
    /// class start date (counted as updated).
    Corrected,
    /// Removed from its former key by such a correction.
    CorrectedAway,
}

impl Change {
    const ALL: [Change; 6] = [
        Change::Inserted,
        Change::Updated,
        Change::ReplacedStaff,
        Change::Withdrawn,
        Change::Corrected,
        Change::CorrectedAway,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Change::Inserted => "inserted",
            Change::Updated => "updated",
            Change::ReplacedStaff => "replaced_staff",
            Change::Withdrawn => "withdrawn",
            Change::Corrected => "corrected",
            Change::CorrectedAway => "corrected_away",
        }
    }

    pub fn parse(text: &str) -> Option<Change> {
        Change::ALL.into_iter().find(|c| c.as_str() == text)
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
    /// The portal's identity of the record, for a record the portal wrote.
    pub(crate) portal_id: Option<String>,
}

/// A record the portal wrote under a former key of one it sends again.
struct Former {
    key: NaturalKey,
    agency: AgencyCode,
    version: u64,
}

/// Former-key lookups (one small Query each) in flight per chunk.
const LOOKUPS_IN_FLIGHT: usize = 16;

/// An item's table key.
fn item_key(item: &Item) -> (String, String) {
    (
        text(item, "pk").unwrap_or_default(),
        text(item, "sk").unwrap_or_default(),
    )
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
    /// portal's version (see README). A record the portal wrote under a
    /// former key of the same learner and course — the portal corrected its
    /// term or class start date, keeping its identity — is moved: deleted
    /// in the same transaction that writes the new key. It is looked for
    /// only where it can be (`may_hold_former_key`): a first pass no one
    /// read early costs no lookup.
    #[instrument(skip(self, records), fields(records = records.len(), source = source.as_str()))]
    pub async fn upsert_portal_records(
        &self,
        records: &[FromPortal],
        source: Source,
        written_by: &str,
        now: DateTime<Utc>,
    ) -> Result<Upserted, StoreError> {
        let mut position: HashMap<NaturalKey, usize> = HashMap::with_capacity(records.len());
        let mut unique: Vec<&FromPortal> = Vec::with_capacity(records.len());
        for record in records {
            match position.entry(record.record.key()) {
                std::collections::hash_map::Entry::Occupied(at) => unique[*at.get()] = record,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(unique.len());
                    unique.push(record);
                }
            }
        }
        let now = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        // First passes (nothing to look for) unless their day was read early.
        let first_pass_days = unique
            .iter()
            .filter(|from| !may_hold_former_key(&from.record, false))
            .map(|from| from.record.changed_date)
            .collect();
        let early = self.read_early(&first_pass_days).await?;
        // The chunks' futures are made first, not in a `map` closure over
        // the stream: a closure there keeps the whole future from being
        // provably `Send` (rust-lang/rust#64552), which axum handlers need.
        let chunks: Vec<_> = unique
            .chunks(BATCH_GET_MAX)
            .map(|chunk| self.upsert_chunk(chunk, &early, source, written_by, &now))
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
        chunk: &[&FromPortal],
        early: &std::collections::HashSet<(chrono::NaiveDate, String)>,
        source: Source,
        written_by: &str,
        now: &str,
    ) -> Result<Upserted, StoreError> {
        let mut counts = Upserted::default();
        let mut pending: Vec<&FromPortal> = chunk.to_vec();
        let mut attempt = 0;
        // A move meets a concurrent writer of either key rarely; its
        // records are decided again on what the table then holds.
        while !pending.is_empty() {
            let existing = self
                .read_existing(pending.iter().map(|from| from.record.key()))
                .await?;
            let mut writes = Vec::with_capacity(pending.len());
            let mut looked_up = Vec::new();
            for from in &pending {
                let record = &from.record;
                let mut item = record_attributes(record);
                item.insert("portal_id".into(), s(from.id.as_str()));
                let old = existing.get(&item_key(&item));
                if let Some(old) = old
                    && old.fingerprint == text(&item, "fingerprint").unwrap_or_default()
                    && Source::parse(&old.source).is_some_and(Source::is_locked)
                {
                    counts.count(&record.org_code, |c| c.unchanged += 1);
                    continue;
                }
                let (version, created_at) = old.map_or((1, now.to_string()), |old| {
                    (old.version.saturating_add(1), old.created_at.clone())
                });
                bookkeeping(&mut item, source, version, &created_at, now, written_by);
                let change = match old {
                    Some(old) if Source::parse(&old.source) == Some(Source::StaffEntered) => {
                        Change::ReplacedStaff
                    }
                    Some(_) => Change::Updated,
                    None => Change::Inserted,
                };
                let read_early =
                    early.contains(&(record.changed_date, record.org_code.to_string()));
                if old.is_some_and(|old| old.portal_id.as_deref() == Some(from.id.as_str()))
                    || !may_hold_former_key(record, read_early)
                {
                    // The portal's record already lives at this key, or
                    // was never read before: no former key to look for.
                    counts.note(&record.org_code, change, record.key());
                    writes.push(item);
                } else {
                    looked_up.push((*from, item, change, old.map(|old| old.version)));
                }
            }
            let formers: Vec<_> = looked_up
                .iter()
                .map(|(from, ..)| self.former_keys(from))
                .collect();
            let formers: Vec<Vec<Former>> = stream::iter(formers)
                .buffered(LOOKUPS_IN_FLIGHT)
                .try_collect()
                .await?;
            let mut moves = Vec::new();
            for ((from, item, change, version), formers) in looked_up.into_iter().zip(formers) {
                if formers.is_empty() {
                    counts.note(&from.record.org_code, change, from.record.key());
                    writes.push(item);
                } else {
                    moves.push((from, item, change, version, formers));
                }
            }
            self.write_all(writes).await?;
            pending = Vec::new();
            for (from, item, change, version, formers) in moves {
                if self
                    .move_record(from, item, version, &formers, attempt)
                    .await?
                {
                    let record = &from.record;
                    // A correction of a record the table held: an update.
                    let change = match change {
                        Change::Inserted => Change::Corrected,
                        other => other,
                    };
                    counts.note(&record.org_code, change, record.key());
                    for former in formers {
                        counts
                            .changed
                            .push((former.agency, Change::CorrectedAway, former.key));
                    }
                } else {
                    pending.push(from);
                }
            }
            if !pending.is_empty() {
                self.retry
                    .again(&mut attempt, "TransactWriteItems", pending.len())
                    .await?;
            }
        }
        Ok(counts)
    }

    /// The records the portal wrote under a former key of `new` (see
    /// [`is_former_key`]): the person's records of the course that carry
    /// its identity. Usually none, at the cost of one small Query.
    async fn former_keys(&self, new: &FromPortal) -> Result<Vec<Former>, StoreError> {
        let key = new.record.key();
        let items: Vec<Item> = crate::query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :course)")
                .filter_expression("portal_id = :id")
                .expression_attribute_values(":pk", s(person_pk(&key.id_no)))
                .expression_attribute_values(":course", s(course_prefix(&key.course_code)))
                .expression_attribute_values(":id", s(new.id.as_str()))
                .consistent_read(true),
        )
        .await?;
        let mut formers = Vec::new();
        for item in &items {
            let held = stored_from_item(item)?;
            if is_former_key(&held.record.key(), &key) && held.source.is_locked() {
                formers.push(Former {
                    key: held.record.key(),
                    agency: held.record.org_code,
                    version: held.version,
                });
            }
        }
        Ok(formers)
    }

    /// Writes `item` and deletes the record's `formers` in one
    /// transaction, each write conditioned on what was read (`version` at
    /// the new key, `None` for a free key). False when another writer came
    /// first: the record is to be decided again. Idempotent: the SDK's
    /// retry of a transaction whose answer was lost is answered as the
    /// first (the token names the attempt, so a decision made again is a
    /// new transaction).
    async fn move_record(
        &self,
        from: &FromPortal,
        item: Item,
        version: Option<u64>,
        formers: &[Former],
        attempt: u32,
    ) -> Result<bool, StoreError> {
        let build = |e| StoreError::build("TransactWriteItems", e);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item.clone()));
        let put = match version {
            Some(version) => put
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(version)),
            None => put.condition_expression("attribute_not_exists(pk)"),
        };
        let mut request = self
            .client
            .transact_write_items()
            .client_request_token(format!(
                "{:032x}",
                learning_core::hash::fnv1a(&[
                    &text(&item, "written_by").unwrap_or_default(),
                    &text(&item, "sk").unwrap_or_default(),
                    &text(&item, "version").unwrap_or_default(),
                    from.id.as_str(),
                    &attempt.to_string(),
                ])
            ))
            .transact_items(
                TransactWriteItem::builder()
                    .put(put.build().map_err(build)?)
                    .build(),
            );
        for former in formers {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key_item(&former.key)))
                .condition_expression("portal_id = :id AND version = :expected")
                .expression_attribute_values(":id", s(from.id.as_str()))
                .expression_attribute_values(":expected", n(former.version))
                .build()
                .map_err(build)?;
            request = request.transact_items(TransactWriteItem::builder().delete(delete).build());
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(StoreError::sdk("TransactWriteItems", e)),
        }
    }

    /// What the table holds at `keys` (at most 100), by table key.
    pub(crate) async fn read_existing(
        &self,
        keys: impl Iterator<Item = NaturalKey>,
    ) -> Result<HashMap<(String, String), Existing>, StoreError> {
        let keys = keys.map(|key| key_item(&key)).collect();
        let projection = "pk, sk, fingerprint, org_code, #source, version, created_at, written_by, written_as, portal_id";
        let items = self.batch_get(keys, Some(projection), false).await?;
        Ok(items
            .iter()
            .map(|item| {
                (
                    item_key(item),
                    Existing {
                        fingerprint: text(item, "fingerprint").unwrap_or_default(),
                        org_code: text(item, "org_code").unwrap_or_default(),
                        source: text(item, "source").unwrap_or_default(),
                        version: number(item, "version").unwrap_or(0),
                        created_at: text(item, "created_at").unwrap_or_default(),
                        written_by: text(item, "written_by").unwrap_or_default(),
                        written_as: text(item, "written_as"),
                        portal_id: text(item, "portal_id"),
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
    /// remove and stays (the condition refuses it). A withdrawal of a key
    /// the table does not hold removes the record the portal wrote under a
    /// former key (a correction of its term or start date WebHR never
    /// read). Returns, for each record in order, the keys that went: none
    /// when there was nothing to remove.
    #[instrument(skip(self, records), fields(records = records.len()))]
    pub async fn withdraw(
        &self,
        records: &[FromPortal],
        agency: Option<&AgencyCode>,
    ) -> Result<Vec<Vec<NaturalKey>>, StoreError> {
        // Futures made before the stream, as in `upsert_portal_records`.
        let withdrawals: Vec<_> = records
            .iter()
            .map(|from| self.withdraw_one(from, agency))
            .collect();
        stream::iter(withdrawals)
            .buffered(self.retry.concurrency * 2)
            .try_collect()
            .await
    }

    async fn withdraw_one(
        &self,
        from: &FromPortal,
        agency: Option<&AgencyCode>,
    ) -> Result<Vec<NaturalKey>, StoreError> {
        let key = from.record.key();
        if self.delete_withdrawn(&key, None, agency).await? {
            return Ok(vec![key]);
        }
        let mut removed = Vec::new();
        for former in self.former_keys(from).await? {
            if self
                .delete_withdrawn(&former.key, Some(&from.id), agency)
                .await?
            {
                removed.push(former.key);
            }
        }
        Ok(removed)
    }

    /// Deletes a record the portal withdrew, unless staff typed it in or
    /// (with `agency`) another agency holds it, or (with `id`) it is not
    /// that portal record. False when there was nothing to delete.
    async fn delete_withdrawn(
        &self,
        key: &NaturalKey,
        id: Option<&learning_core::PortalId>,
        agency: Option<&AgencyCode>,
    ) -> Result<bool, StoreError> {
        let mut condition = String::from("attribute_exists(pk) AND #source <> :staff");
        let mut delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .expression_attribute_names("#source", "source")
            .expression_attribute_values(":staff", s(Source::StaffEntered.as_str()));
        if let Some(agency) = agency {
            condition.push_str(" AND org_code = :agency");
            delete = delete.expression_attribute_values(":agency", s(agency.as_str()));
        }
        if let Some(id) = id {
            condition.push_str(" AND portal_id = :id");
            delete = delete.expression_attribute_values(":id", s(id.as_str()));
        }
        match delete.condition_expression(condition).send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(StoreError::sdk("DeleteItem", e)),
        }
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
        let items: Vec<Item> = crate::query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :rec)")
                .expression_attribute_values(":pk", s(person_pk(id)))
                .expression_attribute_values(":rec", s("REC#")),
        )
        .await?;
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
        let items: Vec<Item> = crate::query_all(
            self.client
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
                .expression_attribute_names("#status", "status"),
        )
        .await?;
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
