//! Opaque tokens the API hands out and takes back: page cursors and
//! person handles. Both hold what must not be readable or forgeable by the
//! caller — a cursor holds the table key a page ended at (a national ID
//! among it), a handle holds the national ID itself — so each is sealed
//! with AES-256-GCM (*ring*, already the TLS library of every function)
//! under a key derived from the audit secret, and bound to what it was
//! issued for (its context: the route, the caller's agency): a cursor
//! edited, forged or carried to another agency's query does not open, and
//! the API answers `invalid_cursor` instead of handing DynamoDB a key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::Sha256;

/// Seals and opens the API's opaque tokens.
#[derive(Clone)]
pub struct Sealer {
    key: LessSafeKey,
    /// Keys the nonce of deterministic seals (person handles).
    nonce_key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    /// Keys derived from the audit secret, one per use, so the audit hash
    /// and the seals never share a key.
    pub fn new(secret: &learning_core::audit::AuditKey) -> Self {
        let key = secret.derive("api/seal/aes-256-gcm/v1");
        let unbound = UnboundKey::new(&AES_256_GCM, &key).unwrap_or_else(|_| unreachable!());
        Sealer {
            key: LessSafeKey::new(unbound),
            nonce_key: secret.derive("api/seal/nonce/v1"),
        }
    }

    /// `plain` sealed for `context`, with a fresh random nonce.
    pub fn seal(&self, context: &str, plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        // The system's generator fails only where no randomness exists at
        // all; a nonce derived from the content is still unique per
        // content then.
        if SystemRandom::new().fill(&mut nonce).is_err() {
            nonce.copy_from_slice(&self.synthetic_nonce(context, plain));
        }
        self.seal_with(nonce, context, plain)
    }

    /// `plain` sealed for `context` the same way every time (the nonce
    /// derived from both, as in SIV): equal inputs give equal tokens, so a
    /// person's handle is stable; a nonce repeats only with its content.
    pub fn seal_stable(&self, context: &str, plain: &[u8]) -> String {
        self.seal_with(self.synthetic_nonce(context, plain), context, plain)
    }

    fn synthetic_nonce(&self, context: &str, plain: &[u8]) -> [u8; NONCE_LEN] {
        // HMAC takes a key of any length.
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.nonce_key).unwrap_or_else(|_| unreachable!());
        mac.update(&(context.len() as u64).to_be_bytes());
        mac.update(context.as_bytes());
        mac.update(plain);
        let full = mac.finalize().into_bytes();
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&full[..NONCE_LEN]);
        nonce
    }

    fn seal_with(&self, nonce: [u8; NONCE_LEN], context: &str, plain: &[u8]) -> String {
        let mut sealed = plain.to_vec();
        // Fails only for inputs of gigabytes.
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .unwrap_or_else(|_| unreachable!());
        let mut token = Vec::with_capacity(NONCE_LEN + sealed.len() + tag.as_ref().len());
        token.extend_from_slice(&nonce);
        token.extend_from_slice(&sealed);
        token.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(token)
    }

    /// What `token` holds, if it was sealed by this key for `context`.
    pub fn open(&self, context: &str, token: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut sealed)
            .ok()?;
        Some(plain.to_vec())
    }

    /// [`Sealer::open`] as text.
    pub fn open_text(&self, context: &str, token: &str) -> Option<String> {
        String::from_utf8(self.open(context, token)?).ok()
    }
}

/// Person handles: what the API's URLs carry in place of a national ID,
/// which would otherwise sit in API Gateway's and proxies' logs and the
/// browser's history. Stable (the same person, the same handle), opaque,
/// and opened only here.
impl Sealer {
    pub fn person(&self, id: &learning_core::NationalId) -> String {
        self.seal_stable(PERSON, id.as_str().as_bytes())
    }

    pub(crate) fn open_person(&self, handle: &str) -> Option<learning_core::NationalId> {
        learning_core::NationalId::parse(&self.open_text(PERSON, handle)?).ok()
    }
}

const PERSON: &str = "person";

/// Page cursors: the store's own position, sealed for the query's
/// context, so what the caller holds is opaque and only opens for the
/// same route and agency.
impl Sealer {
    pub(crate) fn cursor(&self, context: &str, next: Option<String>) -> Option<String> {
        next.map(|position| self.seal(context, position.as_bytes()))
    }

    /// The store's position a cursor holds; `invalid_cursor` (400) for one
    /// edited, forged or issued for another query's context.
    pub(crate) fn open_cursor(
        &self,
        context: &str,
        cursor: Option<&str>,
    ) -> Result<Option<String>, crate::ApiError> {
        cursor
            .map(|c| {
                self.open_text(context, c)
                    .ok_or_else(crate::ApiError::invalid_cursor)
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(secret: &str) -> Sealer {
        Sealer::new(&learning_core::audit::AuditKey::new(secret))
    }

    #[test]
    fn a_sealed_token_opens_only_with_its_key_and_context() {
        let sealer = keyed("k1");
        let token = sealer.seal("records:376550000A", b"2016-03-03#A123456789#X#0001");
        assert!(!token.contains("A123456789"));
        assert_eq!(
            sealer.open_text("records:376550000A", &token).as_deref(),
            Some("2016-03-03#A123456789#X#0001")
        );
        assert_eq!(
            sealer.open("records:379000000A", &token),
            None,
            "another agency's"
        );
        assert_eq!(keyed("k2").open("records:376550000A", &token), None);
        // Any byte changed, or cut short: refused.
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for at in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[at] ^= 1;
            let edited = URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(
                sealer.open("records:376550000A", &edited),
                None,
                "byte {at}"
            );
            bytes[at] ^= 1;
        }
        assert_eq!(sealer.open("records:376550000A", &token[..20]), None);
        assert_eq!(sealer.open("records:376550000A", "not base64!"), None);
        // Random nonces: the same content gives different tokens.
        assert_ne!(
            token,
            sealer.seal("records:376550000A", b"2016-03-03#A123456789#X#0001")
        );
        assert_eq!(format!("{sealer:?}"), "Sealer(***)");
    }

    #[test]
    fn a_stable_seal_is_the_same_for_the_same_content_only() {
        let sealer = keyed("k1");
        let a = sealer.seal_stable("person", b"A123456789");
        assert_eq!(a, sealer.seal_stable("person", b"A123456789"));
        assert_ne!(a, sealer.seal_stable("person", b"F228035170"));
        assert_ne!(a, sealer.seal_stable("other", b"A123456789"));
        assert_eq!(
            sealer.open_text("person", &a).as_deref(),
            Some("A123456789")
        );
    }
}
