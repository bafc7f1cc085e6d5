//! The Vietnamese number format (vi-VN: `1.234.567,8`) and its English counterpart.
//!
//! Formatting is for people reading the wall: thousands grouped with '.', ',' before decimals,
//! "tỷ"/"triệu"/"nghìn" for big figures. Parsing is for uploaded reports and deliberately strict:
//! `1.5` could be one and a half (English habit) or fifteen hundred written badly, and guessing
//! wrong silently changes a figure a thousandfold, so such text is refused with an error that says
//! how to write it unambiguously.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which number format a file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    /// vi-VN: '.' groups thousands, ',' starts decimals: 1.234.567,8.
    #[default]
    Vi,
    /// English: ',' groups thousands, '.' starts decimals: 1,234,567.8.
    En,
}

impl Locale {
    /// One line for people choosing a locale, in Vietnamese.
    pub fn describe(self) -> &'static str {
        match self {
            Locale::Vi => "vi-VN: dấu chấm phân cách hàng nghìn, dấu phẩy thập phân (1.234.567,8)",
            Locale::En => "en: dấu phẩy phân cách hàng nghìn, dấu chấm thập phân (1,234,567.8)",
        }
    }

    /// The wire name, as serde writes it: "vi", "en".
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::Vi => "vi",
            Locale::En => "en",
        }
    }

    /// The separator before decimals.
    pub fn decimal_separator(self) -> char {
        match self {
            Locale::Vi => ',',
            Locale::En => '.',
        }
    }

    /// The separator between groups of three digits (spaces are accepted too).
    pub fn group_separator(self) -> char {
        match self {
            Locale::Vi => '.',
            Locale::En => ',',
        }
    }

    /// The other locale, for "or send the file with locale=…" hints.
    pub fn other(self) -> Locale {
        match self {
            Locale::Vi => Locale::En,
            Locale::En => Locale::Vi,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Locale::Vi => "vi-VN",
            Locale::En => "English (en)",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Locale::Vi => "1.234.567,8",
            Locale::En => "1,234,567.8",
        }
    }

    fn example_plain(self) -> &'static str {
        match self {
            Locale::Vi => "1234567,8",
            Locale::En => "1234567.8",
        }
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is shown for a value that is not a finite number.
pub const NOT_A_VALUE: &str = "—";

/// `value` with `decimals` decimals in vi-VN format: 1234567.8 → "1.234.567,8".
///
/// Rounds half away from zero on the shortest decimal form of the value, so 1.005 → "1,01" as a
/// person expects, not "1,00" as its binary expansion (1.00499…) would give. Never "-0".
/// NaN and infinities give "—".
pub fn format_vi(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return NOT_A_VALUE.to_string();
    }
    let (int, frac) = round_digits(value.abs(), decimals);
    let nonzero = int.iter().chain(&frac).any(|&d| d != b'0');
    let mut out = String::with_capacity(int.len() * 4 / 3 + decimals + 2);
    if value < 0.0 && nonzero {
        out.push('-');
    }
    for (i, &d) in int.iter().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(char::from(d));
    }
    if decimals > 0 {
        out.push(',');
        out.extend(frac.iter().map(|&d| char::from(d)));
    }
    out
}

/// Integer and fraction digits (ASCII) of a non-negative finite value, rounded to `decimals`.
fn round_digits(abs: f64, decimals: usize) -> (Vec<u8>, Vec<u8>) {
    // Display gives the shortest digits that read back as the same f64, never an exponent.
    let shortest = abs.to_string();
    let (int_s, frac_s) = shortest.split_once('.').unwrap_or((&shortest, ""));
    let mut int: Vec<u8> = int_s.bytes().collect();
    let mut frac: Vec<u8> = frac_s.bytes().collect();
    if frac.len() > decimals {
        let round_up = frac[decimals] >= b'5';
        frac.truncate(decimals);
        if round_up {
            let mut carry = true;
            for d in frac.iter_mut().rev().chain(int.iter_mut().rev()) {
                if *d == b'9' {
                    *d = b'0';
                } else {
                    *d += 1;
                    carry = false;
                    break;
                }
            }
            if carry {
                int.insert(0, b'1');
            }
        }
    }
    frac.resize(decimals, b'0');
    (int, frac)
}

/// Up to two decimals, trailing zeros dropped: 12.50 → "12,5", 1e6 → "1.000.000".
pub fn format_vi_auto(value: f64) -> String {
    trim_zeros(format_vi(value, 2))
}

fn trim_zeros(s: String) -> String {
    if !s.contains(',') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches(',').to_string()
}

/// A percentage: (5.234, 1, true) → "+5,2%", (-3.0, 1, _) → "-3,0%". `signed` adds '+' to
/// values that round above zero, for changes ("tăng/giảm so với cùng kỳ").
pub fn format_percent_vi(pct: f64, decimals: usize, signed: bool) -> String {
    if !pct.is_finite() {
        return NOT_A_VALUE.to_string();
    }
    let s = format_vi(pct, decimals);
    let positive = !s.starts_with('-') && s.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if signed && positive {
        format!("+{s}%")
    } else {
        format!("{s}%")
    }
}

/// A short form for big walls, three significant digits: 1_234_567_890 → "1,23 tỷ",
/// 12_500_000 → "12,5 triệu", 45_300 → "45,3 nghìn"; below 10.000 as [`format_vi_auto`].
pub fn format_compact_vi(value: f64) -> String {
    compact_vi(value, true)
}

/// [`format_compact_vi`] keeping its zeros: 17_000_000 → "17,0 triệu", 10_000 → "10,0 nghìn".
/// For a figure that changes (a KPI counting up to a new value): dropping a zero changes how
/// many characters it has at some values and not others, and so the size it is fitted to.
pub fn format_compact_vi_fixed(value: f64) -> String {
    compact_vi(value, false)
}

fn compact_vi(value: f64, trim: bool) -> String {
    if !value.is_finite() {
        return NOT_A_VALUE.to_string();
    }
    let abs = value.abs();
    if abs < 10_000.0 {
        return if trim {
            format_vi_auto(value)
        } else {
            format_vi(value, 2)
        };
    }
    const UNITS: [(f64, &str); 3] = [(1e3, "nghìn"), (1e6, "triệu"), (1e9, "tỷ")];
    let mut unit = UNITS
        .iter()
        .rposition(|&(size, _)| abs >= size)
        .unwrap_or(0);
    loop {
        let (size, name) = UNITS[unit];
        let scaled = abs / size;
        let decimals = if scaled < 10.0 {
            2
        } else if scaled < 100.0 {
            1
        } else {
            0
        };
        let digits = format_vi(scaled, decimals);
        let digits = if trim { trim_zeros(digits) } else { digits };
        // 999.999 nghìn rounds to "1.000 nghìn": say "1 triệu" instead.
        if digits.contains('.') && unit + 1 < UNITS.len() {
            unit += 1;
            continue;
        }
        let sign = if value < 0.0 { "-" } else { "" };
        return format!("{sign}{digits} {name}");
    }
}

/// Why a text is not a number in the file's locale.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Nothing was written.
    #[error(
        "the value is empty. Write the figure, e.g. \"1.234.567,8\" (vi-VN) or \"1,234,567.8\" \
         (en), or 0 when nothing occurred."
    )]
    Empty,
    /// Letters, units, formulas, several decimal separators, NaN or infinity.
    #[error(
        "{} is not a number. Write digits with '{}' before decimals, e.g. \"{}\" or \"{}\", \
         without letters, units or formulas.",
        Quoted(.text),
        .locale.decimal_separator(),
        .locale.example(),
        .locale.example_plain()
    )]
    NotANumber { text: String, locale: Locale },
    /// One group separator followed by other than three digits (`1.5`, `12.34` in vi-VN): a
    /// decimal written in the other locale's style, or a mistyped thousand.
    #[error(
        "{} is ambiguous: in {} '{}' separates thousands (e.g. \"{}\"), so it cannot start \
         decimals. Write \"{}\" for a decimal number, or send the file with locale={}.",
        Quoted(.text),
        .locale.name(),
        .locale.group_separator(),
        .locale.example(),
        swap_separators(.text),
        .locale.other().as_str()
    )]
    AmbiguousSeparator { text: String, locale: Locale },
    /// A number that is valid only in the other locale (`1,234,567.8` in a vi-VN file).
    #[error(
        "{} is written in the {} format but the file is {}. Write \"{}\", or send the file with \
         locale={}.",
        Quoted(.text),
        .locale.other().name(),
        .locale.name(),
        swap_separators(.text),
        .locale.other().as_str()
    )]
    WrongLocale { text: String, locale: Locale },
    /// Group separators not in groups of three digits (`1.23.4` in vi-VN), or mixed separators.
    #[error(
        "{} is not a number: in {} '{}' (or a space) separates thousands in groups of three \
         digits. Write e.g. \"{}\", or the digits without separators, \"{}\".",
        Quoted(.text),
        .locale.name(),
        .locale.group_separator(),
        .locale.example(),
        .locale.example_plain()
    )]
    BadGrouping { text: String, locale: Locale },
    /// A trailing percent sign.
    #[error(
        "{} has a percent sign. Write the number without %, e.g. \"{}\"; the indicator's unit says \
         it is a percentage.",
        Quoted(.text),
        .text.trim_end_matches('%').trim_end()
    )]
    PercentSign { text: String },
    /// More digits than a double can hold.
    #[error("{} is too large to be a figure. Check the cell for extra digits.", Quoted(.text))]
    TooLarge { text: String },
}

/// Shows user text in quotes, cut short so one bad cell cannot flood a report.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 40;
        if self.0.chars().count() > MAX_CHARS {
            let cut: String = self.0.chars().take(MAX_CHARS).collect();
            write!(f, "\"{cut}…\"")
        } else {
            write!(f, "\"{}\"", self.0)
        }
    }
}

/// The text with '.' and ',' exchanged: how a number in one locale is written in the other.
fn swap_separators(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '.' => ',',
            ',' => '.',
            c => c,
        })
        .collect()
}

/// Spaces people and spreadsheets put between thousands: space, no-break space, narrow no-break
/// space, thin space.
fn is_space_group(c: char) -> bool {
    matches!(c, ' ' | '\u{00A0}' | '\u{202F}' | '\u{2009}')
}

/// Why a body did not fit one locale, before deciding which error to report.
enum Shape {
    /// Not a number in this locale.
    Invalid,
    /// A single group separator that looks like a decimal point.
    Ambiguous,
    /// Group separators present but not in groups of three.
    BadGrouping,
}

/// Reads an unsigned body in one locale into Rust's own `digits[.digits]` form.
fn normalise(body: &str, locale: Locale) -> Result<String, Shape> {
    let (dec, grp) = (locale.decimal_separator(), locale.group_separator());
    let mut parts = body.split(dec);
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    if parts.next().is_some() {
        return Err(Shape::Invalid);
    }
    if let Some(f) = frac
        && (f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(Shape::Invalid);
    }
    let by_grp = int.contains(grp);
    let by_space = int.contains(is_space_group);
    let int_digits: String = if by_grp || by_space {
        if by_grp && by_space {
            return Err(Shape::BadGrouping);
        }
        let groups: Vec<&str> = int.split(|c| c == grp || is_space_group(c)).collect();
        if !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit())) {
            return Err(Shape::Invalid);
        }
        // "1.5", "0.500", ".5", "1234.567": a lone separator that cannot be grouping thousands,
        // so someone wrote a decimal point in the other locale's style.
        if by_grp
            && groups.len() == 2
            && frac.is_none()
            && (groups[1].len() != 3
                || groups[0].is_empty()
                || groups[0].len() > 3
                || groups[0].starts_with('0'))
        {
            return Err(Shape::Ambiguous);
        }
        let first_ok = (1..=3).contains(&groups[0].len()) && !groups[0].starts_with('0');
        if !first_ok || groups[1..].iter().any(|g| g.len() != 3) {
            return Err(Shape::BadGrouping);
        }
        groups.concat()
    } else if int.is_empty() {
        // ",5" for 0,5 is unambiguous; a lone "" is not a number.
        if frac.is_none() {
            return Err(Shape::Invalid);
        }
        "0".to_string()
    } else if int.bytes().all(|b| b.is_ascii_digit()) {
        int.to_string()
    } else {
        return Err(Shape::Invalid);
    };
    Ok(match frac {
        Some(f) => format!("{int_digits}.{f}"),
        None => int_digits,
    })
}

/// Reads a figure written in `locale`. See the module docs for why it refuses to guess.
///
/// vi-VN: optional sign (`-`, `+`, `−`), digits grouped by '.' or spaces in threes, one ','
/// before decimals: "1.234.567,8", "1 234 567,8", "1234567,8", "-5". English mirrors it.
pub fn parse_number(s: &str, locale: Locale) -> Result<f64, NumberError> {
    let text = s.trim();
    if text.is_empty() {
        return Err(NumberError::Empty);
    }
    let owned = || text.to_string();
    if text.ends_with('%') {
        return Err(NumberError::PercentSign { text: owned() });
    }
    let (negative, body) = match text.chars().next() {
        Some(c @ ('-' | '+' | '\u{2212}')) => (c != '+', &text[c.len_utf8()..]),
        _ => (false, text),
    };
    let plain = match normalise(body, locale) {
        Ok(plain) => plain,
        Err(Shape::Ambiguous) => {
            return Err(NumberError::AmbiguousSeparator {
                text: owned(),
                locale,
            });
        }
        Err(shape) => {
            return Err(if normalise(body, locale.other()).is_ok() {
                NumberError::WrongLocale {
                    text: owned(),
                    locale,
                }
            } else if matches!(shape, Shape::BadGrouping) {
                NumberError::BadGrouping {
                    text: owned(),
                    locale,
                }
            } else {
                NumberError::NotANumber {
                    text: owned(),
                    locale,
                }
            });
        }
    };
    let value: f64 = plain.parse().map_err(|_| NumberError::NotANumber {
        text: owned(),
        locale,
    })?;
    if !value.is_finite() {
        return Err(NumberError::TooLarge { text: owned() });
    }
    Ok(if negative { -value } else { value })
}

/// `v` to 12 significant digits. A total summed in binary floating point carries noise in its
/// last bits (209652.97999999998 for reports that add up to 209652.98); written out to JSON it
/// would show 17 digits no report had. 12 digits keep every decimal a report can carry at the
/// magnitudes of the catalogue (3 decimals up to a thousand million) and change a value by at
/// most 5 parts in 10¹². Stored values are never rounded: this is for what the server writes.
pub fn tidy(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    let keep = 11 - v.abs().log10().floor() as i32;
    if !(-22..=22).contains(&keep) {
        return v;
    }
    // Powers of ten up to 10²² are exact, so the division or product is rounded once.
    if keep >= 0 {
        let scale = 10f64.powi(keep);
        (v * scale).round() / scale
    } else {
        let scale = 10f64.powi(-keep);
        (v / scale).round() * scale
    }
}

/// Serde `serialize_with` helpers writing numbers through [`tidy`].
pub mod tidy_json {
    use serde::Serializer;

    pub fn f64<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(super::tidy(*v))
    }

    pub fn opt<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&super::tidy(*v)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_drops_summation_noise_and_keeps_what_reports_carry() {
        assert_eq!(tidy(209652.97999999998), 209652.98);
        assert_eq!(
            serde_json::to_string(&tidy(209652.97999999998)).unwrap(),
            "209652.98"
        );
        let sum: f64 = [0.1, 0.2, 0.3].iter().sum();
        assert_ne!(sum, 0.6);
        assert_eq!(tidy(sum), 0.6);
        // What a report can carry is kept as it is.
        for v in [
            1234567.891,
            -0.001,
            0.000123,
            95.5,
            123456789.123,
            8807523.0,
            1e15,
            1.5e-30,
            0.0,
        ] {
            assert_eq!(tidy(v), v, "{v}");
        }
        // Twelve significant digits at any magnitude, never more than 5 parts in 10^12 moved.
        for v in [
            std::f64::consts::PI * 1e7,
            -std::f64::consts::E * 1e-5,
            1.0 / 3.0,
        ] {
            let t = tidy(v);
            assert!(((t - v) / v).abs() <= 5e-12, "{v} → {t}");
            assert!(
                format!("{t:e}").len() <= "-1.23456789012e-5".len(),
                "{v} → {t}"
            );
        }
        assert!(tidy(f64::NAN).is_nan());
        assert_eq!(tidy(f64::INFINITY), f64::INFINITY);
    }

    fn vi(s: &str) -> Result<f64, NumberError> {
        parse_number(s, Locale::Vi)
    }
    fn en(s: &str) -> Result<f64, NumberError> {
        parse_number(s, Locale::En)
    }

    // ---- Locale ----

    #[test]
    fn locale_serialises_lowercase() {
        assert_eq!(serde_json::to_string(&Locale::Vi).unwrap(), "\"vi\"");
        assert_eq!(serde_json::to_string(&Locale::En).unwrap(), "\"en\"");
        assert_eq!(
            serde_json::from_str::<Locale>("\"en\"").unwrap(),
            Locale::En
        );
        assert_eq!(Locale::default(), Locale::Vi);
        assert_eq!(Locale::Vi.to_string(), "vi");
    }

    #[test]
    fn locale_describe_shows_the_separators() {
        assert_eq!(
            Locale::Vi.describe(),
            "vi-VN: dấu chấm phân cách hàng nghìn, dấu phẩy thập phân (1.234.567,8)"
        );
        assert!(Locale::En.describe().contains("1,234,567.8"));
        assert_eq!(Locale::Vi.other(), Locale::En);
        assert_eq!(Locale::En.other(), Locale::Vi);
    }

    // ---- format_vi ----

    #[test]
    fn format_vi_groups_thousands_with_dots_and_uses_decimal_comma() {
        assert_eq!(format_vi(1_234_567.8, 1), "1.234.567,8");
        assert_eq!(format_vi(1_234_567.0, 0), "1.234.567");
        assert_eq!(format_vi(123.0, 0), "123");
        assert_eq!(format_vi(1000.0, 0), "1.000");
        assert_eq!(format_vi(999.0, 0), "999");
        assert_eq!(format_vi(100_000.0, 2), "100.000,00");
    }

    #[test]
    fn format_vi_negative_numbers_keep_grouping() {
        assert_eq!(format_vi(-1234.5, 1), "-1.234,5");
        assert_eq!(format_vi(-1_000_000.0, 0), "-1.000.000");
    }

    #[test]
    fn format_vi_pads_decimals() {
        assert_eq!(format_vi(0.5, 2), "0,50");
        assert_eq!(format_vi(3.0, 3), "3,000");
        assert_eq!(format_vi(0.0, 1), "0,0");
    }

    #[test]
    fn format_vi_rounds_half_away_from_zero() {
        assert_eq!(format_vi(0.125, 2), "0,13");
        assert_eq!(format_vi(-0.125, 2), "-0,13");
        assert_eq!(format_vi(2.5, 0), "3");
        assert_eq!(format_vi(-2.5, 0), "-3");
        assert_eq!(format_vi(1.005, 2), "1,01");
        assert_eq!(format_vi(0.124, 2), "0,12");
    }

    #[test]
    fn format_vi_rounding_carries_into_thousands() {
        assert_eq!(format_vi(999.995, 2), "1.000,00");
        assert_eq!(format_vi(999_999.6, 0), "1.000.000");
        assert_eq!(format_vi(9.96, 1), "10,0");
    }

    #[test]
    fn format_vi_never_writes_minus_zero() {
        assert_eq!(format_vi(-0.0, 2), "0,00");
        assert_eq!(format_vi(-0.004, 2), "0,00");
        assert_eq!(format_vi(-0.4, 0), "0");
        assert_eq!(format_vi(-0.005, 2), "-0,01");
    }

    #[test]
    fn format_vi_shows_a_dash_for_nan_and_infinity() {
        assert_eq!(format_vi(f64::NAN, 2), "—");
        assert_eq!(format_vi(f64::INFINITY, 2), "—");
        assert_eq!(format_vi(f64::NEG_INFINITY, 0), "—");
    }

    #[test]
    fn format_vi_handles_huge_and_tiny_values_without_exponents() {
        assert_eq!(format_vi(1e21, 0), "1.000.000.000.000.000.000.000");
        assert_eq!(format_vi(1e-20, 2), "0,00");
        assert_eq!(format_vi(1e12 + 0.25, 2), "1.000.000.000.000,25");
    }

    #[test]
    fn format_vi_auto_trims_trailing_zeros() {
        assert_eq!(format_vi_auto(12.50), "12,5");
        assert_eq!(format_vi_auto(1e6), "1.000.000");
        assert_eq!(format_vi_auto(0.125), "0,13");
        assert_eq!(format_vi_auto(3.999), "4");
        assert_eq!(format_vi_auto(-1234.56), "-1.234,56");
        assert_eq!(format_vi_auto(0.0), "0");
        assert_eq!(format_vi_auto(f64::NAN), "—");
    }

    #[test]
    fn format_percent_signs_only_when_asked() {
        assert_eq!(format_percent_vi(5.234, 1, true), "+5,2%");
        assert_eq!(format_percent_vi(5.234, 1, false), "5,2%");
        assert_eq!(format_percent_vi(-3.0, 1, true), "-3,0%");
        assert_eq!(format_percent_vi(-3.0, 1, false), "-3,0%");
        assert_eq!(format_percent_vi(0.0, 1, true), "0,0%");
        assert_eq!(format_percent_vi(0.04, 1, true), "0,0%");
        assert_eq!(format_percent_vi(-0.04, 1, true), "0,0%");
        assert_eq!(format_percent_vi(1234.5, 0, true), "+1.235%");
        assert_eq!(format_percent_vi(f64::NAN, 1, true), "—");
    }

    #[test]
    fn format_compact_uses_ty_trieu_nghin() {
        assert_eq!(format_compact_vi(1_234_567_890.0), "1,23 tỷ");
        assert_eq!(format_compact_vi(12_500_000.0), "12,5 triệu");
        assert_eq!(format_compact_vi(45_300.0), "45,3 nghìn");
        assert_eq!(format_compact_vi(10_000.0), "10 nghìn");
        assert_eq!(format_compact_vi(123_456.0), "123 nghìn");
        assert_eq!(format_compact_vi(2_000_000_000_000.0), "2.000 tỷ");
        assert_eq!(format_compact_vi(-12_500_000.0), "-12,5 triệu");
    }

    #[test]
    fn format_compact_below_ten_thousand_is_plain() {
        assert_eq!(format_compact_vi(9_999.0), "9.999");
        assert_eq!(format_compact_vi(1_234.5), "1.234,5");
        assert_eq!(format_compact_vi(0.0), "0");
        assert_eq!(format_compact_vi(f64::INFINITY), "—");
    }

    #[test]
    fn format_compact_moves_up_a_unit_when_rounding_reaches_a_thousand() {
        assert_eq!(format_compact_vi(999_999.0), "1 triệu");
        assert_eq!(format_compact_vi(999_600_000.0), "1 tỷ");
        assert_eq!(format_compact_vi(999_400.0), "999 nghìn");
    }

    #[test]
    fn compact_figures_that_change_keep_their_zeros() {
        assert_eq!(format_compact_vi_fixed(16_600_000.0), "16,6 triệu");
        assert_eq!(format_compact_vi_fixed(16_960_000.0), "17,0 triệu");
        assert_eq!(format_compact_vi_fixed(10_000.0), "10,0 nghìn");
        assert_eq!(format_compact_vi_fixed(2_000_000_000.0), "2,00 tỷ");
        assert_eq!(format_compact_vi_fixed(999_999.0), "1,00 triệu");
        assert_eq!(format_compact_vi_fixed(-123_456.0), "-123 nghìn");
    }

    // ---- parse_number, vi-VN ----

    #[test]
    fn vi_accepts_dot_grouped_thousands_and_decimal_comma() {
        assert_eq!(vi("1.234.567,8"), Ok(1_234_567.8));
        assert_eq!(vi("1.234.567"), Ok(1_234_567.0));
        assert_eq!(vi("1.234"), Ok(1234.0));
        assert_eq!(vi("12.345,67"), Ok(12_345.67));
    }

    #[test]
    fn vi_accepts_plain_digits() {
        assert_eq!(vi("1234567,8"), Ok(1_234_567.8));
        assert_eq!(vi("1234567"), Ok(1_234_567.0));
        assert_eq!(vi("0"), Ok(0.0));
        assert_eq!(vi("0,5"), Ok(0.5));
        assert_eq!(vi(",5"), Ok(0.5));
        assert_eq!(vi("007"), Ok(7.0));
        assert_eq!(vi("1,234"), Ok(1.234));
    }

    #[test]
    fn vi_accepts_spaces_as_thousands_separators() {
        assert_eq!(vi("1 234 567,8"), Ok(1_234_567.8));
        assert_eq!(vi("1\u{00A0}234\u{00A0}567"), Ok(1_234_567.0));
        assert_eq!(vi("1\u{202F}234,5"), Ok(1234.5));
        assert_eq!(vi("1\u{2009}234"), Ok(1234.0));
    }

    #[test]
    fn vi_accepts_signs_including_unicode_minus() {
        assert_eq!(vi("-1.234,5"), Ok(-1234.5));
        assert_eq!(vi("+1.234,5"), Ok(1234.5));
        assert_eq!(vi("\u{2212}1.234,5"), Ok(-1234.5));
        assert_eq!(vi("-0,5"), Ok(-0.5));
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(vi("  1.234,5\t"), Ok(1234.5));
        assert_eq!(vi("\u{00A0}42\u{00A0}"), Ok(42.0));
        assert_eq!(en(" 1,234.5 "), Ok(1234.5));
    }

    #[test]
    fn dot_with_one_digit_is_ambiguous_in_vi() {
        let err = vi("1.5").unwrap_err();
        assert_eq!(
            err,
            NumberError::AmbiguousSeparator {
                text: "1.5".into(),
                locale: Locale::Vi
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("in vi-VN '.' separates thousands"), "{msg}");
        assert!(msg.contains("\"1,5\""), "{msg}");
        assert!(msg.contains("locale=en"), "{msg}");
    }

    #[test]
    fn dot_with_two_digits_is_ambiguous_in_vi() {
        let err = vi("12.34").unwrap_err();
        assert!(matches!(err, NumberError::AmbiguousSeparator { .. }));
        assert!(err.to_string().contains("\"12,34\""));
    }

    #[test]
    fn decimal_looking_dots_are_ambiguous_in_vi() {
        for s in ["0.500", ".5", "-1.5", "1234.5", "0.001", "1234.567"] {
            assert!(
                matches!(vi(s), Err(NumberError::AmbiguousSeparator { .. })),
                "{s}: {:?}",
                vi(s)
            );
        }
    }

    #[test]
    fn english_format_in_vi_is_wrong_locale() {
        let err = vi("1,234,567.8").unwrap_err();
        assert_eq!(
            err,
            NumberError::WrongLocale {
                text: "1,234,567.8".into(),
                locale: Locale::Vi
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("\"1.234.567,8\""), "{msg}");
        assert!(msg.contains("locale=en"), "{msg}");
        for s in ["1,234,567", "1,234.5", "1 234.5", "-1,234.5"] {
            assert!(
                matches!(vi(s), Err(NumberError::WrongLocale { .. })),
                "{s}: {:?}",
                vi(s)
            );
        }
    }

    #[test]
    fn bad_dot_groups_in_vi_are_bad_grouping() {
        let err = vi("1.23.4").unwrap_err();
        assert_eq!(
            err,
            NumberError::BadGrouping {
                text: "1.23.4".into(),
                locale: Locale::Vi
            }
        );
        assert!(err.to_string().contains("groups of three"));
        for s in [
            "1.2345.678",
            "1234.567.890",
            "1.234.5",
            "1 23",
            "1.234 567",
            "0.123.456",
            "1..234",
        ] {
            assert!(
                matches!(vi(s), Err(NumberError::BadGrouping { .. })),
                "{s}: {:?}",
                vi(s)
            );
        }
    }

    #[test]
    fn non_numbers_are_not_a_number_quoting_the_text() {
        for s in [
            "abc", "12a", "1,2,3", "NaN", "nan", "inf", "-inf", "Infinity", "1e5", "-", "+", "--5",
            "5-", "1,", "=SUM(A1)", "12 tấn", "1,5,",
        ] {
            let err = vi(s).unwrap_err();
            assert_eq!(
                err,
                NumberError::NotANumber {
                    text: s.into(),
                    locale: Locale::Vi
                },
                "{s}"
            );
            assert!(
                err.to_string()
                    .starts_with(&format!("\"{s}\" is not a number"))
            );
        }
    }

    #[test]
    fn empty_text_is_empty_error() {
        assert_eq!(vi(""), Err(NumberError::Empty));
        assert_eq!(vi("   "), Err(NumberError::Empty));
        assert_eq!(en("\u{00A0}"), Err(NumberError::Empty));
        assert!(
            NumberError::Empty.to_string().contains("write 0")
                || NumberError::Empty.to_string().contains("or 0")
        );
    }

    #[test]
    fn percent_sign_is_refused_with_the_bare_number_suggested() {
        let err = vi("5,2%").unwrap_err();
        assert_eq!(
            err,
            NumberError::PercentSign {
                text: "5,2%".into()
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("without %"), "{msg}");
        assert!(msg.contains("\"5,2\""), "{msg}");
        assert!(matches!(vi("5 %"), Err(NumberError::PercentSign { .. })));
        assert!(matches!(en("5.2%"), Err(NumberError::PercentSign { .. })));
    }

    #[test]
    fn overlong_digit_runs_are_too_large() {
        let s = "9".repeat(400);
        let err = vi(&s).unwrap_err();
        assert_eq!(err, NumberError::TooLarge { text: s.clone() });
        assert!(
            err.to_string().contains('…'),
            "long text is cut in the message"
        );
    }

    // ---- parse_number, English ----

    #[test]
    fn en_accepts_comma_thousands_and_decimal_point() {
        assert_eq!(en("1,234,567.8"), Ok(1_234_567.8));
        assert_eq!(en("1,234"), Ok(1234.0));
        assert_eq!(en("1234567.8"), Ok(1_234_567.8));
        assert_eq!(en("1.5"), Ok(1.5));
        assert_eq!(en("1.234"), Ok(1.234));
        assert_eq!(en("-0.5"), Ok(-0.5));
        assert_eq!(en(".5"), Ok(0.5));
        assert_eq!(en("1 234 567.8"), Ok(1_234_567.8));
    }

    #[test]
    fn comma_with_one_digit_is_ambiguous_in_en() {
        let err = en("1,5").unwrap_err();
        assert!(matches!(
            err,
            NumberError::AmbiguousSeparator {
                locale: Locale::En,
                ..
            }
        ));
        let msg = err.to_string();
        assert!(
            msg.contains("in English (en) ',' separates thousands"),
            "{msg}"
        );
        assert!(msg.contains("\"1.5\""), "{msg}");
        assert!(msg.contains("locale=vi"), "{msg}");
    }

    #[test]
    fn vietnamese_format_in_en_is_wrong_locale() {
        let err = en("1.234.567,8").unwrap_err();
        assert!(matches!(
            err,
            NumberError::WrongLocale {
                locale: Locale::En,
                ..
            }
        ));
        assert!(err.to_string().contains("\"1,234,567.8\""));
        assert!(matches!(
            en("1.234,5"),
            Err(NumberError::WrongLocale { .. })
        ));
    }

    #[test]
    fn en_bad_groups_and_garbage() {
        assert!(matches!(en("1,23,4"), Err(NumberError::BadGrouping { .. })));
        assert!(matches!(en("1.2.3"), Err(NumberError::NotANumber { .. })));
        assert!(matches!(en("abc"), Err(NumberError::NotANumber { .. })));
        assert!(matches!(en("NaN"), Err(NumberError::NotANumber { .. })));
    }

    // ---- round trip ----

    /// A deterministic spread of values: a few chosen edges, then pseudo-random magnitudes.
    fn sample_values() -> Vec<f64> {
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            0.01,
            0.005,
            -0.005,
            1.005,
            999.0,
            999.99,
            999.995,
            1000.0,
            -1000.0,
            1234.5,
            -1234.5,
            1_234_567.8,
            -9_876_543.21,
            1e12 + 0.25,
            -(1e12 + 0.25),
            123_456_789_012.345,
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..5000 {
            // xorshift64*: enough spread for a property loop, no dependency needed.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
            let mantissa = (r >> 11) as f64 / (1u64 << 53) as f64;
            let exponent = (r % 13) as i32 - 2;
            let sign = if r & 1 == 0 { 1.0 } else { -1.0 };
            values.push(sign * mantissa * 10f64.powi(exponent));
        }
        values
    }

    #[test]
    fn format_then_parse_gives_the_value_rounded_to_two_decimals() {
        for x in sample_values() {
            let text = format_vi(x, 2);
            let back = vi(&text).unwrap_or_else(|e| panic!("{x}: {text}: {e}"));
            let hundredths = (back * 100.0).round();
            // The parsed value is exactly the f64 nearest to some k/100 ...
            assert_eq!(back, hundredths / 100.0, "{x} → {text}");
            // ... that k is within half a hundredth of x ...
            let distance = (x * 100.0 - hundredths).abs();
            assert!(distance <= 0.5 + 1e-6 * x.abs().max(1.0), "{x} → {text}");
            // ... and it is the ordinary rounding whenever x is not on a tie.
            if (distance - 0.5).abs() > 1e-6 * x.abs().max(1.0) {
                assert_eq!(back, (x * 100.0).round() / 100.0, "{x} → {text}");
            }
        }
    }

    #[test]
    fn listed_values_round_trip_exactly() {
        for (x, expect) in [
            (0.0, 0.0),
            (0.5, 0.5),
            (-0.5, -0.5),
            (999.0, 999.0),
            (1000.0, 1000.0),
            (-1234.5, -1234.5),
            (1e12 + 0.25, 1e12 + 0.25),
            (1_234_567.891, 1_234_567.89),
            (-0.004, 0.0),
        ] {
            assert_eq!(vi(&format_vi(x, 2)), Ok(expect), "{x}");
        }
    }

    #[test]
    fn english_parse_reads_swapped_vietnamese_format() {
        for x in sample_values() {
            let text = swap_separators(&format_vi(x, 2));
            assert_eq!(en(&text), vi(&format_vi(x, 2)), "{x}");
        }
    }
}
