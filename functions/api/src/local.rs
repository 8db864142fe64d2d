//! What only the local stack and the tests compile in (feature `local`):
//! development tokens in `Authorization: Bearer`, which the API verifies
//! itself where no API Gateway stands in front of it, and re-runs started
//! in the same process. The deployed bootstrap is built without the
//! feature; `tests/template.rs` checks that it stays so.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

use crate::auth::{Caller, Claims};
use crate::error::ApiError;

/// Signs and checks development tokens: HS256 with a local key, this
/// issuer and audience.
#[derive(Clone)]
pub struct LocalTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub issuer: String,
    pub audience: String,
}

impl std::fmt::Debug for LocalTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTokens")
            .field("key", &"***")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl LocalTokens {
    pub fn new(key: impl AsRef<[u8]>, issuer: &str, audience: &str) -> Self {
        LocalTokens {
            encoding: EncodingKey::from_secret(key.as_ref()),
            decoding: DecodingKey::from_secret(key.as_ref()),
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        }
    }

    /// Signs a development token.
    pub fn mint(&self, claims: &Claims) -> String {
        // HS256 over serialisable claims cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .unwrap_or_default()
    }

    /// Checks a token's signature, algorithm (HS256 only), issuer,
    /// audience and expiry against `now` (seconds since the epoch: the
    /// API's clock, which tests set, not the machine's).
    pub fn verify(&self, token: &str, now: i64) -> Result<Caller, ApiError> {
        let invalid = || ApiError::unauthorized("token_invalid", "權杖無效，請重新登入");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| invalid())?
            .claims;
        if claims.exp <= now {
            return Err(ApiError::unauthorized(
                "token_expired",
                "權杖已過期，請重新登入",
            ));
        }
        claims.caller()
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::auth::tests::claims;
    use crate::auth::{ADMIN_SCOPE, Role};

    fn tokens() -> LocalTokens {
        LocalTokens::new("local-dev-key", "webhr-local", "webhr-api")
    }

    #[test]
    fn a_minted_token_verifies() {
        let token = tokens().mint(&claims(2_000));
        let caller = tokens().verify(&token, 1_000).unwrap();
        assert_eq!(caller.agency.as_str(), "376550000A");
        assert_eq!(caller.role, Role::Staff);
    }

    #[test]
    fn expired_forged_and_foreign_tokens_are_refused() {
        let token = tokens().mint(&claims(2_000));
        assert_eq!(
            tokens().verify(&token, 2_000).unwrap_err().code(),
            "token_expired"
        );
        let other_key = LocalTokens::new("another-key", "webhr-local", "webhr-api");
        assert_eq!(
            other_key.verify(&token, 1_000).unwrap_err().code(),
            "token_invalid"
        );
        // The body changed after signing: an admin claim slipped in.
        let mut admin = claims(2_000);
        admin.role = "admin".into();
        admin.scope = Some(ADMIN_SCOPE.into());
        let forged_body = tokens().mint(&admin);
        let parts: Vec<&str> = token.split('.').collect();
        let forged_parts: Vec<&str> = forged_body.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], forged_parts[1], parts[2]);
        assert_eq!(
            tokens().verify(&forged, 1_000).unwrap_err().code(),
            "token_invalid"
        );
        // alg "none" is not accepted.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            forged_parts[1]
        );
        assert_eq!(
            tokens().verify(&none, 1_000).unwrap_err().code(),
            "token_invalid"
        );
        let audience = LocalTokens::new("local-dev-key", "webhr-local", "other");
        assert_eq!(
            audience.verify(&token, 1_000).unwrap_err().code(),
            "token_invalid"
        );
        assert_eq!(
            tokens().verify("garbage", 1_000).unwrap_err().code(),
            "token_invalid"
        );
    }
}
