//! The one diagnostic type every stage reports through, and its stable codes.
//!
//! Each stage has its own error enum (`syntax::SyntaxError`, `check::CheckError`,
//! `check::Lint`) holding the structured facts; each converts into a [`Diagnostic`], which is
//! plain data. Turning diagnostics into text is the job of [`crate::render`], not of this module.

use std::fmt;

use crate::source::{LineCol, Source, Span};

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Severity {
    /// The policy means something its author probably did not intend, but it can be compiled.
    Warning = 1,
    /// The policy cannot be compiled.
    Error = 2,
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
    /// `per seat` where it has no meaning: a duration cap or gauge, or `unlimited`.
    PerSeatNotAllowed = "E020", Error;
    /// A soft cap that is per seat when its limit is not, or the reverse.
    SoftCapSeatMismatch = "E021", Error;
    /// An add-on whose maximum quantity is 0, so that it can never be held.
    ZeroMaxQuantity = "E022", Error;
    /// An override record that is not a JSON object of the documented fields, or whose fields
    /// do not fit together (an operator its kind does not take, a missing value).
    OverrideRecord = "E023", Error;
    /// Two override records of one subject for the same feature, limit or setting whose
    /// validity windows overlap, so that which one applies would be unclear.
    OverrideOverlap = "E024", Error;
    /// A counter window of 0 units, of a fractional number of units, or of more units than
    /// a window may last (`per 0 hours`, `per 1.5 days`, `per 20_000 months`).
    WindowLength = "E025", Error;
    /// A limit that draws on itself, on a limit that itself draws, or on one that is not a
    /// `count` counter or cap.
    InvalidPool = "E026", Error;
    /// A draw rate of 0, or a rate per 0 units.
    DrawRate = "E027", Error;
    /// A tier, add-on or override record that gives a value to a limit which draws on a
    /// pool: its allowance is its pool's.
    DrawerValue = "E028", Error;
    /// A rolling window counted in months, whose length varies from month to month.
    RollingMonths = "E029", Error;
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
    /// A warn threshold at the limit itself, reached only by usage exactly at the limit.
    WarnAtLimit = "W008", Warning;
    /// `soft` or `warn at` on an unlimited limit, where they can never apply.
    NoEffectOnUnlimited = "W009", Warning;
    /// More warnings than are reported for one file; the rest are counted, not shown.
    TooManyWarnings = "W010", Warning;
    /// A ladder step up whose limit denies usage the step below allows (a soft cap that
    /// becomes hard, or a lower ceiling).
    LadderHardensLimit = "W011", Warning;
    /// A ladder step up that an add-on of the step below does not attach to.
    LadderLosesAddon = "W012", Warning;
    /// An add-on item that changes nothing for any tier the add-on attaches to.
    AddonNoEffect = "W013", Warning;
    /// An add-on that may be held more than once but has no `+=` item, so a quantity above 1
    /// changes nothing.
    QuantityScalesNothing = "W014", Warning;
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secondary location that explains a diagnostic, such as where a name was first declared.
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    pub(crate) code: Code,
    pub(crate) message: String,
    pub(crate) span: Span,
    pub(crate) help: Option<String>,
    pub(crate) labels: Vec<Label>,
}

impl Diagnostic {
    /// A diagnostic with no help and no labels.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { code, message: message.into(), span, help: None, labels: Vec::new() }
    }

    /// The stable code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// Error or warning: always the code's [`Code::severity`].
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    /// The one-line message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The primary location.
    pub fn span(&self) -> Span {
        self.span
    }

    /// A suggestion, such as "did you mean `hd_video`?".
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// Other places that explain this one.
    pub fn labels(&self) -> &[Label] {
        &self.labels
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
        self.severity() == Severity::Error
    }
}

/// The diagnostics of a policy that did not check: at least one error, plus every warning,
/// in source order, with where each starts.
///
/// This is the error of [`crate::check`] and [`crate::Engine::from_source`]. Its `Display` is
/// one line naming the first error's `file:line:col`; its `Debug` (what `?` in `main` prints)
/// lists every diagnostic that way; [`crate::render`] draws each with its source line.
///
/// ```
/// let error = entitle::Engine::from_source("p.policy", "policy \"p\"\ntier free { grant a, b }\n").unwrap_err();
/// assert_eq!(error.to_string(), "p.policy:2:19: error[E004]: unknown feature `a` (and 1 more error)");
/// assert_eq!(error.errors().count(), 2);
/// assert_eq!(error.iter().next().map(|d| d.code().as_str()), Some("E004"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Diagnostics {
    file: String,
    list: Vec<Diagnostic>,
    /// Where each diagnostic in `list` starts, at the same position.
    starts: Vec<LineCol>,
}

impl Diagnostics {
    pub(crate) fn new(source: &Source, list: Vec<Diagnostic>) -> Diagnostics {
        let starts = list.iter().map(|d| source.location(d.span)).collect();
        Diagnostics { file: source.name().to_string(), list, starts }
    }

    /// The display name of the policy the diagnostics are about.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Every diagnostic, in source order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.list.iter()
    }

    /// Every diagnostic with the line and column where it starts.
    pub fn located(&self) -> impl Iterator<Item = (&Diagnostic, LineCol)> {
        self.list.iter().zip(self.starts.iter().copied())
    }

    /// The errors, in source order.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter().filter(|d| d.is_error())
    }

    /// The warnings, in source order.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter().filter(|d| !d.is_error())
    }

    /// How many diagnostics there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none (never, for a policy that failed to check).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The number of errors.
    pub fn error_count(&self) -> usize {
        self.errors().count()
    }

    /// The number of warnings.
    pub fn warning_count(&self) -> usize {
        self.warnings().count()
    }

    /// The diagnostics, as a vector.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.list
    }

    fn write_one(&self, f: &mut fmt::Formatter<'_>, diagnostic: &Diagnostic, at: LineCol) -> fmt::Result {
        let (severity, code, message) = (diagnostic.severity(), diagnostic.code, &diagnostic.message);
        write!(f, "{}:{}:{}: {severity}[{code}]: {message}", self.file, at.line, at.column)
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((first, at)) = self.located().find(|(d, _)| d.is_error()) else {
            return write!(f, "{}: {} warnings", self.file, self.list.len());
        };
        self.write_one(f, first, at)?;
        match self.error_count() - 1 {
            0 => Ok(()),
            1 => write!(f, " (and 1 more error)"),
            more => write!(f, " (and {more} more errors)"),
        }
    }
}

/// Every diagnostic on its own line, as `file:line:col: error[E004]: message`: what a `?` in
/// `main` prints.
impl fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (diagnostic, at)) in self.located().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            self.write_one(f, diagnostic, at)?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The longest name, in characters, for which a suggestion is looked for.
const MAX_SUGGESTED_CHARS: usize = 256;

/// The name in `candidates` closest to `wanted`, if it is close enough to be a likely typo.
///
/// Used for the "did you mean" help on unknown names.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Allow about one edit per three characters: enough for transpositions and a dropped
    // letter, not so much that unrelated short names are suggested.
    let length = wanted.chars().count();
    let budget = (length / 3).max(1);
    // Names past this length are never typos of a declared name (names are capped far below
    // it), and an edit table for them would cost their length squared.
    if length > MAX_SUGGESTED_CHARS {
        return None;
    }
    candidates
        .into_iter()
        // Lengths further apart than the budget cannot be within it: skip the table.
        .filter(|candidate| candidate.len().abs_diff(wanted.len()) <= budget * 4)
        .filter(|candidate| candidate.chars().count().abs_diff(length) <= budget)
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
/// commonest typo (`hd_vidoe`). Keeps three rows of the table, so memory is linear in `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // `before` is row i-2, `previous` row i-1, `current` row i; column j is the distance
    // between the first i characters of `a` and the first j of `b`.
    let mut before: Vec<usize> = Vec::new();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut last_a: Option<char> = None;
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, &cb) in b.iter().enumerate() {
            let at = |row: &[usize], col: usize| row.get(col).copied().unwrap_or(usize::MAX - 1);
            let cost = usize::from(ca != cb);
            let mut best = (at(&previous, j + 1) + 1).min(at(&current, j) + 1).min(at(&previous, j) + cost);
            let swapped = j > 0 && last_a == Some(cb) && b.get(j - 1) == Some(&ca);
            if swapped {
                best = best.min(at(&before, j - 1) + 1);
            }
            current.push(best);
        }
        before = std::mem::replace(&mut previous, current);
        last_a = Some(ca);
    }
    previous.last().copied().unwrap_or(0)
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
