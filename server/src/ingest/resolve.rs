//! Interpreting raw rows as they are read: indicators by code or Vietnamese name, periods in
//! canonical or Vietnamese form (or a date, meaning the period that contains it), units by
//! official code or name in the structure in force at the end of the period and at a level that
//! reports the indicator, and values in the upload's locale. Each distinct text is resolved once
//! and cached (a file has few: units × periods × indicators); every row becomes either a compact
//! fact in memory (24 bytes: unit, value and place in the file), kept with the others of its
//! indicator and period, or row-level errors that say where and what to write instead. When
//! reading ends each run is sorted by unit and duplicates, now side by side, become errors;
//! `changes` then compares the runs with the stored values.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use dieuhanh_protocol::number::{Locale, parse_number};
use dieuhanh_protocol::period::{CivilDate, Frequency, Period};

use crate::catalogue::{Aggregation, Catalogue};
use crate::hierarchy::{Era, Hierarchy, Level, ResolveError};
use crate::store::facts::period_no;

use super::parts::in_parts;
use super::report::{ErrorCode, MAX_LISTED, RowError, column_letter};
use super::stage::{RawRow, RawValue, RowSink};
use super::{IngestError, Scope};

/// Where the unit, period and indicator of a row sit, and the headers, for error locations.
#[derive(Debug, Clone, Default)]
pub struct RoleColumns {
    pub unit: Option<(usize, String)>,
    pub period: Option<(usize, String)>,
    pub indicator: Option<(usize, String)>,
    pub headers: Vec<String>,
}

/// The most values one upload may hold: its facts stay in memory (24 bytes a value, so
/// ~400 MB at most; twice that while the two halves of a large CSV are read), and larger files
/// are better split by period or indicator.
pub const MAX_VALUES: usize = 16_000_000;

type Problem = (ErrorCode, String, String);

/// A problem's cell (column, field) and kind.
type CellProblem = (Option<String>, Option<String>, ErrorCode);

/// The problem of an upload past [`MAX_VALUES`].
fn too_many_values() -> Problem {
    (
        ErrorCode::TooLarge,
        format!("the upload holds more than {MAX_VALUES} values"),
        "split it by period or by indicator into files of fewer values".into(),
    )
}

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

/// One valid value read: its unit, upload-local disaggregation number (0 for the total; see
/// [`Resolution::disaggs`]), value, and where it was in the file. Its indicator and period are
/// those of its [`Slab`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fact {
    pub uid: u32,
    pub row: u32,
    pub value: f64,
    pub col: u16,
    pub disagg: u16,
}

impl Fact {
    /// What makes two facts of a slab the same cell.
    pub fn cell(&self) -> (u32, u16) {
        (self.uid, self.disagg)
    }
}

/// The facts of one indicator (catalogue number) and period (number). Kept apart as they are
/// read — a file has a few hundred such pairs at most — so that everything after reading
/// works on short runs sorted by unit: duplicates side by side, the previous period and the
/// stored values matched by merging, not by a hash table of millions of keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Slab {
    pub ind: u16,
    pub pid: i32,
    /// Sorted by (unit, disaggregation) once reading ends, without duplicates.
    pub facts: Vec<Fact>,
}

/// What resolution found: errors, or the facts and what is needed to compare them.
#[derive(Debug, Default)]
pub struct Resolution {
    pub errors: Vec<RowError>,
    pub errors_total: u64,
    /// Values read (valid or not).
    pub values: u64,
    /// The valid values by indicator and period, sorted by (indicator, period).
    pub slabs: Vec<Slab>,
    /// Upload-local disaggregation numbers' texts; 0 is the total ('').
    pub disaggs: Vec<String>,
    /// Catalogue numbers of the indicators met, with their codes.
    pub indicators: BTreeMap<u16, String>,
    /// The periods met by number, with the previous period's number.
    pub periods: BTreeMap<i32, (Period, i32)>,
}

impl Resolution {
    /// The slab of an indicator and period, if the upload has values of them.
    pub fn slab(&self, ind: u16, pid: i32) -> Option<&Slab> {
        self.slabs
            .binary_search_by_key(&(ind, pid), |s| (s.ind, s.pid))
            .ok()
            .map(|i| &self.slabs[i])
    }
}

/// The earliest `MAX_LISTED` of many problems by place in the file, kept as they are found in
/// another order (a max-heap of the places).
pub struct Earliest<T> {
    heap: std::collections::BinaryHeap<(u32, u16, Keyed<T>)>,
    pub total: u64,
}

/// A payload that takes no part in the heap's order.
pub struct Keyed<T>(pub T);

impl<T> PartialEq for Keyed<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<T> Eq for Keyed<T> {}
impl<T> PartialOrd for Keyed<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Keyed<T> {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl<T> Default for Earliest<T> {
    fn default() -> Self {
        Earliest {
            heap: std::collections::BinaryHeap::new(),
            total: 0,
        }
    }
}

impl<T> Earliest<T> {
    pub fn offer(&mut self, row: u32, col: u16, item: impl FnOnce() -> T) {
        self.total += 1;
        self.keep(row, col, item);
    }

    /// Takes in what another collector kept of its problems (found on another thread).
    pub fn absorb(&mut self, other: Earliest<T>) {
        self.total += other.total;
        for (row, col, Keyed(item)) in other.heap {
            self.keep(row, col, || item);
        }
    }

    /// Keeps the problem at (`row`, `col`) if it is among the earliest; `item` is made only
    /// then.
    fn keep(&mut self, row: u32, col: u16, item: impl FnOnce() -> T) {
        if self.heap.len() < MAX_LISTED {
            self.heap.push((row, col, Keyed(item())));
        } else if self
            .heap
            .peek()
            .is_some_and(|(r, c, _)| (row, col) < (*r, *c))
        {
            self.heap.pop();
            self.heap.push((row, col, Keyed(item())));
        }
    }

    /// The kept items in file order.
    pub fn into_sorted(self) -> Vec<T> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|(_, _, Keyed(t))| t)
            .collect()
    }
}

/// Answers by (key, text). A text of up to 15 bytes — a unit's code, a period's id: most of
/// what a file repeats — is looked up packed into a number, in one probe of the table; a
/// `String` key would send each lookup to the text's own allocation to compare it, and in a
/// 10 M-value file that wait was a fifth of the resolver's time. Longer texts (names) keep
/// `String` keys.
struct TextCache<K, V> {
    short: HashMap<(K, u128), V>,
    long: HashMap<K, HashMap<String, V>>,
}

impl<K, V> Default for TextCache<K, V> {
    fn default() -> Self {
        TextCache {
            short: HashMap::default(),
            long: HashMap::default(),
        }
    }
}

impl<K: Copy + Eq + std::hash::Hash, V: Copy> TextCache<K, V> {
    /// The text's bytes with its length in the last byte: equal numbers, equal texts.
    fn pack(text: &str) -> Option<u128> {
        let b = text.as_bytes();
        let mut packed = [0u8; 16];
        packed.get_mut(..b.len())?.copy_from_slice(b);
        packed[15] = u8::try_from(b.len()).ok().filter(|&n| n < 16)?;
        Some(u128::from_le_bytes(packed))
    }

    fn get(&self, key: K, text: &str) -> Option<V> {
        match Self::pack(text) {
            Some(p) => self.short.get(&(key, p)).copied(),
            None => self.long.get(&key).and_then(|m| m.get(text)).copied(),
        }
    }

    fn insert(&mut self, key: K, text: &str, value: V) {
        match Self::pack(text) {
            Some(p) => {
                self.short.insert((key, p), value);
            }
            None => {
                self.long
                    .entry(key)
                    .or_default()
                    .insert(text.to_owned(), value);
            }
        }
    }
}

/// Resolves raw rows into facts, collecting errors.
pub struct Resolver<'a> {
    cat: &'a Catalogue,
    h: &'a Hierarchy,
    scope: Option<&'a Scope>,
    locale: Locale,
    today: CivilDate,
    roles: RoleColumns,
    // Shared, so that every value can borrow them while the caches below change.
    default_period: Option<Arc<str>>,
    default_unit: Option<Arc<str>>,
    inds: HashMap<String, Answer<IndInfo>>,
    periods: TextCache<Frequency, Answer<PerInfo>>,
    units: TextCache<(Era, u8), Answer<u32>>,
    problems: Vec<Problem>,
    /// The last answer of each cache: a file repeats a text in runs (a row's unit and period
    /// for each of its values, a column's indicator down the rows), and comparing two short
    /// texts costs far less than hashing one. Indicators are remembered per column, the
    /// first [`MEMO_TEXTS`] met in it.
    last_ind: Vec<Vec<(String, Answer<IndInfo>)>>,
    last_period: Last<Frequency, Answer<PerInfo>>,
    last_unit: Last<(Era, u8), Answer<u32>>,
    disagg_nos: HashMap<String, u16>,
    /// Slab number by (indicator, period), and the last one used per indicator: rows that
    /// take turns among indicators (wide tables, and long ones listed indicator by indicator
    /// within a unit) then find their slab without hashing.
    slab_of: HashMap<(u16, i32), u32>,
    last_slab: Vec<Option<(i32, u32)>>,
    /// Valid values kept so far (at most [`MAX_VALUES`]).
    kept: usize,
    /// The problems said for the current row, by cell and kind: a wrong unit or period is one
    /// problem of its cell, not one for every value of a wide row.
    row_problems: (u64, Vec<CellProblem>),
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
            .filter(|(k, t, _)| k == key && same(t, text))
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

/// Columns whose indicators are remembered (a wide sheet has one indicator per column).
const MEMO_COLUMNS: usize = 256;
/// Indicator texts remembered per column: a long table's indicator column takes turns among a
/// few, and a short list compared in place beats hashing the text (more go to the hash map).
const MEMO_TEXTS: usize = 8;

/// `a == b` for the short texts of codes and periods, compared in place: the call into
/// `memcmp` that `==` makes cost more than the comparison, three times a value.
#[inline]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Two loads that overlap in the middle cover every length of a range.
    let w4 = |s: &[u8], i: usize| s[i..].first_chunk().map_or(0, |w| u32::from_le_bytes(*w));
    let w8 = |s: &[u8], i: usize| s[i..].first_chunk().map_or(0, |w| u64::from_le_bytes(*w));
    match n {
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=8 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        9..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        _ => a == b,
    }
}

impl<'a> Resolver<'a> {
    /// A resolver; `defaults` (period, unit) fill rows that have none.
    pub fn new(
        cat: &'a Catalogue,
        h: &'a Hierarchy,
        locale: Locale,
        today: CivilDate,
        defaults: (Option<String>, Option<String>),
        scope: Option<&'a Scope>,
    ) -> Self {
        let mut out = Resolution::default();
        out.disaggs.push(String::new());
        Resolver {
            cat,
            h,
            scope,
            locale,
            today,
            roles: RoleColumns::default(),
            default_period: defaults.0.map(Arc::from),
            default_unit: defaults.1.map(Arc::from),
            inds: HashMap::default(),
            periods: TextCache::default(),
            units: TextCache::default(),
            problems: Vec::new(),
            last_ind: Vec::new(),
            last_period: Last::default(),
            last_unit: Last::default(),
            disagg_nos: HashMap::default(),
            slab_of: HashMap::default(),
            last_slab: Vec::new(),
            kept: 0,
            row_problems: (0, Vec::new()),
            out,
        }
    }

    fn indicator(&mut self, raw: &str, col: u32) -> Answer<IndInfo> {
        let col = col as usize;
        if let Some(memo) = self.last_ind.get(col)
            && let Some((_, r)) = memo.iter().find(|(t, _)| same(t, raw))
        {
            return *r;
        }
        let r = self.indicator_cached(raw);
        if col < MEMO_COLUMNS {
            if self.last_ind.len() <= col {
                self.last_ind.resize_with(col + 1, Vec::new);
            }
            if self.last_ind[col].len() < MEMO_TEXTS {
                self.last_ind[col].push((raw.to_owned(), r));
            }
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
            Some(ind) if !in_agencies(self.scope, &ind.agency) => {
                let scope = self.scope.map(|s| (s.who.clone(), s.agencies.join(", ")));
                let (who, agencies) = scope.unwrap_or_default();
                Err(self.keep((
                    ErrorCode::OutOfScope,
                    format!(
                        "{} \"{}\" is reported by {}; {who} may report only the indicators of \
                         {agencies}",
                        ind.code, ind.name_vi, ind.agency
                    ),
                    format!(
                        "send it with a token of {}, or ask the administrator to add it to \
                         {who}",
                        ind.agency
                    ),
                )))
            }
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
        if let Some(r) = self.periods.get(freq, raw) {
            return r;
        }
        let r = match resolve_period(raw, freq, self.today) {
            Ok(p) => Ok(PerInfo {
                pid: period_no(&p),
                era: Era::of_period(&p),
            }),
            Err(p) => Err(self.keep(p)),
        };
        self.periods.insert(freq, raw, r);
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
        if let Some(r) = self.units.get((era, mask), raw) {
            return r;
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
        let r = resolve_unit(self.h, era, &levels, raw)
            .and_then(|uid| in_scope(self.h, self.scope, uid))
            .map_err(|p| self.keep(p));
        self.units.insert((era, mask), raw, r);
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
        let (at, said) = &mut self.row_problems;
        if *at != row {
            *at = row;
            said.clear();
        }
        if said
            .iter()
            .any(|(c, f, k)| *c == column && *f == field && *k == code)
        {
            return;
        }
        said.push((column.clone(), field.clone(), code));
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
                message_vi: String::new(),
            });
        }
    }

    /// Takes in what `later` read from a later part of the same file (the second half, read on
    /// another thread): its values join this one's, before [`Resolver::finish`] sorts them.
    pub fn absorb(&mut self, later: Resolver<'_>) {
        let mut later_out = later.out;
        self.out.values += later_out.values;
        self.out.errors_total += later_out.errors_total;
        self.out.errors.append(&mut later_out.errors);
        // Its disaggregations numbered as this one numbers them.
        let renumber: Vec<u16> = later_out
            .disaggs
            .iter()
            .map(|t| self.disagg_no(t).unwrap_or(u16::MAX))
            .collect();
        let same_numbers = renumber.iter().enumerate().all(|(i, &n)| i as u16 == n);
        for mut slab in later_out.slabs {
            if !same_numbers {
                for f in &mut slab.facts {
                    f.disagg = renumber
                        .get(usize::from(f.disagg))
                        .copied()
                        .unwrap_or(u16::MAX);
                }
            }
            let pair = (slab.ind, slab.pid);
            match self.slab_of.get(&pair) {
                Some(&n) => self.out.slabs[n as usize].facts.append(&mut slab.facts),
                None => {
                    self.slab_of.insert(pair, self.out.slabs.len() as u32);
                    self.out.slabs.push(slab);
                }
            }
        }
        self.last_slab.clear();
        let kept = self.kept + later.kept;
        if kept > MAX_VALUES && self.kept <= MAX_VALUES && later.kept <= MAX_VALUES {
            self.out.errors_total += 1;
            let (code, reason, hint) = too_many_values();
            self.out
                .errors
                .insert(0, RowError::file(code, reason, hint));
        }
        self.kept = kept;
    }

    /// Ends reading: the facts sorted and without duplicates, or the errors in file order
    /// (duplicates among them).
    pub fn finish(mut self) -> Resolution {
        let mut out = std::mem::take(&mut self.out);
        out.slabs.sort_unstable_by_key(|s| (s.ind, s.pid));
        let this = &self;
        // Slabs are sorted and checked independently: on every core for a large upload.
        let parts = in_parts(
            &mut out.slabs,
            |s| s.facts.len(),
            |part| {
                let mut dups: Earliest<RowError> = Earliest::default();
                for slab in part {
                    // Files list a period's units in order, so this is mostly a check that
                    // they are.
                    let key = |f: &Fact| (f.uid, f.disagg, f.row, f.col);
                    if !slab.facts.is_sorted_by_key(key) {
                        slab.facts.sort_by_key(key);
                    }
                    let before = dups.total;
                    let mut first: Option<Fact> = None;
                    for f in &slab.facts {
                        match first {
                            Some(e) if e.cell() == f.cell() => {
                                dups.offer(f.row, f.col, || this.duplicate(f, &e));
                            }
                            _ => first = Some(*f),
                        }
                    }
                    if dups.total > before {
                        slab.facts.dedup_by_key(|f| f.cell());
                    }
                }
                dups
            },
        );
        let mut dups: Earliest<RowError> = Earliest::default();
        for d in parts {
            dups.absorb(d);
        }
        out.errors_total += dups.total;
        out.errors.extend(dups.into_sorted());
        out.errors.sort_by(|a, b| {
            (a.row, column_index(&a.column)).cmp(&(b.row, column_index(&b.column)))
        });
        out.errors.truncate(MAX_LISTED);
        for &(ind, pid) in self.slab_of.keys() {
            if let Some(i) = self.cat.indicators.get(usize::from(ind)) {
                out.indicators.insert(ind, i.code.clone());
            }
            if let Some(p) = crate::store::facts::period_of_no(pid) {
                out.periods.insert(pid, (p, period_no(&p.previous())));
            }
        }
        out
    }

    /// The error for `f`, a repeat of `first`.
    fn duplicate(&self, f: &Fact, first: &Fact) -> RowError {
        let (column, field) = self.value_loc(u32::from(f.col));
        let at = if first.row == f.row {
            format!(" (column {})", column_letter(usize::from(first.col)))
        } else {
            String::new()
        };
        RowError {
            row: Some(u64::from(f.row)),
            column,
            field,
            value: None,
            code: ErrorCode::DuplicateRow,
            reason: format!(
                "the same indicator, unit and period already appear in row {}{at}",
                first.row
            ),
            hint: "keep one row per indicator, unit and period; delete the other".into(),
            message_vi: String::new(),
        }
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
        // "-0" (or a negative figure too small to write, -1e-999) is 0: stored as -0.0 it came
        // back from the API as "value": -0.0.
        let value = value.map(|v| if v == 0.0 { 0.0 } else { v });
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
        if self.kept >= MAX_VALUES {
            if self.kept == MAX_VALUES {
                self.problem(r.row, (None, None), None, too_many_values());
                // Said once: later values are only counted.
                self.kept += 1;
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
        let pair = (i.no, p.pid);
        let at = usize::from(i.no);
        if self.last_slab.len() <= at {
            self.last_slab.resize(at + 1, None);
        }
        let slab = match self.last_slab[at] {
            Some((pid, n)) if pid == p.pid => n,
            last => {
                let next = self.out.slabs.len() as u32;
                let n = *self.slab_of.entry(pair).or_insert(next);
                if n == next {
                    // A new period of an indicator mostly holds as many values as its last one
                    // (a month of every commune): sized so, the vector is not grown — and
                    // copied — a dozen times over.
                    let expected = last.map_or(0, |(_, m)| self.out.slabs[m as usize].facts.len());
                    self.out.slabs.push(Slab {
                        ind: i.no,
                        pid: p.pid,
                        facts: Vec::with_capacity(expected),
                    });
                }
                self.last_slab[at] = Some((p.pid, n));
                n
            }
        };
        self.out.slabs[slab as usize].facts.push(Fact {
            uid: u,
            row,
            value: v,
            col: u16::try_from(r.col).unwrap_or(u16::MAX),
            disagg,
        });
        self.kept += 1;
        Ok(())
    }
}

/// A number in the upload's locale; a whole number of up to 15 digits (most figures) takes a
/// fast path.
fn parse_value(text: &str, locale: Locale) -> Result<f64, String> {
    if let Some(v) = whole_number(text.as_bytes()) {
        return Ok(v);
    }
    parse_number(text, locale).map_err(|e| e.to_string())
}

/// `-?[0-9]{1,15}` as a number: exact in a `f64` (below 2^53), so no rounding to get right.
fn whole_number(b: &[u8]) -> Option<f64> {
    let (negative, digits) = match b {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    let v = n as f64;
    Some(if negative { -v } else { v })
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

/// Whether a scope lets its sender report the indicators of `agency`.
fn in_agencies(scope: Option<&Scope>, agency: &str) -> bool {
    scope.is_none_or(|s| s.agencies.is_empty() || s.agencies.iter().any(|a| a == agency))
}

/// `uid` if the scope covers it: the scope's unit itself or any unit under it, of either
/// structure.
fn in_scope(h: &Hierarchy, scope: Option<&Scope>, uid: u32) -> Result<u32, Problem> {
    let Some((who, top)) = scope.and_then(|s| Some((&s.who, s.unit?))) else {
        return Ok(uid);
    };
    if uid == top || h.closure(uid).iter().any(|&(a, _)| a == top) {
        return Ok(uid);
    }
    let name = |u: u32| {
        h.unit(u).map_or_else(
            || u.to_string(),
            |u| format!("{} ({})", u.full_name, u.code),
        )
    };
    Err((
        ErrorCode::OutOfScope,
        format!(
            "{} is outside what {who} may report: {} and the units under it",
            name(uid),
            name(top)
        ),
        "send it with the token of that unit's reporter, or ask the administrator to widen \
         this token's unit"
            .into(),
    ))
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
    fn a_text_cache_tells_every_text_apart() {
        let texts = [
            "",
            "\0",
            "a",
            "a\0",
            "\0a",
            "79",
            "079",
            "00001",
            "2025-07",
            "123456789012345",
            "1234567890123456",
            "12345678901234567",
            "Phường Bến Nghé",
            "Phường Bến Nghe",
        ];
        let mut cache: TextCache<u8, usize> = TextCache::default();
        for (i, t) in texts.iter().enumerate() {
            cache.insert(1, t, i);
        }
        for (i, t) in texts.iter().enumerate() {
            assert_eq!(cache.get(1, t), Some(i), "{t:?}");
            assert_eq!(cache.get(2, t), None, "{t:?} under another key");
        }
        assert_eq!(cache.get(1, "b"), None);
        // Up to 15 bytes packed, longer ones kept as strings.
        assert!(TextCache::<u8, usize>::pack("123456789012345").is_some());
        assert!(TextCache::<u8, usize>::pack("1234567890123456").is_none());
    }

    #[test]
    fn earliest_keeps_the_first_problems_in_file_order_whatever_order_they_come_in() {
        let mut e: Earliest<(u32, u16)> = Earliest::default();
        // Rows in descending order, then a few early ones last.
        for row in (10..(MAX_LISTED as u32 + 500)).rev() {
            e.offer(row, 1, || (row, 1));
        }
        e.offer(3, 2, || (3, 2));
        e.offer(3, 1, || (3, 1));
        assert_eq!(e.total, MAX_LISTED as u64 + 492);
        let kept = e.into_sorted();
        assert_eq!(kept.len(), MAX_LISTED);
        assert_eq!(&kept[..3], &[(3, 1), (3, 2), (10, 1)]);
        assert_eq!(kept.last(), Some(&(MAX_LISTED as u32 + 7, 1)));
    }

    #[test]
    fn problems_found_on_two_threads_keep_the_earliest_of_both() {
        let (mut a, mut b): (Earliest<u32>, Earliest<u32>) = Default::default();
        for row in 0..(MAX_LISTED as u32 * 2) {
            if row % 3 == 0 {
                a.offer(row, 0, || row);
            } else {
                b.offer(row, 0, || row);
            }
        }
        let total = a.total + b.total;
        b.absorb(a);
        assert_eq!(b.total, total);
        assert_eq!(b.into_sorted(), (0..MAX_LISTED as u32).collect::<Vec<_>>());
    }

    #[test]
    fn texts_compared_in_place_compare_as_equality_does() {
        let texts = [
            "",
            "a",
            "XH02",
            "XH03",
            "XH0",
            "2013-01",
            "2013-01 ",
            "00001",
            "00001x",
            "Tháng 7/2025",
            "Tháng 7/2026",
            "0123456789abcdef",
            "0123456789abcdeF",
            "0123456789abcdef0",
            "0123456789abcdef1",
        ];
        for a in texts {
            for b in texts {
                assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn whole_numbers_read_fast_read_as_the_slow_path_reads_them() {
        for t in [
            "0",
            "-0",
            "7",
            "007",
            "-42",
            "1098",
            "999999999999999",
            "-999999999999999",
        ] {
            let fast = whole_number(t.as_bytes()).expect(t);
            assert_eq!(fast, t.parse::<f64>().unwrap(), "{t}");
            assert_eq!(parse_value(t, Locale::Vi), Ok(fast), "{t}");
        }
        // Left to the locale-aware reader: more digits than a f64 holds exactly, signs,
        // separators, spaces, nothing.
        for t in [
            "9999999999999999",
            "+5",
            "-",
            "",
            " 5",
            "1.234",
            "1,5",
            "12a",
            "٣",
        ] {
            assert_eq!(whole_number(t.as_bytes()), None, "{t}");
        }
        assert_eq!(parse_value("1.234.567,8", Locale::Vi), Ok(1_234_567.8));
        assert_eq!(parse_value(" 12 ", Locale::Vi), Ok(12.0));
        assert_eq!(parse_value("9999999999999999", Locale::En), Ok(1e16));
    }
}
