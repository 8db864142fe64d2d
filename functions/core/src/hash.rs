//! WebHR's one hash: 64-bit FNV-1a over parts, each followed by a unit
//! separator (so `("ab", "c")` and `("a", "bc")` differ). Stable across
//! builds and platforms, unlike the standard library's hasher: the values
//! are kept (record fingerprints, log ids, a continuation's seen keys).
//! Written here rather than taken from the `fnv` crate: it is ten lines,
//! and since its values are stored, a test pins them, not a dependency's
//! version.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;
const SEPARATOR: u8 = 0x1f;

/// The hash built part by part.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(OFFSET)
    }
}

impl Fnv1a {
    /// Adds one part and its separator.
    #[must_use]
    pub fn part(self, bytes: &[u8]) -> Self {
        let hash = bytes
            .iter()
            .chain([&SEPARATOR])
            .fold(self.0, |hash, &byte| {
                (hash ^ u64::from(byte)).wrapping_mul(PRIME)
            });
        Fnv1a(hash)
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

/// The hash of text parts.
pub fn fnv1a<S: AsRef<str>>(parts: &[S]) -> u64 {
    parts
        .iter()
        .fold(Fnv1a::default(), |hash, part| {
            hash.part(part.as_ref().as_bytes())
        })
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_values_kept_in_tables_do_not_change() {
        // Fingerprints and ids already stored were made with these.
        assert_eq!(fnv1a(&["a", "b"]), 0xe8bc_b182_3051_3c4a);
        assert_eq!(fnv1a::<&str>(&[]), OFFSET);
        assert_ne!(fnv1a(&["ab", "c"]), fnv1a(&["a", "bc"]));
        assert_eq!(
            Fnv1a::default().part(b"a").part(b"b").finish(),
            fnv1a(&["a", "b"])
        );
    }
}
