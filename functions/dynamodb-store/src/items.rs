//! Keys and attribute conversions.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use learning_core::record::{LearningStatus, RawRecord};
use learning_core::{NationalId, NaturalKey, TrainingRecord};

use crate::StoreError;

pub type Item = HashMap<String, AttributeValue>;

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
    format!("REC#{}#{:04}#{}", key.course_code, key.term, key.start_date)
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

/// Stable fingerprint of a record's content (FNV-1a over its fields), so an
/// unchanged record is recognised without reading it whole.
pub fn fingerprint(record: &TrainingRecord) -> String {
    let status = match &record.status {
        LearningStatus::Passed => "passed".to_string(),
        LearningStatus::NotPassed(other) => other.clone(),
    };
    let fields = [
        record.id_no.as_str().to_string(),
        record.name.clone(),
        record.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        record.org_code.to_string(),
        record.org_name.clone(),
        record.course_code.clone(),
        record.course_name.clone(),
        record.category_code.clone(),
        record.provider.clone(),
        record.term.to_string(),
        record.start_date.to_string(),
        record.end_date.to_string(),
        record.mode.number().to_string(),
        record.digital_hours.to_string(),
        record.physical_hours.to_string(),
        record.total_hours.to_string(),
        status,
        record
            .passed_date
            .map(|d| d.to_string())
            .unwrap_or_default(),
        record.changed_date.to_string(),
    ];
    format!("{:016x}", learning_core::import_log::fnv1a(&fields))
}

/// The record's own attributes (no keys, no bookkeeping).
pub fn record_attributes(record: &TrainingRecord) -> Item {
    let mut item = Item::with_capacity(32);
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_string(), value);
    };
    put("id_no", s(record.id_no.as_str()));
    put("name", s(&record.name));
    if let Some(birth) = record.birth_date {
        put("birth_date", s(birth.to_string()));
    }
    put("org_code", s(record.org_code.as_str()));
    put("org_name", s(&record.org_name));
    put("course_code", s(&record.course_code));
    put("course_name", s(&record.course_name));
    if !record.category_code.is_empty() {
        put("category_code", s(&record.category_code));
    }
    if !record.provider.is_empty() {
        put("provider", s(&record.provider));
    }
    put("term", n(record.term));
    put("start_date", s(record.start_date.to_string()));
    put("end_date", s(record.end_date.to_string()));
    put("mode", n(record.mode.number()));
    put("digital_hours", n(record.digital_hours));
    put("physical_hours", n(record.physical_hours));
    put("total_hours", n(record.total_hours));
    put(
        "status",
        s(match &record.status {
            LearningStatus::Passed => "passed",
            LearningStatus::NotPassed(other) => other,
        }),
    );
    if let Some(passed) = record.passed_date {
        put("passed_date", s(passed.to_string()));
    }
    put("changed_date", s(record.changed_date.to_string()));
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
    put("fingerprint", s(fingerprint(record)));
    item
}

/// Reads a record back, through the same validation as any input: a stored
/// item that would not pass it is reported, never served half-read.
pub fn record_from_item(item: &Item) -> Result<TrainingRecord, StoreError> {
    let t = |name: &str| text(item, name).unwrap_or_default();
    let raw = RawRecord {
        id_no: t("id_no"),
        name: t("name"),
        birth_date: t("birth_date"),
        org_code: t("org_code"),
        org_name: t("org_name"),
        course_code: t("course_code"),
        course_name: t("course_name"),
        category_code: t("category_code"),
        provider: t("provider"),
        term: t("term"),
        start_date: t("start_date"),
        end_date: t("end_date"),
        mode: t("mode"),
        digital_hours: t("digital_hours"),
        physical_hours: t("physical_hours"),
        total_hours: t("total_hours"),
        status: t("status"),
        passed_date: t("passed_date"),
        changed_date: t("changed_date"),
    };
    raw.validate().map_err(|problems| StoreError::Corrupt {
        key: describe_key(item),
        detail: problems
            .iter()
            .map(|p| p.code)
            .collect::<Vec<_>>()
            .join(", "),
    })
}
