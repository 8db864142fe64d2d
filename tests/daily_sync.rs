//! The nightly sync end to end on 127.0.0.1: the portal simulator over HTTP,
//! the embedded DynamoDB (or DynamoDB Local), the real store and client.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use daily_sync::{Outcome, Rerun, RunRequest, SyncConfig, SyncError};
use learning_core::import_log::{RunStatus, SyncLogEntry};
use portal_sim::{DataConfig, Faults};
use system_tests::*;

fn data(per_day: u32) -> DataConfig {
    DataConfig {
        per_day,
        ..DataConfig::default()
    }
}

/// The portal as it stood at the end of the day before a night's run.
fn eve(today: NaiveDate) -> NaiveDate {
    today.pred_opt().unwrap()
}

fn days(from: &str, to: &str) -> impl Iterator<Item = NaiveDate> {
    let to = day(to);
    day(from).iter_days().take_while(move |d| *d <= to)
}

#[tokio::test]
async fn the_first_run_backfills_from_the_start_date_with_one_log_entry_per_day() {
    let store = fresh_store().await;
    let today = day("2016-01-21");
    let portal = simulator(data(40), eve(today)).await;
    let summary = sync_on(&portal, &store, &settings(), today)
        .run(&request("run-1"), |_, _| {})
        .await
        .unwrap();

    assert_eq!(summary.outcome, Outcome::Completed);
    assert_eq!(summary.watermark, Some(day("2016-01-20")));
    let logged: Vec<NaiveDate> = summary.days.iter().map(|d| d.date).collect();
    assert_eq!(logged, days("2016-01-01", "2016-01-20").collect::<Vec<_>>());

    let truth = truth(&portal.portal, days("2016-01-01", "2016-01-20"), eve(today));
    assert!(
        truth.len() > 400,
        "enough data to mean something: {}",
        truth.len()
    );
    assert_same_records(&stored(&store).await, &truth);

    for d in &summary.days {
        let entry = store.get_sync_log(&d.log_id).await.unwrap().unwrap();
        assert_eq!(entry.status, RunStatus::Succeeded);
        assert_eq!(entry.data_date, d.date);
        assert!(entry.finished_at.unwrap() >= entry.started_at);
        let c = entry.counts;
        assert_eq!(c.fetched, c.accounted(), "{c:?}");
        assert_eq!(c.failed, 0);
    }
    let inserted: u64 = summary.days.iter().map(|d| d.counts.inserted).sum();
    let withdrawn: u64 = summary.days.iter().map(|d| d.counts.withdrawn).sum();
    assert_eq!(inserted - withdrawn, truth.len() as u64);
}

#[tokio::test]
async fn missed_days_are_caught_up_and_a_caught_up_run_does_nothing() {
    let store = fresh_store().await;
    let portal = simulator(data(20), day("2016-01-05")).await;
    let first = sync_on(&portal, &store, &settings(), day("2016-01-06"))
        .run(&request("night-1"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(first.watermark, Some(day("2016-01-05")));

    // Four nights pass without a run.
    portal.portal.set_as_of(day("2016-01-09"));
    let second = sync_on(&portal, &store, &settings(), day("2016-01-10"))
        .run(&request("night-5"), |_, _| {})
        .await
        .unwrap();
    let worked: Vec<NaiveDate> = second.days.iter().map(|d| d.date).collect();
    assert_eq!(worked, days("2016-01-06", "2016-01-09").collect::<Vec<_>>());
    assert_eq!(second.watermark, Some(day("2016-01-09")));

    let again = sync_on(&portal, &store, &settings(), day("2016-01-10"))
        .run(&request("night-5-retry"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(again.outcome, Outcome::UpToDate);
    assert!(again.days.is_empty());
}

#[tokio::test]
async fn re_running_a_day_changes_nothing() {
    let store = fresh_store().await;
    let today = day("2016-01-08");
    let portal = simulator(data(30), eve(today)).await;
    let sync = sync_on(&portal, &store, &settings(), today);
    sync.run(&request("first"), |_, _| {}).await.unwrap();
    let before = stored(&store).await;
    let records_before = record_items(&store).await;

    let entry = sync
        .sync_day(&request("again"), day("2016-01-04"), false)
        .await
        .unwrap();
    assert_eq!(entry.status, RunStatus::Succeeded);
    assert_eq!((entry.counts.inserted, entry.counts.updated), (0, 0));
    assert!(entry.counts.unchanged > 0);
    assert_same_records(&stored(&store).await, &before);
    let records_after = record_items(&store).await;
    // Compared whole, printed never: the items hold national IDs.
    assert!(
        records_after == records_before,
        "not even bookkeeping changed"
    );
}

fn rerun(from: &str, to: &str) -> RunRequest {
    RunRequest {
        rerun: Some(Rerun {
            from: day(from),
            to: day(to),
            requested_by: "admin-7".into(),
        }),
        ..request("rerun")
    }
}

#[tokio::test]
async fn an_administrator_re_run_restores_lost_records_and_is_logged_with_who_asked() {
    let store = fresh_store().await;
    let today = day("2016-01-09");
    let portal = simulator(data(30), eve(today)).await;
    let sync = sync_on(&portal, &store, &settings(), today);
    sync.run(&request("nightly"), |_, _| {}).await.unwrap();
    let complete = stored(&store).await;
    assert_eq!(store.watermark().await.unwrap(), Some(day("2016-01-08")));

    // Lose every record of the 5th (say, a bad manual clean-up).
    let lost: Vec<_> = record_items(&store)
        .await
        .into_iter()
        .filter(|item| {
            item.get("changed_date")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|d| d == "2016-01-05")
        })
        .collect();
    assert!(!lost.is_empty());
    for item in &lost {
        store
            .client()
            .delete_item()
            .table_name(store.table())
            .key("pk", item["pk"].clone())
            .key("sk", item["sk"].clone())
            .send()
            .await
            .unwrap();
    }
    assert_eq!(stored(&store).await.len(), complete.len() - lost.len());

    let summary = sync
        .run(&rerun("2016-01-04", "2016-01-06"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(summary.outcome, Outcome::Completed);
    let worked: Vec<NaiveDate> = summary.days.iter().map(|d| d.date).collect();
    assert_eq!(worked, days("2016-01-04", "2016-01-06").collect::<Vec<_>>());
    assert_same_records(&stored(&store).await, &complete);
    let fifth = &summary.days[1];
    assert_eq!(fifth.counts.inserted, lost.len() as u64);
    let entry = store.get_sync_log(&fifth.log_id).await.unwrap().unwrap();
    assert_eq!(entry.trigger, learning_core::import_log::Trigger::Manual);
    assert_eq!(entry.requested_by.as_deref(), Some("admin-7"));
    assert_eq!(
        store.watermark().await.unwrap(),
        Some(day("2016-01-08")),
        "days before the watermark leave it where it was"
    );
}

#[tokio::test]
async fn a_re_run_past_the_watermark_moves_it_and_the_night_carries_on() {
    let store = fresh_store().await;
    let portal = simulator(data(20), day("2016-01-09")).await;
    sync_on(&portal, &store, &settings(), day("2016-01-05"))
        .run(&request("nightly"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(store.watermark().await.unwrap(), Some(day("2016-01-04")));

    let sync = sync_on(&portal, &store, &settings(), day("2016-01-10"));
    // A gap (the 5th) keeps the watermark: only a day right after it moves it.
    sync.run(&rerun("2016-01-06", "2016-01-07"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(store.watermark().await.unwrap(), Some(day("2016-01-04")));
    sync.run(&rerun("2016-01-05", "2016-01-07"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(store.watermark().await.unwrap(), Some(day("2016-01-07")));

    let night = sync.run(&request("night"), |_, _| {}).await.unwrap();
    let worked: Vec<NaiveDate> = night.days.iter().map(|d| d.date).collect();
    assert_eq!(worked, days("2016-01-08", "2016-01-09").collect::<Vec<_>>());
    let truth = truth(
        &portal.portal,
        days("2016-01-01", "2016-01-09"),
        day("2016-01-09"),
    );
    assert_same_records(&stored(&store).await, &truth);
}

#[tokio::test]
async fn a_re_run_the_rules_refuse_writes_nothing() {
    let store = fresh_store().await;
    let portal = simulator(data(5), day("2016-03-01")).await;
    let sync = sync_on(&portal, &store, &settings(), day("2016-03-02"));
    for (from, to, code) in [
        ("2016-01-05", "2016-01-04", "invalid_range"),
        ("2015-12-31", "2016-01-04", "before_start_date"),
        ("2016-02-28", "2016-03-02", "future_date"),
        ("2016-01-01", "2016-02-01", "range_too_long"),
    ] {
        let err = sync.run(&rerun(from, to), |_, _| {}).await.unwrap_err();
        assert!(
            matches!(&err, SyncError::InvalidRerun(p) if p.code == code),
            "{from}..{to}: {err}"
        );
    }
    assert!(record_items(&store).await.is_empty());
    assert!(
        sync.run(&rerun("2016-01-01", "2016-01-31"), |_, _| {})
            .await
            .is_ok(),
        "31 days is the most, and allowed"
    );
}

#[tokio::test]
async fn a_portal_outage_keeps_the_watermark_and_the_next_run_recovers() {
    let store = fresh_store().await;
    let portal = simulator(data(20), day("2016-01-04")).await;
    sync_on(&portal, &store, &settings(), day("2016-01-05"))
        .run(&request("ok"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(store.watermark().await.unwrap(), Some(day("2016-01-04")));

    portal.portal.set_as_of(day("2016-01-08"));
    portal.portal.set_faults(Faults {
        outage: true,
        ..Faults::default()
    });
    let sync = sync_on(&portal, &store, &settings(), day("2016-01-09"));
    let err = sync.run(&request("outage"), |_, _| {}).await.unwrap_err();
    assert!(
        matches!(err, SyncError::DayFailed { date, .. } if date == day("2016-01-05")),
        "{err}"
    );
    assert_eq!(store.watermark().await.unwrap(), Some(day("2016-01-04")));
    let failed = store
        .get_sync_log(&SyncLogEntry::log_id(day("2016-01-05"), "outage"))
        .await
        .unwrap()
        .expect("the failed day is logged");
    assert_eq!(failed.status, RunStatus::Failed);
    let error = failed.error.expect("an error summary");
    assert_eq!(error.code, "portal_unavailable");
    assert!(error.message.contains("入口網"), "{}", error.message);
    assert_eq!(failed.counts.fetched, 0);

    portal.portal.set_faults(Faults::default());
    let recovered = sync.run(&request("recovered"), |_, _| {}).await.unwrap();
    assert_eq!(recovered.outcome, Outcome::Completed);
    assert_eq!(
        recovered.days.first().map(|d| d.date),
        Some(day("2016-01-05"))
    );
    assert_eq!(store.watermark().await.unwrap(), Some(day("2016-01-08")));
    let truth = truth(
        &portal.portal,
        days("2016-01-01", "2016-01-08"),
        day("2016-01-08"),
    );
    assert_same_records(&stored(&store).await, &truth);
}

/// The real client, but one day answers late and then fails; counts the
/// requests in flight at once.
struct FailingOn {
    client: portal_client::PortalClient,
    bad_day: NaiveDate,
    in_flight: std::sync::atomic::AtomicUsize,
    most_in_flight: std::sync::atomic::AtomicUsize,
}

impl daily_sync::Portal for FailingOn {
    async fn changes_on(
        &self,
        day: NaiveDate,
    ) -> Result<Vec<portal_client::PortalRecord>, portal_client::PortalError> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most_in_flight.fetch_max(now, SeqCst);
        let answer = if day == self.bad_day {
            // Late, so the days after it are fetched before it fails.
            tokio::time::sleep(Duration::from_millis(300)).await;
            Err(portal_client::PortalError::Unavailable {
                page: 1,
                attempts: 3,
                last: "HTTP 503".into(),
            })
        } else {
            self.client.changes_on(day).await
        };
        self.in_flight.fetch_sub(1, SeqCst);
        answer
    }
}

#[tokio::test]
async fn days_fetched_ahead_are_written_in_order_and_none_past_a_failed_one() {
    let store = fresh_store().await;
    let portal = simulator(data(20), day("2016-01-10")).await;
    let sync = daily_sync::DailySync::new(
        FailingOn {
            client: portal_client(&portal),
            bad_day: day("2016-01-05"),
            in_flight: Default::default(),
            most_in_flight: Default::default(),
        },
        store.clone(),
        settings(),
        Duration::from_secs(5),
    )
    .with_clock(clock_on(day("2016-01-11")));
    let mut written = Vec::new();
    let err = sync
        .run(&request("ahead"), |entry, _| written.push(entry.data_date))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SyncError::DayFailed { date, .. } if date == day("2016-01-05")),
        "{err}"
    );
    assert!(
        sync.portal()
            .most_in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
            > 1,
        "the days after were fetched while one was pending"
    );
    assert_eq!(
        written,
        days("2016-01-01", "2016-01-05").collect::<Vec<_>>()
    );
    assert_eq!(store.watermark().await.unwrap(), Some(day("2016-01-04")));
    // Nothing of the days fetched after the failed one was written.
    let truth = truth(
        &portal.portal,
        days("2016-01-01", "2016-01-04"),
        day("2016-01-10"),
    );
    assert_same_records(&stored(&store).await, &truth);
    for later in days("2016-01-06", "2016-01-10") {
        assert!(
            store
                .get_sync_log(&SyncLogEntry::log_id(later, "ahead"))
                .await
                .unwrap()
                .is_none(),
            "{later} has no entry"
        );
    }
}

#[tokio::test]
async fn a_throttling_store_fails_the_day_and_the_next_run_recovers() {
    let direct = fresh_store().await;
    let proxy = fault_proxy().await;
    let store = proxy.store(&direct).with_retry(dynamodb_store::BatchRetry {
        max_attempts: 2,
        base: Duration::from_millis(1),
        ..Default::default()
    });
    let today = day("2016-01-04");
    let portal = simulator(data(20), eve(today)).await;
    proxy
        .throttled_writes
        .store(-1, std::sync::atomic::Ordering::SeqCst);
    let sync = sync_on(&portal, &store, &settings(), today);
    let err = sync
        .run(&request("throttled"), |_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, SyncError::DayFailed { date, .. } if date == day("2016-01-01")),
        "{err}"
    );
    assert_eq!(store.watermark().await.unwrap(), None);
    let entry = store
        .get_sync_log(&SyncLogEntry::log_id(day("2016-01-01"), "throttled"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.status, RunStatus::Failed);
    assert_eq!(entry.error.unwrap().code, "store_throttled");

    proxy
        .throttled_writes
        .store(0, std::sync::atomic::Ordering::SeqCst);
    let recovered = sync.run(&request("recovered"), |_, _| {}).await.unwrap();
    assert_eq!(recovered.outcome, Outcome::Completed);
    assert_eq!(store.watermark().await.unwrap(), Some(day("2016-01-03")));
    assert_same_records(
        &stored(&direct).await,
        &truth(&portal.portal, days("2016-01-01", "2016-01-03"), eve(today)),
    );
}

#[tokio::test]
async fn a_withdrawn_or_corrected_record_reaches_the_store() {
    let store = fresh_store().await;
    let first_night = day("2016-02-02");
    let portal = simulator(data(60), eve(first_night)).await;
    sync_on(&portal, &store, &settings(), first_night)
        .run(&request("first"), |_, _| {})
        .await
        .unwrap();
    let before = stored(&store).await;

    // Two weeks later the portal has withdrawn and corrected some of them.
    let later = day("2016-02-16");
    portal.portal.set_as_of(eve(later));
    let summary = sync_on(&portal, &store, &settings(), later)
        .run(&request("later"), |_, _| {})
        .await
        .unwrap();
    let withdrawn: u64 = summary.days.iter().map(|d| d.counts.withdrawn).sum();
    let updated: u64 = summary.days.iter().map(|d| d.counts.updated).sum();
    assert!(
        withdrawn > 0 && updated > 0,
        "withdrawn {withdrawn}, updated {updated}"
    );

    // A correction of the start date moves a record to another key: its
    // former key goes too (which records the simulator moved, from what it
    // served on each night).
    let generator = portal.portal.generator();
    let served = |as_of: NaiveDate| {
        days("2016-01-01", "2016-02-15").flat_map(move |d| generator.changes_on(d, as_of))
    };
    let first_ids: BTreeMap<Key, String> = served(eve(first_night))
        .map(|r| (r.key(), r.record_id))
        .collect();
    let now_under: BTreeMap<String, Key> = served(eve(later))
        .filter(|r| r.is_passed())
        .map(|r| (r.record_id.clone(), r.key()))
        .collect();
    let moved = before
        .keys()
        .filter(|k| now_under.get(&first_ids[*k]).is_some_and(|now| now != *k))
        .count() as u64;
    assert!(moved > 0, "the portal corrected some start dates");
    let after = stored(&store).await;
    let gone = before.keys().filter(|k| !after.contains_key(*k)).count() as u64;
    assert_eq!(gone, withdrawn + moved);
    assert_same_records(
        &after,
        &truth(&portal.portal, days("2016-01-01", "2016-02-15"), eve(later)),
    );
}

#[tokio::test]
async fn overlapping_runs_never_work_the_same_day() {
    let store = fresh_store().await;
    let today = day("2016-01-12");
    let portal = simulator(data(10), eve(today)).await;
    portal.portal.set_faults(Faults {
        latency_ms: 30,
        ..Faults::default()
    });
    let a = sync_on(&portal, &store, &settings(), today);
    let b = sync_on(&portal, &store, &settings(), today);
    let (req_a, req_b) = (request("schedule-a"), request("schedule-b"));
    let (ra, rb) = tokio::join!(a.run(&req_a, |_, _| {}), b.run(&req_b, |_, _| {}));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let outcomes = [ra.outcome, rb.outcome];
    assert!(
        outcomes.contains(&Outcome::AnotherRunActive),
        "{outcomes:?}"
    );
    assert!(outcomes.contains(&Outcome::Completed), "{outcomes:?}");
    let mut worked: Vec<NaiveDate> = ra.days.iter().chain(&rb.days).map(|d| d.date).collect();
    let total = worked.len();
    worked.sort();
    worked.dedup();
    assert_eq!(worked.len(), total, "a day was worked twice");
    assert_eq!(total, 11);
}

#[tokio::test]
async fn a_long_backfill_stops_before_the_deadline_and_the_next_run_resumes() {
    let store = fresh_store().await;
    let today = day("2016-01-31");
    let portal = simulator(data(10), eve(today)).await;
    portal.portal.set_faults(Faults {
        latency_ms: 100,
        ..Faults::default()
    });
    let sync = sync_on(&portal, &store, &settings(), today);
    // Reserve is 5 s: a 6 s budget leaves room for only a few days.
    let mut short = request("short");
    short.deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    let first = sync.run(&short, |_, _| {}).await.unwrap();
    assert_eq!(first.outcome, Outcome::DeadlineReached);
    assert!(!first.days.is_empty() && first.days_left > 0, "{first:?}");
    assert!(
        tokio::time::Instant::now() <= short.deadline,
        "overran the deadline"
    );
    let resumed_from = first.watermark.unwrap().succ_opt().unwrap();
    // In the cloud the stopped run invokes its own function again with the
    // night's event, so the backfill finishes by itself...
    let night: daily_sync::SyncEvent =
        serde_json::from_str(include_str!("events/scheduled-event.json")).unwrap();
    let next = night
        .continuation(&first)
        .expect("days were written, days are left");
    assert_eq!(next.trigger(), learning_core::import_log::Trigger::Schedule);
    // ...but not after a run that wrote nothing (no time for one day)...
    let mut no_time = request("no-time");
    no_time.deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    let stuck = sync.run(&no_time, |_, _| {}).await.unwrap();
    assert_eq!(stuck.outcome, Outcome::DeadlineReached);
    assert!(stuck.days.is_empty() && stuck.days_left > 0, "{stuck:?}");
    assert!(
        night.continuation(&stuck).is_none(),
        "no progress, no new invocation"
    );
    // ...nor for an administrator's re-run.
    let rerun_event = daily_sync::SyncEvent {
        rerun: rerun("2016-01-01", "2016-01-30").rerun,
        ..Default::default()
    };
    assert!(rerun_event.continuation(&first).is_none());

    portal.portal.set_faults(Faults::default());
    let second = sync
        .run(
            &next.into_request(
                "resume".into(),
                tokio::time::Instant::now() + Duration::from_secs(900),
            ),
            |_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(second.outcome, Outcome::Completed);
    assert!(
        night.continuation(&second).is_none(),
        "done: the chain ends"
    );
    assert_eq!(second.days.first().unwrap().date, resumed_from);
    assert_eq!(first.days.len() + second.days.len(), 30);
    assert_same_records(
        &stored(&store).await,
        &truth(&portal.portal, days("2016-01-01", "2016-01-30"), eve(today)),
    );
}

#[tokio::test]
async fn invalid_records_from_the_portal_are_reported_masked_and_the_day_is_done() {
    let store = fresh_store().await;
    let today = day("2016-01-04");
    let portal = simulator(
        DataConfig {
            per_day: 80,
            invalid_id_share: 0.05,
            ..DataConfig::default()
        },
        eve(today),
    )
    .await;
    let summary = sync_on(&portal, &store, &settings(), today)
        .run(&request("bad-ids"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(summary.outcome, Outcome::Completed);
    assert_eq!(
        summary.watermark,
        Some(day("2016-01-03")),
        "a partial day is done: its valid records are written"
    );
    let partial = &summary.days[0];
    assert_eq!(partial.status, RunStatus::Partial);
    let entry = store.get_sync_log(&partial.log_id).await.unwrap().unwrap();
    assert!(entry.counts.failed > 0);
    assert_eq!(entry.failures.len() as u64, entry.counts.failed);
    let bad = &entry.failures[0];
    assert_eq!(bad.code, "national_id_checksum");
    assert_eq!(bad.field.as_deref(), Some("id_no"));
    assert!(bad.masked_id.ends_with("****"));
    let raw = portal.portal.day(day("2016-01-01"));
    let full_id = &raw[(bad.position - 1) as usize].id_no;
    assert!(full_id.starts_with(bad.masked_id.trim_end_matches('*')));
    let json = serde_json::to_string(&entry).unwrap();
    assert!(
        !json.contains(full_id.as_str()),
        "a full ID reached the log"
    );
    // The valid records of the day were written.
    assert_eq!(entry.counts.fetched, entry.counts.accounted());
    assert!(entry.counts.inserted > 0);
    let kept: u64 = summary
        .days
        .iter()
        .map(|d| d.counts.inserted - d.counts.withdrawn)
        .sum();
    assert_eq!(stored(&store).await.len() as u64, kept);
}

/// A record of the wrong JSON type (`"term": "1"`) is refused on its own,
/// listed and counted like any invalid value; the rest of its page is
/// read, and the day is done.
#[tokio::test]
async fn a_record_of_the_wrong_type_is_refused_alone_and_the_day_is_done() {
    let store = fresh_store().await;
    let today = day("2016-01-04");
    let portal = simulator(
        DataConfig {
            per_day: 80,
            odd_type_share: 0.05,
            ..DataConfig::default()
        },
        eve(today),
    )
    .await;
    let summary = sync_on(&portal, &store, &settings(), today)
        .run(&request("odd-types"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(summary.outcome, Outcome::Completed);
    assert_eq!(summary.watermark, Some(day("2016-01-03")));
    let mut odd_seen = 0;
    for done in &summary.days {
        // What the simulator served with a text term, by position.
        let served = portal.portal.day(done.date);
        let odd: Vec<u64> = served
            .iter()
            .enumerate()
            .filter(|(_, r)| r.defect == Some(portal_sim::Defect::OddType))
            .map(|(at, _)| at as u64 + 1)
            .collect();
        odd_seen += odd.len();
        let entry = store.get_sync_log(&done.log_id).await.unwrap().unwrap();
        let refused: Vec<u64> = entry.failures.iter().map(|f| f.position).collect();
        assert_eq!(refused, odd, "{}", done.date);
        assert_eq!(entry.counts.failed, odd.len() as u64);
        assert_eq!(entry.counts.fetched, served.len() as u64);
        assert_eq!(entry.counts.fetched, entry.counts.accounted());
        for failure in &entry.failures {
            assert_eq!(
                (failure.code.as_str(), failure.field.as_deref()),
                ("invalid_type", Some("term"))
            );
            let id = &served[(failure.position - 1) as usize].id_no;
            assert_eq!(failure.masked_id, format!("{}****", &id[..6]));
            assert!(!failure.message.contains(id.as_str()));
        }
        let expected = if odd.is_empty() {
            RunStatus::Succeeded
        } else {
            RunStatus::Partial
        };
        assert_eq!(entry.status, expected, "{}", done.date);
    }
    assert!(odd_seen > 0, "the simulator served some");
    assert_eq!(
        stored(&store).await,
        truth(&portal.portal, days("2016-01-01", "2016-01-03"), eve(today)),
        "every other record written"
    );
}

#[tokio::test]
async fn a_backfill_of_dirty_portal_data_ends_at_yesterday_and_stays_there() {
    // Real portal data: a share of records never validates (IDs with a bad
    // check digit, hours that do not add up) and is never corrected. The
    // backfill still ends with the watermark at yesterday, every valid
    // record written; the next night has nothing to redo.
    let store = fresh_store().await;
    let today = day("2016-02-20");
    let portal = simulator(
        DataConfig {
            per_day: 60,
            invalid_id_share: 0.01,
            invalid_hours_share: 0.01,
            ..DataConfig::default()
        },
        eve(today),
    )
    .await;
    let sync = sync_on(&portal, &store, &settings(), today);
    let first = sync.run(&request("dirty"), |_, _| {}).await.unwrap();
    assert_eq!(first.outcome, Outcome::Completed);
    assert_eq!(first.watermark, Some(eve(today)));
    let partial = first
        .days
        .iter()
        .filter(|d| d.status == RunStatus::Partial)
        .count();
    assert!(partial >= 5, "dirty days met: {partial}");
    let refused: u64 = first.days.iter().map(|d| d.counts.failed).sum();
    let mut codes = std::collections::BTreeSet::new();
    for d in &first.days {
        let entry = store.get_sync_log(&d.log_id).await.unwrap().unwrap();
        codes.extend(entry.failures.iter().map(|f| f.code.clone()));
        // Counted per agency too, each agency's counts whole, together the
        // day's; each failure names its record's agency when it has one.
        let mut sum = learning_core::import_log::SyncCounts::default();
        for (agency, c) in &entry.agency_counts {
            assert_eq!(c.fetched, c.accounted(), "{} {agency}", entry.data_date);
            sum += *c;
        }
        assert_eq!(sum, entry.counts, "{}", entry.data_date);
        for failure in &entry.failures {
            let agency = failure.agency.as_deref().unwrap_or("?");
            assert!(entry.agency_counts[agency].failed > 0, "{failure:?}");
        }
    }
    assert!(
        codes.contains("national_id_checksum") && codes.contains("hours_total_mismatch"),
        "{codes:?}"
    );
    assert!(refused > 0);
    // Every valid record is held, as the portal's truth says.
    assert_same_records(
        &stored(&store).await,
        &truth(&portal.portal, days("2016-01-01", "2016-02-19"), eve(today)),
    );
    let again = sync.run(&request("next"), |_, _| {}).await.unwrap();
    assert_eq!(again.outcome, Outcome::UpToDate);
    assert!(again.days.is_empty());
}

/// A record the portal sends invalid is reported on the night it is first
/// refused, and not again on each lookback night that reads its day
/// (`RecordsRefused` would never clear); once the portal changes it, it is
/// new, and reported again if still invalid.
#[tokio::test]
async fn a_refused_record_is_reported_once_until_it_changes() {
    let store = fresh_store().await;
    let portal = simulator(
        DataConfig {
            per_day: 40,
            invalid_id_share: 0.1,
            ..DataConfig::default()
        },
        day("2016-01-19"),
    )
    .await;
    let scheduled = |run: &str| RunRequest {
        trigger: learning_core::import_log::Trigger::Schedule,
        ..request(run)
    };
    // What the simulator made invalid, day by day.
    let invalid_on = |d: NaiveDate| {
        portal
            .portal
            .day(d)
            .iter()
            .filter(|r| r.defect.is_some())
            .count() as u64
    };
    let first = sync_on(&portal, &store, &settings(), day("2016-01-20"))
        .with_lookback(7)
        .run(&scheduled("night-20"), |_, _| {})
        .await
        .unwrap();
    for d in &first.days {
        assert_eq!(d.counts.failed, invalid_on(d.date), "{}", d.date);
    }
    let reported: u64 = first.days.iter().map(|d| d.counts.failed).sum();
    assert!(reported > 0, "the simulator served invalid records");

    // A week of nights: each reads the last 7 days again.
    let mut bad = portal
        .portal
        .day(day("2016-01-15"))
        .iter()
        .find(|r| r.defect.is_some())
        .expect("an invalid record on Friday the 15th")
        .clone();
    for (night, as_of) in days("2016-01-21", "2016-01-27").zip(days("2016-01-20", "2016-01-26")) {
        portal.portal.set_as_of(as_of);
        if night == day("2016-01-23") {
            // The portal changes the invalid record, still invalid: new.
            bad.course_name.push_str("（更正）");
            portal.portal.backdate(bad.clone(), as_of);
        }
        let run = sync_on(&portal, &store, &settings(), night)
            .with_lookback(7)
            .run(&scheduled(&format!("night-{night}")), |_, _| {})
            .await
            .unwrap();
        for d in &run.days {
            let entry = store.get_sync_log(&d.log_id).await.unwrap().unwrap();
            if !entry.lookback {
                // A day read the first time: its invalid records reported.
                assert_eq!(entry.counts.failed, invalid_on(d.date), "{}", d.date);
                continue;
            }
            let changed_now = night == day("2016-01-23") && d.date == day("2016-01-15");
            assert_eq!(
                entry.counts.failed,
                u64::from(changed_now),
                "{night}, looking back at {}: only the changed record again",
                d.date
            );
            assert_eq!(entry.failures.len() as u64, entry.counts.failed);
            assert_eq!(entry.counts.fetched, entry.counts.accounted());
            let status = if changed_now {
                RunStatus::Partial
            } else {
                RunStatus::Succeeded
            };
            assert_eq!(entry.status, status, "{night} {}", d.date);
        }
    }
}

#[tokio::test]
async fn the_nightly_lookback_catches_a_change_back_dated_to_a_day_already_done() {
    // The watermark trusts the portal's change dates: a correction the
    // portal records on the 21st under the 16th, a day already done, is
    // found by the next scheduled run reading the last 7 days again, and
    // its entry says it was the lookback.
    let store = fresh_store().await;
    let portal = simulator(data(40), day("2016-01-19")).await;
    let scheduled = |run: &str| RunRequest {
        trigger: learning_core::import_log::Trigger::Schedule,
        ..request(run)
    };
    let first = sync_on(&portal, &store, &settings(), day("2016-01-20"))
        .with_lookback(7)
        .run(&scheduled("night-20"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(first.watermark, Some(day("2016-01-19")));

    let mut late = portal
        .portal
        .day(day("2016-01-16"))
        .iter()
        .find(|r| r.is_passed())
        .expect("a passed record on the 16th")
        .clone();
    late.total_hours = format!("{:.1}", late.total_hours.parse::<f64>().unwrap() + 1.0);
    late.physical_hours = format!("{:.1}", late.physical_hours.parse::<f64>().unwrap() + 1.0);
    portal.portal.backdate(late.clone(), day("2016-01-21"));
    portal.portal.set_as_of(day("2016-01-21"));

    let second = sync_on(&portal, &store, &settings(), day("2016-01-22"))
        .with_lookback(7)
        .run(&scheduled("night-22"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(second.watermark, Some(day("2016-01-21")));
    let worked: Vec<NaiveDate> = second.days.iter().map(|d| d.date).collect();
    assert_eq!(
        worked,
        days("2016-01-20", "2016-01-21")
            .chain(days("2016-01-13", "2016-01-19"))
            .collect::<Vec<_>>(),
        "the due days, then the 7 days before them"
    );
    for d in &second.days {
        let entry = store.get_sync_log(&d.log_id).await.unwrap().unwrap();
        let found = entry.counts.inserted + entry.counts.updated + entry.counts.withdrawn;
        if d.date == day("2016-01-16") {
            assert!(entry.lookback);
            assert_eq!(entry.counts.updated, 1, "the back-dated correction");
            assert_eq!(found, 1);
        } else if d.date < day("2016-01-20") {
            assert!(entry.lookback);
            assert_eq!(found, 0, "{}: nothing late, nothing written", d.date);
        } else {
            assert!(!entry.lookback);
        }
    }
    let key = late.key();
    assert_eq!(stored(&store).await[&key], late.total_hours);
    // A run an operator starts works the due days only.
    let manual = sync_on(&portal, &store, &settings(), day("2016-01-22"))
        .with_lookback(7)
        .run(&request("by-hand"), |_, _| {})
        .await
        .unwrap();
    assert_eq!(manual.outcome, Outcome::UpToDate);
    assert!(manual.days.is_empty());
}

#[test]
fn bad_configuration_names_the_variable() {
    let env = learning_core::Env::from_pairs;
    let ok: &[(&str, &str)] = &[
        ("TABLE_NAME", "t"),
        ("PORTAL_BASE_URL", "http://127.0.0.1:9"),
        ("PORTAL_TOKEN", "x"),
    ];
    assert!(SyncConfig::from_env(&env(ok)).is_ok());
    for (bad, expected) in [
        (
            &[
                ("PORTAL_BASE_URL", "http://127.0.0.1:9"),
                ("PORTAL_TOKEN", "x"),
            ][..],
            "TABLE_NAME",
        ),
        (
            &[
                ("TABLE_NAME", "t"),
                ("PORTAL_BASE_URL", "http://127.0.0.1:9"),
                ("PORTAL_TOKEN", "x"),
                ("START_DATE", "yesterday"),
            ][..],
            "START_DATE",
        ),
        (
            &[
                ("TABLE_NAME", "t"),
                ("PORTAL_BASE_URL", "http://127.0.0.1:9"),
                ("PORTAL_TOKEN", "x"),
                ("SYNC_RESERVE_SECS", "1"),
            ][..],
            "SYNC_RESERVE_SECS",
        ),
    ] {
        let err = SyncConfig::from_env(&env(bad)).unwrap_err();
        assert_eq!(err.variable(), expected);
        assert!(err.to_string().contains(expected));
    }
}

#[test]
fn scheduled_events_and_manual_invocations_are_told_apart() {
    use daily_sync::SyncEvent;
    use learning_core::import_log::Trigger;
    let parse = |json: &str| serde_json::from_str::<SyncEvent>(json).unwrap().trigger();
    assert_eq!(
        parse(include_str!("events/scheduled-event.json")),
        Trigger::Schedule
    );
    assert_eq!(
        parse(include_str!("events/scheduler-event.json")),
        Trigger::Schedule
    );
    assert_eq!(parse("{}"), Trigger::Manual);
    assert_eq!(parse(r#"{"source":"operator"}"#), Trigger::Manual);

    let event: SyncEvent = serde_json::from_str(
        r#"{"rerun":{"from":"2016-01-04","to":"2016-01-06","requested_by":"admin-7"}}"#,
    )
    .unwrap();
    assert_eq!(event.trigger(), Trigger::Manual);
    assert_eq!(event.rerun.map(|r| r.to), Some(day("2016-01-06")));
    assert!(
        serde_json::from_str::<SyncEvent>(
            r#"{"rerun":{"from":"2016-01-04","to":"2016-01-06","requested_by":"a","all":true}}"#
        )
        .is_err(),
        "a re-run with fields it does not know is refused"
    );
}

#[tokio::test]
async fn in_the_cloud_the_portal_token_comes_from_an_ssm_secure_string() {
    let portal = simulator(data(20), day("2016-01-05")).await;
    let parameters = [("/webhr/portal-token".to_string(), PORTAL_TOKEN.to_string())];
    let ssm = local_stack::ssm::start_ssm(parameters.into(), 0)
        .await
        .unwrap();
    let ssm = local_stack::ssm_client(&ssm.url());
    let url = portal.url();
    let vars: &[(&str, &str)] = &[
        ("TABLE_NAME", "t"),
        ("PORTAL_BASE_URL", &url),
        ("PORTAL_TOKEN_PARAMETER", "/webhr/portal-token"),
    ];
    let mut config = SyncConfig::from_env(&learning_core::Env::from_pairs(vars)).unwrap();
    assert!(
        portal_client::PortalClient::new(config.portal.clone()).is_err(),
        "no client before the token is read"
    );
    config.portal.fetch_token(&ssm).await.unwrap();
    assert!(
        !format!("{config:?}").contains(PORTAL_TOKEN),
        "never printed"
    );
    let client = portal_client::PortalClient::new(config.portal.clone()).unwrap();
    let records = client.changes_on(day("2016-01-04")).await.unwrap();
    assert!(!records.is_empty(), "the portal accepted the token");

    config.portal.token_parameter = Some("/webhr/missing".into());
    let err = config.portal.fetch_token(&ssm).await.unwrap_err();
    assert_eq!(err.variable(), "PORTAL_TOKEN_PARAMETER");
    assert!(err.to_string().contains("/webhr/missing"), "{err}");
    assert!(!err.to_string().contains(PORTAL_TOKEN));
}

/// What a night's day did to each agency's records is kept record by
/// record beside its entry: every record the portal passed that day, as
/// the simulator served it, under its own agency.
#[tokio::test]
async fn a_days_changes_are_kept_record_by_record_per_agency() {
    let store = fresh_store().await;
    let today = day("2016-01-06");
    let portal = simulator(data(60), eve(today)).await;
    let summary = sync_on(&portal, &store, &settings(), today)
        .run(&request("night"), |_, _| {})
        .await
        .unwrap();
    let worked = &summary.days[3]; // 2016-01-04, a Monday
    assert_eq!(worked.date, day("2016-01-04"));
    let mut want: std::collections::BTreeMap<String, std::collections::BTreeSet<Key>> =
        Default::default();
    for r in portal
        .portal
        .day(worked.date)
        .iter()
        .filter(|r| valid(r) && r.is_passed())
    {
        want.entry(r.org_code.clone()).or_default().insert(r.key());
    }
    assert!(want.len() > 1, "several agencies that day");
    for (agency, keys) in &want {
        let kept = store.changes(&worked.log_id, agency).await.unwrap();
        assert!(
            kept.iter()
                .all(|(change, _)| *change == dynamodb_store::Change::Inserted)
        );
        let got: std::collections::BTreeSet<Key> = kept
            .iter()
            .map(|(_, k)| {
                (
                    k.id_no.as_str().to_string(),
                    k.course_code.clone(),
                    k.term,
                    k.start_date.to_string(),
                )
            })
            .collect();
        assert_eq!(&got, keys, "{agency}");
    }
}

/// Found by the year's soak: the lookback window ended at yesterday, so
/// after nights that failed a change back-dated just before them had
/// slid out of it by the time they were caught up, and was never read.
#[tokio::test]
async fn a_change_back_dated_before_failed_nights_is_found_when_they_are_caught_up() {
    let store = fresh_store().await;
    let portal = simulator(data(20), day("2016-01-19")).await;
    let scheduled = |run: &str| RunRequest {
        trigger: learning_core::import_log::Trigger::Schedule,
        ..request(run)
    };
    let night = |n: &str| sync_on(&portal, &store, &settings(), day(n)).with_lookback(7);
    night("2016-01-20")
        .run(&scheduled("night-20"), |_, _| {})
        .await
        .unwrap();
    // Recorded on the 20th under the 14th: six days back, in reach of
    // the next night.
    let mut late = portal
        .portal
        .day(day("2016-01-14"))
        .iter()
        .find(|r| r.is_passed() && r.defect.is_none())
        .expect("a record on the 14th")
        .clone();
    late.course_name.push_str("（更正）");
    portal.portal.backdate(late.clone(), day("2016-01-20"));
    // The next two nights the portal is down.
    portal.portal.set_faults(Faults {
        outage: true,
        ..Faults::default()
    });
    for (n, as_of) in [("2016-01-21", "2016-01-20"), ("2016-01-22", "2016-01-21")] {
        portal.portal.set_as_of(day(as_of));
        assert!(night(n).run(&scheduled(n), |_, _| {}).await.is_err());
    }
    portal.portal.set_faults(Faults::default());
    portal.portal.set_as_of(day("2016-01-22"));
    let caught_up = night("2016-01-23")
        .run(&scheduled("night-23"), |_, _| {})
        .await
        .unwrap();
    assert!(
        caught_up.days.iter().any(|d| d.date == day("2016-01-14")),
        "the 14th read again"
    );
    let held = store
        .get_record(&raw(&late).validate().unwrap().key())
        .await
        .unwrap()
        .unwrap();
    assert!(held.record.course_name.ends_with("（更正）"));
}

/// A lookback day the portal failed to answer is read again the next
/// night, even once it has passed out of that night's window.
#[tokio::test]
async fn a_lookback_day_not_read_is_read_again_the_next_night() {
    let store = fresh_store().await;
    let portal = simulator(data(10), day("2016-01-19")).await;
    let scheduled = |run: &str| RunRequest {
        trigger: learning_core::import_log::Trigger::Schedule,
        ..request(run)
    };
    let mut config = portal_config(&portal);
    config.max_attempts = 1;
    let night = |n: &str| {
        sync_with(
            portal_client::PortalClient::new(config.clone()).unwrap(),
            &store,
            &settings(),
            day(n),
        )
        .with_lookback(7)
    };
    night("2016-01-20")
        .run(&scheduled("night-20"), |_, _| {})
        .await
        .unwrap();
    // The next night the portal breaks once its due day is written.
    portal.portal.set_as_of(day("2016-01-20"));
    let sim = portal.portal.clone();
    let broken = night("2016-01-21")
        .run(&scheduled("night-21"), |entry, _| {
            if !entry.lookback {
                sim.set_faults(Faults {
                    outage: true,
                    ..Faults::default()
                });
            }
        })
        .await
        .unwrap();
    let looked: Vec<_> = broken
        .days
        .iter()
        .filter(|d| d.date < day("2016-01-20"))
        .collect();
    assert!(!looked.is_empty() && looked.iter().all(|d| d.status == RunStatus::Failed));
    let first_missed = looked[0].date;
    assert!(
        first_missed < day("2016-01-21") - chrono::Days::new(7),
        "{first_missed} is out of the next night's own window"
    );
    portal.portal.set_faults(Faults::default());
    portal.portal.set_as_of(day("2016-01-21"));
    let next = night("2016-01-22")
        .run(&scheduled("night-22"), |_, _| {})
        .await
        .unwrap();
    assert!(
        next.days
            .iter()
            .any(|d| d.date == first_missed && d.status == RunStatus::Succeeded),
        "{first_missed} read again: {:?}",
        next.days.iter().map(|d| d.date).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn an_entry_a_dead_run_left_running_is_closed_by_the_next_run() {
    let store = fresh_store().await;
    let portal = simulator(data(5), day("2016-01-05")).await;
    let first = sync_on(&portal, &store, &settings(), day("2016-01-05"))
        .run(&request("first"), |_, _| {})
        .await
        .unwrap();
    let last = first.days.last().expect("days done");
    let started = store
        .get_sync_log(&last.log_id)
        .await
        .unwrap()
        .unwrap()
        .started_at;
    // What a run killed mid-day (or whose entry's last write the table
    // refused) leaves: its day's entry, begun and never finished.
    let dead = SyncLogEntry::start(
        "dead",
        learning_core::import_log::Trigger::Schedule,
        day("2016-01-05"),
        started,
    );
    store.put_sync_log(&dead).await.unwrap();

    let next = sync_on(&portal, &store, &settings(), day("2016-01-06"))
        .run(&request("next"), |_, _| {})
        .await
        .unwrap();
    let closed = store.get_sync_log(&dead.log_id).await.unwrap().unwrap();
    assert_eq!(closed.status, RunStatus::Failed);
    assert!(closed.finished_at.is_some());
    let error = closed.error.expect("a reason");
    assert_eq!(error.code, "interrupted");
    assert!(error.message.contains("中斷"), "{}", error.message);
    // The day itself is done by the run that closed it.
    let redone = next
        .days
        .iter()
        .find(|d| d.date == day("2016-01-05"))
        .expect("the day done again");
    assert_eq!(redone.status, RunStatus::Succeeded);
    assert_ne!(redone.log_id, dead.log_id);
    assert_eq!(store.watermark().await.unwrap(), Some(day("2016-01-05")));
}
