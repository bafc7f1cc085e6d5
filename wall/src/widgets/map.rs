//! Map: one indicator over the 34 provinces on the map of Vietnam, each province coloured by
//! the fifth its figure falls in (brighter is more: by rank, so that one province far ahead of
//! the rest does not leave the others one colour; the scale under the map says where each
//! fifth starts), the best three named (by the indicator's direction of good),
//! the provinces without a figure dark and named on the last line, the presenter's focus in the
//! accent colour, a province that just changed lit up. Touching a province drills down to it,
//! as touching its bar does.

use super::bars::{Heading, heading, unreported, unreported_note};
use super::{Ctx, figure};
use crate::draw::{Align, Color, DisplayList, Hit, TextStyle, theme};
use crate::layout::{Panel, Rect, TextSize};
use crate::map::{ProvinceMap, bbox};
use crate::render::text::{TextShaper, Weight};

/// The colour of a province with no figure.
pub const NO_FIGURE: Color = Color::rgb(30, 44, 64);

/// Colours from the least to the most: dim to the chart's first series colour, or to the
/// colour of bad news where less is better (poverty, accidents: the brightest is the worst).
pub fn ramp(t: f32, lower_better: bool) -> Color {
    let most = if lower_better {
        theme::BAD
    } else {
        theme::SERIES[0]
    };
    theme::PANEL_EDGE.mix(most, 0.2 + 0.8 * t.clamp(0.0, 1.0))
}

pub fn draw(ctx: &Ctx<'_>, panel: &Panel, shaper: &mut TextShaper, list: &mut DisplayList) {
    let Some(Heading { inner, top, rows }) = heading(ctx, panel, shaper, list) else {
        return;
    };
    // A layout read with the catalogue carries the shapes; one made without them says so.
    let Some(map) = ctx.layout.map.clone() else {
        list.text(
            shaper,
            "Thiếu bản đồ tỉnh, thành phố (assets/maps)",
            inner.x,
            top,
            TextStyle::new(ctx.text_px(TextSize::Small), Weight::Regular, theme::STALE),
            None,
        );
        return;
    };
    let code = panel.indicators.first().map_or("", String::as_str);
    let info = ctx.data.indicators.get(code);
    let lower_better = info.and_then(|i| i.higher_is_better) == Some(false);
    let small = ctx.text_px(TextSize::Small).min(inner.h * 0.05);
    let missing = unreported(ctx, panel);
    let legend_h = small * 2.9;
    let note_h = if missing.is_empty() { 0.0 } else { small * 1.5 };
    let bottom = inner.y + inner.h - legend_h - note_h;
    let area = Rect::new(inner.x, top, inner.w, (bottom - top).max(1.0));
    let mut ascending: Vec<f64> = rows.iter().map(|r| r.2).collect();
    ascending.sort_by(f64::total_cmp);
    let fifths = fifths(&ascending);
    let t_of = |v: f64| fifths.iter().rposition(|&f| v >= f).unwrap_or(0) as f32 / 4.0;
    let place = fit(&map, area);
    let focus = ctx.room.focus_unit.as_deref();
    // A province's colour: the accent when focused, else its fifth's (lit up a while after a
    // change); `None` without a figure.
    let fill = |unit: &str| -> Option<Color> {
        if focus == Some(unit) {
            return Some(theme::ACCENT);
        }
        let v = rows.iter().find(|r| r.0 == unit)?.2;
        let glow = ctx
            .period_of(panel, code, unit)
            .map_or(0.0, |per| ctx.highlight(code, unit, per));
        Some(ramp(t_of(v), lower_better).mix(theme::HIGHLIGHT, glow))
    };
    for p in &map.provinces {
        let colour = fill(&p.code).unwrap_or(NO_FIGURE);
        let triangles: Vec<[f32; 2]> = p.triangles.iter().map(|&q| place(q)).collect();
        for t in triangles.chunks_exact(3) {
            list.triangle(t[0], t[1], t[2], colour);
        }
        let b = bbox(&triangles);
        list.hits.push(Hit {
            rect: Rect::new(b[0], b[1], b[2] - b[0], b[3] - b[1]),
            unit: p.code.clone(),
            triangles,
        });
    }
    // Borders in the panel's colour: neighbours with close figures stay apart.
    let border = (area.h / 900.0).clamp(0.6, 2.0);
    for p in &map.provinces {
        let width = if focus == Some(p.code.as_str()) {
            border * 2.5
        } else {
            border
        };
        let colour = if focus == Some(p.code.as_str()) {
            theme::TEXT
        } else {
            theme::PANEL
        };
        for ring in &p.rings {
            let mut pts: Vec<[f32; 2]> = ring.iter().map(|&q| place(q)).collect();
            pts.push(pts[0]);
            list.polyline(&pts, width, colour);
        }
    }
    // The archipelagos, specks at this scale: each island a dot in its province's colour (over
    // the borders, which would hollow it), and the archipelago named, as on the Government's
    // maps.
    let k = place([1.0, 1.0])[1] - place([0.0, 0.0])[1];
    let dot = (k * 0.004).max(small * 0.12);
    for a in &map.archipelagos {
        // Dots of the dark no-figure colour would vanish into the sea.
        let colour = fill(&a.province).unwrap_or(NO_FIGURE.mix(theme::MUTED, 0.5));
        let mut lo = [f32::MAX; 2];
        let mut hi = [f32::MIN; 2];
        for &i in &a.islands {
            let c = place(i);
            list.disc(c, dot, colour);
            lo = [lo[0].min(c[0]), lo[1].min(c[1])];
            hi = [hi[0].max(c[0]), hi[1].max(c[1])];
        }
        list.text(
            shaper,
            a.name,
            (lo[0] + hi[0]) / 2.0,
            hi[1] + dot * 2.0,
            TextStyle::new(small * 0.8, Weight::Regular, theme::MUTED).align(Align::Center),
            None,
        );
    }
    // The best three and the focused province, named over the sea to the east, where a
    // leader reads them without searching the shapes.
    let named_size = small;
    let right = area.x + area.w;
    let mut y = area.y;
    let mut named: Vec<(&str, &str, f64)> = rows
        .iter()
        .take(3)
        .map(|r| (r.0.as_str(), r.1.as_str(), r.2))
        .collect();
    if let Some(f) = focus
        && let Some(r) = rows.iter().find(|r| r.0 == f)
        && !named.iter().any(|n| n.0 == f)
    {
        named.push((r.0.as_str(), r.1.as_str(), r.2));
    }
    for (unit, name, v) in named {
        let rank = rows.iter().position(|r| r.0 == unit).map_or(0, |i| i + 1);
        let colour = if focus == Some(unit) {
            theme::ACCENT
        } else {
            theme::TEXT
        };
        list.text(
            shaper,
            &format!("{rank}. {name}  {}", figure(info, v)),
            right,
            y,
            TextStyle::new(named_size, Weight::SemiBold, colour).align(Align::Right),
            None,
        );
        y += named_size * 1.4;
    }
    let scale = Scale {
        fifths: &fifths,
        lower_better,
        x: inner.x,
        y: bottom,
        size: small,
    };
    scale.draw(list, shaper, info);
    if let Some(text) = unreported_note(&missing) {
        list.text_elided(
            shaper,
            &text,
            inner.x,
            bottom + legend_h,
            TextStyle::new(small, Weight::SemiBold, theme::STALE),
            inner.w,
        );
    }
}

/// Where each fifth of the figures (sorted ascending) starts: the least figure of each.
fn fifths(ascending: &[f64]) -> Vec<f64> {
    if ascending.is_empty() {
        return Vec::new();
    }
    (0..5)
        .map(|i| ascending[(i * ascending.len() / 5).min(ascending.len() - 1)])
        .collect()
}

/// The scale under the map: the five colours, each over the figure its fifth starts at ("từ").
struct Scale<'a> {
    fifths: &'a [f64],
    lower_better: bool,
    /// Its top left corner.
    x: f32,
    y: f32,
    /// The text's size.
    size: f32,
}

impl Scale<'_> {
    fn draw(
        &self,
        list: &mut DisplayList,
        shaper: &mut TextShaper,
        info: Option<&dieuhanh_protocol::live::IndicatorInfo>,
    ) {
        let size = self.size;
        let labels: Vec<String> = self
            .fifths
            .iter()
            .map(|&v| format!("từ {}", figure(info, v)))
            .collect();
        let step = labels
            .iter()
            .map(|l| shaper.width(l, size, Weight::Regular))
            .fold(size * 3.0, f32::max)
            + size;
        for (i, label) in labels.iter().enumerate() {
            let x = self.x + i as f32 * step;
            list.rect(
                Rect::new(x, self.y + size * 0.3, step - size * 0.4, size * 0.8),
                ramp(i as f32 / 4.0, self.lower_better),
            );
            list.text(
                shaper,
                label,
                x,
                self.y + size * 1.3,
                TextStyle::new(size, Weight::Regular, theme::MUTED),
                None,
            );
        }
    }
}

/// Scales the map's box into `area`, centred, north up, keeping its proportions.
fn fit(map: &ProvinceMap, area: Rect) -> impl Fn([f32; 2]) -> [f32; 2] + use<> {
    let k = (area.w / map.aspect).min(area.h);
    let x0 = area.x + (area.w - map.aspect * k) / 2.0;
    let y0 = area.y + (area.h - k) / 2.0;
    move |p| [x0 + p[0] * k, y0 + p[1] * k]
}
