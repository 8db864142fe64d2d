//! What the tests of the deployed bootstraps share (`lambda_loop`,
//! `sam_local`): child processes that stop with the test, SAM's generated
//! events, API Gateway's HTTP API event with an authorizer's claims, and
//! Lambda's invoke API.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::AGENCY;

/// The workspace's root folder.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Kills the process when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on now, on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until something accepts connections on `address`.
pub async fn wait_for(address: std::net::SocketAddr, patience: Duration) {
    let until = std::time::Instant::now() + patience;
    while tokio::net::TcpStream::connect(address).await.is_err() {
        assert!(
            std::time::Instant::now() < until,
            "nothing listens on {address}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One of the SAM CLI's generated events (`tests/events/`).
pub fn event(name: &str) -> Value {
    let path = root().join("tests/events").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON")
}

/// SAM's HTTP API event made into `method path` with a JWT authorizer's
/// claims (agency [`AGENCY`], `role`, `sub` = `<role>-1`) and a JSON body;
/// an administrator's token also carries the admin scope.
pub fn gateway(method: &str, path: &str, role: &str, body: Option<Value>) -> Value {
    let mut event = event("http-api-proxy.json");
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!("");
    event["queryStringParameters"] = json!({});
    event["cookies"] = json!([]);
    event["headers"] = json!({"content-type": "application/json"});
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["authorizer"]["jwt"]["claims"] = json!({
        "sub": format!("{role}-1"), "iss": "https://idp.example/", "aud": "webhr-api",
        "exp": "4102444800", "agency": AGENCY, "role": role,
    });
    // The authorizer passes the token's scopes on their own.
    event["requestContext"]["authorizer"]["jwt"]["scopes"] = if role == "admin" {
        json!([api::ADMIN_SCOPE])
    } else {
        json!(null)
    };
    event["isBase64Encoded"] = json!(true);
    event["body"] = json!(
        base64::engine::general_purpose::STANDARD
            .encode(body.map(|b| b.to_string()).unwrap_or_default())
    );
    event
}

/// An API Gateway answer's status and JSON body.
pub fn http_answer(answer: &Value) -> (u64, Value) {
    let body = answer["body"].as_str().unwrap_or_default();
    let body = if answer["isBase64Encoded"] == json!(true) {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap_or_default(),
        )
        .unwrap_or_default()
    } else {
        body.to_string()
    };
    (
        answer["statusCode"].as_u64().unwrap_or_default(),
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

/// Lambda's invoke API at `endpoint` (synchronous): the function's answer
/// and whether it reported an error.
pub async fn invoke(
    http: &reqwest::Client,
    endpoint: &str,
    function: &str,
    event: &Value,
) -> (Value, bool) {
    let response = http
        .post(format!(
            "{endpoint}/2015-03-31/functions/{function}/invocations"
        ))
        .json(event)
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .expect("an answer");
    let failed =
        response.headers().contains_key("x-amz-function-error") || !response.status().is_success();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (body, failed)
}

/// The import-log entry of an administrator's re-run (`requested_by`
/// `admin-1`) once it has finished, waiting up to `patience`.
pub async fn finished_rerun(
    store: &dynamodb_store::Store,
    patience: Duration,
) -> Option<learning_core::import_log::SyncLogEntry> {
    let until = std::time::Instant::now() + patience;
    while std::time::Instant::now() < until {
        let now = chrono::Utc::now();
        let logs = store
            .sync_logs_between(
                now - chrono::Duration::hours(1),
                now + chrono::Duration::minutes(1),
            )
            .await
            .unwrap();
        if let Some(entry) = logs
            .into_iter()
            .find(|e| e.requested_by.as_deref() == Some("admin-1") && e.finished_at.is_some())
        {
            return Some(entry);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}
