//! Personal data masked as DOMAIN.md says: the ID, the name and the birth
//! date, in every `Debug` of a record and wherever staff see a refused row.

use super::*;

/// A birth date with only its year left, e.g. `075****`, `1986-**-**`,
/// `75/*/**`: enough to tell a typing slip, not enough to identify.
pub fn mask_birth_date(raw: &str) -> String {
    let raw = raw.trim();
    let year_digits = match raw.find(['/', '-', '.']) {
        Some(at) => at,
        // Compact: 8 digits are Gregorian (4 for the year), else ROC.
        None if raw.len() == 8 => 4,
        None => raw.len().saturating_sub(4),
    };
    raw.char_indices()
        .map(|(at, c)| {
            if at >= year_digits && c.is_ascii_digit() {
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// A field's text as `Debug` shows it: the ID, the name and the birth date
/// masked (DOMAIN.md), so a `{:?}` in a log line or a panic message never
/// carries them.
fn shown(field: Field, text: &str) -> std::borrow::Cow<'_, str> {
    match field {
        Field::IdNo => crate::national_id::mask_raw_id(text).into(),
        Field::Name => mask_name(text).into(),
        Field::BirthDate => mask_birth_date(text).into(),
        _ => text.into(),
    }
}

impl std::fmt::Debug for TrainingRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("TrainingRecord");
        for field in Field::ALL {
            out.field(field.id(), &shown(field, &self.text(field)));
        }
        out.finish()
    }
}

impl<S: AsRef<str>> std::fmt::Debug for RawRecord<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("RawRecord");
        for field in Field::ALL {
            out.field(field.id(), &shown(field, self.field(field)));
        }
        out.finish()
    }
}

/// Masks a name the common way: 林怡君 → 林○君, 王明 → 王○, 歐陽娜娜 → 歐○○娜.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "○".to_string(),
        2 => format!("{}○", chars[0]),
        n => format!("{}{}{}", chars[0], "○".repeat(n - 2), chars[n - 1]),
    }
}
