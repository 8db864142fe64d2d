//! Taking an import: a new object version starts one, a redelivery or a
//! continuation takes it over unless it is over or another invocation
//! holds its lease.

use chrono::Utc;
use dynamodb_store::StoreError;
use learning_core::AgencyCode;
use learning_core::import_log::{CsvImportEntry, UploadedFile};
use tokio::time::Instant;
use tracing::{info, warn};

use super::continuation::Resumed;
use super::{Handled, Importer};
use crate::ImportError;
use crate::event::{CONTINUATIONS, agency_of};

impl Importer {
    /// Starts the import of an object version, or finds it started.
    pub(super) async fn claim(
        &self,
        file: UploadedFile,
        invocation: &str,
        deadline: Instant,
    ) -> Result<Result<CsvImportEntry, Handled>, ImportError> {
        let log_id = file.log_id();
        if self.store.get_csv_log(&log_id).await?.is_some() {
            return self.take_over(&log_id, invocation, deadline).await;
        }
        let now = Utc::now();
        let agency = agency_of(&file.key).ok();
        let mut entry = CsvImportEntry::start(file, agency, now);
        entry.previous = self
            .store
            .latest_import(&entry.file.bucket, &entry.file.key)
            .await?
            .filter(|previous| *previous != log_id);
        entry.hold(invocation, lease_until(deadline));
        match self.store.put_csv_log(&mut entry).await {
            Ok(()) => {}
            // Another delivery created it a moment ago.
            Err(StoreError::ImportTakenOver { .. }) => {
                return self.take_over(&log_id, invocation, deadline).await;
            }
            Err(e) => return Err(e.into()),
        }
        self.store
            .set_latest_import(&entry.file.bucket, &entry.file.key, &log_id)
            .await?;
        // Not the key: staff name files after people (`A123456789 王小明.csv`).
        // The log id finds the entry, and the entry its file.
        info!(
            log_id,
            agency = entry.agency.as_ref().map(AgencyCode::as_str),
            size = entry.file.size,
            "import started"
        );
        Ok(Ok(entry))
    }

    pub(super) async fn claim_continuation(
        &self,
        bucket: &str,
        key: &str,
        invocation: &str,
        deadline: Instant,
    ) -> Result<(Result<CsvImportEntry, Handled>, Option<Resumed>), ImportError> {
        // continuations/<import id>/<seq>.resume
        let log_id = key
            .strip_prefix(CONTINUATIONS)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
            .to_string();
        let claimed = self.take_over(&log_id, invocation, deadline).await?;
        let resumed = match &claimed {
            Ok(entry) => self.read_resume(bucket, key, entry).await,
            Err(_) => None,
        };
        Ok((claimed, resumed))
    }

    /// The continuation's state, when it belongs to the entry's checkpoint
    /// (an invocation may have moved on since and failed): without it the
    /// import re-reads the file from the top.
    async fn read_resume(
        &self,
        bucket: &str,
        key: &str,
        entry: &CsvImportEntry,
    ) -> Option<Resumed> {
        let object = self.s3.get_object().bucket(bucket).key(key).send().await;
        let body = match object {
            Ok(object) => object.body.collect().await.ok()?.into_bytes(),
            Err(e) => {
                warn!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), key, "continuation unreadable; reading from the top");
                return None;
            }
        };
        Resumed::from_bytes(&body)
            .filter(|r| r.state.log_id == entry.log_id && r.state.rows == entry.counts.rows)
    }

    /// Takes over an existing import unless it is over or held.
    async fn take_over(
        &self,
        log_id: &str,
        invocation: &str,
        deadline: Instant,
    ) -> Result<Result<CsvImportEntry, Handled>, ImportError> {
        let skipped = |reason| {
            Err(Handled::Skipped {
                log_id: log_id.to_string(),
                reason,
            })
        };
        let Some(mut entry) = self.store.get_csv_log(log_id).await? else {
            return Ok(skipped("unknown_import"));
        };
        if entry.status.is_final() {
            info!(
                log_id,
                status = entry.status.as_str(),
                "already imported; delivery ignored"
            );
            return Ok(skipped("already_imported"));
        }
        let held = entry.lease_until.is_some_and(|until| until > Utc::now())
            && entry.lease_owner.as_deref() != Some(invocation);
        if held {
            info!(
                log_id,
                "another invocation holds the import; delivery ignored"
            );
            return Ok(skipped("in_progress"));
        }
        entry.invocations += 1;
        entry.hold(invocation, lease_until(deadline));
        match self.store.put_csv_log(&mut entry).await {
            Ok(()) => {
                info!(
                    log_id,
                    rows_done = entry.counts.rows,
                    invocation = entry.invocations,
                    "import resumed"
                );
                Ok(Ok(entry))
            }
            Err(StoreError::ImportTakenOver { .. }) => Ok(skipped("in_progress")),
            Err(e) => Err(e.into()),
        }
    }
}

/// When a lease taken now for an invocation ending at `deadline` ends.
fn lease_until(deadline: Instant) -> chrono::DateTime<Utc> {
    Utc::now() + deadline.saturating_duration_since(Instant::now())
}
