//! Reliability under faults, proven against the simulator's truth: many
//! nights of a misbehaving portal, a misbehaving DynamoDB, a killed import,
//! duplicated events and races. Each test prints what it tried as one
//! `FAULTS |` line (the table in docs/design.md is made of them):
//!
//! ```sh
//! cargo nextest run -p system-tests --test reliability --success-output immediate
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use daily_sync::{Outcome, SyncError};
use learning_core::import_log::{RunStatus, SyncLogEntry};
use portal_client::PortalClient;
use portal_sim::{DataConfig, Faults};
use system_tests::DbFaults;
use system_tests::*;

/// One row of the table in docs/design.md.
/// How many times longer than in CI the fault and kill tests run:
/// `SOAK_SCALE` (scripts/soak.sh sets it), 1 by default.
fn soak() -> u32 {
    std::env::var("SOAK_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(1)
}

fn report(what: &str, tried: &str, lost: usize, duplicated: usize) {
    println!("FAULTS | {what} | {tried} | lost {lost} | duplicated {duplicated}");
}

fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

/// Items per natural key beyond the first: a record written twice under
/// two different table keys would show here, not in the key → hours map.
async fn duplicates(store: &dynamodb_store::Store) -> usize {
    record_items(store).await.len() - stored(store).await.len()
}

/// Records the truth holds that the table lacks or holds differently.
fn lost(got: &BTreeMap<Key, String>, want: &BTreeMap<Key, String>) -> usize {
    want.iter().filter(|(k, v)| got.get(*k) != Some(*v)).count()
}

/// A night's weather at the portal, drawn per night from a seeded generator.
fn night_faults(rng: &mut fastrand::Rng) -> (&'static str, Faults) {
    let quiet = Faults::default();
    match rng.u8(0..8) {
        0 => ("calm", quiet),
        1 => (
            "5xx burst",
            Faults {
                fail_next: rng.u32(1..8),
                server_error_rate: 0.1,
                ..quiet
            },
        ),
        2 => (
            "429 + Retry-After",
            Faults {
                rate_limit_rate: 0.3,
                retry_after_secs: 1,
                ..quiet
            },
        ),
        3 => (
            "timeouts",
            Faults {
                hang_rate: 0.2,
                ..quiet
            },
        ),
        4 => (
            "resets",
            Faults {
                reset_rate: 0.25,
                ..quiet
            },
        ),
        5 => (
            "malformed pages",
            Faults {
                malformed_rate: 0.1,
                truncated_rate: 0.1,
                ..quiet
            },
        ),
        6 => (
            "outage",
            Faults {
                outage: true,
                ..quiet
            },
        ),
        _ => (
            "everything a little",
            Faults {
                server_error_rate: 0.05,
                rate_limit_rate: 0.05,
                retry_after_secs: 1,
                malformed_rate: 0.03,
                truncated_rate: 0.03,
                hang_rate: 0.03,
                reset_rate: 0.05,
                ..quiet
            },
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_nights_of_portal_faults_lose_and_duplicate_nothing() {
    let nights: u32 = 32 * soak();
    let store = fresh_store().await;
    let settings = settings();
    let start = settings.start_date;
    let first_night = start.succ_opt().unwrap();
    let portal = simulator(
        DataConfig {
            per_day: 30,
            ..DataConfig::default()
        },
        start,
    )
    .await;
    // Small pages, so a fault can strike halfway through a day.
    let mut config = portal_config(&portal);
    config.page_size = 10;
    config.timeout = Duration::from_millis(300);
    let mut rng = fastrand::Rng::with_seed(20261127);

    let mut failed_nights = Vec::new();
    let mut weather = BTreeMap::<&str, u32>::new();
    for night in days(
        first_night,
        first_night + chrono::Days::new(u64::from(nights) - 1),
    ) {
        let (name, faults) = night_faults(&mut rng);
        *weather.entry(name).or_default() += 1;
        portal.portal.set_as_of(night.pred_opt().unwrap());
        portal.portal.set_faults(faults);
        let client = PortalClient::new(config.clone()).unwrap();
        let run_id = format!("night-{night}");
        match sync_with(client, &store, &settings, night)
            .run(&request(&run_id), |_, _| {})
            .await
        {
            Ok(summary) => assert_eq!(summary.outcome, Outcome::Completed, "{night} ({name})"),
            Err(SyncError::DayFailed { date, .. }) => failed_nights.push((run_id, date)),
            Err(e) => panic!("{night} ({name}): {e}"),
        }
    }

    // Every failed night left its failed day in the log, with a reason.
    for (run_id, date) in &failed_nights {
        let entry = store
            .get_sync_log(&SyncLogEntry::log_id(*date, run_id))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{run_id}: the failed day {date} is logged"));
        assert_eq!(entry.status, RunStatus::Failed);
        assert!(entry.error.is_some(), "{run_id}: {date} says why");
    }

    // A calm night catches every missed day up.
    let last = first_night + chrono::Days::new(u64::from(nights));
    portal.portal.set_as_of(last.pred_opt().unwrap());
    portal.portal.set_faults(Faults::default());
    let caught_up = sync_with(PortalClient::new(config).unwrap(), &store, &settings, last)
        .run(&request("calm-night"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(caught_up.outcome, Outcome::Completed);
    assert_eq!(store.watermark().await.unwrap(), last.pred_opt());

    let truth = truth(
        &portal.portal,
        days(start, last.pred_opt().unwrap()),
        last.pred_opt().unwrap(),
    );
    let held = stored(&store).await;
    assert!(truth.len() > 500, "enough records: {}", truth.len());
    assert_same_records(&held, &truth);
    assert_eq!(duplicates(&store).await, 0);

    // Every day of the range ended with a succeeded entry.
    let window = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
    // (The nights' runs start on the sync's clock: the log spans them all,
    // however many nights SOAK_SCALE makes.)
    let log = store
        .sync_logs_between(
            window(2015, 12, 1),
            window(last.year(), last.month(), last.day()) + chrono::Duration::days(1),
        )
        .await
        .unwrap();
    for day in days(start, last.pred_opt().unwrap()) {
        assert!(
            log.iter()
                .any(|e| e.data_date == day && e.status == RunStatus::Succeeded),
            "{day} never succeeded"
        );
    }

    let injected = portal.portal.stats.faults_by_kind();
    let total: u64 = injected.values().sum();
    assert!(total >= 30, "faults were injected: {injected:?}");
    for kind in [
        "server_error",
        "rate_limited",
        "timeout",
        "reset",
        "malformed",
        "truncated",
    ] {
        assert!(
            injected.contains_key(kind),
            "no {kind} fault was tried: {injected:?}"
        );
    }
    println!("nights: {weather:?}; failed nights {}", failed_nights.len());
    report(
        "portal",
        &format!(
            "{} nights, {total} faulty answers {injected:?}, {} nights failed a day, caught up the next calm night; {} records",
            nights + 1,
            failed_nights.len(),
            truth.len()
        ),
        lost(&held, &truth),
        duplicates(&store).await,
    );
}

/// DynamoDB misbehaving on every kind of call the functions make.
fn db_weather() -> DbFaults {
    DbFaults {
        throttle_rate: 0.08,
        server_error_rate: 0.08,
        unprocessed_rate: 0.3,
        drop_before_rate: 0.04,
        drop_after_rate: 0.04,
    }
}

fn quick_retries(store: dynamodb_store::Store) -> dynamodb_store::Store {
    store.with_retry(dynamodb_store::BatchRetry {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(20),
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_faults_under_the_nightly_sync_lose_and_duplicate_nothing() {
    let nights = 15 * u64::from(soak());
    let direct = fresh_store().await;
    let proxy = fault_proxy().await;
    let store = quick_retries(proxy.store(&direct));
    let settings = settings();
    let start = settings.start_date;
    let portal = simulator(
        DataConfig {
            per_day: 100,
            ..DataConfig::default()
        },
        start,
    )
    .await;

    proxy.set_faults(db_weather());
    let mut failed = Vec::new();
    let first_night = start.succ_opt().unwrap();
    for night in days(first_night, first_night + chrono::Days::new(nights - 1)) {
        portal.portal.set_as_of(night.pred_opt().unwrap());
        let run = sync_on(&portal, &store, &settings, night)
            .run(&request(&format!("night-{night}")), |_, _| {})
            .await;
        match run {
            Ok(summary) if summary.outcome == Outcome::Completed => {}
            Ok(summary) => failed.push(format!("{night}: {:?}", summary.outcome)),
            Err(e) => failed.push(format!("{night}: {e}")),
        }
    }

    proxy.set_faults(DbFaults::default());
    let last = first_night + chrono::Days::new(nights);
    portal.portal.set_as_of(last.pred_opt().unwrap());
    let calm = sync_on(&portal, &store, &settings, last)
        .run(&request("calm-night"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(calm.outcome, Outcome::Completed);
    let truth = truth(
        &portal.portal,
        days(start, last.pred_opt().unwrap()),
        last.pred_opt().unwrap(),
    );
    let held = stored(&direct).await;
    assert_same_records(&held, &truth);
    assert_eq!(duplicates(&direct).await, 0);

    let injected = proxy.injected();
    let total: u64 = injected.values().sum();
    assert!(total >= 30, "faults were injected: {injected:?}");
    println!("failed nights: {failed:?}");
    report(
        "DynamoDB, nightly sync",
        &format!(
            "{} nights, {total} faulty calls {injected:?}, {} nights failed; {} records",
            nights + 1,
            failed.len(),
            truth.len()
        ),
        lost(&held, &truth),
        duplicates(&direct).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_faults_under_an_import_finish_it_or_fail_it_loudly_never_half_counted() {
    let stack = csv_stack(
        local_stack::lambda::Invocations::default(),
        Duration::from_secs(5),
    )
    .await;
    let proxy = fault_proxy().await;
    let importer = csv_import::Importer::new(
        quick_retries(proxy.store(&stack.store)),
        stack.s3.clone(),
        &import_config(&stack.store, Duration::from_secs(5)),
        audit_key(),
    );
    let bytes = generated_csv(3000, portal_sim::csv_file::CsvEncoding::Big5, 11);
    let want = expected_records(&bytes);
    // Not .csv: no event is raised; this test delivers it as Lambda would.
    let file = stack
        .upload(&format!("uploads/{AGENCY}/faults.txt"), bytes)
        .await;
    let event = stack.event_for(&file);

    // The first invocation meets a DynamoDB that fails most calls, so the
    // import fails halfway; its retries meet the usual weather.
    proxy.set_faults(DbFaults {
        throttle_rate: 0.3,
        server_error_rate: 0.2,
        drop_before_rate: 0.1,
        drop_after_rate: 0.1,
        ..DbFaults::default()
    });
    let mut attempts = Vec::new();
    let entry = loop {
        // Lambda's retries of one asynchronous event keep its request id.
        let handled = importer
            .handle(
                &event,
                "request-1",
                tokio::time::Instant::now() + Duration::from_secs(60),
            )
            .await;
        let entry = stack.store.get_csv_log(&file.log_id()).await.unwrap();
        // Whatever happened, the log never counts a record the table does
        // not hold. Records written past the checkpoint are counted once,
        // when the import replays them (the finished counts below).
        if let Some(entry) = &entry {
            assert!(
                entry.counts.inserted as usize <= stored(&stack.store).await.len(),
                "attempt {}: {:?}",
                attempts.len() + 1,
                entry.counts
            );
            assert_eq!(entry.counts.rows, entry.counts.accounted());
        }
        match handled {
            Ok(handled) => {
                attempts.push("finished".to_string());
                assert!(
                    matches!(handled.as_slice(), [csv_import::Handled::Finished(_)]),
                    "{handled:?}"
                );
                break entry.expect("a finished import is logged");
            }
            Err(e) => {
                // A loud failure: an error code for Lambda, which retries.
                attempts.push(e.code().to_string());
                proxy.set_faults(db_weather());
                assert!(attempts.len() < 5, "{attempts:?}");
            }
        }
    };
    assert_eq!(entry.status, RunStatus::Succeeded, "{attempts:?}");
    assert!(
        attempts.len() > 1,
        "the first invocation failed: {attempts:?}"
    );
    assert_eq!(entry.counts.inserted, 3000);
    let held = stored(&stack.store).await;
    assert_same_records(&held, &want);

    let injected = proxy.injected();
    let total: u64 = injected.values().sum();
    assert!(total >= 10, "faults were injected: {injected:?}");
    report(
        "DynamoDB, CSV import",
        &format!("3,000 rows, {total} faulty calls {injected:?}, invocations {attempts:?}",),
        lost(&held, &want),
        duplicates(&stack.store).await,
    );
}

/// What a child import process is told, in one environment variable.
const CHILD: &str = "WEBHR_IMPORT_CHILD";

/// The import process the crash test starts and kills: the same
/// `Importer::handle` the Lambda function runs, in a process of its own,
/// against the parent's DynamoDB and S3 on 127.0.0.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by the crash test in a process of its own"]
async fn import_child() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    let text = |name: &str| spec[name].as_str().unwrap().to_string();
    let store = dynamodb_store::Store::new(
        local_stack::dynamodb_client(&text("dynamodb")),
        text("table"),
    );
    let importer = csv_import::Importer::new(
        store.clone(),
        local_stack::s3_client(&text("s3")),
        &import_config(&store, Duration::from_secs(5)),
        audit_key(),
    );
    let event = serde_json::from_value(spec["event"].clone()).unwrap();
    let handled = importer
        .handle(
            &event,
            &text("request"),
            tokio::time::Instant::now() + Duration::from_secs(120),
        )
        .await
        .unwrap();
    println!("{}", serde_json::to_string(&handled).unwrap());
}

/// The record items with the times they were written left out.
async fn records_without_times(store: &dynamodb_store::Store) -> Vec<Item> {
    let mut items = record_items(store).await;
    for item in &mut items {
        item.retain(|name, _| !name.ends_with("_at"));
    }
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_at_random_points_and_redelivered_equals_a_clean_import() {
    let rounds = 4 * soak() as usize;
    const KILLS_PER_ROUND: usize = 2;
    let (mut lost_records, mut duplicated) = (0, 0);
    let bytes = generated_csv(4000, portal_sim::csv_file::CsvEncoding::Big5, 12);
    let key = format!("uploads/{AGENCY}/crash.txt");
    let invocations = local_stack::lambda::Invocations::default();

    // The reference: the same file imported once, undisturbed.
    let clean = csv_stack(invocations, Duration::from_secs(5)).await;
    let file = clean.upload(&key, bytes.clone()).await;
    let started = std::time::Instant::now();
    clean
        .importer
        .handle(
            &clean.event_for(&file),
            "clean",
            tokio::time::Instant::now() + Duration::from_secs(120),
        )
        .await
        .unwrap();
    let clean_time = started.elapsed();
    let clean_entry = clean
        .store
        .get_csv_log(&file.log_id())
        .await
        .unwrap()
        .unwrap();

    // Rounds of: a fresh table, deliveries killed (SIGKILL, no cleanup of
    // any kind) at random points, then one left to finish.
    let mut rng = fastrand::Rng::with_seed(4000);
    let mut killed_at = Vec::new();
    for round in 0..rounds {
        let crashed = csv_stack(invocations, Duration::from_secs(5)).await;
        let file = crashed.upload(&key, bytes.clone()).await;
        let spec = serde_json::json!({
            "dynamodb": engine_url().await,
            "s3": crashed.s3_url,
            "table": crashed.store.table(),
            "event": serde_json::to_value(crashed.event_for(&file)).unwrap(),
            // Lambda retries an asynchronous event under the same request id.
            "request": "request-1",
        })
        .to_string();
        let child = || {
            tokio::process::Command::new(std::env::current_exe().unwrap())
                .args(["import_child", "--exact", "--ignored", "--nocapture"])
                .env(CHILD, &spec)
                .env("RUST_LOG", "off")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("the import process starts")
        };
        for _ in 0..KILLS_PER_ROUND {
            let mut process = child();
            // Start-up (tens of ms), then anywhere in a whole import.
            let delay = Duration::from_millis(30) + clean_time.mul_f64(rng.f64());
            if tokio::time::timeout(delay, process.wait()).await.is_ok() {
                killed_at.push(format!("{round}: finished before {} ms", delay.as_millis()));
                continue;
            }
            process.kill().await.unwrap();
            // Never over-counted: the checkpoint counts only what the table
            // holds; what was written past it is counted once, on replay.
            // (The dead process's last call may still be landing; the
            // checkpoint read on both sides of the scan tells when it has.)
            let counts = loop {
                let checkpoint = || async {
                    let entry = crashed.store.get_csv_log(&file.log_id()).await.unwrap();
                    entry.map(|e| e.counts).unwrap_or_default()
                };
                let before = checkpoint().await;
                let held = stored(&crashed.store).await.len();
                if checkpoint().await == before {
                    assert!(before.inserted as usize <= held, "{before:?}, {held} held");
                    break before;
                }
            };
            killed_at.push(format!(
                "{round}: {} ms, row {}",
                delay.as_millis(),
                counts.rows
            ));
        }
        let last = child().wait().await.unwrap();
        assert!(last.success(), "round {round}: the last delivery finishes");

        let entry = crashed
            .store
            .get_csv_log(&file.log_id())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.status, RunStatus::Succeeded, "round {round}");
        assert_eq!(entry.counts, clean_entry.counts, "round {round}");
        assert_eq!(
            records_without_times(&crashed.store).await,
            records_without_times(&clean.store).await,
            "round {round}: the table after the crashes is the clean import's"
        );
        lost_records += lost(&stored(&crashed.store).await, &stored(&clean.store).await);
        duplicated += duplicates(&crashed.store).await;
    }
    let killed = killed_at.iter().filter(|k| !k.contains("finished")).count();
    assert!(
        killed >= rounds * KILLS_PER_ROUND / 2,
        "most deliveries were killed: {killed_at:?}"
    );
    report(
        "crashes (CSV import)",
        &format!(
            "{rounds} imports of 4,000 rows, {killed} SIGKILLs of the import process at random points [{}{}]",
            killed_at[..killed_at.len().min(8)].join("; "),
            if killed_at.len() > 8 { "; …" } else { "" },
        ),
        lost_records,
        duplicated,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_s3_event_three_times_at_once_imports_once() {
    let stack = csv_stack(
        local_stack::lambda::Invocations::default(),
        Duration::from_secs(5),
    )
    .await;
    let bytes = generated_csv(2000, portal_sim::csv_file::CsvEncoding::Utf8Bom, 13);
    let want = expected_records(&bytes);
    let file = stack
        .upload(&format!("uploads/{AGENCY}/thrice.txt"), bytes)
        .await;
    let event = stack.event_for(&file);
    // S3 delivers at least once: three invocations, three request ids.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let deliveries = ["a", "b", "c"].map(|id| stack.importer.handle(&event, id, deadline));
    let [a, b, c] = deliveries;
    let (a, b, c) = tokio::join!(a, b, c);
    let mut outcomes: Vec<String> = [a, b, c]
        .into_iter()
        .flat_map(|handled| handled.unwrap())
        .map(|handled| match handled {
            csv_import::Handled::Finished(_) => "finished".to_string(),
            csv_import::Handled::Continued(_) => "continued".to_string(),
            csv_import::Handled::Skipped { reason, .. } => reason.to_string(),
        })
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes.iter().filter(|o| *o == "finished").count(),
        1,
        "{outcomes:?}"
    );
    let entry = stack
        .store
        .get_csv_log(&file.log_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.status, RunStatus::Succeeded);
    assert_eq!(entry.invocations, 1, "one invocation did the work");
    assert_eq!(entry.counts.inserted, 2000);
    let held = stored(&stack.store).await;
    assert_same_records(&held, &want);
    report(
        "the same S3 event 3× at once",
        &format!("2,000 rows; the deliveries: {outcomes:?}"),
        lost(&held, &want),
        duplicates(&stack.store).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedules_firing_together_every_night_work_each_day_once() {
    const NIGHTS: u64 = 10;
    let store = fresh_store().await;
    let settings = settings();
    let start = settings.start_date;
    let portal = simulator(
        DataConfig {
            per_day: 40,
            ..DataConfig::default()
        },
        start,
    )
    .await;
    portal.portal.set_faults(Faults {
        latency_ms: 5,
        ..Faults::default()
    });
    let first_night = start.succ_opt().unwrap();
    let mut worked = Vec::new();
    let mut refused = 0;
    for night in days(first_night, first_night + chrono::Days::new(NIGHTS - 1)) {
        portal.portal.set_as_of(night.pred_opt().unwrap());
        let (a, b) = (
            sync_on(&portal, &store, &settings, night),
            sync_on(&portal, &store, &settings, night),
        );
        let (req_a, req_b) = (
            request(&format!("{night}-a")),
            request(&format!("{night}-b")),
        );
        let (ra, rb) = tokio::join!(a.run(&req_a, |_, _| {}), b.run(&req_b, |_, _| {}));
        for summary in [ra.unwrap(), rb.unwrap()] {
            refused += usize::from(summary.outcome == Outcome::AnotherRunActive);
            worked.extend(summary.days.iter().map(|d| d.date));
        }
    }
    let total = worked.len();
    worked.sort();
    worked.dedup();
    assert_eq!(worked.len(), total, "a day was worked twice");
    assert_eq!(total as u64, NIGHTS, "every day worked");
    let last = first_night + chrono::Days::new(NIGHTS - 1);
    let truth = truth(
        &portal.portal,
        days(start, last.pred_opt().unwrap()),
        last.pred_opt().unwrap(),
    );
    let held = stored(&store).await;
    assert_same_records(&held, &truth);
    report(
        "two schedules firing together",
        &format!(
            "{NIGHTS} nights × 2 runs at once: {refused} refused by the lease, each day worked once"
        ),
        lost(&held, &truth),
        duplicates(&store).await,
    );
}
