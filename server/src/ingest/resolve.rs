//! Interpreting raw rows as they are read: indicators by code or Vietnamese name, periods in
//! canonical or Vietnamese form (or a date, meaning the period that contains it), units by
//! official code or name in the structure in force at the end of the period and at a level that
//! reports the indicator, and values in the upload's locale. Each distinct text is resolved once
//! and cached (a file has few: units × periods × indicators); every row becomes either compact
//! ids appended to the `resolved` table in Arrow batches, or row-level errors that say where and
//! what to write instead. Duplicates and outliers against the previous period are found in SQL
//! over `resolved` afterwards.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use duckdb::Connection;
use duckdb::arrow::array::{
    ArrayRef, Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;

use dieuhanh_protocol::number::{Locale, parse_number};
use dieuhanh_protocol::period::{CivilDate, Frequency, Period};

use crate::catalogue::{Aggregation, Catalogue};
use crate::hierarchy::{Era, Hierarchy, Level, ResolveError};
use crate::store::DbContext;

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

/// Relative change against the previous period above which a value is flagged.
const OUTLIER_RATIO: f64 = 0.5;

/// Rows buffered before an Arrow batch goes to DuckDB: bounds memory per upload.
const BATCH_ROWS: usize = 1 << 18;

type Problem = (ErrorCode, String, String);

#[derive(Debug, Clone)]
struct IndInfo {
    no: u16,
    frequency: Frequency,
    levels: Vec<Level>,
    nonneg: bool,
    code: String,
}

#[derive(Debug, Clone, Copy)]
struct PerInfo {
    period: Period,
    pid: i32,
    prev_pid: i32,
    era: Era,
}

/// What resolution found.
#[derive(Debug, Default)]
pub struct Resolution {
    pub errors: Vec<RowError>,
    pub errors_total: u64,
    pub warnings: Vec<RowError>,
    pub warnings_total: u64,
    /// Values read (valid or not).
    pub values: u64,
    pub indicators: Vec<String>,
    pub periods: Vec<String>,
    /// The periods met, by their number in `resolved.pid`.
    pub period_ids: HashMap<i32, Period>,
}

/// Resolves raw rows into `resolved`, collecting errors.
pub struct Resolver<'a> {
    conn: &'a Connection,
    cat: &'a Catalogue,
    h: &'a Hierarchy,
    locale: Locale,
    today: CivilDate,
    roles: RoleColumns,
    // Shared, so that every value can borrow them while the caches below change.
    default_period: Option<Arc<str>>,
    default_unit: Option<Arc<str>>,
    inds: HashMap<String, Result<Arc<IndInfo>, Problem>>,
    periods: HashMap<Frequency, HashMap<String, Result<PerInfo, Problem>>>,
    units: HashMap<(Era, u8), HashMap<String, Result<u32, Problem>>>,
    /// The last answer of each cache: a file repeats a text in runs (a row's unit and period
    /// for each of its values, a column's indicator down the rows), and comparing two short
    /// texts costs far less than hashing one. Indicators are remembered per column.
    last_ind: Vec<Last<(), Result<Arc<IndInfo>, Problem>>>,
    last_period: Last<Frequency, Result<PerInfo, Problem>>,
    last_unit: Last<(Era, u8), Result<u32, Problem>>,
    used_inds: BTreeSet<u16>,
    used_periods: BTreeMap<i32, (Period, Period)>,
    /// The last value's indicator and period, already in the two sets above.
    last_used: Option<(u16, i32)>,
    batch: Batch,
    errors: Vec<RowError>,
    errors_total: u64,
    values: u64,
}

/// A cache's last answer, by a small key (frequency, era and levels) and the text asked about;
/// the text's buffer is reused.
struct Last<K, V>(Option<(K, String, V)>);

impl<K, V> Default for Last<K, V> {
    fn default() -> Self {
        Last(None)
    }
}

impl<K: PartialEq, V> Last<K, V> {
    fn get(&self, key: &K, text: &str) -> Option<&V> {
        self.0
            .as_ref()
            .filter(|(k, t, _)| k == key && t == text)
            .map(|(_, _, v)| v)
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

/// Columns of `resolved`, being filled.
#[derive(Default)]
struct Batch {
    row: Int64Builder,
    col: Int32Builder,
    disagg: StringBuilder,
    ind: Int16Builder,
    pid: Int32Builder,
    prev_pid: Int32Builder,
    year: Int16Builder,
    uid: Int32Builder,
    value: Float64Builder,
    key: Int64Builder,
    prev_key: Int64Builder,
    len: usize,
}

const RESOLVED: &str = "CREATE OR REPLACE TEMP TABLE resolved (
    row_no BIGINT, col_no INTEGER, disagg VARCHAR, ind_no SMALLINT, pid INTEGER,
    prev_pid INTEGER, year SMALLINT, uid INTEGER, value DOUBLE, key BIGINT, prev_key BIGINT)";

/// Columns whose last indicator is remembered (a wide sheet has one indicator per column).
const MEMO_COLUMNS: usize = 256;

/// A key unique per (indicator, period, unit): ids packed into 64 bits.
fn key(ind: u16, pid: i32, uid: u32) -> i64 {
    (i64::from(ind) << 40) | (i64::from(pid) << 22) | i64::from(uid)
}

impl<'a> Resolver<'a> {
    /// A resolver writing into a fresh `resolved` table; `defaults` (period, unit) fill rows
    /// that have none.
    pub fn new(
        conn: &'a Connection,
        cat: &'a Catalogue,
        h: &'a Hierarchy,
        locale: Locale,
        today: CivilDate,
        defaults: (Option<String>, Option<String>),
    ) -> Result<Self, IngestError> {
        conn.execute_batch(RESOLVED)
            .ctx("creating the resolved table")?;
        Ok(Resolver {
            conn,
            cat,
            h,
            locale,
            today,
            roles: RoleColumns::default(),
            default_period: defaults.0.map(Arc::from),
            default_unit: defaults.1.map(Arc::from),
            inds: HashMap::new(),
            periods: HashMap::new(),
            units: HashMap::new(),
            last_ind: Vec::new(),
            last_period: Last::default(),
            last_unit: Last::default(),
            used_inds: BTreeSet::new(),
            used_periods: BTreeMap::new(),
            last_used: None,
            batch: Batch::default(),
            errors: Vec::new(),
            errors_total: 0,
            values: 0,
        })
    }

    fn indicator(&mut self, raw: &str, col: u32) -> Result<Arc<IndInfo>, Problem> {
        let col = col as usize;
        if let Some(r) = self.last_ind.get(col).and_then(|m| m.get(&(), raw)) {
            return r.clone();
        }
        let r = self.indicator_cached(raw);
        if col < MEMO_COLUMNS {
            if self.last_ind.len() <= col {
                self.last_ind.resize_with(col + 1, Last::default);
            }
            self.last_ind[col].set((), raw, r.clone());
        }
        r
    }

    fn indicator_cached(&mut self, raw: &str) -> Result<Arc<IndInfo>, Problem> {
        if let Some(r) = self.inds.get(raw) {
            return r.clone();
        }
        let cat = self.cat;
        let r = match cat.resolve_indicator(raw) {
            Some(ind) if ind.aggregation == Aggregation::Ratio => Err((
                ErrorCode::ComputedIndicator,
                format!(
                    "{} \"{}\" is computed from {} and {}, not uploaded",
                    ind.code,
                    ind.name_vi,
                    ind.numerator.as_deref().unwrap_or("?"),
                    ind.denominator.as_deref().unwrap_or("?")
                ),
                "upload its two parts; the ratio follows at every level".to_owned(),
            )),
            Some(ind) => {
                let levels: BTreeSet<Level> = cat.regimes_of(&ind.code).map(|r| r.level).collect();
                Ok(Arc::new(IndInfo {
                    no: cat
                        .indicators
                        .iter()
                        .position(|i| i.code == ind.code)
                        .unwrap_or(0) as u16,
                    frequency: ind.frequency,
                    levels: levels.into_iter().collect(),
                    nonneg: ind.nonnegative,
                    code: ind.code.clone(),
                }))
            }
            None => Err((
                ErrorCode::UnknownIndicator,
                format!("no indicator {raw:?} in the catalogue"),
                super::columns::suggest_indicator(cat, raw),
            )),
        };
        self.inds.insert(raw.to_owned(), r.clone());
        r
    }

    fn period(&mut self, raw: &str, freq: Frequency) -> Result<PerInfo, Problem> {
        if let Some(r) = self.last_period.get(&freq, raw) {
            return r.clone();
        }
        let r = self.period_cached(raw, freq);
        self.last_period.set(freq, raw, r.clone());
        r
    }

    fn period_cached(&mut self, raw: &str, freq: Frequency) -> Result<PerInfo, Problem> {
        if let Some(r) = self.periods.get(&freq).and_then(|m| m.get(raw)) {
            return r.clone();
        }
        let r = resolve_period(raw, freq, self.today).map(|p| PerInfo {
            period: p,
            pid: period_no(&p),
            prev_pid: period_no(&p.previous()),
            era: Era::of_period(&p),
        });
        self.periods
            .entry(freq)
            .or_default()
            .insert(raw.to_owned(), r.clone());
        r
    }

    fn unit(&mut self, raw: &str, era: Era, levels: &[Level]) -> Result<u32, Problem> {
        let mask = levels.iter().fold(0u8, |m, l| m | (1 << (*l as u8)));
        if let Some(r) = self.last_unit.get(&(era, mask), raw) {
            return r.clone();
        }
        let r = self.unit_cached(raw, era, mask, levels);
        self.last_unit.set((era, mask), raw, r.clone());
        r
    }

    fn unit_cached(
        &mut self,
        raw: &str,
        era: Era,
        mask: u8,
        levels: &[Level],
    ) -> Result<u32, Problem> {
        if let Some(r) = self.units.get(&(era, mask)).and_then(|m| m.get(raw)) {
            return r.clone();
        }
        let r = resolve_unit(self.h, era, levels, raw);
        self.units
            .entry((era, mask))
            .or_default()
            .insert(raw.to_owned(), r.clone());
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
        self.errors_total += 1;
        if self.errors.len() < MAX_LISTED {
            self.errors.push(RowError {
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

    fn flush(&mut self) -> Result<(), IngestError> {
        if self.batch.len == 0 {
            return Ok(());
        }
        let b = std::mem::take(&mut self.batch);
        let cols: Vec<(&str, DataType, ArrayRef)> = vec![
            (
                "row_no",
                DataType::Int64,
                Arc::new({
                    let mut x = b.row;
                    x.finish()
                }),
            ),
            (
                "col_no",
                DataType::Int32,
                Arc::new({
                    let mut x = b.col;
                    x.finish()
                }),
            ),
            (
                "disagg",
                DataType::Utf8,
                Arc::new({
                    let mut x = b.disagg;
                    x.finish()
                }),
            ),
            (
                "ind_no",
                DataType::Int16,
                Arc::new({
                    let mut x = b.ind;
                    x.finish()
                }),
            ),
            (
                "pid",
                DataType::Int32,
                Arc::new({
                    let mut x = b.pid;
                    x.finish()
                }),
            ),
            (
                "prev_pid",
                DataType::Int32,
                Arc::new({
                    let mut x = b.prev_pid;
                    x.finish()
                }),
            ),
            (
                "year",
                DataType::Int16,
                Arc::new({
                    let mut x = b.year;
                    x.finish()
                }),
            ),
            (
                "uid",
                DataType::Int32,
                Arc::new({
                    let mut x = b.uid;
                    x.finish()
                }),
            ),
            (
                "value",
                DataType::Float64,
                Arc::new({
                    let mut x = b.value;
                    x.finish()
                }),
            ),
            (
                "key",
                DataType::Int64,
                Arc::new({
                    let mut x = b.key;
                    x.finish()
                }),
            ),
            (
                "prev_key",
                DataType::Int64,
                Arc::new({
                    let mut x = b.prev_key;
                    x.finish()
                }),
            ),
        ];
        let schema = Schema::new(
            cols.iter()
                .map(|(n, t, _)| Field::new(*n, t.clone(), true))
                .collect::<Vec<_>>(),
        );
        let batch = RecordBatch::try_new(Arc::new(schema), cols.into_iter().map(|c| c.2).collect())
            .map_err(|e| IngestError::Store(crate::store::StoreError::Task(e.to_string())))?;
        let mut app = self
            .conn
            .appender("resolved")
            .ctx("storing resolved rows")?;
        app.append_record_batch(batch)
            .ctx("storing resolved rows")?;
        Ok(())
    }

    /// Ends reading: flushes, then finds duplicates and (for a valid upload) outliers.
    pub fn finish(mut self) -> Result<Resolution, IngestError> {
        self.flush()?;
        let conn = self.conn;
        let dups: i64 = conn
            .query_row(
                "SELECT (SELECT count(*) - count(DISTINCT key) FROM resolved WHERE disagg = '')
                      + (SELECT count(*) - count(DISTINCT (key, disagg)) FROM resolved
                         WHERE disagg <> '')",
                [],
                |r| r.get(0),
            )
            .ctx("looking for duplicate rows")?;
        if dups > 0 {
            self.errors_total += dups as u64;
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT row_no, col_no, first_row, first_col FROM (
                         SELECT row_no, col_no,
                                first_value(row_no) OVER w AS first_row,
                                first_value(col_no) OVER w AS first_col,
                                row_number() OVER w AS n
                         FROM resolved
                         WINDOW w AS (PARTITION BY key, disagg ORDER BY row_no, col_no))
                     WHERE n > 1 ORDER BY row_no, col_no LIMIT {MAX_LISTED}"
                ))
                .ctx("listing duplicate rows")?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i32>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i32>(3)?,
                    ))
                })
                .ctx("listing duplicate rows")?;
            let list: Vec<(i64, i32, i64, i32)> = rows
                .collect::<Result<_, _>>()
                .ctx("listing duplicate rows")?;
            for (row, col, first_row, first_col) in list {
                let loc = self.value_loc(col as u32);
                let at = if first_row == row {
                    format!(" (column {})", column_letter(first_col as usize))
                } else {
                    String::new()
                };
                self.errors_total -= 1;
                self.problem(
                    row as u64,
                    loc,
                    None,
                    (
                        ErrorCode::DuplicateRow,
                        format!("the same indicator, unit and period already appear in row {first_row}{at}"),
                        "keep one row per indicator, unit and period; delete the other".into(),
                    ),
                );
            }
        }
        let mut out = Resolution {
            values: self.values,
            ..Resolution::default()
        };
        self.errors.sort_by(|a, b| {
            (a.row, column_index(&a.column)).cmp(&(b.row, column_index(&b.column)))
        });
        self.errors.truncate(MAX_LISTED);
        out.errors_total = self.errors_total;
        out.errors = self.errors;
        if out.errors_total > 0 {
            return Ok(out);
        }
        // Names of the ids, for the rest of the pipeline.
        conn.execute_batch(
            "CREATE OR REPLACE TEMP TABLE ids_ind (ind_no SMALLINT, indicator VARCHAR);
             CREATE OR REPLACE TEMP TABLE ids_period (pid INTEGER, period VARCHAR, prev VARCHAR,
                 prev_pid INTEGER);",
        )
        .ctx("naming ids")?;
        {
            let mut app = conn.appender("ids_ind").ctx("naming ids")?;
            for &n in &self.used_inds {
                let code = self
                    .cat
                    .indicators
                    .get(usize::from(n))
                    .map(|i| i.code.clone());
                app.append_row(duckdb::params![n as i16, code])
                    .ctx("naming ids")?;
            }
            let mut app = conn.appender("ids_period").ctx("naming ids")?;
            for (&pid, (p, prev)) in &self.used_periods {
                app.append_row(duckdb::params![pid, p.id(), prev.id(), period_no(prev)])
                    .ctx("naming ids")?;
            }
        }
        out.indicators = self
            .used_inds
            .iter()
            .filter_map(|&n| self.cat.indicators.get(usize::from(n)))
            .map(|i| i.code.clone())
            .collect();
        out.indicators.sort();
        let mut periods: Vec<Period> = self.used_periods.values().map(|(p, _)| *p).collect();
        periods.sort();
        out.periods = periods.iter().map(Period::id).collect();
        out.period_ids = self
            .used_periods
            .iter()
            .map(|(&pid, (p, _))| (pid, *p))
            .collect();
        let (warnings, total) = outliers(conn)?;
        out.warnings = warnings;
        out.warnings_total = total;
        Ok(out)
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
        self.values += 1;
        let before = self.errors_total;
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
                Err(p) => {
                    {
                        let l = ind_loc(self);
                        self.problem(r.row, l, Some(t), p);
                    }
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
                Err(p) => {
                    {
                        let l = period_loc(self);
                        self.problem(r.row, l, Some(t), p);
                    }
                    None
                }
            },
            (None, Some(_)) => None,
        };
        let uid = match (&ind, &per, &unit_raw) {
            (Some(i), Some(p), Some(t)) => match self.unit(t, p.era, &i.levels) {
                Ok(u) => Some(u),
                Err(p) => {
                    {
                        let l = unit_loc(self);
                        self.problem(r.row, l, Some(t), p);
                    }
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
                    format!("{} cannot be negative", i.code),
                    "check the sign; corrections are sent as the corrected figure, not a difference"
                        .into(),
                ),
            );
        }
        if self.errors_total != before {
            return Ok(());
        }
        let (Some(i), Some(p), Some(u), Some(v)) = (ind, per, uid, value) else {
            return Ok(());
        };
        if self.last_used != Some((i.no, p.pid)) {
            self.last_used = Some((i.no, p.pid));
            self.used_inds.insert(i.no);
            self.used_periods
                .entry(p.pid)
                .or_insert((p.period, p.period.previous()));
        }
        let b = &mut self.batch;
        b.row.append_value(r.row as i64);
        b.col.append_value(r.col as i32);
        b.disagg.append_value(r.disagg);
        b.ind.append_value(i.no as i16);
        b.pid.append_value(p.pid);
        b.prev_pid.append_value(p.prev_pid);
        b.year.append_value(p.period.year() as i16);
        b.uid.append_value(u as i32);
        b.value.append_value(v);
        b.key.append_value(key(i.no, p.pid, u));
        b.prev_key.append_value(key(i.no, p.prev_pid, u));
        b.len += 1;
        if b.len >= BATCH_ROWS {
            self.flush()?;
        }
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

/// A period as a number unique across kinds: months since year 0 × 8 + its kind.
fn period_no(p: &Period) -> i32 {
    let kind = match p {
        Period::Month { .. } => 0,
        Period::Quarter { .. } => 1,
        Period::Half { .. } => 2,
        Period::Year { .. } => 3,
        Period::YearToDate { .. } => 4,
    };
    p.month_index() * 8 + kind
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

/// Values that moved by more than half against the previous period (from this upload or the
/// store): warnings, never errors — real shocks happen (Tết, storms).
fn outliers(conn: &Connection) -> Result<(Vec<RowError>, u64), IngestError> {
    // The previous value from this upload (integer keys), else from the store.
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE prev_values AS
         WITH stored AS (
             SELECT (i.ind_no::BIGINT << 40) | (p.pid::BIGINT << 22) | o.uid::BIGINT AS key,
                    o.disagg, o.value
             FROM current_obs o
             JOIN ids_ind i ON i.indicator = o.indicator
             JOIN (SELECT DISTINCT prev AS period, prev_pid AS pid FROM ids_period) p
                 ON p.period = o.period)
         SELECT r.row_no, r.col_no, i.indicator, r.value, p.prev,
                coalesce(up.value, st.value) AS prev_value
         FROM resolved r
         JOIN ids_ind i USING (ind_no)
         JOIN ids_period p USING (pid)
         LEFT JOIN resolved up ON up.key = r.prev_key AND up.disagg = r.disagg
         LEFT JOIN stored st ON st.key = r.prev_key AND st.disagg = r.disagg
         WHERE r.value >= 0",
    )
    .ctx("checking outliers")?;
    let cond = format!("prev_value > 0 AND abs(value / prev_value - 1) > {OUTLIER_RATIO}");
    let total: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM prev_values WHERE {cond}"),
            [],
            |r| r.get(0),
        )
        .ctx("checking outliers")?;
    let mut stmt = conn
        .prepare(&format!(
            "SELECT row_no, col_no, NULL::VARCHAR, NULL::VARCHAR, value, prev_value, prev,
                    indicator
             FROM prev_values WHERE {cond} ORDER BY row_no, col_no LIMIT {MAX_LISTED}"
        ))
        .ctx("checking outliers")?;
    let rows = stmt
        .query_map([], |r| {
            let value: f64 = r.get(4)?;
            let prev: f64 = r.get(5)?;
            let prev_period: String = r.get(6)?;
            let label = Period::parse(&prev_period)
                .map(|p| p.label_vi())
                .unwrap_or(prev_period);
            let ind: String = r.get(7)?;
            Ok(RowError {
                row: Some(r.get::<_, i64>(0)? as u64),
                column: r
                    .get::<_, Option<i32>>(1)?
                    .map(|c| column_letter(c as usize)),
                field: r.get(2)?,
                value: Some(dieuhanh_protocol::number::format_vi_auto(value)),
                code: ErrorCode::Outlier,
                reason: format!(
                    "{ind}: {} is {:+.0}% against {} in {label}",
                    dieuhanh_protocol::number::format_vi_auto(value),
                    (value / prev - 1.0) * 100.0,
                    dieuhanh_protocol::number::format_vi_auto(prev)
                ),
                hint: "accepted; check the figure and send a correction if it is wrong".into(),
            })
        })
        .ctx("checking outliers")?;
    let list: Vec<RowError> = rows.collect::<Result<_, _>>().ctx("checking outliers")?;
    Ok((list, total as u64))
}
