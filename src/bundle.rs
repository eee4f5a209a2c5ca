//! Compiled bundles: a checked, compiled policy in one file that loads without parsing.
//!
//! `entitle build` (or [`build`]) writes one; [`Engine::from_bundle`] loads it. A bundle is
//! self-describing: it names its format version, the engine release that built it, the
//! policy's name and version, the SHA-256 of the source, and it carries both the compiled
//! tables (loaded as they are) and the source (so that an engine whose format is newer than
//! the bundle's can rebuild it instead of refusing it).
//!
//! ```text
//! offset  size  field
//! 0       12    magic: 89 "ENTITLE" 0D 0A 1A 0A
//! 12      4     format version, u32 little-endian
//! 16      8     body length n, u64 little-endian
//! 24      n     body: the header section (the same in every format version), then the
//!               compiled section (this format version's tables)
//! 24 + n  8     checksum of bytes 0 .. 24 + n (see `checksum`)
//! ```
//!
//! Every field is validated on load: the magic, the version, the length, the checksum, then
//! every count, index and length of the compiled section against the others, so a corrupt,
//! truncated, altered or foreign file is a [`BundleError`] and never a panic or a wrong table.
//! The checksum detects damage, not intent: a bundle is as trustworthy as the place it came
//! from, like the policy file itself.
//!
//! ```
//! use entitle::{bundle, Engine, Source};
//!
//! let source = Source::new("p.policy", "policy \"p\" version \"7\"\nfeature sso\ntier pro { grant sso }\n");
//! let bytes = bundle::build(&source)?;
//! let engine = Engine::from_bundle(&bytes)?;
//! assert_eq!(engine.policy_version(), Some("7"));
//! assert_eq!(engine.policy_hash(), entitle::PolicyHash::of(source.text().as_bytes()));
//!
//! let info = bundle::Info::read(&bytes)?;
//! assert_eq!((info.policy_name.as_str(), info.source_name.as_str()), ("p", "p.policy"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use crate::diagnostic::Diagnostics;
use crate::digest::PolicyHash;
use crate::engine::Engine;
use crate::limits::Limits;
use crate::model::{
    AddonDef, AddonLimit, AddonOp, Amount, DrawRate, FeatureDef, GrantDef, LimitDef, LimitKind, Model, Percentage,
    Period, Preference, QuantityType, SetDef, SettingDef, SettingType, SettingValue, TierDef, TierLimit, TrialLength,
    Window,
};
pub use crate::parts::InvalidParts;
use crate::parts::Parts;
use crate::source::{Source, Span};
use crate::tables::{AddonMeta, DeltaRecord, DrawRecord, LimitRecord, RawTables};

/// The first bytes of every bundle. The high first byte and the line endings after the name
/// catch a file that went through a text-mode transfer, as PNG's signature does.
#[doc(hidden)]
pub const MAGIC: [u8; 12] = *b"\x89ENTITLE\r\n\x1a\n";

/// The format version this engine writes and loads. Bundles of any other format are refused,
/// and their header says which policy to rebuild.
pub const FORMAT_VERSION: u32 = 5;

/// The engine release that builds bundles, recorded in each for people to read.
const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The fixed part before the body: magic, version, body length.
const PREFIX_BYTES: usize = 12 + 4 + 8;
const CHECKSUM_BYTES: usize = 8;

/// Why a bundle could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The bytes do not start with [`MAGIC`].
    #[error("not an entitle bundle (the first bytes are not the bundle signature)")]
    NotABundle,
    /// The file ends before the length its prefix gives.
    #[error("the bundle is truncated: {found} bytes, {expected} expected")]
    Truncated {
        /// The length the prefix promises.
        expected: u64,
        /// The length found.
        found: u64,
    },
    /// The checksum does not match the content.
    #[error("the bundle is corrupt: its checksum does not match its content")]
    Corrupt,
    /// The bundle is larger than [`Limits::bundle_bytes`].
    #[error("the bundle is {found} bytes, past the limit of {max} bytes for bundles")]
    TooLarge {
        /// The bundle's size.
        found: usize,
        /// The limit.
        max: usize,
    },
    /// The bundle's format is newer than this engine reads.
    #[error("the bundle has format version {found}, newer than this engine's {supported}; rebuild it with this release's `entitle build` or upgrade the engine")]
    Incompatible {
        /// The bundle's format version.
        found: u32,
        /// The newest this engine reads.
        supported: u32,
    },
    /// The bundle's format is older than this engine reads. Its tables were laid out for an
    /// engine that answers differently (format 1 stored limits as enums, format 2 as records
    /// with seats and quantities), so it is refused rather than reinterpreted.
    #[error("the bundle has format version {found}, older than this engine's {supported}; rebuild it from its policy with this release's `entitle build`")]
    Outdated {
        /// The bundle's format version.
        found: u32,
        /// The only format this engine reads.
        supported: u32,
    },
    /// A field is out of range or disagrees with another, although the checksum matches.
    #[error("the bundle is malformed at byte {offset}: {what}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
        /// The offset in the file where decoding noticed it.
        offset: usize,
    },
    /// The compiled section decodes but cannot become an engine: it contradicts itself, or it
    /// is past the caller's [`Limits`].
    #[error("the bundle's compiled policy is refused: {0}")]
    Invalid(#[from] InvalidParts),
    /// The bundle is of an older format and its source, rebuilt, no longer checks.
    #[error("the bundle's source does not check with this engine: {0}")]
    Policy(#[from] Diagnostics),
}

/// What a bundle says about itself, readable from every format version.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Info {
    /// The bundle's format version.
    pub format_version: u32,
    /// The engine release that built it.
    pub engine_version: String,
    /// The policy's name, from its `policy` header.
    pub policy_name: String,
    /// The policy's version, if its header gives one.
    pub policy_version: Option<String>,
    /// The SHA-256 of the source text.
    pub policy_hash: PolicyHash,
    /// The name the source was built under (usually its path).
    pub source_name: String,
    /// The policy's source text.
    pub source_text: String,
}

impl Info {
    /// Reads a bundle's header after checking its signature, length and checksum; the
    /// compiled section is not decoded. Works for bundles of every format version.
    pub fn read(bytes: &[u8]) -> Result<Info, BundleError> {
        let (format_version, mut body) = open(bytes)?;
        let info = read_header(format_version, &mut body)?;
        verify_source(&info, &body)?;
        Ok(info)
    }

    /// The embedded source, to check or show it.
    pub fn source(&self) -> Source {
        Source::new(self.source_name.clone(), self.source_text.clone())
    }
}

/// Whether `bytes` start like a bundle (to tell a bundle from a policy file).
#[doc(hidden)]
pub fn is_bundle(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// Checks and compiles `source` under the default [`Limits`] and writes the bundle.
pub fn build(source: &Source) -> Result<Vec<u8>, Diagnostics> {
    build_with(source, &Limits::default())
}

/// [`build`] under the given limits, which the bundle records and its engine keeps to.
pub fn build_with(source: &Source, limits: &Limits) -> Result<Vec<u8>, Diagnostics> {
    let checked = crate::check::check_with(source, limits)?;
    let engine = crate::compile(&checked);
    Ok(write(&engine, source))
}

/// Encodes an engine compiled from `source`.
fn write(engine: &Engine, source: &Source) -> Vec<u8> {
    let mut body = Encoder::default();
    // The header section: fixed across format versions.
    body.text(ENGINE_VERSION);
    body.text(engine.policy_name());
    engine.policy_version().map(str::to_owned).encode(&mut body);
    engine.policy_hash().0.encode(&mut body);
    body.text(source.name());
    body.text(source.text());
    // The compiled section: the limits it was built under (for people to read; a loaded
    // engine keeps the loader's), the model, the tables, and the seed of each name table
    // (the tables themselves are rebuilt from the names in one pass).
    engine.input_limits().encode(&mut body);
    engine.model().encode(&mut body);
    engine.tables().to_raw().encode(&mut body);
    for seed in engine.name_seeds() {
        seed.encode(&mut body);
    }

    let mut out = Vec::with_capacity(PREFIX_BYTES + body.bytes.len() + CHECKSUM_BYTES);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(body.bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(&body.bytes);
    out.extend_from_slice(&checksum(&out).to_le_bytes());
    out
}

/// Reads the compiled section [`write`] wrote, and passes it through the engine's one door
/// under the caller's `limits`.
fn read_compiled(input: &mut Decoder<'_>, hash: PolicyHash, limits: &Limits) -> Result<Engine, BundleError> {
    let _recorded = Limits::decode(input)?;
    let model = Model::decode(input)?;
    let tables = RawTables::decode(input)?;
    let mut seeds = [(0u64, false); 5];
    for seed in &mut seeds {
        *seed = Codec::decode(input)?;
    }
    let parts = Parts::validate(model, tables, seeds, hash, limits)?;
    Ok(Engine::from_parts(parts, limits.clone()))
}

/// Checks the signature, length and checksum; returns the format version and a decoder over
/// the body.
fn open(bytes: &[u8]) -> Result<(u32, Decoder<'_>), BundleError> {
    if !is_bundle(bytes) {
        return Err(BundleError::NotABundle);
    }
    let found = bytes.len() as u64;
    let mut prefix = Decoder { bytes, at: MAGIC.len() };
    let truncated = |expected: u64| BundleError::Truncated { expected, found };
    let format_version = prefix.u32().map_err(|_| truncated(PREFIX_BYTES as u64))?;
    let body_len = prefix.u64().map_err(|_| truncated(PREFIX_BYTES as u64))?;
    let expected = body_len.saturating_add((PREFIX_BYTES + CHECKSUM_BYTES) as u64);
    if found < expected {
        return Err(truncated(expected));
    }
    if found > expected {
        return Err(BundleError::Malformed { what: "bytes follow the checksum", offset: bytes.len() });
    }
    // `expected == found` here, so these fit in `usize`.
    let end = bytes.len() - CHECKSUM_BYTES;
    let (content, sum) = bytes.split_at(end);
    let sum = u64::from_le_bytes(sum.try_into().map_err(|_| truncated(expected))?);
    if checksum(content) != sum {
        return Err(BundleError::Corrupt);
    }
    Ok((format_version, Decoder { bytes: content, at: PREFIX_BYTES }))
}

fn read_header(format_version: u32, body: &mut Decoder<'_>) -> Result<Info, BundleError> {
    let info = Info {
        format_version,
        engine_version: String::decode(body)?,
        policy_name: String::decode(body)?,
        policy_version: Option::<String>::decode(body)?,
        policy_hash: PolicyHash(<[u8; 32]>::decode(body)?),
        source_name: String::decode(body)?,
        source_text: String::decode(body)?,
    };
    Ok(info)
}

/// Whether the source has the hash recorded beside it. Loading a bundle does not need this
/// (the checksum covers the source, and hashing it would cost more than decoding the tables);
/// reading the source to show or rebuild it does.
fn verify_source(info: &Info, at: &Decoder<'_>) -> Result<(), BundleError> {
    if PolicyHash::of(info.source_text.as_bytes()) != info.policy_hash {
        return Err(at.malformed("the source does not have the recorded hash"));
    }
    Ok(())
}

impl Engine {
    /// Loads an engine from a bundle written by `entitle build` or [`build`], under the
    /// default [`Limits`].
    ///
    /// A bundle of this engine's format loads its compiled tables as they are, with no
    /// parsing, after they pass the same validation as every engine's parts; one of an older
    /// or a newer format (rebuild it with `entitle build`), or any bundle that is
    /// corrupt, truncated, inconsistent or past the limits, is an error.
    pub fn from_bundle(bytes: &[u8]) -> Result<Engine, BundleError> {
        Engine::from_bundle_with(bytes, &Limits::default())
    }

    /// [`Engine::from_bundle`] under the given limits: the bundle's size, and its policy's
    /// declarations, names, inheritance depth and table size, are held to them as a policy's
    /// text would be, and the engine answers under them.
    pub fn from_bundle_with(bytes: &[u8], limits: &Limits) -> Result<Engine, BundleError> {
        load_with(bytes, limits).map(|(_, engine)| engine)
    }
}

/// Opens a bundle once (one checksum, one pass over the header) under `limits`: its header
/// and its engine.
pub(crate) fn load_with(bytes: &[u8], limits: &Limits) -> Result<(Info, Engine), BundleError> {
    if bytes.len() > limits.bundle_bytes {
        return Err(BundleError::TooLarge { found: bytes.len(), max: limits.bundle_bytes });
    }
    let (format_version, mut body) = open(bytes)?;
    if format_version > FORMAT_VERSION {
        return Err(BundleError::Incompatible { found: format_version, supported: FORMAT_VERSION });
    }
    if format_version < FORMAT_VERSION {
        return Err(BundleError::Outdated { found: format_version, supported: FORMAT_VERSION });
    }
    let info = read_header(format_version, &mut body)?;
    let engine = read_compiled(&mut body, info.policy_hash, limits)?;
    if body.at != body.bytes.len() {
        return Err(body.malformed("bytes follow the compiled tables"));
    }
    if engine.policy_name() != info.policy_name || engine.policy_version() != info.policy_version.as_deref() {
        return Err(body.malformed("the header and the compiled policy name different policies"));
    }
    Ok((info, engine))
}

/// The bundle's checksum: 64 bits of a multiply-and-fold over little-endian words, seeded
/// with the length. Fast enough that loading stays far cheaper than compiling (SHA-256 here
/// would cost more than decoding); it detects damage, which is all a checksum without a key
/// can do.
fn checksum(bytes: &[u8]) -> u64 {
    use crate::names::{fold, MULTIPLIER};
    let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or_default());
    let mut state = (bytes.len() as u64) ^ 0x2545_f491_4f6c_dd1d;
    let mut step = |pair: &[u8]| {
        let (a, b) = pair.split_at(8);
        state = fold(state ^ word(a), word(b) ^ MULTIPLIER).wrapping_add(state.rotate_left(23));
    };
    let mut pairs = bytes.chunks_exact(16);
    pairs.by_ref().for_each(&mut step);
    let mut last = [0u8; 16];
    last.iter_mut().zip(pairs.remainder()).for_each(|(slot, byte)| *slot = *byte);
    step(&last);
    fold(state, MULTIPLIER ^ state.rotate_left(32))
}

/// Rewrites a bundle's body length and checksum to fit its bytes, after a deliberate change,
/// so that the validation behind them is what a test or a fuzzer reaches. Too short to hold a
/// prefix and a checksum, it is left alone.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn reseal(bytes: &mut [u8]) {
    let Some(body) = bytes.len().checked_sub(PREFIX_BYTES + CHECKSUM_BYTES) else { return };
    let end = bytes.len() - CHECKSUM_BYTES;
    if let Some(length) = bytes.get_mut(PREFIX_BYTES - 8..PREFIX_BYTES) {
        length.copy_from_slice(&(body as u64).to_le_bytes());
    }
    let sum = checksum(bytes.get(..end).unwrap_or_default());
    if let Some(slot) = bytes.get_mut(end..) {
        slot.copy_from_slice(&sum.to_le_bytes());
    }
}

// The codec: little-endian integers, lengths as u64, strings as length + UTF-8.

/// Bytes being written.
#[derive(Default)]
pub(crate) struct Encoder {
    bytes: Vec<u8>,
}

impl Encoder {
    fn put(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// A string as its length and its UTF-8 bytes; [`String`]'s `decode` reads it back.
    fn text(&mut self, text: &str) {
        text.len().encode(self);
        self.put(text.as_bytes());
    }
}

/// Bytes being read, with the offset for error messages.
pub(crate) struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    pub(crate) fn malformed(&self, what: &'static str) -> BundleError {
        BundleError::Malformed { what, offset: self.at }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BundleError> {
        let end = self.at.checked_add(n).ok_or_else(|| self.malformed("a length overflows"))?;
        let taken = self.bytes.get(self.at..end).ok_or_else(|| self.malformed("a field runs past the end"))?;
        self.at = end;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BundleError> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| self.malformed("a field runs past the end"))
    }

    fn u32(&mut self) -> Result<u32, BundleError> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, BundleError> {
        self.array().map(u64::from_le_bytes)
    }

    /// A count of items that each take at least one byte: never more than the bytes left, so
    /// a forged count cannot make the decoder allocate more than a small multiple of the file.
    fn count(&mut self) -> Result<usize, BundleError> {
        let count = self.u64()?;
        let left = self.bytes.len().saturating_sub(self.at) as u64;
        if count > left {
            return Err(self.malformed("a count is larger than the bytes that follow"));
        }
        usize::try_from(count).map_err(|_| self.malformed("a count does not fit in memory"))
    }
}

/// A value that can be written to and read from a bundle.
pub(crate) trait Codec: Sized {
    fn encode(&self, out: &mut Encoder);
    fn decode(input: &mut Decoder<'_>) -> Result<Self, BundleError>;
}

macro_rules! codec_int {
    ($($ty:ty),*) => {$(
        impl Codec for $ty {
            fn encode(&self, out: &mut Encoder) {
                out.put(&self.to_le_bytes());
            }
            fn decode(input: &mut Decoder<'_>) -> Result<$ty, BundleError> {
                input.array().map(<$ty>::from_le_bytes)
            }
        }
    )*};
}
codec_int!(u8, u16, u32, u64, i64);

impl Codec for usize {
    fn encode(&self, out: &mut Encoder) {
        (*self as u64).encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<usize, BundleError> {
        let value = input.u64()?;
        usize::try_from(value).map_err(|_| input.malformed("a number does not fit in memory"))
    }
}

impl Codec for bool {
    fn encode(&self, out: &mut Encoder) {
        u8::from(*self).encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<bool, BundleError> {
        match u8::decode(input)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(input.malformed("a flag is neither 0 nor 1")),
        }
    }
}

impl Codec for [u8; 32] {
    fn encode(&self, out: &mut Encoder) {
        out.put(self);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<[u8; 32], BundleError> {
        input.array()
    }
}

impl Codec for String {
    fn encode(&self, out: &mut Encoder) {
        out.text(self);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<String, BundleError> {
        let len = input.count()?;
        let bytes = input.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| input.malformed("a string is not UTF-8"))
    }
}

impl Codec for Arc<str> {
    fn encode(&self, out: &mut Encoder) {
        out.text(self);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Arc<str>, BundleError> {
        String::decode(input).map(Arc::from)
    }
}

impl<T: Codec> Codec for Option<T> {
    fn encode(&self, out: &mut Encoder) {
        match self {
            None => false.encode(out),
            Some(value) => {
                true.encode(out);
                value.encode(out);
            }
        }
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Option<T>, BundleError> {
        Ok(if bool::decode(input)? { Some(T::decode(input)?) } else { None })
    }
}

impl<T: Codec> Codec for Vec<T> {
    fn encode(&self, out: &mut Encoder) {
        self.len().encode(out);
        self.iter().for_each(|item| item.encode(out));
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Vec<T>, BundleError> {
        let count = input.count()?;
        (0..count).map(|_| T::decode(input)).collect()
    }
}

impl<T: Codec> Codec for Box<[T]> {
    fn encode(&self, out: &mut Encoder) {
        self.len().encode(out);
        self.iter().for_each(|item| item.encode(out));
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Box<[T]>, BundleError> {
        Vec::decode(input).map(Vec::into_boxed_slice)
    }
}

impl<A: Codec, B: Codec> Codec for (A, B) {
    fn encode(&self, out: &mut Encoder) {
        self.0.encode(out);
        self.1.encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<(A, B), BundleError> {
        Ok((A::decode(input)?, B::decode(input)?))
    }
}

impl<A: Codec, B: Codec, C: Codec> Codec for (A, B, C) {
    fn encode(&self, out: &mut Encoder) {
        self.0.encode(out);
        self.1.encode(out);
        self.2.encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<(A, B, C), BundleError> {
        Ok((A::decode(input)?, B::decode(input)?, C::decode(input)?))
    }
}

/// Structs encode their fields in order.
macro_rules! codec_struct {
    ($($ty:ident { $($field:ident),* $(,)? })*) => {$(
        impl Codec for $ty {
            fn encode(&self, out: &mut Encoder) {
                $(self.$field.encode(out);)*
            }
            fn decode(input: &mut Decoder<'_>) -> Result<$ty, BundleError> {
                Ok($ty { $($field: Codec::decode(input)?),* })
            }
        }
    )*};
}

codec_struct! {
    Span { start, end }
    FeatureDef { name, description, span }
    LimitDef { name, ty, kind, draws, span }
    DrawRate { pool, credits, per }
    DrawRecord { pool, credits, per }
    SettingDef { name, ty, prefer, span }
    TierDef { name, span, name_span, parent, grant_all, grants, revokes, limits, sets }
    GrantDef { feature, rollout, span }
    TierLimit { limit, value, soft, warn, per_seat, span }
    SetDef { setting, value, span }
    AddonLimit { limit, op, value, per_seat, span }
    AddonDef { name, span, for_tiers, grant_all, grants, limits, sets, valid_from, valid_until, max_quantity, trial }
    Model { name, version, features, limits, settings, tiers, addons, ladders }
    RawTables {
        grants, revoked, rollout_seeds, rollout_thresholds, limit_kinds, limit_rows, limit_records, limit_draws, addon_tiers,
        addon_features, addon_deltas, addon_meta, addon_settings, settings, setting_prefs,
    }
}

// The limits a bundle records are for people to read (a loaded engine keeps to the loader's),
// so the bounds added after format 2 (those on override sets, which load beside an engine) are
// not recorded, and a decoded `Limits` takes their defaults.
impl Codec for Limits {
    fn encode(&self, out: &mut Encoder) {
        let Limits {
            source_bytes,
            declarations,
            name_bytes,
            inheritance_depth,
            diagnostics,
            held_addons,
            query_line_bytes,
            table_cells,
            bundle_bytes,
            ..
        } = self;
        for field in [
            source_bytes,
            declarations,
            name_bytes,
            inheritance_depth,
            diagnostics,
            held_addons,
            query_line_bytes,
            table_cells,
            bundle_bytes,
        ] {
            field.encode(out);
        }
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Limits, BundleError> {
        let mut limits = Limits::DEFAULT;
        for field in [
            &mut limits.source_bytes,
            &mut limits.declarations,
            &mut limits.name_bytes,
            &mut limits.inheritance_depth,
            &mut limits.diagnostics,
            &mut limits.held_addons,
            &mut limits.query_line_bytes,
            &mut limits.table_cells,
            &mut limits.bundle_bytes,
        ] {
            *field = usize::decode(input)?;
        }
        Ok(limits)
    }
}

/// Field-less enums encode as one byte, their position in the list.
macro_rules! codec_enum {
    ($($ty:ident [$($variant:ident),* $(,)?])*) => {$(
        impl Codec for $ty {
            fn encode(&self, out: &mut Encoder) {
                const ALL: &[$ty] = &[$($ty::$variant),*];
                let tag = ALL.iter().position(|v| v == self).unwrap_or(0);
                u8::try_from(tag).unwrap_or(u8::MAX).encode(out);
            }
            fn decode(input: &mut Decoder<'_>) -> Result<$ty, BundleError> {
                const ALL: &[$ty] = &[$($ty::$variant),*];
                let tag = u8::decode(input)?;
                ALL.get(usize::from(tag)).copied().ok_or_else(|| input.malformed("an unknown variant"))
            }
        }
    )*};
}

codec_enum! {
    QuantityType [Count, Bytes, Duration]
    SettingType [Number, Percent, Duration, Bytes, String]
    Preference [Higher, Lower]
    AddonOp [Add, AtLeast]
    Window [Second, Minute, Hour, Day, Week, Month]
}

impl Codec for Percentage {
    fn encode(&self, out: &mut Encoder) {
        self.0.encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Percentage, BundleError> {
        let millionths = u32::decode(input)?;
        if millionths > Percentage::FULL.0 {
            return Err(input.malformed("a percentage is past 100%"));
        }
        Ok(Percentage(millionths))
    }
}

impl Codec for Amount {
    fn encode(&self, out: &mut Encoder) {
        match self {
            Amount::Finite(n) => {
                0u8.encode(out);
                n.encode(out);
            }
            Amount::Unlimited => 1u8.encode(out),
        }
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Amount, BundleError> {
        match u8::decode(input)? {
            0 => u64::decode(input).map(Amount::Finite),
            1 => Ok(Amount::Unlimited),
            _ => Err(input.malformed("an unknown kind of amount")),
        }
    }
}

/// A limit record stores what cannot be derived (value, ceiling, warn share, flags) and is
/// checked and completed on decoding, as the compiler would have built it.
impl Codec for LimitRecord {
    fn encode(&self, out: &mut Encoder) {
        let (value, ceiling, warn, flags) = self.stored();
        ((value, ceiling), warn, flags).encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<LimitRecord, BundleError> {
        let ((value, ceiling), warn, flags) = <((u64, u64), u32, u32)>::decode(input)?;
        LimitRecord::from_stored((value, ceiling, warn, flags)).map_err(|what| input.malformed(what))
    }
}

impl Codec for DeltaRecord {
    fn encode(&self, out: &mut Encoder) {
        (self.at_least, self.add, self.flags).encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<DeltaRecord, BundleError> {
        let (at_least, add, flags) = <(u64, u64, u64)>::decode(input)?;
        DeltaRecord::from_stored(at_least, add, flags).map_err(|what| input.malformed(what))
    }
}

impl Codec for AddonMeta {
    fn encode(&self, out: &mut Encoder) {
        ((self.from, self.until), self.max_quantity, self.trial).encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<AddonMeta, BundleError> {
        let ((from, until), max_quantity, trial) = <((i64, i64), u64, u64)>::decode(input)?;
        AddonMeta::from_stored(from, until, max_quantity, trial).map_err(|what| input.malformed(what))
    }
}

impl Codec for TrialLength {
    fn encode(&self, out: &mut Encoder) {
        match self {
            TrialLength::Seconds(n) => (0u8, *n).encode(out),
            TrialLength::Months(n) => (1u8, *n).encode(out),
        }
    }
    fn decode(input: &mut Decoder<'_>) -> Result<TrialLength, BundleError> {
        match u8::decode(input)? {
            0 => u64::decode(input).map(TrialLength::Seconds),
            1 => u32::decode(input).map(TrialLength::Months),
            _ => Err(input.malformed("an unknown kind of trial length")),
        }
    }
}

impl Codec for LimitKind {
    fn encode(&self, out: &mut Encoder) {
        match self {
            LimitKind::Cap => 0u8.encode(out),
            LimitKind::Gauge => 1u8.encode(out),
            LimitKind::Counter(period) | LimitKind::Rolling(period) => {
                let tag: u8 = if matches!(self, LimitKind::Rolling(_)) { 3 } else { 2 };
                tag.encode(out);
                period.unit.encode(out);
                period.every.encode(out);
            }
        }
    }
    fn decode(input: &mut Decoder<'_>) -> Result<LimitKind, BundleError> {
        match u8::decode(input)? {
            0 => Ok(LimitKind::Cap),
            1 => Ok(LimitKind::Gauge),
            tag @ (2 | 3) => {
                let unit = Window::decode(input)?;
                let period = match u16::decode(input)? {
                    every @ 1..=Period::MAX_EVERY => Period { every, unit },
                    _ => return Err(input.malformed("a counter window of 0 units or more than the most")),
                };
                match tag {
                    2 => Ok(LimitKind::Counter(period)),
                    _ if unit == Window::Month => Err(input.malformed("a rolling window of months")),
                    _ => Ok(LimitKind::Rolling(period)),
                }
            }
            _ => Err(input.malformed("an unknown kind of limit")),
        }
    }
}

impl Codec for SettingValue {
    fn encode(&self, out: &mut Encoder) {
        match self {
            SettingValue::Number(n) => (0u8, *n).encode(out),
            SettingValue::Percent(p) => (1u8, *p).encode(out),
            SettingValue::Duration(n) => (2u8, *n).encode(out),
            SettingValue::Bytes(n) => (3u8, *n).encode(out),
            SettingValue::Text(text) => {
                4u8.encode(out);
                text.encode(out);
            }
        }
    }
    fn decode(input: &mut Decoder<'_>) -> Result<SettingValue, BundleError> {
        Ok(match u8::decode(input)? {
            0 => SettingValue::Number(u64::decode(input)?),
            1 => SettingValue::Percent(Percentage::decode(input)?),
            2 => SettingValue::Duration(u64::decode(input)?),
            3 => SettingValue::Bytes(u64::decode(input)?),
            4 => SettingValue::Text(Arc::decode(input)?),
            _ => return Err(input.malformed("an unknown kind of setting value")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = include_str!("../policies/rtc-sdk.policy");

    fn built() -> Vec<u8> {
        build(&Source::new("rtc-sdk.policy", POLICY)).unwrap()
    }

    /// Every record a loaded bundle holds is the record the compiler built, a drawing limit's
    /// included: a record that read back otherwise would answer otherwise somewhere.
    #[test]
    fn a_bundle_holds_the_compilers_records() {
        let text = include_str!("../tests/conformance/pools.policy");
        let source = Source::new("pools.policy", text);
        let loaded = Engine::from_bundle(&build(&source).unwrap()).unwrap();
        let compiled = Engine::from_source("pools.policy", text).unwrap();
        let (tiers, limits) = (compiled.model().tiers.len(), compiled.model().limits.len());
        for tier in 0..tiers {
            for limit in 0..limits {
                let (ours, theirs) =
                    (compiled.tables().limit_record(tier, limit), loaded.tables().limit_record(tier, limit));
                assert_eq!(ours, theirs, "tier {tier}, limit {limit}");
            }
        }
    }

    #[test]
    fn a_bundle_loads_into_the_same_engine() {
        let bytes = built();
        let loaded = Engine::from_bundle(&bytes).unwrap();
        let compiled = Engine::from_source("rtc-sdk.policy", POLICY).unwrap();
        assert_eq!(loaded.policy_hash(), compiled.policy_hash());
        assert_eq!(loaded.model(), compiled.model());
        assert_eq!(loaded.input_limits(), compiled.input_limits());
        let held: Vec<_> = compiled.addons().map(|(id, _)| id).collect();
        for (tier, name) in compiled.tiers() {
            assert_eq!(loaded.tier(name), Some(tier));
            for now in [0, 1_795_255_200] {
                for addons in [&held[..0], &held[..]] {
                    let request = crate::Request::new(tier, now).with_key("app-42").with_addons(addons);
                    for (feature, _) in compiled.features() {
                        assert_eq!(loaded.decide(&request, feature), compiled.decide(&request, feature));
                    }
                    for (limit, _) in compiled.limits() {
                        let usage = crate::Usage::used(1_000).requesting(5_000);
                        assert_eq!(
                            loaded.check_limit(&request, limit, usage),
                            compiled.check_limit(&request, limit, usage)
                        );
                    }
                    for (setting, _) in compiled.settings() {
                        assert_eq!(loaded.setting_value(&request, setting), compiled.setting_value(&request, setting));
                    }
                }
            }
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = built();
        for len in 0..bytes.len() {
            assert!(Engine::from_bundle(&bytes[..len]).is_err(), "{len} bytes loaded");
        }
    }

    #[test]
    fn every_flipped_byte_is_an_error() {
        let bytes = built();
        for at in (0..bytes.len()).step_by(7) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x20;
            assert!(Engine::from_bundle(&damaged).is_err(), "a flip at {at} loaded");
        }
    }

    #[test]
    fn inconsistent_content_behind_a_valid_checksum_is_malformed_not_a_panic() {
        let bytes = built();
        let mut rejected = 0;
        for at in PREFIX_BYTES..bytes.len() - CHECKSUM_BYTES {
            for value in [0x00, 0xff, 0x07] {
                let mut altered = bytes.clone();
                altered[at] = value;
                reseal(&mut altered);
                if let Err(error) = Engine::from_bundle(&altered) {
                    assert!(matches!(error, BundleError::Malformed { .. } | BundleError::Invalid(_)), "{error}");
                    rejected += 1;
                }
            }
        }
        assert!(rejected > 1_000, "only {rejected} alterations were refused");
    }

    #[test]
    fn newer_and_older_formats_are_refused() {
        let mut bytes = built();
        bytes[12..16].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        reseal(&mut bytes);
        assert!(matches!(
            Engine::from_bundle(&bytes),
            Err(BundleError::Incompatible { found, supported: FORMAT_VERSION }) if found == FORMAT_VERSION + 1
        ));
        assert_eq!(Info::read(&bytes).unwrap().format_version, FORMAT_VERSION + 1, "the header is still readable");

        bytes[12..16].copy_from_slice(&(FORMAT_VERSION - 1).to_le_bytes());
        reseal(&mut bytes);
        let error = Engine::from_bundle(&bytes).unwrap_err();
        assert!(
            matches!(error, BundleError::Outdated { found, supported: FORMAT_VERSION } if found == FORMAT_VERSION - 1),
            "{error}"
        );
        assert!(error.to_string().contains("rebuild it"), "{error}");
        assert_eq!(Info::read(&bytes).unwrap().policy_name, "rtc-sdk", "the header still says what to rebuild");
    }

    #[test]
    fn policy_files_and_empty_input_are_not_bundles() {
        assert!(matches!(Engine::from_bundle(POLICY.as_bytes()), Err(BundleError::NotABundle)));
        assert!(matches!(Engine::from_bundle(b""), Err(BundleError::NotABundle)));
        let mut long = built();
        long.push(0);
        assert!(matches!(Engine::from_bundle(&long), Err(BundleError::Malformed { .. })));
    }

    #[test]
    fn a_cycle_smuggled_into_the_model_is_refused() {
        let mut model = Engine::from_source("p", POLICY).unwrap().model().clone();
        model.tiers[0].parent = Some(model.tiers.len() - 1);
        let last = model.tiers.len() - 1;
        model.tiers[last].parent = Some(0);
        assert!(crate::parts::validate_model(&model, &Limits::default()).is_err());
    }
}
