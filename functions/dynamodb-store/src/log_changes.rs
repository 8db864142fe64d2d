//! What a night or a download did, record by record, kept beside its
//! log entry: the changes per agency, and the keys a download returned
//! (so it can be answered again).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use crate::import_log::log_pk;
use crate::items::{Item, item, n, s};
use crate::{Change, Store, StoreError};

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

impl Store {
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
        let item: Item = item([
            ("pk", s(log_pk(log_id))),
            ("sk", s(DOWNLOADED)),
            ("entity", s("download_keys")),
            ("keys", AttributeValue::L(listed)),
            ("ttl", n(expires.timestamp().max(0))),
        ]);
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
                item([
                    ("pk", s(log_pk(log_id))),
                    ("sk", s(format!("{CHANGES}{agency}#{page:04}"))),
                    ("entity", s("log_changes")),
                    ("changes", AttributeValue::L(listed)),
                    ("ttl", n(expires)),
                ])
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
}
