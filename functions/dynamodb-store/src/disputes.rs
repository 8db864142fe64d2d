//! Disputes: keys one agency holds that another agency tried to write
//! (the ownership rule, `learning_core::ownership`). The write was refused;
//! the claim waits here, beside the person's records, for an administrator
//! to keep the holder's record or give the key to the claimant.
//!
//! One item per key and claimant (`PERSON#<id>` / `DISPUTE#<course>#<term>#
//! <start>#<claimant>`), so a file uploaded again or a create retried adds
//! no second dispute; all of them are listed through `gsi1` (`DISPUTES`,
//! newest first).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use learning_core::import_log::{LogEntry, SettlementEntry};
use learning_core::{AgencyCode, NaturalKey, Source, TrainingRecord};

use learning_core::write::{Plan, Refusal, Writer, plan_write};

use crate::items::{Item, person_pk, record_attributes, s, text};
use crate::records::{Condition, bookkeeping};
use crate::{Store, StoreError, StoredRecord};

const PARTITION: &str = "DISPUTES";

/// A claim on a key another agency holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    /// The agency that wrote and was refused.
    pub claimant: AgencyCode,
    /// The agency whose record held the key at the last claim.
    pub holder: AgencyCode,
    /// The record the claimant meant to write (its key is the dispute's).
    pub claimed: TrainingRecord,
    /// How: `csv_import` or `staff_entered`.
    pub via: Source,
    /// The import's log id, or the staff member.
    pub by: String,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

impl Dispute {
    pub fn key(&self) -> NaturalKey {
        self.claimed.key()
    }
}

/// Where a dispute lives: its table key, as one string the API seals into
/// the dispute's handle.
pub fn dispute_position(key: &NaturalKey, claimant: &AgencyCode) -> String {
    format!("{}\n{}", person_pk(&key.id_no), dispute_sk(key, claimant))
}

fn dispute_sk(key: &NaturalKey, claimant: &AgencyCode) -> String {
    format!(
        "DISPUTE#{}#{:04}#{}#{claimant}",
        key.course_code, key.term, key.start_date
    )
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn dispute_from_item(item: &Item) -> Result<Dispute, StoreError> {
    let corrupt = |detail: &str| StoreError::Corrupt {
        key: crate::items::describe_key(item),
        detail: detail.to_string(),
    };
    let agency = |name: &str| {
        text(item, name)
            .and_then(|a| AgencyCode::parse(&a).ok())
            .ok_or_else(|| corrupt(name))
    };
    let time = |name: &str| {
        text(item, name)
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| corrupt(name))
    };
    Ok(Dispute {
        claimant: agency("claimant")?,
        holder: agency("holder")?,
        claimed: text(item, "claimed")
            .and_then(|c| serde_json::from_str(&c).ok())
            .ok_or_else(|| corrupt("claimed"))?,
        via: text(item, "via")
            .as_deref()
            .and_then(Source::parse)
            .ok_or_else(|| corrupt("via"))?,
        by: text(item, "by").unwrap_or_default(),
        first_at: time("first_at")?,
        last_at: time("last_at")?,
    })
}

/// What an administrator decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The holder keeps its record; the claim is dropped.
    Keep,
    /// The claimant's record replaces the holder's (never a locked one:
    /// a portal record is corrected at the portal).
    Transfer,
}

impl Store {
    /// Keeps (or refreshes) the claim of `dispute.claimant` on a key
    /// `dispute.holder` holds. Idempotent: one item per key and claimant,
    /// its first claim's time kept.
    pub async fn put_dispute(&self, dispute: &Dispute) -> Result<(), StoreError> {
        let key = dispute.key();
        let claimed = serde_json::to_string(&dispute.claimed).map_err(|e| StoreError::Corrupt {
            key: "dispute".into(),
            detail: e.to_string(),
        })?;
        let sk = dispute_sk(&key, &dispute.claimant);
        let first = timestamp(dispute.first_at);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(person_pk(&key.id_no)))
            .key("sk", s(&sk))
            .update_expression(
                "SET entity = :entity, claimant = :claimant, holder = :holder, claimed = :claimed, \
                 via = :via, #by = :by, last_at = :last, first_at = if_not_exists(first_at, :first), \
                 gsi1pk = :partition, gsi1sk = if_not_exists(gsi1sk, :order)",
            )
            .expression_attribute_names("#by", "by")
            .expression_attribute_values(":entity", s("dispute"))
            .expression_attribute_values(":claimant", s(dispute.claimant.as_str()))
            .expression_attribute_values(":holder", s(dispute.holder.as_str()))
            .expression_attribute_values(":claimed", s(claimed))
            .expression_attribute_values(":via", s(dispute.via.as_str()))
            .expression_attribute_values(":by", s(&dispute.by))
            .expression_attribute_values(":last", s(timestamp(dispute.last_at)))
            .expression_attribute_values(":first", s(&first))
            .expression_attribute_values(":partition", s(PARTITION))
            .expression_attribute_values(":order", s(format!("{first}#{sk}")))
            .send()
            .await
            .map_err(|e| StoreError::sdk("UpdateItem", e))?;
        Ok(())
    }

    /// A page of open disputes, newest first, and where the next starts
    /// (an opaque position; `None` on the last page).
    pub async fn disputes(
        &self,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<Dispute>, Option<String>), StoreError> {
        let start = match after {
            None => None,
            Some(position) => {
                let mut parts = position.splitn(3, '\n');
                let (Some(order), Some(pk), Some(sk)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(StoreError::InvalidCursor);
                };
                Some(HashMap::from([
                    ("gsi1pk".to_string(), s(PARTITION)),
                    ("gsi1sk".to_string(), s(order)),
                    ("pk".to_string(), s(pk)),
                    ("sk".to_string(), s(sk)),
                ]))
            }
        };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(crate::table::GSI1)
            .key_condition_expression("gsi1pk = :partition")
            .expression_attribute_values(":partition", s(PARTITION))
            .scan_index_forward(false)
            .limit(limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        let disputes = output
            .items()
            .iter()
            .map(dispute_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next = output.last_evaluated_key().map(|key| {
            ["gsi1sk", "pk", "sk"]
                .map(|name| text(key, name).unwrap_or_default())
                .join("\n")
        });
        Ok((disputes, next))
    }

    /// The dispute at `position` ([`dispute_position`]).
    pub async fn get_dispute(&self, position: &str) -> Result<Option<Dispute>, StoreError> {
        let Some((pk, sk)) = position.split_once('\n') else {
            return Ok(None);
        };
        if !pk.starts_with("PERSON#") || !sk.starts_with("DISPUTE#") {
            return Ok(None);
        }
        self.get(pk.to_string(), sk.to_string())
            .await?
            .as_ref()
            .map(dispute_from_item)
            .transpose()
    }

    /// Settles a dispute as an administrator decided, in one transaction:
    /// the claim goes, the settlement's log entry comes, and for a
    /// transfer the claimant's record replaces
    /// the holder's — only if that record is still the holder's, unlocked
    /// and at `holder_version` (as read), so nothing that moved meanwhile
    /// is overwritten.
    pub async fn settle_dispute(
        &self,
        dispute: &Dispute,
        settlement: Settlement,
        holder_version: u64,
        entry: &SettlementEntry,
    ) -> Result<(), StoreError> {
        let build = |e| StoreError::build("TransactWriteItems", e);
        let key = dispute.key();
        let claim = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(person_pk(&key.id_no)))
            .key("sk", s(dispute_sk(&key, &dispute.claimant)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(build)?;
        let log = LogEntry::Settlement(Box::new(entry.clone()));
        let logged = Put::builder()
            .table_name(&self.table)
            .set_item(Some(crate::import_log::log_item(&log)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build)?;
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(claim).build())
            .transact_items(TransactWriteItem::builder().put(logged).build());
        if settlement == Settlement::Transfer {
            let now = timestamp(entry.started_at);
            let current = self.get_record(&key).await?;
            let writer = Writer::Transfer {
                holder: &dispute.holder,
                expected: holder_version,
            };
            let (guard, version) = match plan_write(
                writer,
                &dispute.claimed,
                current.as_ref().map(StoredRecord::held),
            ) {
                Plan::Write { guard, version, .. } => (guard, version),
                Plan::Refuse(refusal) => return Err(transfer_refused(refusal, current)),
                Plan::Keep { .. } => return Err(StoreError::AlreadyExists),
            };
            let created_at = current.map(|c| c.created_at).unwrap_or_default();
            let mut item = record_attributes(&dispute.claimed);
            bookkeeping(
                &mut item,
                dispute.via,
                version,
                &created_at,
                &now,
                &entry.log_id,
            );
            let condition = Condition::from(&guard);
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition.expression)
                .set_expression_attribute_names(condition.names)
                .set_expression_attribute_values(condition.values)
                .build()
                .map_err(build)?;
            request = request.transact_items(TransactWriteItem::builder().put(put).build());
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                let claim = self
                    .get_dispute(&dispute_position(&key, &dispute.claimant))
                    .await?;
                let current = self.get_record(&key).await?;
                if claim.is_none() {
                    return Err(StoreError::NotFound);
                }
                let writer = Writer::Transfer {
                    holder: &dispute.holder,
                    expected: holder_version,
                };
                let held = current.as_ref().map(StoredRecord::held);
                Err(match plan_write(writer, &dispute.claimed, held) {
                    Plan::Refuse(refusal) => transfer_refused(refusal, current),
                    _ => StoreError::VersionMismatch {
                        current: current.map_or(0, |c| c.version),
                    },
                })
            }
            Err(e) => Err(StoreError::sdk("TransactWriteItems", e)),
        }
    }
}

/// A transfer refused: the holder's record gone is not found, locked is
/// locked, and moved on (another version, or another agency's by now)
/// is stale.
fn transfer_refused(refusal: Refusal, current: Option<StoredRecord>) -> StoreError {
    match refusal {
        Refusal::Missing => StoreError::NotFound,
        Refusal::Locked(_) => StoreError::Locked,
        _ => StoreError::VersionMismatch {
            current: current.map_or(0, |c| c.version),
        },
    }
}
