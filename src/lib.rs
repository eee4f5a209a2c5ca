//! `entitle` is an embeddable entitlement engine. A product writes its plans once, as a small
//! declarative policy: tiers, the features each grants, the limits each sets (with reset
//! windows, soft caps and warn thresholds), settings, add-ons and the upgrade ladder. This
//! crate parses and checks that policy, reporting every problem with a stable code and a
//! precise location.
//!
//! ```
//! use entitle::Source;
//!
//! let text = r#"
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
//! "#;
//!
//! let checked = entitle::check(&Source::new("rtc-sdk.policy", text))?;
//! assert!(checked.warnings().is_empty());
//! let model = checked.model();
//! assert_eq!(model.tiers.len(), 2);
//! assert_eq!(model.tiers[1].name, "pro");
//! # Ok::<(), entitle::Diagnostics>(())
//! ```
//!
//! The pipeline runs one way: [`syntax`] parses text into a syntax tree, [`check()`] turns it
//! into a [`Checked`] policy or a list of [`Diagnostic`]s, and [`render`] turns diagnostics
//! into text. `docs/language.md` describes the language, and `docs/diagnostics.md` every code.

#![deny(unsafe_code)]
#![deny(missing_docs)]

// pest is built without `std` (see Cargo.toml), and its generated parser names `alloc`.
extern crate alloc;

pub mod check;
mod compile;
pub mod diagnostic;
mod engine;
pub mod eval;
pub mod model;
#[cfg(feature = "json")]
pub mod query;
#[cfg(any(test, feature = "reference"))]
pub mod reference;
pub mod render;
pub mod rollout;
pub mod source;
pub mod syntax;
pub mod time;
pub mod units;

pub use check::{check, Checked};
pub use compile::compile;
pub use engine::{
    AddonId, Context, Decision, Engine, FeatureId, LimitId, Quota, Reason, SettingId, Status, TierId, WindowSpan,
};
pub use eval::{Explanation, Subject, Upgrade};
pub use model::Amount;

// The README's examples run as doctests, so the first code a newcomer copies keeps working.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
pub use diagnostic::{Code, Diagnostic, Diagnostics, Label, Severity};
pub use source::{LineCol, Source, Span};
