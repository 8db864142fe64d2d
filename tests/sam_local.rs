//! The release bootstraps from `sam build` under `sam local`, in Docker
//! containers with AWS's Runtime Interface Emulator (shipped in the SAM
//! CLI's wheel): `sam local invoke` of each function with SAM's generated
//! events, `sam local start-lambda` as the Lambda endpoint an
//! administrator's re-run travels through (API → Invoke → the sync in its
//! own container → the log), and `sam local start-api` with the template's
//! HTTP API.
//!
//! The engines and the simulator stay on 127.0.0.1; the containers reach
//! them only through forwarders on Docker's bridge address
//! (`SAM_LOCAL_BIND`). Needs Docker, the stand-in base image
//! (`SAM_LOCAL_IMAGE`), the SAM CLI on `PATH` and `.aws-sam/build`:
//! `scripts/sam-local.sh` provides them all and runs this with
//! `--run-ignored only`.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use local_stack::Running as Server;
use portal_sim::csv_file::{CsvEncoding, write_csv};
use serde_json::{Value, json};
use serde_yaml::Value as Yaml;
use system_tests::lambda::{
    Running, event, finished_rerun, free_port, gateway, http_answer, invoke, root, wait_for,
};
use system_tests::{AGENCY, AUDIT_KEY, PORTAL_TOKEN, fresh_store, record_items, simulator};

const FUNCTIONS: [&str; 3] = ["DailySyncFunction", "CsvImportFunction", "ApiFunction"];
const TOKEN_PARAMETER: &str = "/webhr/portal-token";
const BUCKET: &str = "webhr-uploads-local";

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name}: run scripts/sam-local.sh"))
}

/// An engine on 127.0.0.1 as a container reaches it: through a forwarder
/// on the bridge address.
async fn on_bridge(bridge: IpAddr, url: &str) -> Server {
    let target: SocketAddr = url
        .trim_start_matches("http://")
        .parse()
        .expect("an engine on 127.0.0.1:port");
    local_stack::forward(bridge, target)
        .await
        .expect("a forwarder on the bridge")
}

/// `.aws-sam/build/template.yaml` with every function's environment
/// pointing at the local engines (SAM passes a container only the
/// variables its template declares), written beside it so the functions'
/// `CodeUri`s still resolve.
fn local_template(environment: &BTreeMap<&str, String>) -> std::path::PathBuf {
    let build = root().join(".aws-sam/build");
    let text = std::fs::read_to_string(build.join("template.yaml"))
        .expect(".aws-sam/build/template.yaml: run `sam build`");
    let mut template: Yaml = serde_yaml::from_str(&text).expect("the built template parses");
    let variables: serde_yaml::Mapping = environment
        .iter()
        .map(|(k, v)| (Yaml::from(*k), Yaml::from(v.as_str())))
        .collect();
    let globals = &mut template["Globals"]["Function"];
    globals["Environment"]["Variables"] = Yaml::Mapping(variables);
    globals["Architectures"] = serde_yaml::from_str("[x86_64]").unwrap();
    for function in FUNCTIONS {
        let properties = template["Resources"][function]["Properties"]
            .as_mapping_mut()
            .unwrap_or_else(|| panic!("{function} in the built template"));
        properties.remove("Environment");
        // The roles, logs groups and queues exist only in the cloud.
        for cloud_only in ["Role", "LoggingConfig", "EventInvokeConfig"] {
            properties.remove(cloud_only);
        }
    }
    let path = build.join("template.sam-local.yaml");
    std::fs::write(&path, serde_yaml::to_string(&template).unwrap()).unwrap();
    path
}

/// What every `sam local` command here shares: the template, the stand-in
/// image (never pulled), no telemetry, the local keys (SAM hands them to
/// the containers as the functions' credentials).
fn sam(template: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("sam");
    command
        .arg("local")
        .args(args)
        .args(["--template-file", &template.to_string_lossy()])
        .args(["--invoke-image", &required("SAM_LOCAL_IMAGE")])
        .args(["--skip-pull-image", "--region", local_stack::REGION])
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_ACCESS_KEY_ID", local_stack::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", local_stack::SECRET_KEY)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .current_dir(root());
    command
}

/// `sam local invoke FUNCTION` with `event`: the function's answer, and
/// the emulator's REPORT line.
fn sam_invoke(template: &Path, function: &str, event: &Value) -> (Value, String) {
    let file =
        std::env::temp_dir().join(format!("sam-event-{}-{function}.json", std::process::id()));
    std::fs::write(&file, event.to_string()).unwrap();
    let started = Instant::now();
    let Output {
        status,
        stdout,
        stderr,
    } = sam(
        template,
        &["invoke", function, "--event", &file.to_string_lossy()],
    )
    .stdin(Stdio::null())
    .output()
    .expect("sam runs");
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&stdout);
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(status.success(), "sam local invoke {function}: {stderr}");
    let answer = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or_else(|| panic!("{function} answered nothing: {stdout}\n{stderr}"));
    let report = report_line(&stderr);
    println!(
        "sam local invoke {function}: {:.1} s in all; {report}",
        started.elapsed().as_secs_f64()
    );
    (answer, report)
}

/// The emulator's `REPORT RequestId: … Duration: …` line, in short.
fn report_line(log: &str) -> String {
    log.lines()
        .rev()
        .find(|l| l.contains("REPORT RequestId"))
        .map(|l| {
            l.split("\t")
                .skip(1)
                .collect::<Vec<_>>()
                .join(" ")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|| panic!("no REPORT line in:\n{log}"))
}

/// A `sam local start-*` server, stopped with the test; its log goes to a
/// file the assertions print when they fail.
fn sam_server(template: &Path, args: &[&str], log: &Path) -> Running {
    let file = std::fs::File::create(log).unwrap();
    Running(
        sam(template, args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("sam starts"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Docker, the SAM CLI and `sam build`: scripts/sam-local.sh runs it"]
async fn the_bootstraps_run_under_sam_local() {
    let bridge: IpAddr = required("SAM_LOCAL_BIND")
        .parse()
        .expect("SAM_LOCAL_BIND: the bridge's address");

    // The engines and the portal on 127.0.0.1, each reached from the
    // containers on the bridge.
    let store = fresh_store().await;
    let dynamodb = on_bridge(bridge, &system_tests::engine_url().await).await;
    let s3_root = std::env::temp_dir().join(format!("webhr-sam-s3-{}", std::process::id()));
    let s3_server = local_stack::start_s3(&s3_root, 0, None).await.unwrap();
    let s3 = local_stack::s3_client(&s3_server.url());
    local_stack::create_bucket(&s3, BUCKET).await.unwrap();
    let s3_bridge = on_bridge(bridge, &s3_server.url()).await;
    let ssm = local_stack::ssm::start_ssm(
        [(TOKEN_PARAMETER.to_string(), PORTAL_TOKEN.to_string())].into(),
        0,
    )
    .await
    .unwrap();
    let ssm_bridge = on_bridge(bridge, &ssm.url()).await;
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
    let portal_bridge = on_bridge(bridge, &portal.url()).await;
    // Lambda's invoke API for the API's re-runs: start-lambda, on the
    // bridge so the API's container reaches it.
    let lambda_port = free_port();
    let lambda = format!("http://{bridge}:{lambda_port}");

    let environment: BTreeMap<&str, String> = [
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url()),
        ("AWS_ENDPOINT_URL_S3", s3_bridge.url()),
        ("AWS_ENDPOINT_URL_SSM", ssm_bridge.url()),
        ("AWS_ENDPOINT_URL_LAMBDA", lambda.clone()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("TABLE_NAME", store.table().to_string()),
        ("START_DATE", start.to_string()),
        ("CSV_CUTOFF_DATE", start.pred_opt().unwrap().to_string()),
        ("TIME_ZONE", "Asia/Taipei".into()),
        ("STAGE", "sam-local".into()),
        ("PORTAL_BASE_URL", portal_bridge.url()),
        ("PORTAL_TOKEN_PARAMETER", TOKEN_PARAMETER.into()),
        ("UPLOAD_BUCKET", BUCKET.into()),
        ("UPLOAD_URL", format!("{}/{BUCKET}", s3_bridge.url())),
        ("SYNC_FUNCTION_NAME", "DailySyncFunction".into()),
        ("AUDIT_KEY", AUDIT_KEY.into()),
        ("RUST_LOG", "info".into()),
    ]
    .into();
    let template = local_template(&environment);
    let mut reports = Vec::new();

    // The nightly sync, from SAM's scheduled event.
    let (summary, report) = sam_invoke(
        &template,
        "DailySyncFunction",
        &event("scheduled-event.json"),
    );
    reports.push(("DailySyncFunction", report));
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
    assert_eq!(days, want, "every day from the start date to yesterday");
    let synced: u64 = summary["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["counts"]["inserted"].as_u64().unwrap_or(0))
        .sum();
    assert!(synced > 0, "{summary}");
    assert_eq!(record_items(&store).await.len() as u64, synced);

    // A Big5 upload from before the start date, with SAM's S3 event.
    let mut file = Vec::new();
    write_csv(
        &mut file,
        40,
        CsvEncoding::Big5,
        (AGENCY, "範例市政府人事處"),
        start.pred_opt().unwrap(),
        12,
    )
    .unwrap();
    let key = format!("uploads/{AGENCY}/名單 2015.csv");
    let stored = s3
        .put_object()
        .bucket(BUCKET)
        .key(&key)
        .body(file.clone().into())
        .send()
        .await
        .unwrap();
    let mut put = event("s3-put.json");
    let object = &mut put["Records"][0]["s3"]["object"];
    object["size"] = json!(file.len());
    object["eTag"] = json!(stored.e_tag().unwrap_or_default().trim_matches('"'));
    let (handled, report) = sam_invoke(&template, "CsvImportFunction", &put);
    reports.push(("CsvImportFunction", report));
    let entry = &handled[0];
    assert_eq!(entry["outcome"], "finished", "{handled}");
    assert_eq!(entry["status"], "succeeded", "{handled}");
    assert_eq!(entry["counts"]["rows"], 40, "{handled}");
    assert_eq!(entry["counts"]["inserted"], 40, "{handled}");
    assert_eq!(record_items(&store).await.len() as u64, synced + 40);

    // The API with API Gateway's claims: the log shows both runs.
    let (answer, report) = sam_invoke(
        &template,
        "ApiFunction",
        &gateway("GET", "/v1/import-logs", "staff", None),
    );
    reports.push(("ApiFunction", report));
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

    // An administrator's re-run through start-lambda: the API's own
    // Invoke (asynchronous) starts the sync in a container of its own.
    let logs = std::env::temp_dir().join(format!("sam-local-{}", std::process::id()));
    std::fs::create_dir_all(&logs).unwrap();
    let lambda_log = logs.join("start-lambda.log");
    let _start_lambda = sam_server(
        &template,
        &[
            "start-lambda",
            "--host",
            &bridge.to_string(),
            "--port",
            &lambda_port.to_string(),
        ],
        &lambda_log,
    );
    wait_for((bridge, lambda_port).into(), Duration::from_secs(60)).await;
    let http = reqwest::Client::new();
    let body = json!({"from": yesterday.to_string()});
    let (answer, failed) = invoke(
        &http,
        &lambda,
        "ApiFunction",
        &gateway("POST", "/v1/syncs", "admin", Some(body)),
    )
    .await;
    let (status, queued) = http_answer(&answer);
    assert!(
        !failed && status == 202,
        "{answer}\n{}",
        std::fs::read_to_string(&lambda_log).unwrap_or_default()
    );
    assert_eq!(queued["from"], yesterday.to_string(), "{queued}");
    let rerun = finished_rerun(&store, Duration::from_secs(120))
        .await
        .unwrap_or_else(|| {
            panic!(
                "the re-run did not reach the sync:\n{}",
                std::fs::read_to_string(&lambda_log).unwrap_or_default()
            )
        });
    assert_eq!(rerun.data_date, yesterday);
    assert_eq!(rerun.counts.inserted, 0, "the night already wrote it");
    let log = std::fs::read_to_string(&lambda_log).unwrap_or_default();
    assert!(
        log.matches("REPORT RequestId").count() >= 2,
        "start-lambda ran the API and then the sync:\n{log}"
    );
    reports.push(("start-lambda: API → sync", report_line(&log)));

    // The template's HTTP API: SAM runs no JWT authorizer, so the public
    // routes answer and every private one is refused by the function.
    let api_port = free_port();
    let api_log = logs.join("start-api.log");
    let _start_api = sam_server(
        &template,
        &[
            "start-api",
            "--host",
            "127.0.0.1",
            "--port",
            &api_port.to_string(),
        ],
        &api_log,
    );
    wait_for(([127, 0, 0, 1], api_port).into(), Duration::from_secs(60)).await;
    let base = format!("http://127.0.0.1:{api_port}");
    let get = |path: &'static str| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            let response = http
                .get(url)
                .timeout(Duration::from_secs(120))
                .send()
                .await
                .expect("start-api answers");
            (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            )
        }
    };
    let (status, document) = get("/v1/openapi.json").await;
    assert_eq!(status, 200, "{document}");
    let document: Value = serde_json::from_str(&document).expect("the OpenAPI document");
    assert_eq!(document["openapi"], "3.1.0");
    let (status, page) = get("/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<html"), "the staff page: {page}");
    for private in ["/v1/import-logs", "/v1/settings", "/v1/records"] {
        let (status, body) = get(private).await;
        assert_eq!(status, 401, "{private} without a token: {body}");
        let problem: Value = serde_json::from_str(&body).expect("a problem document");
        assert_eq!(problem["code"], "token_missing", "{body}");
    }

    // The emulator reports the memory limit as "Max Memory Used", not a
    // measurement; the durations are the functions' own.
    println!("release bootstraps (x86_64) under sam local, REPORT lines:");
    for (function, report) in reports {
        println!("  {function:<26} {report}");
    }
    let _ = std::fs::remove_dir_all(&s3_root);
    let _ = std::fs::remove_dir_all(&logs);
}
