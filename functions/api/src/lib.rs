//! The HTTP API for personnel staff: an axum router that Lambda runs
//! behind API Gateway (`lambda_http`) and the local stack serves on
//! 127.0.0.1.
//!
//! Authentication and agency scope are in [`auth`], the one error shape in
//! [`error`]; each route's module says what it does. The routes are listed
//! in [`router`] and described in `openapi.json` (served at
//! `/v1/openapi.json`; a test keeps the two equal). The pages staff use
//! are served by the same router ([`web`]).

mod agency_records;
pub mod audit;
pub mod auth;
mod csv_answer;
mod disputes;
mod downloads;
pub mod error;
mod hours;
mod input;
#[cfg(feature = "local")]
mod local;
mod log_views;
mod logs;
mod records;
mod seal;
mod settings;
mod status;
mod syncs;
mod uploads;
mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::MethodRouter;
use dynamodb_store::Store;
use learning_core::Settings;
use portal_client::PortalClient;

pub use audit::AuditKey;
pub use auth::{ADMIN_SCOPE, Caller, Claims, Role};
pub use error::{AccessError, ApiError, RequestError, ServiceError};
pub use learning_core::audit::AuditKeySource;
#[cfg(feature = "local")]
pub use local::LocalTokens;
pub use seal::Sealer;
pub use syncs::SyncLauncher;
pub use uploads::Uploads;

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
    /// `UPLOAD_URL`: where browsers POST uploads (the bucket's own
    /// endpoint, `https://<bucket>.s3.<region>.amazonaws.com`, by default).
    pub upload_url: String,
    /// `DOWNLOAD_TIMEOUT_SECS` (25): how long a download may wait for the
    /// portal; API Gateway answers 504 itself after 29 s, so the API gives
    /// up first and says so (`download_timeout`), its log entry closed.
    pub download_timeout: std::time::Duration,
    /// `AUDIT_KEY_PARAMETER`: the SSM SecureString holding the audit
    /// hash's key (read at cold start); `AUDIT_KEY` gives the key itself
    /// (local runs and tests). One of the two is required.
    pub audit_key: AuditKeySource,
}

impl ApiConfig {
    pub fn from_env<F: Fn(&str) -> Option<String>>(
        env: &learning_core::Env<F>,
    ) -> Result<Self, learning_core::ConfigError> {
        let bucket = env.required("UPLOAD_BUCKET", "上傳 CSV 的 S3 儲存貯體名稱")?;
        Ok(ApiConfig {
            settings: Settings::from_env(env)?,
            table: env.required("TABLE_NAME", "DynamoDB 資料表名稱")?,
            sync_function: env.required("SYNC_FUNCTION_NAME", "每日自動入檔函式名稱")?,
            upload_url: match env.get("UPLOAD_URL") {
                Some(url) => url,
                None => format!(
                    "https://{bucket}.s3.{}.amazonaws.com",
                    env.required("AWS_REGION", "Lambda 所在區域")?
                ),
            },
            bucket,
            download_timeout: std::time::Duration::from_secs(env.number(
                "DOWNLOAD_TIMEOUT_SECS",
                25,
                1..=28,
            )?),
            audit_key: AuditKeySource::from_env(env)?,
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
    #[cfg(feature = "local")]
    Local(LocalTokens),
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub portal: PortalClient,
    /// The upload bucket (uploads and import reports).
    pub bucket: String,
    /// Signs the upload forms; its URL is the bucket's endpoint (path-style
    /// locally), whose origin is the one the page may send files to.
    pub uploads: Uploads,
    /// Keys the person hash of the audit lines.
    pub audit: AuditKey,
    /// Seals cursors and person handles (keyed from the audit secret).
    pub sealer: Sealer,
    /// How long a download waits for the portal.
    pub download_timeout: std::time::Duration,
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

/// A list of routes: path, method and handler, the method written once.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:expr;)*) => {
        vec![$(($path, stringify!($method), axum::routing::$method($handler))),*]
    };
}

type Routes = Vec<(&'static str, &'static str, MethodRouter<AppState>)>;

/// Routes about people and imports: they require a caller, and their
/// answers stay out of every cache, the browser's and any shared one
/// between.
fn private_routes() -> Routes {
    routes! {
        post "/v1/downloads" => downloads::download;
        get "/v1/downloads/{log_id}" => downloads::again;
        post "/v1/uploads" => uploads::create;
        post "/v1/syncs" => syncs::rerun;
        get "/v1/settings" => settings::get;
        get "/v1/status" => status::get;
        get "/v1/records" => agency_records::list;
        get "/v1/hours" => hours::summary;
        get "/v1/import-logs" => logs::list;
        get "/v1/import-logs/{log_id}" => logs::detail;
        get "/v1/import-logs/{log_id}/records" => logs::records;
        get "/v1/disputes" => disputes::list;
        post "/v1/disputes/{dispute_id}/settlement" => disputes::settle;
        post "/v1/people/search" => records::search;
        get "/v1/people/{person}/records" => records::of_person;
        post "/v1/people/{person}/records" => records::create;
        get "/v1/people/{person}/records/{course_code}/{term}/{start_date}" => records::one;
        put "/v1/people/{person}/records/{course_code}/{term}/{start_date}" => records::edit;
        delete "/v1/people/{person}/records/{course_code}/{term}/{start_date}" => records::remove;
        post "/v1/people/{person}/records/{course_code}/{term}/{start_date}/removal" => records::remove_locked;
    }
}

/// The staff pages and the API's own document.
fn public_routes() -> Routes {
    routes! {
        get "/" => web::index;
        get "/web/{file}" => web::asset;
        get "/v1/openapi.json" => || async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) };
    }
}

/// Every route the router serves, as (path, method): what `openapi.json`
/// must document, no more and no less.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    private_routes()
        .into_iter()
        .chain(public_routes())
        .map(|(path, method, _)| (path, method))
        .collect()
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let private = private_routes()
        .into_iter()
        .fold(Router::new(), |router, (path, _, handler)| {
            router.route(path, handler)
        })
        .layer(axum::middleware::map_response(no_store));
    public_routes()
        .into_iter()
        .fold(private, |router, (path, _, handler)| {
            router.route(path, handler)
        })
        .fallback(|| async { ApiError::not_found() })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn no_store(mut response: axum::response::Response) -> axum::response::Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let missing = || ApiError::unauthorized("token_missing", "請先登入（缺少權杖）");
        match state.auth.as_ref() {
            #[cfg(feature = "local")]
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
                let (claims, scopes) = gateway_claims(parts).ok_or_else(missing)?;
                let text = |name: &str| claims.get(name).cloned().unwrap_or_default();
                Claims {
                    sub: text("sub"),
                    iss: text("iss"),
                    aud: text("aud"),
                    exp: text("exp").parse().unwrap_or_default(),
                    agency: text("agency"),
                    role: text("role"),
                    scope: scopes,
                }
                .caller()
            }
        }
    }
}

/// The claims and scopes API Gateway's JWT authorizer verified, from the
/// request context `lambda_http` attaches. Scopes come as their own list,
/// or (depending on the identity provider) only as the `scope` claim.
fn gateway_claims(
    parts: &Parts,
) -> Option<(std::collections::HashMap<String, String>, Option<String>)> {
    use lambda_http::request::RequestContext;
    let RequestContext::ApiGatewayV2(context) = parts.extensions.get::<RequestContext>()? else {
        return None;
    };
    let jwt = context.authorizer.as_ref()?.jwt.as_ref()?;
    let scopes = match &jwt.scopes {
        Some(scopes) if !scopes.is_empty() => Some(scopes.join(" ")),
        _ => jwt.claims.get("scope").cloned(),
    };
    Some((jwt.claims.clone(), scopes))
}
