//! Client for the portal's record API (`docs/portal-api.yaml`).
//!
//! Every page is fetched with a timeout and bounded retries: exponential
//! backoff with full jitter on 5xx, timeouts and broken connections, and at
//! least `Retry-After` on 429. A page that cannot be read after the retries
//! fails with an error naming the page and the field. The token is sent as a
//! sensitive header and never appears in `Debug` output or logs.

use std::time::Duration;

use chrono::NaiveDate;
use learning_core::backoff::Backoff;
use learning_core::record::RawRecord;
use learning_core::{AgencyCode, ConfigError, Env, PortalId};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use serde::Deserialize;
use tracing::{debug, instrument, warn};

pub mod ssm;

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

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("入口網拒絕 WebHR 的存取權杖（HTTP 401），請確認 PORTAL_TOKEN")]
    Unauthorized,
    #[error("入口網拒絕查詢（HTTP {status}，{code}）：{message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    #[error("入口網暫時無法使用：第 {page} 頁嘗試 {attempts} 次仍失敗（最後一次：{last}）")]
    Unavailable {
        page: u32,
        attempts: u32,
        last: String,
    },
    #[error("入口網回傳的資料格式錯誤：第 {page} 頁，欄位 {field}：{detail}")]
    Malformed {
        page: u32,
        field: String,
        detail: String,
    },
    #[error("無法建立連線設定：{0}")]
    Setup(#[source] reqwest::Error),
}

impl PortalError {
    /// Stable code for the import log and alarms.
    pub fn code(&self) -> &'static str {
        match self {
            PortalError::Unauthorized => "portal_unauthorized",
            PortalError::Rejected { .. } => "portal_rejected",
            PortalError::Unavailable { .. } => "portal_unavailable",
            PortalError::Malformed { .. } => "portal_malformed",
            PortalError::Setup(_) => "portal_setup",
        }
    }
}

/// What was wrong with a page, without the value that was: serde's own
/// message quotes it (`invalid type: string "A123456789"`), and this text
/// reaches the import log every agency's staff read. The field's path says
/// where.
fn malformed(error: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match error.classify() {
        Category::Data => "型別或值不符合入口網 API 規格",
        Category::Syntax => "不是正確的 JSON",
        Category::Eof => "內容不完整（連線中斷或被截斷）",
        Category::Io => "讀取失敗",
    }
}

/// One record as the portal sends it. No `Debug`: it holds a person's ID,
/// name and birth date unmasked; its checked form, `RawRecord`, masks them.
#[derive(Deserialize)]
struct WireRecord {
    record_id: String,
    id_no: String,
    name: String,
    #[serde(default)]
    birth_date: Option<String>,
    org_code: String,
    org_name: String,
    course_code: String,
    course_name: String,
    #[serde(default)]
    category_code: String,
    #[serde(default)]
    provider: String,
    term: u32,
    start_date: String,
    end_date: String,
    mode: u8,
    digital_hours: String,
    physical_hours: String,
    total_hours: String,
    status: String,
    #[serde(default)]
    passed_date: Option<String>,
    changed_date: String,
}

impl From<WireRecord> for RawRecord {
    fn from(w: WireRecord) -> Self {
        RawRecord {
            id_no: w.id_no,
            name: w.name,
            birth_date: w.birth_date.unwrap_or_default(),
            org_code: w.org_code,
            org_name: w.org_name,
            course_code: w.course_code,
            course_name: w.course_name,
            category_code: w.category_code,
            provider: w.provider,
            term: w.term.to_string(),
            start_date: w.start_date,
            end_date: w.end_date,
            mode: w.mode.to_string(),
            digital_hours: w.digital_hours,
            physical_hours: w.physical_hours,
            total_hours: w.total_hours,
            status: w.status,
            passed_date: w.passed_date.unwrap_or_default(),
            changed_date: w.changed_date,
        }
    }
}

/// A page: its records read one by one (a record of the wrong shape is
/// refused on its own, the rest of the page read on).
#[derive(Deserialize)]
struct WirePage {
    records: Vec<serde_json::Value>,
    next_cursor: Option<String>,
}

/// A record of the API's shape: the portal's identity of it, and its
/// fields as text, still to be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub id: PortalId,
    pub raw: RawRecord,
}

/// A record the portal sent, or why it is not a record of the API's shape
/// at all.
pub type PortalRecord = Result<Fetched, Box<Unreadable>>;

/// A record that is not of the API's shape — a field of the wrong JSON
/// type (`"term": "1"`), a required field null or missing, not an object:
/// refused on its own, counted and listed like any invalid value, while
/// the rest of its page is read. Its `Debug` masks the ID.
#[derive(Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The ID as sent, when it was text (for the masked listing).
    pub id_no: String,
    /// The agency code as sent, when it was text.
    pub org_code: String,
    /// `invalid_type`, naming the field, never its value.
    pub problem: learning_core::Problem,
    /// A hash of the record as sent: the same record refused again is
    /// told from one the portal has changed since.
    pub content_hash: u64,
}

impl std::fmt::Debug for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unreadable")
            .field(
                "id_no",
                &learning_core::national_id::mask_raw_id(&self.id_no),
            )
            .field("org_code", &self.org_code)
            .field("problem", &self.problem)
            .finish()
    }
}

/// One record of a page: strictly of the API's shape, or refused.
fn read_record(value: serde_json::Value) -> PortalRecord {
    let unreadable = |field: &str| {
        let text = |name: &str| {
            value
                .get(name)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let named = learning_core::record::Field::from_name(field);
        let problem = learning_core::Problem::new(
            "invalid_type",
            format!(
                "入口網送來的欄位「{}」缺漏或型別不符合 API 規格（如數字送成文字），此筆紀錄未入檔；請入口網更正",
                named.map_or(field, |f| f.header()),
            ),
        );
        Box::new(Unreadable {
            id_no: text("id_no"),
            org_code: text("org_code"),
            content_hash: learning_core::hash::fnv1a(&[value.to_string()]),
            problem: match named {
                Some(f) => problem.in_field(f.id()),
                None => problem,
            },
        })
    };
    let wire = serde_path_to_error::deserialize::<_, WireRecord>(&value)
        .map_err(|e| unreadable(&e.path().to_string()))?;
    let id = PortalId::parse(&wire.record_id).ok_or_else(|| unreadable("record_id"))?;
    Ok(Fetched {
        id,
        raw: RawRecord::from(wire),
    })
}

#[derive(Debug, Deserialize)]
struct WireError {
    error: WireErrorBody,
}

#[derive(Debug, Deserialize)]
struct WireErrorBody {
    code: String,
    message: String,
}

/// What went wrong with one try of a page, and whether to try again.
enum Attempt {
    Retry {
        reason: String,
        wait_at_least: Duration,
    },
    Malformed {
        field: String,
        detail: String,
    },
    Fatal(PortalError),
}

#[derive(Debug, Clone)]
pub struct PortalClient {
    http: reqwest::Client,
    config: PortalConfig,
    auth: HeaderValue,
}

impl PortalClient {
    pub fn new(config: PortalConfig) -> Result<Self, PortalError> {
        if config.token.expose().is_empty() {
            return Err(PortalError::Rejected {
                status: 0,
                code: "no_token".into(),
                message:
                    "沒有入口網的存取權杖（PORTAL_TOKEN，或尚未自 SSM 讀取 PORTAL_TOKEN_PARAMETER）"
                        .into(),
            });
        }
        // TLS on rustls with *ring*, as the AWS SDK has it in the
        // bootstraps: one crypto library in the binary. Installing it
        // again (a second client) changes nothing.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(PortalError::Setup)?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.token.expose()))
            .map_err(|_| PortalError::Rejected {
                status: 0,
                code: "bad_token".into(),
                message: "PORTAL_TOKEN 含有無法放入 HTTP 標頭的字元".into(),
            })?;
        auth.set_sensitive(true);
        Ok(PortalClient { http, config, auth })
    }

    /// Every record whose status changed on `day` (the nightly sync).
    #[instrument(skip_all, fields(day = %day))]
    pub async fn changes_on(&self, day: NaiveDate) -> Result<Vec<PortalRecord>, PortalError> {
        self.fetch_all(vec![("date", day.to_string())]).await
    }

    /// Every record whose status changed from `from` to `to` inclusive,
    /// optionally for one agency (a download).
    #[instrument(skip_all, fields(from = %from, to = %to, agency = agency.map(AgencyCode::as_str)))]
    pub async fn changes_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        agency: Option<&AgencyCode>,
    ) -> Result<Vec<PortalRecord>, PortalError> {
        let mut query = vec![("from", from.to_string()), ("to", to.to_string())];
        if let Some(agency) = agency {
            query.push(("org_code", agency.as_str().to_string()));
        }
        self.fetch_all(query).await
    }

    async fn fetch_all(
        &self,
        query: Vec<(&'static str, String)>,
    ) -> Result<Vec<PortalRecord>, PortalError> {
        let mut records = Vec::new();
        let mut cursor: Option<String> = None;
        let mut page_number = 1;
        loop {
            let page = self
                .fetch_page(&query, cursor.as_deref(), page_number)
                .await?;
            records.extend(page.records.into_iter().map(read_record));
            match page.next_cursor {
                Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                Some(_) => {
                    return Err(PortalError::Malformed {
                        page: page_number,
                        field: "next_cursor".into(),
                        detail: "與上一頁相同，分頁無法前進".into(),
                    });
                }
                None => return Ok(records),
            }
            page_number += 1;
        }
    }

    async fn fetch_page(
        &self,
        query: &[(&'static str, String)],
        cursor: Option<&str>,
        page: u32,
    ) -> Result<WirePage, PortalError> {
        let mut last = String::new();
        for attempt in 1..=self.config.max_attempts {
            let outcome = self.try_page(query, cursor).await;
            let (reason, wait_at_least) = match outcome {
                Ok(page) => return Ok(page),
                Err(Attempt::Fatal(error)) => return Err(error),
                Err(Attempt::Malformed { field, detail })
                    if attempt == self.config.max_attempts =>
                {
                    return Err(PortalError::Malformed {
                        page,
                        field,
                        detail,
                    });
                }
                Err(Attempt::Malformed { field, detail }) => {
                    (format!("{field}: {detail}"), Duration::ZERO)
                }
                Err(Attempt::Retry {
                    reason,
                    wait_at_least,
                }) => (reason, wait_at_least),
            };
            if wait_at_least > self.config.max_retry_after {
                return Err(PortalError::Unavailable {
                    page,
                    attempts: attempt,
                    last: format!(
                        "{reason}（要求等待 {} 秒，超過上限）",
                        wait_at_least.as_secs()
                    ),
                });
            }
            if attempt < self.config.max_attempts {
                let wait = self.backoff(attempt).max(wait_at_least);
                warn!(page, attempt, wait_ms = wait.as_millis() as u64, %reason, "portal page failed, retrying");
                tokio::time::sleep(wait).await;
            }
            last = reason;
        }
        Err(PortalError::Unavailable {
            page,
            attempts: self.config.max_attempts,
            last,
        })
    }

    /// Full jitter: a random wait up to the exponential step.
    fn backoff(&self, attempt: u32) -> Duration {
        Backoff {
            base: self.config.base_backoff,
            cap: self.config.max_backoff,
        }
        .wait(attempt)
    }

    async fn try_page(
        &self,
        query: &[(&'static str, String)],
        cursor: Option<&str>,
    ) -> Result<WirePage, Attempt> {
        let url = format!("{}/v1/learning-records/changes", self.config.base_url);
        let mut request = self
            .http
            .get(url)
            .header(AUTHORIZATION, self.auth.clone())
            .query(query)
            .query(&[("limit", self.config.page_size)]);
        if let Some(cursor) = cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let response = request.send().await.map_err(|e| Attempt::Retry {
            reason: describe(&e),
            wait_at_least: Duration::ZERO,
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(|e| Attempt::Retry {
            reason: describe(&e),
            wait_at_least: Duration::ZERO,
        })?;
        debug!(%status, bytes = body.len(), "portal answered");
        match status {
            StatusCode::OK => {
                let mut deserializer = serde_json::Deserializer::from_slice(&body);
                serde_path_to_error::deserialize::<_, WirePage>(&mut deserializer).map_err(|e| {
                    Attempt::Malformed {
                        field: e.path().to_string(),
                        detail: malformed(e.inner()).into(),
                    }
                })
            }
            StatusCode::TOO_MANY_REQUESTS => Err(Attempt::Retry {
                reason: "HTTP 429".into(),
                wait_at_least: retry_after.unwrap_or(Duration::ZERO),
            }),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(Attempt::Fatal(PortalError::Unauthorized))
            }
            s if s.is_server_error() => Err(Attempt::Retry {
                reason: format!("HTTP {}", s.as_u16()),
                wait_at_least: retry_after.unwrap_or(Duration::ZERO),
            }),
            s => {
                let (code, message) = match serde_json::from_slice::<WireError>(&body) {
                    Ok(WireError { error }) => (error.code, error.message),
                    Err(_) => (
                        "unknown".into(),
                        String::from_utf8_lossy(&body).chars().take(200).collect(),
                    ),
                };
                Err(Attempt::Fatal(PortalError::Rejected {
                    status: s.as_u16(),
                    code,
                    message,
                }))
            }
        }
    }
}

/// A short, credential-free description of a transport failure.
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "逾時"
    } else if error.is_connect() {
        "無法連線"
    } else if error.is_body() || error.is_decode() {
        "回應中斷"
    } else {
        "連線錯誤"
    };
    // The innermost cause says what went wrong (a refused connection, an
    // untrusted certificate); the outer ones say where it was noticed.
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause.and_then(std::error::Error::source) {
        cause = Some(inner);
    }
    match cause {
        Some(cause) => format!("{kind}（{cause}）"),
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sent(record_id: serde_json::Value) -> serde_json::Value {
        json!({
            "record_id": record_id, "id_no": "A123456789", "name": "林怡君",
            "birth_date": null, "org_code": "376550000A", "org_name": "範例",
            "course_code": "EC1", "course_name": "課", "term": 1,
            "start_date": "2016-02-01", "end_date": "2016-02-01", "mode": 1,
            "digital_hours": "2.0", "physical_hours": "0.0", "total_hours": "2.0",
            "status": "passed", "passed_date": "2016-02-01", "changed_date": "2016-02-01",
        })
    }

    #[test]
    fn a_record_carries_the_portals_identity_of_it() {
        let read = read_record(sent(json!("LR-0001"))).expect("of the API's shape");
        assert_eq!(read.id.as_str(), "LR-0001");
        assert_eq!(read.raw.course_code, "EC1");
    }

    #[test]
    fn a_record_without_a_plain_identity_is_refused_on_its_own() {
        for bad in [
            json!(null),
            json!(17),
            json!(""),
            json!("LR 1"),
            json!("紀錄"),
        ] {
            let refused = read_record(sent(bad.clone())).expect_err("refused");
            assert_eq!(refused.problem.code, "invalid_type", "{bad}");
            assert!(refused.problem.message.contains("record_id"), "{bad}");
            assert_eq!(refused.id_no, "A123456789", "kept to be masked");
        }
        let mut missing = sent(json!("x"));
        missing.as_object_mut().unwrap().remove("record_id");
        assert!(read_record(missing).is_err());
    }
}
