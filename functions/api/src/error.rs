//! One error shape for every answer that is not a success:
//! `{"code": "...", "message": "...", "details": ...}` with the message in
//! Traditional Chinese for staff and a stable English code for programs.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dynamodb_store::StoreError;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: serde_json::Value::Null,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// `details` with `name` set to `value` (kept beside what is there).
    pub fn with_detail(mut self, name: &str, value: serde_json::Value) -> Self {
        if !self.details.is_object() {
            self.details = serde_json::Value::Object(Default::default());
        }
        if let Some(details) = self.details.as_object_mut() {
            details.insert(name.to_string(), value);
        }
        self
    }

    /// A request the rules refuse (400), as the core said why.
    pub fn refused(problem: learning_core::Problem) -> Self {
        Self::bad_request(problem.code, problem.message)
            .with_details(problem.details.unwrap_or_default())
    }

    /// A page cursor that is not one this API issued for the query.
    pub fn invalid_cursor() -> Self {
        Self::bad_request("invalid_cursor", "cursor 不正確或已過期，請重新查詢")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "查無資料")
    }

    /// A failure on the server's side (5xx): the caller gets the code and a
    /// fixed message; `detail` (what failed, which may name tables, buckets
    /// or an SDK's account) goes to the function's log only.
    pub fn server(status: StatusCode, code: &'static str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(code, %status, detail = %detail, "request failed");
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            "系統暫時忙碌或無法連線，請稍後再試"
        } else {
            "系統發生錯誤，請稍後再試；若持續發生，請聯絡系統管理者"
        };
        Self::new(status, code, message)
    }
}

/// Every error answer leaves with ID-shaped text masked, whatever part of
/// a request its message or details echo.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self).unwrap_or_default();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            learning_core::national_id::redact(&body).into_owned(),
        )
            .into_response()
    }
}

/// What staff read when the portal fails a download, and whether trying
/// again can help (`details.retry`): the portal down or slow, yes; WebHR's
/// access to the portal refused or a request it rejects, no — an
/// administrator must act.
impl From<portal_client::PortalError> for ApiError {
    fn from(error: portal_client::PortalError) -> Self {
        use portal_client::PortalError;
        let (status, message, retry) = match &error {
            PortalError::Unavailable { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "終身學習入口網暫時無法回應，請稍後再試",
                true,
            ),
            PortalError::Malformed { .. } => (
                StatusCode::BAD_GATEWAY,
                "終身學習入口網回傳的資料格式有誤，已記錄；請稍後再試，若持續發生請通知系統管理者",
                true,
            ),
            PortalError::Unauthorized => (
                StatusCode::BAD_GATEWAY,
                "WebHR 連線終身學習入口網的授權已失效，重試無效；請通知系統管理者更新入口網權杖",
                false,
            ),
            PortalError::Rejected { .. } | PortalError::Setup(_) => (
                StatusCode::BAD_GATEWAY,
                "終身學習入口網拒絕了這次查詢，重試無效；請通知系統管理者",
                false,
            ),
        };
        // What the portal said goes to the log (it may name the request);
        // staff get its code and what to do.
        tracing::warn!(code = error.code(), error = %error, "download: the portal failed");
        ApiError::new(status, error.code(), message)
            .with_details(serde_json::json!({ "retry": retry }))
    }
}

/// What staff read when the table refuses: the store tells operators, in
/// English, what happened; the words for staff are the API's.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let conflict = |message: String| ApiError::new(StatusCode::CONFLICT, error.code(), message);
        match &error {
            StoreError::Locked => conflict(
                "此筆紀錄由終身學習入口網匯入，僅供檢視，不可修改或刪除；請至入口網更正後，待自動入檔或重新下載"
                    .into(),
            ),
            // The same words whoever holds the key (the ownership rule).
            StoreError::AlreadyExists => conflict(
                "已有相同身分證字號、課程代碼、期別與開課起始日期的紀錄，無法新增；貴機關的紀錄請在個人紀錄中查閱或修改，查無者已轉請系統管理者處理"
                    .into(),
            ),
            StoreError::NotLocked => conflict(
                "此筆紀錄不是入口網匯入的鎖定紀錄；由人事人員建立的紀錄請直接刪除".into(),
            ),
            StoreError::LeaseHeld { owner, until } => {
                conflict(format!("另一個同步作業（{owner}）正在執行，租約至 {until} 到期"))
            }
            StoreError::VersionMismatch { current } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                error.code(),
                format!("此筆紀錄已被他人修改（目前版本 {current}），請重新讀取後再修改"),
            ),
            StoreError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, error.code(), "查無此筆紀錄")
            }
            StoreError::InvalidCursor => ApiError::invalid_cursor(),
            StoreError::Sdk { .. } | StoreError::RetriesExhausted { .. } => {
                ApiError::server(StatusCode::SERVICE_UNAVAILABLE, error.code(), &error)
            }
            StoreError::WatermarkMoved { .. }
            | StoreError::ImportTakenOver { .. }
            | StoreError::RecordsChanged
            | StoreError::Corrupt { .. } => {
                ApiError::server(StatusCode::INTERNAL_SERVER_ERROR, error.code(), &error)
            }
        }
    }
}
