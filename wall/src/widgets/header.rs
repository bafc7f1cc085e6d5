//! Header: the scene's title, the date and time in Vietnam, and whether the data is live.

use super::{Ctx, clock_vi, vietnam_time};
use crate::data::Feed;
use crate::draw::{Align, DisplayList, TextStyle, theme};
use crate::layout::{Panel, Rect, TextSize};
use crate::render::text::{TextShaper, Weight};

const WEEKDAYS: [&str; 7] = [
    "Chủ nhật",
    "Thứ Hai",
    "Thứ Ba",
    "Thứ Tư",
    "Thứ Năm",
    "Thứ Sáu",
    "Thứ Bảy",
];

/// The status line and its colour.
pub fn status(ctx: &Ctx<'_>) -> (String, crate::draw::Color) {
    match &ctx.data.feed {
        Feed::Live { .. } => (
            format!("Trực tuyến · phiên bản dữ liệu {}", ctx.data.version),
            theme::GOOD,
        ),
        Feed::Down { since_ms, .. } => (
            format!(
                "Mất kết nối từ {} — đang kết nối lại",
                clock_vi(*since_ms, ctx.now_ms)
            ),
            theme::STALE,
        ),
        Feed::Connecting => ("Đang kết nối máy chủ…".into(), theme::STALE),
        Feed::File { taken_at_ms } => (
            format!(
                "Ảnh dữ liệu lúc {} (không trực tuyến)",
                clock_vi(*taken_at_ms, 0)
            ),
            theme::MUTED,
        ),
        // A preview image travels: it must not pass for the country's figures.
        Feed::Demo => (
            "Số liệu mẫu để xem trước bố cục, không phải số liệu thật".into(),
            theme::ACCENT,
        ),
    }
}

/// "Chủ nhật, 29/11/2026 · 19:45".
pub fn date_time(now_ms: i64) -> String {
    let ((y, m, d), hh, mm, wd) = vietnam_time(now_ms);
    format!(
        "{}, {d:02}/{m:02}/{y} · {hh:02}:{mm:02}",
        WEEKDAYS[wd as usize % 7]
    )
}

pub fn draw(ctx: &Ctx<'_>, panel: &Panel, shaper: &mut TextShaper, list: &mut DisplayList) {
    let r = panel.rect;
    list.rect(r, theme::PANEL);
    // The national red stripe along the bottom edge.
    let stripe = (r.h * 0.06).max(2.0);
    list.rect(
        Rect::new(r.x, r.y + r.h - stripe, r.w, stripe),
        theme::RED_FLAG,
    );
    let pad = (r.h * 0.12).max(6.0);
    let big = ctx.text_px(panel.text).min(r.h * 0.55);
    let small = ctx.text_px(TextSize::Small).min(r.h * 0.28);
    let title = panel.title.as_deref().unwrap_or(&ctx.scene.title);
    // What a presenter chose is the wall's subject now: the room reads it in the title.
    let chosen: Vec<String> = [
        ctx.room
            .focus_unit
            .as_deref()
            .map(|u| ctx.data.unit_name(u).to_owned()),
        ctx.room.agency.clone(),
        ctx.room.period.map(|p| p.label_vi()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let title = if chosen.is_empty() {
        title.to_owned()
    } else {
        format!("{title} · {}", chosen.join(" · "))
    };
    let title = title.as_str();
    let right = r.x + r.w - pad;
    let clock = date_time(ctx.now_ms);
    // The clock over the status line, both above the stripe: on a low header they give up
    // size together rather than let the status line sit on the stripe.
    let above = r.h - stripe;
    let column = big * 0.8 * 1.2 + small * 1.25;
    let fit = (above * 0.96 / column).min(1.0);
    let (clock_px, small) = (big * 0.8 * fit, small * fit);
    let top = r.y + (above - column * fit) / 2.0;
    // Both by digit shape, so the title's room does not change with the minute or the data
    // version (a long title would otherwise change size with them).
    let clock_w = shaper.shape_width(&clock, clock_px, Weight::SemiBold);
    let (status_text, colour) = status(ctx);
    // The status line under the clock (a disc and its text) can be the wider of the two.
    let status_w = shaper.shape_width(&status_text, small, Weight::Regular) + small;
    list.text(
        shaper,
        title,
        r.x + pad,
        r.y + (r.h - stripe - big * 1.25) / 2.0,
        TextStyle::new(big, Weight::Bold, theme::TEXT),
        Some((r.w - clock_w.max(status_w) - 3.0 * pad).max(r.w * 0.3)),
    );
    list.text(
        shaper,
        &clock,
        right,
        top,
        TextStyle::new(clock_px, Weight::SemiBold, theme::TEXT).align(Align::Right),
        None,
    );
    let s = list.text(
        shaper,
        &status_text,
        right,
        top + clock_px * 1.2,
        TextStyle::new(small, Weight::Regular, colour).align(Align::Right),
        None,
    );
    list.disc([s.x - small * 0.6, s.y + s.h * 0.5], small * 0.3, colour);
}
