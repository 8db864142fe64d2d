//! One import, from the event to the final log entry.
//!
//! A parser thread reads the object as it downloads and hands over chunks
//! of at most 99 checked rows. Chunks are written several at a time, each
//! record with its own conditional put (one write unit), and counted in
//! file order. The log entry is the checkpoint: written every second or so
//! with the counts of the chunks done in order. A crash loses nothing: the
//! next invocation re-reads from the checkpoint, and rows this import had
//! already written count as they did the first time (the store keeps what
//! each import did to each record).
//!
//! When the invocation's time runs short the import checkpoints, releases
//! the entry and leaves a continuation object whose creation starts a fresh
//! invocation. The object carries where to read on (byte and line), the
//! header's layout and the keys accepted so far, so the next invocation
//! reads on from there with the duplicate check still spanning the file.

use std::time::Duration;

use aws_lambda_events::event::s3::S3Event;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{NaiveDate, Utc};
use dynamodb_store::{CsvOutcome, Dispute, MAX_BATCH_RECORDS, Store, StoreError};
use futures::StreamExt;
use learning_core::audit::AuditKey;
use learning_core::import_log::{
    CsvImportEntry, ErrorSummary, RejectedRow, RunStatus, UploadedFile,
};
use learning_core::national_id::mask_raw_id;
use learning_core::ownership::{HELD_CODE, HELD_MESSAGE};
use learning_core::{AgencyCode, Source, TrainingRecord};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::decode::{FileCode, OpenError};
use crate::event::{CONTINUATIONS, Job, agency_of, continuation_key, jobs};
use crate::rows::{Columns, CsvRows, Position, Resume, RowOutcome, key_hash, open, resume};
use crate::source::{self, Replaced};
use crate::{Encoding, FileProblem, ImportConfig, ImportError, report, s3_error};

/// Rows per batch at most, so a file of refused rows still checkpoints.
const MAX_BATCH_ROWS: u64 = 1_000;
/// Invocations in a row without a committed batch before an import is
/// declared stuck (a guard against a continuation loop).
const MAX_STALLED: u32 = 3;
/// Chunks written at once (each with its own puts in flight).
const CHUNKS_IN_FLIGHT: usize = 4;
/// How often the entry records progress while an import runs.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

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
    /// Keys of the rows accepted since the last batch (skipped ones too).
    keys: Vec<u64>,
    /// Where the row after this batch starts; `None` at the end.
    next: Option<Position>,
}

/// What the parser thread hands on, in file order; `B` is a [`Batch`] of
/// checked rows, and after the writer the batch [`Written`].
enum Piece<B> {
    Opened(Encoding, Columns),
    Refused(FileProblem),
    Batch(B),
    /// Reading the file stopped: the import is tried again.
    Broken(std::io::Error),
}

/// A batch written: its rows refused by the table too, in line order.
struct Written {
    batch: Batch,
    outcomes: Vec<CsvOutcome>,
}

/// Where a continuation reads on, as the paused invocation left it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct ResumeState {
    log_id: String,
    /// Rows done at the checkpoint it belongs to.
    rows: u64,
    line: u64,
    offset: u64,
    encoding: String,
    columns: String,
    /// The keys accepted so far follow the JSON line, 8 bytes each.
    keys: usize,
}

/// What an invocation starts from: a continuation's state, with the keys.
struct Resumed {
    state: ResumeState,
    keys: Vec<u64>,
}

impl Resumed {
    fn to_bytes(&self) -> Vec<u8> {
        let mut body = serde_json::to_vec(&self.state).unwrap_or_default();
        body.push(b'\n');
        body.reserve(self.keys.len() * 8);
        for key in &self.keys {
            body.extend_from_slice(&key.to_le_bytes());
        }
        body
    }

    fn from_bytes(body: &[u8]) -> Option<Resumed> {
        let end = body.iter().position(|&b| b == b'\n')?;
        let state: ResumeState = serde_json::from_slice(&body[..end]).ok()?;
        let keys: Vec<u64> = body[end + 1..]
            .chunks_exact(8)
            .map(|k| u64::from_le_bytes(k.try_into().unwrap_or_default()))
            .collect();
        (keys.len() == state.keys).then_some(Resumed { state, keys })
    }

    fn resume(&self) -> Option<Resume> {
        Some(Resume {
            at: Position {
                line: self.state.line,
                offset: self.state.offset,
            },
            encoding: Encoding::from_label(&self.state.encoding)?,
            columns: Columns::from_line(&self.state.columns)?,
        })
    }
}

/// Where the parser thread starts.
enum Start {
    /// At the top, passing over the first `skip` rows (done already).
    Top { skip: u64 },
    /// Where a continuation says.
    At(Resume, Vec<u64>),
}

enum Stop {
    End,
    Refused(FileProblem),
    OutOfTime,
}

pub struct Importer {
    store: Store,
    s3: aws_sdk_s3::Client,
    /// Names the person of each row's audit line.
    audit: AuditKey,
    cutoff: NaiveDate,
    max_bytes: u64,
    max_rejected: u64,
    reserve: Duration,
}

impl Importer {
    /// `audit` is the key `config.audit_key` names (the bootstrap reads a
    /// parameter from SSM).
    pub fn new(
        store: Store,
        s3: aws_sdk_s3::Client,
        config: &ImportConfig,
        audit: AuditKey,
    ) -> Self {
        Importer {
            store,
            s3,
            audit,
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
        let (claimed, continuation) = match job {
            Job::Import(file) => (self.claim(file, invocation, deadline).await?, None),
            Job::Continue { bucket, key } => {
                let (claimed, resumed) = self
                    .claim_continuation(&bucket, &key, invocation, deadline)
                    .await?;
                (claimed, Some((bucket, key, resumed)))
            }
        };
        let (continuation, resumed) = match continuation {
            Some((bucket, key, resumed)) => (Some((bucket, key)), resumed),
            None => (None, None),
        };
        let handled = match claimed {
            Ok(entry) => match self.work(entry, resumed, deadline).await {
                Err(ImportError::Store(StoreError::ImportTakenOver { log_id })) => {
                    Ok(Handled::Skipped {
                        log_id,
                        reason: "taken_over",
                    })
                }
                other => other,
            },
            Err(skipped) => Ok(skipped),
        };
        // The continuation has done its job, unless a retry needs it.
        if let (Ok(_), Some((bucket, key))) = (&handled, continuation)
            && let Err(e) = self
                .s3
                .delete_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
        {
            warn!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), key, "continuation not deleted");
        }
        handled
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
        entry.hold(invocation, lease_until(deadline));
        match self.store.put_csv_log(&mut entry).await {
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
        // Not the key: staff name files after people (`A123456789 王小明.csv`).
        // The log id finds the entry, and the entry its file.
        info!(
            log_id,
            agency = entry.agency.as_deref(),
            size = entry.file.size,
            "import started"
        );
        Ok(Ok(entry))
    }

    async fn claim_continuation(
        &self,
        bucket: &str,
        key: &str,
        invocation: &str,
        deadline: Instant,
    ) -> Result<(Result<CsvImportEntry, Handled>, Option<Resumed>), ImportError> {
        // continuations/<import id>/<seq>.resume
        let log_id = key
            .strip_prefix(CONTINUATIONS)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
            .to_string();
        let claimed = self.take_over(&log_id, invocation, deadline).await?;
        let resumed = match &claimed {
            Ok(entry) => self.read_resume(bucket, key, entry).await,
            Err(_) => None,
        };
        Ok((claimed, resumed))
    }

    /// The continuation's state, when it belongs to the entry's checkpoint
    /// (an invocation may have moved on since and failed): without it the
    /// import re-reads the file from the top.
    async fn read_resume(
        &self,
        bucket: &str,
        key: &str,
        entry: &CsvImportEntry,
    ) -> Option<Resumed> {
        let object = self.s3.get_object().bucket(bucket).key(key).send().await;
        let body = match object {
            Ok(object) => object.body.collect().await.ok()?.into_bytes(),
            Err(e) => {
                warn!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), key, "continuation unreadable; reading from the top");
                return None;
            }
        };
        Resumed::from_bytes(&body)
            .filter(|r| r.state.log_id == entry.log_id && r.state.rows == entry.counts.rows)
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
        entry.invocations += 1;
        entry.hold(invocation, lease_until(deadline));
        match self.store.put_csv_log(&mut entry).await {
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
        resumed: Option<Resumed>,
        deadline: Instant,
    ) -> Result<Handled, ImportError> {
        let agency = match agency_of(&entry.file.key) {
            Ok(agency) => agency,
            Err(problem) => return self.finish(entry, Some(problem)).await,
        };
        if entry.file.size > self.max_bytes {
            let problem = FileProblem::new(
                FileCode::TooLarge,
                format!(
                    "檔案 {} 超過上限 {}，未匯入任何資料；請分成較小的檔案或洽系統管理者",
                    size(entry.file.size),
                    size(self.max_bytes)
                ),
            );
            return self.finish(entry, Some(problem)).await;
        }
        // What a continuation needs: the layout, the keys accepted up to
        // the checkpoint and where the row after it starts.
        let (start, mut keys, mut layout, mut at) =
            match resumed.and_then(|r| Some((r.resume()?, r.keys))) {
                Some((resume, keys)) => (
                    Start::At(resume.clone(), keys.clone()),
                    keys,
                    Some((resume.encoding, resume.columns)),
                    Some(resume.at),
                ),
                None => (
                    Start::Top {
                        skip: entry.counts.rows,
                    },
                    Vec::new(),
                    None,
                    None,
                ),
            };
        let from = at.map_or(0, |at| at.offset);
        let (reader, feeder) = match source::open(&self.s3, &entry.file, from).await? {
            Ok(opened) => opened,
            Err(Replaced) => {
                let problem = FileProblem::new(
                    FileCode::Replaced,
                    "此版本的檔案已被刪除或覆蓋；新上傳的檔案會另行匯入",
                );
                return self.finish(entry, Some(problem)).await;
            }
        };
        let (tx, mut rx) = mpsc::channel::<Piece<Batch>>(2);
        let cutoff = self.cutoff;
        let parser = tokio::task::spawn_blocking(move || parse(reader, start, cutoff, agency, &tx));
        let rows_before = entry.counts.rows;
        let log_id = entry.log_id.clone();
        let mut written = futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
            .map(|piece| self.write(&log_id, piece))
            .buffered(CHUNKS_IN_FLIGHT);
        let mut checkpointed = Instant::now();
        let stop = loop {
            let piece = match written.next().await {
                None => break Ok(Stop::End),
                Some(Err(e)) => break Err(e),
                Some(Ok(piece)) => piece,
            };
            let done = match piece {
                Piece::Batch(done) => done,
                Piece::Opened(encoding, columns) => {
                    entry.encoding = Some(encoding.label().to_string());
                    layout = Some((encoding, columns));
                    continue;
                }
                Piece::Refused(problem) => break Ok(Stop::Refused(problem)),
                Piece::Broken(error) => break Err(ImportError::Read(error)),
            };
            // Refused rows are stored in file order, so an import stopped
            // for too many holds exactly the ones it counted.
            if let Err(e) = self
                .store
                .put_rejections(&log_id, &done.batch.rejections)
                .await
            {
                break Err(e.into());
            }
            tally(&mut entry, &done);
            keys.extend_from_slice(&done.batch.keys);
            at = done.batch.next;
            if entry.refused_for_content() >= self.max_rejected {
                break Ok(Stop::Refused(self.too_many_rejections(&entry)));
            }
            if at.is_none() {
                // The file's last batch.
                break Ok(Stop::End);
            }
            // Time is checked after a chunk is counted, so every
            // invocation moves the import on.
            if Instant::now() + self.reserve >= deadline {
                break Ok(Stop::OutOfTime);
            }
            if checkpointed.elapsed() >= CHECKPOINT_EVERY {
                if let Err(e) = self.checkpoint(&mut entry).await {
                    break Err(e);
                }
                checkpointed = Instant::now();
            }
        };
        // Chunks still being written are dropped (past the checkpoint, the
        // next invocation writes or finds them again), and with them the
        // channel, so the parser thread stops.
        drop(written);
        feeder.abort();
        let stop = match (stop, parser.await) {
            (Ok(Stop::End), Err(panicked)) => {
                Err(ImportError::Read(std::io::Error::other(panicked)))
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
            Stop::OutOfTime => {
                let resumed = layout.zip(at).map(|((encoding, columns), at)| Resumed {
                    state: ResumeState {
                        log_id: entry.log_id.clone(),
                        rows: entry.counts.rows,
                        line: at.line,
                        offset: at.offset,
                        encoding: encoding.label().to_string(),
                        columns: columns.to_line(),
                        keys: keys.len(),
                    },
                    keys,
                });
                self.pause(entry, rows_before, resumed).await
            }
        }
    }

    /// Why an import stopped early: so many rows refused that the file
    /// is not what the agency meant to send. What was imported stays.
    fn too_many_rejections(&self, entry: &CsvImportEntry) -> FileProblem {
        FileProblem::new(
            FileCode::TooManyRejections,
            format!(
                "已拒絕 {} 列（不含異動日期晚於截止日的列），達上限 {} 列，匯入在第 {} 列後停止（已匯入 {} 筆）；請依拒絕清單修正檔案後重新上傳，已匯入的紀錄不會重複",
                entry.refused_for_content(),
                self.max_rejected,
                entry.counts.rows,
                entry.counts.imported()
            ),
        )
    }

    /// Writes a batch's records and lists its refused rows (those of the
    /// file and those the table refuses); other pieces pass through.
    async fn write(
        &self,
        log_id: &str,
        piece: Piece<Batch>,
    ) -> Result<Piece<Written>, ImportError> {
        Ok(match piece {
            Piece::Batch(batch) => {
                let outcomes = self
                    .store
                    .write_csv_records(&batch.records, log_id, Utc::now())
                    .await?;
                self.disputes(log_id, &batch.records, &outcomes).await?;
                let mut done = Written { batch, outcomes };
                done.batch.rejections = refused_rows(&done);
                Piece::Batch(done)
            }
            Piece::Opened(encoding, columns) => Piece::Opened(encoding, columns),
            Piece::Refused(problem) => Piece::Refused(problem),
            Piece::Broken(error) => Piece::Broken(error),
        })
    }

    /// Keeps each key another agency holds as a dispute for administrators,
    /// and writes every row's audit line: the upload wrote (or was refused)
    /// a person's record. Both idempotent: a replayed chunk refreshes its
    /// disputes and repeats its lines.
    async fn disputes(
        &self,
        log_id: &str,
        records: &[TrainingRecord],
        outcomes: &[CsvOutcome],
    ) -> Result<(), ImportError> {
        let now = Utc::now();
        for (record, outcome) in records.iter().zip(outcomes) {
            if let CsvOutcome::OtherAgency(holder) = outcome {
                self.store
                    .put_dispute(&Dispute {
                        claimant: record.org_code.clone(),
                        holder: holder.clone(),
                        claimed: record.clone(),
                        via: Source::CsvImport,
                        by: log_id.to_string(),
                        first_at: now,
                        last_at: now,
                    })
                    .await?;
            }
            let outcome = match outcome {
                CsvOutcome::Inserted => "inserted",
                CsvOutcome::Updated => "updated",
                CsvOutcome::ReplacedStaff => "replaced_staff",
                CsvOutcome::Unchanged => "unchanged",
                CsvOutcome::Locked(_) | CsvOutcome::OtherAgency(_) => HELD_CODE,
            };
            self.audit.line(
                log_id,
                record.org_code.as_str(),
                &record.id_no,
                "csv_import",
                "write",
                outcome,
            );
        }
        Ok(())
    }

    /// Records progress: the counts of the chunks done in order.
    async fn checkpoint(&self, entry: &mut CsvImportEntry) -> Result<(), ImportError> {
        self.store.put_csv_log(entry).await?;
        Ok(())
    }

    /// Gives the import up after a failure, keeping its checkpoint.
    async fn release(&self, mut entry: CsvImportEntry) {
        entry.release();
        if let Err(e) = self.store.put_csv_log(&mut entry).await {
            warn!(error = %e, log_id = entry.log_id, "import not released; it is free when its lease ends");
        }
    }

    /// Releases the import and leaves a continuation for a fresh invocation.
    async fn pause(
        &self,
        mut entry: CsvImportEntry,
        rows_before: u64,
        resumed: Option<Resumed>,
    ) -> Result<Handled, ImportError> {
        if entry.counts.rows == rows_before {
            entry.stalled += 1;
            if entry.stalled >= MAX_STALLED {
                let problem = FileProblem::new(
                    FileCode::Stalled,
                    format!(
                        "連續 {MAX_STALLED} 次執行都未能寫入任何資料，匯入停止；請通知系統管理者"
                    ),
                );
                return self.finish(entry, Some(problem)).await;
            }
        } else {
            entry.stalled = 0;
        }
        entry.release();
        self.store.put_csv_log(&mut entry).await?;
        let key = continuation_key(&entry.log_id, entry.seq);
        // Without a state (nothing read yet) the next one reads from the top.
        let body = resumed.map(|r| r.to_bytes()).unwrap_or_default();
        self.s3
            .put_object()
            .bucket(&entry.file.bucket)
            .key(&key)
            .content_type("application/octet-stream")
            .body(ByteStream::from(body))
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
            Some(problem) => Some(ErrorSummary::new(problem.code.as_str(), problem.message)),
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
        entry.release();
        report::write(&self.s3, &self.store, &mut entry).await?;
        self.store.put_csv_log(&mut entry).await?;
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

/// When a lease taken now for an invocation ending at `deadline` ends.
fn lease_until(deadline: Instant) -> chrono::DateTime<Utc> {
    Utc::now() + deadline.saturating_duration_since(Instant::now())
}

/// A row whose key holds a record this upload may not change: the
/// agency's own from the portal, or another agency's. One code and one
/// message for both (`learning_core::ownership`): a file cannot learn
/// whose a key is.
fn held_row(line: u64, record: &TrainingRecord) -> RejectedRow {
    RejectedRow {
        line,
        column: None,
        value: mask_raw_id(record.id_no.as_str()),
        code: HELD_CODE.to_string(),
        message: HELD_MESSAGE.to_string(),
    }
}

/// The rows a batch has refused: the file's and the table's, in line order.
fn refused_rows(done: &Written) -> Vec<RejectedRow> {
    let batch = &done.batch;
    let mut refused = batch.rejections.clone();
    for ((outcome, record), line) in done.outcomes.iter().zip(&batch.records).zip(&batch.lines) {
        match outcome {
            CsvOutcome::Locked(_) | CsvOutcome::OtherAgency(_) => {
                refused.push(held_row(*line, record))
            }
            _ => {}
        }
    }
    refused.sort_by_key(|row| row.line);
    refused
}

/// Counts a written batch into the entry (its refused rows already in
/// `batch.rejections`).
fn tally(entry: &mut CsvImportEntry, done: &Written) {
    entry.counts.rows += done.batch.rows;
    entry.bytes_done = done.batch.bytes;
    for outcome in &done.outcomes {
        match outcome {
            CsvOutcome::Inserted => entry.counts.inserted += 1,
            CsvOutcome::Updated => entry.counts.updated += 1,
            CsvOutcome::ReplacedStaff => entry.counts.replaced_staff += 1,
            CsvOutcome::Unchanged => entry.counts.unchanged += 1,
            CsvOutcome::Locked(_) | CsvOutcome::OtherAgency(_) => {}
        }
    }
    for row in &done.batch.rejections {
        entry.reject(&row.code);
    }
}

/// The parser thread: checks every row from `start` and hands them over
/// in batches (rows already done are read, not handed over).
fn parse(
    reader: source::ObjectReader,
    start: Start,
    cutoff: NaiveDate,
    agency: AgencyCode,
    tx: &mpsc::Sender<Piece<Batch>>,
) {
    let (mut rows, skip): (CsvRows<_>, u64) = match start {
        Start::Top { skip } => match open(reader, cutoff, agency) {
            Ok(rows) => (rows, skip),
            Err(OpenError::Refused(problem)) => {
                let _ = tx.blocking_send(Piece::Refused(problem));
                return;
            }
            Err(OpenError::Read(error)) => {
                let _ = tx.blocking_send(Piece::Broken(error));
                return;
            }
        },
        Start::At(at, keys) => (resume(reader, at, keys, cutoff, agency), 0),
    };
    if tx
        .blocking_send(Piece::Opened(rows.encoding, rows.columns.clone()))
        .is_err()
    {
        return;
    }
    let mut seen = 0u64;
    let mut batch = Batch::default();
    // A full batch goes once the next row is read: where that row starts
    // is where a continuation reads on.
    let mut full: Option<Batch> = None;
    while let Some(outcome) = rows.next() {
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                let _ = tx.blocking_send(Piece::Broken(error));
                return;
            }
        };
        if let Some(mut ready) = full.take() {
            ready.next = Some(rows.start());
            if tx.blocking_send(Piece::Batch(ready)).is_err() {
                return;
            }
        }
        seen += 1;
        if let RowOutcome::Accepted(record) = &outcome {
            batch.keys.push(key_hash(record));
        }
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
            full = Some(std::mem::take(&mut batch));
        }
    }
    if let Some(ready) = full {
        let _ = tx.blocking_send(Piece::Batch(ready));
    }
    if batch.rows > 0 || !batch.keys.is_empty() {
        batch.bytes = rows.bytes_read();
        let _ = tx.blocking_send(Piece::Batch(batch));
    }
}
