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
use portal_sim::csv_file::CsvEncoding;
use serde_json::{Value, json};
use serde_yaml::Value as Yaml;
use system_tests::lambda::{
    Running, Stack, event, finished_rerun, free_port, gateway, http_answer, invoke, root, wait_for,
};

const FUNCTIONS: [&str; 3] = ["DailySyncFunction", "CsvImportFunction", "ApiFunction"];

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
fn local_template(
    environment: &BTreeMap<&str, String>,
    name: &str,
    sync_timeout_secs: Option<u64>,
) -> std::path::PathBuf {
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
    if let Some(secs) = sync_timeout_secs {
        template["Resources"]["DailySyncFunction"]["Properties"]["Timeout"] = Yaml::from(secs);
    }
    let path = build.join(format!("template.{name}.yaml"));
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

/// The stack as the containers reach it: each engine through a forwarder
/// on the bridge's address (`SAM_LOCAL_BIND`), and a port there for
/// `sam local start-lambda`, the functions' Lambda endpoint.
struct Bridged {
    bridge: IpAddr,
    lambda_port: u16,
    _forwarders: [Server; 4],
    /// The functions' environment pointing at them.
    environment: BTreeMap<&'static str, String>,
}

impl Bridged {
    async fn new(stack: &Stack) -> Self {
        let bridge: IpAddr = required("SAM_LOCAL_BIND")
            .parse()
            .expect("SAM_LOCAL_BIND: the bridge's address");
        let dynamodb = on_bridge(bridge, &stack.dynamodb).await;
        let s3 = on_bridge(bridge, &stack.s3_server.url()).await;
        let ssm = on_bridge(bridge, &stack.ssm.url()).await;
        let portal = on_bridge(bridge, &stack.portal.url()).await;
        let lambda_port = free_port();
        let mut environment: BTreeMap<&str, String> = stack
            .environment(&dynamodb.url(), &s3.url(), &ssm.url(), &portal.url())
            .into_iter()
            .collect();
        environment.extend([
            (
                "AWS_ENDPOINT_URL_LAMBDA",
                format!("http://{bridge}:{lambda_port}"),
            ),
            (
                "UPLOAD_URL",
                format!("{}/{}", s3.url(), system_tests::lambda::BUCKET),
            ),
            ("STAGE", "sam-local".into()),
            ("RUST_LOG", "info".into()),
        ]);
        Bridged {
            bridge,
            lambda_port,
            _forwarders: [dynamodb, s3, ssm, portal],
            environment,
        }
    }

    fn lambda(&self) -> String {
        self.environment["AWS_ENDPOINT_URL_LAMBDA"].clone()
    }

    /// `sam local start-lambda` on the bridge, logging to `log`, once it
    /// listens.
    async fn start_lambda(&self, template: &Path, log: &Path) -> Running {
        let server = sam_server(
            template,
            &[
                "start-lambda",
                "--host",
                &self.bridge.to_string(),
                "--port",
                &self.lambda_port.to_string(),
            ],
            log,
        );
        wait_for(
            (self.bridge, self.lambda_port).into(),
            Duration::from_secs(60),
        )
        .await;
        server
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Docker, the SAM CLI and `sam build`: scripts/sam-local.sh runs it"]
async fn the_bootstraps_run_under_sam_local() {
    // The engines and the portal on 127.0.0.1, each reached from the
    // containers on the bridge; start-lambda there too, the Lambda
    // endpoint of the API's re-runs.
    let stack = Stack::start().await;
    let mut bridged = Bridged::new(&stack).await;
    bridged
        .environment
        .insert("SYNC_FUNCTION_NAME", "DailySyncFunction".into());
    let lambda = bridged.lambda();
    let template = local_template(&bridged.environment, "sam-local", None);
    let mut reports = Vec::new();

    // The nightly sync, from SAM's scheduled event.
    let (summary, report) = sam_invoke(
        &template,
        "DailySyncFunction",
        &event("scheduled-event.json"),
    );
    reports.push(("DailySyncFunction", report));
    let synced = stack.assert_nightly(&summary).await;

    // A Big5 upload from before the start date, with SAM's S3 event.
    let put = stack.uploaded(CsvEncoding::Big5).await;
    let (handled, report) = sam_invoke(&template, "CsvImportFunction", &put);
    reports.push(("CsvImportFunction", report));
    stack.assert_imported(&handled, synced).await;

    // The API with API Gateway's claims: the log shows both runs.
    let (answer, report) = sam_invoke(
        &template,
        "ApiFunction",
        &gateway("GET", "/v1/import-logs", "staff", None),
    );
    reports.push(("ApiFunction", report));
    let (status, page) = http_answer(&answer);
    assert_eq!(status, 200, "{page}");
    stack.assert_log_shows_both(&page);

    // An administrator's re-run through start-lambda: the API's own
    // Invoke (asynchronous) starts the sync in a container of its own.
    let logs = std::env::temp_dir().join(format!("sam-local-{}", std::process::id()));
    std::fs::create_dir_all(&logs).unwrap();
    let lambda_log = logs.join("start-lambda.log");
    let _start_lambda = bridged.start_lambda(&template, &lambda_log).await;
    let http = system_tests::http_client();
    let body = json!({"from": stack.yesterday.to_string()});
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
    assert_eq!(queued["from"], stack.yesterday.to_string(), "{queued}");
    let rerun = finished_rerun(&stack.store, Duration::from_secs(120))
        .await
        .unwrap_or_else(|| {
            panic!(
                "the re-run did not reach the sync:\n{}",
                std::fs::read_to_string(&lambda_log).unwrap_or_default()
            )
        });
    assert_eq!(rerun.data_date, stack.yesterday);
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
    let _ = std::fs::remove_dir_all(&logs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Docker, the SAM CLI and `sam build`: scripts/sam-local.sh runs it"]
async fn a_backfill_out_of_time_continues_in_new_invocations_until_done() {
    // Four months from a slow portal, in invocations of 10 s that keep 6 s
    // in reserve: no one invocation can do it.
    let stack = Stack::with_days(120).await;
    stack.portal.portal.set_faults(portal_sim::Faults {
        latency_ms: 400,
        ..portal_sim::Faults::default()
    });
    let mut bridged = Bridged::new(&stack).await;
    bridged.environment.extend([
        ("SYNC_RESERVE_SECS", "6".into()),
        // Only the backfill's own days in the log.
        ("SYNC_LOOKBACK_DAYS", "0".into()),
    ]);
    let lambda = bridged.lambda();
    let template = local_template(&bridged.environment, "sam-local-backfill", Some(10));
    let logs = std::env::temp_dir().join(format!("sam-local-backfill-{}", std::process::id()));
    std::fs::create_dir_all(&logs).unwrap();
    let lambda_log = logs.join("start-lambda.log");
    let _start_lambda = bridged.start_lambda(&template, &lambda_log).await;
    let log = || std::fs::read_to_string(&lambda_log).unwrap_or_default();

    // The night's invocation runs out of time with days left...
    let http = system_tests::http_client();
    let (first, failed) = invoke(
        &http,
        &lambda,
        "DailySyncFunction",
        &event("scheduled-event.json"),
    )
    .await;
    assert!(!failed, "{first}\n{}", log());
    assert_eq!(first["outcome"], "deadline_reached", "{first}");
    assert!(first["days_left"].as_u64().unwrap_or(0) > 0, "{first}");
    // ...and the invocations it starts carry on until yesterday is done.
    let until = Instant::now() + Duration::from_secs(240);
    while stack.store.watermark().await.unwrap() != Some(stack.yesterday) {
        assert!(
            Instant::now() < until,
            "the backfill stopped at {:?}:\n{}",
            stack.store.watermark().await.unwrap(),
            log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let now = chrono::Utc::now();
    let entries = stack
        .store
        .sync_logs_between(
            now - chrono::Duration::hours(1),
            now + chrono::Duration::minutes(1),
        )
        .await
        .unwrap();
    let invocations: std::collections::BTreeSet<&str> =
        entries.iter().map(|e| e.run_id.as_str()).collect();
    assert!(
        invocations.len() >= 2,
        "one invocation did it all: {invocations:?}"
    );
    let mut days: Vec<_> = entries.iter().map(|e| e.data_date).collect();
    days.sort();
    let want: Vec<_> = stack
        .start
        .iter_days()
        .take_while(|d| *d <= stack.yesterday)
        .collect();
    assert_eq!(days, want, "every day once, none twice");
    let truth = system_tests::truth(&stack.portal.portal, want.into_iter(), stack.yesterday);
    system_tests::assert_same_records(&system_tests::stored(&stack.store).await, &truth);
    // Nothing left: the last invocation started no other.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        log().matches("REPORT RequestId").count(),
        invocations.len(),
        "one REPORT per invocation, none after the last:\n{}",
        log()
    );
    println!(
        "a {}-day backfill in {} invocations of at most 10 s, each continued by the one before",
        days.len(),
        invocations.len()
    );
    let _ = std::fs::remove_dir_all(&logs);
}
