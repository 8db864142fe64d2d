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

use portal_sim::csv_file::CsvEncoding;
use serde_json::json;
use system_tests::lambda::{
    Running, Stack, event, finished_rerun, free_port, gateway, http_answer, invoke, root, wait_for,
};

const FUNCTIONS: [(&str, &str); 3] = [
    ("daily-sync", "DailySyncFunction"),
    ("csv-import", "CsvImportFunction"),
    ("api", "ApiFunction"),
];

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

    let stack = Stack::start().await;

    // Lambda's APIs. Its log and each function's go to target/lambda-loop/,
    // for when this test fails.
    let logs = root().join("target/lambda-loop");
    std::fs::create_dir_all(&logs).expect("log directory");
    let log_file = |name: &str| std::fs::File::create(logs.join(name)).expect("log file");
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
            .stderr(log_file("watch.log"))
            .spawn()
            .expect("cargo lambda watch starts"),
    );
    wait_for(([127, 0, 0, 1], port).into(), Duration::from_secs(10)).await;

    // The functions, as Lambda would start them.
    let http = system_tests::http_client();
    let lambda = format!("http://127.0.0.1:{port}");
    let mut running = Vec::new();
    let mut figures = Vec::new();
    for (name, logical_id) in FUNCTIONS {
        let bootstrap = build.join(logical_id).join("bootstrap");
        let bytes = std::fs::read(&bootstrap)
            .unwrap_or_else(|_| panic!("{} missing: run `sam build`", bootstrap.display()));
        let size = bytes.len() as u64;
        // The development tokens (feature `local`, jsonwebtoken) never
        // reach a deployed binary: its panic locations would name the crate.
        assert!(
            !bytes.windows(12).any(|w| w == b"jsonwebtoken"),
            "{name}: development code in the deployed bootstrap"
        );
        let log = log_file(&format!("{name}.log"));
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
            .envs(stack.environment(
                &stack.dynamodb,
                &stack.s3_server.url(),
                &stack.ssm.url(),
                &stack.portal.url(),
            ))
            .env("AWS_ENDPOINT_URL_LAMBDA", &lambda)
            // Anything that tries to leave the machine fails at once.
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("STAGE", "test")
            // cargo lambda watch gives no real deadline: the functions
            // assume 5 minutes (learning_core::config::time_left).
            .env("SYNC_RESERVE_SECS", "10")
            .env("CSV_RESERVE_SECS", "10")
            .env("SYNC_FUNCTION_NAME", "daily-sync")
            .env("RUST_LOG", "warn")
            .stdout(log)
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
                // The function URL answered this first request with a 500
                // once in CI (b4b524d..a3d1ad5), with nothing on the
                // function's stderr: a second ask is allowed, and the first
                // answer printed, with the logs kept in target/lambda-loop/.
                let mut response = function_url(&http, port, "/v1/openapi.json").await;
                if response.status() == reqwest::StatusCode::INTERNAL_SERVER_ERROR {
                    let body = response.text().await.unwrap_or_default();
                    println!("api: the first answer was a 500, asked again: {body}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    response = function_url(&http, port, "/v1/openapi.json").await;
                }
                assert_eq!(response.status(), reqwest::StatusCode::OK);
                let document: serde_json::Value = response.json().await.unwrap();
                assert_eq!(document["openapi"], "3.1.0");
            }
        }
        figures.push((name, size, started.elapsed()));
    }

    // The nightly sync, from a scheduled event as SAM generates it.
    let (summary, failed) =
        invoke(&http, &lambda, "daily-sync", &event("scheduled-event.json")).await;
    assert!(!failed, "{summary}");
    let synced = stack.assert_nightly(&summary).await;

    // A CSV upload, with SAM's S3 event for it.
    let put = stack.uploaded(CsvEncoding::Utf8Bom).await;
    let (handled, failed) = invoke(&http, &lambda, "csv-import", &put).await;
    assert!(!failed, "{handled}");
    stack.assert_imported(&handled, synced).await;

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
    stack.assert_log_shows_both(&page);

    // An administrator's re-run: the API invokes the sync through Lambda's
    // invoke API (asynchronously), and the day appears in the log.
    let body = json!({"from": stack.yesterday.to_string()});
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
    let rerun = finished_rerun(&stack.store, Duration::from_secs(20))
        .await
        .expect("the re-run reached the sync and finished");
    assert_eq!(rerun.data_date, stack.yesterday);
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
}
