//! Download (學員通過認證名單下載): an agency's passed records of a window
//! of at most `DOWNLOAD_MAX_DAYS` days, fetched from the portal now (it
//! closes the automatic import's one-day lag), written as locked download
//! records, logged, and returned as JSON or as a CSV for Excel.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use std::collections::HashSet;

use daily_sync::{Asked, apply_answer};
use learning_core::import_log::{
    DownloadEntry, ErrorSummary, LogEntry, RunStatus, SyncCounts, Trigger, event_log_id,
};
use learning_core::record::Field;
use learning_core::roc_date::format_roc;
use learning_core::{AgencyCode, DayRange, RangeRules, Source, TrainingRecord};
use serde::{Deserialize, Serialize};

use crate::csv_answer::{self, CsvEncoding};
use crate::input::{JsonBody, Params, day};
use crate::logs::EntryView;
use crate::{ApiError, AppState, Caller, ServiceError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadRequest {
    /// First and last day of the window (ISO or ROC), inclusive.
    from: String,
    to: String,
    /// Administrators only: the agency to download for.
    agency: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Format {
    /// `json` (default) or `csv`.
    format: Option<String>,
    /// For CSV: `utf8` (default, with BOM) or `big5`.
    encoding: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Downloaded {
    /// The download's import-log entry, as the log shows it.
    pub entry: EntryView,
    pub records: Vec<TrainingRecord>,
}

pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Params(format): Params<Format>,
    JsonBody(request): JsonBody<DownloadRequest>,
) -> Result<Response, ApiError> {
    let csv = format.csv()?;
    let agency = caller.acting_for(request.agency.as_deref())?;
    let (from, to) = (day("from", &request.from)?, day("to", &request.to)?);
    let settings = &state.settings;
    let rules = RangeRules::download(settings);
    DayRange::check(from, to, &rules, settings.today(state.now())).map_err(ApiError::refused)?;

    let now = state.now();
    let mut entry = DownloadEntry {
        log_id: event_log_id("download", Some(agency.as_str()), now),
        trigger: Trigger::Download,
        requested_by: caller.user.clone(),
        agency: agency.to_string(),
        from,
        to,
        started_at: now,
        finished_at: None,
        status: RunStatus::Running,
        counts: SyncCounts::default(),
        error: None,
        failures: Vec::new(),
    };
    state.store.put_download_log(&entry).await?;
    // One deadline for the portal's answer and the writes together (API
    // Gateway gives up at 29 s): whatever happens, the entry ends
    // finished — succeeded or partial, or failed with the reason — never
    // left `running`.
    let timeout = state.download_timeout;
    let done = tokio::time::timeout(timeout, fetch_and_write(&state, &agency, &mut entry))
        .await
        .unwrap_or_else(|_| {
            Err(ServiceError::DownloadTimeout {
                secs: timeout.as_secs(),
            }
            .into())
        });
    let records = match done {
        Ok(records) => records,
        Err(error) => {
            entry.status = RunStatus::Failed;
            entry.error = Some(ErrorSummary::new(error.code(), error.message()));
            entry.finished_at = Some(state.now());
            state.store.put_download_log(&entry).await?;
            return Err(error.with_detail("log_id", serde_json::json!(entry.log_id)));
        }
    };
    entry.status = if entry.counts.failed > 0 {
        RunStatus::Partial
    } else {
        RunStatus::Succeeded
    };
    entry.finished_at = Some(state.now());
    state.store.put_download_log(&entry).await?;
    // Kept for a day, so the CSV of what staff just looked at is made
    // again from the table (`GET /v1/downloads/{log_id}`), not fetched
    // from the portal a second time.
    let keys: Vec<_> = records.iter().map(TrainingRecord::key).collect();
    state
        .store
        .put_download_keys(&entry.log_id, &keys, state.now() + KEYS_KEPT)
        .await?;
    answer(&state, &caller, entry, records, csv, "/v1/downloads")
}

/// How long a download's keys are kept for its answer to be made again.
const KEYS_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// A download's answer, as JSON or CSV; the answer carries full IDs,
/// names and birth dates, so each person's access is audited, as for any
/// read of their records.
fn answer(
    state: &AppState,
    caller: &Caller,
    entry: DownloadEntry,
    records: Vec<TrainingRecord>,
    csv: Option<CsvEncoding>,
    route: &str,
) -> Result<Response, ApiError> {
    state
        .audit
        .people(caller, records.iter().map(|r| &r.id_no), route, "download");
    match csv {
        None => {
            let entry = EntryView::Download(Box::new(entry.into()));
            Ok((StatusCode::OK, Json(Downloaded { entry, records })).into_response())
        }
        Some(encoding) => csv_response(&entry, &records, encoding),
    }
}

/// `GET /v1/downloads/{log_id}`: the records a download brought, again —
/// as the table holds them now, as JSON or CSV — without asking the portal
/// (the page's 匯出 CSV after 查詢). Another agency's download, or one
/// older than a day, is not found.
pub async fn again(
    State(state): State<AppState>,
    caller: Caller,
    Path(log_id): Path<String>,
    Params(format): Params<Format>,
) -> Result<Response, ApiError> {
    let csv = format.csv()?;
    let entry = match state
        .store
        .get_log(&log_id)
        .await?
        .and_then(|entry| crate::logs::visible(entry, &caller))
    {
        Some(LogEntry::Download(entry)) => *entry,
        _ => return Err(ApiError::not_found()),
    };
    let keys = state
        .store
        .download_keys(&log_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let records = state
        .store
        .get_records(&keys)
        .await?
        .into_iter()
        .map(|stored| stored.record)
        .collect();
    answer(&state, &caller, entry, records, csv, AGAIN)
}

const AGAIN: &str = "/v1/downloads/{log_id}";

impl Format {
    /// `None` for JSON, or the CSV's encoding.
    fn csv(&self) -> Result<Option<CsvEncoding>, ApiError> {
        csv_answer::choice(self.format.as_deref(), self.encoding.as_deref())
    }
}

/// Fetches the window from the portal and applies it for the caller's
/// agency as the nightly run does ([`daily_sync::apply_answer`]): the
/// passed records written as locked download records, the withdrawals
/// applied, everything counted in `entry`.
async fn fetch_and_write(
    state: &AppState,
    agency: &AgencyCode,
    entry: &mut DownloadEntry,
) -> Result<Vec<TrainingRecord>, ApiError> {
    let raw = state
        .portal
        .changes_between(entry.from, entry.to, Some(agency))
        .await?;
    entry.counts.fetched = raw.len() as u64;
    let today = state.settings.today(state.now());
    if entry.to >= today {
        // Today's records can still change today, under another key.
        state
            .store
            .note_read_early(today, agency, state.now())
            .await?;
    }
    let asked = Asked {
        from: entry.from,
        to: entry.to,
        agency: Some(agency),
        source: Source::Download,
        log_id: &entry.log_id,
    };
    // Every refusal is reported: a download is read by the staff who
    // asked for it.
    let applied = apply_answer(&state.store, &raw, asked, &HashSet::new(), state.now()).await?;
    entry.counts = applied.total();
    entry.failures = applied.failures;
    Ok(applied.passed)
}

fn roc(date: Option<NaiveDate>) -> String {
    date.and_then(|d| format_roc(d).ok()).unwrap_or_default()
}

/// The records as the portal's own export looks: the DOMAIN.md headers,
/// ROC dates, CRLF, every text cell safe from formula injection.
fn csv_response(
    entry: &DownloadEntry,
    records: &[TrainingRecord],
    encoding: CsvEncoding,
) -> Result<Response, ApiError> {
    // Staff read dates in the ROC calendar and the status in words.
    let rows = records.iter().map(|r| {
        Field::ALL.map(|field| match field {
            Field::Status => "通過".to_string(),
            field if field.is_date() => roc(r.date(field)),
            field => r.text(field).into_owned(),
        })
    });
    let mut response = csv_answer::file(
        &Field::ALL.map(Field::header),
        rows,
        encoding,
        &entry.log_id,
    )?;
    if let Ok(value) = HeaderValue::from_str(&entry.log_id) {
        response.headers_mut().insert("x-import-log-id", value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use learning_core::RawRecord;

    /// One downloaded record (with `edit` applied to its row) and the
    /// entry of its download.
    fn downloaded(edit: impl FnOnce(&mut RawRecord)) -> (DownloadEntry, TrainingRecord) {
        let mut raw = RawRecord {
            id_no: "A123456789".into(),
            name: "林怡君".into(),
            org_code: "376550000A".into(),
            org_name: "範例".into(),
            course_code: "EC1".into(),
            course_name: "課".into(),
            term: "1".into(),
            start_date: "1050301".into(),
            end_date: "1050302".into(),
            mode: "1".into(),
            digital_hours: "1".into(),
            physical_hours: "0".into(),
            total_hours: "1".into(),
            status: "通過".into(),
            passed_date: "1050303".into(),
            changed_date: "1050303".into(),
            ..RawRecord::default()
        };
        edit(&mut raw);
        let record = raw.validate().unwrap();
        let entry = DownloadEntry {
            log_id: "download-x".into(),
            trigger: Trigger::Download,
            requested_by: "u".into(),
            agency: "376550000A".into(),
            from: record.start_date,
            to: record.start_date,
            started_at: chrono::Utc::now(),
            finished_at: None,
            status: RunStatus::Succeeded,
            counts: SyncCounts::default(),
            error: None,
            failures: Vec::new(),
        };
        (entry, record)
    }

    #[test]
    fn csv_cells_are_never_formulas() {
        let (entry, record) = downloaded(|raw| {
            raw.org_name = "=HYPERLINK(\"http://x\")".into();
            raw.course_name = "@SUM(1,2)".into();
            raw.provider = "+886".into();
        });
        let response = csv_response(&entry, &[record], CsvEncoding::Utf8).unwrap();
        let body = futures_body(response);
        let text = String::from_utf8(body[3..].to_vec()).unwrap();
        let row = text.lines().nth(1).unwrap();
        assert!(row.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{row}");
        assert!(row.contains("'@SUM(1,2)"), "{row}");
        assert!(row.contains(",'+886,"), "{row}");
        assert!(row.contains(",1050301,"), "ROC dates: {row}");
    }

    #[test]
    fn a_name_big5_cannot_hold_asks_for_utf8() {
        let (entry, record) = downloaded(|raw| raw.name = "林堃".into());
        let error = csv_response(&entry, &[record], CsvEncoding::Big5).unwrap_err();
        assert_eq!(error.code(), "not_big5");
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    fn futures_body(response: Response) -> Vec<u8> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec()
        })
    }
}
