//! Lambda entry point of the nightly automatic import: wiring only.

use std::time::SystemTime;

use daily_sync::{DailySync, RunSummary, SyncConfig, SyncError, SyncEvent};
use dynamodb_store::Store;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use learning_core::{Env, metrics};
use portal_client::PortalClient;

async fn handle(
    sync: &DailySync<PortalClient>,
    lambda: &aws_sdk_lambda::Client,
    event: LambdaEvent<SyncEvent>,
) -> Result<RunSummary, SyncError> {
    let (event, context) = event.into_parts();
    let left = learning_core::config::time_left(context.deadline(), SystemTime::now());
    let request = event
        .clone()
        .into_request(context.request_id, tokio::time::Instant::now() + left);
    let result = sync.run(&request, |_, _| {}).await;
    if let Some(next) = result.as_ref().ok().and_then(|s| event.continuation(s)) {
        continue_in_new_invocation(lambda, &next).await;
    }
    match sync.days_behind().await {
        Ok(behind) => metrics::publish(&daily_sync::metrics(&result, behind)),
        // No DaysBehind then: the alarm treats a missing report as behind.
        Err(e) => tracing::warn!(error = %e, "could not read the watermark for the metrics"),
    }
    result
}

/// Invokes this function again, asynchronously, by its own name (the one
/// resource its role may invoke). A failure only delays the rest of the
/// backfill to the next night.
async fn continue_in_new_invocation(lambda: &aws_sdk_lambda::Client, next: &SyncEvent) {
    let Ok(name) = std::env::var("AWS_LAMBDA_FUNCTION_NAME") else {
        return;
    };
    match next.invoke_async(lambda, &name).await {
        Ok(()) => tracing::info!(function = %name, "days left: continued in a new invocation"),
        Err(e) => tracing::warn!(
            error = %e,
            "could not continue in a new invocation; the next night carries on"
        ),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    bootstraps::init_logging();
    let mut config = SyncConfig::from_env(&Env::process())?;
    let aws = bootstraps::aws_config()?;
    config
        .portal
        .fetch_token(&aws_sdk_ssm::Client::new(&aws))
        .await?;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&aws), config.table);
    let portal = PortalClient::new(config.portal)?;
    let sync = DailySync::new(portal, store, config.settings, config.reserve)
        .with_lookback(config.lookback_days);
    let lambda = aws_sdk_lambda::Client::new(&aws);
    lambda_runtime::run(service_fn(|event| handle(&sync, &lambda, event))).await
}
