//! Lambda entry point of the CSV import: wiring only.

use std::time::SystemTime;

use aws_lambda_events::event::s3::S3Event;
use csv_import::{Handled, ImportConfig, ImportError, Importer};
use dynamodb_store::Store;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use learning_core::audit::AuditKey;
use learning_core::{Env, metrics};

async fn handle(
    importer: &Importer,
    event: LambdaEvent<S3Event>,
) -> Result<Vec<Handled>, ImportError> {
    let (event, context) = event.into_parts();
    let left = learning_core::config::time_left(context.deadline(), SystemTime::now());
    let deadline = tokio::time::Instant::now() + left;
    let handled = importer
        .handle(&event, &context.request_id, deadline)
        .await?;
    metrics::publish(&csv_import::metrics(&handled));
    Ok(handled)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    bootstraps::init_logging();
    let config = ImportConfig::from_env(&Env::process())?;
    let aws = bootstraps::aws_config()?;
    let audit = AuditKey::new(bootstraps::audit_secret(&aws, &config.audit_key).await?);
    let store = Store::new(aws_sdk_dynamodb::Client::new(&aws), &config.table);
    let importer = Importer::new(store, aws_sdk_s3::Client::new(&aws), &config, audit);
    lambda_runtime::run(service_fn(|event| handle(&importer, event))).await
}
