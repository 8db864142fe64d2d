//! Keys and attribute conversions.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use learning_core::record::{Field, RawRecord};
use learning_core::{NationalId, NaturalKey, TrainingRecord};

use crate::StoreError;

pub type Item = HashMap<String, AttributeValue>;

/// An item (or a map of values) from its attributes' names and values.
pub fn item<'a>(attributes: impl IntoIterator<Item = (&'a str, AttributeValue)>) -> Item {
    attributes
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn person_pk(id: &NationalId) -> String {
    format!("PERSON#{}", id.as_str())
}

pub fn record_sk(key: &NaturalKey) -> String {
    format!(
        "{}{:04}#{}",
        course_prefix(&key.course_code),
        key.term,
        key.start_date
    )
}

/// What the sort keys of one person's records of one course begin with.
pub fn course_prefix(course_code: &str) -> String {
    format!("REC#{course_code}#")
}

pub fn key_item(key: &NaturalKey) -> Item {
    HashMap::from([
        ("pk".to_string(), s(person_pk(&key.id_no))),
        ("sk".to_string(), s(record_sk(key))),
    ])
}

/// The text of an attribute, whether stored as S or N.
pub fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name)? {
        AttributeValue::S(v) | AttributeValue::N(v) => Some(v.clone()),
        _ => None,
    }
}

pub fn number(item: &Item, name: &str) -> Option<u64> {
    text(item, name)?.parse().ok()
}

pub fn describe_key(item: &Item) -> String {
    // The person part of a key is a national ID: mask it.
    let pk = text(item, "pk").unwrap_or_default();
    let pk = match pk
        .strip_prefix("PERSON#")
        .and_then(|id| NationalId::parse(id).ok())
    {
        Some(id) => format!("PERSON#{}", id.masked()),
        None => pk,
    };
    format!("{pk} / {}", text(item, "sk").unwrap_or_default())
}

/// The record's own attributes (no bookkeeping): each field's canonical
/// text, numbers as N, absent values left out; then the keys.
pub fn record_attributes(record: &TrainingRecord) -> Item {
    let mut item = Item::with_capacity(32);
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_string(), value);
    };
    for field in Field::ALL {
        let text = record.text(field);
        if text.is_empty() {
            continue;
        }
        let text = text.into_owned();
        put(
            field.id(),
            if field.is_number() {
                AttributeValue::N(text)
            } else {
                AttributeValue::S(text)
            },
        );
    }
    let key = record.key();
    put("pk", s(person_pk(&key.id_no)));
    put("sk", s(record_sk(&key)));
    put("gsi1pk", s(format!("AGENCY#{}", record.org_code)));
    put(
        "gsi1sk",
        s(format!(
            "{}#{}#{}#{:04}#{}",
            record.passed_date.unwrap_or(record.changed_date),
            key.id_no.as_str(),
            key.course_code,
            key.term,
            key.start_date
        )),
    );
    put("fingerprint", s(record.fingerprint()));
    item
}

/// Reads a record back, through the same validation as any input: a stored
/// item that would not pass it is reported, never served half-read.
pub fn record_from_item(item: &Item) -> Result<TrainingRecord, StoreError> {
    let raw = RawRecord::from_fn(|field| text(item, field.id()).unwrap_or_default());
    raw.validate().map_err(|problems| StoreError::Corrupt {
        key: describe_key(item),
        detail: problems
            .iter()
            .map(|p| p.code)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TrainingRecord {
        RawRecord {
            id_no: "A123456789",
            name: "測試員",
            birth_date: "0750412",
            org_code: "376550000A",
            org_name: "範例市政府人事處",
            course_code: "C1",
            course_name: "性別主流化基礎課程",
            category_code: "3A",
            provider: "e等公務園+",
            term: "1",
            start_date: "1140901",
            end_date: "1140930",
            mode: "1",
            digital_hours: "2",
            physical_hours: "0",
            total_hours: "2",
            status: "通過",
            passed_date: "1140918",
            changed_date: "1140919",
        }
        .validate()
        .expect("a valid record")
    }

    #[test]
    fn attributes_are_canonical_text_numbers_as_n_absent_left_out() {
        let mut record = record();
        record.birth_date = None;
        record.provider.clear();
        let item = record_attributes(&record);
        assert_eq!(item["start_date"], s("2025-09-01"));
        assert_eq!(item["status"], s("passed"));
        assert_eq!(item["term"], AttributeValue::N("1".into()));
        assert_eq!(item["total_hours"], AttributeValue::N("2.0".into()));
        assert!(!item.contains_key("birth_date") && !item.contains_key("provider"));
        assert_eq!(record_from_item(&item).expect("reads back"), record);
    }
}
