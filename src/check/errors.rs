//! The checker's findings as structured data. Each variant's `Display` is the one-line message;
//! [`CheckError::code`] and [`Lint::code`] give the stable code.

use thiserror::Error;

use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;

/// An error: the policy cannot be compiled.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub(crate) enum CheckError {
    #[error("{kind} `{name}` is declared twice")]
    DuplicateDeclaration { kind: &'static str, name: String },
    #[error("{what} `{name}` appears twice in {block}")]
    DuplicateEntry { what: &'static str, name: String, block: String },
    #[error("feature `{name}` is both granted and revoked in {block}")]
    GrantAndRevoke { name: String, block: String },
    #[error("unknown feature `{name}`")]
    UnknownFeature { name: String },
    #[error("unknown limit `{name}`")]
    UnknownLimit { name: String },
    #[error("unknown setting `{name}`")]
    UnknownSetting { name: String },
    #[error("unknown tier `{name}`")]
    UnknownTier { name: String },
    #[error("tiers extend each other in a cycle: {chain}")]
    InheritanceCycle { chain: String },
    #[error("{target} takes {expected}, found {found}")]
    TypeMismatch { target: String, expected: String, found: String },
    #[error("unknown {what} `{word}`")]
    UnknownWord { what: &'static str, word: String },
    #[error("percentage `{text}%` is above 100%")]
    PercentAboveHundred { text: String },
    #[error("percentage `{text}%` has more than four decimal places")]
    PercentTooPrecise { text: String },
    #[error("`{text}` does not fit in an unsigned 64-bit quantity")]
    QuantityOverflow { text: String },
    #[error("`{text}` does not fit: the largest amount is 18_446_744_073_709_551_614")]
    AmountTooLarge { text: String },
    #[error("trial length `{text}` is too long: the longest is {max}")]
    TrialTooLong { text: String, max: &'static str },
    #[error("add-on `{addon}` has a trial of length 0, which never applies")]
    EmptyTrial { addon: String },
    #[error("window `{text}` is not a whole number of 1 to {max} units")]
    WindowLength { text: String, max: &'static str },
    #[error("a rolling window of `{text}` has no fixed length")]
    RollingMonths { text: String },
    #[error("`per seat` is not allowed on limit `{limit}`: {why}")]
    PerSeatNotAllowed { limit: String, why: &'static str },
    #[error("the {per_seat} of `{limit}` is per seat and its {flat} is not")]
    SoftCapSeatMismatch { limit: String, per_seat: &'static str, flat: &'static str },
    #[error("add-on `{addon}` has a maximum quantity of 0, so it can never be held")]
    ZeroMaxQuantity { addon: String },
    #[error("add-on `{addon}` is valid from `{from}`, which is not before `{until}`")]
    EmptyValidity { addon: String, from: String, until: String },
    #[error("`{text}` is not a valid date")]
    InvalidDate { text: String },
    #[error("tier `{name}` appears twice in ladders")]
    LadderRepeatsTier { name: String },
    #[error("soft cap `{soft}` of limit `{limit}` is below the limit `{value}`")]
    SoftCapBelowLimit { limit: String, soft: String, value: String },
    #[error("{what} is not allowed in {block}")]
    NotAllowedHere { what: &'static str, block: String },
    #[error("missing `policy` header")]
    MissingHeader,
    #[error("the `policy` header appears twice")]
    DuplicateHeader,
    #[error("the `policy` header must come before every declaration")]
    HeaderNotFirst,
    #[error("name `{prefix}…` is {len} bytes long, longer than the limit of {max}")]
    NameTooLong { prefix: String, len: usize, max: usize },
    #[error("{hidden} more diagnostics after the first {max} are not shown")]
    TooManyDiagnostics { hidden: usize, max: usize },
    #[error("limit `{limit}` draws on itself")]
    DrawsOnItself { limit: String },
    #[error("limit `{limit}` draws on `{pool}`, which draws on `{further}`: a pool cannot draw on another")]
    PoolDraws { limit: String, pool: String, further: String },
    #[error("limit `{limit}` draws on `{pool}`, which is {what}: a pool is a `count` counter or cap")]
    PoolNotCounted { limit: String, pool: String, what: &'static str },
    #[error("limit `{limit}` draws on `{pool}` at a rate {what}, which never draws")]
    ZeroDrawRate { limit: String, pool: String, what: &'static str },
    #[error("limit `{limit}` draws on `{pool}`, so {block} cannot set it")]
    DrawerSet { limit: String, pool: String, block: String },
    #[error("tier `{name}` inherits through more than {max} tiers")]
    InheritanceTooDeep { name: String, max: usize },
    #[error("{tiers} tiers × {items} features, limits, settings and add-ons is past the limit of {max} table cells")]
    TableTooLarge { tiers: usize, items: usize, max: usize },
}

impl CheckError {
    pub(crate) fn code(&self) -> Code {
        match self {
            CheckError::DuplicateDeclaration { .. } => Code::DuplicateDeclaration,
            CheckError::DuplicateEntry { .. } | CheckError::GrantAndRevoke { .. } => Code::DuplicateEntry,
            CheckError::UnknownFeature { .. } => Code::UnknownFeature,
            CheckError::UnknownLimit { .. } => Code::UnknownLimit,
            CheckError::UnknownSetting { .. } => Code::UnknownSetting,
            CheckError::UnknownTier { .. } => Code::UnknownTier,
            CheckError::InheritanceCycle { .. } => Code::InheritanceCycle,
            CheckError::TypeMismatch { .. } => Code::TypeMismatch,
            CheckError::UnknownWord { .. } => Code::UnknownWord,
            CheckError::PercentAboveHundred { .. } | CheckError::PercentTooPrecise { .. } => Code::PercentOutOfRange,
            CheckError::QuantityOverflow { .. }
            | CheckError::AmountTooLarge { .. }
            | CheckError::TrialTooLong { .. } => Code::QuantityOverflow,
            CheckError::EmptyValidity { .. } | CheckError::EmptyTrial { .. } => Code::EmptyValidity,
            CheckError::PerSeatNotAllowed { .. } => Code::PerSeatNotAllowed,
            CheckError::WindowLength { .. } => Code::WindowLength,
            CheckError::RollingMonths { .. } => Code::RollingMonths,
            CheckError::DrawsOnItself { .. } | CheckError::PoolDraws { .. } | CheckError::PoolNotCounted { .. } => {
                Code::InvalidPool
            }
            CheckError::ZeroDrawRate { .. } => Code::DrawRate,
            CheckError::DrawerSet { .. } => Code::DrawerValue,
            CheckError::SoftCapSeatMismatch { .. } => Code::SoftCapSeatMismatch,
            CheckError::ZeroMaxQuantity { .. } => Code::ZeroMaxQuantity,
            CheckError::InvalidDate { .. } => Code::InvalidDate,
            CheckError::LadderRepeatsTier { .. } => Code::LadderRepeatsTier,
            CheckError::SoftCapBelowLimit { .. } => Code::SoftCapBelowLimit,
            CheckError::NotAllowedHere { .. } => Code::NotAllowedHere,
            CheckError::MissingHeader | CheckError::DuplicateHeader | CheckError::HeaderNotFirst => Code::Header,
            CheckError::NameTooLong { .. }
            | CheckError::InheritanceTooDeep { .. }
            | CheckError::TableTooLarge { .. }
            | CheckError::TooManyDiagnostics { .. } => Code::InputLimit,
        }
    }

    pub(crate) fn at(self, span: Span) -> Diagnostic {
        Diagnostic::new(self.code(), span, self.to_string())
    }
}

/// A warning: the policy compiles, but probably does not say what its author meant.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub(crate) enum Lint {
    #[error("`{higher}` is above `{lower}` in the ladder but loses feature `{feature}` ({lower_access} in `{lower}`, {higher_access} in `{higher}`)")]
    LadderLosesFeature { lower: String, higher: String, feature: String, lower_access: String, higher_access: String },
    #[error(
        "`{higher}` is above `{lower}` in the ladder but lowers limit `{limit}` from {lower_value} to {higher_value}{seats}"
    )]
    LadderLowersLimit {
        lower: String,
        higher: String,
        limit: String,
        lower_value: String,
        higher_value: String,
        /// The seat counts at which it is lower, when per-seat values make it depend on them.
        seats: String,
    },
    #[error("`{higher}` is above `{lower}` in the ladder but weakens setting `{setting}` from {lower_value} to {higher_value}")]
    LadderWeakensSetting { lower: String, higher: String, setting: String, lower_value: String, higher_value: String },
    #[error("{what} repeats what `{parent}` already gives")]
    Redundant { what: String, parent: String },
    #[error("`{feature}` is not granted to `{tier}` by {giver}, so revoking it has no effect")]
    RevokeNotGranted { feature: String, tier: String, giver: String },
    #[error("feature `{name}` is granted by no tier or add-on")]
    UnusedFeature { name: String },
    #[error("limit `{name}` is set by no tier or add-on")]
    UnusedLimit { name: String },
    #[error("warn threshold `{warn}` of limit `{limit}` in `{tier}` is the limit itself, so only usage exactly at the limit is a warning")]
    WarnAtLimit { limit: String, tier: String, warn: String },
    #[error("`{what}` has no effect on limit `{limit}`, which is unlimited in `{tier}`")]
    NoEffectOnUnlimited { what: &'static str, limit: String, tier: String },
    #[error("{hidden} more warnings after the first {max} are not shown")]
    TooManyWarnings { hidden: usize, max: usize },
    #[error("`{higher}` is above `{lower}` in the ladder but denies usage of limit `{limit}` that `{lower}` allows{seats} (`{lower}`: {lower_ceiling}; `{higher}`: {higher_ceiling})")]
    LadderHardensLimit {
        lower: String,
        higher: String,
        limit: String,
        lower_ceiling: String,
        higher_ceiling: String,
        /// The seat counts at which it denies more, when per-seat values make it depend on them.
        seats: String,
    },
    #[error(
        "`{higher}` is above `{lower}` in the ladder but add-on `{addon}` attaches to `{lower}` and not to `{higher}`"
    )]
    LadderLosesAddon { lower: String, higher: String, addon: String },
    #[error("{what} in add-on `{addon}` changes nothing: {why}")]
    AddonNoEffect { what: String, addon: String, why: String },
    #[error("add-on `{addon}` may be held {times}, but it has no `+=` item, so a quantity above 1 changes nothing")]
    QuantityScalesNothing { addon: String, times: String },
}

impl Lint {
    pub(crate) fn code(&self) -> Code {
        match self {
            Lint::LadderLosesFeature { .. } => Code::LadderLosesFeature,
            Lint::LadderLowersLimit { .. } => Code::LadderLowersLimit,
            Lint::LadderWeakensSetting { .. } => Code::LadderWeakensSetting,
            Lint::Redundant { .. } => Code::Redundant,
            Lint::RevokeNotGranted { .. } => Code::RevokeNotGranted,
            Lint::UnusedFeature { .. } => Code::UnusedFeature,
            Lint::UnusedLimit { .. } => Code::UnusedLimit,
            Lint::WarnAtLimit { .. } => Code::WarnAtLimit,
            Lint::NoEffectOnUnlimited { .. } => Code::NoEffectOnUnlimited,
            Lint::TooManyWarnings { .. } => Code::TooManyWarnings,
            Lint::LadderHardensLimit { .. } => Code::LadderHardensLimit,
            Lint::LadderLosesAddon { .. } => Code::LadderLosesAddon,
            Lint::AddonNoEffect { .. } => Code::AddonNoEffect,
            Lint::QuantityScalesNothing { .. } => Code::QuantityScalesNothing,
        }
    }

    pub(crate) fn at(self, span: Span) -> Diagnostic {
        Diagnostic::new(self.code(), span, self.to_string())
    }
}
