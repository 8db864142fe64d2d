//! Personal data never reaches a log line or an error message: the three
//! functions run their flows (a sync with invalid IDs and a bad night, a CSV
//! import with refused rows, the API's reads, edits, downloads and errors)
//! while every log line they write is captured as Lambda would keep it
//! (JSON, our crates at DEBUG, everything else at INFO); then every line,
//! and every error answer, is searched for each fixture's full national ID
//! and full name.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use portal_sim::csv_file::CsvEncoding;
use portal_sim::{DataConfig, Faults};
use serde_json::{Value, json};
use system_tests::*;

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn now() -> DateTime<Utc> {
    // 2016-01-06 10:00 Asia/Taipei
    Utc.with_ymd_and_hms(2016, 1, 6, 2, 0, 0).unwrap()
}

/// Full IDs and names of a CSV file's rows (header skipped).
fn people_in_csv(bytes: &[u8]) -> Vec<(String, String)> {
    let text =
        String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).into_owned();
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|row| {
            let row = row.unwrap();
            (row[0].to_string(), row[1].to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_full_national_id_or_name_in_any_log_line_or_error() {
    let sink = Sink::default();
    let writer = sink.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(
                "info,daily_sync=debug,csv_import=debug,api=debug,dynamodb_store=debug,\
                 portal_client=debug,learning_core=debug",
            )
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
    let mut people: BTreeSet<(String, String)> = BTreeSet::new();

    // The sync: IDs that fail their checksum, then a night of bad pages.
    let store = fresh_store().await;
    let settings = settings();
    let portal = simulator(
        DataConfig {
            per_day: 40,
            invalid_id_share: 0.05,
            ..DataConfig::default()
        },
        now().date_naive().pred_opt().unwrap(),
    )
    .await;
    // First a night whose every page has a field of the wrong type
    // holding a person's ID, then one of mixed bad pages.
    portal.portal.set_faults(Faults {
        malformed_rate: 1.0,
        ..Faults::default()
    });
    let _ = sync_on(&portal, &store, &settings, now().date_naive())
        .run(&request("malformed-night"), |_, _| {})
        .await;
    portal.portal.set_faults(Faults {
        malformed_rate: 0.3,
        truncated_rate: 0.2,
        ..Faults::default()
    });
    let _ = sync_on(&portal, &store, &settings, now().date_naive())
        .run(&request("bad-night"), |_, _| {})
        .await;
    portal.portal.set_faults(Faults::default());
    sync_on(&portal, &store, &settings, now().date_naive())
        .run(&request("good-night"), |_, _| {})
        .await
        .unwrap();
    for day in settings.start_date.iter_days().take(5) {
        people.extend(
            portal
                .portal
                .day(day)
                .iter()
                .map(|r| (r.id_no.clone(), r.name.clone())),
        );
    }

    // The CSV import: good rows, a wrong check digit, a date after the
    // cutoff, hours that do not add up; raised by the upload's event.
    let stack = csv_stack(
        local_stack::lambda::Invocations::default(),
        Duration::from_secs(5),
    )
    .await;
    let mut bytes = generated_csv(300, CsvEncoding::Utf8Bom, 21);
    let good = people_in_csv(&bytes);
    let (id, name) = &good[0];
    let wrong_digit = format!("{}{}", &id[..9], (id.as_bytes()[9] - b'0' + 1) % 10);
    for row in [
        format!(
            "{wrong_digit},{name}1,0750412,{AGENCY},範例市政府人事處,EC1,課程,3A,e等公務園+,1,1041201,1041210,1,2.0,0.0,2.0,通過,1041215,1041231"
        ),
        format!(
            "{id},{name},0750412,{AGENCY},範例市政府人事處,EC2,課程,3A,e等公務園+,1,1041201,1041210,1,2.0,0.0,2.0,通過,1041215,1050101"
        ),
        format!(
            "{id},{name},0750412,{AGENCY},範例市政府人事處,EC3,課程,3A,e等公務園+,1,1041201,1041210,1,2.0,0.0,9.0,通過,1041215,1041231"
        ),
    ] {
        bytes.extend_from_slice(row.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    people.extend(people_in_csv(&bytes));
    // Named after a person, as staff name files: the import never logs
    // the key (the API's upload form refuses such a name; S3 itself
    // cannot).
    let file = stack
        .upload(&format!("uploads/{AGENCY}/{id} {name} 補登.csv"), bytes)
        .await;
    let entry = stack.finished(&file).await;
    assert_eq!(entry.counts.rejected, 3, "{:?}", entry.counts);

    // The API: reads, a refused edit, a download, malformed requests.
    let tokens = api::LocalTokens::new("test-key", "webhr-local", "webhr-api");
    let token = tokens.mint(&api::Claims {
        sub: "staff-1".into(),
        iss: "webhr-local".into(),
        aud: "webhr-api".into(),
        exp: now().timestamp() + 3600,
        agency: AGENCY.into(),
        role: "staff".into(),
        scope: None,
    });
    let state = api_state(
        &store,
        &portal,
        &stack.s3_url,
        api::Authentication::Local(tokens),
        now,
    );
    let served = local_stack::serve(api::router(state), 0).await.unwrap();
    let url = served.url();
    let http = system_tests::http_client();
    let (portal_person, portal_name) = people.iter().next().unwrap().clone();
    let bad_record = json!({"id_no": portal_person, "name": portal_name, "total_hours": "-1"});
    let handle = api::AuditKey::new(AUDIT_KEY)
        .sealer()
        .person(&learning_core::NationalId::parse(&portal_person).unwrap());
    let requests = [
        http.post(format!("{url}/v1/people/search"))
            .json(&json!({ "id_no": portal_person })),
        http.post(format!("{url}/v1/people/search"))
            .json(&json!({ "id_no": wrong_digit })),
        // National IDs where a handle belongs: refused, never echoed.
        http.get(format!("{url}/v1/people/{portal_person}/records")),
        http.get(format!("{url}/v1/people/{wrong_digit}/records")),
        http.post(format!("{url}/v1/people/{handle}/records"))
            .json(&bad_record),
        http.get(format!("{url}/v1/people/{handle}/records/X/1/2016-01-01")),
        http.post(format!("{url}/v1/downloads"))
            .json(&json!({"from": "2016-01-01", "to": "2016-01-03"})),
        http.post(format!("{url}/v1/downloads"))
            .json(&json!({"from": portal_person, "to": portal_name})),
        http.get(format!("{url}/v1/import-logs/{}", entry.log_id)),
        http.get(format!("{url}/v1/import-logs?from={portal_person}")),
    ];
    let mut errors = Vec::new();
    let mut statuses = Vec::new();
    let mut downloaded = None;
    for request in requests {
        let response = request.bearer_auth(&token).send().await.unwrap();
        let status = response.status();
        let route = response.url().path().to_string();
        statuses.push(status.as_u16());
        let body = response.text().await.unwrap();
        if !status.is_success() {
            errors.push(body);
        } else if route == "/v1/downloads" {
            downloaded = Some(serde_json::from_str::<Value>(&body).unwrap());
        }
    }
    // What every agency's staff read of the nights, the bad one included:
    // the failed day names the field the portal sent wrong, not its value.
    let nights: Vec<String> = store
        .sync_logs_between(now() - chrono::Duration::days(30), Utc::now())
        .await
        .unwrap()
        .iter()
        .map(|entry| serde_json::to_string(entry).unwrap())
        .collect();
    assert!(
        nights
            .iter()
            .any(|night| night.contains("portal_malformed")),
        "the bad night failed a day on a malformed page"
    );
    assert!(errors.len() >= 5, "error answers were met: {statuses:?}");

    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    for line in &lines {
        serde_json::from_str::<Value>(line).expect("every line is JSON");
    }
    assert!(lines.len() > 20, "the flows logged: {} lines", lines.len());
    let mut found = Vec::new();
    for (id, name) in &people {
        for text in lines
            .iter()
            .copied()
            .chain(errors.iter().map(String::as_str))
            .chain(nights.iter().map(String::as_str))
        {
            if text.contains(id.as_str()) {
                found.push(format!(
                    "{}**** in {}",
                    &id[..6],
                    text.replace(id.as_str(), "<ID>")
                ));
            }
            if name.chars().count() >= 2 && text.contains(name.as_str()) {
                found.push(format!(
                    "a name in {}",
                    text.replace(name.as_str(), "<NAME>")
                ));
            }
        }
    }
    println!(
        "PERSONAL DATA | {} log lines, {} error answers and {} nightly entries searched for {} people's full IDs and names | found {}",
        lines.len(),
        errors.len(),
        nights.len(),
        people.len(),
        found.len()
    );
    assert!(found.is_empty(), "{found:?}");

    // Each read of a person's records left one audit line — the probe of
    // a record they do not hold too: who, from which agency, through which
    // route, what it learned, and the person as the keyed hash only.
    let key = api::AuditKey::new(AUDIT_KEY);
    let hash = |id: &str| key.person(&learning_core::NationalId::parse(id).unwrap());
    let audits: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["fields"]["audit"] == "person_records")
        .collect();
    let fields = |line: &Value| {
        let f = &line["fields"];
        [
            &f["caller"],
            &f["agency"],
            &f["action"],
            &f["route"],
            &f["outcome"],
        ]
        .map(|v| v.as_str().unwrap_or_default().to_string())
    };
    let expected = |action: &str, route: &str, outcome: &str| {
        ["staff-1", AGENCY, action, route, outcome].map(str::to_string)
    };
    let reads: Vec<[String; 5]> = audits
        .iter()
        .filter(|line| line["fields"]["person"] == hash(&portal_person).as_str())
        .filter(|line| line["fields"]["action"] == "read")
        .map(fields)
        .collect();
    assert_eq!(
        reads,
        [
            expected("read", "/v1/people/search", "ok"),
            expected(
                "read",
                "/v1/people/{person}/records/{course_code}/{term}/{start_date}",
                "not_found"
            ),
        ],
        "one read of their records, one probe of a record: {audits:?}"
    );
    // A download carries full IDs, names and birth dates: one line per
    // person in the answer, each once.
    let downloaded: BTreeSet<String> = downloaded.expect("the download answered")["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| hash(r["id_no"].as_str().unwrap()))
        .collect();
    assert!(!downloaded.is_empty(), "the download carried records");
    let download_lines: Vec<&Value> = audits
        .iter()
        .filter(|line| line["fields"]["action"] == "download")
        .collect();
    for line in &download_lines {
        assert_eq!(fields(line), expected("download", "/v1/downloads", "ok"));
    }
    let hashes: BTreeSet<String> = download_lines
        .iter()
        .map(|line| line["fields"]["person"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hashes, downloaded);
    assert_eq!(download_lines.len(), downloaded.len(), "each person once");
    // The upload wrote each of its good rows' records: a line each, for
    // the person on that row, naming the import as the one who wrote.
    let imported: Vec<&Value> = audits
        .iter()
        .filter(|line| line["fields"]["route"] == "csv_import")
        .collect();
    assert_eq!(imported.len(), good.len(), "a line per row written");
    assert!(imported.iter().all(|line| {
        line["fields"]["caller"] == entry.log_id.as_str()
            && line["fields"]["agency"] == AGENCY
            && line["fields"]["outcome"] == "inserted"
    }));
    let rows: BTreeSet<String> = good.iter().map(|(id, _)| hash(id)).collect();
    let lines: BTreeSet<String> = imported
        .iter()
        .map(|line| line["fields"]["person"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(lines, rows);
    println!(
        "AUDIT | {} audit lines; the person read once and probed once, named by hash {}…; {} people downloaded, a line each",
        audits.len(),
        &hash(&portal_person)[..12],
        downloaded.len()
    );
}

#[test]
fn debug_of_every_record_type_masks_id_name_and_birth_date() {
    // Whatever is formatted with {:?} — in a log line, a panic, an error —
    // shows these types masked.
    let raw: learning_core::RawRecord = learning_core::RawRecord {
        id_no: "A123456789".into(),
        name: "林怡君".into(),
        birth_date: "0750412".into(),
        org_code: AGENCY.into(),
        org_name: "範例市政府人事處".into(),
        course_code: "EC10400123".into(),
        course_name: "性別主流化".into(),
        term: "1".into(),
        start_date: "1041201".into(),
        end_date: "1041210".into(),
        mode: "1".into(),
        digital_hours: "2".into(),
        physical_hours: "0".into(),
        total_hours: "2".into(),
        status: "通過".into(),
        passed_date: "1041215".into(),
        changed_date: "1041231".into(),
        ..Default::default()
    };
    let record = raw.validate().unwrap();
    let stored = dynamodb_store::StoredRecord {
        record: record.clone(),
        source: learning_core::Source::StaffEntered,
        locked: false,
        version: 1,
        created_at: String::new(),
        updated_at: String::new(),
        written_by: "staff-1".into(),
    };
    let outcome = csv_import::RowOutcome::Accepted(Box::new(record.clone()));
    let texts = [
        format!("{raw:?}"),
        format!("{record:?}"),
        format!("{:?}", record.key()),
        format!("{stored:?}"),
        format!("{outcome:?}"),
        format!("{:?}", Some(vec![record.clone()])),
    ];
    for text in &texts {
        for personal in ["A123456789", "林怡君", "0750412", "1986-04-12"] {
            assert!(!text.contains(personal), "{personal} in {text}");
        }
        assert!(text.contains("A12345****"), "{text}");
    }
}
