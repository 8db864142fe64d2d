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

/// `GET /v1/status`: how far the automatic import has got (the watermark
/// and days behind) and last night's outcome with the caller's agency's
/// counts — the newest day of the night, not a day it read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_says_how_far_the_import_has_got_and_last_night_for_the_agency() {
    use learning_core::import_log::SyncCounts;
    let api = api().await;
    // Before the first night: every day since the start date is due.
    let (status, before) = api.fetch("/v1/status", &token(A, "staff")).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert!(before.get("imported_through").is_none());
    let since_start =
        (now().date_naive() - chrono::NaiveDate::from_ymd_opt(2016, 1, 1).unwrap()).num_days();
    assert_eq!(before["days_behind"], since_start);
    assert!(before.get("last_night").is_none());

    // Last night: the 14th, then the 8th read again (started later).
    let night = now() - Duration::hours(8);
    let counts = |fetched| SyncCounts {
        fetched,
        inserted: fetched,
        ..SyncCounts::default()
    };
    let mut due = SyncLogEntry::start(
        "night",
        Trigger::Schedule,
        "2026-03-14".parse().unwrap(),
        night,
    );
    due.status = RunStatus::Succeeded;
    due.counts = counts(7);
    due.agency_counts = [(A.to_string(), counts(3)), (B.to_string(), counts(4))].into();
    api.store.put_sync_log(&due).await.unwrap();
    let mut again = SyncLogEntry::start(
        "night",
        Trigger::Schedule,
        "2026-03-08".parse().unwrap(),
        night + Duration::minutes(1),
    );
    again.lookback = true;
    again.status = RunStatus::Succeeded;
    api.store.put_sync_log(&again).await.unwrap();
    api.store
        .advance_watermark(None, "2026-03-14".parse().unwrap(), night)
        .await
        .unwrap();

    let (_, ours) = api.fetch("/v1/status", &token(A, "staff")).await;
    assert_eq!(ours["imported_through"], "2026-03-14");
    assert_eq!(ours["days_behind"], 0, "yesterday is done");
    assert_eq!(ours["last_night"]["data_date"], "2026-03-14");
    assert_eq!(ours["last_night"]["status"], "succeeded");
    assert_eq!(ours["last_night"]["counts"]["inserted"], 3, "our agency's");
    let (_, admin) = api.fetch("/v1/status", &token(A, "admin")).await;
    assert_eq!(admin["last_night"]["counts"]["inserted"], 7, "the nation's");
}
