//! `/v1/people/search`, `/v1/people/{person}/records...` and `GET /v1/records`: training records under the lock, editing, removal, an agency's list.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agencys_record_is_told_as_missing() {
    // Nothing A's staff do tells them that C holds a key: reading, editing
    // and deleting it answer exactly as for a key nobody holds, and
    // creating over it answers as over a key A holds itself.
    const C: &str = "382000000A";
    let api = api().await;
    let at = |start: &str, agency: &str| {
        record(&[
            ("服務機關代碼", agency),
            ("開課起始日期", start),
            ("開課結束日期", start),
            ("通過日期", start),
            ("異動日期", start),
        ])
    };
    let theirs = at("2016-04-01", C);
    let ours = at("2016-05-02", A);
    for (record, agency) in [(&theirs, C), (&ours, A)] {
        let (status, _) = answer(
            api.send(
                reqwest::Method::POST,
                &people("/records"),
                &token(agency, "staff"),
            )
            .json(&as_json(record))
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let staff = token(A, "staff");
    let held = &people("/records/EC10400123/1/2016-04-01");
    let nobodys = &people("/records/EC10400123/1/2016-06-03");
    let mut edit = as_json(&theirs);
    edit["org_code"] = json!(A);
    for (method, body) in [
        (reqwest::Method::GET, None),
        (reqwest::Method::PUT, Some(edit.clone())),
        (reqwest::Method::DELETE, None),
    ] {
        let mut answers = Vec::new();
        for path in [held, nobodys] {
            let mut request = api
                .send(method.clone(), path, &staff)
                .header("if-match", "\"1\"");
            if let Some(body) = &body {
                let mut body = body.clone();
                if path == nobodys {
                    for date in ["start_date", "end_date", "passed_date", "changed_date"] {
                        body[date] = json!("2016-06-03");
                    }
                }
                request = request.json(&body);
            }
            answers.push(answer(request.send().await.unwrap()).await);
        }
        assert_eq!(answers[0], answers[1], "{method}");
        assert_eq!(answers[0].0, StatusCode::NOT_FOUND, "{method}");
    }
    let (status, list) = api.fetch(&people("/records"), &staff).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1, "only A's own record");

    let mut creates = Vec::new();
    for record in [&theirs, &ours] {
        let mut body = as_json(record);
        body["org_code"] = json!(A);
        creates.push(
            answer(
                api.send(reqwest::Method::POST, &people("/records"), &staff)
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await,
        );
    }
    assert_eq!(creates[0], creates[1]);
    assert_eq!(creates[0].0, StatusCode::CONFLICT);
    let theirs_now = api.store.get_record(&theirs.key()).await.unwrap().unwrap();
    assert_eq!(
        (theirs_now.record.org_code.as_str(), theirs_now.version),
        (C, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_removes_a_locked_record_the_portal_cannot_reach_with_a_reason() {
    // The portal corrected the class start date: the old key stays locked
    // and the portal never withdraws it. Only an administrator removes it,
    // with a reason, logged with who and what (masked).
    let api = api().await;
    let stale = record(&[]);
    api.lock(&stale).await;
    let typed = record(&[("course_code", "STAFF1")]);
    api.store
        .create_staff_record(&typed, "a-staff", now())
        .await
        .unwrap();
    let path = &people("/records/EC10400123/1/2016-03-01/removal");
    let reason = json!({"reason": "入口網已更正開課日期為 2016-03-02，舊紀錄無法再由入口網撤回"});
    let admin = token(A, "admin");
    let send = |token: &str, if_match: Option<&str>, body: &Value, path: &str| {
        let mut request = api.send(reqwest::Method::POST, path, token).json(body);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send()
    };
    for (who, if_match, body, status, code) in [
        (
            token(A, "staff"),
            Some("\"1\""),
            &reason,
            StatusCode::FORBIDDEN,
            "admin_only",
        ),
        (
            admin.clone(),
            None,
            &reason,
            StatusCode::PRECONDITION_REQUIRED,
            "if_match_required",
        ),
        (
            admin.clone(),
            Some("\"1\""),
            &json!({"reason": "x"}),
            StatusCode::BAD_REQUEST,
            "invalid_reason",
        ),
        (
            admin.clone(),
            Some("\"2\""),
            &reason,
            StatusCode::PRECONDITION_FAILED,
            "version_mismatch",
        ),
    ] {
        let (got, body) = answer(send(&who, if_match, body, path).await.unwrap()).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
        assert!(
            api.store.get_record(&stale.key()).await.unwrap().is_some(),
            "{code}: kept"
        );
    }
    // A staff-entered record is deleted by its staff, not removed.
    let (got, body) = answer(
        send(
            &admin,
            Some("\"1\""),
            &reason,
            &people("/records/STAFF1/1/2016-03-01/removal"),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (got, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_locked"))
    );

    let (got, entry) = answer(send(&admin, Some("\"1\""), &reason, path).await.unwrap()).await;
    assert_eq!(got, StatusCode::OK, "{entry}");
    assert_eq!(entry["kind"], "removal");
    assert_eq!(entry["trigger"], "removal");
    assert_eq!(entry["requested_by"], "user-376550000A-admin");
    assert_eq!(entry["agency"], A);
    assert!(entry["reason"].as_str().unwrap().contains("開課日期"));
    assert_eq!(entry["record"]["id_no"], "A12345****");
    assert_eq!(entry["record"]["name"], "林○君");
    assert_eq!(entry["record"]["course_code"], "EC10400123");
    assert_eq!(entry["record"]["source"], "auto_import");
    assert!(!entry.to_string().contains("A123456789"));
    assert!(api.store.get_record(&stale.key()).await.unwrap().is_none());
    // In the log: the agency's staff see it, another agency's do not.
    let log_id = entry["log_id"].as_str().unwrap();
    let (got, _) = api
        .fetch(&format!("/v1/import-logs/{log_id}"), &token(A, "staff"))
        .await;
    assert_eq!(got, StatusCode::OK);
    let (got, _) = api
        .fetch(&format!("/v1/import-logs/{log_id}"), &token(B, "staff"))
        .await;
    assert_eq!(got, StatusCode::NOT_FOUND, "as a missing entry");
    let (_, page) = api.fetch("/v1/import-logs?trigger=removal", &admin).await;
    assert_eq!(page["entries"][0]["log_id"], log_id);
    // Removed once: again, it is not there.
    let (got, _) = answer(send(&admin, Some("\"1\""), &reason, path).await.unwrap()).await;
    assert_eq!(got, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_records_are_locked_and_staff_records_editable() {
    let api = api().await;
    let portal = record(&[]);
    api.lock(&portal).await;
    let staff = token(A, "staff");
    let path = &people("/records/EC10400123/1/2016-03-01");

    let response = api.get(path, &staff).send().await.unwrap();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let (_, body) = answer(response).await;
    assert_eq!(body["locked"], true);
    assert!(body["locked_reason"].as_str().unwrap().contains("入口網"));

    let mut changed = as_json(&portal);
    changed["provider"] = json!("人事處");
    let (status, body) = api.put(path, &staff, "\"1\"", &changed).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("record_locked")),
        "{body}"
    );
    let (status, body) = answer(
        api.send(reqwest::Method::DELETE, path, &staff)
            .header("if-match", "\"1\"")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("record_locked"))
    );

    // A staff record: created, edited under If-Match, deleted.
    let typed = record(&[("course_code", "LOCAL0001"), ("course_name", "人事法規")]);
    let create = api
        .send(reqwest::Method::POST, &people("/records"), &staff)
        .json(&as_json(&typed))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), StatusCode::CREATED);
    assert_eq!(create.headers()["etag"], "\"1\"");
    let own = &people("/records/LOCAL0001/1/1050301");
    let mut edited = as_json(&typed);
    edited["total_hours"] = json!("3");
    edited["digital_hours"] = json!("3");
    let response = api
        .send(reqwest::Method::PUT, own, &staff)
        .header("if-match", "\"1\"")
        .json(&edited)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let (status, body) = api.put(own, &staff, "\"1\"", &edited).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PRECONDITION_FAILED, Some("version_mismatch"))
    );
    let (status, body) = answer(
        api.send(reqwest::Method::DELETE, own, &staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PRECONDITION_REQUIRED, Some("if_match_required"))
    );
    let response = api
        .send(reqwest::Method::DELETE, own, &staff)
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (_, list) = api.fetch(&people("/records"), &staff).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "the portal record stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_never_reach_another_agencys_records() {
    let api = api().await;
    let theirs = record(&[("org_code", B), ("course_code", "B0001")]);
    let ours = record(&[("course_code", "A0001")]);
    api.store
        .create_staff_record(&theirs, "b-staff", now())
        .await
        .unwrap();
    api.store
        .create_staff_record(&ours, "a-staff", now())
        .await
        .unwrap();
    let staff = token(A, "staff");
    let (_, list) = api.fetch(&people("/records"), &staff).await;
    let courses: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["course_code"].as_str().unwrap())
        .collect();
    assert_eq!(courses, ["A0001"]);
    // Another agency's record is not found, as a missing one.
    let path = &people("/records/B0001/1/2016-03-01");
    let (status, _) = api.fetch(path, &staff).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut body = as_json(&theirs);
    body["org_code"] = json!(A);
    let (status, _) = api.put(path, &staff, "1", &body).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "moving a record into one's agency is not a way in"
    );
    let (status, _) = answer(
        api.send(reqwest::Method::DELETE, path, &staff)
            .header("if-match", "1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = answer(
        api.send(reqwest::Method::POST, &people("/records"), &staff)
            .json(&as_json(&record(&[
                ("org_code", B),
                ("course_code", "B0002"),
            ])))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let still = api.store.get_record(&theirs.key()).await.unwrap().unwrap();
    assert_eq!(still.version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agencys_records_are_listed_by_passed_date_a_page_at_a_time() {
    let api = api().await;
    let mut ours = Vec::new();
    for i in 0..23u32 {
        let day = format!("2016-03-{:02}", 1 + i % 9);
        let passed = format!("2016-04-{:02}", 1 + i % 20);
        let r = record(&[
            ("course_code", &format!("C{i:03}")),
            ("開課起始日期", &day),
            ("開課結束日期", &day),
            ("通過日期", &passed),
            ("異動日期", &passed),
        ]);
        ours.push(r);
    }
    let theirs = record(&[
        ("服務機關代碼", B),
        ("course_code", "THEIRS"),
        ("通過日期", "2016-04-05"),
        ("異動日期", "2016-04-05"),
    ]);
    let mut all = ours.clone();
    all.push(theirs);
    api.store
        .upsert_portal_records(&from_portal(&all), Source::AutoImport, "sync-x", now())
        .await
        .unwrap();
    let staff = token(A, "staff");
    let in_range: Vec<&TrainingRecord> = ours
        .iter()
        .filter(|r| {
            r.passed_date.is_some_and(|d| {
                d.to_string().as_str() >= "2016-04-03" && d.to_string().as_str() <= "2016-04-15"
            })
        })
        .collect();
    let mut got = Vec::new();
    let mut cursor = None::<String>;
    loop {
        let mut path = "/v1/records?from=1050403&to=2016-04-15&limit=4".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = api.fetch(&path, &staff).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["agency"], A);
        let records = page["records"].as_array().unwrap();
        assert!(records.len() <= 4);
        got.extend(records.iter().map(|r| {
            (
                r["passed_date"].as_str().unwrap().to_string(),
                r["course_code"].as_str().unwrap().to_string(),
            )
        }));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut want: Vec<(String, String)> = in_range
        .iter()
        .map(|r| (r.passed_date.unwrap().to_string(), r.course_code.clone()))
        .collect();
    want.sort();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted, "by passed date");
    assert_eq!(
        sorted, want,
        "each of the agency's records in range once, none of another's"
    );
    let (status, body) = api
        .fetch(
            &format!("/v1/records?from=2016-04-01&to=2016-04-30&agency={B}"),
            &staff,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("other_agency"))
    );
    let (status, page) = api
        .fetch(
            &format!("/v1/records?from=2016-04-01&to=2016-04-30&agency={B}"),
            &token(A, "admin"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_staff_editing_one_record_at_once_one_wins_the_other_is_told() {
    let api = api().await;
    let ours = record(&[("course_code", "LOCAL0002")]);
    api.store
        .create_staff_record(&ours, "a-staff", now())
        .await
        .unwrap();
    let path = &people("/records/LOCAL0002/1/2016-03-01");
    let edit = |hours: &str, who: &str| {
        let mut body = as_json(&ours);
        body["total_hours"] = json!(hours);
        body["digital_hours"] = json!(hours);
        api.send(reqwest::Method::PUT, path, &token(A, who))
            .header("if-match", "\"1\"")
            .json(&body)
            .send()
    };
    for round in 0..10 {
        // Both read version 1 and send their edit at the same moment.
        let (first, second) = tokio::join!(edit("3", "staff"), edit("4", "staff"));
        let mut statuses = [first.unwrap().status(), second.unwrap().status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::PRECONDITION_FAILED],
            "round {round}"
        );
        let now_held = api.store.get_record(&ours.key()).await.unwrap().unwrap();
        assert_eq!(
            now_held.version, 2,
            "round {round}: exactly one edit landed"
        );
        // Back to version 1 for the next round.
        api.store
            .delete_staff_record(&ours.key(), &ours.org_code, 2)
            .await
            .unwrap();
        api.store
            .create_staff_record(&ours, "a-staff", now())
            .await
            .unwrap();
    }
}

/// A person is found by national ID in a POST body, where no access log
/// keeps it; the answer names them by handle, and every record's URLs
/// carry that handle. A national ID in a URL is refused before any lookup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_is_found_by_id_in_the_body_and_named_by_handle() {
    let api = api().await;
    api.lock(&record(&[])).await;
    let staff = token(A, "staff");
    let (status, found) = api
        .post(
            "/v1/people/search",
            &staff,
            &json!({"id_no": " A123456789 "}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let handle = found["person"].as_str().unwrap();
    assert_eq!(handle, person("A123456789"), "the handle the tests use");
    assert!(!handle.contains("A123456789"));
    assert_eq!(found["records"].as_array().unwrap().len(), 1);
    assert_eq!(found["records"][0]["person"], handle);
    // The same list by handle, and the record by its URL.
    let (status, list) = api
        .fetch(&format!("/v1/people/{handle}/records"), &staff)
        .await;
    assert_eq!((status, &list), (StatusCode::OK, &found["records"]));
    let (status, one) = api
        .fetch(
            &format!("/v1/people/{handle}/records/EC10400123/1/2016-03-01"),
            &staff,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    // Another person, another handle; the same person, the same one.
    let (_, other) = api
        .post("/v1/people/search", &staff, &json!({"id_no": "F228035170"}))
        .await;
    assert_ne!(other["person"], found["person"]);
    assert_eq!(other["records"], json!([]));
    let (status, body) = api.fetch("/v1/people/A123456789/records", &staff).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("person_handle_required"))
    );
    assert!(!body.to_string().contains("A123456789"));
}

/// A record cannot have passed after its change date (通過 2016-03-01,
/// 異動 2015-12-01): refused with the reason, whoever sends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_passed_after_its_change_date_is_refused() {
    let api = api().await;
    let mut body = as_json(&record(&[("course_code", "LATE0001")]));
    body["passed_date"] = json!("2016-03-01");
    body["changed_date"] = json!("2015-12-01");
    let (status, refused) = api
        .post(&people("/records"), &token(A, "staff"), &body)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let problems = refused["details"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{refused}");
    assert_eq!(
        (&problems[0]["code"], &problems[0]["field"]),
        (&json!("passed_after_change"), &json!("passed_date"))
    );
    let key = learning_core::NaturalKey {
        id_no: learning_core::NationalId::parse("A123456789").unwrap(),
        course_code: "LATE0001".into(),
        term: 1,
        start_date: "2016-03-01".parse().unwrap(),
    };
    assert!(api.store.get_record(&key).await.unwrap().is_none());
}
