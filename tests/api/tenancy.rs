//! Every route at once, met by another agency's staff.

use super::*;

/// Every route of the document, met by another agency's staff aiming at
/// this agency's data: refused, or answered without any of it. The test
/// fails if a route is added without a case here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agencys_staff_get_nothing_of_ours_on_any_route() {
    use reqwest::Method;
    let api = api().await;
    let our_log = csv_entry(&api.store, now() - Duration::days(1), A).await;
    let (status, downloaded) = api
        .post(
            "/v1/downloads",
            &token(A, "staff"),
            &json!({"from": "2026-03-14", "to": "2026-03-15"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{downloaded}");
    let our_download = downloaded["entry"]["log_id"].as_str().unwrap().to_string();
    let ours = record(&[("course_code", "A0001")]);
    api.store
        .create_staff_record(&ours, "a-staff", now())
        .await
        .unwrap();
    let them = token(B, "staff");
    let record_path = &people("/records/A0001/1/2016-03-01");
    let mut moved = as_json(&ours);
    moved["total_hours"] = json!("9");
    moved["digital_hours"] = json!("9");
    let cases: Vec<(Method, &str, reqwest::RequestBuilder)> = vec![
        (Method::GET, "/", api.get("/", &them)),
        (Method::GET, "/web/{file}", api.get("/web/app.js", &them)),
        (
            Method::GET,
            "/v1/openapi.json",
            api.get("/v1/openapi.json", &them),
        ),
        (
            Method::GET,
            "/v1/import-logs",
            api.get("/v1/import-logs", &them),
        ),
        (Method::GET, "/v1/settings", api.get("/v1/settings", &them)),
        (Method::GET, "/v1/status", api.get("/v1/status", &them)),
        (
            Method::GET,
            "/v1/hours",
            api.get("/v1/hours?year=2016", &them),
        ),
        (
            Method::GET,
            "/v1/records",
            api.get("/v1/records?from=2016-01-01&to=2016-12-31", &them),
        ),
        (
            Method::POST,
            "/v1/people/{person}/records/{course_code}/{term}/{start_date}/removal",
            api.send(Method::POST, &format!("{record_path}/removal"), &them)
                .header("if-match", "\"1\"")
                .json(&json!({"reason": "not theirs to remove"})),
        ),
        (
            Method::GET,
            "/v1/import-logs/{log_id}/records",
            api.get(&format!("/v1/import-logs/{our_log}/records"), &them),
        ),
        (
            Method::GET,
            "/v1/import-logs/{log_id}",
            api.get(&format!("/v1/import-logs/{our_log}"), &them),
        ),
        (
            Method::POST,
            "/v1/downloads",
            api.send(Method::POST, "/v1/downloads", &them)
                .json(&json!({"from": "2026-03-01", "to": "2026-03-07", "agency": A})),
        ),
        (
            Method::GET,
            "/v1/downloads/{log_id}",
            api.get(&format!("/v1/downloads/{our_download}"), &them),
        ),
        (
            Method::POST,
            "/v1/uploads",
            api.send(Method::POST, "/v1/uploads", &them)
                .json(&json!({"file_name": "x.csv", "agency": A})),
        ),
        (
            Method::POST,
            "/v1/syncs",
            api.send(Method::POST, "/v1/syncs", &them)
                .json(&json!({"from": "2026-03-01"})),
        ),
        (Method::GET, "/v1/disputes", api.get("/v1/disputes", &them)),
        (
            Method::POST,
            "/v1/people/search",
            api.send(Method::POST, "/v1/people/search", &them)
                .json(&json!({"id_no": "A123456789"})),
        ),
        (
            Method::POST,
            "/v1/disputes/{dispute_id}/settlement",
            api.send(Method::POST, "/v1/disputes/x/settlement", &them)
                .json(&json!({"decision": "transfer"})),
        ),
        (
            Method::GET,
            "/v1/people/{person}/records",
            api.get(&people("/records"), &them),
        ),
        (
            Method::POST,
            "/v1/people/{person}/records",
            api.send(Method::POST, &people("/records"), &them)
                .json(&as_json(&record(&[("course_code", "A0002")]))),
        ),
        (
            Method::GET,
            "/v1/people/{person}/records/{course_code}/{term}/{start_date}",
            api.get(record_path, &them),
        ),
        (
            Method::PUT,
            "/v1/people/{person}/records/{course_code}/{term}/{start_date}",
            api.send(Method::PUT, record_path, &them)
                .header("if-match", "\"1\"")
                .json(&moved),
        ),
        (
            Method::DELETE,
            "/v1/people/{person}/records/{course_code}/{term}/{start_date}",
            api.send(Method::DELETE, record_path, &them)
                .header("if-match", "\"1\""),
        ),
    ];
    let mut covered = std::collections::BTreeSet::new();
    for (method, route, request) in cases {
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        // Nothing of ours in any answer: our record, our log, our agency's
        // data (the document itself names no agency).
        assert!(
            !text.contains("A0001") && !text.contains(&our_log) && !text.contains(&our_download),
            "{method} {route} → {status}: {text}"
        );
        let public = ["/", "/web/{file}", "/v1/openapi.json"].contains(&route);
        if public {
            // The same files for everyone, token or not.
            assert_eq!(status, StatusCode::OK, "{route}");
        } else if status.is_success() {
            // A list answers (a search too), with nothing of ours in it.
            let body: Value = serde_json::from_str(&text).unwrap();
            assert!(
                method == Method::GET || route == "/v1/people/search",
                "{route}: {body}"
            );
        } else if (route.starts_with("/v1/people/")
            && route.contains("{course_code}")
            && !route.ends_with("/removal"))
            || route.starts_with("/v1/import-logs/{log_id}")
            || route == "/v1/downloads/{log_id}"
        {
            // Another agency's record or log entry is told as a missing one.
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {route}: {text}");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {route}: {text}");
        }
        covered.insert(format!("{method} {route}"));
    }
    let doc = system_tests::openapi::document();
    let documented: std::collections::BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    assert_eq!(covered, documented, "every route has its case");
    let still = api.store.get_record(&ours.key()).await.unwrap().unwrap();
    assert_eq!(still.version, 1, "our record untouched");
    assert_eq!(
        still.record.total_hours.to_string(),
        ours.total_hours.to_string()
    );
}
