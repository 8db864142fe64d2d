//! The CSV import (學員通過認證名單入檔): a file uploaded to S3 is streamed,
//! decoded, checked row by row and written to DynamoDB, with a report of
//! every refused row written back to S3 and an import-log entry that shows
//! progress while it runs.
//!
//! Without AWS, in the `csv-rows` crate (re-exported here): [`decode`] and
//! [`rows`]. With AWS: [`source`] (the object as a stream), [`import`]
//! (batches, checkpoints, continuation), [`report`] (the rejection report
//! and the summary).

pub mod event;
pub mod import;
pub mod report;
pub mod source;

pub use csv_rows::{decode, rows};

use std::time::Duration;

use dynamodb_store::StoreError;
use learning_core::audit::AuditKeySource;
use learning_core::{ConfigError, Env, Settings};

pub use decode::{Encoding, FileCode, FileProblem, sniff};
pub use event::{Job, jobs};
pub use import::{Handled, Importer};
pub use rows::{Columns, CsvRows, Rejection, RowChecker, RowOutcome, open};

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    pub settings: Settings,
    /// `TABLE_NAME`.
    pub table: String,
    /// `CSV_RESERVE_SECS` (30): time kept free before the Lambda deadline
    /// to checkpoint and hand over to a fresh invocation.
    pub reserve: Duration,
    /// The audit key of the lines rows that meet a held key write.
    pub audit_key: AuditKeySource,
}

impl ImportConfig {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(ImportConfig {
            settings: Settings::from_env(env)?,
            table: env.required("TABLE_NAME", "DynamoDB 資料表名稱")?,
            reserve: Duration::from_secs(env.number("CSV_RESERVE_SECS", 30, 1..=600)?),
            audit_key: AuditKeySource::from_env(env)?,
        })
    }
}

/// An import that could not go on for a reason outside the file: Lambda
/// delivers the event again and the import resumes from its checkpoint.
/// Told for operators; what staff read of a file is its `FileProblem`.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("S3 {operation} failed: {message}")]
    S3 {
        operation: &'static str,
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("reading the file stopped")]
    Read(#[source] std::io::Error),
    #[error("writing the rejection report failed")]
    Report(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ImportError {
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Store(e) => e.code(),
            ImportError::S3 { .. } => "s3_unavailable",
            ImportError::Read(_) => "read_interrupted",
            ImportError::Report(_) => "report_unwritable",
        }
    }
}

/// Lambda's error report: a stable type, a message without personal data.
impl From<ImportError> for lambda_runtime::Diagnostic {
    fn from(error: ImportError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.code().to_string(),
            error_message: error.to_string(),
        }
    }
}

pub(crate) fn s3_error<E, R>(
    operation: &'static str,
    error: aws_sdk_s3::error::SdkError<E, R>,
) -> ImportError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    ImportError::S3 {
        operation,
        message: aws_sdk_s3::error::DisplayErrorContext(&error).to_string(),
        source: Some(Box::new(error)),
    }
}

/// What an invocation reports to CloudWatch (`template.yaml`'s alarms
/// watch them): imports that ended failed, and rows refused by the imports
/// that ended. A continued import counts when it ends.
pub fn metrics(handled: &[Handled]) -> [(&'static str, u64); 2] {
    let (mut failed, mut rejected) = (0, 0);
    for handled in handled {
        if let Handled::Finished(entry) = handled {
            failed += u64::from(entry.status == learning_core::import_log::RunStatus::Failed);
            rejected += entry.counts.rejected;
        }
    }
    [("ImportsFailed", failed), ("RowsRejected", rejected)]
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use learning_core::import_log::{CsvImportEntry, RunStatus, UploadedFile};

    use super::*;

    fn entry(status: RunStatus, rejected: u64) -> Box<CsvImportEntry> {
        let file = UploadedFile {
            bucket: "b".into(),
            key: "uploads/376550000A/x.csv".into(),
            version_id: None,
            etag: Some(format!("{status:?}{rejected}")),
            size: 1,
        };
        let mut entry = CsvImportEntry::start(file, None, Utc::now());
        entry.status = status;
        entry.counts.rejected = rejected;
        Box::new(entry)
    }

    #[test]
    fn finished_imports_count_and_continued_ones_wait_for_their_end() {
        let handled = [
            Handled::Finished(entry(RunStatus::Failed, 0)),
            Handled::Finished(entry(RunStatus::Partial, 3)),
            Handled::Continued(entry(RunStatus::Running, 50)),
            Handled::Skipped {
                log_id: "csv-x".into(),
                reason: "in_progress",
            },
        ];
        assert_eq!(
            metrics(&handled),
            [("ImportsFailed", 1), ("RowsRejected", 3)]
        );
        assert_eq!(metrics(&[]), [("ImportsFailed", 0), ("RowsRejected", 0)]);
    }
}
