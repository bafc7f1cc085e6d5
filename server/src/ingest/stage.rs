//! Reading an upload: CSV (streamed with the `csv` crate), Excel (calamine's cell stream for
//! .xlsx; an .xls sheet, at most 65,536 rows, read whole) and
//! JSON (serde, record by record) become raw rows — one per value, with the texts of its unit,
//! indicator, period and value and the row and column it came from — pushed into a
//! [`RowSink`] as they are read, so memory does not grow with the file. A CSV of several
//! megabytes is read in two halves on two threads, split at a line start outside quotes that the
//! scan for blank lines finds. A CSV in UTF-16 or in the Vietnamese Windows code page (1258)
//! is copied into UTF-8 first. Nothing is interpreted here: `resolve` does that for all formats
//! alike.

use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::path::Path;

use calamine::{Data, DataRef, Reader, Xls, Xlsx};
use serde::Deserialize as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::catalogue::Catalogue;

use super::columns::{self, Layout, Role};
use super::report::{ErrorCode, RowError};
use super::resolve::RoleColumns;
use super::{Format, IngestError};

/// A value as read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RawValue<'r> {
    Empty,
    Text(&'r str),
    /// A typed number (Excel number cells, JSON numbers): no locale involved.
    Number(f64),
}

/// One value as read, before interpretation.
#[derive(Debug, Clone, Copy)]
pub struct RawRow<'r> {
    /// Row as a spreadsheet shows it (header = 1), or the JSON record number.
    pub row: u64,
    /// 0-based column of the value (0 for JSON).
    pub col: u32,
    pub unit: Option<&'r str>,
    pub indicator: Option<&'r str>,
    pub period: Option<&'r str>,
    pub value: RawValue<'r>,
    pub disagg: &'r str,
}

/// Where raw rows go.
pub trait RowSink {
    /// Called once the header of a table is recognised, before its first row.
    fn layout(&mut self, roles: &RoleColumns);
    fn push(&mut self, row: RawRow<'_>) -> Result<(), IngestError>;
}

/// What staging found out about the upload.
#[derive(Debug, Default)]
pub struct Staged {
    /// "long", "wide" or "records".
    pub layout: String,
    pub rows_read: u64,
    pub empty_cells_skipped: u64,
    /// Problems found while reading (bad headers, unreadable file): the upload is rejected.
    pub errors: Vec<RowError>,
    /// Where the unit, period and indicator columns are (tables).
    pub roles: RoleColumns,
    /// The text encoding the file was read in (CSV and JSON).
    pub encoding: Option<&'static str>,
}

/// Options a JSON body states about itself.
#[derive(Debug, Default, Clone)]
pub struct JsonMeta {
    pub locale: Option<String>,
    pub period: Option<String>,
    pub unit: Option<String>,
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
        headers: layout.headers.clone(),
    }
}

/// Reads the spooled body at `path` into `sink`.
pub fn stage(
    sink: &mut dyn RowSink,
    cat: &Catalogue,
    format: Format,
    path: &Path,
    sheet: Option<&str>,
) -> Result<Staged, IngestError> {
    match format {
        Format::Csv => stage_csv(sink, cat, path),
        Format::Xlsx | Format::Xls => stage_xlsx(sink, cat, path, sheet),
        Format::Json => stage_json(sink, path),
    }
}

fn bad_file(reason: String, hint: &str) -> Staged {
    Staged {
        errors: vec![RowError::file(ErrorCode::BadFile, reason, hint.to_owned())],
        ..Staged::default()
    }
}

/// Where a table's roles sit, worked out once from its layout rather than for every row.
struct TablePlan {
    unit: Option<usize>,
    period: Option<usize>,
    disagg: Option<usize>,
    /// The indicator column and the value column of a long table.
    long: Option<(usize, usize)>,
    /// (column, indicator code) of each indicator column of a wide table.
    wide: Vec<(usize, String)>,
}

impl TablePlan {
    fn of(layout: &Layout) -> TablePlan {
        TablePlan {
            unit: layout.position(&Role::Unit),
            period: layout.position(&Role::Period),
            disagg: layout.position(&Role::Disagg),
            long: layout
                .position(&Role::Indicator)
                .map(|i| (i, layout.position(&Role::Value).unwrap_or(0))),
            wide: layout.indicator_columns(),
        }
    }
}

/// Pushes the values of one table row (cells by column) according to `plan`; returns the
/// number of empty cells of a wide table, which mean "not reported".
fn push_table_row<'c>(
    sink: &mut dyn RowSink,
    plan: &TablePlan,
    row: u64,
    cell: impl Fn(usize) -> RawValue<'c>,
    text: impl Fn(usize) -> Option<&'c str>,
) -> Result<u64, IngestError> {
    let at = |i: Option<usize>| i.and_then(&text);
    let (unit, period) = (at(plan.unit), at(plan.period));
    let disagg = at(plan.disagg).unwrap_or("");
    if let Some((ii, vi)) = plan.long {
        sink.push(RawRow {
            row,
            col: vi as u32,
            unit,
            indicator: text(ii),
            period,
            value: cell(vi),
            disagg,
        })?;
        return Ok(0);
    }
    let mut empty = 0;
    for (i, code) in &plan.wide {
        match cell(*i) {
            RawValue::Empty => empty += 1,
            value => sink.push(RawRow {
                row,
                col: *i as u32,
                unit,
                indicator: Some(code),
                period,
                value,
                disagg,
            })?,
        }
    }
    Ok(empty)
}

// ---------------------------------------------------------------------------------------- CSV

/// Delimiter and header of a CSV file, read from its first line.
struct CsvHead {
    delimiter: u8,
    headers: Vec<String>,
    /// Where the header starts: after the byte-order mark, if any.
    start: u64,
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
    let start = (buf.len() - body.len()) as u64;
    let text = match std::str::from_utf8(body) {
        Ok(t) => t.to_owned(),
        // The 1 MiB cut may fall inside a character; only the first line matters.
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&body[..e.valid_up_to()]).into_owned()
        }
        Err(e) => {
            let before = &body[..e.valid_up_to()];
            let line = memchr::memchr_iter(b'\n', before).count() + 1;
            let column = before.len() - memchr::memrchr(b'\n', before).map_or(0, |i| i + 1) + 1;
            return Ok(Err(format!(
                "line {line}, character {column}: the text is neither UTF-8 nor Vietnamese \
                 Windows text (byte {} of the file)",
                start as usize + e.valid_up_to()
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
        start,
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

fn stage_csv(sink: &mut dyn RowSink, cat: &Catalogue, path: &Path) -> Result<Staged, IngestError> {
    stage_csv_on(sink, None, cat, path)
}

/// Reads a CSV upload into two sinks at once, one per half of its rows, on two threads (a
/// file too small to split goes to `first` alone). The halves' rows arrive in file order
/// within each sink; the caller merges them.
pub fn stage_csv_halves(
    first: &mut (dyn RowSink + Send),
    second: &mut (dyn RowSink + Send),
    cat: &Catalogue,
    path: &Path,
) -> Result<Staged, IngestError> {
    stage_csv_on(first, Some(second), cat, path)
}

/// Files smaller than this are read on one thread.
const SPLIT_FROM_BYTES: u64 = 4 << 20;

fn stage_csv_on(
    sink: &mut dyn RowSink,
    second: Option<&mut (dyn RowSink + Send)>,
    cat: &Catalogue,
    path: &Path,
) -> Result<Staged, IngestError> {
    let (transcoded, encoding) = transcode_csv(path)?;
    let path = transcoded.as_ref().map_or(path, |t| t.path());
    let mut staged = stage_utf8_csv(sink, second, cat, path)?;
    staged.encoding = Some(encoding);
    Ok(staged)
}

/// [`stage_csv_on`] once the file is UTF-8.
fn stage_utf8_csv(
    sink: &mut dyn RowSink,
    second: Option<&mut (dyn RowSink + Send)>,
    cat: &Catalogue,
    path: &Path,
) -> Result<Staged, IngestError> {
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
    sink.layout(&roles_of(&layout));
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    // Rows are numbered as a spreadsheet shows them: the reader skips blank lines, so their
    // positions come from a quote-aware scan of the file, which also finds where to split it.
    let scan = if size >= SPLIT_FROM_BYTES && second.is_some() {
        scan_lines_in_halves(path, head.delimiter, size)?
    } else {
        scan_lines(path, head.delimiter, None)?
    };
    let mut staged = Staged {
        layout: if layout.is_long() { "long" } else { "wide" }.into(),
        roles: roles_of(&layout),
        ..Staged::default()
    };
    let range = CsvRange {
        plan: TablePlan::of(&layout),
        delimiter: head.delimiter,
        width: head.headers.len(),
        gaps: scan.gaps,
        plain: !scan.quotes && !tests_read_with_the_csv_crate(),
    };
    let start = head.start;
    let counts = match (scan.split, second) {
        (Some((offset, record)), Some(second)) => {
            second.layout(&roles_of(&layout));
            let (a, b) = std::thread::scope(|s| {
                let range = &range;
                let later = s.spawn(move || range.read(second, path, offset, None, record));
                let first = range.read(sink, path, start, Some(offset), 0);
                let later = later.join().unwrap_or_else(|_| {
                    Err(IngestError::Spool(std::io::Error::other(
                        "the thread reading the second half of the file failed",
                    )))
                });
                (first, later)
            });
            // The first half's problems come first in the file.
            match (a?, b?) {
                (Err(e), _) | (Ok(_), Err(e)) => return Ok(e),
                (Ok(a), Ok(b)) => (a.0 + b.0, a.1 + b.1),
            }
        }
        _ => match range.read(sink, path, start, None, 0)? {
            Ok(c) => c,
            Err(e) => return Ok(e),
        },
    };
    staged.rows_read = counts.0;
    staged.empty_cells_skipped = counts.1;
    Ok(staged)
}

#[cfg(test)]
thread_local! {
    /// Set by a test on its thread: quote-free files are read with the `csv` crate too, to
    /// compare the two readers.
    static WITH_CSV_CRATE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
fn tests_read_with_the_csv_crate() -> bool {
    WITH_CSV_CRATE.with(std::cell::Cell::get)
}

#[cfg(not(test))]
fn tests_read_with_the_csv_crate() -> bool {
    false
}

/// What is needed to read a run of a CSV file's rows.
struct CsvRange {
    plan: TablePlan,
    delimiter: u8,
    width: usize,
    /// Blank lines, as (records before them, blank lines so far).
    gaps: Vec<(u64, u64)>,
    /// The file has no quote character: records are split where the CSV reader would split
    /// them, without it (see [`CsvRange::read_plain`]).
    plain: bool,
}

/// Spreadsheet row numbers of the records read, past the blank lines the reader skips.
struct RowNumbers<'g> {
    gaps: &'g [(u64, u64)],
    gap: usize,
    /// Data records so far (from the file's start).
    k: u64,
}

impl RowNumbers<'_> {
    fn next(&mut self) -> u64 {
        while self.gap < self.gaps.len() && self.gaps[self.gap].0 <= self.k {
            self.gap += 1;
        }
        let shift = if self.gap == 0 {
            0
        } else {
            self.gaps[self.gap - 1].1
        };
        let row = self.k + 2 + shift;
        self.k += 1;
        row
    }
}

/// Rows read and empty cells of a wide table skipped, record by record.
#[derive(Default)]
struct Tally {
    rows_read: u64,
    empty: u64,
}

impl Tally {
    /// Counts one record's outcome; a problem with the file is handed back.
    fn add(&mut self, step: Step) -> Option<Staged> {
        match step {
            Step::Pushed(e) => {
                self.rows_read += 1;
                self.empty += e;
                None
            }
            Step::Blank => None,
            Step::Bad(e) => Some(*e),
        }
    }
}

/// The bytes of `path` from `from` to `to` (or the end).
fn open_range(path: &Path, from: u64, to: Option<u64>) -> Result<std::io::Take<File>, IngestError> {
    let mut file = File::open(path).map_err(IngestError::Spool)?;
    file.seek(std::io::SeekFrom::Start(from))
        .map_err(IngestError::Spool)?;
    Ok(file.take(to.map_or(u64::MAX, |t| t - from)))
}

/// Where [`CsvRange::read_plain`] is in its run of records.
struct PlainRun<'g> {
    /// The next record is the header, to skip.
    header: bool,
    rows: RowNumbers<'g>,
    tally: Tally,
    /// The fields of the record at hand, reused from record to record.
    spans: Vec<(usize, usize)>,
}

/// What one record came to.
enum Step {
    /// Values pushed, with the number of empty cells of a wide table.
    Pushed(u64),
    /// A record of empty cells only.
    Blank,
    /// A problem with the file itself: the upload is rejected. Boxed: a step is handed back
    /// for every record, and a `Staged` is large.
    Bad(Box<Staged>),
}

impl CsvRange {
    /// Row numbers from the record after the `first_record` data records.
    fn row_numbers(&self, first_record: u64) -> RowNumbers<'_> {
        RowNumbers {
            gaps: &self.gaps,
            gap: 0,
            k: first_record,
        }
    }

    /// Reads the rows from byte `from` to byte `to` (or the end) into `sink`, through the
    /// quote-free reader when the file has no quotes; see [`CsvRange::read_csv`].
    fn read(
        &self,
        sink: &mut dyn RowSink,
        path: &Path,
        from: u64,
        to: Option<u64>,
        first_record: u64,
    ) -> Result<Result<(u64, u64), Staged>, IngestError> {
        if self.plain {
            self.read_plain(sink, path, from, to, first_record)
        } else {
            self.read_csv(sink, path, from, to, first_record)
        }
    }

    /// One record: its text `all` (not yet checked to be UTF-8) with its fields at `spans`
    /// (byte ranges in `all`, trimmed here), numbered `row`.
    fn record(
        &self,
        sink: &mut dyn RowSink,
        all: &[u8],
        spans: &mut [(usize, usize)],
        row: u64,
    ) -> Result<Step, IngestError> {
        // The fields end at ASCII separators, so the whole record is valid UTF-8 exactly
        // when every field is: one check per row.
        let Ok(all) = std::str::from_utf8(all) else {
            let bad = spans
                .iter()
                .position(|&(a, b)| std::str::from_utf8(&all[a..b]).is_err())
                .unwrap_or(0);
            let mut err = bad_file(
                format!("row {row}, column {}: the text is not UTF-8", bad + 1),
                "save the file as \"CSV UTF-8\"",
            );
            err.errors[0].row = Some(row);
            return Ok(Step::Bad(Box::new(err)));
        };
        self.record_text(sink, all, spans, row)
    }

    /// [`CsvRange::record`] of a record known to be UTF-8.
    fn record_text(
        &self,
        sink: &mut dyn RowSink,
        all: &str,
        spans: &mut [(usize, usize)],
        row: u64,
    ) -> Result<Step, IngestError> {
        // Each cell trimmed once, here: the checks and the resolver read them several times.
        for span in spans.iter_mut() {
            let cell = &all[span.0..span.1];
            let t = trim_cell(cell);
            let start = span.0 + (t.as_ptr() as usize - cell.as_ptr() as usize);
            *span = (start, start + t.len());
        }
        let width = self.width;
        let field = |i: usize| spans.get(i).map(|&(a, b)| &all[a..b]);
        if spans.len() > width && (width..spans.len()).any(|i| field(i) != Some("")) {
            let mut err = bad_file(
                format!(
                    "row {row} has {} fields but the header has {width}",
                    spans.len()
                ),
                "remove the extra separators or add a header for the extra column",
            );
            err.errors[0].row = Some(row);
            return Ok(Step::Bad(Box::new(err)));
        }
        if spans.iter().all(|(a, b)| a == b) {
            return Ok(Step::Blank);
        }
        let text = |i: usize| field(i).filter(|f| !f.is_empty());
        let cell = |i: usize| text(i).map_or(RawValue::Empty, RawValue::Text);
        Ok(Step::Pushed(push_table_row(
            sink, &self.plan, row, cell, text,
        )?))
    }

    /// [`CsvRange::read`] for a file without quotes. A CSV reader then ends a record at each
    /// `\r` or `\n`, skips the line ends that follow (blank lines), and splits the record at
    /// each separator: so does this, over the file's bytes in place, rather than copying each
    /// field into a record as the `csv` crate does; and the text is checked to be UTF-8 a
    /// buffer at a time rather than record by record (together, a fifth of the reading's
    /// instructions).
    fn read_plain(
        &self,
        sink: &mut dyn RowSink,
        path: &Path,
        from: u64,
        to: Option<u64>,
        first_record: u64,
    ) -> Result<Result<(u64, u64), Staged>, IngestError> {
        let mut input = open_range(path, from, to)?;
        let mut run = PlainRun {
            header: first_record == 0 && from <= 3,
            rows: self.row_numbers(first_record),
            tally: Tally::default(),
            spans: Vec::with_capacity(self.width),
        };
        let mut buf = vec![0u8; 1 << 20];
        // Unread bytes are buf[at..end].
        let (mut at, mut end, mut eof) = (0usize, 0usize, false);
        loop {
            // The whole records read: up to the last line end (the rest too at the end).
            let last = if eof {
                Some(end)
            } else {
                memchr::memrchr2(b'\r', b'\n', &buf[at..end]).map(|i| at + i)
            };
            match last {
                Some(last) if last > at => {
                    let block = &buf[at..last];
                    let bad = match std::str::from_utf8(block) {
                        Ok(text) => self.plain_records(sink, block, Some(text), &mut run)?,
                        // Checked record by record, to say which row and column is not.
                        Err(_) => self.plain_records(sink, block, None, &mut run)?,
                    };
                    if let Some(bad) = bad {
                        return Ok(Err(bad));
                    }
                    at = last;
                }
                _ if eof => break,
                _ => {
                    // A record goes on past the buffer: move it to the front (a record
                    // longer than the buffer doubles it) and read on.
                    buf.copy_within(at..end, 0);
                    end -= at;
                    at = 0;
                    if end == buf.len() {
                        buf.resize(buf.len() * 2, 0);
                    }
                    let n = input.read(&mut buf[end..]).map_err(IngestError::Spool)?;
                    eof = n == 0;
                    end += n;
                }
            }
        }
        Ok(Ok((run.tally.rows_read, run.tally.empty)))
    }

    /// The records of `block` (whole records and line ends; `text` is the block when it is
    /// UTF-8); a problem with the file ends the reading.
    fn plain_records(
        &self,
        sink: &mut dyn RowSink,
        block: &[u8],
        text: Option<&str>,
        run: &mut PlainRun<'_>,
    ) -> Result<Option<Staged>, IngestError> {
        let (n, delimiter) = (block.len(), self.delimiter);
        let specials = Specials::new(delimiter);
        let mut i = 0;
        while i < n {
            while i < n && matches!(block[i], b'\r' | b'\n') {
                i += 1;
            }
            if i == n {
                break;
            }
            let start = i;
            run.spans.clear();
            let mut field = 0;
            loop {
                i = specials.next(block, i);
                if i < n && block[i] == delimiter {
                    run.spans.push((field, i - start));
                    field = i - start + 1;
                    i += 1;
                } else {
                    break;
                }
            }
            run.spans.push((field, i - start));
            if std::mem::take(&mut run.header) {
                continue;
            }
            let row = run.rows.next();
            let step = match text {
                Some(t) => self.record_text(sink, &t[start..i], &mut run.spans, row)?,
                None => self.record(sink, &block[start..i], &mut run.spans, row)?,
            };
            if let Some(bad) = run.tally.add(step) {
                return Ok(Some(bad));
            }
        }
        Ok(None)
    }

    /// Reads the rows from byte `from` (the header's start when `first_record` is 0, else a
    /// line start) to byte `to` (or the end) into `sink` with the `csv` crate; `first_record`
    /// is the number of data records before `from`. Returns (rows read, empty cells), or the
    /// file's error.
    fn read_csv(
        &self,
        sink: &mut dyn RowSink,
        path: &Path,
        from: u64,
        to: Option<u64>,
        first_record: u64,
    ) -> Result<Result<(u64, u64), Staged>, IngestError> {
        // The reader buffers itself: a BufReader under it only copied every byte once more.
        let input = open_range(path, from, to)?;
        let with_header = first_record == 0 && from <= 3;
        let mut rdr = csv::ReaderBuilder::new()
            .buffer_capacity(1 << 20)
            .delimiter(self.delimiter)
            .has_headers(with_header)
            .flexible(true)
            .from_reader(input);
        let mut rows = self.row_numbers(first_record);
        let mut tally = Tally::default();
        let mut record = csv::ByteRecord::new();
        // Each cell's span in the record's text, reused from row to row.
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(self.width);
        loop {
            match rdr.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let base = if with_header { 1 } else { first_record + 2 };
                    let row = e.position().map(|p| p.record() + base);
                    let mut err = bad_file(
                        format!("the CSV could not be read: {e}"),
                        "check that quotes are closed; save as \"CSV UTF-8\"",
                    );
                    err.errors[0].row = row;
                    return Ok(Err(err));
                }
            }
            let row = rows.next();
            spans.clear();
            spans.extend((0..record.len()).map(|i| {
                let r = record.range(i).unwrap_or(0..0);
                (r.start, r.end)
            }));
            let step = self.record(sink, record.as_slice(), &mut spans, row)?;
            if let Some(bad) = tally.add(step) {
                return Ok(Err(bad));
            }
        }
        Ok(Ok((tally.rows_read, tally.empty)))
    }
}

/// Finds the bytes that end a field in a quote-free file — the separator, `\r` and `\n` —
/// eight bytes at a time: a byte loop spent ~14 instructions a byte on records that are mostly
/// codes and digits.
#[derive(Clone, Copy)]
struct Specials {
    delimiter: u8,
    /// The separator in every byte of a word.
    delimiters: u64,
}

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const ONES: u64 = 0x0101_0101_0101_0101;
const BYTES_CR: u64 = 0x0d0d_0d0d_0d0d_0d0d;
const BYTES_LF: u64 = 0x0a0a_0a0a_0a0a_0a0a;

impl Specials {
    fn new(delimiter: u8) -> Specials {
        Specials {
            delimiter,
            delimiters: u64::from_ne_bytes([delimiter; 8]),
        }
    }

    /// The high bit of the bytes of `word` that equal the byte repeated in `pattern`: exact
    /// up to the first such byte (a borrow runs only upwards from an equal byte, so a bit above
    /// the first may be wrong), which is the only one [`Specials::next`] takes.
    fn equal(word: u64, pattern: u64) -> u64 {
        let v = word ^ pattern;
        v.wrapping_sub(ONES) & !v & !LOW7
    }

    /// The position of the first special byte of `block` at or after `from` (`block.len()`
    /// when none).
    fn next(self, block: &[u8], mut from: usize) -> usize {
        while let Some(chunk) = block.get(from..).and_then(<[u8]>::first_chunk::<8>) {
            let word = u64::from_le_bytes(*chunk);
            let hits = Self::equal(word, self.delimiters)
                | Self::equal(word, BYTES_CR)
                | Self::equal(word, BYTES_LF);
            if hits != 0 {
                return from + (hits.trailing_zeros() / 8) as usize;
            }
            from += 8;
        }
        let d = self.delimiter;
        block[from.min(block.len())..]
            .iter()
            .position(|&c| c == d || c == b'\r' || c == b'\n')
            .map_or(block.len(), |k| from + k)
    }
}

/// `cell.trim()`: nothing to do when both ends are printable ASCII; else ASCII spaces (nearly
/// all there are) are taken off bytewise first, and the Unicode trim runs only when a non-ASCII
/// character (a no-break space from a spreadsheet, or a letter) is left at an end.
fn trim_cell(cell: &str) -> &str {
    let b = cell.as_bytes();
    // Nearly every cell starts and ends with a printable ASCII character: nothing to trim.
    if b.first().is_some_and(u8::is_ascii_graphic) && b.last().is_some_and(u8::is_ascii_graphic) {
        return cell;
    }
    let t = cell.trim_ascii();
    match (t.as_bytes().first(), t.as_bytes().last()) {
        (Some(a), Some(b)) if !a.is_ascii() || !b.is_ascii() => t.trim(),
        _ => t,
    }
}

/// The readers below read UTF-8. Excel writes a CSV in UTF-16LE ("Unicode text") and, as plain
/// "CSV (Comma delimited)" on a Vietnamese Windows, in the Windows-1258 code page: such a file
/// is copied into UTF-8 first. Returns the copy to read instead, if any, and the encoding.
fn transcode_csv(
    path: &Path,
) -> Result<(Option<tempfile::NamedTempFile>, &'static str), IngestError> {
    if let Some(copy) = transcode_utf16(path)? {
        return Ok((Some(copy), "UTF-16LE"));
    }
    if !looks_windows_1258(path)? {
        return Ok((None, "UTF-8"));
    }
    Ok((Some(transcode_windows_1258(path)?), "windows-1258"))
}

/// Whether a file that is not UTF-8 reads as Vietnamese Windows text: its first MiB has a byte
/// sequence UTF-8 does not allow, no UTF-8 byte-order mark, and no control characters besides
/// tab and line ends (a binary file, a spreadsheet sent as CSV, is left to fail as not UTF-8).
fn looks_windows_1258(path: &Path) -> Result<bool, IngestError> {
    let mut head = Vec::with_capacity(1 << 20);
    File::open(path)
        .and_then(|f| f.take(1 << 20).read_to_end(&mut head))
        .map_err(IngestError::Spool)?;
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok(false);
    }
    // A UTF-8 file with a damaged byte has far more well-formed non-ASCII characters than
    // ill-formed sequences; Windows-1258 text rarely forms one. The last chunk's invalid tail
    // may be a character cut by the 1 MiB limit.
    let (mut utf8, mut invalid) = (0usize, 0usize);
    let mut chunks = head.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        utf8 += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        let cut = chunks.peek().is_none() && head.len() == 1 << 20;
        invalid += usize::from(!chunk.invalid().is_empty() && !cut);
    }
    let text_bytes = head
        .iter()
        .all(|&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r'));
    Ok(invalid > utf8 && text_bytes)
}

/// Copies a Windows-1258 file into UTF-8, composed (NFC): the code page writes most tone marks
/// as combining characters after the letter.
fn transcode_windows_1258(path: &Path) -> Result<tempfile::NamedTempFile, IngestError> {
    let mut f = File::open(path).map_err(IngestError::Spool)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let out = tempfile::NamedTempFile::new_in(dir).map_err(IngestError::Spool)?;
    let mut w = std::io::BufWriter::new(out.reopen().map_err(IngestError::Spool)?);
    let mut decoder = encoding_rs::WINDOWS_1258.new_decoder_without_bom_handling();
    let mut buf = vec![0u8; 1 << 20];
    let mut text = String::new();
    loop {
        let n = f.read(&mut buf).map_err(IngestError::Spool)?;
        let last = n == 0;
        // Every byte maps to a character (the few unassigned ones to U+FFFD); the decoder
        // writes only into spare capacity, so it is given room until it has read everything.
        let mut src = &buf[..n];
        loop {
            text.reserve(
                decoder
                    .max_utf8_buffer_length(src.len())
                    .unwrap_or(4 * src.len() + 4),
            );
            let (result, read, _) = decoder.decode_to_string(src, &mut text, last);
            src = &src[read..];
            if result == encoding_rs::CoderResult::InputEmpty {
                break;
            }
        }
        // Composed a line at a time, so a letter and its marks are never cut apart.
        let upto = if last {
            text.len()
        } else {
            text.rfind('\n').map_or(0, |i| i + 1)
        };
        w.write_all(crate::text::nfc(&text[..upto]).as_bytes())
            .map_err(IngestError::Spool)?;
        text.drain(..upto);
        if last {
            break;
        }
    }
    w.flush().map_err(IngestError::Spool)?;
    Ok(out)
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

/// Whether bytes of a line make it more than blank: any byte inside quotes, any but '\r'
/// outside.
fn has_content(bytes: &[u8], in_quotes: bool) -> bool {
    if in_quotes {
        !bytes.is_empty()
    } else {
        bytes.iter().any(|&b| b != b'\r')
    }
}

/// Blank lines and a split point found by [`scan_lines`].
#[derive(Debug, PartialEq)]
struct LineScan {
    /// (records before the blank line, blank lines so far), one entry per run of blanks.
    gaps: Vec<(u64, u64)>,
    /// The first line start outside quotes after the byte asked for, with the number of data
    /// records before it.
    split: Option<(u64, u64)>,
    /// Whether the file has a quote character anywhere.
    quotes: bool,
}

/// Scans the file for blank lines outside quotes and, when `split_after` is given, for the
/// first line start after that byte. A quote that opens anywhere but at a field's start (a
/// literal `12"` in an unquoted field, which CSV readers keep as text) would turn this scan's
/// idea of "inside quotes" around, so such a file is not split; nor is one with a CR that ends
/// no line.
fn scan_lines(
    path: &Path,
    delimiter: u8,
    split_after: Option<u64>,
) -> Result<LineScan, IngestError> {
    let mut scan = Scanner::new(delimiter, 0, 0, split_after);
    scan.read(path, 0, None)?;
    Ok(scan.finish())
}

/// [`scan_lines`] for a split in the middle, on two threads: each scans one half, the second
/// from the first line start after the middle as if outside quotes; that holds when the first
/// half ends outside quotes, and the halves' counts then add up to one scan's (checked: a file
/// whose middle is inside a quoted field is scanned again on one thread).
fn scan_lines_in_halves(path: &Path, delimiter: u8, size: u64) -> Result<LineScan, IngestError> {
    let Some(middle) = line_start_after(path, size / 2)? else {
        return scan_lines(path, delimiter, None);
    };
    let (first, second) = std::thread::scope(|s| {
        let second = s.spawn(move || -> Result<Scanner, IngestError> {
            // Not the header line: its lines count.
            let mut scan = Scanner::new(delimiter, middle, 1, None);
            scan.read(path, middle, None)?;
            Ok(scan)
        });
        let mut first = Scanner::new(delimiter, 0, 0, None);
        let read = first.read(path, 0, Some(middle));
        let second = second.join().unwrap_or_else(|_| {
            Err(IngestError::Spool(std::io::Error::other(
                "the thread scanning the second half of the file failed",
            )))
        });
        (read.map(|()| first), second)
    });
    let (first, second) = (first?, second?);
    if first.in_quotes || first.line < 2 {
        return scan_lines(path, delimiter, Some(size / 2));
    }
    let whole = first.splittable() && second.splittable();
    let mut gaps = first.gaps;
    for (k, s) in second.gaps {
        note_gap(&mut gaps, k + first.record, s + first.blanks);
    }
    Ok(LineScan {
        gaps,
        split: (whole && middle < size).then_some((middle, first.record)),
        quotes: first.quotes || second.quotes,
    })
}

/// The byte after the first line end after `at`, if any.
fn line_start_after(path: &Path, at: u64) -> Result<Option<u64>, IngestError> {
    let mut f = open_range(path, at, None)?;
    let mut buf = vec![0u8; 64 << 10];
    let mut offset = at;
    loop {
        let n = f.read(&mut buf).map_err(IngestError::Spool)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(Some(offset + i as u64 + 1));
        }
        offset += n as u64;
    }
}

/// Notes `blanks` blank lines so far before record `record` (one entry per run of blanks).
fn note_gap(gaps: &mut Vec<(u64, u64)>, record: u64, blanks: u64) {
    match gaps.last_mut() {
        Some((k, s)) if *k == record => *s = blanks,
        _ => gaps.push((record, blanks)),
    }
}

/// The state of a scan for [`scan_lines`], fed the file's bytes in order from `offset`.
struct Scanner {
    delimiter: u8,
    in_quotes: bool,
    /// The current line has a character other than '\r' (inside quotes, any).
    filled: bool,
    line: u64,
    record: u64,
    blanks: u64,
    gaps: Vec<(u64, u64)>,
    /// The byte offset of the next chunk.
    offset: u64,
    /// The byte before the next chunk.
    before: u8,
    /// A quote opened inside a field.
    stray: bool,
    quotes: bool,
    /// A CR not followed by LF, and a CR that ended the last chunk.
    lone_cr: bool,
    cr_last: bool,
    split_after: Option<u64>,
    split: Option<(u64, u64)>,
}

impl Scanner {
    fn new(delimiter: u8, offset: u64, line: u64, split_after: Option<u64>) -> Scanner {
        Scanner {
            delimiter,
            in_quotes: false,
            filled: false,
            line,
            record: 0,
            blanks: 0,
            gaps: Vec::new(),
            offset,
            before: b'\n',
            stray: false,
            quotes: false,
            lone_cr: false,
            cr_last: false,
            split_after,
            split: None,
        }
    }

    /// Feeds the bytes from `from` (this scan's offset) to `to` (or the end).
    fn read(&mut self, path: &Path, from: u64, to: Option<u64>) -> Result<(), IngestError> {
        let mut f = open_range(path, from, to)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).map_err(IngestError::Spool)?;
            if n == 0 {
                return Ok(());
            }
            self.feed(&buf[..n]);
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        let n = chunk.len();
        if std::mem::take(&mut self.cr_last) && !matches!(chunk[0], b'\n' | b'\r') {
            self.lone_cr = true;
        }
        // Only quotes and line ends matter; the bytes between them are looked at only while
        // the line still seems blank.
        let mut from = 0;
        for at in memchr::memchr3_iter(b'"', b'\n', b'\r', chunk) {
            if chunk[at] == b'\r' {
                // A CR before text (old Mac line ends) ends a record for the CSV reader but
                // no line here: the records counted would go wrong after it.
                if !self.in_quotes {
                    match chunk.get(at + 1) {
                        Some(b'\n' | b'\r') => {}
                        Some(_) => self.lone_cr = true,
                        None => self.cr_last = true,
                    }
                }
                continue;
            }
            if !self.filled {
                self.filled = has_content(&chunk[from..at], self.in_quotes);
            }
            from = at + 1;
            if chunk[at] == b'"' {
                self.quotes = true;
                if !self.in_quotes {
                    let prev = if at > 0 { chunk[at - 1] } else { self.before };
                    let bom_end = self.offset + at as u64 == 3 && prev == 0xBF;
                    self.stray |= !(bom_end
                        || matches!(prev, b'\n' | b'\r' | b'"')
                        || prev == self.delimiter);
                }
                self.in_quotes = !self.in_quotes;
                self.filled = true;
            } else if self.in_quotes {
                self.filled = true;
            } else {
                if self.line > 0 {
                    if self.filled {
                        self.record += 1;
                    } else {
                        self.blanks += 1;
                        note_gap(&mut self.gaps, self.record, self.blanks);
                    }
                }
                self.line += 1;
                self.filled = false;
                let next = self.offset + at as u64 + 1;
                if self.split.is_none()
                    && self.line > 1
                    && self.split_after.is_some_and(|h| next > h)
                {
                    self.split = Some((next, self.record));
                }
            }
        }
        if !self.filled {
            self.filled = has_content(&chunk[from..], self.in_quotes);
        }
        self.before = chunk[n - 1];
        self.offset += n as u64;
    }

    /// Whether what was scanned leaves the file's records countable from a line start: no
    /// stray quote, no CR before text.
    fn splittable(&self) -> bool {
        !self.stray && !self.lone_cr
    }

    fn finish(self) -> LineScan {
        // A split at the very end leaves nothing for the second half.
        let (end, whole) = (self.offset, self.splittable());
        LineScan {
            gaps: self.gaps,
            split: self.split.filter(|&(at, _)| at < end && whole),
            quotes: self.quotes,
        }
    }
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

/// What to do with a workbook that cannot be read.
const DAMAGED_HINT: &str = "open the workbook in Excel and save it again; if it still fails, export the sheet as \"CSV \
     UTF-8\"";

/// The first bytes of an OLE2 compound file: an Excel 97–2003 workbook.
const XLS_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// A workbook upload, .xlsx or .xls: read by what the bytes are, since a file renamed from one
/// to the other is common.
fn stage_xlsx(
    sink: &mut dyn RowSink,
    cat: &Catalogue,
    path: &Path,
    sheet: Option<&str>,
) -> Result<Staged, IngestError> {
    let mut magic = [0u8; 8];
    let is_xls = File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == XLS_MAGIC;
    if is_xls {
        return stage_xls(sink, cat, path, sheet);
    }
    if let Err(e) = check_xlsx(path) {
        return Ok(bad_file(
            format!("the workbook is damaged: {e}"),
            DAMAGED_HINT,
        ));
    }
    let file = File::open(path).map_err(IngestError::Spool)?;
    let mut book: Xlsx<_> = match guarded(|| Xlsx::new(BufReader::new(file))) {
        Some(Ok(b)) => b,
        Some(Err(e)) => {
            return Ok(bad_file(
                format!("the file is not a readable Excel workbook: {e}"),
                "save it from Excel as \"Excel Workbook (*.xlsx)\" or \"Excel 97-2003 Workbook \
                 (*.xls)\"",
            ));
        }
        None => return Ok(contradictory()),
    };
    let name = match pick_sheet(&book.sheet_names(), sheet) {
        Ok(n) => n,
        Err((reason, hint)) => return Ok(bad_file(reason, hint)),
    };
    let mut reader = match guarded(|| book.worksheet_cells_reader(&name)) {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            return Ok(bad_file(
                format!("cannot read sheet {name:?}: {e}"),
                DAMAGED_HINT,
            ));
        }
        None => return Ok(contradictory()),
    };
    // Cells stream from the file, so a large sheet is never held whole.
    let cells = std::iter::from_fn(|| match guarded(|| reader.next_cell()) {
        Some(Ok(Some(c))) => {
            let (r, col) = c.get_position();
            Some(Ok((r, col, xcell(c.get_value()))))
        }
        Some(Ok(None)) => None,
        Some(Err(e)) => Some(Err(e.to_string())),
        // "sheet … is damaged: its records contradict each other".
        None => Some(Err("its records contradict each other".to_owned())),
    });
    stage_sheet(sink, cat, &name, cells)
}

/// The most shared strings an .xlsx may declare: calamine reserves room for as many as the
/// shared-strings part says it holds (24 bytes each), and a damaged count of billions made
/// that allocation fail, which aborts the process. Ten million is far beyond any report.
const XLSX_MAX_STRINGS: u64 = 10_000_000;
/// The longest stretch of an .xlsx part's XML between two angle brackets: a cell's text or one
/// tag. Excel holds at most 32,767 characters a cell (at most 131,068 bytes of UTF-8); calamine
/// holds a stretch whole, and a 1.5 MB upload that unpacked to one cell of 1.5 GB took the
/// server to 12.6 GB of memory for 3½ minutes.
const XLSX_MAX_STRETCH: u64 = 1 << 20;
/// The most a shared-strings part may unpack to: calamine holds every shared string.
const XLSX_MAX_STRINGS_XML: u64 = 256 << 20;
/// The most all the XML of an .xlsx may unpack to (sheets are streamed; this bounds the time).
const XLSX_MAX_XML: u64 = 2 << 30;

/// Checks what calamine takes on trust in an .xlsx before it reads it, unpacking each XML part
/// once more (a 16 MB upload of 160 MB of XML, a million rows: read in 2.67–2.90 s with the
/// check, 2.41–2.87 s without, on the 2-core VM): no stretch between angle
/// brackets longer than [`XLSX_MAX_STRETCH`], the shared strings within
/// [`XLSX_MAX_STRINGS_XML`] and declaring no more entries (`<sst uniqueCount="…">`) than their
/// XML could hold (an entry is at least `<si/>`, 5 bytes) nor than [`XLSX_MAX_STRINGS`], all
/// the XML within [`XLSX_MAX_XML`]. A file that is not a readable zip is left to calamine, which
/// says why.
fn check_xlsx(path: &Path) -> Result<(), String> {
    let Ok(file) = File::open(path) else {
        return Ok(());
    };
    let Ok(mut zip) = zip::ZipArchive::new(BufReader::new(file)) else {
        return Ok(());
    };
    let mut total = 0u64;
    for i in 0..zip.len() {
        let Ok(mut part) = zip.by_index(i) else {
            continue;
        };
        let Ok(name) = part.name().map(|n| n.to_ascii_lowercase()) else {
            continue;
        };
        if !(name.ends_with(".xml") || name.ends_with(".rels")) {
            continue;
        }
        let strings = name.ends_with("sharedstrings.xml");
        let (mut size, mut stretch, mut head) = (0u64, 0u64, Vec::new());
        let mut buf = vec![0u8; 64 * 1024];
        // A part that does not unpack is left to calamine, which says why.
        while let Ok(n) = part.read(&mut buf)
            && n > 0
        {
            let chunk = &buf[..n];
            if strings && head.len() < 16 * 1024 {
                head.extend_from_slice(&chunk[..n.min(16 * 1024 - head.len())]);
            }
            for &b in chunk {
                stretch = if b == b'<' || b == b'>' {
                    0
                } else {
                    stretch + 1
                };
                if stretch > XLSX_MAX_STRETCH {
                    return Err(format!(
                        "{name} has {stretch}+ bytes between two angle brackets, beyond any cell \
                         or tag Excel writes (a cell holds at most 32,767 characters)"
                    ));
                }
            }
            size += n as u64;
            total += n as u64;
            if strings && size > XLSX_MAX_STRINGS_XML {
                return Err(format!(
                    "its shared strings unpack to more than {} MB",
                    XLSX_MAX_STRINGS_XML >> 20
                ));
            }
            if total > XLSX_MAX_XML {
                return Err(format!(
                    "its XML unpacks to more than {} GB",
                    XLSX_MAX_XML >> 30
                ));
            }
        }
        if let Some(count) = unique_count(&head)
            && (count > XLSX_MAX_STRINGS || count > size / 5 + 1)
        {
            return Err(format!(
                "its shared strings claim {count} entries in {size} bytes"
            ));
        }
    }
    Ok(())
}

/// The `uniqueCount` of the `<sst>` start tag at the head of a shared-strings part, as
/// calamine reads it (its leading digits).
fn unique_count(head: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(head);
    // `<sst` or, namespaced, `<x:sst`.
    let start = text
        .match_indices("sst")
        .map(|(i, _)| i)
        .find(|&i| i > 0 && matches!(text.as_bytes()[i - 1], b'<' | b':'))?;
    let tag = &text[start..start + text[start..].find('>')?];
    let at = tag.find("uniqueCount")? + "uniqueCount".len();
    let value = tag[at..].trim_start().strip_prefix('=')?.trim_start();
    let value = value.strip_prefix(['"', '\''])?;
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    // More digits than a u64 holds: as absurd as the largest.
    Some(digits.parse().unwrap_or(u64::MAX)).filter(|_| !digits.is_empty())
}

/// What a workbook whose parts trip the reader is called.
const CONTRADICTORY: &str = "the workbook is damaged: its parts contradict each other";

fn contradictory() -> Staged {
    bad_file(CONTRADICTORY.to_owned(), DAMAGED_HINT)
}

/// Runs one call into the workbook reader, `None` if it panicked. A damaged file may trip one
/// of calamine's assumptions (a slice taken past a record's end): that is a damaged upload to
/// refuse, not a failure of the server. Only calamine's own calls are guarded, so a panic of
/// ours still surfaces.
fn guarded<T>(read: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
        Ok(t) => Some(t),
        Err(_) => {
            tracing::warn!("the workbook reader panicked on a damaged file; refused");
            None
        }
    }
}

/// An Excel 97–2003 workbook. The format holds at most 65,536 rows × 256 columns a sheet, so
/// the sheet is read whole.
fn stage_xls(
    sink: &mut dyn RowSink,
    cat: &Catalogue,
    path: &Path,
    sheet: Option<&str>,
) -> Result<Staged, IngestError> {
    // calamine follows the file's sector chains as they are written: in a damaged file a chain
    // that loops back on itself has it read, and allocate, until memory runs out. The cfb
    // crate checks the compound file's structure (every chain in range, no sector reached
    // twice) first.
    let file = File::open(path).map_err(IngestError::Spool)?;
    let mut compound = match cfb::CompoundFile::open(BufReader::new(file)) {
        Ok(c) => c,
        Err(e) => {
            return Ok(bad_file(
                format!("the .xls workbook is damaged: {e}"),
                DAMAGED_HINT,
            ));
        }
    };
    // calamine also believes the sheets' records: a damaged size had it reserve memory for
    // billions of cells, and the allocation failure aborted the whole server.
    let mut stream = Vec::new();
    let read = match compound.open_stream("/Workbook") {
        Ok(s) => Ok(s),
        Err(_) => compound.open_stream("/Book"),
    }
    .and_then(|mut s| s.read_to_end(&mut stream));
    if let Err(e) = read
        .map_err(|e| e.to_string())
        .and_then(|_| check_biff(&stream))
    {
        return Ok(bad_file(
            format!("the .xls workbook is damaged: {e}"),
            DAMAGED_HINT,
        ));
    }
    drop(stream);
    let file = File::open(path).map_err(IngestError::Spool)?;
    let read = guarded(move || -> Result<_, (String, &'static str)> {
        let mut book: Xls<_> = Xls::new(BufReader::new(file)).map_err(|e| {
            (
                format!("the file is not a readable .xls workbook: {e}"),
                DAMAGED_HINT,
            )
        })?;
        let name = pick_sheet(&book.sheet_names(), sheet)?;
        let range = book
            .worksheet_range(&name)
            .map_err(|e| (format!("cannot read sheet {name:?}: {e}"), DAMAGED_HINT))?;
        Ok((name, range))
    });
    let (name, range) = match read {
        Some(Ok(read)) => read,
        Some(Err((reason, hint))) => return Ok(bad_file(reason, hint)),
        None => return Ok(contradictory()),
    };
    let (r0, c0) = range.start().unwrap_or((0, 0));
    let cells = range
        .used_cells()
        .map(|(r, c, d)| Ok((r0 + r as u32, c0 + c as u32, xcell(&data_ref(d)))));
    stage_sheet(sink, cat, &name, cells)
}

/// The most rows and columns an .xls sheet holds (BIFF8).
const XLS_ROWS: u32 = 65_536;
const XLS_COLUMNS: u32 = 256;

/// Checks what calamine takes on trust in an .xls workbook's stream of BIFF records: each
/// sheet's place in the stream, and each sheet's dimensions within the format's 65,536 rows ×
/// 256 columns. Read the way calamine reads them (the workbook's records up to their end, then
/// each sheet's from where the workbook says it starts), so that nothing calamine will see
/// goes unchecked.
fn check_biff(stream: &[u8]) -> Result<(), String> {
    const BOF: u16 = 0x0809;
    const EOF: u16 = 0x000A;
    /// (type, data) of each record from the start of `s` to the end (or a record cut short).
    fn records(mut s: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
        std::iter::from_fn(move || {
            if s.len() < 4 {
                return None;
            }
            let typ = u16::from_le_bytes([s[0], s[1]]);
            let len = usize::from(u16::from_le_bytes([s[2], s[3]]));
            let data = s.get(4..4 + len)?;
            s = &s[4 + len..];
            Some((typ, data))
        })
    }
    /// A sheet's records up to its own EOF: an embedded chart's BOF … EOF inside it does not
    /// end it (calamine reads on past them).
    fn sheet_records(s: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
        let mut depth = 0usize;
        records(s).take_while(move |&(typ, _)| match typ {
            BOF => {
                depth += 1;
                true
            }
            EOF => {
                depth = depth.saturating_sub(1);
                depth > 0
            }
            _ => true,
        })
    }
    let u32_at = |d: &[u8], at: usize| {
        d.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u16_at = |d: &[u8], at: usize| {
        d.get(at..at + 2)
            .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let mut sheets = 0;
    for (typ, data) in records(stream).take_while(|&(typ, _)| typ != EOF) {
        // BoundSheet8: where the sheet's records start.
        if typ != 0x0085 {
            continue;
        }
        sheets += 1;
        let at = u32_at(data, 0).ok_or("a sheet's entry is cut short")? as usize;
        if at >= stream.len() {
            return Err(format!(
                "sheet {sheets} starts at byte {at}, past the end of the workbook ({} bytes)",
                stream.len()
            ));
        }
        // Checked at any depth: an embedded chart's size is within the format's too.
        for (typ, data) in sheet_records(&stream[at..]) {
            // Dimensions: first row, row after the last, first column, column after the last.
            if typ != 0x0200 {
                continue;
            }
            let (rows, cols) = match data.len() {
                10 => (
                    (u16_at(data, 0), u16_at(data, 2)),
                    (u16_at(data, 4), u16_at(data, 6)),
                ),
                14 | 16 => (
                    (u32_at(data, 0), u32_at(data, 4)),
                    (u16_at(data, 8), u16_at(data, 10)),
                ),
                n => return Err(format!("sheet {sheets}'s size record is {n} bytes long")),
            };
            let (Some(first_row), Some(end_row)) = rows else {
                continue;
            };
            let (Some(first_col), Some(end_col)) = cols else {
                continue;
            };
            // An empty sheet is written 0–0; a used one with its first row before the row after
            // its last. calamine counts the rows as one less the other, plus one.
            let rows_bad = end_row > XLS_ROWS || (end_row >= 1 && first_row >= end_row);
            if rows_bad || end_col > XLS_COLUMNS {
                return Err(format!(
                    "sheet {sheets} claims rows {first_row}–{end_row} and columns \
                     {first_col}–{end_col}; an .xls sheet holds at most {XLS_ROWS} rows and \
                     {XLS_COLUMNS} columns"
                ));
            }
        }
    }
    Ok(())
}

/// The sheet asked for, or the first; else why not and what to do.
fn pick_sheet(names: &[String], sheet: Option<&str>) -> Result<String, (String, &'static str)> {
    match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.as_str() == s)
            .cloned()
            .ok_or_else(|| {
                (
                    format!(
                        "the workbook has no sheet {s:?} (it has {})",
                        names.join(", ")
                    ),
                    "pass ?sheet= with one of those names",
                )
            }),
        None => names.first().cloned().ok_or_else(|| {
            (
                "the workbook has no sheets".into(),
                "put the report on a sheet of the workbook",
            )
        }),
    }
}

/// A cell of a sheet read whole, as the streamed ones are.
fn data_ref(d: &Data) -> DataRef<'_> {
    match d {
        Data::Int(i) => DataRef::Int(*i),
        Data::Float(f) => DataRef::Float(*f),
        Data::String(s) => DataRef::SharedString(s),
        Data::Bool(b) => DataRef::Bool(*b),
        Data::DateTime(dt) => DataRef::DateTime(*dt),
        Data::DateTimeIso(s) => DataRef::DateTimeIso(s.clone()),
        Data::DurationIso(s) => DataRef::DurationIso(s.clone()),
        Data::Error(e) => DataRef::Error(e.clone()),
        Data::Empty => DataRef::Empty,
    }
}

/// Reads a sheet's cells (row, column, value; in row order) into `sink`: title rows, then the
/// header row, then the data rows.
fn stage_sheet(
    sink: &mut dyn RowSink,
    cat: &Catalogue,
    name: &str,
    mut cells: impl Iterator<Item = Result<(u32, u32, Option<XCell>), String>>,
) -> Result<Staged, IngestError> {
    let mut layout: Option<(Layout, TablePlan)> = None;
    let mut best_errors: Option<(usize, Vec<RowError>)> = None;
    let mut staged = Staged::default();
    let mut row: Option<(u32, Vec<Option<XCell>>)> = None;

    loop {
        let next = match cells.next() {
            None => None,
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                return Ok(bad_file(
                    format!("sheet {name:?} is damaged: {e}"),
                    DAMAGED_HINT,
                ));
            }
        };
        let pos = next.as_ref().map(|&(r, c, _)| (r, c));
        // A finished row: either the sheet ended or the next cell is on a later row.
        let finished = match (&row, pos) {
            (Some((r, _)), Some((pr, _))) => pr != *r,
            (Some(_), None) => true,
            _ => false,
        };
        if finished && let Some((r, cells)) = row.take() {
            match &layout {
                Some(l) => {
                    let text = |i: usize| {
                        cells
                            .get(i)
                            .and_then(Option::as_ref)
                            .map(|c| c.text.trim())
                            .filter(|t| !t.is_empty())
                    };
                    if (0..cells.len()).any(|i| text(i).is_some()) {
                        let cell = |i: usize| match cells.get(i).and_then(Option::as_ref) {
                            Some(XCell { num: Some(n), .. }) => RawValue::Number(*n),
                            Some(c) if !c.text.trim().is_empty() => RawValue::Text(c.text.trim()),
                            _ => RawValue::Empty,
                        };
                        staged.rows_read += 1;
                        staged.empty_cells_skipped +=
                            push_table_row(sink, &l.1, u64::from(r) + 1, cell, text)?;
                    }
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
                        Ok(l) => {
                            sink.layout(&roles_of(&l));
                            let plan = TablePlan::of(&l);
                            layout = Some((l, plan));
                        }
                        Err(mut errs) => {
                            // Remember the most header-like row, to explain why none fit.
                            let known = headers.iter().filter(|h| !h.is_empty()).count()
                                - errs.iter().filter(|e| e.column.is_some()).count();
                            for e in &mut errs {
                                if e.row.is_some() {
                                    e.row = Some(u64::from(r) + 1);
                                }
                            }
                            if best_errors.as_ref().is_none_or(|(k, _)| known > *k) {
                                best_errors = Some((known, errs));
                            }
                            if r >= MAX_TITLE_ROWS {
                                break;
                            }
                        }
                    }
                }
            }
        }
        let Some((r, c, value)) = next else { break };
        let entry = row.get_or_insert_with(|| (r, Vec::new()));
        let c = c as usize;
        if entry.1.len() <= c {
            entry.1.resize(c + 1, None);
        }
        entry.1[c] = value;
    }
    match layout {
        Some((l, _)) => {
            staged.layout = if l.is_long() { "long" } else { "wide" }.into();
            staged.roles = roles_of(&l);
            Ok(staged)
        }
        None => {
            let mut errors = best_errors.map(|(_, e)| e).unwrap_or_default();
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

// --------------------------------------------------------------------------------------- JSON

const JSON_HINT: &str = "send {\"records\": [{\"indicator\": \"VM02\", \"unit\": \"79\", \
                         \"period\": \"2025-07\", \"value\": 4123.5}]}";

fn json_error(e: &serde_json::Error, record: Option<u64>) -> Staged {
    let data = matches!(e.classify(), serde_json::error::Category::Data);
    Staged {
        errors: vec![RowError {
            row: record.filter(|_| data),
            column: None,
            field: None,
            value: None,
            code: ErrorCode::BadFile,
            reason: format!("the JSON is not valid: {e}"),
            hint: JSON_HINT.into(),
            message_vi: String::new(),
        }],
        ..Staged::default()
    }
}

/// The options a JSON body states beside its records (`locale`, `period`, `unit`), read in a
/// first pass so they apply whatever their place in the object.
pub fn json_meta(path: &Path) -> Result<JsonMeta, IngestError> {
    let mut meta = JsonMeta::default();
    // A malformed body is reported by the second pass, with its position. Skipping the
    // records is far cheaper from memory than from a stream (see `JSON_IN_MEMORY_BYTES`).
    if std::fs::metadata(path).map_err(IngestError::Spool)?.len() <= JSON_IN_MEMORY_BYTES {
        let bytes = std::fs::read(path).map_err(IngestError::Spool)?;
        let _ = Meta(&mut meta).deserialize(&mut serde_json::Deserializer::from_slice(&bytes));
    } else {
        let file = File::open(path).map_err(IngestError::Spool)?;
        let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
        let _ = Meta(&mut meta).deserialize(&mut de);
    }
    Ok(meta)
}

struct Meta<'m>(&'m mut JsonMeta);

impl<'de> DeserializeSeed<'de> for Meta<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Meta<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object or array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "locale" => self.0.locale = map.next_value()?,
                "period" | "ky" => self.0.period = map.next_value()?,
                "unit" | "don_vi" => self.0.unit = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// JSON bodies up to this size are read into memory first: parsing a slice is several times
/// faster than parsing a stream. Larger ones are streamed, so memory stays bounded.
const JSON_IN_MEMORY_BYTES: u64 = 128 << 20;

/// Streams `{"records": [...]}` or a bare array of records.
fn stage_json(sink: &mut dyn RowSink, path: &Path) -> Result<Staged, IngestError> {
    stage_json_within(sink, path, JSON_IN_MEMORY_BYTES)
}

/// [`stage_json`] with the largest body read into memory (tests compare both ways).
fn stage_json_within(
    sink: &mut dyn RowSink,
    path: &Path,
    in_memory_bytes: u64,
) -> Result<Staged, IngestError> {
    let mut json = JsonSink {
        sink,
        n: 0,
        err: None,
    };
    let size = std::fs::metadata(path).map_err(IngestError::Spool)?.len();
    let result = if size <= in_memory_bytes {
        let bytes = std::fs::read(path).map_err(IngestError::Spool)?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        Top(&mut json).deserialize(&mut de).and_then(|()| de.end())
    } else {
        let file = File::open(path).map_err(IngestError::Spool)?;
        let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
        Top(&mut json).deserialize(&mut de).and_then(|()| de.end())
    };
    if let Some(e) = json.err.take() {
        return Err(e);
    }
    let n = json.n;
    if let Err(e) = result {
        return Ok(json_error(&e, Some(n + 1)));
    }
    Ok(Staged {
        layout: "records".into(),
        rows_read: n,
        encoding: Some("UTF-8"),
        ..Staged::default()
    })
}

struct JsonSink<'s> {
    sink: &'s mut dyn RowSink,
    n: u64,
    err: Option<IngestError>,
}

/// A JSON record's fields. Names in English or Vietnamese without diacritics.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Indicator,
    Unit,
    Period,
    Value,
    Disagg,
    Other,
}

impl Field {
    fn of(name: &str) -> Field {
        match name {
            "indicator" | "chi_tieu" | "ma_chi_tieu" | "indicator_code" => Field::Indicator,
            "unit" | "don_vi" | "ma_don_vi" | "unit_code" => Field::Unit,
            "period" | "ky" | "ky_bao_cao" => Field::Period,
            "value" | "gia_tri" => Field::Value,
            "disagg" | "phan_to" => Field::Disagg,
            _ => Field::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Field::Indicator => "indicator",
            Field::Unit => "unit",
            Field::Period => "period",
            Field::Value => "value",
            Field::Disagg => "disagg",
            Field::Other => "",
        }
    }
}

/// A field's name, read without keeping it.
struct FieldSeed;

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldSeed {
    type Value = Field;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
        Ok(Field::of(v))
    }
}

/// The texts of one record, in buffers reused from record to record: a record costs no
/// allocation once the first few are read.
#[derive(Default)]
struct Scratch {
    texts: [String; 5],
    /// A value sent as a JSON number (no locale involved).
    number: Option<f64>,
}

impl Scratch {
    fn text(&self, f: Field) -> Option<&str> {
        let t = self.texts.get(f as usize)?.as_str();
        (!t.is_empty()).then_some(t)
    }
}

/// One field's value into its buffer: strings trimmed, numbers and booleans written as text
/// (and a value's number kept as such), null as nothing, anything else as its JSON text.
struct FieldValue<'a> {
    text: &'a mut String,
    number: Option<&'a mut Option<f64>>,
}

impl<'de> DeserializeSeed<'de> for FieldValue<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldValue<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a text, a number or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.text.push_str(v.trim());
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.text.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.number(v as f64, serde_json::Number::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.number(v as f64, serde_json::Number::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        match serde_json::Number::from_f64(v) {
            Some(n) => self.number(v, n),
            None => Ok(()),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))
            .map_err(de::Error::custom)?;
        self.text.push_str(&v.to_string());
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))
            .map_err(de::Error::custom)?;
        self.text.push_str(&v.to_string());
        Ok(())
    }
}

impl FieldValue<'_> {
    fn number<E: de::Error>(self, v: f64, as_json: serde_json::Number) -> Result<(), E> {
        use std::fmt::Write as _;
        let _ = write!(self.text, "{as_json}");
        if let Some(n) = self.number {
            *n = Some(v);
        }
        Ok(())
    }
}

/// One record into the scratch buffers.
struct RecordSeed<'a>(&'a mut Scratch);

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a record: an object with indicator, unit, period and value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let s = self.0;
        for t in &mut s.texts {
            t.clear();
        }
        s.number = None;
        let mut seen = 0u8;
        while let Some(field) = map.next_key_seed(FieldSeed)? {
            if field == Field::Other {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let bit = 1u8 << (field as u8);
            if seen & bit != 0 {
                return Err(de::Error::duplicate_field(field.name()));
            }
            seen |= bit;
            let (texts, number) = (&mut s.texts, &mut s.number);
            map.next_value_seed(FieldValue {
                text: &mut texts[field as usize],
                number: (field == Field::Value).then_some(number),
            })?;
        }
        Ok(())
    }
}

impl JsonSink<'_> {
    fn push(&mut self, r: &Scratch) {
        if self.err.is_some() {
            return;
        }
        self.n += 1;
        let value = match (r.number, r.text(Field::Value)) {
            (Some(n), _) => RawValue::Number(n),
            (None, Some(t)) => RawValue::Text(t),
            (None, None) => RawValue::Empty,
        };
        let res = self.sink.push(RawRow {
            row: self.n,
            col: 0,
            unit: r.text(Field::Unit),
            indicator: r.text(Field::Indicator),
            period: r.text(Field::Period),
            value,
            disagg: r.text(Field::Disagg).unwrap_or(""),
        });
        if let Err(e) = res {
            self.err = Some(e);
        }
    }
}

struct Top<'j, 's>(&'j mut JsonSink<'s>);
struct Records<'j, 's>(&'j mut JsonSink<'s>);

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
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
            if key == "records" || key == "ban_ghi" {
                saw_records = true;
                map.next_value_seed(Records(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if saw_records {
            Ok(())
        } else {
            Err(de::Error::missing_field("records"))
        }
    }
}

impl<'de> DeserializeSeed<'de> for Records<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut scratch = Scratch::default();
        while seq.next_element_seed(RecordSeed(&mut scratch))?.is_some() {
            self.0.push(&scratch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::report::column_letter;
    use super::*;

    #[test]
    fn specials_are_found_where_a_byte_loop_finds_them() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        // Bytes near the specials in value (0x0a/0x0b, 0x0c/0x0d, ';' ± 1, 0x80 + each) and
        // any others, so a carry or a high bit would show.
        let near = [
            0x0a, 0x0b, 0x09, 0x0c, 0x0d, 0x0e, b';', b':', b'<', b',', 0x8a, 0x8d, 0xbb, 0x00,
            0xff, b'7', b'a',
        ];
        for delimiter in [b';', b',', b'\t'] {
            let specials = Specials::new(delimiter);
            for _ in 0..2000 {
                let len = rng.random_range(0..40);
                let block: Vec<u8> = (0..len)
                    .map(|_| match rng.random_range(0..4) {
                        0 => rng.random(),
                        _ => near[rng.random_range(0..near.len())],
                    })
                    .collect();
                for from in 0..=len {
                    let expected = (from..len)
                        .find(|&k| matches!(block[k], b'\r' | b'\n') || block[k] == delimiter)
                        .unwrap_or(len);
                    assert_eq!(
                        specials.next(&block, from),
                        expected,
                        "{block:?} from {from}"
                    );
                }
            }
        }
    }

    /// A workbook stream: the globals (BOF, one BoundSheet8, EOF), then the sheet (BOF, a
    /// Dimensions record of `dims` = first row, row after the last, first column, column after
    /// the last, EOF), the sheet's start as the globals give it (or `at`).
    fn biff(dims: (u32, u32, u16, u16), at: Option<u32>) -> Vec<u8> {
        biff_with(dims, at, false)
    }

    /// [`biff`], with an embedded chart's BOF … EOF before the sheet's Dimensions when `chart`.
    fn biff_with(dims: (u32, u32, u16, u16), at: Option<u32>, chart: bool) -> Vec<u8> {
        fn record(out: &mut Vec<u8>, typ: u16, data: &[u8]) {
            out.extend(typ.to_le_bytes());
            out.extend((data.len() as u16).to_le_bytes());
            out.extend(data);
        }
        let bof = [0x00, 0x06, 0x05, 0x00, 0, 0, 0, 0];
        let globals_len = (4 + bof.len()) + (4 + 10) + 4;
        let mut sheet_entry = at.unwrap_or(globals_len as u32).to_le_bytes().to_vec();
        sheet_entry.extend([0, 0, 2, 0, b'S', b'1']);
        let mut out = Vec::new();
        record(&mut out, 0x0809, &bof);
        record(&mut out, 0x0085, &sheet_entry);
        record(&mut out, 0x000A, &[]);
        assert_eq!(out.len(), globals_len);
        record(&mut out, 0x0809, &bof);
        if chart {
            record(&mut out, 0x0809, &bof);
            record(&mut out, 0x000A, &[]);
        }
        let mut d = Vec::new();
        d.extend(dims.0.to_le_bytes());
        d.extend(dims.1.to_le_bytes());
        d.extend(dims.2.to_le_bytes());
        d.extend(dims.3.to_le_bytes());
        d.extend([0, 0]);
        record(&mut out, 0x0200, &d);
        record(&mut out, 0x000A, &[]);
        out
    }

    #[test]
    fn the_shared_strings_count_is_read_as_calamine_reads_it() {
        let head = |sst: &str| {
            format!("<?xml version=\"1.0\" standalone=\"yes\"?>\n{sst}<si><t>a</t></si>")
        };
        let count = |sst: &str| unique_count(head(sst).as_bytes());
        assert_eq!(
            count(r#"<sst xmlns="x" count="3" uniqueCount="2">"#),
            Some(2)
        );
        assert_eq!(count(r#"<x:sst uniqueCount = '17' xmlns:x="x">"#), Some(17));
        assert_eq!(
            count(r#"<sst uniqueCount="99999999999999999999999">"#),
            Some(u64::MAX)
        );
        assert_eq!(count(r#"<sst count="3">"#), None);
        assert_eq!(count(r#"<sst uniqueCount="">"#), None);
    }

    #[test]
    fn an_xls_sheet_claiming_more_than_the_format_holds_is_damaged() {
        assert_eq!(check_biff(&biff((0, 12, 0, 5), None)), Ok(()));
        assert_eq!(check_biff(&biff((0, 65_536, 0, 256), None)), Ok(()));
        assert_eq!(
            check_biff(&biff((0, 0, 0, 0), None)),
            Ok(()),
            "an empty sheet"
        );
        for (dims, says) in [
            ((0, 3_000_000_000, 0, 5), "rows 0–3000000000"),
            ((7, 7, 0, 5), "rows 7–7"),
            ((9, 3, 0, 5), "rows 9–3"),
            ((0, 12, 0, 40_000), "columns 0–40000"),
        ] {
            let e = check_biff(&biff(dims, None)).unwrap_err();
            assert!(e.contains(says), "{dims:?}: {e}");
            assert!(e.contains("at most 65536 rows and 256 columns"), "{e}");
        }
        let e = check_biff(&biff((0, 12, 0, 5), Some(1 << 20))).unwrap_err();
        assert!(e.contains("past the end of the workbook"), "{e}");
        // After an embedded chart's own EOF the sheet goes on, and so does calamine.
        assert_eq!(check_biff(&biff_with((0, 12, 0, 5), None, true)), Ok(()));
        let e = check_biff(&biff_with((0, 3_000_000_000, 0, 5), None, true)).unwrap_err();
        assert!(e.contains("rows 0–3000000000"), "{e}");
    }

    #[test]
    fn a_cell_is_trimmed_as_str_trim_does() {
        for cell in [
            "",
            " ",
            "\t 12 \r",
            "1.234,5",
            "\u{a0}1.234\u{a0}",
            " \u{a0} Hà Nội \u{3000}",
            "Hà Nội",
            "ạ",
            " ạ ",
            "\u{2003}x",
            "x\u{2003}",
            "\u{a0}",
            "Đ\u{a0} ",
            "x",
            "a  b",
            "1 ",
            " 1",
            "~\t",
            "\u{7f}x\u{7f}",
        ] {
            assert_eq!(trim_cell(cell), cell.trim(), "{cell:?}");
        }
    }

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
        assert_eq!(
            scan_lines(&p, b';', None).unwrap().gaps,
            vec![(1, 2), (2, 3)]
        );
    }

    #[test]
    fn a_file_splits_at_a_line_start_outside_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        let text = "a;b\n1;x\n\n3;\"two\n\nlines\"\n4;y\n5;z\n";
        std::fs::write(&p, text).unwrap();
        // Past byte 12 the next line end outside quotes closes record 1 (the quoted one).
        let (at, records) = scan_lines(&p, b';', Some(12)).unwrap().split.unwrap();
        assert_eq!(&text[at as usize..], "4;y\n5;z\n");
        assert_eq!(records, 2);
        // A literal quote inside a field: no split.
        std::fs::write(&p, format!("a;b\n1;12\"\n{}", &text[4..])).unwrap();
        assert_eq!(scan_lines(&p, b';', Some(12)).unwrap().split, None);
        std::fs::write(&p, text).unwrap();
        // Not past the last line end: nothing is left for a second half.
        assert_eq!(
            scan_lines(&p, b';', Some(text.len() as u64 - 1))
                .unwrap()
                .split,
            None
        );
    }

    /// Every row a sink was given, written out.
    #[derive(Default)]
    struct Seen(Vec<String>);

    impl RowSink for Seen {
        fn layout(&mut self, _: &RoleColumns) {}
        fn push(&mut self, r: RawRow<'_>) -> Result<(), IngestError> {
            self.0.push(format!(
                "{} {} {:?} {:?} {:?} {:?} {:?}",
                r.row, r.col, r.unit, r.indicator, r.period, r.value, r.disagg
            ));
            Ok(())
        }
    }

    /// A long-layout CSV of `rows` data rows (~4.5 MB for 150,000), lines as a list.
    fn long_csv(rows: usize) -> Vec<Vec<u8>> {
        let mut lines = vec!["Mã đơn vị;Kỳ;Chỉ tiêu;Phân tổ;Giá trị".as_bytes().to_vec()];
        for i in 0..rows {
            let disagg = if i % 7 == 0 { "gioi_tinh=nu" } else { "" };
            let line = format!(
                "{:05};2024-{:02};XH02;{disagg};{},5",
                i % 10_000,
                i % 12 + 1,
                i
            );
            lines.push(line.into_bytes());
        }
        lines
    }

    /// What seeded reading tests start from: the catalogue, a file in a scratch folder, the
    /// lines of a long CSV of 150,000 rows to edit, and the random numbers.
    struct Cases {
        cat: Catalogue,
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        base: Vec<Vec<u8>>,
        rng: rand_chacha::ChaCha8Rng,
    }

    fn cases(seed: u64) -> Cases {
        use rand::SeedableRng;
        let dir = tempfile::tempdir().unwrap();
        Cases {
            cat: Catalogue::load(&crate::assets_dir().join("catalogue/catalogue.toml")).unwrap(),
            path: dir.path().join("t.csv"),
            _dir: dir,
            base: long_csv(150_000),
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Writes `lines` to `path`, each ended by `eol`, after a byte-order mark if `bom`; the
    /// last line without its end if `open_end`.
    fn write_lines(path: &Path, lines: &[Vec<u8>], bom: bool, eol: &[u8], open_end: bool) {
        let mut text = Vec::new();
        if bom {
            text.extend_from_slice("\u{feff}".as_bytes());
        }
        for l in lines {
            text.extend_from_slice(l);
            text.extend_from_slice(eol);
        }
        if open_end {
            text.truncate(text.len() - eol.len());
        }
        std::fs::write(path, &text).unwrap();
    }

    /// Asserts that a reading (`got`, the values its sink saw) gives what `want` gave: errors,
    /// and for a file read without error, rows, empty cells and every value in order.
    fn assert_read_alike(what: &str, got: (&Staged, &[String]), want: (&Staged, &[String])) {
        assert_eq!(got.0.errors, want.0.errors, "{what}: errors");
        if !want.0.errors.is_empty() {
            return;
        }
        assert_eq!(got.0.rows_read, want.0.rows_read, "{what}: rows read");
        assert_eq!(
            got.0.empty_cells_skipped, want.0.empty_cells_skipped,
            "{what}: empty cells"
        );
        assert_eq!(got.1.len(), want.1.len(), "{what}: values");
        if let Some(i) = got.1.iter().zip(want.1).position(|(x, y)| x != y) {
            panic!("{what}: value {i}: {} vs {}", got.1[i], want.1[i]);
        }
    }

    /// The same file read on one thread and in two halves on two threads must give the same
    /// rows (the halves' in file order), counts and errors, whatever the file holds around the
    /// split: quoted line breaks, blank lines, stray quotes, CRLF, a BOM, ragged rows, bad
    /// UTF-8, an unclosed quote. Seeded, so a failure replays.
    #[test]
    fn a_csv_read_in_two_halves_reads_as_on_one_thread() {
        use rand::Rng;
        let mut c = cases(12);
        let (cat, path, rng) = (&c.cat, c.path.clone(), &mut c.rng);
        let (mut clean_split, mut clean) = (0, 0);
        for case in 0..40 {
            let mut lines = c.base.clone();
            let n = lines.len();
            // The line where the file's second half starts (roughly: later lines are longer).
            let total: usize = lines.iter().map(|l| l.len() + 1).sum();
            let byte_middle = lines
                .iter()
                .scan(0, |sum, l| {
                    *sum += l.len() + 1;
                    Some(*sum)
                })
                .position(|sum| sum > total / 2)
                .unwrap_or(n / 2);
            // Most edits land near the middle, where the split is looked for.
            let near_middle = |rng: &mut rand_chacha::ChaCha8Rng| {
                let spread = if rng.random_bool(0.7) { 400 } else { n / 2 - 2 };
                (byte_middle + rng.random_range(0..2 * spread))
                    .saturating_sub(spread)
                    .clamp(1, n - 1)
            };
            // Benign edits everywhere; one that stops the split or fails the file now and then.
            // The first case for sure: a stray quote before the middle, a quoted line break
            // after it.
            let hard = case == 0 || rng.random_bool(0.3);
            for k in 0..rng.random_range(1..6) {
                let at = if case == 0 {
                    byte_middle - 10
                } else {
                    near_middle(rng)
                };
                let edit = if case == 0 && k == 0 {
                    9
                } else if hard && k == 0 {
                    [3, 4, 6, 7, 9, 9][rng.random_range(0..6)]
                } else {
                    [0, 1, 2, 5, 8][rng.random_range(0..5)]
                };
                match edit {
                    // A quoted field with line breaks, delimiters and escaped quotes.
                    0 => {
                        let q = b"00001;2024-01;XH02;\"ghi ch\xc3\xba\n\nd\xc3\xb2ng 2; \"\"x\"\"\r\n\";7".to_vec();
                        lines.insert(at, q);
                    }
                    1 => lines.insert(at, Vec::new()),
                    2 => lines.insert(at, b"\r".to_vec()),
                    // A stray quote inside an unquoted field.
                    3 => lines[at].extend_from_slice(b"\"9"),
                    4 => lines[at].extend_from_slice(b";;;extra"),
                    5 => {
                        let keep = lines[at].len() / 2;
                        lines[at].truncate(keep);
                    }
                    6 => lines[at].extend_from_slice(&[0xff, 0xfe]),
                    7 => lines.insert(at, b"\"".to_vec()),
                    // A stray quote, then a quoted line break a little later: a scan that
                    // took the stray quote for an opening one would see the break as a line end.
                    9 => {
                        lines[at].extend_from_slice(b"\"9");
                        let later = (at + rng.random_range(20..600)).min(lines.len());
                        lines.insert(later, b"00002;2024-02;XH02;\"a\nb\";8".to_vec());
                    }
                    _ => lines.insert(at, b"   ".to_vec()),
                }
            }
            let eol: &[u8] = if rng.random_bool(0.3) { b"\r\n" } else { b"\n" };
            let bom = rng.random_bool(0.2);
            write_lines(&path, &lines, bom, eol, false);

            let mut one = Seen::default();
            let single = stage_csv_on(&mut one, None, cat, &path).unwrap();
            let (mut a, mut b) = (Seen::default(), Seen::default());
            let halves = stage_csv_halves(&mut a, &mut b, cat, &path).unwrap();
            if single.errors.is_empty() {
                clean += usize::from(!hard);
                clean_split += usize::from(!hard && !b.0.is_empty());
            }
            let merged: Vec<String> = a.0.into_iter().chain(b.0).collect();
            assert_read_alike(
                &format!("case {case}"),
                (&halves, &merged),
                (&single, &one.0),
            );
        }
        // The comparison means something only if the files without a hard edit were split.
        assert!(
            clean_split == clean && clean >= 20,
            "{clean_split} of {clean} files without a hard edit were split"
        );
    }

    /// The scan on two threads must find what the scan on one thread finds, wherever the
    /// middle falls: between records, in blank lines, inside a quoted field with line breaks
    /// (scanned again on one thread), after a stray quote, with CRLF line ends.
    #[test]
    fn a_scan_in_halves_finds_what_one_scan_finds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let row = "00001;2024-01;XH02;7\n";
        for (case, middle) in [
            "",
            "\n\n\n",
            "\"quoted\n\nline breaks\";1;2;3\n",
            "00002;2024-02;XH02;9\"stray\n",
            "\r\n   \r\n\r\n",
            "\"\n",
        ]
        .iter()
        .enumerate()
        {
            // The middle of the file moves across `middle` as the line after it grows.
            for shift in (0..90).step_by(3) {
                let mut text = String::from("Mã;Kỳ;Chỉ tiêu;Giá trị\n");
                let half: String = row.repeat(400);
                text.push_str(&half);
                text.push_str(middle);
                text.push_str(&"x".repeat(shift));
                text.push('\n');
                text.push_str(&half);
                if case == 4 {
                    text = text.replace('\n', "\r\n");
                }
                std::fs::write(&path, &text).unwrap();
                let size = text.len() as u64;
                let one = scan_lines(&path, b';', Some(size / 2)).unwrap();
                let two = scan_lines_in_halves(&path, b';', size).unwrap();
                assert_eq!(two, one, "case {case}, shift {shift}");
                // A plain file is split: the comparison is of two splits, not two refusals.
                if case <= 1 {
                    assert!(two.split.is_some(), "case {case}, shift {shift}");
                }
            }
        }
    }

    /// A file without quotes read by the quote-free reader must give what the `csv` crate
    /// gives, on one thread and in halves: rows, their numbers, cells, counts and errors,
    /// whatever the line ends (LF, CRLF, a lone CR), blank and space-only lines, ragged rows,
    /// bad UTF-8, a BOM, a last line without its end, a record longer than the reader's buffer.
    /// Seeded, so a failure replays.
    #[test]
    fn a_csv_without_quotes_reads_as_the_csv_crate_reads_it() {
        use rand::Rng;
        let mut c = cases(21);
        let (cat, path, rng) = (&c.cat, c.path.clone(), &mut c.rng);
        let (mut split, mut bad) = (0, 0);
        for case in 0..30 {
            let mut lines = c.base.clone();
            let n = lines.len();
            for _ in 0..rng.random_range(1..8) {
                let at = rng.random_range(1..n);
                match rng.random_range(0..9) {
                    0 => lines.insert(at, Vec::new()),
                    1 => lines.insert(at, b"\r".to_vec()),
                    2 => lines.insert(at, b"  ;  ; ;;".to_vec()),
                    3 => lines[at].extend_from_slice(b";;;extra"),
                    4 => lines[at].extend_from_slice(b";;"),
                    5 => {
                        let keep = lines[at].len() / 2;
                        lines[at].truncate(keep);
                    }
                    6 if rng.random_bool(0.3) => lines[at].extend_from_slice(&[0xff, 0xfe]),
                    // A lone CR inside a line: both readers end the record there.
                    7 if lines[at].len() > 6 => lines[at].insert(6, b'\r'),
                    // Longer than the reader's 1 MiB buffer.
                    8 if case % 10 == 3 => lines.insert(at, vec![b' '; (1 << 20) + 77]),
                    _ => lines.insert(at, b"   ".to_vec()),
                }
            }
            let eol: &[u8] = match rng.random_range(0..3) {
                0 => b"\n",
                1 => b"\r\n",
                _ => b"\n\n",
            };
            let (bom, open_end) = (rng.random_bool(0.2), rng.random_bool(0.3));
            write_lines(&path, &lines, bom, eol, open_end);
            // The file is one the quote-free reader takes.
            assert!(
                !scan_lines(&path, b';', None).unwrap().quotes,
                "case {case}"
            );

            WITH_CSV_CRATE.with(|c| c.set(true));
            let mut crate_rows = Seen::default();
            let by_crate = stage_csv_on(&mut crate_rows, None, cat, &path).unwrap();
            WITH_CSV_CRATE.with(|c| c.set(false));
            let mut plain_rows = Seen::default();
            let plain = stage_csv_on(&mut plain_rows, None, cat, &path).unwrap();
            let (mut a, mut b) = (Seen::default(), Seen::default());
            let halves = stage_csv_halves(&mut a, &mut b, cat, &path).unwrap();
            let want = (&by_crate, &crate_rows.0[..]);
            assert_read_alike(
                &format!("case {case}, one thread"),
                (&plain, &plain_rows.0),
                want,
            );
            split += usize::from(!b.0.is_empty());
            let merged: Vec<String> = a.0.into_iter().chain(b.0).collect();
            assert_read_alike(&format!("case {case}, halves"), (&halves, &merged), want);
            bad += usize::from(!by_crate.errors.is_empty());
        }
        // Both kinds of file met, and most files split.
        assert!(
            (2..=20).contains(&bad) && split >= 10,
            "{bad} bad files, {split} split"
        );
    }

    /// A JSON body parsed from memory and streamed must give the same records and errors:
    /// the two parsers hand strings over differently (borrowed or copied), and errors carry
    /// positions. Seeded edits: escapes, numbers as text, nested values, missing or unknown
    /// fields, truncation, trailing text, a bare array.
    #[test]
    fn a_json_body_reads_the_same_from_memory_and_streamed() {
        use rand::{Rng, SeedableRng};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (mut valid, mut invalid) = (0, 0);
        for case in 0..60 {
            let mut records = Vec::new();
            for i in 0..rng.random_range(1..200) {
                let value = match rng.random_range(0..6) {
                    0 => format!("\"{i}.{},5\"", i % 1000),
                    1 => "null".to_owned(),
                    2 => format!("{i}e-1"),
                    3 => "{\"a\": [1, {\"b\": 2}]}".to_owned(),
                    _ => format!("{}", i as f64 * 1.5),
                };
                let unit = match rng.random_range(0..5) {
                    0 => "\"H\\u00e0 N\\u1ed9i\"".to_owned(),
                    1 => "\"Th\u{e0}nh ph\u{1ed1} \\\"H\u{1ed3} Ch\u{ed} Minh\\\"\"".to_owned(),
                    2 => "79".to_owned(),
                    _ => format!("\"{:05}\"", i),
                };
                let mut fields = vec![
                    format!("\"ma_chi_tieu\": \"XH02\""),
                    format!("\"don_vi\": {unit}"),
                    format!("\"ky\": \"Th\u{e1}ng {}/2025\"", i % 12 + 1),
                    format!("\"gia_tri\": {value}"),
                ];
                if rng.random_bool(0.2) {
                    fields.push("\"phan_to\": \"gioi_tinh=nu\"".to_owned());
                }
                if rng.random_bool(0.1) {
                    fields.push("\"ghi_chu\": [\"x\", {\"y\": null}]".to_owned());
                }
                if rng.random_bool(0.05) {
                    fields.remove(rng.random_range(0..fields.len()));
                }
                records.push(format!("{{{}}}", fields.join(", ")));
            }
            let list = format!("[{}]", records.join(",\n"));
            let mut body = match rng.random_range(0..3) {
                0 => list,
                1 => format!("{{\"locale\": \"vi-VN\", \"records\": {list}}}"),
                _ => format!("{{\"ban_ghi\": {list}, \"period\": \"2025-07\"}}"),
            };
            match rng.random_range(0..6) {
                0 => {
                    let cut = rng.random_range(1..body.len());
                    let cut = (0..=cut)
                        .rev()
                        .find(|&c| body.is_char_boundary(c))
                        .unwrap_or(0);
                    body.truncate(cut);
                }
                1 => body.push_str(" x"),
                2 => body = body.replacen("\": ", "\" ", 1),
                _ => {}
            }
            std::fs::write(&path, &body).unwrap();
            let (mut mem, mut streamed) = (Seen::default(), Seen::default());
            let a = stage_json_within(&mut mem, &path, u64::MAX).unwrap();
            let b = stage_json_within(&mut streamed, &path, 0).unwrap();
            assert_eq!(a.errors, b.errors, "case {case}: errors");
            assert_eq!(a.rows_read, b.rows_read, "case {case}: records");
            assert_eq!(mem.0, streamed.0, "case {case}: rows");
            if a.errors.is_empty() {
                assert_eq!(
                    mem.0.len() as u64,
                    a.rows_read,
                    "case {case}: a row per record"
                );
                valid += 1;
            } else {
                invalid += 1;
            }
        }
        assert!(
            valid >= 20 && invalid >= 10,
            "{valid} valid, {invalid} invalid bodies"
        );
    }

    /// A Windows-1258 file of several read chunks comes out as the composed UTF-8 text it was
    /// made from, whatever falls on a chunk's edge.
    #[test]
    fn a_windows_1258_file_is_copied_into_composed_utf8() {
        use unicode_normalization::UnicodeNormalization;
        const TONES: [char; 5] = ['\u{300}', '\u{301}', '\u{303}', '\u{309}', '\u{323}'];
        let line = "Phường Sài Gòn;Tháng 8/2025;Số trẻ em được đăng ký khai sinh;Đắk Lắk;1.234\n";
        let text = line.repeat(40_000);
        // As Windows writes it: â ă ê ô ơ ư đ as one byte each, tone marks combining after.
        let mut windows = String::new();
        for c in text.chars() {
            let (tones, rest): (Vec<char>, Vec<char>) =
                c.to_string().nfd().partition(|m| TONES.contains(m));
            windows.extend(rest.into_iter().nfc());
            windows.extend(tones);
        }
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1258.encode(&windows);
        assert!(!unmappable);
        assert!(
            bytes.len() > 3 << 20,
            "{} bytes: one read chunk",
            bytes.len()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, &bytes).unwrap();
        assert!(looks_windows_1258(&path).unwrap());
        let copy = transcode_windows_1258(&path).unwrap();
        assert!(std::fs::read_to_string(copy.path()).unwrap() == text);
        // The same text in UTF-8 is left as it is.
        std::fs::write(&path, &text).unwrap();
        assert!(!looks_windows_1258(&path).unwrap());
    }

    #[test]
    fn column_letters_follow_spreadsheets() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
    }
}
