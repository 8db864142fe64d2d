//! Benchmark: the CSV import end to end — a generated file in the embedded
//! S3, imported by the real import (stream, decode, check, conditional
//! writes, checkpoints, report) — on three engines:
//!
//! - `memory`: the embedded DynamoDB in memory;
//! - `file`: the same engine on a SQLite file (the local stack's);
//! - `cloud`: the in-memory engine behind the cloud model of
//!   `system_tests::fault_proxy` — 10 ms a call, 0.1 ms an item, and a
//!   write capacity (`CLOUD_WCU`, 2,000 WCU/s) throttled as DynamoDB does.
//!
//! On each, the same file is also loaded by a peer written the way AWS
//! samples do it (Python, boto3 `batch_writer`; `scripts/tools.sh peer`
//! installs it), and the engine's own raw BatchWriteItem rate is measured.
//! Prints rows/s, ours/peer, the share of the modelled capacity used and
//! the import's peak memory; ends with one `summary:` line. Asserts nothing.
//!
//! The engines run in one child process and the import in another, so the
//! peak memory printed (VmHWM) is the import's own, as Lambda would see it.
//!
//! ```text
//! cargo bench -p system-tests --bench csv_import [-- ROWS...] [memory|file|cloud...]
//!     (default 100000 on all three)
//! ```

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use csv_import::{Handled, ImportConfig, Importer};
use dynamodb_store::Store;
use learning_core::Settings;
use learning_core::import_log::UploadedFile;
use portal_sim::csv_file::{CsvEncoding, write_csv};
use system_tests::bench::{peak_mib, raw_batch_write};
use system_tests::{CloudModel, proxy_to};

const TABLE: &str = "bench";
const BUCKET: &str = "bench";

/// Child: DynamoDB (in memory, or on a file under `root`) and S3 (over
/// `root`) until stdin closes.
async fn serve_engines(root: &Path, storage: &str) {
    std::fs::create_dir_all(root).expect("engine folder");
    let file = root.join("dynamodb.sqlite");
    let storage = match storage {
        "file" => local_stack::DynamoStorage::File(&file),
        _ => local_stack::DynamoStorage::Memory,
    };
    let dynamodb = local_stack::start_dynamodb(storage, 0)
        .await
        .expect("DynamoDB starts");
    let s3 = local_stack::start_s3(root, 0, None)
        .await
        .expect("S3 starts");
    println!("{} {}", dynamodb.url(), s3.url());
    let mut line = String::new();
    let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await;
}

/// Child: one import, as one Lambda invocation with 15 minutes.
async fn import(args: &[String]) {
    let [dynamodb, s3, key, etag, size] = args else {
        panic!("--import DYNAMODB S3 KEY ETAG SIZE");
    };
    let store = Store::new(local_stack::dynamodb_client(dynamodb), TABLE);
    let config = ImportConfig {
        settings: Settings::default(),
        table: TABLE.into(),
        reserve: Duration::from_secs(30),
        audit_key: learning_core::audit::AuditKeySource::Key("bench".into()),
    };
    let importer = Importer::new(
        store,
        local_stack::s3_client(s3),
        &config,
        learning_core::audit::AuditKey::new("bench"),
    );
    let file = UploadedFile {
        bucket: BUCKET.into(),
        key: key.clone(),
        version_id: None,
        etag: Some(etag.clone()),
        size: size.parse().expect("size"),
    };
    let event = |key: &str| {
        serde_json::from_value(local_stack::s3_events::object_created(
            BUCKET, key, "Put", file.size, etag,
        ))
        .expect("event")
    };
    let started = Instant::now();
    let mut next = event(key);
    // One invocation of 15 minutes after another, as Lambda would run
    // the continuations.
    let entry = loop {
        let handled = importer
            .handle(
                &next,
                "bench",
                tokio::time::Instant::now() + Duration::from_secs(900),
            )
            .await
            .expect("import");
        match handled.into_iter().next() {
            Some(Handled::Finished(entry)) => break entry,
            Some(Handled::Continued(entry)) => {
                next = event(&csv_import::event::continuation_key(
                    &entry.log_id,
                    entry.seq,
                ));
            }
            other => panic!("not finished: {other:?}"),
        }
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} {} {secs} {} {}",
        entry.counts.rows,
        entry.counts.imported(),
        peak_mib(),
        entry.status.as_str()
    );
}

fn file(dir: &Path, rows: u64) -> PathBuf {
    // The same files as the parse benchmark.
    let path = dir.join(format!("passed-utf8-{rows}.csv"));
    if !path.exists() {
        let out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let until = NaiveDate::from_ymd_opt(2015, 12, 31).expect("date");
        write_csv(
            out,
            rows,
            CsvEncoding::Utf8Bom,
            ("376550000A", "範例機關人事室"),
            until,
            2016,
        )
        .expect("write");
    }
    path
}

/// A fresh engines process (every load starts from an empty engine) with
/// the table created: (process, DynamoDB URL, S3 URL, S3 folder).
async fn engines(storage: &str) -> (std::process::Child, String, String, PathBuf) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let root = std::env::temp_dir().join(format!(
        "csv-bench-s3-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .arg("--engines")
        .arg(&root)
        .arg(storage)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("engines");
    let mut urls = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut urls)
        .expect("urls");
    let urls: Vec<String> = urls.split_whitespace().map(str::to_string).collect();
    dynamodb_store::table::create(&local_stack::dynamodb_client(&urls[0]), TABLE)
        .await
        .expect("table");
    (child, urls[0].clone(), urls[1].clone(), root)
}

fn stop(mut child: std::process::Child, root: &Path) {
    drop(child.stdin.take());
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(root);
}

/// The engine's own rate: the file's records as items, loaded with plain
/// BatchWriteItem (25 per call, 8 calls in flight) into a fresh engine;
/// items/s.
async fn raw_load(path: &Path, storage: &str) -> f64 {
    let agency = learning_core::AgencyCode::parse("376550000A").expect("agency");
    let cutoff = NaiveDate::from_ymd_opt(2015, 12, 31).expect("date");
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("file"));
    let items: Vec<dynamodb_store::items::Item> = csv_import::open(file, cutoff, agency)
        .expect("a valid file")
        .filter_map(|row| match row {
            Ok(csv_import::RowOutcome::Accepted(record)) => {
                Some(dynamodb_store::items::record_attributes(&record))
            }
            _ => None,
        })
        .collect();
    let (child, dynamodb, _, root) = engines(storage).await;
    let client = local_stack::dynamodb_client(&dynamodb);
    let rate = raw_batch_write(&client, TABLE, &items).await;
    stop(child, &root);
    rate
}

/// The DynamoDB endpoint a load talks to: the engine itself, or the
/// cloud model in front of it (kept alive with the returned proxy).
async fn endpoint(
    engine: &str,
    dynamodb: &str,
    wcu: f64,
) -> (String, Option<system_tests::FaultProxy>) {
    if engine != "cloud" {
        return (dynamodb.to_string(), None);
    }
    let proxy = proxy_to(dynamodb.to_string()).await;
    proxy.set_cloud_model(CloudModel::with_capacity(wcu));
    (proxy.url.clone(), Some(proxy))
}

fn storage(engine: &str) -> &str {
    if engine == "file" { "file" } else { "memory" }
}

/// What one load measured.
struct Load {
    rows: f64,
    secs: f64,
    peak: f64,
    /// Write units spent and calls throttled (cloud model only).
    usage: (f64, u64),
}

/// Our import of `path` on `engine`, in a child process.
async fn ours(path: &Path, engine: &str, wcu: f64) -> (Load, String) {
    let (engines, dynamodb, s3, root) = engines(storage(engine)).await;
    let (dynamodb, proxy) = endpoint(engine, &dynamodb, wcu).await;
    let client = local_stack::s3_client(&s3);
    local_stack::create_bucket(&client, BUCKET)
        .await
        .expect("bucket");
    let key = "uploads/376550000A/bench.csv";
    let size = std::fs::metadata(path).expect("file").len();
    let put = client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(
            aws_sdk_s3::primitives::ByteStream::from_path(path)
                .await
                .expect("file"),
        )
        .send()
        .await
        .expect("upload");
    let etag = put
        .e_tag()
        .unwrap_or_default()
        .trim_matches('"')
        .to_string();
    let out = tokio::process::Command::new(std::env::current_exe().expect("own path"))
        .args(["--import", &dynamodb, &s3, key, &etag, &size.to_string()])
        .output()
        .await
        .expect("import child");
    let usage = proxy.as_ref().map_or((0.0, 0), |p| p.cloud_usage());
    stop(engines, &root);
    let text = String::from_utf8_lossy(&out.stdout);
    let parts: Vec<&str> = text.split_whitespace().collect();
    assert!(
        parts.len() == 5,
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let number = |i: usize| parts[i].parse::<f64>().unwrap_or(f64::NAN);
    let load = Load {
        rows: number(0),
        secs: number(2),
        peak: number(3),
        usage,
    };
    (load, format!("{} imported, {}", parts[1], parts[4]))
}

/// The peer's load of `path` on `engine`, the same way.
async fn peer(path: &Path, engine: &str, wcu: f64) -> Option<Load> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/peer/bin/python");
    if !python.exists() {
        println!("  (no peer: run scripts/tools.sh peer to install boto3)");
        return None;
    }
    let (engines, dynamodb, _, root) = engines(storage(engine)).await;
    let (dynamodb, proxy) = endpoint(engine, &dynamodb, wcu).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer_import.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .args([&dynamodb, TABLE])
        .arg(path)
        .output()
        .await
        .expect("peer runs");
    let usage = proxy.as_ref().map_or((0.0, 0), |p| p.cloud_usage());
    stop(engines, &root);
    let text = String::from_utf8_lossy(&out.stdout);
    let parts: Vec<f64> = text
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert!(
        parts.len() == 2,
        "peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(Load {
        rows: parts[0],
        secs: parts[1],
        peak: f64::NAN,
        usage,
    })
}

/// Every figure of one file on one engine; returns the summary's pairs.
async fn run(path: &Path, engine: &str, wcu: f64) -> Vec<(String, f64)> {
    let size = std::fs::metadata(path).expect("file").len() as f64;
    let (ours, outcome) = ours(path, engine, wcu).await;
    let rate = ours.rows / ours.secs;
    println!(
        "{engine}: {:.0} rows, {:.0} MB: {outcome} in {:.1} s = {rate:.0} rows/s, {:.1} MB/s; import peak memory {:.0} MiB",
        ours.rows,
        size / 1e6,
        ours.secs,
        size / 1e6 / ours.secs,
        ours.peak,
    );
    let mut summary = vec![
        (format!("{engine}_rows_per_s"), rate),
        (format!("{engine}_peak_mib"), ours.peak),
    ];
    if engine == "cloud" {
        let (units, throttled) = ours.usage;
        println!(
            "  cloud model {wcu:.0} WCU/s: {units:.0} WCU spent = {:.2} a row, {throttled} calls throttled; capacity share {:.2}",
            units / ours.rows,
            rate / wcu
        );
        summary.push(("capacity_share".into(), rate / wcu));
        summary.push(("wcu_per_row".into(), units / ours.rows));
    } else {
        let raw = raw_load(path, storage(engine)).await;
        println!(
            "  the engine's raw BatchWriteItem of the same records {raw:.0} items/s; ours {:.2} of it",
            rate / raw
        );
        summary.push((format!("{engine}_engine_items_per_s"), raw));
    }
    if let Some(peer) = peer(path, engine, wcu).await {
        let peer_rate = peer.rows / peer.secs;
        println!(
            "  peer (boto3 batch_writer): {:.0} rows in {:.1} s = {peer_rate:.0} rows/s; ours/peer {:.2}",
            peer.rows,
            peer.secs,
            rate / peer_rate
        );
        summary.push((format!("{engine}_peer_rows_per_s"), peer_rate));
        summary.push((format!("{engine}_ours_vs_peer"), rate / peer_rate));
    }
    summary
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    match args.first().map(String::as_str) {
        Some("--engines") => {
            return runtime.block_on(serve_engines(Path::new(&args[1]), &args[2]));
        }
        Some("--import") => return runtime.block_on(import(&args[1..])),
        _ => {}
    }
    let sizes: Vec<u64> = {
        let given: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
        if given.is_empty() {
            vec![100_000]
        } else {
            given
        }
    };
    let engines: Vec<&str> = {
        let given: Vec<&str> = ["memory", "file", "cloud"]
            .into_iter()
            .filter(|e| args.iter().any(|a| a == e))
            .collect();
        if given.is_empty() {
            vec!["memory", "file", "cloud"]
        } else {
            given
        }
    };
    let wcu: f64 = std::env::var("CLOUD_WCU")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000.0);
    let dir = std::env::var_os("CSV_BENCH_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/csv-bench"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("bench dir");
    let mut summary = Vec::new();
    for rows in &sizes {
        let path = file(&dir, *rows);
        for engine in &engines {
            summary.extend(runtime.block_on(run(&path, engine, wcu)));
        }
    }
    let pairs: Vec<String> = summary
        .iter()
        .map(|(name, value)| format!("{name}={value:.2}"))
        .collect();
    println!(
        "summary: rows={} cloud_wcu_per_s={wcu:.0} {}",
        sizes.last().copied().unwrap_or_default(),
        pairs.join(" ")
    );
}
