//! Taiwanese national ID numbers (身分證字號) and resident certificate
//! numbers: format, checksum and the official mask.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which document issued the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `[A-Z][12]\d{8}`: citizen (1 male, 2 female).
    Citizen,
    /// `[A-Z][89]\d{8}`: resident certificate since 2021.
    NewResident,
    /// `[A-Z][A-D]\d{8}`: old resident certificate (valid until the end of 2030).
    OldResident,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("身分證字號應為 10 碼")]
    Length,
    #[error("身分證字號格式不符（應為 1 個英文字母加 9 碼，第 2 碼為 1、2、8、9 或 A–D）")]
    Format,
    #[error("身分證字號檢查碼錯誤")]
    Checksum,
}

impl IdError {
    pub fn code(self) -> &'static str {
        match self {
            IdError::Length | IdError::Format => "invalid_national_id",
            IdError::Checksum => "national_id_checksum",
        }
    }
}

/// A national ID whose format and checksum have been verified.
///
/// `Debug` shows only the mask, so an ID that slips into a log line is not
/// exposed; [`NationalId::as_str`] gives the full value for storage.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NationalId(String);

/// Letter values A10 … Z33 (I, O, W, X, Y, Z out of alphabetical order).
fn letter_value(letter: u8) -> Option<u32> {
    const VALUES: [u32; 26] = [
        10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, 22, 35, 23, 24, 25, 26, 27, 28, 29, 32,
        30, 31, 33,
    ];
    letter
        .is_ascii_uppercase()
        .then(|| VALUES[usize::from(letter - b'A')])
}

const WEIGHTS: [u32; 11] = [1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1];

/// The weighted sum of the first ten positions (everything but the check
/// digit) of an ID with a valid shape.
fn weighted_prefix_sum(bytes: &[u8; 10]) -> Option<u32> {
    let first = letter_value(bytes[0])?;
    let second = match bytes[1] {
        b'1' | b'2' | b'8' | b'9' => u32::from(bytes[1] - b'0'),
        b'A'..=b'D' => letter_value(bytes[1])? % 10,
        _ => return None,
    };
    let mut digits = [0u32; 10];
    digits[0] = first / 10;
    digits[1] = first % 10;
    digits[2] = second;
    for (slot, &b) in digits[3..].iter_mut().zip(&bytes[2..9]) {
        if !b.is_ascii_digit() {
            return None;
        }
        *slot = u32::from(b - b'0');
    }
    Some(digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum())
}

impl NationalId {
    /// Parses an ID, accepting surrounding spaces and a lowercase first letter.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let upper = input.trim().to_ascii_uppercase();
        let bytes: &[u8; 10] = upper.as_bytes().try_into().map_err(|_| IdError::Length)?;
        let sum = weighted_prefix_sum(bytes).ok_or(IdError::Format)?;
        let check = bytes[9];
        if !check.is_ascii_digit() {
            return Err(IdError::Format);
        }
        if (sum + u32::from(check - b'0')) % 10 != 0 {
            return Err(IdError::Checksum);
        }
        Ok(Self(upper))
    }

    /// Completes nine characters (letter, kind digit or letter, seven digits)
    /// with the check digit that makes them a valid ID. Used to make
    /// synthetic data; returns `None` for a prefix of the wrong shape.
    pub fn with_check_digit(prefix: &str) -> Option<Self> {
        let mut bytes = [b'0'; 10];
        if prefix.len() != 9 {
            return None;
        }
        bytes[..9].copy_from_slice(prefix.as_bytes());
        let sum = weighted_prefix_sum(&bytes)?;
        bytes[9] = b'0' + ((10 - sum % 10) % 10) as u8;
        Self::parse(std::str::from_utf8(&bytes).ok()?).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> IdKind {
        match self.0.as_bytes()[1] {
            b'1' | b'2' => IdKind::Citizen,
            b'8' | b'9' => IdKind::NewResident,
            _ => IdKind::OldResident,
        }
    }

    /// The official mask: the last four digits hidden, `F22803****`.
    pub fn masked(&self) -> String {
        format!("{}****", &self.0[..6])
    }
}

/// Masks whatever was given as an ID, valid or not, for error reports:
/// keeps at most the first six characters.
pub fn mask_raw_id(raw: &str) -> String {
    let kept: String = raw.trim().chars().take(6).collect();
    if raw.trim().chars().count() > 6 {
        format!("{kept}****")
    } else {
        "****".to_string()
    }
}

/// Masks every run in `text` shaped like a national ID (letter, `1`, `2`,
/// `8`, `9` or `A`–`D`, eight digits), checksum or not, as [`mask_raw_id`]
/// does: for messages that echo what someone typed.
pub fn redact(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let shaped = |at: usize| {
        bytes.len() >= at + 10
            && bytes[at].is_ascii_alphabetic()
            && matches!(
                bytes[at + 1].to_ascii_uppercase(),
                b'1' | b'2' | b'8' | b'9' | b'A'..=b'D'
            )
            && bytes[at + 2..at + 10].iter().all(u8::is_ascii_digit)
    };
    let Some(first) = (0..bytes.len()).find(|&at| shaped(at)) else {
        return std::borrow::Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut at) = (0, first);
    while at < bytes.len() {
        if shaped(at) {
            // IDs are ASCII, so these are character boundaries.
            out.push_str(&text[copied..at + 6]);
            out.push_str("****");
            at += 10;
            copied = at;
        } else {
            at += 1;
        }
    }
    out.push_str(&text[copied..]);
    std::borrow::Cow::Owned(out)
}

impl std::fmt::Debug for NationalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NationalId({})", self.masked())
    }
}

impl Serialize for NationalId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NationalId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        NationalId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_documented_examples() {
        for id in ["A123456789", "F228035170", "K910452736"] {
            assert!(NationalId::parse(id).is_ok(), "{id} should be valid");
        }
        assert_eq!(
            NationalId::parse("a123456789").unwrap().as_str(),
            "A123456789"
        );
    }

    #[test]
    fn rejects_bad_ids_with_the_reason() {
        assert_eq!(NationalId::parse("A123456780"), Err(IdError::Checksum));
        assert_eq!(NationalId::parse("A12345678"), Err(IdError::Length));
        assert_eq!(NationalId::parse("A323456789"), Err(IdError::Format));
        assert_eq!(NationalId::parse("1123456789"), Err(IdError::Format));
        assert_eq!(NationalId::parse("A12345678X"), Err(IdError::Format));
        assert_eq!(
            NationalId::parse("林怡君林怡君林怡君林"),
            Err(IdError::Length)
        );
    }

    #[test]
    fn knows_the_three_formats() {
        let old = NationalId::with_check_digit("AC1234567").unwrap();
        assert_eq!(old.kind(), IdKind::OldResident);
        assert_eq!(
            NationalId::parse("K910452736").unwrap().kind(),
            IdKind::NewResident
        );
        assert_eq!(
            NationalId::parse("F228035170").unwrap().kind(),
            IdKind::Citizen
        );
    }

    #[test]
    fn old_resident_second_letter_counts_as_last_digit_of_its_value() {
        // B = 11 counts as 1, so "AB…" checks exactly like citizen "A1…".
        let citizen = NationalId::with_check_digit("A12345678").unwrap();
        let resident = NationalId::parse(&format!("AB{}", &citizen.as_str()[2..])).unwrap();
        assert_eq!(resident.kind(), IdKind::OldResident);
    }

    #[test]
    fn masks_the_last_four_digits_and_hides_them_from_debug() {
        let id = NationalId::parse("F228035170").unwrap();
        assert_eq!(id.masked(), "F22803****");
        assert_eq!(format!("{id:?}"), "NationalId(F22803****)");
        assert_eq!(mask_raw_id("F228035171"), "F22803****");
        assert_eq!(mask_raw_id("F22"), "****");
    }

    fn any_prefix() -> impl Strategy<Value = String> {
        ("[A-Z]", "[1289A-D]", "[0-9]{7}").prop_map(|(a, b, c)| format!("{a}{b}{c}"))
    }

    proptest! {
        #[test]
        fn every_completed_prefix_is_valid_and_every_other_check_digit_is_not(prefix in any_prefix()) {
            let id = NationalId::with_check_digit(&prefix).unwrap();
            prop_assert_eq!(&id.as_str()[..9], prefix.as_str());
            let good = id.as_str().as_bytes()[9];
            for digit in b'0'..=b'9' {
                let candidate = format!("{prefix}{}", digit as char);
                prop_assert_eq!(NationalId::parse(&candidate).is_ok(), digit == good);
            }
        }

        #[test]
        fn parse_never_panics(input in "\\PC{0,14}") {
            let _ = NationalId::parse(&input);
        }
    }

    #[test]
    fn redact_masks_every_id_shaped_run_and_nothing_else() {
        assert_eq!(
            redact("日期「A123456789」與 f228035170、AC01234567 不正確"),
            "日期「A12345****」與 f22803****、AC0123**** 不正確"
        );
        assert_eq!(redact("A12345678 A1234567"), "A12345678 A1234567");
        assert_eq!(redact("X323456789"), "X323456789");
        assert!(matches!(redact("沒有證號"), std::borrow::Cow::Borrowed(_)));
    }
}
