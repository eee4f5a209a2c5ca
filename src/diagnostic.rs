//! The one diagnostic type every stage reports through, and its stable codes.
//!
//! Each stage has its own error enum (`syntax::SyntaxError`, `check::CheckError`,
//! `check::Lint`) holding the structured facts; each converts into a [`Diagnostic`], which is
//! plain data. Turning diagnostics into text is the job of [`crate::render`], not of this module.

use std::fmt;

use serde::Serialize;

use crate::source::Span;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policy means something its author probably did not intend, but it can be compiled.
    Warning,
    /// The policy cannot be compiled.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $text:literal, $severity:ident;)*) => {
        /// A stable diagnostic code. Codes are never reused or renumbered; `docs/diagnostics.md`
        /// shows a bad and a fixed example for each.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as written in output, such as `E004`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $text,)* }
            }

            /// Whether the code is an error or a warning; fixed per code.
            pub const fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }
        }
    };
}

codes! {
    /// The text does not follow the grammar.
    Syntax = "E001", Error;
    /// Two declarations of the same kind share a name.
    DuplicateDeclaration = "E002", Error;
    /// One block names the same thing twice, or grants and revokes it.
    DuplicateEntry = "E003", Error;
    /// A feature name that no `feature` declares.
    UnknownFeature = "E004", Error;
    /// A limit name that no `limit` declares.
    UnknownLimit = "E005", Error;
    /// A setting name that no `setting` declares.
    UnknownSetting = "E006", Error;
    /// A tier name that no `tier` declares.
    UnknownTier = "E007", Error;
    /// Tiers that extend each other in a circle.
    InheritanceCycle = "E008", Error;
    /// A value of the wrong kind for where it stands, such as a duration for a bytes limit.
    TypeMismatch = "E009", Error;
    /// A unit, type, window or preference word the language does not know.
    UnknownWord = "E010", Error;
    /// A percentage below 0%, above 100%, or with more than four decimal places.
    PercentOutOfRange = "E011", Error;
    /// A quantity that does not fit in an unsigned 64-bit integer.
    QuantityOverflow = "E012", Error;
    /// A `valid` window whose start is not before its end.
    EmptyValidity = "E013", Error;
    /// A date that does not exist, such as `2026-02-30`.
    InvalidDate = "E014", Error;
    /// A ladder that names a tier more than once.
    LadderRepeatsTier = "E015", Error;
    /// A soft cap below the limit it extends.
    SoftCapBelowLimit = "E016", Error;
    /// An item that is valid syntax but not allowed in this kind of block.
    NotAllowedHere = "E017", Error;
    /// The `policy` header is missing, repeated, or not first.
    Header = "E018", Error;
    /// The input passes a documented size limit.
    InputLimit = "E019", Error;
    /// A ladder step up that loses a feature.
    LadderLosesFeature = "W001", Warning;
    /// A ladder step up that lowers a limit.
    LadderLowersLimit = "W002", Warning;
    /// A ladder step up that weakens or drops a setting.
    LadderWeakensSetting = "W003", Warning;
    /// A grant, limit or setting that repeats what the parent tier already gives.
    Redundant = "W004", Warning;
    /// A `revoke` of a feature the tier would not have anyway.
    RevokeNotGranted = "W005", Warning;
    /// A feature that no tier or add-on grants.
    UnusedFeature = "W006", Warning;
    /// A limit that no tier or add-on sets.
    UnusedLimit = "W007", Warning;
    /// A warn threshold at or past the point where requests are denied.
    WarnPastCap = "W008", Warning;
    /// `soft` or `warn at` on an unlimited limit, where they can never apply.
    NoEffectOnUnlimited = "W009", Warning;
    /// More warnings than are reported for one file; the rest are counted, not shown.
    TooManyWarnings = "W010", Warning;
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A secondary location that explains a diagnostic, such as where a name was first declared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What is there, as a lowercase phrase.
    pub message: String,
}

/// One finding about a policy: what, where, and how to fix it.
///
/// The message is one lowercase line with user input in backticks; `help` is an optional
/// suggestion. The severity is a function of the code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Diagnostic {
    /// The stable code.
    pub code: Code,
    /// Error or warning; always `code.severity()`.
    pub severity: Severity,
    /// The one-line message.
    pub message: String,
    /// The primary location.
    pub span: Span,
    /// A suggestion, such as "did you mean `hd_video`?".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Other places that explain this one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
}

impl Diagnostic {
    /// A diagnostic with no help and no labels.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { code, severity: code.severity(), message: message.into(), span, help: None, labels: Vec::new() }
    }

    /// Adds a suggestion.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a suggestion if there is one.
    pub fn with_optional_help(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    /// Adds a secondary location.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into() });
        self
    }

    /// Whether this is an error (as opposed to a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The diagnostics of a policy that did not check: at least one error, plus every warning.
///
/// This is the error type of [`crate::check`]; its `Display` is a one-line summary, and
/// [`crate::render`] turns the whole list into text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// The number of errors.
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    /// The number of warnings.
    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.error_count();
        write!(f, "policy has {errors} error{}", if errors == 1 { "" } else { "s" })?;
        if let Some(first) = self.0.iter().find(|d| d.is_error()) {
            write!(f, "; first: {}: {}", first.code, first.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The name in `candidates` closest to `wanted`, if it is close enough to be a likely typo.
///
/// Used for the "did you mean" help on unknown names.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Allow about one edit per three characters: enough for transpositions and a dropped
    // letter, not so much that unrelated short names are suggested.
    let budget = (wanted.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(wanted, candidate), candidate))
        .filter(|&(distance, _)| distance <= budget)
        .min_by_key(|&(distance, candidate)| (distance, candidate))
        .map(|(_, candidate)| candidate)
}

/// "did you mean `x`?" for the closest candidate, if any.
pub(crate) fn did_you_mean<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(wanted, candidates).map(|name| format!("did you mean `{name}`?"))
}

/// Optimal-string-alignment distance: Levenshtein plus adjacent transpositions, which are the
/// commonest typo (`hd_vidoe`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Names are capped at a few hundred characters by the checker, so the table stays small.
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_severity_matches_prefix() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            let expected = if code.as_str().starts_with('E') { Severity::Error } else { Severity::Warning };
            assert_eq!(code.severity(), expected, "{code}");
        }
    }

    #[test]
    fn suggestions_catch_typos_but_not_strangers() {
        let names = ["hd_video", "read_receipts", "e2e_encryption"];
        assert_eq!(closest("hd_vidoe", names), Some("hd_video"));
        assert_eq!(closest("read_reciepts", names), Some("read_receipts"));
        assert_eq!(closest("storage", names), None);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
