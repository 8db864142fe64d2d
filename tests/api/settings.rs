//! `GET /v1/settings`.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_are_served_as_the_api_applies_them() {
    let api = api().await;
    let (status, settings) = api.fetch("/v1/settings", &token(B, "staff")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        settings,
        json!({
            "start_date": "2016-01-01",
            "csv_cutoff_date": "2015-12-31",
            "download_max_days": 7,
            "time_zone": "Asia/Taipei",
            "csv_max_bytes": 268435456,
            "today": "2026-03-15",
            "log_default_from": "2026-02-15",
        })
    );
    // The log's default range is the one the settings name.
    let (_, page) = api.fetch("/v1/import-logs", &token(B, "staff")).await;
    assert_eq!(
        (&page["from"], &page["to"]),
        (&settings["log_default_from"], &settings["today"])
    );
    let (status, _) = answer(
        api.http
            .get(format!("{}/v1/settings", api.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
