//! What the three entry points share: the AWS SDK's configuration.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, rustls_provider::CryptoMode};

/// The SDK's configuration from the Lambda environment (region and
/// credentials from its variables), speaking HTTPS through [`https_client`]
/// with the platform's trusted roots.
pub async fn aws_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client(TlsContext::default()))
        .load()
        .await
}

/// The SDK's HTTP client: hyper on rustls with *ring*, the same TLS
/// library the portal client uses (the SDK's default is aws-lc, a second
/// crypto library of 1.3 MiB in every bootstrap). `tls` holds the trusted
/// roots; the TLS test hands in its own.
pub fn https_client(tls: TlsContext) -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https()
}
