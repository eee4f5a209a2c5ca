//! The dense ids of a compiled policy's tiers, features, limits, add-ons and settings.
//!
//! The engine resolves a name to its id once (`Engine::tier` and the like); the hot path then
//! indexes tables with the id alone. Ids sit below every stage that uses them, so `compile`
//! can number what it lays out without depending on the engine that will hold it.

/// An index as a dense `u32` id number. Declaration counts are capped by
/// [`crate::Limits::declarations`], far below `u32::MAX`, so this never saturates in practice.
pub(crate) fn dense(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

macro_rules! ids {
    ($($(#[doc = $doc:literal])* $name:ident;)*) => {$(
        $(#[doc = $doc])*
        ///
        /// Ids are dense indices into one engine's tables, numbered in declaration order from 0.
        /// An id from another engine, or made up with `from_u32`, is never undefined behaviour
        /// or a panic: if it is out of range, the answer is a deny with an `unknown_*` reason.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) u32);

        impl $name {
            /// The id with this number (for ids kept outside Rust, such as in a C caller).
            pub const fn from_u32(number: u32) -> $name {
                $name(number)
            }

            /// The id's number: its position in declaration order.
            pub const fn as_u32(self) -> u32 {
                self.0
            }

            /// The id's number as an index.
            pub(crate) const fn index(self) -> usize {
                self.0 as usize
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
