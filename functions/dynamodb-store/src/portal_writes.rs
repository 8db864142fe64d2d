//! The portal's writes: batched upserts of the records a sync or download
//! delivered (moving a record whose key the portal corrected), and the
//! withdrawals of records it no longer reports as passed.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use learning_core::portal::{is_former_key, may_hold_former_key};
use learning_core::write::{Change, Guard, Plan, Writer, plan_write};
use learning_core::{AgencyCode, FromPortal, NaturalKey, Source};
use tracing::{debug, instrument};

use crate::error::is_condition_failure;
use crate::items::{Item, course_prefix, key_item, n, person_pk, record_attributes, s, text};
use crate::records::{
    BATCH_GET_MAX, Condition, Existing, bookkeeping, item_key, refused, stored_from_item,
};
use crate::{Store, StoreError};

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

/// A record the portal wrote under a former key of one it sends again.
struct Former {
    key: NaturalKey,
    agency: AgencyCode,
    version: u64,
}

/// Former-key lookups (one small Query each) in flight per chunk.
const LOOKUPS_IN_FLIGHT: usize = 16;

impl Store {
    /// Writes records the portal delivered (automatic import or download).
    ///
    /// Keys repeated in `records` are written once (the last one wins).
    /// Each chunk of 100 is read first so that identical records cost no
    /// write and the counts are exact, then its changed records are written;
    /// chunks run concurrently, so reading one overlaps writing another. A
    /// staff-entered record with the same natural key is replaced by the
    /// portal's version (see docs/design.md). A record the portal wrote under a
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
                let (change, guard, version) =
                    match plan_write(Writer::Portal, record, old.map(Existing::held)) {
                        Plan::Write {
                            change,
                            guard,
                            version,
                        } => (change, guard, version),
                        Plan::Keep { .. } => {
                            counts.count(&record.org_code, |c| c.unchanged += 1);
                            continue;
                        }
                        // The portal's write is never refused but at the
                        // last version a record can reach.
                        Plan::Refuse(refusal) => return Err(refused(refusal)),
                    };
                let created_at = old.map_or(now, |old| old.created_at.as_str());
                bookkeeping(&mut item, source, version, created_at, now, written_by);
                let read_early =
                    early.contains(&(record.changed_date, record.org_code.to_string()));
                if old.is_some_and(|old| old.portal_id.as_deref() == Some(from.id.as_str()))
                    || !may_hold_former_key(record, read_early)
                {
                    // The portal's record already lives at this key, or
                    // was never read before: no former key to look for.
                    // A batch write takes no condition: the portal is the
                    // authority, its record replaces whatever came between.
                    counts.note(&record.org_code, change, record.key());
                    writes.push(item);
                } else {
                    looked_up.push((*from, item, change, guard));
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
            for ((from, item, change, guard), formers) in looked_up.into_iter().zip(formers) {
                if formers.is_empty() {
                    counts.note(&from.record.org_code, change, from.record.key());
                    writes.push(item);
                } else {
                    moves.push((from, item, change, guard, formers));
                }
            }
            self.write_all(writes).await?;
            pending = Vec::new();
            for (from, item, change, guard, formers) in moves {
                if self
                    .move_record(from, item, &guard, &formers, attempt)
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
    /// transaction, each write conditioned on what was read (the plan's
    /// `guard` at the new key). False when another writer came
    /// first: the record is to be decided again. Idempotent: the SDK's
    /// retry of a transaction whose answer was lost is answered as the
    /// first (the token names the attempt, so a decision made again is a
    /// new transaction).
    async fn move_record(
        &self,
        from: &FromPortal,
        item: Item,
        guard: &Guard,
        formers: &[Former],
        attempt: u32,
    ) -> Result<bool, StoreError> {
        let build = |e| StoreError::build("TransactWriteItems", e);
        let condition = Condition::from(guard);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression(condition.expression)
            .set_expression_attribute_names(condition.names)
            .set_expression_attribute_values(condition.values);
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
}
