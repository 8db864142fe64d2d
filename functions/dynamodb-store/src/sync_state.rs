//! The sync's progress (the watermark: last day fully done) and its lease
//! (only one run works at a time).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, Utc};

use crate::error::is_condition_failure;
use crate::items::{number, s, text};
use crate::{Store, StoreError};

const SYNC_PK: &str = "SYNC#daily";

/// The sync's lease: one run at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lease {
    /// The run id holding it.
    pub owner: String,
    pub until: Option<DateTime<Utc>>,
}

impl Lease {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.until.is_some_and(|until| until >= now)
    }
}

impl Store {
    /// The last day the automatic import completed, `None` before the first.
    pub async fn watermark(&self) -> Result<Option<NaiveDate>, StoreError> {
        self.sync_date("STATE", "watermark").await
    }

    /// Moves the watermark from `expected` to `day`; refused if another run
    /// moved it elsewhere meanwhile. Finding it at `day` already is success:
    /// an SDK retry of a write whose answer was lost must not fail the run.
    pub async fn advance_watermark(
        &self,
        expected: Option<NaiveDate>,
        day: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(SYNC_PK))
            .item("sk", s("STATE"))
            .item("watermark", s(day.to_string()))
            .item("updated_at", s(now.to_rfc3339()));
        request = match expected {
            Some(previous) => request
                .condition_expression("watermark IN (:previous, :day)")
                .expression_attribute_values(":previous", s(previous.to_string())),
            None => request.condition_expression("attribute_not_exists(pk) OR watermark = :day"),
        }
        .expression_attribute_values(":day", s(day.to_string()));
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::WatermarkMoved {
                expected: expected.map_or("（無）".to_string(), |d| d.to_string()),
            }),
            Err(e) => Err(StoreError::sdk("PutItem", e)),
        }
    }

    /// The earliest day a scheduled run's lookback could not read (it
    /// failed, or time ran out before it): the next run reads again from
    /// there. `None` when every lookback day was read.
    pub async fn lookback_pending(&self) -> Result<Option<NaiveDate>, StoreError> {
        self.sync_date("LOOKBACK", "from").await
    }

    /// The date `attribute` of the sync's item `sk`; `None` without the item.
    async fn sync_date(&self, sk: &str, attribute: &str) -> Result<Option<NaiveDate>, StoreError> {
        let Some(item) = self.get(SYNC_PK.into(), sk.into()).await? else {
            return Ok(None);
        };
        let raw = text(&item, attribute).unwrap_or_default();
        raw.parse().map(Some).map_err(|_| StoreError::Corrupt {
            key: format!("{SYNC_PK} / {sk}"),
            detail: format!("{attribute}「{raw}」"),
        })
    }

    /// Sets (or with `None` clears) [`Store::lookback_pending`].
    pub async fn set_lookback_pending(&self, from: Option<NaiveDate>) -> Result<(), StoreError> {
        match from {
            Some(day) => {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .item("pk", s(SYNC_PK))
                    .item("sk", s("LOOKBACK"))
                    .item("from", s(day.to_string()))
                    .send()
                    .await
                    .map_err(|e| StoreError::sdk("PutItem", e))?;
            }
            None => {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .key("pk", s(SYNC_PK))
                    .key("sk", s("LOOKBACK"))
                    .send()
                    .await
                    .map_err(|e| StoreError::sdk("DeleteItem", e))?;
            }
        }
        Ok(())
    }

    /// Takes the lease until `until` if nobody holds a live one.
    pub async fn acquire_lease(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(SYNC_PK))
            .item("sk", s("LEASE"))
            .item("owner", s(owner))
            .item(
                "expires_at",
                AttributeValue::N(until.timestamp().to_string()),
            )
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now OR #owner = :me")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(self.lease_holder().await),
            Err(e) => Err(StoreError::sdk("PutItem", e)),
        }
    }

    async fn lease_holder(&self) -> StoreError {
        match self.lease().await {
            Ok(lease) => {
                let lease = lease.unwrap_or_default();
                StoreError::LeaseHeld {
                    until: lease
                        .until
                        .map_or_else(|| "?".to_string(), |t| t.to_rfc3339()),
                    owner: lease.owner,
                }
            }
            Err(e) => e,
        }
    }

    /// Who holds the sync's lease and until when (it may have expired).
    pub async fn lease(&self) -> Result<Option<Lease>, StoreError> {
        let item = self.get(SYNC_PK.into(), "LEASE".into()).await?;
        Ok(item.map(|item| Lease {
            owner: text(&item, "owner").unwrap_or_default(),
            until: number(&item, "expires_at").and_then(|t| DateTime::from_timestamp(t as i64, 0)),
        }))
    }

    /// Gives the lease back; a lease someone else holds is left alone.
    pub async fn release_lease(&self, owner: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(SYNC_PK))
            .key("sk", s("LEASE"))
            .condition_expression("#owner = :me")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(StoreError::sdk("DeleteItem", e)),
        }
    }
}
