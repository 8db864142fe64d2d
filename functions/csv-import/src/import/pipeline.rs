//! The rows' way from the object to the table: a parser thread checks
//! them and hands over batches; batches are written several at a time
//! and counted in file order into the entry, which is checkpointed as
//! they are.

use chrono::{NaiveDate, Utc};
use dynamodb_store::{CsvOutcome, Dispute, MAX_BATCH_RECORDS};
use futures::StreamExt;
use learning_core::import_log::{CsvImportEntry, RejectedRow};
use learning_core::national_id::mask_raw_id;
use learning_core::ownership::{HELD_CODE, HELD_MESSAGE};
use learning_core::{AgencyCode, Source, TrainingRecord};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::continuation::{ResumeState, Resumed};
use super::{CHECKPOINT_EVERY, CHUNKS_IN_FLIGHT, Handled, Importer, MAX_BATCH_ROWS};
use crate::decode::{FileCode, OpenError};
use crate::event::agency_of;
use crate::rows::{Columns, CsvRows, Position, Resume, RowOutcome, key_hash, open, resume};
use crate::source::{self, Replaced};
use crate::{Encoding, FileProblem, ImportError};

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

impl Importer {
    pub(super) async fn work(
        &self,
        mut entry: CsvImportEntry,
        resumed: Option<Resumed>,
        deadline: Instant,
    ) -> Result<Handled, ImportError> {
        let Some(agency) = entry.agency.clone() else {
            // Claimed without one: the key is outside `uploads/<agency>/`.
            let problem = agency_of(&entry.file.key).err();
            return self.finish(entry, problem).await;
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

/// A size as staff read it: `181 KiB`, `256.0 MiB`.
fn size(bytes: u64) -> String {
    if bytes < 1024 * 1024 {
        format!("{} KiB", bytes.div_ceil(1024))
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}
