//! Lambda entry point of the nightly automatic import: wiring only.

use std::time::SystemTime;

use daily_sync::{DailySync, RunSummary, SyncConfig, SyncError, SyncEvent};
use dynamodb_store::Store;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use learning_core::import_log::RunStatus;
use learning_core::{Env, metrics};
use portal_client::PortalClient;

async fn handle(
    sync: &DailySync<PortalClient>,
    event: LambdaEvent<SyncEvent>,
) -> Result<RunSummary, SyncError> {
    let (event, context) = event.into_parts();
    let left = learning_core::config::time_left(context.deadline(), SystemTime::now());
    let request = event.into_request(context.request_id, tokio::time::Instant::now() + left);
    let result = sync.run(&request, |_, _| {}).await;
    let (failed, refused) = match &result {
        Ok(summary) => summary.days.iter().fold((0, 0), |(failed, refused), d| {
            (
                failed + u64::from(d.status == RunStatus::Failed),
                refused + d.counts.failed,
            )
        }),
        Err(_) => (1, 0),
    };
    match sync.days_behind().await {
        Ok(behind) => metrics::publish(&[
            ("DaysBehind", behind),
            ("DaysFailed", failed),
            ("RecordsRefused", refused),
        ]),
        // No DaysBehind then: the alarm treats a missing report as behind.
        Err(e) => tracing::warn!(error = %e, "could not read the watermark for the metrics"),
    }
    result
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let mut config = SyncConfig::from_env(&Env::process())?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    config
        .portal
        .fetch_token(&aws_sdk_ssm::Client::new(&aws))
        .await?;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&aws), config.table);
    let portal = PortalClient::new(config.portal)?;
    let sync = DailySync::new(portal, store, config.settings, config.reserve)
        .with_lookback(config.lookback_days);
    lambda_runtime::run(service_fn(|event| handle(&sync, event))).await
}
