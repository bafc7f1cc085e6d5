//! `/danh-muc`: what a reporter needs to write a file — every indicator with its code, unit,
//! period and who sends it, and the official codes of the units (`/danh-muc?tinh=04` lists a
//! province's communes). The errors of an upload point here.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;

use crate::api::AppState;
use crate::catalogue::Aggregation;
use crate::hierarchy::{Era, Level};

use super::{CATALOGUE_PATH, Page, page};

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
                p { a href="#chi-tieu" { "Chỉ tiêu" } " · " a href="#don-vi" { "Mã đơn vị hành chính" } }
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
