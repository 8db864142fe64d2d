//! What a write may do to a record's key: one decision for every writer.
//!
//! Every path that writes a training record — the nightly sync and a
//! download (the portal's), a CSV row, staff typing or deleting, an
//! administrator's removal or settlement of a dispute — asks
//! [`plan_write`] what it may do, given what the table holds at the key
//! ([`Held`]). The store reads the key, asks, and turns the plan's
//! [`Guard`] into the write's condition, so a record that moved in
//! between fails the write and is read and decided again (or, for staff,
//! refused with the reason [`plan_write`] then gives).
//!
//! The rules (see [`crate::ownership`] for why):
//!
//! - **The portal** writes any key: its record replaces a CSV or staff
//!   record of any agency and an earlier version of its own; a locked
//!   record with the same content needs no write.
//! - **A CSV row** writes a free key or its agency's own unlocked record;
//!   it is refused at its agency's locked record and at another agency's
//!   record (a dispute). A row the same import wrote already (a replay
//!   after a crash) counts as it did then.
//! - **Staff** create on a free key only, and replace or delete their
//!   agency's unlocked record at the version they read; another agency's
//!   record is told as missing.
//! - **An administrator** removes a locked record at the version read,
//!   and settles a dispute by giving the key to the claimant: the
//!   holder's unlocked record, at the version read, is replaced.

use crate::{AgencyCode, Source, TrainingRecord};

/// Who writes, with what the rule needs to know of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer<'a> {
    /// The portal's record: the nightly sync or a download.
    Portal,
    /// A row of the CSV import `import` (its log id), for the agency the
    /// record names.
    Csv { import: &'a str },
    /// Staff typing in a new record.
    StaffNew,
    /// Staff replacing their agency's record, read at `expected`.
    Staff {
        agency: &'a AgencyCode,
        expected: u64,
    },
    /// An administrator giving a disputed key to the claimant: `holder`'s
    /// record, read at `expected`, is replaced by the claimant's.
    Transfer {
        holder: &'a AgencyCode,
        expected: u64,
    },
}

/// What the table holds at the key, as the rule needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held<'a> {
    /// The stored record's `org_code`: the agency it belongs to.
    pub agency: &'a str,
    pub source: Source,
    pub version: u64,
    /// [`TrainingRecord::fingerprint`] of the stored content.
    pub fingerprint: &'a str,
    /// Who wrote this version: an import's log id, a staff member.
    pub written_by: &'a str,
    /// What that write did, kept by CSV imports: a replay counts as it.
    pub written_as: Option<Change>,
}

/// What a write did to one record, as its agency's staff read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    Inserted,
    Updated,
    /// Replaced a record staff typed in by hand.
    ReplacedStaff,
    /// Removed: the portal no longer reports it as passed.
    Withdrawn,
    /// Written under a new key: the portal corrected the record's term or
    /// class start date (counted as updated).
    Corrected,
    /// Removed from its former key by such a correction.
    CorrectedAway,
}

impl Change {
    const ALL: [Change; 6] = [
        Change::Inserted,
        Change::Updated,
        Change::ReplacedStaff,
        Change::Withdrawn,
        Change::Corrected,
        Change::CorrectedAway,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Change::Inserted => "inserted",
            Change::Updated => "updated",
            Change::ReplacedStaff => "replaced_staff",
            Change::Withdrawn => "withdrawn",
            Change::Corrected => "corrected",
            Change::CorrectedAway => "corrected_away",
        }
    }

    pub fn parse(text: &str) -> Option<Change> {
        Change::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// What must still hold when the write lands for the plan to stand: the
/// store's condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// The key is still free.
    Free,
    /// The record is still at this version, whoever holds it.
    Version(u64),
    /// The record is still at `version`, unlocked, and `agency`'s.
    Unlocked { agency: AgencyCode, version: u64 },
    /// The record is still at this version, and locked.
    Locked(u64),
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Put the new record as `version`, if `guard` holds; it counts as
    /// `change`.
    Write {
        change: Change,
        guard: Guard,
        version: u64,
    },
    /// No write: the record is there as it would be written. `replayed`
    /// is what this import's earlier write of it did (a replay counts as
    /// that); `None` is unchanged.
    Keep {
        replayed: Option<Change>,
    },
    Refuse(Refusal),
}

/// Why a write may not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The agency's record came from the portal: correct it there.
    Locked(Source),
    /// Another agency's record (`agency`, as stored). A CSV row's claim is
    /// kept as a dispute; staff are told the record is not there.
    OtherAgency(String),
    /// Nothing at the key.
    Missing,
    /// The agency's own record already has this key (staff creating one).
    Taken,
    /// The record is no longer at the version the writer read.
    Stale { current: u64 },
    /// Not a locked record (an administrator's removal).
    NotLocked,
}

/// The one rule: what `writer` may do with `new` over what the table
/// `held` at its key.
pub fn plan_write(writer: Writer<'_>, new: &TrainingRecord, held: Option<Held<'_>>) -> Plan {
    let same_content = |held: &Held<'_>| new.fingerprint() == held.fingerprint;
    let next = |held: &Held<'_>| held.version.checked_add(1);
    let Some(held) = held else {
        return match writer {
            Writer::Portal | Writer::Csv { .. } | Writer::StaffNew => Plan::Write {
                change: Change::Inserted,
                guard: Guard::Free,
                version: 1,
            },
            Writer::Staff { .. } | Writer::Transfer { .. } => Plan::Refuse(Refusal::Missing),
        };
    };
    let replaced = if held.source == Source::StaffEntered {
        Change::ReplacedStaff
    } else {
        Change::Updated
    };
    let stale = Plan::Refuse(Refusal::Stale {
        current: held.version,
    });
    match writer {
        Writer::Portal if held.source.is_locked() && same_content(&held) => {
            Plan::Keep { replayed: None }
        }
        Writer::Portal => match next(&held) {
            Some(version) => Plan::Write {
                change: replaced,
                guard: Guard::Version(held.version),
                version,
            },
            None => stale,
        },
        Writer::Csv { import } => {
            let agency = &new.org_code;
            if held.agency != agency.as_str() {
                Plan::Refuse(Refusal::OtherAgency(held.agency.to_string()))
            } else if same_content(&held) {
                // This import wrote it already (a replay after a crash):
                // what it did then is what the row counts as.
                let replayed = (held.written_by == import)
                    .then_some(held.written_as)
                    .flatten();
                Plan::Keep { replayed }
            } else if held.source.is_locked() {
                Plan::Refuse(Refusal::Locked(held.source))
            } else {
                match next(&held) {
                    Some(version) => Plan::Write {
                        change: replaced,
                        guard: Guard::Unlocked {
                            agency: agency.clone(),
                            version: held.version,
                        },
                        version,
                    },
                    None => stale,
                }
            }
        }
        // The same answer for staff either way; another agency's key is
        // a claim kept for administrators.
        Writer::StaffNew if held.agency != new.org_code.as_str() => {
            Plan::Refuse(Refusal::OtherAgency(held.agency.to_string()))
        }
        Writer::StaffNew => Plan::Refuse(Refusal::Taken),
        // Staff replace a record under the conditions they delete it.
        Writer::Staff { agency, expected } => {
            match plan_delete(Deleter::Staff { agency, expected }, Some(held)) {
                Err(refusal) => Plan::Refuse(refusal),
                Ok(guard) => match next(&held) {
                    Some(version) => Plan::Write {
                        change: Change::Updated,
                        guard,
                        version,
                    },
                    None => stale,
                },
            }
        }
        Writer::Transfer { holder, expected } => {
            if held.agency != holder.as_str() {
                Plan::Refuse(Refusal::OtherAgency(held.agency.to_string()))
            } else if held.source.is_locked() {
                Plan::Refuse(Refusal::Locked(held.source))
            } else if held.version != expected {
                stale
            } else {
                match next(&held) {
                    Some(version) => Plan::Write {
                        change: Change::Updated,
                        guard: Guard::Unlocked {
                            agency: holder.clone(),
                            version: expected,
                        },
                        version,
                    },
                    None => stale,
                }
            }
        }
    }
}

/// Who deletes a record, with what the rule needs to know of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleter<'a> {
    /// Staff deleting their agency's record, read at `expected`.
    Staff {
        agency: &'a AgencyCode,
        expected: u64,
    },
    /// An administrator removing a locked record read at `expected`.
    Removal { expected: u64 },
}

/// The rule for deletes: the guard to delete under, or why not. (The
/// portal's withdrawals are not a writer's choice but its statement: the
/// store removes what it withdrew wherever staff did not type it.)
pub fn plan_delete(deleter: Deleter<'_>, held: Option<Held<'_>>) -> Result<Guard, Refusal> {
    let held = held.ok_or(Refusal::Missing)?;
    let stale = Refusal::Stale {
        current: held.version,
    };
    match deleter {
        Deleter::Staff { agency, expected } => {
            if held.agency != agency.as_str() {
                Err(Refusal::OtherAgency(held.agency.to_string()))
            } else if held.source.is_locked() {
                Err(Refusal::Locked(held.source))
            } else if held.version != expected {
                Err(stale)
            } else {
                Ok(Guard::Unlocked {
                    agency: agency.clone(),
                    version: expected,
                })
            }
        }
        Deleter::Removal { expected } => {
            if !held.source.is_locked() {
                Err(Refusal::NotLocked)
            } else if held.version != expected {
                Err(stale)
            } else {
                Ok(Guard::Locked(expected))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RawRecord;

    const OURS: &str = "376550000A";
    const THEIRS: &str = "379000000A";
    const SOURCES: [Source; 4] = [
        Source::AutoImport,
        Source::Download,
        Source::CsvImport,
        Source::StaffEntered,
    ];

    fn record(agency: &str, hours: &str) -> TrainingRecord {
        RawRecord {
            org_code: agency.into(),
            digital_hours: hours.into(),
            total_hours: hours.into(),
            ..crate::record::tests::sample()
        }
        .validate()
        .unwrap()
    }

    /// Every stored state the rule can meet: each source, our agency or
    /// theirs, the new record's content or other, written by this import
    /// or not, at version 7.
    fn every_held(new: &TrainingRecord, other: &TrainingRecord) -> Vec<(Held<'static>, bool)> {
        let mut all = Vec::new();
        let same: &'static str = Box::leak(new.fingerprint().into_boxed_str());
        let different: &'static str = Box::leak(other.fingerprint().into_boxed_str());
        for source in SOURCES {
            for agency in [OURS, THEIRS] {
                for (fingerprint, is_same) in [(same, true), (different, false)] {
                    for written_by in ["csv-1", "csv-0"] {
                        let held = Held {
                            agency,
                            source,
                            version: 7,
                            fingerprint,
                            written_by,
                            written_as: Some(Change::Updated),
                        };
                        all.push((held, is_same));
                    }
                }
            }
        }
        all
    }

    fn ours() -> AgencyCode {
        AgencyCode::parse(OURS).unwrap()
    }

    #[test]
    fn a_free_key_takes_a_new_record_and_has_nothing_to_change_or_remove() {
        let new = record(OURS, "2");
        let agency = ours();
        for writer in [
            Writer::Portal,
            Writer::Csv { import: "csv-1" },
            Writer::StaffNew,
        ] {
            assert_eq!(
                plan_write(writer, &new, None),
                Plan::Write {
                    change: Change::Inserted,
                    guard: Guard::Free,
                    version: 1
                },
                "{writer:?}"
            );
        }
        let writer = Writer::Staff {
            agency: &agency,
            expected: 1,
        };
        let transfer = Writer::Transfer {
            holder: &agency,
            expected: 1,
        };
        for writer in [writer, transfer] {
            assert_eq!(
                plan_write(writer, &new, None),
                Plan::Refuse(Refusal::Missing),
                "{writer:?}"
            );
        }
        let staff = Deleter::Staff {
            agency: &agency,
            expected: 1,
        };
        for deleter in [staff, Deleter::Removal { expected: 1 }] {
            assert_eq!(plan_delete(deleter, None), Err(Refusal::Missing));
        }
    }

    #[test]
    fn the_portal_replaces_whatever_holds_the_key_unless_it_is_its_own_identical_record() {
        let new = record(OURS, "2");
        for (held, same) in every_held(&new, &record(OURS, "3")) {
            let plan = plan_write(Writer::Portal, &new, Some(held));
            let locked = matches!(held.source, Source::AutoImport | Source::Download);
            let want = if locked && same {
                Plan::Keep { replayed: None }
            } else {
                Plan::Write {
                    change: if held.source == Source::StaffEntered {
                        Change::ReplacedStaff
                    } else {
                        Change::Updated
                    },
                    guard: Guard::Version(7),
                    version: 8,
                }
            };
            assert_eq!(plan, want, "{held:?}");
        }
    }

    #[test]
    fn a_csv_row_writes_only_its_agencys_unlocked_records_and_counts_a_replay_as_before() {
        let new = record(OURS, "2");
        for (held, same) in every_held(&new, &record(OURS, "3")) {
            let plan = plan_write(Writer::Csv { import: "csv-1" }, &new, Some(held));
            let locked = matches!(held.source, Source::AutoImport | Source::Download);
            let want = if held.agency == THEIRS {
                Plan::Refuse(Refusal::OtherAgency(THEIRS.into()))
            } else if same && held.written_by == "csv-1" {
                Plan::Keep {
                    replayed: Some(Change::Updated),
                }
            } else if same {
                Plan::Keep { replayed: None }
            } else if locked {
                Plan::Refuse(Refusal::Locked(held.source))
            } else {
                Plan::Write {
                    change: if held.source == Source::StaffEntered {
                        Change::ReplacedStaff
                    } else {
                        Change::Updated
                    },
                    guard: Guard::Unlocked {
                        agency: ours(),
                        version: 7,
                    },
                    version: 8,
                }
            };
            assert_eq!(plan, want, "{held:?}");
        }
    }

    #[test]
    fn staff_change_only_their_agencys_unlocked_record_at_the_version_they_read() {
        let new = record(OURS, "2");
        let agency = ours();
        for (held, _) in every_held(&new, &record(OURS, "3")) {
            let taken = if held.agency == THEIRS {
                Refusal::OtherAgency(THEIRS.into())
            } else {
                Refusal::Taken
            };
            assert_eq!(
                plan_write(Writer::StaffNew, &new, Some(held)),
                Plan::Refuse(taken)
            );
            for expected in [6, 7, 8] {
                let guard = Guard::Unlocked {
                    agency: ours(),
                    version: 7,
                };
                let locked = matches!(held.source, Source::AutoImport | Source::Download);
                let refusal = if held.agency == THEIRS {
                    Some(Refusal::OtherAgency(THEIRS.into()))
                } else if locked {
                    Some(Refusal::Locked(held.source))
                } else if expected != 7 {
                    Some(Refusal::Stale { current: 7 })
                } else {
                    None
                };
                let deleter = Deleter::Staff {
                    agency: &agency,
                    expected,
                };
                assert_eq!(
                    plan_delete(deleter, Some(held)),
                    refusal.clone().map_or(Ok(guard.clone()), Err),
                    "{held:?} {expected}"
                );
                let writer = Writer::Staff {
                    agency: &agency,
                    expected,
                };
                let want = match refusal {
                    Some(refusal) => Plan::Refuse(refusal),
                    None => Plan::Write {
                        change: Change::Updated,
                        guard,
                        version: 8,
                    },
                };
                assert_eq!(
                    plan_write(writer, &new, Some(held)),
                    want,
                    "{held:?} {expected}"
                );
            }
        }
    }

    #[test]
    fn administrators_remove_only_locked_records_and_transfer_only_the_holders_unlocked_one() {
        let claimed = record(THEIRS, "2");
        let holder = ours();
        for (held, _) in every_held(&record(OURS, "3"), &claimed) {
            let locked = matches!(held.source, Source::AutoImport | Source::Download);
            for expected in [7, 8] {
                let removal = plan_delete(Deleter::Removal { expected }, Some(held));
                let want = if !locked {
                    Err(Refusal::NotLocked)
                } else if expected != 7 {
                    Err(Refusal::Stale { current: 7 })
                } else {
                    Ok(Guard::Locked(7))
                };
                assert_eq!(removal, want, "{held:?} {expected}");
                let writer = Writer::Transfer {
                    holder: &holder,
                    expected,
                };
                let transfer = plan_write(writer, &claimed, Some(held));
                let want = if held.agency != OURS {
                    Plan::Refuse(Refusal::OtherAgency(held.agency.into()))
                } else if locked {
                    Plan::Refuse(Refusal::Locked(held.source))
                } else if expected != 7 {
                    Plan::Refuse(Refusal::Stale { current: 7 })
                } else {
                    Plan::Write {
                        change: Change::Updated,
                        guard: Guard::Unlocked {
                            agency: ours(),
                            version: 7,
                        },
                        version: 8,
                    }
                };
                assert_eq!(transfer, want, "{held:?} {expected}");
            }
        }
    }

    #[test]
    fn a_version_past_the_last_is_refused_as_stale_not_wrapped() {
        let new = record(OURS, "2");
        let held = Held {
            agency: OURS,
            source: Source::CsvImport,
            version: u64::MAX,
            fingerprint: "",
            written_by: "",
            written_as: None,
        };
        let stale = Plan::Refuse(Refusal::Stale { current: u64::MAX });
        assert_eq!(plan_write(Writer::Portal, &new, Some(held)), stale);
        assert_eq!(
            plan_write(Writer::Csv { import: "csv-1" }, &new, Some(held)),
            stale
        );
    }
}
