//! The client's configuration: the portal's address, token, timeouts
//! and retries, read from the environment.

use std::time::Duration;

use learning_core::{ConfigError, Env};

/// A credential that shows as `***` when printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// `PORTAL_BASE_URL`, e.g. `https://portal.example/api` (no trailing path).
    pub base_url: String,
    /// The bearer token the portal issued to WebHR: `PORTAL_TOKEN`, or
    /// read from SSM by [`PortalConfig::fetch_token`].
    pub token: Secret,
    /// `PORTAL_TOKEN_PARAMETER`: in the cloud, the SSM SecureString that
    /// holds the token (read once, at cold start).
    pub token_parameter: Option<String>,
    /// `PORTAL_TIMEOUT_SECS` (30): one request, from connect to last byte.
    pub timeout: Duration,
    /// `PORTAL_MAX_ATTEMPTS` (5): tries per page before giving up.
    pub max_attempts: u32,
    /// `PORTAL_PAGE_SIZE` (1000): records per page.
    pub page_size: u32,
    /// First backoff step; doubles per attempt up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// A 429 asking for longer than this is treated as an outage.
    pub max_retry_after: Duration,
}

impl PortalConfig {
    pub fn new(base_url: impl Into<String>, token: Secret) -> Self {
        PortalConfig {
            base_url: base_url.into(),
            token,
            token_parameter: None,
            timeout: Duration::from_secs(30),
            max_attempts: 5,
            page_size: 1000,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }

    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let base_url = env.parsed(
            "PORTAL_BASE_URL",
            String::new(),
            |v| match reqwest::Url::parse(v) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {
                    Ok(v.trim_end_matches('/').to_string())
                }
                _ => Err("須為 http(s) 網址"),
            },
        )?;
        if base_url.is_empty() {
            return Err(ConfigError::Missing {
                variable: "PORTAL_BASE_URL",
                hint: "終身學習入口網 API 的網址",
            });
        }
        let token_parameter = env.get("PORTAL_TOKEN_PARAMETER");
        let token = match &token_parameter {
            Some(_) => Secret::new(""),
            None => Secret::new(env.required(
                "PORTAL_TOKEN",
                "終身學習入口網核發給 WebHR 的存取權杖（雲端請以 PORTAL_TOKEN_PARAMETER 指定 SSM 參數）",
            )?),
        };
        let defaults = PortalConfig {
            token_parameter,
            ..PortalConfig::new(base_url, token)
        };
        Ok(PortalConfig {
            timeout: Duration::from_secs(env.number("PORTAL_TIMEOUT_SECS", 30, 1..=900)?),
            max_attempts: env.number("PORTAL_MAX_ATTEMPTS", defaults.max_attempts, 1..=20)?,
            page_size: env.number("PORTAL_PAGE_SIZE", defaults.page_size, 1..=5000)?,
            ..defaults
        })
    }
}
