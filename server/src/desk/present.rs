//! `/dieu-khien`: a presenter steers every wall of a room from a browser — a tablet or laptop
//! in the conference room — as `dieuhanh-server present` does from a terminal: the scene, a
//! province in focus, a ministry, a period, or back to what the layout shows. Provinces and
//! ministries are picked by name. A presenter's token is needed.

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use maud::{Markup, html};
use serde::Deserialize;

use dieuhanh_protocol::live::{RoomField, RoomState};

use crate::api::{ApiError, AppState};
use crate::hierarchy::{Era, Level};
use crate::ingest::today_in_vietnam;
use crate::live::Role;
use crate::present::{Names, Presented, describe};

use super::{PRESENT_PATH, Page, Visitor, field, page, refusal};

/// The form's fields; an empty one changes nothing.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Fields {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    room: Option<String>,
    #[serde(default)]
    scene: Option<String>,
    /// A unit's code; "VN" for the whole country.
    #[serde(default)]
    focus: Option<String>,
    #[serde(default)]
    agency: Option<String>,
    #[serde(default)]
    period: Option<String>,
    /// "reset": back to what the layout shows (every field cleared).
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    clear_scene: Option<String>,
    #[serde(default)]
    clear_focus: Option<String>,
    #[serde(default)]
    clear_agency: Option<String>,
    #[serde(default)]
    clear_period: Option<String>,
}

impl Fields {
    fn tidy(self) -> Result<Fields, ApiError> {
        Ok(Fields {
            token: field("token", self.token)?,
            room: field("room", self.room)?,
            scene: field("scene", self.scene)?,
            focus: field("focus", self.focus)?,
            agency: field("agency", self.agency)?,
            period: field("period", self.period)?,
            action: field("action", self.action)?,
            clear_scene: field("clear_scene", self.clear_scene)?,
            clear_focus: field("clear_focus", self.clear_focus)?,
            clear_agency: field("clear_agency", self.clear_agency)?,
            clear_period: field("clear_period", self.clear_period)?,
        })
    }

    /// The change the form asks for, and the fields to clear first.
    fn change(&self) -> Result<(RoomState, Vec<RoomField>), ApiError> {
        let period = self
            .period
            .as_deref()
            .map(|p| crate::api::period_param("period", p))
            .transpose()?;
        let state = RoomState {
            scene: self.scene.clone(),
            focus_unit: self.focus.clone(),
            agency: self.agency.clone(),
            period,
        };
        let reset = self.action.as_deref() == Some("reset");
        let clear = [
            (&self.clear_scene, RoomField::Scene),
            (&self.clear_focus, RoomField::FocusUnit),
            (&self.clear_agency, RoomField::Agency),
            (&self.clear_period, RoomField::Period),
        ]
        .into_iter()
        .filter(|(on, _)| reset || on.is_some())
        .map(|(_, f)| f)
        .collect();
        Ok((if reset { RoomState::default() } else { state }, clear))
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RoomAsk {
    #[serde(default)]
    room: Option<String>,
}

pub(super) async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(ask): Query<RoomAsk>,
) -> Page {
    let visitor = Visitor::of(&state, &headers, None);
    let f = Fields {
        room: ask.room,
        ..Fields::default()
    };
    Page::new(StatusCode::OK, render(&state, &visitor, &f, None))
}

pub(super) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Page {
    let visitor = Visitor::of(&state, &headers, f.token.clone());
    let headers = super::own_origin_removed(&headers);
    let (f, done) = match f.tidy() {
        Ok(f) => {
            let done = steer(&state, &headers, &visitor, &f);
            (Fields { token: None, ..f }, done)
        }
        Err(e) => (Fields::default(), Err(e)),
    };
    let (status, notice) = match &done {
        Ok(said) => (
            StatusCode::OK,
            html! { div.box.ok role="status" { "Đã chuyển. " (said) } },
        ),
        Err(e) => (e.status(), refusal("Chưa chuyển được.", e)),
    };
    let visitor = visitor.confirmed(&state, done.is_ok());
    Page::new(status, render(&state, &visitor, &f, Some(notice)))
        .remembering(&visitor, done.is_ok())
}

/// Checks the presenter's token and the change, then applies it to the room: every wall of
/// it switches together, at the time the server sets. Says what the room shows now.
fn steer(
    state: &AppState,
    headers: &HeaderMap,
    visitor: &Visitor,
    f: &Fields,
) -> Result<String, ApiError> {
    let grant = match state
        .live
        .config
        .auth
        .check(headers, visitor.token.as_deref())
    {
        Ok(g) => g,
        Err(r) if r.status == StatusCode::FORBIDDEN => return Err(ApiError::Forbidden(r.message)),
        Err(r) => {
            return Err(ApiError::Unauthorized(format!(
                "{}; steering walls needs a presenter's token",
                r.message
            )));
        }
    };
    if grant.role != Role::Presenter {
        return Err(ApiError::Forbidden(format!(
            "token {:?} is a {}'s; steering walls needs a presenter's token",
            grant.name,
            grant.role.as_str()
        )));
    }
    let room = f.room.clone().ok_or_else(|| {
        ApiError::BadRequest("name the room (room = … in the walls' layout)".into())
    })?;
    let (mut change, clear) = f.change()?;
    let store = &state.store;
    crate::live::settle_control(
        &mut change,
        store.catalogue(),
        store.hierarchy(),
        today_in_vietnam(),
    )
    .map_err(ApiError::BadRequest)?;
    let span = tracing::info_span!("control", room = %room, by = %grant.name, from = "page");
    let _entered = span.enter();
    // A room no wall has joined is most likely a mistyped name: said, not refused (walls
    // joining later take the room's state).
    let known = state.live.room_names().contains(&room);
    let version = store.serving().version();
    state.live.control(&room, &change, &clear, version);
    let (now, at) = state.live.room_state(&room).unwrap_or_default();
    tracing::info!(?now, known, "room steered");
    let mut said = describe(
        &room,
        &Presented {
            state: now,
            apply_at_ms: at,
        },
        &names(state),
    );
    if !known {
        said.push_str(&format!(
            ". Lưu ý: chưa có màn hình nào vào phòng “{room}”; kiểm tra tên phòng trong tệp bố cục"
        ));
    }
    Ok(said)
}

fn names(state: &AppState) -> Names {
    Names {
        hierarchy: Some(state.store.hierarchy().clone()),
        catalogue: Some(state.store.catalogue().clone()),
    }
}

fn render(state: &AppState, visitor: &Visitor, f: &Fields, notice: Option<Markup>) -> Markup {
    let h = state.store.hierarchy();
    let cat = state.store.catalogue();
    // What the rooms show is for token holders, as the API's figures are.
    let rooms = if visitor.open || visitor.remembered.is_some() {
        state.live.room_names()
    } else {
        Vec::new()
    };
    let room = f.room.clone().or_else(|| rooms.first().cloned());
    let now = room
        .as_deref()
        .filter(|r| rooms.iter().any(|k| k == r))
        .map(|r| {
            let (s, at) = state.live.room_state(r).unwrap_or_default();
            describe(
                r,
                &Presented {
                    state: s,
                    apply_at_ms: at,
                },
                &names(state),
            )
        });
    // The scenes the room's walls named when they joined.
    let scenes = now
        .as_ref()
        .and(room.as_deref())
        .map(|r| state.live.room_scenes(r))
        .unwrap_or_default();
    let provinces: Vec<_> = h
        .descendants(h.nation().uid, Level::Province, Era::Since2025)
        .iter()
        .filter_map(|&u| h.unit(u))
        .collect();
    let last_month = super::latest_ended(dieuhanh_protocol::period::Frequency::Month);
    page(
        "Điều khiển màn hình",
        html! {
            @if let Some(n) = notice { (n) }
            @if let Some(now) = &now { p { strong { "Đang hiển thị: " } (now) } }
            @if rooms.len() > 1 {
                p { "Phòng: "
                    @for r in &rooms { a href=(format!("{PRESENT_PATH}?room={r}")) { (r) } " " }
                }
            }
            form method="post" action=(PRESENT_PATH) {
                (visitor.token_field("(token của người điều khiển)"))
                label for="room" { "Phòng " small { "(room trong tệp bố cục của màn hình)" } }
                input #room type="text" name="room" required value=[room.as_deref()];
                @if scenes.is_empty() {
                    label for="scene" { "Cảnh " small { "(tên cảnh trong bố cục, ví dụ tong-quan; để trống: giữ nguyên)" } }
                    input #scene type="text" name="scene" value=[f.scene.as_deref()];
                } @else {
                    label for="scene" { "Cảnh " small { "(các cảnh màn hình của phòng đã báo)" } }
                    select #scene name="scene" {
                        option value="" { "(giữ nguyên)" }
                        @for sc in &scenes {
                            option value=(sc.name) selected[f.scene.as_deref() == Some(sc.name.as_str())] {
                                (sc.title) " (" (sc.name) ")"
                            }
                        }
                    }
                }
                label for="focus" { "Địa bàn" }
                select #focus name="focus" {
                    option value="" { "(giữ nguyên)" }
                    option value="VN" { "Toàn quốc" }
                    @for u in &provinces {
                        option value=(u.code) selected[f.focus.as_deref() == Some(u.code.as_str())] { (u.full_name) }
                    }
                }
                label for="agency" { "Bộ, ngành" }
                select #agency name="agency" {
                    option value="" { "(giữ nguyên)" }
                    @for a in &cat.agencies {
                        option value=(a.code) selected[f.agency.as_deref() == Some(a.code.as_str())] { (a.name) }
                    }
                }
                label for="period" { "Kỳ " small { "(ví dụ " (last_month.label_vi()) ", Quý III/2026; để trống: giữ nguyên)" } }
                input #period type="text" name="period" value=[f.period.as_deref()];
                p {
                    "Bỏ chọn: "
                    label.inline { input type="checkbox" name="clear_scene" value="1"; " cảnh" }
                    label.inline { input type="checkbox" name="clear_focus" value="1"; " địa bàn" }
                    label.inline { input type="checkbox" name="clear_agency" value="1"; " bộ, ngành" }
                    label.inline { input type="checkbox" name="clear_period" value="1"; " kỳ" }
                }
                button type="submit" name="action" value="apply" { "Áp dụng cho mọi màn hình" }
                button.second type="submit" name="action" value="reset" { "Về mặc định của bố cục" }
            }
            (visitor.sign_out())
        },
    )
}
