//! `local-stack`: the whole system on 127.0.0.1, no Docker, no AWS account.
//!
//! Starts the embedded DynamoDB (file-backed under `.local/`) and S3, the
//! portal simulator, creates the table and bucket, runs the nightly sync
//! from the start date (or from where the last local run stopped) through
//! yesterday, Asia/Taipei, and prints what it did. With `--serve` it stays
//! up: the HTTP API answers on 127.0.0.1 (development tokens from
//! `local-stack token`), and a CSV uploaded to the local bucket under
//! `uploads/<agency>/` raises the S3 event and the CSV import runs, as in
//! the cloud.
//!
//! ```text
//! cargo run -p local-stack -- [--per-day N] [--invalid-share X] [--fresh] [--serve]
//! cargo run -p local-stack -- token --agency CODE [--role staff|admin] [--user ID] [--hours H]
//! cargo run -p local-stack -- audit-hash --id ID
//! cargo run -p local-stack -- --help
//! ```

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use daily_sync::{DailySync, Outcome, RunRequest};
use dynamodb_store::Store;
use indicatif::{ProgressBar, ProgressStyle};
use learning_core::audit::AuditKeySource;
use learning_core::import_log::{RunStatus, SyncCounts, Trigger};
use learning_core::{Env, Settings};
use local_stack::{
    DynamoStorage, create_bucket, data_dir, dynamodb_client, s3_client, start_dynamodb, start_s3,
};
use portal_client::{PortalClient, PortalConfig, Secret};
use portal_sim::{DataConfig, Portal};

const TABLE: &str = "webhr-learning-local";
const BUCKET: &str = "webhr-uploads-local";
const PORTAL_TOKEN: &str = "local-portal-token";
/// As long as Lambda lets one invocation run.
const LAMBDA_TIMEOUT: Duration = Duration::from_secs(900);

/// The whole system on 127.0.0.1: embedded DynamoDB and S3, the portal
/// simulator, the nightly sync through yesterday (Asia/Taipei).
#[derive(Debug, Parser)]
#[command(name = "local-stack", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: Run,
}

#[derive(Debug, Args)]
struct Run {
    /// Simulated passed records per weekday.
    #[arg(long, default_value_t = 20)]
    per_day: u32,
    /// Share of records the portal sends invalid: bad ID check digits,
    /// hours not adding up, a field of the wrong JSON type (e.g. 0.002).
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    invalid_share: f64,
    /// Delete the data folder and start from the start date again.
    #[arg(long)]
    fresh: bool,
    /// Keep DynamoDB, S3, the portal and the API running afterwards.
    #[arg(long)]
    serve: bool,
    #[arg(long, env = "LOCAL_DYNAMODB_PORT", default_value_t = 8400)]
    dynamodb_port: u16,
    #[arg(long, env = "LOCAL_PORTAL_PORT", default_value_t = 8401)]
    portal_port: u16,
    #[arg(long, env = "LOCAL_S3_PORT", default_value_t = 8402)]
    s3_port: u16,
    #[arg(long, env = "LOCAL_API_PORT", default_value_t = 8403)]
    api_port: u16,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a development token for the local API.
    Token {
        /// The caller's agency code.
        #[arg(long)]
        agency: String,
        #[arg(long, default_value = "staff", value_parser = ["staff", "admin"])]
        role: String,
        /// The token's subject (default: `<role>-<agency>`).
        #[arg(long)]
        user: Option<String>,
        /// Hours the token is valid.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(i64).range(1..=720))]
        hours: i64,
    },
    /// Print the keyed hash the audit lines carry for a person, to find
    /// who looked at their records.
    AuditHash {
        /// The person's national ID.
        #[arg(long)]
        id: String,
    },
}

fn share(value: &str) -> Result<f64, String> {
    value
        .parse()
        .ok()
        .filter(|share| (0.0..=1.0).contains(share))
        .ok_or_else(|| "a share from 0 to 1, e.g. 0.002".to_string())
}

/// `local-stack token ...`: prints a development token for the local API.
fn token(
    agency: &str,
    role: &str,
    user: Option<String>,
    hours: i64,
) -> Result<(), Box<dyn std::error::Error>> {
    let user = user.unwrap_or_else(|| format!("{role}-{agency}"));
    let tokens = local_stack::api::dev_tokens(&data_dir())?;
    let token = local_stack::api::mint(&tokens, &user, agency, role, hours)
        .map_err(|e| e.message().into_owned())?;
    println!("{token}");
    Ok(())
}

/// `local-stack audit-hash --id ID`.
fn audit_hash(id: &str) -> Result<(), Box<dyn std::error::Error>> {
    let id = learning_core::NationalId::parse(id)?;
    println!("{}", local_stack::api::audit_key(&data_dir())?.person(&id));
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,dynoxide=error".into()))
        .with_writer(std::io::stderr)
        .init();
    let options = match Cli::parse() {
        Cli {
            command:
                Some(Command::Token {
                    agency,
                    role,
                    user,
                    hours,
                }),
            ..
        } => return token(&agency, &role, user, hours),
        Cli {
            command: Some(Command::AuditHash { id }),
            ..
        } => return audit_hash(&id),
        Cli { run, .. } => run,
    };
    let settings = Settings::from_env(&Env::process())?;
    let data = data_dir();
    if options.fresh && data.exists() {
        std::fs::remove_dir_all(&data)?;
    }
    std::fs::create_dir_all(&data)?;

    let dynamodb = start_dynamodb(
        DynamoStorage::File(&data.join("dynamodb.sqlite")),
        options.dynamodb_port,
    )
    .await?;
    let (s3_events, delivered) = tokio::sync::mpsc::unbounded_channel();
    let s3 = start_s3(&data.join("s3"), options.s3_port, Some(s3_events)).await?;
    let yesterday = settings
        .today(chrono::Utc::now())
        .pred_opt()
        .unwrap_or_default();
    let portal = Arc::new(Portal::new(
        DataConfig {
            per_day: options.per_day,
            invalid_id_share: options.invalid_share / 3.0,
            invalid_hours_share: options.invalid_share / 3.0,
            odd_type_share: options.invalid_share / 3.0,
            ..DataConfig::default()
        },
        PORTAL_TOKEN,
        yesterday,
    ));
    let portal_listener = tokio::net::TcpListener::bind(("127.0.0.1", options.portal_port)).await?;
    let portal_url = format!("http://{}", portal_listener.local_addr()?);
    tokio::spawn(portal_sim::serve(
        portal_listener,
        portal.clone(),
        std::future::pending(),
    ));

    let dynamo_client = dynamodb_client(&dynamodb.url());
    dynamodb_store::table::create(&dynamo_client, TABLE).await?;
    create_bucket(&s3_client(&s3.url()), BUCKET).await?;
    println!("本機環境 local stack");
    println!(
        "  DynamoDB  {}  table {TABLE}  (data in {})",
        dynamodb.url(),
        data.display()
    );
    println!("  S3        {}  bucket {BUCKET}", s3.url());
    println!(
        "  portal    {portal_url}  ({} records per weekday, seed {})",
        options.per_day,
        portal.generator().config().seed
    );
    println!();

    let store = Store::new(dynamo_client, TABLE);
    let audit_secret = local_stack::api::audit_secret(&data)?;
    let importer = Arc::new(csv_import::Importer::new(
        store.clone(),
        s3_client(&s3.url()),
        &csv_import::ImportConfig {
            settings: settings.clone(),
            table: TABLE.to_string(),
            reserve: Duration::from_secs(30),
            audit_key: AuditKeySource::Key(audit_secret.clone()),
        },
        learning_core::audit::AuditKey::new(audit_secret.clone()),
    ));
    let (answers, mut answered) = tokio::sync::mpsc::unbounded_channel();
    local_stack::lambda::deliver_s3_events(
        delivered,
        importer,
        local_stack::lambda::Invocations::default(),
        Some(answers),
    );
    let client = PortalClient::new(PortalConfig::new(
        portal_url.clone(),
        Secret::new(PORTAL_TOKEN),
    ))?;
    let sync = Arc::new(DailySync::new(
        client.clone(),
        store.clone(),
        settings.clone(),
        Duration::from_secs(60),
    ));

    println!(
        "終身學習自動入檔 nightly sync: {} → {yesterday}",
        settings.start_date
    );
    let bar = ProgressBar::new(0).with_style(ProgressStyle::with_template(
        "  {bar:40} {pos}/{len} days  {msg}  [{elapsed_precise}, eta {eta}]",
    )?);
    let mut totals = SyncCounts::default();
    let mut days = 0u64;
    let mut not_succeeded = Vec::new();
    let mut invocation = 0;
    let summary = loop {
        invocation += 1;
        let request = RunRequest {
            run_id: format!(
                "local-{}-{invocation}",
                chrono::Utc::now().format("%Y%m%dT%H%M%S")
            ),
            trigger: Trigger::Manual,
            deadline: tokio::time::Instant::now() + LAMBDA_TIMEOUT,
            rerun: None,
        };
        let summary = sync
            .run(&request, |entry, left| {
                if bar.length() == Some(0) {
                    bar.set_length(left + 1);
                }
                bar.inc(1);
                bar.set_message(format!("{} {}", entry.data_date, entry.status.as_str()));
                days += 1;
                totals += entry.counts;
                if entry.status != RunStatus::Succeeded {
                    not_succeeded.push((entry.data_date, entry.status, entry.error.clone()));
                }
            })
            .await;
        match summary {
            Ok(s) if s.outcome == Outcome::DeadlineReached => continue,
            other => break other,
        }
    };
    bar.finish_and_clear();

    println!(
        "  days worked      {days} (in {invocation} invocation(s) of at most {} s)",
        LAMBDA_TIMEOUT.as_secs()
    );
    println!("  records fetched  {}", totals.fetched);
    println!(
        "  inserted {} · updated {} · replaced staff {} · unchanged {} · withdrawn {} · skipped {} · failed {}",
        totals.inserted,
        totals.updated,
        totals.replaced_staff,
        totals.unchanged,
        totals.withdrawn,
        totals.skipped,
        totals.failed
    );
    // Partial days (records the portal sent invalid) are done; the list
    // says which, and the import log has each refused record.
    const LISTED: usize = 10;
    for (date, status, error) in not_succeeded.iter().take(LISTED) {
        let reason = error
            .as_ref()
            .map(|e| format!("{}: {}", e.code, e.message))
            .unwrap_or_default();
        println!("  {date} {} {reason}", status.as_str());
    }
    if not_succeeded.len() > LISTED {
        println!(
            "  … and {} more days partial or failed (see the import log)",
            not_succeeded.len() - LISTED
        );
    }
    match &summary {
        Ok(s) => println!(
            "  outcome          {:?}, watermark {}",
            s.outcome,
            s.watermark.map_or("-".into(), |d| d.to_string())
        ),
        Err(e) => println!("  outcome          failed: {e}"),
    }

    let now = chrono::Utc::now();
    let recent = store
        .sync_logs_between(
            now - chrono::Duration::days(31),
            now + chrono::Duration::minutes(1),
        )
        .await?;
    println!();
    println!(
        "匯入紀錄 import log (last month, newest first; {} entries), latest 5:",
        recent.len()
    );
    for entry in recent.iter().take(5) {
        let c = entry.counts;
        println!(
            "  {}  data {}  {:<9}  fetched {:>5}  inserted {:>5}  updated {:>4}  withdrawn {:>4}  failed {:>3}",
            entry
                .started_at
                .with_timezone(&settings.zone)
                .format("%Y-%m-%d %H:%M:%S"),
            entry.data_date,
            entry.status.as_str(),
            c.fetched,
            c.inserted,
            c.updated,
            c.withdrawn,
            c.failed
        );
    }

    if options.serve {
        let audit = api::AuditKey::new(audit_secret);
        let state = api::AppState {
            store: store.clone(),
            portal: client,
            bucket: BUCKET.to_string(),
            uploads: local_stack::uploads(&s3.url(), BUCKET),
            audit: audit.clone(),
            sealer: audit.sealer(),
            download_timeout: Duration::from_secs(25),
            launcher: local_stack::lambda::sync_launcher(sync.clone(), Default::default()),
            settings: settings.clone(),
            auth: Arc::new(api::Authentication::Local(local_stack::api::dev_tokens(
                &data,
            )?)),
            clock: Arc::new(chrono::Utc::now),
        };
        let http_api = local_stack::serve(api::router(state), options.api_port).await?;
        println!();
        println!(
            "HTTP API  {}  (the same router as in Lambda)",
            http_api.url()
        );
        println!("  TOKEN=$(cargo run -q -p local-stack -- token --agency 376550000A)");
        println!(
            "  curl -H \"Authorization: Bearer $TOKEN\" {}/v1/import-logs",
            http_api.url()
        );
        println!();
        println!("Serving until Ctrl-C. Point tools at:");
        println!(
            "  export AWS_ENDPOINT_URL_DYNAMODB={}  AWS_ENDPOINT_URL_S3={}",
            dynamodb.url(),
            s3.url()
        );
        println!(
            "  export AWS_ACCESS_KEY_ID={}  AWS_SECRET_ACCESS_KEY={}  AWS_REGION={}",
            local_stack::ACCESS_KEY,
            local_stack::SECRET_KEY,
            local_stack::REGION
        );
        println!("Upload a CSV to import it (any S3 client), e.g.:");
        println!("  cargo run -p portal-sim --bin csv-gen -- 1000 名單.csv");
        println!(
            "  aws --endpoint-url {} s3 cp 名單.csv s3://{BUCKET}/uploads/376550000A/名單.csv",
            s3.url()
        );
        println!();
        let zone = settings.zone;
        tokio::spawn(async move {
            while let Some(answer) = answered.recv().await {
                for handled in answer.unwrap_or_default() {
                    print_import(&handled, zone);
                }
            }
        });
        tokio::signal::ctrl_c().await?;
    }
    summary.map(|_| ()).map_err(Into::into)
}

/// One line per import the local Lambda finished or continued.
fn print_import(handled: &csv_import::Handled, zone: chrono_tz::Tz) {
    use csv_import::Handled;
    match handled {
        Handled::Finished(entry) | Handled::Continued(entry) => {
            let c = entry.counts;
            println!(
                "  {}  CSV {}  {:<9}  rows {:>7}  inserted {:>7}  updated {:>5}  unchanged {:>6}  rejected {:>6}{}",
                entry
                    .started_at
                    .with_timezone(&zone)
                    .format("%Y-%m-%d %H:%M:%S"),
                entry.file.key,
                entry.status.as_str(),
                c.rows,
                c.inserted,
                c.updated,
                c.unchanged,
                c.rejected,
                entry
                    .error
                    .as_ref()
                    .map(|e| format!("  {}: {}", e.code, e.message))
                    .unwrap_or_default()
            );
            if let Some(report) = &entry.report_key {
                println!("      rejected rows: s3://{BUCKET}/{report}");
            }
        }
        Handled::Skipped { log_id, reason } => println!("  {log_id} skipped: {reason}"),
    }
}
