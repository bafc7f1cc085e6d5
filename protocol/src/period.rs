//! Reporting periods and civil dates.
//!
//! A [`Period`] is what a figure is reported for: a month, quarter, half-year, year, or the
//! year-to-date (lũy kế) from January to some month. Each has a canonical id used on the wire and
//! in the database (`2025-07`, `2025-Q3`, `2025-H1`, `2025`, `2025-YTD09`) and a Vietnamese label
//! for people (`Tháng 7/2025`, `Quý III/2025`, ...). [`Period::parse`] accepts both plus the other
//! spellings found in provincial reports; its errors tell the uploader what to write instead.
//!
//! [`CivilDate`] is a plain calendar date (no time zone), enough for deadlines and for the date
//! administrative reforms took effect.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The first year a period or date may have.
pub const MIN_YEAR: i32 = 1900;
/// The last year a period or date may have.
pub const MAX_YEAR: i32 = 2200;
/// The most periods [`Period::range`] returns; longer ranges are almost always a typo in a year.
pub const MAX_RANGE: usize = 600;

/// How often an indicator is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    /// Monthly (hằng tháng).
    Month,
    /// Quarterly (hằng quý).
    Quarter,
    /// Half-yearly (6 tháng).
    Half,
    /// Yearly (hằng năm).
    Year,
}

impl Frequency {
    /// Every frequency, shortest first.
    pub const ALL: [Frequency; 4] = [
        Frequency::Month,
        Frequency::Quarter,
        Frequency::Half,
        Frequency::Year,
    ];

    /// The Vietnamese name: "Tháng", "Quý", "6 tháng", "Năm".
    pub fn label_vi(self) -> &'static str {
        match self {
            Frequency::Month => "Tháng",
            Frequency::Quarter => "Quý",
            Frequency::Half => "6 tháng",
            Frequency::Year => "Năm",
        }
    }

    /// The wire name, as serde writes it: "month", "quarter", "half", "year".
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Month => "month",
            Frequency::Quarter => "quarter",
            Frequency::Half => "half",
            Frequency::Year => "year",
        }
    }

    /// Reads a wire name or a Vietnamese name, ignoring case and surrounding spaces.
    pub fn parse(s: &str) -> Option<Frequency> {
        let s = s.trim().to_lowercase();
        Frequency::ALL
            .into_iter()
            .find(|f| s == f.as_str() || s == f.label_vi().to_lowercase())
    }

    /// How many months one period of this frequency covers.
    pub fn months(self) -> u8 {
        match self {
            Frequency::Month => 1,
            Frequency::Quarter => 3,
            Frequency::Half => 6,
            Frequency::Year => 12,
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reporting period.
///
/// The fields are public so periods can be written as literals; values outside their ranges
/// (month 13, quarter 5) are clamped by every method, and [`Period::validate`] reports them.
/// Periods built by [`Period::parse`] or deserialised are always valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// One month: `2025-07`, "Tháng 7/2025".
    Month { year: i32, month: u8 },
    /// One quarter, 1–4: `2025-Q3`, "Quý III/2025".
    Quarter { year: i32, quarter: u8 },
    /// One half-year, 1–2: `2025-H1`, "6 tháng đầu năm 2025".
    Half { year: i32, half: u8 },
    /// One calendar year: `2025`, "Năm 2025".
    Year { year: i32 },
    /// January to `month` inclusive (lũy kế): `2025-YTD09`, "Lũy kế 9 tháng năm 2025".
    YearToDate { year: i32, month: u8 },
}

const ROMAN: [&str; 12] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
];

impl Period {
    /// Reads a period id or any accepted Vietnamese form (see the module docs and the tests).
    pub fn parse(s: &str) -> Result<Period, PeriodError> {
        parse_period(s)
    }

    /// Checks that the fields are in range; the error names what to write instead.
    pub fn validate(&self) -> Result<(), PeriodError> {
        let text = || self.raw_id();
        let year_ok = (MIN_YEAR..=MAX_YEAR).contains(&self.year());
        match *self {
            Period::Month { month, .. } if !(1..=12).contains(&month) => {
                Err(PeriodError::MonthOutOfRange { text: text() })
            }
            Period::Quarter { quarter, .. } if !(1..=4).contains(&quarter) => {
                Err(PeriodError::QuarterOutOfRange { text: text() })
            }
            Period::Half { half, .. } if !(1..=2).contains(&half) => {
                Err(PeriodError::HalfOutOfRange { text: text() })
            }
            Period::YearToDate { month, .. } if !(1..=12).contains(&month) => {
                Err(PeriodError::YearToDateOutOfRange { text: text() })
            }
            _ if !year_ok => Err(PeriodError::YearOutOfRange { text: text() }),
            _ => Ok(()),
        }
    }

    /// The canonical id: `2025-07`, `2025-Q3`, `2025-H1`, `2025`, `2025-YTD09`.
    pub fn id(&self) -> String {
        match self.clamped() {
            Period::Month { year, month } => format!("{year:04}-{month:02}"),
            Period::Quarter { year, quarter } => format!("{year:04}-Q{quarter}"),
            Period::Half { year, half } => format!("{year:04}-H{half}"),
            Period::Year { year } => format!("{year:04}"),
            Period::YearToDate { year, month } => format!("{year:04}-YTD{month:02}"),
        }
    }

    /// The Vietnamese label: "Tháng 7/2025", "Quý III/2025", "6 tháng đầu năm 2025",
    /// "6 tháng cuối năm 2025", "Năm 2025", "Lũy kế 9 tháng năm 2025".
    pub fn label_vi(&self) -> String {
        match self.clamped() {
            Period::Month { year, month } => format!("Tháng {month}/{year}"),
            Period::Quarter { year, quarter } => {
                format!("Quý {}/{year}", ROMAN[usize::from(quarter) - 1])
            }
            Period::Half { year, half: 1 } => format!("6 tháng đầu năm {year}"),
            Period::Half { year, .. } => format!("6 tháng cuối năm {year}"),
            Period::Year { year } => format!("Năm {year}"),
            // Always "Lũy kế": "6 tháng đầu năm" already means the first half-year.
            Period::YearToDate { year, month } => format!("Lũy kế {month} tháng năm {year}"),
        }
    }

    /// The reporting frequency; `None` for year-to-date, which is computed, never reported.
    pub fn frequency(&self) -> Option<Frequency> {
        match self {
            Period::Month { .. } => Some(Frequency::Month),
            Period::Quarter { .. } => Some(Frequency::Quarter),
            Period::Half { .. } => Some(Frequency::Half),
            Period::Year { .. } => Some(Frequency::Year),
            Period::YearToDate { .. } => None,
        }
    }

    /// The calendar year the period lies in.
    pub fn year(&self) -> i32 {
        match *self {
            Period::Month { year, .. }
            | Period::Quarter { year, .. }
            | Period::Half { year, .. }
            | Period::Year { year }
            | Period::YearToDate { year, .. } => year,
        }
    }

    /// The first month covered.
    pub fn first_month(&self) -> Period {
        let (year, first, _) = self.span();
        Period::Month { year, month: first }
    }

    /// The last month covered.
    pub fn last_month(&self) -> Period {
        let (year, _, last) = self.span();
        Period::Month { year, month: last }
    }

    /// How many months the period covers.
    pub fn len_months(&self) -> u8 {
        let (_, first, last) = self.span();
        last - first + 1
    }

    /// The months covered, in order.
    pub fn months(&self) -> Vec<Period> {
        let (year, first, last) = self.span();
        (first..=last)
            .map(|month| Period::Month { year, month })
            .collect()
    }

    /// The first day of the period.
    pub fn start_date(&self) -> CivilDate {
        let (year, first, _) = self.span();
        CivilDate {
            year,
            month: first,
            day: 1,
        }
    }

    /// The last day of the period.
    pub fn end_date(&self) -> CivilDate {
        let (year, _, last) = self.span();
        CivilDate {
            year,
            month: last,
            day: CivilDate::days_in_month(year, last),
        }
    }

    /// The same period one year earlier (for "so với cùng kỳ năm trước").
    pub fn same_period_last_year(&self) -> Period {
        self.with_year(self.year().saturating_sub(1))
    }

    /// The period of the same kind just before: 2025-01 → 2024-12, 2025-Q1 → 2024-Q4,
    /// 2025-YTD09 → 2024-YTD09 (a year-to-date steps by whole years).
    pub fn previous(&self) -> Period {
        self.step(-1)
    }

    /// The period of the same kind just after; see [`Period::previous`].
    pub fn next(&self) -> Period {
        self.step(1)
    }

    /// The period of frequency `freq` that contains `month` of `year` (month clamped to 1–12).
    pub fn containing(freq: Frequency, year: i32, month: u8) -> Period {
        let month = month.clamp(1, 12);
        match freq {
            Frequency::Month => Period::Month { year, month },
            Frequency::Quarter => Period::Quarter {
                year,
                quarter: (month - 1) / 3 + 1,
            },
            Frequency::Half => Period::Half {
                year,
                half: (month - 1) / 6 + 1,
            },
            Frequency::Year => Period::Year { year },
        }
    }

    /// `year * 12 + month - 1` of a month, so month ranges are integer ranges; for longer periods
    /// the index of the first month.
    pub fn month_index(&self) -> i32 {
        let (year, first, _) = self.span();
        month_index(year, first)
    }

    /// The month with the given [`Period::month_index`].
    pub fn from_month_index(index: i32) -> Period {
        Period::Month {
            year: index.div_euclid(12),
            // rem_euclid(12) is 0..=11, so the cast cannot truncate.
            month: index.rem_euclid(12) as u8 + 1,
        }
    }

    /// The year-to-date ending at this period's last month (2025-Q3 → 2025-YTD09).
    pub fn ytd(&self) -> Period {
        let (year, _, last) = self.span();
        Period::YearToDate { year, month: last }
    }

    /// Whether every month of `other` lies within this period.
    pub fn contains(&self, other: &Period) -> bool {
        let (first, last) = self.index_range();
        let (o_first, o_last) = other.index_range();
        first <= o_first && o_last <= last
    }

    /// The longer calendar periods this one adds up into: a month's quarter, half and year; a
    /// quarter's half and year; a half's year. Years and year-to-dates have none.
    pub fn parents(&self) -> Vec<Period> {
        let (year, first, _) = self.span();
        let wider: &[Frequency] = match self {
            Period::Month { .. } => &[Frequency::Quarter, Frequency::Half, Frequency::Year],
            Period::Quarter { .. } => &[Frequency::Half, Frequency::Year],
            Period::Half { .. } => &[Frequency::Year],
            Period::Year { .. } | Period::YearToDate { .. } => &[],
        };
        wider
            .iter()
            .map(|&f| Period::containing(f, year, first))
            .collect()
    }

    /// Every period of the same kind from `from` to `to`, both included. Year-to-dates must end
    /// in the same month and step by years. At most [`MAX_RANGE`] periods.
    pub fn range(from: Period, to: Period) -> Result<Vec<Period>, PeriodError> {
        let (from, to) = (from.clamped(), to.clamped());
        if from.kind() != to.kind() {
            return Err(PeriodError::RangeMixedKinds {
                from: from.id(),
                to: to.id(),
            });
        }
        let count = to.ordinal() - from.ordinal() + 1;
        if count < 1 {
            return Err(PeriodError::RangeReversed {
                from: from.id(),
                to: to.id(),
            });
        }
        if count > MAX_RANGE as i64 {
            return Err(PeriodError::RangeTooLong {
                from: from.id(),
                to: to.id(),
                count,
            });
        }
        let mut out = Vec::with_capacity(count as usize);
        let mut p = from;
        for _ in 0..count {
            out.push(p);
            p = p.next();
        }
        Ok(out)
    }

    /// The same period with fields clamped into range.
    fn clamped(self) -> Period {
        match self {
            Period::Month { year, month } => Period::Month {
                year,
                month: month.clamp(1, 12),
            },
            Period::Quarter { year, quarter } => Period::Quarter {
                year,
                quarter: quarter.clamp(1, 4),
            },
            Period::Half { year, half } => Period::Half {
                year,
                half: half.clamp(1, 2),
            },
            Period::Year { year } => Period::Year { year },
            Period::YearToDate { year, month } => Period::YearToDate {
                year,
                month: month.clamp(1, 12),
            },
        }
    }

    /// The id as the fields are, unclamped, for error messages about bad fields.
    fn raw_id(&self) -> String {
        match *self {
            Period::Month { year, month } => format!("{year:04}-{month:02}"),
            Period::Quarter { year, quarter } => format!("{year:04}-Q{quarter}"),
            Period::Half { year, half } => format!("{year:04}-H{half}"),
            Period::Year { year } => format!("{year:04}"),
            Period::YearToDate { year, month } => format!("{year:04}-YTD{month:02}"),
        }
    }

    /// The unclamped fields, so out-of-range values still order consistently with `Eq`.
    fn raw_key(&self) -> (i32, u8) {
        match *self {
            Period::Month { year, month } | Period::YearToDate { year, month } => (year, month),
            Period::Quarter { year, quarter } => (year, quarter),
            Period::Half { year, half } => (year, half),
            Period::Year { year } => (year, 0),
        }
    }

    /// Year, first month and last month covered.
    fn span(&self) -> (i32, u8, u8) {
        match self.clamped() {
            Period::Month { year, month } => (year, month, month),
            Period::Quarter { year, quarter } => (year, 3 * quarter - 2, 3 * quarter),
            Period::Half { year, half } => (year, 6 * half - 5, 6 * half),
            Period::Year { year } => (year, 1, 12),
            Period::YearToDate { year, month } => (year, 1, month),
        }
    }

    fn index_range(&self) -> (i32, i32) {
        let (year, first, last) = self.span();
        (month_index(year, first), month_index(year, last))
    }

    /// What "same kind" means for ranges and ordering ties: the variant, and for a year-to-date
    /// its length, since YTD06 and YTD09 do not step into each other.
    fn kind(&self) -> (u8, u8) {
        match self.clamped() {
            Period::Month { .. } => (0, 0),
            Period::Quarter { .. } => (1, 0),
            Period::Half { .. } => (2, 0),
            Period::Year { .. } => (3, 0),
            Period::YearToDate { month, .. } => (4, month),
        }
    }

    /// Position among periods of the same kind, consecutive integers for consecutive periods.
    fn ordinal(&self) -> i64 {
        let year = i64::from(self.year());
        match self.clamped() {
            Period::Month { month, .. } => year * 12 + i64::from(month) - 1,
            Period::Quarter { quarter, .. } => year * 4 + i64::from(quarter) - 1,
            Period::Half { half, .. } => year * 2 + i64::from(half) - 1,
            Period::Year { .. } | Period::YearToDate { .. } => year,
        }
    }

    fn with_year(&self, year: i32) -> Period {
        match self.clamped() {
            Period::Month { month, .. } => Period::Month { year, month },
            Period::Quarter { quarter, .. } => Period::Quarter { year, quarter },
            Period::Half { half, .. } => Period::Half { year, half },
            Period::Year { .. } => Period::Year { year },
            Period::YearToDate { month, .. } => Period::YearToDate { year, month },
        }
    }

    fn step(&self, by: i32) -> Period {
        // Per-year count of periods of this kind; stepping is arithmetic on (year, slot).
        let (per_year, slot) = match self.clamped() {
            Period::Month { month, .. } => (12, month),
            Period::Quarter { quarter, .. } => (4, quarter),
            Period::Half { half, .. } => (2, half),
            Period::Year { .. } | Period::YearToDate { .. } => {
                return self.with_year(self.year().saturating_add(by));
            }
        };
        let n = i64::from(self.year()) * per_year + i64::from(slot) - 1 + i64::from(by);
        let year = i32::try_from(n.div_euclid(per_year)).unwrap_or(self.year());
        // rem_euclid is below per_year ≤ 12, so it fits in u8.
        let slot = n.rem_euclid(per_year) as u8 + 1;
        match self {
            Period::Month { .. } => Period::Month { year, month: slot },
            Period::Quarter { .. } => Period::Quarter {
                year,
                quarter: slot,
            },
            _ => Period::Half { year, half: slot },
        }
    }
}

fn month_index(year: i32, month: u8) -> i32 {
    year.saturating_mul(12).saturating_add(i32::from(month) - 1)
}

impl Ord for Period {
    /// Chronological by first month, then shorter first (2025-07 < 2025-Q3 < 2025-H2), then
    /// calendar periods before the year-to-date of the same span (2025-H1 < 2025-YTD06).
    fn cmp(&self, other: &Self) -> Ordering {
        self.month_index()
            .cmp(&other.month_index())
            .then(self.len_months().cmp(&other.len_months()))
            .then(self.kind().cmp(&other.kind()))
            .then_with(|| self.raw_key().cmp(&other.raw_key()))
    }
}

impl PartialOrd for Period {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Period::parse(s)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.id())
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Period::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Shows user text in quotes, cut short so one bad cell cannot flood a report.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 60;
        if self.0.chars().count() > MAX_CHARS {
            let cut: String = self.0.chars().take(MAX_CHARS).collect();
            write!(f, "\"{cut}…\"")
        } else {
            write!(f, "\"{}\"", self.0)
        }
    }
}

fn q(s: &str) -> Quoted<'_> {
    Quoted(s)
}

/// The accepted forms, for the end of error messages.
const PERIOD_FORMS: &str = "\"Tháng 7/2025\", \"Quý III/2025\", \"6 tháng đầu năm 2025\", \
    \"6 tháng cuối năm 2025\", \"Năm 2025\", \"Lũy kế 9 tháng năm 2025\", or the ids \"2025-07\", \
    \"2025-Q3\", \"2025-H1\", \"2025\", \"2025-YTD09\"";

/// Why a text is not a period, or a period range cannot be listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// Nothing was written.
    #[error("the period is empty. Write it e.g. {PERIOD_FORMS}.")]
    Empty,
    /// A month number outside 1–12.
    #[error(
        "{} is not a period: month must be 1–12. Write e.g. \"Tháng 7/2025\" or \"2025-07\".",
        q(.text)
    )]
    MonthOutOfRange { text: String },
    /// A quarter outside I–IV.
    #[error(
        "{} is not a period: quarter must be I–IV (or 1–4). Write e.g. \"Quý III/2025\" or \
         \"2025-Q3\".",
        q(.text)
    )]
    QuarterOutOfRange { text: String },
    /// A half-year other than 1 or 2.
    #[error(
        "{} is not a period: a year has two halves. Write \"6 tháng đầu năm 2025\" \
         (\"2025-H1\") or \"6 tháng cuối năm 2025\" (\"2025-H2\").",
        q(.text)
    )]
    HalfOutOfRange { text: String },
    /// A year-to-date (lũy kế) of other than 1–12 months.
    #[error(
        "{} is not a period: lũy kế counts 1–12 months from January. Write e.g. \
         \"Lũy kế 9 tháng năm 2025\" or \"2025-YTD09\".",
        q(.text)
    )]
    YearToDateOutOfRange { text: String },
    /// A year outside 1900–2200, or not written with four digits.
    #[error(
        "{} is not a period: the year must be written in full, 1900–2200. Write e.g. \"Năm 2025\", \
         \"Tháng 7/2025\" or \"2025-07\".",
        q(.text)
    )]
    YearOutOfRange { text: String },
    /// A full date where a period was expected; the caller decides whether to take the period
    /// containing it.
    #[error(
        "{} is a date, not a period. Write the period it belongs to, e.g. \"Tháng 7/2025\" or \
         \"2025-07\".",
        q(.text)
    )]
    IsADate { text: String },
    /// Text in none of the accepted forms.
    #[error("{} is not a period. Write e.g. {PERIOD_FORMS}.", q(.text))]
    Unrecognized { text: String },
    /// A range whose two ends are different kinds of period.
    #[error(
        "cannot list periods from \"{from}\" to \"{to}\": both ends must be the same kind (two \
         months, two quarters, ...). Write e.g. \"2025-01\" to \"2025-12\"."
    )]
    RangeMixedKinds { from: String, to: String },
    /// A range whose start comes after its end.
    #[error(
        "cannot list periods from \"{from}\" to \"{to}\": the start is after the end. Write \
         the earlier period first."
    )]
    RangeReversed { from: String, to: String },
    /// A range of more than [`MAX_RANGE`] periods.
    #[error(
        "cannot list periods from \"{from}\" to \"{to}\": that is {count} periods, more than \
         600. Check the years, or ask for a shorter range."
    )]
    RangeTooLong {
        from: String,
        to: String,
        count: i64,
    },
}

/// One piece of a period text after lower-casing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Num(&'a str),
    Word(&'a str),
    Sep(char),
}

/// Splits lower-cased text into numbers, words and separators; spaces only delimit.
/// `None` for a character no period form uses.
fn tokenize(s: &str) -> Option<Vec<Tok<'_>>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
        } else if c.is_ascii_digit() {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            out.push(Tok::Num(&rest[..end]));
            rest = &rest[end..];
        } else if c.is_alphabetic() {
            let end = rest
                .find(|c: char| !c.is_alphabetic())
                .unwrap_or(rest.len());
            out.push(Tok::Word(canonical_word(&rest[..end])));
            rest = &rest[end..];
        } else if matches!(c, '/' | '-' | '.' | ':' | ',') {
            out.push(Tok::Sep(c));
            rest = &rest[c.len_utf8()..];
        } else {
            return None;
        }
    }
    Some(out)
}

/// Maps spellings without diacritics (common when reports pass through old systems) and old
/// spellings to the one form the grammar matches.
fn canonical_word(w: &str) -> &str {
    match w {
        "thang" => "tháng",
        "quy" | "quí" | "qui" => "quý",
        "nam" => "năm",
        "luy" | "luỹ" => "lũy",
        "ke" => "kế",
        "dau" => "đầu",
        "cuoi" => "cuối",
        "ngay" => "ngày",
        other => other,
    }
}

/// A digit run's value, saturating so an absurd run is simply out of range.
fn num(s: &str) -> u64 {
    s.parse().unwrap_or(u64::MAX)
}

fn roman(w: &str) -> Option<u64> {
    ROMAN
        .iter()
        .position(|r| r.eq_ignore_ascii_case(w))
        .map(|i| i as u64 + 1)
}

fn parse_period(s: &str) -> Result<Period, PeriodError> {
    use Tok::{Num, Sep, Word};

    let text = s.trim();
    if text.is_empty() {
        return Err(PeriodError::Empty);
    }
    let owned = || text.to_string();
    let unrecognized = || PeriodError::Unrecognized { text: owned() };
    let lower = text.to_lowercase();
    let toks = tokenize(&lower).ok_or_else(unrecognized)?;

    let year = |y: &str| -> Result<i32, PeriodError> {
        let v = num(y);
        match i32::try_from(v) {
            Ok(y) if (MIN_YEAR..=MAX_YEAR).contains(&y) => Ok(y),
            _ => Err(PeriodError::YearOutOfRange { text: owned() }),
        }
    };
    let month = |m: u64| -> Result<u8, PeriodError> {
        match m {
            1..=12 => Ok(m as u8),
            _ => Err(PeriodError::MonthOutOfRange { text: owned() }),
        }
    };
    let quarter = |v: u64| -> Result<u8, PeriodError> {
        match v {
            1..=4 => Ok(v as u8),
            _ => Err(PeriodError::QuarterOutOfRange { text: owned() }),
        }
    };
    let half = |v: u64| -> Result<u8, PeriodError> {
        match v {
            1..=2 => Ok(v as u8),
            _ => Err(PeriodError::HalfOutOfRange { text: owned() }),
        }
    };
    let ytd_len = |v: u64| -> Result<u8, PeriodError> {
        match v {
            1..=12 => Ok(v as u8),
            _ => Err(PeriodError::YearToDateOutOfRange { text: owned() }),
        }
    };

    // Dates first: "31/07/2025" would otherwise half-match nothing and read as garbage.
    match toks.as_slice() {
        [Num(_), Sep(a), Num(_), Sep(b), Num(_), ..] if a == b && matches!(a, '/' | '-' | '.') => {
            return Err(PeriodError::IsADate { text: owned() });
        }
        [Word("ngày"), ..] => return Err(PeriodError::IsADate { text: owned() }),
        _ => {}
    }

    // "Lũy kế" marks a year-to-date explicitly, which changes how "6 tháng đầu năm" reads.
    let (cumulative, body) = match toks.as_slice() {
        [Word("lũy"), Word("kế"), rest @ ..] => (true, rest),
        all => (false, all),
    };

    let period = match body {
        // Canonical ids.
        [Num(y)] if !cumulative => Period::Year { year: year(y)? },
        [Num(a), Sep('-' | '/'), Num(b)] if !cumulative => {
            if a.len() >= 3 {
                let y = year(a)?;
                Period::Month {
                    year: y,
                    month: month(num(b))?,
                }
            } else {
                let m = month(num(a))?;
                Period::Month {
                    year: year(b)?,
                    month: m,
                }
            }
        }
        [Num(y), Sep('-' | '/'), Word(w), Num(n)] if !cumulative && y.len() >= 3 => {
            let n = num(n);
            match *w {
                "q" => {
                    let q = quarter(n)?;
                    Period::Quarter {
                        year: year(y)?,
                        quarter: q,
                    }
                }
                "h" => {
                    let h = half(n)?;
                    Period::Half {
                        year: year(y)?,
                        half: h,
                    }
                }
                "ytd" => {
                    let m = ytd_len(n)?;
                    Period::YearToDate {
                        year: year(y)?,
                        month: m,
                    }
                }
                "t" | "m" => {
                    let m = month(n)?;
                    Period::Month {
                        year: year(y)?,
                        month: m,
                    }
                }
                _ => return Err(unrecognized()),
            }
        }
        // Năm 2025.
        [Word("năm"), Num(y)] if !cumulative => Period::Year { year: year(y)? },
        // Tháng 7/2025, Tháng 7 năm 2025, T7/2025.
        [
            Word("tháng" | "t"),
            Num(m),
            Sep('/' | '-') | Word("năm"),
            Num(y),
        ] if !cumulative => {
            let m = month(num(m))?;
            Period::Month {
                year: year(y)?,
                month: m,
            }
        }
        // Quý III/2025, Quý 3/2025, Quý III năm 2025, Q3/2025.
        [
            Word("quý" | "q"),
            Num(n),
            Sep('/' | '-') | Word("năm"),
            Num(y),
        ] if !cumulative => {
            let qv = quarter(num(n))?;
            Period::Quarter {
                year: year(y)?,
                quarter: qv,
            }
        }
        [Word("quý"), Word(r), Sep('/' | '-') | Word("năm"), Num(y)] if !cumulative => {
            let qv = quarter(roman(r).ok_or_else(unrecognized)?)?;
            Period::Quarter {
                year: year(y)?,
                quarter: qv,
            }
        }
        // QIII/2025: the letter and the numeral run together into one word.
        [Word(w), Sep('/' | '-') | Word("năm"), Num(y)]
            if !cumulative && w.starts_with('q') && roman(&w[1..]).is_some() =>
        {
            let qv = quarter(roman(&w[1..]).unwrap_or(0))?;
            Period::Quarter {
                year: year(y)?,
                quarter: qv,
            }
        }
        // H1/2025.
        [Word("h"), Num(n), Sep('/' | '-') | Word("năm"), Num(y)] if !cumulative => {
            let h = half(num(n))?;
            Period::Half {
                year: year(y)?,
                half: h,
            }
        }
        // N tháng [đầu|cuối] năm 2025, optionally after "Lũy kế".
        [Num(n), Word("tháng"), tail @ ..] => {
            let n = num(n);
            let (which, y) = match tail {
                [Word("năm"), Num(y)] => (None, y),
                [Word(w @ ("đầu" | "cuối")), Word("năm"), Num(y)] => (Some(*w), y),
                // "Lũy kế 9 tháng 2025": the prefix alone says what it is.
                [Sep('/' | '-'), Num(y)] | [Num(y)] if cumulative => (None, y),
                _ => return Err(unrecognized()),
            };
            match which {
                Some("cuối") if n == 6 && !cumulative => Period::Half {
                    year: year(y)?,
                    half: 2,
                },
                // Only the second half-year ends at the end of the year; lũy kế starts in January.
                Some("cuối") => return Err(unrecognized()),
                Some(_) if n == 6 && !cumulative => Period::Half {
                    year: year(y)?,
                    half: 1,
                },
                _ => {
                    let m = ytd_len(n)?;
                    Period::YearToDate {
                        year: year(y)?,
                        month: m,
                    }
                }
            }
        }
        _ => return Err(unrecognized()),
    };
    Ok(period)
}

/// A calendar date without time or zone.
///
/// Fields are public so constants can be written as literals; [`CivilDate::new`] and the parsers
/// validate. Field order makes the derived ordering chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CivilDate {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

/// Why a text or numbers are not a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Nothing was written.
    #[error(
        "the date is empty. Write it as dd/mm/yyyy, e.g. \"31/07/2025\", or yyyy-mm-dd, e.g. \
         \"2025-07-31\"."
    )]
    Empty,
    /// Text in neither accepted form.
    #[error(
        "{} is not a date. Write it as dd/mm/yyyy, e.g. \"31/07/2025\", or yyyy-mm-dd, e.g. \
         \"2025-07-31\".",
        q(.text)
    )]
    Unrecognized { text: String },
    /// A month outside 1–12.
    #[error(
        "{} is not a date: month must be 1–12. Write it as dd/mm/yyyy, e.g. \"31/07/2025\".",
        q(.text)
    )]
    MonthOutOfRange { text: String },
    /// A day past the end of its month (or 0), e.g. 29/02 in a non-leap year.
    #[error(
        "{} is not a date: month {month}/{year} has {max} days. Write a day from 1 to {max}, \
         e.g. \"{max:02}/{month:02}/{year}\".",
        q(.text)
    )]
    DayOutOfRange {
        text: String,
        year: i32,
        month: u8,
        max: u8,
    },
    /// A year outside 1900–2200, or not written with four digits.
    #[error(
        "{} is not a date: the year must be written in full, 1900–2200. Write e.g. \"31/07/2025\".",
        q(.text)
    )]
    YearOutOfRange { text: String },
}

impl CivilDate {
    /// A checked date.
    pub fn new(year: i32, month: u8, day: u8) -> Result<CivilDate, DateError> {
        let text = format!("{day:02}/{month:02}/{year:04}");
        check_date(&text, i64::from(year), u64::from(month), u64::from(day))
    }

    /// Whether month and day exist in that year (the year range is not checked).
    pub fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= CivilDate::days_in_month(self.year, self.month)
    }

    /// Gregorian leap year.
    pub fn is_leap_year(year: i32) -> bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    /// Days in `month` of `year`; 0 for a month outside 1–12.
    pub fn days_in_month(year: i32, month: u8) -> u8 {
        match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if CivilDate::is_leap_year(year) => 29,
            2 => 28,
            _ => 0,
        }
    }

    /// `yyyy-mm-dd`.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// Reads `dd/mm/yyyy` (also `d/m/yyyy`, `-` or `.` for `/`) or "ngày 31 tháng 7 năm 2025".
    pub fn parse_vi(s: &str) -> Result<CivilDate, DateError> {
        let text = s.trim();
        if text.is_empty() {
            return Err(DateError::Empty);
        }
        let lower = text.to_lowercase();
        let unrecognized = || DateError::Unrecognized {
            text: text.to_string(),
        };
        let toks = tokenize(&lower).ok_or_else(unrecognized)?;
        use Tok::{Num, Sep, Word};
        let (d, m, y) = match toks.as_slice() {
            [Num(d), Sep(a), Num(m), Sep(b), Num(y)]
                if a == b && matches!(a, '/' | '-' | '.') && d.len() <= 2 && m.len() <= 2 =>
            {
                (d, m, y)
            }
            [
                Word("ngày"),
                Num(d),
                Word("tháng"),
                Num(m),
                Word("năm"),
                Num(y),
            ] => (d, m, y),
            _ => return Err(unrecognized()),
        };
        if y.len() != 4 {
            return Err(DateError::YearOutOfRange {
                text: text.to_string(),
            });
        }
        check_date(text, num(y).min(i64::MAX as u64) as i64, num(m), num(d))
    }

    /// Reads `yyyy-mm-dd` (also single-digit month and day); a time after `T` or a space, as
    /// spreadsheets export date cells, is ignored.
    pub fn parse_iso(s: &str) -> Result<CivilDate, DateError> {
        let text = s.trim();
        if text.is_empty() {
            return Err(DateError::Empty);
        }
        let unrecognized = || DateError::Unrecognized {
            text: text.to_string(),
        };
        let date = match text.find(['T', 't', ' ']) {
            Some(i) => {
                let time = &text[i + 1..];
                let time_ok = time.starts_with(|c: char| c.is_ascii_digit())
                    && time
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == ':' || c == '.');
                if !time_ok {
                    return Err(unrecognized());
                }
                &text[..i]
            }
            None => text,
        };
        let parts: Vec<&str> = date.split('-').collect();
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        match parts.as_slice() {
            [y, m, d]
                if y.len() == 4
                    && (1..=2).contains(&m.len())
                    && (1..=2).contains(&d.len())
                    && parts.iter().all(|p| digits(p)) =>
            {
                check_date(text, num(y) as i64, num(m), num(d))
            }
            _ => Err(unrecognized()),
        }
    }

    /// Reads either form: [`CivilDate::parse_iso`] or [`CivilDate::parse_vi`].
    pub fn parse_any(s: &str) -> Result<CivilDate, DateError> {
        match CivilDate::parse_iso(s) {
            Ok(d) => Ok(d),
            // An ISO-shaped text with a bad field keeps the ISO error, which names that field.
            Err(e @ (DateError::MonthOutOfRange { .. } | DateError::DayOutOfRange { .. })) => {
                Err(e)
            }
            Err(_) => CivilDate::parse_vi(s),
        }
    }

    /// The date `days` later (earlier when negative). An invalid date is first clamped to the
    /// nearest valid one.
    pub fn add_days(self, days: i32) -> CivilDate {
        let n = self.day_number() + i64::from(days);
        let (y, m, d) = civil_from_days(n);
        CivilDate {
            year: i32::try_from(y).unwrap_or(if y < 0 { i32::MIN } else { i32::MAX }),
            month: m,
            day: d,
        }
    }

    /// The date `days` after 1 January 1970 (before it when negative): a clock's day.
    pub fn from_unix_days(days: i64) -> CivilDate {
        let (y, m, d) = civil_from_days(days);
        CivilDate {
            year: i32::try_from(y).unwrap_or(if y < 0 { i32::MIN } else { i32::MAX }),
            month: m,
            day: d,
        }
    }

    /// Days from `self` to `other`: positive when `other` is later.
    pub fn days_until(self, other: CivilDate) -> i64 {
        other.day_number() - self.day_number()
    }

    /// The month containing this date.
    pub fn month_period(self) -> Period {
        Period::Month {
            year: self.year,
            month: self.month.clamp(1, 12),
        }
    }

    /// Days since 1970-01-01, after clamping month and day into range.
    fn day_number(self) -> i64 {
        let month = self.month.clamp(1, 12);
        let day = self
            .day
            .clamp(1, CivilDate::days_in_month(self.year, month));
        days_from_civil(i64::from(self.year), i64::from(month), i64::from(day))
    }
}

fn check_date(text: &str, year: i64, month: u64, day: u64) -> Result<CivilDate, DateError> {
    let year = match i32::try_from(year) {
        Ok(y) if (MIN_YEAR..=MAX_YEAR).contains(&y) => y,
        _ => {
            return Err(DateError::YearOutOfRange {
                text: text.to_string(),
            });
        }
    };
    let month = match month {
        1..=12 => month as u8,
        _ => {
            return Err(DateError::MonthOutOfRange {
                text: text.to_string(),
            });
        }
    };
    let max = CivilDate::days_in_month(year, month);
    if day < 1 || day > u64::from(max) {
        return Err(DateError::DayOutOfRange {
            text: text.to_string(),
            year,
            month,
            max,
        });
    }
    Ok(CivilDate {
        year,
        month,
        day: day as u8,
    })
}

// Howard Hinnant's days_from_civil / civil_from_days: exact for the proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both are bounded by the algorithm: day 1..=31, month 1..=12.
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl fmt::Display for CivilDate {
    /// `dd/mm/yyyy`, as Vietnamese documents write dates.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:02}/{:04}", self.day, self.month, self.year)
    }
}

impl FromStr for CivilDate {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CivilDate::parse_any(s)
    }
}

impl Serialize for CivilDate {
    /// As `yyyy-mm-dd`, which sorts and which every client parses.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.iso())
    }
}

impl<'de> Deserialize<'de> for CivilDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        CivilDate::parse_any(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(year: i32, month: u8) -> Period {
        Period::Month { year, month }
    }
    fn qtr(year: i32, quarter: u8) -> Period {
        Period::Quarter { year, quarter }
    }
    fn h(year: i32, half: u8) -> Period {
        Period::Half { year, half }
    }
    fn y(year: i32) -> Period {
        Period::Year { year }
    }
    fn ytd(year: i32, month: u8) -> Period {
        Period::YearToDate { year, month }
    }
    fn d(year: i32, month: u8, day: u8) -> CivilDate {
        CivilDate { year, month, day }
    }
    fn parse(s: &str) -> Period {
        Period::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    /// Every period of every kind in 2023–2026.
    fn all_periods() -> Vec<Period> {
        let mut out = Vec::new();
        for year in 2023..=2026 {
            out.extend((1..=12).map(|mo| m(year, mo)));
            out.extend((1..=4).map(|q| qtr(year, q)));
            out.extend((1..=2).map(|hf| h(year, hf)));
            out.push(y(year));
            out.extend((1..=12).map(|mo| ytd(year, mo)));
        }
        out
    }

    // ---- Frequency ----

    #[test]
    fn frequency_labels_are_vietnamese() {
        assert_eq!(Frequency::Month.label_vi(), "Tháng");
        assert_eq!(Frequency::Quarter.label_vi(), "Quý");
        assert_eq!(Frequency::Half.label_vi(), "6 tháng");
        assert_eq!(Frequency::Year.label_vi(), "Năm");
    }

    #[test]
    fn frequency_serialises_lowercase() {
        for f in Frequency::ALL {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.as_str()));
            assert_eq!(serde_json::from_str::<Frequency>(&json).unwrap(), f);
            assert_eq!(f.to_string(), f.as_str());
        }
        assert_eq!(serde_json::to_string(&Frequency::Half).unwrap(), "\"half\"");
    }

    #[test]
    fn frequency_parse_accepts_wire_and_vietnamese_names() {
        assert_eq!(Frequency::parse("quarter"), Some(Frequency::Quarter));
        assert_eq!(Frequency::parse(" Month "), Some(Frequency::Month));
        assert_eq!(Frequency::parse("Quý"), Some(Frequency::Quarter));
        assert_eq!(Frequency::parse("6 tháng"), Some(Frequency::Half));
        assert_eq!(Frequency::parse("năm"), Some(Frequency::Year));
        assert_eq!(Frequency::parse("weekly"), None);
    }

    #[test]
    fn frequency_months_count() {
        let months: Vec<u8> = Frequency::ALL.iter().map(|f| f.months()).collect();
        assert_eq!(months, [1, 3, 6, 12]);
    }

    // ---- ids and labels ----

    #[test]
    fn ids_are_canonical() {
        assert_eq!(m(2025, 7).id(), "2025-07");
        assert_eq!(qtr(2025, 3).id(), "2025-Q3");
        assert_eq!(h(2025, 1).id(), "2025-H1");
        assert_eq!(y(2025).id(), "2025");
        assert_eq!(ytd(2025, 9).id(), "2025-YTD09");
        assert_eq!(ytd(2025, 12).id(), "2025-YTD12");
        assert_eq!(m(2025, 12).to_string(), "2025-12");
    }

    #[test]
    fn month_label_has_no_leading_zero() {
        assert_eq!(m(2025, 7).label_vi(), "Tháng 7/2025");
        assert_eq!(m(2025, 12).label_vi(), "Tháng 12/2025");
    }

    #[test]
    fn quarter_label_uses_roman_numerals() {
        let labels: Vec<String> = (1..=4).map(|q| qtr(2025, q).label_vi()).collect();
        assert_eq!(
            labels,
            ["Quý I/2025", "Quý II/2025", "Quý III/2025", "Quý IV/2025"]
        );
    }

    #[test]
    fn half_labels_say_first_and_last_six_months() {
        assert_eq!(h(2025, 1).label_vi(), "6 tháng đầu năm 2025");
        assert_eq!(h(2025, 2).label_vi(), "6 tháng cuối năm 2025");
    }

    #[test]
    fn year_label() {
        assert_eq!(y(2025).label_vi(), "Năm 2025");
    }

    #[test]
    fn ytd_labels_always_say_luy_ke_so_ytd06_differs_from_h1() {
        assert_eq!(ytd(2025, 9).label_vi(), "Lũy kế 9 tháng năm 2025");
        assert_eq!(ytd(2025, 6).label_vi(), "Lũy kế 6 tháng năm 2025");
        assert_ne!(ytd(2025, 6).label_vi(), h(2025, 1).label_vi());
        assert_eq!(ytd(2025, 12).label_vi(), "Lũy kế 12 tháng năm 2025");
    }

    // ---- parsing: every accepted form ----

    #[test]
    fn parses_canonical_ids() {
        assert_eq!(parse("2025-07"), m(2025, 7));
        assert_eq!(parse("2025-7"), m(2025, 7));
        assert_eq!(parse("2025-Q3"), qtr(2025, 3));
        assert_eq!(parse("2025-q3"), qtr(2025, 3));
        assert_eq!(parse("2025-H1"), h(2025, 1));
        assert_eq!(parse("2025-h2"), h(2025, 2));
        assert_eq!(parse("2025"), y(2025));
        assert_eq!(parse("2025-YTD09"), ytd(2025, 9));
        assert_eq!(parse("2025-ytd9"), ytd(2025, 9));
        assert_eq!(parse("2025-YTD12"), ytd(2025, 12));
    }

    #[test]
    fn parses_vietnamese_month_forms() {
        for s in [
            "Tháng 7/2025",
            "tháng 07/2025",
            "Tháng 7 năm 2025",
            "THÁNG 7 NĂM 2025",
            "T7/2025",
            "t07/2025",
            "07/2025",
            "7/2025",
            "7-2025",
            "Tháng 7-2025",
            "Tháng 7 / 2025",
        ] {
            assert_eq!(parse(s), m(2025, 7), "{s}");
        }
    }

    #[test]
    fn parses_vietnamese_quarter_forms() {
        for s in [
            "Quý III/2025",
            "quý iii/2025",
            "Quý 3/2025",
            "Quý III năm 2025",
            "Quý 3 năm 2025",
            "Q3/2025",
            "q3/2025",
            "QIII/2025",
            "Quý III - 2025",
        ] {
            assert_eq!(parse(s), qtr(2025, 3), "{s}");
        }
        assert_eq!(parse("Quý IV/2024"), qtr(2024, 4));
        assert_eq!(parse("Quý I/2024"), qtr(2024, 1));
        assert_eq!(parse("Quý II năm 2024"), qtr(2024, 2));
    }

    #[test]
    fn parses_vietnamese_half_forms() {
        assert_eq!(parse("6 tháng đầu năm 2025"), h(2025, 1));
        assert_eq!(parse("6 Tháng Đầu Năm 2025"), h(2025, 1));
        assert_eq!(parse("06 tháng đầu năm 2025"), h(2025, 1));
        assert_eq!(parse("6 tháng cuối năm 2025"), h(2025, 2));
        assert_eq!(parse("H1/2025"), h(2025, 1));
        assert_eq!(parse("h2/2025"), h(2025, 2));
    }

    #[test]
    fn parses_vietnamese_year_forms() {
        assert_eq!(parse("Năm 2025"), y(2025));
        assert_eq!(parse("năm 2025"), y(2025));
        assert_eq!(parse("NĂM 2025"), y(2025));
    }

    #[test]
    fn parses_year_to_date_forms() {
        for s in [
            "Lũy kế 9 tháng năm 2025",
            "Lũy kế 9 tháng 2025",
            "Luỹ kế 9 tháng năm 2025",
            "lũy kế 09 tháng năm 2025",
            "9 tháng năm 2025",
            "9 tháng đầu năm 2025",
            "Lũy kế 9 tháng đầu năm 2025",
        ] {
            assert_eq!(parse(s), ytd(2025, 9), "{s}");
        }
        for n in 1..=12u8 {
            assert_eq!(parse(&format!("{n} tháng năm 2025")), ytd(2025, n));
            assert_eq!(parse(&format!("Lũy kế {n} tháng 2025")), ytd(2025, n));
            if n != 6 {
                assert_eq!(parse(&format!("{n} tháng đầu năm 2025")), ytd(2025, n));
            }
        }
    }

    #[test]
    fn six_months_first_half_is_h1_not_ytd06() {
        assert_eq!(parse("6 tháng đầu năm 2025"), h(2025, 1));
        assert_eq!(parse("6 tháng năm 2025"), ytd(2025, 6));
        assert_eq!(parse("Lũy kế 6 tháng năm 2025"), ytd(2025, 6));
        // With "Lũy kế" the writer says it is cumulative, so it stays a year-to-date.
        assert_eq!(parse("Lũy kế 6 tháng đầu năm 2025"), ytd(2025, 6));
    }

    #[test]
    fn twelve_months_of_the_year_is_ytd12() {
        assert_eq!(parse("12 tháng năm 2025"), ytd(2025, 12));
        assert_eq!(parse("Lũy kế 12 tháng năm 2025"), ytd(2025, 12));
    }

    #[test]
    fn parsing_tolerates_spaces_and_case() {
        assert_eq!(parse("   tháng   7 /  2025  "), m(2025, 7));
        assert_eq!(parse("\tQUÝ  III/2025\n"), qtr(2025, 3));
        assert_eq!(parse(" 2025-q3 "), qtr(2025, 3));
        assert_eq!(parse("lŨy KẾ  9  tháng   năm 2025"), ytd(2025, 9));
    }

    #[test]
    fn parsing_accepts_text_without_diacritics() {
        assert_eq!(parse("Thang 7/2025"), m(2025, 7));
        assert_eq!(parse("Quy III/2025"), qtr(2025, 3));
        assert_eq!(parse("Quí III/2025"), qtr(2025, 3));
        assert_eq!(parse("Nam 2025"), y(2025));
        assert_eq!(parse("6 thang dau nam 2025"), h(2025, 1));
        assert_eq!(parse("6 thang cuoi nam 2025"), h(2025, 2));
        assert_eq!(parse("Luy ke 9 thang nam 2025"), ytd(2025, 9));
    }

    #[test]
    fn from_str_matches_parse() {
        assert_eq!("Quý III/2025".parse::<Period>(), Ok(qtr(2025, 3)));
        assert!("x".parse::<Period>().is_err());
    }

    #[test]
    fn every_id_parses_back() {
        for p in all_periods() {
            assert_eq!(parse(&p.id()), p, "{}", p.id());
        }
    }

    #[test]
    fn every_label_parses_back() {
        for p in all_periods() {
            assert_eq!(parse(&p.label_vi()), p, "{}", p.label_vi());
            assert_eq!(parse(&p.label_vi().to_uppercase()), p);
            assert_eq!(parse(&p.label_vi().to_lowercase()), p);
        }
    }

    #[test]
    fn year_range_edges_parse() {
        assert_eq!(parse("1900"), y(1900));
        assert_eq!(parse("Tháng 12/2200"), m(2200, 12));
    }

    // ---- parsing: errors ----

    #[test]
    fn empty_text_is_empty_error() {
        assert_eq!(Period::parse(""), Err(PeriodError::Empty));
        assert_eq!(Period::parse("   "), Err(PeriodError::Empty));
        assert!(PeriodError::Empty.to_string().contains("Tháng 7/2025"));
    }

    #[test]
    fn month_13_is_rejected_with_month_range_message() {
        let err = Period::parse("Tháng 13/2025").unwrap_err();
        assert_eq!(
            err,
            PeriodError::MonthOutOfRange {
                text: "Tháng 13/2025".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "\"Tháng 13/2025\" is not a period: month must be 1–12. Write e.g. \"Tháng 7/2025\" \
             or \"2025-07\"."
        );
        for s in [
            "2025-13",
            "13/2025",
            "T0/2025",
            "2025-00",
            "Tháng 0 năm 2025",
        ] {
            assert!(
                matches!(Period::parse(s), Err(PeriodError::MonthOutOfRange { .. })),
                "{s}"
            );
        }
    }

    #[test]
    fn quarter_v_is_rejected() {
        for s in ["Quý V/2025", "2025-Q5", "Q0/2025", "Quý 5/2025", "QV/2025"] {
            let err = Period::parse(s).unwrap_err();
            assert_eq!(
                err,
                PeriodError::QuarterOutOfRange { text: s.into() },
                "{s}"
            );
            assert!(err.to_string().contains("Quý III/2025"));
        }
    }

    #[test]
    fn third_half_is_rejected() {
        for s in ["2025-H3", "H0/2025"] {
            let err = Period::parse(s).unwrap_err();
            assert_eq!(err, PeriodError::HalfOutOfRange { text: s.into() }, "{s}");
            assert!(err.to_string().contains("6 tháng đầu năm 2025"));
        }
    }

    #[test]
    fn year_to_date_past_twelve_months_is_rejected() {
        for s in ["2025-YTD13", "Lũy kế 13 tháng năm 2025", "0 tháng năm 2025"] {
            let err = Period::parse(s).unwrap_err();
            assert_eq!(
                err,
                PeriodError::YearToDateOutOfRange { text: s.into() },
                "{s}"
            );
            assert!(err.to_string().contains("Lũy kế 9 tháng năm 2025"));
        }
    }

    #[test]
    fn year_outside_1900_2200_is_rejected() {
        for s in [
            "1899",
            "2201",
            "Tháng 7/25",
            "Năm 20255",
            "2025-Q3".replace("2025", "1800").as_str(),
            "99999999999999999999999",
        ] {
            let err = Period::parse(s).unwrap_err();
            assert_eq!(err, PeriodError::YearOutOfRange { text: s.into() }, "{s}");
            assert!(err.to_string().contains("1900–2200"));
        }
    }

    #[test]
    fn full_date_is_a_date_not_a_period() {
        for s in [
            "31/07/2025",
            "1/7/2025",
            "2025-07-31",
            "31-07-2025",
            "31.07.2025",
            "2025-07-31 00:00:00",
            "ngày 31 tháng 7 năm 2025",
        ] {
            let err = Period::parse(s).unwrap_err();
            assert_eq!(err, PeriodError::IsADate { text: s.into() }, "{s}");
            assert!(err.to_string().contains("is a date, not a period"));
        }
    }

    #[test]
    fn garbage_is_unrecognized_and_lists_forms() {
        for s in [
            "abc",
            "Tháng bảy 2025",
            "2025-X3",
            "Quý ABC/2025",
            "7 2025",
            "6 tháng cuối năm",
            "9 tháng cuối năm 2025",
            "Lũy kế 6 tháng cuối năm 2025",
            "9 tháng 2025",
            "Lũy kế 2025",
            "2025-07!",
            "2025-Q3-1",
        ] {
            let err = Period::parse(s).unwrap_err();
            assert_eq!(err, PeriodError::Unrecognized { text: s.into() }, "{s}");
            let msg = err.to_string();
            assert!(msg.contains("is not a period"), "{msg}");
            assert!(msg.contains("\"2025-Q3\""), "{msg}");
        }
    }

    #[test]
    fn error_quotes_the_text_as_written() {
        let err = Period::parse("  THÁNG 13/2025 ").unwrap_err();
        assert!(err.to_string().starts_with("\"THÁNG 13/2025\""));
    }

    #[test]
    fn very_long_text_is_cut_in_the_message() {
        let long = "x".repeat(500);
        let msg = Period::parse(&long).unwrap_err().to_string();
        assert!(msg.len() < 500, "{msg}");
        assert!(msg.contains('…'));
    }

    #[test]
    fn validate_reports_out_of_range_fields() {
        assert_eq!(m(2025, 7).validate(), Ok(()));
        assert!(matches!(
            m(2025, 13).validate(),
            Err(PeriodError::MonthOutOfRange { .. })
        ));
        assert!(matches!(
            qtr(2025, 5).validate(),
            Err(PeriodError::QuarterOutOfRange { .. })
        ));
        assert!(matches!(
            h(2025, 0).validate(),
            Err(PeriodError::HalfOutOfRange { .. })
        ));
        assert!(matches!(
            ytd(2025, 13).validate(),
            Err(PeriodError::YearToDateOutOfRange { .. })
        ));
        assert!(matches!(
            y(1800).validate(),
            Err(PeriodError::YearOutOfRange { .. })
        ));
        for p in all_periods() {
            assert_eq!(p.validate(), Ok(()));
        }
    }

    // ---- serde ----

    #[test]
    fn period_serialises_as_id() {
        assert_eq!(serde_json::to_string(&qtr(2025, 3)).unwrap(), "\"2025-Q3\"");
        for p in all_periods() {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.id()));
            assert_eq!(serde_json::from_str::<Period>(&json).unwrap(), p);
        }
    }

    #[test]
    fn deserialising_a_bad_period_gives_the_parse_message() {
        let err = serde_json::from_str::<Period>("\"2025-13\"").unwrap_err();
        assert!(err.to_string().contains("month must be 1–12"), "{err}");
    }

    // ---- structure ----

    #[test]
    fn frequency_is_none_for_year_to_date() {
        assert_eq!(m(2025, 1).frequency(), Some(Frequency::Month));
        assert_eq!(qtr(2025, 1).frequency(), Some(Frequency::Quarter));
        assert_eq!(h(2025, 1).frequency(), Some(Frequency::Half));
        assert_eq!(y(2025).frequency(), Some(Frequency::Year));
        assert_eq!(ytd(2025, 3).frequency(), None);
    }

    #[test]
    fn first_and_last_months() {
        assert_eq!(qtr(2025, 3).first_month(), m(2025, 7));
        assert_eq!(qtr(2025, 3).last_month(), m(2025, 9));
        assert_eq!(h(2025, 2).first_month(), m(2025, 7));
        assert_eq!(h(2025, 2).last_month(), m(2025, 12));
        assert_eq!(y(2025).first_month(), m(2025, 1));
        assert_eq!(y(2025).last_month(), m(2025, 12));
        assert_eq!(ytd(2025, 9).first_month(), m(2025, 1));
        assert_eq!(ytd(2025, 9).last_month(), m(2025, 9));
        assert_eq!(m(2025, 4).first_month(), m(2025, 4));
        assert_eq!(m(2025, 4).last_month(), m(2025, 4));
    }

    #[test]
    fn months_lists_covered_months_in_order() {
        assert_eq!(
            qtr(2025, 2).months(),
            vec![m(2025, 4), m(2025, 5), m(2025, 6)]
        );
        assert_eq!(m(2025, 2).months(), vec![m(2025, 2)]);
        assert_eq!(y(2025).months().len(), 12);
        assert_eq!(h(2025, 2).months().len(), 6);
        assert_eq!(ytd(2025, 9).months().len(), 9);
        for p in all_periods() {
            assert_eq!(p.months().len(), usize::from(p.len_months()));
            assert!(p.months().windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn start_and_end_dates() {
        assert_eq!(m(2025, 2).start_date(), d(2025, 2, 1));
        assert_eq!(m(2025, 2).end_date(), d(2025, 2, 28));
        assert_eq!(m(2024, 2).end_date(), d(2024, 2, 29));
        assert_eq!(qtr(2025, 2).end_date(), d(2025, 6, 30));
        assert_eq!(h(2025, 2).start_date(), d(2025, 7, 1));
        assert_eq!(y(2025).end_date(), d(2025, 12, 31));
        assert_eq!(ytd(2025, 9).start_date(), d(2025, 1, 1));
        assert_eq!(ytd(2025, 9).end_date(), d(2025, 9, 30));
    }

    #[test]
    fn same_period_last_year_keeps_the_kind() {
        assert_eq!(m(2025, 7).same_period_last_year(), m(2024, 7));
        assert_eq!(qtr(2025, 1).same_period_last_year(), qtr(2024, 1));
        assert_eq!(h(2025, 2).same_period_last_year(), h(2024, 2));
        assert_eq!(y(2025).same_period_last_year(), y(2024));
        assert_eq!(ytd(2025, 9).same_period_last_year(), ytd(2024, 9));
    }

    #[test]
    fn previous_crosses_year_boundaries() {
        assert_eq!(m(2025, 1).previous(), m(2024, 12));
        assert_eq!(m(2025, 7).previous(), m(2025, 6));
        assert_eq!(qtr(2025, 1).previous(), qtr(2024, 4));
        assert_eq!(qtr(2025, 3).previous(), qtr(2025, 2));
        assert_eq!(h(2025, 1).previous(), h(2024, 2));
        assert_eq!(h(2025, 2).previous(), h(2025, 1));
        assert_eq!(y(2025).previous(), y(2024));
        assert_eq!(ytd(2025, 9).previous(), ytd(2024, 9));
    }

    #[test]
    fn next_crosses_year_boundaries() {
        assert_eq!(m(2024, 12).next(), m(2025, 1));
        assert_eq!(qtr(2024, 4).next(), qtr(2025, 1));
        assert_eq!(h(2024, 2).next(), h(2025, 1));
        assert_eq!(y(2024).next(), y(2025));
        assert_eq!(ytd(2024, 9).next(), ytd(2025, 9));
    }

    #[test]
    fn next_undoes_previous() {
        for p in all_periods() {
            assert_eq!(p.previous().next(), p);
            assert_eq!(p.next().previous(), p);
            assert_eq!(p.previous().kind(), p.kind());
        }
    }

    #[test]
    fn containing_picks_the_period_of_a_month() {
        assert_eq!(Period::containing(Frequency::Month, 2025, 8), m(2025, 8));
        assert_eq!(
            Period::containing(Frequency::Quarter, 2025, 8),
            qtr(2025, 3)
        );
        assert_eq!(
            Period::containing(Frequency::Quarter, 2025, 12),
            qtr(2025, 4)
        );
        assert_eq!(
            Period::containing(Frequency::Quarter, 2025, 1),
            qtr(2025, 1)
        );
        assert_eq!(Period::containing(Frequency::Half, 2025, 6), h(2025, 1));
        assert_eq!(Period::containing(Frequency::Half, 2025, 7), h(2025, 2));
        assert_eq!(Period::containing(Frequency::Year, 2025, 8), y(2025));
        for mo in 1..=12 {
            for f in Frequency::ALL {
                let p = Period::containing(f, 2025, mo);
                assert!(p.contains(&m(2025, mo)));
                assert_eq!(p.frequency(), Some(f));
            }
        }
    }

    #[test]
    fn month_index_is_consecutive_across_years() {
        assert_eq!(m(2025, 1).month_index(), 2025 * 12);
        assert_eq!(m(2024, 12).month_index() + 1, m(2025, 1).month_index());
        assert_eq!(qtr(2025, 3).month_index(), m(2025, 7).month_index());
        for p in all_periods()
            .into_iter()
            .filter(|p| p.frequency() == Some(Frequency::Month))
        {
            assert_eq!(Period::from_month_index(p.month_index()), p);
        }
    }

    #[test]
    fn ytd_ends_at_the_last_month() {
        assert_eq!(qtr(2025, 3).ytd(), ytd(2025, 9));
        assert_eq!(m(2025, 2).ytd(), ytd(2025, 2));
        assert_eq!(h(2025, 1).ytd(), ytd(2025, 6));
        assert_eq!(y(2025).ytd(), ytd(2025, 12));
        assert_eq!(ytd(2025, 4).ytd(), ytd(2025, 4));
    }

    #[test]
    fn contains_is_month_range_containment() {
        assert!(y(2025).contains(&qtr(2025, 3)));
        assert!(qtr(2025, 3).contains(&m(2025, 9)));
        assert!(!qtr(2025, 3).contains(&m(2025, 10)));
        assert!(h(2025, 1).contains(&qtr(2025, 2)));
        assert!(!h(2025, 1).contains(&qtr(2025, 3)));
        assert!(ytd(2025, 9).contains(&qtr(2025, 3)));
        assert!(!ytd(2025, 8).contains(&qtr(2025, 3)));
        assert!(!y(2025).contains(&m(2024, 12)));
        assert!(!m(2025, 1).contains(&qtr(2025, 1)));
        for p in all_periods() {
            assert!(p.contains(&p));
        }
    }

    #[test]
    fn parents_of_a_month_are_its_quarter_half_and_year() {
        assert_eq!(
            m(2025, 8).parents(),
            vec![qtr(2025, 3), h(2025, 2), y(2025)]
        );
        assert_eq!(
            m(2025, 1).parents(),
            vec![qtr(2025, 1), h(2025, 1), y(2025)]
        );
        assert_eq!(qtr(2025, 2).parents(), vec![h(2025, 1), y(2025)]);
        assert_eq!(h(2025, 2).parents(), vec![y(2025)]);
        assert!(y(2025).parents().is_empty());
        assert!(ytd(2025, 3).parents().is_empty());
        for p in all_periods() {
            assert!(p.parents().iter().all(|parent| parent.contains(&p)));
        }
    }

    #[test]
    fn range_lists_inclusive_across_years() {
        assert_eq!(
            Period::range(m(2024, 11), m(2025, 2)).unwrap(),
            vec![m(2024, 11), m(2024, 12), m(2025, 1), m(2025, 2)]
        );
        assert_eq!(
            Period::range(qtr(2024, 4), qtr(2025, 1)).unwrap(),
            vec![qtr(2024, 4), qtr(2025, 1)]
        );
        assert_eq!(
            Period::range(y(2023), y(2025)).unwrap(),
            vec![y(2023), y(2024), y(2025)]
        );
        assert_eq!(
            Period::range(ytd(2023, 9), ytd(2024, 9)).unwrap(),
            vec![ytd(2023, 9), ytd(2024, 9)]
        );
        assert_eq!(
            Period::range(h(2025, 1), h(2025, 1)).unwrap(),
            vec![h(2025, 1)]
        );
    }

    #[test]
    fn range_of_exactly_600_is_allowed_but_601_is_not() {
        let from = m(2000, 1);
        let to = Period::from_month_index(from.month_index() + 599);
        assert_eq!(Period::range(from, to).unwrap().len(), MAX_RANGE);
        let err = Period::range(from, to.next()).unwrap_err();
        assert!(matches!(err, PeriodError::RangeTooLong { count: 601, .. }));
        assert!(err.to_string().contains("more than 600"));
    }

    #[test]
    fn range_rejects_mixed_kinds_and_reversed_ends() {
        let err = Period::range(m(2025, 1), qtr(2025, 3)).unwrap_err();
        assert_eq!(
            err,
            PeriodError::RangeMixedKinds {
                from: "2025-01".into(),
                to: "2025-Q3".into()
            }
        );
        assert!(err.to_string().contains("same kind"));
        assert!(matches!(
            Period::range(ytd(2024, 6), ytd(2025, 9)),
            Err(PeriodError::RangeMixedKinds { .. })
        ));
        let err = Period::range(m(2025, 2), m(2025, 1)).unwrap_err();
        assert!(matches!(err, PeriodError::RangeReversed { .. }));
        assert!(err.to_string().contains("earlier period first"));
    }

    #[test]
    fn order_is_by_first_month_then_shorter_first() {
        assert!(m(2025, 7) < qtr(2025, 3));
        assert!(qtr(2025, 3) < h(2025, 2));
        assert!(m(2025, 1) < qtr(2025, 1));
        assert!(qtr(2025, 1) < h(2025, 1));
        assert!(h(2025, 1) < y(2025));
        assert!(y(2025) < m(2025, 2));
        assert!(m(2024, 12) < y(2025));
        assert!(h(2025, 1) < ytd(2025, 6));
        assert!(m(2025, 1) < ytd(2025, 1));
        assert!(ytd(2025, 3) < ytd(2025, 4));
    }

    #[test]
    fn order_agrees_with_equality() {
        let all = all_periods();
        for a in &all {
            for b in &all {
                assert_eq!(a.cmp(b) == Ordering::Equal, a == b, "{a} {b}");
            }
        }
        let mut sorted = all.clone();
        sorted.sort();
        assert!(sorted.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn out_of_range_fields_are_clamped_not_panicking() {
        let bad = m(2025, 13);
        assert_eq!(bad.id(), "2025-12");
        assert_eq!(bad.end_date(), d(2025, 12, 31));
        assert_eq!(qtr(2025, 0).label_vi(), "Quý I/2025");
        assert_eq!(h(2025, 9).next(), h(2026, 1));
        assert_ne!(bad.cmp(&m(2025, 12)), Ordering::Equal);
    }

    // ---- CivilDate ----

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        assert!(CivilDate::is_leap_year(2024));
        assert!(CivilDate::is_leap_year(2000));
        assert!(!CivilDate::is_leap_year(1900));
        assert!(!CivilDate::is_leap_year(2100));
        assert!(!CivilDate::is_leap_year(2025));
        assert_eq!(CivilDate::days_in_month(2024, 2), 29);
        assert_eq!(CivilDate::days_in_month(2025, 2), 28);
        assert_eq!(CivilDate::days_in_month(2000, 2), 29);
        assert_eq!(CivilDate::days_in_month(1900, 2), 28);
        assert_eq!(CivilDate::days_in_month(2025, 4), 30);
        assert_eq!(CivilDate::days_in_month(2025, 12), 31);
        assert_eq!(CivilDate::days_in_month(2025, 13), 0);
    }

    #[test]
    fn date_displays_dd_mm_yyyy_and_iso() {
        let date = d(2025, 7, 1);
        assert_eq!(date.to_string(), "01/07/2025");
        assert_eq!(date.iso(), "2025-07-01");
    }

    #[test]
    fn parse_vi_accepts_padded_and_unpadded() {
        assert_eq!(CivilDate::parse_vi("31/07/2025"), Ok(d(2025, 7, 31)));
        assert_eq!(CivilDate::parse_vi("1/7/2025"), Ok(d(2025, 7, 1)));
        assert_eq!(CivilDate::parse_vi(" 01-07-2025 "), Ok(d(2025, 7, 1)));
        assert_eq!(CivilDate::parse_vi("01.07.2025"), Ok(d(2025, 7, 1)));
        assert_eq!(
            CivilDate::parse_vi("ngày 1 tháng 7 năm 2025"),
            Ok(d(2025, 7, 1))
        );
        assert_eq!(
            CivilDate::parse_vi("Ngày 01 tháng 07 năm 2025"),
            Ok(d(2025, 7, 1))
        );
    }

    #[test]
    fn parse_iso_accepts_dates_and_ignores_times() {
        assert_eq!(CivilDate::parse_iso("2025-07-31"), Ok(d(2025, 7, 31)));
        assert_eq!(CivilDate::parse_iso("2025-7-1"), Ok(d(2025, 7, 1)));
        assert_eq!(
            CivilDate::parse_iso("2025-07-31 00:00:00"),
            Ok(d(2025, 7, 31))
        );
        assert_eq!(CivilDate::parse_iso("2025-07-31T08:30"), Ok(d(2025, 7, 31)));
        assert!(CivilDate::parse_iso("2025-07-31 noon").is_err());
        assert!(CivilDate::parse_iso("31/07/2025").is_err());
    }

    #[test]
    fn parse_any_accepts_either_form() {
        assert_eq!(CivilDate::parse_any("2025-07-31"), Ok(d(2025, 7, 31)));
        assert_eq!(CivilDate::parse_any("31/07/2025"), Ok(d(2025, 7, 31)));
        assert_eq!("1/7/2025".parse::<CivilDate>(), Ok(d(2025, 7, 1)));
    }

    #[test]
    fn february_29_only_in_leap_years() {
        assert_eq!(CivilDate::parse_vi("29/02/2024"), Ok(d(2024, 2, 29)));
        let err = CivilDate::parse_vi("29/02/2025").unwrap_err();
        assert_eq!(
            err,
            DateError::DayOutOfRange {
                text: "29/02/2025".into(),
                year: 2025,
                month: 2,
                max: 28
            }
        );
        assert!(
            err.to_string().contains("month 2/2025 has 28 days"),
            "{err}"
        );
        assert!(CivilDate::parse_iso("1900-02-29").is_err());
        assert!(CivilDate::parse_iso("2000-02-29").is_ok());
        assert!(CivilDate::new(2100, 2, 29).is_err());
    }

    #[test]
    fn date_errors_name_the_bad_field() {
        assert_eq!(CivilDate::parse_any(""), Err(DateError::Empty));
        assert!(matches!(
            CivilDate::parse_any("31/13/2025"),
            Err(DateError::MonthOutOfRange { .. })
        ));
        assert!(matches!(
            CivilDate::parse_any("2025-13-01"),
            Err(DateError::MonthOutOfRange { .. })
        ));
        assert!(matches!(
            CivilDate::parse_any("31/06/2025"),
            Err(DateError::DayOutOfRange { max: 30, .. })
        ));
        assert!(matches!(
            CivilDate::parse_any("2025-06-31"),
            Err(DateError::DayOutOfRange { max: 30, .. })
        ));
        assert!(matches!(
            CivilDate::parse_any("00/06/2025"),
            Err(DateError::DayOutOfRange { .. })
        ));
        assert!(matches!(
            CivilDate::parse_any("31/07/25"),
            Err(DateError::YearOutOfRange { .. })
        ));
        assert!(matches!(
            CivilDate::parse_any("31/07/1850"),
            Err(DateError::YearOutOfRange { .. })
        ));
        let err = CivilDate::parse_any("hôm qua").unwrap_err();
        assert_eq!(
            err,
            DateError::Unrecognized {
                text: "hôm qua".into()
            }
        );
        assert!(err.to_string().contains("dd/mm/yyyy"));
        assert!(CivilDate::parse_any("Tháng 7/2025").is_err());
    }

    #[test]
    fn new_validates() {
        assert_eq!(CivilDate::new(2025, 7, 1), Ok(d(2025, 7, 1)));
        assert!(CivilDate::new(2025, 0, 1).is_err());
        assert!(CivilDate::new(2025, 4, 31).is_err());
        assert!(CivilDate::new(1899, 12, 31).is_err());
        assert!(d(2025, 4, 30).is_valid());
        assert!(!d(2025, 4, 31).is_valid());
    }

    #[test]
    fn dates_order_chronologically() {
        assert!(d(2025, 6, 30) < d(2025, 7, 1));
        assert!(d(2024, 12, 31) < d(2025, 1, 1));
        assert!(d(2025, 1, 31) < d(2025, 2, 1));
    }

    #[test]
    fn add_days_crosses_months_years_and_leap_days() {
        assert_eq!(d(2025, 7, 31).add_days(1), d(2025, 8, 1));
        assert_eq!(d(2024, 12, 31).add_days(1), d(2025, 1, 1));
        assert_eq!(d(2025, 1, 1).add_days(-1), d(2024, 12, 31));
        assert_eq!(d(2024, 2, 28).add_days(1), d(2024, 2, 29));
        assert_eq!(d(2025, 2, 28).add_days(1), d(2025, 3, 1));
        assert_eq!(d(2024, 3, 1).add_days(-1), d(2024, 2, 29));
        assert_eq!(d(2025, 1, 1).add_days(365), d(2026, 1, 1));
        assert_eq!(d(2024, 1, 1).add_days(366), d(2025, 1, 1));
        assert_eq!(d(2025, 7, 1).add_days(0), d(2025, 7, 1));
        assert_eq!(d(2000, 2, 28).add_days(1), d(2000, 2, 29));
        assert_eq!(d(1900, 2, 28).add_days(1), d(1900, 3, 1));
    }

    #[test]
    fn add_days_walks_every_day_consistently() {
        let mut date = d(1999, 1, 1);
        for _ in 0..(366 * 30) {
            let next = date.add_days(1);
            assert!(next.is_valid());
            assert!(date < next);
            assert_eq!(date.days_until(next), 1);
            assert_eq!(next.add_days(-1), date);
            date = next;
        }
        assert_eq!(d(1999, 1, 1).days_until(date), 366 * 30);
    }

    #[test]
    fn days_until_counts_signed_days() {
        assert_eq!(d(2025, 7, 1).days_until(d(2025, 7, 15)), 14);
        assert_eq!(d(2025, 7, 15).days_until(d(2025, 7, 1)), -14);
        assert_eq!(d(2024, 1, 1).days_until(d(2025, 1, 1)), 366);
    }

    #[test]
    fn month_period_of_a_date() {
        assert_eq!(d(2025, 7, 31).month_period(), m(2025, 7));
    }

    #[test]
    fn date_serialises_as_iso() {
        let date = d(2025, 7, 1);
        assert_eq!(serde_json::to_string(&date).unwrap(), "\"2025-07-01\"");
        assert_eq!(
            serde_json::from_str::<CivilDate>("\"2025-07-01\"").unwrap(),
            date
        );
        assert!(serde_json::from_str::<CivilDate>("\"2025-02-30\"").is_err());
    }
}
