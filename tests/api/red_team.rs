//! Tried as another agency's staff would, each way one gave before, kept
//! as regression tests: probing who holds a person's record, reading
//! totals or names not theirs, forging cursors, tripping the server.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;

/// A night whose records were all another agency's: our staff see zeros
/// in the list as in the entry, never the nation's totals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_night_without_our_records_shows_us_zeros_not_the_nations_totals() {
    use learning_core::import_log::SyncCounts;
    let api = api().await;
    let mut entry = SyncLogEntry::start(
        "run",
        Trigger::Schedule,
        "2026-03-14".parse().unwrap(),
        now() - Duration::hours(3),
    );
    entry.status = RunStatus::Succeeded;
    let theirs = SyncCounts {
        fetched: 40,
        inserted: 40,
        ..SyncCounts::default()
    };
    entry.counts = theirs;
    entry.agency_counts = [(B.to_string(), theirs)].into();
    entry.agencies = [(B.to_string(), 40)].into();
    api.store.put_sync_log(&entry).await.unwrap();

    let ours = token(A, "staff");
    let (_, page) = api.fetch("/v1/import-logs", &ours).await;
    let listed = &page["entries"][0];
    let (_, detail) = api
        .fetch(&format!("/v1/import-logs/{}", entry.log_id), &ours)
        .await;
    for seen in [&listed["counts"], &detail["counts"]] {
        assert_eq!(seen["fetched"], 0, "{seen}");
        assert_eq!(seen["inserted"], 0, "{seen}");
    }
    assert_eq!(listed["agencies"], json!({}));
    let (_, page) = api.fetch("/v1/import-logs", &token(B, "staff")).await;
    assert_eq!(
        page["entries"][0]["counts"]["fetched"], 40,
        "theirs, to them"
    );
}

/// A page cursor is opaque and only ours: edited, forged from a guess of
/// its old form, or taken to another agency, it is refused as invalid
/// (400) — never handed to DynamoDB, never a 5xx that pages an operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_or_borrowed_log_cursor_is_invalid_not_a_server_failure() {
    let api = api().await;
    for (hours, day) in [(3, "2026-03-14"), (27, "2026-03-13"), (51, "2026-03-12")] {
        sync_entry(&api.store, now() - Duration::hours(hours), day, &[]).await;
    }
    let ours = token(A, "staff");
    let (status, page) = api.fetch("/v1/import-logs?limit=1", &ours).await;
    assert_eq!(status, StatusCode::OK);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (status, next) = api
        .fetch(&format!("/v1/import-logs?limit=1&cursor={cursor}"), &ours)
        .await;
    assert_eq!(status, StatusCode::OK, "{next}");
    assert_ne!(next["entries"][0]["log_id"], page["entries"][0]["log_id"]);

    let mut edited = cursor.clone().into_bytes();
    let last = edited.len() - 2;
    edited[last] = if edited[last] == b'A' { b'B' } else { b'A' };
    let forged = [
        String::from_utf8(edited).unwrap(),
        // The store's own position, as a caller could once write it: a
        // month, an index key DynamoDB refuses, a log key.
        URL_SAFE_NO_PAD.encode("2026-03-01|zzz|LOG#sync-2026-03-14-run"),
        URL_SAFE_NO_PAD.encode("2026-03-01||"),
        "!!".to_string(),
    ];
    let theirs = token(B, "staff");
    let admin = token(A, "admin");
    let mut tries = forged
        .iter()
        .map(|c| (c.as_str(), &ours))
        .collect::<Vec<_>>();
    tries.push((cursor.as_str(), &theirs));
    tries.push((cursor.as_str(), &admin));
    for (cursor, who) in tries {
        let (status, body) = api
            .fetch(
                &format!("/v1/import-logs?limit=1&cursor={}", urlencode(cursor)),
                who,
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_cursor")),
            "{cursor}: {body}"
        );
    }
}

/// The agency's records page on: its cursor holds where the page ended,
/// which names a person, so it is sealed — no ID in it, even decoded —
/// and it opens only for the agency it was issued to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_records_cursor_holds_no_id_and_opens_only_for_its_agency() {
    let api = api().await;
    for id in ["A123456789", "F228035170"] {
        api.lock(&record(&[("id_no", id)])).await;
    }
    let ours = token(A, "staff");
    let query = "/v1/records?from=2016-01-01&to=2016-12-31&limit=1";
    let (status, page) = api.fetch(query, &ours).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let cursor = page["next_cursor"].as_str().unwrap();
    let decoded = URL_SAFE_NO_PAD.decode(cursor).unwrap_or_default();
    for id in ["A123456789", "F228035170"] {
        assert!(!cursor.contains(id));
        assert!(!String::from_utf8_lossy(&decoded).contains(id));
    }
    let (status, next) = api.fetch(&format!("{query}&cursor={cursor}"), &ours).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    assert_ne!(next["records"][0]["id_no"], page["records"][0]["id_no"]);
    // An administrator acting for our agency holds another context; for
    // theirs, the cursor is not theirs to use.
    let admin = token(B, "admin");
    let (status, body) = api
        .fetch(&format!("{query}&agency={B}&cursor={cursor}"), &admin)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor"))
    );
}

/// Who re-ran a night is an administrator's user id: not for every
/// agency's staff to read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrators_user_id_is_not_shown_to_staff() {
    let api = api().await;
    let mut entry = SyncLogEntry::start(
        "rerun",
        Trigger::Manual,
        "2026-03-13".parse().unwrap(),
        now() - Duration::hours(1),
    );
    entry.status = RunStatus::Succeeded;
    entry.requested_by = Some("ops-admin-7".into());
    api.store.put_sync_log(&entry).await.unwrap();
    let path = format!("/v1/import-logs/{}", entry.log_id);
    for who in [token(A, "staff"), token(B, "staff")] {
        let (_, page) = api.fetch("/v1/import-logs", &who).await;
        let (_, detail) = api.fetch(&path, &who).await;
        assert_eq!(page["entries"][0]["log_id"], json!(entry.log_id));
        for text in [page.to_string(), detail.to_string()] {
            assert!(!text.contains("ops-admin-7"), "{text}");
        }
    }
    let (_, detail) = api.fetch(&path, &token(A, "admin")).await;
    assert_eq!(detail["requested_by"], "ops-admin-7");
}

/// An `If-Match` no version reaches is a stale version (412), not an
/// overflow: the server neither panics nor writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_if_match_past_any_version_is_stale_not_a_panic() {
    let api = api().await;
    let ours = record(&[("course_code", "LOCAL0001")]);
    api.store
        .create_staff_record(&ours, "a-staff", now())
        .await
        .unwrap();
    let path = "/v1/people/A123456789/records/LOCAL0001/1/2016-03-01";
    let mut changed = as_json(&ours);
    changed["provider"] = json!("人事處");
    for version in ["\"18446744073709551615\"", "\"18446744073709551614\""] {
        let (status, body) = answer(
            api.send(reqwest::Method::PUT, path, &token(A, "staff"))
                .header("if-match", version)
                .json(&changed)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::PRECONDITION_FAILED, Some("version_mismatch")),
            "{version}: {body}"
        );
    }
    let still = api.store.get_record(&ours.key()).await.unwrap().unwrap();
    assert_eq!(still.version, 1);
}

/// An upload named after a person is refused before a key exists: the
/// key would live on in the bucket, its access logs and the import log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_named_after_a_persons_id_is_refused() {
    let api = api().await;
    let (status, body) = answer(
        api.send(reqwest::Method::POST, "/v1/uploads", &token(A, "staff"))
            .json(&json!({"file_name": "A123456789 王小明 補登.csv"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("file_name_personal")),
        "{body}"
    );
    assert!(!body.to_string().contains("A123456789"));
}
