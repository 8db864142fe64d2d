//! What the system tests share: engines on 127.0.0.1, a fresh table per
//! test, the portal simulator, and the simulator's truth to compare with.
//!
//! Set `DYNAMODB_ENDPOINT` to run the same tests against another engine
//! (CI points it at AWS's DynamoDB Local); otherwise each test binary starts
//! the embedded one in memory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{NaiveDate, TimeZone};
use daily_sync::{DailySync, RunRequest};
use dynamodb_store::Store;
use learning_core::Settings;
use learning_core::import_log::Trigger;
use local_stack::Running;
use portal_client::{PortalClient, PortalConfig, Secret};
use portal_sim::{DataConfig, Portal, RunningPortal};
use tokio::sync::OnceCell;

pub const PORTAL_TOKEN: &str = "system-test-token";

pub fn day(s: &str) -> NaiveDate {
    s.parse().expect("a test date")
}

/// A plain HTTP client for the tests' requests. The workspace's reqwest
/// carries no crypto of its own (the bootstraps use *ring*, installed by
/// the portal client), so it is installed here before any client is built.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// One engine per test binary, shared by its tests (each gets its own table).
static ENGINE: OnceCell<(String, Option<Running>)> = OnceCell::const_new();

pub async fn engine_url() -> String {
    let (url, _) = ENGINE
        .get_or_init(|| async {
            match std::env::var("DYNAMODB_ENDPOINT") {
                Ok(url) if !url.is_empty() => (url, None),
                _ => {
                    // The engine must outlive any one test's runtime.
                    let (tx, rx) = std::sync::mpsc::channel();
                    std::thread::spawn(move || {
                        let runtime = tokio::runtime::Builder::new_multi_thread()
                            .worker_threads(2)
                            .enable_all()
                            .build()
                            .expect("a runtime for the engine");
                        runtime.block_on(async {
                            let running =
                                local_stack::start_dynamodb(local_stack::DynamoStorage::Memory, 0)
                                    .await
                                    .expect("embedded DynamoDB starts");
                            tx.send(running.url()).expect("test waits");
                            std::future::pending::<()>().await;
                            drop(running);
                        });
                    });
                    (rx.recv().expect("engine url"), None)
                }
            }
        })
        .await;
    url.clone()
}

/// A store on a table of its own, created from the shared definition.
pub async fn fresh_store() -> Store {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let table = format!(
        "webhr-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let client = local_stack::dynamodb_client(&engine_url().await);
    dynamodb_store::table::create(&client, &table)
        .await
        .expect("table created");
    Store::new(client, table)
}

pub async fn simulator(data: DataConfig, as_of: NaiveDate) -> RunningPortal {
    portal_sim::start(Arc::new(Portal::new(data, PORTAL_TOKEN, as_of)))
        .await
        .expect("simulator starts")
}

/// The client configuration the tests use: short backoffs, 3 attempts.
pub fn portal_config(portal: &RunningPortal) -> PortalConfig {
    portal_config_for(&portal.url())
}

/// [`portal_config`] for the simulator at `url` (behind a proxy, say).
pub fn portal_config_for(url: &str) -> PortalConfig {
    let mut config = PortalConfig::new(url, Secret::new(PORTAL_TOKEN));
    config.base_backoff = Duration::from_millis(5);
    config.max_backoff = Duration::from_millis(50);
    config.max_attempts = 3;
    config.timeout = Duration::from_secs(5);
    config
}

pub fn portal_client(portal: &RunningPortal) -> PortalClient {
    PortalClient::new(portal_config(portal)).expect("client")
}

/// A sync whose clock reads 02:00 Taipei time on `today`.
pub fn sync_on(
    portal: &RunningPortal,
    store: &Store,
    settings: &Settings,
    today: NaiveDate,
) -> DailySync<PortalClient> {
    sync_with(portal_client(portal), store, settings, today)
}

/// [`sync_on`] with a client of the test's own.
pub fn sync_with(
    client: PortalClient,
    store: &Store,
    settings: &Settings,
    today: NaiveDate,
) -> DailySync<PortalClient> {
    DailySync::new(
        client,
        store.clone(),
        settings.clone(),
        Duration::from_secs(5),
    )
    .with_clock(clock_on(today))
}

/// A clock that reads 02:00 Taipei time on `today`, for ever.
pub fn clock_on(today: NaiveDate) -> daily_sync::Clock {
    let at = chrono_tz::Asia::Taipei
        .from_local_datetime(&today.and_hms_opt(2, 0, 0).expect("a time"))
        .single()
        .expect("unambiguous")
        .with_timezone(&chrono::Utc);
    Arc::new(move || at)
}

pub fn request(run_id: &str) -> RunRequest {
    RunRequest {
        run_id: run_id.to_string(),
        trigger: Trigger::Manual,
        deadline: tokio::time::Instant::now() + Duration::from_secs(900),
        rerun: None,
    }
}

/// Settings with the mission's defaults.
pub fn settings() -> Settings {
    Settings::default()
}

/// The natural key as the simulator writes it.
pub type Key = (String, String, u32, String);

/// What WebHR should hold after syncing `days` with the portal as it stands
/// on `as_of`: each day's changes applied in order, passed records kept,
/// each portal record (by its `record_id`) under its latest key only.
pub fn truth(
    portal: &Portal,
    days: impl Iterator<Item = NaiveDate>,
    as_of: NaiveDate,
) -> BTreeMap<Key, String> {
    let mut held = BTreeMap::new();
    let mut held_under: BTreeMap<String, Key> = BTreeMap::new();
    for d in days {
        for record in portal.generator().changes_on(d, as_of) {
            // A record the portal sends invalid is refused, in every
            // version (the simulator's dirty records stay dirty).
            if !valid(&record) {
                continue;
            }
            // A later version replaces the earlier, whatever its key.
            if let Some(former) = held_under.remove(&record.record_id) {
                held.remove(&former);
            }
            if record.is_passed() {
                held.insert(record.key(), record.total_hours.clone());
                held_under.insert(record.record_id.clone(), record.key());
            }
        }
    }
    held
}

/// Whether the sync should accept a record the simulator serves: every
/// one but those the simulator made defective on purpose (known from
/// the making, not asked of the product's own checks).
pub fn valid(record: &portal_sim::WireRecord) -> bool {
    record.defect.is_none()
}

/// A record the simulator serves, as the portal client reads it.
pub fn raw(record: &portal_sim::WireRecord) -> learning_core::RawRecord {
    let text = |value: serde_json::Value| match value {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let fields = serde_json::to_value(record)
        .expect("a record serializes")
        .as_object()
        .expect("an object")
        .clone()
        .into_iter()
        .map(|(name, value)| (name, serde_json::Value::String(text(value))))
        .collect::<serde_json::Map<_, _>>();
    serde_json::from_value::<learning_core::RawRecord>(fields.into())
        .expect("the portal's fields are a record's")
}

/// Every training record in the table as key → total hours, read with a
/// plain Scan so the test does not trust the store's own reading code.
pub async fn stored(store: &Store) -> BTreeMap<Key, String> {
    let text = |item: &Item, name: &str| match item.get(name) {
        Some(AttributeValue::S(v) | AttributeValue::N(v)) => v.clone(),
        _ => String::new(),
    };
    record_items(store)
        .await
        .iter()
        .map(|item| {
            let hours =
                learning_core::Hours::parse(&text(item, "total_hours")).expect("stored hours");
            let term = text(item, "term").parse().expect("term");
            let key = (
                text(item, "id_no"),
                text(item, "course_code"),
                term,
                text(item, "start_date"),
            );
            (key, hours.to_string())
        })
        .collect()
}

/// Asserts two record sets are equal; on failure names the difference by
/// count and masked key, never printing a full national ID.
pub fn assert_same_records(got: &BTreeMap<Key, String>, want: &BTreeMap<Key, String>) {
    let mask = |k: &Key| format!("{}**** {} {} {}", &k.0[..6.min(k.0.len())], k.1, k.2, k.3);
    let missing: Vec<String> = want
        .keys()
        .filter(|k| !got.contains_key(*k))
        .map(mask)
        .collect();
    let extra: Vec<String> = got
        .keys()
        .filter(|k| !want.contains_key(*k))
        .map(mask)
        .collect();
    let differ: Vec<String> = want
        .iter()
        .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
        .map(|(k, _)| mask(k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differ.is_empty(),
        "{} records: {} missing {:?}, {} unexpected {:?}, {} with other hours {:?}",
        want.len(),
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(5).collect::<Vec<_>>(),
        differ.len(),
        differ.iter().take(5).collect::<Vec<_>>(),
    );
}

pub type Item = std::collections::HashMap<String, AttributeValue>;

/// All items of the table (records, log, state) in key order, by Scan.
pub async fn all_items(store: &Store) -> Vec<Item> {
    let mut items: Vec<Item> = store
        .client()
        .scan()
        .table_name(store.table())
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("scan");
    let key = |item: &Item, name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    items.sort_by_cached_key(|item| (key(item, "pk"), key(item, "sk")));
    items
}

/// The training-record items only.
pub async fn record_items(store: &Store) -> Vec<Item> {
    let mut items = all_items(store).await;
    items.retain(|item| {
        item.get("entity")
            .and_then(|v| v.as_s().ok())
            .is_some_and(|e| e == "record")
    });
    items
}

pub mod fault_proxy;
pub mod lambda;
pub use fault_proxy::{CloudModel, DbFaults, FaultProxy, fault_proxy, proxy_to};

/// The CSV import as it runs in the cloud, on 127.0.0.1: an embedded S3
/// whose uploads raise events, delivered to the import by the local
/// Lambda, writing to a table of its own.
pub struct CsvStack {
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub importer: Arc<csv_import::Importer>,
    pub answers: tokio::sync::mpsc::UnboundedReceiver<local_stack::lambda::Answer>,
    pub s3_url: String,
    root: std::path::PathBuf,
    _s3: Running,
}

pub const AGENCY: &str = "376550000A";

/// The audit hash's key of every test API.
pub const AUDIT_KEY: &str = "test-audit-key";

/// The upload bucket every test stack creates.
pub const BUCKET: &str = "webhr-uploads-test";

/// The API's state over these engines (the embedded S3 at `s3_url`) with
/// its clock at `now`; re-runs go to a real sync in this process.
pub fn api_state(
    store: &Store,
    portal: &RunningPortal,
    s3_url: &str,
    auth: api::Authentication,
    now: fn() -> chrono::DateTime<chrono::Utc>,
) -> api::AppState {
    let sync =
        sync_on(portal, store, &Settings::default(), now().date_naive()).with_clock(Arc::new(now));
    api::AppState {
        store: store.clone(),
        portal: portal_client(portal),
        bucket: BUCKET.to_string(),
        uploads: local_stack::uploads(s3_url, BUCKET),
        audit: api::AuditKey::new(AUDIT_KEY),
        sealer: api::AuditKey::new(AUDIT_KEY).sealer(),
        download_timeout: Duration::from_secs(25),
        launcher: local_stack::lambda::sync_launcher(Arc::new(sync), Default::default()),
        settings: Settings::default(),
        auth: Arc::new(auth),
        clock: Arc::new(now),
    }
}

/// The last change date a CSV import accepts (the mission's cutoff).
pub fn csv_cutoff() -> NaiveDate {
    Settings::default().csv_cutoff
}

/// `rows` generated valid rows of [`AGENCY`], changed by the cutoff.
pub fn generated_csv(rows: u64, encoding: portal_sim::csv_file::CsvEncoding, seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    portal_sim::csv_file::write_csv(
        &mut out,
        rows,
        encoding,
        (AGENCY, "範例市政府人事處"),
        csv_cutoff(),
        seed,
    )
    .expect("a generated file");
    out
}

/// What importing `bytes` (all valid rows) must leave in the table.
pub fn expected_records(bytes: &[u8]) -> BTreeMap<Key, String> {
    let agency = learning_core::AgencyCode::parse(AGENCY).expect("agency");
    csv_import::open(bytes, csv_cutoff(), agency)
        .expect("a readable file")
        .map(|row| match row.expect("a row") {
            csv_import::RowOutcome::Accepted(r) => (
                (
                    r.id_no.as_str().to_string(),
                    r.course_code.clone(),
                    r.term,
                    r.start_date.to_string(),
                ),
                r.total_hours.to_string(),
            ),
            csv_import::RowOutcome::Rejected(r) => panic!("generated rows are valid: {}", r.code),
        })
        .collect()
}

/// The import's configuration with the mission's cutoff (2015-12-31).
pub fn import_config(store: &Store, reserve: Duration) -> csv_import::ImportConfig {
    csv_import::ImportConfig {
        settings: Settings::default(),
        table: store.table().to_string(),
        reserve,
        audit_key: learning_core::audit::AuditKeySource::Key(AUDIT_KEY.into()),
    }
}

/// The audit key every test function uses ([`AUDIT_KEY`]).
pub fn audit_key() -> learning_core::audit::AuditKey {
    learning_core::audit::AuditKey::new(AUDIT_KEY)
}

pub async fn csv_stack(
    invocations: local_stack::lambda::Invocations,
    reserve: Duration,
) -> CsvStack {
    csv_stack_with(invocations, reserve, Settings::default()).await
}

/// [`csv_stack`] with other settings (limits, cutoff) for the import.
pub async fn csv_stack_with(
    invocations: local_stack::lambda::Invocations,
    reserve: Duration,
    settings: Settings,
) -> CsvStack {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let root = std::env::temp_dir().join(format!(
        "webhr-s3-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let store = fresh_store().await;
    let (events, received) = tokio::sync::mpsc::unbounded_channel();
    let running = local_stack::start_s3(&root, 0, Some(events))
        .await
        .expect("embedded S3 starts");
    let s3 = local_stack::s3_client(&running.url());
    let bucket = BUCKET.to_string();
    local_stack::create_bucket(&s3, &bucket)
        .await
        .expect("bucket");
    let importer = Arc::new(csv_import::Importer::new(
        store.clone(),
        s3.clone(),
        &csv_import::ImportConfig {
            settings,
            ..import_config(&store, reserve)
        },
        audit_key(),
    ));
    let (answer, answers) = tokio::sync::mpsc::unbounded_channel();
    local_stack::lambda::deliver_s3_events(received, importer.clone(), invocations, Some(answer));
    CsvStack {
        store,
        s3,
        bucket,
        importer,
        answers,
        s3_url: running.url(),
        root,
        _s3: running,
    }
}

impl Drop for CsvStack {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl CsvStack {
    /// Uploads `bytes` as S3 would store them and returns the file as the
    /// event describes it.
    pub async fn upload(
        &self,
        key: &str,
        bytes: Vec<u8>,
    ) -> learning_core::import_log::UploadedFile {
        let size = bytes.len() as u64;
        let put = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .expect("upload");
        learning_core::import_log::UploadedFile {
            bucket: self.bucket.clone(),
            key: key.to_string(),
            version_id: None,
            etag: put.e_tag().map(|e| e.trim_matches('"').to_string()),
            size,
        }
    }

    /// Waits until the import of `file` is over and returns its entry.
    pub async fn finished(
        &self,
        file: &learning_core::import_log::UploadedFile,
    ) -> learning_core::import_log::CsvImportEntry {
        let log_id = file.log_id();
        for _ in 0..1200 {
            if let Some(entry) = self.store.get_csv_log(&log_id).await.expect("log read")
                && entry.status.is_final()
            {
                return entry;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("import {log_id} did not finish in 60 s");
    }

    pub async fn object(&self, key: &str) -> Option<Vec<u8>> {
        let output = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(output.body.collect().await.ok()?.into_bytes().to_vec())
    }

    /// The event S3 sends for `file`, to deliver by hand.
    pub fn event_for(
        &self,
        file: &learning_core::import_log::UploadedFile,
    ) -> aws_lambda_events::event::s3::S3Event {
        serde_json::from_value(local_stack::s3_events::object_created(
            &file.bucket,
            &file.key,
            "Put",
            file.size,
            file.etag.as_deref().unwrap_or_default(),
        ))
        .expect("an S3 event")
    }
}

pub mod openapi;

/// Uploads `bytes` with an upload ticket of `POST /v1/uploads`, as a
/// browser sends the form: every field of the ticket, then the file.
pub async fn post_upload(
    http: &reqwest::Client,
    ticket: &serde_json::Value,
    bytes: &[u8],
) -> reqwest::Response {
    let boundary = format!("----webhr{:016x}", fastrand::u64(..));
    let mut body = Vec::new();
    let fields = ticket["fields"].as_object().expect("the form's fields");
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{}\r\n",
                value.as_str().expect("a text field")
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    http.post(ticket["url"].as_str().expect("the form's URL"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("S3 answers")
}

/// What the benchmarks share.
pub mod bench {
    use std::time::Instant;

    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    use futures::{StreamExt, TryStreamExt, stream};

    use super::Item;

    /// Peak resident memory of this process so far (VmHWM), in MiB.
    pub fn peak_mib() -> f64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
                line.split_whitespace().nth(1)?.parse::<f64>().ok()
            })
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// The baseline load: `items` with plain BatchWriteItem, 25 a call and
    /// 8 calls in flight (as the sync runs them); items/s.
    pub async fn raw_batch_write(
        client: &aws_sdk_dynamodb::Client,
        table: &str,
        items: &[Item],
    ) -> f64 {
        let started = Instant::now();
        stream::iter(items.chunks(25))
            .map(|chunk| {
                let mut pending: Vec<WriteRequest> = chunk
                    .iter()
                    .map(|item| {
                        let put = PutRequest::builder().set_item(Some(item.clone())).build();
                        WriteRequest::builder()
                            .put_request(put.expect("put"))
                            .build()
                    })
                    .collect();
                async move {
                    while !pending.is_empty() {
                        let out = client
                            .batch_write_item()
                            .request_items(table, pending)
                            .send()
                            .await?;
                        pending = out
                            .unprocessed_items
                            .unwrap_or_default()
                            .remove(table)
                            .unwrap_or_default();
                    }
                    Ok::<_, aws_sdk_dynamodb::error::SdkError<_, _>>(())
                }
            })
            .buffer_unordered(8)
            .try_collect::<()>()
            .await
            .expect("raw load");
        items.len() as f64 / started.elapsed().as_secs_f64()
    }
}

/// A TCP forwarder to an HTTP server on 127.0.0.1 that keeps what the
/// clients sent, to see which requests reached it (HTTP/1.1, plain text).
pub struct Tap {
    pub url: String,
    sent: Arc<std::sync::Mutex<Vec<u8>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Tap {
    pub async fn to(url: &str) -> Tap {
        let target = url.trim_start_matches("http://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("tap port");
        let url = format!("http://{}", listener.local_addr().expect("tap address"));
        let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let log = sent.clone();
        tokio::spawn(async move {
            loop {
                let inbound = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                    _ = &mut stopped => return,
                };
                let (log, target) = (log.clone(), target.clone());
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut from_client, mut to_client) = inbound.into_split();
                    let (mut from_server, mut to_server) = outbound.into_split();
                    let upstream = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n) = from_client.read(&mut buf).await {
                            if n == 0 || to_server.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            log.lock().expect("tap log").extend_from_slice(&buf[..n]);
                        }
                        let _ = to_server.shutdown().await;
                    };
                    let downstream = tokio::io::copy(&mut from_server, &mut to_client);
                    let _ = tokio::join!(upstream, downstream);
                });
            }
        });
        Tap {
            url,
            sent,
            _stop: stop,
        }
    }

    /// The GET requests for paths starting with `path`, in order, with the
    /// first byte each asked for (0 without a `Range`).
    pub fn gets_from(&self, path: &str) -> Vec<u64> {
        let sent = self.sent.lock().expect("tap log");
        let text = String::from_utf8_lossy(&sent);
        let start = format!("GET {path}");
        text.match_indices(&start)
            .map(|(at, _)| {
                let head = &text[at..];
                let head = &head[..head.find("\r\n\r\n").unwrap_or(head.len())];
                head.lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("range").then_some(value)?;
                        value
                            .trim()
                            .strip_prefix("bytes=")?
                            .split('-')
                            .next()?
                            .parse()
                            .ok()
                    })
                    .unwrap_or(0)
            })
            .collect()
    }
}

/// Records as the portal would send them, each with an identity of its
/// own that follows from its key (the same record, the same identity).
pub fn from_portal(records: &[learning_core::TrainingRecord]) -> Vec<learning_core::FromPortal> {
    records
        .iter()
        .map(|record| {
            let key = record.key();
            let hash = learning_core::hash::fnv1a(&[
                key.id_no.as_str(),
                &key.course_code,
                &key.term.to_string(),
                &key.start_date.to_string(),
            ]);
            learning_core::FromPortal {
                id: learning_core::PortalId::parse(&format!("T{hash:016x}")).expect("plain"),
                record: record.clone(),
            }
        })
        .collect()
}
