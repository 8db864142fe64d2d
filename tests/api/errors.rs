//! The error shape: bad input is a 4xx that says what was wrong; a failing store a fixed 5xx.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_always_a_4xx_in_the_error_shape() {
    let api = api().await;
    let staff = token(A, "staff");
    let post = |body: reqwest::Body| {
        api.send(reqwest::Method::POST, &people("/records"), &staff)
            .header("content-type", "application/json")
            .body(body)
    };
    let mut unknown = as_json(&record(&[]));
    unknown["is_admin"] = json!(true);
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            post("{not json".into()),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (post("[]".into()), StatusCode::BAD_REQUEST, "invalid_json"),
        (
            post(unknown.to_string().into()),
            StatusCode::BAD_REQUEST,
            "unknown_fields",
        ),
        (
            post(
                json!({"id_no": "A123456789", "total_hours": "-1"})
                    .to_string()
                    .into(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_record",
        ),
        (
            api.send(reqwest::Method::POST, "/v1/people/search", &staff)
                .json(&json!({"id_no": "A123456788"})),
            StatusCode::BAD_REQUEST,
            "invalid_national_id",
        ),
        // A national ID in the path: refused, never looked up.
        (
            api.get("/v1/people/A123456788/records", &staff),
            StatusCode::BAD_REQUEST,
            "person_handle_required",
        ),
        (
            api.get("/v1/people/not-a-handle/records", &staff),
            StatusCode::BAD_REQUEST,
            "invalid_person",
        ),
        (
            api.get(&people("/records/X/abc/2016-03-01"), &staff),
            StatusCode::BAD_REQUEST,
            "invalid_term",
        ),
        (
            api.get(&people("/records/X/1/2016-02-30"), &staff),
            StatusCode::BAD_REQUEST,
            "invalid_date",
        ),
        (
            api.get("/v1/nothing-here", &staff),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (request, status, code) in cases {
        let (got, body) = answer(request.send().await.unwrap()).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
        assert!(body["message"].is_string());
    }
    // A body over the limit is refused before it is read.
    let big = "x".repeat(api::MAX_BODY_BYTES + 1);
    let (status, error) = answer(post(big.into()).send().await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
}

#[tokio::test]
async fn a_failing_store_answers_a_fixed_message_and_keeps_the_detail_in_the_log() {
    let api = api().await;
    // The table goes away under the API: every read fails at DynamoDB.
    local_stack::dynamodb_client(&system_tests::engine_url().await)
        .delete_table()
        .table_name(api.store.table())
        .send()
        .await
        .unwrap();
    let (status, body) = api.fetch("/v1/import-logs", &token(A, "staff")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "store_unavailable");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("請稍後再試"), "{message}");
    for detail in [api.store.table(), "DynamoDB", "ResourceNotFound", "Query"] {
        assert!(!body.to_string().contains(detail), "{detail} in {body}");
    }
}
