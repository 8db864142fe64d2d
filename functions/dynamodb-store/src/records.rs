//! Training records as the table keeps them: the stored record and its
//! bookkeeping, what a write reads of an existing one, a plan's guard as
//! a condition, and the batch reads and writes every writer shares. The
//! writers are `portal_writes`, `staff_writes` and `csv_import`; the
//! reads `record_reads`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use learning_core::write::{Change, Guard, Held, Refusal};
use learning_core::{NationalId, NaturalKey, Source, TrainingRecord};

use crate::items::{Item, describe_key, key_item, n, number, record_from_item, s, text};
use crate::{Store, StoreError};

/// DynamoDB's limits per batch call.
pub(crate) const BATCH_GET_MAX: usize = 100;
const BATCH_WRITE_MAX: usize = 25;

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
    pub(crate) source: Source,
    pub(crate) version: u64,
    pub(crate) created_at: String,
    /// The import that wrote it, and what that import did (CSV imports
    /// only), so an import replaying its own rows counts them as before.
    pub(crate) written_by: String,
    pub(crate) written_as: Option<Change>,
    /// The portal's identity of the record, for a record the portal wrote.
    pub(crate) portal_id: Option<String>,
}

impl Existing {
    /// As the write rule reads it.
    pub(crate) fn held(&self) -> Held<'_> {
        Held {
            agency: &self.org_code,
            source: self.source,
            version: self.version,
            fingerprint: &self.fingerprint,
            written_by: &self.written_by,
            written_as: self.written_as,
        }
    }
}

impl StoredRecord {
    /// As the write rule reads it, for staff and administrators (whose
    /// rules never compare content, so the fingerprint is not read).
    pub fn held(&self) -> Held<'_> {
        Held {
            agency: self.record.org_code.as_str(),
            source: self.source,
            version: self.version,
            fingerprint: "",
            written_by: &self.written_by,
            written_as: None,
        }
    }
}

/// A plan's guard as the write's condition: its expression, names and
/// values (set whole on any put or delete builder).
pub(crate) struct Condition {
    pub(crate) expression: &'static str,
    pub(crate) names: Option<HashMap<String, String>>,
    pub(crate) values: Option<HashMap<String, AttributeValue>>,
}

impl From<&Guard> for Condition {
    fn from(guard: &Guard) -> Condition {
        let locked = || {
            Some(HashMap::from([(
                "#locked".to_string(),
                "locked".to_string(),
            )]))
        };
        let values = |pairs: Vec<(&str, AttributeValue)>| Some(crate::items::item(pairs));
        match guard {
            Guard::Free => Condition {
                expression: "attribute_not_exists(pk)",
                names: None,
                values: None,
            },
            Guard::Version(version) => Condition {
                expression: "version = :expected",
                names: None,
                values: values(vec![(":expected", n(*version))]),
            },
            Guard::Unlocked { agency, version } => Condition {
                expression: "attribute_exists(pk) AND #locked = :false AND version = :expected AND org_code = :agency",
                names: locked(),
                values: values(vec![
                    (":false", AttributeValue::Bool(false)),
                    (":expected", n(*version)),
                    (":agency", s(agency.as_str())),
                ]),
            },
            Guard::Locked(version) => Condition {
                expression: "attribute_exists(pk) AND #locked = :true AND version = :expected",
                names: locked(),
                values: values(vec![
                    (":true", AttributeValue::Bool(true)),
                    (":expected", n(*version)),
                ]),
            },
        }
    }
}

/// A refusal as staff and administrators are told it: another agency's
/// record as a missing one.
pub(crate) fn refused(refusal: Refusal) -> StoreError {
    match refusal {
        Refusal::Missing | Refusal::OtherAgency(_) => StoreError::NotFound,
        Refusal::Locked(_) => StoreError::Locked,
        Refusal::Taken => StoreError::AlreadyExists,
        Refusal::Stale { current } => StoreError::VersionMismatch { current },
        Refusal::NotLocked => StoreError::NotLocked,
    }
}

/// An item's table key.
pub(crate) fn item_key(item: &Item) -> (String, String) {
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

pub(crate) fn stored_from_item(item: &Item) -> Result<StoredRecord, StoreError> {
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

impl Store {
    /// What the table holds at `keys` (at most 100), by table key.
    pub(crate) async fn read_existing(
        &self,
        keys: impl Iterator<Item = NaturalKey>,
    ) -> Result<HashMap<(String, String), Existing>, StoreError> {
        let keys = keys.map(|key| key_item(&key)).collect();
        let projection = "pk, sk, fingerprint, org_code, #source, version, created_at, written_by, written_as, portal_id";
        let items = self.batch_get(keys, Some(projection), false).await?;
        items
            .iter()
            .map(|item| {
                let existing = Existing {
                    fingerprint: text(item, "fingerprint").unwrap_or_default(),
                    org_code: text(item, "org_code").unwrap_or_default(),
                    source: text(item, "source")
                        .as_deref()
                        .and_then(Source::parse)
                        .ok_or_else(|| StoreError::Corrupt {
                            key: describe_key(item),
                            detail: "source".into(),
                        })?,
                    version: number(item, "version").unwrap_or(0),
                    created_at: text(item, "created_at").unwrap_or_default(),
                    written_by: text(item, "written_by").unwrap_or_default(),
                    written_as: text(item, "written_as").as_deref().and_then(Change::parse),
                    portal_id: text(item, "portal_id"),
                };
                Ok((item_key(item), existing))
            })
            .collect()
    }

    /// The items of `keys` (at most 100) that exist, in no order: one
    /// BatchGetItem, its unprocessed keys asked again with backoff.
    /// `projection` may name `#source` (for `source`).
    pub(crate) async fn batch_get(
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
}
