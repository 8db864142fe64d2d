//! The DynamoDB adapter: training records, the import log and the sync
//! state share one table (see `table` for the design and docs/design.md for the
//! access patterns).
//!
//! Writes are idempotent by key: records are keyed by their natural key,
//! log entries by their run and day. The lock rule is enforced by the
//! database with condition expressions, so no race in application code can
//! get past it.

mod csv_import;
mod disputes;
mod error;
mod import_log;
pub mod items;
mod log_changes;
mod log_pages;
mod portal_writes;
mod read_early;
mod record_reads;
mod records;
mod refused;
mod retry;
mod staff_writes;
mod sync_state;
pub mod table;

use aws_sdk_dynamodb::Client;

pub use csv_import::{CsvOutcome, MAX_BATCH_RECORDS, REJECTED_ROWS_KEPT};
pub use disputes::{Dispute, Settlement, dispute_position};
pub use error::StoreError;
pub use learning_core::write::Change;
pub use log_pages::{LogPage, LogQuery};
pub use portal_writes::{UpsertCounts, Upserted};
pub use records::{HoursRow, StoredRecord};
pub use refused::REFUSALS_KEPT;
pub use retry::BatchRetry;
pub use sync_state::Lease;

/// Handle on the table; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
    retry: BatchRetry,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store {
            client,
            table: table.into(),
            retry: BatchRetry::default(),
        }
    }

    /// Changes how hard batch writes retry unprocessed items.
    pub fn with_retry(mut self, retry: BatchRetry) -> Self {
        self.retry = retry;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes one item whatever was there.
    pub(crate) async fn put(&self, item: items::Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::sdk("PutItem", e))?;
        Ok(())
    }

    /// One item by its full key, read consistently.
    pub(crate) async fn get(
        &self,
        pk: String,
        sk: String,
    ) -> Result<Option<items::Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", items::s(pk))
            .key("sk", items::s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        Ok(output.item)
    }
}

/// Every item a Query finds, page after page.
pub(crate) async fn query_all(
    request: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<items::Item>, StoreError> {
    request
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| StoreError::sdk("Query", e))
}
