//! What the portal sends beside a record's fields: its own identity of the
//! record, which is how a correction of a key field is told from a new
//! record.

use crate::record::{NaturalKey, TrainingRecord};

/// The portal's identity of one learner's record in one class (`record_id`
/// in docs/portal-api.yaml). It stays the same through every later change
/// of the record, a correction of its term or class start date included,
/// while the record's [`NaturalKey`] changes with them. WebHR keeps it
/// beside the records the portal wrote.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortalId(String);

impl PortalId {
    /// Longest identity accepted, in ASCII characters.
    pub const MAX_LEN: usize = 64;

    /// An identity of 1 to 64 ASCII letters, digits, `-`, `_` or `.`; `None`
    /// for anything else (the portal's answer is then not of the API's
    /// shape).
    pub fn parse(text: &str) -> Option<PortalId> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        (!text.is_empty() && text.len() <= Self::MAX_LEN && text.bytes().all(allowed))
            .then(|| PortalId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PortalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record the portal sent, checked, with the portal's identity of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromPortal {
    pub id: PortalId,
    pub record: TrainingRecord,
}

/// Whether a record WebHR holds under `held`, carrying the same
/// [`PortalId`] as one the portal now sends under `new`, is that record
/// under a former key: the same learner and course, another term or class
/// start date. The portal corrects those two; a record it sends for
/// another learner or course is another record, whatever its identity,
/// and is never removed in its place.
pub fn is_former_key(held: &NaturalKey, new: &NaturalKey) -> bool {
    held.id_no == new.id_no
        && held.course_code == new.course_code
        && (held.term, held.start_date) != (new.term, new.start_date)
}

/// Whether WebHR can hold `record` under a former key, so that a write of
/// it under a key not held must look there first. Only a record WebHR read
/// before can be there, and it read it either on an earlier change — then
/// the record changed after it passed (`changed_date` after
/// `passed_date`) — or on the day it passed, before that day was over (a
/// download of today for its agency: `read_early`). Any other record is
/// a first pass nobody read yet: new, with nothing to look for.
pub fn may_hold_former_key(record: &TrainingRecord, read_early: bool) -> bool {
    read_early
        || record
            .passed_date
            .is_none_or(|passed| record.changed_date > passed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NationalId;
    use chrono::NaiveDate;

    #[test]
    fn an_identity_is_short_plain_ascii() {
        for good in ["LR2016020100017", "a", "x-y_z.1", &"9".repeat(64)] {
            assert_eq!(PortalId::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", " LR1", "LR 1", "LR#1", "紀錄1", &"9".repeat(65)] {
            assert_eq!(PortalId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_a_record_read_before_can_be_under_a_former_key() {
        let mut record = crate::record::tests::sample().validate().unwrap();
        let passed = record.passed_date.unwrap();
        record.changed_date = passed;
        assert!(!may_hold_former_key(&record, false), "a first pass");
        assert!(may_hold_former_key(&record, true), "read the day it passed");
        record.changed_date = passed + chrono::Days::new(3);
        assert!(
            may_hold_former_key(&record, false),
            "changed since it passed"
        );
        record.passed_date = None;
        assert!(may_hold_former_key(&record, false), "withdrawn");
    }

    #[test]
    fn a_former_key_is_the_same_learner_and_course_in_another_class() {
        let key = |id: &str, course: &str, term: u32, start: &str| NaturalKey {
            id_no: NationalId::parse(id).unwrap(),
            course_code: course.into(),
            term,
            start_date: start.parse::<NaiveDate>().unwrap(),
        };
        let new = key("A123456789", "EC1", 2, "2016-02-01");
        assert!(is_former_key(
            &key("A123456789", "EC1", 1, "2016-02-01"),
            &new
        ));
        assert!(is_former_key(
            &key("A123456789", "EC1", 2, "2016-01-31"),
            &new
        ));
        assert!(is_former_key(
            &key("A123456789", "EC1", 1, "2016-01-31"),
            &new
        ));
        assert!(
            !is_former_key(&new, &new),
            "the same key is not a former one"
        );
        assert!(!is_former_key(
            &key("F228035170", "EC1", 1, "2016-02-01"),
            &new
        ));
        assert!(!is_former_key(
            &key("A123456789", "EC2", 1, "2016-02-01"),
            &new
        ));
    }
}
