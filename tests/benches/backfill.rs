//! Benchmark: a first backfill, days from the start date through
//! yesterday, from a portal that answers every page after 100 ms (a distant
//! service, not a slow machine), into the embedded DynamoDB. The same days
//! one after another (`with_prefetch(1)`, the sync before fetching ahead)
//! and with [`daily_sync::PREFETCH_DAYS`] in flight, in the same run, each
//! on a fresh table. Prints figures; asserts nothing.
//!
//! ```text
//! cargo bench -p system-tests --bench backfill [-- DAYS [LATENCY_MS]]   # default 3650, 100
//! ```

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use daily_sync::{PREFETCH_DAYS, RunRequest};
use learning_core::Settings;
use learning_core::import_log::Trigger;
use portal_sim::{DataConfig, Faults};
use system_tests::{fresh_store, simulator, sync_on};

/// Backfills `days` days with `prefetch` fetched ahead; days per second.
async fn backfill(
    portal: &portal_sim::RunningPortal,
    settings: &Settings,
    today: NaiveDate,
    prefetch: usize,
) -> (f64, u64) {
    let store = fresh_store().await;
    let sync = sync_on(portal, &store, settings, today).with_prefetch(prefetch);
    let request = RunRequest {
        run_id: format!("backfill-{prefetch}"),
        trigger: Trigger::Manual,
        deadline: tokio::time::Instant::now() + Duration::from_secs(24 * 3600),
        rerun: None,
    };
    let started = Instant::now();
    let summary = sync
        .run(&request, |_, _| {})
        .await
        .expect("the backfill completes");
    let secs = started.elapsed().as_secs_f64();
    let days = summary.days.len() as u64;
    let records: u64 = summary.days.iter().map(|d| d.counts.fetched).sum();
    println!(
        "  {:<34} {days:>5} days  {records:>6} records  {secs:>7.1} s  {:>6.1} days/s",
        format!("{prefetch} day(s) in flight"),
        days as f64 / secs
    );
    (days as f64 / secs, days)
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<u64>().ok());
    let days = args.next().unwrap_or(3650);
    let latency_ms = args.next().unwrap_or(100);
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(bench(days, latency_ms));
}

async fn bench(days: u64, latency_ms: u64) {
    let start = NaiveDate::from_ymd_opt(2016, 1, 1).expect("a day");
    let today = start + chrono::Days::new(days);
    let settings = Settings {
        start_date: start,
        csv_cutoff: start.pred_opt().expect("a day"),
        ..Settings::default()
    };
    // Few records a day: one page each, so the latency is what is measured.
    let portal = simulator(
        DataConfig {
            per_day: 4,
            ..DataConfig::default()
        },
        today.pred_opt().expect("a day"),
    )
    .await;
    portal.portal.set_faults(Faults {
        latency_ms,
        ..Faults::default()
    });
    println!(
        "backfill of {days} days from the simulator, {latency_ms} ms per page, into the embedded DynamoDB; {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let (serial, _) = backfill(&portal, &settings, today, 1).await;
    let (ahead, _) = backfill(&portal, &settings, today, PREFETCH_DAYS).await;
    println!(
        "  fetching ahead / one after another: {:.2}×",
        ahead / serial
    );
    println!(
        "summary: days={days} latency_ms={latency_ms} serial_days_per_s={serial:.2} prefetch_days_per_s={ahead:.2} prefetch={PREFETCH_DAYS} speedup={:.2}",
        ahead / serial
    );
}
