//! `GET /v1/settings`: the rules of the letter that are configuration
//! (R2), as this deployment has them, so the pages (and any client) show
//! and check the same limits as the API instead of repeating them.

use axum::Json;
use axum::extract::State;
use chrono::{Months, NaiveDate};
use serde::Serialize;

use crate::{AppState, Caller};

#[derive(Debug, Serialize)]
pub struct SettingsView {
    /// First day of the automatic import.
    pub start_date: NaiveDate,
    /// Last change date a CSV import accepts.
    pub csv_cutoff_date: NaiveDate,
    /// Longest download window, in days.
    pub download_max_days: u32,
    /// The zone that decides what a day is.
    pub time_zone: String,
    /// Largest CSV upload, in bytes.
    pub csv_max_bytes: u64,
    /// Today in that zone, and the import log's default range (the last
    /// calendar month through today).
    pub today: NaiveDate,
    pub log_default_from: NaiveDate,
}

pub async fn get(State(state): State<AppState>, _caller: Caller) -> Json<SettingsView> {
    let settings = &state.settings;
    let today = settings.today(state.now());
    Json(SettingsView {
        start_date: settings.start_date,
        csv_cutoff_date: settings.csv_cutoff,
        download_max_days: settings.download_max_days,
        time_zone: settings.zone.name().to_string(),
        csv_max_bytes: settings.csv_max_bytes,
        today,
        log_default_from: log_default_from(today),
    })
}

/// The import log's default first day: a month before `to` (R7).
pub(crate) fn log_default_from(to: NaiveDate) -> NaiveDate {
    to.checked_sub_months(Months::new(1)).unwrap_or(to)
}
