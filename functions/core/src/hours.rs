//! Learning hours: non-negative, at most one decimal place, kept exactly as
//! tenths so that total = digital + physical is an integer comparison.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hours {
    tenths: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("時數為空白")]
    Empty,
    #[error("時數須為不小於 0 的數字，最多一位小數（如 1.5）")]
    Format,
    #[error("時數過大")]
    TooLarge,
}

impl HoursError {
    pub fn code(&self) -> &'static str {
        match self {
            HoursError::Empty => "hours_missing",
            HoursError::Format | HoursError::TooLarge => "hours_format",
        }
    }
}

/// No single class is anywhere near this; it only stops absurd values.
const MAX_TENTHS: u32 = 100_000 * 10;

impl Hours {
    pub const ZERO: Hours = Hours { tenths: 0 };

    pub const fn from_tenths(tenths: u32) -> Self {
        Self { tenths }
    }

    pub fn tenths(self) -> u32 {
        self.tenths
    }

    /// Parses `2`, `2.0`, `1.5`; refuses `-1`, `1.25`, `1e3`, `.5` and text.
    pub fn parse(input: &str) -> Result<Self, HoursError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(HoursError::Empty);
        }
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || whole.len() > 7
            || !digits_only(whole)
            || fraction.len() > 1
            || !digits_only(fraction)
            || (text.contains('.') && fraction.is_empty())
        {
            return Err(HoursError::Format);
        }
        let whole: u32 = whole.parse().map_err(|_| HoursError::Format)?;
        let tenth: u32 = fraction.parse().unwrap_or(0);
        let tenths = whole
            .checked_mul(10)
            .and_then(|t| t.checked_add(tenth))
            .filter(|&t| t <= MAX_TENTHS)
            .ok_or(HoursError::TooLarge)?;
        Ok(Self { tenths })
    }

    pub fn checked_add(self, other: Hours) -> Option<Hours> {
        self.tenths
            .checked_add(other.tenths)
            .map(Hours::from_tenths)
    }
}

impl std::fmt::Display for Hours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.tenths / 10, self.tenths % 10)
    }
}

impl Serialize for Hours {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hours {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Hours::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_one_decimal_at_most() {
        assert_eq!(Hours::parse("2").unwrap().tenths(), 20);
        assert_eq!(Hours::parse("2.0").unwrap().tenths(), 20);
        assert_eq!(Hours::parse(" 1.5 ").unwrap().tenths(), 15);
        assert_eq!(Hours::parse("0").unwrap(), Hours::ZERO);
        for bad in ["-1", "1.25", "1e3", ".5", "5.", "abc", "1,5", "+1"] {
            assert_eq!(Hours::parse(bad), Err(HoursError::Format), "{bad}");
        }
        assert_eq!(Hours::parse(""), Err(HoursError::Empty));
        assert_eq!(Hours::parse("9999999"), Err(HoursError::TooLarge));
    }

    #[test]
    fn displays_with_one_decimal() {
        assert_eq!(Hours::from_tenths(15).to_string(), "1.5");
        assert_eq!(Hours::from_tenths(20).to_string(), "2.0");
    }

    proptest! {
        #[test]
        fn display_round_trips(tenths in 0u32..=MAX_TENTHS) {
            let h = Hours::from_tenths(tenths);
            prop_assert_eq!(Hours::parse(&h.to_string()), Ok(h));
        }
    }
}
