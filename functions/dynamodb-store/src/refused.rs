//! Portal records already refused and reported, by day and content, so a
//! day read again (the nightly lookback, a re-run) reports a record it
//! refused before once only — until the portal changes it. Kept as long as
//! a day can still be read again, then expired (TTL).

use chrono::{DateTime, NaiveDate, Utc};

use crate::items::{Item, item, n, s, text};
use crate::{Store, StoreError};

/// How long a refusal is remembered: past the longest lookback (31 days)
/// and an administrator's re-run of a recent month.
pub const REFUSALS_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(62);

fn refused_pk(day: NaiveDate) -> String {
    format!("REFUSED#{day}")
}

impl Store {
    /// The contents (fingerprints) of `day`'s records refused and reported
    /// before.
    pub async fn refused_before(
        &self,
        day: NaiveDate,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let items: Vec<Item> = crate::query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(refused_pk(day)))
                .projection_expression("sk"),
        )
        .await?;
        Ok(items.iter().filter_map(|item| text(item, "sk")).collect())
    }

    /// Remembers that `day`'s records of these contents were refused and
    /// reported in `log_id`. Writing one again changes nothing that
    /// matters (the first report stays the one staff read).
    pub async fn remember_refused(
        &self,
        day: NaiveDate,
        fingerprints: &[String],
        log_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let expires = (now + REFUSALS_KEPT).timestamp().max(0) as u64;
        let items: Vec<Item> = fingerprints
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|fingerprint| {
                item([
                    ("pk", s(refused_pk(day))),
                    ("sk", s(fingerprint)),
                    ("entity", s("refused_record")),
                    ("log_id", s(log_id)),
                    ("ttl", n(expires)),
                ])
            })
            .collect();
        self.write_all(items).await
    }
}
