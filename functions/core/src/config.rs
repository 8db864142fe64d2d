//! Configuration from the environment, typed, with the mission's defaults.
//! A bad value stops the function at cold start with an error that names the
//! variable.

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;

use crate::roc_date::parse_date;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("環境變數 {variable} 未設定：{hint}")]
    Missing {
        variable: &'static str,
        hint: &'static str,
    },
    #[error("環境變數 {variable} 的值「{value}」無效：{reason}")]
    Invalid {
        variable: &'static str,
        value: String,
        reason: String,
    },
}

impl ConfigError {
    pub fn variable(&self) -> &'static str {
        match self {
            ConfigError::Missing { variable, .. } | ConfigError::Invalid { variable, .. } => {
                variable
            }
        }
    }
}

/// Reads variables through a lookup function, so tests need not touch the
/// process environment.
pub struct Env<F> {
    lookup: F,
}

impl Env<fn(&str) -> Option<String>> {
    pub fn process() -> Self {
        Env {
            lookup: |name| std::env::var(name).ok(),
        }
    }
}

impl Env<fn(&str) -> Option<String>> {
    /// Fixed variables, for tests and tools.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String> + use<>> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::from_fn(move |k: &str| map.get(k).cloned())
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn from_fn(lookup: F) -> Self {
        Env { lookup }
    }

    /// The trimmed value, `None` when unset or blank.
    pub fn get(&self, variable: &str) -> Option<String> {
        (self.lookup)(variable)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn required(
        &self,
        variable: &'static str,
        hint: &'static str,
    ) -> Result<String, ConfigError> {
        self.get(variable)
            .ok_or(ConfigError::Missing { variable, hint })
    }

    /// Parses the variable when set, else gives `default`.
    pub fn parsed<T, E: std::fmt::Display>(
        &self,
        variable: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ConfigError> {
        match self.get(variable) {
            None => Ok(default),
            Some(value) => parse(&value).map_err(|e| ConfigError::Invalid {
                variable,
                reason: e.to_string(),
                value,
            }),
        }
    }

    /// A whole number in `range`.
    pub fn number<T>(
        &self,
        variable: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        self.parsed(variable, default, |v| match v.parse::<T>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(format!("須為 {} 到 {} 的整數", range.start(), range.end())),
        })
    }
}

/// The rules of the letter that are configuration, not code (R2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// First day the automatic import covers (`START_DATE`, 2016-01-01).
    pub start_date: NaiveDate,
    /// Last change date a CSV import accepts (`CSV_CUTOFF_DATE`, start − 1 day).
    pub csv_cutoff: NaiveDate,
    /// Longest download window in days (`DOWNLOAD_MAX_DAYS`, 7).
    pub download_max_days: u32,
    /// Zone that decides what "a day" is (`TIME_ZONE`, Asia/Taipei).
    pub zone: Tz,
    /// Largest CSV upload (`CSV_MAX_BYTES`, 256 MiB): the upload form
    /// refuses a larger one at S3, the import refuses it whole.
    pub csv_max_bytes: u64,
    /// Refused rows after which an import stops (`CSV_MAX_REJECTED`,
    /// 10,000): a file that wrong is not worth storing row by row.
    pub csv_max_rejected: u64,
}

/// 256 MiB: a million rows of a typical export is about 180 MB.
pub const DEFAULT_CSV_MAX_BYTES: u64 = 256 * 1024 * 1024;

impl Default for Settings {
    fn default() -> Self {
        let start_date = NaiveDate::from_ymd_opt(2016, 1, 1).expect("a real date");
        Settings {
            start_date,
            csv_cutoff: crate::days::csv_cutoff(start_date),
            download_max_days: 7,
            zone: chrono_tz::Asia::Taipei,
            csv_max_bytes: DEFAULT_CSV_MAX_BYTES,
            csv_max_rejected: 10_000,
        }
    }
}

impl Settings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let defaults = Settings::default();
        let start_date = env.parsed("START_DATE", defaults.start_date, parse_date)?;
        let day_before = crate::days::csv_cutoff(start_date);
        let csv_cutoff = env.parsed("CSV_CUTOFF_DATE", day_before, parse_date)?;
        if csv_cutoff != day_before {
            let reason = if csv_cutoff > day_before {
                format!("與自動入檔重疊：須為自動入檔起始日 {start_date} 的前一天 {day_before}")
            } else {
                format!(
                    "{} 至 {} 將沒有任何方式匯入：須為自動入檔起始日的前一天 {day_before}",
                    csv_cutoff + Duration::days(1),
                    day_before
                )
            };
            return Err(ConfigError::Invalid {
                variable: "CSV_CUTOFF_DATE",
                value: csv_cutoff.to_string(),
                reason,
            });
        }
        Ok(Settings {
            start_date,
            csv_cutoff,
            download_max_days: env.number(
                "DOWNLOAD_MAX_DAYS",
                defaults.download_max_days,
                1..=31,
            )?,
            zone: env.parsed("TIME_ZONE", defaults.zone, |v| {
                v.parse::<Tz>()
                    .map_err(|_| "不是 IANA 時區名稱（如 Asia/Taipei）")
            })?,
            // S3 takes at most 5 GiB in one POST.
            csv_max_bytes: env.number(
                "CSV_MAX_BYTES",
                defaults.csv_max_bytes,
                1024..=5 * 1024 * 1024 * 1024,
            )?,
            csv_max_rejected: env.number(
                "CSV_MAX_REJECTED",
                defaults.csv_max_rejected,
                1..=10_000_000,
            )?,
        })
    }

    /// The calendar day `now` falls on in the configured zone.
    pub fn today(&self, now: chrono::DateTime<chrono::Utc>) -> NaiveDate {
        now.with_timezone(&self.zone).date_naive()
    }

    /// Days the automatic import is behind at `now`, with `watermark` the
    /// last day it has fully done (`None` before its first): 0 when
    /// yesterday is done (today is not over, so never due).
    pub fn days_behind(
        &self,
        watermark: Option<NaiveDate>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> u64 {
        let yesterday = self.today(now).pred_opt();
        let done = watermark.or_else(|| self.start_date.pred_opt());
        match (yesterday, done) {
            (Some(yesterday), Some(done)) => (yesterday - done).num_days().max(0) as u64,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_behind_count_from_the_watermark_to_yesterday() {
        let settings = Settings::default();
        // 2026-12-05 09:00 in Taipei.
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-05T01:00:00Z")
            .unwrap()
            .to_utc();
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        assert_eq!(settings.days_behind(Some(day("2026-12-04")), now), 0);
        assert_eq!(settings.days_behind(Some(day("2026-12-01")), now), 3);
        assert_eq!(settings.days_behind(Some(day("2026-12-05")), now), 0);
        // Never run: every day since the start date.
        let since_start = (day("2026-12-04") - settings.start_date).num_days() as u64 + 1;
        assert_eq!(settings.days_behind(None, now), since_start);
    }

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::from_pairs(pairs)
    }

    #[test]
    fn defaults_follow_the_letter() {
        let s = Settings::from_env(&env(&[])).unwrap();
        assert_eq!(s.start_date.to_string(), "2016-01-01");
        assert_eq!(s.csv_cutoff.to_string(), "2015-12-31");
        assert_eq!(s.download_max_days, 7);
        assert_eq!(s.zone, chrono_tz::Asia::Taipei);
        assert_eq!(s.csv_max_bytes, 256 * 1024 * 1024);
        assert_eq!(s.csv_max_rejected, 10_000);
    }

    #[test]
    fn cutoff_follows_a_configured_start_date_in_any_date_form() {
        let s = Settings::from_env(&env(&[("START_DATE", "1050301")])).unwrap();
        assert_eq!(s.start_date.to_string(), "2016-03-01");
        assert_eq!(s.csv_cutoff.to_string(), "2016-02-29");
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (var, value) in [
            ("START_DATE", "2016-13-01"),
            ("DOWNLOAD_MAX_DAYS", "0"),
            ("DOWNLOAD_MAX_DAYS", "seven"),
            ("TIME_ZONE", "Taipei"),
            ("CSV_CUTOFF_DATE", "2016-01-01"),
            ("CSV_CUTOFF_DATE", "2015-12-30"),
            ("CSV_MAX_BYTES", "10"),
            ("CSV_MAX_BYTES", "256MiB"),
            ("CSV_MAX_REJECTED", "0"),
        ] {
            let err = Settings::from_env(&env(&[(var, value)])).unwrap_err();
            assert_eq!(err.variable(), var);
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    #[test]
    fn missing_required_variable_is_named() {
        let err = env(&[("TABLE_NAME", "  ")])
            .required("TABLE_NAME", "DynamoDB 資料表名稱")
            .unwrap_err();
        assert_eq!(err.variable(), "TABLE_NAME");
    }

    #[test]
    fn today_is_the_taipei_calendar_day() {
        let s = Settings::default();
        let late_utc = "2026-11-25T17:30:00Z".parse().unwrap();
        assert_eq!(s.today(late_utc).to_string(), "2026-11-26");
    }
}

/// What a runtime that gives no usable deadline is taken to allow.
pub const ASSUMED_TIME_LEFT: std::time::Duration = std::time::Duration::from_secs(300);

/// Time left before an invocation's `deadline`. Lambda's deadline is never
/// in the past when an invocation starts; one more than a day past is no
/// deadline at all (local emulators send a fixed `600000` ms, 1970), and
/// [`ASSUMED_TIME_LEFT`] is taken instead of stopping at once.
pub fn time_left(
    deadline: std::time::SystemTime,
    now: std::time::SystemTime,
) -> std::time::Duration {
    match deadline.duration_since(now) {
        Ok(left) => left,
        Err(late) if late.duration() > std::time::Duration::from_secs(86_400) => ASSUMED_TIME_LEFT,
        Err(_) => std::time::Duration::ZERO,
    }
}

#[cfg(test)]
mod time_left_tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;

    #[test]
    fn a_real_deadline_counts_and_an_absurd_one_is_assumed() {
        let now = SystemTime::now();
        assert_eq!(
            time_left(now + Duration::from_secs(42), now),
            Duration::from_secs(42)
        );
        assert_eq!(time_left(now - Duration::from_secs(3), now), Duration::ZERO);
        assert_eq!(
            time_left(UNIX_EPOCH + Duration::from_millis(600_000), now),
            ASSUMED_TIME_LEFT
        );
    }
}
