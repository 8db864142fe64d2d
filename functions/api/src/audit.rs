//! The API's audit lines (see [`learning_core::audit`]): every answer that
//! carries a person's records, and every probe of one (a read of a record
//! the caller may not see, a create over a held key), writes one line
//! naming the caller from its token and the person by keyed hash.

use learning_core::NationalId;

use crate::Caller;

/// The audit key, with the lines the API writes.
#[derive(Clone, Debug)]
pub struct AuditKey(learning_core::audit::AuditKey);

impl AuditKey {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        AuditKey(learning_core::audit::AuditKey::new(key))
    }

    /// The person's hash, as the lines carry it.
    pub fn person(&self, id: &NationalId) -> String {
        self.0.person(id)
    }

    /// The sealer of cursors and person handles, keyed from the same
    /// secret (one parameter to keep, a key of its own for each use).
    pub fn sealer(&self) -> crate::Sealer {
        crate::Sealer::new(&self.0)
    }

    /// One line: `caller` did `action` on `person`'s records through
    /// `route`, with `outcome`: `ok`, or what a probe learned —
    /// `not_found` (nothing the caller may see), `record_exists` (the key
    /// is held). A probe is as accountable as a read.
    pub fn record(
        &self,
        caller: &Caller,
        person: &NationalId,
        route: &str,
        action: &str,
        outcome: &str,
    ) {
        self.0.line(
            &caller.user,
            caller.agency.as_str(),
            person,
            route,
            action,
            outcome,
        );
    }

    /// One line per person whose records an answer carries (a download,
    /// a page of an agency's records), each person once.
    pub fn people<'a>(
        &self,
        caller: &Caller,
        people: impl IntoIterator<Item = &'a NationalId>,
        route: &str,
        action: &str,
    ) {
        let people: std::collections::BTreeSet<&NationalId> = people.into_iter().collect();
        for person in people {
            self.record(caller, person, route, action, "ok");
        }
    }
}
