//! `/gui-bao-cao`: a reporter picks a file and sends it; the answer is the upload's report as a
//! page — what was stored, or, when anything is wrong, nothing stored and a table of every error
//! with its row, column and what to write instead.

use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use maud::{Markup, html};

use dieuhanh_protocol::period::Period;

use crate::api::uploads::{receive, sender};
use crate::api::{ApiError, AppState};
use crate::ingest::report::{RowError, UploadReport, UploadStatus};
use crate::ingest::{Format, UploadOptions, parse_locale};

use super::{CATALOGUE_PATH, Page, UPLOAD_PATH, Visitor, bounded, count, page, refusal};

/// What the form holds besides the file, kept to fill the form again.
#[derive(Debug, Default)]
struct Fields {
    token: Option<String>,
    submitter: Option<String>,
    period: Option<String>,
    unit: Option<String>,
    sheet: Option<String>,
    locale: Option<String>,
}

enum Outcome {
    Report(Box<UploadReport>),
    Refused(ApiError),
}

pub(super) async fn form(State(state): State<AppState>, headers: HeaderMap) -> Page {
    let visitor = Visitor::of(&state, &headers, None);
    Page::new(StatusCode::OK, render(&visitor, &Fields::default(), None))
}

pub(super) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Page {
    let kept = Visitor::of(&state, &headers, None);
    let mut fields = Fields::default();
    let got = receive_form(
        &state,
        &headers,
        multipart,
        &mut fields,
        kept.token.as_deref(),
    )
    .await;
    let visitor = Visitor::of(&state, &headers, fields.token.take());
    let outcome = match got {
        Ok(report) => Outcome::Report(Box::new(report)),
        Err(e) => Outcome::Refused(e),
    };
    let status = match &outcome {
        Outcome::Report(r) if r.status == UploadStatus::Rejected => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Outcome::Report(_) => StatusCode::OK,
        Outcome::Refused(e) => e.status(),
    };
    // The token is not written back into the page; once accepted, the browser keeps it.
    let accepted = matches!(outcome, Outcome::Report(_));
    let visitor = visitor.confirmed(&state, accepted);
    Page::new(status, render(&visitor, &fields, Some(&outcome))).remembering(&visitor, accepted)
}

/// Reads the form's fields in order; the file, last on the form, is spooled and ingested as it
/// streams in, with the options read before it.
async fn receive_form(
    state: &AppState,
    headers: &HeaderMap,
    mut multipart: Multipart,
    f: &mut Fields,
    kept_token: Option<&str>,
) -> Result<UploadReport, ApiError> {
    let broke = |e: axum::extract::multipart::MultipartError| {
        ApiError::BadRequest(format!("the form broke off: {e}"))
    };
    while let Some(field) = multipart.next_field().await.map_err(broke)? {
        let name = field.name().unwrap_or("").to_owned();
        if name == "file" {
            let filename = field
                .file_name()
                .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_owned())
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    ApiError::BadRequest("no file was chosen: choose the report's file".into())
                })?;
            // By the name first: Windows labels a .csv as application/vnd.ms-excel.
            let format = Format::detect(None, Some(&filename))
                .or_else(|| Format::detect(field.content_type(), None))
                .ok_or_else(|| {
                    ApiError::Unsupported(format!(
                        "cannot tell the format of {filename:?}: send a .csv, .xlsx, .xls or \
                         .json file"
                    ))
                })?;
            let locale = f
                .locale
                .as_deref()
                .map(|l| {
                    parse_locale(l).ok_or_else(|| {
                        ApiError::BadRequest(format!("locale {l:?} is not vi or en"))
                    })
                })
                .transpose()?;
            let headers = super::own_origin_removed(headers);
            let (scope, submitter) = sender(
                state,
                &headers,
                f.token.as_deref().or(kept_token),
                f.submitter.clone(),
            )?;
            let opts = UploadOptions {
                format,
                filename: Some(filename),
                locale,
                period: f.period.clone(),
                unit: f.unit.clone(),
                sheet: f.sheet.clone(),
                submitter,
                scope,
            };
            let report = receive(state, opts, field).await?;
            // Fields after the file are ignored: the options were fixed when it was read.
            return Ok(report);
        }
        let value = bounded(&name, short_text(field).await.map_err(broke)?)?;
        match name.as_str() {
            "token" => f.token = value,
            "submitter" => f.submitter = value,
            "period" => f.period = value,
            "unit" => f.unit = value,
            "sheet" => f.sheet = value,
            "locale" => f.locale = value,
            _ => {}
        }
    }
    Err(ApiError::BadRequest(
        "the form had no file: choose the report's file".into(),
    ))
}

/// A text field's bytes, read up to a little past what [`bounded`] allows, so that a field of
/// any length costs no more memory than that.
async fn short_text(
    mut field: axum::extract::multipart::Field<'_>,
) -> Result<String, axum::extract::multipart::MultipartError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > 4097 {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn render(visitor: &Visitor, f: &Fields, outcome: Option<&Outcome>) -> Markup {
    let locale = f.locale.as_deref().unwrap_or("vi");
    page(
        "Gửi báo cáo",
        html! {
            @match outcome {
                Some(Outcome::Report(r)) => (report(r)),
                Some(Outcome::Refused(e)) => (refusal("Chưa gửi được.", e)),
                None => {}
            }
            form method="post" action=(UPLOAD_PATH) enctype="multipart/form-data" {
                (visitor.token_field("(token của người báo cáo)"))
                label for="submitter" { "Người gửi " small { "(họ tên, đơn vị; ghi vào nguồn số liệu)" } }
                input #submitter type="text" name="submitter" value=[f.submitter.as_deref()];
                label for="period" { "Kỳ báo cáo " small { "(cho các dòng không ghi kỳ, ví dụ Tháng 10/2026, Quý III/2026)" } }
                input #period type="text" name="period" value=[f.period.as_deref()];
                label for="unit" { "Mã đơn vị " small { "(cho các dòng không ghi đơn vị, ví dụ 04 hoặc mã xã)" } }
                input #unit type="text" name="unit" value=[f.unit.as_deref()];
                label for="sheet" { "Trang tính " small { "(tệp Excel; mặc định trang đầu)" } }
                input #sheet type="text" name="sheet" value=[f.sheet.as_deref()];
                label for="locale" { "Cách viết số" }
                select #locale name="locale" {
                    option value="vi" selected[locale == "vi"] { "Kiểu Việt Nam: 1.234.567,8" }
                    option value="en" selected[locale == "en"] { "Kiểu quốc tế: 1,234,567.8" }
                }
                label for="file" { "Tệp báo cáo " small { "(.csv, .xlsx, .xls hoặc .json)" } }
                input #file type="file" name="file" required
                    accept=".csv,.txt,.xlsx,.xls,.json,text/csv,application/json";
                button type="submit" { "Gửi báo cáo" }
                p.hint {
                    "Mã chỉ tiêu và mã đơn vị: xem " a href=(CATALOGUE_PATH) { "danh mục" } "; "
                    a href=(format!("{CATALOGUE_PATH}#bieu-mau")) { "tải biểu mẫu" } " để điền. "
                    "Bảng có dòng tiêu đề: các cột Mã đơn vị, Kỳ, Chỉ tiêu, Giá trị; hoặc mỗi chỉ \
                     tiêu một cột (mã như NS01 hoặc tên trong danh mục). Cả tệp được nhận, hoặc \
                     không dòng nào được lưu. Gửi lại đúng tệp đã gửi thì không có gì thay đổi."
                }
            }
            (visitor.sign_out())
        },
    )
}

/// The upload's report: what was stored, or why nothing was.
fn report(r: &UploadReport) -> Markup {
    let read_as = match &r.encoding {
        Some(enc) => format!("{} · mã hóa {enc}", r.locale.description),
        None => r.locale.description.clone(),
    };
    html! {
        @match r.status {
            UploadStatus::Accepted => div.box.ok role="status" {
                strong { "Đã nhận báo cáo." }
                " " (count(r.values_new)) " giá trị mới, " (count(r.values_revised))
                " giá trị sửa, " (count(r.values_unchanged)) " giữ nguyên, từ "
                (count(r.rows_read)) " dòng của tệp " (r.filename.as_deref().unwrap_or(""))
                ". Lần gửi số " (r.submission.unwrap_or_default())
                ", phiên bản dữ liệu " (r.version) "; màn hình điều hành đã cập nhật."
            },
            UploadStatus::Unchanged => div.box.ok role="status" {
                strong { "Không có gì thay đổi." }
                " Mọi giá trị trong tệp (" (count(r.values_read)) ") đã có sẵn đúng như vậy."
            },
            UploadStatus::Duplicate => div.box.ok role="status" {
                strong { "Tệp này đã được nhận trước đây" }
                " (lần gửi số " (r.submission.unwrap_or_default()) "): không ghi lại lần nữa."
            },
            UploadStatus::Rejected => div.box.bad role="alert" {
                strong { "Chưa nhận báo cáo: tệp có " (count(r.errors_total)) " lỗi." }
                " Không giá trị nào được lưu. Sửa các lỗi dưới đây rồi gửi lại cả tệp."
            },
        }
        @if r.status != UploadStatus::Rejected && (!r.indicators.is_empty() || !r.periods.is_empty()) {
            p.hint {
                "Chỉ tiêu: " (r.indicators.join(", ")) ". Kỳ: " (periods_vi(&r.periods)) "."
            }
        }
        p.hint { "Tệp " (r.format) ", đọc số theo: " (read_as) "." }
        @if !r.errors.is_empty() {
            h2 { "Lỗi" }
            (problems(&r.errors, r.errors_total))
        }
        @if !r.warnings.is_empty() {
            h2 { "Cảnh báo " small.hint { "(không chặn việc nhận; kiểm tra lại và gửi bản sửa nếu sai)" } }
            (problems(&r.warnings, r.warnings_total))
        }
    }
}

/// "Tháng 10/2026, Tháng 11/2026" from the report's period ids.
fn periods_vi(ids: &[String]) -> String {
    ids.iter()
        .map(|id| Period::parse(id).map_or_else(|_| id.clone(), |p| p.label_vi()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn problems(list: &[RowError], total: u64) -> Markup {
    html! {
        @if (list.len() as u64) < total {
            p { "Hiển thị " (count(list.len() as u64)) " đầu tiên trong " (count(total)) "." }
        }
        table {
            thead { tr { th { "Dòng" } th { "Cột" } th { "Tiêu đề" } th { "Giá trị" } th { "Lỗi và cách sửa" } } }
            tbody {
                @for e in list {
                    tr {
                        td.num { @if let Some(row) = e.row { (row) } }
                        td { (e.column.as_deref().unwrap_or("")) }
                        td { (e.field.as_deref().unwrap_or("")) }
                        td { (e.value.as_deref().unwrap_or("")) }
                        td { (e.advice_vi()) }
                    }
                }
            }
        }
    }
}
