//! One error shape for every answer that is not a success:
//! `{"code": "...", "message": "...", "details": ...}` with the message in
//! Traditional Chinese for staff and a stable English code for programs.
//!
//! Handlers say *what* went wrong: an [`ApiError`] holding the concern's
//! own error (a request not acted on, access refused, the table, the
//! portal, a service). This module alone decides the status code, the
//! stable code, the words staff read and what goes to the log.

use std::borrow::Cow;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dynamodb_store::StoreError;
use portal_client::PortalError;
use serde_json::{Map, Value, json};

/// A boxed cause, kept as an error's source for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Access(#[from] AccessError),
    /// Nothing the caller may see is there.
    #[error("not found")]
    NotFound,
    /// An administrator's re-run while a run holds the lease.
    #[error("a sync run holds the lease until {until:?}")]
    SyncRunning {
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Portal(#[from] PortalError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Another error, with details the handler adds (a failed download's
    /// log id).
    #[error("{error}")]
    Detailed {
        #[source]
        error: Box<ApiError>,
        details: Map<String, Value>,
    },
}

/// A request the API cannot act on as sent.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Malformed, or against a rule (400).
    #[error("{code}: {message}")]
    Invalid {
        code: &'static str,
        message: String,
        details: Value,
    },
    /// The body is over the limit (413).
    #[error("the body is over {limit_kib} KiB")]
    TooLarge { limit_kib: usize },
    /// Well-formed, but its content cannot be used (422).
    #[error("{code}: {message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        details: Value,
    },
    /// An edit or delete without `If-Match` (428).
    #[error("If-Match required")]
    IfMatchRequired,
}

/// Who asks may not: not known (401), or not allowed this (403).
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("{code}: {message}")]
    Unauthenticated {
        code: &'static str,
        message: &'static str,
    },
    #[error("{code}: {message}")]
    Forbidden {
        code: &'static str,
        message: Cow<'static, str>,
    },
}

/// A service the answer needs failed, or the work ran out of time.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A download that did not finish in `secs` (504).
    #[error("the download did not finish in {secs} s")]
    DownloadTimeout { secs: u64 },
    /// The sync function could not be started (503).
    #[error("the sync could not be invoked")]
    SyncUnavailable(#[source] Cause),
    /// Another service could not be reached (503).
    #[error("{code}")]
    Unavailable {
        code: &'static str,
        #[source]
        source: Cause,
    },
    /// A failure of WebHR's own (500).
    #[error("{code}")]
    Internal {
        code: &'static str,
        #[source]
        source: Cause,
    },
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        RequestError::Invalid {
            code,
            message: message.into(),
            details: Value::Null,
        }
        .into()
    }

    /// Content the rules refuse (422), with details.
    pub fn unprocessable(code: &'static str, message: impl Into<String>, details: Value) -> Self {
        RequestError::Unprocessable {
            code,
            message: message.into(),
            details,
        }
        .into()
    }

    pub fn unauthorized(code: &'static str, message: &'static str) -> Self {
        AccessError::Unauthenticated { code, message }.into()
    }

    pub fn forbidden(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        AccessError::Forbidden {
            code,
            message: message.into(),
        }
        .into()
    }

    /// A request the rules refuse (400), as the core said why.
    pub fn refused(problem: learning_core::Problem) -> Self {
        RequestError::Invalid {
            code: problem.code,
            message: problem.message,
            details: problem.details.unwrap_or_default(),
        }
        .into()
    }

    /// A page cursor that is not one this API issued for the query.
    pub fn invalid_cursor() -> Self {
        StoreError::InvalidCursor.into()
    }

    pub fn not_found() -> Self {
        ApiError::NotFound
    }

    /// Another service could not be reached (503); `source` goes to the
    /// log only.
    pub fn unavailable(code: &'static str, source: impl Into<Cause>) -> Self {
        ServiceError::Unavailable {
            code,
            source: source.into(),
        }
        .into()
    }

    /// A failure of WebHR's own (500); `source` goes to the log only.
    pub fn internal(code: &'static str, source: impl Into<Cause>) -> Self {
        ServiceError::Internal {
            code,
            source: source.into(),
        }
        .into()
    }

    /// This error with `details.name` set to `value`.
    pub fn with_detail(self, name: &str, value: Value) -> Self {
        let (error, mut details) = match self {
            ApiError::Detailed { error, details } => (error, details),
            other => (Box::new(other), Map::new()),
        };
        details.insert(name.to_string(), value);
        ApiError::Detailed { error, details }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Request(e) => match e {
                RequestError::Invalid { .. } => StatusCode::BAD_REQUEST,
                RequestError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                RequestError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                RequestError::IfMatchRequired => StatusCode::PRECONDITION_REQUIRED,
            },
            ApiError::Access(AccessError::Unauthenticated { .. }) => StatusCode::UNAUTHORIZED,
            ApiError::Access(AccessError::Forbidden { .. }) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::SyncRunning { .. } => StatusCode::CONFLICT,
            ApiError::Store(e) => match e {
                StoreError::Locked
                | StoreError::AlreadyExists
                | StoreError::NotLocked
                | StoreError::LeaseHeld { .. } => StatusCode::CONFLICT,
                StoreError::VersionMismatch { .. } => StatusCode::PRECONDITION_FAILED,
                StoreError::NotFound => StatusCode::NOT_FOUND,
                StoreError::InvalidCursor => StatusCode::BAD_REQUEST,
                StoreError::Sdk { .. } | StoreError::RetriesExhausted { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                StoreError::WatermarkMoved { .. }
                | StoreError::ImportTakenOver { .. }
                | StoreError::RecordsChanged
                | StoreError::Corrupt { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Portal(PortalError::Unavailable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Portal(_) => StatusCode::BAD_GATEWAY,
            ApiError::Service(e) => match e {
                ServiceError::DownloadTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
                ServiceError::SyncUnavailable(_) | ServiceError::Unavailable { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                ServiceError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Detailed { error, .. } => error.status(),
        }
    }

    /// The stable code programs read.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Request(e) => match e {
                RequestError::Invalid { code, .. } | RequestError::Unprocessable { code, .. } => {
                    code
                }
                RequestError::TooLarge { .. } => "body_too_large",
                RequestError::IfMatchRequired => "if_match_required",
            },
            ApiError::Access(
                AccessError::Unauthenticated { code, .. } | AccessError::Forbidden { code, .. },
            ) => code,
            ApiError::NotFound => "not_found",
            ApiError::SyncRunning { .. } => "sync_running",
            ApiError::Store(e) => e.code(),
            ApiError::Portal(e) => e.code(),
            ApiError::Service(e) => match e {
                ServiceError::DownloadTimeout { .. } => "download_timeout",
                ServiceError::SyncUnavailable(_) => "sync_unavailable",
                ServiceError::Unavailable { code, .. } | ServiceError::Internal { code, .. } => {
                    code
                }
            },
            ApiError::Detailed { error, .. } => error.code(),
        }
    }

    /// What staff read. The table's and the portal's errors tell operators,
    /// in English, what happened; the words for staff are these.
    pub fn message(&self) -> Cow<'static, str> {
        const BUSY: &str = "系統暫時忙碌或無法連線，請稍後再試";
        const FAILED: &str = "系統發生錯誤，請稍後再試；若持續發生，請聯絡系統管理者";
        let text = |text: &str| Cow::Owned(text.to_string());
        match self {
            ApiError::Request(e) => match e {
                RequestError::Invalid { message, .. }
                | RequestError::Unprocessable { message, .. } => text(message),
                RequestError::TooLarge { limit_kib } => {
                    Cow::Owned(format!("內容超過 {limit_kib} KiB 上限"))
                }
                RequestError::IfMatchRequired => {
                    "請附上 If-Match（紀錄的 ETag），以免覆蓋他人剛做的修改".into()
                }
            },
            ApiError::Access(AccessError::Unauthenticated { message, .. }) => (*message).into(),
            ApiError::Access(AccessError::Forbidden { message, .. }) => message.clone(),
            ApiError::NotFound => "查無資料".into(),
            ApiError::SyncRunning { .. } => "自動入檔正在執行中，請待其完成後再重新執行".into(),
            ApiError::Store(e) => match e {
                StoreError::Locked => "此筆紀錄由終身學習入口網匯入，僅供檢視，不可修改或刪除；請至入口網更正後，待自動入檔或重新下載".into(),
                // The same words whoever holds the key (the ownership rule).
                StoreError::AlreadyExists => "已有相同身分證字號、課程代碼、期別與開課起始日期的紀錄，無法新增；貴機關的紀錄請在個人紀錄中查閱或修改，查無者已轉請系統管理者處理".into(),
                StoreError::NotLocked => {
                    "此筆紀錄不是入口網匯入的鎖定紀錄；由人事人員建立的紀錄請直接刪除".into()
                }
                StoreError::LeaseHeld { owner, until } => {
                    Cow::Owned(format!("另一個同步作業（{owner}）正在執行，租約至 {until} 到期"))
                }
                StoreError::VersionMismatch { current } => Cow::Owned(format!(
                    "此筆紀錄已被他人修改（目前版本 {current}），請重新讀取後再修改"
                )),
                StoreError::NotFound => "查無此筆紀錄".into(),
                StoreError::InvalidCursor => "cursor 不正確或已過期，請重新查詢".into(),
                _ if self.status() == StatusCode::SERVICE_UNAVAILABLE => BUSY.into(),
                _ => FAILED.into(),
            },
            ApiError::Portal(e) => match e {
                PortalError::Unavailable { .. } => "終身學習入口網暫時無法回應，請稍後再試".into(),
                PortalError::Malformed { .. } => "終身學習入口網回傳的資料格式有誤，已記錄；請稍後再試，若持續發生請通知系統管理者".into(),
                PortalError::Unauthorized => "WebHR 連線終身學習入口網的授權已失效，重試無效；請通知系統管理者更新入口網權杖".into(),
                PortalError::Rejected { .. } | PortalError::Setup(_) => {
                    "終身學習入口網拒絕了這次查詢，重試無效；請通知系統管理者".into()
                }
            },
            ApiError::Service(e) => match e {
                ServiceError::DownloadTimeout { secs } => Cow::Owned(format!(
                    "下載未能在 {secs} 秒內完成（入口網或資料寫入過慢），已寫入的紀錄保留；請縮短區間或稍後再試，次日的自動入檔也會帶入"
                )),
                ServiceError::SyncUnavailable(_) => "暫時無法啟動自動入檔，請稍後再試".into(),
                ServiceError::Unavailable { .. } => BUSY.into(),
                ServiceError::Internal { .. } => FAILED.into(),
            },
            ApiError::Detailed { error, .. } => error.message(),
        }
    }

    /// What the answer's `details` holds: whether trying again can help
    /// when a service failed (the portal down or slow, yes; WebHR's access
    /// to it refused, no — an administrator must act).
    pub fn details(&self) -> Value {
        match self {
            ApiError::Request(
                RequestError::Invalid { details, .. } | RequestError::Unprocessable { details, .. },
            ) => details.clone(),
            ApiError::SyncRunning { until } => json!({ "until": until }),
            ApiError::Portal(e) => json!({
                "retry": matches!(e, PortalError::Unavailable { .. } | PortalError::Malformed { .. })
            }),
            ApiError::Service(ServiceError::DownloadTimeout { .. }) => json!({ "retry": true }),
            ApiError::Detailed { error, details } => {
                let mut all = match error.details() {
                    Value::Object(map) => map,
                    _ => Map::new(),
                };
                all.extend(details.clone());
                Value::Object(all)
            }
            _ => Value::Null,
        }
    }
}

/// Every error answer leaves with ID-shaped text masked, whatever part of
/// a request its message or details echo. A server's failure goes to the
/// log with its whole chain of causes; the caller gets its code and fixed
/// words.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            let mut chain = self.to_string();
            let mut source = std::error::Error::source(&self);
            while let Some(cause) = source {
                chain.push_str(": ");
                chain.push_str(&cause.to_string());
                source = cause.source();
            }
            tracing::error!(code = self.code(), %status, detail = %chain, "request failed");
        } else if let ApiError::Portal(e) = &self {
            // What the portal said may name the request: the log's.
            tracing::warn!(code = e.code(), error = %e, "the portal failed");
        }
        let mut body = json!({ "code": self.code(), "message": self.message() });
        let details = self.details();
        if !details.is_null() {
            body["details"] = details;
        }
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            learning_core::national_id::redact(&body.to_string()).into_owned(),
        )
            .into_response()
    }
}
