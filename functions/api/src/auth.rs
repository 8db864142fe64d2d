//! Who is calling, and what they may see.
//!
//! In the cloud, API Gateway's JWT authorizer has verified the token; the
//! function reads the claims it passes in the request context and trusts
//! nothing else. Locally there is no API Gateway: the local stack verifies
//! development tokens (HS256, signed with a local key) itself, with
//! [`crate::local::LocalTokens`] (feature `local`, never in the deployed
//! bootstrap). A header without a verified signature is never believed.

use learning_core::AgencyCode;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The OAuth scope an administrator's token must carry besides the
/// `admin` role: the identity provider grants it, API Gateway's JWT
/// authorizer checks it on administrators' routes (`AuthorizationScopes`
/// in `template.yaml`), and the function checks it on every route. A
/// user who could edit their own `role` attribute still has no scope.
pub const ADMIN_SCOPE: &str = "webhr/admin";

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Personnel staff of one agency: that agency's data only.
    Staff,
    /// Operators: every agency; may re-run the sync.
    Admin,
}

/// The verified caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's subject (a user id, never shown to other agencies).
    pub user: String,
    pub agency: AgencyCode,
    pub role: Role,
}

impl Caller {
    /// Whether the caller may see or change `agency`'s data.
    pub fn may_access(&self, agency: &AgencyCode) -> bool {
        self.role == Role::Admin || &self.agency == agency
    }

    /// Refuses with 403 unless [`Caller::may_access`].
    pub fn require(&self, agency: &AgencyCode) -> Result<(), ApiError> {
        if self.may_access(agency) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "other_agency",
                "只能查看或修改本機關人員的資料",
            ))
        }
    }

    /// The agency a request acts for: the caller's own, or the one it
    /// names (refused unless the caller may access it).
    pub fn acting_for(&self, named: Option<&str>) -> Result<AgencyCode, ApiError> {
        let Some(code) = named else {
            return Ok(self.agency.clone());
        };
        let agency = AgencyCode::parse(code)
            .map_err(|e| ApiError::bad_request("invalid_agency_code", e.to_string()))?;
        self.require(&agency)?;
        Ok(agency)
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden("admin_only", "此功能限系統管理者使用"))
        }
    }
}

/// The claims the system reads, as the identity provider (or `mint`) puts
/// them in a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// The caller's agency code.
    pub agency: String,
    /// `staff` or `admin`.
    pub role: String,
    /// OAuth scopes, space-separated; `admin` needs [`ADMIN_SCOPE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl Claims {
    /// The caller these claims describe, or why they describe none.
    pub fn caller(&self) -> Result<Caller, ApiError> {
        let agency = AgencyCode::parse(&self.agency)
            .map_err(|_| ApiError::unauthorized("token_invalid", "權杖中的機關代碼不正確"))?;
        let scoped = self
            .scope
            .as_deref()
            .is_some_and(|scopes| scopes.split_whitespace().any(|s| s == ADMIN_SCOPE));
        let role = match self.role.as_str() {
            "staff" => Role::Staff,
            "admin" if scoped => Role::Admin,
            "admin" => {
                return Err(ApiError::forbidden(
                    "admin_scope_missing",
                    format!("管理者權杖須含授權範圍 {ADMIN_SCOPE}，請向身分識別服務重新取得"),
                ));
            }
            _ => {
                return Err(ApiError::unauthorized(
                    "token_invalid",
                    "權杖中的角色不正確",
                ));
            }
        };
        if self.sub.is_empty() {
            return Err(ApiError::unauthorized("token_invalid", "權杖缺少使用者"));
        }
        Ok(Caller {
            user: self.sub.clone(),
            agency,
            role,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A staff member's claims, expiring at `exp`.
    pub(crate) fn claims(exp: i64) -> Claims {
        Claims {
            sub: "staff-1".into(),
            iss: "webhr-local".into(),
            aud: "webhr-api".into(),
            exp,
            agency: "376550000A".into(),
            role: "staff".into(),
            scope: None,
        }
    }

    #[test]
    fn the_admin_role_needs_the_admin_scope() {
        let mut admin = claims(1);
        admin.role = "admin".into();
        assert_eq!(admin.caller().unwrap_err().code(), "admin_scope_missing");
        admin.scope = Some("openid webhr/administrator".into());
        assert_eq!(admin.caller().unwrap_err().code(), "admin_scope_missing");
        admin.scope = Some(format!("openid {ADMIN_SCOPE}"));
        assert_eq!(admin.caller().unwrap().role, Role::Admin);
        // The scope alone makes no one an administrator.
        let mut staff = claims(1);
        staff.scope = Some(ADMIN_SCOPE.into());
        assert_eq!(staff.caller().unwrap().role, Role::Staff);
    }

    #[test]
    fn staff_see_their_agency_and_admins_all() {
        let staff = claims(1).caller().unwrap();
        let other = AgencyCode::parse("379000000A").unwrap();
        assert!(staff.may_access(&staff.agency.clone()));
        assert!(!staff.may_access(&other));
        let mut admin = claims(1);
        admin.role = "admin".into();
        admin.scope = Some(ADMIN_SCOPE.into());
        assert!(admin.caller().unwrap().may_access(&other));
    }
}
