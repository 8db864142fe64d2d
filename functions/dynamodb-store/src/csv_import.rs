//! CSV imports: each record written with its own condition, one write
//! unit each, many at once — new records as PartiQL `INSERT`s, 25 to a
//! `BatchExecuteStatement` (an `INSERT` fails where the key exists), the
//! rare replacements as conditional puts (the lock, the version and the
//! agency in the condition). A record remembers which import wrote it and what that import
//! did (`written_by`, `written_as`), so an import that replays rows after a
//! crash counts them exactly as the first time: counts stay exact without
//! a transaction per batch.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, BatchStatementErrorCodeEnum, BatchStatementRequest};
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use learning_core::import_log::RejectedRow;
use learning_core::write::{Change, Guard, Plan, Refusal, Writer, plan_write};
use learning_core::{AgencyCode, Source, TrainingRecord};

use crate::import_log::log_pk;
use crate::items::{
    Item, describe_key, item, key_item, n, number, person_pk, record_attributes, record_sk, s, text,
};
use crate::records::{Condition, Existing, bookkeeping, refused};
use crate::{Store, StoreError};

/// How long refused rows are kept: as long as the bucket keeps the
/// reports (`template.yaml`'s lifecycle rule for `reports/`).
pub const REJECTED_ROWS_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(400);

/// Records per call to [`Store::write_csv_records`]: one BatchGetItem
/// reads them all (at most 100 keys).
pub const MAX_BATCH_RECORDS: usize = 99;

/// Writes in flight per call: single puts, or batches of inserts.
const PUTS_IN_FLIGHT: usize = 16;

/// Statements per `BatchExecuteStatement`, DynamoDB's limit.
const STATEMENTS_PER_BATCH: usize = 25;

/// Times a record that moved under its put is read and decided again.
const MAX_REPLANS: u32 = 5;

/// What a CSV row's record does to the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvOutcome {
    Inserted,
    Updated,
    /// Replaced a record staff typed in by hand.
    ReplacedStaff,
    Unchanged,
    /// A different version came from the portal (automatic import or
    /// download) and is locked: the row is refused.
    Locked(Source),
    /// The key holds another agency's record (this one's): the row is
    /// refused, that record left alone, and the claim kept as a dispute.
    OtherAgency(AgencyCode),
}

impl From<Change> for CsvOutcome {
    /// What a row's write did (a CSV row inserts, updates or replaces a
    /// staff record).
    fn from(change: Change) -> CsvOutcome {
        match change {
            Change::Inserted => CsvOutcome::Inserted,
            Change::ReplacedStaff => CsvOutcome::ReplacedStaff,
            _ => CsvOutcome::Updated,
        }
    }
}

fn rejection_sk(line: u64) -> String {
    format!("REJ#{line:012}")
}

/// One record's decided write: the item, and what must still hold when
/// it lands.
struct Put {
    index: usize,
    item: Item,
    guard: Guard,
}

/// A row's outcome, and the item to put under its guard when it writes.
type Decision = (CsvOutcome, Option<(Item, Guard)>);

/// A record's outcome from what the table holds for its key, by the write
/// rule (`learning_core::write`): CSV rows replace the same agency's
/// earlier CSV imports and staff-entered records, never a locked portal
/// record and never another agency's.
fn decide(
    record: &TrainingRecord,
    old: Option<&Existing>,
    written_by: &str,
    now: &str,
) -> Result<Decision, StoreError> {
    let writer = Writer::Csv { import: written_by };
    let (change, guard, version) = match plan_write(writer, record, old.map(Existing::held)) {
        Plan::Write {
            change,
            guard,
            version,
        } => (change, guard, version),
        Plan::Keep { replayed } => {
            let outcome = replayed.map_or(CsvOutcome::Unchanged, CsvOutcome::from);
            return Ok((outcome, None));
        }
        Plan::Refuse(Refusal::Locked(source)) => return Ok((CsvOutcome::Locked(source), None)),
        Plan::Refuse(Refusal::OtherAgency(holder)) => {
            let holder = AgencyCode::parse(&holder).map_err(|_| StoreError::Corrupt {
                key: describe_key(&key_item(&record.key())),
                detail: "org_code".into(),
            })?;
            return Ok((CsvOutcome::OtherAgency(holder), None));
        }
        Plan::Refuse(refusal) => return Err(refused(refusal)),
    };
    let mut item = record_attributes(record);
    let created_at = old.map_or(now, |old| old.created_at.as_str());
    bookkeeping(
        &mut item,
        Source::CsvImport,
        version,
        created_at,
        now,
        written_by,
    );
    item.insert("written_as".into(), s(change.as_str()));
    Ok((CsvOutcome::from(change), Some((item, guard))))
}

impl Store {
    /// After a CSV write failed: waits and returns `Ok` when it is worth
    /// another try — throttled, a 5xx or a lost connection, after the
    /// SDK's own retries (this write is one of thousands, so it tries
    /// longer than the SDK does; a write that took effect before its answer
    /// was lost fails its condition next time and is found then).
    async fn again_after<E>(
        &self,
        operation: &'static str,
        error: SdkError<E, HttpResponse>,
        attempt: &mut u32,
        remaining: usize,
    ) -> Result<(), StoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let throttled = error
            .as_service_error()
            .is_some_and(|e| is_throttling(e.code()));
        let transient = throttled
            || match &error {
                SdkError::ServiceError(e) => e.raw().status().is_server_error(),
                SdkError::DispatchFailure(_)
                | SdkError::TimeoutError(_)
                | SdkError::ResponseError(_) => true,
                _ => false,
            };
        if !transient {
            return Err(StoreError::sdk(operation, error));
        }
        match self.retry.again(attempt, operation, remaining).await {
            Ok(()) => Ok(()),
            Err(exhausted) if throttled => Err(exhausted),
            Err(_) => Err(StoreError::sdk(operation, error)),
        }
    }
}

fn is_throttling(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
        )
    )
}

impl Store {
    /// Writes the records of CSV rows (distinct keys, at most
    /// [`MAX_BATCH_RECORDS`]) for the import `written_by`; returns each
    /// one's outcome, in order. Idempotent: called again with the same
    /// records (after a crash) it writes nothing twice and answers the
    /// same outcomes. `RecordsChanged` means records kept moving under
    /// their puts.
    pub async fn write_csv_records(
        &self,
        records: &[TrainingRecord],
        written_by: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<CsvOutcome>, StoreError> {
        let now = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut outcomes = vec![CsvOutcome::Unchanged; records.len()];
        let mut pending: Vec<usize> = (0..records.len()).collect();
        for _ in 0..MAX_REPLANS {
            let existing = self
                .read_existing(pending.iter().map(|&i| records[i].key()))
                .await?;
            let mut puts = Vec::new();
            for &index in &pending {
                let record = &records[index];
                let key = record.key();
                let old = existing.get(&(person_pk(&key.id_no), record_sk(&key)));
                let (outcome, put) = decide(record, old, written_by, &now)?;
                outcomes[index] = outcome;
                if let Some((item, guard)) = put {
                    puts.push(Put { index, item, guard });
                }
            }
            let (inserts, replacements): (Vec<Put>, Vec<Put>) =
                puts.into_iter().partition(|put| put.guard == Guard::Free);
            let mut inserts = inserts.into_iter().peekable();
            let mut batches = Vec::new();
            while inserts.peek().is_some() {
                batches.push(
                    inserts
                        .by_ref()
                        .take(STATEMENTS_PER_BATCH)
                        .collect::<Vec<_>>(),
                );
            }
            let inserted = stream::iter(batches)
                .map(|batch| self.insert_csv_records(batch))
                .buffer_unordered(PUTS_IN_FLIGHT);
            let replaced = stream::iter(replacements)
                .map(|put| async move { Ok(self.put_csv_record(put).await?.into_iter().collect()) })
                .buffer_unordered(PUTS_IN_FLIGHT);
            let moved: Vec<Vec<usize>> = inserted
                .chain(replaced)
                .collect::<Vec<Result<Vec<usize>, StoreError>>>()
                .await
                .into_iter()
                .collect::<Result<_, _>>()?;
            pending = moved.into_iter().flatten().collect();
            if pending.is_empty() {
                return Ok(outcomes);
            }
            pending.sort_unstable();
        }
        Err(StoreError::RecordsChanged)
    }

    /// New records, one `INSERT` each in one `BatchExecuteStatement`;
    /// statements throttled (or failed on the server's side) are sent again
    /// after a backoff. Returns the records whose key exists by now.
    async fn insert_csv_records(&self, batch: Vec<Put>) -> Result<Vec<usize>, StoreError> {
        let mut pending: Vec<(usize, BatchStatementRequest)> = batch
            .into_iter()
            .map(|put| Ok((put.index, self.insert_statement(put.item)?)))
            .collect::<Result<_, StoreError>>()?;
        let mut taken = Vec::new();
        let mut attempt = 0;
        loop {
            let output = match self
                .client
                .batch_execute_statement()
                .set_statements(Some(pending.iter().map(|(_, s)| s.clone()).collect()))
                .send()
                .await
            {
                Ok(output) => output,
                Err(error) => {
                    self.again_after("BatchExecuteStatement", error, &mut attempt, pending.len())
                        .await?;
                    continue;
                }
            };
            let mut again = Vec::new();
            for ((index, statement), response) in pending.into_iter().zip(output.responses()) {
                let Some(error) = response.error() else {
                    continue;
                };
                match error.code() {
                    Some(
                        BatchStatementErrorCodeEnum::DuplicateItem
                        | BatchStatementErrorCodeEnum::ConditionalCheckFailed,
                    ) => taken.push(index),
                    Some(
                        BatchStatementErrorCodeEnum::ProvisionedThroughputExceeded
                        | BatchStatementErrorCodeEnum::ThrottlingError
                        | BatchStatementErrorCodeEnum::RequestLimitExceeded
                        | BatchStatementErrorCodeEnum::InternalServerError
                        | BatchStatementErrorCodeEnum::TransactionConflict,
                    ) => again.push((index, statement)),
                    code => {
                        return Err(StoreError::Sdk {
                            operation: "BatchExecuteStatement",
                            message: format!(
                                "{}: {}",
                                code.map_or("?", |c| c.as_str()),
                                error.message().unwrap_or_default()
                            ),
                            source: None,
                        });
                    }
                }
            }
            if again.is_empty() {
                return Ok(taken);
            }
            self.retry
                .again(&mut attempt, "BatchExecuteStatement", again.len())
                .await?;
            pending = again;
        }
    }

    /// `INSERT INTO "table" VALUE {'a': ?, …}` with the item's values.
    fn insert_statement(&self, item: Item) -> Result<BatchStatementRequest, StoreError> {
        let mut attributes: Vec<(String, AttributeValue)> = item.into_iter().collect();
        attributes.sort_by(|a, b| a.0.cmp(&b.0));
        let names: Vec<String> = attributes
            .iter()
            .map(|(name, _)| format!("'{name}': ?"))
            .collect();
        BatchStatementRequest::builder()
            .statement(format!(
                "INSERT INTO \"{}\" VALUE {{{}}}",
                self.table,
                names.join(", ")
            ))
            .set_parameters(Some(attributes.into_iter().map(|(_, v)| v).collect()))
            .build()
            .map_err(|e| StoreError::build("BatchExecuteStatement", e))
    }

    /// One conditional put, retried while throttled; `Some(index)` when
    /// the record moved since it was read.
    async fn put_csv_record(&self, put: Put) -> Result<Option<usize>, StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item.clone()));
        // For a replacement the agency is in the condition too: a record
        // another agency took over since it was read is never overwritten.
        let condition = Condition::from(&put.guard);
        let request = request
            .condition_expression(condition.expression)
            .set_expression_attribute_names(condition.names)
            .set_expression_attribute_values(condition.values);
        let mut attempt = 0;
        loop {
            let error = match request.clone().send().await {
                Ok(_) => return Ok(None),
                Err(error) => error,
            };
            if let Some(PutItemError::ConditionalCheckFailedException(_)) = error.as_service_error()
            {
                return Ok(Some(put.index));
            }
            // Throttled, a 5xx or a lost connection, after the SDK's own
            // retries: this write is one of thousands, so it tries longer
            // than the SDK does. A put that took effect before its answer
            // was lost fails its condition next time and is found then.
            self.again_after("PutItem", error, &mut attempt, 1).await?;
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
        let items: Vec<Item> = rows
            .iter()
            .map(|row| {
                let mut item: Item = item([
                    ("pk", s(log_pk(log_id))),
                    ("sk", s(rejection_sk(row.line))),
                    ("entity", s("rejected_row")),
                    ("line", n(row.line)),
                    ("value", s(&row.value)),
                    ("code", s(&row.code)),
                    ("message", s(&row.message)),
                    ("ttl", n(expires)),
                ]);
                if let Some(column) = &row.column {
                    item.insert("column".into(), s(column));
                }
                item
            })
            .collect();
        self.write_all(items).await
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
        let item: Item = item([
            ("pk", s(upload_pk(bucket, key))),
            ("sk", s("LATEST")),
            ("entity", s("upload")),
            ("log_id", s(log_id)),
        ]);
        self.put(item).await
    }
}

fn upload_pk(bucket: &str, key: &str) -> String {
    format!("UPLOAD#{bucket}/{key}")
}
