//! The rollout bucket: a documented, platform-independent hash of (feature name, subject key).
//!
//! Every implementation in every language must produce the same buckets, so the function is
//! spelled out in `docs/language.md` with test vectors, and the tests here pin them.
//!
//! It is built for the query path. The feature's part is a per-feature constant (FNV-1a over
//! the name, computed once when a policy compiles), so a query hashes only the key: a key of up
//! to 8 bytes in one 64 × 64 → 128-bit multiplication whose halves are folded together (the
//! multiply-fold of the wyhash family, which the name tables use too), a longer key with one
//! 64-bit multiplication per further 8 bytes, read as whole words rather than byte by byte.
//! The bucket is the high 32 bits of one more multiplication of the fold, scaled to a million
//! by a multiplication and a shift, with no division.

use crate::names::{fold, word};

/// The number of buckets: one per millionth, so a rollout percentage compares directly.
pub const BUCKETS: u64 = 1_000_000;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Multiplies in each 8-byte word of a key longer than 8 bytes but its last, and mixes the
/// fold once more at the end.
const WORD: u64 = 0xbf58_476d_1ce4_e5b9;
/// Keep either factor of the final multiplication from being zero for a plain input.
const LEFT: u64 = 0xa076_1d64_78bd_642f;
const RIGHT: u64 = 0xe703_7ed1_a0b4_28db;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// The bucket (0 to 999,999) of a subject for a feature. A subject is inside a rollout of
/// `N` millionths when its bucket is below `N`.
///
/// ```
/// assert_eq!(entitle::rollout_bucket("conversational_ai", "app-42"), 816_717);
/// ```
pub fn bucket(feature: &str, key: &str) -> u32 {
    bucket_from_seed(seed(feature), key)
}

/// The feature's part of the hash: FNV-1a over `feature ‖ 0x00`, a per-feature constant the
/// engine computes once at compile time, so that a query hashes only the subject key.
pub(crate) fn seed(feature: &str) -> u64 {
    fnv1a(fnv1a(FNV_OFFSET, feature.as_bytes()), &[0])
}

/// [`bucket`] from a feature's precomputed [`seed`].
#[inline]
pub(crate) fn bucket_from_seed(seed: u64, key: &str) -> u32 {
    let key = key.as_bytes();
    let n = key.len();
    // Two numbers that together hold every byte of the key, the seed in the first: a key of up
    // to 8 bytes is one word; a longer one is its last 8 bytes beside every 8 before them
    // multiplied in (the last read overlaps when the key is not a whole number of words).
    let (a, b) = if n > 8 {
        let mut hash = seed;
        let mut at = 0;
        while n - at > 8 {
            hash = (hash ^ word(key.get(at..at + 8).unwrap_or_default())).wrapping_mul(WORD);
            at += 8;
        }
        (hash, word(key.get(n - 8..).unwrap_or_default()))
    } else {
        (seed ^ word(key), 0)
    };
    let folded = fold(a ^ LEFT, b ^ n as u64 ^ RIGHT);
    // The high 32 bits of one more multiplication, which depend on every bit of the fold,
    // scaled to 0..BUCKETS: below 2^32 × 10^6 / 2^32.
    let mixed = folded.wrapping_mul(WORD) >> 32;
    ((mixed * BUCKETS) >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors published in docs/language.md; a change here breaks every other language.
    /// One key of every length the function reads differently: none, 1–3, 4–7, exactly 8,
    /// 9–16 and longer (three words).
    const VECTORS: [(&str, &str, u32); 9] = [
        ("conversational_ai", "app-42", 816_717),
        ("hd_video", "customer-1", 268_397),
        ("live_effects", "", 78_218),
        ("", "", 698_175),
        ("e2e_encryption", "\u{e9}t\u{e9}", 74_116),
        ("sso", "x", 852_215),
        ("sso", "ab", 493_235),
        ("sso", "12345678", 636_469),
        ("hd_video", "customer-12345678", 579_293),
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

    /// Keys of the shapes services use (counters, prefixed ids, e-mail addresses, hex ids of
    /// every length from 6 to 40 bytes), 200,000 of each: their buckets fill 100 equal bins
    /// evenly (a chi-square of 99 degrees of freedom; 200 is far past any honest spread),
    /// and two features' 10% rollouts overlap on about 1% of the keys, as independent draws
    /// would, so two rollouts do not pick the same subjects.
    #[test]
    fn buckets_are_uniform_and_independent_across_key_shapes() {
        type KeyOf = fn(u64) -> String;
        let shapes: [(&str, KeyOf); 4] = [
            ("counter", |i| i.to_string()),
            ("prefixed", |i| format!("customer-{i}")),
            ("email", |i| format!("user{i}@example.com")),
            ("hex", |i| {
                format!("{:x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).chars().take(6 + (i % 35) as usize).collect()
            }),
        ];
        const KEYS: u64 = 200_000;
        for (shape, key_of) in shapes {
            let mut bins = [0u32; 100];
            let mut both = 0u32;
            for i in 0..KEYS {
                let key = key_of(i);
                let first = bucket("conversational_ai", &key);
                bins[(first / 10_000) as usize] += 1;
                both += u32::from(first < 100_000 && bucket("hd_video", &key) < 100_000);
            }
            let expected = KEYS as f64 / 100.0;
            let chi_square: f64 = bins.iter().map(|&n| (f64::from(n) - expected).powi(2) / expected).sum();
            assert!(chi_square < 200.0, "{shape} keys: chi-square {chi_square:.1} over 100 bins");
            let overlap = f64::from(both) / KEYS as f64 * 100.0;
            assert!((0.8..=1.2).contains(&overlap), "{shape} keys: two 10% rollouts share {overlap:.3}%");
        }
    }

    #[test]
    fn the_separator_keeps_feature_and_key_apart() {
        assert_ne!(bucket("ab", "c"), bucket("a", "bc"));
    }
}
