//! What invokes a run (a schedule, an operator, an administrator's re-run,
//! the function's own continuation), the function's configuration, and
//! its errors as Lambda reports them.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use dynamodb_store::StoreError;
use learning_core::import_log::Trigger;
use learning_core::{ConfigError, DayRange, Env, Problem, RangeRules, Settings};
use portal_client::PortalConfig;
use serde::Serialize;
use tokio::time::Instant;

use crate::report::{Outcome, RunSummary};

/// What invokes the function: an EventBridge rule's scheduled event, an
/// EventBridge Scheduler payload (`template.yaml` sends the same two fields),
/// an operator's `{}`, or an administrator's re-run from the API
/// (`{"rerun": {...}}`). Only the source and the re-run matter; anything
/// else is ignored.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct SyncEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(
        default,
        rename = "detail-type",
        skip_serializing_if = "Option::is_none"
    )]
    pub detail_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<Rerun>,
}

/// An administrator's request to work some days again, whatever the
/// watermark says (`POST /v1/syncs`). Each day is fetched and written again
/// (a no-op for what is already right) and logged with who asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rerun {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The administrator (the token's subject).
    pub requested_by: String,
}

impl Rerun {
    /// The days to work, or why they cannot be ([`RangeRules::rerun`]).
    pub fn days(&self, settings: &Settings, now: DateTime<Utc>) -> Result<Vec<NaiveDate>, Problem> {
        let rules = RangeRules::rerun(settings);
        let range = DayRange::check(self.from, self.to, &rules, settings.today(now))?;
        Ok(range.iter().collect())
    }
}

impl SyncEvent {
    /// Starts the sync function (`function`: its name or ARN) on this event
    /// without waiting: Lambda's asynchronous invoke, which retries a
    /// failed run twice. How a re-run (from the API) and a continuation
    /// (from the function itself) reach it. The error is the SDK's, told
    /// whole, for the log.
    pub async fn invoke_async(
        &self,
        lambda: &aws_sdk_lambda::Client,
        function: &str,
    ) -> Result<(), String> {
        let payload = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        lambda
            .invoke()
            .function_name(function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_lambda::error::DisplayErrorContext(e).to_string())
    }

    pub fn trigger(&self) -> Trigger {
        match self.source.as_deref() {
            Some("aws.events" | "aws.scheduler") => Trigger::Schedule,
            _ => Trigger::Manual,
        }
    }

    /// What a run that stopped at its deadline with days left sends a new
    /// invocation of its own function (asynchronously) so that a backfill
    /// finishes by itself: this event again. Bounded: only after a run that
    /// wrote at least one day (in order, each moving the watermark; a
    /// failed day ends the run another way), so every invocation of the
    /// chain makes progress and the chain ends when the days do. An
    /// administrator's re-run is not continued (its range is re-run whole).
    pub fn continuation(&self, summary: &RunSummary) -> Option<SyncEvent> {
        let progressed = summary.outcome == Outcome::DeadlineReached
            && summary.days_left > 0
            && !summary.days.is_empty();
        (progressed && self.rerun.is_none()).then(|| self.clone())
    }

    /// The run this event asks for, in an invocation with `run_id` that
    /// must return by `deadline`.
    pub fn into_request(self, run_id: String, deadline: Instant) -> RunRequest {
        RunRequest {
            run_id,
            trigger: self.trigger(),
            deadline,
            rerun: self.rerun,
        }
    }
}

/// One invocation: who runs, why, and until when.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub run_id: String,
    pub trigger: Trigger,
    /// When the invocation must have returned.
    pub deadline: Instant,
    /// Days an administrator asked for; `None` for the days due.
    pub rerun: Option<Rerun>,
}

/// The function's configuration (see docs/operations.md).
#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub settings: Settings,
    /// `TABLE_NAME`.
    pub table: String,
    pub portal: PortalConfig,
    /// `SYNC_RESERVE_SECS` (60): time kept free before the Lambda deadline.
    pub reserve: Duration,
    /// `SYNC_LOOKBACK_DAYS` (7): days before today each nightly run reads
    /// again, for changes the portal records under a day already passed.
    pub lookback_days: u32,
}

impl SyncConfig {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(SyncConfig {
            settings: Settings::from_env(env)?,
            table: env.required("TABLE_NAME", "DynamoDB 資料表名稱")?,
            portal: PortalConfig::from_env(env)?,
            reserve: Duration::from_secs(env.number("SYNC_RESERVE_SECS", 60, 5..=600)?),
            lookback_days: env.number("SYNC_LOOKBACK_DAYS", 7, 0..=31)?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{date} 的資料同步失敗：{reason}")]
    DayFailed { date: NaiveDate, reason: String },
    #[error("無法重新執行：{0}")]
    InvalidRerun(Problem),
}

/// Lambda's error report: a stable type, a message without personal data.
impl From<SyncError> for lambda_runtime::Diagnostic {
    fn from(error: SyncError) -> Self {
        let error_type = match &error {
            SyncError::Store(e) => e.code(),
            SyncError::DayFailed { .. } => "day_failed",
            SyncError::InvalidRerun(problem) => problem.code,
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: error.to_string(),
        }
    }
}
