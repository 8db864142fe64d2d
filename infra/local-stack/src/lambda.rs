//! Lambda's part in the local stack: S3 events delivered to the CSV
//! import, and administrators' re-runs to the sync, in this process, the
//! way Lambda invokes a function for an asynchronous event — concurrently,
//! each invocation with its own deadline, and an invocation that fails
//! retried twice.

use std::sync::Arc;
use std::time::Duration;

use api::SyncLauncher;
use aws_lambda_events::event::s3::S3Event;
use csv_import::{Handled, Importer};
use daily_sync::{DailySync, SyncEvent};
use portal_client::PortalClient;
use serde_json::Value;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tracing::{error, warn};

/// Lambda's asynchronous invocations: the first try and two retries.
const ATTEMPTS: u32 = 3;

/// How the local Lambda invokes the import.
#[derive(Debug, Clone, Copy)]
pub struct Invocations {
    /// Each invocation's time, as the function's timeout in the cloud.
    pub timeout: Duration,
    /// Wait before a failed invocation is retried (Lambda waits a minute
    /// or two; locally a moment).
    pub retry_after: Duration,
}

impl Default for Invocations {
    fn default() -> Self {
        Invocations {
            timeout: Duration::from_secs(900),
            retry_after: Duration::from_millis(500),
        }
    }
}

/// What an invocation answered, for whoever watches (tests, the CLI).
pub type Answer = Result<Vec<Handled>, String>;

/// Delivers every event from `events` to `importer` until the sender side
/// is gone. Answers go to `answers`, if given.
pub fn deliver_s3_events(
    mut events: UnboundedReceiver<Value>,
    importer: Arc<Importer>,
    invocations: Invocations,
    answers: Option<UnboundedSender<Answer>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut number = 0u64;
        while let Some(event) = events.recv().await {
            number += 1;
            let importer = importer.clone();
            let answers = answers.clone();
            tokio::spawn(async move {
                let answer = invoke(&importer, event, number, invocations).await;
                if let Some(answers) = answers {
                    let _ = answers.send(answer);
                }
            });
        }
    })
}

async fn invoke(
    importer: &Importer,
    event: Value,
    number: u64,
    invocations: Invocations,
) -> Answer {
    let event: S3Event = serde_json::from_value(event).map_err(|e| {
        error!(error = %e, "not an S3 event");
        e.to_string()
    })?;
    // A retry keeps the request id, as in Lambda.
    let request_id = format!("local-{number}");
    let mut attempt = 1;
    loop {
        let deadline = tokio::time::Instant::now() + invocations.timeout;
        match importer.handle(&event, &request_id, deadline).await {
            Ok(handled) => return Ok(handled),
            Err(e) if attempt < ATTEMPTS => {
                warn!(error = %e, code = e.code(), attempt, "invocation failed; Lambda retries it");
                attempt += 1;
                tokio::time::sleep(invocations.retry_after).await;
            }
            Err(e) => {
                error!(error = %e, code = e.code(), "invocation failed for good");
                return Err(e.to_string());
            }
        }
    }
}

/// Re-runs from the API, run by `sync` in this process as Lambda would
/// (its timeout, two retries with the same request id). Each run's summary
/// or error goes to the log.
pub fn sync_launcher(sync: Arc<DailySync<PortalClient>>, invocations: Invocations) -> SyncLauncher {
    static NUMBER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    SyncLauncher::Local(Arc::new(move |event: SyncEvent| {
        let sync = sync.clone();
        let number = NUMBER.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        tokio::spawn(async move {
            for attempt in 1..=ATTEMPTS {
                let deadline = tokio::time::Instant::now() + invocations.timeout;
                let request = event
                    .clone()
                    .into_request(format!("local-sync-{number}"), deadline);
                match sync.run(&request, |_, _| {}).await {
                    Ok(summary) => {
                        tracing::info!(outcome = ?summary.outcome, days = summary.days.len(), "sync run done");
                        return;
                    }
                    Err(e) if attempt < ATTEMPTS => {
                        warn!(error = %e, attempt, "sync run failed; Lambda retries it");
                        tokio::time::sleep(invocations.retry_after).await;
                    }
                    Err(e) => error!(error = %e, "sync run failed for good"),
                }
            }
        });
    }))
}
