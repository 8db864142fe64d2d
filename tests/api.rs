//! The HTTP API on 127.0.0.1: the real router over a real port, the
//! embedded DynamoDB, development tokens. Every answer any test gets is
//! checked against the OpenAPI document on the way out (see
//! [`conforms`]): a route or shape that drifts from `openapi.json` fails
//! the test that met it.

use std::collections::BTreeMap;
use std::sync::Arc;

use api::{Authentication, Claims, LocalTokens};
use chrono::{DateTime, Duration, TimeZone, Utc};
use dynamodb_store::Store;
use learning_core::import_log::{CsvImportEntry, RunStatus, SyncLogEntry, Trigger, UploadedFile};
use learning_core::{RawRecord, Source, TrainingRecord};
use reqwest::StatusCode;
use serde_json::{Value, json};
use system_tests::{BUCKET, fresh_store};

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

    fn send(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_expired_and_forged_tokens_are_refused() {
    let api = api().await;
    let response = api
        .http
        .get(format!("{}/v1/import-logs", api.url))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_missing");
    assert!(!body["message"].as_str().unwrap().is_ascii());

    let expired = tokens().mint(&Claims {
        sub: "u".into(),
        iss: "webhr-local".into(),
        aud: "webhr-api".into(),
        exp: now().timestamp() - 1,
        agency: A.into(),
        role: "staff".into(),
        scope: None,
    });
    let (status, body) = answer(api.get("/v1/import-logs", &expired).send().await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_expired"))
    );

    let forged = LocalTokens::new("not-the-key", "webhr-local", "webhr-api").mint(&Claims {
        sub: "u".into(),
        iss: "webhr-local".into(),
        aud: "webhr-api".into(),
        exp: now().timestamp() + 60,
        agency: A.into(),
        role: "admin".into(),
        scope: Some(api::ADMIN_SCOPE.into()),
    });
    let (status, body) = answer(api.get("/v1/import-logs", &forged).send().await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_invalid"))
    );
    // A header claiming an agency is not a token.
    let response = api
        .http
        .get(format!("{}/v1/import-logs", api.url))
        .header("x-agency", A)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
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
    let mut entry = CsvImportEntry::start(file, Some(agency.into()), started);
    entry.seq = 1;
    store.put_csv_log(&entry).await.unwrap();
    entry.log_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_defaults_to_the_last_month_newest_first_and_filters() {
    let api = api().await;
    for days_ago in [0, 3, 10, 28, 40, 70] {
        let started = now() - Duration::days(days_ago);
        let day = (started - Duration::days(1)).date_naive().to_string();
        sync_entry(&api.store, started, &day, &[(A, 5), (B, 7)]).await;
    }
    let upload = csv_entry(&api.store, now() - Duration::days(2), A).await;
    let staff = token(A, "staff");

    let (status, page) = answer(api.get("/v1/import-logs", &staff).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["from"], "2026-02-15");
    assert_eq!(page["to"], "2026-03-15");
    let started: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["started_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        started.len(),
        5,
        "the last month: 0, 2, 3, 10 and 28 days ago"
    );
    assert!(
        started.windows(2).all(|w| w[0] > w[1]),
        "newest first: {started:?}"
    );
    assert_eq!(page["entries"][1]["log_id"], upload.as_str());
    // Staff see their own agency's count only.
    assert_eq!(page["entries"][0]["agencies"], json!({ A: 5 }));

    let (_, range) = answer(
        api.get("/v1/import-logs?from=1141201&to=2026-01-31", &staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        range["entries"].as_array().unwrap().len(),
        1,
        "70 days ago only"
    );

    let (_, uploads) = answer(
        api.get("/v1/import-logs?trigger=upload", &staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(uploads["entries"].as_array().unwrap().len(), 1);
    assert_eq!(uploads["entries"][0]["kind"], "csv_import");

    // Paging: two at a time, nothing lost or repeated.
    let mut seen = Vec::new();
    let mut path = "/v1/import-logs?limit=2".to_string();
    loop {
        let (status, page) = answer(api.get(&path, &staff).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        for entry in page["entries"].as_array().unwrap() {
            seen.push(entry["log_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/import-logs?limit=2&cursor={}", urlencode(cursor)),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let (status, body) = answer(
        api.get("/v1/import-logs?from=2026-03-20&to=2026-03-01", &staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_range"))
    );
    let (status, body) = answer(
        api.get("/v1/import-logs?page=2", &staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_their_agencys_counts_and_failures_of_a_night() {
    use learning_core::import_log::{RecordFailure, SyncCounts};
    let api = api().await;
    let mut entry = SyncLogEntry::start(
        "run",
        Trigger::Schedule,
        "2026-03-14".parse().unwrap(),
        now() - Duration::hours(3),
    );
    entry.status = RunStatus::Partial;
    let counts = |fetched, inserted, failed| SyncCounts {
        fetched,
        inserted,
        failed,
        ..SyncCounts::default()
    };
    entry.agency_counts = [
        (A.to_string(), counts(3, 2, 1)),
        (B.to_string(), counts(5, 3, 2)),
    ]
    .into();
    entry.counts = counts(8, 5, 3);
    entry.agencies = [(A.to_string(), 2), (B.to_string(), 3)].into();
    let failure = |position, agency: &str| {
        let mut f = RecordFailure::new(
            position,
            "A12345****".into(),
            &learning_core::Problem::new("national_id_checksum", "身分證字號檢查碼不符"),
        );
        f.agency = Some(agency.to_string());
        f
    };
    entry.failures = vec![failure(1, A), failure(2, B), failure(3, B)];
    api.store.put_sync_log(&entry).await.unwrap();

    let (_, page) = answer(
        api.get("/v1/import-logs", &token(A, "staff"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let listed = &page["entries"][0];
    assert_eq!(
        listed["counts"]["fetched"], 3,
        "their agency's counts, not the nation's"
    );
    assert_eq!(listed["counts"]["failed"], 1);
    assert_eq!(listed["agencies"], json!({ A: 2 }));
    assert_eq!(
        listed["failures"],
        json!([]),
        "a page lists no refused records"
    );
    let path = format!("/v1/import-logs/{}", entry.log_id);
    let (_, seen) = answer(api.get(&path, &token(A, "staff")).send().await.unwrap()).await;
    assert_eq!(seen["counts"]["fetched"], 3);
    assert_eq!(seen["failures"].as_array().unwrap().len(), 1);
    assert_eq!(seen["failures"][0]["agency"], A);
    assert_eq!(seen["agency_counts"].as_object().unwrap().len(), 1);
    let (_, page) = answer(
        api.get("/v1/import-logs", &token(A, "admin"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        page["entries"][0]["counts"]["fetched"], 8,
        "administrators see the totals"
    );
    assert_eq!(page["entries"][0]["agencies"], json!({ A: 2, B: 3 }));
    let (_, all) = answer(api.get(&path, &token(A, "admin")).send().await.unwrap()).await;
    assert_eq!(all["failures"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_of_four_thousand_entries_pages_to_its_end_once_each() {
    // Years of history in a month: pages are read inside DynamoDB, across
    // the month partitions, and every entry comes exactly once, newest
    // first, filtered for staff by the database.
    use futures::StreamExt;
    let api = api().await;
    let base = now() - Duration::days(40);
    let writes: Vec<_> = (0..4000i64)
        .map(|i| {
            let started = base + Duration::minutes(i * 14);
            let store = api.store.clone();
            let agency = if i % 4 == 3 { B } else { A };
            async move {
                if i % 2 == 0 {
                    let mut entry = SyncLogEntry::start(
                        &format!("run{i}"),
                        Trigger::Schedule,
                        "2026-02-01".parse().unwrap(),
                        started,
                    );
                    entry.status = RunStatus::Succeeded;
                    store.put_sync_log(&entry).await.unwrap();
                    (started, entry.log_id, None)
                } else {
                    let file = UploadedFile {
                        bucket: "b".into(),
                        key: format!("uploads/{agency}/{i}.csv"),
                        version_id: None,
                        etag: Some(i.to_string()),
                        size: 1,
                    };
                    let mut entry = CsvImportEntry::start(file, Some(agency.into()), started);
                    entry.seq = 1;
                    store.put_csv_log(&entry).await.unwrap();
                    (started, entry.log_id, Some(agency))
                }
            }
        })
        .collect();
    let written: Vec<_> = futures::stream::iter(writes)
        .buffer_unordered(16)
        .collect()
        .await;
    let (mut want_all, mut want_staff) = (Vec::new(), Vec::new());
    for (started, log_id, agency) in written {
        if started < now() {
            if agency != Some(B) {
                want_staff.push((started, log_id.clone()));
            }
            want_all.push((started, log_id));
        }
    }
    for want in [&mut want_all, &mut want_staff] {
        want.sort();
        want.reverse();
    }
    assert!(want_all.len() > 2800, "{}", want_all.len());
    let from = (base - Duration::days(1)).date_naive();
    for (who, want, limit) in [
        (token(A, "admin"), &want_all, 200),
        (token(A, "staff"), &want_staff, 150),
    ] {
        let mut got = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/import-logs?from={from}&limit={limit}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = answer(api.get(&path, &who).send().await.unwrap()).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let entries = page["entries"].as_array().unwrap();
            assert!(entries.len() <= limit);
            got.extend(
                entries
                    .iter()
                    .map(|e| e["log_id"].as_str().unwrap().to_string()),
            );
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let want: Vec<String> = want.iter().map(|(_, id)| id.clone()).collect();
        assert_eq!(got.len(), want.len(), "every entry once");
        assert_eq!(got, want, "newest first, none missing or twice");
    }
    // A filter no entry matches: each page reads a bounded share of the
    // month and ends with a cursor, not with the whole month read at once.
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/import-logs?from={from}&trigger=download");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = answer(api.get(&path, &token(A, "admin")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["entries"], json!([]));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert!(
        (4..=6).contains(&pages),
        "about 4,000 entries, 1,000 a page: {pages}"
    );
    // A year at most; a made-up cursor is refused.
    let (status, body) = answer(
        api.get(
            "/v1/import-logs?from=2025-03-14&to=2026-03-15",
            &token(A, "staff"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("range_too_long"))
    );
    let (status, body) = answer(
        api.get(
            "/v1/import-logs?cursor=bm90LWEtY3Vyc29y",
            &token(A, "staff"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agencys_uploads_are_out_of_reach() {
    let api = api().await;
    let theirs = csv_entry(&api.store, now() - Duration::days(1), B).await;
    let ours = csv_entry(
        &api.store,
        now() - Duration::days(1) + Duration::minutes(1),
        A,
    )
    .await;
    let staff = token(A, "staff");
    let (_, page) = answer(api.get("/v1/import-logs", &staff).send().await.unwrap()).await;
    let ids: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["log_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ours.as_str()]);
    let (status, body) = answer(
        api.get(&format!("/v1/import-logs/{theirs}"), &staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("other_agency"))
    );
    let (status, _) = answer(
        api.get(&format!("/v1/import-logs/{ours}"), &staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = answer(
        api.get(&format!("/v1/import-logs/{theirs}"), &token(A, "admin"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "administrators see every agency");
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
            let (status, entry) = answer(
                api.get(&format!("/v1/import-logs/{log_id}"), token)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{entry}");
            if entry["status"] != "running" {
                return entry;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the import of {name} did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_never_takes_another_agencys_record() {
    // The scenario of the tenancy report: agency C's staff create a record;
    // agency A's staff upload a row with their own agency code and the
    // same key. The row is refused and C's record stays C's, unchanged.
    const C: &str = "382000000A";
    let api = api_with_imports().await;
    let theirs = record(&[
        ("服務機關代碼", C),
        ("服務機關名稱", "範例縣政府人事處"),
        ("開課起始日期", "1041001"),
        ("開課結束日期", "1041002"),
        ("通過日期", "1041003"),
        ("異動日期", "1041004"),
    ]);
    let c_staff = token(C, "staff");
    let (status, created) = answer(
        api.send(
            reqwest::Method::POST,
            "/v1/people/A123456789/records",
            &c_staff,
        )
        .json(&as_json(&theirs))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    let a_staff = token(A, "staff");
    let row = "A123456789,林怡君,0750412,376550000A,範例市政府人事處,EC10400123,性別主流化,3A,e等公務園+,1,1041001,1041002,1,9.0,0.0,9.0,通過,1041003,1041004";
    let entry = upload_and_import(
        &api,
        &a_staff,
        "takeover.csv",
        &format!("{CSV_HEADER}\r\n{row}\r\n"),
    )
    .await;
    assert_eq!(entry["status"], "failed", "{entry}");
    assert_eq!(
        (&entry["counts"]["rejected"], &entry["counts"]["updated"]),
        (&json!(1), &json!(0))
    );
    assert_eq!(entry["reasons"]["other_agency_record"], 1);
    // The report tells A's staff why, in Traditional Chinese.
    let report = api
        .http
        .get(entry["report_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(report.contains("other_agency_record"), "{report}");
    assert!(report.contains("其他機關"), "{report}");
    assert!(!report.contains("A123456789"), "the ID is masked");

    // C's record: C's, as created.
    let key = theirs.key();
    let kept = api.store.get_record(&key).await.unwrap().unwrap();
    assert_eq!(
        (kept.record.org_code.as_str(), kept.version, kept.source),
        (C, 1, Source::StaffEntered)
    );
    assert_eq!(kept.record, theirs);
    let path = "/v1/people/A123456789/records/EC10400123/1/2015-10-01";
    let (status, _) = answer(api.get(path, &c_staff).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agencys_record_is_told_as_missing() {
    // Nothing A's staff do tells them that C holds a key: reading, editing
    // and deleting it answer exactly as for a key nobody holds, and
    // creating over it answers as over a key A holds itself.
    const C: &str = "382000000A";
    let api = api().await;
    let at = |start: &str, agency: &str| {
        record(&[
            ("服務機關代碼", agency),
            ("開課起始日期", start),
            ("開課結束日期", start),
            ("通過日期", start),
            ("異動日期", start),
        ])
    };
    let theirs = at("2016-04-01", C);
    let ours = at("2016-05-02", A);
    for (record, agency) in [(&theirs, C), (&ours, A)] {
        let (status, _) = answer(
            api.send(
                reqwest::Method::POST,
                "/v1/people/A123456789/records",
                &token(agency, "staff"),
            )
            .json(&as_json(record))
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let staff = token(A, "staff");
    let held = "/v1/people/A123456789/records/EC10400123/1/2016-04-01";
    let nobodys = "/v1/people/A123456789/records/EC10400123/1/2016-06-03";
    let mut edit = as_json(&theirs);
    edit["org_code"] = json!(A);
    for (method, body) in [
        (reqwest::Method::GET, None),
        (reqwest::Method::PUT, Some(edit.clone())),
        (reqwest::Method::DELETE, None),
    ] {
        let mut answers = Vec::new();
        for path in [held, nobodys] {
            let mut request = api
                .send(method.clone(), path, &staff)
                .header("if-match", "\"1\"");
            if let Some(body) = &body {
                let mut body = body.clone();
                if path == nobodys {
                    for date in ["start_date", "end_date", "passed_date", "changed_date"] {
                        body[date] = json!("2016-06-03");
                    }
                }
                request = request.json(&body);
            }
            answers.push(answer(request.send().await.unwrap()).await);
        }
        assert_eq!(answers[0], answers[1], "{method}");
        assert_eq!(answers[0].0, StatusCode::NOT_FOUND, "{method}");
    }
    let (status, list) = answer(
        api.get("/v1/people/A123456789/records", &staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1, "only A's own record");

    let mut creates = Vec::new();
    for record in [&theirs, &ours] {
        let mut body = as_json(record);
        body["org_code"] = json!(A);
        creates.push(
            answer(
                api.send(
                    reqwest::Method::POST,
                    "/v1/people/A123456789/records",
                    &staff,
                )
                .json(&body)
                .send()
                .await
                .unwrap(),
            )
            .await,
        );
    }
    assert_eq!(creates[0], creates[1]);
    assert_eq!(creates[0].0, StatusCode::CONFLICT);
    let theirs_now = api.store.get_record(&theirs.key()).await.unwrap().unwrap();
    assert_eq!(
        (theirs_now.record.org_code.as_str(), theirs_now.version),
        (C, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_removes_a_locked_record_the_portal_cannot_reach_with_a_reason() {
    // The portal corrected the class start date: the old key stays locked
    // and the portal never withdraws it. Only an administrator removes it,
    // with a reason, logged with who and what (masked).
    let api = api().await;
    let stale = record(&[]);
    api.store
        .upsert_portal_records(
            std::slice::from_ref(&stale),
            Source::AutoImport,
            "sync-x",
            now(),
        )
        .await
        .unwrap();
    let typed = record(&[("course_code", "STAFF1")]);
    api.store
        .create_staff_record(&typed, "a-staff", now())
        .await
        .unwrap();
    let path = "/v1/people/A123456789/records/EC10400123/1/2016-03-01/removal";
    let reason = json!({"reason": "入口網已更正開課日期為 2016-03-02，舊紀錄無法再由入口網撤回"});
    let admin = token(A, "admin");
    let send = |token: &str, if_match: Option<&str>, body: &Value, path: &str| {
        let mut request = api.send(reqwest::Method::POST, path, token).json(body);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send()
    };
    for (who, if_match, body, status, code) in [
        (
            token(A, "staff"),
            Some("\"1\""),
            &reason,
            StatusCode::FORBIDDEN,
            "admin_only",
        ),
        (
            admin.clone(),
            None,
            &reason,
            StatusCode::PRECONDITION_REQUIRED,
            "if_match_required",
        ),
        (
            admin.clone(),
            Some("\"1\""),
            &json!({"reason": "x"}),
            StatusCode::BAD_REQUEST,
            "invalid_reason",
        ),
        (
            admin.clone(),
            Some("\"2\""),
            &reason,
            StatusCode::PRECONDITION_FAILED,
            "version_mismatch",
        ),
    ] {
        let (got, body) = answer(send(&who, if_match, body, path).await.unwrap()).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
        assert!(
            api.store.get_record(&stale.key()).await.unwrap().is_some(),
            "{code}: kept"
        );
    }
    // A staff-entered record is deleted by its staff, not removed.
    let (got, body) = answer(
        send(
            &admin,
            Some("\"1\""),
            &reason,
            "/v1/people/A123456789/records/STAFF1/1/2016-03-01/removal",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (got, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_locked"))
    );

    let (got, entry) = answer(send(&admin, Some("\"1\""), &reason, path).await.unwrap()).await;
    assert_eq!(got, StatusCode::OK, "{entry}");
    assert_eq!(entry["kind"], "removal");
    assert_eq!(entry["trigger"], "removal");
    assert_eq!(entry["requested_by"], "user-376550000A-admin");
    assert_eq!(entry["agency"], A);
    assert!(entry["reason"].as_str().unwrap().contains("開課日期"));
    assert_eq!(entry["record"]["id_no"], "A12345****");
    assert_eq!(entry["record"]["name"], "林○君");
    assert_eq!(entry["record"]["course_code"], "EC10400123");
    assert_eq!(entry["record"]["source"], "auto_import");
    assert!(!entry.to_string().contains("A123456789"));
    assert!(api.store.get_record(&stale.key()).await.unwrap().is_none());
    // In the log: the agency's staff see it, another agency's do not.
    let log_id = entry["log_id"].as_str().unwrap();
    let (got, _) = answer(
        api.get(&format!("/v1/import-logs/{log_id}"), &token(A, "staff"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got, StatusCode::OK);
    let (got, _) = answer(
        api.get(&format!("/v1/import-logs/{log_id}"), &token(B, "staff"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got, StatusCode::FORBIDDEN);
    let (_, page) = answer(
        api.get("/v1/import-logs?trigger=removal", &admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page["entries"][0]["log_id"], log_id);
    // Removed once: again, it is not there.
    let (got, _) = answer(send(&admin, Some("\"1\""), &reason, path).await.unwrap()).await;
    assert_eq!(got, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_records_are_locked_and_staff_records_editable() {
    let api = api().await;
    let portal = record(&[]);
    api.store
        .upsert_portal_records(
            std::slice::from_ref(&portal),
            Source::AutoImport,
            "sync-x",
            now(),
        )
        .await
        .unwrap();
    let staff = token(A, "staff");
    let path = "/v1/people/A123456789/records/EC10400123/1/2016-03-01";

    let response = api.get(path, &staff).send().await.unwrap();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let (_, body) = answer(response).await;
    assert_eq!(body["locked"], true);
    assert!(body["locked_reason"].as_str().unwrap().contains("入口網"));

    let mut changed = as_json(&portal);
    changed["provider"] = json!("人事處");
    let (status, body) = answer(
        api.send(reqwest::Method::PUT, path, &staff)
            .header("if-match", "\"1\"")
            .json(&changed)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("record_locked")),
        "{body}"
    );
    let (status, body) = answer(
        api.send(reqwest::Method::DELETE, path, &staff)
            .header("if-match", "\"1\"")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("record_locked"))
    );

    // A staff record: created, edited under If-Match, deleted.
    let typed = record(&[("course_code", "LOCAL0001"), ("course_name", "人事法規")]);
    let create = api
        .send(
            reqwest::Method::POST,
            "/v1/people/A123456789/records",
            &staff,
        )
        .json(&as_json(&typed))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), StatusCode::CREATED);
    assert_eq!(create.headers()["etag"], "\"1\"");
    let own = "/v1/people/A123456789/records/LOCAL0001/1/1050301";
    let mut edited = as_json(&typed);
    edited["total_hours"] = json!("3");
    edited["digital_hours"] = json!("3");
    let response = api
        .send(reqwest::Method::PUT, own, &staff)
        .header("if-match", "\"1\"")
        .json(&edited)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let (status, body) = answer(
        api.send(reqwest::Method::PUT, own, &staff)
            .header("if-match", "\"1\"")
            .json(&edited)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PRECONDITION_FAILED, Some("version_mismatch"))
    );
    let (status, body) = answer(
        api.send(reqwest::Method::DELETE, own, &staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PRECONDITION_REQUIRED, Some("if_match_required"))
    );
    let response = api
        .send(reqwest::Method::DELETE, own, &staff)
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (_, list) = answer(
        api.get("/v1/people/A123456789/records", &staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1, "the portal record stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_never_reach_another_agencys_records() {
    let api = api().await;
    let theirs = record(&[("org_code", B), ("course_code", "B0001")]);
    let ours = record(&[("course_code", "A0001")]);
    api.store
        .create_staff_record(&theirs, "b-staff", now())
        .await
        .unwrap();
    api.store
        .create_staff_record(&ours, "a-staff", now())
        .await
        .unwrap();
    let staff = token(A, "staff");
    let (_, list) = answer(
        api.get("/v1/people/A123456789/records", &staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let courses: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["course_code"].as_str().unwrap())
        .collect();
    assert_eq!(courses, ["A0001"]);
    // Another agency's record is not found, as a missing one.
    let path = "/v1/people/A123456789/records/B0001/1/2016-03-01";
    let (status, _) = answer(api.get(path, &staff).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut body = as_json(&theirs);
    body["org_code"] = json!(A);
    let (status, _) = answer(
        api.send(reqwest::Method::PUT, path, &staff)
            .header("if-match", "1")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "moving a record into one's agency is not a way in"
    );
    let (status, _) = answer(
        api.send(reqwest::Method::DELETE, path, &staff)
            .header("if-match", "1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = answer(
        api.send(
            reqwest::Method::POST,
            "/v1/people/A123456789/records",
            &staff,
        )
        .json(&as_json(&record(&[
            ("org_code", B),
            ("course_code", "B0002"),
        ])))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let still = api.store.get_record(&theirs.key()).await.unwrap().unwrap();
    assert_eq!(still.version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_always_a_4xx_in_the_error_shape() {
    let api = api().await;
    let staff = token(A, "staff");
    let post = |body: reqwest::Body| {
        api.send(
            reqwest::Method::POST,
            "/v1/people/A123456789/records",
            &staff,
        )
        .header("content-type", "application/json")
        .body(body)
    };
    let mut unknown = as_json(&record(&[]));
    unknown["is_admin"] = json!(true);
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            post("{not json".into()),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (post("[]".into()), StatusCode::BAD_REQUEST, "invalid_json"),
        (
            post(unknown.to_string().into()),
            StatusCode::BAD_REQUEST,
            "unknown_fields",
        ),
        (
            post(
                json!({"id_no": "A123456789", "total_hours": "-1"})
                    .to_string()
                    .into(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_record",
        ),
        (
            api.get("/v1/people/A123456788/records", &staff),
            StatusCode::BAD_REQUEST,
            "invalid_national_id",
        ),
        (
            api.get("/v1/people/A123456789/records/X/abc/2016-03-01", &staff),
            StatusCode::BAD_REQUEST,
            "invalid_term",
        ),
        (
            api.get("/v1/people/A123456789/records/X/1/2016-02-30", &staff),
            StatusCode::BAD_REQUEST,
            "invalid_date",
        ),
        (
            api.get("/v1/nothing-here", &staff),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (request, status, code) in cases {
        let (got, body) = answer(request.send().await.unwrap()).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
        assert!(body["message"].is_string());
    }
    // A body over the limit is refused before it is read.
    let big = "x".repeat(api::MAX_BODY_BYTES + 1);
    let (status, error) = answer(post(big.into()).send().await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seven_day_download_is_written_locked_and_logged() {
    let api = api().await;
    let staff = token(A, "staff");
    let window = json!({"from": "1150308", "to": "2026-03-14"});
    let (status, body) = answer(
        api.send(reqwest::Method::POST, "/v1/downloads", &staff)
            .json(&window)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entry = &body["entry"];
    assert_eq!(entry["trigger"], "download");
    assert_eq!(entry["agency"], A);
    assert_eq!(entry["requested_by"], "user-376550000A-staff");
    let records = body["records"].as_array().unwrap();
    assert!(records.len() > 10, "a week of one agency's records");
    assert!(
        records
            .iter()
            .all(|r| r["org_code"] == A && r["status"] == "passed")
    );
    let counts = &entry["counts"];
    let sum: u64 = [
        "inserted",
        "updated",
        "unchanged",
        "withdrawn",
        "skipped",
        "failed",
    ]
    .iter()
    .map(|k| counts[k].as_u64().unwrap())
    .sum();
    assert_eq!(
        counts["fetched"].as_u64().unwrap(),
        sum,
        "every record accounted for"
    );
    // Written as locked download records.
    let first = &records[0];
    let path = format!(
        "/v1/people/{}/records/{}/{}/{}",
        first["id_no"].as_str().unwrap(),
        first["course_code"].as_str().unwrap(),
        first["term"],
        first["start_date"].as_str().unwrap()
    );
    let (_, stored) = answer(api.get(&path, &staff).send().await.unwrap()).await;
    assert_eq!(stored["source"], "download");
    assert_eq!(stored["locked"], true);
    // In the log for this agency, not for another.
    let (_, log) = answer(
        api.get("/v1/import-logs?trigger=download", &staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(log["entries"][0]["log_id"], entry["log_id"]);
    let (_, theirs) = answer(
        api.get("/v1/import-logs?trigger=download", &token(B, "staff"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(theirs["entries"].as_array().unwrap().len(), 0);
    // The same window again changes nothing.
    let (_, again) = answer(
        api.send(reqwest::Method::POST, "/v1/downloads", &staff)
            .json(&window)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again["entry"]["counts"]["inserted"], 0);
    assert_eq!(again["entry"]["counts"]["unchanged"], counts["inserted"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_applies_the_portals_withdrawals_for_the_agency() {
    // The letter: correct a record at the portal, then download. A record
    // the portal now reports as not passed is removed, as the night would.
    let api = api().await;
    let generator = api.portal.portal.generator();
    let today = now().date_naive();
    let from = today - chrono::Days::new(6);
    let withdrawn: Vec<TrainingRecord> = from
        .iter_days()
        .take(7)
        .flat_map(|d| generator.changes_on(d, today))
        .filter(|r| r.org_code == A && !r.is_passed())
        .map(|r| {
            // The version WebHR holds: the one passed before.
            let mut raw = system_tests::raw(&r);
            raw.status = "通過".into();
            raw.passed_date = raw.start_date.clone();
            raw.changed_date = raw.start_date.clone();
            raw.validate().unwrap()
        })
        .collect();
    assert!(!withdrawn.is_empty(), "the simulator withdraws some");
    api.store
        .upsert_portal_records(&withdrawn, Source::AutoImport, "sync-x", now())
        .await
        .unwrap();
    // Another agency's locked record under a withdrawn key is not this
    // download's to remove.
    let theirs = TrainingRecord {
        org_code: learning_core::AgencyCode::parse(B).unwrap(),
        ..withdrawn[0].clone()
    };
    api.store
        .upsert_portal_records(
            std::slice::from_ref(&theirs),
            Source::AutoImport,
            "sync-x",
            now(),
        )
        .await
        .unwrap();
    let (status, body) = answer(
        api.send(reqwest::Method::POST, "/v1/downloads", &token(A, "staff"))
            .json(&json!({"from": from.to_string(), "to": today.to_string()}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["entry"]["counts"]["withdrawn"].as_u64().unwrap(),
        withdrawn.len() as u64 - 1,
        "{}",
        body["entry"]
    );
    for record in &withdrawn[1..] {
        assert!(api.store.get_record(&record.key()).await.unwrap().is_none());
    }
    let kept = api.store.get_record(&theirs.key()).await.unwrap().unwrap();
    assert_eq!(kept.record.org_code.as_str(), B);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_the_portal_cannot_finish_in_time_is_closed_and_said() {
    // API Gateway gives up after 29 s; the API gives up first, says so, and
    // the log entry ends `failed` with the reason, never `running`.
    let store = fresh_store().await;
    let portal =
        system_tests::simulator(portal_sim::DataConfig::default(), now().date_naive()).await;
    portal.portal.set_faults(portal_sim::Faults {
        latency_ms: 1500,
        ..Default::default()
    });
    let s3_root = std::env::temp_dir().join(format!("webhr-api-slow-{}", fastrand::u64(..)));
    let s3 = local_stack::start_s3(&s3_root, 0, None).await.unwrap();
    let mut state = system_tests::api_state(
        &store,
        &portal,
        &s3.url(),
        Authentication::Local(tokens()),
        now,
    );
    state.download_timeout = std::time::Duration::from_secs(1);
    let served = local_stack::serve(api::router(state), 0).await.unwrap();
    let response = system_tests::http_client()
        .post(format!("{}/v1/downloads", served.url()))
        .bearer_auth(token(A, "staff"))
        .json(&json!({"from": "2026-03-14", "to": "2026-03-15"}))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(body["code"], "download_timeout");
    let log_id = body["details"]["log_id"].as_str().unwrap();
    let entry = store.get_log(log_id).await.unwrap().unwrap();
    let learning_core::import_log::LogEntry::Download(entry) = entry else {
        panic!("a download entry")
    };
    assert_eq!(entry.status, RunStatus::Failed);
    assert_eq!(entry.error.unwrap().code, "download_timeout");
    assert!(entry.finished_at.is_some());
    let _ = std::fs::remove_dir_all(&s3_root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_are_served_as_the_api_applies_them() {
    let api = api().await;
    let (status, settings) = answer(
        api.get("/v1/settings", &token(B, "staff"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        settings,
        json!({
            "start_date": "2016-01-01",
            "csv_cutoff_date": "2015-12-31",
            "download_max_days": 7,
            "time_zone": "Asia/Taipei",
            "csv_max_bytes": 268435456,
            "today": "2026-03-15",
            "log_default_from": "2026-02-15",
        })
    );
    // The log's default range is the one the settings name.
    let (_, page) = answer(
        api.get("/v1/import-logs", &token(B, "staff"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (&page["from"], &page["to"]),
        (&settings["log_default_from"], &settings["today"])
    );
    let (status, _) = answer(
        api.http
            .get(format!("{}/v1/settings", api.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agencys_records_are_listed_by_passed_date_a_page_at_a_time() {
    let api = api().await;
    let mut ours = Vec::new();
    for i in 0..23u32 {
        let day = format!("2016-03-{:02}", 1 + i % 9);
        let passed = format!("2016-04-{:02}", 1 + i % 20);
        let r = record(&[
            ("course_code", &format!("C{i:03}")),
            ("開課起始日期", &day),
            ("開課結束日期", &day),
            ("通過日期", &passed),
            ("異動日期", &passed),
        ]);
        ours.push(r);
    }
    let theirs = record(&[
        ("服務機關代碼", B),
        ("course_code", "THEIRS"),
        ("通過日期", "2016-04-05"),
        ("異動日期", "2016-04-05"),
    ]);
    let mut all = ours.clone();
    all.push(theirs);
    api.store
        .upsert_portal_records(&all, Source::AutoImport, "sync-x", now())
        .await
        .unwrap();
    let staff = token(A, "staff");
    let in_range: Vec<&TrainingRecord> = ours
        .iter()
        .filter(|r| {
            r.passed_date.is_some_and(|d| {
                d.to_string().as_str() >= "2016-04-03" && d.to_string().as_str() <= "2016-04-15"
            })
        })
        .collect();
    let mut got = Vec::new();
    let mut cursor = None::<String>;
    loop {
        let mut path = "/v1/records?from=1050403&to=2016-04-15&limit=4".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = answer(api.get(&path, &staff).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["agency"], A);
        let records = page["records"].as_array().unwrap();
        assert!(records.len() <= 4);
        got.extend(records.iter().map(|r| {
            (
                r["passed_date"].as_str().unwrap().to_string(),
                r["course_code"].as_str().unwrap().to_string(),
            )
        }));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut want: Vec<(String, String)> = in_range
        .iter()
        .map(|r| (r.passed_date.unwrap().to_string(), r.course_code.clone()))
        .collect();
    want.sort();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted, "by passed date");
    assert_eq!(
        sorted, want,
        "each of the agency's records in range once, none of another's"
    );
    let (status, body) = answer(
        api.get(
            &format!("/v1/records?from=2016-04-01&to=2016-04-30&agency={B}"),
            &staff,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("other_agency"))
    );
    let (status, page) = answer(
        api.get(
            &format!("/v1/records?from=2016-04-01&to=2016-04-30&agency={B}"),
            &token(A, "admin"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_longer_or_earlier_window_is_refused_not_cut() {
    let api = api().await;
    let staff = token(A, "staff");
    let cases = [
        (
            json!({"from": "2026-03-07", "to": "2026-03-14"}),
            "window_too_long",
        ),
        (
            json!({"from": "2015-12-28", "to": "2016-01-02"}),
            "before_start_date",
        ),
        (
            json!({"from": "2026-03-14", "to": "2026-03-10"}),
            "invalid_range",
        ),
        (
            json!({"from": "2026-03-14", "to": "2026-03-16"}),
            "future_date",
        ),
        (
            json!({"from": "2026-02-30", "to": "2026-03-02"}),
            "invalid_date",
        ),
        (
            json!({"from": "2026-03-10", "to": "2026-03-11", "limit": 5}),
            "invalid_json",
        ),
        (
            json!({"from": "2026-03-10", "to": "2026-03-11", "agency": B}),
            "other_agency",
        ),
    ];
    for (window, code) in cases {
        let (status, body) = answer(
            api.send(reqwest::Method::POST, "/v1/downloads", &staff)
                .json(&window)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(status.is_client_error(), "{window}: {status}");
        assert_eq!(body["code"], code, "{window}");
        assert!(!body["message"].as_str().unwrap().is_ascii(), "in Chinese");
    }
    let (_, log) = answer(
        api.get("/v1/import-logs?trigger=download", &staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        log["entries"].as_array().unwrap().len(),
        0,
        "nothing was downloaded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_comes_as_csv_for_excel_in_utf8_or_big5() {
    let api = api().await;
    let staff = token(A, "staff");
    let window = json!({"from": "2026-03-09", "to": "2026-03-13"});
    let response = api
        .send(reqwest::Method::POST, "/v1/downloads?format=csv", &staff)
        .json(&window)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert!(text.starts_with("身分證字號,姓名,出生日期,服務機關代碼"));
    let rows = text.lines().count() - 1;
    assert!(rows > 5);
    let big5 = api
        .send(
            reqwest::Method::POST,
            "/v1/downloads?format=csv&encoding=big5",
            &staff,
        )
        .json(&window)
        .send()
        .await
        .unwrap();
    assert_eq!(
        big5.status(),
        StatusCode::OK,
        "the simulator's names all exist in Big5"
    );
    assert_eq!(big5.headers()["content-type"], "text/csv; charset=big5");
    let bytes = big5.bytes().await.unwrap();
    let (decoded, _, bad) = encoding_rs::BIG5.decode(&bytes);
    assert!(!bad);
    assert_eq!(decoded.trim_end(), text.trim_end());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_upload_through_a_presigned_url_under_their_agency() {
    let api = api().await;
    let staff = token(A, "staff");
    let (status, ticket) = answer(
        api.send(reqwest::Method::POST, "/v1/uploads", &staff)
            .json(&json!({"file_name": "名單 104.csv"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    assert_eq!(ticket["key"], format!("uploads/{A}/名單 104.csv"));
    assert_eq!(ticket["method"], "POST");
    assert_eq!(ticket["max_bytes"], 256 * 1024 * 1024);
    // No AWS credentials: the signed form is the permission.
    let posted =
        system_tests::post_upload(&api.http, &ticket, "身分證字號,姓名\r\n".as_bytes()).await;
    assert!(
        posted.status().is_success(),
        "{}",
        posted.text().await.unwrap()
    );
    let stored = api
        .s3
        .get_object()
        .bucket(BUCKET)
        .key(format!("uploads/{A}/名單 104.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        stored.content_length(),
        Some("身分證字號,姓名\r\n".len() as i64)
    );
    // The form is for its one key: another key, or the form changed, is
    // refused by S3 itself.
    let mut moved = ticket.clone();
    moved["fields"]["key"] = json!(format!("uploads/{B}/x.csv"));
    let refused = system_tests::post_upload(&api.http, &moved, b"x").await;
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let other = api
        .s3
        .head_object()
        .bucket(BUCKET)
        .key(format!("uploads/{B}/x.csv"))
        .send()
        .await;
    assert!(other.is_err(), "nothing stored under the other key");

    for (body, code) in [
        (
            json!({"file_name": "../../reports/x.csv"}),
            "invalid_file_name",
        ),
        (json!({"file_name": "x.xlsx"}), "invalid_file_name"),
        (
            json!({"file_name": "..\\reports\\x.csv"}),
            "invalid_file_name",
        ),
        (json!({"file_name": ".csv"}), "invalid_file_name"),
        (
            json!({"file_name": "x\u{202E}vsc.csv"}),
            "invalid_file_name",
        ),
        (json!({"file_name": "x\r\n.csv"}), "invalid_file_name"),
        (json!({"file_name": "x.csv", "agency": B}), "other_agency"),
        (
            json!({"file_name": "x.csv", "bucket": "other"}),
            "invalid_json",
        ),
    ] {
        let (status, answer) = answer(
            api.send(reqwest::Method::POST, "/v1/uploads", &staff)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(status.is_client_error());
        assert_eq!(answer["code"], code, "{body}");
    }
    // Escapes S3 does not decode stay characters of one key in the prefix.
    let (status, ticket) = answer(
        api.send(reqwest::Method::POST, "/v1/uploads", &staff)
            .json(&json!({"file_name": "%2e%2e%2fx.csv"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ticket["key"], format!("uploads/{A}/%2e%2e%2fx.csv"));
    let posted = system_tests::post_upload(&api.http, &ticket, b"x").await;
    assert!(posted.status().is_success());
    let listed = api
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    for object in listed.contents() {
        let key = object.key().unwrap();
        assert!(key.starts_with(&format!("uploads/{A}/")), "{key}");
        assert_eq!(key.matches('/').count(), 2, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_import_with_refused_rows_links_its_report() {
    let api = api().await;
    let log_id = csv_entry(&api.store, now() - Duration::hours(1), A).await;
    let mut entry = api.store.get_csv_log(&log_id).await.unwrap().unwrap();
    let key = format!("reports/{A}/{log_id}/rejected.csv");
    api.s3
        .put_object()
        .bucket(BUCKET)
        .key(&key)
        .body("列號,欄位\r\n".as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    entry.file.bucket = BUCKET.into();
    entry.report_key = Some(key);
    entry.status = RunStatus::Partial;
    entry.lease_owner = Some("invocation-1".into());
    entry.lease_until = Some(now());
    entry.seq += 1;
    api.store.put_csv_log(&entry).await.unwrap();
    let (status, detail) = answer(
        api.get(&format!("/v1/import-logs/{log_id}"), &token(A, "staff"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["kind"], "csv_import");
    // What staff see, not the importer's checkpoint or where it keeps files.
    for internal in [
        "lease_owner",
        "lease_until",
        "seq",
        "stalled",
        "invocations",
        "report_key",
        "summary_key",
    ] {
        assert!(detail.get(internal).is_none(), "{internal} in {detail}");
    }
    assert_eq!(
        detail["file"],
        serde_json::json!({"key": entry.file.key, "size": entry.file.size})
    );
    let report = api
        .http
        .get(detail["report_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), StatusCode::OK);
    assert_eq!(report.text().await.unwrap(), "列號,欄位\r\n");
}

/// Through `lambda_http` as in Lambda: API Gateway (HTTP API, payload 2.0)
/// events, the claims its JWT authorizer verified in the request context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_api_gateway_the_authorizers_claims_decide() {
    use tower::ServiceExt;

    let api = api().await;
    sync_entry(
        &api.store,
        now() - Duration::days(1),
        "2026-03-13",
        &[(A, 5), (B, 7)],
    )
    .await;
    let portal =
        system_tests::simulator(portal_sim::DataConfig::default(), now().date_naive()).await;
    let router = api::router(system_tests::api_state(
        &api.store,
        &portal,
        &api.s3_url,
        Authentication::ApiGateway,
        now,
    ));
    // SAM's generated event (scripts/sam-events.sh), made into this request
    // with the claims API Gateway's JWT authorizer would pass.
    let mut event: Value =
        serde_json::from_str(include_str!("events/http-api-proxy.json")).unwrap();
    event["rawQueryString"] = json!("trigger=schedule");
    event["queryStringParameters"] = json!({"trigger": "schedule"});
    event["cookies"] = json!([]);
    event["headers"] = json!({
        "accept": "application/json",
        "authorization": "Bearer verified-by-api-gateway",
    });
    event["requestContext"]["authorizer"]["jwt"]["claims"] = json!({
        "sub": format!("staff-{A}"),
        "iss": "https://idp.example/",
        "aud": "webhr-api",
        "exp": "4102444800",
        "agency": A,
        "role": "staff",
    });
    let call = |event: Value| {
        let router = router.clone();
        async move {
            let request =
                lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event");
            let request = request.map(|body| axum::body::Body::from(body.to_vec()));
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };

    let (status, page) = call(event.clone()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        page["entries"][0]["agencies"],
        json!({ A: 5 }),
        "the claims' agency scopes it"
    );

    // Without the authorizer's claims, a bearer header alone is nothing.
    let mut bare = event.clone();
    bare["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let (status, body) = call(bare).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_missing"))
    );

    // Another agency's claims reach another agency's counts only.
    let mut other = event.clone();
    other["requestContext"]["authorizer"]["jwt"]["claims"]["agency"] = json!(B);
    let (_, page) = call(other).await;
    assert_eq!(page["entries"][0]["agencies"], json!({ B: 7 }));

    // An `admin` role claim is not enough: without the scope the identity
    // provider grants administrators it is refused (a user who could edit
    // their own role attribute gains nothing), with it all agencies show.
    let mut self_made = event.clone();
    self_made["requestContext"]["authorizer"]["jwt"]["claims"]["role"] = json!("admin");
    let (status, body) = call(self_made.clone()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("admin_scope_missing"))
    );
    let mut scoped = self_made.clone();
    scoped["requestContext"]["authorizer"]["jwt"]["scopes"] = json!(["openid", api::ADMIN_SCOPE]);
    let (status, page) = call(scoped).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["entries"][0]["agencies"], json!({ A: 5, B: 7 }));
    let mut claimed = self_made;
    claimed["requestContext"]["authorizer"]["jwt"]["scopes"] = json!(null);
    claimed["requestContext"]["authorizer"]["jwt"]["claims"]["scope"] = json!(api::ADMIN_SCOPE);
    let (status, _) = call(claimed).await;
    assert_eq!(status, StatusCode::OK, "the scope as a claim counts too");

    // A POST whose JSON body API Gateway passes base64-encoded.
    let mut upload = event.clone();
    upload["rawPath"] = json!("/v1/uploads");
    upload["requestContext"]["http"]["method"] = json!("POST");
    upload["requestContext"]["http"]["path"] = json!("/v1/uploads");
    upload["rawQueryString"] = json!("");
    upload["queryStringParameters"] = json!({});
    upload["isBase64Encoded"] = json!(true);
    use base64::Engine as _;
    upload["body"] =
        json!(base64::engine::general_purpose::STANDARD.encode(r#"{"file_name":"名單.csv"}"#));
    let (status, ticket) = call(upload).await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    assert_eq!(ticket["key"], format!("uploads/{A}/名單.csv"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_re_runs_days_and_each_is_logged_with_who_asked() {
    let api = api().await;
    let admin = token(A, "admin");
    let (status, queued) = answer(
        api.send(reqwest::Method::POST, "/v1/syncs", &admin)
            .json(&json!({"from": "1150310", "to": "2026-03-12"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["days"], 3);
    assert_eq!(queued["requested_by"], format!("user-{A}-admin"));

    // The run goes on after the answer; follow it in the log.
    let mut entries = Vec::new();
    for _ in 0..200 {
        let (_, page) = answer(
            api.get("/v1/import-logs?trigger=manual", &admin)
                .send()
                .await
                .unwrap(),
        )
        .await;
        entries = page["entries"].as_array().cloned().unwrap_or_default();
        if entries.len() == 3 && entries.iter().all(|e| e["status"] == "succeeded") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut days: Vec<&str> = entries
        .iter()
        .map(|e| e["data_date"].as_str().unwrap_or_default())
        .collect();
    days.sort();
    assert_eq!(
        days,
        ["2026-03-10", "2026-03-11", "2026-03-12"],
        "{entries:?}"
    );
    for entry in &entries {
        assert_eq!(entry["status"], "succeeded");
        assert_eq!(entry["trigger"], "manual");
        assert_eq!(entry["requested_by"], format!("user-{A}-admin"));
        assert!(entry["counts"]["inserted"].as_u64() > Some(0), "{entry}");
    }
    let stored = system_tests::stored(&api.store).await;
    let written: u64 = entries
        .iter()
        .map(|e| e["counts"]["inserted"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(stored.len() as u64, written);

    // One day: `to` left out.
    let (status, queued) = answer(
        api.send(reqwest::Method::POST, "/v1/syncs", &admin)
            .json(&json!({"from": "2026-03-14"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(
        (queued["days"].as_u64(), queued["to"].as_str()),
        (Some(1), Some("2026-03-14"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_runs_are_for_administrators_and_checked_before_anything_starts() {
    let api = api().await;
    let admin = token(A, "admin");
    let post = |token: &str, body: Value| {
        api.send(reqwest::Method::POST, "/v1/syncs", token)
            .json(&body)
            .send()
    };
    let (status, error) = answer(
        post(&token(A, "staff"), json!({"from": "2026-03-10"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("admin_only"))
    );
    for (body, code) in [
        (
            json!({"from": "2026-03-12", "to": "2026-03-10"}),
            "invalid_range",
        ),
        (
            json!({"from": "2026-03-14", "to": "2026-03-15"}),
            "future_date",
        ),
        (
            json!({"from": "2026-01-01", "to": "2026-02-01"}),
            "range_too_long",
        ),
        (json!({"from": "2015-12-31"}), "before_start_date"),
        (json!({"from": "2026-02-30"}), "invalid_date"),
        (json!({"from": "2026-03-10", "all": true}), "invalid_json"),
        (json!({}), "invalid_json"),
    ] {
        let (status, error) = answer(post(&admin, body.clone()).await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(error["code"], code, "{body}: {error}");
        assert!(!error["message"].as_str().unwrap_or_default().is_empty());
    }
    // Nothing started.
    let (_, page) = answer(api.get("/v1/import-logs", &admin).send().await.unwrap()).await;
    assert_eq!(page["entries"], json!([]));

    // While a run holds the lease, a re-run is refused rather than lost.
    api.store
        .acquire_lease("nightly", now(), now() + Duration::minutes(10))
        .await
        .unwrap();
    let (status, error) = answer(post(&admin, json!({"from": "2026-03-10"})).await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("sync_running"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_and_lists_exactly_the_routes() {
    let api = api().await;
    let response = api
        .http
        .get(format!("{}/v1/openapi.json", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "served without a token");
    let served: Value = response.json().await.unwrap();
    let doc = system_tests::openapi::document();
    assert_eq!(served, doc);
    assert_eq!(doc["openapi"], "3.1.0");

    // The routes the router serves are the document's, method for method.
    let routed: std::collections::BTreeSet<(String, String)> = api::routes()
        .into_iter()
        .map(|(path, method)| (path.to_string(), method.to_string()))
        .collect();
    let documented: std::collections::BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (path.clone(), method.clone()))
        })
        .collect();
    assert_eq!(routed, documented);
    assert!(routed.len() >= 10, "{routed:?}");

    // Each is really routed: without a token it is refused (401), never
    // unknown (404) or the wrong method (405); only the document and the
    // pages' files are public.
    for (path, method) in &documented {
        let concrete = path
            .replace("{id_no}", "A123456789")
            .replace("{course_code}", "EC10400123")
            .replace("{term}", "1")
            .replace("{start_date}", "2026-03-01")
            .replace("{log_id}", "sync-2026-03-01-x")
            .replace("{file}", "app.js");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, body) = answer(
            api.http
                .request(method.clone(), format!("{}{concrete}", api.url))
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let public = doc["paths"][path][method.as_str().to_lowercase()]["security"] == json!([]);
        let expected = if public {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, expected, "{method} {concrete}: {body}");
    }
}

/// Every route of the document, met by another agency's staff aiming at
/// this agency's data: refused, or answered without any of it. The test
/// fails if a route is added without a case here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agencys_staff_get_nothing_of_ours_on_any_route() {
    use reqwest::Method;
    let api = api().await;
    let our_log = csv_entry(&api.store, now() - Duration::days(1), A).await;
    let ours = record(&[("course_code", "A0001")]);
    api.store
        .create_staff_record(&ours, "a-staff", now())
        .await
        .unwrap();
    let them = token(B, "staff");
    let record_path = "/v1/people/A123456789/records/A0001/1/2016-03-01";
    let mut moved = as_json(&ours);
    moved["total_hours"] = json!("9");
    moved["digital_hours"] = json!("9");
    let cases: Vec<(Method, &str, reqwest::RequestBuilder)> = vec![
        (Method::GET, "/", api.get("/", &them)),
        (Method::GET, "/web/{file}", api.get("/web/app.js", &them)),
        (
            Method::GET,
            "/v1/openapi.json",
            api.get("/v1/openapi.json", &them),
        ),
        (
            Method::GET,
            "/v1/import-logs",
            api.get("/v1/import-logs", &them),
        ),
        (Method::GET, "/v1/settings", api.get("/v1/settings", &them)),
        (
            Method::GET,
            "/v1/records",
            api.get("/v1/records?from=2016-01-01&to=2016-12-31", &them),
        ),
        (
            Method::POST,
            "/v1/people/{id_no}/records/{course_code}/{term}/{start_date}/removal",
            api.send(Method::POST, &format!("{record_path}/removal"), &them)
                .header("if-match", "\"1\"")
                .json(&json!({"reason": "not theirs to remove"})),
        ),
        (
            Method::GET,
            "/v1/import-logs/{log_id}",
            api.get(&format!("/v1/import-logs/{our_log}"), &them),
        ),
        (
            Method::POST,
            "/v1/downloads",
            api.send(Method::POST, "/v1/downloads", &them)
                .json(&json!({"from": "2026-03-01", "to": "2026-03-07", "agency": A})),
        ),
        (
            Method::POST,
            "/v1/uploads",
            api.send(Method::POST, "/v1/uploads", &them)
                .json(&json!({"file_name": "x.csv", "agency": A})),
        ),
        (
            Method::POST,
            "/v1/syncs",
            api.send(Method::POST, "/v1/syncs", &them)
                .json(&json!({"from": "2026-03-01"})),
        ),
        (
            Method::GET,
            "/v1/people/{id_no}/records",
            api.get("/v1/people/A123456789/records", &them),
        ),
        (
            Method::POST,
            "/v1/people/{id_no}/records",
            api.send(Method::POST, "/v1/people/A123456789/records", &them)
                .json(&as_json(&record(&[("course_code", "A0002")]))),
        ),
        (
            Method::GET,
            "/v1/people/{id_no}/records/{course_code}/{term}/{start_date}",
            api.get(record_path, &them),
        ),
        (
            Method::PUT,
            "/v1/people/{id_no}/records/{course_code}/{term}/{start_date}",
            api.send(Method::PUT, record_path, &them)
                .header("if-match", "\"1\"")
                .json(&moved),
        ),
        (
            Method::DELETE,
            "/v1/people/{id_no}/records/{course_code}/{term}/{start_date}",
            api.send(Method::DELETE, record_path, &them)
                .header("if-match", "\"1\""),
        ),
    ];
    let mut covered = std::collections::BTreeSet::new();
    for (method, route, request) in cases {
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        // Nothing of ours in any answer: our record, our log, our agency's
        // data (the document itself names no agency).
        assert!(
            !text.contains("A0001") && !text.contains(&our_log),
            "{method} {route} → {status}: {text}"
        );
        let public = ["/", "/web/{file}", "/v1/openapi.json"].contains(&route);
        if public {
            // The same files for everyone, token or not.
            assert_eq!(status, StatusCode::OK, "{route}");
        } else if status.is_success() {
            // A list answers, with nothing of ours in it.
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(method, Method::GET, "{route}: {body}");
        } else if route.starts_with("/v1/people/")
            && route.contains("{course_code}")
            && !route.ends_with("/removal")
        {
            // Another agency's record is told as a missing one.
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {route}: {text}");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {route}: {text}");
        }
        covered.insert(format!("{method} {route}"));
    }
    let doc = system_tests::openapi::document();
    let documented: std::collections::BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    assert_eq!(covered, documented, "every route has its case");
    let still = api.store.get_record(&ours.key()).await.unwrap().unwrap();
    assert_eq!(still.version, 1, "our record untouched");
    assert_eq!(
        still.record.total_hours.to_string(),
        ours.total_hours.to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_staff_editing_one_record_at_once_one_wins_the_other_is_told() {
    let api = api().await;
    let ours = record(&[("course_code", "LOCAL0002")]);
    api.store
        .create_staff_record(&ours, "a-staff", now())
        .await
        .unwrap();
    let path = "/v1/people/A123456789/records/LOCAL0002/1/2016-03-01";
    let edit = |hours: &str, who: &str| {
        let mut body = as_json(&ours);
        body["total_hours"] = json!(hours);
        body["digital_hours"] = json!(hours);
        api.send(reqwest::Method::PUT, path, &token(A, who))
            .header("if-match", "\"1\"")
            .json(&body)
            .send()
    };
    for round in 0..10 {
        // Both read version 1 and send their edit at the same moment.
        let (first, second) = tokio::join!(edit("3", "staff"), edit("4", "staff"));
        let mut statuses = [first.unwrap().status(), second.unwrap().status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::PRECONDITION_FAILED],
            "round {round}"
        );
        let now_held = api.store.get_record(&ours.key()).await.unwrap().unwrap();
        assert_eq!(
            now_held.version, 2,
            "round {round}: exactly one edit landed"
        );
        // Back to version 1 for the next round.
        api.store
            .delete_staff_record(&ours.key(), &ours.org_code, 2)
            .await
            .unwrap();
        api.store
            .create_staff_record(&ours, "a-staff", now())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staff_pages_are_served_with_the_api_under_a_strict_policy() {
    let api = api().await;
    for (path, kind) in [
        ("/", "text/html"),
        ("/web/app.js", "text/javascript"),
        ("/web/app.css", "text/css"),
    ] {
        // No token: the files are public; every call they make carries one.
        let response = api
            .http
            .get(format!("{}{path}", api.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert!(headers["content-type"].to_str().unwrap().starts_with(kind));
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"));
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    let page = api
        .http
        .get(format!("{}/", api.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("lang=\"zh-Hant-TW\"") && page.contains("/web/app.js"));
    let (status, body) = answer(
        api.http
            .get(format!("{}/web/secrets.txt", api.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn a_failing_store_answers_a_fixed_message_and_keeps_the_detail_in_the_log() {
    let api = api().await;
    // The table goes away under the API: every read fails at DynamoDB.
    local_stack::dynamodb_client(&system_tests::engine_url().await)
        .delete_table()
        .table_name(api.store.table())
        .send()
        .await
        .unwrap();
    let (status, body) = answer(
        api.get("/v1/import-logs", &token(A, "staff"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "store_unavailable");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("請稍後再試"), "{message}");
    for detail in [api.store.table(), "DynamoDB", "ResourceNotFound", "Query"] {
        assert!(!body.to_string().contains(detail), "{detail} in {body}");
    }
}
