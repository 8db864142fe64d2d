//! The tests' own view of what the table must hold: the simulator's
//! truth, the table read with a plain Scan, and the comparison.

use super::*;

/// The natural key as the simulator writes it.
pub type Key = (String, String, u32, String);

/// What WebHR should hold after syncing `days` with the portal as it stands
/// on `as_of`: each day's changes applied in order, passed records kept,
/// each portal record (by its `record_id`) under its latest key only.
pub fn truth(
    portal: &Portal,
    days: impl Iterator<Item = NaiveDate>,
    as_of: NaiveDate,
) -> BTreeMap<Key, String> {
    let mut held = BTreeMap::new();
    let mut held_under: BTreeMap<String, Key> = BTreeMap::new();
    for d in days {
        for record in portal.generator().changes_on(d, as_of) {
            // A record the portal sends invalid is refused, in every
            // version (the simulator's dirty records stay dirty).
            if !valid(&record) {
                continue;
            }
            // A later version replaces the earlier, whatever its key.
            if let Some(former) = held_under.remove(&record.record_id) {
                held.remove(&former);
            }
            if record.is_passed() {
                held.insert(record.key(), record.total_hours.clone());
                held_under.insert(record.record_id.clone(), record.key());
            }
        }
    }
    held
}

/// Whether the sync should accept a record the simulator serves: every
/// one but those the simulator made defective on purpose (known from
/// the making, not asked of the product's own checks).
pub fn valid(record: &portal_sim::WireRecord) -> bool {
    record.defect.is_none()
}

/// A record the simulator serves, as the portal client reads it.
pub fn raw(record: &portal_sim::WireRecord) -> learning_core::RawRecord {
    let text = |value: serde_json::Value| match value {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let fields = serde_json::to_value(record)
        .expect("a record serializes")
        .as_object()
        .expect("an object")
        .clone()
        .into_iter()
        .map(|(name, value)| (name, serde_json::Value::String(text(value))))
        .collect::<serde_json::Map<_, _>>();
    serde_json::from_value::<learning_core::RawRecord>(fields.into())
        .expect("the portal's fields are a record's")
}

/// Every training record in the table as key → total hours, read with a
/// plain Scan so the test does not trust the store's own reading code.
pub async fn stored(store: &Store) -> BTreeMap<Key, String> {
    let text = |item: &Item, name: &str| match item.get(name) {
        Some(AttributeValue::S(v) | AttributeValue::N(v)) => v.clone(),
        _ => String::new(),
    };
    record_items(store)
        .await
        .iter()
        .map(|item| {
            let hours =
                learning_core::Hours::parse(&text(item, "total_hours")).expect("stored hours");
            let term = text(item, "term").parse().expect("term");
            let key = (
                text(item, "id_no"),
                text(item, "course_code"),
                term,
                text(item, "start_date"),
            );
            (key, hours.to_string())
        })
        .collect()
}

/// Asserts two record sets are equal; on failure names the difference by
/// count and masked key, never printing a full national ID.
pub fn assert_same_records(got: &BTreeMap<Key, String>, want: &BTreeMap<Key, String>) {
    let mask = |k: &Key| format!("{}**** {} {} {}", &k.0[..6.min(k.0.len())], k.1, k.2, k.3);
    let missing: Vec<String> = want
        .keys()
        .filter(|k| !got.contains_key(*k))
        .map(mask)
        .collect();
    let extra: Vec<String> = got
        .keys()
        .filter(|k| !want.contains_key(*k))
        .map(mask)
        .collect();
    let differ: Vec<String> = want
        .iter()
        .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
        .map(|(k, _)| mask(k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differ.is_empty(),
        "{} records: {} missing {:?}, {} unexpected {:?}, {} with other hours {:?}",
        want.len(),
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(5).collect::<Vec<_>>(),
        differ.len(),
        differ.iter().take(5).collect::<Vec<_>>(),
    );
}

pub type Item = std::collections::HashMap<String, AttributeValue>;

/// All items of the table (records, log, state) in key order, by Scan.
pub async fn all_items(store: &Store) -> Vec<Item> {
    let mut items: Vec<Item> = store
        .client()
        .scan()
        .table_name(store.table())
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("scan");
    let key = |item: &Item, name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    items.sort_by_cached_key(|item| (key(item, "pk"), key(item, "sk")));
    items
}

/// The training-record items only.
pub async fn record_items(store: &Store) -> Vec<Item> {
    let mut items = all_items(store).await;
    items.retain(|item| {
        item.get("entity")
            .and_then(|v| v.as_s().ok())
            .is_some_and(|e| e == "record")
    });
    items
}

/// What importing `bytes` (all valid rows) must leave in the table.
pub fn expected_records(bytes: &[u8]) -> BTreeMap<Key, String> {
    let agency = learning_core::AgencyCode::parse(AGENCY).expect("agency");
    csv_import::open(bytes, csv_cutoff(), agency)
        .expect("a readable file")
        .map(|row| match row.expect("a row") {
            csv_import::RowOutcome::Accepted(r) => (
                (
                    r.id_no.as_str().to_string(),
                    r.course_code.clone(),
                    r.term,
                    r.start_date.to_string(),
                ),
                r.total_hours.to_string(),
            ),
            csv_import::RowOutcome::Rejected(r) => panic!("generated rows are valid: {}", r.code),
        })
        .collect()
}

/// Records as the portal would send them, each with an identity of its
/// own that follows from its key (the same record, the same identity).
pub fn from_portal(records: &[learning_core::TrainingRecord]) -> Vec<learning_core::FromPortal> {
    records
        .iter()
        .map(|record| {
            let key = record.key();
            let hash = learning_core::hash::fnv1a(&[
                key.id_no.as_str(),
                &key.course_code,
                &key.term.to_string(),
                &key.start_date.to_string(),
            ]);
            learning_core::FromPortal {
                id: learning_core::PortalId::parse(&format!("T{hash:016x}")).expect("plain"),
                record: record.clone(),
            }
        })
        .collect()
}
