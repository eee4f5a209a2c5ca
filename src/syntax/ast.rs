//! The syntax tree: plain data, one span on every node, every comment kept with its position.
//!
//! Nothing here is resolved or validated beyond the grammar: names are text, numbers are the
//! digits as written, units and type words are unchecked. The checker gives them meaning.

use crate::source::Span;

/// A parsed policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// The declarations that parsed, in source order. A declaration with a syntax error is
    /// left out and reported instead.
    pub decls: Vec<Decl>,
    /// Every `//` comment, in source order, so that a formatter loses no word.
    pub comments: Vec<Comment>,
    /// Declarations whose head (`tier pro`, `feature sso`) parsed but whose rest has a syntax
    /// error: the checker knows these names exist, so it does not call them unknown.
    pub cut_short: Vec<(DeclKind, Name)>,
}

/// The kinds of declaration that other declarations refer to by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeclKind {
    /// `feature`
    Feature,
    /// `limit`
    Limit,
    /// `setting`
    Setting,
    /// `tier`
    Tier,
}

/// A `//` comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// The comment text after `//`, as written.
    pub text: String,
    /// From the `//` to the end of the line (excluding the line break).
    pub span: Span,
}

/// A name as written, such as `hd_video`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    /// The text.
    pub text: String,
    /// Where it is.
    pub span: Span,
}

/// A string literal with its escapes already processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Str {
    /// The value, unescaped.
    pub value: String,
    /// Where it is, quotes included.
    pub span: Span,
}

/// One top-level declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decl {
    /// `policy "name" version "v"`
    Header(Header),
    /// `feature name "description"`
    Feature(FeatureDecl),
    /// `limit name : type kind`
    Limit(LimitDecl),
    /// `setting name : type prefer higher|lower`
    Setting(SettingDecl),
    /// `ladder a < b < c`
    Ladder(LadderDecl),
    /// `tier name extends parent { items }`
    Tier(TierDecl),
    /// `addon name for tiers { items }`
    Addon(AddonDecl),
}

/// `policy "name" version "v"`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The policy's name.
    pub name: Str,
    /// Its version, if given.
    pub version: Option<Str>,
    /// The whole header.
    pub span: Span,
}

/// `feature name "description"`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureDecl {
    /// The feature's name.
    pub name: Name,
    /// Its human description, if given.
    pub description: Option<Str>,
    /// The whole declaration.
    pub span: Span,
}

/// `limit name : type kind`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitDecl {
    /// The limit's name.
    pub name: Name,
    /// The quantity type word (`count`, `bytes`, `duration`), unchecked.
    pub ty: Name,
    /// Gauge, counter per window, or plain cap.
    pub kind: LimitKind,
    /// The whole declaration.
    pub span: Span,
}

/// How a limit is measured, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// Nothing after the type: a plain cap.
    Cap,
    /// `gauge`: a level checked against the current value.
    Gauge(Span),
    /// `per WINDOW`: a counter that resets; the window word is unchecked.
    Per(Name),
    /// `per N WINDOWS`: a counter whose window is N units long; number and unit unchecked.
    Every(Value),
    /// `rolling WINDOW`: a counter over the window that ends at the request's instant; the
    /// span is the `rolling` keyword's, the window word unchecked.
    RollingPer(Span, Name),
    /// `rolling N WINDOWS`: as [`LimitKind::RollingPer`], N units long; number and unit
    /// unchecked.
    RollingEvery(Span, Value),
    /// `draws POOL at RATE per QUANTITY`: the limit spends another's allowance.
    Draws(Draws),
}

/// `draws POOL at RATE [per QUANTITY]`: what a drawing limit costs its pool, unchecked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draws {
    /// The limit drawn on.
    pub pool: Name,
    /// How much of the pool each `per` costs.
    pub rate: Value,
    /// How much of the drawing limit the rate is for; `None` when left out.
    pub per: Option<DrawPer>,
    /// From `draws` to the end.
    pub span: Span,
}

/// What a rate is for, as written after `per`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DrawPer {
    /// A unit alone, meaning one of it: `per minute`, `per GiB`.
    Unit(Name),
    /// A number with an optional unit: `per 30 seconds`, `per 1_000`.
    Quantity(Value),
}

/// `setting name : type prefer higher|lower`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingDecl {
    /// The setting's name.
    pub name: Name,
    /// The value type word (`number`, `percent`, `duration`, `bytes`, `string`), unchecked.
    pub ty: Name,
    /// The preference word after `prefer`, unchecked.
    pub prefer: Option<Name>,
    /// The whole declaration.
    pub span: Span,
}

/// `ladder a < b < c`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LadderDecl {
    /// The tiers, cheapest first.
    pub tiers: Vec<Name>,
    /// The whole declaration.
    pub span: Span,
}

/// `tier name extends parent { items }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierDecl {
    /// The tier's name.
    pub name: Name,
    /// The parent tier, if any.
    pub extends: Option<Name>,
    /// The block's items, in source order.
    pub items: Vec<Item>,
    /// The whole declaration.
    pub span: Span,
}

/// `addon name for a, b { items }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddonDecl {
    /// The add-on's name.
    pub name: Name,
    /// The tiers it attaches to.
    pub for_tiers: Vec<Name>,
    /// The block's items, in source order.
    pub items: Vec<Item>,
    /// The whole declaration.
    pub span: Span,
}

/// One line inside a tier or add-on block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// `grant all`
    GrantAll(Span),
    /// `grant a, b rollout N%`
    Grant(Grant),
    /// `revoke a, b`
    Revoke(Revoke),
    /// `limit name = value soft cap warn at N%`, or `+=`
    Limit(LimitItem),
    /// `set name = value`
    Set(SetItem),
    /// `valid for LENGTH from DATE until DATE`
    Valid(Valid),
    /// `max N` or `max unlimited`
    Max(MaxItem),
}

impl Decl {
    /// The span of the whole declaration.
    pub fn span(&self) -> Span {
        match self {
            Decl::Header(d) => d.span,
            Decl::Feature(d) => d.span,
            Decl::Limit(d) => d.span,
            Decl::Setting(d) => d.span,
            Decl::Ladder(d) => d.span,
            Decl::Tier(d) => d.span,
            Decl::Addon(d) => d.span,
        }
    }
}

impl Item {
    /// The span of the whole item.
    pub fn span(&self) -> Span {
        match self {
            Item::GrantAll(span) => *span,
            Item::Grant(g) => g.span,
            Item::Revoke(r) => r.span,
            Item::Limit(l) => l.span,
            Item::Set(s) => s.span,
            Item::Valid(v) => v.span,
            Item::Max(m) => m.span,
        }
    }
}

/// `grant a, b rollout N%`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The features granted.
    pub features: Vec<Name>,
    /// The staged-rollout percentage, if any.
    pub rollout: Option<Percent>,
    /// The whole item.
    pub span: Span,
}

/// `revoke a, b`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revoke {
    /// The features revoked.
    pub features: Vec<Name>,
    /// The whole item.
    pub span: Span,
}

/// `=` or `+=` in a limit item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`: in a tier, sets the limit; in an add-on, raises it to at least the value.
    Set,
    /// `+=`: in an add-on, adds to the limit.
    Add,
}

/// `limit name = value soft cap warn at N%`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitItem {
    /// The limit named.
    pub limit: Name,
    /// `=` or `+=`.
    pub op: AssignOp,
    /// Where the operator is.
    pub op_span: Span,
    /// The value.
    pub value: Value,
    /// `per seat` after the value, if written.
    pub per_seat: Option<Span>,
    /// `soft` and its optional cap.
    pub soft: Option<Soft>,
    /// `warn at N%`.
    pub warn: Option<Percent>,
    /// The whole item.
    pub span: Span,
}

/// `soft` with an optional cap; without one, overage is unbounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soft {
    /// The cap, if written.
    pub cap: Option<Value>,
    /// `per seat` after the cap, if written.
    pub cap_per_seat: Option<Span>,
    /// From `soft` to the end of the cap (and its `per seat`).
    pub span: Span,
}

/// `set name = value`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetItem {
    /// The setting named.
    pub setting: Name,
    /// The value.
    pub value: Value,
    /// The whole item.
    pub span: Span,
}

/// `valid for LENGTH from DATE until DATE`; at least one of the three is present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Valid {
    /// The trial length after `for` (a quantity: a duration or a number of months), unchecked.
    pub length: Option<Value>,
    /// The inclusive start.
    pub from: Option<Date>,
    /// The exclusive end.
    pub until: Option<Date>,
    /// The whole item.
    pub span: Span,
}

/// `max N` or `max unlimited`: the most of an add-on a subject may hold at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaxItem {
    /// The maximum, unchecked.
    pub value: Value,
    /// The whole item.
    pub span: Span,
}

/// A date or UTC instant as written: `2026-11-01` or `2026-11-01T12:00:00Z`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Date {
    /// The text.
    pub text: String,
    /// Where it is.
    pub span: Span,
}

/// A percentage as written, such as `99.9%`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Percent {
    /// The number before `%`, as written (digits, `_`, at most one `.`).
    pub number: String,
    /// Where it is, `%` included.
    pub span: Span,
}

/// A value on the right of `=`, `+=` or `soft`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    /// What was written.
    pub kind: ValueKind,
    /// Where it is.
    pub span: Span,
}

/// The forms a value can take before the checker types it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// `unlimited`
    Unlimited,
    /// `99.9%`
    Percent(Percent),
    /// A number with an optional unit: `10_000`, `1 GiB`, `30 min`.
    Quantity {
        /// The number as written (digits, `_`, at most one `.`).
        number: String,
        /// The unit word, unchecked.
        unit: Option<Name>,
    },
    /// A string literal.
    Str(String),
}
