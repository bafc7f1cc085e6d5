//! Interpreting staged rows: indicators by code or Vietnamese name, periods in canonical or
//! Vietnamese form (or a date, meaning the period that contains it), units by official code or
//! name in the structure in force at the end of the period and at a level that reports the
//! indicator, and values in the upload's locale. Distinct texts are resolved once in Rust
//! (there are few: units × periods × indicators), the millions of values in SQL. Then every
//! problem becomes a row-level error, and outliers against the previous period become warnings.

use std::collections::BTreeSet;

use duckdb::{Connection, params};

use dieuhanh_protocol::number::{Locale, parse_number};
use dieuhanh_protocol::period::{CivilDate, Frequency, Period};

use crate::catalogue::{Aggregation, Catalogue};
use crate::hierarchy::{Era, Hierarchy, Level, ResolveError};
use crate::store::DbContext;

use super::IngestError;
use super::report::{ErrorCode, MAX_LISTED, RowError, column_letter};

/// Where the unit, period and indicator of a row sit, for error locations.
#[derive(Debug, Clone, Default)]
pub struct RoleColumns {
    pub unit: Option<(usize, String)>,
    pub period: Option<(usize, String)>,
    pub indicator: Option<(usize, String)>,
}

/// Result of resolution.
#[derive(Debug, Default)]
pub struct Resolution {
    pub errors: Vec<RowError>,
    pub errors_total: u64,
    pub warnings: Vec<RowError>,
    pub warnings_total: u64,
    pub values: u64,
    pub indicators: Vec<String>,
    pub periods: Vec<String>,
}

/// Relative change against the previous period above which a value is flagged.
const OUTLIER_RATIO: f64 = 0.5;

pub fn resolve(
    conn: &Connection,
    cat: &Catalogue,
    h: &Hierarchy,
    locale: Locale,
    roles: &RoleColumns,
    today: CivilDate,
) -> Result<Resolution, IngestError> {
    let t = std::time::Instant::now();
    let lap = |what: &str| tracing::debug!(ms = t.elapsed().as_millis() as u64, "{what}");
    // The distinct texts, in one pass over the staged rows.
    let (ind_raws, per_raws, unit_raws): (Vec<String>, Vec<String>, Vec<String>) = {
        let mut stmt = conn
            .prepare(
                "SELECT list(DISTINCT ind_raw) FILTER (WHERE trim(ind_raw) <> ''),
                        list(DISTINCT period_raw) FILTER (WHERE trim(period_raw) <> ''),
                        list(DISTINCT unit_raw) FILTER (WHERE trim(unit_raw) <> '')
                 FROM stg",
            )
            .ctx("reading distinct texts")?;
        let batches: Vec<_> = stmt
            .query_arrow([])
            .ctx("reading distinct texts")?
            .collect();
        let mut lists = (Vec::new(), Vec::new(), Vec::new());
        if let Some(b) = batches.first() {
            lists = (
                string_list(b.column(0).as_ref()),
                string_list(b.column(1).as_ref()),
                string_list(b.column(2).as_ref()),
            );
        }
        lists
    };

    lap("distinct texts");
    // Indicators.
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE map_ind (ind_raw VARCHAR, code VARCHAR, ind_no SMALLINT,
            frequency VARCHAR, levels VARCHAR, nonneg BOOLEAN, err VARCHAR, reason VARCHAR,
            hint VARCHAR)",
    )
    .ctx("resolving indicators")?;
    let mut freqs: BTreeSet<Frequency> = BTreeSet::new();
    let mut levelsets: BTreeSet<String> = BTreeSet::new();
    {
        let mut app = conn.appender("map_ind").ctx("resolving indicators")?;
        for raw in &ind_raws {
            let resolved = cat.resolve_indicator(raw);
            let err = match resolved {
                Some(ind) if ind.aggregation == Aggregation::Ratio => Some((
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
                Some(_) => None,
                None => Some((
                    ErrorCode::UnknownIndicator,
                    format!("no indicator {raw:?} in the catalogue"),
                    super::columns::suggest_indicator(cat, raw),
                )),
            };
            let ok = resolved.filter(|_| err.is_none());
            let no = ok.and_then(|i| cat.indicators.iter().position(|x| x.code == i.code));
            let levels = ok.map(|i| levels_of(cat, &i.code));
            if let Some(i) = ok {
                freqs.insert(i.frequency);
                levelsets.insert(levels_of(cat, &i.code));
            }
            let (e, r, hnt) = split_err(err);
            app.append_row(params![
                raw,
                ok.map(|i| i.code.clone()),
                no.map(|n| n as i16),
                ok.map(|i| i.frequency.as_str()),
                levels,
                ok.map(|i| i.nonnegative),
                e,
                r,
                hnt
            ])
            .ctx("resolving indicators")?;
        }
    }

    // Periods, for each reporting frequency present.
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE map_period (period_raw VARCHAR, frequency VARCHAR,
            period VARCHAR, pid INTEGER, prev VARCHAR, prev_pid INTEGER, year SMALLINT,
            era VARCHAR, err VARCHAR, reason VARCHAR, hint VARCHAR)",
    )
    .ctx("resolving periods")?;
    let mut eras: BTreeSet<Era> = BTreeSet::new();
    {
        let mut app = conn.appender("map_period").ctx("resolving periods")?;
        for raw in &per_raws {
            for &freq in &freqs {
                let res = resolve_period(raw, freq, today);
                if let Ok(p) = &res {
                    eras.insert(Era::of_period(p));
                }
                let (period, pid, prev, prev_pid, year, era, err) = match res {
                    Ok(p) => (
                        Some(p.id()),
                        Some(period_no(&p)),
                        Some(p.previous().id()),
                        Some(period_no(&p.previous())),
                        Some(p.year() as i16),
                        Some(Era::of_period(&p).as_str()),
                        None,
                    ),
                    Err(e) => (None, None, None, None, None, None, Some(e)),
                };
                let (e, r, hnt) = split_err(err);
                app.append_row(params![
                    raw,
                    freq.as_str(),
                    period,
                    pid,
                    prev,
                    prev_pid,
                    year,
                    era,
                    e,
                    r,
                    hnt
                ])
                .ctx("resolving periods")?;
            }
        }
    }

    // Units, for each structure and set of reporting levels present.
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE map_unit (unit_raw VARCHAR, era VARCHAR, levels VARCHAR,
            uid INTEGER, err VARCHAR, reason VARCHAR, hint VARCHAR)",
    )
    .ctx("resolving units")?;
    {
        let mut app = conn.appender("map_unit").ctx("resolving units")?;
        for raw in &unit_raws {
            for &era in &eras {
                for levels_s in &levelsets {
                    let levels: Vec<Level> = levels_s.split(',').filter_map(Level::parse).collect();
                    let (uid, err) = match resolve_unit(h, era, &levels, raw) {
                        Ok(u) => (Some(u), None),
                        Err(e) => (None, Some(e)),
                    };
                    let (e, r, hnt) = split_err(err);
                    app.append_row(params![raw, era.as_str(), levels_s, uid, e, r, hnt])
                        .ctx("resolving units")?;
                }
            }
        }
    }

    lap("maps");
    let (parse, dec) = match locale {
        Locale::Vi => ("vn_parse_vi(s.value_raw)", "."),
        Locale::En => ("vn_parse_en(s.value_raw)", ","),
    };
    conn.execute_batch(&format!(
        r#"
        CREATE OR REPLACE TEMP MACRO vn_clean(x) AS
            replace(replace(replace(replace(trim(x), ' ', ''), chr(160), ''), chr(8239), ''),
                    chr(8722), '-');
        CREATE OR REPLACE TEMP MACRO vn_parse_vi(x) AS CASE
            WHEN NOT contains(vn_clean(x), '.')
                THEN TRY_CAST(replace(vn_clean(x), ',', '.') AS DOUBLE)
            WHEN regexp_full_match(vn_clean(x), '[+-]?[0-9]{{1,3}}(\.[0-9]{{3}})+(,[0-9]+)?')
                THEN TRY_CAST(replace(replace(vn_clean(x), '.', ''), ',', '.') AS DOUBLE)
            END;
        CREATE OR REPLACE TEMP MACRO vn_parse_en(x) AS CASE
            WHEN NOT contains(vn_clean(x), ',') THEN TRY_CAST(vn_clean(x) AS DOUBLE)
            WHEN regexp_full_match(vn_clean(x), '[+-]?[0-9]{{1,3}}(,[0-9]{{3}})+(\.[0-9]+)?')
                THEN TRY_CAST(replace(vn_clean(x), ',', '') AS DOUBLE)
            END;
        CREATE OR REPLACE TEMP VIEW resolving AS
        SELECT s.row_no, s.col_no, s.field, s.unit_raw, s.ind_raw, s.period_raw, s.value_raw,
               coalesce(s.disagg, '') AS disagg,
               m.code AS indicator, m.ind_no, m.nonneg, m.err AS ind_err,
               m.reason AS ind_reason, m.hint AS ind_hint,
               p.period, p.pid, p.prev, p.prev_pid, p.year, p.err AS per_err,
               p.reason AS per_reason, p.hint AS per_hint,
               u.uid, u.err AS unit_err, u.reason AS unit_reason, u.hint AS unit_hint,
               -- Plain numbers (no '.') take the fast path; the rest are cleaned and checked.
               coalesce(s.value_num, CASE WHEN NOT contains(s.value_raw, '.')
                   THEN coalesce(TRY_CAST(replace(s.value_raw, ',', '{dec}') AS DOUBLE), {parse})
                   ELSE {parse} END) AS v
        FROM stg s
        LEFT JOIN map_ind m ON m.ind_raw = s.ind_raw
        LEFT JOIN map_period p ON p.period_raw = s.period_raw AND p.frequency = m.frequency
        LEFT JOIN map_unit u ON u.unit_raw = s.unit_raw AND u.era = p.era
            AND u.levels = m.levels;
        -- Compact: ids instead of texts; every problem leaves an id or the value missing.
        CREATE OR REPLACE TEMP TABLE resolved AS
        SELECT row_no, col_no, disagg, ind_no, nonneg, pid, prev_pid, year, uid,
               CASE WHEN isfinite(v) THEN v END AS value,
               (ind_no::BIGINT << 40) | (pid::BIGINT << 22) | uid::BIGINT AS key,
               (ind_no::BIGINT << 40) | (prev_pid::BIGINT << 22) | uid::BIGINT AS prev_key,
               ind_no IS NULL OR pid IS NULL OR uid IS NULL OR NOT isfinite(v) OR v IS NULL
                   OR (nonneg AND v < 0) AS bad
        FROM resolving;
        "#
    ))
    .ctx("resolving values")?;

    lap("resolved");
    // Problems and duplicate keys, in one pass.
    let (bad, keyed, distinct_keys, disagg_dups): (i64, i64, i64, i64) = conn
        .query_row(
            "SELECT count(*) FILTER (WHERE bad),
                    count(*) FILTER (WHERE NOT bad AND disagg = ''),
                    count(DISTINCT key) FILTER (WHERE NOT bad AND disagg = ''),
                    (SELECT count(*) - count(DISTINCT (key, disagg))
                     FROM resolved WHERE NOT bad AND disagg <> '')
             FROM resolved",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .ctx("counting problems")?;
    let total = bad + (keyed - distinct_keys) + disagg_dups;
    lap("counted");
    let mut out = Resolution::default();
    if total > 0 {
        out.errors = list_errors(conn, roles, locale)?;
        out.errors_total = (total as u64).max(out.errors.len() as u64);
        return Ok(out);
    }

    out.values = conn
        .query_row("SELECT count(*) FROM resolved", [], |r| r.get::<_, i64>(0))
        .ctx("counting values")? as u64;
    // Texts back for the rest of the pipeline: small joins on ids.
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE ids_ind AS
             SELECT DISTINCT ind_no, code AS indicator FROM map_ind WHERE ind_no IS NOT NULL;
         CREATE OR REPLACE TEMP TABLE ids_period AS
             SELECT DISTINCT pid, period, prev FROM map_period WHERE pid IS NOT NULL;",
    )
    .ctx("naming ids")?;
    out.indicators = distinct(
        conn,
        "SELECT DISTINCT i.indicator FROM (SELECT DISTINCT ind_no FROM resolved) r
         JOIN ids_ind i USING (ind_no) ORDER BY 1",
    )?;
    out.periods = distinct(
        conn,
        "SELECT DISTINCT p.period FROM (SELECT DISTINCT pid FROM resolved) r
         JOIN ids_period p USING (pid) ORDER BY 1",
    )?;
    lap("listed");
    let (warnings, wtotal) = outliers(conn)?;
    lap("outliers");
    out.warnings = warnings;
    out.warnings_total = wtotal;
    Ok(out)
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

/// The strings of a list column (first row), whatever Arrow layout DuckDB chose.
fn string_list(a: &dyn duckdb::arrow::array::Array) -> Vec<String> {
    use duckdb::arrow::array::{Array, AsArray};
    use duckdb::arrow::datatypes::DataType;
    let values = match a.data_type() {
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            if l.is_empty() || l.is_null(0) {
                return Vec::new();
            }
            l.value(0)
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            if l.is_empty() || l.is_null(0) {
                return Vec::new();
            }
            l.value(0)
        }
        _ => return Vec::new(),
    };
    let get = |i: usize| -> Option<String> {
        if values.is_null(i) {
            return None;
        }
        match values.data_type() {
            DataType::Utf8 => Some(values.as_string::<i32>().value(i).to_owned()),
            DataType::LargeUtf8 => Some(values.as_string::<i64>().value(i).to_owned()),
            DataType::Utf8View => Some(values.as_string_view().value(i).to_owned()),
            _ => None,
        }
    };
    (0..values.len()).filter_map(get).collect()
}

fn distinct(conn: &Connection, sql: &str) -> Result<Vec<String>, IngestError> {
    let mut stmt = conn.prepare(sql).ctx("reading distinct values")?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .ctx("reading distinct values")?;
    Ok(rows
        .collect::<Result<_, _>>()
        .ctx("reading distinct values")?)
}

type Problem = Option<(ErrorCode, String, String)>;

fn split_err(err: Problem) -> (Option<String>, Option<String>, Option<String>) {
    match err {
        Some((code, reason, hint)) => (Some(code_str(code)), Some(reason), Some(hint)),
        None => (None, None, None),
    }
}

fn code_str(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn code_from(s: &str) -> ErrorCode {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).unwrap_or(ErrorCode::BadFile)
}

/// Levels at which an indicator is uploaded, as "province,nation".
fn levels_of(cat: &Catalogue, code: &str) -> String {
    let levels: BTreeSet<Level> = cat.regimes_of(code).map(|r| r.level).collect();
    levels
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// A period text for an indicator of frequency `freq`; a date means the period containing it.
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

const PROBLEMS: &str = "
    coalesce(trim(unit_raw), '') = '' OR coalesce(trim(ind_raw), '') = ''
    OR coalesce(trim(period_raw), '') = '' OR coalesce(trim(value_raw), '') = ''
    OR ind_err IS NOT NULL OR per_err IS NOT NULL OR unit_err IS NOT NULL
    OR value IS NULL OR (nonneg AND value < 0)
    OR row_no > first_row OR (row_no = first_row AND col_no > first_col)";

/// The listed errors for rows matching `problems`, each row yielding one error per problem.
fn list_errors(
    conn: &Connection,
    roles: &RoleColumns,
    locale: Locale,
) -> Result<Vec<RowError>, IngestError> {
    // The slow path, taken only when something is wrong: all texts again, and where each
    // duplicate key first appeared.
    let sql = format!(
        "WITH r AS (
             SELECT *, CASE WHEN isfinite(v) THEN v END AS value,
                    CASE WHEN indicator IS NOT NULL AND uid IS NOT NULL AND period IS NOT NULL
                         THEN min(row_no) OVER (PARTITION BY indicator, uid, period, disagg)
                    END AS first_row,
                    CASE WHEN indicator IS NOT NULL AND uid IS NOT NULL AND period IS NOT NULL
                         THEN min(col_no) OVER (PARTITION BY indicator, uid, period, disagg, row_no)
                    END AS first_col
             FROM resolving)
         SELECT row_no, col_no, field, unit_raw, ind_raw, period_raw, value_raw,
                ind_err, ind_reason, ind_hint, per_err, per_reason, per_hint,
                unit_err, unit_reason, unit_hint, value, nonneg, first_row, first_col, indicator
         FROM r WHERE {PROBLEMS} ORDER BY row_no, col_no LIMIT {}",
        MAX_LISTED + 1
    );
    let mut stmt = conn.prepare(&sql).ctx("listing errors")?;
    let mut rows = stmt.query([]).ctx("listing errors")?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().ctx("listing errors")? {
        let row_no: i64 = r.get(0).ctx("listing errors")?;
        let col_no: Option<i32> = r.get(1).ctx("listing errors")?;
        let field: Option<String> = r.get(2).ctx("listing errors")?;
        let texts: Vec<Option<String>> = (3..=6)
            .map(|i| r.get::<_, Option<String>>(i))
            .collect::<Result<_, _>>()
            .ctx("listing errors")?;
        let errs: Vec<Option<String>> = (7..=15)
            .map(|i| r.get::<_, Option<String>>(i))
            .collect::<Result<_, _>>()
            .ctx("listing errors")?;
        let value: Option<f64> = r.get(16).ctx("listing errors")?;
        let nonneg: Option<bool> = r.get(17).ctx("listing errors")?;
        let first_row: Option<i64> = r.get(18).ctx("listing errors")?;
        let first_col: Option<i32> = r.get(19).ctx("listing errors")?;
        let indicator: Option<String> = r.get(20).ctx("listing errors")?;
        let [unit_raw, ind_raw, period_raw, value_raw] =
            [&texts[0], &texts[1], &texts[2], &texts[3]];

        let value_loc = (col_no.map(|c| column_letter(c as usize)), field.clone());
        let loc = |role: &Option<(usize, String)>, fallback: &str| match role {
            Some((i, h)) => (Some(column_letter(*i)), Some(h.clone())),
            None => (None, Some(fallback.to_owned())),
        };
        let mut push = |(column, field): (Option<String>, Option<String>),
                        value: &Option<String>,
                        code: ErrorCode,
                        reason: String,
                        hint: String| {
            out.push(RowError {
                row: Some(row_no as u64),
                column,
                field,
                value: value.clone(),
                code,
                reason,
                hint,
            });
        };
        let blank = |t: &Option<String>| t.as_deref().is_none_or(|s| s.trim().is_empty());
        // Ordered so a row's first problem explains the later ones it causes.
        if blank(unit_raw) {
            push(
                loc(&roles.unit, "unit"),
                unit_raw,
                ErrorCode::EmptyCell,
                "the unit is empty".into(),
                "write the official code of the reporting unit".into(),
            );
        }
        if blank(ind_raw) {
            push(
                loc(&roles.indicator, "indicator"),
                ind_raw,
                ErrorCode::EmptyCell,
                "the indicator is empty".into(),
                "write an indicator code such as VM02".into(),
            );
        } else if let Some(code) = &errs[0] {
            push(
                loc(&roles.indicator, "indicator").or_value(&value_loc),
                ind_raw,
                code_from(code),
                errs[1].clone().unwrap_or_default(),
                errs[2].clone().unwrap_or_default(),
            );
        }
        if blank(period_raw) {
            push(
                loc(&roles.period, "period"),
                period_raw,
                ErrorCode::EmptyCell,
                "the period is empty".into(),
                "write the period, e.g. \"Tháng 7/2025\", or pass ?period= for the whole file"
                    .into(),
            );
        } else if let Some(code) = &errs[3] {
            push(
                loc(&roles.period, "period"),
                period_raw,
                code_from(code),
                errs[4].clone().unwrap_or_default(),
                errs[5].clone().unwrap_or_default(),
            );
        }
        if !blank(unit_raw)
            && let Some(code) = &errs[6]
        {
            push(
                loc(&roles.unit, "unit"),
                unit_raw,
                code_from(code),
                errs[7].clone().unwrap_or_default(),
                errs[8].clone().unwrap_or_default(),
            );
        }
        if blank(value_raw) {
            push(
                value_loc.clone(),
                value_raw,
                ErrorCode::EmptyCell,
                "the value is empty".into(),
                "write the figure; write 0 when nothing occurred".into(),
            );
        } else if value.is_none() {
            let text = value_raw.clone().unwrap_or_default();
            let reason = match parse_number(&text, locale) {
                Err(e) => e.to_string(),
                Ok(_) => format!("{text:?} is not a finite number"),
            };
            push(
                value_loc.clone(),
                value_raw,
                ErrorCode::NotANumber,
                reason,
                match locale {
                    Locale::Vi => "write numbers as 1.234.567,8 (vi-VN) or send locale=en".into(),
                    Locale::En => "write numbers as 1,234,567.8 (en) or send locale=vi".into(),
                },
            );
        } else if nonneg == Some(true) && value.is_some_and(|v| v < 0.0) {
            push(
                value_loc.clone(),
                value_raw,
                ErrorCode::NegativeValue,
                format!(
                    "{} cannot be negative",
                    indicator.as_deref().unwrap_or("this indicator")
                ),
                "check the sign; corrections are sent as the corrected figure, not a difference"
                    .into(),
            );
        }
        if let (Some(fr), Some(fc)) = (first_row, first_col)
            && (row_no > fr || col_no.unwrap_or(0) > fc)
        {
            push(
                value_loc.clone(),
                value_raw,
                ErrorCode::DuplicateRow,
                format!(
                    "the same indicator, unit and period already appear in row {fr}{}",
                    if fr == row_no {
                        format!(" (column {})", column_letter(fc as usize))
                    } else {
                        String::new()
                    }
                ),
                "keep one row per indicator, unit and period; delete the other".into(),
            );
        }
        if out.len() > MAX_LISTED {
            break;
        }
    }
    out.truncate(MAX_LISTED);
    Ok(out)
}

trait OrValue {
    fn or_value(self, v: &(Option<String>, Option<String>)) -> Self;
}

impl OrValue for (Option<String>, Option<String>) {
    /// Wide tables name the indicator in the value column's header.
    fn or_value(self, v: &(Option<String>, Option<String>)) -> Self {
        if self.0.is_none() { v.clone() } else { self }
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
             JOIN (SELECT DISTINCT prev AS period, prev_pid AS pid
                   FROM map_period WHERE pid IS NOT NULL) p
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
