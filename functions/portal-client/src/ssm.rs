//! The portal's token from SSM Parameter Store: in the cloud it is a
//! SecureString (`PORTAL_TOKEN_PARAMETER`), never a plain environment
//! variable; each function reads it once, at cold start.

use learning_core::ConfigError;

use crate::{PortalConfig, Secret};

impl PortalConfig {
    /// Reads the token from the parameter `PORTAL_TOKEN_PARAMETER` names,
    /// decrypted; does nothing when it names none. The value is never
    /// logged or put in an error.
    pub async fn fetch_token(&mut self, ssm: &aws_sdk_ssm::Client) -> Result<(), ConfigError> {
        let Some(name) = &self.token_parameter else {
            return Ok(());
        };
        let value = secure_string(ssm, "PORTAL_TOKEN_PARAMETER", name).await?;
        self.token = Secret::new(value.trim());
        Ok(())
    }
}

/// The decrypted value of the SecureString `name`, which the environment
/// variable `variable` named; an error names the variable, never the value.
pub async fn secure_string(
    ssm: &aws_sdk_ssm::Client,
    variable: &'static str,
    name: &str,
) -> Result<String, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        variable,
        value: name.to_string(),
        reason,
    };
    let output = ssm
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| {
            invalid(format!(
                "無法讀取 SSM 參數：{}",
                aws_sdk_ssm::error::DisplayErrorContext(&e)
            ))
        })?;
    output
        .parameter
        .and_then(|p| p.value)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| invalid("SSM 參數沒有值".into()))
}
