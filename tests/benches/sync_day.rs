//! Benchmark: sync one day of 50,000 records from the simulator into the
//! embedded DynamoDB, against a raw BatchWriteItem load of the same items
//! into the same engine in the same run. Prints figures; asserts nothing.
//!
//! ```text
//! cargo bench -p system-tests --bench sync_day [-- RECORDS]
//! ```

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chrono::Utc;
use futures::{StreamExt, TryStreamExt, stream};
use learning_core::Source;
use learning_core::import_log::Trigger;
use portal_sim::DataConfig;
use system_tests::{day, fresh_store, portal_client, simulator};

/// Peak resident memory of this process so far (VmHWM), in MiB.
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    let per_day: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000);
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
    let raw = portal_client(&portal)
        .changes_on(the_day)
        .await
        .expect("the day");
    let records: Vec<_> = raw
        .iter()
        .filter_map(|r| r.validate().ok())
        .filter(|r| r.status.is_passed())
        .collect();
    println!(
        "day {the_day}: {} records from the simulator, {} passed",
        raw.len(),
        records.len()
    );
    println!("peak memory before loading: {:.1} MiB", peak_mib());

    // Baseline: the same items, straight BatchWriteItem, 8 calls in flight.
    let baseline = fresh_store().await;
    let now = Utc::now().to_rfc3339();
    let items: Vec<_> = records
        .iter()
        .map(|r| {
            let mut item = dynamodb_store::items::record_attributes(r);
            item.insert(
                "source".into(),
                dynamodb_store::items::s(Source::AutoImport.as_str()),
            );
            item.insert("version".into(), dynamodb_store::items::n(1));
            item.insert("created_at".into(), dynamodb_store::items::s(now.clone()));
            item
        })
        .collect();
    let started = Instant::now();
    let batches: Vec<Vec<WriteRequest>> = items
        .chunks(25)
        .map(|chunk| {
            chunk
                .iter()
                .map(|item| {
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item.clone()))
                                .build()
                                .expect("put"),
                        )
                        .build()
                })
                .collect()
        })
        .collect();
    stream::iter(batches)
        .map(|batch| {
            let client = baseline.client().clone();
            let table = baseline.table().to_string();
            async move {
                let mut pending = batch;
                while !pending.is_empty() {
                    let out = client
                        .batch_write_item()
                        .request_items(&table, pending)
                        .send()
                        .await?;
                    pending = out
                        .unprocessed_items
                        .unwrap_or_default()
                        .remove(&table)
                        .unwrap_or_default();
                }
                Ok::<_, aws_sdk_dynamodb::error::SdkError<_, _>>(())
            }
        })
        .buffer_unordered(8)
        .try_collect::<()>()
        .await
        .expect("baseline load");
    let raw_elapsed = started.elapsed();
    let raw_rate = items.len() as f64 / raw_elapsed.as_secs_f64();
    println!(
        "raw BatchWriteItem: {} items in {:.2} s = {:.0} items/s",
        items.len(),
        raw_elapsed.as_secs_f64(),
        raw_rate
    );
    drop(items);

    // The sync: HTTP pages from the simulator, validation, read-compare,
    // batched writes, withdrawals, the import log.
    let store = fresh_store().await;
    let sync = daily_sync::DailySync::new(
        portal_client(&portal),
        store.clone(),
        learning_core::Settings::default(),
        Duration::from_secs(5),
    );
    let request = daily_sync::RunRequest {
        run_id: "bench".into(),
        trigger: Trigger::Manual,
        deadline: tokio::time::Instant::now() + Duration::from_secs(3600),
    };
    let started = Instant::now();
    let entry = sync.sync_day(&request, the_day).await.expect("sync");
    let sync_elapsed = started.elapsed();
    let written = entry.counts.inserted + entry.counts.updated;
    let sync_rate = entry.counts.fetched as f64 / sync_elapsed.as_secs_f64();
    println!(
        "sync one day: {} fetched, {} written in {:.2} s = {:.0} records/s ({:?})",
        entry.counts.fetched,
        written,
        sync_elapsed.as_secs_f64(),
        sync_rate,
        entry.status
    );
    println!(
        "ratio sync / raw write rate: {:.2} (target ≥ 0.5)",
        sync_rate / raw_rate
    );

    let started = Instant::now();
    let again = sync.sync_day(&request, the_day).await.expect("re-run");
    println!(
        "re-run of the same day (all unchanged, no writes): {} records in {:.2} s = {:.0} records/s",
        again.counts.unchanged,
        started.elapsed().as_secs_f64(),
        again.counts.fetched as f64 / started.elapsed().as_secs_f64()
    );
    println!(
        "peak memory of the whole process (simulator, engine, sync): {:.1} MiB",
        peak_mib()
    );
}
