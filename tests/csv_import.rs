//! The CSV import end to end on 127.0.0.1: a file uploaded to the embedded
//! S3 raises the event S3 sends, the local Lambda delivers it to the
//! import, rows land in the embedded DynamoDB and the report in S3.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use csv_import::Handled;
use learning_core::import_log::{CsvImportEntry, CsvImportView, RunStatus};
use learning_core::{RawRecord, Source};
use local_stack::lambda::Invocations;
use portal_sim::csv_file::{CsvEncoding, HEADER};
use system_tests::{
    AGENCY, CsvStack, csv_stack, expected_records, generated_csv, record_items, stored,
};

async fn stack() -> CsvStack {
    csv_stack(Invocations::default(), Duration::from_secs(5)).await
}

fn key(name: &str) -> String {
    format!("uploads/{AGENCY}/{name}")
}

/// Hand-written rows (line 2 onward) with valid check digits.
fn rows_file(rows: &[&str]) -> Vec<u8> {
    let mut text = format!("{HEADER}\r\n");
    for row in rows {
        text.push_str(row);
        text.push_str("\r\n");
    }
    text.into_bytes()
}

const LAST_DAY: &str = "A123456789,林怡君,0750412,376550000A,範例市政府人事處,EC10400123,\"性別主流化,基礎課程\",3A,e等公務園+,1,1041201,1041210,1,2.0,0.0,2.0,通過,1041215,1041231";
const FIRST_DAY_AFTER: &str = "F228035170,王明,0700101,376550000A,範例市政府人事處,EC10500001,資訊安全通識,5D,e等公務園+,1,1041228,1041230,1,1.5,0,1.5,通過,1041230,1050101";

async fn report(stack: &CsvStack, entry: &CsvImportEntry) -> Vec<Vec<String>> {
    let key = entry.report_key.as_deref().expect("a report");
    let bytes = stack.object(key).await.expect("report in S3");
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "UTF-8 with BOM for Excel"
    );
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[3..])
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utf8_bom_utf8_and_big5_files_import_from_an_upload() {
    let stack = stack().await;
    let bom = generated_csv(250, CsvEncoding::Utf8Bom, 1);
    let plain = generated_csv(250, CsvEncoding::Utf8Bom, 2)[3..].to_vec();
    let big5 = generated_csv(250, CsvEncoding::Big5, 3);
    let mut want = expected_records(&bom);
    want.extend(expected_records(&plain));
    want.extend(expected_records(&big5));

    let files = [
        (
            stack.upload(&key("名單 UTF-8 BOM.csv"), bom).await,
            "UTF-8 (BOM)",
        ),
        (stack.upload(&key("plain.csv"), plain).await, "UTF-8"),
        (stack.upload(&key("big5.CSV"), big5).await, "Big5"),
    ];
    for (file, encoding) in &files {
        let entry = stack.finished(file).await;
        assert_eq!(
            entry.status,
            RunStatus::Succeeded,
            "{encoding}: {:?}",
            entry.error
        );
        assert_eq!(entry.encoding.as_deref(), Some(*encoding));
        assert_eq!(entry.counts.rows, 250);
        assert_eq!(entry.counts.inserted, 250);
        assert_eq!(entry.counts.accounted(), entry.counts.rows);
        assert_eq!(entry.agency.as_ref().map(|a| a.as_str()), Some(AGENCY));
        assert!(entry.report_key.is_none(), "no rejected rows, no report");
        let summary = stack
            .object(entry.summary_key.as_deref().unwrap())
            .await
            .unwrap();
        let summary: CsvImportView = serde_json::from_slice(&summary).unwrap();
        assert_eq!(summary.counts, entry.counts);
    }
    system_tests::assert_same_records(&stored(&stack.store).await, &want);
    for item in record_items(&stack.store).await {
        assert_eq!(item["source"].as_s().unwrap(), Source::CsvImport.as_str());
        assert_eq!(
            item["locked"].as_bool().unwrap(),
            &false,
            "CSV records stay editable"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_upload_triggers_the_import_too() {
    let stack = stack().await;
    let bytes = generated_csv(120, CsvEncoding::Big5, 9);
    let key = key("multipart.csv");
    let created = stack
        .s3
        .create_multipart_upload()
        .bucket(&stack.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    let id = created.upload_id().unwrap();
    let part = stack
        .s3
        .upload_part()
        .bucket(&stack.bucket)
        .key(&key)
        .upload_id(id)
        .part_number(1)
        .body(bytes.clone().into())
        .send()
        .await
        .unwrap();
    let done = stack
        .s3
        .complete_multipart_upload()
        .bucket(&stack.bucket)
        .key(&key)
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .set_e_tag(part.e_tag)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let file = learning_core::import_log::UploadedFile {
        bucket: stack.bucket.clone(),
        key,
        version_id: None,
        etag: done.e_tag().map(|e| e.trim_matches('"').to_string()),
        size: bytes.len() as u64,
    };
    let entry = stack.finished(&file).await;
    assert_eq!(entry.status, RunStatus::Succeeded, "{:?}", entry.error);
    assert_eq!(entry.counts.inserted, 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cutoff_keeps_2015_12_31_and_refuses_2016_01_01() {
    let stack = stack().await;
    let file = stack
        .upload(&key("cutoff.csv"), rows_file(&[LAST_DAY, FIRST_DAY_AFTER]))
        .await;
    let entry = stack.finished(&file).await;
    assert_eq!(entry.status, RunStatus::Partial);
    assert_eq!(
        (
            entry.counts.rows,
            entry.counts.inserted,
            entry.counts.rejected
        ),
        (2, 1, 1)
    );
    assert_eq!(entry.reasons.get("after_cutoff"), Some(&1));
    let report = report(&stack, &entry).await;
    assert_eq!(report[0], ["列號", "欄位", "內容", "代碼", "原因"]);
    assert_eq!(report.len(), 2);
    assert_eq!(report[1][0], "3", "the line staff see in their spreadsheet");
    assert_eq!(report[1][1], "異動日期");
    assert_eq!(report[1][2], "1050101");
    assert_eq!(report[1][3], "after_cutoff");
    assert!(report[1][4].contains("自動入檔"), "{}", report[1][4]);
    // Only the 2015-12-31 record was written.
    let records = record_items(&stack.store).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["changed_date"].as_s().unwrap(), "2015-12-31");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refused_row_is_in_the_report_with_ids_masked() {
    let stack = stack().await;
    let bad = [
        LAST_DAY,
        // checksum
        "A123456780,陳家豪,0700101,376550000A,範例市政府人事處,EC10400124,公務倫理與廉政,1A,e等公務園+,1,1041101,1041102,2,0,3.0,3.0,通過,1041103,1041104",
        // other agency
        "F228035170,王明,0700101,379000000A,臺北市政府人事處,EC10400125,公文寫作技巧,4D,e等公務園+,1,2015-10-01,2015-10-02,2,0,3,3,通過,2015-10-03,2015-10-04",
        // duplicate of line 2
        LAST_DAY,
        // not passed
        "F228035170,王明,0700101,376550000A,範例市政府人事處,EC10400126,人權兩公約導論,1B,e等公務園+,2,1040901,1040902,1,1,0,1,退回,,1040905",
        // total ≠ digital + physical
        "F228035170,王明,0700101,376550000A,範例市政府人事處,EC10400127,災害防救概論,2C,e等公務園+,1,104/9/1,104/9/2,3,1.0,1.0,2.5,通過,104/9/3,104/9/4",
        // a date that does not exist
        "F228035170,王明,0700101,376550000A,範例市政府人事處,EC10400128,公務禮儀,2C,e等公務園+,1,1040230,1040301,1,1,0,1,通過,1040301,1040302",
        // a formula where a course name goes
        "F228035170,王明,0700101,376550000A,範例市政府人事處,EC10400129,=HYPERLINK(\"x\"),2C,e等公務園+,1,1040301,1040301,1,1,0,-1,通過,1040301,1040302",
    ];
    let file = stack.upload(&key("bad-rows.csv"), rows_file(&bad)).await;
    let entry = stack.finished(&file).await;
    assert_eq!(entry.status, RunStatus::Partial);
    assert_eq!(entry.counts.rows, 8);
    assert_eq!(entry.counts.inserted, 1);
    assert_eq!(entry.counts.rejected, 7);
    assert_eq!(entry.counts.accounted(), entry.counts.rows);
    assert_eq!(entry.reasons.values().sum::<u64>(), 7);
    let report = report(&stack, &entry).await;
    let lines: Vec<&str> = report[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(lines, ["3", "4", "5", "6", "7", "8", "9"]);
    let codes: Vec<&str> = report[1..].iter().map(|r| r[3].as_str()).collect();
    assert_eq!(
        codes,
        [
            "national_id_checksum",
            "other_agency",
            "duplicate_in_file",
            "status_not_passed",
            "hours_total_mismatch",
            "date_not_exist",
            "hours_format"
        ]
    );
    let text = report.concat().join(",");
    assert!(
        !text.contains("A123456780") && !text.contains("陳家豪"),
        "IDs and names masked"
    );
    for row in &report[1..] {
        assert!(!row[4].is_empty(), "every row says why");
        assert!(
            !row[2].starts_with(['=', '+', '-', '@']),
            "no formula cells: {:?}",
            row[2]
        );
    }

    // The refused rows expire (TTL) with the report.
    let items = stack
        .store
        .client()
        .query()
        .table_name(stack.store.table())
        .key_condition_expression("pk = :pk AND begins_with(sk, :rej)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("LOG#{}", entry.log_id)))
        .expression_attribute_values(":rej", AttributeValue::S("REJ#".into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), 7);
    let kept = dynamodb_store::REJECTED_ROWS_KEPT.num_seconds();
    for item in &items {
        let ttl: i64 = item["ttl"].as_n().unwrap().parse().unwrap();
        let from_now = ttl - chrono::Utc::now().timestamp();
        assert!((kept - 120..=kept).contains(&from_now), "{from_now}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_object_delivered_again_is_imported_once() {
    let stack = stack().await;
    let file = stack
        .upload(
            &key("twice.csv"),
            generated_csv(150, CsvEncoding::Utf8Bom, 4),
        )
        .await;
    let first = stack.finished(&file).await;
    assert_eq!(first.counts.inserted, 150);
    let event = stack.event_for(&file);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let ids: Vec<String> = (0..3).map(|n| format!("again-{n}")).collect();
    let again = futures::future::join_all(
        ids.iter()
            .map(|id| stack.importer.handle(&event, id, deadline)),
    )
    .await;
    for answer in again {
        let handled = answer.unwrap();
        assert_eq!(
            handled,
            [Handled::Skipped {
                log_id: file.log_id(),
                reason: "already_imported"
            }]
        );
    }
    let entry = stack
        .store
        .get_csv_log(&file.log_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry, first, "the entry is untouched");
    for item in record_items(&stack.store).await {
        assert_eq!(
            item["version"].as_n().unwrap(),
            "1",
            "no record written twice"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_reupload_is_imported_again_and_says_so() {
    let stack = stack().await;
    let name = key("again.csv");
    let first = stack
        .upload(&name, rows_file(&[LAST_DAY, FIRST_DAY_AFTER]))
        .await;
    let first = stack.finished(&first).await;
    // The same record with other hours, and a new one.
    let changed = LAST_DAY.replace(",1,2.0,0.0,2.0,", ",1,3.0,0.0,3.0,");
    let second = stack
        .upload(
            &name,
            rows_file(&[
                &changed,
                "F228035170,王明,0700101,376550000A,範例市政府人事處,EC10400127,災害防救概論,2C,e等公務園+,1,104/9/1,104/9/2,3,1.0,1.0,2.0,通過,104/9/3,104/9/4",
            ]),
        )
        .await;
    let second = stack.finished(&second).await;
    assert_ne!(second.log_id, first.log_id);
    assert_eq!(second.previous.as_deref(), Some(first.log_id.as_str()));
    assert_eq!(second.status, RunStatus::Succeeded);
    assert_eq!((second.counts.inserted, second.counts.updated), (1, 1));
    let records = record_items(&stack.store).await;
    let updated = records
        .iter()
        .find(|r| r["course_code"].as_s().unwrap() == "EC10400123")
        .unwrap();
    assert_eq!(updated["total_hours"].as_n().unwrap(), "3");
    assert_eq!(updated["version"].as_n().unwrap(), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_record_is_never_overwritten_but_a_staff_record_is() {
    let stack = stack().await;
    let raw = |row: &str| {
        let cells: Vec<String> = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(row.as_bytes())
            .records()
            .next()
            .unwrap()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        let mut raw = RawRecord::default();
        for (field, cell) in learning_core::record::Field::ALL.into_iter().zip(cells) {
            *raw.field_mut(field) = cell;
        }
        raw.validate().unwrap()
    };
    let mut portal = raw(LAST_DAY);
    portal.total_hours = learning_core::Hours::parse("4.0").unwrap();
    portal.digital_hours = learning_core::Hours::parse("4.0").unwrap();
    stack
        .store
        .upsert_portal_records(
            &system_tests::from_portal(&[portal]),
            Source::AutoImport,
            "sync-test",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let staff = raw(
        "F228035170,王明,0700101,376550000A,範例市政府人事處,EC10400127,災害防救概論,2C,e等公務園+,1,104/9/1,104/9/2,3,1.0,1.0,2.0,通過,104/9/3,104/9/4",
    );
    let mut typed = staff.clone();
    typed.provider = "人事處自辦".into();
    stack
        .store
        .create_staff_record(&typed, "staff-1", chrono::Utc::now())
        .await
        .unwrap();

    let file = stack
        .upload(
            &key("locked.csv"),
            rows_file(&[
                LAST_DAY,
                "F228035170,王明,0700101,376550000A,範例市政府人事處,EC10400127,災害防救概論,2C,e等公務園+,1,104/9/1,104/9/2,3,1.0,1.0,2.0,通過,104/9/3,104/9/4",
            ]),
        )
        .await;
    let entry = stack.finished(&file).await;
    assert_eq!(
        (entry.counts.updated, entry.counts.replaced_staff),
        (0, 1),
        "the staff record is replaced, and counted apart"
    );
    assert_eq!(entry.reasons.get("record_held"), Some(&1));
    let report = report(&stack, &entry).await;
    assert_eq!(report[1][0], "2");
    assert_eq!(report[1][3], "record_held");
    assert!(report[1][4].contains("入口網"));
    let stored = stored(&stack.store).await;
    let locked = stored.iter().find(|(k, _)| k.1 == "EC10400123").unwrap();
    assert_eq!(locked.1, "4.0", "the portal's version stands");
    let records = record_items(&stack.store).await;
    let sources: BTreeMap<&str, &str> = records
        .iter()
        .map(|r| {
            (
                r["course_code"].as_s().unwrap().as_str(),
                r["source"].as_s().unwrap().as_str(),
            )
        })
        .collect();
    assert_eq!(sources["EC10400123"], "auto_import");
    assert_eq!(sources["EC10400127"], "csv_import");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_time_budget_checkpoints_and_resumes_to_the_same_table() {
    // Every invocation gets 1 ms: it commits one batch, checkpoints and
    // hands over through a continuation object.
    let mut tiny = csv_stack(
        Invocations {
            timeout: Duration::from_millis(1),
            retry_after: Duration::from_millis(10),
        },
        Duration::ZERO,
    )
    .await;
    let bytes = generated_csv(1_000, CsvEncoding::Big5, 5);
    let mut bad = bytes.clone();
    // A duplicate far from its original: the resumed parser must still see it.
    let first_row = {
        let text = encoding_rs::BIG5.decode(&bytes).0.into_owned();
        text.lines().nth(1).unwrap().to_string()
    };
    bad.extend_from_slice(&encoding_rs::BIG5.encode(&first_row).0);
    bad.extend_from_slice(b"\r\n");
    let file = tiny.upload(&key("resume.csv"), bad.clone()).await;
    let mut progress = Vec::new();
    let entry = loop {
        match tokio::time::timeout(Duration::from_secs(60), tiny.answers.recv()).await {
            Ok(Some(Ok(handled))) => match handled.into_iter().next() {
                Some(Handled::Continued(entry)) => progress.push(entry.counts.rows),
                Some(Handled::Finished(entry)) => break *entry,
                _ => {}
            },
            other => panic!("no answer: {other:?}"),
        }
    };
    assert_eq!(entry.status, RunStatus::Partial, "{:?}", entry.error);
    assert_eq!(entry.counts.rows, 1_001);
    assert_eq!(entry.counts.inserted, 1_000);
    assert_eq!(entry.reasons.get("duplicate_in_file"), Some(&1));
    assert!(
        entry.invocations >= 10,
        "continued {} times",
        entry.invocations
    );
    assert!(
        progress.windows(2).all(|w| w[0] < w[1]) && progress.len() >= 9,
        "progress shows in the log while it runs: {progress:?}"
    );
    // The same file in one go gives the same table.
    let clean = stack().await;
    let file2 = clean.upload(&key("resume.csv"), bad).await;
    let once = clean.finished(&file2).await;
    assert_eq!(once.counts, entry.counts);
    assert_eq!(stored(&clean.store).await, stored(&tiny.store).await);
    let report_tiny = tiny.object(entry.report_key.as_deref().unwrap()).await;
    let report_once = clean.object(once.report_key.as_deref().unwrap()).await;
    assert_eq!(report_tiny, report_once);
    drop(file);
}

async fn failed(stack: &CsvStack, name: &str, bytes: Vec<u8>) -> CsvImportEntry {
    let file = stack.upload(&key(name), bytes).await;
    let entry = stack.finished(&file).await;
    assert_eq!(entry.status, RunStatus::Failed, "{name}");
    entry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_fail_with_a_reason_and_write_nothing() {
    let mut stack = stack().await;
    let header_only = format!("{HEADER}\r\n").into_bytes();
    let mut zip = b"PK\x03\x04\x14\x00\x06\x00".to_vec();
    zip.extend(std::iter::repeat_n(0u8, 2000));
    let mut long_line = vec![b'x'; 10 * 1024 * 1024];
    long_line.extend_from_slice(b"\r\n");
    let all_after_cutoff = rows_file(&[FIRST_DAY_AFTER]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.csv", Vec::new(), "file_empty"),
        ("header-only.csv", header_only, "file_no_rows"),
        (
            "missing.csv",
            "身分證字號,姓名,課程代碼\r\nA123456789,林怡君,EC1\r\n".into(),
            "missing_columns",
        ),
        (
            "undecodable.csv",
            b"\xff\xfe\xfd,\x80\x80\r\n".to_vec(),
            "file_undecodable",
        ),
        (
            "binary.csv",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec(),
            "file_binary",
        ),
        ("workbook.csv", zip, "file_is_zip"),
        ("one-line.csv", long_line, "header_missing"),
        ("after-cutoff.csv", all_after_cutoff, "no_rows_imported"),
    ];
    for (name, bytes, code) in cases {
        let entry = failed(&stack, name, bytes).await;
        let error = entry.error.as_ref().expect("a reason");
        assert_eq!(error.code, code, "{name}");
        assert!(
            !error.message.is_empty() && !error.message.is_ascii(),
            "{name}: in Chinese"
        );
        assert!(entry.summary_key.is_some(), "{name}: a summary for staff");
    }
    // A key outside uploads/ never gets an event from S3; delivered anyway
    // (a misconfigured trigger) it fails the same way.
    let outside = stack.upload("misc/名單.csv", rows_file(&[LAST_DAY])).await;
    let event = stack.event_for(&outside);
    let handled = stack
        .importer
        .handle(
            &event,
            "by-hand",
            tokio::time::Instant::now() + Duration::from_secs(60),
        )
        .await
        .unwrap();
    let [Handled::Finished(entry)] = handled.as_slice() else {
        panic!("finished: {handled:?}")
    };
    assert_eq!(entry.error.as_ref().unwrap().code, "key_outside_uploads");
    assert!(
        record_items(&stack.store).await.is_empty(),
        "nothing written"
    );
    // Every invocation answered without error: no retry loop for a bad file.
    let mut answered = 0;
    while let Ok(answer) = stack.answers.try_recv() {
        assert!(answer.is_ok(), "{answer:?}");
        answered += 1;
    }
    assert_eq!(answered, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_size_limit_is_refused_whole() {
    let stack = system_tests::csv_stack_with(
        Invocations::default(),
        Duration::from_secs(5),
        learning_core::Settings {
            csv_max_bytes: 64 * 1024,
            ..learning_core::Settings::default()
        },
    )
    .await;
    let big = generated_csv(1000, CsvEncoding::Utf8Bom, 7);
    assert!(big.len() > 64 * 1024);
    let entry = failed(&stack, "big.csv", big).await;
    let error = entry.error.as_ref().unwrap();
    assert_eq!(error.code, "file_too_large");
    assert!(error.message.contains("上限 64 KiB"), "{}", error.message);
    assert_eq!(entry.counts.rows, 0, "not a row read");
    assert!(entry.summary_key.is_some());
    assert!(
        record_items(&stack.store).await.is_empty(),
        "nothing written"
    );
    // A file within the limit imports as usual.
    let small = generated_csv(50, CsvEncoding::Utf8Bom, 8);
    let file = stack.upload(&key("small.csv"), small).await;
    assert_eq!(stack.finished(&file).await.status, RunStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_stops_after_too_many_refused_rows_with_its_report() {
    // Every row of this file names an agency other than the one whose
    // folder it was uploaded to: a file that wrong stops at the first
    // checkpoint past the limit instead of storing 3,000 rejections, and
    // says what it did.
    let stack = system_tests::csv_stack_with(
        Invocations::default(),
        Duration::from_secs(5),
        learning_core::Settings {
            csv_max_rejected: 100,
            ..learning_core::Settings::default()
        },
    )
    .await;
    let file = stack
        .upload(
            "uploads/379000000A/wrong.csv",
            generated_csv(3000, CsvEncoding::Utf8Bom, 9),
        )
        .await;
    let entry = stack.finished(&file).await;
    assert_eq!(entry.status, RunStatus::Failed);
    let error = entry.error.as_ref().unwrap();
    assert_eq!(error.code, "too_many_rejections");
    assert!(error.message.contains("100"), "{}", error.message);
    let c = entry.counts;
    assert!(c.rejected >= 100 && c.rows < 3000, "{c:?}");
    assert_eq!(c.rows, c.inserted + c.updated + c.unchanged + c.rejected);
    assert_eq!(entry.reasons.get("other_agency"), Some(&c.rejected));
    let report = report(&stack, &entry).await;
    assert_eq!(
        report.len() as u64,
        c.rejected + 1,
        "the header and each refused row"
    );
    assert!(entry.summary_key.is_some());
}

/// An export spanning the cutoff (2015 and 2016 rows) is read whole
/// however many later rows it holds: rows refused only for their change
/// date (the automatic import brings them) never stop an import, so staff
/// never split the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_after_the_cutoff_never_stop_an_import() {
    let stack = system_tests::csv_stack_with(
        Invocations::default(),
        Duration::from_secs(5),
        learning_core::Settings {
            csv_max_rejected: 100,
            ..learning_core::Settings::default()
        },
    )
    .await;
    let mut bytes = generated_csv(300, CsvEncoding::Utf8Bom, 12);
    // 400 later rows, each a generated row whose change date is moved to
    // 2016-01-05 (ROC 1050105), as an export of a longer span has them.
    let later = generated_csv(400, CsvEncoding::Utf8Bom, 13);
    let text = String::from_utf8(later).unwrap();
    let mut appended = 0;
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cut = line.rfind(',').unwrap();
        bytes.extend_from_slice(format!("{},1050105\r\n", &line[..cut]).as_bytes());
        appended += 1;
    }
    assert_eq!(appended, 400);
    let file = stack.upload(&key("span.csv"), bytes).await;
    let entry = stack.finished(&file).await;
    assert_eq!(entry.status, RunStatus::Partial, "{:?}", entry.error);
    let c = entry.counts;
    assert_eq!(c.rows, 700, "every row read: {c:?}");
    assert_eq!(c.inserted, 300);
    assert_eq!(entry.reasons.get("after_cutoff"), Some(&400));
    assert_eq!(c.rejected, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_replaced_before_its_import_fails_alone() {
    let stack = stack().await;
    let name = key("replaced.csv");
    let old = stack.upload(&name, rows_file(&[LAST_DAY])).await;
    let old_entry = stack.finished(&old).await;
    // Deliver an event for a version that no longer exists.
    let newer = stack.upload(&name, rows_file(&[LAST_DAY, LAST_DAY])).await;
    let newer_entry = stack.finished(&newer).await;
    let mut gone = old.clone();
    gone.etag = Some("00000000000000000000000000000000".into());
    let handled = stack
        .importer
        .handle(
            &stack.event_for(&gone),
            "late",
            tokio::time::Instant::now() + Duration::from_secs(60),
        )
        .await
        .unwrap();
    let [Handled::Finished(entry)] = handled.as_slice() else {
        panic!("finished: {handled:?}")
    };
    assert_eq!(entry.error.as_ref().unwrap().code, "file_replaced");
    assert_eq!(old_entry.status, RunStatus::Succeeded);
    assert_eq!(newer_entry.reasons.get("duplicate_in_file"), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_invocation_is_retried_and_resumes_from_its_checkpoint() {
    let stack = stack().await;
    // 250 good rows with a refused one at line 152, in the second batch.
    let good = generated_csv(250, CsvEncoding::Utf8Bom, 6);
    let text = String::from_utf8(good).unwrap();
    let mut lines: Vec<&str> = text.split("\r\n").collect();
    lines.insert(151, FIRST_DAY_AFTER);
    let bytes = lines.join("\r\n").into_bytes();
    // Not .csv: S3 raises no event; this test delivers it by hand.
    let file = stack.upload(&key("retry.txt"), bytes).await;
    let event = stack.event_for(&file);
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(60);

    // The first invocation's store throttles every batch write for good.
    let proxy = system_tests::fault_proxy().await;
    proxy
        .throttled_writes
        .store(-1, std::sync::atomic::Ordering::SeqCst);
    let throttled = csv_import::Importer::new(
        proxy
            .store(&stack.store)
            .with_retry(dynamodb_store::BatchRetry {
                max_attempts: 2,
                base: Duration::from_millis(1),
                cap: Duration::from_millis(2),
                concurrency: 2,
            }),
        stack.s3.clone(),
        &system_tests::import_config(&stack.store, Duration::from_secs(5)),
        system_tests::audit_key(),
    );
    let error = throttled
        .handle(&event, "invocation-1", deadline())
        .await
        .unwrap_err();
    assert_eq!(error.code(), "store_throttled");
    let checkpoint = stack
        .store
        .get_csv_log(&file.log_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(checkpoint.status, RunStatus::Running);
    assert_eq!(checkpoint.counts.rows, 99, "the first batch is committed");
    assert_eq!(checkpoint.counts.accounted(), 99);
    assert!(checkpoint.lease_until.is_none(), "released for the retry");

    // Lambda's retry (same request id) on a healthy store carries on.
    let handled = stack
        .importer
        .handle(&event, "invocation-1", deadline())
        .await
        .unwrap();
    let [Handled::Finished(entry)] = handled.as_slice() else {
        panic!("finished: {handled:?}")
    };
    assert_eq!(entry.invocations, 2);
    assert_eq!(entry.counts.rows, 251);
    assert_eq!(entry.counts.inserted, 250);
    assert_eq!(entry.counts.rejected, 1);
    let report = report(&stack, entry).await;
    assert_eq!(report[1][0], "152");
    assert_eq!(stored(&stack.store).await.len(), 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuation_reads_on_from_its_byte_not_from_the_top() {
    // Invocations without time left: each one writes one chunk, pauses
    // and hands over. The file is fetched once over all of them: every
    // continuation asks S3 for the bytes from where the last one stopped.
    let mut bytes = generated_csv(600, CsvEncoding::Big5, 14);
    // The first row again at the end: still a duplicate across invocations.
    let first_row: Vec<u8> = bytes.split(|&b| b == b'\n').nth(1).unwrap().to_vec();
    bytes.extend_from_slice(&first_row);
    bytes.extend_from_slice(b"\n");
    // An S3 that raises no events: the test is Lambda here, and sees
    // every request through a tap.
    let root = std::env::temp_dir().join(format!("webhr-s3-read-once-{}", std::process::id()));
    let s3 = local_stack::start_s3(&root, 0, None).await.unwrap();
    let tap = system_tests::Tap::to(&s3.url()).await;
    let client = local_stack::s3_client(&tap.url);
    local_stack::create_bucket(&client, system_tests::BUCKET)
        .await
        .unwrap();
    let put = client
        .put_object()
        .bucket(system_tests::BUCKET)
        .key(key("read-once.csv"))
        .body(bytes.clone().into())
        .send()
        .await
        .unwrap();
    let file = learning_core::import_log::UploadedFile {
        bucket: system_tests::BUCKET.into(),
        key: key("read-once.csv"),
        version_id: None,
        etag: put.e_tag().map(|e| e.trim_matches('"').to_string()),
        size: bytes.len() as u64,
    };
    let store = system_tests::fresh_store().await;
    let importer = csv_import::Importer::new(
        store.clone(),
        client,
        &system_tests::import_config(&store, Duration::ZERO),
        system_tests::audit_key(),
    );
    let event = |key: &str| -> aws_lambda_events::event::s3::S3Event {
        serde_json::from_value(local_stack::s3_events::object_created(
            &file.bucket,
            key,
            "Put",
            file.size,
            file.etag.as_deref().unwrap_or_default(),
        ))
        .unwrap()
    };
    let mut next = event(&file.key);
    let mut invocations = 0;
    let entry = loop {
        invocations += 1;
        let handled = importer
            .handle(
                &next,
                &format!("i-{invocations}"),
                tokio::time::Instant::now(),
            )
            .await
            .unwrap();
        match handled.into_iter().next() {
            Some(Handled::Continued(entry)) => {
                next = event(&csv_import::event::continuation_key(
                    &entry.log_id,
                    entry.seq,
                ));
            }
            Some(Handled::Finished(entry)) => break *entry,
            other => panic!("invocation {invocations}: {other:?}"),
        }
    };
    assert_eq!(entry.status, RunStatus::Partial, "{:?}", entry.error);
    assert_eq!(entry.counts.rows, 601);
    assert_eq!(entry.counts.inserted, 600);
    assert_eq!(entry.reasons.get("duplicate_in_file"), Some(&1));
    assert!(invocations >= 6, "{invocations} invocations");

    // One GET of the file per invocation, each from further on.
    let gets = tap.gets_from(&format!("/{}/{}", file.bucket, file.key));
    assert_eq!(gets.len(), invocations, "{gets:?}");
    assert_eq!(gets[0], 0, "the first reads from the top");
    assert!(
        gets.windows(2).all(|w| w[0] < w[1]),
        "every continuation reads on from where the last stopped: {gets:?}"
    );
    assert!(*gets.last().unwrap() < bytes.len() as u64);
    // The same file in one go gives the same counts and table.
    let stack = stack().await;
    let once = stack
        .finished(&stack.upload(&key("read-once.csv"), bytes).await)
        .await;
    assert_eq!(once.counts, entry.counts);
    assert_eq!(stored(&stack.store).await, stored(&store).await);
    drop(s3);
    let _ = std::fs::remove_dir_all(root);
}
