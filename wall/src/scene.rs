//! From a layout to frames: the live views each panel needs, the display list of a scene at a
//! moment, and where each screen's part of the canvas goes in a target (the whole wall as one
//! image, one output's window, or the conference feed scaled to 1920×1080).

use dieuhanh_protocol::live::{Periods, ReportKey, RoomState, View};
use dieuhanh_protocol::period::{Frequency, Period};

use crate::data::WallData;
use crate::draw::DisplayList;
use crate::layout::{Layout, Output, Panel, PeriodSpec, Rect, Scene, WidgetKind, fit_scale};
use crate::render::ScreenMap;
use crate::render::text::TextShaper;
use crate::widgets::{self, Ctx, current_period, periods_back};

/// The view a panel subscribes to in `room`'s state, or `None` for panels that need no data of
/// their own (header, a ticker of every change). A presenter's focus retargets the panels that
/// follow it ([`widgets::follows_focus`]) and a presenter's period moves every panel's range to
/// end there, so the wall has the figures it is then asked to show.
pub fn view_of(panel: &Panel, room: &RoomState, now_ms: i64) -> Option<View> {
    if panel.indicators.is_empty() || matches!(panel.widget, WidgetKind::Header) {
        return None;
    }
    let (last, n) = match panel.period {
        PeriodSpec::Fixed(p) => (
            room.period.map_or(p, |r| widgets::stood_for(p, r)),
            panel.history.max(1),
        ),
        // Up to the current period (or the presenter's): the latest with a value is found on
        // the wall.
        PeriodSpec::Latest(f) => {
            let end = match room.period.map(|p| p.last_month()) {
                Some(Period::Month { year, month }) => Period::containing(f, year, month),
                _ => current_period(f, now_ms),
            };
            (end, panel.history.max(1) + latest_slack(f))
        }
    };
    let periods = periods_back(last, n);
    let (from, to) = (periods[0], *periods.last().unwrap_or(&last));
    let unit = widgets::shown_unit(panel, room).to_owned();
    Some(View {
        indicators: panel.indicators.clone(),
        units: if panel.children.is_some() {
            Vec::new()
        } else {
            vec![unit]
        },
        children_of: panel.children.as_ref().map(|_| panel.unit.clone()),
        level: panel.children.clone(),
        periods: Periods::Range { from, to },
        comparisons: true,
        at: None,
    })
}

/// What a reports panel reads: for each frequency of its regimes, their first indicators'
/// totals of its unit (the nation, or the province a presenter focused) over the last periods
/// (the due one among them), and, on the nation, each province's for the regimes of provinces
/// (to name the late ones).
pub fn report_views(panel: &Panel, room: &RoomState, now_ms: i64) -> Vec<View> {
    if panel.widget != WidgetKind::Reports {
        return Vec::new();
    }
    let unit = widgets::shown_unit(panel, room).to_owned();
    let nation = unit.eq_ignore_ascii_case("VN");
    let mut out = Vec::new();
    for f in Frequency::ALL {
        let of_f: Vec<&crate::catalogue::Regime> =
            panel.regimes.iter().filter(|r| r.frequency == f).collect();
        if of_f.is_empty() {
            continue;
        }
        // Back far enough for the longest deadline (90 days: a year's report, or a month's
        // three months on).
        // A presenter's period: the reports of the period of this kind it stands for.
        let periods = match room.period {
            Some(c) => vec![widgets::stood_for(current_period(f, now_ms), c)],
            None => periods_back(current_period(f, now_ms), latest_slack(f) + 2),
        };
        let range = Periods::Range {
            from: periods[0],
            to: *periods.last().unwrap_or(&periods[0]),
        };
        let first = |level: Option<crate::catalogue::Level>| -> Vec<String> {
            let mut codes: Vec<String> = Vec::new();
            for r in &of_f {
                if level.is_none_or(|l| r.level == l)
                    && let Some(c) = r.indicators.first()
                    && !codes.contains(c)
                {
                    codes.push(c.clone());
                }
            }
            codes
        };
        out.push(View {
            indicators: first(None),
            units: vec![unit.clone()],
            children_of: None,
            level: None,
            periods: range.clone(),
            comparisons: false,
            at: None,
        });
        let provinces = first(Some(crate::catalogue::Level::Province));
        if nation && !provinces.is_empty() {
            out.push(View {
                indicators: provinces,
                units: Vec::new(),
                children_of: Some("VN".into()),
                level: Some("province".into()),
                periods: range,
                comparisons: false,
                at: None,
            });
        }
    }
    out
}

/// The level a unit's total is made of, read from its official code: the nation's provinces, a
/// province's communes (the 2025 structure has no districts); a commune has none.
pub fn child_level(unit: &str) -> Option<&'static str> {
    if unit.eq_ignore_ascii_case("VN") {
        Some("province")
    } else if unit.len() == 2 {
        Some("commune")
    } else {
        None
    }
}

/// What a KPI tile or an indicator table of totals that add up needs besides its own view to
/// compare like for like while some units have not reported ([`WallData::matched`]): the units
/// below its unit, at the newest periods it may show, and (the view's comparisons) a year
/// before.
pub fn matched_view(panel: &Panel, room: &RoomState, now_ms: i64) -> Option<View> {
    let compares = match panel.widget {
        // A tile shows its first indicator.
        WidgetKind::Kpi => panel
            .indicators
            .first()
            .is_some_and(|c| panel.additive.contains(c)),
        WidgetKind::Table => panel.children.is_none(),
        _ => false,
    };
    if !compares || panel.additive.is_empty() {
        return None;
    }
    let own = view_of(panel, room, now_ms)?;
    let unit = own.units.first()?.clone();
    let level = child_level(&unit)?;
    let Periods::Range { from, to } = own.periods else {
        return None;
    };
    let newest = match panel.period {
        PeriodSpec::Latest(f) => latest_slack(f) + 1,
        PeriodSpec::Fixed(_) => 1,
    };
    let from = periods_back(to, newest)
        .first()
        .copied()
        .unwrap_or(from)
        .max(from);
    Some(View {
        indicators: if panel.widget == WidgetKind::Kpi {
            own.indicators.first().cloned().into_iter().collect()
        } else {
            panel.additive.clone()
        },
        units: Vec::new(),
        children_of: Some(unit),
        level: Some(level.to_owned()),
        periods: Periods::Range { from, to },
        comparisons: true,
        at: None,
    })
}

/// Reports arrive after their period ends: reach back far enough that "latest" finds one.
fn latest_slack(f: Frequency) -> u32 {
    match f {
        Frequency::Month => 2,
        Frequency::Quarter | Frequency::Half | Frequency::Year => 1,
    }
}

/// Every panel's view in `room`'s state, and each scene's units views for like-for-like
/// comparisons ([`matched_view`]), those of one unit, level and periods merged into one (a row
/// of KPI tiles asks for the same provinces: one view, not one a tile, under the server's limit
/// on views). Subscription ids: `scene/panel-index` and `scene/units/n`, stable while the layout
/// and the room are; a view that changes (the presenter focused a province) is subscribed
/// again under its id.
pub fn subscriptions(layout: &Layout, room: &RoomState, now_ms: i64) -> Vec<(String, View)> {
    let mut out = Vec::new();
    for scene in &layout.scenes {
        let mut units: Vec<View> = Vec::new();
        for (i, panel) in scene.panels.iter().enumerate() {
            if let Some(v) = view_of(panel, room, now_ms) {
                out.push((format!("{}/{i}", scene.name), v));
            }
            for (k, v) in report_views(panel, room, now_ms).into_iter().enumerate() {
                out.push((format!("{}/{i}/{k}", scene.name), v));
            }
            let Some(v) = matched_view(panel, room, now_ms) else {
                continue;
            };
            let same = |u: &&mut View| {
                u.children_of == v.children_of && u.level == v.level && u.periods == v.periods
            };
            match units.iter_mut().find(same) {
                Some(u) => {
                    for code in v.indicators {
                        if !u.indicators.contains(&code) {
                            u.indicators.push(code);
                        }
                    }
                }
                None => units.push(v),
            }
        }
        for (k, v) in units.into_iter().enumerate() {
            out.push((format!("{}/units/{k}", scene.name), v));
        }
    }
    out
}

/// The reports whose approval standing the layout's reports panels show, in the room's state
/// (a presenter's focus and period) at `now_ms`: each regime's report of the period shown, for
/// the panel's unit.
pub fn report_keys(layout: &Layout, room: &RoomState, now_ms: i64) -> Vec<ReportKey> {
    let mut out: Vec<ReportKey> = Vec::new();
    for panel in layout.scenes.iter().flat_map(|s| &s.panels) {
        if panel.widget != WidgetKind::Reports {
            continue;
        }
        let unit = widgets::shown_unit(panel, room);
        for r in &panel.regimes {
            if !widgets::reports::concerns(r, unit) {
                continue;
            }
            let key = ReportKey {
                regime: r.code.clone(),
                period: widgets::reports::shown(r, room.period, now_ms).0,
                unit: unit.to_owned(),
            };
            if !out.contains(&key) {
                out.push(key);
            }
        }
    }
    out
}

/// The views a running wall has asked the server for, kept in step with its layout, its room and
/// the calendar. "Latest" panels look back from the current period: when a month (or quarter,
/// or year) turns, their ranges must move forward, or a wall left running would never see the
/// new period's reports.
#[derive(Debug, Clone)]
pub struct Subscribed {
    views: Vec<(String, View)>,
    reports: Vec<ReportKey>,
    /// The reports moved at the last check and are not taken yet.
    reports_moved: bool,
    checked_at_ms: i64,
}

/// How often a running wall checks whether the calendar moved its views.
pub const VIEWS_CHECK_MS: i64 = 60_000;

impl Subscribed {
    pub fn new(layout: &Layout, room: &RoomState, now_ms: i64) -> Subscribed {
        Subscribed {
            views: subscriptions(layout, room, now_ms),
            reports: report_keys(layout, room, now_ms),
            reports_moved: false,
            checked_at_ms: now_ms,
        }
    }

    /// The views asked for.
    pub fn views(&self) -> &[(String, View)] {
        &self.views
    }

    /// The reports followed.
    pub fn reports(&self) -> &[ReportKey] {
        &self.reports
    }

    /// The reports to follow now, when the last [`Subscribed::refresh`] found them moved (a
    /// deadline passed, a presenter's focus or period, a new layout).
    pub fn take_reports(&mut self) -> Option<Vec<ReportKey>> {
        std::mem::take(&mut self.reports_moved).then(|| self.reports.clone())
    }

    /// The views to ask for now, when they differ from those asked for: at once when `changed`
    /// (a new layout or room state), else at most every [`VIEWS_CHECK_MS`]. The reports
    /// followed are checked with them ([`Subscribed::take_reports`]).
    pub fn refresh(
        &mut self,
        layout: &Layout,
        room: &RoomState,
        now_ms: i64,
        changed: bool,
    ) -> Option<Vec<(String, View)>> {
        if !changed && now_ms - self.checked_at_ms < VIEWS_CHECK_MS {
            return None;
        }
        self.checked_at_ms = now_ms;
        let reports = report_keys(layout, room, now_ms);
        if reports != self.reports {
            self.reports = reports;
            self.reports_moved = true;
        }
        let views = subscriptions(layout, room, now_ms);
        if views == self.views {
            return None;
        }
        self.views = views.clone();
        Some(views)
    }
}

/// Builds the display list of `scene` at `now_ms`.
pub fn compose(
    layout: &Layout,
    scene: &Scene,
    data: &WallData,
    room: &RoomState,
    now_ms: i64,
    shaper: &mut TextShaper,
    list: &mut DisplayList,
) {
    list.clear();
    list.bezels = layout.wall.bezel_strips();
    shaper.next_frame();
    let ctx = Ctx {
        layout,
        scene,
        data,
        room,
        now_ms,
    };
    widgets::draw_scene(&ctx, shaper, list);
}

/// Every screen of the wall, laid out as the screens' pixels side by side (bezels hidden).
pub fn wall_screens(layout: &Layout) -> (Vec<ScreenMap>, [u32; 2]) {
    let w = &layout.wall;
    block_screens(layout, [0, 0, w.rows, w.columns])
}

/// The screens one output drives, placed in that output's own pixels.
pub fn output_screens(layout: &Layout, output: &Output) -> (Vec<ScreenMap>, [u32; 2]) {
    block_screens(
        layout,
        [output.row, output.column, output.rows, output.columns],
    )
}

/// The screens of the block `[row, column, rows, columns]`, their pixels side by side from the
/// block's top left, and the block's size in pixels.
fn block_screens(layout: &Layout, block: [u32; 4]) -> (Vec<ScreenMap>, [u32; 2]) {
    let w = &layout.wall;
    let [row, column, rows, columns] = block;
    let origin = w.screen_in_pixels(row, column);
    let mut out = Vec::new();
    for r in row..row + rows {
        for c in column..column + columns {
            let t = w.screen_in_pixels(r, c);
            out.push(ScreenMap {
                canvas: w.screen_in_canvas(r, c),
                target: Rect::new(t.x - origin.x, t.y - origin.y, t.w, t.h),
            });
        }
    }
    (out, w.block_pixel_size(rows, columns))
}

/// The canvas point shown at target pixel `p` (a touch on a window), through the screen that
/// shows it; `None` in a letterbox margin.
pub fn canvas_point(screens: &[ScreenMap], p: [f32; 2]) -> Option<[f32; 2]> {
    screens.iter().find_map(|s| {
        let t = s.target;
        let inside = p[0] >= t.x && p[0] < t.x + t.w && p[1] >= t.y && p[1] < t.y + t.h;
        inside.then(|| {
            let k = s.canvas.w / t.w.max(1e-6);
            [s.canvas.x + (p[0] - t.x) * k, s.canvas.y + (p[1] - t.y) * k]
        })
    })
}

/// The whole wall scaled into `size` (a preview of it in 1080p), letterboxed.
pub fn scaled_screens(layout: &Layout, size: [u32; 2]) -> Vec<ScreenMap> {
    let w = &layout.wall;
    scaled_block(layout, [0, 0, w.rows, w.columns], size)
}

/// What the video-conference feed shows, scaled into `size`, letterboxed: the `[feed]`'s block
/// of screens, else the whole wall.
pub fn feed_screens(layout: &Layout, size: [u32; 2]) -> Vec<ScreenMap> {
    match &layout.feed {
        Some(f) => scaled_block(layout, f.shows(&layout.wall), size),
        None => scaled_screens(layout, size),
    }
}

/// The screens of the block `[row, column, rows, columns]` scaled into `size`, letterboxed.
fn scaled_block(layout: &Layout, block: [u32; 4], size: [u32; 2]) -> Vec<ScreenMap> {
    let (screens, px) = block_screens(layout, block);
    let scale = fit_scale(px, size);
    let ox = (size[0] as f32 - px[0] as f32 * scale) / 2.0;
    let oy = (size[1] as f32 - px[1] as f32 * scale) / 2.0;
    screens
        .into_iter()
        .map(|s| ScreenMap {
            canvas: s.canvas,
            target: Rect::new(
                ox + s.target.x * scale,
                oy + s.target.y * scale,
                s.target.w * scale,
                s.target.h * scale,
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::catalogue::{Catalogue, assets_dir};

    /// The feed of a 2×2 block of the national wall's 1080p screens shows those four screens at
    /// half size, each where it sits in the block, with the canvas it shows on the wall (bezels
    /// kept out); without a block the whole wall is letterboxed at a quarter.
    #[test]
    fn a_feed_block_shows_its_screens_at_the_scale_that_fits() {
        let cat = Catalogue::load(&assets_dir()).unwrap();
        let mut layout =
            crate::layout::load(&assets_dir().join("layouts/national.toml"), &cat).unwrap();
        let whole = feed_screens(&layout, [1920, 1080]);
        assert_eq!(whole.len(), 12);
        assert_eq!(whole, scaled_screens(&layout, [1920, 1080]));
        assert!((whole[0].target.w - 480.0).abs() < 1e-3, "{:?}", whole[0]);
        // 810 of 1080 rows: letterboxed, 135 above.
        assert!((whole[0].target.y - 135.0).abs() < 1e-3, "{:?}", whole[0]);

        layout.feed.as_mut().unwrap().block = Some([1, 1, 2, 2]);
        let block = feed_screens(&layout, [1920, 1080]);
        let w = &layout.wall;
        let expected: Vec<(Rect, Rect)> = [(1, 1), (1, 2), (2, 1), (2, 2)]
            .into_iter()
            .map(|(r, c)| {
                let at = [(c - 1) as f32 * 960.0, (r - 1) as f32 * 540.0];
                (
                    w.screen_in_canvas(r, c),
                    Rect::new(at[0], at[1], 960.0, 540.0),
                )
            })
            .collect();
        assert_eq!(block.len(), expected.len());
        for (s, (canvas, target)) in block.iter().zip(&expected) {
            assert_eq!(s.canvas, *canvas);
            let t = s.target;
            let near = (t.x - target.x).abs() < 1e-3
                && (t.y - target.y).abs() < 1e-3
                && (t.w - target.w).abs() < 1e-3
                && (t.h - target.h).abs() < 1e-3;
            assert!(near, "{t:?} is not {target:?}");
        }
    }

    /// A touch on a window lands where that pixel shows the canvas: on the letterboxed feed of
    /// the national wall, a screen's corner and middle map to its canvas corner and middle
    /// (bezels skipped), the margins to nothing.
    #[test]
    fn a_windows_pixel_maps_back_to_the_canvas_it_shows() {
        let cat = Catalogue::load(&assets_dir()).unwrap();
        let layout =
            crate::layout::load(&assets_dir().join("layouts/national.toml"), &cat).unwrap();
        let screens = feed_screens(&layout, [1920, 1080]);
        assert_eq!(canvas_point(&screens, [960.0, 50.0]), None, "margin above");
        let w = &layout.wall;
        for (r, c) in [(0, 0), (1, 2), (2, 3)] {
            let s = screens
                .iter()
                .find(|s| s.canvas == w.screen_in_canvas(r, c))
                .unwrap();
            let t = s.target;
            let corner = canvas_point(&screens, [t.x, t.y]).unwrap();
            assert!((corner[0] - s.canvas.x).abs() < 1e-3 && (corner[1] - s.canvas.y).abs() < 1e-3);
            let mid = canvas_point(&screens, [t.x + t.w / 2.0, t.y + t.h / 2.0]).unwrap();
            let want = [s.canvas.x + s.canvas.w / 2.0, s.canvas.y + s.canvas.h / 2.0];
            assert!(
                (mid[0] - want[0]).abs() < 0.01 && (mid[1] - want[1]).abs() < 0.01,
                "{mid:?} is not {want:?}"
            );
        }
    }

    /// A server takes at most [`dieuhanh_protocol::live::DEFAULT_MAX_VIEWS`] views a connection unless configured
    /// otherwise: every shipped layout, focused on a province or not, asks for no more, units
    /// views included (the 4×3 national wall: 55 of 64, its reports scene 7 of them).
    #[test]
    fn every_shipped_layout_asks_for_fewer_views_than_the_server_takes() {
        let cat = Catalogue::load(&assets_dir()).unwrap();
        let focused = RoomState {
            focus_unit: Some("79".into()),
            ..RoomState::default()
        };
        for name in ["desk", "room", "national"] {
            let file = assets_dir().join(format!("layouts/{name}.toml"));
            let layout = crate::layout::load(&file, &cat).expect("layout");
            for room in [RoomState::default(), focused.clone()] {
                let views = subscriptions(&layout, &room, 1_792_047_600_000);
                assert!(
                    views.len() <= dieuhanh_protocol::live::DEFAULT_MAX_VIEWS,
                    "{name}: {} views",
                    views.len()
                );
                assert!(
                    views.iter().any(|(id, _)| id.contains("/units/")),
                    "{name} compares like for like"
                );
            }
        }
    }

    /// A wall left running follows the calendar: when the month turns its "latest" views move
    /// forward (checked once a minute), and a room change is followed at once.
    #[test]
    fn a_running_walls_views_move_with_the_calendar_and_the_room() {
        let cat = Catalogue::load(&assets_dir()).unwrap();
        let layout =
            crate::layout::load(&assets_dir().join("layouts/desk.toml"), &cat).expect("layout");
        // 15 October 2026 and 20 November 2026, 14:00 in Vietnam.
        let oct = 1_792_047_600_000;
        let nov = oct + 36 * 86_400_000;
        let room = RoomState::default();
        let mut subscribed = Subscribed::new(&layout, &room, oct);
        let ends = |views: &[(String, View)]| -> Vec<String> {
            views
                .iter()
                .filter_map(|(_, v)| match &v.periods {
                    Periods::Range { to, .. } => Some(to.id()),
                    Periods::List(_) => None,
                })
                .collect()
        };
        assert!(ends(subscribed.views()).contains(&"2026-10".to_owned()));
        assert_eq!(
            subscribed.refresh(&layout, &room, oct + 30_000, false),
            None,
            "not checked again within a minute"
        );
        assert_eq!(
            subscribed.refresh(&layout, &room, oct + VIEWS_CHECK_MS, false),
            None,
            "the same month: nothing to ask"
        );
        let moved = subscribed
            .refresh(&layout, &room, nov, false)
            .expect("the month turned");
        assert!(
            ends(&moved).contains(&"2026-11".to_owned()),
            "{:?}",
            ends(&moved)
        );
        assert!(!ends(&moved).contains(&"2026-10".to_owned()));
        // A presenter's focus is followed at once, within the minute.
        let focused = RoomState {
            focus_unit: Some("79".into()),
            ..RoomState::default()
        };
        let views = subscribed
            .refresh(&layout, &focused, nov + 1, true)
            .expect("the focus moved the KPI tiles' views");
        assert!(views.iter().any(|(_, v)| v.units == ["79"]));
    }

    /// The shipped layout `text` with a few random edits a technician's hand or a bad merge
    /// could make: a line dropped, doubled or moved, a number or a text changed, the file cut.
    fn mangle(text: &str, rng: &mut rand_chacha::ChaCha8Rng) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for _ in 0..rng.random_range(1..3) {
            let n = lines.len();
            let at = rng.random_range(0..n);
            match rng.random_range(0..10) {
                0 => {
                    lines.remove(at);
                }
                1 => lines.insert(at, lines[at].clone()),
                2 => lines.swap(at, rng.random_range(0..n)),
                3..=6 => {
                    // The first number on the line becomes another.
                    let l = &lines[at];
                    if let Some(start) = l.find(|c: char| c.is_ascii_digit()) {
                        let end = l[start..]
                            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                            .map_or(l.len(), |e| start + e);
                        let new = ["0", "-1", "0.001", "0.5", "3", "15.5", "99999", "1e9"]
                            [rng.random_range(0..8)];
                        lines[at] = format!("{}{new}{}", &l[..start], &l[end..]);
                    }
                }
                7 | 8 => {
                    // A quoted text becomes another.
                    let l = &lines[at];
                    if let (Some(a), Some(b)) = (l.find('"'), l.rfind('"'))
                        && a < b
                    {
                        let new = ["", "VN", "79", "XH02", "kpi", "bars", "huge", "Hà Nội", "?"]
                            [rng.random_range(0..9)];
                        lines[at] = format!("{}\"{new}\"{}", &l[..a], &l[b + 1..]);
                    }
                }
                _ => {
                    let keep = rng.random_range(0..n);
                    lines.truncate(keep.max(1));
                }
            }
        }
        lines.join("\n") + "\n"
    }

    /// Layouts mangled at random are either refused — every error placed in the file, with a
    /// hint — or accepted and drawn: each of their scenes composes with the demo data without a
    /// panic, into finite shapes and text boxes, each text clipped to a part of the wall.
    /// Seeded, so a failure replays.
    #[test]
    fn mangled_layouts_are_refused_with_a_place_or_drawn() {
        let cat = Catalogue::load(&assets_dir()).unwrap();
        let data = crate::snapshot::load(&crate::snapshot::demo_path(&assets_dir())).unwrap();
        let room = RoomState::default();
        // 30/11/2026 09:00 in Hà Nội: the demo's latest month is October.
        let now_ms = 1_796_004_000_000;
        let mut shaper = TextShaper::new();
        let mut list = DisplayList::default();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (mut drawn, mut refused) = (0, 0);
        for name in ["desk.toml", "room.toml", "national.toml"] {
            let path = assets_dir().join("layouts").join(name);
            let text = std::fs::read_to_string(&path).unwrap();
            for case in 0..60 {
                let mangled = mangle(&text, &mut rng);
                let lines = mangled.lines().count();
                let layout = match crate::layout::parse(&mangled, &path, &cat) {
                    Ok(l) => l,
                    Err(errors) => {
                        refused += 1;
                        for e in &errors.0 {
                            assert!(
                                (1..=lines + 1).contains(&e.line) && e.column >= 1,
                                "{name} case {case}: {e}\n{mangled}"
                            );
                            assert!(!e.message.is_empty() && !e.hint.is_empty(), "{e}");
                        }
                        continue;
                    }
                };
                drawn += 1;
                let [cw, ch] = layout.wall.canvas_size();
                for scene in &layout.scenes {
                    compose(&layout, scene, &data, &room, now_ms, &mut shaper, &mut list);
                    let what = format!("{name} case {case}, scene {}", scene.name);
                    for v in &list.vertices {
                        assert!(
                            v.position.iter().chain(&v.color).all(|x| x.is_finite()),
                            "{what}: {v:?}"
                        );
                    }
                    for t in &list.texts {
                        let r = t.rect;
                        assert!(
                            [r.x, r.y, r.w, r.h].iter().all(|x| x.is_finite()) && r.w >= 0.0,
                            "{what}: {r:?}"
                        );
                        let c = t.clip;
                        assert!(
                            c.x >= -0.5
                                && c.y >= -0.5
                                && c.x + c.w <= cw + 0.5
                                && c.y + c.h <= ch + 0.5,
                            "{what}: text clipped to {c:?}, off the {cw}×{ch} wall"
                        );
                    }
                }
            }
        }
        assert!(
            drawn >= 50 && refused >= 50,
            "{drawn} drawn, {refused} refused"
        );
    }
}
