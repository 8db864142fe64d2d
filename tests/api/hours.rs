//! `GET /v1/hours`: a year's hours by person, and who falls short.

use super::*;

/// A record of `id` for `agency`, passed on `passed`, with the hours given.
fn learned(
    id: &str,
    agency: &str,
    course: &str,
    passed: &str,
    digital: &str,
    physical: &str,
    total: &str,
) -> TrainingRecord {
    let mode = match (digital, physical) {
        (_, "0") => "1",
        ("0", _) => "2",
        _ => "3",
    };
    record(&[
        ("id_no", id),
        ("org_code", agency),
        ("course_code", course),
        ("start_date", passed),
        ("end_date", passed),
        ("passed_date", passed),
        ("changed_date", passed),
        ("mode", mode),
        ("digital_hours", digital),
        ("physical_hours", physical),
        ("total_hours", total),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_years_hours_by_person_say_who_falls_short() {
    let api = api().await;
    let seeded = [
        // A123456789: 12 + 5.5 in 2025 — short of 20 by 2.5.
        learned("A123456789", A, "H1", "2025-03-01", "12", "0", "12"),
        learned("A123456789", A, "H2", "2025-11-30", "0", "5.5", "5.5"),
        // Outside the year: not counted.
        learned("A123456789", A, "H3", "2024-12-31", "8", "0", "8"),
        learned("A123456789", A, "H4", "2026-01-01", "8", "0", "8"),
        // F228035170: 15 + 10 — the minimum reached.
        learned("F228035170", A, "H5", "2025-06-15", "15", "10", "25"),
        // Another agency's person: not ours.
        learned("K910452736", B, "H6", "2025-06-15", "30", "0", "30"),
    ];
    for r in &seeded {
        api.lock(r).await;
    }
    let staff = token(A, "staff");
    let (status, year) = api.fetch("/v1/hours?year=114", &staff).await;
    assert_eq!(status, StatusCode::OK, "{year}");
    assert_eq!(
        year,
        json!({
            "agency": A,
            "year": 2025,
            "minimum": "20.0",
            "below_minimum": 1,
            "people": [
                {"id_no": "A123456789", "name": "林怡君", "records": 2,
                 "digital_hours": "12.0", "physical_hours": "5.5", "total_hours": "17.5", "short_by": "2.5"},
                {"id_no": "F228035170", "name": "林怡君", "records": 1,
                 "digital_hours": "15.0", "physical_hours": "10.0", "total_hours": "25.0"},
            ],
        })
    );
    // The agency's own minimum.
    let (_, stricter) = api.fetch("/v1/hours?year=2025&minimum=30", &staff).await;
    assert_eq!(stricter["below_minimum"], 2);
    assert_eq!(stricter["people"][1]["short_by"], "5.0");
    // As a CSV for Excel.
    let response = api
        .get("/v1/hours?year=2025&format=csv", &staff)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "身分證字號,姓名,紀錄筆數,數位時數,實體時數,認證時數,未達時數"
    );
    assert_eq!(lines[1], "A123456789,林怡君,2,12.0,5.5,17.5,2.5");
    assert_eq!(lines[2], "F228035170,林怡君,1,15.0,10.0,25.0,");
    assert_eq!(lines.len(), 3);
    // Another agency's staff see their own people only; a bad year is refused.
    let (_, theirs) = api.fetch("/v1/hours?year=2025", &token(B, "staff")).await;
    assert_eq!(theirs["people"].as_array().unwrap().len(), 1);
    assert_eq!(theirs["people"][0]["id_no"], "K910452736");
    let (status, refused) = api.fetch("/v1/hours?year=abc", &staff).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_year"))
    );
}
