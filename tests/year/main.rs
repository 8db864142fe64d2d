//! A year of operation, simulated: the real functions — the nightly sync,
//! the CSV import from S3 events, the HTTP API — on the embedded engines,
//! with every actor at once and a simulated clock, behind the fault proxy's
//! cloud model. The oracle keeps its own ledger from what the simulation
//! generated and what each actor was told; it never asks the product's
//! validation or decision code. See "A year of operation" in docs/design.md.
//!
//! ```sh
//! cargo nextest run -p system-tests --test year --success-output immediate   # a month (CI)
//! scripts/soak.sh --year                                                     # the year
//! YEAR_SEED=7 cargo nextest run -p system-tests --test year                  # replay a seed
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use api::{Authentication, Claims, LocalTokens};
use aws_lambda_events::event::s3::S3Event;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use daily_sync::{DailySync, Outcome, SyncEvent};
use dynamodb_store::Store;
use learning_core::Settings;
use portal_client::PortalClient;
use portal_sim::csv_file::CsvEncoding;
use portal_sim::{DataConfig, Faults, WireRecord};
use reqwest::StatusCode;
use serde_json::{Value, json};
use system_tests::*;

mod oracle;
mod people;
mod uploads;
mod world;

use oracle::*;

/// How big a year: `YEAR_*` variables (scripts/soak.sh --year sets the
/// full one); by default a month and a few days, for the test suite.
#[derive(Debug, Clone, Copy)]
struct Scale {
    seed: u64,
    nights: u32,
    agencies: u32,
    per_day: u32,
    /// December's rate, times the ordinary one.
    rush: f64,
    /// The table's write capacity under the cloud model.
    wcu: f64,
    /// Uploads a weekday, on average.
    uploads: f64,
}

fn scale() -> Scale {
    let var = |name: &str, default: f64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(default)
    };
    Scale {
        seed: var("YEAR_SEED", 2016.0) as u64,
        nights: var("YEAR_NIGHTS", 36.0) as u32,
        agencies: var("YEAR_AGENCIES", 12.0) as u32,
        per_day: var("YEAR_PER_DAY", 16.0) as u32,
        rush: var("YEAR_RUSH", 6.0),
        wcu: var("YEAR_WCU", 400.0),
        uploads: var("YEAR_UPLOADS", 0.5),
    }
}

/// Simulated time, read by every function of the run.
#[derive(Clone)]
struct Clock(Arc<AtomicI64>);

impl Clock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.load(Ordering::SeqCst)).expect("a time")
    }

    /// `hour:minute` in Taipei on `day`.
    fn set(&self, day: NaiveDate, hour: u32, minute: u32) {
        let at = chrono_tz::Asia::Taipei
            .from_local_datetime(&day.and_hms_opt(hour, minute, 0).expect("a time"))
            .single()
            .expect("unambiguous")
            .with_timezone(&Utc);
        self.0.store(at.timestamp_millis(), Ordering::SeqCst);
    }

    fn as_fn(&self) -> Arc<dyn Fn() -> DateTime<Utc> + Send + Sync> {
        let clock = self.clone();
        Arc::new(move || clock.now())
    }
}

/// The figures the summary line prints.
#[derive(Debug, Default)]
struct Figures {
    nights: u32,
    records: u64,
    uploads: u64,
    rows: u64,
    downloads: u64,
    staff_edits: u64,
    refused_edits: u64,
    portal_fault_nights: u32,
    kills: u64,
    duplicate_events: u64,
    continuations: u64,
    sync_continuations: u64,
    sync_out_of_time: u64,
    double_schedules: u64,
    reruns: u64,
    removals: u64,
    backdated: u64,
    mismatches: u64,
    lost: u64,
    duplicated: u64,
    operator_actions: u64,
    checks: u32,
    sync_capacity_share: f64,
    csv_capacity_share: f64,
    /// The peak night's write capacity.
    peak_wcu: f64,
}

/// Everything the year runs on.
struct World {
    scale: Scale,
    rng: fastrand::Rng,
    clock: Clock,
    settings: Settings,
    direct: Store,
    proxy: FaultProxy,
    portal: portal_sim::RunningPortal,
    sync: Arc<DailySync<PortalClient>>,
    api_url: String,
    http: reqwest::Client,
    s3: aws_sdk_s3::Client,
    events: tokio::sync::mpsc::UnboundedReceiver<Value>,
    importer: Arc<csv_import::Importer>,
    ledger: Ledger,
    figures: Figures,
    /// Keys any generated row or typed record used: fresh ones never meet.
    used: BTreeSet<Key>,
    /// Files uploaded and imported, by agency (for re-uploads).
    files: Vec<(String, Vec<WireRecord>)>,
    next_invocation: u64,
    /// Wall time by what the year spent it on.
    spent: BTreeMap<&'static str, f64>,
    /// When the year began, in wall time.
    started: Instant,
    _servers: (local_stack::Running, local_stack::Running),
    s3_root: std::path::PathBuf,
}

const TOKENS: (&str, &str, &str) = ("year-key", "webhr-local", "webhr-api");
const IMPORT_RESERVE: Duration = Duration::from_millis(800);

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.s3_root);
    }
}

/// The night's weather: at the portal, at DynamoDB.
fn weather(rng: &mut fastrand::Rng) -> (Faults, DbFaults, bool) {
    let portal = match rng.u8(0..20) {
        0 => Faults {
            outage: true,
            ..Faults::default()
        },
        1 | 2 => Faults {
            server_error_rate: 0.1,
            rate_limit_rate: 0.1,
            retry_after_secs: 0,
            reset_rate: 0.05,
            ..Faults::default()
        },
        3 => Faults {
            hang_rate: 0.1,
            malformed_rate: 0.05,
            ..Faults::default()
        },
        _ => Faults::default(),
    };
    let faulty = portal.outage || portal != Faults::default();
    let db = if rng.f64() < 0.3 {
        DbFaults {
            throttle_rate: 0.03,
            server_error_rate: 0.03,
            unprocessed_rate: 0.1,
            drop_before_rate: 0.01,
            drop_after_rate: 0.01,
        }
    } else {
        DbFaults::default()
    };
    (portal, db, faulty)
}

/// The share of the table's capacity a load used: write units spent over
/// what the table offered meanwhile, its one-second burst included.
fn share(units: f64, took: Duration, wcu: f64) -> f64 {
    units / (wcu * (took.as_secs_f64() + 1.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_of_operation_needs_no_operator() {
    let scale = scale();
    println!("year: {scale:?} (replay with YEAR_SEED={})", scale.seed);
    let started = Instant::now();
    let mut world = World::new(scale).await;
    world.proxy.set_cloud_model(CloudModel {
        per_call: Duration::from_millis(1),
        per_item: Duration::from_micros(20),
        wcu_per_s: scale.wcu,
    });
    let first = world.settings.start_date + chrono::Days::new(1);
    let nights: Vec<NaiveDate> = first.iter_days().take(scale.nights as usize).collect();
    let last = *nights.last().expect("a night");
    let peak = nights
        .iter()
        .copied()
        .filter(|d| d.weekday().num_days_from_monday() < 5)
        .max_by_key(|d| {
            world
                .portal
                .portal
                .generator()
                .count_on(*d - chrono::Days::new(1))
        })
        .expect("a weekday");
    for (index, &night) in nights.iter().enumerate() {
        world.figures.nights += 1;
        // Each month's last night is calm, so the check after it finds
        // what the system made of the month's faults by itself.
        let month_end = night == last || (night + chrono::Days::new(1)).day() == 1;
        // Every month, two nights of outage in a row leave a backlog.
        let outage = matches!(index % 30, 9 | 10);
        // The night's draws come first and always in the same number, so
        // the plan does not depend on what earlier nights made of it.
        world.act(night, "night");
        let weather = weather(&mut world.rng);
        let short = Duration::from_millis(world.rng.u64(520..640));
        let cut_short = world.rng.f64() < 0.7;
        let twice = world.rng.f64() < 0.1;
        let roll = world.rng.f64();
        let (portal_faults, db_faults, faulty) = if month_end || night == peak {
            (Faults::default(), DbFaults::default(), false)
        } else if outage {
            let outage = Faults {
                outage: true,
                ..Faults::default()
            };
            (outage, DbFaults::default(), true)
        } else {
            weather
        };
        if faulty {
            world.figures.portal_fault_nights += 1;
        }
        let behind =
            world.direct.watermark().await.expect("watermark") < Some(night - chrono::Days::new(2));
        world.clock.set(night, 1, 30);
        world.portal.portal.set_as_of(night - chrono::Days::new(1));
        world.portal.portal.set_faults(portal_faults);
        world.proxy.set_faults(db_faults);
        // A night after a bad one has days to catch up: some of those
        // runs get too little time and continue in a new invocation.
        let deadline = if behind && cut_short {
            short
        } else {
            Duration::from_secs(600)
        };
        if night == peak {
            // What the sync makes of the capacity when it is the limit: the
            // peak night against a budget its writes need some 16 s of, as
            // on a table sized for ordinary nights.
            let listed = world
                .portal
                .portal
                .generator()
                .count_on(night - chrono::Days::new(1));
            let wcu = (listed as f64 / 16.0).max(10.0).min(scale.wcu);
            world.proxy.set_write_capacity(wcu);
            let (before, _) = world.proxy.cloud_usage();
            let at = Instant::now();
            let runs = world.night(night, Duration::from_secs(600), false).await;
            let (after, _) = world.proxy.cloud_usage();
            world.proxy.set_write_capacity(scale.wcu);
            world.count_night(runs);
            world.figures.peak_wcu = wcu;
            world.figures.sync_capacity_share = share(after - before, at.elapsed(), wcu);
        } else if roll < 0.1 {
            // A download racing the night's run.
            let agency = portal_sim::data::agency(0).0;
            let token = world.token(&agency, "staff");
            let from = (night - chrono::Days::new(6)).max(world.settings.start_date);
            let body = json!({"from": from.to_string(), "to": night.to_string()});
            let http = world.http.clone();
            let url = format!("{}/v1/downloads", world.api_url);
            let runs = world.night(night, deadline, twice);
            let download = async move {
                http.post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status())
            };
            let (runs, status) = tokio::join!(runs, download);
            world.count_night(runs);
            let status = status.expect("the API answers");
            assert!(
                status == StatusCode::OK || status.is_server_error(),
                "{status}"
            );
            world.figures.downloads += 1;
        } else if roll < 0.2 {
            // An agency's upload imported while the night's run writes.
            let runs = world.night(night, deadline, twice);
            let (runs, ()) = tokio::join!(runs, world.upload());
            world.count_night(runs);
        } else {
            let at = Instant::now();
            let runs = world.night(night, deadline, twice).await;
            world.took("night", at);
            world.count_night(runs);
        }
        if month_end {
            let at = Instant::now();
            world.check(night).await;
            world.took("check", at);
        }
        if night == last {
            break;
        }

        // The working day.
        world.clock.set(night, 10, 0);
        world.portal.portal.set_as_of(night);
        world.portal.portal.set_faults(Faults::default());
        world.proxy.set_faults(DbFaults {
            throttle_rate: 0.01,
            server_error_rate: 0.01,
            unprocessed_rate: 0.05,
            ..DbFaults::default()
        });
        let weekday = night.weekday().num_days_from_monday() < 5;
        if !weekday {
            continue;
        }
        world.act(night, "day");
        let uploads = scale.uploads * if night.month() == 12 { 2.0 } else { 1.0 };
        let uploads = uploads.floor() as u32 + u32::from(world.rng.f64() < uploads.fract());
        let staff = world.rng.f64() < 0.6;
        let locked = world.rng.f64() < 0.2;
        let download = world.rng.f64() < 0.3;
        let rerun = world.rng.f64() < 0.15;
        let removal = world.rng.f64() < 0.1;
        let backdate = world.rng.f64() < 0.1;
        for upload in 0..uploads {
            world.act(night, &format!("upload {upload}"));
            let at = Instant::now();
            world.upload().await;
            world.took("upload", at);
        }
        if staff {
            world.act(night, "staff");
            let at = Instant::now();
            world.staff(night).await;
            world.took("staff", at);
        }
        if locked {
            world.act(night, "locked");
            let at = Instant::now();
            world.try_locked(night).await;
            world.took("staff", at);
        }
        if download {
            world.act(night, "download");
            let at = Instant::now();
            world.download(night).await;
            world.took("download", at);
        }
        if rerun {
            world.act(night, "rerun");
            let at = Instant::now();
            world.backdate_and_rerun(night).await;
            world.took("rerun", at);
        }
        if removal {
            world.act(night, "removal");
            let at = Instant::now();
            world.erase_and_remove(night).await;
            world.took("removal", at);
        }
        if backdate {
            // A correction inside the lookback: found by the nights alone.
            world.act(night, "backdate");
            let day = night - chrono::Days::new(world.rng.u64(1..6));
            if let Some(mut late) = world
                .portal
                .portal
                .day(day)
                .iter()
                .find(|r| r.is_passed() && r.defect.is_none())
                .cloned()
            {
                late.course_name.push_str("（更正）");
                world.portal.portal.backdate(late, night);
                world.figures.backdated += 1;
            }
        }
    }

    // The largest upload alone against the capacity, for its share.
    world.act(last, "capacity");
    world.proxy.set_faults(DbFaults::default());
    let agency = world.agency();
    let rows = world.fresh_rows(&agency, 2000);
    let mut bytes = Vec::new();
    portal_sim::csv_file::write_records(&mut bytes, &rows, CsvEncoding::Utf8Bom).expect("a file");
    let (before, _) = world.proxy.cloud_usage();
    let at = Instant::now();
    let entry = world
        .import(&format!("uploads/{}/capacity.csv", agency.0), bytes)
        .await;
    let (after, _) = world.proxy.cloud_usage();
    assert_eq!(entry["counts"]["inserted"], 2000, "{entry}");
    world.figures.csv_capacity_share = share(after - before, at.elapsed(), scale.wcu);

    println!("wall time by phase (s): {:?}", world.spent);
    let f = &world.figures;
    let injected: u64 = world.proxy.injected().values().sum();
    println!(
        "summary: nights={} agencies={} records={} uploads={} rows={} downloads={} staff_edits={} refused_edits={} portal_fault_nights={} ddb_faults={injected} kills={} duplicate_events={} continuations={} sync_continuations={} sync_out_of_time={} double_schedules={} reruns={} removals={} backdated={} checks={} mismatches={} lost={} duplicated={} operator_actions={} sync_capacity_share={:.2} peak_wcu={:.0} csv_capacity_share={:.2} wall_s={:.0} peak_mib={:.0} seed={}",
        f.nights,
        scale.agencies,
        f.records,
        f.uploads,
        f.rows,
        f.downloads,
        f.staff_edits,
        f.refused_edits,
        f.portal_fault_nights,
        f.kills,
        f.duplicate_events,
        f.continuations,
        f.sync_continuations,
        f.sync_out_of_time,
        f.double_schedules,
        f.reruns,
        f.removals,
        f.backdated,
        f.checks,
        f.mismatches,
        f.lost,
        f.duplicated,
        f.operator_actions,
        f.sync_capacity_share,
        f.peak_wcu,
        f.csv_capacity_share,
        started.elapsed().as_secs_f64(),
        bench::peak_mib(),
        scale.seed,
    );
}
