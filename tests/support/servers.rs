//! The engines and servers on 127.0.0.1 the tests run on: one DynamoDB
//! engine per test binary, a fresh table per test, the portal simulator
//! and its client, a sync with its clock.

use super::*;

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
