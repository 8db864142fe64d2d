//! The DynamoDB store against a real engine: the embedded one by default,
//! AWS's DynamoDB Local when `DYNAMODB_ENDPOINT` points at it (CI does both).

use chrono::{Duration, Utc};
use dynamodb_store::StoreError;
use learning_core::import_log::{RunStatus, SyncLogEntry, Trigger};
use learning_core::record::RawRecord;
use learning_core::{Hours, Source, TrainingRecord};
use system_tests::*;

fn record(id: &str, course: &str, hours: &str) -> TrainingRecord {
    RawRecord {
        id_no: id,
        name: "測試員",
        birth_date: "0750412",
        org_code: "376550000A",
        org_name: "範例市政府人事處",
        course_code: course,
        course_name: "性別主流化基礎課程",
        category_code: "3A",
        provider: "e等公務園+",
        term: "1",
        start_date: "1140901",
        end_date: "1140930",
        mode: "1",
        digital_hours: hours,
        physical_hours: "0",
        total_hours: hours,
        status: "通過",
        passed_date: "1140918",
        changed_date: "1140919",
    }
    .validate()
    .expect("a valid test record")
}

const ID: &str = "A123456789";

#[tokio::test]
async fn portal_upserts_count_inserts_updates_and_unchanged_and_dedupe_keys() {
    let store = fresh_store().await;
    let now = Utc::now();
    let first = [
        record(ID, "C1", "2.0"),
        record(ID, "C2", "1.5"),
        record(ID, "C1", "3.0"),
    ];
    let counts = store
        .upsert_portal_records(&from_portal(&first), Source::AutoImport, "log-1", now)
        .await
        .unwrap();
    assert_eq!(
        (
            counts.total.inserted,
            counts.total.updated,
            counts.total.unchanged
        ),
        (2, 0, 0)
    );
    let c1 = store.get_record(&first[0].key()).await.unwrap().unwrap();
    assert_eq!(
        c1.record.total_hours,
        Hours::from_tenths(30),
        "the last repeat wins"
    );
    assert_eq!(c1.version, 1);
    assert!(c1.locked);

    let second = [record(ID, "C1", "3.0"), record(ID, "C2", "2.5")];
    let counts = store
        .upsert_portal_records(&from_portal(&second), Source::AutoImport, "log-2", now)
        .await
        .unwrap();
    assert_eq!(
        (
            counts.total.inserted,
            counts.total.updated,
            counts.total.unchanged
        ),
        (0, 1, 1)
    );
    let c2 = store.get_record(&second[1].key()).await.unwrap().unwrap();
    assert_eq!((c2.version, c2.written_by.as_str()), (2, "log-2"));
    assert_eq!(
        store
            .records_of_person(&first[0].id_no)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn large_batches_are_split_and_all_written() {
    let store = fresh_store().await;
    let records: Vec<TrainingRecord> = (0..260)
        .map(|i| record(ID, &format!("BULK{i:04}"), "1.0"))
        .collect();
    let counts = store
        .upsert_portal_records(
            &from_portal(&records),
            Source::AutoImport,
            "bulk",
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(counts.total.inserted, 260);
    assert_eq!(counts.by_agency["376550000A"].inserted, 260);
    assert_eq!(stored(&store).await.len(), 260);
    let again = store
        .upsert_portal_records(
            &from_portal(&records),
            Source::AutoImport,
            "bulk",
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(again.total.unchanged, 260);
}

#[tokio::test]
async fn the_database_refuses_to_edit_or_delete_a_locked_record() {
    let store = fresh_store().await;
    for source in [Source::AutoImport, Source::Download] {
        let r = record(ID, source.as_str(), "2.0");
        store
            .upsert_portal_records(
                &from_portal(std::slice::from_ref(&r)),
                source,
                "log",
                Utc::now(),
            )
            .await
            .unwrap();
        let edited = TrainingRecord {
            total_hours: Hours::from_tenths(90),
            digital_hours: Hours::from_tenths(90),
            ..r.clone()
        };
        let err = store
            .update_staff_record(&edited, &r.org_code, 1, "staff-1", Utc::now())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Locked), "{err:?}");
        assert_eq!(err.code(), "record_locked");
        // Staff read why in the API's words: the record came from the portal.
        assert!(api::ApiError::from(err).message().contains("入口網"));
        let err = store
            .delete_staff_record(&r.key(), &r.org_code, 1)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Locked), "{err:?}");
        let kept = store.get_record(&r.key()).await.unwrap().unwrap();
        assert_eq!(
            (kept.record.total_hours, kept.version),
            (Hours::from_tenths(20), 1)
        );
    }
}

#[tokio::test]
async fn the_lock_is_a_database_condition_not_application_code() {
    // Even a raw DeleteItem with the store's condition, bypassing every
    // check in our code, is refused by the engine.
    let store = fresh_store().await;
    let r = record(ID, "RAW1", "2.0");
    store
        .upsert_portal_records(
            &from_portal(std::slice::from_ref(&r)),
            Source::AutoImport,
            "log",
            Utc::now(),
        )
        .await
        .unwrap();
    let result = store
        .client()
        .delete_item()
        .table_name(store.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("PERSON#{ID}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("REC#RAW1#0001#2025-09-01".into()),
        )
        .condition_expression("attribute_exists(pk) AND #locked = :false")
        .expression_attribute_names("#locked", "locked")
        .expression_attribute_values(
            ":false",
            aws_sdk_dynamodb::types::AttributeValue::Bool(false),
        )
        .send()
        .await;
    let err = result.expect_err("the engine refuses");
    assert!(
        err.into_service_error()
            .is_conditional_check_failed_exception()
    );
    assert!(store.get_record(&r.key()).await.unwrap().is_some());
}

#[tokio::test]
async fn staff_records_stay_editable_with_optimistic_concurrency() {
    let store = fresh_store().await;
    let r = record(ID, "STAFF1", "2.0");
    let created = store
        .create_staff_record(&r, "staff-1", Utc::now())
        .await
        .unwrap();
    assert_eq!(
        (created.version, created.source, created.locked),
        (1, Source::StaffEntered, false)
    );
    assert!(matches!(
        store.create_staff_record(&r, "staff-1", Utc::now()).await,
        Err(StoreError::AlreadyExists)
    ));

    let edited = TrainingRecord {
        total_hours: Hours::from_tenths(30),
        digital_hours: Hours::from_tenths(30),
        ..r.clone()
    };
    let updated = store
        .update_staff_record(&edited, &r.org_code, 1, "staff-2", Utc::now())
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    let stale = store
        .update_staff_record(&edited, &r.org_code, 1, "staff-3", Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(stale, StoreError::VersionMismatch { current: 2 }),
        "{stale:?}"
    );
    assert!(matches!(
        store.delete_staff_record(&r.key(), &r.org_code, 1).await,
        Err(StoreError::VersionMismatch { .. })
    ));
    store
        .delete_staff_record(&r.key(), &r.org_code, 2)
        .await
        .unwrap();
    assert!(store.get_record(&r.key()).await.unwrap().is_none());
    assert!(matches!(
        store.delete_staff_record(&r.key(), &r.org_code, 2).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn staff_edits_and_deletes_are_conditioned_on_the_agency() {
    // Staff of another agency who somehow name the key (or a record that
    // moved agency after it was read) meet the database's condition: the
    // record is told as missing and stays as it was.
    let store = fresh_store().await;
    let r = record(ID, "TENANT1", "2.0");
    store
        .create_staff_record(&r, "staff-1", Utc::now())
        .await
        .unwrap();
    let other = learning_core::AgencyCode::parse("382000000A").unwrap();
    assert_ne!(other, r.org_code);
    let taken = TrainingRecord {
        org_code: other.clone(),
        ..r.clone()
    };
    assert!(matches!(
        store
            .update_staff_record(&taken, &other, 1, "intruder", Utc::now())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_staff_record(&r.key(), &other, 1).await,
        Err(StoreError::NotFound)
    ));
    let kept = store.get_record(&r.key()).await.unwrap().unwrap();
    assert_eq!((kept.record.org_code, kept.version), (r.org_code, 1));
}

#[tokio::test]
async fn a_portal_record_replaces_a_staff_record_with_the_same_key_and_locks_it() {
    let store = fresh_store().await;
    let typed = record(ID, "SAME1", "1.0");
    store
        .create_staff_record(&typed, "staff-1", Utc::now())
        .await
        .unwrap();
    let official = record(ID, "SAME1", "2.0");
    let counts = store
        .upsert_portal_records(
            &from_portal(std::slice::from_ref(&official)),
            Source::AutoImport,
            "log",
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (counts.total.updated, counts.total.replaced_staff),
        (0, 1),
        "a record typed by hand, replaced by the official one, counted apart"
    );
    let now = store.get_record(&official.key()).await.unwrap().unwrap();
    assert_eq!(
        (now.source, now.locked, now.version),
        (Source::AutoImport, true, 2)
    );
    assert_eq!(now.record.total_hours, Hours::from_tenths(20));
}

#[tokio::test]
async fn withdrawing_removes_the_portals_records_and_csv_copies_never_staffs() {
    let store = fresh_store().await;
    let portal = record(ID, "W1", "1.0");
    let staff = record(ID, "W2", "1.0");
    // An agency's CSV import of the portal's export: the portal's record
    // too, which the portal can withdraw.
    let imported = record(ID, "W4", "1.0");
    store
        .write_csv_records(std::slice::from_ref(&imported), "csv-1", Utc::now())
        .await
        .unwrap();
    store
        .upsert_portal_records(
            &from_portal(std::slice::from_ref(&portal)),
            Source::AutoImport,
            "log",
            Utc::now(),
        )
        .await
        .unwrap();
    store
        .create_staff_record(&staff, "staff-1", Utc::now())
        .await
        .unwrap();
    let absent = record(ID, "W3", "1.0");
    let removed = store
        .withdraw(
            &from_portal(&[portal.clone(), staff.clone(), absent, imported.clone()]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        removed
            .iter()
            .flatten()
            .collect::<std::collections::BTreeSet<_>>(),
        [portal.key(), imported.key()].iter().collect(),
    );
    assert!(store.get_record(&portal.key()).await.unwrap().is_none());
    assert!(store.get_record(&imported.key()).await.unwrap().is_none());
    assert!(store.get_record(&staff.key()).await.unwrap().is_some());
}

#[tokio::test]
async fn import_log_entries_come_back_newest_first_within_a_range() {
    let store = fresh_store().await;
    let base = "2026-10-30T16:00:00Z"
        .parse::<chrono::DateTime<Utc>>()
        .unwrap();
    for i in 0..5 {
        let mut entry = SyncLogEntry::start(
            &format!("run{i}"),
            Trigger::Schedule,
            day("2026-10-29"),
            base + Duration::days(i),
        );
        entry.status = RunStatus::Succeeded;
        store.put_sync_log(&entry).await.unwrap();
    }
    let all = store
        .sync_logs_between(base, base + Duration::days(10))
        .await
        .unwrap();
    let runs: Vec<&str> = all.iter().map(|e| e.run_id.as_str()).collect();
    assert_eq!(
        runs,
        ["run4", "run3", "run2", "run1", "run0"],
        "newest first, across a month boundary"
    );
    let some = store
        .sync_logs_between(base + Duration::days(1), base + Duration::days(3))
        .await
        .unwrap();
    let runs: Vec<&str> = some.iter().map(|e| e.run_id.as_str()).collect();
    assert_eq!(runs, ["run2", "run1"]);
    let one = store.get_sync_log(&all[0].log_id).await.unwrap().unwrap();
    assert_eq!(one, all[0]);
}

#[tokio::test]
async fn the_lease_admits_one_run_until_it_expires() {
    let store = fresh_store().await;
    let now = Utc::now();
    store
        .acquire_lease("run-a", now, now + Duration::minutes(15))
        .await
        .unwrap();
    let held = store
        .acquire_lease("run-b", now, now + Duration::minutes(15))
        .await
        .unwrap_err();
    assert!(
        matches!(&held, StoreError::LeaseHeld { owner, .. } if owner == "run-a"),
        "{held:?}"
    );
    store
        .acquire_lease("run-a", now, now + Duration::minutes(20))
        .await
        .unwrap();
    // A crashed run's lease runs out.
    store
        .acquire_lease(
            "run-b",
            now + Duration::minutes(21),
            now + Duration::minutes(40),
        )
        .await
        .unwrap();
    store.release_lease("run-a").await.unwrap();
    assert!(
        store
            .acquire_lease(
                "run-c",
                now + Duration::minutes(22),
                now + Duration::minutes(40)
            )
            .await
            .is_err()
    );
    store.release_lease("run-b").await.unwrap();
    store
        .acquire_lease(
            "run-c",
            now + Duration::minutes(22),
            now + Duration::minutes(40),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_watermark_moves_only_from_where_it_was() {
    let store = fresh_store().await;
    assert_eq!(store.watermark().await.unwrap(), None);
    store
        .advance_watermark(None, day("2016-01-01"), Utc::now())
        .await
        .unwrap();
    assert!(matches!(
        store
            .advance_watermark(None, day("2016-01-02"), Utc::now())
            .await,
        Err(StoreError::WatermarkMoved { .. })
    ));
    store
        .advance_watermark(Some(day("2016-01-01")), day("2016-01-02"), Utc::now())
        .await
        .unwrap();
    assert_eq!(store.watermark().await.unwrap(), Some(day("2016-01-02")));

    // The same move again (an SDK retry whose first answer was lost) is
    // success; a move from a stale day is not.
    for expected in [Some(day("2016-01-01")), None] {
        store
            .advance_watermark(expected, day("2016-01-02"), Utc::now())
            .await
            .unwrap();
    }
    assert!(matches!(
        store
            .advance_watermark(Some(day("2016-01-01")), day("2016-01-03"), Utc::now())
            .await,
        Err(StoreError::WatermarkMoved { .. })
    ));
    assert_eq!(store.watermark().await.unwrap(), Some(day("2016-01-02")));
}

#[tokio::test]
async fn unprocessed_items_are_retried_until_written() {
    let direct = fresh_store().await;
    let proxy = fault_proxy().await;
    let store = proxy.store(&direct).with_retry(dynamodb_store::BatchRetry {
        base: std::time::Duration::from_millis(1),
        ..Default::default()
    });
    proxy
        .throttled_writes
        .store(3, std::sync::atomic::Ordering::SeqCst);
    let records: Vec<TrainingRecord> = (0..60)
        .map(|i| record(ID, &format!("T{i:03}"), "1.0"))
        .collect();
    let counts = store
        .upsert_portal_records(
            &from_portal(&records),
            Source::AutoImport,
            "log",
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(counts.total.inserted, 60);
    assert_eq!(
        proxy
            .throttled_writes
            .load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the throttling happened"
    );
    assert_eq!(stored(&direct).await.len(), 60);
}

#[tokio::test]
async fn a_store_that_keeps_throttling_fails_loudly() {
    let direct = fresh_store().await;
    let proxy = fault_proxy().await;
    let store = proxy.store(&direct).with_retry(dynamodb_store::BatchRetry {
        max_attempts: 3,
        base: std::time::Duration::from_millis(1),
        ..Default::default()
    });
    proxy
        .throttled_writes
        .store(-1, std::sync::atomic::Ordering::SeqCst);
    let records = [record(ID, "STUCK1", "1.0")];
    let err = store
        .upsert_portal_records(
            &from_portal(&records),
            Source::AutoImport,
            "log",
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::RetriesExhausted {
                operation: "BatchWriteItem",
                attempts: 3,
                remaining: 1
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "store_throttled");
    assert!(stored(&direct).await.is_empty());
}

/// The stored version of `record`'s key, which must be there.
async fn held(
    store: &dynamodb_store::Store,
    record: &TrainingRecord,
) -> dynamodb_store::StoredRecord {
    store
        .get_record(&record.key())
        .await
        .unwrap()
        .expect("a stored record")
}

#[tokio::test]
async fn csv_writes_keep_the_rules_and_a_replay_counts_as_the_first_time() {
    use dynamodb_store::CsvOutcome;
    let store = fresh_store().await;
    let now = Utc::now();
    let portal = record(ID, "CSV-P", "2.0");
    let staff = record(ID, "CSV-S", "2.0");
    let other_agency = TrainingRecord {
        org_code: learning_core::AgencyCode::parse("379000000A").unwrap(),
        ..record(ID, "CSV-O", "2.0")
    };
    store
        .upsert_portal_records(
            &from_portal(std::slice::from_ref(&portal)),
            Source::AutoImport,
            "sync-1",
            now,
        )
        .await
        .unwrap();
    store
        .create_staff_record(&staff, "staff-1", now)
        .await
        .unwrap();
    store
        .create_staff_record(&other_agency, "staff-2", now)
        .await
        .unwrap();
    let changed = |r: &TrainingRecord| TrainingRecord {
        digital_hours: Hours::from_tenths(30),
        total_hours: Hours::from_tenths(30),
        ..r.clone()
    };
    let rows = [
        record(ID, "CSV-N1", "1.0"),
        changed(&portal),
        changed(&staff),
        record(ID, "CSV-O", "3.0"),
        record(ID, "CSV-N2", "1.0"),
    ];
    let want = [
        CsvOutcome::Inserted,
        CsvOutcome::Locked(Source::AutoImport),
        CsvOutcome::ReplacedStaff,
        CsvOutcome::OtherAgency(other_agency.org_code.clone()),
        CsvOutcome::Inserted,
    ];
    let first = store.write_csv_records(&rows, "csv-1", now).await.unwrap();
    assert_eq!(first, want);
    let stored = held(&store, &rows[0]).await;
    assert_eq!(
        (stored.source, stored.version, stored.written_by.as_str()),
        (Source::CsvImport, 1, "csv-1")
    );
    let replaced = held(&store, &staff).await;
    assert_eq!((replaced.source, replaced.version), (Source::CsvImport, 2));
    assert_eq!(replaced.record, rows[2]);
    // The portal's record and the other agency's are as they were.
    assert_eq!(held(&store, &portal).await.record, portal);
    assert_eq!(held(&store, &other_agency).await.record, other_agency);

    // The same import again (a replay after a crash): the same outcomes,
    // nothing written twice.
    let replay = store.write_csv_records(&rows, "csv-1", now).await.unwrap();
    assert_eq!(replay, want);
    assert_eq!(held(&store, &staff).await.version, 2);
    // Another import of the same rows finds them as they are.
    let again = store.write_csv_records(&rows, "csv-2", now).await.unwrap();
    assert_eq!(again[0], CsvOutcome::Unchanged);
    assert_eq!(again[2], CsvOutcome::Unchanged);
}

#[tokio::test]
async fn two_imports_inserting_the_same_new_records_at_once_insert_each_once() {
    use dynamodb_store::CsvOutcome;
    let store = fresh_store().await;
    let rows: Vec<TrainingRecord> = (0..dynamodb_store::MAX_BATCH_RECORDS)
        .map(|i| record(ID, &format!("RACE{i:03}"), "1.0"))
        .collect();
    let (a, b) = tokio::join!(
        store.write_csv_records(&rows, "csv-a", Utc::now()),
        store.write_csv_records(&rows, "csv-b", Utc::now())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    for (i, pair) in a.iter().zip(&b).enumerate() {
        // An INSERT that lost the race is read again: the winner's record,
        // unchanged for the loser.
        assert!(
            matches!(
                pair,
                (CsvOutcome::Inserted, CsvOutcome::Unchanged)
                    | (CsvOutcome::Unchanged, CsvOutcome::Inserted)
            ),
            "row {i}: {pair:?}"
        );
        let stored = held(&store, &rows[i]).await;
        assert_eq!(stored.version, 1);
    }
}

/// The same portal record (one identity) under a corrected start date.
fn moved(from: &learning_core::FromPortal, days_earlier: i64) -> learning_core::FromPortal {
    let mut moved = from.clone();
    moved.record.start_date -= Duration::days(days_earlier);
    moved
}

#[tokio::test]
async fn a_corrected_key_moves_the_portals_record_once_and_over_a_typed_one() {
    let store = fresh_store().await;
    let first = from_portal(&[record(ID, "K1", "2.0"), record(ID, "K2", "3.0")]);
    store
        .upsert_portal_records(&first, Source::AutoImport, "night-1", Utc::now())
        .await
        .unwrap();
    // Staff typed in the second one under the date the portal corrects to.
    let typed = moved(&first[1], 1);
    store
        .create_staff_record(&typed.record, "staff-1", Utc::now())
        .await
        .unwrap();
    let corrections = [moved(&first[0], 2), typed.clone()];
    let done = store
        .upsert_portal_records(&corrections, Source::AutoImport, "night-2", Utc::now())
        .await
        .unwrap();
    assert_eq!(
        (
            done.total.inserted,
            done.total.updated,
            done.total.replaced_staff
        ),
        (0, 1, 1),
        "a correction is an update; over a typed record, a replacement"
    );
    let changes: Vec<_> = done
        .changed
        .iter()
        .map(|(_, change, key)| (change.as_str(), key.course_code.as_str(), key.start_date))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let start = |f: &learning_core::FromPortal| f.record.start_date;
    assert_eq!(
        changes,
        [
            ("corrected", "K1", start(&corrections[0])),
            ("corrected_away", "K1", start(&first[0])),
            ("corrected_away", "K2", start(&first[1])),
            ("replaced_staff", "K2", start(&typed)),
        ]
    );
    let held: Vec<_> = store
        .records_of_person(&first[0].record.id_no)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.record.course_code,
                r.record.start_date,
                r.source,
                r.version,
            )
        })
        .collect();
    assert_eq!(
        held,
        [
            ("K1".into(), start(&corrections[0]), Source::AutoImport, 1),
            ("K2".into(), start(&typed), Source::AutoImport, 2),
        ],
        "each record once, under its corrected key"
    );
    // The same night again: nothing left to move.
    let again = store
        .upsert_portal_records(&corrections, Source::AutoImport, "night-2", Utc::now())
        .await
        .unwrap();
    assert_eq!((again.total.unchanged, again.changed.len()), (2, 0));
}

#[tokio::test]
async fn a_withdrawal_under_a_corrected_key_never_read_removes_the_former() {
    let store = fresh_store().await;
    let held = from_portal(&[record(ID, "W1", "2.0"), record(ID, "W2", "2.0")]);
    store
        .upsert_portal_records(&held, Source::AutoImport, "night-1", Utc::now())
        .await
        .unwrap();
    // The portal corrected W1's start date, then withdrew it; WebHR only
    // ever reads the withdrawal, under the corrected key. Another course
    // of the same person with the same identity is not that record.
    let mut withdrawn = moved(&held[0], 3);
    withdrawn.record.status = learning_core::record::LearningStatus::NotPassed("withdrawn".into());
    let mut other_course = withdrawn.clone();
    other_course.record.course_code = "W2".into();
    let removed = store
        .withdraw(&[withdrawn, other_course], None)
        .await
        .unwrap();
    assert_eq!(removed.len(), 2);
    assert_eq!(removed[0], [held[0].record.key()]);
    assert!(removed[1].is_empty(), "W2 is another record");
    assert!(
        store
            .get_record(&held[0].record.key())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_record(&held[1].record.key())
            .await
            .unwrap()
            .is_some()
    );
}

/// The fault proxy strikes under its cloud model too (the year's soak
/// found it did not: a year "with DynamoDB faults" had none).
#[tokio::test]
async fn the_fault_proxy_strikes_under_its_cloud_model_too() {
    let direct = fresh_store().await;
    let proxy = fault_proxy().await;
    proxy.set_cloud_model(CloudModel::with_capacity(1000.0));
    proxy.set_faults(DbFaults {
        server_error_rate: 1.0,
        ..DbFaults::default()
    });
    let store = proxy.store(&direct).with_retry(dynamodb_store::BatchRetry {
        max_attempts: 2,
        base: std::time::Duration::from_millis(1),
        cap: std::time::Duration::from_millis(2),
        ..Default::default()
    });
    let failed = store
        .upsert_portal_records(
            &from_portal(&[record(ID, "PX1", "1.0")]),
            Source::AutoImport,
            "log",
            Utc::now(),
        )
        .await;
    assert!(failed.is_err(), "every call answered 500");
    assert!(proxy.injected()["500"] >= 1, "{:?}", proxy.injected());
}
