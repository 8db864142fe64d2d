//! The days whose records an agency read before the day was over (a
//! download of today). A record read then can be corrected later the same
//! day and arrive with no sign of having changed since it passed; a write
//! of such a day's records looks for a former key (see
//! `learning_core::portal::may_hold_former_key`).

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use learning_core::AgencyCode;

use crate::items::{Item, n, s};
use crate::{Store, StoreError};

/// How long a day read early is remembered: as long as a change log is,
/// past any lookback or re-run that could write the day again.
const KEPT: chrono::TimeDelta = chrono::TimeDelta::days(400);

fn early_pk(day: NaiveDate) -> String {
    format!("EARLY#{day}")
}

const EARLY_SK: &str = "AGENCIES";

impl Store {
    /// Notes that `agency` read `day`'s records before the day was over.
    pub async fn note_read_early(
        &self,
        day: NaiveDate,
        agency: &AgencyCode,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(early_pk(day)))
            .key("sk", s(EARLY_SK))
            .update_expression("ADD agencies :agency SET #ttl = :ttl, entity = :entity")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(
                ":agency",
                aws_sdk_dynamodb::types::AttributeValue::Ss(vec![agency.to_string()]),
            )
            .expression_attribute_values(":ttl", n((now + KEPT).timestamp().max(0)))
            .expression_attribute_values(":entity", s("read_early"))
            .send()
            .await
            .map_err(|e| StoreError::sdk("UpdateItem", e))?;
        Ok(())
    }

    /// Which agencies read which of `days` early.
    pub(crate) async fn read_early(
        &self,
        days: &HashSet<NaiveDate>,
    ) -> Result<HashSet<(NaiveDate, String)>, StoreError> {
        let mut early = HashSet::new();
        for day in days {
            let Some(item) = self.get(early_pk(*day), EARLY_SK.to_string()).await? else {
                continue;
            };
            early.extend(agencies(&item).map(|agency| (*day, agency)));
        }
        Ok(early)
    }
}

fn agencies(item: &Item) -> impl Iterator<Item = String> + '_ {
    item.get("agencies")
        .and_then(|v| v.as_ss().ok())
        .into_iter()
        .flatten()
        .cloned()
}
