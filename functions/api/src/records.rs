//! A person's training records. Records from the portal (automatic import,
//! download) are read-only: the database refuses to change them
//! (`record_locked`, 409). Staff-entered records are created, edited and
//! deleted with optimistic concurrency: the record's `version` is its
//! ETag, and edits and deletes need it in `If-Match`.
//!
//! A person is found by national ID in a POST body (`/v1/people/search`)
//! and named in every URL by a sealed handle, never by the ID. Who may
//! write a key is the ownership rule (`learning_core::ownership`): a
//! create over any held key answers the same, and a key another agency
//! holds becomes a dispute for administrators (`crate::disputes`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dynamodb_store::{StoreError, StoredRecord};
use learning_core::import_log::{RemovalEntry, RunStatus, Trigger};
use learning_core::national_id::mask_raw_id;
use learning_core::record::{Field, mask_birth_date, mask_name};
use learning_core::write::{Plan, Refusal, Writer, plan_write};
use learning_core::{NationalId, NaturalKey, RawRecord, Source, TrainingRecord};
use serde::{Deserialize, Serialize};

use crate::input::{JsonBody, Person, RecordKey};
use crate::logs::EntryView;
use crate::{ApiError, AppState, Caller, RequestError};

/// A JSON object, as a record's body arrives.
type Object = serde_json::Map<String, serde_json::Value>;

/// A record as the API shows it.
#[derive(Debug, Serialize)]
pub struct RecordView {
    /// The person's handle: what this record's URLs carry in place of the
    /// national ID.
    pub person: String,
    #[serde(flatten)]
    pub record: TrainingRecord,
    pub source: Source,
    pub locked: bool,
    /// Why it cannot be changed here, for staff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_reason: Option<&'static str>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

const LOCKED_REASON: &str =
    "此筆紀錄由終身學習入口網匯入，僅供檢視；如需更正，請至入口網修改後，待自動入檔或重新下載";

impl RecordView {
    pub fn new(stored: StoredRecord, sealer: &crate::Sealer) -> Self {
        RecordView {
            person: sealer.person(&stored.record.id_no),
            record: stored.record,
            source: stored.source,
            locked: stored.locked,
            locked_reason: stored.locked.then_some(LOCKED_REASON),
            version: stored.version,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        }
    }
}

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn with_etag(state: &AppState, status: StatusCode, stored: StoredRecord) -> Response {
    let tag = etag(stored.version);
    let mut response = (status, Json(RecordView::new(stored, &state.sealer))).into_response();
    response.headers_mut().insert(header::ETAG, tag);
    response
}

/// The expected version from `If-Match` (`"3"` or `3`); edits and deletes
/// without one are refused (428), so no one overwrites blindly.
fn if_match(headers: &HeaderMap) -> Result<u64, ApiError> {
    let value = headers
        .get(header::IF_MATCH)
        .ok_or(RequestError::IfMatchRequired)?;
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ApiError::bad_request("invalid_if_match", "If-Match 須為紀錄的 ETag"))
}

/// A record from a JSON object: only the record's fields, all checked.
fn record_from(object: &Object) -> Result<TrainingRecord, ApiError> {
    let unknown: Vec<&String> = object
        .keys()
        .filter(|k| Field::ALL.iter().all(|f| f.id() != k.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(RequestError::Invalid {
            code: "unknown_fields",
            message: "含有不認得的欄位".into(),
            details: serde_json::json!({ "fields": unknown }),
        }
        .into());
    }
    let mut raw = RawRecord::default();
    for field in Field::ALL {
        match object.get(field.id()) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(s)) => *raw.field_mut(field) = s.clone(),
            Some(serde_json::Value::Number(n)) => *raw.field_mut(field) = n.to_string(),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    format!("{}須為文字或數字", field.header()),
                ));
            }
        }
    }
    raw.validate().map_err(|problems| {
        ApiError::unprocessable(
            "invalid_record",
            "紀錄內容有誤，請依各欄說明修正",
            serde_json::json!({ "problems": problems }),
        )
    })
}

/// The record `key` names, if the caller may see it. Another agency's
/// record is not found, exactly as a missing one: the answer says nothing
/// of whether some agency holds that key.
async fn read(
    state: &AppState,
    caller: &Caller,
    key: &NaturalKey,
) -> Result<StoredRecord, ApiError> {
    state
        .store
        .get_record(key)
        .await?
        .filter(|stored| caller.may_access(&stored.record.org_code))
        .ok_or_else(ApiError::not_found)
}

/// What an audit line says a request learned: `ok`, or its error's code
/// (`not_found`, `record_exists`, …): a probe is as accountable as a read.
fn outcome<T>(result: &Result<T, ApiError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(error) => error.code(),
    }
}

const SEARCH: &str = "/v1/people/search";
const PERSON: &str = "/v1/people/{person}/records";
const RECORD: &str = "/v1/people/{person}/records/{course_code}/{term}/{start_date}";
const REMOVAL: &str = "/v1/people/{person}/records/{course_code}/{term}/{start_date}/removal";

pub async fn of_person(
    State(state): State<AppState>,
    caller: Caller,
    Person(id): Person,
) -> Result<Json<Vec<RecordView>>, ApiError> {
    Ok(Json(visible_records(&state, &caller, &id, PERSON).await?))
}

/// The records of `id` the caller may see, the read audited.
async fn visible_records(
    state: &AppState,
    caller: &Caller,
    id: &NationalId,
    route: &str,
) -> Result<Vec<RecordView>, ApiError> {
    let records = state.store.records_of_person(id).await?;
    state.audit.record(caller, id, route, "read", "ok");
    Ok(records
        .into_iter()
        .filter(|r| caller.may_access(&r.record.org_code))
        .map(|r| RecordView::new(r, &state.sealer))
        .collect())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    id_no: String,
}

/// A person's records found by national ID in the body, where no log
/// keeps it, and the handle their URLs carry.
#[derive(Debug, Serialize)]
pub struct Found {
    pub person: String,
    pub records: Vec<RecordView>,
}

pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<SearchRequest>,
) -> Result<Json<Found>, ApiError> {
    let id = crate::input::national_id(request.id_no.trim())?;
    let records = visible_records(&state, &caller, &id, SEARCH).await?;
    Ok(Json(Found {
        person: state.sealer.person(&id),
        records,
    }))
}

pub async fn one(
    State(state): State<AppState>,
    caller: Caller,
    RecordKey(key): RecordKey,
) -> Result<Response, ApiError> {
    let stored = read(&state, &caller, &key).await;
    state
        .audit
        .record(&caller, &key.id_no, RECORD, "read", outcome(&stored));
    Ok(with_etag(&state, StatusCode::OK, stored?))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Person(id): Person,
    JsonBody(body): JsonBody<Object>,
) -> Result<Response, ApiError> {
    let record = record_from(&body)?;
    if record.id_no != id {
        return Err(ApiError::bad_request(
            "id_mismatch",
            "內容的身分證字號與網址不符",
        ));
    }
    caller.require(&record.org_code)?;
    let stored = match state
        .store
        .create_staff_record(&record, &caller.user, state.now())
        .await
    {
        Err(StoreError::AlreadyExists) => {
            claim(&state, &caller, &record).await?;
            Err(StoreError::AlreadyExists.into())
        }
        other => other.map_err(ApiError::from),
    };
    state
        .audit
        .record(&caller, &id, PERSON, "create", outcome(&stored));
    Ok(with_etag(&state, StatusCode::CREATED, stored?))
}

/// A create refused because the key is held: when another agency holds
/// it, the claim is kept for administrators (the answer is the same
/// whoever holds it, `record_exists`).
async fn claim(state: &AppState, caller: &Caller, record: &TrainingRecord) -> Result<(), ApiError> {
    let Some(held) = state.store.get_record(&record.key()).await? else {
        return Ok(());
    };
    let plan = plan_write(Writer::StaffNew, record, Some(held.held()));
    if matches!(plan, Plan::Refuse(Refusal::OtherAgency(_))) {
        let now = state.now();
        state
            .store
            .put_dispute(&dynamodb_store::Dispute {
                claimant: record.org_code.clone(),
                holder: held.record.org_code,
                claimed: record.clone(),
                via: Source::StaffEntered,
                by: caller.user.clone(),
                first_at: now,
                last_at: now,
            })
            .await?;
    }
    Ok(())
}

pub async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    RecordKey(key): RecordKey,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Object>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let record = record_from(&body)?;
    if record.key() != key {
        return Err(ApiError::bad_request(
            "key_changed",
            "身分證字號、課程代碼、期別與開課起始日期不可修改；請刪除後重新新增",
        ));
    }
    let stored = async {
        let current = read(&state, &caller, &key).await?;
        caller.require(&record.org_code)?;
        Ok(state
            .store
            .update_staff_record(
                &record,
                &current.record.org_code,
                expected,
                &caller.user,
                state.now(),
            )
            .await?)
    }
    .await;
    state
        .audit
        .record(&caller, &key.id_no, RECORD, "edit", outcome(&stored));
    Ok(with_etag(&state, StatusCode::OK, stored?))
}

pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    RecordKey(key): RecordKey,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let expected = if_match(&headers)?;
    let deleted = async {
        let current = read(&state, &caller, &key).await?;
        Ok(state
            .store
            .delete_staff_record(&key, &current.record.org_code, expected)
            .await?)
    }
    .await;
    state
        .audit
        .record(&caller, &key.id_no, RECORD, "delete", outcome(&deleted));
    deleted.map(|()| StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemovalRequest {
    /// Why the record goes, for the log.
    reason: String,
}

/// What a log entry keeps of a record: every field, the ID, name and
/// birth date masked.
pub(crate) fn masked(record: &TrainingRecord) -> std::collections::BTreeMap<String, String> {
    let mut kept: std::collections::BTreeMap<String, String> = serde_json::to_value(record)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect();
    for (field, mask) in [
        ("id_no", mask_raw_id as fn(&str) -> String),
        ("name", mask_name),
        ("birth_date", mask_birth_date),
    ] {
        if let Some(value) = kept.get_mut(field) {
            *value = mask(value);
        }
    }
    kept
}

/// What a removal entry keeps of the record: [`masked`], with its source
/// and version.
fn kept_of(stored: &StoredRecord) -> std::collections::BTreeMap<String, String> {
    let mut kept = masked(&stored.record);
    kept.insert("source".into(), stored.source.as_str().to_string());
    kept.insert("version".into(), stored.version.to_string());
    kept
}

/// `POST …/removal`: administrators remove a locked record the portal
/// can no longer reach (its class start date or term corrected at the
/// portal, so the old key is never withdrawn). With a reason, at the
/// version read (`If-Match`); the record and the removal's log entry go
/// and come in one transaction.
pub async fn remove_locked(
    State(state): State<AppState>,
    caller: Caller,
    RecordKey(key): RecordKey,
    headers: HeaderMap,
    JsonBody(request): JsonBody<RemovalRequest>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let expected = if_match(&headers)?;
    let reason = learning_core::national_id::redact(request.reason.trim()).into_owned();
    let length = reason.chars().count();
    if !(4..=500).contains(&length) || reason.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_reason",
            "請說明移除原因（4 到 500 字，不含控制字元）",
        ));
    }
    let stored = read(&state, &caller, &key).await?;
    if !stored.locked {
        return Err(dynamodb_store::StoreError::NotLocked.into());
    }
    let now = state.now();
    let entry = RemovalEntry {
        log_id: learning_core::import_log::event_log_id("removal", None, now),
        trigger: Trigger::Removal,
        requested_by: caller.user.clone(),
        reason,
        agency: stored.record.org_code.to_string(),
        started_at: now,
        finished_at: Some(now),
        status: RunStatus::Succeeded,
        record: kept_of(&stored),
    };
    state
        .store
        .remove_locked_record(&key, expected, &entry)
        .await?;
    state
        .audit
        .record(&caller, &key.id_no, REMOVAL, "remove", "ok");
    Ok((
        StatusCode::OK,
        Json(EntryView::Removal(Box::new(entry.into()))),
    )
        .into_response())
}
