//! Request input, refused the API's way: axum's own extractors answer bad
//! input in plain text; these answer it with [`ApiError`] (400, or 413 for a
//! body over [`crate::MAX_BODY_BYTES`]), so every refusal has one shape.

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::NaiveDate;
use learning_core::roc_date::parse_date;
use learning_core::{NationalId, NaturalKey};
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState, RequestError};

/// The query string as `T` (which should refuse unknown fields).
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("查詢參數不正確：{}", e.body_text()),
                )
            })?;
        Ok(Params(value))
    }
}

/// The body as JSON `T` (which should refuse unknown fields), whatever
/// the `Content-Type`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let body = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                RequestError::TooLarge {
                    limit_kib: crate::MAX_BODY_BYTES / 1024,
                }
                .into()
            } else {
                ApiError::bad_request("invalid_body", format!("無法讀取內容：{}", e.body_text()))
            }
        })?;
        serde_json::from_slice(&body)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request("invalid_json", format!("內容不正確：{e}")))
    }
}

/// The person a `/v1/people/{person}/...` path names: a handle
/// (`POST /v1/people/search` gives it), never the national ID itself.
pub struct Person(pub NationalId);

impl FromRequestParts<AppState> for Person {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(person) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(invalid_path)?;
        person_of(state, &person).map(Person)
    }
}

/// The record a `/v1/people/{person}/records/{course_code}/{term}/{start_date}`
/// path names, every part checked.
pub struct RecordKey(pub NaturalKey);

impl FromRequestParts<AppState> for RecordKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path((person, course_code, term, start_date)) =
            Path::<(String, String, String, String)>::from_request_parts(parts, state)
                .await
                .map_err(invalid_path)?;
        Ok(RecordKey(NaturalKey {
            id_no: person_of(state, &person)?,
            course_code,
            term: term
                .parse()
                .map_err(|_| ApiError::bad_request("invalid_term", "期別須為正整數"))?,
            start_date: parse_date(&start_date).map_err(|e| {
                ApiError::bad_request("invalid_date", format!("開課起始日期不正確：{e}"))
            })?,
        }))
    }
}

/// The national ID a person handle stands for. What does not open is not
/// a handle this API gave: an ID-shaped path is told so (it reached the
/// logs already; the answer says how to keep it out next time). A handle
/// is tried first, since one may by chance hold an ID-shaped run.
fn person_of(state: &AppState, handle: &str) -> Result<NationalId, ApiError> {
    if let Some(id) = state.sealer.open_person(handle) {
        return Ok(id);
    }
    if learning_core::national_id::redact(handle) != handle {
        return Err(ApiError::bad_request(
            "person_handle_required",
            "網址不可含身分證字號；請先以 POST /v1/people/search 查詢，再使用回傳的 person",
        ));
    }
    Err(ApiError::bad_request(
        "invalid_person",
        "person 不正確；請以 POST /v1/people/search 查詢取得",
    ))
}

fn invalid_path(e: PathRejection) -> ApiError {
    ApiError::bad_request("invalid_path", format!("網址不正確：{}", e.body_text()))
}

pub fn national_id(text: &str) -> Result<NationalId, ApiError> {
    NationalId::parse(text).map_err(|e| ApiError::bad_request("invalid_national_id", e.to_string()))
}

/// A page's size: `default` when not given, refused outside `1..=max`.
pub fn limit(value: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    let limit = value.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit 須介於 1 與 {max}"),
        ))
    }
}

/// A date parameter in ISO (`2026-03-08`) or ROC (`1150308`, `115/03/08`).
pub fn day(name: &str, value: &str) -> Result<NaiveDate, ApiError> {
    parse_date(value).map_err(|e| {
        ApiError::bad_request("invalid_date", format!("{name} 日期「{value}」不正確：{e}"))
    })
}
