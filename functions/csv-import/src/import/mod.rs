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
//!
//! Here: the importer, a job from claim to finish. In [`claim`] an
//! invocation takes the import (new, redelivered, or continued); in
//! [`continuation`] it pauses and leaves where to read on; in
//! [`pipeline`] the rows flow from the parser thread to the table.

mod claim;
mod continuation;
mod pipeline;

use std::time::Duration;

use aws_lambda_events::event::s3::S3Event;
use chrono::{NaiveDate, Utc};
use dynamodb_store::{Store, StoreError};
use learning_core::audit::AuditKey;
use learning_core::import_log::{CsvImportEntry, ErrorSummary};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::event::{Job, jobs};
use crate::{FileProblem, ImportConfig, ImportError, report};

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

    /// Closes the entry: status, error, report and summary.
    async fn finish(
        &self,
        mut entry: CsvImportEntry,
        problem: Option<FileProblem>,
    ) -> Result<Handled, ImportError> {
        let error = problem.map(|p| ErrorSummary::new(p.code.as_str(), p.message));
        entry.finish(error, Utc::now());
        let counts = entry.counts;
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
