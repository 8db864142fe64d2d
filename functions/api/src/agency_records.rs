//! `GET /v1/records`: an agency's records passed in a date range, a page
//! at a time (the `gsi1` index, `AGENCY#<code>` by passed date): what
//! personnel staff check their agency's learning hours with.

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use learning_core::{DayRange, RangeRules};
use serde::{Deserialize, Serialize};

use crate::input::{Params, day};
use crate::records::RecordView;
use crate::{ApiError, AppState, Caller};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 500;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// First and last passed date (ISO or ROC), inclusive.
    from: String,
    to: String,
    /// Administrators: another agency.
    agency: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RecordsPage {
    pub agency: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub records: Vec<RecordView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<Query>,
) -> Result<Json<RecordsPage>, ApiError> {
    let agency = caller.acting_for(query.agency.as_deref())?;
    let (from, to) = (day("from", &query.from)?, day("to", &query.to)?);
    let today = state.settings.today(state.now());
    DayRange::check(from, to, &RangeRules::QUERY, today).map_err(ApiError::refused)?;
    let limit = crate::input::limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    // The position holds a national ID: sealed, and only for this agency.
    let context = format!("records:{agency}");
    let after = state
        .sealer
        .open_cursor(&context, query.cursor.as_deref())?;
    let (records, next) = state
        .store
        .agency_records(&agency, from, to, limit, after.as_deref())
        .await?;
    state.audit.people(
        &caller,
        records.iter().map(|r| &r.record.id_no),
        "/v1/records",
        "list",
    );
    Ok(Json(RecordsPage {
        agency: agency.to_string(),
        from,
        to,
        records: records
            .into_iter()
            .map(|r| RecordView::new(r, &state.sealer))
            .collect(),
        next_cursor: state.sealer.cursor(&context, next),
    }))
}
