//! Table: with `children`, one row per child unit and one column per indicator (touching a row
//! drills down to its unit); otherwise one row per indicator for the unit, with the period, the
//! value and the change vs last year.

use super::{Ctx, change_colour, figure, panel_frame, panel_title, yoy};
use crate::draw::{Align, DisplayList, Hit, TextStyle, theme};
use crate::layout::{Panel, Rect, TextSize};
use crate::render::text::{TextShaper, Weight};

pub fn draw(ctx: &Ctx<'_>, panel: &Panel, shaper: &mut TextShaper, list: &mut DisplayList) {
    let inner = panel_frame(panel, list);
    let size_cap = ctx.text_px(panel.text);
    let head = ctx.text_px(TextSize::Medium).min(inner.h * 0.08);
    let unit = ctx.unit_of(panel);
    let title = panel
        .title
        .clone()
        .unwrap_or_else(|| match &panel.children {
            Some(level) => format!(
                "{} — cấp {}",
                ctx.data.unit_name(unit),
                super::bars::level_vi(level)
            ),
            None => ctx.data.unit_name(unit).to_owned(),
        });
    let style = TextStyle::new(head, Weight::SemiBold, theme::TEXT);
    let t = panel_title(ctx, panel, shaper, list, &title, inner, style);
    let top = t.y + t.h + head * 0.3;

    let mut header: Vec<String> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    // A row of a child unit drills down to it when touched.
    let mut units: Vec<String> = Vec::new();
    match &panel.children {
        Some(level) => {
            header.push("Đơn vị".into());
            for code in &panel.indicators {
                let info = ctx.data.indicators.get(code);
                header.push(info.map_or(code.clone(), |i| format!("{} ({})", i.name, i.unit)));
            }
            for u in ctx.data.children(unit, level) {
                let cells = panel
                    .indicators
                    .iter()
                    .map(|code| {
                        let info = ctx.data.indicators.get(code);
                        let v = ctx
                            .period_of(panel, code, &u.code)
                            .and_then(|p| ctx.shown_value(code, &u.code, p));
                        (v.map_or("—".into(), |v| figure(info, v)), theme::TEXT)
                    })
                    .collect();
                rows.push((u.name.clone(), cells));
                units.push(u.code.clone());
            }
        }
        None => {
            header.extend(["Chỉ tiêu", "Kỳ", "Giá trị", "So cùng kỳ"].map(String::from));
            for code in &panel.indicators {
                let info = ctx.data.indicators.get(code);
                let name = info.map_or(code.clone(), |i| i.name.clone());
                let Some(p) = ctx.period_of(panel, code, unit) else {
                    rows.push((name, vec![("—".into(), theme::MUTED)]));
                    continue;
                };
                let v = ctx.shown_value(code, unit, p);
                let cmp = match ctx.compared(panel, code, unit, p) {
                    Some((now, ly)) => yoy(info, now, ly)
                        .map(|(t, d)| (t, change_colour(info, d)))
                        .unwrap_or(("—".into(), theme::MUTED)),
                    _ => ("—".into(), theme::MUTED),
                };
                let unit_label = info.map_or("", |i| i.unit.as_str());
                rows.push((
                    name,
                    vec![
                        (p.label_vi(), theme::MUTED),
                        (
                            v.map_or("—".into(), |v| {
                                format!("{} {unit_label}", figure(info, v))
                            }),
                            theme::TEXT,
                        ),
                        cmp,
                    ],
                ));
            }
        }
    }
    let drawn = rows_at(
        shaper,
        list,
        inner,
        top,
        size_cap,
        &header,
        &rows,
        panel.children.is_none(),
    );
    for (rect, unit) in drawn.into_iter().zip(units) {
        list.hits.push(Hit {
            rect,
            unit,
            triangles: Vec::new(),
        });
    }
}

/// A row: its name, then right-aligned cells with their colours.
pub type Row = (String, Vec<(String, crate::draw::Color)>);

/// Draws `header` and `rows` from `top` down to the bottom of `inner`, striped, at most
/// `size_cap` high: each cell column as wide as its widest cell (and its heading, when
/// `headings_count`), the names taking what is left, at least two fifths. Returns the rows'
/// rectangles, in order (fewer than `rows` when they do not all fit).
#[allow(clippy::too_many_arguments)]
pub fn rows_at(
    shaper: &mut TextShaper,
    list: &mut DisplayList,
    inner: Rect,
    top: f32,
    size_cap: f32,
    header: &[String],
    rows: &[Row],
    headings_count: bool,
) -> Vec<Rect> {
    let n = rows.len() + 1;
    let (row_h, ys) = super::row_tops(
        &list.bezels,
        inner,
        top,
        inner.y + inner.h,
        n,
        size_cap * 1.5,
    );
    let Some(&head_y) = ys.first() else {
        return Vec::new();
    };
    let size = (row_h * 0.7).min(size_cap);
    let cols = header.len().max(2);
    // Each figure column is as wide as its widest figure (and, listing indicators, its short
    // heading); the names take what is left, at least two fifths of the table. When the
    // figures need more, they all get smaller together: one size for every figure. A figure
    // counts by its digit shape, as it is fitted, so a new digit moves no column.
    let pad = size * 0.8;
    let mut widths: Vec<f32> = (1..cols)
        .map(|c| {
            let content = rows
                .iter()
                .filter_map(|(_, cells)| cells.get(c - 1))
                .map(|(text, _)| shaper.shape_width(text, size * 0.9, Weight::SemiBold))
                .fold(0.0_f32, f32::max);
            let heading = match header.get(c) {
                Some(h) if headings_count => shaper.width(h, size * 0.85, Weight::SemiBold),
                _ => 0.0,
            };
            content.max(heading) + pad
        })
        .collect();
    let figures: f32 = widths.iter().sum();
    let most = inner.w * 0.6;
    let fig_scale = if figures > most { most / figures } else { 1.0 };
    for w in &mut widths {
        *w *= fig_scale;
    }
    let fig_size = size * 0.9 * fig_scale;
    let first_w = inner.w - widths.iter().sum::<f32>();
    let col_right = |c: usize| inner.x + first_w + widths[..c].iter().sum::<f32>();
    let col_w = |c: usize| widths.get(c - 1).copied().unwrap_or(0.0);
    for (i, h) in header.iter().enumerate() {
        let style = TextStyle::new(size * 0.85, Weight::SemiBold, theme::MUTED);
        if i == 0 {
            list.text_elided(shaper, h, inner.x, head_y, style, first_w - size);
        } else {
            // Shrunk with the figures when they had to: a heading cut to "Đ…" names nothing.
            let style = TextStyle {
                size_px: size * 0.85 * fig_scale,
                ..style
            };
            list.text_elided(
                shaper,
                h,
                col_right(i) - size * 0.3 * fig_scale,
                head_y,
                style.align(Align::Right),
                col_w(i) - size * 0.5 * fig_scale,
            );
        }
    }
    let mut drawn = Vec::new();
    for (ri, ((name, cells), &y)) in rows.iter().zip(&ys[1..]).enumerate() {
        drawn.push(Rect::new(inner.x, y, inner.w, row_h));
        if ri % 2 == 0 {
            list.rect(
                Rect::new(inner.x, y, inner.w, row_h),
                // Opaque: only the panel's colour is under a stripe.
                theme::BACKGROUND.with_alpha(0.35).over(theme::PANEL),
            );
        }
        let ty = y + (row_h - size * 1.25) / 2.0;
        list.text_elided(
            shaper,
            name,
            inner.x + size * 0.2,
            ty,
            TextStyle::new(size, Weight::Regular, theme::TEXT),
            first_w - size,
        );
        let fy = y + (row_h - fig_size * 1.25) / 2.0;
        for (ci, (text, colour)) in cells.iter().enumerate() {
            list.text(
                shaper,
                text,
                col_right(ci + 1) - size * 0.3,
                fy,
                TextStyle::new(fig_size, Weight::SemiBold, *colour).align(Align::Right),
                Some(col_w(ci + 1) - pad * fig_scale * 0.6),
            );
        }
    }
    drawn
}
