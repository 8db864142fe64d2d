//! A range of days (起日–迄日) as staff ask for one — a download, a re-run,
//! a page of the import log or of an agency's records — checked by one set
//! of rules with one set of codes: order, length, the start date, today.

use chrono::NaiveDate;

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
