//! Who may call: development tokens and, as in the cloud, the claims API Gateway's JWT authorizer verified.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_expired_and_forged_tokens_are_refused() {
    let api = api().await;
    let response = api
        .http
        .get(format!("{}/v1/import-logs", api.url))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_missing");
    assert!(!body["message"].as_str().unwrap().is_ascii());

    let expired = tokens().mint(&Claims {
        sub: "u".into(),
        iss: "webhr-local".into(),
        aud: "webhr-api".into(),
        exp: now().timestamp() - 1,
        agency: A.into(),
        role: "staff".into(),
        scope: None,
    });
    let (status, body) = api.fetch("/v1/import-logs", &expired).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_expired"))
    );

    let forged = LocalTokens::new("not-the-key", "webhr-local", "webhr-api").mint(&Claims {
        sub: "u".into(),
        iss: "webhr-local".into(),
        aud: "webhr-api".into(),
        exp: now().timestamp() + 60,
        agency: A.into(),
        role: "admin".into(),
        scope: Some(api::ADMIN_SCOPE.into()),
    });
    let (status, body) = api.fetch("/v1/import-logs", &forged).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_invalid"))
    );
    // A header claiming an agency is not a token.
    let response = api
        .http
        .get(format!("{}/v1/import-logs", api.url))
        .header("x-agency", A)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

/// Through `lambda_http` as in Lambda: API Gateway (HTTP API, payload 2.0)
/// events, the claims its JWT authorizer verified in the request context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_api_gateway_the_authorizers_claims_decide() {
    use tower::ServiceExt;

    let api = api().await;
    sync_entry(
        &api.store,
        now() - Duration::days(1),
        "2026-03-13",
        &[(A, 5), (B, 7)],
    )
    .await;
    let portal =
        system_tests::simulator(portal_sim::DataConfig::default(), now().date_naive()).await;
    let router = api::router(system_tests::api_state(
        &api.store,
        &portal,
        &api.s3_url,
        Authentication::ApiGateway,
        now,
    ));
    // SAM's generated event (scripts/sam-events.sh), made into this request
    // with the claims API Gateway's JWT authorizer would pass.
    let mut event: Value =
        serde_json::from_str(include_str!("../events/http-api-proxy.json")).unwrap();
    event["rawQueryString"] = json!("trigger=schedule");
    event["queryStringParameters"] = json!({"trigger": "schedule"});
    event["cookies"] = json!([]);
    event["headers"] = json!({
        "accept": "application/json",
        "authorization": "Bearer verified-by-api-gateway",
    });
    event["requestContext"]["authorizer"]["jwt"]["claims"] = json!({
        "sub": format!("staff-{A}"),
        "iss": "https://idp.example/",
        "aud": "webhr-api",
        "exp": "4102444800",
        "agency": A,
        "role": "staff",
    });
    let call = |event: Value| {
        let router = router.clone();
        async move {
            let request =
                lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event");
            let request = request.map(|body| axum::body::Body::from(body.to_vec()));
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };

    let (status, page) = call(event.clone()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        page["entries"][0]["agencies"],
        json!({ A: 5 }),
        "the claims' agency scopes it"
    );

    // Without the authorizer's claims, a bearer header alone is nothing.
    let mut bare = event.clone();
    bare["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let (status, body) = call(bare).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_missing"))
    );

    // Another agency's claims reach another agency's counts only.
    let mut other = event.clone();
    other["requestContext"]["authorizer"]["jwt"]["claims"]["agency"] = json!(B);
    let (_, page) = call(other).await;
    assert_eq!(page["entries"][0]["agencies"], json!({ B: 7 }));

    // An `admin` role claim is not enough: without the scope the identity
    // provider grants administrators it is refused (a user who could edit
    // their own role attribute gains nothing), with it all agencies show.
    let mut self_made = event.clone();
    self_made["requestContext"]["authorizer"]["jwt"]["claims"]["role"] = json!("admin");
    let (status, body) = call(self_made.clone()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("admin_scope_missing"))
    );
    let mut scoped = self_made.clone();
    scoped["requestContext"]["authorizer"]["jwt"]["scopes"] = json!(["openid", api::ADMIN_SCOPE]);
    let (status, page) = call(scoped).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["entries"][0]["agencies"], json!({ A: 5, B: 7 }));
    let mut claimed = self_made;
    claimed["requestContext"]["authorizer"]["jwt"]["scopes"] = json!(null);
    claimed["requestContext"]["authorizer"]["jwt"]["claims"]["scope"] = json!(api::ADMIN_SCOPE);
    let (status, _) = call(claimed).await;
    assert_eq!(status, StatusCode::OK, "the scope as a claim counts too");

    // A POST whose JSON body API Gateway passes base64-encoded.
    let mut upload = event.clone();
    upload["rawPath"] = json!("/v1/uploads");
    upload["requestContext"]["http"]["method"] = json!("POST");
    upload["requestContext"]["http"]["path"] = json!("/v1/uploads");
    upload["rawQueryString"] = json!("");
    upload["queryStringParameters"] = json!({});
    upload["isBase64Encoded"] = json!(true);
    use base64::Engine as _;
    upload["body"] =
        json!(base64::engine::general_purpose::STANDARD.encode(r#"{"file_name":"名單.csv"}"#));
    let (status, ticket) = call(upload).await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    assert_eq!(ticket["key"], format!("uploads/{A}/名單.csv"));
}
