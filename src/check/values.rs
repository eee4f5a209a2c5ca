//! Value typing: amounts, quantities with their units, percentages and setting values, each
//! checked against the type its limit or setting declares.

use super::errors::CheckError;
use super::Checker;
use crate::model::*;
use crate::source::Span;
use crate::syntax::ast;
use crate::units::{self, find_unit, NumberError, PercentError, UNITS};

impl Checker<'_> {
    pub(super) fn percentage(&mut self, percent: &ast::Percent) -> Option<Percentage> {
        match units::parse_percent(&percent.number) {
            Ok(p) => Some(p),
            Err(PercentError::AboveHundred) => {
                self.error(percent.span, CheckError::PercentAboveHundred { text: self.shown(&percent.number) });
                None
            }
            Err(PercentError::TooPrecise) => {
                self.error(percent.span, CheckError::PercentTooPrecise { text: self.shown(&percent.number) });
                None
            }
        }
    }

    /// Types a limit value: `unlimited` or a whole quantity of the limit's type.
    pub(super) fn amount(&mut self, value: &ast::Value, ty: QuantityType, target: Target<'_>) -> Option<Amount> {
        match &value.kind {
            ast::ValueKind::Unlimited => Some(Amount::Unlimited),
            ast::ValueKind::Quantity { number, unit } => {
                let n = self.quantity(number, unit.as_ref(), value.span, ty, target)?;
                self.finite_amount(n, number, unit.as_ref(), value.span).map(Amount::Finite)
            }
            _ => {
                self.mismatch(value, target, quantity_phrase(ty));
                None
            }
        }
    }

    /// `n`, unless it is 2^64 − 1: the engine answers with that number for `unlimited`, so a
    /// finite amount stops one below it.
    fn finite_amount(&mut self, n: u64, number: &str, unit: Option<&ast::Name>, span: Span) -> Option<u64> {
        if n < u64::MAX {
            return Some(n);
        }
        let text = self.shown(&match unit {
            Some(unit) => format!("{number} {}", unit.text),
            None => number.to_string(),
        });
        self.error_with_help(span, CheckError::AmountTooLarge { text }, Some("write `unlimited` for no bound".into()));
        None
    }

    /// Types an add-on's maximum quantity: a whole number of units held at once, or `unlimited`.
    /// A maximum of 0 is typed here and refused by the add-on's check, which names the add-on.
    pub(super) fn max_quantity(&mut self, value: &ast::Value, addon: &str) -> Option<Amount> {
        let target = Target::MaxQuantity(addon);
        match &value.kind {
            ast::ValueKind::Unlimited => Some(Amount::Unlimited),
            ast::ValueKind::Quantity { number, unit: None } => match units::parse_whole(number) {
                Ok(n) => self.finite_amount(n, number, None, value.span).map(Amount::Finite),
                Err(NumberError::Fractional) => {
                    self.mismatch(value, target, MAX_QUANTITY);
                    None
                }
                Err(NumberError::Overflow) => {
                    self.error(value.span, CheckError::QuantityOverflow { text: self.shown(number) });
                    None
                }
            },
            _ => {
                self.mismatch(value, target, MAX_QUANTITY);
                None
            }
        }
    }

    /// Types the length of a trial (`valid for`): a whole duration, or a whole number of
    /// months, the one place where `month` is a unit (a month has no fixed length, so it can
    /// only count calendar months from an instant). A length of 0 is refused here.
    pub(super) fn trial_length(&mut self, value: &ast::Value, addon: &str) -> Option<TrialLength> {
        let target = Target::Trial(addon);
        let ast::ValueKind::Quantity { number, unit: Some(unit) } = &value.kind else {
            self.mismatch(value, target, TRIAL_LENGTH);
            return None;
        };
        let written = self.shown(&format!("{number} {}", unit.text));
        let length = if matches!(unit.text.as_str(), "month" | "months") {
            match units::parse_whole(number) {
                Ok(n) => match u32::try_from(n) {
                    Ok(months) if months <= MAX_TRIAL_MONTHS => TrialLength::Months(months),
                    _ => {
                        let error = CheckError::TrialTooLong { text: written.clone(), max: "120_000 months" };
                        self.error(value.span, error);
                        return None;
                    }
                },
                Err(NumberError::Fractional) => {
                    let error = CheckError::TypeMismatch {
                        target: target.to_string(),
                        expected: "a whole number".into(),
                        found: format!("`{written}`"),
                    };
                    self.error_with_help(value.span, error, Some("write it in days, such as `45 days`".into()));
                    return None;
                }
                Err(NumberError::Overflow) => {
                    self.error(value.span, CheckError::TrialTooLong { text: written.clone(), max: "120_000 months" });
                    return None;
                }
            }
        } else {
            match find_unit(&unit.text) {
                None => {
                    let mut names: Vec<&str> =
                        UNITS.iter().filter(|u| u.ty == QuantityType::Duration).map(|u| u.name).collect();
                    names.extend(["month", "months"]);
                    self.unknown_word("unit", unit, &names);
                    return None;
                }
                Some(found) if found.ty != QuantityType::Duration => {
                    self.mismatch(value, target, TRIAL_LENGTH);
                    return None;
                }
                Some(_) => {}
            }
            let seconds = self.quantity(number, Some(unit), value.span, QuantityType::Duration, target)?;
            if i64::try_from(seconds).is_err() {
                let error = CheckError::TrialTooLong { text: written.clone(), max: "9_223_372_036_854_775_807 s" };
                self.error(value.span, error);
                return None;
            }
            TrialLength::Seconds(seconds)
        };
        if matches!(length, TrialLength::Seconds(0) | TrialLength::Months(0)) {
            let help = "write the trial's length, such as `valid for 14 days`, or remove `for`";
            self.error_with_help(value.span, CheckError::EmptyTrial { addon: self.shown(addon) }, Some(help.into()));
            return None;
        }
        Some(length)
    }

    /// Types a number with an optional unit as a whole quantity of `ty`, in base units.
    pub(super) fn quantity(
        &mut self,
        number: &str,
        unit: Option<&ast::Name>,
        span: Span,
        ty: QuantityType,
        target: Target<'_>,
    ) -> Option<u64> {
        // The number as written, for messages (cut to the name limit, as user words are);
        // built only when one is reported.
        let written = || {
            self.shown(&match unit {
                Some(unit) => format!("{number} {}", unit.text),
                None => number.to_string(),
            })
        };
        let n = match units::parse_whole(number) {
            Ok(n) => n,
            Err(NumberError::Fractional) => {
                let error = CheckError::TypeMismatch {
                    target: target.to_string(),
                    expected: "a whole number".into(),
                    found: format!("`{}`", written()),
                };
                let help = "write it in a smaller unit, such as `1536 MiB` for `1.5 GiB`";
                self.error_with_help(span, error, Some(help.into()));
                return None;
            }
            Err(NumberError::Overflow) => {
                self.error(span, CheckError::QuantityOverflow { text: written() });
                return None;
            }
        };
        let factor = match unit {
            None if ty == QuantityType::Count || n == 0 => 1,
            None => {
                let error = CheckError::TypeMismatch {
                    target: target.to_string(),
                    expected: quantity_phrase(ty).into(),
                    found: format!("`{}` (a plain number)", written()),
                };
                let example = if ty == QuantityType::Bytes { "`10 GiB`" } else { "`30 days`" };
                self.error_with_help(span, error, Some(format!("add a unit, as in {example}")));
                return None;
            }
            Some(unit_name) => match find_unit(&unit_name.text) {
                None => {
                    self.unknown_unit(unit_name, ty, target);
                    return None;
                }
                Some(unit) if unit.ty != ty || ty == QuantityType::Count => {
                    let error = CheckError::TypeMismatch {
                        target: target.to_string(),
                        expected: quantity_phrase(ty).into(),
                        found: format!("`{}` ({})", written(), quantity_phrase(unit.ty)),
                    };
                    self.error(span, error);
                    return None;
                }
                Some(unit) => unit.factor,
            },
        };
        match n.checked_mul(factor) {
            Some(total) => Some(total),
            None => {
                self.error(span, CheckError::QuantityOverflow { text: written() });
                None
            }
        }
    }

    /// Reports an unknown unit, with help drawn from the units of `ty`, the type the value
    /// takes: a unit of another type would only be the next error.
    fn unknown_unit(&mut self, unit: &ast::Name, ty: QuantityType, target: Target<'_>) {
        let names: Vec<&str> = UNITS.iter().filter(|u| u.ty == ty).map(|u| u.name).collect();
        // Unit names are case-sensitive, and the commonest slip is the case (`gib`, `gb`):
        // the spelling that differs only in case comes before the nearest one.
        if let Some(name) = names.iter().find(|name| name.eq_ignore_ascii_case(&unit.text)) {
            let help = format!("did you mean `{name}`? unit names are case-sensitive");
            self.unknown_word_with_help("unit", unit, help);
        } else if matches!(unit.text.as_str(), "month" | "months") && ty == QuantityType::Duration {
            // A month has no fixed length; only a trial counts calendar months.
            let help = "a month has no fixed length, so `month` is a unit only of `valid for`; write `30 days`";
            self.unknown_word_with_help("unit", unit, help.into());
        } else if names.is_empty() {
            let help = format!("{target} takes a plain number, without a unit");
            self.unknown_word_with_help("unit", unit, help);
        } else {
            self.unknown_word("unit", unit, &names);
        }
    }

    pub(super) fn setting_value(&mut self, value: &ast::Value, setting: usize, name: &str) -> Option<SettingValue> {
        let ty = (*self.setting_types.get(setting)?)?;
        let target = Target::Setting(name);
        match (ty, &value.kind) {
            (SettingType::String, ast::ValueKind::Str(text)) => Some(SettingValue::Text(text.as_str().into())),
            (SettingType::Percent, ast::ValueKind::Percent(p)) => self.percentage(p).map(SettingValue::Percent),
            (SettingType::Number, ast::ValueKind::Quantity { number, unit }) => {
                self.quantity(number, unit.as_ref(), value.span, QuantityType::Count, target).map(SettingValue::Number)
            }
            (SettingType::Duration, ast::ValueKind::Quantity { number, unit }) => self
                .quantity(number, unit.as_ref(), value.span, QuantityType::Duration, target)
                .map(SettingValue::Duration),
            (SettingType::Bytes, ast::ValueKind::Quantity { number, unit }) => {
                self.quantity(number, unit.as_ref(), value.span, QuantityType::Bytes, target).map(SettingValue::Bytes)
            }
            (ty, _) => {
                let expected = match ty {
                    SettingType::Number => "a plain number",
                    SettingType::Percent => "a percentage",
                    SettingType::Duration => quantity_phrase(QuantityType::Duration),
                    SettingType::Bytes => quantity_phrase(QuantityType::Bytes),
                    SettingType::String => "a string",
                };
                self.mismatch(value, target, expected);
                None
            }
        }
    }

    pub(super) fn mismatch(&mut self, value: &ast::Value, target: Target<'_>, expected: &str) {
        let found = match &value.kind {
            ast::ValueKind::Unlimited => "`unlimited`".to_string(),
            ast::ValueKind::Percent(p) => format!("`{}%` (a percentage)", p.number),
            ast::ValueKind::Str(_) => "a string".to_string(),
            ast::ValueKind::Quantity { number, unit: None } => {
                format!("`{number}` (a plain number)")
            }
            ast::ValueKind::Quantity { number, unit: Some(unit) } => {
                let what = find_unit(&unit.text).map_or("a quantity", |u| quantity_phrase(u.ty));
                format!("`{number} {}` ({what})", unit.text)
            }
        };
        let error = CheckError::TypeMismatch { target: target.to_string(), expected: expected.into(), found };
        self.error(value.span, error);
    }
}

/// What a value is given for, as type errors name it; written out only when one is reported,
/// since every limit and setting line of a policy passes one.
#[derive(Clone, Copy)]
pub(super) enum Target<'a> {
    /// The value of the limit so named.
    Limit(&'a str),
    /// The soft cap of the limit so named.
    SoftCap(&'a str),
    /// The value of the setting so named.
    Setting(&'a str),
    /// The maximum quantity of the add-on so named.
    MaxQuantity(&'a str),
    /// The trial length of the add-on so named.
    Trial(&'a str),
    /// The draw rate of the limit so named.
    DrawRate(&'a str),
    /// What the draw rate of the limit so named is for (after `per`).
    DrawPer(&'a str),
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Limit(name) => write!(f, "limit `{name}`"),
            Target::SoftCap(name) => write!(f, "the soft cap of `{name}`"),
            Target::Setting(name) => write!(f, "setting `{name}`"),
            Target::MaxQuantity(name) => write!(f, "the maximum quantity of add-on `{name}`"),
            Target::Trial(name) => write!(f, "the trial length of add-on `{name}`"),
            Target::DrawRate(name) => write!(f, "the draw rate of `{name}`"),
            Target::DrawPer(name) => write!(f, "the `per` of the draw rate of `{name}`"),
        }
    }
}

/// What a maximum quantity takes, as type errors say it.
const MAX_QUANTITY: &str = "a whole number or `unlimited`";

/// What a trial length takes, as type errors say it.
const TRIAL_LENGTH: &str = "a duration or a number of months";

/// The longest trial in months: ten thousand years, the span of the dates the language reads.
const MAX_TRIAL_MONTHS: u32 = 120_000;

pub(super) fn quantity_phrase(ty: QuantityType) -> &'static str {
    match ty {
        QuantityType::Count => "a plain number",
        QuantityType::Bytes => "a size in bytes",
        QuantityType::Duration => "a duration",
    }
}

#[cfg(test)]
mod tests {
    use crate::limits::Limits;
    use crate::source::Source;
    use crate::units::UNITS;

    /// Every E010 message shows the unknown word cut to the name limit, whatever the place
    /// that takes the word: a unit, a window or a limit type.
    #[test]
    fn an_unknown_word_of_megabytes_makes_a_short_message() {
        let huge = "x".repeat(1 << 20);
        let text = format!(
            "policy \"p\"\nlimit storage : bytes\nlimit calls : count per {huge}\nlimit seats : {huge}\n\
             tier t {{ limit storage = 5 {huge} }}\n"
        );
        let diagnostics = crate::check(&Source::new("p", text.as_str())).expect_err("unknown words");
        let max = Limits::default().name_bytes;
        let unknown: Vec<_> = diagnostics.iter().filter(|d| d.code.as_str() == "E010").collect();
        let lengths: Vec<usize> = unknown.iter().map(|d| d.message.len()).collect();
        assert_eq!(unknown.len(), 3, "messages of {lengths:?} bytes");
        for diagnostic in unknown {
            let cut = format!("`{}…`", "x".repeat(max));
            assert!(diagnostic.message.contains(&cut), "{}", diagnostic.message);
            assert!(diagnostic.message.len() < max + 40, "a {}-byte message", diagnostic.message.len());
        }
    }

    /// The language reference's table of units names every unit word the checker accepts,
    /// under the type it measures.
    #[test]
    fn the_language_reference_lists_every_unit() {
        let doc = include_str!("../../docs/language.md");
        let section = doc.split("\n### Units\n").nth(1).expect("a units section");
        let section = section.split("\n### ").next().unwrap_or("");
        for unit in UNITS {
            let row = format!("| `{}` |", unit.ty.as_str());
            let word = format!("`{}`", unit.name);
            let listed = section.lines().any(|line| line.starts_with(&row) && line.contains(&word));
            assert!(listed, "the units table lists no {} unit `{}`", unit.ty.as_str(), unit.name);
        }
    }
}
