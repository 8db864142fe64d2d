//! Lambda entry point of the HTTP API: wiring only. API Gateway's JWT
//! authorizer has verified every token before a request gets here.

use std::sync::Arc;

use api::{ApiConfig, AppState, AuditKey, Authentication, SyncLauncher, Uploads};
use dynamodb_store::Store;
use lambda_http::Error;
use learning_core::Env;
use portal_client::PortalClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bootstraps::init_logging();
    let env = Env::process();
    let config = ApiConfig::from_env(&env)?;
    let aws = bootstraps::aws_config()?;
    let ssm = aws_sdk_ssm::Client::new(&aws);
    let mut portal = portal_client::PortalConfig::from_env(&env)?;
    portal.fetch_token(&ssm).await?;
    let audit = AuditKey::new(bootstraps::audit_secret(&aws, &config.audit_key).await?);
    let state = AppState {
        store: Store::new(aws_sdk_dynamodb::Client::new(&aws), &config.table),
        portal: PortalClient::new(portal)?,
        bucket: config.bucket,
        uploads: Uploads::new(&aws, config.upload_url)?,
        sealer: audit.sealer(),
        audit,
        download_timeout: config.download_timeout,
        launcher: SyncLauncher::Lambda {
            client: aws_sdk_lambda::Client::new(&aws),
            function: config.sync_function,
        },
        settings: config.settings,
        auth: Arc::new(Authentication::ApiGateway),
        clock: Arc::new(chrono::Utc::now),
    };
    lambda_http::run(api::router(state)).await
}
