//! `/danh-muc`: what a reporter needs to write a file — every indicator with its code, unit,
//! period and who sends it, and the official codes of the units (`/danh-muc?tinh=04` lists a
//! province's communes) — and each regime's template to fill in (`/danh-muc/bieu-mau`).

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use crate::api::{ApiError, AppState};
use crate::catalogue::{Aggregation, Indicator};
use crate::hierarchy::{Era, Level, Unit};

use super::{CATALOGUE_PATH, Page, TEMPLATE_PATH, page};

#[derive(Debug, Default, Deserialize)]
pub(super) struct Ask {
    /// A province's code: list its communes.
    #[serde(default)]
    tinh: Option<String>,
}

pub(super) async fn show(State(state): State<AppState>, Query(ask): Query<Ask>) -> Page {
    let h = state.store.hierarchy();
    let province = ask
        .tinh
        .as_deref()
        .map(|code| {
            h.by_code(Era::Since2025, code.trim())
                .filter(|u| u.level == Level::Province)
        })
        .map(|u| u.ok_or(()));
    let status = match province {
        Some(Err(())) => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    };
    type Rows = Vec<(String, String, Option<String>)>;
    let units: (String, Rows) = match province {
        Some(Ok(p)) => {
            let rows = h
                .descendants(p.uid, Level::Commune, Era::Since2025)
                .iter()
                .filter_map(|&u| h.unit(u))
                .map(|u| (u.code.clone(), u.full_name.clone(), None))
                .collect();
            (
                format!("Các xã, phường của {} ({})", p.full_name, p.code),
                rows,
            )
        }
        _ => {
            let nation = h.nation();
            let rows = h
                .descendants(nation.uid, Level::Province, Era::Since2025)
                .iter()
                .filter_map(|&u| h.unit(u))
                .map(|u| {
                    let link = format!("{CATALOGUE_PATH}?tinh={}#don-vi", u.code);
                    (u.code.clone(), u.full_name.clone(), Some(link))
                })
                .collect();
            ("Các tỉnh, thành phố (từ 01/07/2025)".to_owned(), rows)
        }
    };
    Page::new(
        status,
        page(
            "Danh mục chỉ tiêu và đơn vị",
            html! {
                @if status == StatusCode::NOT_FOUND {
                    div.box.bad role="alert" { "Không có tỉnh, thành phố với mã này; chọn trong danh sách dưới đây." }
                }
                p { "Trong tệp báo cáo, ghi chỉ tiêu bằng mã (hoặc đúng tên) và đơn vị bằng mã chính thức. \
                     Chỉ gửi số liệu của cấp báo cáo; số của cấp trên và các kỳ dài hơn do hệ thống tổng hợp." }
                p {
                    a href="#bieu-mau" { "Biểu mẫu báo cáo" } " · "
                    a href="#chi-tieu" { "Chỉ tiêu" } " · "
                    a href="#don-vi" { "Mã đơn vị hành chính" }
                }
                (template_form(&state))
                (indicators(&state))
                h2 #don-vi { (units.0) }
                (unit_table(&units.1))
            },
        ),
    )
}

fn indicators(state: &AppState) -> Markup {
    let cat = state.store.catalogue();
    html! {
        h2 #chi-tieu { "Chỉ tiêu" }
        @for d in &cat.domains {
            h3 { (d.name_vi) }
            table {
                thead { tr { th { "Mã" } th { "Chỉ tiêu" } th { "Đơn vị tính" } th { "Kỳ" } th { "Ai gửi" } th { "Bộ, ngành" } } }
                tbody {
                    @for i in cat.indicators.iter().filter(|i| i.domain == d.code) {
                        tr {
                            td { (i.code) }
                            td { (i.name_vi) }
                            td { (i.unit) }
                            td { (i.frequency.label_vi()) }
                            td {
                                @if i.aggregation == Aggregation::Ratio {
                                    "Không gửi: hệ thống tính từ "
                                    (i.numerator.as_deref().unwrap_or("")) " và "
                                    (i.denominator.as_deref().unwrap_or(""))
                                } @else {
                                    @for (n, r) in cat.regimes_of(&i.code).enumerate() {
                                        @if n > 0 { "; " }
                                        (r.level.label_vi()) " (" (r.code) ")"
                                    }
                                }
                            }
                            td { (cat.agency(&i.agency).map_or(i.agency.as_str(), |a| a.name.as_str())) }
                        }
                    }
                }
            }
        }
    }
}

fn unit_table(rows: &[(String, String, Option<String>)]) -> Markup {
    html! {
        table {
            thead { tr { th { "Mã" } th { "Tên" } } }
            tbody {
                @for (code, name, link) in rows {
                    tr {
                        td { (code) }
                        td {
                            @match link {
                                Some(l) => a href=(l) { (name) },
                                None => (name),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What a template is asked for.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TemplateAsk {
    #[serde(default)]
    regime: Option<String>,
    /// The province whose communes (or which alone, for a provinces' regime) fill the rows.
    #[serde(default)]
    tinh: Option<String>,
    /// The period; the latest that has ended by default.
    #[serde(default)]
    period: Option<String>,
}

/// A regime's template (biểu mẫu) as a CSV that Excel opens: one row per reporting unit with
/// its code, name and the period filled in, one column per indicator named as the catalogue
/// names it, the values left for the reporter. Sent back filled in, it uploads as it is.
pub(super) async fn template(
    State(state): State<AppState>,
    Query(ask): Query<TemplateAsk>,
) -> Response {
    match template_csv(&state, &ask) {
        Ok((name, body)) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            let body = html! {
                (super::refusal("Chưa tạo được biểu mẫu.", &e))
                p { a href=(format!("{CATALOGUE_PATH}#bieu-mau")) { "Chọn lại biểu mẫu" } }
            };
            Page::new(e.status(), page("Biểu mẫu báo cáo", body)).into_response()
        }
    }
}

fn template_csv(state: &AppState, ask: &TemplateAsk) -> Result<(String, Vec<u8>), ApiError> {
    let cat = state.store.catalogue();
    let h = state.store.hierarchy();
    let code = ask
        .regime
        .as_deref()
        .ok_or_else(|| ApiError::BadRequest("choose a regime".into()))?;
    let regime = cat.regime(code).ok_or_else(|| {
        ApiError::NotFound(format!("no regime {code:?}; the catalogue page lists them"))
    })?;
    let period = match ask.period.as_deref() {
        Some(p) => {
            let p = crate::api::period_param("period", p)?;
            regime.period_fits(&p).map_err(ApiError::BadRequest)?;
            p
        }
        None => super::latest_ended(regime.frequency),
    };
    let province = match ask.tinh.as_deref() {
        None => None,
        Some(t) => Some(
            h.by_code(Era::of_period(&period), t.trim())
                .filter(|u| u.level == Level::Province)
                .ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "no province {t:?} in {}; the catalogue page lists the codes",
                        period.label_vi()
                    ))
                })?,
        ),
    };
    let units: Vec<&Unit> = match (regime.level, province) {
        (Level::Nation, _) => vec![h.nation()],
        (Level::Province, Some(p)) => vec![p],
        (level, Some(p)) => h
            .descendants(p.uid, level, Era::of_period(&period))
            .iter()
            .filter_map(|&u| h.unit(u))
            .collect(),
        (Level::Province, None) => h
            .descendants(h.nation().uid, Level::Province, Era::of_period(&period))
            .iter()
            .filter_map(|&u| h.unit(u))
            .collect(),
        (_, None) => {
            return Err(ApiError::BadRequest(format!(
                "regime {} is reported by communes: give the province (tinh=04) whose communes \
                 the template lists",
                regime.code
            )));
        }
    };
    let indicators: Vec<&Indicator> = regime
        .indicators
        .iter()
        .filter_map(|c| cat.indicator(c))
        .filter(|i| i.aggregation != Aggregation::Ratio)
        .collect();
    let mut out = Vec::from(&b"\xEF\xBB\xBF"[..]);
    {
        // Semicolons: the list separator of a Vietnamese Windows, where the comma is the
        // decimal mark, so Excel opens it in columns.
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(&mut out);
        let mut head = vec![
            "Mã đơn vị".to_owned(),
            "Tên đơn vị".to_owned(),
            "Kỳ".to_owned(),
        ];
        head.extend(
            indicators
                .iter()
                .map(|i| format!("{} ({})", i.name_vi, i.unit)),
        );
        let write = |w: &mut csv::Writer<&mut Vec<u8>>, row: &[String]| {
            w.write_record(row)
                .map_err(|e| ApiError::Internal(format!("writing a template: {e}")))
        };
        write(&mut w, &head)?;
        for u in &units {
            let mut row = vec![u.code.clone(), u.full_name.clone(), period.label_vi()];
            row.extend(indicators.iter().map(|_| String::new()));
            write(&mut w, &row)?;
        }
        w.flush()
            .map_err(|e| ApiError::Internal(format!("writing a template: {e}")))?;
    }
    let place = province.map_or("VN".to_owned(), |p| p.code.clone());
    let name = format!("bieu-mau-{}-{place}-{}.csv", regime.code, period.id());
    Ok((name, out))
}

/// The form that downloads a template.
fn template_form(state: &AppState) -> Markup {
    let cat = state.store.catalogue();
    html! {
        h2 #bieu-mau { "Biểu mẫu báo cáo" }
        p { "Tải biểu mẫu của một chế độ báo cáo: mỗi đơn vị báo cáo một dòng, đã ghi mã, tên và kỳ; \
             điền số liệu vào các cột chỉ tiêu (ô nào chưa có số thì để trống) rồi "
            a href=(super::UPLOAD_PATH) { "gửi lại tệp" } "." }
        form method="get" action=(TEMPLATE_PATH) {
            label for="t-regime" { "Chế độ báo cáo" }
            select #t-regime name="regime" required {
                @for r in &cat.regimes {
                    option value=(r.code) { (r.code) " — " (r.name) " (" (r.level.label_vi().to_lowercase()) ")" }
                }
            }
            label for="t-tinh" { "Mã tỉnh " small { "(báo cáo cấp xã: bắt buộc, liệt kê các xã của tỉnh; cấp tỉnh: để trống là cả 34 tỉnh)" } }
            input #t-tinh type="text" name="tinh";
            label for="t-period" { "Kỳ " small { "(để trống: kỳ gần nhất đã kết thúc)" } }
            input #t-period type="text" name="period";
            button type="submit" { "Tải biểu mẫu (CSV)" }
        }
    }
}
