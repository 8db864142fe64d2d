//! The HTTP API on 127.0.0.1: the real router over a real port, the
//! embedded DynamoDB, development tokens. Every answer any test gets is
//! checked against the OpenAPI document on the way out (see
//! [`conforms`]): a route or shape that drifts from `openapi.json` fails
//! the test that met it.
//!
//! One module per route (or concern); the helpers every module uses are
//! here.

use std::collections::BTreeMap;
use std::sync::Arc;

use api::{Authentication, Claims, LocalTokens};
use chrono::{DateTime, Duration, TimeZone, Utc};
use dynamodb_store::Store;
use learning_core::import_log::{CsvImportEntry, RunStatus, SyncLogEntry, Trigger, UploadedFile};
use learning_core::{RawRecord, Source, TrainingRecord};
use reqwest::StatusCode;
use serde_json::{Value, json};
use system_tests::{BUCKET, fresh_store, from_portal};

mod auth;
mod document;
mod downloads;
mod errors;
mod hours;
mod import_logs;
mod records;
mod red_team;
mod settings;
mod syncs;
mod tenancy;
mod uploads;

const A: &str = "376550000A";
const B: &str = "379000000A";

fn now() -> DateTime<Utc> {
    // 2026-03-15 10:00 Asia/Taipei
    Utc.with_ymd_and_hms(2026, 3, 15, 2, 0, 0).unwrap()
}

fn tokens() -> LocalTokens {
    LocalTokens::new("test-key", "webhr-local", "webhr-api")
}

fn token(agency: &str, role: &str) -> String {
    tokens().mint(&Claims {
        sub: format!("user-{agency}-{role}"),
        iss: "webhr-local".into(),
        aud: "webhr-api".into(),
        exp: now().timestamp() + 3600,
        agency: agency.into(),
        role: role.into(),
        scope: (role == "admin").then(|| api::ADMIN_SCOPE.to_string()),
    })
}

struct Api {
    url: String,
    store: Store,
    http: reqwest::Client,
    s3: aws_sdk_s3::Client,
    portal: portal_sim::RunningPortal,
    _s3: local_stack::Running,
    s3_url: String,
    s3_root: std::path::PathBuf,
    /// Answers that did not match the OpenAPI document.
    drift: Drift,
}

type Drift = Arc<std::sync::Mutex<Vec<String>>>;

impl Drop for Api {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.s3_root);
        let drift = self.drift.lock().unwrap();
        if !std::thread::panicking() {
            assert!(
                drift.is_empty(),
                "answers not as openapi.json says:\n{}",
                drift.join("\n")
            );
        }
    }
}

/// Middleware: checks each answer against the OpenAPI document — its
/// route, method and status documented, its JSON body matching the schema.
async fn conforms(
    drift: Drift,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string());
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let status = parts.status.as_u16();
    let doc = system_tests::openapi::document();
    let found = match &route {
        // Unrouted: the error shape, 404 or (wrong method) 405.
        None => {
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let error = json!({"$ref": "#/components/schemas/Error"});
            system_tests::openapi::violations(&doc, &error, &body)
        }
        Some(route) => match system_tests::openapi::response_schema(&doc, &method, route, status) {
            Err(missing) => vec![missing],
            Ok(None) => Vec::new(),
            Ok(Some(schema))
                if parts.headers[axum::http::header::CONTENT_TYPE] == "application/json" =>
            {
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                system_tests::openapi::violations(&doc, &schema, &body)
            }
            Ok(Some(_)) => Vec::new(),
        },
    };
    if !found.is_empty() {
        drift.lock().unwrap().push(format!(
            "{method} {} → {status}: {}",
            route.as_deref().unwrap_or("(no route)"),
            found.join("; ")
        ));
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

async fn api() -> Api {
    api_on(None).await
}

/// The API over engines where an upload to the bucket is imported, as in
/// the cloud: the embedded S3 raises the event, the local Lambda runs the
/// CSV import on the same table.
async fn api_with_imports() -> Api {
    let (events, received) = tokio::sync::mpsc::unbounded_channel();
    let api = api_on(Some(events)).await;
    let importer = Arc::new(csv_import::Importer::new(
        api.store.clone(),
        api.s3.clone(),
        &system_tests::import_config(&api.store, std::time::Duration::from_secs(5)),
        system_tests::audit_key(),
    ));
    local_stack::lambda::deliver_s3_events(received, importer, Default::default(), None);
    api
}

async fn api_on(events: Option<tokio::sync::mpsc::UnboundedSender<Value>>) -> Api {
    let store = fresh_store().await;
    let portal = system_tests::simulator(
        portal_sim::DataConfig {
            per_day: 200,
            ..portal_sim::DataConfig::default()
        },
        now().date_naive(),
    )
    .await;
    let s3_root = std::env::temp_dir().join(format!("webhr-api-s3-{}", fastrand::u64(..)));
    let s3_server = local_stack::start_s3(&s3_root, 0, events).await.unwrap();
    let s3 = local_stack::s3_client(&s3_server.url());
    local_stack::create_bucket(&s3, BUCKET).await.unwrap();
    let state = system_tests::api_state(
        &store,
        &portal,
        &s3_server.url(),
        Authentication::Local(tokens()),
        now,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let drift = Drift::default();
    let checked = drift.clone();
    let router = api::router(state).layer(axum::middleware::from_fn(move |request, next| {
        conforms(checked.clone(), request, next)
    }));
    tokio::spawn(async move { axum::serve(listener, router).await });
    Api {
        url,
        store,
        http: system_tests::http_client(),
        s3,
        portal,
        s3_url: s3_server.url(),
        _s3: s3_server,
        s3_root,
        drift,
    }
}

impl Api {
    fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
    }

    /// GETs `path` as the holder of `token`: the status and the JSON body.
    async fn fetch(&self, path: &str, token: &str) -> (StatusCode, Value) {
        answer(self.get(path, token).send().await.unwrap()).await
    }

    /// Stores `record` as the nightly import would: locked.
    async fn lock(&self, record: &TrainingRecord) {
        self.store
            .upsert_portal_records(
                &from_portal(std::slice::from_ref(record)),
                Source::AutoImport,
                "sync-x",
                now(),
            )
            .await
            .unwrap();
    }

    /// POSTs `body` to `path` as the holder of `token`: the status and the
    /// JSON body.
    async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        answer(
            self.send(reqwest::Method::POST, path, token)
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// PUTs `body` to `path` with `If-Match: if_match` as the holder of
    /// `token`: the status and the JSON body.
    async fn put(
        &self,
        path: &str,
        token: &str,
        if_match: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        answer(
            self.send(reqwest::Method::PUT, path, token)
                .header("if-match", if_match)
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The rejection report an entry links (its presigned `report_url`),
    /// as text; the link must answer 200.
    async fn report(&self, entry: &Value) -> String {
        let response = self
            .http
            .get(entry["report_url"].as_str().expect("a report link"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    }

    fn send(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token)
    }
}

/// The API served over a test's own `store` and `portal`, with `tweak`
/// applied to its state (a shorter download deadline, another portal
/// client); its S3 folder goes when it drops.
struct ServedWith {
    url: String,
    _api: local_stack::Running,
    _s3: local_stack::Running,
    s3_root: std::path::PathBuf,
}

impl Drop for ServedWith {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.s3_root);
    }
}

async fn serve_with(
    store: &Store,
    portal: &portal_sim::RunningPortal,
    tweak: impl FnOnce(&mut api::AppState),
) -> ServedWith {
    let s3_root = std::env::temp_dir().join(format!("webhr-api-own-{}", fastrand::u64(..)));
    let s3 = local_stack::start_s3(&s3_root, 0, None).await.unwrap();
    let mut state = system_tests::api_state(
        store,
        portal,
        &s3.url(),
        Authentication::Local(tokens()),
        now,
    );
    tweak(&mut state);
    let api = local_stack::serve(api::router(state), 0).await.unwrap();
    ServedWith {
        url: api.url(),
        _api: api,
        _s3: s3,
        s3_root,
    }
}

async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn record(row: &[(&str, &str)]) -> TrainingRecord {
    let mut raw = RawRecord {
        id_no: "A123456789".into(),
        name: "林怡君".into(),
        org_code: A.into(),
        org_name: "範例市政府人事處".into(),
        course_code: "EC10400123".into(),
        course_name: "性別主流化".into(),
        term: "1".into(),
        start_date: "2016-03-01".into(),
        end_date: "2016-03-02".into(),
        mode: "1".into(),
        digital_hours: "2".into(),
        physical_hours: "0".into(),
        total_hours: "2".into(),
        status: "通過".into(),
        passed_date: "2016-03-03".into(),
        changed_date: "2016-03-03".into(),
        ..RawRecord::default()
    };
    for (name, value) in row {
        let field = learning_core::record::Field::from_name(name).unwrap();
        *raw.field_mut(field) = value.to_string();
    }
    raw.validate().unwrap()
}

/// The person handle the API gives for `id` (what `POST /v1/people/search`
/// answers; `records::a_person_is_found_by_id_in_the_body_and_named_by_handle`
/// checks the two agree).
fn person(id: &str) -> String {
    api::AuditKey::new(system_tests::AUDIT_KEY)
        .sealer()
        .person(&learning_core::NationalId::parse(id).unwrap())
}

/// `/v1/people/<handle><rest>` for the fixture person, A123456789.
fn people(rest: &str) -> String {
    format!("/v1/people/{}{rest}", person("A123456789"))
}

fn as_json(record: &TrainingRecord) -> Value {
    json!({
        "id_no": record.id_no.as_str(),
        "name": record.name,
        "org_code": record.org_code.as_str(),
        "org_name": record.org_name,
        "course_code": record.course_code,
        "course_name": record.course_name,
        "term": record.term,
        "start_date": record.start_date.to_string(),
        "end_date": record.end_date.to_string(),
        "mode": record.mode.number(),
        "digital_hours": record.digital_hours.to_string(),
        "physical_hours": record.physical_hours.to_string(),
        "total_hours": record.total_hours.to_string(),
        "status": "通過",
        "passed_date": record.passed_date.map(|d| d.to_string()),
        "changed_date": record.changed_date.to_string(),
    })
}

async fn sync_entry(store: &Store, started: DateTime<Utc>, day: &str, agencies: &[(&str, u64)]) {
    let mut entry = SyncLogEntry::start("run", Trigger::Schedule, day.parse().unwrap(), started);
    entry.log_id = format!("sync-{day}-run");
    entry.status = RunStatus::Succeeded;
    entry.agencies = agencies
        .iter()
        .map(|(a, n)| (a.to_string(), *n))
        .collect::<BTreeMap<_, _>>();
    store.put_sync_log(&entry).await.unwrap();
}

async fn csv_entry(store: &Store, started: DateTime<Utc>, agency: &str) -> String {
    let file = UploadedFile {
        bucket: "b".into(),
        key: format!("uploads/{agency}/x.csv"),
        version_id: None,
        etag: Some(started.timestamp().to_string()),
        size: 1,
    };
    let mut entry =
        CsvImportEntry::start(file, learning_core::AgencyCode::parse(agency).ok(), started);
    store.put_csv_log(&mut entry).await.unwrap();
    entry.log_id
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The CSV header of DOMAIN.md.
const CSV_HEADER: &str = "身分證字號,姓名,出生日期,服務機關代碼,服務機關名稱,課程代碼,課程名稱,課程類別代碼,學習機構,期別,開課起始日期,開課結束日期,學習性質,數位時數,實體時數,認證時數,學習資料狀態,通過日期,異動日期";

/// Uploads `csv` through the API's upload form as `token`'s staff and
/// waits for its import to finish; returns the finished entry.
async fn upload_and_import(api: &Api, token: &str, name: &str, csv: &str) -> Value {
    let (status, ticket) = answer(
        api.send(reqwest::Method::POST, "/v1/uploads", token)
            .json(&json!({ "file_name": name }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    let posted = system_tests::post_upload(&api.http, &ticket, csv.as_bytes()).await;
    assert!(posted.status().is_success());
    // The import runs on the machine's clock, the API on the test's: the
    // entry is found by its key, and read through the API.
    let key = ticket["key"].as_str().unwrap();
    for _ in 0..600 {
        if let Some(log_id) = api.store.latest_import(BUCKET, key).await.unwrap() {
            let (status, entry) = api.fetch(&format!("/v1/import-logs/{log_id}"), token).await;
            assert_eq!(status, StatusCode::OK, "{entry}");
            if entry["status"] != "running" {
                return entry;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the import of {name} did not finish");
}
