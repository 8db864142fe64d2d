//! A portal answer applied to the table: the one path by which the
//! portal's records reach WebHR, for the nightly sync (one day, every
//! agency) and for a download (a window, one agency).
//!
//! Each record the portal sent is validated; a passed one is written as a
//! locked record, one no longer passed withdraws the record WebHR holds,
//! an invalid one (or one changed outside the days asked for) is refused
//! and listed with the national ID masked. Everything is counted per
//! agency: staff see their agency's counts, administrators the totals.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use dynamodb_store::{Change, Store, StoreError};
use learning_core::import_log::{MAX_LISTED_FAILURES, RecordFailure, SyncCounts};
use learning_core::national_id::mask_raw_id;
use learning_core::{AgencyCode, FromPortal, NaturalKey, Problem, Source, TrainingRecord};
use portal_client::PortalRecord;

/// Where an answer's counts put records without a valid agency code.
pub const UNKNOWN_AGENCY: &str = "?";

/// What an answer was asked for, and how its records are written.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    /// The days asked for (inclusive): a record changed on another day is
    /// refused.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The one agency asked for (a download): other agencies' records are
    /// skipped and only its records withdrawn.
    pub agency: Option<&'a AgencyCode>,
    /// `AutoImport` or `Download`.
    pub source: Source,
    /// The import-log entry that writes them.
    pub log_id: &'a str,
}

/// What applying an answer did.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Each agency's counts ([`UNKNOWN_AGENCY`] for records without a valid
    /// code).
    pub agency_counts: BTreeMap<String, SyncCounts>,
    /// Passed records per agency.
    pub agencies: BTreeMap<String, u64>,
    /// The first [`MAX_LISTED_FAILURES`] refused records.
    pub failures: Vec<RecordFailure>,
    /// The contents of the records refused for the first time (a record
    /// refused before with the same content is counted `skipped`).
    pub newly_refused: Vec<String>,
    /// The passed records written (or already so), in the answer's order.
    pub passed: Vec<TrainingRecord>,
}

impl Applied {
    /// Every agency's counts added up.
    pub fn total(&self) -> SyncCounts {
        let mut total = SyncCounts::default();
        for counts in self.agency_counts.values() {
            total += *counts;
        }
        total
    }
}

/// Validates, writes and withdraws the records of one answer, and lists
/// each record's change under `asked.log_id` for its agency's staff.
/// `refused_before` holds the contents refused on an earlier read.
pub async fn apply_answer(
    store: &Store,
    raw: &[PortalRecord],
    asked: Asked<'_>,
    refused_before: &HashSet<String>,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    let mut applied = Applied::default();
    let mut passed = Vec::with_capacity(raw.len());
    let mut withdrawn: BTreeMap<String, Vec<FromPortal>> = BTreeMap::new();
    for (index, fetched) in raw.iter().enumerate() {
        // A record not of the API's shape is refused as any invalid one:
        // listed, counted, and the answer applied without it.
        let (id_no, org_code, checked, content) = match fetched {
            Ok(fetched) => (
                &fetched.raw.id_no,
                &fetched.raw.org_code,
                fetched.raw.validate().map(|record| FromPortal {
                    id: fetched.id.clone(),
                    record,
                }),
                fetched.raw.content_hash(),
            ),
            Err(unreadable) => (
                &unreadable.id_no,
                &unreadable.org_code,
                Err(vec![unreadable.problem.clone()]),
                unreadable.content_hash,
            ),
        };
        let agency = AgencyCode::parse(org_code).ok();
        let key = agency
            .as_ref()
            .map_or(UNKNOWN_AGENCY.to_string(), AgencyCode::to_string);
        let counts = applied.agency_counts.entry(key.clone()).or_default();
        counts.fetched += 1;
        let problems = match checked {
            // Another agency's record is not this download's to judge.
            Ok(valid) if asked.agency.is_some_and(|a| a != &valid.record.org_code) => {
                counts.skipped += 1;
                continue;
            }
            Ok(valid) if !(asked.from..=asked.to).contains(&valid.record.changed_date) => {
                vec![outside(&valid.record, &asked)]
            }
            Ok(valid) if valid.record.status.is_passed() => {
                *applied.agencies.entry(key).or_default() += 1;
                passed.push(valid);
                continue;
            }
            Ok(valid) => {
                withdrawn.entry(key).or_default().push(valid);
                continue;
            }
            Err(problems) => problems,
        };
        let content = format!("{content:016x}");
        if refused_before.contains(&content) {
            counts.skipped += 1;
            continue;
        }
        applied.newly_refused.push(content);
        counts.failed += 1;
        if applied.failures.len() < MAX_LISTED_FAILURES {
            let mut failure =
                RecordFailure::new(index as u64 + 1, mask_raw_id(id_no), &problems[0]);
            failure.agency = agency.map(|a| a.to_string());
            failure.message = problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("；");
            applied.failures.push(failure);
        }
    }

    let written = store
        .upsert_portal_records(&passed, asked.source, asked.log_id, now)
        .await?;
    // What the answer did to each agency's records, record by record.
    let mut changes: BTreeMap<String, Vec<(Change, NaturalKey)>> = BTreeMap::new();
    for (agency, change, key) in written.changed {
        changes
            .entry(agency.to_string())
            .or_default()
            .push((change, key));
    }
    for (agency, records) in &withdrawn {
        let removed = store.withdraw(records, asked.agency).await?;
        let counts = applied.agency_counts.entry(agency.clone()).or_default();
        let withdrew = removed.iter().filter(|keys| !keys.is_empty()).count();
        counts.withdrawn = withdrew as u64;
        // Not held by WebHR (or staff's own): nothing to remove.
        counts.skipped += (records.len() - withdrew) as u64;
        changes.entry(agency.clone()).or_default().extend(
            removed
                .into_iter()
                .flatten()
                .map(|key| (Change::Withdrawn, key)),
        );
    }
    for (agency, changed) in &changes {
        store
            .put_changes(asked.log_id, agency, changed, now)
            .await?;
    }
    for (agency, counts) in &mut applied.agency_counts {
        let done = written.by_agency.get(agency).copied().unwrap_or_default();
        counts.inserted = done.inserted;
        counts.updated = done.updated;
        counts.replaced_staff = done.replaced_staff;
        counts.unchanged = done.unchanged;
        // A key repeated within the answer is written once.
        counts.skipped += applied.agencies.get(agency).copied().unwrap_or(0) - done.total();
    }
    applied.passed = passed.into_iter().map(|from| from.record).collect();
    Ok(applied)
}

/// The refusal of a record changed on a day not asked for.
fn outside(record: &TrainingRecord, asked: &Asked<'_>) -> Problem {
    let changed = record.changed_date;
    let message = if asked.from == asked.to {
        format!("異動日期 {changed} 不是查詢日 {}", asked.from)
    } else {
        format!(
            "異動日期 {changed} 不在查詢期間 {} 至 {}",
            asked.from, asked.to
        )
    };
    Problem::new("changed_date_mismatch", message).in_field("changed_date")
}
