use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} 失敗：{message}")]
    Sdk {
        operation: &'static str,
        message: String,
    },
    #[error("DynamoDB {operation} 重試 {attempts} 次後仍有 {remaining} 筆未處理（資料庫持續節流）")]
    RetriesExhausted {
        operation: &'static str,
        attempts: u32,
        remaining: usize,
    },
    #[error(
        "此筆紀錄由終身學習入口網匯入，僅供檢視，不可修改或刪除；請至入口網更正後，待自動入檔或重新下載"
    )]
    Locked,
    #[error("此筆紀錄已被他人修改（目前版本 {current}），請重新讀取後再修改")]
    VersionMismatch { current: u64 },
    #[error("查無此筆紀錄")]
    NotFound,
    #[error("此筆紀錄不是入口網匯入的鎖定紀錄；由人事人員建立的紀錄請直接刪除")]
    NotLocked,
    #[error(
        "已有相同身分證字號、課程代碼、期別與開課起始日期的紀錄（可能由入口網匯入，或屬其他機關），無法新增"
    )]
    AlreadyExists,
    #[error("另一個同步作業（{owner}）正在執行，租約至 {until} 到期")]
    LeaseHeld { owner: String, until: String },
    #[error("同步進度已被其他作業更新（預期 {expected}）")]
    WatermarkMoved { expected: String },
    #[error("匯入 {log_id} 已由另一個執行個體接手")]
    ImportTakenOver { log_id: String },
    #[error("同一批資料在讀取後已被其他作業修改，須重新比對")]
    RecordsChanged,
    #[error("cursor 不正確或已過期，請重新查詢")]
    InvalidCursor,
    #[error("資料表中的項目 {key} 無法解讀：{detail}")]
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

    /// A failed call, told to staff in one short line; the SDK's whole
    /// account (raw response included) goes to the function's log only.
    pub(crate) fn sdk<E, R>(operation: &'static str, error: SdkError<E, R>) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + 'static,
        R: std::fmt::Debug,
    {
        tracing::warn!(operation, error = %DisplayErrorContext(&error), "DynamoDB call failed");
        let message = match &error {
            SdkError::ServiceError(e) => {
                let e = e.err();
                match (e.code(), e.message()) {
                    (Some(code), Some(text)) => format!("{code}：{text}"),
                    (Some(code), None) => code.to_string(),
                    _ => "服務回報錯誤".to_string(),
                }
            }
            SdkError::TimeoutError(_) => "逾時".to_string(),
            SdkError::DispatchFailure(_) => "無法連線".to_string(),
            SdkError::ResponseError(_) => "回應中斷或無法解讀".to_string(),
            _ => "請求無法送出".to_string(),
        };
        StoreError::Sdk { operation, message }
    }
}
