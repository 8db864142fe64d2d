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
    let path = &people("/records/LOCAL0001/1/2016-03-01");
    let mut changed = as_json(&ours);
    changed["provider"] = json!("人事處");
    for version in ["\"18446744073709551615\"", "\"18446744073709551614\""] {
        let (status, body) = api.put(path, &token(A, "staff"), version, &changed).await;
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
    let (status, body) = api
        .post(
            "/v1/uploads",
            &token(A, "staff"),
            &json!({"file_name": "A123456789 王小明 補登.csv"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("file_name_personal")),
        "{body}"
    );
    assert!(!body.to_string().contains("A123456789"));
}

/// Creating a record over a key answers the same whoever holds it — our
/// own agency or another — so a create cannot tell another agency holds a
/// person's record; the other agency's key is kept as a dispute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_over_a_held_key_answers_the_same_whoever_holds_it() {
    let api = api().await;
    let theirs = record(&[("course_code", "HELD0001")]);
    api.store
        .create_staff_record(&theirs, "a-staff", now())
        .await
        .unwrap();
    let b = token(B, "staff");
    let ours = record(&[("course_code", "HELD0002"), ("org_code", B)]);
    api.store
        .create_staff_record(&ours, "b-staff", now())
        .await
        .unwrap();
    let create = |record: &TrainingRecord| {
        let mut body = as_json(record);
        body["org_code"] = json!(B);
        api.send(reqwest::Method::POST, &people("/records"), &b)
            .json(&body)
            .send()
    };
    let (over_theirs, theirs_body) = answer(create(&theirs).await.unwrap()).await;
    let (over_ours, ours_body) = answer(create(&ours).await.unwrap()).await;
    assert_eq!(over_theirs, StatusCode::CONFLICT);
    assert_eq!((over_theirs, &theirs_body), (over_ours, &ours_body));
    assert_eq!(theirs_body["code"], "record_exists");
    assert!(!theirs_body.to_string().contains("其他機關"));
    // Theirs is untouched, and the claim waits for administrators.
    assert_eq!(
        api.store
            .get_record(&theirs.key())
            .await
            .unwrap()
            .unwrap()
            .record,
        theirs
    );
    let (status, page) = api.fetch("/v1/disputes", &token(A, "admin")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let disputes = page["disputes"].as_array().unwrap();
    assert_eq!(disputes.len(), 1, "only the other agency's key: {page}");
    assert_eq!(
        (
            &disputes[0]["claimant"],
            &disputes[0]["holder"],
            &disputes[0]["via"]
        ),
        (&json!(B), &json!(A), &json!("staff_entered"))
    );
    assert_eq!(disputes[0]["claimed"]["course_code"], "HELD0001");
    assert_eq!(disputes[0]["held"]["org_code"], A);
    // Staff cannot list disputes.
    let (status, _) = api.fetch("/v1/disputes", &b).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Squatting: one agency's file takes a key for a person another agency
/// employed. The other agency's own row for it is refused exactly as a row
/// over its own locked record would be; an administrator finds the
/// dispute and gives the key to the claimant, or keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squatted_key_goes_to_administrators_who_give_it_back() {
    let api = api_with_imports().await;
    let row = |agency: &str, course: &str, hours: &str| {
        format!(
            "A123456789,林怡君,0750412,{agency},範例市政府人事處,{course},性別主流化,3A,e等公務園+,1,1041001,1041002,1,{hours},0.0,{hours},通過,1041003,1041004"
        )
    };
    let squatter = upload_and_import(
        &api,
        &token(A, "staff"),
        "squat.csv",
        &format!(
            "{CSV_HEADER}\r\n{}\r\n{}\r\n",
            row(A, "SQUAT0001", "2.0"),
            row(A, "SQUAT0002", "2.0")
        ),
    )
    .await;
    assert_eq!(squatter["counts"]["inserted"], 2, "{squatter}");
    // B's own locked record, to compare the answers with.
    api.lock(&record(&[
        ("course_code", "LOCKED0001"),
        ("org_code", B),
        ("start_date", "2015-10-01"),
    ]))
    .await;
    let b = token(B, "staff");
    let claim = upload_and_import(
        &api,
        &b,
        "ours.csv",
        &format!(
            "{CSV_HEADER}\r\n{}\r\n{}\r\n{}\r\n",
            row(B, "SQUAT0001", "3.0"),
            row(B, "SQUAT0002", "3.0"),
            row(B, "LOCKED0001", "3.0")
        ),
    )
    .await;
    assert_eq!(claim["reasons"], json!({"record_held": 3}), "{claim}");
    let report = api.report(&claim).await;
    let refused: Vec<Vec<String>> =
        csv::Reader::from_reader(report.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .map(|r| r.unwrap().iter().skip(3).map(str::to_string).collect())
            .collect();
    assert_eq!(refused.len(), 3);
    assert!(
        refused.iter().all(|r| r == &refused[0]),
        "a held key reads the same whoever holds it: {refused:?}"
    );

    let admin = token(A, "admin");
    let (_, page) = api.fetch("/v1/disputes", &admin).await;
    let disputes = page["disputes"].as_array().unwrap().clone();
    assert_eq!(disputes.len(), 2, "{page}");
    let id_of = |course: &str| {
        disputes
            .iter()
            .find(|d| d["claimed"]["course_code"] == course)
            .unwrap()["dispute_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        disputes
            .iter()
            .all(|d| d["via"] == "csv_import" && d["claimant"] == B)
    );
    let settle = |id: String, decision: &'static str| {
        let (api, admin) = (&api, admin.clone());
        async move {
            api.post(
                &format!("/v1/disputes/{id}/settlement"),
                &admin,
                &json!({ "decision": decision }),
            )
            .await
        }
    };
    let (status, settled) = settle(id_of("SQUAT0001"), "transfer").await;
    assert_eq!(status, StatusCode::OK, "{settled}");
    assert_eq!(settled["record"]["org_code"], B);
    assert_eq!(settled["entry"]["decision"], "transfer");
    // Both agencies' staff find the settlement in their log, without the
    // administrator's id or the person's full ID; a third agency does not.
    let log_id = settled["entry"]["log_id"].as_str().unwrap();
    for (agency, sees) in [(A, true), (B, true), ("382000000A", false)] {
        let (_, page) = api
            .fetch(
                "/v1/import-logs?trigger=settlement",
                &token(agency, "staff"),
            )
            .await;
        let listed = page["entries"].as_array().unwrap();
        assert_eq!(
            listed.iter().any(|e| e["log_id"] == log_id),
            sees,
            "{agency}: {page}"
        );
        let (status, entry) = api
            .fetch(
                &format!("/v1/import-logs/{log_id}"),
                &token(agency, "staff"),
            )
            .await;
        if sees {
            assert_eq!(status, StatusCode::OK);
            assert_eq!(
                (&entry["agency"], &entry["claimant"]),
                (&json!(A), &json!(B))
            );
            assert!(entry.get("requested_by").is_none(), "{entry}");
            assert_eq!(entry["record"]["id_no"], "A12345****");
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
    }
    let path = &people("/records/SQUAT0001/1/2015-10-01");
    assert_eq!(
        api.fetch(path, &token(A, "staff")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, now_theirs) = api.fetch(path, &b).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(now_theirs["total_hours"], "3.0");
    // Kept: the holder's record stays as it was.
    let (status, _) = settle(id_of("SQUAT0002"), "keep").await;
    assert_eq!(status, StatusCode::OK);
    let kept = &people("/records/SQUAT0002/1/2015-10-01");
    assert_eq!(api.fetch(kept, &token(A, "staff")).await.0, StatusCode::OK);
    let (_, page) = api.fetch("/v1/disputes", &admin).await;
    assert_eq!(page["disputes"], json!([]), "both settled");
    // Settled once: again, it is not there; a forged handle neither.
    let (status, _) = settle(id_of("SQUAT0002"), "keep").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = settle("forged".into(), "keep").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
