//! `/duyet-bao-cao`: an approver chooses a regime's report (which regime, which unit, which
//! period), sees where it stands — its state, each unit below with its own, every approval it
//! had — and approves it up. Looking needs any token; approving, an approver's.

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use maud::{Markup, html};
use serde::Deserialize;

use dieuhanh_protocol::period::Period;

use crate::api::approvals::{approve_as, approver};
use crate::api::{ApiError, AppState};
use crate::approval::{self, Approval, ApproveRequest, ReportState, Reports};
use crate::hierarchy::Era;
use crate::ingest::Scope;
use crate::live::Role;

use super::{APPROVE_PATH, Page, Visitor, count, field, page, refusal, vietnam_time};

/// The form's fields (all optional, so that a half-filled form is answered by the page).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Fields {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    regime: Option<String>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    approver: Option<String>,
    #[serde(default)]
    note: Option<String>,
    /// "xem" to look, "duyet" to approve.
    #[serde(default)]
    action: Option<String>,
}

impl Fields {
    fn tidy(self) -> Result<Fields, ApiError> {
        Ok(Fields {
            token: field("token", self.token)?,
            regime: field("regime", self.regime)?,
            unit: field("unit", self.unit)?,
            period: field("period", self.period)?,
            approver: field("approver", self.approver)?,
            note: field("note", self.note)?,
            action: field("action", self.action)?,
        })
    }

    fn request(&self) -> Result<ApproveRequest, ApiError> {
        let need = |v: &Option<String>, what: &str| {
            v.clone()
                .ok_or_else(|| ApiError::BadRequest(format!("choose the {what}")))
        };
        Ok(ApproveRequest {
            regime: need(&self.regime, "regime")?,
            unit: self.unit.clone().unwrap_or_else(|| "VN".into()),
            period: need(&self.period, "period")?,
            approver: self.approver.clone(),
            note: self.note.clone(),
        })
    }
}

/// Where one report stands, as the page shows it.
struct Standing {
    /// "Báo cáo thống kê hộ tịch (BC-HT) · Tháng 10/2026 · Tỉnh Cao Bằng (04)"
    title: String,
    regime: String,
    period: String,
    state: ReportState,
    version: Option<i64>,
    history: Vec<Approval>,
    /// "xã", "tỉnh": what the units below are.
    below_kind: &'static str,
    /// Each unit below, those short of approval first.
    below: Vec<Below>,
}

/// A unit below a report, as the page lists it.
struct Below {
    code: String,
    name: String,
    state: ReportState,
    /// Its latest approval, when it has one: "30/11/2026 14:05 · Nguyễn Văn An" (kept after a
    /// correction, which the state then says).
    approved: Option<String>,
}

/// What the page shows above its form.
#[derive(Default)]
struct Shown {
    notice: Option<Markup>,
    standing: Option<Standing>,
    /// An approver's reports of the latest periods, those to act on first.
    todo: Vec<Todo>,
}

/// One report an approver answers for: their unit's, in one regime, for its latest period.
struct Todo {
    regime: String,
    name: String,
    period: Period,
    due: String,
    state: ReportState,
    /// Units below approved, and all of them (none at the regime's own level).
    below: (usize, usize),
    link: String,
}

/// An approver's reports (a remembered approver's token): for each regime of their ministries
/// that their unit reports or adds up, the latest period that has ended, where it stands.
async fn todo(state: &AppState, visitor: &Visitor) -> Vec<Todo> {
    let Some(g) = visitor
        .remembered
        .clone()
        .filter(|g| g.role == Role::Approver)
    else {
        return Vec::new();
    };
    let cat = state.store.catalogue().clone();
    let h = state.store.hierarchy().clone();
    let got = state
        .store
        .read(move |conn| {
            let unit = match &g.unit {
                Some(code) => h.by_code(Era::Since2025, code),
                None => Some(h.nation()),
            };
            let Some(unit) = unit else {
                return Ok::<_, ApiError>(Vec::new());
            };
            let mut out = Vec::new();
            for r in cat.regimes.iter().filter(|r| {
                (g.agencies.is_empty() || g.agencies.contains(&r.agency)) && unit.level <= r.level
            }) {
                let period = super::latest_ended(r.frequency);
                let due = period.end_date().add_days(i32::from(r.deadline_days));
                let reports = Reports::load(conn, &h, r, period)?;
                let below = reports.below(unit);
                let approved = below
                    .iter()
                    .filter(|&&u| reports.state(u) == ReportState::Approved)
                    .count();
                out.push(Todo {
                    regime: r.code.clone(),
                    name: r.name.clone(),
                    period,
                    due: due.to_string(),
                    state: reports.state(unit.uid),
                    below: (approved, below.len()),
                    link: format!(
                        "{APPROVE_PATH}?regime={}&unit={}&period={}",
                        r.code,
                        unit.code,
                        period.id()
                    ),
                });
            }
            // What waits for this approver first, then what has not come in.
            out.sort_by_key(|t| match t.state {
                ReportState::AwaitingApproval | ReportState::ChangedSinceApproval => 0,
                ReportState::NotReported => 1,
                ReportState::Approved => 2,
            });
            Ok(out)
        })
        .await;
    got.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "an approver's reports could not be read");
        Vec::new()
    })
}

fn todo_view(list: &[Todo]) -> Markup {
    html! {
        h2 { "Báo cáo của đơn vị · kỳ gần nhất" }
        table {
            thead { tr { th { "Báo cáo" } th { "Kỳ" } th { "Hạn gửi" } th { "Tình trạng" } th { "Cấp dưới đã duyệt" } } }
            tbody {
                @for t in list {
                    tr {
                        td { a href=(t.link) { (t.name) " (" (t.regime) ")" } }
                        td { (t.period.label_vi()) }
                        td { (t.due) }
                        td class=(state_class(t.state)) { (t.state.label_vi()) }
                        td.num { @if t.below.1 > 0 { (count(t.below.0 as u64)) "/" (count(t.below.1 as u64)) } }
                    }
                }
            }
        }
    }
}

pub(super) async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(f): Query<Fields>,
) -> Page {
    let visitor = Visitor::of(&state, &headers, None);
    let f = match f.tidy() {
        Ok(f) => f,
        Err(e) => return refused(&state, &visitor, &e),
    };
    // A report picked by a link is shown at once to a browser that keeps a token (or on an
    // open server); otherwise the token comes first.
    let can_look = visitor.open || visitor.remembered.is_some();
    let standing = if can_look && f.regime.is_some() && f.period.is_some() {
        Some(seen(&state, &HeaderMap::new(), &visitor, &f).await)
    } else {
        None
    };
    let (status, notice) = match &standing {
        Some(Err(e)) => (e.status(), Some(refusal("Không xem được.", e))),
        _ => (StatusCode::OK, None),
    };
    let standing = standing.and_then(Result::ok);
    Page::new(
        status,
        render(
            &state,
            &visitor,
            &f,
            Shown {
                notice,
                standing,
                todo: todo(&state, &visitor).await,
            },
        ),
    )
}

/// A form that could not be read (a field too long): the empty form again, saying why.
fn refused(state: &AppState, visitor: &Visitor, e: &ApiError) -> Page {
    let notice = refusal("Chưa làm được.", e);
    let body = render(
        state,
        visitor,
        &Fields::default(),
        Shown {
            notice: Some(notice),
            ..Shown::default()
        },
    );
    Page::new(e.status(), body)
}

pub(super) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Page {
    let f = match f.tidy() {
        Ok(f) => f,
        Err(e) => return refused(&state, &Visitor::of(&state, &headers, None), &e),
    };
    let visitor = Visitor::of(&state, &headers, f.token.clone());
    let headers = super::own_origin_removed(&headers);
    let mut status = StatusCode::OK;
    let mut notice = None;
    if f.action.as_deref() == Some("duyet") {
        match approve(&state, &headers, &visitor, &f).await {
            Ok(message) => {
                notice = Some(html! { div.box.ok role="status" { (message) } });
            }
            Err(e) => {
                status = e.status();
                notice = Some(refusal("Chưa duyệt được.", &e));
            }
        }
    }
    let (standing, accepted) = match seen(&state, &headers, &visitor, &f).await {
        Ok(s) => (Some(s), true),
        Err(e) => {
            // An approval's refusal already says what is wrong.
            if notice.is_none() {
                status = e.status();
                notice = Some(refusal("Không xem được.", &e));
            }
            let accepted = !matches!(e, ApiError::Unauthorized(_) | ApiError::Forbidden(_));
            (None, accepted)
        }
    };
    let f = Fields { token: None, ..f };
    // A good token: the forms say whose it is, and the browser keeps it for the next page.
    let visitor = visitor.confirmed(&state, accepted);
    let shown = Shown {
        notice,
        standing,
        todo: todo(&state, &visitor).await,
    };
    Page::new(status, render(&state, &visitor, &f, shown)).remembering(&visitor, accepted)
}

/// A report's standing for a visitor whose token may read, as reading the API needs.
async fn seen(
    state: &AppState,
    headers: &HeaderMap,
    visitor: &Visitor,
    f: &Fields,
) -> Result<Standing, ApiError> {
    match state
        .live
        .config
        .auth
        .check(headers, visitor.token.as_deref())
    {
        Ok(_) => look(state, f).await,
        Err(r) if r.status == StatusCode::FORBIDDEN => Err(ApiError::Forbidden(r.message)),
        Err(r) => Err(ApiError::Unauthorized(r.message)),
    }
}

async fn approve(
    state: &AppState,
    headers: &HeaderMap,
    visitor: &Visitor,
    f: &Fields,
) -> Result<String, ApiError> {
    let by = approver(state, headers, visitor.token.as_deref())?;
    Ok(approve_as(state, by, f.request()?).await?.message_vi)
}

async fn look(state: &AppState, f: &Fields) -> Result<Standing, ApiError> {
    let req = f.request()?;
    let cat = state.store.catalogue().clone();
    let h = state.store.hierarchy().clone();
    state
        .store
        .read(move |conn| {
            let (regime, period, unit) = approval::resolve(&cat, &h, &req, &Scope::default())?;
            let reports = Reports::load(conn, &h, regime, period)?;
            let below_ids = reports.below(unit);
            let below_kind = below_ids
                .first()
                .and_then(|&u| h.unit(u))
                .map_or("đơn vị", |u| u.level.noun_vi());
            let mut below: Vec<Below> = below_ids
                .iter()
                .filter_map(|&u| {
                    let b = h.unit(u)?;
                    Some(Below {
                        code: b.code.clone(),
                        name: b.full_name.clone(),
                        state: reports.state(u),
                        approved: reports
                            .approval(u)
                            .map(|a| format!("{} · {}", vietnam_time(&a.approved_at), a.approver)),
                    })
                })
                .collect();
            below.sort_by(|a, b| (rank(a.state), &a.code).cmp(&(rank(b.state), &b.code)));
            Ok::<_, ApiError>(Standing {
                title: format!(
                    "{} ({}) · {} · {} ({})",
                    regime.name,
                    regime.code,
                    period.label_vi(),
                    unit.full_name,
                    unit.code
                ),
                regime: regime.code.clone(),
                period: period.id(),
                state: reports.state(unit.uid),
                version: reports.version(unit.uid),
                history: approval::history(conn, regime, unit, &period)?,
                below_kind,
                below,
            })
        })
        .await
}

/// Units that sent nothing first: they are what the report lacks; then those to approve.
fn rank(s: ReportState) -> u8 {
    match s {
        ReportState::NotReported => 0,
        ReportState::ChangedSinceApproval => 1,
        ReportState::AwaitingApproval => 2,
        ReportState::Approved => 3,
    }
}

fn state_class(s: ReportState) -> &'static str {
    match s {
        ReportState::NotReported => "st-not_reported",
        ReportState::AwaitingApproval => "st-awaiting_approval",
        ReportState::Approved => "st-approved",
        ReportState::ChangedSinceApproval => "st-changed_since_approval",
    }
}

fn render(state: &AppState, visitor: &Visitor, f: &Fields, shown: Shown) -> Markup {
    let cat = state.store.catalogue();
    let Shown {
        notice,
        standing,
        todo,
    } = shown;
    page(
        "Duyệt báo cáo",
        html! {
            @if let Some(n) = notice { (n) }
            @if let Some(s) = &standing { (standing_view(s)) }
            @if !todo.is_empty() { (todo_view(&todo)) }
            form method="post" action=(APPROVE_PATH) {
                (visitor.token_field("(token; để duyệt: token của người duyệt)"))
                label for="regime" { "Chế độ báo cáo" }
                select #regime name="regime" required {
                    @for r in &cat.regimes {
                        option value=(r.code) selected[f.regime.as_deref() == Some(r.code.as_str())] {
                            (r.code) " — " (r.name)
                        }
                    }
                }
                label for="unit" { "Mã đơn vị " small { "(tỉnh: 2 chữ số, xã: 5 chữ số; để trống: toàn quốc)" } }
                input #unit type="text" name="unit" value=[f.unit.as_deref()];
                label for="period" { "Kỳ báo cáo " small { "(ví dụ Tháng 10/2026, Quý III/2026, Năm 2025)" } }
                input #period type="text" name="period" required value=[f.period.as_deref()];
                label for="approver" { "Người duyệt " small { "(họ tên, chức vụ)" } }
                input #approver type="text" name="approver" value=[f.approver.as_deref()];
                label for="note" { "Ghi chú gửi cấp trên" }
                textarea #note name="note" rows="2" { (f.note.as_deref().unwrap_or("")) }
                // Enter in a field presses the first button: looking, never approving.
                button.second type="submit" name="action" value="xem" { "Xem tình hình" }
                button type="submit" name="action" value="duyet" { "Duyệt và gửi lên" }
            }
            (visitor.sign_out())
            h2 { "Các chế độ báo cáo" }
            (regimes(state))
        },
    )
}

fn standing_view(s: &Standing) -> Markup {
    let counts = |st: ReportState| s.below.iter().filter(|b| b.state == st).count() as u64;
    let link = |unit: &str| {
        format!(
            "{APPROVE_PATH}?regime={}&unit={}&period={}",
            s.regime, unit, s.period
        )
    };
    html! {
        h2 { (s.title) }
        p {
            "Tình trạng: " span class=(state_class(s.state)) { (s.state.label_vi()) }
            @if let Some(v) = s.version { " · số liệu mới nhất: phiên bản " (v) }
        }
        @if !s.below.is_empty() {
            p {
                "Cấp dưới: " (count(s.below.len() as u64)) " " (s.below_kind) " — "
                (count(counts(ReportState::Approved))) " đã duyệt, "
                (count(counts(ReportState::AwaitingApproval))) " chờ duyệt, "
                (count(counts(ReportState::ChangedSinceApproval))) " có số liệu mới sau khi duyệt, "
                (count(counts(ReportState::NotReported))) " chưa báo cáo."
            }
            table {
                thead { tr { th { "Mã" } th { "Đơn vị" } th { "Tình trạng" } th { "Duyệt lần cuối" } } }
                tbody {
                    @for b in &s.below {
                        tr {
                            td { a href=(link(&b.code)) { (b.code) } }
                            td { (b.name) }
                            td class=(state_class(b.state)) { (b.state.label_vi()) }
                            td { (b.approved.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        @if !s.history.is_empty() {
            h3 { "Các lần duyệt" }
            table {
                thead { tr { th { "Thời gian" } th { "Người duyệt" } th { "Phiên bản số liệu" } th { "Ghi chú" } } }
                tbody {
                    @for a in &s.history {
                        tr {
                            td { (vietnam_time(&a.approved_at)) }
                            td { (a.approver) }
                            td.num { (a.version) }
                            td { (a.note.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}

/// Every regime with the period being reported now (the latest that has ended) and its
/// deadline, each a link that fills the form.
fn regimes(state: &AppState) -> Markup {
    let cat = state.store.catalogue();
    html! {
        table {
            thead { tr { th { "Mã" } th { "Báo cáo" } th { "Bộ, ngành" } th { "Cấp báo cáo" } th { "Kỳ gần nhất" } th { "Hạn gửi" } } }
            tbody {
                @for r in &cat.regimes {
                    @let period = super::latest_ended(r.frequency);
                    @let due = period.end_date().add_days(i32::from(r.deadline_days));
                    tr {
                        td { (r.code) }
                        td { a href=(format!("{APPROVE_PATH}?regime={}&period={}", r.code, period.id())) { (r.name) } }
                        td { (cat.agency(&r.agency).map_or(r.agency.as_str(), |a| a.name.as_str())) }
                        td { (r.level.label_vi()) }
                        td { (period.label_vi()) }
                        td { (due) }
                    }
                }
            }
        }
    }
}
