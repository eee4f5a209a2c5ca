//! Name → id lookup for the by-name queries: a table built once per engine over the policy's
//! own names, so that a lookup is one hash of the name, usually one slot, and one comparison.
//!
//! The slots are a power of two at most half full, filled by linear probing. At build time a
//! seed is chosen among several so that the longest probe is as short as it can be: for the
//! policies people write (tens to a few thousand names) that is a perfect hash, every name in
//! its first slot. Each slot keeps a 32-bit tag of its name's hash, so a probe that meets
//! another name moves on without reading the name, and a lookup never probes further than the
//! longest displacement the build saw, so an unknown name costs at most that many slots.

/// The table. Ids are the positions of the names given to [`NameTable::new`].
#[derive(Debug)]
pub(crate) struct NameTable {
    /// Per slot: the tag (high half of the name's hash) and the id + 1; `(0, 0)` is empty.
    slots: Box<[(u32, u32)]>,
    /// Every name's bytes, one after another.
    bytes: Box<[u8]>,
    /// `spans[id]` is where name `id` starts and ends in `bytes`.
    spans: Box<[(u32, u32)]>,
    /// `keys[id]`: name `id`'s length and its first and last eight bytes as [`hash`] reads
    /// them, which identify a name of up to sixteen bytes, so most lookups compare these three
    /// numbers and never read the name's bytes.
    keys: Box<[Key]>,
    /// The hash seed chosen at build time.
    seed: u64,
    /// Whether names longer than sixteen bytes hash every byte; otherwise only their length,
    /// first and last eight bytes are hashed. Set only when the short hash fails to separate
    /// the names (names that differ only in their middles), so a hostile set of names costs a
    /// longer hash, never a long probe.
    full: bool,
    /// `slots.len() - 1`.
    mask: usize,
    /// The longest displacement from a name's first slot; lookups stop after it.
    max_probe: usize,
}

/// How many seeds a build tries for a table of at most this many names; larger tables try two,
/// so that building stays linear (a few displaced names cost a probe or two, not a search).
const SEARCH_NAMES: usize = 4_096;
const SEEDS_SMALL: u64 = 64;
const SEEDS_LARGE: u64 = 2;
/// The longest probe the short hash may leave before the full hash is tried instead.
const ACCEPTABLE_PROBE: usize = 4;
/// The longest probe a recorded seed may leave before it is distrusted (see
/// [`NameTable::with_seed`]); searches of real policies leave a few.
const TRUSTED_PROBE: usize = 256;

impl NameTable {
    /// A table over `names`, whose ids are their positions. Names are unique (the checker
    /// rejects duplicates); a repeated name would resolve to its first position.
    pub(crate) fn new<'a>(names: impl Iterator<Item = &'a str>) -> NameTable {
        let mut table = NameTable::empty(names);
        table.search();
        table
    }

    /// The table's names and keys, with no slot filled.
    fn empty<'a>(names: impl Iterator<Item = &'a str>) -> NameTable {
        let mut bytes = Vec::new();
        let mut spans = Vec::new();
        for name in names {
            // A policy is at most `Limits::source_bytes` (far below 4 GiB) of text.
            let start = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            bytes.extend_from_slice(name.as_bytes());
            spans.push((start, u32::try_from(bytes.len()).unwrap_or(u32::MAX)));
        }
        let count = spans.len();
        let size = (2 * count).next_power_of_two().max(8);
        let mut table = NameTable {
            slots: vec![(0, 0); size].into_boxed_slice(),
            bytes: bytes.into_boxed_slice(),
            keys: Vec::new().into_boxed_slice(),
            spans: spans.into_boxed_slice(),
            seed: 0,
            full: false,
            mask: size - 1,
            max_probe: 0,
        };
        table.keys = (0..count).map(|id| Key::of(table.name(id))).collect();
        table
    }

    /// Chooses the seed and hash with the shortest longest probe, and fills the slots with it.
    fn search(&mut self) {
        let table = self;
        let count = table.spans.len();
        let tries = if count <= SEARCH_NAMES { SEEDS_SMALL } else { SEEDS_LARGE };
        let mut best: Option<(usize, u64, bool)> = None;
        for full in [false, true] {
            for attempt in 0..tries {
                let seed = attempt.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d;
                let longest = table.fill(seed, full);
                if best.is_none_or(|(shortest, ..)| longest < shortest) {
                    best = Some((longest, seed, full));
                }
                if longest == 0 {
                    break;
                }
            }
            // The short hash is kept unless it leaves long probes behind.
            if best.is_some_and(|(longest, ..)| longest <= ACCEPTABLE_PROBE) {
                break;
            }
        }
        if let Some((_, seed, full)) = best {
            if (table.seed, table.full) != (seed, full) {
                table.fill(seed, full);
            }
        }
    }

    /// The seed and hash the build chose, for a bundle to record.
    pub(crate) fn seed(&self) -> (u64, bool) {
        (self.seed, self.full)
    }

    /// The table over `names` with a seed and hash chosen before ([`NameTable::seed`]), built
    /// in one pass with no search. A seed that leaves probes longer than any build accepts
    /// (which only a damaged bundle can give) falls back to the search of [`NameTable::new`],
    /// so a bad seed costs one wasted pass, never a slow table.
    pub(crate) fn with_seed<'a>(names: impl Iterator<Item = &'a str>, (seed, full): (u64, bool)) -> NameTable {
        let mut table = NameTable::empty(names);
        if table.fill_bounded(seed, full, TRUSTED_PROBE).is_some() {
            table
        } else {
            table.search();
            table
        }
    }

    /// Fills the slots with `seed` and the short or full hash, returning the longest
    /// displacement.
    fn fill(&mut self, seed: u64, full: bool) -> usize {
        self.fill_bounded(seed, full, usize::MAX).unwrap_or(usize::MAX)
    }

    /// [`NameTable::fill`], giving up (with `None`) as soon as a displacement passes `bound`.
    fn fill_bounded(&mut self, seed: u64, full: bool, bound: usize) -> Option<usize> {
        self.seed = seed;
        self.full = full;
        self.slots.fill((0, 0));
        let mut longest = 0;
        for id in 0..self.spans.len() {
            let key = self.keys.get(id).copied().unwrap_or_else(|| Key::of(self.name(id)));
            let hash = hash(seed, key, self.name(id), full);
            let mut at = slot_of(hash, self.mask);
            let mut displacement = 0;
            // At most half the slots are full, so an empty one is always found.
            while self.slots.get(at).is_some_and(|&(_, entry)| entry != 0) {
                at = (at + 1) & self.mask;
                displacement += 1;
            }
            if let Some(slot) = self.slots.get_mut(at) {
                *slot = (tag_of(hash), u32::try_from(id + 1).unwrap_or(u32::MAX));
            }
            longest = longest.max(displacement);
            if longest > bound {
                return None;
            }
        }
        self.max_probe = longest;
        Some(longest)
    }

    #[inline]
    fn name(&self, id: usize) -> &[u8] {
        let (start, end) = self.spans.get(id).copied().unwrap_or((0, 0));
        self.bytes.get(start as usize..end as usize).unwrap_or_default()
    }

    /// The id of `name`, if the table holds it. The first slot is checked inline (for the
    /// policies people write, the only one a known name needs); probing further is out of line.
    #[inline(never)]
    pub(crate) fn get(&self, name: &str) -> Option<u32> {
        let name = name.as_bytes();
        // Names of up to sixteen bytes (nearly all) take a path specialised to them, with no
        // hashing loop and no byte comparison, which needs few registers and no call; longer
        // names take the same steps out of line.
        if name.len() > 16 {
            return self.get_long(name);
        }
        self.get_keyed(Key::of(name), name)
    }

    /// [`NameTable::get`] for a name longer than sixteen bytes.
    #[inline(never)]
    fn get_long(&self, name: &[u8]) -> Option<u32> {
        self.get_keyed(Key::of(name), name)
    }

    /// The lookup of `name`, whose key is `key`.
    #[inline(always)]
    fn get_keyed(&self, key: Key, name: &[u8]) -> Option<u32> {
        let hash = hash(self.seed, key, name, self.full);
        let tag = tag_of(hash);
        let at = slot_of(hash, self.mask);
        let &(slot_tag, entry) = self.slots.get(at)?;
        if slot_tag == tag && entry != 0 && self.is(entry - 1, key, name) {
            return Some(entry - 1);
        }
        if entry == 0 || self.max_probe == 0 {
            return None;
        }
        self.probe(name, tag, at)
    }

    /// Whether name `id` is `name`, whose key is `key`.
    #[inline]
    fn is(&self, id: u32, key: Key, name: &[u8]) -> bool {
        let Some(stored) = self.keys.get(id as usize) else { return false };
        // The key is the whole name up to sixteen bytes; longer names compare their bytes too.
        *stored == key && (name.len() <= 16 || self.name(id as usize) == name)
    }

    /// The rest of a lookup whose first slot, `first`, held another name. It takes the name
    /// and not its key, which it computes again: a key passed along would be kept in memory
    /// on the first slot's path, which nearly every lookup ends on.
    #[cold]
    #[inline(never)]
    fn probe(&self, name: &[u8], tag: u32, first: usize) -> Option<u32> {
        let key = Key::of(name);
        let mut at = first;
        for _ in 0..self.max_probe {
            at = (at + 1) & self.mask;
            let &(slot_tag, entry) = self.slots.get(at)?;
            if slot_tag == tag && entry != 0 && self.is(entry - 1, key, name) {
                return Some(entry - 1);
            }
            if entry == 0 {
                return None;
            }
        }
        None
    }
}

#[expect(clippy::cast_possible_truncation, reason = "the slot index is masked to the table's size")]
#[inline]
fn slot_of(hash: u64, mask: usize) -> usize {
    hash as usize & mask
}

#[inline]
fn tag_of(hash: u64) -> u32 {
    // The high half of the hash: after the shift it always fits.
    u32::try_from(hash >> 32).unwrap_or(u32::MAX)
}

pub(crate) const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// A multiply that folds the 128-bit product's halves together: one instruction of mixing that
/// spreads every input bit over the result.
#[expect(clippy::cast_possible_truncation, reason = "the halves of a 128-bit product, by design")]
#[inline]
pub(crate) fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// Up to eight bytes as a number, without a call to `memcpy`: eight bytes are read as one
/// word; four to seven as two overlapping halves; one to three byte by byte. For a given
/// length, different bytes give different numbers. The rollout bucket reads keys with it, so
/// `docs/language.md` spells it out: changing it changes every published bucket.
#[inline]
pub(crate) fn word(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let u32_at = |at: usize| bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes);
    let byte_at = |at: usize| bytes.get(at).copied().map_or(0, u64::from);
    if n >= 8 {
        bytes.get(..8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes)
    } else if n >= 4 {
        u64::from(u32_at(0)) | (u64::from(u32_at(n - 4)) << 32)
    } else if n > 0 {
        byte_at(0) | (byte_at(n / 2) << 8) | (byte_at(n - 1) << 16)
    } else {
        0
    }
}

/// A name's length and its first and last eight bytes (overlapping for names of nine to
/// fifteen bytes; the last word is 0 for names of up to eight): for names of up to sixteen
/// bytes, equal keys mean equal names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    len: usize,
    head: u64,
    tail: u64,
}

impl Key {
    #[inline]
    fn of(bytes: &[u8]) -> Key {
        let n = bytes.len();
        let tail = if n > 8 { word(bytes.get(n - 8..).unwrap_or_default()) } else { 0 };
        Key { len: n, head: word(bytes), tail }
    }
}

/// The hash of a name: its length and its first and last eight bytes (overlapping for short
/// names, so every byte of a name up to sixteen bytes counts), folded with one multiply; with
/// `full`, every middle byte of a longer name too. Not resistant to chosen collisions, which is
/// fine here: the keys are the policy's own names, the build picks the seed and the hash, and
/// a query's name only ever probes at most `max_probe + 1` slots.
#[inline]
fn hash(seed: u64, key: Key, bytes: &[u8], full: bool) -> u64 {
    let n = key.len;
    let mut h = fold(key.head ^ seed, key.tail ^ (n as u64).wrapping_mul(MULTIPLIER));
    if full && n > 16 {
        for chunk in bytes.get(8..n - 8).unwrap_or_default().chunks(8) {
            h = fold(h ^ word(chunk), MULTIPLIER);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_finds_its_id_and_nothing_else_matches() {
        for count in [0usize, 1, 5, 12, 100, 5_000] {
            let names: Vec<String> = (0..count).map(|i| format!("feature_{i}")).collect();
            let table = NameTable::new(names.iter().map(String::as_str));
            for (id, name) in names.iter().enumerate() {
                assert_eq!(table.get(name), Some(u32::try_from(id).expect("small")), "{name}");
            }
            for unknown in ["", "feature_", "feature_x", "Feature_1", "feature_1 ", "a_much_longer_name_than_any"] {
                assert_eq!(table.get(unknown), None, "{unknown}");
            }
        }
    }

    #[test]
    fn small_tables_are_perfect() {
        let names = ["free", "pro", "enterprise", "acme_contract", "team", "business", "starter", "scale"];
        let table = NameTable::new(names.into_iter());
        assert_eq!(table.max_probe, 0, "every name sits in its first slot");
    }

    #[test]
    fn names_that_share_long_prefixes_and_lengths_are_told_apart() {
        let names: Vec<String> = (0..300).map(|i| format!("{}{i:05}", "x".repeat(40))).collect();
        let table = NameTable::new(names.iter().map(String::as_str));
        for (id, name) in names.iter().enumerate() {
            assert_eq!(table.get(name), Some(u32::try_from(id).expect("small")));
        }
    }

    /// Names that differ only in their middles defeat the short hash; the build notices and
    /// hashes every byte, so probes stay short.
    #[test]
    fn names_that_differ_only_in_the_middle_switch_to_the_full_hash() {
        let names: Vec<String> = (0..2_000).map(|i| format!("prefix__{i:06}__suffix")).collect();
        let table = NameTable::new(names.iter().map(String::as_str));
        assert!(table.full);
        assert!(table.max_probe <= ACCEPTABLE_PROBE, "longest probe {}", table.max_probe);
        for (id, name) in names.iter().enumerate() {
            assert_eq!(table.get(name), Some(u32::try_from(id).expect("small")));
        }
        assert_eq!(table.get("prefix__999999__suffix"), None);
    }
}
