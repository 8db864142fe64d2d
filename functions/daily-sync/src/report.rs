//! What a run reports: its summary (the invocation's answer) and the
//! metrics CloudWatch alarms watch.

use chrono::NaiveDate;
use learning_core::import_log::{RunStatus, SyncCounts};
use serde::Serialize;

use crate::event::SyncError;

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
    pub counts: SyncCounts,
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
