//! Benchmark: sync one day of 50,000 records from the simulator into the
//! embedded DynamoDB, against a raw BatchWriteItem load of the same items
//! into the same engine in the same run. Prints figures; asserts nothing.
//!
//! The engine runs in child processes (this binary with `--engine`), a new
//! one for each load so that all start alike, and apart from the sync, as
//! DynamoDB would be, so the peak memory printed is the sync's own.
//!
//! ```text
//! cargo bench -p system-tests --bench sync_day [-- RECORDS]
//! ```

use std::io::BufRead;
use std::time::{Duration, Instant};

use chrono::Utc;
use dynamodb_store::Store;
use dynamodb_store::items::{Item, n, record_attributes, s};
use learning_core::Source;
use learning_core::import_log::Trigger;
use portal_sim::DataConfig;
use system_tests::bench::{peak_mib, raw_batch_write};
use system_tests::{day, portal_client, simulator};

/// Child mode: serve an in-memory engine, print its URL, stop when the
/// parent closes our stdin.
async fn serve_engine() {
    let engine = local_stack::start_dynamodb(local_stack::DynamoStorage::Memory, 0)
        .await
        .expect("engine starts");
    println!("{}", engine.url());
    let mut line = String::new();
    let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await;
}

/// A store on a brand-new engine process: every load starts from the same
/// empty state (the engine slows as it fills, and dropping a table does not
/// give that back).
struct Engine {
    child: std::process::Child,
    store: Store,
}

impl Engine {
    async fn start() -> Engine {
        let (child, url) = spawn_engine();
        let client = local_stack::dynamodb_client(&url);
        dynamodb_store::table::create(&client, "bench")
            .await
            .expect("table");
        Engine {
            child,
            store: Store::new(client, "bench"),
        }
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn spawn_engine() -> (std::process::Child, String) {
    let mut child = std::process::Command::new(std::env::current_exe().expect("own path"))
        .arg("--engine")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("engine process");
    let mut url = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut url)
        .expect("engine url");
    (child, url.trim().to_string())
}

/// Loads `items` with plain BatchWriteItem into a fresh engine; items/s.
async fn raw_load(items: &[Item]) -> f64 {
    let engine = Engine::start().await;
    let started = Instant::now();
    let rate = raw_batch_write(engine.store.client(), engine.store.table(), items).await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "raw BatchWriteItem: {} items in {secs:.2} s = {rate:.0} items/s",
        items.len()
    );
    rate
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    if std::env::args().any(|a| a == "--engine") {
        runtime.block_on(serve_engine());
        return;
    }
    let per_day = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50_000);
    runtime.block_on(bench(per_day));
}

async fn bench(per_day: u32) {
    // A Wednesday far enough from the start that corrections and
    // withdrawals from earlier days arrive too.
    let the_day = day("2016-03-02");
    let portal = simulator(
        DataConfig {
            per_day,
            ..DataConfig::default()
        },
        the_day,
    )
    .await;
    let client = portal_client(&portal);
    client
        .changes_on(the_day)
        .await
        .expect("the day, once to warm the simulator");
    println!(
        "peak memory with the simulator's day generated: {:.1} MiB",
        peak_mib()
    );

    // The sync: HTTP pages from the simulator, validation, read-compare,
    // batched writes, withdrawals, the import log.
    let engine = Engine::start().await;
    let sync = daily_sync::DailySync::new(
        client.clone(),
        engine.store.clone(),
        learning_core::Settings::default(),
        Duration::from_secs(5),
    );
    let request = daily_sync::RunRequest {
        run_id: "bench".into(),
        trigger: Trigger::Manual,
        deadline: tokio::time::Instant::now() + Duration::from_secs(3600),
        rerun: None,
    };
    let started = Instant::now();
    let entry = sync.sync_day(&request, the_day, false).await.expect("sync");
    let secs = started.elapsed().as_secs_f64();
    let written = entry.counts.inserted + entry.counts.updated;
    let sync_rate = entry.counts.fetched as f64 / secs;
    println!(
        "sync one day: {} fetched, {written} written in {secs:.2} s = {sync_rate:.0} records/s ({:?})",
        entry.counts.fetched, entry.status
    );
    println!(
        "peak memory after the sync (simulator and sync): {:.1} MiB",
        peak_mib()
    );

    let started = Instant::now();
    let again = sync
        .sync_day(&request, the_day, false)
        .await
        .expect("re-run");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "re-run of the same day (all unchanged, no writes): {} records in {secs:.2} s = {:.0} records/s",
        again.counts.unchanged,
        again.counts.fetched as f64 / secs
    );
    engine.stop();

    let started = Instant::now();
    let raw = client.changes_on(the_day).await.expect("the day");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fetch alone: {} records in {secs:.2} s = {:.0} records/s",
        raw.len(),
        raw.len() as f64 / secs
    );

    // Baseline: the passed records as items, straight BatchWriteItem.
    let now = Utc::now().to_rfc3339();
    let items: Vec<Item> = raw
        .iter()
        .filter_map(|r| {
            let fetched = r.as_ref().ok()?;
            Some((fetched.id.clone(), fetched.raw.validate().ok()?))
        })
        .filter(|(_, r)| r.status.is_passed())
        .map(|(id, r)| {
            let mut item = record_attributes(&r);
            item.insert("portal_id".into(), s(id.as_str()));
            item.insert("source".into(), s(Source::AutoImport.as_str()));
            item.insert("version".into(), n(1));
            item.insert("created_at".into(), s(now.clone()));
            item
        })
        .collect();
    drop(raw);
    let mut rates = Vec::new();
    for _ in 0..2 {
        rates.push(raw_load(&items).await);
    }
    let raw_rate = rates.iter().sum::<f64>() / rates.len() as f64;
    println!(
        "ratio sync / raw write rate: {:.2} (target ≥ 0.5)",
        sync_rate / raw_rate
    );
}
