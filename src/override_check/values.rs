//! The values of override records: a limit's amount, a setting's value, an instant, each
//! read from what a record writes and checked against the type the policy declares.

use crate::model::{SettingType, SettingValue};
use crate::tables::{MAX_FINITE, UNLIMITED};
use crate::units::{find_unit, parse_percent, QuantityType};

use super::errors::OverrideError;

/// A value as a record gives it: a JSON number, or text written as in a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// A whole number, in base units.
    Number(u64),
    /// Text: `2_000_000`, `50 GiB`, `3 days`, `99.9%`, `unlimited`, or a setting's text.
    Text(String),
}

impl Written {
    /// The value as written, for messages.
    pub(crate) fn shown(&self) -> String {
        match self {
            Written::Number(n) => n.to_string(),
            Written::Text(text) => text.clone(),
        }
    }
}

/// A whole number as the language writes it (`2_000_000`), or `None` if it is not one.
fn whole(text: &str) -> Option<Result<u64, OverrideError>> {
    let first = text.bytes().next()?;
    if !first.is_ascii_digit() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    let mut value: u64 = 0;
    for digit in text.bytes().filter(u8::is_ascii_digit) {
        match value.checked_mul(10).and_then(|v| v.checked_add(u64::from(digit - b'0'))) {
            Some(next) => value = next,
            None => return Some(Err(OverrideError::Overflow { text: text.to_string() })),
        }
    }
    Some(Ok(value))
}

/// A quantity of type `ty` written as text: a number and, for bytes and durations, a unit
/// (a bare number is in base units); `None` when the text is not a quantity of that type.
fn quantity(text: &str, ty: QuantityType) -> Option<Result<u64, OverrideError>> {
    let mut words = text.split_whitespace();
    let number = whole(words.next()?)?;
    let factor = match (words.next(), words.next()) {
        (None, _) => 1,
        (Some(unit), None) => {
            let unit = find_unit(unit)?;
            if unit.ty != ty {
                return None;
            }
            unit.factor
        }
        (Some(_), Some(_)) => return None,
    };
    Some(number.and_then(|n| n.checked_mul(factor).ok_or_else(|| OverrideError::Overflow { text: text.to_string() })))
}

/// A limit's amount: a number in base units, a quantity of the limit's type, or `unlimited`;
/// `u64::MAX` stands for unlimited, and finite amounts above the largest a record holds are
/// refused as too large.
pub(crate) fn limit_amount(written: &Written, ty: QuantityType, name: &str) -> Result<u64, OverrideError> {
    let wrong = || OverrideError::WrongValue {
        text: written.shown(),
        name: name.to_string(),
        expected: format!("a {} amount", ty.as_str()),
    };
    let value = match written {
        Written::Number(n) => *n,
        Written::Text(text) if text.trim() == "unlimited" => return Ok(UNLIMITED),
        Written::Text(text) => quantity(text.trim(), ty).ok_or_else(wrong)??,
    };
    if value > MAX_FINITE {
        return Err(OverrideError::Overflow { text: written.shown() });
    }
    Ok(value)
}

/// A setting's value of type `ty`.
pub(crate) fn setting_value(written: &Written, ty: SettingType, name: &str) -> Result<SettingValue, OverrideError> {
    let wrong = || OverrideError::WrongValue {
        text: written.shown(),
        name: name.to_string(),
        expected: format!("a {} value", ty.as_str()),
    };
    let text = match written {
        Written::Number(n) => match ty {
            SettingType::Number => return Ok(SettingValue::Number(*n)),
            SettingType::Duration => return Ok(SettingValue::Duration(*n)),
            SettingType::Bytes => return Ok(SettingValue::Bytes(*n)),
            SettingType::Percent | SettingType::String => return Err(wrong()),
        },
        Written::Text(text) => text,
    };
    match ty {
        SettingType::String => Ok(SettingValue::Text(text.as_str().into())),
        SettingType::Number => whole(text.trim()).ok_or_else(wrong)?.map(SettingValue::Number),
        SettingType::Duration => {
            quantity(text.trim(), QuantityType::Duration).ok_or_else(wrong)?.map(SettingValue::Duration)
        }
        SettingType::Bytes => quantity(text.trim(), QuantityType::Bytes).ok_or_else(wrong)?.map(SettingValue::Bytes),
        SettingType::Percent => {
            let trimmed = text.trim();
            if !trimmed.ends_with('%') {
                return Err(wrong());
            }
            parse_percent(trimmed).map(SettingValue::Percent).map_err(|_| OverrideError::Percent { text: text.clone() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_keep_to_their_type() {
        let text = |t: &str| Written::Text(t.into());
        assert_eq!(limit_amount(&text("2_000_000"), QuantityType::Count, "x"), Ok(2_000_000));
        assert_eq!(limit_amount(&text("50 GiB"), QuantityType::Bytes, "x"), Ok(50 << 30));
        assert_eq!(limit_amount(&text("unlimited"), QuantityType::Bytes, "x"), Ok(UNLIMITED));
        assert_eq!(limit_amount(&Written::Number(7), QuantityType::Duration, "x"), Ok(7));
        assert!(matches!(
            limit_amount(&text("3 hours"), QuantityType::Bytes, "x"),
            Err(OverrideError::WrongValue { .. })
        ));
        assert!(matches!(limit_amount(&text("1.5"), QuantityType::Count, "x"), Err(OverrideError::WrongValue { .. })));
        assert!(matches!(
            limit_amount(&text("20000000 PiB"), QuantityType::Bytes, "x"),
            Err(OverrideError::Overflow { .. })
        ));
        assert!(matches!(
            limit_amount(&Written::Number(u64::MAX), QuantityType::Count, "x"),
            Err(OverrideError::Overflow { .. })
        ));
    }

    #[test]
    fn settings_keep_to_their_type() {
        let text = |t: &str| Written::Text(t.into());
        assert_eq!(setting_value(&text("2 h"), SettingType::Duration, "s"), Ok(SettingValue::Duration(7_200)));
        assert!(matches!(setting_value(&text("99.99%"), SettingType::Percent, "s"), Ok(SettingValue::Percent(_))));
        assert!(matches!(setting_value(&text("120%"), SettingType::Percent, "s"), Err(OverrideError::Percent { .. })));
        assert!(matches!(
            setting_value(&Written::Number(3), SettingType::String, "s"),
            Err(OverrideError::WrongValue { .. })
        ));
        assert_eq!(setting_value(&text("eu-west"), SettingType::String, "s"), Ok(SettingValue::Text("eu-west".into())));
    }
}
