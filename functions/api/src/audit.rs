//! Who looked at whose records (個資法: access to personal data is
//! accountable). Every answer that carries a person's records writes one
//! structured audit line: the caller's `sub` and agency, the route, what
//! was done, and the person as a keyed hash of the national ID — the
//! same ID always gives the same hash, so an operator holding the key can
//! find every line about one person, while the log itself names no one.

use hmac::{Hmac, KeyInit, Mac};
use learning_core::NationalId;
use sha2::Sha256;

use crate::Caller;

/// The secret of the keyed hash (`AUDIT_KEY_PARAMETER` in the cloud).
#[derive(Clone)]
pub struct AuditKey(Vec<u8>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

impl AuditKey {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        AuditKey(key.into())
    }

    /// The sealer of cursors and person handles, keyed from the same
    /// secret (one parameter to keep, a key of its own derived for each
    /// use).
    pub fn sealer(&self) -> crate::Sealer {
        crate::Sealer::new(&self.0)
    }

    /// HMAC-SHA256 of the ID under the key, in hex: what
    /// `printf %s ID | openssl dgst -sha256 -hmac KEY` prints.
    pub fn person(&self, id: &NationalId) -> String {
        // HMAC takes a key of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(id.as_str().as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// One audit line: `caller` did `action` on `person`'s records
    /// through `route`, with `outcome`: `ok`, or what a probe learned —
    /// `not_found` (nothing the caller may see), `conflict` (the key is
    /// held). A probe is accountable as much as a read.
    pub fn record(
        &self,
        caller: &Caller,
        person: &NationalId,
        route: &str,
        action: &str,
        outcome: &str,
    ) {
        tracing::info!(
            audit = "person_records",
            action,
            outcome,
            route,
            caller = %caller.user,
            agency = %caller.agency,
            person = %self.person(person),
            "personal data accessed"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_keyed_stable_and_not_the_id() {
        let id = NationalId::parse("A123456789").unwrap();
        let key = AuditKey::new("k1");
        assert_eq!(key.person(&id), key.person(&id));
        assert_ne!(key.person(&id), AuditKey::new("k2").person(&id));
        // What an operator computes with openssl to search the log:
        // `printf %s A123456789 | openssl dgst -sha256 -hmac k1`.
        assert_eq!(
            key.person(&id),
            "826cedc276fcb5095b3712ec60d3c521c077d46aa0242d22349f999582b244cb"
        );
        assert!(!key.person(&id).contains("A123456789"));
        assert_eq!(format!("{key:?}"), "AuditKey(***)");
    }
}
