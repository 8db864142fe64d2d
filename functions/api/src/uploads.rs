//! Uploads without AWS credentials: the API hands out a presigned S3 PUT
//! URL under the caller's agency prefix (`uploads/<agency>/<file>.csv`);
//! the upload's ObjectCreated event starts the CSV import.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::input::JsonBody;
use crate::{ApiError, AppState, Caller};

/// How long a presigned URL works.
pub const URL_LIFETIME: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// The file's name as staff see it, e.g. `名單 104.csv`.
    file_name: String,
    /// Administrators only: upload for this agency.
    agency: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UploadTicket {
    pub method: &'static str,
    pub url: String,
    pub bucket: String,
    pub key: String,
    pub expires_in_secs: u64,
}

/// A file name that stays one key under the agency prefix: a `.csv`
/// name, no folders, no dot-dot, no control characters and no invisible
/// direction or zero-width marks (which make a name in the import log
/// read as another), at most 200 characters. The extension becomes `.csv`: S3's notification filters
/// are case-sensitive.
fn file_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let bad = |message: &str| ApiError::bad_request("invalid_file_name", message.to_string());
    if name.is_empty() || name.chars().count() > 200 {
        return Err(bad("檔名須為 1 到 200 個字"));
    }
    let invisible = |c: char| matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
    if name.contains(['/', '\\'])
        || name.contains("..")
        || name.chars().any(|c| c.is_control() || invisible(c))
    {
        return Err(bad("檔名不可含有 /、\\、..、控制字元或隱形字元"));
    }
    let Some(stem) = name
        .len()
        .checked_sub(4)
        .filter(|&at| {
            at > 0 && name.is_char_boundary(at) && name[at..].eq_ignore_ascii_case(".csv")
        })
        .map(|at| &name[..at])
    else {
        return Err(bad("只接受 .csv 檔；Excel 活頁簿請另存為 CSV"));
    };
    Ok(format!("{stem}.csv"))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<UploadRequest>,
) -> Result<Json<UploadTicket>, ApiError> {
    let agency = caller.acting_for(request.agency.as_deref())?;
    let key = format!("uploads/{agency}/{}", file_name(&request.file_name)?);
    let presigned = state
        .s3
        .put_object()
        .bucket(&state.bucket)
        .key(&key)
        .presigned(presigning()?)
        .await
        .map_err(|e| s3_unavailable("上傳", e))?;
    Ok(Json(UploadTicket {
        method: "PUT",
        url: presigned.uri().to_string(),
        bucket: state.bucket.clone(),
        key,
        expires_in_secs: URL_LIFETIME.as_secs(),
    }))
}

/// S3 could not presign a link (`what`: 上傳 or 下載).
pub(crate) fn s3_unavailable(what: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "s3_unavailable",
        format!("暫時無法產生{what}網址：{error}"),
    )
}

pub(crate) fn presigning() -> Result<PresigningConfig, ApiError> {
    PresigningConfig::expires_in(URL_LIFETIME).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "presign_failed",
            e.to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn only_plain_csv_names_pass() {
        assert_eq!(file_name(" 名單 104.csv ").unwrap(), "名單 104.csv");
        assert_eq!(file_name("A.CSV").unwrap(), "A.csv");
        for bad in [
            "",
            "../x.csv",
            "a/b.csv",
            "a\\b.csv",
            "x.xlsx",
            "x\u{0}.csv",
            "..csv",
            ".csv",
            "x\u{202E}vsc.csv",
            "\u{200B}.csv",
        ] {
            assert_eq!(
                file_name(bad).unwrap_err().code,
                "invalid_file_name",
                "{bad:?}"
            );
        }
        assert!(file_name(&format!("{}.csv", "名".repeat(200))).is_err());
    }
}
