//! The HTTP API in the local stack: the same router Lambda runs, served on
//! 127.0.0.1, with development tokens in place of API Gateway's JWT
//! authorizer. The signing key is made once per data folder
//! (`.local/dev-token.key`, readable by its owner only), so tokens minted
//! with `local-stack token` stay valid across restarts.

use std::io::{Read, Write};
use std::path::Path;

use api::{Claims, LocalTokens};

/// What development tokens carry as issuer and audience.
pub const ISSUER: &str = "webhr-local";
pub const AUDIENCE: &str = "webhr-api";

/// The development tokens of the local stack whose data is in `data`.
pub fn dev_tokens(data: &Path) -> std::io::Result<LocalTokens> {
    Ok(LocalTokens::new(
        local_key(data, "dev-token.key")?,
        ISSUER,
        AUDIENCE,
    ))
}

/// The audit hash's key of the local stack (`.local/audit.key`): the
/// local counterpart of the SSM SecureString `AUDIT_KEY_PARAMETER` names.
pub fn audit_key(data: &Path) -> std::io::Result<api::AuditKey> {
    Ok(api::AuditKey::new(audit_secret(data)?))
}

/// The secret itself, as `AUDIT_KEY` gives it to a function.
pub fn audit_secret(data: &Path) -> std::io::Result<String> {
    local_key(data, "audit.key")
}

/// A random key kept in `data/name`, made on first use, readable by its
/// owner only.
fn local_key(data: &Path, name: &str) -> std::io::Result<String> {
    let path = data.join(name);
    let key = match std::fs::read_to_string(&path) {
        Ok(key) => key.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data)?;
            let mut bytes = [0u8; 32];
            std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
            let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let mut file = std::fs::OpenOptions::new();
            file.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
            file.open(&path)?.write_all(key.as_bytes())?;
            key
        }
        Err(e) => return Err(e),
    };
    Ok(key)
}

/// A development token for `user` of `agency` in `role` (`staff` or
/// `admin`), valid for `hours`; refused claims are refused here too.
pub fn mint(
    tokens: &LocalTokens,
    user: &str,
    agency: &str,
    role: &str,
    hours: i64,
) -> Result<String, api::ApiError> {
    let claims = Claims {
        sub: user.to_string(),
        iss: ISSUER.to_string(),
        aud: AUDIENCE.to_string(),
        exp: chrono::Utc::now().timestamp() + hours * 3600,
        agency: agency.to_string(),
        role: role.to_string(),
        // What the identity provider grants administrators.
        scope: (role == "admin").then(|| api::ADMIN_SCOPE.to_string()),
    };
    claims.caller()?;
    Ok(tokens.mint(&claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_private_and_tokens_outlive_a_restart() {
        let data = std::env::temp_dir().join(format!("webhr-dev-key-{}", std::process::id()));
        let first = dev_tokens(&data).unwrap();
        let token = mint(&first, "ops1", "376550000A", "admin", 1).unwrap();
        let again = dev_tokens(&data).unwrap();
        let caller = again
            .verify(&token, chrono::Utc::now().timestamp())
            .unwrap();
        assert_eq!(
            (caller.user.as_str(), caller.role),
            ("ops1", api::Role::Admin)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.join("dev-token.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let elsewhere = dev_tokens(&data.join("other")).unwrap();
        assert!(
            elsewhere
                .verify(&token, chrono::Utc::now().timestamp())
                .is_err()
        );
        assert!(mint(&first, "u", "376550000A", "root", 1).is_err());
        assert!(mint(&first, "u", "not-an-agency", "staff", 1).is_err());
        std::fs::remove_dir_all(&data).unwrap();
    }
}
