//! The CSV import and the API as they run in the cloud, over the engines:
//! the embedded S3 with its events, the import's and the API's state,
//! and uploads as a browser sends them.

use super::*;

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
