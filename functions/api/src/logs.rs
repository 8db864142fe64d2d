//! The import log (自動入檔紀錄查詢): by default the last month
//! (Asia/Taipei), newest import first; any date range up to a year; a
//! trigger filter; pages read page by page inside DynamoDB, an opaque
//! cursor between them. A page lists entries without their refused
//! records and other agencies' counts (the entry route has them).

use axum::Json;
use axum::extract::{Path, State};
use chrono::{Days, NaiveDate, TimeZone};
use dynamodb_store::LogQuery;
use learning_core::import_log::{LogEntry, Trigger};
use learning_core::{DayRange, RangeRules};
use serde::{Deserialize, Serialize};

use crate::input::{Params, day, limit};
pub use crate::log_views::EntryView;
use crate::{ApiError, AppState, Caller};

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// First day (ISO or ROC), inclusive.
    from: Option<String>,
    /// Last day (ISO or ROC), inclusive.
    to: Option<String>,
    trigger: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct Page {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub entries: Vec<EntryView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// What of an entry a caller may see: administrators everything; staff
/// an entry that is for their agency ([`LogEntry::is_for`]), a nightly
/// run with their own agency's counts and refused records only — zeros
/// on a night that brought their agency nothing; the national totals,
/// other agencies' failures and who re-ran a day or removed or settled a
/// record are for administrators.
pub(crate) fn visible(entry: LogEntry, caller: &Caller) -> Option<LogEntry> {
    if caller.role == crate::Role::Admin {
        return Some(entry);
    }
    if !entry.is_for(&caller.agency) {
        return None;
    }
    Some(match entry {
        LogEntry::Sync(mut sync) => {
            let own = caller.agency.as_str();
            sync.agencies.retain(|agency, _| agency == own);
            sync.counts = sync.agency_counts.get(own).copied().unwrap_or_default();
            sync.agency_counts.retain(|agency, _| agency == own);
            sync.failures.retain(|f| f.agency.as_deref() == Some(own));
            sync.requested_by = None;
            LogEntry::Sync(sync)
        }
        LogEntry::Settlement(mut settlement) => {
            settlement.requested_by.clear();
            LogEntry::Settlement(settlement)
        }
        LogEntry::Removal(mut removal) => {
            removal.requested_by.clear();
            LogEntry::Removal(removal)
        }
        other @ (LogEntry::CsvImport(_) | LogEntry::Download(_)) => other,
    })
}

/// A list query, checked: the days, the trigger and the page asked for.
struct ListFilter {
    from: NaiveDate,
    to: NaiveDate,
    trigger: Option<Trigger>,
    limit: usize,
    cursor: Option<String>,
}

impl ListQuery {
    /// The filter, or why not: the days default to the last month and
    /// keep to [`RangeRules::QUERY`].
    fn filter(self, today: NaiveDate) -> Result<ListFilter, ApiError> {
        let to = self
            .to
            .as_deref()
            .map(|v| day("to", v))
            .transpose()?
            .unwrap_or(today);
        let from = match self.from.as_deref() {
            Some(v) => day("from", v)?,
            None => crate::settings::log_default_from(to),
        };
        DayRange::check(from, to, &RangeRules::QUERY, today).map_err(ApiError::refused)?;
        let trigger = match self.trigger.as_deref() {
            None => None,
            Some(v) => Some(Trigger::parse(v).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_trigger",
                    "trigger 須為 schedule、manual、upload、download、removal 或 settlement",
                )
            })?),
        };
        Ok(ListFilter {
            from,
            to,
            trigger,
            limit: limit(self.limit, DEFAULT_LIMIT, MAX_LIMIT)?,
            cursor: self.cursor,
        })
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page>, ApiError> {
    let zone = state.settings.zone;
    let ListFilter {
        from,
        to,
        trigger,
        limit,
        cursor,
    } = query.filter(state.settings.today(state.now()))?;
    let start = |date: NaiveDate| {
        zone.from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default()
    };
    let until = to.checked_add_days(Days::new(1)).unwrap_or(to);
    // Sealed for the caller's view of the log: a cursor edited, or taken
    // to another agency or role, is refused before DynamoDB sees it.
    let context = format!("import-logs:{}:{:?}", caller.agency, caller.role);
    let after = state.sealer.open_cursor(&context, cursor.as_deref())?;
    let page = state
        .store
        .logs_page(&LogQuery {
            from: start(from),
            to: start(until),
            trigger,
            // Staff: the entries for their agency (`LogEntry::audience`),
            // filtered by DynamoDB; administrators: everything.
            agency: (caller.role != crate::Role::Admin).then(|| caller.agency.to_string()),
            limit,
            after,
        })
        .await?;
    Ok(Json(Page {
        from,
        to,
        entries: page
            .entries
            .into_iter()
            .filter_map(|e| visible(e, &caller))
            .map(EntryView::from)
            .collect(),
        next_cursor: state.sealer.cursor(&context, page.next),
    }))
}

/// An entry, and for a CSV import with refused rows a link to its report.
#[derive(Debug, Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub entry: EntryView,
    /// Presigned GET of the rejection report, valid 15 minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_url: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(log_id): Path<String>,
) -> Result<Json<Detail>, ApiError> {
    let entry = state
        .store
        .get_log(&log_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    // Another agency's entry is not found, exactly as a missing one.
    let entry = visible(entry, &caller).ok_or_else(ApiError::not_found)?;
    let report_url = match &entry {
        LogEntry::CsvImport(csv) => match &csv.report_key {
            Some(key) => Some(state.uploads.presigned_get(key, "下載").await?),
            None => None,
        },
        _ => None,
    };
    Ok(Json(Detail {
        entry: entry.into(),
        report_url,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsQuery {
    /// Administrators: the agency whose records (default: their token's).
    agency: Option<String>,
}

/// One record a night or download changed, as the agency's staff read it:
/// what happened, the key, and the record as the table holds it now
/// (absent once withdrawn or changed away).
#[derive(Debug, Serialize)]
pub struct ChangedRecord {
    pub change: &'static str,
    /// The person's handle, for the record's URLs.
    pub person: String,
    pub id_no: learning_core::NationalId,
    pub course_code: String,
    pub term: u32,
    pub start_date: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<crate::records::RecordView>,
}

#[derive(Debug, Serialize)]
pub struct EntryRecords {
    pub log_id: String,
    pub agency: String,
    /// Written or withdrawn, record by record.
    pub records: Vec<ChangedRecord>,
    /// Refused, IDs masked (the entry's `failures` of the agency).
    pub refused: Vec<learning_core::import_log::RecordFailure>,
}

/// `GET /v1/import-logs/{log_id}/records`: what a night (one day's entry)
/// or a download did to the agency's records, record by record — inserted,
/// updated, replaced a record staff typed in, withdrawn — and what it
/// refused. Another agency's entry, or one of another kind, is not found.
pub async fn records(
    State(state): State<AppState>,
    caller: Caller,
    Path(log_id): Path<String>,
    Params(query): Params<RecordsQuery>,
) -> Result<Json<EntryRecords>, ApiError> {
    let agency = caller.acting_for(query.agency.as_deref())?;
    let entry = state
        .store
        .get_log(&log_id)
        .await?
        .and_then(|entry| visible(entry, &caller))
        .ok_or_else(ApiError::not_found)?;
    let failures = match entry {
        LogEntry::Sync(sync) => sync.failures,
        LogEntry::Download(download) if download.agency == agency.as_str() => download.failures,
        _ => return Err(ApiError::not_found()),
    };
    let changes = state.store.changes(&log_id, agency.as_str()).await?;
    let keys: Vec<_> = changes.iter().map(|(_, key)| key.clone()).collect();
    let held = state.store.records_by_key(&keys).await?;
    state
        .audit
        .people(&caller, keys.iter().map(|k| &k.id_no), RECORDS, "read");
    Ok(Json(EntryRecords {
        log_id,
        agency: agency.to_string(),
        records: changes
            .into_iter()
            .map(|(change, key)| ChangedRecord {
                change: change.as_str(),
                person: state.sealer.person(&key.id_no),
                record: held
                    .get(&key)
                    // Still the agency's, and this version or a later one.
                    .filter(|stored| stored.record.org_code == agency)
                    .cloned()
                    .map(|stored| crate::records::RecordView::new(stored, &state.sealer)),
                id_no: key.id_no,
                course_code: key.course_code,
                term: key.term,
                start_date: key.start_date,
            })
            .collect(),
        refused: failures
            .into_iter()
            .filter(|f| f.agency.as_deref() == Some(agency.as_str()))
            .collect(),
    }))
}

const RECORDS: &str = "/v1/import-logs/{log_id}/records";
