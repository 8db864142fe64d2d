//! A year of operation, simulated: the real functions — the nightly sync,
//! the CSV import from S3 events, the HTTP API — on the embedded engines,
//! with every actor at once and a simulated clock, behind the fault proxy's
//! cloud model. The oracle keeps its own ledger from what the simulation
//! generated and what each actor was told; it never asks the product's
//! validation or decision code. See the README's "A year of operation".
//!
//! ```sh
//! cargo nextest run -p system-tests --test year --success-output immediate   # a month (CI)
//! scripts/soak.sh --year                                                     # the year
//! YEAR_SEED=7 cargo nextest run -p system-tests --test year                  # replay a seed
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use api::{Authentication, Claims, LocalTokens};
use aws_lambda_events::event::s3::S3Event;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use daily_sync::{DailySync, Outcome, SyncEvent};
use dynamodb_store::Store;
use learning_core::Settings;
use portal_client::PortalClient;
use portal_sim::csv_file::CsvEncoding;
use portal_sim::{DataConfig, Faults, WireRecord};
use reqwest::StatusCode;
use serde_json::{Value, json};
use system_tests::*;

/// How big a year: `YEAR_*` variables (scripts/soak.sh --year sets the
/// full one); by default a month and a few days, for the test suite.
#[derive(Debug, Clone, Copy)]
struct Scale {
    seed: u64,
    nights: u32,
    agencies: u32,
    per_day: u32,
    /// December's rate, times the ordinary one.
    rush: f64,
    /// The table's write capacity under the cloud model.
    wcu: f64,
    /// Uploads a weekday, on average.
    uploads: f64,
}

fn scale() -> Scale {
    let var = |name: &str, default: f64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(default)
    };
    Scale {
        seed: var("YEAR_SEED", 2016.0) as u64,
        nights: var("YEAR_NIGHTS", 36.0) as u32,
        agencies: var("YEAR_AGENCIES", 12.0) as u32,
        per_day: var("YEAR_PER_DAY", 16.0) as u32,
        rush: var("YEAR_RUSH", 6.0),
        wcu: var("YEAR_WCU", 400.0),
        uploads: var("YEAR_UPLOADS", 0.5),
    }
}

/// Simulated time, read by every function of the run.
#[derive(Clone)]
struct Clock(Arc<AtomicI64>);

impl Clock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.load(Ordering::SeqCst)).expect("a time")
    }

    /// `hour:minute` in Taipei on `day`.
    fn set(&self, day: NaiveDate, hour: u32, minute: u32) {
        let at = chrono_tz::Asia::Taipei
            .from_local_datetime(&day.and_hms_opt(hour, minute, 0).expect("a time"))
            .single()
            .expect("unambiguous")
            .with_timezone(&Utc);
        self.0.store(at.timestamp_millis(), Ordering::SeqCst);
    }

    fn as_fn(&self) -> Arc<dyn Fn() -> DateTime<Utc> + Send + Sync> {
        let clock = self.clone();
        Arc::new(move || clock.now())
    }
}

/// The fields the oracle compares, as text; numbers with one decimal.
type Fields = BTreeMap<&'static str, String>;

const COMPARED: [&str; 14] = [
    "id_no",
    "name",
    "org_code",
    "course_code",
    "course_name",
    "term",
    "start_date",
    "end_date",
    "mode",
    "digital_hours",
    "physical_hours",
    "total_hours",
    "passed_date",
    "changed_date",
];

fn number(text: &str) -> String {
    text.parse::<f64>()
        .map_or_else(|_| text.to_string(), |n| format!("{n:.1}"))
}

fn fields_of(record: &WireRecord) -> Fields {
    let value = serde_json::to_value(record).expect("a record");
    COMPARED
        .iter()
        .map(|&name| {
            let text = match &value[name] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let text = if name.ends_with("hours") {
                number(&text)
            } else {
                text
            };
            (name, text)
        })
        .collect()
}

type Key = (String, String, u32, String);

fn key_of(fields: &Fields) -> Key {
    (
        fields["id_no"].clone(),
        fields["course_code"].clone(),
        fields["term"].parse().expect("a term"),
        fields["start_date"].clone(),
    )
}

/// Who wrote a record, as the oracle knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    Portal,
    Csv,
    Staff,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    fields: Fields,
    locked: bool,
    writer: Writer,
}

/// What the table holds, read with a plain Scan.
async fn table(store: &Store) -> BTreeMap<Key, Held> {
    let mut held = BTreeMap::new();
    for item in record_items(store).await {
        let text = |name: &str| match item.get(name) {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(s)) => s.clone(),
            Some(aws_sdk_dynamodb::types::AttributeValue::N(n)) => n.clone(),
            _ => String::new(),
        };
        let fields: Fields = COMPARED
            .iter()
            .map(|&name| {
                let value = text(name);
                (
                    name,
                    if name.ends_with("hours") {
                        number(&value)
                    } else {
                        value
                    },
                )
            })
            .collect();
        let writer = match text("source").as_str() {
            "auto_import" | "download" => Writer::Portal,
            "csv_import" => Writer::Csv,
            _ => Writer::Staff,
        };
        let locked = matches!(
            item.get("locked"),
            Some(aws_sdk_dynamodb::types::AttributeValue::Bool(true))
        );
        let previous = held.insert(
            key_of(&fields),
            Held {
                fields,
                locked,
                writer,
            },
        );
        assert!(previous.is_none(), "one item per key");
    }
    held
}

/// The oracle's ledger: what agencies' staff were told their uploads and
/// edits did, and what the portal was made to say.
#[derive(Default)]
struct Ledger {
    /// Records from CSV imports and typed in by staff, by key.
    kept: BTreeMap<Key, Held>,
    /// Portal records whose late change (outside the lookback) awaits an
    /// administrator's re-run: the version WebHR holds until then.
    awaiting_rerun: BTreeMap<String, Fields>,
}

impl Ledger {
    /// What the portal lists for days up to `as_of`, as WebHR should hold
    /// it: the latest version of each record the simulator made valid,
    /// passed ones only.
    fn portal(
        &self,
        portal: &portal_sim::Portal,
        start: NaiveDate,
        as_of: NaiveDate,
    ) -> BTreeMap<Key, Held> {
        let mut held = BTreeMap::new();
        for day in start.iter_days().take_while(|d| *d <= as_of) {
            for record in portal.day(day).iter() {
                if record.defect.is_some() || !record.is_passed() {
                    continue;
                }
                let fields = self
                    .awaiting_rerun
                    .get(&record.record_id)
                    .cloned()
                    .unwrap_or_else(|| fields_of(record));
                held.insert(
                    key_of(&fields),
                    Held {
                        fields,
                        locked: true,
                        writer: Writer::Portal,
                    },
                );
            }
        }
        held
    }

    /// The whole table as it must be: the portal's records, then what
    /// staff keep under keys the portal does not hold (the portal's
    /// version replaces a record typed in by hand).
    fn expected(
        &self,
        portal: &portal_sim::Portal,
        start: NaiveDate,
        as_of: NaiveDate,
    ) -> BTreeMap<Key, Held> {
        let mut all = self.portal(portal, start, as_of);
        for (key, held) in &self.kept {
            all.entry(key.clone()).or_insert_with(|| held.clone());
        }
        all
    }
}

/// The figures the summary line prints.
#[derive(Debug, Default)]
struct Figures {
    nights: u32,
    records: u64,
    uploads: u64,
    rows: u64,
    downloads: u64,
    staff_edits: u64,
    refused_edits: u64,
    portal_fault_nights: u32,
    kills: u64,
    duplicate_events: u64,
    continuations: u64,
    sync_continuations: u64,
    sync_out_of_time: u64,
    double_schedules: u64,
    reruns: u64,
    removals: u64,
    backdated: u64,
    mismatches: u64,
    lost: u64,
    duplicated: u64,
    operator_actions: u64,
    checks: u32,
    sync_capacity_share: f64,
    csv_capacity_share: f64,
}

/// Everything the year runs on.
struct World {
    scale: Scale,
    rng: fastrand::Rng,
    clock: Clock,
    settings: Settings,
    direct: Store,
    proxy: FaultProxy,
    portal: portal_sim::RunningPortal,
    sync: Arc<DailySync<PortalClient>>,
    api_url: String,
    http: reqwest::Client,
    s3: aws_sdk_s3::Client,
    events: tokio::sync::mpsc::UnboundedReceiver<Value>,
    importer: Arc<csv_import::Importer>,
    ledger: Ledger,
    figures: Figures,
    /// Keys any generated row or typed record used: fresh ones never meet.
    used: BTreeSet<Key>,
    /// Files uploaded and imported, by agency (for re-uploads).
    files: Vec<(String, Vec<WireRecord>)>,
    next_invocation: u64,
    _servers: (local_stack::Running, local_stack::Running),
    s3_root: std::path::PathBuf,
}

const TOKENS: (&str, &str, &str) = ("year-key", "webhr-local", "webhr-api");
const IMPORT_RESERVE: Duration = Duration::from_millis(800);

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.s3_root);
    }
}

impl World {
    async fn new(scale: Scale) -> World {
        let settings = Settings::default();
        let clock = Clock(Arc::new(AtomicI64::new(0)));
        clock.set(settings.start_date, 9, 0);
        let direct = fresh_store().await;
        let proxy = fault_proxy().await;
        // The retries as deployed: the cloud model throttles as DynamoDB does.
        let store = proxy.store(&direct);
        let portal = simulator(
            DataConfig {
                seed: scale.seed,
                per_day: scale.per_day,
                agencies: scale.agencies,
                year_end_rush: scale.rush,
                invalid_id_share: 0.004,
                invalid_hours_share: 0.004,
                odd_type_share: 0.002,
                ..DataConfig::default()
            },
            settings.start_date,
        )
        .await;
        let mut portal_config = portal_config(&portal);
        portal_config.page_size = 50;
        portal_config.timeout = Duration::from_millis(500);
        portal_config.base_backoff = Duration::from_millis(5);
        portal_config.max_backoff = Duration::from_millis(50);
        let client = PortalClient::new(portal_config).expect("client");
        let sync = Arc::new(
            DailySync::new(
                client.clone(),
                store.clone(),
                settings.clone(),
                Duration::from_millis(500),
            )
            .with_lookback(7)
            .with_clock(clock.as_fn()),
        );

        let s3_root = std::env::temp_dir().join(format!("webhr-year-{}", fastrand::u64(..)));
        let (sender, events) = tokio::sync::mpsc::unbounded_channel();
        let s3_server = local_stack::start_s3(&s3_root, 0, Some(sender))
            .await
            .expect("S3");
        let s3 = local_stack::s3_client(&s3_server.url());
        local_stack::create_bucket(&s3, BUCKET)
            .await
            .expect("bucket");
        let importer = Arc::new(csv_import::Importer::new(
            store.clone(),
            s3.clone(),
            &import_config(&store, IMPORT_RESERVE),
            audit_key(),
        ));
        let state = api::AppState {
            store: store.clone(),
            portal: client,
            bucket: BUCKET.to_string(),
            uploads: local_stack::uploads(&s3_server.url(), BUCKET),
            audit: api::AuditKey::new(AUDIT_KEY),
            sealer: api::AuditKey::new(AUDIT_KEY).sealer(),
            download_timeout: Duration::from_secs(25),
            launcher: local_stack::lambda::sync_launcher(sync.clone(), Default::default()),
            settings: settings.clone(),
            auth: Arc::new(Authentication::Local(LocalTokens::new(
                TOKENS.0, TOKENS.1, TOKENS.2,
            ))),
            clock: clock.as_fn(),
        };
        let api_server = local_stack::serve(api::router(state), 0)
            .await
            .expect("the API");
        World {
            rng: fastrand::Rng::with_seed(scale.seed),
            scale,
            clock,
            settings,
            direct,
            proxy,
            portal,
            sync,
            api_url: api_server.url(),
            http: http_client(),
            s3,
            events,
            importer,
            ledger: Ledger::default(),
            figures: Figures::default(),
            used: BTreeSet::new(),
            files: Vec::new(),
            next_invocation: 0,
            _servers: (s3_server, api_server),
            s3_root,
        }
    }

    fn token(&self, agency: &str, role: &str) -> String {
        LocalTokens::new(TOKENS.0, TOKENS.1, TOKENS.2).mint(&Claims {
            sub: format!("{role}-{agency}"),
            iss: TOKENS.1.into(),
            aud: TOKENS.2.into(),
            exp: self.clock.now().timestamp() + 3600,
            agency: agency.into(),
            role: role.into(),
            scope: (role == "admin").then(|| api::ADMIN_SCOPE.to_string()),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> (StatusCode, Value, Option<String>) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.api_url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (status, response.json().await.unwrap_or(Value::Null), etag)
    }

    /// The person's handle for `id_no`, as staff find it.
    async fn person(&self, id_no: &str, token: &str) -> String {
        let (status, found, _) = self
            .call(
                reqwest::Method::POST,
                "/v1/people/search",
                token,
                Some(&json!({ "id_no": id_no })),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        found["person"].as_str().expect("a handle").to_string()
    }

    fn record_path(&self, person: &str, key: &Key) -> String {
        format!("/v1/people/{person}/records/{}/{}/{}", key.1, key.2, key.3)
    }

    // ---- the night ------------------------------------------------------

    /// One night's scheduled run as Lambda runs it: retried twice on an
    /// error, continued by its own invocation when it runs out of time.
    async fn night(&mut self, night: NaiveDate, deadline: Duration, twice: bool) {
        let event: SyncEvent =
            serde_json::from_str(include_str!("events/scheduled-event.json")).expect("event");
        let mut pending = vec![event.clone()];
        if twice {
            // Two schedules firing at once: one works, one finds the lease.
            pending.push(event);
            self.figures.double_schedules += 1;
        }
        let runs = pending.into_iter().map(|event| {
            self.next_invocation += 1;
            let run_id = format!("night-{night}-{}", self.next_invocation);
            let sync = self.sync.clone();
            async move {
                let mut continuations = 0;
                let mut out_of_time = 0;
                let mut event = event;
                let mut attempt = 0;
                loop {
                    let request = event.clone().into_request(
                        format!("{run_id}-{continuations}"),
                        tokio::time::Instant::now() + deadline,
                    );
                    match sync.run(&request, |_, _| {}).await {
                        Ok(summary) => {
                            out_of_time += u64::from(summary.outcome == Outcome::DeadlineReached);
                            match event.continuation(&summary) {
                                Some(next) => {
                                    continuations += 1;
                                    event = next;
                                }
                                None => return (continuations, out_of_time),
                            }
                        }
                        // Lambda retries an asynchronous invocation twice.
                        Err(_) if attempt < 2 => attempt += 1,
                        Err(_) => return (continuations, out_of_time),
                    }
                }
            }
        });
        for (continued, out_of_time) in futures::future::join_all(runs).await {
            self.figures.sync_continuations += continued;
            self.figures.sync_out_of_time += out_of_time;
        }
    }

    // ---- uploads --------------------------------------------------------

    fn agency(&mut self) -> (String, String) {
        portal_sim::data::agency(self.rng.u64(..u64::from(self.scale.agencies)))
    }

    /// Rows for a file of `agency`, changed by the cutoff, keys unused.
    fn fresh_rows(&mut self, agency: &(String, String), rows: usize) -> Vec<WireRecord> {
        let seed = self.rng.u64(..);
        let generator = portal_sim::data::Generator::new(DataConfig {
            seed,
            per_day: 400,
            ..DataConfig::default()
        });
        let mut out = Vec::with_capacity(rows);
        let mut day = self.settings.csv_cutoff;
        while out.len() < rows {
            for index in 0..generator.count_on(day) {
                let mut record = generator.original(day, index);
                record.org_code = agency.0.clone();
                record.org_name = agency.1.clone();
                let key = key_of(&fields_of(&record));
                if out.len() < rows && self.used.insert(key) {
                    out.push(record);
                }
            }
            day = day - chrono::Days::new(1);
        }
        out
    }

    /// A staff upload: a file made of fresh rows, a few dirty ones, some
    /// naming another agency, some over keys another agency holds; or a
    /// file uploaded before, again or corrected. Imported through the S3
    /// event; the entry's counts are checked against the ledger's.
    async fn upload(&mut self) {
        let (agency, mut rows, name) = if !self.files.is_empty() && self.rng.f64() < 0.25 {
            let (agency, mut rows) = self.files[self.rng.usize(..self.files.len())].clone();
            if self.rng.bool() {
                // Corrected: some rows' hours changed.
                for row in rows.iter_mut().filter(|_| self.rng.f64() < 0.3) {
                    let more = row.physical_hours.parse::<f64>().unwrap_or(0.0) + 1.0;
                    row.physical_hours = format!("{more:.1}");
                    row.total_hours = format!(
                        "{:.1}",
                        row.digital_hours.parse::<f64>().unwrap_or(0.0) + more
                    );
                }
            }
            (agency, rows, "again")
        } else {
            let agency = self.agency();
            // Every eighth a file that needs continuations.
            let size = if self.figures.uploads % 8 == 7 {
                self.rng.usize(1500..3000)
            } else {
                self.rng.usize(20..300)
            };
            (agency.0.clone(), self.fresh_rows(&agency, size), "new")
        };
        let clean = rows.clone();
        // What the oracle expects of each row, decided from how it was made.
        let mut expected_rejected: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut dirty = Vec::new();
        if name == "new" {
            for _ in 0..self.rng.usize(0..4) {
                let mut bad = rows[self.rng.usize(..rows.len())].clone();
                let code = match self.rng.u8(0..4) {
                    0 => {
                        let last = bad.id_no.pop().unwrap_or('0') as u8;
                        bad.id_no.push(char::from(b'0' + (last - b'0' + 1) % 10));
                        "national_id_checksum"
                    }
                    1 => {
                        bad.total_hours = number(&format!(
                            "{}",
                            bad.total_hours.parse::<f64>().unwrap_or(0.0) + 3.0
                        ));
                        "hours_total_mismatch"
                    }
                    2 => {
                        bad.changed_date =
                            (self.settings.csv_cutoff + chrono::Days::new(20)).to_string();
                        "after_cutoff"
                    }
                    _ => {
                        let other = self.agency();
                        if other.0 == agency {
                            continue;
                        }
                        bad.org_code = other.0;
                        "other_agency"
                    }
                };
                *expected_rejected.entry(code).or_default() += 1;
                dirty.push(bad);
            }
            // A row over a key another agency holds (from its own file).
            let theirs: Vec<Held> = self
                .ledger
                .kept
                .values()
                .filter(|h| h.writer == Writer::Csv && h.fields["org_code"] != agency)
                .cloned()
                .collect();
            if !theirs.is_empty() && self.rng.f64() < 0.5 {
                let held = &theirs[self.rng.usize(..theirs.len())];
                let mut row = clean[0].clone();
                row.id_no = held.fields["id_no"].clone();
                row.course_code = held.fields["course_code"].clone();
                row.term = held.fields["term"].parse().expect("term");
                row.start_date = held.fields["start_date"].clone();
                row.end_date = held.fields["end_date"].clone();
                row.passed_date = Some(held.fields["passed_date"].clone());
                row.changed_date = held.fields["changed_date"].clone();
                *expected_rejected.entry("record_held").or_default() += 1;
                dirty.push(row);
            }
        }
        // Counted from the ledger as it stands before the import.
        let (mut inserted, mut updated, mut unchanged) = (0, 0, 0);
        for row in &clean {
            let fields = fields_of(row);
            match self.ledger.kept.get(&key_of(&fields)) {
                None => inserted += 1,
                Some(held) if held.fields == fields => unchanged += 1,
                Some(_) => updated += 1,
            }
        }
        rows.extend(dirty);
        self.rng.shuffle(&mut rows);
        let encoding = if self.rng.bool() {
            CsvEncoding::Big5
        } else {
            CsvEncoding::Utf8Bom
        };
        let mut bytes = Vec::new();
        portal_sim::csv_file::write_records(&mut bytes, &rows, encoding).expect("a file");
        self.figures.uploads += 1;
        self.figures.rows += rows.len() as u64;
        let key = format!("uploads/{agency}/{}-{}.csv", name, self.figures.uploads);
        let entry = self.import(&key, bytes).await;
        let counts = &entry["counts"];
        let rejected: u64 = expected_rejected.values().sum();
        assert_eq!(
            entry["status"],
            if rejected > 0 { "partial" } else { "succeeded" },
            "{key}: {entry}"
        );
        assert_eq!(
            [
                &counts["rows"],
                &counts["inserted"],
                &counts["updated"],
                &counts["unchanged"],
                &counts["rejected"]
            ],
            [
                &json!(rows.len()),
                &json!(inserted),
                &json!(updated),
                &json!(unchanged),
                &json!(rejected)
            ],
            "{key}: the import's counts are the ledger's: {entry}"
        );
        for (code, n) in &expected_rejected {
            assert_eq!(entry["reasons"][code], json!(n), "{key}: {code}: {entry}");
        }
        for row in &clean {
            let fields = fields_of(row);
            self.ledger.kept.insert(
                key_of(&fields),
                Held {
                    fields,
                    locked: false,
                    writer: Writer::Csv,
                },
            );
        }
        if name == "new" {
            self.files.push((agency, clean));
        }
    }

    /// Puts `bytes` at `key` and delivers the S3 events that follow (the
    /// upload's, then its continuations') as Lambda would, with the
    /// faults of the cloud: an invocation killed at a random point and
    /// delivered again, the same event delivered twice at once, errors
    /// retried. Returns the finished entry, read raw.
    async fn import(&mut self, key: &str, bytes: Vec<u8>) -> Value {
        let put = self
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .expect("the upload");
        let file = learning_core::import_log::UploadedFile {
            bucket: BUCKET.to_string(),
            key: key.to_string(),
            version_id: None,
            etag: put.e_tag().map(|e| e.trim_matches('"').to_string()),
            size: 0,
        };
        let log_id = file.log_id();
        loop {
            let event =
                match tokio::time::timeout(Duration::from_millis(300), self.events.recv()).await {
                    Ok(Some(event)) => event,
                    _ => break,
                };
            let event: S3Event = serde_json::from_value(event).expect("an S3 event");
            if event.records.iter().any(|r| {
                r.s3.object
                    .key
                    .as_deref()
                    .is_some_and(|k| k.contains("continuations"))
            }) {
                self.figures.continuations += 1;
            }
            self.deliver(event).await;
        }
        let entry = log_body(&self.direct, &log_id)
            .await
            .expect("the import's entry");
        assert_ne!(entry["status"], "running", "{key}: {entry}");
        entry
    }

    async fn deliver(&mut self, event: S3Event) {
        self.next_invocation += 1;
        let request_id = format!("import-{}", self.next_invocation);
        // Each invocation has the time a Lambda gives, some little.
        let budget = if self.rng.f64() < 0.5 {
            Duration::from_millis(self.rng.u64(1000..2500))
        } else {
            Duration::from_secs(60)
        };
        let importer = self.importer.clone();
        let invoke = |request_id: String| {
            let importer = importer.clone();
            let event = event.clone();
            async move {
                importer
                    .handle(&event, &request_id, tokio::time::Instant::now() + budget)
                    .await
            }
        };
        if self.rng.f64() < 0.1 {
            // The same event twice at once: one import.
            self.figures.duplicate_events += 1;
            let (a, b) = tokio::join!(
                invoke(request_id.clone()),
                invoke(format!("{request_id}-twin"))
            );
            if a.is_ok() && b.is_ok() {
                return;
            }
        } else if self.rng.f64() < 0.15 {
            // Killed at a random point (the future dropped mid-call).
            let at = Duration::from_millis(self.rng.u64(5..400));
            if tokio::time::timeout(at, invoke(request_id.clone()))
                .await
                .is_err()
            {
                self.figures.kills += 1;
            }
        }
        // Delivered (again: Lambda retries with the same request id).
        let mut errors = Vec::new();
        for _ in 0..3 {
            match invoke(request_id.clone()).await {
                Ok(_) => return,
                Err(e) => errors.push(format!("{}: {e}", e.code())),
            }
        }
        panic!("an import failed three invocations in a row: {errors:?}");
    }

    // ---- staff ----------------------------------------------------------

    /// A record typed in by hand, edited, deleted; an edit of a locked one
    /// and of another agency's, refused.
    async fn staff(&mut self, today: NaiveDate) {
        let future = self.future_portal_record(today);
        let awaited = future.is_some();
        let typed = match future {
            // Typed in before the portal's arrives: the portal's replaces it.
            Some(mut record) if self.rng.bool() => {
                record.total_hours = number(&format!(
                    "{}",
                    record.total_hours.parse::<f64>().unwrap_or(0.0) + 0.5
                ));
                record.physical_hours = number(&format!(
                    "{}",
                    record.physical_hours.parse::<f64>().unwrap_or(0.0) + 0.5
                ));
                record.changed_date = (today - chrono::Days::new(1)).to_string();
                record.passed_date = Some(record.changed_date.clone());
                record
            }
            _ => {
                let agency = self.agency();
                let mut record = self.fresh_rows(&agency, 1).remove(0);
                record.course_code = format!("ST{:06}", self.rng.u32(..1_000_000));
                record.start_date = (today - chrono::Days::new(5)).to_string();
                record.end_date = (today - chrono::Days::new(4)).to_string();
                record.passed_date = Some((today - chrono::Days::new(3)).to_string());
                record.changed_date = (today - chrono::Days::new(3)).to_string();
                if !self.used.insert(key_of(&fields_of(&record))) {
                    return;
                }
                record
            }
        };
        let agency = typed.org_code.clone();
        let staff = self.token(&agency, "staff");
        let person = self.person(&typed.id_no, &staff).await;
        let body = wire_body(&typed);
        let (status, created, _) = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/people/{person}/records"),
                &staff,
                Some(&body),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        self.figures.staff_edits += 1;
        let fields = fields_of(&typed);
        let key = key_of(&fields);
        self.ledger.kept.insert(
            key.clone(),
            Held {
                fields,
                locked: false,
                writer: Writer::Staff,
            },
        );
        if awaited {
            return;
        }
        let path = self.record_path(&person, &key);
        let (_, _, etag) = self
            .call(reqwest::Method::GET, &path, &staff, None, None)
            .await;
        match self.rng.u8(0..3) {
            0 => {
                let mut edited = typed.clone();
                edited.course_name.push_str("（修正）");
                let (status, answer, _) = self
                    .call(
                        reqwest::Method::PUT,
                        &path,
                        &staff,
                        Some(&wire_body(&edited)),
                        etag.as_deref(),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{answer}");
                self.figures.staff_edits += 1;
                self.ledger.kept.get_mut(&key).expect("typed").fields = fields_of(&edited);
            }
            1 => {
                let (status, answer, _) = self
                    .call(
                        reqwest::Method::DELETE,
                        &path,
                        &staff,
                        None,
                        etag.as_deref(),
                    )
                    .await;
                assert!(status.is_success(), "{status} {answer}");
                self.figures.staff_edits += 1;
                self.ledger.kept.remove(&key);
            }
            _ => {
                // Another agency's staff: as if the record were not there.
                let other = self.agency().0;
                if other != agency {
                    let theirs = self.token(&other, "staff");
                    let person = self.person(&typed.id_no, &theirs).await;
                    let path = self.record_path(&person, &key);
                    let (status, _, _) = self
                        .call(
                            reqwest::Method::DELETE,
                            &path,
                            &theirs,
                            None,
                            etag.as_deref(),
                        )
                        .await;
                    assert_eq!(status, StatusCode::NOT_FOUND, "another agency's record");
                    self.figures.refused_edits += 1;
                }
            }
        }
    }

    /// A record the portal will first report in 5 to 10 days and never
    /// change: what staff type in while they wait for it.
    fn future_portal_record(&mut self, today: NaiveDate) -> Option<WireRecord> {
        let generator = self.portal.portal.generator();
        let day = today + chrono::Days::new(self.rng.u64(5..11));
        let count = generator.count_on(day);
        if count == 0 {
            return None;
        }
        let index = self.rng.u32(..count);
        let record = generator.original(day, index);
        let fits = generator.fate(day, index) == portal_sim::data::Fate::Stays
            && record.defect.is_none()
            && self.used.insert(key_of(&fields_of(&record)));
        fits.then_some(record)
    }

    /// Staff try to change a record the portal wrote: refused, locked.
    async fn try_locked(&mut self, as_of: NaiveDate) {
        let held = self.ledger.portal(
            &self.portal.portal,
            (as_of - chrono::Days::new(20)).max(self.settings.start_date),
            as_of - chrono::Days::new(10),
        );
        let Some((key, record)) = held.into_iter().nth(self.rng.usize(..50)) else {
            return;
        };
        let staff = self.token(&record.fields["org_code"], "staff");
        let person = self.person(&key.0, &staff).await;
        let path = self.record_path(&person, &key);
        let (status, _, etag) = self
            .call(reqwest::Method::GET, &path, &staff, None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, answer, _) = self
            .call(
                reqwest::Method::DELETE,
                &path,
                &staff,
                None,
                etag.as_deref(),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert_eq!(answer["code"], "record_locked", "{answer}");
        self.figures.refused_edits += 1;
    }

    async fn download(&mut self, today: NaiveDate) {
        let agency = self.agency().0;
        let staff = self.token(&agency, "staff");
        let window = json!({
            "from": (today - chrono::Days::new(6)).max(Settings::default().start_date).to_string(),
            "to": today.to_string(),
        });
        let (status, answer, _) = self
            .call(
                reqwest::Method::POST,
                "/v1/downloads",
                &staff,
                Some(&window),
                None,
            )
            .await;
        // The portal may be having a bad night: told to try again later.
        assert!(
            status == StatusCode::OK || answer["details"]["retry"] == true,
            "{status} {answer}"
        );
        self.figures.downloads += 1;
    }

    // ---- administrators -------------------------------------------------

    /// The portal records a correction more than the lookback ago: the
    /// nightly run cannot see it; an administrator re-runs that day.
    async fn backdate_and_rerun(&mut self, today: NaiveDate) {
        let day = today - chrono::Days::new(self.rng.u64(10..25));
        if day < self.settings.start_date {
            return;
        }
        let listed = self.portal.portal.day(day);
        let Some(record) = listed
            .iter()
            .filter(|r| r.is_passed() && r.defect.is_none())
            .nth(self.rng.usize(..8))
            .cloned()
        else {
            return;
        };
        let mut late = record.clone();
        let more = late.digital_hours.parse::<f64>().unwrap_or(0.0) + 1.0;
        late.digital_hours = format!("{more:.1}");
        late.total_hours = format!(
            "{:.1}",
            more + late.physical_hours.parse::<f64>().unwrap_or(0.0)
        );
        // Until the re-run, WebHR holds what it read.
        self.ledger
            .awaiting_rerun
            .entry(record.record_id.clone())
            .or_insert_with(|| fields_of(&record));
        self.portal.portal.backdate(late, today);
        self.figures.backdated += 1;
        let admin = self.token("A58000000A", "admin");
        for _ in 0..5 {
            let (status, answer, _) = self
                .call(
                    reqwest::Method::POST,
                    "/v1/syncs",
                    &admin,
                    Some(&json!({"from": day.to_string()})),
                    None,
                )
                .await;
            if status == StatusCode::CONFLICT {
                // Another run holds the lease: try again shortly.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
            self.figures.reruns += 1;
            if self.rerun_succeeded(day).await {
                self.ledger.awaiting_rerun.remove(&record.record_id);
                return;
            }
        }
    }

    /// Whether the re-run of `day` just asked for ended succeeded, read
    /// from its log entry once it finished.
    async fn rerun_succeeded(&self, day: NaiveDate) -> bool {
        let since = self.clock.now() - chrono::Duration::seconds(1);
        for _ in 0..400 {
            let entries = log_bodies(&self.direct).await;
            let done = entries.iter().find(|e| {
                e["kind"] == "sync"
                    && e["data_date"] == day.to_string()
                    && e["requested_by"].is_string()
                    && e["started_at"]
                        .as_str()
                        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                        >= Some(since)
                    && e["status"] != "running"
            });
            if let Some(entry) = done {
                return matches!(entry["status"].as_str(), Some("succeeded" | "partial"));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    /// The portal loses a record; an administrator removes it from WebHR.
    async fn erase_and_remove(&mut self, as_of: NaiveDate) {
        let held = self.ledger.portal(
            &self.portal.portal,
            (as_of - chrono::Days::new(40)).max(self.settings.start_date),
            as_of - chrono::Days::new(20),
        );
        let Some((key, _)) = held.into_iter().nth(self.rng.usize(..30)) else {
            return;
        };
        // Found by its key among the days listed.
        let Some(record) = (0..45)
            .filter_map(|back| as_of.checked_sub_days(chrono::Days::new(back)))
            .flat_map(|d| {
                self.portal
                    .portal
                    .day(d)
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .find(|r| key_of(&fields_of(r)) == key)
        else {
            return;
        };
        self.portal.portal.erase(&record.record_id, as_of);
        let admin = self.token("A58000000A", "admin");
        let person = self.person(&key.0, &admin).await;
        let path = self.record_path(&person, &key);
        for _ in 0..5 {
            let (_, _, etag) = self
                .call(reqwest::Method::GET, &path, &admin, None, None)
                .await;
            let (status, answer, _) = self
                .call(
                    reqwest::Method::POST,
                    &format!("{path}/removal"),
                    &admin,
                    Some(&json!({"reason": "入口網已無此筆紀錄"})),
                    etag.as_deref(),
                )
                .await;
            if status.is_success() {
                self.figures.removals += 1;
                return;
            }
            assert!(status.is_server_error(), "{status} {answer}");
        }
        panic!("the removal never went through");
    }

    // ---- the oracle -----------------------------------------------------

    /// The table against the ledger, item by item and field by field, and
    /// the log's rules, after the night of `night`.
    async fn check(&mut self, night: NaiveDate) {
        self.figures.checks += 1;
        let as_of = night - chrono::Days::new(1);
        let want = self
            .ledger
            .expected(&self.portal.portal, self.settings.start_date, as_of);
        let got = table(&self.direct).await;
        let mut mismatches = Vec::new();
        for (key, held) in &want {
            match got.get(key) {
                None => {
                    self.figures.lost += 1;
                    mismatches.push(format!("lost {:?} ({:?})", mask(key), held.writer));
                }
                Some(have) if have != held => {
                    let differ: Vec<_> = COMPARED
                        .iter()
                        .filter(|f| have.fields[*f] != held.fields[*f])
                        .map(|f| format!("{f}: {} ≠ {}", have.fields[f], held.fields[f]))
                        .collect();
                    mismatches.push(format!(
                        "{:?}: {differ:?}, locked {} ≠ {}, {:?} ≠ {:?}",
                        mask(key),
                        have.locked,
                        held.locked,
                        have.writer,
                        held.writer
                    ));
                }
                Some(_) => {}
            }
        }
        for key in got.keys().filter(|k| !want.contains_key(*k)) {
            self.figures.duplicated += 1;
            mismatches.push(format!("extra {:?} ({:?})", mask(key), got[key].writer));
        }
        self.figures.mismatches += mismatches.len() as u64;
        self.figures.records = got.len() as u64;
        assert!(
            mismatches.is_empty(),
            "after the night of {night} (seed {}): {} mismatches:\n{}",
            self.scale.seed,
            mismatches.len(),
            mismatches[..mismatches.len().min(20)].join("\n")
        );

        // Caught up by itself: the watermark at yesterday, nothing running.
        let watermark = self.direct.watermark().await.expect("watermark");
        if watermark != Some(as_of) {
            self.figures.operator_actions += 1;
        }
        assert_eq!(
            watermark,
            Some(as_of),
            "caught up after the night of {night}"
        );
        let entries = log_bodies(&self.direct).await;
        let mut done_days = BTreeSet::new();
        for entry in &entries {
            assert_ne!(
                entry["status"], "running",
                "left running: {}",
                entry["log_id"]
            );
            match entry["kind"].as_str() {
                Some("sync") => {
                    let rule = |c: &Value| {
                        let n = |f: &str| c[f].as_u64().unwrap_or(0);
                        n("fetched")
                            == [
                                "inserted",
                                "updated",
                                "replaced_staff",
                                "unchanged",
                                "withdrawn",
                                "skipped",
                                "failed",
                            ]
                            .iter()
                            .map(|f| n(f))
                            .sum::<u64>()
                    };
                    if entry["status"] != "failed" {
                        assert!(rule(&entry["counts"]), "{entry}");
                        for counts in entry["agency_counts"].as_object().into_iter().flatten() {
                            assert!(rule(counts.1), "{}: {entry}", counts.0);
                        }
                        done_days
                            .insert(entry["data_date"].as_str().unwrap_or_default().to_string());
                    } else {
                        assert!(
                            entry["error"]["code"].is_string(),
                            "a failed day says why: {entry}"
                        );
                    }
                    for failure in entry["failures"].as_array().into_iter().flatten() {
                        assert!(
                            failure["code"].is_string() && failure["message"].is_string(),
                            "{failure}"
                        );
                    }
                }
                Some("csv_import") => {
                    let c = &entry["counts"];
                    let n = |f: &str| c[f].as_u64().unwrap_or(0);
                    let reasons: u64 = entry["reasons"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r.1.as_u64())
                        .sum();
                    assert_eq!(
                        n("rejected"),
                        reasons,
                        "every refused row has a reason: {entry}"
                    );
                    if entry["status"] != "failed" {
                        assert_eq!(
                            n("rows"),
                            n("inserted")
                                + n("updated")
                                + n("replaced_staff")
                                + n("unchanged")
                                + n("rejected"),
                            "{entry}"
                        );
                    }
                }
                _ => {}
            }
        }
        for day in self
            .settings
            .start_date
            .iter_days()
            .take_while(|d| *d <= as_of)
        {
            assert!(
                done_days.contains(&day.to_string()),
                "{day}: no finished entry"
            );
        }
    }
}

fn mask(key: &Key) -> (String, String, u32, String) {
    (
        learning_core::national_id::mask_raw_id(&key.0),
        key.1.clone(),
        key.2,
        key.3.clone(),
    )
}

/// A record as the API takes it: its fields as text.
fn wire_body(record: &WireRecord) -> Value {
    let mut body = serde_json::to_value(record).expect("a record");
    let object = body.as_object_mut().expect("an object");
    object.remove("record_id");
    object.insert("status".into(), json!("passed"));
    for value in object.values_mut() {
        if value.is_number() {
            *value = json!(value.to_string());
        }
    }
    body
}

/// Every log entry, read raw (the entry's JSON as stored).
async fn log_bodies(store: &Store) -> Vec<Value> {
    all_items(store)
        .await
        .into_iter()
        .filter(|item| {
            item.get("sk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|sk| sk == "LOG")
        })
        .filter_map(|item| {
            let body = item.get("body")?.as_s().ok()?;
            let mut value: Value = serde_json::from_str(body).ok()?;
            value["kind"] = json!(item.get("kind")?.as_s().ok()?);
            Some(value)
        })
        .collect()
}

async fn log_body(store: &Store, log_id: &str) -> Option<Value> {
    log_bodies(store)
        .await
        .into_iter()
        .find(|e| e["log_id"] == log_id)
}

/// The night's weather: at the portal, at DynamoDB.
fn weather(rng: &mut fastrand::Rng) -> (Faults, DbFaults, bool) {
    let portal = match rng.u8(0..20) {
        0 => Faults {
            outage: true,
            ..Faults::default()
        },
        1 | 2 => Faults {
            server_error_rate: 0.1,
            rate_limit_rate: 0.1,
            retry_after_secs: 0,
            reset_rate: 0.05,
            ..Faults::default()
        },
        3 => Faults {
            hang_rate: 0.1,
            malformed_rate: 0.05,
            ..Faults::default()
        },
        _ => Faults::default(),
    };
    let faulty = portal.outage || portal != Faults::default();
    let db = if rng.f64() < 0.3 {
        DbFaults {
            throttle_rate: 0.03,
            server_error_rate: 0.03,
            unprocessed_rate: 0.1,
            drop_before_rate: 0.01,
            drop_after_rate: 0.01,
        }
    } else {
        DbFaults::default()
    };
    (portal, db, faulty)
}

/// The share of the table's capacity a load used: write units spent over
/// what the table offered meanwhile, its one-second burst included.
fn share(units: f64, took: Duration, wcu: f64) -> f64 {
    units / (wcu * (took.as_secs_f64() + 1.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_of_operation_needs_no_operator() {
    let scale = scale();
    println!("year: {scale:?} (replay with YEAR_SEED={})", scale.seed);
    let started = Instant::now();
    let mut world = World::new(scale).await;
    world.proxy.set_cloud_model(CloudModel {
        per_call: Duration::from_millis(1),
        per_item: Duration::from_micros(20),
        wcu_per_s: scale.wcu,
    });
    let first = world.settings.start_date + chrono::Days::new(1);
    let nights: Vec<NaiveDate> = first.iter_days().take(scale.nights as usize).collect();
    let last = *nights.last().expect("a night");
    let peak = nights
        .iter()
        .copied()
        .filter(|d| d.weekday().num_days_from_monday() < 5)
        .max_by_key(|d| {
            world
                .portal
                .portal
                .generator()
                .count_on(*d - chrono::Days::new(1))
        })
        .expect("a weekday");
    for (index, &night) in nights.iter().enumerate() {
        world.figures.nights += 1;
        // Each month's last night is calm, so the check after it finds
        // what the system made of the month's faults by itself.
        let month_end = night == last || (night + chrono::Days::new(1)).day() == 1;
        // Every month, two nights of outage in a row leave a backlog.
        let outage = matches!(index % 30, 9 | 10);
        let (portal_faults, db_faults, faulty) = if month_end || night == peak {
            (Faults::default(), DbFaults::default(), false)
        } else if outage {
            let outage = Faults {
                outage: true,
                ..Faults::default()
            };
            (outage, DbFaults::default(), true)
        } else {
            weather(&mut world.rng)
        };
        if faulty {
            world.figures.portal_fault_nights += 1;
        }
        let behind =
            world.direct.watermark().await.expect("watermark") < Some(night - chrono::Days::new(2));
        world.clock.set(night, 1, 30);
        world.portal.portal.set_as_of(night - chrono::Days::new(1));
        world.portal.portal.set_faults(portal_faults);
        world.proxy.set_faults(db_faults);
        // A night after a bad one has days to catch up: some of those
        // runs get too little time and continue in a new invocation.
        let deadline = if behind && world.rng.f64() < 0.7 {
            Duration::from_millis(world.rng.u64(520..640))
        } else {
            Duration::from_secs(600)
        };
        let twice = world.rng.f64() < 0.1;

        if night == peak {
            let (before, _) = world.proxy.cloud_usage();
            let at = Instant::now();
            world.night(night, Duration::from_secs(600), false).await;
            let (after, _) = world.proxy.cloud_usage();
            world.figures.sync_capacity_share = share(after - before, at.elapsed(), scale.wcu);
        } else if world.rng.f64() < 0.1 {
            // A download racing the night's run.
            let today = night;
            let agency = portal_sim::data::agency(0).0;
            let token = world.token(&agency, "staff");
            let body = json!({"from": (today - chrono::Days::new(6)).max(Settings::default().start_date).to_string(), "to": today.to_string()});
            let http = world.http.clone();
            let url = format!("{}/v1/downloads", world.api_url);
            let sync = world.night(night, deadline, twice);
            let download = async move {
                http.post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status())
            };
            let (_, status) = tokio::join!(sync, download);
            let status = status.expect("the API answers");
            assert!(
                status == StatusCode::OK || status.is_server_error(),
                "{status}"
            );
            world.figures.downloads += 1;
        } else {
            world.night(night, deadline, twice).await;
        }
        if month_end {
            world.check(night).await;
        }
        if night == last {
            break;
        }

        // The working day.
        world.clock.set(night, 10, 0);
        world.portal.portal.set_as_of(night);
        world.portal.portal.set_faults(Faults::default());
        world.proxy.set_faults(DbFaults {
            throttle_rate: 0.01,
            server_error_rate: 0.01,
            unprocessed_rate: 0.05,
            ..DbFaults::default()
        });
        let weekday = night.weekday().num_days_from_monday() < 5;
        if !weekday {
            continue;
        }
        let uploads = scale.uploads * if night.month() == 12 { 2.0 } else { 1.0 };
        let mut n = uploads.floor() as u32 + u32::from(world.rng.f64() < uploads.fract());
        while n > 0 {
            n -= 1;
            world.upload().await;
        }
        if world.rng.f64() < 0.6 {
            world.staff(night).await;
        }
        if world.rng.f64() < 0.2 {
            world.try_locked(night).await;
        }
        if world.rng.f64() < 0.3 {
            world.download(night).await;
        }
        if world.rng.f64() < 0.15 {
            world.backdate_and_rerun(night).await;
        }
        if world.rng.f64() < 0.1 {
            world.erase_and_remove(night).await;
        }
        if world.rng.f64() < 0.1 {
            // A correction inside the lookback: found by the nights alone.
            let day = night - chrono::Days::new(world.rng.u64(1..6));
            if let Some(mut late) = world
                .portal
                .portal
                .day(day)
                .iter()
                .find(|r| r.is_passed() && r.defect.is_none())
                .cloned()
            {
                late.course_name.push_str("（更正）");
                world.portal.portal.backdate(late, night);
                world.figures.backdated += 1;
            }
        }
    }

    // The largest upload alone against the capacity, for its share.
    world.proxy.set_faults(DbFaults::default());
    let agency = world.agency();
    let rows = world.fresh_rows(&agency, 2000);
    let mut bytes = Vec::new();
    portal_sim::csv_file::write_records(&mut bytes, &rows, CsvEncoding::Utf8Bom).expect("a file");
    let (before, _) = world.proxy.cloud_usage();
    let at = Instant::now();
    let entry = world
        .import(&format!("uploads/{}/capacity.csv", agency.0), bytes)
        .await;
    let (after, _) = world.proxy.cloud_usage();
    assert_eq!(entry["counts"]["inserted"], 2000, "{entry}");
    world.figures.csv_capacity_share = share(after - before, at.elapsed(), scale.wcu);

    let f = &world.figures;
    let injected: u64 = world.proxy.injected().values().sum();
    println!(
        "summary: nights={} agencies={} records={} uploads={} rows={} downloads={} staff_edits={} refused_edits={} portal_fault_nights={} ddb_faults={injected} kills={} duplicate_events={} continuations={} sync_continuations={} sync_out_of_time={} double_schedules={} reruns={} removals={} backdated={} checks={} mismatches={} lost={} duplicated={} operator_actions={} sync_capacity_share={:.2} csv_capacity_share={:.2} wall_s={:.0} peak_mib={:.0} seed={}",
        f.nights,
        scale.agencies,
        f.records,
        f.uploads,
        f.rows,
        f.downloads,
        f.staff_edits,
        f.refused_edits,
        f.portal_fault_nights,
        f.kills,
        f.duplicate_events,
        f.continuations,
        f.sync_continuations,
        f.sync_out_of_time,
        f.double_schedules,
        f.reruns,
        f.removals,
        f.backdated,
        f.checks,
        f.mismatches,
        f.lost,
        f.duplicated,
        f.operator_actions,
        f.sync_capacity_share,
        f.csv_capacity_share,
        started.elapsed().as_secs_f64(),
        bench::peak_mib(),
        scale.seed,
    );
}
