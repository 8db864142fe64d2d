//! `GET /v1/import-logs` and `/v1/import-logs/{log_id}`: the import log, its pages, what staff see of a night and of an upload.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_defaults_to_the_last_month_newest_first_and_filters() {
    let api = api().await;
    for days_ago in [0, 3, 10, 28, 40, 70] {
        let started = now() - Duration::days(days_ago);
        let day = (started - Duration::days(1)).date_naive().to_string();
        sync_entry(&api.store, started, &day, &[(A, 5), (B, 7)]).await;
    }
    let upload = csv_entry(&api.store, now() - Duration::days(2), A).await;
    let staff = token(A, "staff");

    let (status, page) = api.fetch("/v1/import-logs", &staff).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["from"], "2026-02-15");
    assert_eq!(page["to"], "2026-03-15");
    let started: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["started_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        started.len(),
        5,
        "the last month: 0, 2, 3, 10 and 28 days ago"
    );
    assert!(
        started.windows(2).all(|w| w[0] > w[1]),
        "newest first: {started:?}"
    );
    assert_eq!(page["entries"][1]["log_id"], upload.as_str());
    // Staff see their own agency's count only.
    assert_eq!(page["entries"][0]["agencies"], json!({ A: 5 }));

    let (_, range) = api
        .fetch("/v1/import-logs?from=1141201&to=2026-01-31", &staff)
        .await;
    assert_eq!(
        range["entries"].as_array().unwrap().len(),
        1,
        "70 days ago only"
    );

    let (_, uploads) = api.fetch("/v1/import-logs?trigger=upload", &staff).await;
    assert_eq!(uploads["entries"].as_array().unwrap().len(), 1);
    assert_eq!(uploads["entries"][0]["kind"], "csv_import");

    // Paging: two at a time, nothing lost or repeated.
    let mut seen = Vec::new();
    let mut path = "/v1/import-logs?limit=2".to_string();
    loop {
        let (status, page) = api.fetch(&path, &staff).await;
        assert_eq!(status, StatusCode::OK);
        for entry in page["entries"].as_array().unwrap() {
            seen.push(entry["log_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/import-logs?limit=2&cursor={}", urlencode(cursor)),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let (status, body) = api
        .fetch("/v1/import-logs?from=2026-03-20&to=2026-03-01", &staff)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_range"))
    );
    let (status, body) = api.fetch("/v1/import-logs?page=2", &staff).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_their_agencys_counts_and_failures_of_a_night() {
    use learning_core::import_log::{RecordFailure, SyncCounts};
    let api = api().await;
    let mut entry = SyncLogEntry::start(
        "run",
        Trigger::Schedule,
        "2026-03-14".parse().unwrap(),
        now() - Duration::hours(3),
    );
    entry.status = RunStatus::Partial;
    let counts = |fetched, inserted, failed| SyncCounts {
        fetched,
        inserted,
        failed,
        ..SyncCounts::default()
    };
    entry.agency_counts = [
        (A.to_string(), counts(3, 2, 1)),
        (B.to_string(), counts(5, 3, 2)),
    ]
    .into();
    entry.counts = counts(8, 5, 3);
    entry.agencies = [(A.to_string(), 2), (B.to_string(), 3)].into();
    let failure = |position, agency: &str| {
        let mut f = RecordFailure::new(
            position,
            "A12345****".into(),
            &learning_core::Problem::new("national_id_checksum", "身分證字號檢查碼不符"),
        );
        f.agency = Some(agency.to_string());
        f
    };
    entry.failures = vec![failure(1, A), failure(2, B), failure(3, B)];
    api.store.put_sync_log(&entry).await.unwrap();

    let (_, page) = api.fetch("/v1/import-logs", &token(A, "staff")).await;
    let listed = &page["entries"][0];
    assert_eq!(
        listed["counts"]["fetched"], 3,
        "their agency's counts, not the nation's"
    );
    assert_eq!(listed["counts"]["failed"], 1);
    assert_eq!(listed["agencies"], json!({ A: 2 }));
    assert_eq!(
        listed["failures"],
        json!([]),
        "a page lists no refused records"
    );
    let path = format!("/v1/import-logs/{}", entry.log_id);
    let (_, seen) = api.fetch(&path, &token(A, "staff")).await;
    assert_eq!(seen["counts"]["fetched"], 3);
    assert_eq!(seen["failures"].as_array().unwrap().len(), 1);
    assert_eq!(seen["failures"][0]["agency"], A);
    assert_eq!(seen["agency_counts"].as_object().unwrap().len(), 1);
    let (_, page) = api.fetch("/v1/import-logs", &token(A, "admin")).await;
    assert_eq!(
        page["entries"][0]["counts"]["fetched"], 8,
        "administrators see the totals"
    );
    assert_eq!(page["entries"][0]["agencies"], json!({ A: 2, B: 3 }));
    let (_, all) = api.fetch(&path, &token(A, "admin")).await;
    assert_eq!(all["failures"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_of_four_thousand_entries_pages_to_its_end_once_each() {
    // Years of history in a month: pages are read inside DynamoDB, across
    // the month partitions, and every entry comes exactly once, newest
    // first, filtered for staff by the database.
    use futures::StreamExt;
    let api = api().await;
    let base = now() - Duration::days(40);
    let writes: Vec<_> = (0..4000i64)
        .map(|i| {
            let started = base + Duration::minutes(i * 14);
            let store = api.store.clone();
            let agency = if i % 4 == 3 { B } else { A };
            async move {
                if i % 2 == 0 {
                    let mut entry = SyncLogEntry::start(
                        &format!("run{i}"),
                        Trigger::Schedule,
                        "2026-02-01".parse().unwrap(),
                        started,
                    );
                    entry.status = RunStatus::Succeeded;
                    store.put_sync_log(&entry).await.unwrap();
                    (started, entry.log_id, None)
                } else {
                    let file = UploadedFile {
                        bucket: "b".into(),
                        key: format!("uploads/{agency}/{i}.csv"),
                        version_id: None,
                        etag: Some(i.to_string()),
                        size: 1,
                    };
                    let mut entry = CsvImportEntry::start(
                        file,
                        learning_core::AgencyCode::parse(agency).ok(),
                        started,
                    );
                    store.put_csv_log(&mut entry).await.unwrap();
                    (started, entry.log_id, Some(agency))
                }
            }
        })
        .collect();
    let written: Vec<_> = futures::stream::iter(writes)
        .buffer_unordered(16)
        .collect()
        .await;
    let (mut want_all, mut want_staff) = (Vec::new(), Vec::new());
    for (started, log_id, agency) in written {
        if started < now() {
            if agency != Some(B) {
                want_staff.push((started, log_id.clone()));
            }
            want_all.push((started, log_id));
        }
    }
    for want in [&mut want_all, &mut want_staff] {
        want.sort();
        want.reverse();
    }
    assert!(want_all.len() > 2800, "{}", want_all.len());
    let from = (base - Duration::days(1)).date_naive();
    for (who, want, limit) in [
        (token(A, "admin"), &want_all, 200),
        (token(A, "staff"), &want_staff, 150),
    ] {
        let mut got = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/import-logs?from={from}&limit={limit}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = api.fetch(&path, &who).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let entries = page["entries"].as_array().unwrap();
            assert!(entries.len() <= limit);
            got.extend(
                entries
                    .iter()
                    .map(|e| e["log_id"].as_str().unwrap().to_string()),
            );
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let want: Vec<String> = want.iter().map(|(_, id)| id.clone()).collect();
        assert_eq!(got.len(), want.len(), "every entry once");
        assert_eq!(got, want, "newest first, none missing or twice");
    }
    // A filter no entry matches: each page reads a bounded share of the
    // month and ends with a cursor, not with the whole month read at once.
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/import-logs?from={from}&trigger=download");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = api.fetch(&path, &token(A, "admin")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["entries"], json!([]));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert!(
        (4..=6).contains(&pages),
        "about 4,000 entries, 1,000 a page: {pages}"
    );
    // A year at most; a made-up cursor is refused.
    let (status, body) = api
        .fetch(
            "/v1/import-logs?from=2025-03-14&to=2026-03-15",
            &token(A, "staff"),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("range_too_long"))
    );
    let (status, body) = api
        .fetch(
            "/v1/import-logs?cursor=bm90LWEtY3Vyc29y",
            &token(A, "staff"),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_import_with_refused_rows_links_its_report() {
    let api = api().await;
    let log_id = csv_entry(&api.store, now() - Duration::hours(1), A).await;
    let mut entry = api.store.get_csv_log(&log_id).await.unwrap().unwrap();
    let key = format!("reports/{A}/{log_id}/rejected.csv");
    api.s3
        .put_object()
        .bucket(BUCKET)
        .key(&key)
        .body("列號,欄位\r\n".as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    entry.file.bucket = BUCKET.into();
    entry.report_key = Some(key);
    entry.status = RunStatus::Partial;
    entry.lease_owner = Some("invocation-1".into());
    entry.lease_until = Some(now());
    api.store.put_csv_log(&mut entry).await.unwrap();
    let (status, detail) = api
        .fetch(&format!("/v1/import-logs/{log_id}"), &token(A, "staff"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["kind"], "csv_import");
    // What staff see, not the importer's checkpoint or where it keeps files.
    for internal in [
        "lease_owner",
        "lease_until",
        "seq",
        "stalled",
        "invocations",
        "report_key",
        "summary_key",
    ] {
        assert!(detail.get(internal).is_none(), "{internal} in {detail}");
    }
    assert_eq!(
        detail["file"],
        serde_json::json!({"key": entry.file.key, "size": entry.file.size})
    );
    assert_eq!(api.report(&detail).await, "列號,欄位\r\n");
}
