//! From a layout to frames: the live views each panel needs, the display list of a scene at a
//! moment, and where each screen's part of the canvas goes in a target (the whole wall as one
//! image, one output's window, or the conference feed scaled to 1920×1080).

use dieuhanh_protocol::live::{Periods, RoomState, View};
use dieuhanh_protocol::period::Frequency;

use crate::data::WallData;
use crate::draw::DisplayList;
use crate::layout::{Layout, Output, Panel, PeriodSpec, Rect, Scene, WidgetKind};
use crate::render::ScreenMap;
use crate::render::text::TextShaper;
use crate::widgets::{self, Ctx, current_period, periods_back};

/// The view a panel subscribes to, or `None` for panels that need no data of their own
/// (header, a ticker of every change).
pub fn view_of(panel: &Panel, now_ms: i64) -> Option<View> {
    if panel.indicators.is_empty() || matches!(panel.widget, WidgetKind::Header) {
        return None;
    }
    let (last, n) = match panel.period {
        PeriodSpec::Fixed(p) => (p, panel.history.max(1)),
        // Up to the current period: the latest with a value is found on the wall.
        PeriodSpec::Latest(f) => (
            current_period(f, now_ms),
            panel.history.max(1) + latest_slack(f),
        ),
    };
    let periods = periods_back(last, n);
    let (from, to) = (periods[0], *periods.last().unwrap_or(&last));
    Some(View {
        indicators: panel.indicators.clone(),
        units: if panel.children.is_some() {
            Vec::new()
        } else {
            vec![panel.unit.clone()]
        },
        children_of: panel.children.as_ref().map(|_| panel.unit.clone()),
        level: panel.children.clone(),
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

/// Subscription ids: `scene/panel-index`, stable while the layout is.
pub fn subscriptions(layout: &Layout, now_ms: i64) -> Vec<(String, View)> {
    let mut out = Vec::new();
    for scene in &layout.scenes {
        for (i, panel) in scene.panels.iter().enumerate() {
            if let Some(v) = view_of(panel, now_ms) {
                out.push((format!("{}/{i}", scene.name), v));
            }
        }
    }
    out
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
    let mut out = Vec::new();
    for row in 0..w.rows {
        for column in 0..w.columns {
            out.push(ScreenMap {
                canvas: w.screen_in_canvas(row, column),
                target: w.screen_in_pixels(row, column),
            });
        }
    }
    (out, w.pixel_size())
}

/// The screens one output drives, placed in that output's own pixels.
pub fn output_screens(layout: &Layout, output: &Output) -> (Vec<ScreenMap>, [u32; 2]) {
    let w = &layout.wall;
    let origin = w.screen_in_pixels(output.row, output.column);
    let mut out = Vec::new();
    for row in output.row..output.row + output.rows {
        for column in output.column..output.column + output.columns {
            let t = w.screen_in_pixels(row, column);
            out.push(ScreenMap {
                canvas: w.screen_in_canvas(row, column),
                target: Rect::new(t.x - origin.x, t.y - origin.y, t.w, t.h),
            });
        }
    }
    (out, output.pixel_size(w))
}

/// The whole wall scaled into `size` (the 1080p feed for a video conference), letterboxed.
pub fn scaled_screens(layout: &Layout, size: [u32; 2]) -> Vec<ScreenMap> {
    let w = &layout.wall;
    let px = w.pixel_size();
    let scale = (size[0] as f32 / px[0] as f32).min(size[1] as f32 / px[1] as f32);
    let ox = (size[0] as f32 - px[0] as f32 * scale) / 2.0;
    let oy = (size[1] as f32 - px[1] as f32 * scale) / 2.0;
    wall_screens(layout)
        .0
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
