//! What an upload answers: accepted or rejected, counts, the locale it was read in, and a list
//! of row-level errors and warnings, each saying where (row, column, field), what was found,
//! why it is wrong and what to write instead.

use dieuhanh_protocol::number::{Locale, NumberError, parse_number};
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
    /// The sender's token does not cover this unit or this ministry's indicator.
    OutOfScope,
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
    /// The same in Vietnamese for the person who made the file: where, what was found, what
    /// is wrong and what to do, e.g. "Dòng 12, cột C (Mã đơn vị) “79x”: không có đơn vị hành
    /// chính với mã hoặc tên này. Ghi mã đơn vị chính thức: …". `reason` and `hint` say it in
    /// English, in more detail (a suggested spelling, the expected frequency).
    pub message_vi: String,
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
            message_vi: String::new(),
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
            message_vi: String::new(),
        }
    }

    /// Writes [`RowError::message_vi`] from the other fields. Done once the report is complete,
    /// when rows read on another thread have their final numbers.
    pub fn say_in_vietnamese(&mut self) {
        let mut at = match (self.row, &self.column, &self.field) {
            (Some(r), Some(c), Some(f)) => format!("Dòng {r}, cột {c} ({f})"),
            (Some(r), Some(c), None) => format!("Dòng {r}, cột {c}"),
            (Some(r), None, Some(f)) => format!("Dòng {r}, trường {f}"),
            (Some(r), None, None) => format!("Dòng {r}"),
            (None, _, Some(f)) => format!("Cột {f}"),
            (None, _, None) => "Tệp".to_owned(),
        };
        if let Some(v) = self.value.as_deref().filter(|v| !v.trim().is_empty()) {
            let shown: String = v.chars().take(60).collect();
            let cut = if shown.len() < v.len() { "…" } else { "" };
            at.push_str(&format!(" “{shown}{cut}”"));
        }
        self.message_vi = format!("{at}: {}", self.advice_vi());
    }

    /// What is wrong and what to do, in Vietnamese, without saying where: "không đọc được số.
    /// Ghi số theo kiểu Việt Nam, …". The reporters' page shows it beside the row and column.
    pub fn advice_vi(&self) -> String {
        let (what, todo) = match (self.code, self.value.as_deref()) {
            // The commonest slip: an English decimal point, read as thousands in Vietnam.
            (ErrorCode::NotANumber, Some(v))
                if matches!(
                    parse_number(v, Locale::Vi),
                    Err(NumberError::AmbiguousSeparator { .. })
                ) =>
            {
                (
                    "dấu chấm ở đây không rõ nghĩa: trong cách viết Việt Nam dấu chấm phân cách \
                 hàng nghìn",
                    "Số thập phân viết bằng dấu phẩy, ví dụ 1,5; hoặc gửi tệp với locale=en",
                )
            }
            (code, _) => code.vietnamese(),
        };
        format!("{what}. {todo}.")
    }
}

impl ErrorCode {
    /// What is wrong and what to do, in Vietnamese.
    fn vietnamese(self) -> (&'static str, &'static str) {
        match self {
            ErrorCode::BadFile => (
                "không đọc được tệp theo định dạng đã khai báo",
                "Lưu lại tệp dưới dạng Excel (.xlsx) hoặc CSV (UTF-8) rồi gửi lại",
            ),
            ErrorCode::MissingColumn => (
                "thiếu cột bắt buộc, hoặc một cột bị lặp lại",
                "Bảng cần các cột đơn vị, kỳ và chỉ tiêu (hoặc mỗi chỉ tiêu một cột) và giá trị; \
                 thêm cột còn thiếu hoặc xóa cột trùng",
            ),
            ErrorCode::UnknownColumn => (
                "tiêu đề cột không phải cột đã biết, cũng không phải mã hay tên chỉ tiêu",
                "Đặt tiêu đề theo mã chỉ tiêu (ví dụ NS01) hoặc tên trong danh mục chỉ tiêu, \
                 hoặc xóa cột",
            ),
            ErrorCode::EmptyCell => (
                "ô bắt buộc để trống",
                "Điền vào ô, hoặc xóa cả dòng nếu không báo cáo",
            ),
            ErrorCode::UnknownIndicator => (
                "không có chỉ tiêu với mã hoặc tên này trong danh mục",
                "Ghi mã chỉ tiêu trong danh mục (ví dụ NS01; xem trang Danh mục, /danh-muc)",
            ),
            ErrorCode::ComputedIndicator => (
                "chỉ tiêu này được tính từ các chỉ tiêu khác, không nhận số liệu gửi lên",
                "Gửi số liệu của các chỉ tiêu thành phần; hệ thống tự tính chỉ tiêu này",
            ),
            ErrorCode::UnknownUnit => (
                "không có đơn vị hành chính với mã hoặc tên này",
                "Ghi mã đơn vị chính thức: 2 chữ số cho tỉnh, 5 chữ số cho xã \
                 (xem trang Danh mục, /danh-muc)",
            ),
            ErrorCode::AmbiguousUnit => (
                "có nhiều đơn vị hành chính trùng tên này",
                "Ghi mã đơn vị chính thức thay cho tên",
            ),
            ErrorCode::UnitNotInForce => (
                "đơn vị không tồn tại vào ngày cuối của kỳ (sắp xếp đơn vị hành chính năm 2025)",
                "Báo cáo theo đơn vị đang tồn tại vào ngày cuối của kỳ",
            ),
            ErrorCode::WrongLevel => (
                "đơn vị này không thuộc cấp báo cáo chỉ tiêu",
                "Gửi số liệu của đơn vị đúng cấp; số của cấp trên được tổng hợp tự động",
            ),
            ErrorCode::BadPeriod => (
                "không đọc được kỳ báo cáo",
                "Ghi kỳ như “Tháng 7/2025”, “Quý III/2025”, “6 tháng đầu năm 2025”, \
                 “Năm 2025” hoặc 2025-07",
            ),
            ErrorCode::WrongFrequency => (
                "kỳ không đúng tần suất báo cáo của chỉ tiêu",
                "Báo cáo theo kỳ của chỉ tiêu (tháng, quý, 6 tháng hoặc năm); kỳ dài hơn và \
                 lũy kế do hệ thống tính",
            ),
            ErrorCode::FuturePeriod => (
                "kỳ báo cáo chưa kết thúc",
                "Chỉ gửi số liệu của kỳ đã kết thúc",
            ),
            ErrorCode::NotANumber => (
                "không đọc được số",
                "Ghi số theo kiểu Việt Nam, ví dụ 1.234.567,8, hoặc không có dấu phân cách \
                 hàng nghìn: 1234567,8",
            ),
            ErrorCode::NegativeValue => (
                "chỉ tiêu này không nhận giá trị âm",
                "Kiểm tra lại dấu trừ và con số",
            ),
            ErrorCode::DuplicateRow => (
                "trùng chỉ tiêu, đơn vị và kỳ với một dòng khác của tệp",
                "Giữ một dòng cho mỗi chỉ tiêu, đơn vị và kỳ; xóa dòng kia",
            ),
            ErrorCode::TooLarge => (
                "tệp vượt quá giới hạn hệ thống nhận",
                "Chia thành nhiều tệp nhỏ hơn, theo kỳ hoặc theo chỉ tiêu",
            ),
            ErrorCode::Outlier => (
                "số liệu chênh lệch lớn so với kỳ trước (cảnh báo: số liệu vẫn được nhận)",
                "Kiểm tra lại; nếu sai, gửi bản sửa",
            ),
            ErrorCode::OutOfScope => (
                "tài khoản gửi báo cáo không có quyền báo cáo cho đơn vị hoặc chỉ tiêu này",
                "Gửi bằng tài khoản của đơn vị, bộ ngành phụ trách; hoặc đề nghị quản trị hệ \
                 thống mở rộng quyền",
            ),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: ErrorCode, value: &str) -> RowError {
        let mut e = RowError {
            row: Some(12),
            column: Some("C".into()),
            field: Some("Mã đơn vị".into()),
            value: Some(value.into()),
            code,
            reason: String::new(),
            hint: String::new(),
            message_vi: String::new(),
        };
        e.say_in_vietnamese();
        e
    }

    #[test]
    fn a_problem_is_said_in_vietnamese_with_its_place_and_what_to_do() {
        let e = error(ErrorCode::UnknownUnit, "79x");
        assert_eq!(
            e.message_vi,
            "Dòng 12, cột C (Mã đơn vị) “79x”: không có đơn vị hành chính với mã hoặc tên này. \
             Ghi mã đơn vị chính thức: 2 chữ số cho tỉnh, 5 chữ số cho xã (xem trang Danh mục, \
             /danh-muc)."
        );
        // An English decimal point is named as such; other bad numbers get the general rule.
        assert!(
            error(ErrorCode::NotANumber, "1.5")
                .message_vi
                .contains("dấu phẩy, ví dụ 1,5")
        );
        assert!(
            !error(ErrorCode::NotANumber, "1.500.2")
                .message_vi
                .contains("ví dụ 1,5")
        );
        assert!(
            error(ErrorCode::NotANumber, "abc")
                .message_vi
                .contains("1.234.567,8")
        );
        // A long value is cut; a whole-file problem says so.
        assert!(
            error(ErrorCode::BadFile, &"x".repeat(200))
                .message_vi
                .contains("…”")
        );
        let mut whole = RowError::file(ErrorCode::TooLarge, String::new(), String::new());
        whole.say_in_vietnamese();
        assert!(
            whole.message_vi.starts_with("Tệp: "),
            "{}",
            whole.message_vi
        );
    }
}
