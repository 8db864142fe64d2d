//! `POST /v1/downloads`: a window of the portal's passed records, written locked, logged, as JSON or CSV.

use chrono::NaiveDate;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seven_day_download_is_written_locked_and_logged() {
    let api = api().await;
    let staff = token(A, "staff");
    let window = json!({"from": "1150308", "to": "2026-03-14"});
    let (status, body) = answer(
        api.send(reqwest::Method::POST, "/v1/downloads", &staff)
            .json(&window)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entry = &body["entry"];
    assert_eq!(entry["trigger"], "download");
    assert_eq!(entry["agency"], A);
    assert_eq!(entry["requested_by"], "user-376550000A-staff");
    let records = body["records"].as_array().unwrap();
    assert!(records.len() > 10, "a week of one agency's records");
    assert!(
        records
            .iter()
            .all(|r| r["org_code"] == A && r["status"] == "passed")
    );
    let counts = &entry["counts"];
    let sum: u64 = [
        "inserted",
        "updated",
        "unchanged",
        "withdrawn",
        "skipped",
        "failed",
    ]
    .iter()
    .map(|k| counts[k].as_u64().unwrap())
    .sum();
    assert_eq!(
        counts["fetched"].as_u64().unwrap(),
        sum,
        "every record accounted for"
    );
    // Written as locked download records.
    let first = &records[0];
    let path = format!(
        "/v1/people/{}/records/{}/{}/{}",
        person(first["id_no"].as_str().unwrap()),
        first["course_code"].as_str().unwrap(),
        first["term"],
        first["start_date"].as_str().unwrap()
    );
    let (_, stored) = api.fetch(&path, &staff).await;
    assert_eq!(stored["source"], "download");
    assert_eq!(stored["locked"], true);
    // In the log for this agency, not for another.
    let (_, log) = api.fetch("/v1/import-logs?trigger=download", &staff).await;
    assert_eq!(log["entries"][0]["log_id"], entry["log_id"]);
    let (_, theirs) = api
        .fetch("/v1/import-logs?trigger=download", &token(B, "staff"))
        .await;
    assert_eq!(theirs["entries"].as_array().unwrap().len(), 0);
    // The same window again changes nothing.
    let (_, again) = answer(
        api.send(reqwest::Method::POST, "/v1/downloads", &staff)
            .json(&window)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again["entry"]["counts"]["inserted"], 0);
    assert_eq!(again["entry"]["counts"]["unchanged"], counts["inserted"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_applies_the_portals_withdrawals_for_the_agency() {
    // The letter: correct a record at the portal, then download. A record
    // the portal now reports as not passed is removed, as the night would.
    let api = api().await;
    let generator = api.portal.portal.generator();
    let today = now().date_naive();
    let from = today - chrono::Days::new(6);
    let window: Vec<portal_sim::WireRecord> = from
        .iter_days()
        .take(7)
        .flat_map(|d| generator.changes_on(d, today))
        .filter(|r| !r.is_passed() && r.defect.is_none())
        .collect();
    // The agency the portal withdrew most from in the window: ours here.
    let mut by_agency = BTreeMap::<&str, usize>::new();
    for r in &window {
        *by_agency.entry(r.org_code.as_str()).or_default() += 1;
    }
    let (ours, _) = by_agency.iter().max_by_key(|(_, n)| **n).unwrap();
    let ours = ours.to_string();
    let other = if ours == B { A } else { B };
    let withdrawn: Vec<TrainingRecord> = window
        .iter()
        .filter(|r| r.org_code == ours)
        .map(|r| {
            // The version WebHR holds: the one passed before.
            let mut raw = system_tests::raw(r);
            raw.status = "通過".into();
            raw.passed_date = raw.start_date.clone();
            raw.changed_date = raw.start_date.clone();
            raw.validate().unwrap()
        })
        .collect();
    assert!(withdrawn.len() >= 2, "the simulator withdraws some");
    // The last one the agency brought in by CSV, from the portal's export:
    // the portal's record as much as the others.
    let (csv_copy, synced) = withdrawn.split_last().unwrap();
    api.store
        .upsert_portal_records(&from_portal(synced), Source::AutoImport, "sync-x", now())
        .await
        .unwrap();
    api.store
        .write_csv_records(std::slice::from_ref(csv_copy), "csv-x", now())
        .await
        .unwrap();
    // Another agency's locked record under a withdrawn key is not this
    // download's to remove.
    let theirs = TrainingRecord {
        org_code: learning_core::AgencyCode::parse(other).unwrap(),
        ..withdrawn[0].clone()
    };
    api.lock(&theirs).await;
    let (status, body) = api
        .post(
            "/v1/downloads",
            &token(&ours, "staff"),
            &json!({"from": from.to_string(), "to": today.to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["entry"]["counts"]["withdrawn"].as_u64().unwrap(),
        withdrawn.len() as u64 - 1,
        "{}",
        body["entry"]
    );
    for record in &withdrawn[1..] {
        assert!(api.store.get_record(&record.key()).await.unwrap().is_none());
    }
    let kept = api.store.get_record(&theirs.key()).await.unwrap().unwrap();
    assert_eq!(kept.record.org_code.as_str(), other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_the_portal_cannot_finish_in_time_is_closed_and_said() {
    // API Gateway gives up after 29 s; the API gives up first, says so, and
    // the log entry ends `failed` with the reason, never `running`.
    let store = fresh_store().await;
    let portal =
        system_tests::simulator(portal_sim::DataConfig::default(), now().date_naive()).await;
    portal.portal.set_faults(portal_sim::Faults {
        latency_ms: 1500,
        ..Default::default()
    });
    let served = serve_with(&store, &portal, |state| {
        state.download_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let response = system_tests::http_client()
        .post(format!("{}/v1/downloads", served.url))
        .bearer_auth(token(A, "staff"))
        .json(&json!({"from": "2026-03-14", "to": "2026-03-15"}))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(body["code"], "download_timeout");
    let log_id = body["details"]["log_id"].as_str().unwrap();
    let entry = store.get_log(log_id).await.unwrap().unwrap();
    let learning_core::import_log::LogEntry::Download(entry) = entry else {
        panic!("a download entry")
    };
    assert_eq!(entry.status, RunStatus::Failed);
    assert_eq!(entry.error.unwrap().code, "download_timeout");
    assert!(entry.finished_at.is_some());
}

/// The deadline covers the whole download: a quick portal answer followed
/// by writes too slow to finish (DynamoDB answering each call after 0.6 s,
/// through the fault proxy's cloud model) still answers 504 before API
/// Gateway would, and its entry is closed `failed`, never left `running`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_writes_after_the_portal_answered_are_within_the_one_deadline() {
    let store = fresh_store().await;
    let portal = system_tests::simulator(
        portal_sim::DataConfig {
            per_day: 200,
            ..portal_sim::DataConfig::default()
        },
        now().date_naive(),
    )
    .await;
    let proxy = system_tests::fault_proxy().await;
    proxy.set_cloud_model(system_tests::CloudModel {
        per_call: std::time::Duration::from_millis(600),
        per_item: std::time::Duration::ZERO,
        wcu_per_s: 1e9,
    });
    let served = serve_with(&proxy.store(&store), &portal, |state| {
        state.download_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let started = std::time::Instant::now();
    let (status, body) = answer(
        system_tests::http_client()
            .post(format!("{}/v1/downloads", served.url))
            .bearer_auth(token(A, "staff"))
            .json(&json!({"from": "2026-03-09", "to": "2026-03-15"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["code"], "download_timeout");
    assert_eq!(body["details"]["retry"], true);
    // The first write of the entry, one deadline, the last write: well
    // within what API Gateway waits.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let log_id = body["details"]["log_id"].as_str().unwrap();
    let learning_core::import_log::LogEntry::Download(entry) =
        store.get_log(log_id).await.unwrap().unwrap()
    else {
        panic!("a download entry")
    };
    assert_eq!(entry.status, RunStatus::Failed);
    assert_eq!(entry.error.unwrap().code, "download_timeout");
}

/// Which portal failures are worth trying again, said in the answer: the
/// portal down, yes (503); WebHR's own access refused (an expired token),
/// no — an administrator must act (502).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_download_says_whether_trying_again_can_help() {
    let store = fresh_store().await;
    let portal =
        system_tests::simulator(portal_sim::DataConfig::default(), now().date_naive()).await;
    let serve = |token: &str| {
        let mut config =
            portal_client::PortalConfig::new(portal.url(), portal_client::Secret::new(token));
        config.max_attempts = 2;
        config.base_backoff = std::time::Duration::from_millis(1);
        let client = portal_client::PortalClient::new(config).unwrap();
        serve_with(&store, &portal, |state| state.portal = client)
    };
    let download = |url: String| async move {
        answer(
            system_tests::http_client()
                .post(format!("{url}/v1/downloads"))
                .bearer_auth(token(A, "staff"))
                .json(&json!({"from": "2026-03-14", "to": "2026-03-15"}))
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let expired = serve("an-expired-token").await;
    let (status, body) = download(expired.url.clone()).await;
    assert_eq!(
        (status, body["code"].as_str(), &body["details"]["retry"]),
        (
            StatusCode::BAD_GATEWAY,
            Some("portal_unauthorized"),
            &json!(false)
        ),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("系統管理者"));
    portal.portal.set_faults(portal_sim::Faults {
        outage: true,
        ..Default::default()
    });
    let down = serve(system_tests::PORTAL_TOKEN).await;
    let (status, body) = download(down.url.clone()).await;
    assert_eq!(
        (status, body["code"].as_str(), &body["details"]["retry"]),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("portal_unavailable"),
            &json!(true)
        ),
        "{body}"
    );
    assert!(
        body["details"]["log_id"].is_string(),
        "the failure is logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_longer_or_earlier_window_is_refused_not_cut() {
    let api = api().await;
    let staff = token(A, "staff");
    let cases = [
        (
            json!({"from": "2026-03-07", "to": "2026-03-14"}),
            "window_too_long",
        ),
        (
            json!({"from": "2015-12-28", "to": "2016-01-02"}),
            "before_start_date",
        ),
        (
            json!({"from": "2026-03-14", "to": "2026-03-10"}),
            "invalid_range",
        ),
        (
            json!({"from": "2026-03-14", "to": "2026-03-16"}),
            "future_date",
        ),
        (
            json!({"from": "2026-02-30", "to": "2026-03-02"}),
            "invalid_date",
        ),
        (
            json!({"from": "2026-03-10", "to": "2026-03-11", "limit": 5}),
            "invalid_json",
        ),
        (
            json!({"from": "2026-03-10", "to": "2026-03-11", "agency": B}),
            "other_agency",
        ),
    ];
    for (window, code) in cases {
        let (status, body) = answer(
            api.send(reqwest::Method::POST, "/v1/downloads", &staff)
                .json(&window)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(status.is_client_error(), "{window}: {status}");
        assert_eq!(body["code"], code, "{window}");
        assert!(!body["message"].as_str().unwrap().is_ascii(), "in Chinese");
    }
    let (_, log) = api.fetch("/v1/import-logs?trigger=download", &staff).await;
    assert_eq!(
        log["entries"].as_array().unwrap().len(),
        0,
        "nothing was downloaded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_comes_as_csv_for_excel_in_utf8_or_big5() {
    let api = api().await;
    let staff = token(A, "staff");
    let window = json!({"from": "2026-03-09", "to": "2026-03-13"});
    let response = api
        .send(reqwest::Method::POST, "/v1/downloads?format=csv", &staff)
        .json(&window)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert!(text.starts_with("身分證字號,姓名,出生日期,服務機關代碼"));
    let rows = text.lines().count() - 1;
    assert!(rows > 5);
    let big5 = api
        .send(
            reqwest::Method::POST,
            "/v1/downloads?format=csv&encoding=big5",
            &staff,
        )
        .json(&window)
        .send()
        .await
        .unwrap();
    assert_eq!(
        big5.status(),
        StatusCode::OK,
        "the simulator's names all exist in Big5"
    );
    assert_eq!(big5.headers()["content-type"], "text/csv; charset=big5");
    let bytes = big5.bytes().await.unwrap();
    let (decoded, _, bad) = encoding_rs::BIG5.decode(&bytes);
    assert!(!bad);
    assert_eq!(decoded.trim_end(), text.trim_end());
}

/// 查詢 then 匯出 CSV: one portal fetch and one download in the log; the
/// CSV is the answer's records, made again from the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporting_what_was_just_fetched_asks_the_portal_once() {
    let api = api().await;
    let staff = token(A, "staff");
    let window = json!({"from": "2026-03-09", "to": "2026-03-13"});
    let (status, fetched) = api.post("/v1/downloads", &staff, &window).await;
    assert_eq!(status, StatusCode::OK, "{fetched}");
    let asked = api
        .portal
        .portal
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    let log_id = fetched["entry"]["log_id"].as_str().unwrap();
    let response = api
        .get(
            &format!("/v1/downloads/{log_id}?format=csv&encoding=big5"),
            &staff,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=big5");
    let bytes = response.bytes().await.unwrap();
    let (text, _, bad) = encoding_rs::BIG5.decode(&bytes);
    assert!(!bad);
    // The same records, in the same order, as the answer listed them.
    let ids: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let answered: Vec<&str> = fetched["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id_no"].as_str().unwrap())
        .collect();
    assert!(!answered.is_empty());
    assert_eq!(ids, answered);
    assert_eq!(
        api.portal
            .portal
            .stats
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        asked,
        "the portal was not asked again"
    );
    let (_, page) = api.fetch("/v1/import-logs?trigger=download", &staff).await;
    assert_eq!(
        page["entries"].as_array().unwrap().len(),
        1,
        "one download logged"
    );
    // JSON too, and another agency's staff find nothing.
    let (status, again) = api.fetch(&format!("/v1/downloads/{log_id}"), &staff).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["records"], fetched["records"]);
    let (status, _) = api
        .fetch(&format!("/v1/downloads/{log_id}"), &token(B, "staff"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// What a download did to the agency's records, record by record, from
/// its entry: each new record, a record staff typed in that the portal's
/// replaced, each withdrawn one — and nothing for another agency's staff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downloads_entry_lists_what_it_did_record_by_record() {
    let api = api().await;
    let generator = api.portal.portal.generator();
    let today = now().date_naive();
    let from = today - chrono::Days::new(6);
    let served: Vec<portal_sim::WireRecord> = from
        .iter_days()
        .take(7)
        .flat_map(|d| generator.changes_on(d, today))
        .filter(|r| r.org_code == A && r.defect.is_none())
        .collect();
    let as_record = |r: &portal_sim::WireRecord| {
        let mut raw = system_tests::raw(r);
        raw.status = "通過".into();
        if raw.passed_date.is_empty() {
            raw.passed_date = raw.changed_date.clone();
        }
        raw.validate().unwrap()
    };
    let passed: Vec<TrainingRecord> = served
        .iter()
        .filter(|r| r.is_passed())
        .map(as_record)
        .collect();
    let withdrawn: Vec<TrainingRecord> = served
        .iter()
        .filter(|r| !r.is_passed())
        .map(as_record)
        .collect();
    assert!(
        passed.len() > 2 && !withdrawn.is_empty(),
        "the window has both"
    );
    // One the agency typed in by hand before the portal's arrived; the
    // withdrawn ones, as the night brought them.
    api.store
        .create_staff_record(&passed[0], "a-staff", now())
        .await
        .unwrap();
    api.store
        .upsert_portal_records(
            &from_portal(&withdrawn),
            Source::AutoImport,
            "sync-x",
            now(),
        )
        .await
        .unwrap();
    let staff = token(A, "staff");
    let (status, fetched) = api
        .post(
            "/v1/downloads",
            &staff,
            &json!({"from": from.to_string(), "to": today.to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{fetched}");
    let log_id = fetched["entry"]["log_id"].as_str().unwrap();
    let (status, listed) = api
        .fetch(&format!("/v1/import-logs/{log_id}/records"), &staff)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let got: BTreeMap<(String, String), String> = listed["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                (
                    r["id_no"].as_str().unwrap().to_string(),
                    r["course_code"].as_str().unwrap().to_string(),
                ),
                r["change"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let key = |r: &TrainingRecord| (r.id_no.as_str().to_string(), r.course_code.clone());
    let mut want: BTreeMap<(String, String), String> = passed
        .iter()
        .map(|r| (key(r), "inserted".to_string()))
        .collect();
    want.insert(key(&passed[0]), "replaced_staff".into());
    for r in &withdrawn {
        want.insert(key(r), "withdrawn".into());
    }
    assert_eq!(got, want);
    // A record still held is shown as it is now; a withdrawn one by key.
    for r in listed["records"].as_array().unwrap() {
        assert_eq!(r["record"].is_object(), r["change"] != "withdrawn", "{r}");
    }
    let (status, _) = api
        .fetch(
            &format!("/v1/import-logs/{log_id}/records"),
            &token(B, "staff"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The portal corrects the class start date of a record the agency has: a
/// key field. The next download writes it under its new key and removes
/// it from the former one in the same write (a correction, counted as
/// updated), the person's hours count it once, and the agency's
/// record-by-record list says what moved where.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrected_start_date_moves_the_record_and_its_hours_count_once() {
    let api = api().await;
    let staff = token(A, "staff");
    let (passed_on, corrected_on) = (
        system_tests::day("2026-03-10"),
        system_tests::day("2026-03-12"),
    );
    let original = api
        .portal
        .portal
        .day(passed_on)
        .iter()
        .find(|r| r.org_code == A && r.is_passed() && r.defect.is_none())
        .expect("a record of ours passed on the 10th")
        .clone();
    let download = |on: NaiveDate| {
        let window = json!({"from": on.to_string(), "to": on.to_string()});
        let (api, staff) = (&api, &staff);
        async move {
            let (status, body) = api.post("/v1/downloads", staff, &window).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };
    let hours_of = |year: &Value| {
        year["people"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id_no"] == original.id_no.as_str())
            .map(|p| (p["records"].clone(), p["total_hours"].clone()))
            .expect("the person is ours")
    };
    download(passed_on).await;
    let (_, year) = api.fetch("/v1/hours?year=2026", &staff).await;
    let before = hours_of(&year);

    let mut corrected = original.clone();
    corrected.start_date =
        (original.start_date.parse::<NaiveDate>().unwrap() - Duration::days(1)).to_string();
    corrected.changed_date = corrected_on.to_string();
    api.portal.portal.backdate(corrected.clone(), corrected_on);
    // Anything else of the person's the portal changed that day counts too.
    let also: Vec<_> = api
        .portal
        .portal
        .day(corrected_on)
        .iter()
        .filter(|r| r.id_no == original.id_no && r.record_id != original.record_id)
        .cloned()
        .collect();
    assert!(
        also.is_empty(),
        "chosen so that only the correction is the person's"
    );
    let body = download(corrected_on).await;
    assert!(
        body["entry"]["counts"]["updated"].as_u64().unwrap() >= 1,
        "{body}"
    );

    let key = |start: &str| learning_core::NaturalKey {
        id_no: learning_core::NationalId::parse(&original.id_no).unwrap(),
        course_code: original.course_code.clone(),
        term: original.term,
        start_date: start.parse().unwrap(),
    };
    assert!(
        api.store
            .get_record(&key(&original.start_date))
            .await
            .unwrap()
            .is_none(),
        "the former key is gone"
    );
    let moved = api
        .store
        .get_record(&key(&corrected.start_date))
        .await
        .unwrap()
        .expect("under its new key");
    assert_eq!(moved.record.total_hours.to_string(), original.total_hours);
    assert!(moved.locked);
    let (_, year) = api.fetch("/v1/hours?year=2026", &staff).await;
    assert_eq!(
        hours_of(&year),
        before,
        "the same records, the same hours: counted once"
    );

    let log_id = body["entry"]["log_id"].as_str().unwrap();
    let (status, listed) = api
        .fetch(&format!("/v1/import-logs/{log_id}/records"), &staff)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let theirs: Vec<(String, String, bool)> = listed["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["id_no"] == original.id_no.as_str()
                && r["course_code"] == original.course_code.as_str()
        })
        .map(|r| {
            (
                r["change"].as_str().unwrap().to_string(),
                r["start_date"].as_str().unwrap().to_string(),
                r["record"].is_object(),
            )
        })
        .collect();
    assert_eq!(
        theirs,
        [
            ("corrected".to_string(), corrected.start_date.clone(), true),
            (
                "corrected_away".to_string(),
                original.start_date.clone(),
                false
            ),
        ]
    );
}

/// A record passed today, downloaded today, then corrected at the portal
/// the same day: it changed without its change date moving past its
/// passed date, and WebHR still finds it under its former key, having
/// noted that the agency read today early.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_corrected_the_day_it_was_downloaded_moves_too() {
    let api = api().await;
    let staff = token(A, "staff");
    let today = now().date_naive();
    let window = json!({"from": today.to_string(), "to": today.to_string()});
    let original = api
        .portal
        .portal
        .day(today)
        .iter()
        .find(|r| {
            r.org_code == A
                && r.is_passed()
                && r.defect.is_none()
                && r.passed_date.as_deref() == Some(&r.changed_date)
        })
        .expect("a record of ours passed today")
        .clone();
    let (status, _) = api.post("/v1/downloads", &staff, &window).await;
    assert_eq!(status, StatusCode::OK);
    let mut corrected = original.clone();
    corrected.start_date =
        (original.start_date.parse::<NaiveDate>().unwrap() - Duration::days(1)).to_string();
    api.portal.portal.backdate(corrected.clone(), today);
    let (status, body) = api.post("/v1/downloads", &staff, &window).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let held: Vec<String> = api
        .store
        .records_of_person(&learning_core::NationalId::parse(&original.id_no).unwrap())
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.record.course_code == original.course_code)
        .map(|r| r.record.start_date.to_string())
        .collect();
    assert_eq!(
        held,
        [corrected.start_date],
        "once, under the corrected key"
    );
}
