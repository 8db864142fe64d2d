//! Dates as government files write them: ROC (民國) years in every form seen
//! in real files, and ISO. Stored as ISO; written for people as 7-digit
//! zero-padded ROC (`1140305`).

use chrono::{Datelike, NaiveDate};

/// Gregorian year = ROC year + 1911.
pub const ROC_OFFSET: i32 = 1911;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("日期為空白")]
    Empty,
    #[error(
        "日期格式無法辨識（可用 1140305、114/03/05、114-3-5、中華民國114年3月5日 或 2025-03-05）"
    )]
    Format,
    #[error("日期不存在（{year} 年 {month} 月 {day} 日）")]
    NoSuchDay { year: i32, month: u32, day: u32 },
    #[error("民國年份須大於 0")]
    BeforeRoc,
}

impl DateError {
    pub fn code(&self) -> &'static str {
        match self {
            DateError::Empty => "date_missing",
            DateError::Format => "date_format",
            DateError::NoSuchDay { .. } => "date_not_exist",
            DateError::BeforeRoc => "date_before_roc",
        }
    }
}

/// Parses any accepted written form:
///
/// * 7 or 6 digits, ROC: `1140305`, `0590102`, `590102`;
/// * 8 digits, Gregorian: `20250305`;
/// * separated by `/`, `-` or `.`, ROC when the year has 1–3 digits
///   (`114/03/05`, `114-3-5`) and Gregorian when it has 4 (`2025-03-05`);
/// * written out: `中華民國114年3月5日`, `民國114年3月5日`, `114年3月5日`.
///
/// Full-width digits are read as ASCII digits.
pub fn parse_date(input: &str) -> Result<NaiveDate, DateError> {
    let trimmed = input.trim();
    // Full-width digits are rare; only then is a copy made.
    let normalised: String;
    let text = if trimmed.is_ascii() {
        trimmed
    } else {
        normalised = trimmed
            .chars()
            .map(|c| match c {
                '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
                '／' => '/',
                '－' => '-',
                _ => c,
            })
            .collect();
        &normalised
    };
    if text.is_empty() {
        return Err(DateError::Empty);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.len() {
            6 | 7 => {
                let (y, md) = text.split_at(text.len() - 4);
                roc(num(y)?, num(&md[..2])?, num(&md[2..])?)
            }
            8 => gregorian(num(&text[..4])?, num(&text[4..6])?, num(&text[6..])?),
            _ => Err(DateError::Format),
        };
    }
    let written = text
        .strip_prefix("中華民國")
        .or_else(|| text.strip_prefix("民國"))
        .unwrap_or(text);
    if let Some(rest) = written.strip_suffix('日') {
        let (y, rest) = rest.split_once('年').ok_or(DateError::Format)?;
        let (m, d) = rest.split_once('月').ok_or(DateError::Format)?;
        return roc(num(y.trim())?, num(m.trim())?, num(d.trim())?);
    }
    let parts: Vec<&str> = text.split(['/', '-', '.']).collect();
    let [y, m, d] = parts[..] else {
        return Err(DateError::Format);
    };
    if m.is_empty() || m.len() > 2 || d.is_empty() || d.len() > 2 {
        return Err(DateError::Format);
    }
    match y.len() {
        1..=3 => roc(num(y)?, num(m)?, num(d)?),
        4 => gregorian(num(y)?, num(m)?, num(d)?),
        _ => Err(DateError::Format),
    }
}

fn num(digits: &str) -> Result<u32, DateError> {
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DateError::Format);
    }
    digits.parse().map_err(|_| DateError::Format)
}

fn roc(year: u32, month: u32, day: u32) -> Result<NaiveDate, DateError> {
    if year == 0 {
        return Err(DateError::BeforeRoc);
    }
    gregorian(year + ROC_OFFSET as u32, month, day)
}

fn gregorian(year: u32, month: u32, day: u32) -> Result<NaiveDate, DateError> {
    let year = year as i32;
    NaiveDate::from_ymd_opt(year, month, day).ok_or(DateError::NoSuchDay { year, month, day })
}

/// 7-digit zero-padded ROC (`1140305`), the form people's files expect.
/// Dates before ROC year 1 (1912) have no such form.
pub fn format_roc(date: NaiveDate) -> Result<String, DateError> {
    let year = date.year() - ROC_OFFSET;
    if !(1..=999).contains(&year) {
        return Err(DateError::BeforeRoc);
    }
    Ok(format!("{year:03}{:02}{:02}", date.month(), date.day()))
}

/// A date for a message to staff: ROC where it has an ROC form, ISO where
/// it has none.
pub fn shown(date: NaiveDate) -> String {
    format_roc(date).unwrap_or_else(|_| date.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn reads_every_documented_form() {
        let want = d(2025, 3, 5);
        for input in [
            "1140305",
            "114/03/05",
            "114-03-05",
            "114-3-5",
            "114.3.5",
            "中華民國114年3月5日",
            "民國114年3月5日",
            "114年3月5日",
            "2025-03-05",
            "2025/3/5",
            "20250305",
            " １１４０３０５ ",
        ] {
            assert_eq!(parse_date(input), Ok(want), "{input}");
        }
        assert_eq!(parse_date("590102"), Ok(d(1970, 1, 2)));
        assert_eq!(parse_date("0590102"), Ok(d(1970, 1, 2)));
    }

    #[test]
    fn leap_days_follow_the_gregorian_calendar() {
        assert_eq!(parse_date("1130229"), Ok(d(2024, 2, 29)));
        assert_eq!(
            parse_date("1120229"),
            Err(DateError::NoSuchDay {
                year: 2023,
                month: 2,
                day: 29
            })
        );
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        assert_eq!(parse_date(""), Err(DateError::Empty));
        assert_eq!(parse_date("0000101"), Err(DateError::BeforeRoc));
        for bad in [
            "11403",
            "114/03",
            "abc",
            "114/003/05",
            "12345/1/1",
            "114年3月",
            "2025-03-05T00",
        ] {
            assert_eq!(parse_date(bad), Err(DateError::Format), "{bad}");
        }
        assert!(matches!(
            parse_date("1141301"),
            Err(DateError::NoSuchDay { .. })
        ));
    }

    #[test]
    fn writes_seven_digit_zero_padded_roc() {
        assert_eq!(format_roc(d(2025, 3, 5)).unwrap(), "1140305");
        assert_eq!(format_roc(d(1970, 1, 2)).unwrap(), "0590102");
        assert_eq!(format_roc(d(1911, 12, 31)), Err(DateError::BeforeRoc));
    }

    fn any_roc_date() -> impl Strategy<Value = NaiveDate> {
        (1i32..=300, 1u32..=366).prop_filter_map("real day", |(roc_year, ordinal)| {
            NaiveDate::from_yo_opt(roc_year + ROC_OFFSET, ordinal)
        })
    }

    proptest! {
        #[test]
        fn roc_round_trips_through_every_written_form(date in any_roc_date()) {
            let roc7 = format_roc(date).unwrap();
            prop_assert_eq!(roc7.len(), 7);
            prop_assert_eq!(parse_date(&roc7), Ok(date));
            let (y, m, day) = (date.year() - ROC_OFFSET, date.month(), date.day());
            for form in [
                format!("{y}/{m:02}/{day:02}"),
                format!("{y}-{m}-{day}"),
                format!("中華民國{y}年{m}月{day}日"),
                date.format("%Y-%m-%d").to_string(),
            ] {
                prop_assert_eq!(parse_date(&form), Ok(date), "{}", form);
            }
        }

        #[test]
        fn padded_roc_sorts_like_dates(a in any_roc_date(), b in any_roc_date()) {
            prop_assert_eq!(format_roc(a).unwrap().cmp(&format_roc(b).unwrap()), a.cmp(&b));
        }

        #[test]
        fn parse_never_panics(input in "\\PC{0,20}") {
            let _ = parse_date(&input);
        }
    }
}
