//! The three functions as Lambda runs them: the release `bootstrap`
//! binaries `sam build` made, each started the way Lambda starts it (its
//! `AWS_LAMBDA_RUNTIME_API`, its environment) against `cargo lambda watch
//! --only-lambda-apis`, which serves Lambda's runtime and invoke APIs on
//! 127.0.0.1. Around them: the embedded DynamoDB, S3 and SSM and the portal
//! simulator. Invoked with the SAM CLI's generated events, and the API
//! through `/lambda-url/...`. Prints each bootstrap's size and cold start.
//!
//! Needs `.aws-sam/build` and cargo-lambda: `scripts/test.sh` builds and
//! installs both, then runs this with `--run-ignored only`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use portal_sim::csv_file::{CsvEncoding, write_csv};
use serde_json::{Value, json};
use system_tests::lambda::{
    Running, event, finished_rerun, free_port, gateway, http_answer, invoke, root, wait_for,
};
use system_tests::{AGENCY, PORTAL_TOKEN, fresh_store, record_items, simulator};

const FUNCTIONS: [(&str, &str); 3] = [
    ("daily-sync", "DailySyncFunction"),
    ("csv-import", "CsvImportFunction"),
    ("api", "ApiFunction"),
];
const TOKEN_PARAMETER: &str = "/webhr/portal-token";

/// A GET of the API through its function URL, as cargo lambda watch
/// serves it: no API Gateway, so no authorizer's claims.
async fn function_url(http: &reqwest::Client, port: u16, path: &str) -> reqwest::Response {
    http.get(format!("http://127.0.0.1:{port}/lambda-url/api{path}"))
        .send()
        .await
        .expect("an answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs `sam build` artifacts and cargo-lambda: scripts/test.sh runs it"]
async fn the_three_bootstraps_run_under_the_lambda_runtime_loop() {
    let build = root().join(".aws-sam/build");
    let cargo_lambda = std::env::var_os("CARGO_LAMBDA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".tools/py/bin/cargo-lambda"));
    assert!(cargo_lambda.exists(), "cargo-lambda: run scripts/tools.sh");

    // The engines and the portal.
    let store = fresh_store().await;
    let dynamodb = system_tests::engine_url().await;
    let s3_root = std::env::temp_dir().join(format!("webhr-loop-s3-{}", std::process::id()));
    let s3_server = local_stack::start_s3(&s3_root, 0, None).await.unwrap();
    let s3 = local_stack::s3_client(&s3_server.url());
    let bucket = "webhr-uploads-local";
    local_stack::create_bucket(&s3, bucket).await.unwrap();
    let ssm = local_stack::ssm::start_ssm(
        [(TOKEN_PARAMETER.to_string(), PORTAL_TOKEN.to_string())].into(),
        0,
    )
    .await
    .unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Taipei)
        .date_naive();
    let yesterday = today.pred_opt().unwrap();
    let start = today - chrono::Days::new(3);
    let portal = simulator(
        portal_sim::DataConfig {
            per_day: 30,
            ..portal_sim::DataConfig::default()
        },
        yesterday,
    )
    .await;

    // Lambda's APIs.
    let port = free_port();
    let _watch = Running(
        Command::new(&cargo_lambda)
            .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1"])
            // How long an invoke waits for its answer: as long as Lambda
            // lets the sync and the import run.
            .args(["--timeout", "900"])
            .args(["-P", &port.to_string()])
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo lambda watch starts"),
    );
    wait_for(([127, 0, 0, 1], port).into(), Duration::from_secs(10)).await;

    // The functions, as Lambda would start them.
    let http = reqwest::Client::new();
    let lambda = format!("http://127.0.0.1:{port}");
    let mut running = Vec::new();
    let mut figures = Vec::new();
    for (name, logical_id) in FUNCTIONS {
        let bootstrap = build.join(logical_id).join("bootstrap");
        let size = std::fs::metadata(&bootstrap)
            .unwrap_or_else(|_| panic!("{} missing: run `sam build`", bootstrap.display()))
            .len();
        let started = Instant::now();
        let child = Command::new(&bootstrap)
            .env_clear()
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt/{name}"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_REGION", local_stack::REGION)
            .env("AWS_ACCESS_KEY_ID", local_stack::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", local_stack::SECRET_KEY)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &dynamodb)
            .env("AWS_ENDPOINT_URL_S3", s3_server.url())
            .env("AWS_ENDPOINT_URL_SSM", ssm.url())
            .env(
                "AWS_ENDPOINT_URL_LAMBDA",
                format!("http://127.0.0.1:{port}"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // Anything that tries to leave the machine fails at once.
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("TABLE_NAME", store.table())
            .env("START_DATE", start.to_string())
            // The CSV cutoff is the day before (the only value a function
            // accepts at cold start); the file's rows are from 2015.
            .env("STAGE", "test")
            // cargo lambda watch gives no real deadline: the functions
            // assume 5 minutes (learning_core::config::time_left).
            .env("SYNC_RESERVE_SECS", "10")
            .env("CSV_RESERVE_SECS", "10")
            .env("PORTAL_BASE_URL", portal.url())
            .env("PORTAL_TOKEN_PARAMETER", TOKEN_PARAMETER)
            .env("UPLOAD_BUCKET", bucket)
            .env("SYNC_FUNCTION_NAME", "daily-sync")
            .env("AUDIT_KEY", system_tests::AUDIT_KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the bootstrap starts");
        running.push(Running(child));
        // Process start → the first (trivial) answer through the loop.
        match name {
            "daily-sync" => {
                let probe = json!({"rerun": {"from": "2000-01-01", "to": "2000-01-01", "requested_by": "probe"}});
                let (answer, failed) = invoke(&http, &lambda, name, &probe).await;
                assert!(failed, "an impossible re-run is refused: {answer}");
                assert_eq!(answer["errorType"], "before_start_date", "{answer}");
            }
            "csv-import" => {
                let (answer, failed) = invoke(&http, &lambda, name, &json!({"Records": []})).await;
                assert!(!failed, "{answer}");
                assert_eq!(answer, json!([]));
            }
            _ => {
                let response = function_url(&http, port, "/v1/openapi.json").await;
                assert_eq!(response.status(), reqwest::StatusCode::OK);
                let document: Value = response.json().await.unwrap();
                assert_eq!(document["openapi"], "3.1.0");
            }
        }
        figures.push((name, size, started.elapsed()));
    }

    // The nightly sync, from a scheduled event as SAM generates it.
    let (summary, failed) =
        invoke(&http, &lambda, "daily-sync", &event("scheduled-event.json")).await;
    assert!(!failed, "{summary}");
    assert_eq!(summary["outcome"], "completed", "{summary}");
    let days: Vec<&str> = summary["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap_or_default())
        .collect();
    let want: Vec<String> = start
        .iter_days()
        .take_while(|d| *d <= yesterday)
        .map(|d| d.to_string())
        .collect();
    assert_eq!(days, want);
    let synced: u64 = summary["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["counts"]["inserted"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(record_items(&store).await.len() as u64, synced);

    // A CSV upload, with SAM's S3 event for it.
    let mut file = Vec::new();
    write_csv(
        &mut file,
        40,
        CsvEncoding::Utf8Bom,
        (AGENCY, "範例市政府人事處"),
        NaiveDate::from_ymd_opt(2015, 12, 31).unwrap(),
        11,
    )
    .unwrap();
    let mut put = event("s3-put.json");
    let key = format!("uploads/{AGENCY}/名單 2015.csv");
    let stored = s3
        .put_object()
        .bucket(bucket)
        .key(&key)
        .body(file.clone().into())
        .send()
        .await
        .unwrap();
    let object = &mut put["Records"][0]["s3"]["object"];
    object["size"] = json!(file.len());
    object["eTag"] = json!(stored.e_tag().unwrap_or_default().trim_matches('"'));
    let (handled, failed) = invoke(&http, &lambda, "csv-import", &put).await;
    assert!(!failed, "{handled}");
    let entry = &handled[0];
    assert_eq!(entry["outcome"], "finished", "{handled}");
    assert_eq!(entry["status"], "succeeded", "{handled}");
    assert_eq!(entry["counts"]["rows"], 40);
    assert_eq!(entry["counts"]["inserted"], 40);
    assert_eq!(
        record_items(&store).await.len() as u64,
        synced + 40,
        "the import's records are in the table"
    );

    // The API: without API Gateway's authorizer, refused; with its claims,
    // the log shows both runs.
    let refused = function_url(&http, port, "/v1/import-logs").await;
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    let (answer, failed) = invoke(
        &http,
        &lambda,
        "api",
        &gateway("GET", "/v1/import-logs", "staff", None),
    )
    .await;
    assert!(!failed, "{answer}");
    let (status, page) = http_answer(&answer);
    assert_eq!(status, 200, "{page}");
    let kinds: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "sync").count(), want.len());
    assert_eq!(kinds.iter().filter(|k| **k == "csv_import").count(), 1);

    // An administrator's re-run: the API invokes the sync through Lambda's
    // invoke API (asynchronously), and the day appears in the log.
    let body = json!({"from": yesterday.to_string()});
    let (answer, failed) = invoke(
        &http,
        &lambda,
        "api",
        &gateway("POST", "/v1/syncs", "admin", Some(body)),
    )
    .await;
    assert!(!failed, "{answer}");
    let (status, queued) = http_answer(&answer);
    assert_eq!(status, 202, "{queued}");
    let rerun = finished_rerun(&store, Duration::from_secs(20))
        .await
        .expect("the re-run reached the sync and finished");
    assert_eq!(rerun.data_date, yesterday);
    assert_eq!(
        rerun.counts.inserted, 0,
        "nothing new: the night already wrote it"
    );

    println!("release bootstraps (x86_64) under cargo lambda watch:");
    for (name, size, cold) in figures {
        println!(
            "  {name:<11} {:>6.1} MiB   process start → first answer {:>6.1} ms",
            size as f64 / 1024.0 / 1024.0,
            cold.as_secs_f64() * 1000.0
        );
    }
    drop(running);
    let _ = std::fs::remove_dir_all(&s3_root);
}
