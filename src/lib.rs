//! `entitle` is an embeddable entitlement engine. A product writes its plans once, as a small
//! declarative policy: tiers, the features each grants, the limits each sets (with reset
//! windows, soft caps and warn thresholds), settings, add-ons and the upgrade ladder. This
//! crate checks that policy, reporting every problem with a stable code and a precise
//! location, and compiles it into an immutable decision table that answers "may this subject
//! use this feature?" and "how much of this limit is left?" in nanoseconds, with no
//! allocation, no lock and no I/O.
//!
//! ```
//! use entitle::{Engine, Request, Usage};
//!
//! let engine = Engine::from_source("rtc-sdk.policy", r#"
//! policy "rtc-sdk" version "2026.11"
//!
//! feature hd_video "HD video"
//! limit api_calls : count per day
//!
//! ladder free < pro
//!
//! tier free {
//!     limit api_calls = 10_000
//! }
//!
//! tier pro extends free {
//!     grant hd_video
//!     limit api_calls = 1_000_000 soft 1_200_000
//! }
//! "#)?;
//!
//! // On the hot path: ids resolved once, up front.
//! let (pro, hd_video) = (engine.tier("pro").unwrap(), engine.feature("hd_video").unwrap());
//! let request = Request::new(pro, 1_795_255_200).with_key("app-42");
//! assert!(engine.is_allowed(&request, hd_video));
//!
//! // Or by name, for callers that do not cache ids.
//! let quota = engine.check_limit_by_name(&Request::new("free", 1_795_255_200), "api_calls", Usage::used(10_000).requesting(1));
//! assert!(!quota.allowed);
//! # Ok::<(), entitle::Diagnostics>(())
//! ```
//!
//! The pipeline runs one way: [`check()`] turns a [`Source`] into a [`Checked`] policy or
//! [`Diagnostics`], [`compile()`] turns a `Checked` policy into an [`Engine`], and the engine
//! answers; [`Engine::from_source`] runs all three. [`render`] draws diagnostics for a
//! terminal, and `wire` (feature `json`) is the one JSON shape of queries, answers and
//! diagnostics. `docs/language.md` describes the language, `docs/diagnostics.md` every code,
//! and `docs/api.md` what in this crate is public and stable.

#![forbid(unsafe_code)]
// Unit tests fail loudly, with the value that broke them; the library itself never may.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::string_slice,
        reason = "a test fails loudly, with the value that broke it"
    )
)]

// pest is built without `std` (see Cargo.toml), and its generated parser names `alloc`.
extern crate alloc;

pub mod bundle;
mod check;
mod compile;
mod diagnostic;
mod digest;
mod engine;
mod eval;
mod format;
mod held;
mod ids;
mod load;
// The fuzz targets' hooks; the crate's own property test asks the engine and the reference
// evaluator through the same comparison.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod limits;
mod model;
mod names;
mod override_check;
mod overrides;
mod parts;
pub mod plan;
#[cfg(any(test, feature = "fuzzing"))]
mod reference;
pub mod render;
mod rollout;
mod source;
mod syntax;
mod tables;
mod time;
mod units;
#[cfg(feature = "json")]
pub mod wire;
mod work;

pub use check::{check, check_with, Checked};
pub use diagnostic::{Code, Diagnostic, Diagnostics, Label, Severity};
pub use digest::PolicyHash;
pub use engine::{
    compile, Decision, Engine, Held, HeldIter, NamedRequest, Quota, Reason, Request, Status, Usage, WindowSpan,
};
pub use eval::{binding, BufferTooSmall, Draw, Explanation, LimitBatch, Prepared, Step, Upgrade};
pub use format::{format, format_with};
pub use ids::{AddonId, FeatureId, LimitId, SettingId, TierId};
pub use limits::Limits;
pub use load::LoadError;
pub use override_check::OverridesBuilder;
pub use overrides::{LimitOp, OverrideChange, OverrideInfo, Overrides, Subject};
// What the bundled command needs and a library user should not rely on: it may change in any
// release (docs/api.md, "What is not public").
#[doc(hidden)]
pub use load::{read_policy_file, read_text_file, write_file_atomically};
pub use model::{Access, Amount, Percentage, Period, SettingValue, Window};
pub use rollout::{bucket as rollout_bucket, BUCKETS as ROLLOUT_BUCKETS};
pub use source::{LineCol, Source, Span};
pub use time::{format_instant, parse_instant};

// The README's examples run as doctests, so the first code a newcomer copies keeps working.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/api.md")]
struct ApiDoctests;
