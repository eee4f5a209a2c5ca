//! The meter's keys, and the hash tag that puts every key one call touches in one slot.
//!
//! Redis Cluster places a key by the CRC16 of its hash tag (the text between the key's first
//! `{` and the first `}` after it) modulo 16384, its number of slots, and runs a script only
//! if all of its keys are in one slot. Each subject's keys carry the same tag, so a call's
//! counter, the subject's latest window and the session are always together.
//!
//! The tag is not the subject itself: a subject may hold `{` or `}`, which would end or move
//! the tag, and escaping them would make keys longer and a second spelling to get right. Nor
//! is it a digest of the subject: a tag per subject would give every subject a session record
//! per connection (see `CONSUME`), and those would grow with the number of subjects. The tag
//! names the subject's *slot*, the one Redis gives the subject's own bytes (CRC16 of the
//! subject, modulo 16384), by the smallest decimal number that Redis places in that same
//! slot. So a tag is at most six digits, never holds a brace, spreads subjects over the
//! cluster exactly as Redis spreads keys, and there are at most 16384 tags, so at most 16384
//! session records per connection, however many subjects there are.

use std::sync::OnceLock;

/// Redis Cluster's number of hash slots.
pub(super) const SLOTS: u16 = 16_384;

/// The CRC16 Redis Cluster places keys by (CCITT/XMODEM: polynomial 0x1021, initial 0),
/// a byte at a time from a table built at compile time.
pub(super) fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &byte| {
        let [high, _] = crc.to_be_bytes();
        (crc << 8) ^ CRC16_TABLE.get(usize::from(high ^ byte)).copied().unwrap_or(0)
    })
}

#[allow(clippy::indexing_slicing, reason = "a constant's loop: an index past 255 fails the build, not a run")]
const CRC16_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut byte: u16 = 0;
    while byte < 256 {
        let mut crc = byte << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
            bit += 1;
        }
        table[byte as usize] = crc;
        byte += 1;
    }
    table
};

/// The slot Redis Cluster gives a key whose hash tag is `bytes`.
pub(super) fn slot(bytes: &[u8]) -> u16 {
    crc16(bytes) % SLOTS
}

/// For each slot, the smallest number whose decimal digits Redis places there. Found once per
/// process by counting up until every slot has one (about 110 thousand CRCs of at most six
/// bytes, a millisecond or two); the largest is 109757.
fn slot_tags() -> &'static [u32] {
    static TAGS: OnceLock<Vec<u32>> = OnceLock::new();
    TAGS.get_or_init(|| {
        let mut tags = vec![u32::MAX; usize::from(SLOTS)];
        let mut missing = tags.len();
        let mut n: u32 = 0;
        while missing > 0 {
            if let Some(tag) = tags.get_mut(usize::from(slot(n.to_string().as_bytes()))) {
                if *tag == u32::MAX {
                    *tag = n;
                    missing -= 1;
                }
            }
            n += 1;
        }
        tags
    })
}

/// The hash tag of `subject`'s keys: the number that names its slot (see the module's docs).
pub(super) fn tag(subject: &str) -> u32 {
    slot_tags().get(usize::from(slot(subject.as_bytes()))).copied().unwrap_or(0)
}

/// The keys of one call.
pub(super) struct Keys {
    /// `<prefix>{<tag>}`: how every key of the subject begins, its session's included.
    pub(super) stem: String,
    /// The counter: `<stem><subject length>:<subject>:<limit>:<window start, or ->`.
    pub(super) counter: String,
    /// The subject's latest window of the limit: `<stem><length>:<subject>:<limit>:latest`
    /// (`latest` is no window start, so it never meets a counter).
    pub(super) latest: String,
    /// The counter's holds (`<counter>:holds`), the live ones by expiry (`<counter>:live`) and
    /// the settled ones by when they are forgotten (`<counter>:done`): see `RESERVE`.
    pub(super) holds: String,
    pub(super) live: String,
    pub(super) done: String,
    /// The subject's grants on the limit, whatever the window (`<stem><length>:<subject>:<limit>:grants`;
    /// `grants` is no window start either), and what they paid in this counter's window
    /// (`<counter>:paid`).
    pub(super) grants: String,
    pub(super) paid: String,
    /// `<stem><length>:<subject>:<limit>:`, which every key of the subject's limit starts with.
    limit_stem: String,
}

impl Keys {
    pub(super) fn new(prefix: &str, subject: &str, limit: &str, window_start: Option<i64>) -> Keys {
        let window = window_start.map_or_else(|| "-".to_string(), |s| s.to_string());
        Keys::of(prefix, subject, limit, &window, "latest")
    }

    /// The keys of `subject`'s usage of a rolling `limit` of `length` seconds, whose counter is
    /// bucket `index` (`<stem><length>:<subject>:<limit>:r<window length>:<index>`; `r` starts
    /// no window start, so a bucket never meets a counter of a window that resets) and whose
    /// latest window is that length's own.
    pub(super) fn rolling(prefix: &str, subject: &str, limit: &str, length: i64, index: i64) -> Keys {
        Keys::of(prefix, subject, limit, &format!("r{length}:{index}"), &format!("r{length}:latest"))
    }

    /// The keys of a counter named `window` after the limit's stem, every key of the counter
    /// named after it, and the limit's latest window named `latest`.
    fn of(prefix: &str, subject: &str, limit: &str, window: &str, latest: &str) -> Keys {
        let stem = format!("{prefix}{{{}}}", tag(subject));
        let limit_stem = format!("{stem}{}:{subject}:{limit}:", subject.len());
        let counter = format!("{limit_stem}{window}");
        Keys {
            holds: format!("{counter}:holds"),
            live: format!("{counter}:live"),
            done: format!("{counter}:done"),
            paid: format!("{counter}:paid"),
            grants: format!("{limit_stem}grants"),
            counter,
            latest: format!("{limit_stem}{latest}"),
            stem,
            limit_stem,
        }
    }

    /// The key of bucket `index` of the subject's rolling window of `length` seconds.
    pub(super) fn bucket(&self, length: i64, index: i64) -> String {
        format!("{}r{length}:{index}", self.limit_stem)
    }

    /// The session of connection slot `session` (`session:<meter>:<slot>`) for this subject's
    /// hash slot.
    pub(super) fn session(&self, session: &str) -> String {
        format!("{}{session}", self.stem)
    }
}

#[cfg(test)]
mod tests {
    use super::{crc16, slot, tag, Keys, SLOTS};

    #[test]
    fn the_crc_is_redis_clusters() {
        // The check value of CRC16/XMODEM, which the Redis Cluster specification gives too.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        // Hash slots `CLUSTER KEYSLOT` reports for these keys.
        assert_eq!(slot(b"foo"), 12_182);
        assert_eq!(slot(b"bar"), 5_061);
    }

    #[test]
    fn a_tag_lands_in_its_subjects_slot_and_holds_no_brace() {
        for subject in ["alice", "a{b", "}", "{x}", "", "ünïcödé", &"k".repeat(256)] {
            let tag = tag(subject).to_string();
            assert_eq!(slot(tag.as_bytes()), slot(subject.as_bytes()), "{subject:?}");
            assert!(tag.len() <= 6 && tag.bytes().all(|b| b.is_ascii_digit()), "{tag}");
        }
        assert!((0..SLOTS).all(|s| super::slot_tags().get(usize::from(s)).is_some_and(|&t| t <= 109_757)));
        // The example of docs/runtime.md.
        assert_eq!((slot(b"alice"), tag("alice")), (749, 10_419));
    }

    #[test]
    fn every_key_of_a_call_shares_the_tag() {
        let keys = Keys::new("entitle:", "a}b{c", "calls", Some(1_795_219_200));
        let braced = format!("{{{}}}", tag("a}b{c"));
        assert_eq!(keys.counter, format!("entitle:{braced}5:a}}b{{c:calls:1795219200"));
        assert_eq!(keys.latest, format!("entitle:{braced}5:a}}b{{c:calls:latest"));
        assert_eq!(keys.holds, format!("entitle:{braced}5:a}}b{{c:calls:1795219200:holds"));
        assert_eq!(keys.session("session:m:0"), format!("entitle:{braced}session:m:0"));
        assert_eq!(Keys::new("entitle:", "k", "calls", None).counter, format!("entitle:{{{}}}1:k:calls:-", tag("k")));
        let rolling = Keys::rolling("entitle:", "a}b{c", "calls", 604_800, 189_975);
        assert_eq!(rolling.counter, format!("entitle:{braced}5:a}}b{{c:calls:r604800:189975"));
        assert_eq!(rolling.bucket(604_800, 189_976), format!("entitle:{braced}5:a}}b{{c:calls:r604800:189976"));
        assert_eq!(rolling.latest, format!("entitle:{braced}5:a}}b{{c:calls:r604800:latest"));
    }
}
