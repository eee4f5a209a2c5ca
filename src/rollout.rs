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
/// assert_eq!(entitle::rollout_bucket("conversational_ai", "app-42"), 688_828);
/// ```
pub fn bucket(feature: &str, key: &str) -> u32 {
    bucket_from_seed(seed(feature), key)
}

/// The hash state after `feature ‖ 0x00`. FNV-1a consumes bytes in order, so this prefix is
/// a per-feature constant: the engine computes it once at compile time and a query hashes only
/// the subject key.
pub(crate) fn seed(feature: &str) -> u64 {
    fnv1a(fnv1a(FNV_OFFSET, feature.as_bytes()), &[0])
}

/// [`bucket`] from a feature's precomputed [`seed`].
#[inline]
pub(crate) fn bucket_from_seed(seed: u64, key: &str) -> u32 {
    // The remainder is below `BUCKETS`, which fits in a `u32`.
    u32::try_from(fmix64(fnv1a(seed, key.as_bytes())) % BUCKETS).unwrap_or(u32::MAX)
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

    /// Through the whole pipeline: 0% grants nobody, 100% everybody, 5% of 100,000 keys lands
    /// within half a point of 5%, and growing a rollout keeps everyone already inside.
    #[test]
    fn rollouts_grant_the_stated_share_of_subjects_and_only_grow() {
        let text = "policy \"p\"\nfeature none\nfeature every\nfeature x\n\
                    tier t5 { grant none rollout 0% grant every rollout 100% grant x rollout 5% }\n\
                    tier t10 { grant x rollout 10% }\n";
        let engine = crate::compile(&crate::check(&crate::Source::new("p", text)).expect("checks"));
        let (t5, t10) = (engine.tier("t5").expect("tier"), engine.tier("t10").expect("tier"));
        let [none, every, x] = ["none", "every", "x"].map(|f| engine.feature(f).expect("feature"));
        let keys: Vec<String> = (0..100_000).map(|i| format!("customer-{i}")).collect();
        let (mut at5, mut at10) = (0u32, 0u32);
        for key in &keys {
            let small = crate::Request::new(t5, 0).with_key(key);
            let large = crate::Request::new(t10, 0).with_key(key);
            assert!(!engine.is_allowed(&small, none), "0% granted {key}");
            assert!(engine.is_allowed(&small, every), "100% denied {key}");
            let (in5, in10) = (engine.is_allowed(&small, x), engine.is_allowed(&large, x));
            assert!(!in5 || in10, "{key} is inside 5% but not 10%");
            at5 += u32::from(in5);
            at10 += u32::from(in10);
        }
        let share = |n: u32| f64::from(n) / keys.len() as f64 * 100.0;
        assert!((4.5..=5.5).contains(&share(at5)), "5% rollout granted {:.3}%", share(at5));
        assert!((9.5..=10.5).contains(&share(at10)), "10% rollout granted {:.3}%", share(at10));
    }

    #[test]
    fn the_separator_keeps_feature_and_key_apart() {
        assert_ne!(bucket("ab", "c"), bucket("a", "bc"));
    }
}
