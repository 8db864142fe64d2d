use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// What went wrong in the table, told for operators (the function's log,
/// Lambda's error report). Staff read these through the caller: the API's
/// answer (`api::ApiError`) or a day's entry in the import log, each in
/// Traditional Chinese with the stable [`StoreError::code`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} failed: {message}")]
    Sdk {
        operation: &'static str,
        /// The failure in one short line (service code, timeout, ...).
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error(
        "DynamoDB {operation}: {remaining} items still unprocessed after {attempts} attempts (throttled)"
    )]
    RetriesExhausted {
        operation: &'static str,
        attempts: u32,
        remaining: usize,
    },
    #[error("the record is locked (imported from the portal)")]
    Locked,
    #[error("the record changed: version {current} is current")]
    VersionMismatch { current: u64 },
    #[error("no such record")]
    NotFound,
    #[error("the record is not a locked portal record")]
    NotLocked,
    #[error("a record with this key already exists")]
    AlreadyExists,
    #[error("another sync run ({owner}) holds the lease until {until}")]
    LeaseHeld { owner: String, until: String },
    #[error("the watermark moved (expected {expected})")]
    WatermarkMoved { expected: String },
    #[error("import {log_id} was taken over by another invocation")]
    ImportTakenOver { log_id: String },
    #[error("records changed under the batch after they were read")]
    RecordsChanged,
    #[error("invalid or expired cursor")]
    InvalidCursor,
    #[error("item {key} in the table cannot be read: {detail}")]
    Corrupt { key: String, detail: String },
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Sdk { .. } => "store_unavailable",
            StoreError::RetriesExhausted { .. } => "store_throttled",
            StoreError::Locked => "record_locked",
            StoreError::VersionMismatch { .. } => "version_mismatch",
            StoreError::NotFound => "not_found",
            StoreError::NotLocked => "not_locked",
            StoreError::AlreadyExists => "record_exists",
            StoreError::LeaseHeld { .. } => "sync_in_progress",
            StoreError::WatermarkMoved { .. } => "watermark_moved",
            StoreError::ImportTakenOver { .. } => "import_taken_over",
            StoreError::RecordsChanged => "records_changed",
            StoreError::Corrupt { .. } => "store_corrupt",
            StoreError::InvalidCursor => "invalid_cursor",
        }
    }

    /// A failed call in one short line, the SDK's error as its source; the
    /// SDK's whole account (raw response included) goes to the function's
    /// log only.
    pub(crate) fn sdk<E, R>(operation: &'static str, error: SdkError<E, R>) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        tracing::warn!(operation, error = %DisplayErrorContext(&error), "DynamoDB call failed");
        let message = match &error {
            SdkError::ServiceError(e) => {
                let e = e.err();
                match (e.code(), e.message()) {
                    (Some(code), Some(text)) => format!("{code}: {text}"),
                    (Some(code), None) => code.to_string(),
                    _ => "service error".to_string(),
                }
            }
            SdkError::TimeoutError(_) => "timed out".to_string(),
            SdkError::DispatchFailure(_) => "could not connect".to_string(),
            SdkError::ResponseError(_) => "response cut off or unreadable".to_string(),
            _ => "request not sent".to_string(),
        };
        StoreError::Sdk {
            operation,
            message,
            source: Some(Box::new(error)),
        }
    }

    /// A request the SDK would not build (a field left out): told as the
    /// call that failed, the builder's error as its source.
    pub(crate) fn build(
        operation: &'static str,
        error: aws_sdk_dynamodb::error::BuildError,
    ) -> Self {
        StoreError::Sdk {
            operation,
            message: error.to_string(),
            source: Some(Box::new(error)),
        }
    }
}

/// Whether the database refused a write for its condition.
pub(crate) fn is_condition_failure<E, R>(error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}
