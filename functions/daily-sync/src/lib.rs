//! The nightly automatic import (終身學習自動入檔).
//!
//! Each run works every day from the day after the last completed one (the
//! start date on the first run) through yesterday in Asia/Taipei, one day at
//! a time, and writes one import-log entry per day. A day is fetched whole
//! before anything is written, so a portal failure never leaves a
//! half-written day; writes are idempotent by natural key, so re-running a
//! day changes nothing that is already right. The watermark moves over
//! days whose records were all written (succeeded) or all but those the
//! portal sent invalid (partial), never over a failed day. A lease keeps
//! two runs off the same days, and the run stops before the Lambda
//! deadline; the next run resumes. Scheduled runs then read the last days
//! again for late changes (the lookback).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use dynamodb_store::{Change, Store, StoreError};
use futures::StreamExt as _;
use learning_core::days;
use learning_core::import_log::{
    ErrorSummary, MAX_LISTED_FAILURES, RecordFailure, RunStatus, SyncCounts, SyncLogEntry, Trigger,
};
use learning_core::national_id::mask_raw_id;
use learning_core::{
    AgencyCode, ConfigError, DayRange, Env, FromPortal, NaturalKey, Problem, RangeRules, Settings,
    Source,
};

/// Where a day's counts put records without a valid agency code.
pub const UNKNOWN_AGENCY: &str = "?";
use portal_client::{PortalClient, PortalConfig, PortalError, PortalRecord};
use serde::Serialize;
use tokio::time::Instant;
use tracing::{info, instrument, warn};

/// Where the day's records come from: the portal client in production, a
/// fake in unit tests.
pub trait Portal: Send + Sync {
    fn changes_on(
        &self,
        day: NaiveDate,
    ) -> impl Future<Output = Result<Vec<PortalRecord>, PortalError>> + Send;
}

impl Portal for PortalClient {
    async fn changes_on(&self, day: NaiveDate) -> Result<Vec<PortalRecord>, PortalError> {
        PortalClient::changes_on(self, day).await
    }
}

/// What invokes the function: an EventBridge rule's scheduled event, an
/// EventBridge Scheduler payload (`template.yaml` sends the same two fields),
/// an operator's `{}`, or an administrator's re-run from the API
/// (`{"rerun": {...}}`). Only the source and the re-run matter; anything
/// else is ignored.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct SyncEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(
        default,
        rename = "detail-type",
        skip_serializing_if = "Option::is_none"
    )]
    pub detail_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<Rerun>,
}

/// An administrator's request to work some days again, whatever the
/// watermark says (`POST /v1/syncs`). Each day is fetched and written again
/// (a no-op for what is already right) and logged with who asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rerun {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The administrator (the token's subject).
    pub requested_by: String,
}

impl Rerun {
    /// The days to work, or why they cannot be ([`RangeRules::rerun`]).
    pub fn days(&self, settings: &Settings, now: DateTime<Utc>) -> Result<Vec<NaiveDate>, Problem> {
        let rules = RangeRules::rerun(settings);
        let range = DayRange::check(self.from, self.to, &rules, settings.today(now))?;
        Ok(range.iter().collect())
    }
}

impl SyncEvent {
    /// Starts the sync function (`function`: its name or ARN) on this event
    /// without waiting: Lambda's asynchronous invoke, which retries a
    /// failed run twice. How a re-run (from the API) and a continuation
    /// (from the function itself) reach it. The error is the SDK's, told
    /// whole, for the log.
    pub async fn invoke_async(
        &self,
        lambda: &aws_sdk_lambda::Client,
        function: &str,
    ) -> Result<(), String> {
        let payload = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        lambda
            .invoke()
            .function_name(function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_lambda::error::DisplayErrorContext(e).to_string())
    }

    pub fn trigger(&self) -> Trigger {
        match self.source.as_deref() {
            Some("aws.events" | "aws.scheduler") => Trigger::Schedule,
            _ => Trigger::Manual,
        }
    }

    /// What a run that stopped at its deadline with days left sends a new
    /// invocation of its own function (asynchronously) so that a backfill
    /// finishes by itself: this event again. Bounded: only after a run that
    /// wrote at least one day (in order, each moving the watermark; a
    /// failed day ends the run another way), so every invocation of the
    /// chain makes progress and the chain ends when the days do. An
    /// administrator's re-run is not continued (its range is re-run whole).
    pub fn continuation(&self, summary: &RunSummary) -> Option<SyncEvent> {
        let progressed = summary.outcome == Outcome::DeadlineReached
            && summary.days_left > 0
            && !summary.days.is_empty();
        (progressed && self.rerun.is_none()).then(|| self.clone())
    }

    /// The run this event asks for, in an invocation with `run_id` that
    /// must return by `deadline`.
    pub fn into_request(self, run_id: String, deadline: Instant) -> RunRequest {
        RunRequest {
            run_id,
            trigger: self.trigger(),
            deadline,
            rerun: self.rerun,
        }
    }
}

/// The function's configuration (see the README's table).
#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub settings: Settings,
    /// `TABLE_NAME`.
    pub table: String,
    pub portal: PortalConfig,
    /// `SYNC_RESERVE_SECS` (60): time kept free before the Lambda deadline.
    pub reserve: Duration,
    /// `SYNC_LOOKBACK_DAYS` (7): days before today each nightly run reads
    /// again, for changes the portal records under a day already passed.
    pub lookback_days: u32,
}

impl SyncConfig {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(SyncConfig {
            settings: Settings::from_env(env)?,
            table: env.required("TABLE_NAME", "DynamoDB 資料表名稱")?,
            portal: PortalConfig::from_env(env)?,
            reserve: Duration::from_secs(env.number("SYNC_RESERVE_SECS", 60, 5..=600)?),
            lookback_days: env.number("SYNC_LOOKBACK_DAYS", 7, 0..=31)?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{date} 的資料同步失敗：{reason}")]
    DayFailed { date: NaiveDate, reason: String },
    #[error("無法重新執行：{0}")]
    InvalidRerun(Problem),
}

/// Lambda's error report: a stable type, a message without personal data.
impl From<SyncError> for lambda_runtime::Diagnostic {
    fn from(error: SyncError) -> Self {
        let error_type = match &error {
            SyncError::Store(e) => e.code(),
            SyncError::DayFailed { .. } => "day_failed",
            SyncError::InvalidRerun(problem) => problem.code,
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: error.to_string(),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every day through yesterday was worked.
    Completed,
    /// Nothing to do: the watermark is at yesterday.
    UpToDate,
    /// Stopped before the deadline; the next run resumes.
    DeadlineReached,
    /// A day failed; later days wait for the next run.
    DayFailed,
    /// Another run holds the lease.
    AnotherRunActive,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub outcome: Outcome,
    /// The last day fully done after this run.
    pub watermark: Option<NaiveDate>,
    /// Days still to work (0 when caught up).
    pub days_left: u64,
    pub days: Vec<DaySummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DaySummary {
    pub date: NaiveDate,
    pub log_id: String,
    pub status: RunStatus,
    pub counts: learning_core::import_log::SyncCounts,
}

/// What a run reports to CloudWatch (`template.yaml`'s alarms watch
/// them): days still behind, days that failed (a run that failed as a whole
/// counts one), records the portal sent that did not validate.
pub fn metrics(
    result: &Result<RunSummary, SyncError>,
    days_behind: u64,
) -> [(&'static str, u64); 3] {
    let (failed, refused) = match result {
        Ok(summary) => summary.days.iter().fold((0, 0), |(failed, refused), d| {
            (
                failed + u64::from(d.status == RunStatus::Failed),
                refused + d.counts.failed,
            )
        }),
        Err(_) => (1, 0),
    };
    [
        ("DaysBehind", days_behind),
        ("DaysFailed", failed),
        ("RecordsRefused", refused),
    ]
}

/// One invocation: who runs, why, and until when.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub run_id: String,
    pub trigger: Trigger,
    /// When the invocation must have returned.
    pub deadline: Instant,
    /// Days an administrator asked for; `None` for the days due.
    pub rerun: Option<Rerun>,
}

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct DailySync<P> {
    portal: P,
    store: Store,
    settings: Settings,
    reserve: Duration,
    lookback_days: u32,
    prefetch: usize,
    clock: Clock,
}

/// Days fetched from the portal ahead of the one being written, at most:
/// a backfill waits on the portal's latency, not its capacity, so a few
/// requests in flight multiply its speed; days are still written, and the
/// watermark moved, strictly in order.
pub const PREFETCH_DAYS: usize = 4;

/// How far back a run looks for entries an earlier run left `running`
/// (runs come nightly; a few days covers a schedule paused meanwhile).
pub const INTERRUPTED_WINDOW_DAYS: i64 = 3;

/// The code of a day whose run stopped before it finished the day.
pub const INTERRUPTED: &str = "interrupted";

impl<P: Portal> DailySync<P> {
    pub fn new(portal: P, store: Store, settings: Settings, reserve: Duration) -> Self {
        DailySync {
            portal,
            store,
            settings,
            reserve,
            lookback_days: 0,
            prefetch: PREFETCH_DAYS,
            clock: Arc::new(Utc::now),
        }
    }

    /// Reads the last `days` days again on every scheduled run: the
    /// watermark trusts the portal's change dates, and a change recorded
    /// under a day already passed (a back-dated correction, a late batch)
    /// would otherwise never be fetched. Identical records cost no write.
    pub fn with_lookback(mut self, days: u32) -> Self {
        self.lookback_days = days;
        self
    }

    /// Fetches up to `days` days ahead of the one being written (at least
    /// 1: one after another); [`PREFETCH_DAYS`] unless set.
    pub fn with_prefetch(mut self, days: usize) -> Self {
        self.prefetch = days.max(1);
        self
    }

    /// Replaces the wall clock (tests travel in time with it).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn portal(&self) -> &P {
        &self.portal
    }

    /// Days between the last one fully done and yesterday: 0 when the
    /// import is up to date (the `DaysBehind` metric).
    pub async fn days_behind(&self) -> Result<u64, StoreError> {
        let watermark = self.store.watermark().await?;
        Ok(self.settings.days_behind(watermark, (self.clock)()))
    }

    /// Works the days due (or those of the request's re-run), calling
    /// `on_day` after each (for progress bars).
    #[instrument(skip_all, fields(run_id = %request.run_id, trigger = request.trigger.as_str()))]
    pub async fn run(
        &self,
        request: &RunRequest,
        mut on_day: impl FnMut(&SyncLogEntry, u64),
    ) -> Result<RunSummary, SyncError> {
        let now = (self.clock)();
        let rerun_days = match &request.rerun {
            Some(rerun) => Some(
                rerun
                    .days(&self.settings, now)
                    .map_err(SyncError::InvalidRerun)?,
            ),
            None => None,
        };
        let lease_until = now
            + chrono::Duration::from_std(
                request.deadline.saturating_duration_since(Instant::now()),
            )
            .unwrap_or_default()
            + chrono::Duration::seconds(60);
        let mut summary = RunSummary {
            run_id: request.run_id.clone(),
            outcome: Outcome::Completed,
            watermark: None,
            days_left: 0,
            days: Vec::new(),
        };
        match self
            .store
            .acquire_lease(&request.run_id, now, lease_until)
            .await
        {
            Ok(()) => {}
            Err(held @ StoreError::LeaseHeld { .. }) => {
                info!(reason = %held, "another run is active; nothing to do");
                summary.outcome = Outcome::AnotherRunActive;
                return Ok(summary);
            }
            Err(e) => return Err(e.into()),
        }
        self.close_interrupted(now).await;
        let result = self
            .work_days(request, rerun_days, &mut summary, &mut on_day)
            .await;
        if let Err(e) = self.store.release_lease(&request.run_id).await {
            warn!(error = %e, "could not release the lease; it expires by itself");
        }
        result.map(|()| summary)
    }

    /// Closes the entries an earlier run left `running`: it stopped (killed,
    /// or the table refused the entry's last write) before it finished
    /// them. Only the lease's holder works days, so while this run holds it
    /// and has not begun, every `running` sync entry is such a one. Each is
    /// ended `failed`, `interrupted`; its day is done again as any failed
    /// day is (the watermark never passed it). The last
    /// [`INTERRUPTED_WINDOW_DAYS`] are looked at; a failure here is logged
    /// and left to the next run.
    async fn close_interrupted(&self, now: DateTime<Utc>) {
        let from = now - chrono::Duration::days(INTERRUPTED_WINDOW_DAYS);
        let entries = match self.store.sync_logs_between(from, now).await {
            Ok(entries) => entries,
            Err(e) => {
                warn!(error = %e, "entries left running not looked for; the next run does");
                return;
            }
        };
        for mut entry in entries.into_iter().filter(|e| !e.status.is_final()) {
            warn!(log_id = %entry.log_id, day = %entry.data_date, "closing an entry an earlier run left running");
            entry.status = RunStatus::Failed;
            entry.finished_at = Some(now);
            entry.error = Some(ErrorSummary::new(
                INTERRUPTED,
                "這次同步在完成這一天之前中斷，已標示為失敗；每日同步會再處理這一天，重新執行的日期請再執行一次",
            ));
            if let Err(e) = self.store.put_sync_log(&entry).await {
                warn!(error = %e, "an entry left running not closed; the next run does");
            }
        }
    }

    /// Works `days`, or the days due from the watermark through yesterday.
    /// The watermark moves over each day that succeeds right after it.
    async fn work_days(
        &self,
        request: &RunRequest,
        days: Option<Vec<NaiveDate>>,
        summary: &mut RunSummary,
        on_day: &mut impl FnMut(&SyncLogEntry, u64),
    ) -> Result<(), SyncError> {
        let mut watermark = self.store.watermark().await?;
        let next_after = |watermark: Option<NaiveDate>| {
            watermark
                .and_then(|w| w.succ_opt())
                .unwrap_or(self.settings.start_date)
                .max(self.settings.start_date)
        };
        let days = days.unwrap_or_else(|| {
            let yesterday = self.settings.today((self.clock)()).pred_opt();
            next_after(watermark)
                .iter_days()
                .take_while(|d| Some(*d) <= yesterday)
                .collect()
        });
        let pending = if request.trigger == Trigger::Schedule && request.rerun.is_none() {
            self.store.lookback_pending().await?
        } else {
            None
        };
        let lookback = self.lookback(request, &days, pending);
        if days.is_empty() {
            summary.outcome = Outcome::UpToDate;
            summary.watermark = watermark;
            return self
                .look_back(request, &lookback, Duration::ZERO, summary, on_day)
                .await;
        }
        info!(first = %days[0], last = %days[days.len() - 1], days = days.len(), "syncing");
        let mut slowest = Duration::ZERO;
        // The portal's answers for the next days arrive while this one is
        // written (bounded: `prefetch` in flight, one waiting); whatever is
        // fetched but not written when the run stops is dropped unwritten.
        {
            let (fetched_tx, mut fetched) = tokio::sync::mpsc::channel(1);
            let fetch_ahead = async {
                let mut answers = futures::stream::iter(days.iter().copied())
                    .map(|day| async move { (day, self.portal.changes_on(day).await) })
                    .buffered(self.prefetch);
                while let Some(answer) = answers.next().await {
                    if fetched_tx.send(answer).await.is_err() {
                        break;
                    }
                }
            };
            let write_in_order = async {
                for done in 0..days.len() {
                    let left = request.deadline.saturating_duration_since(Instant::now());
                    if left < self.reserve + slowest * 2 {
                        warn!(day = %days[done], left_secs = left.as_secs(), "stopping before the deadline; the next run resumes");
                        summary.outcome = Outcome::DeadlineReached;
                        summary.days_left = (days.len() - done) as u64;
                        break;
                    }
                    let started = Instant::now();
                    let Some((day, answer)) = fetched.recv().await else {
                        break;
                    };
                    let entry = self.record_day(request, day, false, answer).await?;
                    slowest = slowest.max(started.elapsed());
                    on_day(&entry, (days.len() - done - 1) as u64);
                    summary.days.push(DaySummary {
                        date: day,
                        log_id: entry.log_id.clone(),
                        status: entry.status,
                        counts: entry.counts,
                    });
                    match entry.status {
                        // A partial day is done once its valid records are
                        // written: the portal lists a record only under its
                        // latest change date, so one it never corrects would
                        // hold every later day back for ever. Its refused
                        // records stay in the entry, in the `RecordsRefused`
                        // metric, and with their agency's staff; a corrected
                        // record arrives under its new change date.
                        RunStatus::Succeeded | RunStatus::Partial
                            if day == next_after(watermark) =>
                        {
                            self.store
                                .advance_watermark(watermark, day, (self.clock)())
                                .await?;
                            watermark = Some(day);
                        }
                        RunStatus::Succeeded | RunStatus::Running | RunStatus::Partial => {}
                        RunStatus::Failed => {
                            summary.outcome = Outcome::DayFailed;
                            summary.days_left = (days.len() - done) as u64;
                            summary.watermark = watermark;
                            let reason = entry.error.map(|e| e.message).unwrap_or_default();
                            return Err(SyncError::DayFailed { date: day, reason });
                        }
                    }
                }
                Ok(())
            };
            // The writer decides when the run ends; the fetches stop with it.
            let (written, fetch_ahead) =
                (std::pin::pin!(write_in_order), std::pin::pin!(fetch_ahead));
            match futures::future::select(written, fetch_ahead).await {
                futures::future::Either::Left((written, _)) => written?,
                futures::future::Either::Right(((), written)) => written.await?,
            }
        }
        summary.watermark = watermark;
        if summary.outcome == Outcome::DeadlineReached {
            return Ok(());
        }
        self.look_back(request, &lookback, slowest, summary, on_day)
            .await
    }

    /// The days a scheduled run reads again ([`days::lookback`]); none for
    /// a re-run or another trigger.
    fn lookback(
        &self,
        request: &RunRequest,
        due: &[NaiveDate],
        pending: Option<NaiveDate>,
    ) -> Vec<NaiveDate> {
        if request.trigger != Trigger::Schedule || request.rerun.is_some() {
            return Vec::new();
        }
        days::lookback(
            due,
            self.settings.today((self.clock)()),
            self.lookback_days,
            pending,
            self.settings.start_date,
        )
    }

    /// Works the lookback days after the due ones. The watermark is past
    /// them already; a day that fails is logged and counted (the next
    /// night reads it again) but does not fail the run.
    async fn look_back(
        &self,
        request: &RunRequest,
        days: &[NaiveDate],
        mut slowest: Duration,
        summary: &mut RunSummary,
        on_day: &mut impl FnMut(&SyncLogEntry, u64),
    ) -> Result<(), SyncError> {
        // The first day not read, to read again from on the next run.
        let mut unread = None;
        for (done, &day) in days.iter().enumerate() {
            let left = request.deadline.saturating_duration_since(Instant::now());
            if left < self.reserve + slowest * 2 {
                warn!(day = %day, "no time left to look back further");
                unread = unread.or(Some(day));
                break;
            }
            let started = Instant::now();
            let entry = self.sync_day(request, day, true).await?;
            slowest = slowest.max(started.elapsed());
            on_day(&entry, (days.len() - done - 1) as u64);
            if entry.status == RunStatus::Failed {
                unread = unread.or(Some(day));
            }
            if entry.counts.inserted + entry.counts.updated + entry.counts.withdrawn > 0 {
                info!(day = %day, counts = ?entry.counts, "the lookback found late changes");
            }
            summary.days.push(DaySummary {
                date: day,
                log_id: entry.log_id.clone(),
                status: entry.status,
                counts: entry.counts,
            });
        }
        if !days.is_empty() {
            self.store.set_lookback_pending(unread).await?;
        }
        Ok(())
    }

    /// Works one day and returns its finished log entry. Only a failure to
    /// write the log itself is an error here; everything else is recorded in
    /// the entry.
    #[instrument(skip_all, fields(day = %day))]
    pub async fn sync_day(
        &self,
        request: &RunRequest,
        day: NaiveDate,
        lookback: bool,
    ) -> Result<SyncLogEntry, SyncError> {
        let answer = self.portal.changes_on(day).await;
        self.record_day(request, day, lookback, answer).await
    }

    /// Writes one day the portal has answered for, with its log entry.
    async fn record_day(
        &self,
        request: &RunRequest,
        day: NaiveDate,
        lookback: bool,
        answer: Result<Vec<PortalRecord>, PortalError>,
    ) -> Result<SyncLogEntry, SyncError> {
        let mut entry = SyncLogEntry::start(&request.run_id, request.trigger, day, (self.clock)());
        entry.requested_by = request.rerun.as_ref().map(|r| r.requested_by.clone());
        entry.lookback = lookback;
        self.store.put_sync_log(&entry).await?;
        let mut newly_refused = Vec::new();
        entry.status = match self.write_day(day, answer, &mut entry).await {
            Ok(refused) => {
                newly_refused = refused;
                if entry.counts.failed > 0 {
                    RunStatus::Partial
                } else {
                    RunStatus::Succeeded
                }
            }
            Err(error) => {
                warn!(code = error.code, reason = %error.message, "day failed");
                entry.error = Some(error);
                RunStatus::Failed
            }
        };
        entry.finished_at = Some((self.clock)());
        self.store.put_sync_log(&entry).await?;
        // Remembered once the entry that reports them is written: a crash
        // between the two reports them again, never not at all.
        if let Err(e) = self
            .store
            .remember_refused(day, &newly_refused, &entry.log_id, (self.clock)())
            .await
        {
            warn!(error = %e, "refused records not remembered; a later read reports them again");
        }
        info!(status = entry.status.as_str(), counts = ?entry.counts, "day done");
        Ok(entry)
    }

    /// Writes the day's records and counts them into `entry`; returns the
    /// contents of the records it refused for the first time (a record
    /// refused before with the same content is counted `skipped`, not
    /// reported again: it was on the night it was first refused).
    async fn write_day(
        &self,
        day: NaiveDate,
        answer: Result<Vec<PortalRecord>, PortalError>,
        entry: &mut SyncLogEntry,
    ) -> Result<Vec<String>, ErrorSummary> {
        let raw = answer.map_err(|e| ErrorSummary::new(e.code(), e.to_string()))?;
        entry.counts.fetched = raw.len() as u64;
        // Everything is counted per agency too: staff see their agency's
        // counts and failures, administrators the national totals.
        let mut per: BTreeMap<String, SyncCounts> = BTreeMap::new();
        let mut passed = Vec::with_capacity(raw.len());
        let mut withdrawn: BTreeMap<String, Vec<FromPortal>> = BTreeMap::new();
        let mut agencies: BTreeMap<String, u64> = BTreeMap::new();
        let store_error = |e: StoreError| {
            warn!(error = %e, "the day's records could not be written");
            let message = match e {
                StoreError::Corrupt { .. } => {
                    "資料表中有無法解讀的紀錄，這一天的紀錄未入檔；請聯絡系統管理者"
                }
                _ => {
                    "資料庫暫時無法寫入，這一天的紀錄未入檔；每日同步會再處理這一天，重新執行的日期請再執行一次"
                }
            };
            ErrorSummary::new(e.code(), message)
        };
        let refused_before = self.store.refused_before(day).await.map_err(store_error)?;
        let mut newly_refused = Vec::new();
        for (index, fetched) in raw.iter().enumerate() {
            // A record not of the API's shape is refused as any invalid
            // one: listed, counted, and the day done without it.
            let (id_no, org_code, checked, content) = match fetched {
                Ok(fetched) => (
                    &fetched.raw.id_no,
                    &fetched.raw.org_code,
                    fetched.raw.validate().map(|record| FromPortal {
                        id: fetched.id.clone(),
                        record,
                    }),
                    fetched.raw.content_hash(),
                ),
                Err(unreadable) => (
                    &unreadable.id_no,
                    &unreadable.org_code,
                    Err(vec![unreadable.problem.clone()]),
                    unreadable.content_hash,
                ),
            };
            let agency = AgencyCode::parse(org_code).ok().map(|a| a.to_string());
            let key = agency.clone().unwrap_or_else(|| UNKNOWN_AGENCY.to_string());
            per.entry(key.clone()).or_default().fetched += 1;
            let problems = match checked {
                Ok(valid) if valid.record.changed_date != day => vec![
                    Problem::new(
                        "changed_date_mismatch",
                        format!("異動日期 {} 不是查詢日 {day}", valid.record.changed_date),
                    )
                    .in_field("changed_date"),
                ],
                Ok(valid) if valid.record.status.is_passed() => {
                    *agencies.entry(key).or_default() += 1;
                    passed.push(valid);
                    continue;
                }
                Ok(valid) => {
                    withdrawn.entry(key).or_default().push(valid);
                    continue;
                }
                Err(problems) => problems,
            };
            let content = format!("{content:016x}");
            if refused_before.contains(&content) {
                per.entry(key).or_default().skipped += 1;
                continue;
            }
            newly_refused.push(content);
            per.entry(key).or_default().failed += 1;
            if entry.failures.len() < MAX_LISTED_FAILURES {
                let mut failure =
                    RecordFailure::new(index as u64 + 1, mask_raw_id(id_no), &problems[0]);
                failure.agency = agency;
                failure.message = problems
                    .iter()
                    .map(|p| p.message.as_str())
                    .collect::<Vec<_>>()
                    .join("；");
                entry.failures.push(failure);
            }
        }

        let now = (self.clock)();
        let written = self
            .store
            .upsert_portal_records(&passed, Source::AutoImport, &entry.log_id, now)
            .await
            .map_err(store_error)?;
        // What the day did to each agency's records, record by record.
        let mut changes: BTreeMap<String, Vec<(Change, NaturalKey)>> = BTreeMap::new();
        for (agency, change, key) in written.changed {
            changes
                .entry(agency.to_string())
                .or_default()
                .push((change, key));
        }
        for (agency, records) in &withdrawn {
            let removed = self
                .store
                .withdraw(records, None)
                .await
                .map_err(store_error)?;
            let c = per.entry(agency.clone()).or_default();
            let withdrew = removed.iter().filter(|keys| !keys.is_empty()).count();
            c.withdrawn = withdrew as u64;
            // Not held by WebHR (or staff's own): nothing to remove.
            c.skipped += (records.len() - withdrew) as u64;
            changes.entry(agency.clone()).or_default().extend(
                removed
                    .into_iter()
                    .flatten()
                    .map(|key| (Change::Withdrawn, key)),
            );
        }
        for (agency, changed) in &changes {
            self.store
                .put_changes(&entry.log_id, agency, changed, now)
                .await
                .map_err(store_error)?;
        }
        for (agency, c) in &mut per {
            let done = written.by_agency.get(agency).copied().unwrap_or_default();
            c.inserted = done.inserted;
            c.updated = done.updated;
            c.replaced_staff = done.replaced_staff;
            c.unchanged = done.unchanged;
            // A key repeated within the day is written once.
            c.skipped += agencies.get(agency).copied().unwrap_or(0) - done.total();
        }
        entry.counts = SyncCounts::default();
        for c in per.values() {
            entry.counts += *c;
        }
        entry.agencies = agencies;
        entry.agency_counts = per;
        Ok(newly_refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(date: &str, status: RunStatus, refused: u64) -> DaySummary {
        DaySummary {
            date: date.parse().unwrap(),
            log_id: format!("sync-{date}-run"),
            status,
            counts: SyncCounts {
                failed: refused,
                ..SyncCounts::default()
            },
        }
    }

    #[test]
    fn a_run_reports_days_behind_failed_days_and_refused_records() {
        let summary = RunSummary {
            run_id: "run".into(),
            outcome: Outcome::DayFailed,
            watermark: None,
            days_left: 2,
            days: vec![
                day("2026-03-01", RunStatus::Succeeded, 2),
                day("2026-03-02", RunStatus::Partial, 5),
                day("2026-03-03", RunStatus::Failed, 0),
            ],
        };
        assert_eq!(
            metrics(&Ok(summary), 3),
            [("DaysBehind", 3), ("DaysFailed", 1), ("RecordsRefused", 7)]
        );
        let failed = Err(SyncError::DayFailed {
            date: "2026-03-01".parse().unwrap(),
            reason: "portal down".into(),
        });
        assert_eq!(
            metrics(&failed, 9),
            [("DaysBehind", 9), ("DaysFailed", 1), ("RecordsRefused", 0)]
        );
    }
}
