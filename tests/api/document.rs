//! `GET /v1/openapi.json` and the staff pages: the document lists exactly the routes; the pages come under a strict policy.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_and_lists_exactly_the_routes() {
    let api = api().await;
    let response = api
        .http
        .get(format!("{}/v1/openapi.json", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "served without a token");
    let served: Value = response.json().await.unwrap();
    let doc = system_tests::openapi::document();
    assert_eq!(served, doc);
    assert_eq!(doc["openapi"], "3.1.0");

    // The routes the router serves are the document's, method for method.
    let routed: std::collections::BTreeSet<(String, String)> = api::routes()
        .into_iter()
        .map(|(path, method)| (path.to_string(), method.to_string()))
        .collect();
    let documented: std::collections::BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (path.clone(), method.clone()))
        })
        .collect();
    assert_eq!(routed, documented);
    assert!(routed.len() >= 10, "{routed:?}");

    // Each is really routed: without a token it is refused (401), never
    // unknown (404) or the wrong method (405); only the document and the
    // pages' files are public.
    for (path, method) in &documented {
        let concrete = path
            .replace("{person}", &person("A123456789"))
            .replace("{dispute_id}", "x")
            .replace("{course_code}", "EC10400123")
            .replace("{term}", "1")
            .replace("{start_date}", "2026-03-01")
            .replace("{log_id}", "sync-2026-03-01-x")
            .replace("{file}", "app.js");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, body) = answer(
            api.http
                .request(method.clone(), format!("{}{concrete}", api.url))
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let public = doc["paths"][path][method.as_str().to_lowercase()]["security"] == json!([]);
        let expected = if public {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, expected, "{method} {concrete}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staff_pages_are_served_with_the_api_under_a_strict_policy() {
    let api = api().await;
    for (path, kind) in [
        ("/", "text/html"),
        ("/web/app.js", "text/javascript"),
        ("/web/app.css", "text/css"),
    ] {
        // No token: the files are public; every call they make carries one.
        let response = api
            .http
            .get(format!("{}{path}", api.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert!(headers["content-type"].to_str().unwrap().starts_with(kind));
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"));
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    let page = api
        .http
        .get(format!("{}/", api.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("lang=\"zh-Hant-TW\"") && page.contains("/web/app.js"));
    let (status, body) = answer(
        api.http
            .get(format!("{}/web/secrets.txt", api.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}
