//! A checked set of per-customer overrides: records keyed by subject key, each changing one
//! feature, limit or setting for that subject, for a while, with a reason.
//!
//! The set is built by `override_check` (from JSON Lines or from code) against one engine, so
//! every record holds that engine's indices and the set remembers the policy's hash. Queries
//! read it through the [`Subject`] a request carries ([`crate::Request::with_overrides`]):
//! the key is looked up once, when the request is made, and a request without overrides
//! pays one pointer test.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use crate::digest::PolicyHash;
use crate::model::SettingValue;

/// How a limit override combines with the plan's limit in force (after seats and add-ons).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitOp {
    /// `=`: the override's value replaces the plan's.
    Set,
    /// `+=`: the override's value is added to the plan's, saturating.
    Add,
    /// `at_least`: the plan's value, raised to the override's if it is lower (a floor).
    AtLeast,
    /// `at_most`: the plan's value, lowered to the override's if it is higher (a ceiling).
    AtMost,
}

impl LimitOp {
    /// Every operator, in the order of their numbers on the C ABI.
    pub const ALL: &'static [LimitOp] = &[LimitOp::Set, LimitOp::Add, LimitOp::AtLeast, LimitOp::AtMost];

    /// The operator as an override record writes it: `=`, `+=`, `at_least`, `at_most`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LimitOp::Set => "=",
            LimitOp::Add => "+=",
            LimitOp::AtLeast => "at_least",
            LimitOp::AtMost => "at_most",
        }
    }

    /// The operator written `text`, if there is one.
    pub fn from_name(text: &str) -> Option<LimitOp> {
        LimitOp::ALL.iter().copied().find(|op| op.as_str() == text)
    }

    /// The limit once `value` is applied to the plan's `plan` (both `u64::MAX` for unlimited),
    /// saturating below it as every limit sum does.
    pub(crate) const fn apply(self, plan: u64, value: u64) -> u64 {
        match self {
            LimitOp::Set => value,
            LimitOp::Add => crate::tables::add(plan, value),
            LimitOp::AtLeast => {
                if plan > value {
                    plan
                } else {
                    value
                }
            }
            LimitOp::AtMost => {
                if plan < value {
                    plan
                } else {
                    value
                }
            }
        }
    }
}

/// What one record changes: 16 bytes, so that a million records fit in a few tens of
/// megabytes. Indices are the engine's; a setting's value is kept apart ([`Set::values`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// The feature at this index is granted (`true`) or revoked (`false`).
    Feature(u32, bool),
    /// The limit at this index: the operator, the value (`u64::MAX` for unlimited), and
    /// whether the value is per seat.
    Limit(u32, LimitOp, u64, bool),
    /// The setting at this index takes the value at this index of [`Set::values`].
    Setting(u32, u32),
}

/// One checked record of a subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub change: Change,
    /// The first instant it applies, `i64::MIN` for "always has".
    pub from: i64,
    /// The first instant it no longer applies, `i64::MAX` for "never ends" (so `i64::MAX`
    /// itself is covered, as for add-ons).
    pub until: i64,
}

impl Record {
    /// Whether the record applies at `now`: half-open `[from, until)`, as add-on validity.
    #[inline]
    pub(crate) const fn applies_at(&self, now: i64) -> bool {
        self.from <= now && (now < self.until || self.until == i64::MAX)
    }
}

/// What is kept about a record for people, beside it: its line, and its reason and author as
/// ranges of [`Set::text`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Note {
    pub line: u32,
    pub reason: (u32, u32),
    pub author: (u32, u32),
}

/// A record as the set keeps it: the record, its note, and its subject's number (by which the
/// checker sorted it). 56 bytes; the checker builds these in place, with no second copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stored {
    pub record: Record,
    pub note: Note,
    pub subject: u32,
}

/// One subject's records, as a request carries them ([`crate::Request::with_overrides`]):
/// the set and where the subject's records lie in it, sorted by what they change and then by
/// `from`. Copied, not allocated: a lookup by key gives one.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub(crate) set: &'a Set,
    start: u32,
    len: u32,
}

/// Two subjects are equal when they are the same records of the same set, so that two
/// requests are equal when they carry the same overrides.
impl PartialEq for Subject<'_> {
    fn eq(&self, other: &Subject<'_>) -> bool {
        std::ptr::eq(self.set, other.set) && (self.start, self.len) == (other.start, other.len)
    }
}

impl Eq for Subject<'_> {}

impl<'a> Subject<'a> {
    /// How many records the subject has.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the subject has no record (never, for a subject a set holds).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The subject's records.
    #[inline]
    pub(crate) fn records(&self) -> &'a [Stored] {
        let start = self.start as usize;
        self.set.records.get(start..start + self.len as usize).unwrap_or_default()
    }

    /// The record for feature `f` that applies at `now`: at most one does, as the checker
    /// refuses overlapping records.
    #[inline]
    pub(crate) fn feature(&self, f: usize, now: i64) -> Option<(usize, bool)> {
        self.records().iter().map(|stored| &stored.record).enumerate().find_map(|(at, r)| match r.change {
            Change::Feature(x, grant) if x as usize == f && r.applies_at(now) => Some((at, grant)),
            _ => None,
        })
    }

    /// The record for limit `l` that applies at `now`.
    #[inline]
    pub(crate) fn limit(&self, l: usize, now: i64) -> Option<(usize, LimitOp, u64, bool)> {
        self.records().iter().map(|stored| &stored.record).enumerate().find_map(|(at, r)| match r.change {
            Change::Limit(x, op, value, per_seat) if x as usize == l && r.applies_at(now) => {
                Some((at, op, value, per_seat))
            }
            _ => None,
        })
    }

    /// The record for setting `s` that applies at `now`, with its value.
    #[inline]
    pub(crate) fn setting(&self, s: usize, now: i64) -> Option<(usize, &'a SettingValue)> {
        self.records().iter().map(|stored| &stored.record).enumerate().find_map(|(at, r)| match r.change {
            Change::Setting(x, value) if x as usize == s && r.applies_at(now) => {
                self.set.values.get(value as usize).map(|v| (at, v))
            }
            _ => None,
        })
    }
}

/// Subject keys to where their records lie.
pub(crate) type SubjectTable = HashMap<Box<str>, (u32, u32), Keyed>;

/// The subject table's hash: eight bytes at a time, mixed by multiplication, seeded at random
/// for each set. A key is hashed once per request that takes overrides, so the hash is a few
/// instructions a word where the standard SipHash costs about two hundred a key; the random
/// seed (from the standard library's own per-process source) keeps keys chosen to collide from
/// being prepared in advance.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Keyed {
    seed: u64,
}

impl Keyed {
    /// A hash with a fresh random seed.
    pub(crate) fn random() -> Keyed {
        Keyed { seed: std::collections::hash_map::RandomState::new().hash_one(0x6f76_6572_7269_6465_u64) | 1 }
    }
}

impl BuildHasher for Keyed {
    type Hasher = KeyedHasher;
    fn build_hasher(&self) -> KeyedHasher {
        KeyedHasher { state: self.seed }
    }
}

/// The running state of [`Keyed`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyedHasher {
    state: u64,
}

impl KeyedHasher {
    #[inline]
    #[expect(clippy::cast_possible_truncation, reason = "the two halves of a 128-bit product, each 64 bits")]
    fn mix(&mut self, word: u64) {
        // A multiply-fold step: every input bit reaches the high half of the product.
        let product = u128::from(self.state ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.state = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl Hasher for KeyedHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        let mut word = [0u8; 8];
        if let Some(head) = word.get_mut(..rest.len()) {
            head.copy_from_slice(rest);
        }
        // The length goes in with the last word, so keys that differ only by trailing zero
        // bytes differ.
        self.mix(u64::from_le_bytes(word) ^ ((bytes.len() as u64) << 56));
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.mix(u64::from(byte));
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The murmur3 finaliser, so that the low bits (the table's index) and the high bits
        // (its tags) both depend on every bit of the state.
        let mut h = self.state;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// The checked set behind [`Overrides`].
#[derive(Debug)]
pub(crate) struct Set {
    pub name: String,
    pub policy: PolicyHash,
    /// Each subject's records: where they start in `records`, and how many there are.
    pub subjects: SubjectTable,
    /// Every record with its note, each subject's together.
    pub records: Vec<Stored>,
    /// The settings' values the records give.
    pub values: Vec<SettingValue>,
    /// The reasons and authors, one after another.
    pub text: String,
}

/// A checked set of per-customer overrides, for the engine it was checked against.
///
/// Built with [`Overrides::builder`] or read from JSON Lines ([`Overrides::from_jsonl`],
/// feature `json`); `docs/language.md` ("Overrides") describes the records. A request takes a
/// subject's overrides with [`crate::Request::with_overrides`], which looks its key up once:
/// every query on the request then applies them, after the tier, seats and add-ons.
///
/// Cloning is cheap (the set is shared behind an `Arc`). A set answers only for an engine of
/// the policy it was checked against; a request that carries it to another engine is denied
/// with `overrides_not_for_engine`.
///
/// ```
/// use entitle::{Engine, Overrides, Reason, Request};
/// let engine = Engine::from_source("p", "policy \"p\"\nfeature sso\ntier free { }\n")?;
/// let mut builder = Overrides::builder(&engine);
/// builder.grant("acme", "sso").reason("prospect trial");
/// let overrides = builder.build()?;
/// let sso = engine.feature("sso").unwrap();
/// let acme = Request::new(engine.tier("free").unwrap(), 0).with_key("acme").with_overrides(&overrides);
/// assert_eq!(engine.decide(&acme, sso).reason, Reason::GrantedByOverride);
/// let other = Request::new(engine.tier("free").unwrap(), 0).with_key("globex").with_overrides(&overrides);
/// assert_eq!(engine.decide(&other, sso).reason, Reason::NotGranted);
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
#[derive(Clone, Debug)]
pub struct Overrides {
    pub(crate) set: Arc<Set>,
}

impl Overrides {
    /// The records of subject `key`, if it has any: one lookup in the set's hash table.
    #[inline]
    pub fn subject(&self, key: &str) -> Option<Subject<'_>> {
        let &(start, len) = self.set.subjects.get(key)?;
        Some(Subject { set: &self.set, start, len })
    }

    /// How many records the set holds.
    pub fn len(&self) -> usize {
        self.set.records.len()
    }

    /// Whether the set holds no record.
    pub fn is_empty(&self) -> bool {
        self.set.records.is_empty()
    }

    /// How many subjects have records.
    pub fn subject_count(&self) -> usize {
        self.set.subjects.len()
    }

    /// The name the set was read under (its path, usually), as diagnostics cite it.
    pub fn name(&self) -> &str {
        &self.set.name
    }

    /// The hash of the policy the set was checked against: it answers only for engines with
    /// this [`crate::Engine::policy_hash`].
    pub fn policy_hash(&self) -> PolicyHash {
        self.set.policy
    }

    /// The subject keys that have records, in no particular order.
    pub fn subjects(&self) -> impl Iterator<Item = &str> + '_ {
        self.set.subjects.keys().map(|key| &**key)
    }
}

/// A note's text range.
pub(crate) fn text_at(set: &Set, (start, len): (u32, u32)) -> &str {
    let start = start as usize;
    set.text.get(start..start + len as usize).unwrap_or("")
}

/// One record of a set, as people read it: what it changes, when, why and by whom.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OverrideInfo<'a> {
    /// The subject it is for.
    pub subject: &'a str,
    /// What it changes.
    pub change: OverrideChange<'a>,
    /// The first instant it applies, if it has a start.
    pub from: Option<i64>,
    /// The first instant it no longer applies, if it ends.
    pub until: Option<i64>,
    /// Why it was granted (empty if not given).
    pub reason: &'a str,
    /// Who granted it (empty if not given).
    pub author: &'a str,
    /// Its line in the file it was read from (its position, from 1, for a set built in code).
    pub line: u32,
}

/// What an override record changes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OverrideChange<'a> {
    /// The feature is granted, whatever the plan says.
    Grant(crate::FeatureId),
    /// The feature is revoked, whatever the plan says.
    Revoke(crate::FeatureId),
    /// The limit is changed by `op` with `value` (multiplied by the seats if `per_seat`).
    Limit {
        /// The limit.
        limit: crate::LimitId,
        /// How the value combines with the plan's.
        op: LimitOp,
        /// The value, in the limit's base units.
        value: crate::Amount,
        /// Whether the value is per seat.
        per_seat: bool,
    },
    /// The setting takes `value`.
    Setting {
        /// The setting.
        setting: crate::SettingId,
        /// Its value.
        value: &'a SettingValue,
    },
}

impl Overrides {
    /// Every record of subject `key`, in the order the set keeps them (by what they change,
    /// then by start); empty when the subject has none.
    ///
    /// ```
    /// use entitle::{Engine, LimitOp, OverrideChange, Overrides};
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit calls : count per day\ntier free { limit calls = 10 }\n")?;
    /// let mut builder = Overrides::builder(&engine);
    /// builder.limit("acme", "calls", LimitOp::Set, "2_000").until(1_800_000_000).reason("deal").author("jo");
    /// let overrides = builder.build()?;
    /// let records = overrides.records("acme");
    /// assert_eq!((records[0].reason, records[0].author, records[0].until), ("deal", "jo", Some(1_800_000_000)));
    /// assert!(matches!(records[0].change, OverrideChange::Limit { op: LimitOp::Set, .. }));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn records(&self, key: &str) -> Vec<OverrideInfo<'_>> {
        let Some((key, _)) = self.set.subjects.get_key_value(key) else { return Vec::new() };
        let Some(subject) = self.subject(key) else { return Vec::new() };
        (0..subject.len()).map(|at| info(subject, key, at)).collect()
    }
}

/// The record at `at` among `subject`'s as [`OverrideInfo`], its ids tagged for the policy the
/// set was checked against.
pub(crate) fn info<'a>(subject: Subject<'a>, key: &'a str, at: usize) -> OverrideInfo<'a> {
    fn id<I: crate::ids::Id>(tag: crate::ids::Tag, index: u32) -> I {
        I::from_number(tag.tagged(index))
    }
    let set = subject.set;
    let tag = crate::ids::Tag::of(&set.policy);
    let none = Note { line: 0, reason: (0, 0), author: (0, 0) };
    let stored = subject.records().get(at).copied().unwrap_or(Stored {
        record: Record { change: Change::Feature(0, false), from: 0, until: 0 },
        note: none,
        subject: 0,
    });
    let (record, note) = (stored.record, stored.note);
    const NO_TEXT: &SettingValue = &SettingValue::Number(0);
    let change = match record.change {
        Change::Feature(f, true) => OverrideChange::Grant(id(tag, f)),
        Change::Feature(f, false) => OverrideChange::Revoke(id(tag, f)),
        Change::Limit(l, op, value, per_seat) => {
            OverrideChange::Limit { limit: id(tag, l), op, value: crate::tables::amount(value), per_seat }
        }
        Change::Setting(s, value) => {
            OverrideChange::Setting { setting: id(tag, s), value: set.values.get(value as usize).unwrap_or(NO_TEXT) }
        }
    };
    OverrideInfo {
        subject: key,
        change,
        from: (record.from != i64::MIN).then_some(record.from),
        until: (record.until != i64::MAX).then_some(record.until),
        reason: text_at(set, note.reason),
        author: text_at(set, note.author),
        line: note.line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys that differ a little (a counter, a trailing byte, a length) hash apart, and their
    /// low bits (where the table indexes) spread evenly.
    #[test]
    fn the_subject_hash_spreads_similar_keys() {
        let keyed = Keyed::random();
        let keys: Vec<String> = (0..65_536).map(|i| format!("customer-{i}")).collect();
        let mut hashes: Vec<u64> = keys.iter().map(|k| keyed.hash_one(k.as_str())).collect();
        let mut buckets = vec![0u32; 256];
        for h in &hashes {
            buckets[(h & 255) as usize] += 1;
        }
        // 256 expected a bucket; a fair hash stays well inside half to twice that.
        assert!(buckets.iter().all(|&n| (128..=512).contains(&n)), "{buckets:?}");
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), keys.len());
        assert_ne!(keyed.hash_one("a"), keyed.hash_one("a\0"));
        assert_ne!(keyed.hash_one(""), keyed.hash_one("\0"));
        // Two sets seed apart.
        assert_ne!(Keyed::random().hash_one("acme"), Keyed::random().hash_one("acme"));
    }
}
