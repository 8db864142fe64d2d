//! A range of days (起日–迄日) as staff ask for one — a download, a re-run,
//! a page of the import log or of an agency's records — checked by one set
//! of rules with one set of codes: order, length, the start date, today.
//! Each kind of range is named here ([`RangeRules::download`],
//! [`RangeRules::rerun`], [`RangeRules::QUERY`]), with the two other rules
//! of days: the CSV cutoff ([`csv_cutoff`]) and the nightly lookback
//! ([`lookback`]).

use chrono::NaiveDate;

/// The last change date a CSV row may carry: the day before the automatic
/// import's first. The two imports meet there — a later cutoff would let
/// both write a day, an earlier one leave days neither imports — so
/// `CSV_CUTOFF_DATE` may only restate it.
pub fn csv_cutoff(start_date: NaiveDate) -> NaiveDate {
    start_date.pred_opt().unwrap_or(start_date)
}

use crate::Settings;
use crate::problem::Problem;
use crate::roc_date::shown as roc;

/// The last day a range may reach, against today in the agency's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastDay {
    /// Today is allowed: a download fetches what the portal holds so far.
    Today,
    /// Only days that are over: a re-run of today would miss its rest.
    Yesterday,
    /// Any day: a query of what has been recorded.
    Any,
}

/// What a kind of range allows.
#[derive(Debug, Clone, Copy)]
pub struct RangeRules {
    /// The range as staff call it, for messages: 下載區間, 查詢區間, ….
    pub what: &'static str,
    pub max_days: u64,
    /// The code for a range longer than `max_days` (an API contract:
    /// downloads say `window_too_long`, the others `range_too_long`).
    pub too_long: &'static str,
    /// What to do instead of a longer range, for the message.
    pub longer: &'static str,
    /// The first day there is (the system's start date), if any.
    pub first_day: Option<NaiveDate>,
    pub last_day: LastDay,
}

impl RangeRules {
    /// A download (學員通過認證名單下載): at most `DOWNLOAD_MAX_DAYS`, from
    /// the start date, today included (the portal holds today's so far).
    pub fn download(settings: &Settings) -> Self {
        RangeRules {
            what: "下載區間",
            max_days: settings.download_max_days.into(),
            too_long: "window_too_long",
            longer: "較長的期間請分次下載，或待每日自動入檔",
            first_day: Some(settings.start_date),
            last_day: LastDay::Today,
        }
    }

    /// The longest re-run, in days: a month fits one invocation.
    pub const RERUN_MAX_DAYS: u64 = 31;

    /// An administrator's re-run: at most [`Self::RERUN_MAX_DAYS`], from the
    /// start date, only days that are over.
    pub fn rerun(settings: &Settings) -> Self {
        RangeRules {
            what: "重新執行",
            max_days: Self::RERUN_MAX_DAYS,
            too_long: "range_too_long",
            longer: "請分次執行",
            first_day: Some(settings.start_date),
            last_day: LastDay::Yesterday,
        }
    }

    /// A query of what has been recorded (the import log, an agency's
    /// records): up to a year (366 days, a leap day included), any days.
    pub const QUERY: RangeRules = RangeRules {
        what: "查詢區間",
        max_days: 366,
        too_long: "range_too_long",
        longer: "請縮短區間",
        first_day: None,
        last_day: LastDay::Any,
    };
}

/// How far back the nightly lookback reaches at most, however long its
/// days have failed to be read.
pub const MAX_LOOKBACK_SPAN: u64 = 31;

/// The days a scheduled run reads again: the `lookback_days` before its
/// first `due` day (today's, when none is due) through yesterday, those it
/// is not working anyway, from the `start` date; and from `pending` on, the
/// days an earlier run's lookback could not read. A window anchored at the
/// due days, not at yesterday, keeps a change back-dated just before a run
/// of failed nights in reach when they are caught up. At most
/// [`MAX_LOOKBACK_SPAN`] days back.
pub fn lookback(
    due: &[NaiveDate],
    today: NaiveDate,
    lookback_days: u32,
    pending: Option<NaiveDate>,
    start: NaiveDate,
) -> Vec<NaiveDate> {
    let Some(yesterday) = today.pred_opt() else {
        return Vec::new();
    };
    if lookback_days == 0 {
        return Vec::new();
    }
    let anchor = due.first().copied().unwrap_or(today);
    let mut first = anchor - chrono::Days::new(u64::from(lookback_days));
    if let Some(pending) = pending {
        first = first.min(pending);
    }
    let first = first
        .max(yesterday - chrono::Days::new(MAX_LOOKBACK_SPAN))
        .max(start);
    first
        .iter_days()
        .take_while(|d| *d <= yesterday)
        .filter(|d| !due.contains(d))
        .collect()
}

/// A checked range of days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// `from`..=`to` if `rules` allow it on `today`, else why not: in this
    /// order, `invalid_range`, `rules.too_long` (with `days` and `max_days`
    /// in the details), `before_start_date`, `future_date`.
    pub fn check(
        from: NaiveDate,
        to: NaiveDate,
        rules: &RangeRules,
        today: NaiveDate,
    ) -> Result<DayRange, Problem> {
        if to < from {
            return Err(Problem::new(
                "invalid_range",
                format!("迄日 {} 早於起日 {}", roc(to), roc(from)),
            ));
        }
        let range = DayRange { from, to };
        let days = range.days();
        if days > rules.max_days {
            return Err(Problem::new(
                rules.too_long,
                format!(
                    "{}最多 {} 天，這次是 {days} 天；{}",
                    rules.what, rules.max_days, rules.longer
                ),
            )
            .with_details(serde_json::json!({ "days": days, "max_days": rules.max_days })));
        }
        if let Some(first) = rules.first_day
            && from < first
        {
            return Err(Problem::new(
                "before_start_date",
                format!(
                    "{}不可早於系統啟用日 {}；更早的紀錄請以 CSV 入檔",
                    rules.what,
                    roc(first)
                ),
            ));
        }
        let future = match rules.last_day {
            LastDay::Today => (to > today).then_some("迄日不可晚於今天"),
            LastDay::Yesterday => (to >= today).then_some("迄日須早於今天：今天尚未結束"),
            LastDay::Any => None,
        };
        if let Some(message) = future {
            return Err(Problem::new(
                "future_date",
                format!("{message}（今天是 {}）", roc(today)),
            ));
        }
        Ok(range)
    }

    /// How many days, both ends counted.
    pub fn days(&self) -> u64 {
        (self.to - self.from).num_days().unsigned_abs() + 1
    }

    /// The days in order.
    pub fn iter(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let to = self.to;
        self.from.iter_days().take_while(move |d| *d <= to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    const RULES: RangeRules = RangeRules {
        what: "區間",
        max_days: 7,
        too_long: "window_too_long",
        longer: "請分次",
        first_day: None,
        last_day: LastDay::Today,
    };

    fn code(from: &str, to: &str, rules: &RangeRules) -> Result<u64, &'static str> {
        DayRange::check(day(from), day(to), rules, day("2026-03-14"))
            .map(|r| r.days())
            .map_err(|p| p.code)
    }

    #[test]
    fn one_set_of_rules_with_one_set_of_codes() {
        let rules = RangeRules {
            first_day: Some(day("2016-01-01")),
            ..RULES
        };
        assert_eq!(code("2026-03-08", "2026-03-14", &rules), Ok(7));
        assert_eq!(code("2026-03-14", "2026-03-14", &rules), Ok(1));
        assert_eq!(
            code("2026-03-14", "2026-03-13", &rules),
            Err("invalid_range")
        );
        assert_eq!(
            code("2026-03-07", "2026-03-14", &rules),
            Err("window_too_long")
        );
        assert_eq!(
            code("2015-12-31", "2016-01-02", &rules),
            Err("before_start_date")
        );
        assert_eq!(code("2026-03-14", "2026-03-15", &rules), Err("future_date"));
    }

    #[test]
    fn today_is_allowed_or_not_as_the_rules_say() {
        let over = RangeRules {
            last_day: LastDay::Yesterday,
            ..RULES
        };
        let any = RangeRules {
            last_day: LastDay::Any,
            ..RULES
        };
        assert_eq!(code("2026-03-13", "2026-03-13", &over), Ok(1));
        assert_eq!(code("2026-03-13", "2026-03-14", &over), Err("future_date"));
        assert_eq!(code("2026-03-14", "2026-03-14", &RULES), Ok(1));
        assert_eq!(code("2026-03-15", "2026-03-16", &any), Ok(2));
    }

    #[test]
    fn the_lookback_is_anchored_at_the_first_due_day_and_bounded() {
        let days = |from: &str, to: &str| {
            DayRange {
                from: day(from),
                to: day(to),
            }
            .iter()
            .collect::<Vec<_>>()
        };
        let start = day("2016-01-01");
        let today = day("2026-03-14");
        // Up to date: the 7 days before today.
        assert_eq!(
            lookback(&[], today, 7, None, start),
            days("2026-03-07", "2026-03-13")
        );
        // Two days due after failed nights: the 7 before them, not theirs.
        let due = days("2026-03-12", "2026-03-13");
        assert_eq!(
            lookback(&due, today, 7, None, start),
            days("2026-03-05", "2026-03-11")
        );
        // Days an earlier lookback could not read, at most 31 back.
        assert_eq!(
            lookback(&[], today, 7, Some(day("2026-03-01")), start),
            days("2026-03-01", "2026-03-13")
        );
        assert_eq!(
            lookback(&[], today, 7, Some(day("2025-01-01")), start),
            days("2026-02-10", "2026-03-13")
        );
        // Never before the start date; none when switched off.
        assert_eq!(
            lookback(&[], day("2016-01-03"), 7, None, start),
            days("2016-01-01", "2016-01-02")
        );
        assert!(lookback(&[], today, 0, None, start).is_empty());
    }

    #[test]
    fn a_range_lists_its_days_in_order() {
        let range = DayRange::check(
            day("2016-02-28"),
            day("2016-03-01"),
            &RULES,
            day("2016-03-01"),
        )
        .unwrap();
        assert_eq!(
            range.iter().collect::<Vec<_>>(),
            [day("2016-02-28"), day("2016-02-29"), day("2016-03-01")]
        );
    }
}
