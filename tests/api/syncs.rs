//! `POST /v1/syncs`: administrators' re-runs of days.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_re_runs_days_and_each_is_logged_with_who_asked() {
    let api = api().await;
    let admin = token(A, "admin");
    let (status, queued) = answer(
        api.send(reqwest::Method::POST, "/v1/syncs", &admin)
            .json(&json!({"from": "1150310", "to": "2026-03-12"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["days"], 3);
    assert_eq!(queued["requested_by"], format!("user-{A}-admin"));

    // The run goes on after the answer; follow it in the log.
    let mut entries = Vec::new();
    for _ in 0..200 {
        let (_, page) = api.fetch("/v1/import-logs?trigger=manual", &admin).await;
        entries = page["entries"].as_array().cloned().unwrap_or_default();
        if entries.len() == 3 && entries.iter().all(|e| e["status"] == "succeeded") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut days: Vec<&str> = entries
        .iter()
        .map(|e| e["data_date"].as_str().unwrap_or_default())
        .collect();
    days.sort();
    assert_eq!(
        days,
        ["2026-03-10", "2026-03-11", "2026-03-12"],
        "{entries:?}"
    );
    for entry in &entries {
        assert_eq!(entry["status"], "succeeded");
        assert_eq!(entry["trigger"], "manual");
        assert_eq!(entry["requested_by"], format!("user-{A}-admin"));
        assert!(entry["counts"]["inserted"].as_u64() > Some(0), "{entry}");
    }
    let stored = system_tests::stored(&api.store).await;
    let written: u64 = entries
        .iter()
        .map(|e| e["counts"]["inserted"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(stored.len() as u64, written);

    // One day: `to` left out.
    let (status, queued) = answer(
        api.send(reqwest::Method::POST, "/v1/syncs", &admin)
            .json(&json!({"from": "2026-03-14"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(
        (queued["days"].as_u64(), queued["to"].as_str()),
        (Some(1), Some("2026-03-14"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_runs_are_for_administrators_and_checked_before_anything_starts() {
    let api = api().await;
    let admin = token(A, "admin");
    let post = |token: &str, body: Value| {
        api.send(reqwest::Method::POST, "/v1/syncs", token)
            .json(&body)
            .send()
    };
    let (status, error) = answer(
        post(&token(A, "staff"), json!({"from": "2026-03-10"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("admin_only"))
    );
    for (body, code) in [
        (
            json!({"from": "2026-03-12", "to": "2026-03-10"}),
            "invalid_range",
        ),
        (
            json!({"from": "2026-03-14", "to": "2026-03-15"}),
            "future_date",
        ),
        (
            json!({"from": "2026-01-01", "to": "2026-02-01"}),
            "range_too_long",
        ),
        (json!({"from": "2015-12-31"}), "before_start_date"),
        (json!({"from": "2026-02-30"}), "invalid_date"),
        (json!({"from": "2026-03-10", "all": true}), "invalid_json"),
        (json!({}), "invalid_json"),
    ] {
        let (status, error) = answer(post(&admin, body.clone()).await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(error["code"], code, "{body}: {error}");
        assert!(!error["message"].as_str().unwrap_or_default().is_empty());
    }
    // Nothing started.
    let (_, page) = api.fetch("/v1/import-logs", &admin).await;
    assert_eq!(page["entries"], json!([]));

    // While a run holds the lease, a re-run is refused rather than lost.
    api.store
        .acquire_lease("nightly", now(), now() + Duration::minutes(10))
        .await
        .unwrap();
    let (status, error) = answer(post(&admin, json!({"from": "2026-03-10"})).await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("sync_running"))
    );
}
