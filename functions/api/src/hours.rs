//! `GET /v1/hours`: a year's learning hours of the agency's people — each
//! person's passed hours in all, digital and in person — and who falls
//! short of the minimum the agency sets (civil servants must reach 20 hours
//! a year), as JSON or as a CSV for Excel.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use learning_core::{Hours, NationalId};
use serde::{Deserialize, Serialize};

use crate::csv_answer;
use crate::input::Params;
use crate::{ApiError, AppState, Caller};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The year, Gregorian (`2025`) or ROC (`114`).
    year: String,
    /// Hours a person must reach (one decimal; default 20).
    minimum: Option<String>,
    /// Administrators: another agency.
    agency: Option<String>,
    /// `json` (default) or `csv`, and for CSV `utf8` or `big5`.
    format: Option<String>,
    encoding: Option<String>,
}

/// One person's year.
#[derive(Debug, Serialize)]
pub struct PersonHours {
    pub id_no: NationalId,
    pub name: String,
    /// Passed records counted.
    pub records: u64,
    pub digital_hours: Hours,
    pub physical_hours: Hours,
    pub total_hours: Hours,
    /// Hours still missing to the minimum; absent when reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_by: Option<Hours>,
}

#[derive(Debug, Serialize)]
pub struct HoursSummary {
    pub agency: String,
    pub year: i32,
    pub minimum: Hours,
    /// People with at least one passed record that year, by ID.
    pub people: Vec<PersonHours>,
    /// How many of them fall short of the minimum.
    pub below_minimum: u64,
}

const DEFAULT_MINIMUM: Hours = Hours::from_tenths(200);

fn year(text: &str) -> Result<i32, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_year",
            "year 須為西元年（如 2025）或民國年（如 114）",
        )
    };
    let number: i32 = text.trim().parse().map_err(|_| bad())?;
    let year = if number < 1000 { number + 1911 } else { number };
    (1912..=9999)
        .contains(&year)
        .then_some(year)
        .ok_or_else(bad)
}

/// A summary query, checked.
struct Filter {
    year: i32,
    minimum: Hours,
    /// `None` for JSON, or the CSV's encoding.
    csv: Option<csv_answer::CsvEncoding>,
}

impl Query {
    fn filter(&self) -> Result<Filter, ApiError> {
        let year = year(&self.year)?;
        let minimum = match self.minimum.as_deref() {
            None => DEFAULT_MINIMUM,
            Some(text) => Hours::parse(text).map_err(|_| {
                ApiError::bad_request(
                    "invalid_minimum",
                    "minimum 須為時數，最多一位小數（如 20 或 20.5）",
                )
            })?,
        };
        Ok(Filter {
            year,
            minimum,
            csv: csv_answer::choice(self.format.as_deref(), self.encoding.as_deref())?,
        })
    }
}

pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<Query>,
) -> Result<Response, ApiError> {
    let agency = caller.acting_for(query.agency.as_deref())?;
    let Filter { year, minimum, csv } = query.filter()?;
    let (from, to) = (
        NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default(),
        NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or_default(),
    );
    let rows = state.store.agency_hours(&agency, from, to).await?;
    let mut people: BTreeMap<NationalId, PersonHours> = BTreeMap::new();
    let overflow = || ApiError::internal("hours_overflow", "a person's yearly hours overflow");
    for row in rows {
        let person = people
            .entry(row.id_no.clone())
            .or_insert_with(|| PersonHours {
                id_no: row.id_no,
                name: row.name,
                records: 0,
                digital_hours: Hours::default(),
                physical_hours: Hours::default(),
                total_hours: Hours::default(),
                short_by: None,
            });
        person.records += 1;
        person.digital_hours = person
            .digital_hours
            .checked_add(row.digital)
            .ok_or_else(overflow)?;
        person.physical_hours = person
            .physical_hours
            .checked_add(row.physical)
            .ok_or_else(overflow)?;
        person.total_hours = person
            .total_hours
            .checked_add(row.total)
            .ok_or_else(overflow)?;
    }
    let mut people: Vec<PersonHours> = people.into_values().collect();
    for person in &mut people {
        person.short_by = (person.total_hours < minimum)
            .then(|| Hours::from_tenths(minimum.tenths() - person.total_hours.tenths()));
    }
    state
        .audit
        .people(&caller, people.iter().map(|p| &p.id_no), ROUTE, "summary");
    let summary = HoursSummary {
        agency: agency.to_string(),
        year,
        minimum,
        below_minimum: people.iter().filter(|p| p.short_by.is_some()).count() as u64,
        people,
    };
    match csv {
        None => Ok(Json(summary).into_response()),
        Some(encoding) => csv_answer::file(
            &[
                "身分證字號",
                "姓名",
                "紀錄筆數",
                "數位時數",
                "實體時數",
                "認證時數",
                "未達時數",
            ],
            summary.people.iter().map(|p| {
                [
                    p.id_no.as_str().to_string(),
                    p.name.clone(),
                    p.records.to_string(),
                    p.digital_hours.to_string(),
                    p.physical_hours.to_string(),
                    p.total_hours.to_string(),
                    p.short_by.map(|h| h.to_string()).unwrap_or_default(),
                ]
            }),
            encoding,
            &format!("hours-{}-{year}", summary.agency),
        ),
    }
}

const ROUTE: &str = "/v1/hours";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_is_gregorian_or_roc() {
        assert_eq!(year("2025").unwrap(), 2025);
        assert_eq!(year("114").unwrap(), 2025);
        assert_eq!(year(" 105 ").unwrap(), 2016);
        for bad in ["", "abc", "0", "-5", "10000", "2025.5"] {
            assert_eq!(year(bad).unwrap_err().code(), "invalid_year", "{bad:?}");
        }
    }
}
