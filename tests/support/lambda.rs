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

/// The bucket SAM's generated S3 event names (`tests/events/s3-put.json`).
pub const BUCKET: &str = "webhr-uploads-local";
/// Where the functions read the portal's token (a SecureString in the cloud).
pub const TOKEN_PARAMETER: &str = "/webhr/portal-token";

/// What a deployed function talks to, on 127.0.0.1: a fresh table, S3 with
/// the upload bucket, SSM holding the portal's token, and the simulator
/// with 30 records a day up to yesterday; the start date is three days ago
/// ([`Stack::start`]) or as many as asked ([`Stack::with_days`]).
pub struct Stack {
    pub store: dynamodb_store::Store,
    pub dynamodb: String,
    pub s3: aws_sdk_s3::Client,
    pub s3_server: local_stack::Running,
    pub ssm: local_stack::Running,
    pub portal: portal_sim::RunningPortal,
    pub start: chrono::NaiveDate,
    pub yesterday: chrono::NaiveDate,
    s3_root: PathBuf,
}

impl Stack {
    pub async fn start() -> Self {
        Self::with_days(3).await
    }

    /// A stack whose start date is `days` days before today.
    pub async fn with_days(days: u64) -> Self {
        let store = crate::fresh_store().await;
        let dynamodb = crate::engine_url().await;
        let s3_root =
            std::env::temp_dir().join(format!("webhr-deployed-s3-{}", std::process::id()));
        let s3_server = local_stack::start_s3(&s3_root, 0, None).await.unwrap();
        let s3 = local_stack::s3_client(&s3_server.url());
        local_stack::create_bucket(&s3, BUCKET).await.unwrap();
        let ssm = local_stack::ssm::start_ssm(
            [(TOKEN_PARAMETER.to_string(), crate::PORTAL_TOKEN.to_string())].into(),
            0,
        )
        .await
        .unwrap();
        let today = chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Taipei)
            .date_naive();
        let yesterday = today.pred_opt().unwrap();
        let portal = crate::simulator(
            portal_sim::DataConfig {
                per_day: 30,
                ..portal_sim::DataConfig::default()
            },
            yesterday,
        )
        .await;
        Stack {
            store,
            dynamodb,
            s3,
            s3_server,
            ssm,
            portal,
            start: today - chrono::Days::new(days),
            yesterday,
            s3_root,
        }
    }

    /// The functions' environment for this stack, with the engines at
    /// the URLs given (where the functions reach them).
    pub fn environment(
        &self,
        dynamodb: &str,
        s3: &str,
        ssm: &str,
        portal: &str,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.to_string()),
            ("AWS_ENDPOINT_URL_S3", s3.to_string()),
            ("AWS_ENDPOINT_URL_SSM", ssm.to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("TABLE_NAME", self.store.table().to_string()),
            ("START_DATE", self.start.to_string()),
            // The only cutoff a function accepts at cold start.
            (
                "CSV_CUTOFF_DATE",
                self.start.pred_opt().unwrap().to_string(),
            ),
            ("PORTAL_BASE_URL", portal.to_string()),
            ("PORTAL_TOKEN_PARAMETER", TOKEN_PARAMETER.into()),
            ("UPLOAD_BUCKET", BUCKET.into()),
            ("AUDIT_KEY", crate::AUDIT_KEY.into()),
        ]
    }

    /// Checks the nightly run's answer: completed, every day from the start
    /// date to yesterday, and the table holds what it inserted (returned).
    pub async fn assert_nightly(&self, summary: &Value) -> u64 {
        assert_eq!(summary["outcome"], "completed", "{summary}");
        let days: Vec<&str> = summary["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["date"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            days,
            self.days(),
            "every day from the start date to yesterday"
        );
        let synced: u64 = summary["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["counts"]["inserted"].as_u64().unwrap_or(0))
            .sum();
        assert!(synced > 0, "{summary}");
        assert_eq!(crate::record_items(&self.store).await.len() as u64, synced);
        synced
    }

    fn days(&self) -> Vec<String> {
        self.start
            .iter_days()
            .take_while(|d| *d <= self.yesterday)
            .map(|d| d.to_string())
            .collect()
    }

    /// Uploads 40 rows of [`AGENCY`] passed before the start date, in
    /// `encoding`, and answers SAM's S3 event naming the object.
    pub async fn uploaded(&self, encoding: portal_sim::csv_file::CsvEncoding) -> Value {
        let mut file = Vec::new();
        portal_sim::csv_file::write_csv(
            &mut file,
            40,
            encoding,
            (AGENCY, "範例市政府人事處"),
            self.start.pred_opt().unwrap(),
            11,
        )
        .unwrap();
        let stored = self
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(format!("uploads/{AGENCY}/名單 2015.csv"))
            .body(file.clone().into())
            .send()
            .await
            .unwrap();
        let mut put = event("s3-put.json");
        let object = &mut put["Records"][0]["s3"]["object"];
        object["size"] = json!(file.len());
        object["eTag"] = json!(stored.e_tag().unwrap_or_default().trim_matches('"'));
        put
    }

    /// Checks the import's answer to [`Stack::uploaded`]'s event: its 40
    /// rows inserted, after the `synced` records of the night.
    pub async fn assert_imported(&self, handled: &Value, synced: u64) {
        let entry = &handled[0];
        assert_eq!(entry["outcome"], "finished", "{handled}");
        assert_eq!(entry["status"], "succeeded", "{handled}");
        assert_eq!(entry["counts"]["rows"], 40, "{handled}");
        assert_eq!(entry["counts"]["inserted"], 40, "{handled}");
        assert_eq!(
            crate::record_items(&self.store).await.len() as u64,
            synced + 40,
            "the import's records are in the table"
        );
    }

    /// Checks an import-log page: every night's day and the one import.
    pub fn assert_log_shows_both(&self, page: &Value) {
        let kinds: Vec<&str> = page["entries"]
            .as_array()
            .unwrap_or_else(|| panic!("a log page: {page}"))
            .iter()
            .map(|e| e["kind"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "sync").count(),
            self.days().len(),
            "{page}"
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == "csv_import").count(),
            1,
            "{page}"
        );
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.s3_root);
    }
}
