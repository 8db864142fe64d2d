//! Benchmark: decode + parse + check the rows of a large upload, against a
//! bare `csv::ByteRecord` pass over the same bytes, in UTF-8 and Big5, at
//! 100k and 1M rows. A third pass, the decode floor, is the bare pass that
//! also decodes every row as the checker must (UTF-8: the row checked
//! once; Big5: each cell into text): what checking can never beat. Each pass runs in a child process of its own so that
//! its peak memory (VmHWM) is its own; the two kinds take turns, three
//! times each, and the medians are compared. Prints figures and a
//! `summary:` line; asserts nothing.
//!
//! ```text
//! cargo bench -p csv-rows --bench parse [-- ROWS...]
//! ```

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::NaiveDate;
use csv_rows::RowOutcome;
use learning_core::AgencyCode;
use portal_sim::csv_file::{CsvEncoding, write_csv};

fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Child: one pass over `path`; prints "rows seconds peak_mib accepted".
fn pass(kind: &str, path: &Path) {
    let file = BufReader::with_capacity(256 * 1024, std::fs::File::open(path).expect("file"));
    let started = Instant::now();
    let (rows, accepted) = match kind {
        "bare" => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .flexible(true)
                .from_reader(file);
            let mut record = csv::ByteRecord::new();
            let mut rows = 0u64;
            while reader.read_byte_record(&mut record).expect("read") {
                rows += 1;
            }
            (rows, 0)
        }
        "decode" => {
            let mut head = vec![0u8; 8 * 1024];
            let n = std::fs::File::open(path)
                .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
                .expect("head");
            let encoding = csv_rows::sniff(&head[..n]).expect("a CSV");
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .flexible(true)
                .from_reader(file);
            let mut record = csv::ByteRecord::new();
            let mut text = String::new();
            let (mut rows, mut decoded) = (0u64, 0u64);
            while reader.read_byte_record(&mut record).expect("read") {
                rows += 1;
                let whole = match encoding {
                    csv_rows::Encoding::Big5 => record
                        .iter()
                        .all(|cell| encoding.decode_into(cell, &mut text)),
                    _ => std::str::from_utf8(record.as_slice()).is_ok(),
                };
                decoded += u64::from(whole);
            }
            (rows, decoded)
        }
        _ => {
            let cutoff = NaiveDate::from_ymd_opt(2015, 12, 31).expect("date");
            let agency = AgencyCode::parse("376550000A").expect("agency");
            let mut rows = 0u64;
            let mut accepted = 0u64;
            for outcome in csv_rows::open(file, cutoff, agency).expect("open") {
                rows += 1;
                if matches!(outcome.expect("row"), RowOutcome::Accepted(_)) {
                    accepted += 1;
                }
            }
            (rows, accepted)
        }
    };
    println!(
        "{rows} {} {} {accepted}",
        started.elapsed().as_secs_f64(),
        peak_mib()
    );
}

fn run_child(kind: &str, path: &Path) -> (u64, f64, f64, u64) {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .args(["--pass", kind])
        .arg(path)
        .output()
        .expect("child runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let parts: Vec<&str> = text.split_whitespace().collect();
    assert!(
        parts.len() == 4,
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        parts[0].parse().unwrap_or(0),
        parts[1].parse().unwrap_or(f64::NAN),
        parts[2].parse().unwrap_or(f64::NAN),
        parts[3].parse().unwrap_or(0),
    )
}

/// Passes of each kind, taking turns.
const RUNS: usize = 3;

/// The run with the median time.
fn median(mut runs: Vec<(u64, f64, f64, u64)>) -> (u64, f64, f64, u64) {
    runs.sort_by(|a, b| a.1.total_cmp(&b.1));
    runs[runs.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--pass") {
        pass(&args[1], Path::new(&args[2]));
        return;
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
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/csv-bench"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("bench dir");
    let mut ratios = Vec::new();
    let mut floors = Vec::new();
    for rows in &sizes {
        let rows = *rows;
        for (encoding, label) in [(CsvEncoding::Utf8Bom, "utf8"), (CsvEncoding::Big5, "big5")] {
            let path = dir.join(format!("passed-{label}-{rows}.csv"));
            if !path.exists() {
                let file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
                let until = NaiveDate::from_ymd_opt(2015, 12, 31).expect("date");
                write_csv(
                    file,
                    rows,
                    encoding,
                    ("376550000A", "範例機關人事室"),
                    until,
                    2016,
                )
                .expect("write");
            }
            let mb = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
            // Turns about, three of each, and the median of each: this
            // machine's speed drifts by half from one second to the next.
            let mut bare = Vec::new();
            let mut floor = Vec::new();
            let mut ours = Vec::new();
            for _ in 0..RUNS {
                bare.push(run_child("bare", &path));
                floor.push(run_child("decode", &path));
                ours.push(run_child("check", &path));
            }
            let (bare_rows, bare_s, bare_mib, _) = median(bare);
            let (_, floor_s, _, _) = median(floor);
            let (rows_seen, ours_s, ours_mib, accepted) = median(ours);
            ratios.push(bare_s / ours_s);
            floors.push(bare_s / floor_s);
            println!(
                "{label} {rows} rows, {mb:.0} MB: bare ByteRecord {:.0} rows/s ({:.0} MB/s, peak {bare_mib:.0} MiB); \
                 bare + decode {:.0} rows/s (floor ratio {:.2}); \
                 decode+parse+check {:.0} rows/s ({:.0} MB/s, peak {ours_mib:.0} MiB, {accepted} accepted); ratio {:.2}",
                bare_rows as f64 / bare_s,
                mb / bare_s,
                bare_rows as f64 / floor_s,
                bare_s / floor_s,
                rows_seen as f64 / ours_s,
                mb / ours_s,
                bare_s / ours_s,
            );
        }
    }
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "summary: rows={} runs={RUNS} min_ratio={min:.2} ratios={} floor_ratios={}",
        sizes.last().copied().unwrap_or_default(),
        listed(&ratios),
        listed(&floors),
    );
}

fn listed(ratios: &[f64]) -> String {
    ratios
        .iter()
        .map(|r| format!("{r:.2}"))
        .collect::<Vec<_>>()
        .join(",")
}
