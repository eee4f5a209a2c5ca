//! What can be wrong with an override record, as structured findings that become
//! [`Diagnostic`]s with the policy checker's codes where the fault is the same kind.

use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;

/// One problem with an override record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OverrideError {
    #[error("line {line} is not an override record: {why}")]
    Malformed { line: u32, why: String },
    #[error("the record names no subject")]
    NoSubject,
    #[error("the record names {count} of `feature`, `limit` and `setting`; it changes exactly one")]
    Targets { count: usize },
    #[error("unknown feature `{name}`")]
    UnknownFeature { name: String },
    #[error("limit `{name}` draws on `{pool}`, so a record cannot set it")]
    DrawerRecord { name: String, pool: String },
    #[error("unknown limit `{name}`")]
    UnknownLimit { name: String },
    #[error("unknown setting `{name}`")]
    UnknownSetting { name: String },
    #[error("`{op}` is not an operator for a {kind}; use {allowed}")]
    BadOp { op: String, kind: &'static str, allowed: &'static str },
    #[error("a {kind} record takes no `{field}`")]
    Unwanted { field: &'static str, kind: &'static str },
    #[error("the record for `{name}` has no `value`")]
    MissingValue { name: String },
    #[error("`{text}` is not {expected} for `{name}`")]
    WrongValue { text: String, name: String, expected: String },
    #[error("`{text}` is larger than the largest amount, 18_446_744_073_709_551_614")]
    Overflow { text: String },
    #[error("`{text}` is not a percentage from 0% to 100% with at most four decimals")]
    Percent { text: String },
    #[error("`per_seat` is not allowed on `{name}`: {why}")]
    PerSeat { name: String, why: &'static str },
    #[error("the record is valid from `{from}`, which is not before `{until}`")]
    EmptyValidity { from: String, until: String },
    #[error("`{text}` is not an instant")]
    Instant { text: String },
    #[error("subject `{subject}` has two records for `{name}` that both apply from `{at}`")]
    Overlap { subject: String, name: String, at: String },
    #[error("subject `{subject}` has more than {max} records")]
    TooManyForSubject { subject: String, max: usize },
    #[error("the set has more than {max} records")]
    TooMany { max: usize },
    #[error("{hidden} more errors are not shown (at most {max} are reported)")]
    TooManyDiagnostics { hidden: usize, max: usize },
}

impl OverrideError {
    /// The stable code of the finding.
    pub(crate) fn code(&self) -> Code {
        match self {
            OverrideError::Malformed { .. }
            | OverrideError::NoSubject
            | OverrideError::Targets { .. }
            | OverrideError::BadOp { .. }
            | OverrideError::Unwanted { .. }
            | OverrideError::MissingValue { .. } => Code::OverrideRecord,
            OverrideError::UnknownFeature { .. } => Code::UnknownFeature,
            OverrideError::UnknownLimit { .. } => Code::UnknownLimit,
            OverrideError::DrawerRecord { .. } => Code::DrawerValue,
            OverrideError::UnknownSetting { .. } => Code::UnknownSetting,
            OverrideError::WrongValue { .. } => Code::TypeMismatch,
            OverrideError::Overflow { .. } => Code::QuantityOverflow,
            OverrideError::Percent { .. } => Code::PercentOutOfRange,
            OverrideError::PerSeat { .. } => Code::PerSeatNotAllowed,
            OverrideError::EmptyValidity { .. } => Code::EmptyValidity,
            OverrideError::Instant { .. } => Code::InvalidDate,
            OverrideError::Overlap { .. } => Code::OverrideOverlap,
            OverrideError::TooManyForSubject { .. }
            | OverrideError::TooMany { .. }
            | OverrideError::TooManyDiagnostics { .. } => Code::InputLimit,
        }
    }

    /// The finding as a diagnostic at `span`.
    pub(crate) fn at(self, span: Span) -> Diagnostic {
        Diagnostic::new(self.code(), span, self.to_string())
    }
}
