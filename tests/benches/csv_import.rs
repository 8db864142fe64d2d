//! Benchmark: the CSV import end to end — a generated file in the embedded
//! S3, imported into the embedded in-memory DynamoDB by the real import
//! (stream, decode, check, transactions with checkpoints, report). Prints
//! rows/s and the import's peak memory at each size; asserts nothing.
//!
//! The engines run in one child process and the import in another, so the
//! peak memory printed (VmHWM) is the import's own, as Lambda would see it.
//!
//! ```text
//! cargo bench -p system-tests --bench csv_import [-- ROWS...]   (default 100000 1000000)
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

const TABLE: &str = "bench";
const BUCKET: &str = "bench";

/// Child: DynamoDB (memory) and S3 (over `root`) until stdin closes.
async fn serve_engines(root: &Path) {
    let dynamodb = local_stack::start_dynamodb(local_stack::DynamoStorage::Memory, 0)
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
    };
    let importer = Importer::new(store, local_stack::s3_client(s3), &config);
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
async fn engines() -> (std::process::Child, String, String, PathBuf) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let root = std::env::temp_dir().join(format!(
        "csv-bench-s3-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .arg("--engines")
        .arg(&root)
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

/// The baseline: the file's records as items, loaded with plain
/// BatchWriteItem (25 per call, 8 calls in flight) into a fresh engine;
/// items/s.
async fn raw_load(path: &Path) -> f64 {
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
    let (child, dynamodb, _, root) = engines().await;
    let client = local_stack::dynamodb_client(&dynamodb);
    let rate = raw_batch_write(&client, TABLE, &items).await;
    stop(child, &root);
    rate
}

async fn run(path: &Path) {
    let (engines, dynamodb, s3, root) = engines().await;
    let (dynamodb, s3) = (&dynamodb, &s3);
    let client = local_stack::s3_client(s3);
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
    let out = Command::new(std::env::current_exe().expect("own path"))
        .args(["--import", dynamodb, s3, key, &etag, &size.to_string()])
        .output()
        .expect("import child");
    stop(engines, &root);
    let text = String::from_utf8_lossy(&out.stdout);
    let parts: Vec<&str> = text.split_whitespace().collect();
    assert!(
        parts.len() == 5,
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: f64 = parts[0].parse().unwrap_or(f64::NAN);
    let secs: f64 = parts[2].parse().unwrap_or(f64::NAN);
    let peak: f64 = parts[3].parse().unwrap_or(f64::NAN);
    let raw = raw_load(path).await;
    println!(
        "{} rows, {:.0} MB: imported {} ({}) in {secs:.1} s = {:.0} rows/s, {:.1} MB/s; import peak memory {peak:.0} MiB; \
         raw BatchWriteItem of the same records {raw:.0} items/s; ratio {:.2}",
        parts[0],
        size as f64 / 1e6,
        parts[1],
        parts[4],
        rows / secs,
        size as f64 / 1e6 / secs,
        rows / secs / raw,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    match args.first().map(String::as_str) {
        Some("--engines") => return runtime.block_on(serve_engines(Path::new(&args[1]))),
        Some("--import") => return runtime.block_on(import(&args[1..])),
        _ => {}
    }
    let sizes: Vec<u64> = {
        let given: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
        if given.is_empty() {
            vec![100_000, 1_000_000]
        } else {
            given
        }
    };
    let dir = std::env::var_os("CSV_BENCH_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/csv-bench"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("bench dir");
    for rows in sizes {
        let path = file(&dir, rows);
        runtime.block_on(run(&path));
    }
}
