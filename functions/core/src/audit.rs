//! Who looked at whose records (個資法: access to personal data is
//! accountable). Every read, write or probe of a person's records writes
//! one structured audit line — who, from which agency, through which
//! route or import, what was done and what it learned — and names the
//! person by a keyed hash of the national ID: the same ID always gives the
//! same hash, so an operator holding the key finds every line about one
//! person, while the log itself names no one.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::NationalId;

/// The secret of the keyed hash (`AUDIT_KEY_PARAMETER` in the cloud), and
/// the root of the keys derived from it for other uses.
#[derive(Clone)]
pub struct AuditKey(Vec<u8>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

/// HMAC-SHA256 of the parts, in order, under `key`.
fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl AuditKey {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        AuditKey(key.into())
    }

    /// HMAC-SHA256 of the ID under the key, in hex: what
    /// `printf %s ID | openssl dgst -sha256 -hmac KEY` prints.
    pub fn person(&self, id: &NationalId) -> String {
        mac(&self.0, &[id.as_str().as_bytes()])
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A key of its own for `purpose` (sealing cursors, say), so no two
    /// uses share one and one parameter is all there is to keep.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        mac(&self.0, &[b"webhr/derive/", purpose.as_bytes()])
    }

    /// One audit line: `caller` of `agency` did `action` on `person`'s
    /// records through `route` (a route template, or `csv_import`), and it
    /// came out as `outcome`: `ok`, or what a probe learned (`not_found`,
    /// `record_exists`, `record_held`, …).
    pub fn line(
        &self,
        caller: &str,
        agency: &str,
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
            caller,
            agency,
            person = %self.person(person),
            "personal data accessed"
        );
    }
}

/// Where a function's audit key comes from: `AUDIT_KEY_PARAMETER`, the
/// SSM SecureString holding it (read once at cold start), or `AUDIT_KEY`,
/// the key itself (local runs and tests). One of the two is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditKeySource {
    Parameter(String),
    Key(String),
}

impl AuditKeySource {
    pub fn from_env<F: Fn(&str) -> Option<String>>(
        env: &crate::Env<F>,
    ) -> Result<Self, crate::ConfigError> {
        match (env.get("AUDIT_KEY_PARAMETER"), env.get("AUDIT_KEY")) {
            (Some(name), _) => Ok(AuditKeySource::Parameter(name)),
            (None, Some(key)) => Ok(AuditKeySource::Key(key)),
            (None, None) => Err(crate::ConfigError::Missing {
                variable: "AUDIT_KEY_PARAMETER",
                hint: "存放稽核雜湊金鑰的 SSM SecureString 名稱",
            }),
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

    #[test]
    fn derived_keys_differ_by_purpose_and_from_the_hash() {
        let key = AuditKey::new("k1");
        assert_eq!(key.derive("a"), key.derive("a"));
        assert_ne!(key.derive("a"), key.derive("b"));
        assert_ne!(key.derive("a"), AuditKey::new("k2").derive("a"));
    }
}
