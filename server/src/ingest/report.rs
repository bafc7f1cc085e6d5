//! What an upload answers: accepted or rejected, counts, the locale it was read in, and a list
//! of row-level errors and warnings, each saying where (row, column, field), what was found,
//! why it is wrong and what to write instead.

use serde::{Deserialize, Serialize};

/// At most this many errors (and, separately, warnings) are listed; the totals are exact.
pub const MAX_LISTED: usize = 1000;

/// Machine-readable kind of a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The file cannot be read as the stated format.
    BadFile,
    /// A required column is missing or repeated.
    MissingColumn,
    /// A header is neither a known column nor an indicator.
    UnknownColumn,
    /// A required cell is empty.
    EmptyCell,
    UnknownIndicator,
    /// The indicator is computed from others (a ratio) and cannot be uploaded.
    ComputedIndicator,
    UnknownUnit,
    /// Several units share the name given.
    AmbiguousUnit,
    /// The unit did not exist at the end of the period (2025 reorganisation).
    UnitNotInForce,
    /// The unit's level does not report this indicator under any regime.
    WrongLevel,
    BadPeriod,
    /// The period is not of the indicator's reporting frequency.
    WrongFrequency,
    /// The period has not ended yet... or not begun.
    FuturePeriod,
    NotANumber,
    /// A negative value for an indicator that cannot be negative.
    NegativeValue,
    /// The same indicator, unit, period (and disaggregation) appears twice.
    DuplicateRow,
    /// The upload is larger than the server accepts.
    TooLarge,
    /// Warning: the value moved far from the previous period's.
    Outlier,
}

/// One problem, located as precisely as the format allows.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// 1-based row in the file as a spreadsheet shows it (header = row 1 in CSV), or the
    /// 1-based record number in JSON; absent for whole-file problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// Column letter (A, B, ... AA) for tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The column header or JSON field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The offending text, as found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub code: ErrorCode,
    pub reason: String,
    /// What to do about it.
    pub hint: String,
}

impl RowError {
    pub fn file(code: ErrorCode, reason: String, hint: String) -> Self {
        RowError {
            row: None,
            column: None,
            field: None,
            value: None,
            code,
            reason,
            hint,
        }
    }

    pub fn header(col: usize, header: &str, code: ErrorCode, reason: String, hint: String) -> Self {
        RowError {
            row: Some(1),
            column: Some(column_letter(col)),
            field: Some(header.to_owned()),
            value: Some(header.to_owned()),
            code,
            reason,
            hint,
        }
    }
}

/// Spreadsheet column letter of a 0-based index: 0 → A, 25 → Z, 26 → AA.
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// How numbers and dates in the upload were read.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LocaleInfo {
    /// "vi-VN" or "en".
    pub code: String,
    pub thousands_separator: String,
    pub decimal_separator: String,
    pub date_format: String,
    pub description: String,
}

/// Outcome of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    /// Stored; `values_new + values_revised` values changed.
    Accepted,
    /// Valid, but every value equals the current one: nothing changed.
    Unchanged,
    /// The same bytes with the same options were accepted before: nothing changed.
    Duplicate,
    /// Errors found: nothing stored.
    Rejected,
}

/// The answer to `POST /api/uploads`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UploadReport {
    pub status: UploadStatus,
    /// Submission id (for provenance); for a duplicate, the earlier submission.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submission: Option<i64>,
    /// Data version after this upload.
    pub version: i64,
    pub format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    pub locale: LocaleInfo,
    /// The text encoding the file was read in: "UTF-8", "UTF-16LE" (Excel's "Unicode text") or
    /// "windows-1258" (Excel's plain "CSV" on a Vietnamese Windows). Absent for Excel workbooks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// "long" (one value per row) or "wide" (one column per indicator), or "records" (JSON).
    pub layout: String,
    pub rows_read: u64,
    pub values_read: u64,
    /// Empty cells of wide tables, taken as "not reported".
    pub empty_cells_skipped: u64,
    pub values_new: u64,
    pub values_revised: u64,
    pub values_unchanged: u64,
    /// Served values (ancestors, periods, ratios included) that changed.
    pub cells_changed: u64,
    pub indicators: Vec<String>,
    pub periods: Vec<String>,
    pub errors_total: u64,
    pub errors: Vec<RowError>,
    pub warnings_total: u64,
    pub warnings: Vec<RowError>,
    pub elapsed_ms: u64,
    /// When the upload was committed (ms since 1970, UTC); absent unless accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_at_ms: Option<i64>,
    /// The same instant in microseconds, for latency measurements finer than a millisecond.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_at_us: Option<i64>,
    /// Where the time went.
    pub phases_ms: Phases,
}

/// Milliseconds spent in each phase of an upload.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Phases {
    /// Reading the file into the staging table.
    pub read: u64,
    /// Resolving codes, names, periods and numbers; finding errors and warnings.
    pub validate: u64,
    /// Appending to the history and replacing current values.
    pub store: u64,
    /// Re-aggregating ancestors, periods and ratios.
    pub aggregate: u64,
    /// Committing, and checkpointing when the write-ahead log has grown.
    pub commit: u64,
}
