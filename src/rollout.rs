//! The rollout bucket: a documented, platform-independent hash of (feature name, subject key).
//!
//! Every implementation in every language must produce the same buckets, so the function is
//! spelled out in `docs/language.md` with test vectors, and the tests here pin them.

/// The number of buckets: one per millionth, so a rollout percentage compares directly.
pub const BUCKETS: u64 = 1_000_000;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// MurmurHash3's 64-bit finaliser: mixes every input bit into the low bits that the modulo keeps.
const fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// The bucket (0 to 999,999) of a subject for a feature. A subject is inside a rollout of
/// `N` millionths when its bucket is below `N`.
///
/// ```
/// assert_eq!(entitle::rollout::bucket("conversational_ai", "app-42"), 688_828);
/// ```
pub fn bucket(feature: &str, key: &str) -> u32 {
    let hash = fnv1a(fnv1a(fnv1a(FNV_OFFSET, feature.as_bytes()), &[0]), key.as_bytes());
    (fmix64(hash) % BUCKETS) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors published in docs/language.md; a change here breaks every other language.
    const VECTORS: [(&str, &str, u32); 5] = [
        ("conversational_ai", "app-42", 688_828),
        ("hd_video", "customer-1", 273_242),
        ("live_effects", "", 923_497),
        ("", "", 102_267),
        ("e2e_encryption", "\u{e9}t\u{e9}", 824_508),
    ];

    #[test]
    fn buckets_match_the_published_vectors() {
        for (feature, key, expected) in VECTORS {
            assert_eq!(bucket(feature, key), expected, "bucket({feature:?}, {key:?})");
        }
    }

    #[test]
    fn the_published_vectors_are_in_the_language_reference() {
        let doc = include_str!("../docs/language.md");
        for (feature, key, expected) in VECTORS {
            let row = format!("| `{feature}` | `{key}` | {expected} |");
            assert!(doc.contains(&row), "docs/language.md lacks the row {row}");
        }
    }

    #[test]
    fn the_separator_keeps_feature_and_key_apart() {
        assert_ne!(bucket("ab", "c"), bucket("a", "bc"));
    }
}
