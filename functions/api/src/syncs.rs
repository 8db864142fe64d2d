//! Admin: re-run the nightly sync for a day or a range (重新執行自動入檔).
//! The API checks the request and hands it to the sync function without
//! waiting (a re-run can take minutes; API Gateway waits 30 s): each day
//! then appears in the import log with trigger `manual` and who asked.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use daily_sync::{Rerun, SyncEvent};
use serde::{Deserialize, Serialize};

use crate::input::{JsonBody, day};
use crate::{ApiError, AppState, Caller, ServiceError};

/// How a re-run reaches the sync.
#[derive(Clone)]
pub enum SyncLauncher {
    /// Lambda's asynchronous invoke of the sync function (name or ARN);
    /// Lambda retries a failed run twice.
    Lambda {
        client: aws_sdk_lambda::Client,
        function: String,
    },
    /// In this process (the local stack, tests): starts the run and
    /// returns at once.
    #[cfg(feature = "local")]
    Local(std::sync::Arc<dyn Fn(SyncEvent) + Send + Sync>),
}

impl SyncLauncher {
    async fn launch(&self, event: SyncEvent) -> Result<(), ApiError> {
        match self {
            SyncLauncher::Lambda { client, function } => {
                event
                    .invoke_async(client, function)
                    .await
                    .map_err(|e| ServiceError::SyncUnavailable(e.into()))?;
            }
            #[cfg(feature = "local")]
            SyncLauncher::Local(start) => start(event),
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RerunRequest {
    /// The first day (ISO or ROC).
    from: String,
    /// The last day, inclusive; the first day when left out.
    to: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Queued {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: usize,
    pub requested_by: String,
    /// Where the days will appear.
    pub import_log: String,
}

pub async fn rerun(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<RerunRequest>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    caller.require_admin()?;
    let from = day("from", &request.from)?;
    let to = request.to.as_deref().map(|v| day("to", v)).transpose()?;
    let rerun = Rerun {
        from,
        to: to.unwrap_or(from),
        requested_by: caller.user.clone(),
    };
    let now = state.now();
    let days = rerun
        .days(&state.settings, now)
        .map_err(ApiError::refused)?;
    // The run itself would find the lease and do nothing; say so now.
    if let Some(lease) = state.store.lease().await?
        && lease.is_live(now)
    {
        return Err(ApiError::SyncRunning { until: lease.until });
    }
    let queued = Queued {
        from: rerun.from,
        to: rerun.to,
        days: days.len(),
        requested_by: rerun.requested_by.clone(),
        import_log: "/v1/import-logs?trigger=manual".into(),
    };
    state
        .launcher
        .launch(SyncEvent {
            rerun: Some(rerun),
            ..SyncEvent::default()
        })
        .await?;
    tracing::info!(from = %queued.from, to = %queued.to, days = queued.days, "re-run queued");
    Ok((StatusCode::ACCEPTED, Json(queued)))
}
