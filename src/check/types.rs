//! Type words: the type and window of a limit, and the type and preference of a setting.

use super::errors::CheckError;
use super::Checker;
use crate::diagnostic::did_you_mean;
use crate::model::*;
use crate::syntax::ast;

impl Checker<'_> {
    /// Reports `word` as an unknown `what`, with the nearest of `options` as help when one is
    /// close, and otherwise the list of them all.
    pub(super) fn unknown_word(&mut self, what: &'static str, word: &ast::Name, options: &[&str]) {
        let help = did_you_mean(&word.text, options.iter().copied()).unwrap_or_else(|| {
            format!("expected one of {}", options.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", "))
        });
        self.unknown_word_with_help(what, word, help);
    }

    /// Reports `word` as an unknown `what`, with `help`. The message shows the word cut as
    /// names are, so that a word of megabytes makes a short message.
    pub(super) fn unknown_word_with_help(&mut self, what: &'static str, word: &ast::Name, help: String) {
        let error = CheckError::UnknownWord { what, word: self.shown(&word.text) };
        self.error_with_help(word.span, error, Some(help));
    }

    pub(super) fn limit_type(&mut self, decl: &ast::LimitDecl) -> Option<(QuantityType, LimitKind)> {
        let types = [QuantityType::Count, QuantityType::Bytes, QuantityType::Duration];
        let ty = types.into_iter().find(|t| t.as_str() == decl.ty.text);
        if ty.is_none() {
            self.unknown_word("limit type", &decl.ty, &types.map(QuantityType::as_str));
        }
        let kind = match &decl.kind {
            ast::LimitKind::Cap => Some(LimitKind::Cap),
            ast::LimitKind::Gauge(_) => Some(LimitKind::Gauge),
            ast::LimitKind::Per(word) => {
                let window = Window::ALL.into_iter().find(|w| w.as_str() == word.text);
                if window.is_none() {
                    self.unknown_word("window", word, &Window::ALL.map(Window::as_str));
                }
                window.map(|unit| LimitKind::Counter(Period::one(unit)))
            }
            ast::LimitKind::Every(length) => self.period(length).map(LimitKind::Counter),
            ast::LimitKind::RollingPer(keyword, word) => {
                let length = ast::Value {
                    kind: ast::ValueKind::Quantity { number: "1".into(), unit: Some(word.clone()) },
                    span: word.span,
                };
                self.rolling(*keyword, &length)
            }
            ast::LimitKind::RollingEvery(keyword, length) => self.rolling(*keyword, length),
            // A drawing limit is measured as its pool is: `pools.rs` gives it the pool's kind
            // once every limit is known.
            ast::LimitKind::Draws(_) => Some(LimitKind::Cap),
        };
        Some((ty?, kind?))
    }

    /// Types `rolling N UNITS` as `per N UNITS` is typed, for units of a fixed length: a
    /// month's length varies, so a window trailing by months would have none.
    fn rolling(&mut self, keyword: crate::source::Span, length: &ast::Value) -> Option<LimitKind> {
        let period = self.period(length)?;
        if period.unit == Window::Month {
            let error = CheckError::RollingMonths { text: self.shown(&period.to_string()) };
            let help =
                "write the length in days or weeks, such as `rolling 30 days`, or count per month with `per month`";
            self.error_with_help(crate::source::Span::new(keyword.start, length.span.end), error, Some(help.into()));
            return None;
        }
        Some(LimitKind::Rolling(period))
    }

    /// Types `per N UNITS`: a whole number of 1 to [`Period::MAX_EVERY`] window units, the
    /// unit singular or plural (`per 1 hour`, `per 5 hours`).
    fn period(&mut self, length: &ast::Value) -> Option<Period> {
        let (number, unit) = match &length.kind {
            ast::ValueKind::Quantity { number, unit: Some(unit) } => (number, unit),
            other => {
                let written = match other {
                    ast::ValueKind::Percent(p) => format!("{}%", p.number),
                    ast::ValueKind::Quantity { number, .. } => number.clone(),
                    _ => String::new(),
                };
                let error = CheckError::TypeMismatch {
                    target: "a window".into(),
                    expected: "a number of window units".into(),
                    found: format!("`{}`", self.shown(&written)),
                };
                self.error_with_help(length.span, error, Some("write it such as `per 5 hours`".into()));
                return None;
            }
        };
        let Some(window) = Window::from_word(&unit.text) else {
            let words: Vec<&str> = Window::ALL.into_iter().flat_map(|w| [w.as_str(), w.plural()]).collect();
            self.unknown_word("window", unit, &words);
            return None;
        };
        let every = crate::units::parse_whole(number).ok().and_then(|n| u16::try_from(n).ok());
        match every {
            Some(every @ 1..=Period::MAX_EVERY) => Some(Period { every, unit: window }),
            _ => {
                let text = self.shown(&format!("{number} {}", unit.text));
                let error = CheckError::WindowLength { text, max: "10_000" };
                let help = "a window lasts a whole number of units, such as `per 5 hours` or `per 3 months`";
                self.error_with_help(length.span, error, Some(help.into()));
                None
            }
        }
    }

    pub(super) fn setting_type(&mut self, decl: &ast::SettingDecl) -> Option<(SettingType, Option<Preference>)> {
        let types =
            [SettingType::Number, SettingType::Percent, SettingType::Duration, SettingType::Bytes, SettingType::String];
        let ty = types.into_iter().find(|t| t.as_str() == decl.ty.text);
        if ty.is_none() {
            self.unknown_word("setting type", &decl.ty, &types.map(SettingType::as_str));
        }
        let prefer = match &decl.prefer {
            None => None,
            Some(word) => match word.text.as_str() {
                "higher" => Some(Preference::Higher),
                "lower" => Some(Preference::Lower),
                _ => {
                    self.unknown_word("preference", word, &["higher", "lower"]);
                    return None;
                }
            },
        };
        let ty = ty?;
        if ty == SettingType::String {
            if let Some(word) = &decl.prefer {
                let error = CheckError::NotAllowedHere { what: "`prefer`", block: "a string setting".into() };
                self.error_with_help(word.span, error, Some("text values are not ordered".into()));
            }
            return Some((ty, None));
        }
        // Ordered settings default to "higher is better"; see docs/language.md.
        Some((ty, Some(prefer.unwrap_or(Preference::Higher))))
    }
}
