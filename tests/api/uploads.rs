//! `POST /v1/uploads`: presigned upload forms, and what an upload may reach.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agencys_uploads_are_out_of_reach() {
    let api = api().await;
    let theirs = csv_entry(&api.store, now() - Duration::days(1), B).await;
    let ours = csv_entry(
        &api.store,
        now() - Duration::days(1) + Duration::minutes(1),
        A,
    )
    .await;
    let staff = token(A, "staff");
    let (_, page) = api.fetch("/v1/import-logs", &staff).await;
    let ids: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["log_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ours.as_str()]);
    let (status, body) = api
        .fetch(&format!("/v1/import-logs/{theirs}"), &staff)
        .await;
    let (missing, nothing) = api.fetch("/v1/import-logs/csv-nothing", &staff).await;
    assert_eq!(
        (status, &body),
        (missing, &nothing),
        "another agency's entry is told as a missing one"
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.fetch(&format!("/v1/import-logs/{ours}"), &staff).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .fetch(&format!("/v1/import-logs/{theirs}"), &token(A, "admin"))
        .await;
    assert_eq!(status, StatusCode::OK, "administrators see every agency");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_never_takes_another_agencys_record() {
    // The scenario of the tenancy report: agency C's staff create a record;
    // agency A's staff upload a row with their own agency code and the
    // same key. The row is refused and C's record stays C's, unchanged.
    const C: &str = "382000000A";
    let api = api_with_imports().await;
    let theirs = record(&[
        ("服務機關代碼", C),
        ("服務機關名稱", "範例縣政府人事處"),
        ("開課起始日期", "1041001"),
        ("開課結束日期", "1041002"),
        ("通過日期", "1041003"),
        ("異動日期", "1041004"),
    ]);
    let c_staff = token(C, "staff");
    let (status, created) = answer(
        api.send(reqwest::Method::POST, &people("/records"), &c_staff)
            .json(&as_json(&theirs))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    let a_staff = token(A, "staff");
    let row = "A123456789,林怡君,0750412,376550000A,範例市政府人事處,EC10400123,性別主流化,3A,e等公務園+,1,1041001,1041002,1,9.0,0.0,9.0,通過,1041003,1041004";
    let entry = upload_and_import(
        &api,
        &a_staff,
        "takeover.csv",
        &format!("{CSV_HEADER}\r\n{row}\r\n"),
    )
    .await;
    assert_eq!(entry["status"], "failed", "{entry}");
    assert_eq!(
        (&entry["counts"]["rejected"], &entry["counts"]["updated"]),
        (&json!(1), &json!(0))
    );
    assert_eq!(entry["reasons"]["record_held"], 1);
    // The report tells A's staff why, in Traditional Chinese.
    let report = api.report(&entry).await;
    assert!(report.contains("record_held"), "{report}");
    assert!(report.contains("系統管理者"), "{report}");
    assert!(!report.contains("A123456789"), "the ID is masked");

    // C's record: C's, as created.
    let key = theirs.key();
    let kept = api.store.get_record(&key).await.unwrap().unwrap();
    assert_eq!(
        (kept.record.org_code.as_str(), kept.version, kept.source),
        (C, 1, Source::StaffEntered)
    );
    assert_eq!(kept.record, theirs);
    let path = &people("/records/EC10400123/1/2015-10-01");
    let (status, _) = api.fetch(path, &c_staff).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_upload_through_a_presigned_url_under_their_agency() {
    let api = api().await;
    let staff = token(A, "staff");
    let (status, ticket) = answer(
        api.send(reqwest::Method::POST, "/v1/uploads", &staff)
            .json(&json!({"file_name": "名單 104.csv"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    assert_eq!(ticket["key"], format!("uploads/{A}/名單 104.csv"));
    assert_eq!(ticket["method"], "POST");
    assert_eq!(ticket["max_bytes"], 256 * 1024 * 1024);
    // No AWS credentials: the signed form is the permission.
    let posted =
        system_tests::post_upload(&api.http, &ticket, "身分證字號,姓名\r\n".as_bytes()).await;
    assert!(
        posted.status().is_success(),
        "{}",
        posted.text().await.unwrap()
    );
    let stored = api
        .s3
        .get_object()
        .bucket(BUCKET)
        .key(format!("uploads/{A}/名單 104.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        stored.content_length(),
        Some("身分證字號,姓名\r\n".len() as i64)
    );
    // The form is for its one key: another key, or the form changed, is
    // refused by S3 itself.
    let mut moved = ticket.clone();
    moved["fields"]["key"] = json!(format!("uploads/{B}/x.csv"));
    let refused = system_tests::post_upload(&api.http, &moved, b"x").await;
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let other = api
        .s3
        .head_object()
        .bucket(BUCKET)
        .key(format!("uploads/{B}/x.csv"))
        .send()
        .await;
    assert!(other.is_err(), "nothing stored under the other key");

    for (body, code) in [
        (
            json!({"file_name": "../../reports/x.csv"}),
            "invalid_file_name",
        ),
        (json!({"file_name": "x.xlsx"}), "invalid_file_name"),
        (
            json!({"file_name": "..\\reports\\x.csv"}),
            "invalid_file_name",
        ),
        (json!({"file_name": ".csv"}), "invalid_file_name"),
        (
            json!({"file_name": "x\u{202E}vsc.csv"}),
            "invalid_file_name",
        ),
        (json!({"file_name": "x\r\n.csv"}), "invalid_file_name"),
        (json!({"file_name": "x.csv", "agency": B}), "other_agency"),
        (
            json!({"file_name": "x.csv", "bucket": "other"}),
            "invalid_json",
        ),
    ] {
        let (status, answer) = answer(
            api.send(reqwest::Method::POST, "/v1/uploads", &staff)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(status.is_client_error());
        assert_eq!(answer["code"], code, "{body}");
    }
    // Escapes S3 does not decode stay characters of one key in the prefix.
    let (status, ticket) = answer(
        api.send(reqwest::Method::POST, "/v1/uploads", &staff)
            .json(&json!({"file_name": "%2e%2e%2fx.csv"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ticket["key"], format!("uploads/{A}/%2e%2e%2fx.csv"));
    let posted = system_tests::post_upload(&api.http, &ticket, b"x").await;
    assert!(posted.status().is_success());
    let listed = api
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    for object in listed.contents() {
        let key = object.key().unwrap();
        assert!(key.starts_with(&format!("uploads/{A}/")), "{key}");
        assert_eq!(key.matches('/').count(), 2, "{key}");
    }
}
