//! The run: the lease, the days due worked in order (fetched ahead,
//! written one by one, the watermark moved over each), the lookback, and
//! one import-log entry per day.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use dynamodb_store::{Store, StoreError};
use futures::StreamExt as _;
use learning_core::days;
use learning_core::import_log::{ErrorSummary, RunStatus, SyncLogEntry, Trigger};
use learning_core::{Settings, Source};
use portal_client::{PortalClient, PortalError, PortalRecord};
use tokio::time::Instant;
use tracing::{info, instrument, warn};

use crate::apply::{Asked, apply_answer};
use crate::event::{RunRequest, SyncError};
use crate::report::{DaySummary, Outcome, RunSummary};

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
        let asked = Asked {
            from: day,
            to: day,
            agency: None,
            source: Source::AutoImport,
            log_id: &entry.log_id,
        };
        let applied = apply_answer(&self.store, &raw, asked, &refused_before, (self.clock)())
            .await
            .map_err(store_error)?;
        entry.counts = applied.total();
        entry.failures = applied.failures;
        entry.agencies = applied.agencies;
        entry.agency_counts = applied.agency_counts;
        Ok(applied.newly_refused)
    }
}
