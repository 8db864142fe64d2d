//! What the three entry points share: their logging and the AWS SDK's
//! configuration.

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
use aws_types::SdkConfig;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use learning_core::audit::AuditKeySource;
use learning_core::{ConfigError, Env};

/// The SDK's configuration from what Lambda puts in the environment: the
/// region (`AWS_REGION`), the role's credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and, for local runs,
/// endpoints (`AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`). HTTP goes
/// through [`sdk_http`] (reqwest, rustls with *ring*, the platform's
/// trusted roots), as the portal client's does.
///
/// Not `aws-config`: its credential chain (profiles, SSO, STS, instance
/// metadata) is for machines that are not Lambda, and half a MB of every
/// bootstrap.
pub fn aws_config() -> Result<SdkConfig, ConfigError> {
    aws_config_from(&Env::process())
}

/// The audit key's secret, where the configuration says: read once, at
/// cold start, from the SSM SecureString `AUDIT_KEY_PARAMETER` names (the
/// API and the CSV import share one), or given as `AUDIT_KEY`.
pub async fn audit_secret(aws: &SdkConfig, source: &AuditKeySource) -> Result<String, ConfigError> {
    match source {
        AuditKeySource::Parameter(name) => {
            let ssm = aws_sdk_ssm::Client::new(aws);
            portal_client::ssm::secure_string(&ssm, "AUDIT_KEY_PARAMETER", name).await
        }
        AuditKeySource::Key(key) => Ok(key.clone()),
    }
}

fn aws_config_from<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<SdkConfig, ConfigError> {
    let region = match env.get("AWS_REGION") {
        Some(region) => region,
        None => env.required("AWS_DEFAULT_REGION", "Lambda 所在區域（AWS_REGION）")?,
    };
    let credentials = Credentials::new(
        env.required("AWS_ACCESS_KEY_ID", "函式角色的存取金鑰")?,
        env.required("AWS_SECRET_ACCESS_KEY", "函式角色的秘密金鑰")?,
        env.get("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let endpoints = Endpoints {
        global: env.get("AWS_ENDPOINT_URL"),
        services: ["DYNAMODB", "S3", "SSM", "LAMBDA"]
            .into_iter()
            .filter_map(|id| Some((id, env.get(&format!("AWS_ENDPOINT_URL_{id}"))?)))
            .collect(),
    };
    Ok(SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(sdk_http::client())
        .service_config(endpoints)
        .build())
}

/// Endpoint overrides as the SDK's clients ask for them: the service's own
/// (`AWS_ENDPOINT_URL_DYNAMODB`), else the global one.
#[derive(Debug, Clone)]
struct Endpoints {
    global: Option<String>,
    services: Vec<(&'static str, String)>,
}

impl LoadServiceConfig for Endpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if key.env() != "AWS_ENDPOINT_URL" {
            return None;
        }
        let service = key.service_id().to_ascii_uppercase().replace(' ', "_");
        self.services
            .iter()
            .find(|(id, _)| *id == service)
            .map(|(_, url)| url.clone())
            .or_else(|| self.global.clone())
    }
}

/// Logs as `lambda_runtime::tracing::init_default_subscriber` does (JSON
/// under Lambda's `LogFormat: JSON`, no timestamps: CloudWatch adds them)
/// at one level: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`.
/// A level, not `EnvFilter`'s per-module directives, whose regex engine
/// is a few hundred KB of every bootstrap.
pub fn init_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| level.parse().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    let logs = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(level);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<SdkConfig, ConfigError> {
        aws_config_from(&Env::from_pairs(vars))
    }

    const LAMBDA: [(&str, &str); 4] = [
        ("AWS_REGION", "ap-northeast-1"),
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ];

    /// What a client of `service` (its SDK service id) asks for.
    fn endpoint(aws: &SdkConfig, service: &str) -> Option<String> {
        let key = ServiceConfigKey::builder()
            .service_id(service)
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .unwrap();
        aws.service_config()?.load_config(key)
    }

    #[test]
    fn each_client_gets_its_own_endpoint_else_the_global_one_else_none() {
        let mut vars = LAMBDA.to_vec();
        let aws = config(&vars).unwrap();
        assert_eq!(aws.region().map(|r| r.as_ref()), Some("ap-northeast-1"));
        assert_eq!(endpoint(&aws, "DynamoDB"), None, "AWS's own endpoints");

        vars.push(("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1"));
        vars.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:2"));
        let aws = config(&vars).unwrap();
        assert_eq!(
            endpoint(&aws, "DynamoDB").as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(
            endpoint(&aws, "Lambda").as_deref(),
            Some("http://127.0.0.1:2")
        );
    }

    #[test]
    fn without_credentials_the_function_does_not_start() {
        let error = config(&LAMBDA[..2]).unwrap_err();
        assert!(
            error.to_string().contains("AWS_SECRET_ACCESS_KEY"),
            "{error}"
        );
    }
}
