//! Client for the portal's record API (`docs/portal-api.yaml`).
//!
//! Every page is fetched with a timeout and bounded retries: exponential
//! backoff with full jitter on 5xx, timeouts and broken connections, and at
//! least `Retry-After` on 429. A page that cannot be read after the retries
//! fails with an error naming the page and the field. The token is sent as a
//! sensitive header and never appears in `Debug` output or logs.

use std::time::Duration;

use chrono::NaiveDate;
use learning_core::AgencyCode;
use learning_core::backoff::Backoff;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use tracing::{debug, instrument, warn};

mod config;
pub mod ssm;
mod wire;

pub use config::{PortalConfig, Secret};
pub use wire::{Fetched, Unreadable};
use wire::{WireError, WirePage, malformed, read_record};

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

/// A record the portal sent, or why it is not a record of the API's shape
/// at all.
pub type PortalRecord = Result<Fetched, Box<Unreadable>>;

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
