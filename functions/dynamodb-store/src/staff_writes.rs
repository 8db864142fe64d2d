//! Staff's writes under the lock (create, edit, delete) and an
//! administrator's removal of a locked record: each planned by
//! `learning_core::write` on what the table holds, and put under the
//! plan's guard.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use learning_core::write::{Deleter, Plan, Refusal, Writer, plan_delete, plan_write};
use learning_core::{AgencyCode, NaturalKey, Source, TrainingRecord};

use crate::error::is_condition_failure;
use crate::items::{key_item, record_attributes};
use crate::records::{Condition, bookkeeping, refused, stored_from_item};
use crate::{Store, StoreError, StoredRecord};

impl Store {
    /// Creates a record staff typed in. Refused when any record (a portal
    /// one included) already has its natural key.
    pub async fn create_staff_record(
        &self,
        record: &TrainingRecord,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredRecord, StoreError> {
        self.staff_write(Writer::StaffNew, record, by, now).await
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
        let writer = Writer::Staff {
            agency,
            expected: expected_version,
        };
        self.staff_write(writer, record, by, now).await
    }

    /// One staff write: planned on what the table holds, put under the
    /// plan's guard; when the guard fails the record moved, and the plan
    /// made on what the table then holds says why.
    async fn staff_write(
        &self,
        writer: Writer<'_>,
        record: &TrainingRecord,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredRecord, StoreError> {
        let key = record.key();
        let now = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        // A create over a held key is answered the same whoever holds it.
        let refused = |refusal| match (writer, refusal) {
            (Writer::StaffNew, Refusal::OtherAgency(_)) => StoreError::AlreadyExists,
            (_, refusal) => refused(refusal),
        };
        let current = self.get_record(&key).await?;
        let (guard, version) =
            match plan_write(writer, record, current.as_ref().map(StoredRecord::held)) {
                Plan::Write { guard, version, .. } => (guard, version),
                Plan::Refuse(refusal) => return Err(refused(refusal)),
                // Only imports keep what is there: staff writes are
                // planned as writes or refused.
                Plan::Keep { .. } => return Err(StoreError::AlreadyExists),
            };
        // A staff edit keeps the record's source (a CSV record stays one).
        let (source, created_at) = current.map_or((Source::StaffEntered, now.clone()), |c| {
            (c.source, c.created_at)
        });
        let mut item = record_attributes(record);
        bookkeeping(&mut item, source, version, &created_at, &now, by);
        let condition = Condition::from(&guard);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression(condition.expression)
            .set_expression_attribute_names(condition.names)
            .set_expression_attribute_values(condition.values)
            .send()
            .await;
        match result {
            Ok(_) => stored_from_item(&item),
            Err(e) if is_condition_failure(&e) => {
                let now_held = self.get_record(&key).await?;
                Err(
                    match plan_write(writer, record, now_held.as_ref().map(StoredRecord::held)) {
                        Plan::Refuse(refusal) => refused(refusal),
                        // Moved and back between two reads: stale all the same.
                        _ => StoreError::VersionMismatch {
                            current: now_held.map_or(0, |held| held.version),
                        },
                    },
                )
            }
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
        let deleter = Deleter::Staff {
            agency,
            expected: expected_version,
        };
        let current = self.get_record(key).await?;
        let guard =
            plan_delete(deleter, current.as_ref().map(StoredRecord::held)).map_err(refused)?;
        let condition = Condition::from(&guard);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .condition_expression(condition.expression)
            .set_expression_attribute_names(condition.names)
            .set_expression_attribute_values(condition.values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(self.why_not_deleted(key, deleter).await?),
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
        let deleter = Deleter::Removal {
            expected: expected_version,
        };
        let current = self.get_record(key).await?;
        let guard =
            plan_delete(deleter, current.as_ref().map(StoredRecord::held)).map_err(refused)?;
        let condition = Condition::from(&guard);
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .condition_expression(condition.expression)
            .set_expression_attribute_names(condition.names)
            .set_expression_attribute_values(condition.values)
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
                Err(self.why_not_deleted(key, deleter).await?)
            }
            Err(e) => Err(StoreError::sdk("TransactWriteItems", e)),
        }
    }

    /// After the database refused a delete: the rule's reason on what the
    /// table holds now.
    async fn why_not_deleted(
        &self,
        key: &NaturalKey,
        deleter: Deleter<'_>,
    ) -> Result<StoreError, StoreError> {
        let current = self.get_record(key).await?;
        Ok(
            match plan_delete(deleter, current.as_ref().map(StoredRecord::held)) {
                Err(refusal) => refused(refusal),
                // Moved and back between two reads: stale all the same.
                Ok(_) => StoreError::VersionMismatch {
                    current: current.map_or(0, |held| held.version),
                },
            },
        )
    }
}
