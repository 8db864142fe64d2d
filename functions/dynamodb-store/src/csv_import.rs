//! CSV imports: rows written in transactions that also advance the
//! import's log entry, so a crash or a timeout can never leave rows
//! written but uncounted (or counted but unwritten), and the lock is
//! enforced by conditions on every record.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use learning_core::import_log::{CsvImportEntry, LogEntry, RejectedRow};
use learning_core::{Source, TrainingRecord};

use crate::import_log::{log_item, log_pk};
use crate::items::{Item, n, number, record_attributes, s, text};
use crate::records::bookkeeping;
use crate::{Store, StoreError};

/// How long refused rows are kept: as long as the bucket keeps the
/// reports (`template.yaml`'s lifecycle rule for `reports/`).
pub const REJECTED_ROWS_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(400);

/// DynamoDB allows 100 actions per transaction; one is the log entry.
pub const MAX_BATCH_RECORDS: usize = 99;

/// What a CSV row's record does to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvOutcome {
    Inserted,
    Updated,
    /// Replaced a record staff typed in by hand.
    ReplacedStaff,
    Unchanged,
    /// A different version came from the portal (automatic import or
    /// download) and is locked: the row is refused.
    Locked(Source),
    /// The key holds another agency's record: the row is refused and
    /// that record left alone.
    OtherAgency,
}

/// The writes of one batch, decided from what the table held when read.
#[derive(Debug, Default)]
pub struct CsvBatchPlan {
    /// One per record, in order.
    pub outcomes: Vec<CsvOutcome>,
    /// Items to put, each with the version it expects to replace (of its
    /// own agency).
    puts: Vec<(Item, Option<u64>)>,
}

fn rejection_sk(line: u64) -> String {
    format!("REJ#{line:012}")
}

impl Store {
    /// Reads the stored versions of `records` (distinct keys) and decides
    /// each one's outcome. CSV rows replace the same agency's earlier CSV
    /// imports and staff-entered records, never a locked portal record and
    /// never another agency's record.
    pub async fn plan_csv_batch(
        &self,
        records: &[TrainingRecord],
        written_by: &str,
        now: DateTime<Utc>,
    ) -> Result<CsvBatchPlan, StoreError> {
        let refs: Vec<&TrainingRecord> = records.iter().collect();
        let existing = self.read_existing(&refs).await?;
        let now = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut plan = CsvBatchPlan::default();
        for record in records {
            let mut item = record_attributes(record);
            let key = (
                text(&item, "pk").unwrap_or_default(),
                text(&item, "sk").unwrap_or_default(),
            );
            let (outcome, expected, version, created_at) = match existing.get(&key) {
                Some(old) if old.org_code != record.org_code.as_str() => {
                    plan.outcomes.push(CsvOutcome::OtherAgency);
                    continue;
                }
                Some(old) if old.fingerprint == text(&item, "fingerprint").unwrap_or_default() => {
                    plan.outcomes.push(CsvOutcome::Unchanged);
                    continue;
                }
                Some(old) => match Source::parse(&old.source) {
                    Some(source) if source.is_locked() => {
                        plan.outcomes.push(CsvOutcome::Locked(source));
                        continue;
                    }
                    source => (
                        if source == Some(Source::StaffEntered) {
                            CsvOutcome::ReplacedStaff
                        } else {
                            CsvOutcome::Updated
                        },
                        Some(old.version),
                        old.version + 1,
                        old.created_at.clone(),
                    ),
                },
                None => (CsvOutcome::Inserted, None, 1, now.clone()),
            };
            bookkeeping(
                &mut item,
                Source::CsvImport,
                version,
                &created_at,
                &now,
                written_by,
            );
            plan.outcomes.push(outcome);
            plan.puts.push((item, expected));
        }
        Ok(plan)
    }

    /// Writes a planned batch and the import's entry (its counts already
    /// including the batch) in one transaction. `RecordsChanged` means a
    /// record moved since it was read: plan the batch again.
    /// `ImportTakenOver` means another invocation advanced the entry.
    pub async fn commit_csv_batch(
        &self,
        plan: &CsvBatchPlan,
        entry: &CsvImportEntry,
    ) -> Result<(), StoreError> {
        let mut actions = Vec::with_capacity(plan.puts.len() + 1);
        for (item, expected) in &plan.puts {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item.clone()));
            let put = match expected {
                None => put.condition_expression("attribute_not_exists(pk)"),
                // The agency in the condition too: a record another agency
                // took over since it was read is never overwritten.
                Some(version) => put
                    .condition_expression(
                        "#locked = :false AND #version = :version AND org_code = :agency",
                    )
                    .expression_attribute_names("#locked", "locked")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":false", AttributeValue::Bool(false))
                    .expression_attribute_values(":version", n(*version))
                    .expression_attribute_values(
                        ":agency",
                        item.get("org_code").cloned().unwrap_or_else(|| s("")),
                    ),
            };
            actions.push(put);
        }
        actions.push(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(log_item(&LogEntry::CsvImport(Box::new(
                    entry.clone(),
                )))?))
                .condition_expression("#seq = :previous")
                .expression_attribute_names("#seq", "seq")
                .expression_attribute_values(":previous", n(entry.seq.saturating_sub(1))),
        );
        let actions: Vec<TransactWriteItem> = actions
            .into_iter()
            .map(|put| {
                put.build()
                    .map(|put| TransactWriteItem::builder().put(put).build())
                    .map_err(|e| StoreError::Sdk {
                        operation: "TransactWriteItems",
                        message: e.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        let log_index = actions.len() - 1;
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions.clone()))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                error.as_service_error()
            else {
                return Err(StoreError::sdk("TransactWriteItems", error));
            };
            let failed = |index: usize| {
                cancelled
                    .cancellation_reasons()
                    .get(index)
                    .and_then(|r| r.code())
                    == Some("ConditionalCheckFailed")
            };
            if failed(log_index) {
                return Err(StoreError::ImportTakenOver {
                    log_id: entry.log_id.clone(),
                });
            }
            if (0..log_index).any(failed) {
                return Err(StoreError::RecordsChanged);
            }
            // Throttled or in conflict with another transaction: again.
            self.retry
                .again(&mut attempt, "TransactWriteItems", actions.len())
                .await?;
        }
    }

    /// Stores refused rows under the import's entry. Keyed by line, so
    /// writing a row again (after a crash) changes nothing.
    pub async fn put_rejections(
        &self,
        log_id: &str,
        rows: &[RejectedRow],
    ) -> Result<(), StoreError> {
        // DynamoDB deletes them (TTL) when the report in S3 expires too.
        let expires = (chrono::Utc::now() + REJECTED_ROWS_KEPT).timestamp().max(0) as u64;
        let mut items: Vec<Item> = rows
            .iter()
            .map(|row| {
                let mut item: Item = [
                    ("pk", s(log_pk(log_id))),
                    ("sk", s(rejection_sk(row.line))),
                    ("entity", s("rejected_row")),
                    ("line", n(row.line)),
                    ("value", s(&row.value)),
                    ("code", s(&row.code)),
                    ("message", s(&row.message)),
                    ("ttl", n(expires)),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                if let Some(column) = &row.column {
                    item.insert("column".into(), s(column));
                }
                item
            })
            .collect();
        while !items.is_empty() {
            let rest = items.split_off(items.len().min(crate::records::BATCH_WRITE_MAX));
            self.write_batch(std::mem::replace(&mut items, rest))
                .await?;
        }
        Ok(())
    }

    /// Refused rows in line order, one page (up to 1 MB) at a time: pass
    /// the returned line to get the next page; `None` when done.
    pub async fn rejections_page(
        &self,
        log_id: &str,
        after_line: Option<u64>,
    ) -> Result<(Vec<RejectedRow>, Option<u64>), StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(log_pk(log_id)))
            .expression_attribute_values(
                ":from",
                s(rejection_sk(after_line.map_or(0, |line| line + 1))),
            )
            .expression_attribute_values(":to", s(rejection_sk(999_999_999_999)))
            .send()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        let rows: Vec<RejectedRow> = output
            .items()
            .iter()
            .map(|item| RejectedRow {
                line: number(item, "line").unwrap_or_default(),
                column: text(item, "column"),
                value: text(item, "value").unwrap_or_default(),
                code: text(item, "code").unwrap_or_default(),
                message: text(item, "message").unwrap_or_default(),
            })
            .collect();
        let next = output
            .last_evaluated_key()
            .and(rows.last())
            .map(|row| row.line);
        Ok((rows, next))
    }

    /// The latest import of `bucket`/`key`, so a re-upload is logged as
    /// such.
    pub async fn latest_import(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let item = self.get(upload_pk(bucket, key), "LATEST".into()).await?;
        Ok(item.as_ref().and_then(|item| text(item, "log_id")))
    }

    pub async fn set_latest_import(
        &self,
        bucket: &str,
        key: &str,
        log_id: &str,
    ) -> Result<(), StoreError> {
        let item: Item = [
            ("pk", s(upload_pk(bucket, key))),
            ("sk", s("LATEST")),
            ("entity", s("upload")),
            ("log_id", s(log_id)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.put(item).await
    }
}

fn upload_pk(bucket: &str, key: &str) -> String {
    format!("UPLOAD#{bucket}/{key}")
}
