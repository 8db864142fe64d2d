//! One import, from the event to the final log entry.
//!
//! A parser thread reads the object as it downloads and hands over batches
//! of at most 99 checked rows; each batch is written in one transaction
//! together with the import's log entry (its counts and position), so the
//! entry is also the checkpoint. When the invocation's time runs short the
//! import stops after a batch, releases the entry and leaves a
//! continuation object whose creation starts a fresh invocation, which
//! re-reads the file up to the checkpoint (checking, not writing, so the
//! duplicate check sees every row) and carries on.

use std::time::Duration;

use aws_lambda_events::event::s3::S3Event;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{NaiveDate, Utc};
use dynamodb_store::{CsvBatchPlan, CsvOutcome, MAX_BATCH_RECORDS, Store, StoreError};
use learning_core::import_log::{
    CsvImportEntry, ErrorSummary, RejectedRow, RunStatus, UploadedFile,
};
use learning_core::national_id::mask_raw_id;
use learning_core::{AgencyCode, Source, TrainingRecord};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::event::{CONTINUATIONS, Job, agency_of, continuation_key, jobs};
use crate::rows::{RowOutcome, open};
use crate::source::{self, Replaced};
use crate::{Encoding, FileProblem, ImportConfig, ImportError, report, s3_error};

/// Rows per batch at most, so a file of refused rows still checkpoints.
const MAX_BATCH_ROWS: u64 = 1_000;
/// Invocations in a row without a committed batch before an import is
/// declared stuck (a guard against a continuation loop).
const MAX_STALLED: u32 = 3;
/// Attempts to write a batch whose records moved under it.
const MAX_REPLANS: u32 = 5;

/// What an invocation did with one job (also its answer to Lambda).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Handled {
    /// The import is over (succeeded, partial or failed): its final entry.
    Finished(Box<CsvImportEntry>),
    /// Time ran short: the entry is checkpointed and a continuation left.
    Continued(Box<CsvImportEntry>),
    /// Nothing to do: already imported, or another invocation holds it.
    Skipped {
        log_id: String,
        reason: &'static str,
    },
}

/// Checked rows handed from the parser thread.
#[derive(Default)]
struct Batch {
    records: Vec<TrainingRecord>,
    lines: Vec<u64>,
    rejections: Vec<RejectedRow>,
    rows: u64,
    bytes: u64,
}

enum Piece {
    Opened(Encoding),
    Refused(FileProblem),
    Batch(Batch),
    Broken(String),
}

enum Stop {
    End,
    Refused(FileProblem),
    OutOfTime,
}

pub struct Importer {
    store: Store,
    s3: aws_sdk_s3::Client,
    cutoff: NaiveDate,
    max_bytes: u64,
    max_rejected: u64,
    reserve: Duration,
}

impl Importer {
    pub fn new(store: Store, s3: aws_sdk_s3::Client, config: &ImportConfig) -> Self {
        Importer {
            store,
            s3,
            cutoff: config.settings.csv_cutoff,
            max_bytes: config.settings.csv_max_bytes,
            max_rejected: config.settings.csv_max_rejected,
            reserve: config.reserve,
        }
    }

    /// Does what an S3 event asks, one record after the other. An error
    /// is an infrastructure failure: the event should be delivered again.
    pub async fn handle(
        &self,
        event: &S3Event,
        invocation: &str,
        deadline: Instant,
    ) -> Result<Vec<Handled>, ImportError> {
        let mut handled = Vec::new();
        for job in jobs(event) {
            handled.push(self.run(job, invocation, deadline).await?);
        }
        Ok(handled)
    }

    pub async fn run(
        &self,
        job: Job,
        invocation: &str,
        deadline: Instant,
    ) -> Result<Handled, ImportError> {
        let claimed = match job {
            Job::Import(file) => self.claim(file, invocation, deadline).await?,
            Job::Continue { bucket, key } => {
                self.claim_continuation(&bucket, &key, invocation, deadline)
                    .await?
            }
        };
        let entry = match claimed {
            Ok(entry) => entry,
            Err(skipped) => return Ok(skipped),
        };
        match self.work(entry, deadline).await {
            Err(ImportError::Store(StoreError::ImportTakenOver { log_id })) => {
                Ok(Handled::Skipped {
                    log_id,
                    reason: "taken_over",
                })
            }
            other => other,
        }
    }

    /// Starts the import of an object version, or finds it started.
    async fn claim(
        &self,
        file: UploadedFile,
        invocation: &str,
        deadline: Instant,
    ) -> Result<Result<CsvImportEntry, Handled>, ImportError> {
        let log_id = file.log_id();
        if self.store.get_csv_log(&log_id).await?.is_some() {
            return self.take_over(&log_id, invocation, deadline).await;
        }
        let now = Utc::now();
        let agency = agency_of(&file.key).ok().map(|a| a.to_string());
        let mut entry = CsvImportEntry::start(file, agency, now);
        entry.previous = self
            .store
            .latest_import(&entry.file.bucket, &entry.file.key)
            .await?
            .filter(|previous| *previous != log_id);
        entry.seq = 1;
        hold(&mut entry, invocation, deadline);
        match self.store.put_csv_log(&entry).await {
            Ok(()) => {}
            // Another delivery created it a moment ago.
            Err(StoreError::ImportTakenOver { .. }) => {
                return self.take_over(&log_id, invocation, deadline).await;
            }
            Err(e) => return Err(e.into()),
        }
        self.store
            .set_latest_import(&entry.file.bucket, &entry.file.key, &log_id)
            .await?;
        info!(log_id, key = %entry.file.key, size = entry.file.size, "import started");
        Ok(Ok(entry))
    }

    async fn claim_continuation(
        &self,
        bucket: &str,
        key: &str,
        invocation: &str,
        deadline: Instant,
    ) -> Result<Result<CsvImportEntry, Handled>, ImportError> {
        // continuations/<import id>/<seq>.json
        let log_id = key
            .strip_prefix(CONTINUATIONS)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
            .to_string();
        let claimed = self.take_over(&log_id, invocation, deadline).await?;
        // The object has done its job either way.
        if let Err(e) = self.s3.delete_object().bucket(bucket).key(key).send().await {
            warn!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), key, "continuation not deleted");
        }
        Ok(claimed)
    }

    /// Takes over an existing import unless it is over or held.
    async fn take_over(
        &self,
        log_id: &str,
        invocation: &str,
        deadline: Instant,
    ) -> Result<Result<CsvImportEntry, Handled>, ImportError> {
        let skipped = |reason| {
            Err(Handled::Skipped {
                log_id: log_id.to_string(),
                reason,
            })
        };
        let Some(mut entry) = self.store.get_csv_log(log_id).await? else {
            return Ok(skipped("unknown_import"));
        };
        if entry.status.is_final() {
            info!(
                log_id,
                status = entry.status.as_str(),
                "already imported; delivery ignored"
            );
            return Ok(skipped("already_imported"));
        }
        let held = entry.lease_until.is_some_and(|until| until > Utc::now())
            && entry.lease_owner.as_deref() != Some(invocation);
        if held {
            info!(
                log_id,
                "another invocation holds the import; delivery ignored"
            );
            return Ok(skipped("in_progress"));
        }
        entry.seq += 1;
        entry.invocations += 1;
        hold(&mut entry, invocation, deadline);
        match self.store.put_csv_log(&entry).await {
            Ok(()) => {
                info!(
                    log_id,
                    rows_done = entry.counts.rows,
                    invocation = entry.invocations,
                    "import resumed"
                );
                Ok(Ok(entry))
            }
            Err(StoreError::ImportTakenOver { .. }) => Ok(skipped("in_progress")),
            Err(e) => Err(e.into()),
        }
    }

    async fn work(
        &self,
        mut entry: CsvImportEntry,
        deadline: Instant,
    ) -> Result<Handled, ImportError> {
        let agency = match agency_of(&entry.file.key) {
            Ok(agency) => agency,
            Err(problem) => return self.finish(entry, Some(problem)).await,
        };
        if entry.file.size > self.max_bytes {
            let problem = FileProblem::new(
                "file_too_large",
                format!(
                    "檔案 {} 超過上限 {}，未匯入任何資料；請分成較小的檔案或洽系統管理者",
                    size(entry.file.size),
                    size(self.max_bytes)
                ),
            );
            return self.finish(entry, Some(problem)).await;
        }
        let (reader, feeder) = match source::open(&self.s3, &entry.file).await? {
            Ok(opened) => opened,
            Err(Replaced) => {
                let problem = FileProblem::new(
                    "file_replaced",
                    "此版本的檔案已被刪除或覆蓋；新上傳的檔案會另行匯入",
                );
                return self.finish(entry, Some(problem)).await;
            }
        };
        let (tx, mut rx) = mpsc::channel(2);
        let skip = entry.counts.rows;
        let cutoff = self.cutoff;
        let parser = tokio::task::spawn_blocking(move || parse(reader, cutoff, agency, skip, &tx));
        let rows_before = entry.counts.rows;
        // Reading a batch's keys overlaps writing the one before: keys never
        // repeat across batches (a repeat is refused as a duplicate).
        let mut planned: Option<(Batch, CsvBatchPlan)> = None;
        let log_id = entry.log_id.clone();
        let stop = loop {
            match rx.recv().await {
                None => {
                    if let Some((batch, plan)) = planned.take()
                        && let Err(e) = self.commit(&mut entry, &batch, plan).await
                    {
                        break Err(e);
                    }
                    break Ok(Stop::End);
                }
                Some(Piece::Opened(encoding)) => {
                    entry.encoding = Some(encoding.label().to_string())
                }
                Some(Piece::Refused(problem)) if problem.code == "file_unreadable" => {
                    break Err(ImportError::Read(problem.message));
                }
                Some(Piece::Refused(problem)) => break Ok(Stop::Refused(problem)),
                Some(Piece::Broken(message)) => break Err(ImportError::Read(message)),
                Some(Piece::Batch(batch)) => {
                    let Some((previous, plan)) = planned.take() else {
                        match self.plan(&log_id, &batch).await {
                            Ok(plan) => planned = Some((batch, plan)),
                            Err(e) => break Err(e),
                        }
                        continue;
                    };
                    let (committed, next) = tokio::join!(
                        self.commit(&mut entry, &previous, plan),
                        self.plan(&log_id, &batch)
                    );
                    match committed.and(next) {
                        Ok(plan) => planned = Some((batch, plan)),
                        Err(e) => break Err(e),
                    }
                    if entry.counts.rejected >= self.max_rejected {
                        break Ok(Stop::Refused(self.too_many_rejections(&entry)));
                    }
                    // Time is checked after a commit, so every invocation
                    // moves the import on; the planned batch is read again
                    // by the next one.
                    if Instant::now() + self.reserve >= deadline {
                        break Ok(Stop::OutOfTime);
                    }
                }
            }
        };
        drop(rx);
        feeder.abort();
        let stop = match (stop, parser.await) {
            (Ok(Stop::End), Err(panicked)) => {
                Err(ImportError::Read(format!("解析程序意外中止：{panicked}")))
            }
            (stop, _) => stop,
        };
        let stop = match stop {
            Ok(stop) => stop,
            Err(e) => {
                // Let the retry (or another delivery) take over at once
                // rather than when this invocation's lease runs out.
                self.release(entry).await;
                return Err(e);
            }
        };
        match stop {
            Stop::End => self.finish(entry, None).await,
            Stop::Refused(problem) => self.finish(entry, Some(problem)).await,
            Stop::OutOfTime => self.pause(entry, rows_before).await,
        }
    }

    /// Why an import stopped early: so many rows refused that the file
    /// is not what the agency meant to send. What was imported stays.
    fn too_many_rejections(&self, entry: &CsvImportEntry) -> FileProblem {
        FileProblem::new(
            "too_many_rejections",
            format!(
                "已拒絕 {} 列，達上限 {} 列，匯入在第 {} 列後停止（已匯入 {} 筆）；請依拒絕清單修正檔案後重新上傳，已匯入的紀錄不會重複",
                entry.counts.rejected,
                self.max_rejected,
                entry.counts.rows,
                entry.counts.imported()
            ),
        )
    }

    /// Reads the stored versions of a batch's records; each record
    /// written will name the import (`written_by`).
    async fn plan(&self, log_id: &str, batch: &Batch) -> Result<CsvBatchPlan, ImportError> {
        Ok(self
            .store
            .plan_csv_batch(&batch.records, log_id, Utc::now())
            .await?)
    }

    /// Writes one planned batch and the entry that counts it, in one
    /// transaction; plans again if a record moved since it was read.
    async fn commit(
        &self,
        entry: &mut CsvImportEntry,
        batch: &Batch,
        mut plan: CsvBatchPlan,
    ) -> Result<(), ImportError> {
        let mut attempt = 0;
        loop {
            let mut next = entry.clone();
            next.seq += 1;
            next.counts.rows += batch.rows;
            next.bytes_done = batch.bytes;
            next.stalled = 0;
            let mut rejected = batch.rejections.clone();
            for ((outcome, record), line) in
                plan.outcomes.iter().zip(&batch.records).zip(&batch.lines)
            {
                match outcome {
                    CsvOutcome::Inserted => next.counts.inserted += 1,
                    CsvOutcome::Updated => next.counts.updated += 1,
                    CsvOutcome::ReplacedStaff => next.counts.replaced_staff += 1,
                    CsvOutcome::Unchanged => next.counts.unchanged += 1,
                    CsvOutcome::Locked(source) => rejected.push(locked_row(*line, record, *source)),
                    CsvOutcome::OtherAgency => rejected.push(other_agency_row(*line, record)),
                }
            }
            for row in &rejected {
                next.reject(&row.code);
            }
            self.store.put_rejections(&entry.log_id, &rejected).await?;
            match self.store.commit_csv_batch(&plan, &next).await {
                Ok(()) => {
                    *entry = next;
                    return Ok(());
                }
                Err(StoreError::RecordsChanged) if attempt < MAX_REPLANS => {
                    attempt += 1;
                    plan = self.plan(&entry.log_id, batch).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Gives the import up after a failure, keeping its checkpoint.
    async fn release(&self, mut entry: CsvImportEntry) {
        entry.seq += 1;
        entry.lease_owner = None;
        entry.lease_until = None;
        if let Err(e) = self.store.put_csv_log(&entry).await {
            warn!(error = %e, log_id = entry.log_id, "import not released; it is free when its lease ends");
        }
    }

    /// Releases the import and leaves a continuation for a fresh invocation.
    async fn pause(
        &self,
        mut entry: CsvImportEntry,
        rows_before: u64,
    ) -> Result<Handled, ImportError> {
        if entry.counts.rows == rows_before {
            entry.stalled += 1;
            if entry.stalled >= MAX_STALLED {
                let problem = FileProblem::new(
                    "import_stalled",
                    format!(
                        "連續 {MAX_STALLED} 次執行都未能寫入任何資料，匯入停止；請通知系統管理者"
                    ),
                );
                return self.finish(entry, Some(problem)).await;
            }
        }
        entry.seq += 1;
        entry.lease_owner = None;
        entry.lease_until = None;
        self.store.put_csv_log(&entry).await?;
        let key = continuation_key(&entry.log_id, entry.seq);
        let body = serde_json::json!({ "log_id": entry.log_id, "rows_done": entry.counts.rows });
        self.s3
            .put_object()
            .bucket(&entry.file.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(body.to_string().into_bytes()))
            .send()
            .await
            .map_err(|e| s3_error("PutObject", e))?;
        info!(
            log_id = entry.log_id,
            rows_done = entry.counts.rows,
            "time running short; continuing in a fresh invocation"
        );
        Ok(Handled::Continued(Box::new(entry)))
    }

    /// Closes the entry: status, error, report and summary.
    async fn finish(
        &self,
        mut entry: CsvImportEntry,
        problem: Option<FileProblem>,
    ) -> Result<Handled, ImportError> {
        let counts = entry.counts;
        entry.error = match problem {
            Some(problem) => Some(ErrorSummary::new(problem.code, problem.message)),
            None if counts.rows == 0 => Some(ErrorSummary::new(
                "file_no_rows",
                "檔案只有標題列，沒有任何資料列",
            )),
            None if counts.imported() == 0 => Some(ErrorSummary::new(
                "no_rows_imported",
                "所有資料列都未通過檢查，沒有匯入任何紀錄；請依拒絕清單修正後重新上傳",
            )),
            None => None,
        };
        entry.status = match (&entry.error, counts.rejected) {
            (Some(_), _) => RunStatus::Failed,
            (None, 0) => RunStatus::Succeeded,
            (None, _) => RunStatus::Partial,
        };
        entry.finished_at = Some(Utc::now());
        entry.lease_owner = None;
        entry.lease_until = None;
        entry.seq += 1;
        report::write(&self.s3, &self.store, &mut entry).await?;
        self.store.put_csv_log(&entry).await?;
        info!(
            log_id = entry.log_id,
            status = entry.status.as_str(),
            rows = counts.rows,
            inserted = counts.inserted,
            updated = counts.updated,
            unchanged = counts.unchanged,
            rejected = counts.rejected,
            error = entry.error.as_ref().map(|e| e.code.as_str()),
            "import finished"
        );
        Ok(Handled::Finished(Box::new(entry)))
    }
}

/// A size as staff read it: `181 KiB`, `256.0 MiB`.
fn size(bytes: u64) -> String {
    if bytes < 1024 * 1024 {
        format!("{} KiB", bytes.div_ceil(1024))
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

fn hold(entry: &mut CsvImportEntry, invocation: &str, deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    entry.lease_owner = Some(invocation.to_string());
    entry.lease_until = Some(Utc::now() + left);
}

fn locked_row(line: u64, record: &TrainingRecord, source: Source) -> RejectedRow {
    let how = match source {
        Source::Download => "學員通過認證名單下載",
        _ => "終身學習自動入檔",
    };
    RejectedRow {
        line,
        column: None,
        value: mask_raw_id(record.id_no.as_str()),
        code: "record_locked".to_string(),
        message: format!(
            "WebHR 已有此筆紀錄（由{how}匯入，已鎖定）且內容不同；CSV 不會覆蓋入口網的資料，如需更正請至終身學習入口網修改"
        ),
    }
}

fn other_agency_row(line: u64, record: &TrainingRecord) -> RejectedRow {
    RejectedRow {
        line,
        column: None,
        value: mask_raw_id(record.id_no.as_str()),
        code: "other_agency_record".to_string(),
        message: "WebHR 中此人員同一課程、期別與開課起始日期的紀錄屬於其他機關，CSV 不會取代；如人員已調任，請洽原服務機關或系統管理者"
            .to_string(),
    }
}

/// The parser thread: checks every row, skips the first `skip` (already
/// committed) and hands the rest over in batches.
fn parse(
    reader: source::ObjectReader,
    cutoff: NaiveDate,
    agency: AgencyCode,
    skip: u64,
    tx: &mpsc::Sender<Piece>,
) {
    let mut rows = match open(reader, cutoff, agency) {
        Ok(rows) => rows,
        Err(problem) => {
            let _ = tx.blocking_send(Piece::Refused(problem));
            return;
        }
    };
    if tx.blocking_send(Piece::Opened(rows.encoding)).is_err() {
        return;
    }
    let mut seen = 0u64;
    let mut batch = Batch::default();
    while let Some(outcome) = rows.next() {
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(problem) => {
                let _ = tx.blocking_send(Piece::Broken(problem.message));
                return;
            }
        };
        seen += 1;
        if seen <= skip {
            continue;
        }
        batch.rows += 1;
        match outcome {
            RowOutcome::Accepted(record) => {
                batch.records.push(*record);
                batch.lines.push(rows.line());
            }
            RowOutcome::Rejected(rejection) => batch.rejections.push(rejection.into()),
        }
        if batch.records.len() == MAX_BATCH_RECORDS || batch.rows >= MAX_BATCH_ROWS {
            batch.bytes = rows.bytes_read();
            if tx
                .blocking_send(Piece::Batch(std::mem::take(&mut batch)))
                .is_err()
            {
                return;
            }
        }
    }
    if batch.rows > 0 {
        batch.bytes = rows.bytes_read();
        let _ = tx.blocking_send(Piece::Batch(batch));
    }
}
