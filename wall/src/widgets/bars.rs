//! Ranked bar chart: one indicator for the children of a unit (the 34 provinces under the
//! nation, the communes of a province), largest first (smallest first when lower is better), the
//! presenter's focus unit marked, and the units that have not reported named on the last line.

use super::{Ctx, figure, panel_frame, panel_line, panel_title};
use crate::draw::{Align, DisplayList, Hit, TextStyle, theme};
use crate::layout::{Panel, Rect, TextSize};
use crate::render::text::{TextShaper, Weight};
use dieuhanh_protocol::period::Period;

/// The period the panel ranks: its own, or the first child's when the parent lacks it (e.g. a
/// level-only indicator).
fn ranked_period(ctx: &Ctx<'_>, panel: &Panel) -> Option<Period> {
    let code = panel.indicators.first().map_or("", String::as_str);
    let level = panel.children.as_deref().unwrap_or("province");
    ctx.period_of(panel, code, &panel.unit).or_else(|| {
        ctx.data
            .children(&panel.unit, level)
            .first()
            .and_then(|u| ctx.period_of(panel, code, &u.code))
    })
}

/// The children with no figure for the ranked period: the late reports a leader asks about.
pub fn unreported(ctx: &Ctx<'_>, panel: &Panel) -> Vec<String> {
    let code = panel.indicators.first().map_or("", String::as_str);
    let level = panel.children.as_deref().unwrap_or("province");
    let Some(period) = ranked_period(ctx, panel) else {
        return Vec::new();
    };
    ctx.data
        .children(&panel.unit, level)
        .into_iter()
        .filter(|u| ctx.shown_value(code, &u.code, period).is_none())
        .map(|u| u.name.clone())
        .collect()
}

/// The last line naming the units without a figure ("Chưa báo cáo (2): Cao Bằng, Đồng Nai");
/// `None` when every unit has reported.
pub fn unreported_note(missing: &[String]) -> Option<String> {
    (!missing.is_empty())
        .then(|| format!("Chưa báo cáo ({}): {}", missing.len(), missing.join(", ")))
}

/// The ranked rows: (unit code, name, value), best first.
pub fn ranking(ctx: &Ctx<'_>, panel: &Panel) -> Vec<(String, String, f64)> {
    let code = panel.indicators.first().map_or("", String::as_str);
    let level = panel.children.as_deref().unwrap_or("province");
    let Some(period) = ranked_period(ctx, panel) else {
        return Vec::new();
    };
    let mut rows: Vec<(String, String, f64)> = ctx
        .data
        .children(&panel.unit, level)
        .into_iter()
        .filter_map(|u| {
            ctx.shown_value(code, &u.code, period)
                .map(|v| (u.code.clone(), u.name.clone(), v))
        })
        .collect();
    let lower_better = ctx
        .data
        .indicators
        .get(code)
        .and_then(|i| i.higher_is_better)
        == Some(false);
    rows.sort_by(|a, b| {
        let o = b.2.total_cmp(&a.2);
        if lower_better { o.reverse() } else { o }
    });
    if let Some(top) = panel.top {
        rows.truncate(top as usize);
    }
    rows
}

/// A ranking panel's frame, title (the indicator's name) and line of unit, period and unit of
/// measure, shared by bars and maps; `None` (with "no figures yet" written) when no unit has
/// a figure.
pub struct Heading {
    pub inner: Rect,
    /// Where the content starts below the heading.
    pub top: f32,
    pub rows: Vec<(String, String, f64)>,
}

pub fn heading(
    ctx: &Ctx<'_>,
    panel: &Panel,
    shaper: &mut TextShaper,
    list: &mut DisplayList,
) -> Option<Heading> {
    let inner = panel_frame(panel, list);
    let code = panel.indicators.first().map_or("", String::as_str);
    let info = ctx.data.indicators.get(code);
    let medium = ctx.text_px(panel.text).min(inner.h * 0.08);
    let title = panel
        .title
        .clone()
        .or_else(|| info.map(|i| i.name.clone()))
        .unwrap_or_else(|| code.to_owned());
    let style = TextStyle::new(medium, Weight::SemiBold, theme::TEXT);
    let t = panel_title(ctx, panel, shaper, list, &title, inner, style);
    let rows = ranking(ctx, panel);
    let level = panel.children.as_deref().unwrap_or("province");
    let period = rows
        .first()
        .and_then(|(u, ..)| ctx.period_of(panel, code, u))
        .map(|p| p.label_vi())
        .unwrap_or_default();
    let sub = format!(
        "{} · {} · {}",
        ctx.data.unit_name(&panel.unit),
        period,
        info.map_or("", |i| i.unit.as_str())
    );
    let small_cap = ctx.text_px(TextSize::Small);
    let style = TextStyle::new(small_cap.min(inner.h * 0.05), Weight::Regular, theme::MUTED);
    let s = panel_line(ctx, panel, shaper, list, &sub, inner, t.y + t.h, style);
    if rows.is_empty() {
        list.text(
            shaper,
            &format!("Chưa có số liệu cấp {}", level_vi(level)),
            inner.x,
            s.y + s.h + medium * 0.5,
            TextStyle::new(medium * 0.8, Weight::Regular, theme::MUTED),
            None,
        );
        return None;
    }
    Some(Heading {
        inner,
        top: s.y + s.h + medium * 0.3,
        rows,
    })
}

pub fn draw(ctx: &Ctx<'_>, panel: &Panel, shaper: &mut TextShaper, list: &mut DisplayList) {
    let Some(Heading { inner, top, rows }) = heading(ctx, panel, shaper, list) else {
        return;
    };
    let code = panel.indicators.first().map_or("", String::as_str);
    let info = ctx.data.indicators.get(code);
    let small_cap = ctx.text_px(TextSize::Small);
    // Units without a figure are named on the last line (a ranking that silently lists 33 of 34
    // provinces hides the one a leader asks about).
    let missing = unreported(ctx, panel);
    let note_h = if missing.is_empty() {
        0.0
    } else {
        small_cap.min(inner.h * 0.05) * 1.5
    };
    let bottom = inner.y + inner.h - note_h;
    let (row_h, ys) = super::row_tops(
        &list.bezels,
        inner,
        top,
        bottom,
        rows.len(),
        small_cap * 1.6,
    );
    let shown = ys.len();
    let size = (row_h * 0.72).min(small_cap);
    let name_w = rows
        .iter()
        .take(shown)
        .map(|(_, n, _)| shaper.width(n, size, Weight::Regular))
        .fold(0.0_f32, f32::max)
        .min(inner.w * 0.32);
    let rank_w = shaper.width("34", size, Weight::Regular) + size * 0.5;
    let value_w = rows
        .iter()
        .take(shown)
        // By digit shape: a figure's new digits do not rescale every bar.
        .map(|(_, _, v)| shaper.shape_width(&figure(info, *v), size, Weight::SemiBold))
        .fold(0.0_f32, f32::max)
        + size * 0.5;
    let bar_x = inner.x + rank_w + name_w + size * 0.5;
    let bar_w = (inner.x + inner.w - value_w - bar_x).max(1.0);
    let max = rows
        .iter()
        .map(|r| r.2.abs())
        .fold(0.0_f64, f64::max)
        .max(1e-12);
    let focus = ctx.room.focus_unit.as_deref();
    for (i, (unit, name, v)) in rows.iter().take(shown).enumerate() {
        let y = ys[i];
        let focused = focus == Some(unit.as_str());
        let glow = ctx
            .period_of(panel, code, unit)
            .map_or(0.0, |p| ctx.highlight(code, unit, p));
        if focused {
            list.rect(Rect::new(inner.x, y, inner.w, row_h), theme::PANEL_EDGE);
        }
        list.hits.push(Hit {
            rect: Rect::new(inner.x, y, inner.w, row_h),
            unit: unit.clone(),
            triangles: Vec::new(),
        });
        let colour = if focused {
            theme::ACCENT
        } else {
            theme::SERIES[0].mix(theme::HIGHLIGHT, glow)
        };
        list.text(
            shaper,
            &format!("{}", i + 1),
            inner.x + rank_w - size * 0.5,
            y + (row_h - size * 1.25) / 2.0,
            TextStyle::new(size, Weight::Regular, theme::MUTED).align(Align::Right),
            None,
        );
        list.text_elided(
            shaper,
            name,
            inner.x + rank_w,
            y + (row_h - size * 1.25) / 2.0,
            TextStyle::new(size, Weight::Regular, theme::TEXT),
            name_w,
        );
        let w = (v.abs() / max) as f32 * bar_w;
        list.rect(Rect::new(bar_x, y + row_h * 0.15, w, row_h * 0.7), colour);
        list.text(
            shaper,
            &figure(info, *v),
            bar_x + w + size * 0.3,
            y + (row_h - size * 1.25) / 2.0,
            TextStyle::new(size, Weight::SemiBold, theme::TEXT),
            None,
        );
    }
    if let Some(text) = unreported_note(&missing) {
        let note = small_cap.min(inner.h * 0.05);
        list.text_elided(
            shaper,
            &text,
            inner.x,
            inner.y + inner.h - note * 1.3,
            TextStyle::new(note, Weight::SemiBold, theme::STALE),
            inner.w,
        );
    }
}

/// "tỉnh", "huyện", "xã" for a level's wire name.
pub fn level_vi(level: &str) -> &str {
    match level {
        "province" => "tỉnh",
        "district" => "huyện",
        "commune" => "xã",
        "nation" => "quốc gia",
        other => other,
    }
}
