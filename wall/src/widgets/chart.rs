//! Line and area charts: up to four indicators of one unit over the recent periods, with a value
//! axis (Vietnamese compact numbers), gridlines, period labels and a legend.

use dieuhanh_protocol::number::format_compact_vi;

use super::{Ctx, panel_frame, panel_line, panel_title, periods_back, short_label};
use crate::draw::{Align, Color, DisplayList, TextStyle, theme};
use crate::layout::{Panel, Rect, TextSize, WidgetKind};
use crate::render::text::{TextShaper, Weight};

pub fn draw(ctx: &Ctx<'_>, panel: &Panel, shaper: &mut TextShaper, list: &mut DisplayList) {
    let inner = panel_frame(panel, list);
    let unit = ctx.unit_of(panel);
    let first = panel.indicators.first().map_or("", String::as_str);
    let small = ctx.text_px(TextSize::Small).min(inner.h * 0.06);
    let medium = ctx.text_px(panel.text).min(inner.h * 0.085);
    let info = ctx.data.indicators.get(first);
    let title = panel.title.clone().unwrap_or_else(|| {
        if panel.indicators.len() == 1 {
            info.map_or(first.to_owned(), |i| i.name.clone())
        } else {
            panel
                .indicators
                .iter()
                .map(|c| {
                    ctx.data
                        .indicators
                        .get(c)
                        .map_or(c.as_str(), |i| i.name.as_str())
                })
                .collect::<Vec<_>>()
                .join(" · ")
        }
    });
    let style = TextStyle::new(medium, Weight::SemiBold, theme::TEXT);
    let t = panel_title(ctx, panel, shaper, list, &title, inner, style);
    let unit_label = match info {
        Some(i) if panel.indicators.len() == 1 => {
            format!("{} · {}", ctx.data.unit_name(unit), i.unit)
        }
        _ => ctx.data.unit_name(unit).to_owned(),
    };
    let style = TextStyle::new(small, Weight::Regular, theme::MUTED);
    let s = panel_line(
        ctx,
        panel,
        shaper,
        list,
        &unit_label,
        inner,
        t.y + t.h,
        style,
    );
    let Some(last) = ctx.period_of(panel, first, unit) else {
        list.text(
            shaper,
            "Chưa có số liệu",
            inner.x,
            s.y + s.h + small,
            TextStyle::new(small, Weight::Regular, theme::MUTED),
            None,
        );
        return;
    };
    let periods = periods_back(last, panel.history);
    let series: Vec<Vec<Option<f64>>> = panel
        .indicators
        .iter()
        .map(|code| {
            periods
                .iter()
                .map(|p| ctx.shown_value(code, unit, *p))
                .collect()
        })
        .collect();
    let all: Vec<f64> = series.iter().flatten().flatten().copied().collect();
    if all.is_empty() {
        return;
    }
    let (mut lo, mut hi) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    if panel.widget == WidgetKind::Area || lo > 0.0 && lo < hi * 0.5 {
        lo = lo.min(0.0);
    }
    if (hi - lo).abs() < 1e-12 {
        hi = lo + 1.0;
    }
    let (ticks, step) = nice_ticks(lo, hi, 5);
    lo = lo.min(ticks[0]);
    hi = hi.max(ticks[0] + step * (ticks.len() as f64 - 1.0));

    // Legend for several series under the unit label: in equal slots on one line when every
    // name fits its slot; else flowing over as many lines as the names need, whole, while that
    // leaves the plot most of the panel; else in equal slots, names cut to fit.
    let mut top = s.y + s.h + small * 0.4;
    if panel.indicators.len() > 1 {
        let size = small * 0.85;
        let line = small * 1.4;
        let entries: Vec<(&str, Color)> = panel
            .indicators
            .iter()
            .enumerate()
            .map(|(i, code)| {
                let name = ctx
                    .data
                    .indicators
                    .get(code)
                    .map_or(code.as_str(), |i| i.name.as_str());
                (name, theme::SERIES[i % theme::SERIES.len()])
            })
            .collect();
        let slot = inner.w / entries.len() as f32;
        let widths: Vec<f32> = entries
            .iter()
            .map(|(name, _)| small + shaper.width(name, size, Weight::Regular))
            .collect();
        // (left, line, room) of each entry.
        let mut at: Vec<(f32, f32, f32)> = (0..entries.len())
            .map(|i| (inner.x + slot * i as f32, 0.0, slot))
            .collect();
        if widths.iter().any(|w| *w + small * 0.5 > slot) {
            let mut flow = Vec::with_capacity(entries.len());
            let (mut x, mut row) = (0.0_f32, 0.0_f32);
            for w in &widths {
                if x > 0.0 && x + w + small * 0.5 > inner.w {
                    x = 0.0;
                    row += 1.0;
                }
                flow.push((inner.x + x, row, inner.w - x));
                x += w + small;
            }
            if (row + 1.0) * line <= inner.h * 0.2 {
                at = flow;
            }
        }
        let mut rows = 0.0_f32;
        for ((name, colour), (x, row, room)) in entries.iter().zip(&at) {
            let y = top + row * line;
            list.rect(
                Rect::new(*x, y + small * 0.35, small * 0.8, small * 0.5),
                *colour,
            );
            list.text_elided(
                shaper,
                name,
                x + small,
                y,
                TextStyle::new(size, Weight::Regular, theme::TEXT),
                room - small * 1.5,
            );
            rows = rows.max(row + 1.0);
        }
        top += rows * line;
    }

    // Value axis labels on the left, period labels under the plot.
    let label_w = ticks
        .iter()
        .map(|v| shaper.width(&format_compact_vi(*v), small * 0.85, Weight::Regular))
        .fold(0.0_f32, f32::max);
    let plot = Rect::new(
        inner.x + label_w + small * 0.5,
        top + small * 0.5,
        inner.w - label_w - small * 0.5,
        inner.y + inner.h - top - small * 2.0,
    );
    if plot.w <= 0.0 || plot.h <= 0.0 {
        return;
    }
    let y_of = |v: f64| plot.y + plot.h - ((v - lo) / (hi - lo)) as f32 * plot.h;
    let n = periods.len();
    let step_x = if n > 1 { plot.w / (n - 1) as f32 } else { 0.0 };
    let x_of = |i: usize| plot.x + i as f32 * step_x;
    // An area chart's fills go first, opaque, and its gridlines over them (see `areas`).
    let base = y_of(lo.max(0.0).min(hi));
    let opaque_areas = panel.widget == WidgetKind::Area
        && all.iter().all(|v| y_of(*v) <= base)
        && series.len() <= 8;
    if opaque_areas {
        let xs: Vec<f32> = (0..n).map(x_of).collect();
        let tops: Vec<Vec<Option<f32>>> = series
            .iter()
            .map(|vs| vs.iter().map(|v| v.map(&y_of)).collect())
            .collect();
        areas(list, &xs, &tops, base, theme::PANEL);
    }
    let grid_w = (plot.h * 0.004).clamp(1.0, 2.0);
    for v in &ticks {
        let y = y_of(*v);
        list.rect(
            Rect::new(plot.x, y - grid_w / 2.0, plot.w, grid_w),
            theme::GRID,
        );
        list.text(
            shaper,
            &format_compact_vi(*v),
            plot.x - small * 0.4,
            y - small * 0.6,
            TextStyle::new(small * 0.85, Weight::Regular, theme::MUTED).align(Align::Right),
            None,
        );
    }
    // As many period labels as fit without touching.
    let label_key = shaper.key("T12/25", small * 0.85, Weight::Regular);
    let lw = shaper.measure(&label_key)[0] * 1.4;
    let every = ((lw / step_x.max(1.0)).ceil() as usize).max(1);
    // From the latest period back, so the latest is always labelled; a label that its clamp or
    // a bezel pushed close to the next one makes way instead of crowding it.
    let gap = lw * 0.25;
    let mut next_left = f32::MAX;
    for (i, p) in periods.iter().enumerate().rev() {
        if !(n - 1 - i).is_multiple_of(every) {
            continue;
        }
        // Centred under its point, but kept inside the panel at both ends. Centred, a label at
        // a bezel moves whole to the nearer side instead of being cut there.
        let label = short_label(*p);
        let w = shaper.width(&label, small * 0.85, Weight::Regular);
        let x = (x_of(i) - w / 2.0).clamp(inner.x, inner.x + inner.w - w);
        if x + w + gap > next_left {
            continue;
        }
        let drawn = list.text(
            shaper,
            &label,
            x + w / 2.0,
            plot.y + plot.h + small * 0.3,
            TextStyle::new(small * 0.85, Weight::Regular, theme::MUTED).align(Align::Center),
            None,
        );
        next_left = drawn.x;
    }
    let line_w = (plot.h * 0.012).clamp(2.0, 8.0);
    for (si, values) in series.iter().enumerate() {
        let colour = theme::SERIES[si % theme::SERIES.len()];
        // Gaps (missing periods) break the line rather than bridging them.
        let mut run: Vec<[f32; 2]> = Vec::new();
        let mut runs = Vec::new();
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) => run.push([x_of(i), y_of(*v)]),
                None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                None => {}
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        for pts in &runs {
            if panel.widget == WidgetKind::Area && !opaque_areas {
                list.area(pts, base, colour.with_alpha(AREA_ALPHA));
            }
            list.polyline(pts, line_w, colour);
        }
        if let Some((i, Some(v))) = values.iter().enumerate().rev().find(|(_, v)| v.is_some()) {
            let glow = ctx.highlight(&panel.indicators[si], unit, periods[i]);
            let r = line_w * (1.6 + glow * 1.5);
            list.disc(
                [x_of(i), y_of(*v)],
                r,
                theme::ACCENT.mix(theme::HIGHLIGHT, glow),
            );
        }
    }
}

/// How strongly an area's fill shows its series' colour over the panel.
const AREA_ALPHA: f32 = 0.25;

/// Fills the areas between each series' line (`tops[k][i]`: its y at `xs[i]`, `None` where the
/// period is missing) and `base`, every line at or above it, as they look laid translucent over
/// `under` one after the other, but drawn as opaque bands: over each stretch between two
/// periods (cut where two lines cross) the lines keep their order, so the space between two
/// neighbouring lines is covered by the same series all along, and its colour is theirs laid
/// over `under` in series order. A software rasteriser fills opaque shapes several times
/// faster than it blends, and an area chart is a large share of a wall's pixels.
fn areas(list: &mut DisplayList, xs: &[f32], tops: &[Vec<Option<f32>>], base: f32, under: Color) {
    let colour_of = |cover: &[bool]| {
        cover
            .iter()
            .enumerate()
            .filter(|(_, c)| **c)
            .fold(under, |c, (k, _)| {
                theme::SERIES[k % theme::SERIES.len()]
                    .with_alpha(AREA_ALPHA)
                    .over(c)
            })
    };
    for i in 0..xs.len().saturating_sub(1) {
        // The series drawn over this stretch, each by its height above the base at both ends.
        let ends: Vec<(usize, f32, f32)> = tops
            .iter()
            .enumerate()
            .filter_map(
                |(k, t)| match (t.get(i).copied()?, t.get(i + 1).copied()?) {
                    (Some(a), Some(b)) => Some((k, base - a, base - b)),
                    _ => None,
                },
            )
            .collect();
        if ends.is_empty() {
            continue;
        }
        let mut cuts = vec![0.0_f32, 1.0];
        for (n, a) in ends.iter().enumerate() {
            for b in &ends[n + 1..] {
                let (d0, d1) = (a.1 - b.1, a.2 - b.2);
                if d0 * d1 < 0.0 {
                    cuts.push(d0 / (d0 - d1));
                }
            }
        }
        cuts.sort_by(f32::total_cmp);
        cuts.dedup();
        let at = |e: &(usize, f32, f32), t: f32| e.1 + (e.2 - e.1) * t;
        let x_at = |t: f32| xs[i] + (xs[i + 1] - xs[i]) * t;
        for w in cuts.windows(2) {
            let (t0, t1) = (w[0], w[1]);
            if t1 - t0 <= f32::EPSILON {
                continue;
            }
            let mid = (t0 + t1) / 2.0;
            let mut order: Vec<&(usize, f32, f32)> = ends.iter().collect();
            order.sort_by(|a, b| at(a, mid).total_cmp(&at(b, mid)));
            // Bottom up: each band is covered by the series whose line is at or above its top.
            let (mut low0, mut low1) = (0.0_f32, 0.0_f32);
            let mut cover = [false; 8];
            for e in &order {
                cover[e.0] = true;
            }
            for e in &order {
                let (high0, high1) = (at(e, t0), at(e, t1));
                if high0 > low0 || high1 > low1 {
                    list.quad(
                        [
                            [x_at(t0), base - low0],
                            [x_at(t0), base - high0],
                            [x_at(t1), base - high1],
                            [x_at(t1), base - low1],
                        ],
                        colour_of(&cover[..tops.len()]),
                    );
                }
                cover[e.0] = false;
                (low0, low1) = (high0, high1);
            }
        }
    }
}

/// Round gridline values covering [lo, hi] with about `count` steps.
pub fn nice_ticks(lo: f64, hi: f64, count: usize) -> (Vec<f64>, f64) {
    let raw = (hi - lo) / count.max(1) as f64;
    let mag = 10f64.powf(raw.abs().log10().floor());
    let norm = raw / mag;
    let step = mag
        * if norm <= 1.0 {
            1.0
        } else if norm <= 2.0 {
            2.0
        } else if norm <= 2.5 {
            2.5
        } else if norm <= 5.0 {
            5.0
        } else {
            10.0
        };
    let start = (lo / step).floor() * step;
    let mut ticks = Vec::new();
    let mut v = start;
    while v <= hi + step * 1e-9 && ticks.len() < 50 {
        ticks.push(v);
        v += step;
    }
    if ticks.last().is_some_and(|&l| l < hi) {
        ticks.push(v);
    }
    (ticks, step)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The opaque bands give the pixels of the series' translucent areas laid one after the
    /// other: where lines cross, where one series has a gap, where all three overlap.
    #[test]
    fn opaque_area_bands_look_like_translucent_areas_laid_in_order() {
        use crate::render::{Gpu, OFFSCREEN_FORMAT, Renderer};
        let gpu = Gpu::headless().expect("a Vulkan adapter (lavapipe in CI)");
        let xs: Vec<f32> = (0..7).map(|i| 20.0 + i as f32 * 100.0).collect();
        let base = 460.0;
        let tops: Vec<Vec<Option<f32>>> = vec![
            [100.0, 300.0, 120.0, 400.0, 250.0, 260.0, 90.0]
                .map(Some)
                .to_vec(),
            vec![
                Some(350.0),
                Some(90.0),
                Some(200.0),
                None,
                Some(260.0),
                Some(240.0),
                Some(300.0),
            ],
            [455.0, 380.0, 300.0, 200.0, 460.0, 410.0, 95.0]
                .map(Some)
                .to_vec(),
        ];
        let whole = Rect::new(0.0, 0.0, 640.0, 480.0);
        let mut shaper = TextShaper::new();
        let mut pixels = Vec::new();
        for opaque in [true, false] {
            let mut list = DisplayList::default();
            list.rect(whole, theme::PANEL);
            if opaque {
                areas(&mut list, &xs, &tops, base, theme::PANEL);
            } else {
                for (k, t) in tops.iter().enumerate() {
                    let colour = theme::SERIES[k].with_alpha(AREA_ALPHA);
                    // Each run of known periods, as the chart draws it.
                    let mut run = Vec::new();
                    for (x, y) in xs.iter().zip(t).chain([(&0.0, &None)]) {
                        match y {
                            Some(y) => run.push([*x, *y]),
                            None => list.area(&std::mem::take(&mut run), base, colour),
                        }
                    }
                }
            }
            let mut r = Renderer::new(&gpu, OFFSCREEN_FORMAT);
            pixels.push(crate::render::tests::draw(&gpu, &mut r, &mut shaper, &list).pixels);
        }
        let differing = pixels[0]
            .chunks_exact(4)
            .zip(pixels[1].chunks_exact(4))
            .filter(|(a, b)| a.iter().zip(b.iter()).any(|(x, y)| x.abs_diff(*y) > 2))
            .count();
        // Only pixels whose centres lie on a line can fall on either side of it.
        assert!(differing < 640 * 480 / 2000, "{differing} pixels differ");
        // And the overlap of all three is there, not the panel.
        assert_ne!(
            pixels[0][(440 * 640 + 320) * 4..][..4],
            theme::PANEL.to_rgba8()
        );
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (t, step) = nice_ticks(3.2, 97.0, 5);
        assert_eq!(step, 20.0);
        assert_eq!(t.first(), Some(&0.0));
        assert!(*t.last().unwrap() >= 97.0);
    }
}
