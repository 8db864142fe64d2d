//! `GET /v1/status`: how far the automatic import has got — the last day
//! it has fully done (已匯入至 115/12/04) and how many days it is behind —
//! and last night's outcome as the caller's agency sees it, for the top of
//! the log page.

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use dynamodb_store::LogQuery;
use learning_core::import_log::{LogEntry, Trigger};
use serde::Serialize;

use crate::logs::{EntryView, visible};
use crate::{ApiError, AppState, Caller};

#[derive(Debug, Serialize)]
pub struct Status {
    /// The last day the automatic import has fully done (the watermark);
    /// absent before its first night.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imported_through: Option<NaiveDate>,
    /// Days from it to yesterday: 0 when the import is up to date (it
    /// brings a day the night after).
    pub days_behind: u64,
    /// The latest night's entry for its newest day (not a day read again),
    /// with the caller's agency's counts; absent if none in the last week.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_night: Option<EntryView>,
}

/// How far back the last night is looked for.
const LOOKED_BACK: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// Entries a night writes at most (its new day or days, and seven read
/// again): one page finds its newest day.
const ONE_NIGHT: usize = 40;

pub async fn get(State(state): State<AppState>, caller: Caller) -> Result<Json<Status>, ApiError> {
    let now = state.now();
    let watermark = state.store.watermark().await?;
    let page = state
        .store
        .logs_page(&LogQuery {
            from: now - LOOKED_BACK,
            to: now,
            trigger: Some(Trigger::Schedule),
            agency: (caller.role != crate::Role::Admin).then(|| caller.agency.to_string()),
            limit: ONE_NIGHT,
            after: None,
        })
        .await?;
    let last_night = page
        .entries
        .into_iter()
        .find(|entry| matches!(entry, LogEntry::Sync(sync) if !sync.lookback))
        .and_then(|entry| visible(entry, &caller))
        .map(EntryView::from);
    Ok(Json(Status {
        imported_through: watermark,
        days_behind: state.settings.days_behind(watermark, now),
        last_night,
    }))
}
