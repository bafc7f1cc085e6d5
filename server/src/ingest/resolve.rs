//! Interpreting raw rows as they are read: indicators by code or Vietnamese name, periods in
//! canonical or Vietnamese form (or a date, meaning the period that contains it), units by
//! official code or name in the structure in force at the end of the period and at a level that
//! reports the indicator, and values in the upload's locale. Each distinct text is resolved once
//! and cached (a file has few: units × periods × indicators); every row becomes either a compact
//! fact in memory (24 bytes: its key, value and place in the file) or row-level errors that say
//! where and what to write instead. Duplicates are caught as facts arrive, by their key.
//! `changes` then compares the facts with the stored values.

use std::collections::BTreeMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use dieuhanh_protocol::number::{Locale, parse_number};
use dieuhanh_protocol::period::{CivilDate, Frequency, Period};

use crate::catalogue::{Aggregation, Catalogue};
use crate::hierarchy::{Era, Hierarchy, Level, ResolveError};
use crate::store::facts::period_no;

use super::IngestError;
use super::report::{ErrorCode, MAX_LISTED, RowError, column_letter};
use super::stage::{RawRow, RawValue, RowSink};

/// Where the unit, period and indicator of a row sit, and the headers, for error locations.
#[derive(Debug, Clone, Default)]
pub struct RoleColumns {
    pub unit: Option<(usize, String)>,
    pub period: Option<(usize, String)>,
    pub indicator: Option<(usize, String)>,
    pub headers: Vec<String>,
}

/// The most values one upload may hold: its facts and their index stay in memory (~50 bytes
/// a value, so ~800 MB at most), and larger files are better split by period or indicator.
pub const MAX_VALUES: usize = 16_000_000;

type Problem = (ErrorCode, String, String);

/// A cached answer: the resolved thing, or the number of the problem found (in
/// `Resolver::problems`), so that answers are copied, not cloned, for every value.
type Answer<T> = Result<T, u32>;

#[derive(Debug, Clone, Copy)]
struct IndInfo {
    no: u16,
    frequency: Frequency,
    /// The levels reporting it, as a bit mask (`1 << Level`).
    levels: u8,
    nonneg: bool,
}

#[derive(Debug, Clone, Copy)]
struct PerInfo {
    pid: i32,
    era: Era,
}

/// One valid value read: its key ([`key`]), upload-local disaggregation number (0 for the
/// total; see [`Resolution::disaggs`]), value, and where it was in the file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fact {
    pub key: u64,
    pub value: f64,
    pub row: u32,
    pub col: u16,
    pub disagg: u16,
}

impl Fact {
    pub fn indicator(&self) -> u16 {
        (self.key >> 40) as u16
    }

    pub fn pid(&self) -> i32 {
        ((self.key >> 22) & 0x3_FFFF) as i32
    }

    pub fn uid(&self) -> u32 {
        (self.key & 0x3F_FFFF) as u32
    }
}

/// A key unique per (indicator's catalogue number, period number, unit).
pub fn key(ind: u16, pid: i32, uid: u32) -> u64 {
    (u64::from(ind) << 40) | ((pid as u64 & 0x3_FFFF) << 22) | u64::from(uid & 0x3F_FFFF)
}

/// What resolution found: errors, or the facts and what is needed to compare them.
#[derive(Debug, Default)]
pub struct Resolution {
    pub errors: Vec<RowError>,
    pub errors_total: u64,
    /// Values read (valid or not).
    pub values: u64,
    /// The valid values, in file order, without duplicates.
    pub facts: Vec<Fact>,
    /// Fact index by key, totals only (disaggregated ones are in `disagg_index`).
    pub index: HashMap<u64, u32>,
    pub disagg_index: HashMap<(u64, u16), u32>,
    /// Upload-local disaggregation numbers' texts; 0 is the total ('').
    pub disaggs: Vec<String>,
    /// Catalogue numbers of the indicators met, with their codes.
    pub indicators: BTreeMap<u16, String>,
    /// The periods met by number, with the previous period's number.
    pub periods: BTreeMap<i32, (Period, i32)>,
}

impl Resolution {
    /// The index of the fact with this key and disaggregation, if the upload has one.
    pub fn find(&self, key: u64, disagg: u16) -> Option<&Fact> {
        let i = if disagg == 0 {
            self.index.get(&key)
        } else {
            self.disagg_index.get(&(key, disagg))
        };
        i.map(|&i| &self.facts[i as usize])
    }
}

/// Resolves raw rows into facts, collecting errors.
pub struct Resolver<'a> {
    cat: &'a Catalogue,
    h: &'a Hierarchy,
    locale: Locale,
    today: CivilDate,
    roles: RoleColumns,
    // Shared, so that every value can borrow them while the caches below change.
    default_period: Option<Arc<str>>,
    default_unit: Option<Arc<str>>,
    inds: HashMap<String, Answer<IndInfo>>,
    periods: HashMap<Frequency, HashMap<String, Answer<PerInfo>>>,
    units: HashMap<(Era, u8), HashMap<String, Answer<u32>>>,
    problems: Vec<Problem>,
    /// The last answer of each cache: a file repeats a text in runs (a row's unit and period
    /// for each of its values, a column's indicator down the rows), and comparing two short
    /// texts costs far less than hashing one. Indicators are remembered per column.
    last_ind: Vec<Last<(), Answer<IndInfo>>>,
    last_period: Last<Frequency, Answer<PerInfo>>,
    last_unit: Last<(Era, u8), Answer<u32>>,
    /// Indicator and period pairs met, as (catalogue number, period number).
    used: rustc_hash::FxHashSet<(u16, i32)>,
    /// The last value's pair, already in `used`.
    last_used: Option<(u16, i32)>,
    disagg_nos: HashMap<String, u16>,
    out: Resolution,
}

/// A cache's last answer, by a small key (frequency, era and levels) and the text asked about;
/// the text's buffer is reused.
struct Last<K, V>(Option<(K, String, V)>);

impl<K, V> Default for Last<K, V> {
    fn default() -> Self {
        Last(None)
    }
}

impl<K: PartialEq, V: Copy> Last<K, V> {
    fn get(&self, key: &K, text: &str) -> Option<V> {
        self.0
            .as_ref()
            .filter(|(k, t, _)| k == key && t == text)
            .map(|(_, _, v)| *v)
    }

    fn set(&mut self, key: K, text: &str, value: V) {
        match &mut self.0 {
            Some((k, t, v)) => {
                *k = key;
                t.clear();
                t.push_str(text);
                *v = value;
            }
            None => self.0 = Some((key, text.to_owned(), value)),
        }
    }
}

/// Columns whose last indicator is remembered (a wide sheet has one indicator per column).
const MEMO_COLUMNS: usize = 256;

impl<'a> Resolver<'a> {
    /// A resolver; `defaults` (period, unit) fill rows that have none.
    pub fn new(
        cat: &'a Catalogue,
        h: &'a Hierarchy,
        locale: Locale,
        today: CivilDate,
        defaults: (Option<String>, Option<String>),
    ) -> Self {
        let mut out = Resolution::default();
        out.disaggs.push(String::new());
        Resolver {
            cat,
            h,
            locale,
            today,
            roles: RoleColumns::default(),
            default_period: defaults.0.map(Arc::from),
            default_unit: defaults.1.map(Arc::from),
            inds: HashMap::default(),
            periods: HashMap::default(),
            units: HashMap::default(),
            problems: Vec::new(),
            last_ind: Vec::new(),
            last_period: Last::default(),
            last_unit: Last::default(),
            used: rustc_hash::FxHashSet::default(),
            last_used: None,
            disagg_nos: HashMap::default(),
            out,
        }
    }

    fn indicator(&mut self, raw: &str, col: u32) -> Answer<IndInfo> {
        let col = col as usize;
        if let Some(r) = self.last_ind.get(col).and_then(|m| m.get(&(), raw)) {
            return r;
        }
        let r = self.indicator_cached(raw);
        if col < MEMO_COLUMNS {
            if self.last_ind.len() <= col {
                self.last_ind.resize_with(col + 1, Last::default);
            }
            self.last_ind[col].set((), raw, r);
        }
        r
    }

    /// Keeps a problem; its number stands for it in the caches.
    fn keep(&mut self, p: Problem) -> u32 {
        self.problems.push(p);
        (self.problems.len() - 1) as u32
    }

    fn indicator_cached(&mut self, raw: &str) -> Answer<IndInfo> {
        if let Some(r) = self.inds.get(raw) {
            return *r;
        }
        let cat = self.cat;
        let r = match cat.resolve_indicator(raw) {
            Some(ind) if ind.aggregation == Aggregation::Ratio => Err(self.keep((
                ErrorCode::ComputedIndicator,
                format!(
                    "{} \"{}\" is computed from {} and {}, not uploaded",
                    ind.code,
                    ind.name_vi,
                    ind.numerator.as_deref().unwrap_or("?"),
                    ind.denominator.as_deref().unwrap_or("?")
                ),
                "upload its two parts; the ratio follows at every level".to_owned(),
            ))),
            Some(ind) => Ok(IndInfo {
                no: cat
                    .indicators
                    .iter()
                    .position(|i| i.code == ind.code)
                    .unwrap_or(0) as u16,
                frequency: ind.frequency,
                levels: cat
                    .regimes_of(&ind.code)
                    .fold(0u8, |m, r| m | (1 << (r.level as u8))),
                nonneg: ind.nonnegative,
            }),
            None => Err(self.keep((
                ErrorCode::UnknownIndicator,
                format!("no indicator {raw:?} in the catalogue"),
                super::columns::suggest_indicator(cat, raw),
            ))),
        };
        self.inds.insert(raw.to_owned(), r);
        r
    }

    fn period(&mut self, raw: &str, freq: Frequency) -> Answer<PerInfo> {
        if let Some(r) = self.last_period.get(&freq, raw) {
            return r;
        }
        let r = self.period_cached(raw, freq);
        self.last_period.set(freq, raw, r);
        r
    }

    fn period_cached(&mut self, raw: &str, freq: Frequency) -> Answer<PerInfo> {
        if let Some(r) = self.periods.get(&freq).and_then(|m| m.get(raw)) {
            return *r;
        }
        let r = match resolve_period(raw, freq, self.today) {
            Ok(p) => Ok(PerInfo {
                pid: period_no(&p),
                era: Era::of_period(&p),
            }),
            Err(p) => Err(self.keep(p)),
        };
        self.periods
            .entry(freq)
            .or_default()
            .insert(raw.to_owned(), r);
        r
    }

    fn unit(&mut self, raw: &str, era: Era, levels: u8) -> Answer<u32> {
        if let Some(r) = self.last_unit.get(&(era, levels), raw) {
            return r;
        }
        let r = self.unit_cached(raw, era, levels);
        self.last_unit.set((era, levels), raw, r);
        r
    }

    fn unit_cached(&mut self, raw: &str, era: Era, mask: u8) -> Answer<u32> {
        if let Some(r) = self.units.get(&(era, mask)).and_then(|m| m.get(raw)) {
            return *r;
        }
        let levels: Vec<Level> = [
            Level::Nation,
            Level::Province,
            Level::District,
            Level::Commune,
        ]
        .into_iter()
        .filter(|l| mask & (1 << (*l as u8)) != 0)
        .collect();
        let r = resolve_unit(self.h, era, &levels, raw).map_err(|p| self.keep(p));
        self.units
            .entry((era, mask))
            .or_default()
            .insert(raw.to_owned(), r);
        r
    }

    fn loc(
        &self,
        role: Option<&(usize, String)>,
        fallback: &str,
    ) -> (Option<String>, Option<String>) {
        match role {
            Some((i, h)) => (Some(column_letter(*i)), Some(h.clone())),
            None => (None, Some(fallback.to_owned())),
        }
    }

    fn value_loc(&self, col: u32) -> (Option<String>, Option<String>) {
        if self.roles.headers.is_empty() {
            return (None, Some("value".into()));
        }
        let c = col as usize;
        (Some(column_letter(c)), self.roles.headers.get(c).cloned())
    }

    fn problem(
        &mut self,
        row: u64,
        (column, field): (Option<String>, Option<String>),
        value: Option<&str>,
        (code, reason, hint): Problem,
    ) {
        self.out.errors_total += 1;
        if self.out.errors.len() < MAX_LISTED {
            self.out.errors.push(RowError {
                row: Some(row),
                column,
                field,
                value: value.map(str::to_owned),
                code,
                reason,
                hint,
            });
        }
    }

    /// Ends reading: the facts, or the errors in file order.
    pub fn finish(mut self) -> Resolution {
        let mut out = std::mem::take(&mut self.out);
        out.errors.sort_by(|a, b| {
            (a.row, column_index(&a.column)).cmp(&(b.row, column_index(&b.column)))
        });
        out.errors.truncate(MAX_LISTED);
        for &(ind, pid) in &self.used {
            if let Some(i) = self.cat.indicators.get(usize::from(ind)) {
                out.indicators.insert(ind, i.code.clone());
            }
            if let Some(p) = crate::store::facts::period_of_no(pid) {
                out.periods.insert(pid, (p, period_no(&p.previous())));
            }
        }
        out
    }

    /// The upload-local number of a disaggregation text.
    fn disagg_no(&mut self, text: &str) -> Option<u16> {
        if text.is_empty() {
            return Some(0);
        }
        if let Some(&n) = self.disagg_nos.get(text) {
            return Some(n);
        }
        let n = u16::try_from(self.out.disaggs.len()).ok()?;
        self.out.disaggs.push(text.to_owned());
        self.disagg_nos.insert(text.to_owned(), n);
        Some(n)
    }
}

fn column_index(letter: &Option<String>) -> usize {
    letter.as_deref().map_or(0, |l| {
        l.bytes().fold(0usize, |n, b| {
            n * 26 + usize::from(b.saturating_sub(b'A')) + 1
        })
    })
}

impl RowSink for Resolver<'_> {
    fn layout(&mut self, roles: &RoleColumns) {
        self.roles = roles.clone();
    }

    fn push(&mut self, r: RawRow<'_>) -> Result<(), IngestError> {
        self.out.values += 1;
        let before = self.out.errors_total;
        // Defaults are cloned out so the caches can be borrowed mutably below; they are short.
        let (default_unit, default_period) =
            (self.default_unit.clone(), self.default_period.clone());
        let unit_raw = r.unit.or(default_unit.as_deref());
        let period_raw = r.period.or(default_period.as_deref());
        // Locations are built only for rows with a problem.
        let unit_loc = |s: &Self| s.loc(s.roles.unit.as_ref(), "unit");
        let period_loc = |s: &Self| s.loc(s.roles.period.as_ref(), "period");
        let ind_loc = |s: &Self| match &s.roles.indicator {
            Some(c) => s.loc(Some(c), "indicator"),
            None if !s.roles.headers.is_empty() => s.value_loc(r.col),
            None => (None, Some("indicator".into())),
        };
        let value_loc = |s: &Self| s.value_loc(r.col);
        // Ordered so a row's first problem explains the later ones it causes.
        if unit_raw.is_none() {
            self.problem(
                r.row,
                unit_loc(self),
                None,
                (
                    ErrorCode::EmptyCell,
                    "the unit is empty".into(),
                    "write the official code of the reporting unit".into(),
                ),
            );
        }
        let ind = match r.indicator {
            None => {
                self.problem(
                    r.row,
                    ind_loc(self),
                    None,
                    (
                        ErrorCode::EmptyCell,
                        "the indicator is empty".into(),
                        "write an indicator code such as VM02".into(),
                    ),
                );
                None
            }
            Some(t) => match self.indicator(t, r.col) {
                Ok(i) => Some(i),
                Err(n) => {
                    let (l, p) = (ind_loc(self), self.problems[n as usize].clone());
                    self.problem(r.row, l, Some(t), p);
                    None
                }
            },
        };
        let per = match (&ind, &period_raw) {
            (_, None) => {
                self.problem(
                    r.row,
                    period_loc(self),
                    None,
                    (
                        ErrorCode::EmptyCell,
                        "the period is empty".into(),
                        "write the period, e.g. \"Tháng 7/2025\", or pass ?period= for the whole file"
                            .into(),
                    ),
                );
                None
            }
            (Some(i), Some(t)) => match self.period(t, i.frequency) {
                Ok(p) => Some(p),
                Err(n) => {
                    let (l, p) = (period_loc(self), self.problems[n as usize].clone());
                    self.problem(r.row, l, Some(t), p);
                    None
                }
            },
            (None, Some(_)) => None,
        };
        let uid = match (&ind, &per, &unit_raw) {
            (Some(i), Some(p), Some(t)) => match self.unit(t, p.era, i.levels) {
                Ok(u) => Some(u),
                Err(n) => {
                    let (l, p) = (unit_loc(self), self.problems[n as usize].clone());
                    self.problem(r.row, l, Some(t), p);
                    None
                }
            },
            _ => None,
        };
        let value = match r.value {
            RawValue::Empty => {
                self.problem(
                    r.row,
                    value_loc(self),
                    None,
                    (
                        ErrorCode::EmptyCell,
                        "the value is empty".into(),
                        "write the figure; write 0 when nothing occurred".into(),
                    ),
                );
                None
            }
            RawValue::Number(v) if v.is_finite() => Some(v),
            RawValue::Number(v) => {
                let t = v.to_string();
                self.problem(
                    r.row,
                    value_loc(self),
                    Some(&t),
                    (
                        ErrorCode::NotANumber,
                        format!("{t} is not a finite number"),
                        "write the figure".into(),
                    ),
                );
                None
            }
            RawValue::Text(t) => match parse_value(t, self.locale) {
                Ok(v) => Some(v),
                Err(reason) => {
                    let hint = match self.locale {
                        Locale::Vi => "write numbers as 1.234.567,8 (vi-VN) or send locale=en",
                        Locale::En => "write numbers as 1,234,567.8 (en) or send locale=vi",
                    };
                    self.problem(
                        r.row,
                        value_loc(self),
                        Some(t),
                        (ErrorCode::NotANumber, reason, hint.into()),
                    );
                    None
                }
            },
        };
        if let (Some(i), Some(v)) = (&ind, value)
            && i.nonneg
            && v < 0.0
        {
            let t = match r.value {
                RawValue::Text(t) => t.to_owned(),
                _ => v.to_string(),
            };
            self.problem(
                r.row,
                value_loc(self),
                Some(&t),
                (
                    ErrorCode::NegativeValue,
                    format!(
                        "{} cannot be negative",
                        self.cat.indicators[usize::from(i.no)].code
                    ),
                    "check the sign; corrections are sent as the corrected figure, not a difference"
                        .into(),
                ),
            );
        }
        if self.out.errors_total != before {
            return Ok(());
        }
        let (Some(i), Some(p), Some(u), Some(v)) = (ind, per, uid, value) else {
            return Ok(());
        };
        let row = u32::try_from(r.row).unwrap_or(u32::MAX);
        if self.out.facts.len() >= MAX_VALUES {
            if self.out.facts.len() == MAX_VALUES {
                self.problem(
                    r.row,
                    (None, None),
                    None,
                    (
                        ErrorCode::TooLarge,
                        format!("the upload holds more than {MAX_VALUES} values"),
                        "split it by period or by indicator into files of fewer values".into(),
                    ),
                );
                // Counted once: later values are not kept.
                self.out.facts.push(Fact {
                    key: 0,
                    value: 0.0,
                    row,
                    col: 0,
                    disagg: 0,
                });
            }
            return Ok(());
        }
        let Some(disagg) = self.disagg_no(r.disagg) else {
            self.problem(
                r.row,
                (None, Some("disaggregation".into())),
                Some(r.disagg),
                (
                    ErrorCode::TooLarge,
                    "the upload has more than 65,535 different disaggregations".into(),
                    "split it into several uploads".into(),
                ),
            );
            return Ok(());
        };
        if self.last_used != Some((i.no, p.pid)) {
            self.last_used = Some((i.no, p.pid));
            self.used.insert((i.no, p.pid));
        }
        let k = key(i.no, p.pid, u);
        let at = self.out.facts.len() as u32;
        let first = if disagg == 0 {
            match self.out.index.entry(k) {
                Entry::Occupied(e) => Some(*e.get()),
                Entry::Vacant(e) => {
                    e.insert(at);
                    None
                }
            }
        } else {
            match self.out.disagg_index.entry((k, disagg)) {
                Entry::Occupied(e) => Some(*e.get()),
                Entry::Vacant(e) => {
                    e.insert(at);
                    None
                }
            }
        };
        if let Some(first) = first {
            let f = self.out.facts[first as usize];
            let loc = self.value_loc(r.col);
            let at = if u64::from(f.row) == r.row {
                format!(" (column {})", column_letter(usize::from(f.col)))
            } else {
                String::new()
            };
            self.problem(
                r.row,
                loc,
                None,
                (
                    ErrorCode::DuplicateRow,
                    format!(
                        "the same indicator, unit and period already appear in row {}{at}",
                        f.row
                    ),
                    "keep one row per indicator, unit and period; delete the other".into(),
                ),
            );
            return Ok(());
        }
        self.out.facts.push(Fact {
            key: k,
            value: v,
            row,
            col: u16::try_from(r.col).unwrap_or(u16::MAX),
            disagg,
        });
        Ok(())
    }
}

/// A number in the upload's locale; plain digit strings take a fast path.
fn parse_value(text: &str, locale: Locale) -> Result<f64, String> {
    let t = text.trim();
    let b = t.as_bytes();
    let digits = !b.is_empty()
        && b.iter()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || (i == 0 && *c == b'-' && b.len() > 1));
    if digits && b.len() < 16 {
        return t.parse::<f64>().map_err(|e| e.to_string());
    }
    parse_number(t, locale).map_err(|e| e.to_string())
}

fn resolve_period(
    raw: &str,
    freq: Frequency,
    today: CivilDate,
) -> Result<Period, (ErrorCode, String, String)> {
    let text = crate::text::nfc(raw.trim());
    let period = match Period::parse(&text) {
        Ok(p) => p,
        Err(e) => match CivilDate::parse_any(&text) {
            Ok(d) => Period::containing(freq, d.year, d.month),
            Err(_) => {
                return Err((
                    ErrorCode::BadPeriod,
                    e.to_string(),
                    format!(
                        "write the period like \"{}\" or \"{}\"",
                        example(freq).label_vi(),
                        example(freq).id()
                    ),
                ));
            }
        },
    };
    if period.frequency() != Some(freq) {
        let what = match period.frequency() {
            Some(Frequency::Month) => "a month",
            Some(Frequency::Quarter) => "a quarter",
            Some(Frequency::Half) => "a half-year",
            Some(Frequency::Year) => "a year",
            None => "a year-to-date total (lũy kế)",
        };
        return Err((
            ErrorCode::WrongFrequency,
            format!(
                "\"{}\" is {what}, but this indicator is reported {}",
                period.label_vi(),
                freq_en(freq)
            ),
            format!(
                "report {} figures such as \"{}\"; longer periods and lũy kế are computed",
                freq_en(freq),
                example(freq).label_vi()
            ),
        ));
    }
    if period.start_date() > today {
        return Err((
            ErrorCode::FuturePeriod,
            format!(
                "\"{}\" has not begun (today is {})",
                period.label_vi(),
                today
            ),
            "check the year; estimates may be sent once the period has begun".into(),
        ));
    }
    Ok(period)
}

fn freq_en(freq: Frequency) -> &'static str {
    match freq {
        Frequency::Month => "monthly",
        Frequency::Quarter => "quarterly",
        Frequency::Half => "half-yearly",
        Frequency::Year => "yearly",
    }
}

fn example(freq: Frequency) -> Period {
    match freq {
        Frequency::Month => Period::Month {
            year: 2025,
            month: 7,
        },
        Frequency::Quarter => Period::Quarter {
            year: 2025,
            quarter: 3,
        },
        Frequency::Half => Period::Half {
            year: 2025,
            half: 1,
        },
        Frequency::Year => Period::Year { year: 2025 },
    }
}

fn resolve_unit(
    h: &Hierarchy,
    era: Era,
    levels: &[Level],
    raw: &str,
) -> Result<u32, (ErrorCode, String, String)> {
    let err = match h.resolve(era, levels, raw) {
        Ok(u) => return Ok(u.uid),
        Err(e) => e,
    };
    match err {
        ResolveError::Ambiguous { .. } => Err((
            ErrorCode::AmbiguousUnit,
            err.to_string(),
            "write the official code (2 digits for a province, 5 for a commune)".into(),
        )),
        ResolveError::NotInForce { .. } => Err((
            ErrorCode::UnitNotInForce,
            err.to_string(),
            "report under the unit in force on the last day of the period".into(),
        )),
        ResolveError::NotFound { .. } => {
            // The unit exists at a level that does not report this indicator.
            let all = [
                Level::Nation,
                Level::Province,
                Level::District,
                Level::Commune,
            ];
            let other: Vec<Level> = all.into_iter().filter(|l| !levels.contains(l)).collect();
            if let Ok(u) = h.resolve(era, &other, raw) {
                let who = levels
                    .iter()
                    .map(|l| l.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ");
                let lowest = levels.iter().max().copied().unwrap_or(Level::Commune);
                let fix = if u.level < lowest {
                    "its value is aggregated from the units below it; upload theirs".to_owned()
                } else {
                    format!("upload the value of the {who} it belongs to")
                };
                return Err((
                    ErrorCode::WrongLevel,
                    format!(
                        "{} ({}) is a {}, but this indicator is reported by each {who}",
                        u.full_name,
                        u.code,
                        u.level.as_str()
                    ),
                    fix,
                ));
            }
            Err((
                ErrorCode::UnknownUnit,
                err.to_string(),
                "use the official code from GET /api/units (e.g. 79 for Hồ Chí Minh, \
                 5 digits for a commune)"
                    .into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_id_and_period_number_fits_its_bits_of_the_key() {
        let h = Hierarchy::load(&crate::assets_dir()).unwrap();
        let max = h.units().iter().map(|u| u.uid).max().unwrap();
        assert!(max < 1 << 22, "uid {max} does not fit 22 bits");
        let last = Period::Year {
            year: dieuhanh_protocol::period::MAX_YEAR,
        };
        assert!(period_no(&last) < 1 << 18);
        let k = key(1023, period_no(&last), max);
        let f = Fact {
            key: k,
            value: 0.0,
            row: 0,
            col: 0,
            disagg: 0,
        };
        assert_eq!(
            (f.indicator(), f.pid(), f.uid()),
            (1023, period_no(&last), max)
        );
    }
}
