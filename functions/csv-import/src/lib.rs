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
use learning_core::{ConfigError, Env, Settings};

pub use decode::{Encoding, FileProblem, sniff};
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
}

impl ImportConfig {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(ImportConfig {
            settings: Settings::from_env(env)?,
            table: env.required("TABLE_NAME", "DynamoDB 資料表名稱")?,
            reserve: Duration::from_secs(env.number("CSV_RESERVE_SECS", 30, 1..=600)?),
        })
    }
}

/// An import that could not go on for a reason outside the file: Lambda
/// delivers the event again and the import resumes from its checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("S3 {operation} 失敗：{message}")]
    S3 {
        operation: &'static str,
        message: String,
    },
    #[error("讀取檔案中斷：{0}")]
    Read(String),
}

impl ImportError {
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Store(e) => e.code(),
            ImportError::S3 { .. } => "s3_unavailable",
            ImportError::Read(_) => "read_interrupted",
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
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    ImportError::S3 {
        operation,
        message: aws_sdk_s3::error::DisplayErrorContext(&error).to_string(),
    }
}
