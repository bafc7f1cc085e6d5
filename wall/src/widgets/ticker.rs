//! Ticker: the most recent changes pushed by the server, newest first, as many as fit in one
//! line ("14:32 · Hà Nội · Thu ngân sách tháng 10/2026: 1.234,5 tỷ đồng (tăng)"), each
//! with a dot coloured by whether the change is good news. Filtered to the panel's
//! indicators when it names some.

use super::{Ctx, change_colour, clock_vi, figure, panel_frame};
use crate::draw::{DisplayList, TextStyle, theme};
use crate::layout::Panel;
use crate::render::text::{TextShaper, Weight};

/// The lines the ticker shows (newest first), with the colour of each change.
pub fn items(ctx: &Ctx<'_>, panel: &Panel) -> Vec<(String, crate::draw::Color)> {
    ctx.data
        .changes
        .iter()
        .filter(|c| panel.indicators.is_empty() || panel.indicators.contains(&c.key.indicator))
        .map(|c| {
            let info = ctx.data.indicators.get(&c.key.indicator);
            let name = info.map_or(c.key.indicator.as_str(), |i| i.name.as_str());
            let unit = info.map_or("", |i| i.unit.as_str());
            let value = c.new.map_or("đã xóa".into(), |v| {
                format!("{} {unit}", figure(info, v))
            });
            let change = match (c.old, c.new) {
                (Some(o), Some(n)) if (n - o).abs() > 1e-12 => n - o,
                _ => 0.0,
            };
            let arrow = if change > 0.0 {
                " (tăng)"
            } else if change < 0.0 {
                " (giảm)"
            } else {
                ""
            };
            (
                format!(
                    "{} · {} · {} {}: {value}{arrow}",
                    clock_vi(c.at_ms, ctx.now_ms),
                    ctx.data.unit_name(&c.key.unit),
                    name,
                    c.key.period.label_vi().to_lowercase(),
                ),
                change_colour(info, change),
            )
        })
        .collect()
}

pub fn draw(ctx: &Ctx<'_>, panel: &Panel, shaper: &mut TextShaper, list: &mut DisplayList) {
    let inner = panel_frame(panel, list);
    let size = ctx.text_px(panel.text).min(inner.h * 0.8);
    let label = list.text(
        shaper,
        "MỚI CẬP NHẬT",
        inner.x,
        inner.y + (inner.h - size * 1.25) / 2.0,
        TextStyle::new(size, Weight::Bold, theme::ACCENT),
        None,
    );
    let items = items(ctx, panel);
    let mut x = label.x + label.w + size;
    if items.is_empty() {
        list.text(
            shaper,
            "Chưa có cập nhật mới trong phiên này",
            x,
            inner.y + (inner.h - size * 1.25) / 2.0,
            TextStyle::new(size, Weight::Regular, theme::MUTED),
            None,
        );
        return;
    }
    for (text, colour) in items {
        let key = shaper.key(&text, size, Weight::Regular);
        let w = shaper.measure(&key)[0];
        if x + w > inner.x + inner.w {
            break;
        }
        list.disc(
            [x + size * 0.25, inner.y + inner.h / 2.0],
            size * 0.2,
            colour,
        );
        let r = list.text(
            shaper,
            &text,
            x + size * 0.7,
            inner.y + (inner.h - size * 1.25) / 2.0,
            TextStyle::new(size, Weight::Regular, theme::TEXT),
            None,
        );
        x = r.x + r.w + size * 1.5;
    }
}
