//! Reading an upload into the staging table `stg`: one row per value with the raw texts of its
//! unit, indicator, period and value, and the row (and column) it came from. CSV is read by
//! DuckDB's parallel CSV reader straight from the spooled file; Excel is streamed cell by cell
//! with calamine; JSON is streamed record by record with serde. Nothing is interpreted here —
//! `resolve` does that for all formats at once.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use calamine::{DataRef, Reader, Xlsx};
use duckdb::{Appender, Connection, params};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::catalogue::Catalogue;
use crate::store::DbContext;

use super::columns::{self, Layout, Role};
use super::report::{ErrorCode, RowError};
use super::resolve::RoleColumns;
use super::{Format, IngestError};

/// What staging found out about the upload.
#[derive(Debug, Default)]
pub struct Staged {
    /// "long", "wide" or "records".
    pub layout: String,
    pub rows_read: u64,
    pub empty_cells_skipped: u64,
    /// Problems found while reading (bad headers, unreadable file): the upload is rejected.
    pub errors: Vec<RowError>,
    /// A `locale` given inside a JSON body.
    pub locale: Option<String>,
    /// A default `period` given inside a JSON body.
    pub period: Option<String>,
    /// A default `unit` given inside a JSON body.
    pub unit: Option<String>,
    /// Where the unit, period and indicator columns are (tables).
    pub roles: RoleColumns,
}

fn roles_of(layout: &Layout) -> RoleColumns {
    let at = |role: &Role| {
        layout
            .position(role)
            .map(|i| (i, layout.headers[i].clone()))
    };
    RoleColumns {
        unit: at(&Role::Unit),
        period: at(&Role::Period),
        indicator: at(&Role::Indicator),
    }
}

/// Staged rows of Excel and JSON uploads (CSV uploads get a view of the same shape).
const STG: &str = "CREATE OR REPLACE TEMP TABLE stg_src (
    row_no BIGINT, col_no INTEGER, field VARCHAR, unit_raw VARCHAR, ind_raw VARCHAR,
    period_raw VARCHAR, value_raw VARCHAR, value_num DOUBLE, disagg VARCHAR)";

/// Reads the spooled body at `path` into `stg`.
pub fn stage(
    conn: &Connection,
    cat: &Catalogue,
    format: Format,
    path: &Path,
    sheet: Option<&str>,
) -> Result<Staged, IngestError> {
    match format {
        Format::Csv => stage_csv(conn, cat, path),
        Format::Xlsx => {
            conn.execute_batch(STG).ctx("creating the staging table")?;
            stage_xlsx(conn, cat, path, sheet)
        }
        Format::Json => {
            conn.execute_batch(STG).ctx("creating the staging table")?;
            stage_json(conn, path)
        }
    }
}

fn bad_file(reason: String, hint: &str) -> Staged {
    Staged {
        errors: vec![RowError::file(ErrorCode::BadFile, reason, hint.to_owned())],
        ..Staged::default()
    }
}

// ---------------------------------------------------------------------------------------- CSV

/// Delimiter and header of a CSV file, read from its first line.
struct CsvHead {
    delimiter: u8,
    headers: Vec<String>,
}

fn read_csv_head(path: &Path) -> Result<Result<CsvHead, String>, IngestError> {
    let mut f = File::open(path).map_err(IngestError::Spool)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0;
    while n < buf.len() {
        let got = f.read(&mut buf[n..]).map_err(IngestError::Spool)?;
        if got == 0 {
            break;
        }
        n += got;
    }
    buf.truncate(n);
    let body = buf.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(&buf);
    let text = match std::str::from_utf8(body) {
        Ok(t) => t.to_owned(),
        // The 1 MiB cut may fall inside a character; only the first line matters.
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&body[..e.valid_up_to()]).into_owned()
        }
        Err(e) => {
            return Ok(Err(format!(
                "the file is not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            )));
        }
    };
    let first = text.lines().next().unwrap_or("");
    if first.trim().is_empty() {
        return Ok(Err("the file is empty or its first line is blank".into()));
    }
    // The delimiter is the candidate that splits the header into the most fields: Vietnamese
    // CSVs often use ';' because ',' is the decimal separator.
    let delimiter = [b';', b',', b'\t', b'|']
        .into_iter()
        .max_by_key(|&d| header_fields(first, d).len())
        .unwrap_or(b',');
    Ok(Ok(CsvHead {
        delimiter,
        headers: header_fields(first, delimiter),
    }))
}

fn header_fields(line: &str, delimiter: u8) -> Vec<String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(line.as_bytes());
    rdr.records()
        .next()
        .and_then(Result::ok)
        .map(|r| r.iter().map(|s| crate::text::nfc(s.trim())).collect())
        .unwrap_or_default()
}

fn stage_csv(conn: &Connection, cat: &Catalogue, path: &Path) -> Result<Staged, IngestError> {
    // Excel's "Unicode text" is UTF-16LE; DuckDB and the scanners below read UTF-8.
    let transcoded = transcode_utf16(path)?;
    let path = transcoded.as_ref().map_or(path, |t| t.path());
    let head = match read_csv_head(path)? {
        Ok(h) => h,
        Err(reason) => {
            return Ok(bad_file(
                reason,
                "save the sheet as \"CSV UTF-8 (Comma delimited)\" with a header row",
            ));
        }
    };
    let layout = match columns::detect(&head.headers, cat) {
        Ok(l) => l,
        Err(errors) => {
            return Ok(Staged {
                errors,
                ..Staged::default()
            });
        }
    };
    let cols = head.headers.len();
    let columns: Vec<String> = (0..cols).map(|i| format!("'c{i}': 'VARCHAR'")).collect();
    let sql = format!(
        "CREATE OR REPLACE TEMP TABLE stg_raw AS
         SELECT * FROM read_csv(?, delim = ?, header = false, skip = 1, quote = '\"',
             escape = '\"', columns = {{{}}}, null_padding = true, auto_detect = false,
             strict_mode = true)",
        columns.join(", ")
    );
    let delim = (head.delimiter as char).to_string();
    if let Err(e) = conn.execute(&sql, params![path.to_string_lossy(), delim]) {
        return Ok(bad_file(
            format!("the CSV could not be read: {}", first_line(&e.to_string())),
            "check that every row has the header's number of fields and quotes are closed",
        ));
    }
    let (rows_read, base): (i64, Option<i64>) = conn
        .query_row("SELECT count(*), min(rowid) FROM stg_raw", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .ctx("counting CSV rows")?;
    // Rows are numbered as a spreadsheet shows them. DuckDB keeps the file's order (rowids
    // follow it) but skips blank lines, so their positions come from a scan of the file.
    let base = base.unwrap_or(0);
    let gaps = blank_line_gaps(path)?;
    let empty = if gaps.is_empty() {
        unpivot(conn, &layout, "stg_raw", &format!("rowid - {base} + 2"))?
    } else {
        conn.execute_batch("CREATE OR REPLACE TEMP TABLE csv_gaps (k BIGINT, shift BIGINT)")
            .ctx("numbering CSV rows")?;
        {
            let mut app = conn.appender("csv_gaps").ctx("numbering CSV rows")?;
            for (k, shift) in &gaps {
                app.append_row(params![*k as i64, *shift as i64])
                    .ctx("numbering CSV rows")?;
            }
        }
        let table = format!(
            "(SELECT r.*, r.rowid - {base} + 2 + coalesce(g.shift, 0) AS row_no
              FROM stg_raw r ASOF LEFT JOIN csv_gaps g ON r.rowid - {base} >= g.k)"
        );
        unpivot(conn, &layout, &table, "row_no")?
    };
    Ok(Staged {
        layout: if layout.is_long() { "long" } else { "wide" }.into(),
        rows_read: rows_read as u64,
        empty_cells_skipped: empty,
        roles: roles_of(&layout),
        ..Staged::default()
    })
}

/// For a UTF-16LE file (byte-order mark FF FE), a UTF-8 copy; `None` for other files.
fn transcode_utf16(path: &Path) -> Result<Option<tempfile::NamedTempFile>, IngestError> {
    let mut f = BufReader::new(File::open(path).map_err(IngestError::Spool)?);
    let mut bom = [0u8; 2];
    if f.read_exact(&mut bom).is_err() || bom != [0xFF, 0xFE] {
        return Ok(None);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let out = tempfile::NamedTempFile::new_in(dir).map_err(IngestError::Spool)?;
    let mut w = std::io::BufWriter::new(out.reopen().map_err(IngestError::Spool)?);
    let units = std::iter::from_fn(|| {
        let mut b = [0u8; 2];
        f.read_exact(&mut b).ok().map(|()| u16::from_le_bytes(b))
    });
    let mut buf = [0u8; 4];
    for c in char::decode_utf16(units) {
        let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
        w.write_all(c.encode_utf8(&mut buf).as_bytes())
            .map_err(IngestError::Spool)?;
    }
    w.flush().map_err(IngestError::Spool)?;
    Ok(Some(out))
}

/// Where blank lines sit among the data records of a CSV file: (index of the first record
/// after them, blank lines so far). A quote-aware scan, as a newline inside quotes is data.
fn blank_line_gaps(path: &Path) -> Result<Vec<(u64, u64)>, IngestError> {
    let mut f = BufReader::with_capacity(1 << 20, File::open(path).map_err(IngestError::Spool)?);
    let mut buf = vec![0u8; 1 << 20];
    let mut gaps = Vec::new();
    let (mut in_quotes, mut len, mut line, mut record, mut blanks) =
        (false, 0u64, 0u64, 0u64, 0u64);
    loop {
        let n = f.read(&mut buf).map_err(IngestError::Spool)?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            match b {
                b'"' => {
                    in_quotes = !in_quotes;
                    len += 1;
                }
                b'\n' if !in_quotes => {
                    if line > 0 {
                        if len == 0 {
                            blanks += 1;
                            match gaps.last_mut() {
                                Some((k, s)) if *k == record => *s = blanks,
                                _ => gaps.push((record, blanks)),
                            }
                        } else {
                            record += 1;
                        }
                    }
                    line += 1;
                    len = 0;
                }
                b'\r' if !in_quotes => {}
                _ => len += 1,
            }
        }
    }
    Ok(gaps)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Moves a raw table (`c0`, `c1`, ... VARCHAR columns) into `stg` according to `layout`;
/// returns how many empty cells of a wide table were skipped.
/// Makes `stg_src`, a view of a raw table (`c0`, `c1`, ... VARCHAR columns) with one row per
/// value according to `layout`; returns how many empty cells of a wide table it skips.
fn unpivot(
    conn: &Connection,
    layout: &Layout,
    table: &str,
    row_expr: &str,
) -> Result<u64, IngestError> {
    let col = |r: &Role| layout.position(r).map(|i| format!("c{i}"));
    let unit = col(&Role::Unit).unwrap_or_else(|| "NULL".into());
    let period = col(&Role::Period).unwrap_or_else(|| "NULL".into());
    let disagg = col(&Role::Disagg).map_or_else(|| "''".into(), |c| format!("coalesce({c}, '')"));
    // Headers and codes are quoted as SQL literals: they come from the file.
    let lit = |t: &str| format!("'{}'", t.replace('\'', "''"));
    let select = if let (Some(ind), Some(val)) = (col(&Role::Indicator), col(&Role::Value)) {
        let vi = layout.position(&Role::Value).unwrap_or(0);
        format!(
            "SELECT {row_expr} AS row_no, {vi} AS col_no, {} AS field, {unit} AS unit_raw,
                    {ind} AS ind_raw, {period} AS period_raw, {val} AS value_raw,
                    NULL::DOUBLE AS value_num, {disagg} AS disagg
             FROM {table}",
            lit(&layout.headers[vi])
        )
    } else {
        layout
            .indicator_columns()
            .iter()
            .map(|(i, code)| {
                let c = format!("c{i}");
                format!(
                    "SELECT {row_expr} AS row_no, {i} AS col_no, {} AS field, {unit} AS unit_raw,
                            {} AS ind_raw, {period} AS period_raw, {c} AS value_raw,
                            NULL::DOUBLE AS value_num, {disagg} AS disagg
                     FROM {table} WHERE {c} IS NOT NULL AND trim({c}) <> ''",
                    lit(&layout.headers[*i]),
                    lit(code)
                )
            })
            .collect::<Vec<_>>()
            .join("\nUNION ALL\n")
    };
    conn.execute_batch(&format!("CREATE OR REPLACE TEMP VIEW stg_src AS {select}"))
        .ctx("staging a table")?;
    if layout.is_long() {
        return Ok(0);
    }
    let empties = layout
        .indicator_columns()
        .iter()
        .map(|(i, _)| format!("count(*) FILTER (WHERE c{i} IS NULL OR trim(c{i}) = '')"))
        .collect::<Vec<_>>()
        .join(" + ");
    let n: i64 = conn
        .query_row(&format!("SELECT {empties} FROM {table}"), [], |r| r.get(0))
        .ctx("counting empty cells")?;
    Ok(n as u64)
}

// -------------------------------------------------------------------------------------- Excel

/// A cell as staged: its text and, for numeric cells, the number.
#[derive(Debug, Clone, Default)]
struct XCell {
    text: String,
    num: Option<f64>,
}

fn xcell(v: &DataRef<'_>) -> Option<XCell> {
    Some(match v {
        DataRef::Empty => return None,
        DataRef::Int(i) => XCell {
            text: i.to_string(),
            num: Some(*i as f64),
        },
        DataRef::Float(f) => XCell {
            // Whole numbers print without ".0" so codes like 79 read as "79".
            text: if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", *f as i64)
            } else {
                f.to_string()
            },
            num: Some(*f),
        },
        DataRef::String(s) => XCell {
            text: crate::text::nfc(s),
            num: None,
        },
        DataRef::SharedString(s) => XCell {
            text: crate::text::nfc(s),
            num: None,
        },
        DataRef::Bool(b) => XCell {
            text: b.to_string(),
            num: None,
        },
        DataRef::DateTime(dt) => XCell {
            text: excel_serial_to_vi_date(dt.as_f64()),
            num: None,
        },
        DataRef::DateTimeIso(s) => XCell {
            text: iso_to_vi_date(s),
            num: None,
        },
        DataRef::DurationIso(s) => XCell {
            text: s.clone(),
            num: None,
        },
        DataRef::Error(e) => XCell {
            text: format!("#{e:?}"),
            num: None,
        },
    })
}

/// Excel's 1900 date system: serial 1 is 01/01/1900, with the phantom 29/02/1900.
fn excel_serial_to_vi_date(serial: f64) -> String {
    let days = serial.floor() as i64;
    // Days from 1899-12-30 (serial 0 after the leap-year bug for dates after 28/02/1900).
    let (y, m, d) = civil_from_days(days - 25_569);
    format!("{d:02}/{m:02}/{y:04}")
}

fn iso_to_vi_date(s: &str) -> String {
    let date = s.get(..10).unwrap_or(s);
    let parts: Vec<&str> = date.split('-').collect();
    if parts.len() == 3 {
        format!("{}/{}/{}", parts[2], parts[1], parts[0])
    } else {
        s.to_owned()
    }
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Rows above the header that a sheet may have (titles, the agency's name, the period).
const MAX_TITLE_ROWS: u32 = 30;

fn stage_xlsx(
    conn: &Connection,
    cat: &Catalogue,
    path: &Path,
    sheet: Option<&str>,
) -> Result<Staged, IngestError> {
    let file = File::open(path).map_err(IngestError::Spool)?;
    let mut book: Xlsx<_> = match Xlsx::new(BufReader::new(file)) {
        Ok(b) => b,
        Err(e) => {
            return Ok(bad_file(
                format!("the file is not a readable .xlsx workbook: {e}"),
                "save it from Excel as \"Excel Workbook (*.xlsx)\"; .xls files are not accepted",
            ));
        }
    };
    let names = book.sheet_names();
    let name = match sheet {
        Some(s) => match names.iter().find(|n| n.as_str() == s) {
            Some(n) => n.clone(),
            None => {
                return Ok(bad_file(
                    format!(
                        "the workbook has no sheet {s:?} (it has {})",
                        names.join(", ")
                    ),
                    "pass ?sheet= with one of those names",
                ));
            }
        },
        None => match names.first() {
            Some(n) => n.clone(),
            None => return Ok(bad_file("the workbook has no sheets".into(), "")),
        },
    };
    let mut reader = match book.worksheet_cells_reader(&name) {
        Ok(r) => r,
        Err(e) => return Ok(bad_file(format!("cannot read sheet {name:?}: {e}"), "")),
    };

    let mut app = conn.appender("stg_src").ctx("staging an Excel sheet")?;
    let mut pending: Vec<(u32, Vec<Option<XCell>>)> = Vec::new();
    let mut layout: Option<(Layout, u32)> = None;
    let mut best_errors: Option<(usize, u32, Vec<RowError>)> = None;
    let mut staged = Staged::default();
    let mut row: Option<(u32, Vec<Option<XCell>>)> = None;

    loop {
        let next = match reader.next_cell() {
            Ok(c) => c,
            Err(e) => {
                drop(app);
                return Ok(bad_file(format!("sheet {name:?} is damaged: {e}"), ""));
            }
        };
        let pos = next.as_ref().map(|c| c.get_position());
        // A finished row: either the sheet ended or the next cell is on a later row.
        let finished = match (&row, pos) {
            (Some((r, _)), Some((pr, _))) => pr != *r,
            (Some(_), None) => true,
            _ => false,
        };
        if finished && let Some((r, cells)) = row.take() {
            match &layout {
                Some((l, _)) => {
                    staged.rows_read += 1;
                    staged.empty_cells_skipped += append_sheet_row(&mut app, l, r + 1, &cells)?;
                }
                None => {
                    let headers: Vec<String> = cells
                        .iter()
                        .map(|c| {
                            c.as_ref()
                                .map(|c| c.text.trim().to_owned())
                                .unwrap_or_default()
                        })
                        .collect();
                    match columns::detect(&headers, cat) {
                        Ok(l) => layout = Some((l, r)),
                        Err(mut errs) => {
                            // Remember the most header-like row, to explain why none fit.
                            let known = headers.iter().filter(|h| !h.is_empty()).count()
                                - errs.iter().filter(|e| e.column.is_some()).count();
                            for e in &mut errs {
                                if e.row.is_some() {
                                    e.row = Some(u64::from(r) + 1);
                                }
                            }
                            if best_errors.as_ref().is_none_or(|(k, _, _)| known > *k) {
                                best_errors = Some((known, r, errs));
                            }
                            pending.push((r, cells));
                            if r >= MAX_TITLE_ROWS {
                                break;
                            }
                        }
                    }
                }
            }
        }
        let Some(cell) = next else { break };
        let (r, c) = cell.get_position();
        let entry = row.get_or_insert_with(|| (r, Vec::new()));
        let c = c as usize;
        if entry.1.len() <= c {
            entry.1.resize(c + 1, None);
        }
        entry.1[c] = xcell(cell.get_value());
    }
    drop(app);
    match layout {
        Some((l, _)) => {
            staged.layout = if l.is_long() { "long" } else { "wide" }.into();
            staged.roles = roles_of(&l);
            Ok(staged)
        }
        None => {
            let mut errors = best_errors.map(|(_, _, e)| e).unwrap_or_default();
            errors.push(RowError::file(
                ErrorCode::MissingColumn,
                format!("no header row found in the first {MAX_TITLE_ROWS} rows of sheet {name:?}"),
                "the header row needs a unit column (\"Mã đơn vị\") and either \"Chỉ tiêu\" + \
                 \"Giá trị\" or columns named by indicator"
                    .into(),
            ));
            Ok(Staged {
                errors,
                ..Staged::default()
            })
        }
    }
}

fn append_sheet_row(
    app: &mut Appender<'_>,
    layout: &Layout,
    row_no: u32,
    cells: &[Option<XCell>],
) -> Result<u64, IngestError> {
    if cells
        .iter()
        .all(|c| c.as_ref().is_none_or(|c| c.text.trim().is_empty()))
    {
        return Ok(0);
    }
    let get = |role: &Role| -> Option<&XCell> {
        layout
            .position(role)
            .and_then(|i| cells.get(i))
            .and_then(Option::as_ref)
    };
    let text = |role: &Role| get(role).map(|c| c.text.clone());
    let unit = text(&Role::Unit);
    let period = text(&Role::Period);
    let disagg = text(&Role::Disagg).unwrap_or_default();
    if layout.is_long() {
        let vi = layout.position(&Role::Value).unwrap_or(0);
        let v = get(&Role::Value);
        app.append_row(params![
            i64::from(row_no),
            vi as i32,
            layout.headers[vi],
            unit,
            text(&Role::Indicator),
            period,
            v.map(|c| c.text.clone()),
            v.and_then(|c| c.num),
            disagg
        ])
        .ctx("staging an Excel row")?;
        return Ok(0);
    }
    let mut empty = 0;
    for (i, code) in layout.indicator_columns() {
        match cells.get(i).and_then(Option::as_ref) {
            Some(c) if !c.text.trim().is_empty() => {
                app.append_row(params![
                    i64::from(row_no),
                    i as i32,
                    layout.headers[i],
                    unit,
                    code,
                    period,
                    c.text,
                    c.num,
                    disagg
                ])
                .ctx("staging an Excel row")?;
            }
            _ => empty += 1,
        }
    }
    Ok(empty)
}

// --------------------------------------------------------------------------------------- JSON

/// Streams `{"records": [...], "period": ..., "locale": ...}` or a bare array of records.
fn stage_json(conn: &Connection, path: &Path) -> Result<Staged, IngestError> {
    let file = File::open(path).map_err(IngestError::Spool)?;
    let mut app = conn.appender("stg_src").ctx("staging JSON records")?;
    let mut sink = JsonSink {
        app: &mut app,
        n: 0,
        err: None,
        staged: Staged {
            layout: "records".into(),
            ..Staged::default()
        },
    };
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
    let result = Top(&mut sink).deserialize(&mut de).and_then(|()| de.end());
    if let Some(e) = sink.err.take() {
        return Err(e);
    }
    let mut staged = std::mem::take(&mut sink.staged);
    staged.rows_read = sink.n;
    drop(app);
    if let Err(e) = result {
        return Ok(Staged {
            errors: vec![RowError {
                row: (sink_records_hint(&e)).then_some(staged.rows_read + 1),
                column: None,
                field: None,
                value: None,
                code: ErrorCode::BadFile,
                reason: format!("the JSON is not valid: {e}"),
                hint: "send {\"records\": [{\"indicator\": \"VM02\", \"unit\": \"79\", \
                       \"period\": \"2025-07\", \"value\": 4123.5}]}"
                    .into(),
            }],
            ..Staged::default()
        });
    }
    Ok(staged)
}

fn sink_records_hint(e: &serde_json::Error) -> bool {
    matches!(e.classify(), serde_json::error::Category::Data)
}

struct JsonSink<'a, 'b> {
    app: &'a mut Appender<'b>,
    n: u64,
    err: Option<IngestError>,
    staged: Staged,
}

/// One JSON record; field names in English or Vietnamese without diacritics.
#[derive(serde::Deserialize)]
struct Record {
    #[serde(alias = "chi_tieu", alias = "ma_chi_tieu", alias = "indicator_code")]
    indicator: Option<serde_json::Value>,
    #[serde(alias = "don_vi", alias = "ma_don_vi", alias = "unit_code")]
    unit: Option<serde_json::Value>,
    #[serde(alias = "ky", alias = "ky_bao_cao")]
    period: Option<serde_json::Value>,
    #[serde(alias = "gia_tri")]
    value: Option<serde_json::Value>,
    #[serde(alias = "phan_to")]
    disagg: Option<serde_json::Value>,
}

fn scalar_text(v: &Option<serde_json::Value>) -> Option<String> {
    match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(crate::text::nfc(s)),
        Some(other) => Some(other.to_string()),
    }
}

impl JsonSink<'_, '_> {
    fn push(&mut self, r: Record) {
        if self.err.is_some() {
            return;
        }
        self.n += 1;
        let num = match &r.value {
            Some(serde_json::Value::Number(n)) => n.as_f64(),
            _ => None,
        };
        let res = self.app.append_row(params![
            self.n as i64,
            0,
            "value",
            scalar_text(&r.unit),
            scalar_text(&r.indicator),
            scalar_text(&r.period),
            scalar_text(&r.value),
            num,
            scalar_text(&r.disagg).unwrap_or_default()
        ]);
        if let Err(e) = res {
            self.err = Some(IngestError::Store(crate::store::StoreError::Db {
                context: "staging JSON records".into(),
                source: e,
            }));
        }
    }
}

struct Top<'s, 'a, 'b>(&'s mut JsonSink<'a, 'b>);
struct Records<'s, 'a, 'b>(&'s mut JsonSink<'a, 'b>);

impl<'de> DeserializeSeed<'de> for Top<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object with \"records\" or an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Records(self.0).visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut saw_records = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "records" | "ban_ghi" => {
                    saw_records = true;
                    map.next_value_seed(Records(&mut *self.0))?;
                }
                "locale" => self.0.staged.locale = map.next_value()?,
                "period" | "ky" => self.0.staged.period = map.next_value()?,
                "unit" | "don_vi" => self.0.staged.unit = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if saw_records {
            Ok(())
        } else {
            Err(de::Error::missing_field("records"))
        }
    }
}

impl<'de> DeserializeSeed<'de> for Records<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(r) = seq.next_element::<Record>()? {
            self.0.push(r);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::report::column_letter;
    use super::*;

    #[test]
    fn excel_serials_convert_to_vietnamese_dates() {
        assert_eq!(excel_serial_to_vi_date(45_869.0), "31/07/2025");
        assert_eq!(excel_serial_to_vi_date(45_658.5), "01/01/2025");
    }

    #[test]
    fn blank_lines_are_located_outside_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "a;b\n1;x\n\n\n3;\"two\n\nlines\"\r\n\r\n4;y\n").unwrap();
        // Records 0 (1;x), 1 (3;...), 2 (4;y); two blanks before record 1, one before 2.
        assert_eq!(blank_line_gaps(&p).unwrap(), vec![(1, 2), (2, 3)]);
    }

    #[test]
    fn column_letters_follow_spreadsheets() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
    }
}
