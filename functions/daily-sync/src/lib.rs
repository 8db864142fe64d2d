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
//!
//! The crate: [`event`] (what invokes a run, its configuration and
//! errors), [`engine`] (the run: lease, days in order, watermark,
//! lookback), [`apply`] (a portal answer written to the table, shared with
//! the API's downloads) and [`report`] (a run's summary and metrics).

pub mod apply;
pub mod engine;
pub mod event;
pub mod report;

pub use apply::{Applied, Asked, UNKNOWN_AGENCY, apply_answer};
pub use engine::{Clock, DailySync, INTERRUPTED, INTERRUPTED_WINDOW_DAYS, PREFETCH_DAYS, Portal};
pub use event::{Rerun, RunRequest, SyncConfig, SyncError, SyncEvent};
pub use report::{DaySummary, Outcome, RunSummary, metrics};
