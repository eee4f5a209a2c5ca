//! Units of quantities, and the parsing and printing of numbers as the language writes them.

use std::fmt;

/// What a limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuantityType {
    /// A plain number of things.
    Count,
    /// Bytes; written with a unit such as `GiB`.
    Bytes,
    /// Seconds; written with a unit such as `days`.
    Duration,
}

impl QuantityType {
    /// The word used for the type in the language.
    pub const fn as_str(self) -> &'static str {
        match self {
            QuantityType::Count => "count",
            QuantityType::Bytes => "bytes",
            QuantityType::Duration => "duration",
        }
    }
}

/// A limit's value: a number in the limit's base unit, or no limit at all.
///
/// `Unlimited` compares greater than every finite amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Amount {
    /// A finite amount in base units (things, bytes, seconds).
    Finite(u64),
    /// No bound.
    Unlimited,
}

/// The number, or `unlimited`: `1000000`, not `1_000_000` (the language's separators are for
/// reading policies, not for answers).
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Finite(n) => write!(f, "{n}"),
            Amount::Unlimited => f.write_str("unlimited"),
        }
    }
}

impl Amount {
    /// The amount plus `delta`, saturating; unlimited stays unlimited.
    pub fn saturating_add(self, delta: Amount) -> Amount {
        match (self, delta) {
            (Amount::Finite(a), Amount::Finite(b)) => Amount::Finite(a.saturating_add(b)),
            _ => Amount::Unlimited,
        }
    }
}

/// A percentage held exactly, in millionths of the whole: `100%` is `1_000_000`, `99.99%` is
/// `999_900`, `5%` is `50_000`. Four decimal places of a percent are representable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Percentage(pub(crate) u32);

impl Percentage {
    /// 100%.
    pub const FULL: Percentage = Percentage(1_000_000);

    /// The percentage of this many millionths; values past 100% are clamped to it.
    pub const fn from_millionths(millionths: u32) -> Percentage {
        Percentage(if millionths > 1_000_000 { 1_000_000 } else { millionths })
    }

    /// The percentage in millionths of the whole: `5%` is `50_000`.
    pub const fn millionths(self) -> u32 {
        self.0
    }

    /// `amount × self`, rounded down, without overflow.
    #[inline]
    pub fn of(self, amount: u64) -> u64 {
        // With amount = q × 10⁶ + r, amount × m / 10⁶ = q × m + ⌊r × m / 10⁶⌋ exactly, as q × m × 10⁶
        // divides evenly. m ≤ 10⁶, so q × m ≤ amount and r × m < 10¹²: no overflow, and no
        // 128-bit division (a library call) on the query path.
        let m = u64::from(self.0.min(1_000_000));
        let (q, r) = (amount / 1_000_000, amount % 1_000_000);
        q * m + r * m / 1_000_000
    }
}

impl fmt::Display for Percentage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 10_000;
        let fraction = self.0 % 10_000;
        if fraction == 0 {
            write!(f, "{whole}%")
        } else {
            let digits = format!("{fraction:04}");
            write!(f, "{whole}.{}%", digits.trim_end_matches('0'))
        }
    }
}

/// A unit word, the type it measures, and how many base units (bytes, seconds) it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    /// The word as written.
    pub name: &'static str,
    /// What it measures.
    pub ty: QuantityType,
    /// Base units per one of it.
    pub factor: u64,
}

const fn unit(name: &'static str, ty: QuantityType, factor: u64) -> Unit {
    Unit { name, ty, factor }
}

const KIB: u64 = 1024;
const DAY: u64 = 86_400;

/// Every unit the language knows. Decimal byte units are powers of 1000, binary ones of 1024.
pub const UNITS: &[Unit] = &[
    unit("B", QuantityType::Bytes, 1),
    unit("byte", QuantityType::Bytes, 1),
    unit("bytes", QuantityType::Bytes, 1),
    unit("kB", QuantityType::Bytes, 1_000),
    unit("KB", QuantityType::Bytes, 1_000),
    unit("MB", QuantityType::Bytes, 1_000_000),
    unit("GB", QuantityType::Bytes, 1_000_000_000),
    unit("TB", QuantityType::Bytes, 1_000_000_000_000),
    unit("PB", QuantityType::Bytes, 1_000_000_000_000_000),
    unit("KiB", QuantityType::Bytes, KIB),
    unit("MiB", QuantityType::Bytes, KIB * KIB),
    unit("GiB", QuantityType::Bytes, KIB * KIB * KIB),
    unit("TiB", QuantityType::Bytes, KIB * KIB * KIB * KIB),
    unit("PiB", QuantityType::Bytes, KIB * KIB * KIB * KIB * KIB),
    unit("s", QuantityType::Duration, 1),
    unit("sec", QuantityType::Duration, 1),
    unit("second", QuantityType::Duration, 1),
    unit("seconds", QuantityType::Duration, 1),
    unit("min", QuantityType::Duration, 60),
    unit("minute", QuantityType::Duration, 60),
    unit("minutes", QuantityType::Duration, 60),
    unit("h", QuantityType::Duration, 3_600),
    unit("hour", QuantityType::Duration, 3_600),
    unit("hours", QuantityType::Duration, 3_600),
    unit("d", QuantityType::Duration, DAY),
    unit("day", QuantityType::Duration, DAY),
    unit("days", QuantityType::Duration, DAY),
    unit("w", QuantityType::Duration, 7 * DAY),
    unit("week", QuantityType::Duration, 7 * DAY),
    unit("weeks", QuantityType::Duration, 7 * DAY),
];

/// The unit written `name`, if the language knows it. Unit names are case-sensitive
/// (`MB` is not `Mb`).
pub fn find_unit(name: &str) -> Option<Unit> {
    UNITS.iter().copied().find(|u| u.name == name)
}

/// Why a number could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberError {
    /// It has a fractional part where only whole numbers are allowed.
    Fractional,
    /// It does not fit in `u64`.
    Overflow,
}

/// Reads a whole number as written (`10_000`), rejecting fractions and overflow.
pub fn parse_whole(text: &str) -> Result<u64, NumberError> {
    if text.contains('.') {
        return Err(NumberError::Fractional);
    }
    let mut value: u64 = 0;
    for digit in text.bytes().filter(|b| b.is_ascii_digit()) {
        value =
            value.checked_mul(10).and_then(|v| v.checked_add(u64::from(digit - b'0'))).ok_or(NumberError::Overflow)?;
    }
    Ok(value)
}

/// Why a percentage could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PercentError {
    /// Above 100%.
    AboveHundred,
    /// More than four decimal places.
    TooPrecise,
}

/// Reads the number of a percentage (`99.99` of `99.99%`) into millionths.
pub fn parse_percent(text: &str) -> Result<Percentage, PercentError> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    // The fraction is read as ten-thousandths, without building a padded copy: a policy may
    // hold a percentage on every limit line.
    let mut places = 0;
    let mut ten_thousandths: u64 = 0;
    for digit in fraction.bytes().filter(u8::is_ascii_digit) {
        places += 1;
        if places > 4 {
            return Err(PercentError::TooPrecise);
        }
        ten_thousandths = ten_thousandths * 10 + u64::from(digit - b'0');
    }
    for _ in places..4 {
        ten_thousandths *= 10;
    }
    let whole = parse_whole(whole).map_err(|_| PercentError::AboveHundred)?;
    let millionths = whole.checked_mul(10_000).and_then(|w| w.checked_add(ten_thousandths));
    match millionths {
        Some(m) if m <= 1_000_000 => Ok(Percentage(u32::try_from(m).unwrap_or(1_000_000))),
        _ => Err(PercentError::AboveHundred),
    }
}

/// Prints an amount of a quantity: [`format_quantity`], or `unlimited`.
pub fn format_amount(ty: QuantityType, amount: Amount) -> String {
    match amount {
        Amount::Unlimited => "unlimited".to_string(),
        Amount::Finite(n) => format_quantity(ty, n),
    }
}

/// Prints a count with `_` between thousands, as the language writes it: `1_000_000`.
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(c);
    }
    out
}

/// Prints a quantity in the unit that divides it exactly with the smallest count: `100 GiB`,
/// `10 GB`, `180 days`, `30 min`. Counts print as [`format_count`].
pub fn format_quantity(ty: QuantityType, n: u64) -> String {
    let candidates: &[(&str, u64)] = match ty {
        QuantityType::Count => return format_count(n),
        QuantityType::Bytes => &[
            ("PiB", KIB.pow(5)),
            ("TiB", KIB.pow(4)),
            ("GiB", KIB.pow(3)),
            ("MiB", KIB.pow(2)),
            ("KiB", KIB),
            ("PB", 1_000_000_000_000_000),
            ("TB", 1_000_000_000_000),
            ("GB", 1_000_000_000),
            ("MB", 1_000_000),
            ("kB", 1_000),
        ],
        QuantityType::Duration => &[("days", DAY), ("h", 3_600), ("min", 60)],
    };
    let base = if ty == QuantityType::Bytes { "B" } else { "s" };
    if n == 0 {
        return format!("0 {base}");
    }
    // The unit that divides exactly with the smallest count: `10 GB` stays `10 GB` rather than
    // `9_765_625 KiB`, and `100 GiB` stays `100 GiB`. Binary units come first, so they win ties.
    let best =
        candidates.iter().filter(|&&(_, factor)| n.is_multiple_of(factor)).min_by_key(|&&(_, factor)| n / factor);
    match best {
        Some(&(name, factor)) => {
            let count = n / factor;
            let name = if name == "days" && count == 1 { "day" } else { name };
            format!("{} {name}", format_count(count))
        }
        None => format!("{} {base}", format_count(n)),
    }
}

/// A drawing limit's rate as the language writes it, after `draws POOL`: `at 40` for a count
/// at 1 per 1, `at 5 per 1 min`, `at 1 per 1_000`.
pub(crate) fn format_rate(ty: QuantityType, credits: u64, per: u64) -> String {
    if ty == QuantityType::Count && per == 1 {
        return format!("at {}", format_count(credits));
    }
    format!("at {} per {}", format_count(credits), format_quantity(ty, per))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_of_an_amount_is_exact_without_128_bit_division() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let amount = if x.is_multiple_of(3) { x >> (x % 64) } else { x };
            let share = u32::try_from(x % 1_000_001).expect("small");
            let exact = u128::from(amount) * u128::from(share) / 1_000_000;
            assert_eq!(u128::from(Percentage(share).of(amount)), exact, "{share} of {amount}");
        }
        assert_eq!(Percentage::FULL.of(u64::MAX), u64::MAX);
        assert_eq!(Percentage(999_999).of(u64::MAX), u64::MAX - u64::MAX / 1_000_000 - 1);
    }

    #[test]
    fn quantities_print_in_the_unit_with_the_smallest_count() {
        assert_eq!(format_quantity(QuantityType::Bytes, 10_000_000_000), "10 GB");
        assert_eq!(format_quantity(QuantityType::Bytes, 100 * KIB.pow(3)), "100 GiB");
        assert_eq!(format_quantity(QuantityType::Bytes, 1_024_000), "1_000 KiB");
        assert_eq!(format_quantity(QuantityType::Bytes, 1_500), "1_500 B");
        assert_eq!(format_quantity(QuantityType::Duration, DAY), "1 day");
        assert_eq!(format_quantity(QuantityType::Duration, 90 * 60), "90 min");
    }

    #[test]
    fn numbers_take_separators_and_refuse_overflow() {
        assert_eq!(parse_whole("1_000_000"), Ok(1_000_000));
        assert_eq!(parse_whole("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_whole("18446744073709551616"), Err(NumberError::Overflow));
        assert_eq!(parse_whole("1.5"), Err(NumberError::Fractional));
    }

    #[test]
    fn percentages_are_exact_to_four_places() {
        assert_eq!(parse_percent("99.99"), Ok(Percentage(999_900)));
        assert_eq!(parse_percent("0.0001"), Ok(Percentage(1)));
        assert_eq!(parse_percent("100"), Ok(Percentage::FULL));
        assert_eq!(parse_percent("100.0001"), Err(PercentError::AboveHundred));
        assert_eq!(parse_percent("1.00001"), Err(PercentError::TooPrecise));
        assert_eq!(parse_percent("99999999999999999999999"), Err(PercentError::AboveHundred));
        assert_eq!(parse_percent("1_0.2_5"), Ok(Percentage(102_500)));
        assert_eq!(parse_percent("12.5"), Ok(Percentage(125_000)));
        assert_eq!(parse_percent("99999999999999999999999.00001"), Err(PercentError::TooPrecise));
    }

    #[test]
    fn quantities_print_in_their_largest_exact_unit() {
        assert_eq!(format_quantity(QuantityType::Bytes, 100 * KIB.pow(3)), "100 GiB");
        assert_eq!(format_quantity(QuantityType::Bytes, 1_500), "1_500 B");
        assert_eq!(format_quantity(QuantityType::Bytes, 5_000_000), "5 MB");
        assert_eq!(format_quantity(QuantityType::Duration, 180 * DAY), "180 days");
        assert_eq!(format_quantity(QuantityType::Duration, DAY), "1 day");
        assert_eq!(format_quantity(QuantityType::Duration, 1_800), "30 min");
        assert_eq!(format_quantity(QuantityType::Count, 10_000), "10_000");
        assert_eq!(format_count(999), "999");
    }
}
