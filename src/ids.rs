//! The ids of a compiled policy's tiers, features, limits, add-ons and settings.
//!
//! The engine resolves a name to its id once (`Engine::tier` and the like); the hot path then
//! indexes tables with the id alone.
//!
//! An id's number is its index (the low [`INDEX_BITS`] bits) and the tag of the engine that
//! handed it out (the bits above). Every engine reads an id through its [`Tag`], which turns
//! its own ids into their index and any other number into one past every table: so an id
//! from another engine is an unknown id, not another engine's item (unless that engine was
//! built from the same policy text, whose ids are the same, or, with a chance of 1 in 4,095,
//! shares the tag).

use crate::digest::PolicyHash;
use crate::limits::Limits;

/// The bits of an id's number that hold its index.
pub(crate) const INDEX_BITS: u32 = 20;

// Every index of a policy that checks fits below the tag.
const _: () = assert!(Limits::MAX_DECLARATIONS < 1 << INDEX_BITS);

/// An index as a dense `u32` id number, untagged. Declaration counts are capped by
/// [`Limits::MAX_DECLARATIONS`], far below `u32::MAX`, so this never saturates in practice.
pub(crate) fn dense(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// An engine's tag: twelve bits derived from its policy's hash, never zero, kept shifted into
/// place above the index bits. Engines of the same policy text share a tag, so ids stay valid
/// across a reload of the same policy and between an engine and its bundle; engines of two
/// different policies share one with a chance of 1 in 4,095, and otherwise each refuses the
/// other's ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tag(u32);

impl Tag {
    /// The tag of the engine of a policy with this hash.
    pub(crate) fn of(hash: &PolicyHash) -> Tag {
        let [a, b, ..] = hash.0;
        let bits = (u32::from(a) << 4 | u32::from(b) >> 4) & 0xfff;
        Tag(bits.max(1) << INDEX_BITS)
    }

    /// The id number this engine hands out for the item at `index`.
    #[inline]
    pub(crate) fn id(self, index: usize) -> u32 {
        self.tagged(dense(index))
    }

    /// [`Tag::id`] for an index already a `u32` (as the name tables keep them); every index
    /// is below 2²⁰, so the tag's bits are clear in it.
    #[inline]
    pub(crate) const fn tagged(self, index: u32) -> u32 {
        index | self.0
    }

    /// The index an id number names in this engine: the number without this engine's tag.
    /// Any other number (another engine's id, an untagged or made-up one) keeps bits above
    /// the index set, so it is at least 2²⁰, past every table, and the answer is an
    /// `unknown_*` deny. One instruction, no branch.
    #[inline]
    pub(crate) const fn index(self, number: u32) -> usize {
        (number ^ self.0) as usize
    }
}

/// What every kind of id has: a number.
pub(crate) trait Id: Copy {
    /// The id's number, tag included.
    fn number(self) -> u32;

    /// The id with this number.
    fn from_number(number: u32) -> Self;
}

macro_rules! ids {
    ($($(#[doc = $doc:literal])* $name:ident;)*) => {$(
        $(#[doc = $doc])*
        ///
        /// Ids name items of one engine's tables, in declaration order, and carry a tag of
        /// the engine that handed them out. An id from another engine, or one made up with
        /// `from_u32`, is never undefined behaviour or a panic: the answer is a deny with an
        /// `unknown_*` reason.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) u32);

        impl $name {
            /// The id with this number, as [`Self::as_u32`] gave it (for ids kept outside
            /// Rust, such as in a C caller).
            pub const fn from_u32(number: u32) -> $name {
                $name(number)
            }

            /// The id's number: its engine's tag and its position in declaration order.
            /// Treat it as opaque: it round-trips through [`Self::from_u32`].
            pub const fn as_u32(self) -> u32 {
                self.0
            }
        }

        impl Id for $name {
            #[inline]
            fn number(self) -> u32 {
                self.0
            }

            fn from_number(number: u32) -> $name {
                $name(number)
            }
        }

        impl From<$name> for u32 {
            fn from(id: $name) -> u32 {
                id.0
            }
        }

        impl From<u32> for $name {
            fn from(number: u32) -> $name {
                $name(number)
            }
        }
    )*};
}

ids! {
    /// A tier, resolved once with [`crate::Engine::tier`].
    TierId;
    /// A feature, resolved once with [`crate::Engine::feature`].
    FeatureId;
    /// A limit, resolved once with [`crate::Engine::limit`].
    LimitId;
    /// An add-on, resolved once with [`crate::Engine::addon`].
    AddonId;
    /// A setting, resolved once with [`crate::Engine::setting`].
    SettingId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_reads_its_own_ids_and_refuses_every_other_number() {
        let ours = Tag::of(&PolicyHash::of(b"ours"));
        let theirs = Tag::of(&PolicyHash::of(b"theirs"));
        assert_ne!(ours, theirs);
        for index in [0, 1, 63, 64, 1_000, Limits::MAX_DECLARATIONS] {
            assert_eq!(ours.index(ours.id(index)), index);
            assert!(ours.index(dense(index)) > Limits::MAX_DECLARATIONS, "untagged {index}");
            assert!(ours.index(theirs.id(index)) > Limits::MAX_DECLARATIONS, "another engine's id {index}");
        }
        // Numbers with any tag but ours, including every bit set and the ids that a 32-bit
        // multiply could wrap, are past every table.
        for number in [u32::MAX, 1 << 31, (1 << 31) | 5, 1 << INDEX_BITS, 0] {
            if number & !((1 << INDEX_BITS) - 1) != ours.0 {
                assert!(ours.index(number) > Limits::MAX_DECLARATIONS, "{number:#x}");
            }
        }
    }

    #[test]
    fn tags_are_never_zero() {
        let zero = PolicyHash([0; 32]);
        assert_ne!(Tag::of(&zero).0, 0);
    }
}
