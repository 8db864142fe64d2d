//! The HTTP API for personnel staff: an axum router that Lambda runs
//! behind API Gateway (`lambda_http`) and the local stack serves on
//! 127.0.0.1.
//!
//! Authentication and agency scope are in [`auth`], the one error shape in
//! [`error`]; each route's module says what it does. The routes are listed
//! in [`router`] and described in `openapi.json` (served at
//! `/v1/openapi.json`; a test keeps the two equal). The pages staff use
//! are served by the same router ([`web`]).

pub mod auth;
mod downloads;
pub mod error;
mod input;
mod logs;
mod records;
mod syncs;
mod uploads;
mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::{get, post};
use dynamodb_store::Store;
use learning_core::Settings;
use portal_client::PortalClient;

pub use auth::{Caller, Claims, LocalTokens, Role};
pub use error::ApiError;
pub use syncs::SyncLauncher;

/// Request bodies larger than this are refused (413) before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the function reads from its environment (besides the portal's
/// `PORTAL_*`, read by `portal_client::PortalConfig::from_env`).
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub settings: Settings,
    /// `TABLE_NAME`.
    pub table: String,
    /// `UPLOAD_BUCKET`: where uploads go and reports are.
    pub bucket: String,
    /// `SYNC_FUNCTION_NAME`: the sync function administrators' re-runs
    /// invoke.
    pub sync_function: String,
}

impl ApiConfig {
    pub fn from_env<F: Fn(&str) -> Option<String>>(
        env: &learning_core::Env<F>,
    ) -> Result<Self, learning_core::ConfigError> {
        Ok(ApiConfig {
            settings: Settings::from_env(env)?,
            table: env.required("TABLE_NAME", "DynamoDB 資料表名稱")?,
            bucket: env.required("UPLOAD_BUCKET", "上傳 CSV 的 S3 儲存貯體名稱")?,
            sync_function: env.required("SYNC_FUNCTION_NAME", "每日自動入檔函式名稱")?,
        })
    }
}

/// How callers are identified.
#[derive(Debug, Clone)]
pub enum Authentication {
    /// Behind API Gateway: its JWT authorizer verified the token; the
    /// claims come in the request context.
    ApiGateway,
    /// Locally: development tokens in `Authorization: Bearer`, verified here.
    Local(LocalTokens),
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub portal: PortalClient,
    pub s3: aws_sdk_s3::Client,
    /// The upload bucket (uploads and import reports).
    pub bucket: String,
    /// Where administrators' re-runs go.
    pub launcher: SyncLauncher,
    pub settings: Settings,
    pub auth: Arc<Authentication>,
    /// The time (tests set it).
    pub clock: Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>,
}

impl AppState {
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        (self.clock)()
    }
}

/// The API's OpenAPI 3.1 document.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The whole API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(web::index))
        .route("/web/{file}", get(web::asset))
        .route(
            "/v1/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .route("/v1/downloads", post(downloads::download))
        .route("/v1/uploads", post(uploads::create))
        .route("/v1/syncs", post(syncs::rerun))
        .route("/v1/import-logs", get(logs::list))
        .route("/v1/import-logs/{log_id}", get(logs::detail))
        .route(
            "/v1/people/{id_no}/records",
            get(records::of_person).post(records::create),
        )
        .route(
            "/v1/people/{id_no}/records/{course_code}/{term}/{start_date}",
            get(records::one).put(records::edit).delete(records::remove),
        )
        .fallback(|| async { ApiError::not_found() })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let missing = || ApiError::unauthorized("token_missing", "請先登入（缺少權杖）");
        match state.auth.as_ref() {
            Authentication::Local(tokens) => {
                let token = parts
                    .headers
                    .get(axum::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .ok_or_else(missing)?;
                tokens.verify(token.trim(), state.now().timestamp())
            }
            Authentication::ApiGateway => {
                let claims = gateway_claims(parts).ok_or_else(missing)?;
                let text = |name: &str| claims.get(name).cloned().unwrap_or_default();
                Claims {
                    sub: text("sub"),
                    iss: text("iss"),
                    aud: text("aud"),
                    exp: text("exp").parse().unwrap_or_default(),
                    agency: text("agency"),
                    role: text("role"),
                }
                .caller()
            }
        }
    }
}

/// The claims API Gateway's JWT authorizer verified, from the request
/// context `lambda_http` attaches.
fn gateway_claims(parts: &Parts) -> Option<std::collections::HashMap<String, String>> {
    use lambda_http::request::RequestContext;
    match parts.extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => {
            Some(context.authorizer.as_ref()?.jwt.as_ref()?.claims.clone())
        }
        _ => None,
    }
}
