//! Benchmark: warm latency of the HTTP API under load — the import-log
//! query (the default last month) and one record read — from a load
//! generator on 127.0.0.1 against the API served as the local stack serves
//! it (the real router, development tokens, the embedded DynamoDB).
//! Baseline in the same run: the same two reads made on the store
//! directly, without HTTP, tokens or JSON. Prints figures; asserts nothing.
//!
//! ```text
//! cargo bench -p system-tests --bench api_latency [-- REQUESTS [CONCURRENCY]]
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use api::{AppState, Authentication};
use chrono::{NaiveDate, TimeZone};
use futures::{StreamExt, stream};
use learning_core::{NationalId, NaturalKey, Settings};
use portal_sim::DataConfig;
use system_tests::{fresh_store, portal_client, simulator, sync_on};

fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .filter(|a| !a.starts_with('-'))
        .nth(index)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Percentiles of `samples` (sorted here), in milliseconds.
struct Figures {
    count: usize,
    per_sec: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

fn figures(mut samples: Vec<Duration>, wall: Duration) -> Figures {
    samples.sort();
    let at = |q: f64| {
        let index = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[index].as_secs_f64() * 1000.0
    };
    Figures {
        count: samples.len(),
        per_sec: samples.len() as f64 / wall.as_secs_f64(),
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: at(1.0),
    }
}

/// Runs `call(i)` for i in 0..n with `concurrency` in flight; each call's
/// latency.
async fn load<F, Fut>(n: usize, concurrency: usize, call: F) -> Figures
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let started = Instant::now();
    let samples: Vec<Duration> = stream::iter(0..n)
        .map(|i| {
            let call = &call;
            async move {
                let t = Instant::now();
                call(i).await;
                t.elapsed()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    figures(samples, started.elapsed())
}

fn print(name: &str, f: &Figures) {
    println!(
        "  {name:<48} {:>6} req  {:>7.0} req/s  p50 {:>6.2} ms  p90 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
        f.count, f.per_sec, f.p50, f.p90, f.p99, f.max
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let requests = arg(0, 2000);
    let concurrency = arg(1, 8);
    let today = NaiveDate::from_ymd_opt(2026, 3, 15).expect("a date");
    let now = chrono_tz::Asia::Taipei
        .from_local_datetime(&today.and_hms_opt(10, 0, 0).expect("a time"))
        .single()
        .expect("unambiguous")
        .with_timezone(&chrono::Utc);

    // A month of nightly runs: 31 log entries, ~6,000 records.
    let store = fresh_store().await;
    let portal = simulator(
        DataConfig {
            per_day: 200,
            ..DataConfig::default()
        },
        today.pred_opt().expect("a day"),
    )
    .await;
    let settings = Settings {
        start_date: today - chrono::Days::new(31),
        ..Settings::default()
    };
    let sync = Arc::new(sync_on(&portal, &store, &settings, today));
    sync.run(&system_tests::request("seed"), |_, _| {})
        .await
        .expect("seeded");
    let sealer = api::AuditKey::new("bench").sealer();
    let keys: Vec<NaturalKey> = system_tests::stored(&store)
        .await
        .into_keys()
        .map(|(id_no, course_code, term, start_date)| NaturalKey {
            id_no: NationalId::parse(&id_no).expect("stored ids are valid"),
            course_code,
            term,
            start_date: start_date.parse().expect("stored dates are ISO"),
        })
        .collect();
    let first = &system_tests::record_items(&store).await[0];
    let agency = first["org_code"].as_s().expect("an agency").clone();

    let data = std::env::temp_dir().join(format!("webhr-bench-api-{}", std::process::id()));
    let tokens = local_stack::api::dev_tokens(&data).expect("a key");
    let s3_server = local_stack::start_s3(&data.join("s3"), 0, None)
        .await
        .expect("S3");
    let state = AppState {
        store: store.clone(),
        portal: portal_client(&portal),
        bucket: "bench".into(),
        uploads: local_stack::uploads(&s3_server.url(), "bench"),
        audit: api::AuditKey::new("bench"),
        sealer: sealer.clone(),
        download_timeout: std::time::Duration::from_secs(25),
        launcher: local_stack::lambda::sync_launcher(sync.clone(), Default::default()),
        settings: settings.clone(),
        auth: Arc::new(Authentication::Local(tokens.clone())),
        clock: Arc::new(move || now),
    };
    let server = local_stack::serve(api::router(state), 0)
        .await
        .expect("API");
    let staff = local_stack::api::mint(&tokens, "bench", &agency, "staff", 1).expect("a token");
    let admin = local_stack::api::mint(&tokens, "bench", &agency, "admin", 1).expect("a token");
    let http = system_tests::http_client();
    let url = server.url();

    println!(
        "API latency: {} records, {} log entries; {requests} requests per route, {concurrency} in flight; 127.0.0.1, {} cores",
        keys.len(),
        store
            .logs_between(now - chrono::Duration::days(62), now)
            .await
            .expect("log")
            .len(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let logs = |_| {
        let request = http
            .get(format!("{url}/v1/import-logs"))
            .bearer_auth(&staff);
        async move {
            let response = request.send().await.expect("answer");
            assert!(response.status().is_success());
            response.bytes().await.expect("body");
        }
    };
    let record = |i: usize| {
        let key = &keys[i % keys.len()];
        let request = http
            .get(format!(
                "{url}/v1/people/{}/records/{}/{}/{}",
                sealer.person(&key.id_no),
                key.course_code,
                key.term,
                key.start_date
            ))
            .bearer_auth(&admin);
        async move {
            let response = request.send().await.expect("answer");
            assert!(response.status().is_success());
            response.bytes().await.expect("body");
        }
    };
    // Warm up: connections, the engine's caches.
    load(200, concurrency, logs).await;
    load(200, concurrency, record).await;

    let api_logs = load(requests, concurrency, logs).await;
    let api_record = load(requests, concurrency, record).await;
    let month = (now - chrono::Duration::days(31), now);
    let store_logs = load(requests, concurrency, |_| {
        let store = store.clone();
        async move {
            store.logs_between(month.0, month.1).await.expect("log");
        }
    })
    .await;
    let store_record = load(requests, concurrency, |i| {
        let store = store.clone();
        let key = keys[i % keys.len()].clone();
        async move {
            store.get_record(&key).await.expect("record");
        }
    })
    .await;
    // Years of history: 4,000 more entries started in the same month (as
    // a backfill writes them); a page of the log must cost what it did.
    let one_day = |_| {
        let request = http
            .get(format!("{url}/v1/import-logs?from={}", now.date_naive()))
            .bearer_auth(&staff);
        async move {
            let response = request.send().await.expect("answer");
            assert!(response.status().is_success());
            response.bytes().await.expect("body");
        }
    };
    let api_one_day = load(requests, concurrency, one_day).await;
    let backfill: Vec<_> = (0..4000i64)
        .map(|i| {
            let store = store.clone();
            async move {
                let started = now - chrono::Duration::minutes(10 + i * 10);
                let mut entry = learning_core::import_log::SyncLogEntry::start(
                    &format!("backfill{i}"),
                    learning_core::import_log::Trigger::Manual,
                    chrono::NaiveDate::from_ymd_opt(2016, 1, 1).expect("a day")
                        + chrono::Days::new(i as u64),
                    started,
                );
                entry.status = learning_core::import_log::RunStatus::Succeeded;
                store.put_sync_log(&entry).await.expect("an entry");
            }
        })
        .collect();
    futures::stream::iter(backfill)
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    load(200, concurrency, logs).await;
    let api_logs_full = load(requests, concurrency, logs).await;

    print("GET /v1/import-logs (last month)", &api_logs);
    print("GET /v1/import-logs (one day)", &api_one_day);
    print(
        "GET /v1/import-logs (last month, +4,000 entries)",
        &api_logs_full,
    );
    print("GET /v1/people/…/records/… (one)", &api_record);
    print("baseline: Store::logs_between", &store_logs);
    print("baseline: Store::get_record", &store_record);
    println!(
        "  API / store p50: import log {:.2}×, record {:.2}×   peak memory {:.0} MiB (engine, API and load generator in one process)",
        api_logs.p50 / store_logs.p50,
        api_record.p50 / store_record.p50,
        system_tests::bench::peak_mib()
    );
    println!(
        "  a page of the log, 4,000 more entries in the month / as before: {:.2}× at p50; / a one-day range: {:.2}×",
        api_logs_full.p50 / api_logs.p50,
        api_logs_full.p50 / api_one_day.p50
    );
    println!(
        "summary: log_p50_ms={:.2} log_4000_p50_ms={:.2} log_one_day_p50_ms={:.2} log_growth={:.2} record_p50_ms={:.2}",
        api_logs.p50,
        api_logs_full.p50,
        api_one_day.p50,
        api_logs_full.p50 / api_logs.p50,
        api_record.p50
    );
    let _ = std::fs::remove_dir_all(&data);
}
