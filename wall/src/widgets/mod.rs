//! The widgets: each turns a panel of the layout and the wall's data into shapes and text in the
//! panel's canvas rectangle. Plain Rust over [`DisplayList`]; no GPU here, so every decision
//! (colours of arrows, what is written, where) is testable directly.
//!
//! - [`kpi`]: one figure with its unit and period, % vs same period last year and vs plan, a
//!   sparkline.
//! - [`chart`]: line or area chart of up to four indicators with axes, gridlines and Vietnamese
//!   period labels.
//! - [`bars`]: ranked horizontal bars (e.g. the 34 provinces).
//! - [`map`]: the 34 provinces on the map of Vietnam, coloured by one indicator.
//! - [`table`]: indicators × units.
//! - [`ticker`]: the most recent changes.
//! - [`header`]: scene title, date and time in Vietnam, connection status.

pub mod bars;
pub mod chart;
pub mod header;
pub mod kpi;
pub mod map;
pub mod reports;
pub mod table;
pub mod ticker;

use dieuhanh_protocol::live::{IndicatorInfo, RoomState};
use dieuhanh_protocol::number::{format_compact_vi_fixed, format_percent_vi, format_vi};
use dieuhanh_protocol::period::{CivilDate, Frequency, Period};

use crate::data::WallData;
use crate::draw::{DisplayList, TextStyle, theme};
use crate::layout::{Layout, Panel, PeriodSpec, Rect, Scene, TextSize, WidgetKind};
use crate::render::text::{TextShaper, Weight};

/// How long a changed value animates from its old figure to the new one.
pub const ANIMATE_MS: i64 = 1200;
/// How long a changed value stays highlighted.
pub const HIGHLIGHT_MS: i64 = 10_000;

/// Vietnam's offset from UTC (no daylight saving).
pub const VIETNAM_OFFSET_SECS: i64 = 7 * 3600;

/// What every widget reads.
pub struct Ctx<'a> {
    pub layout: &'a Layout,
    pub scene: &'a Scene,
    pub data: &'a WallData,
    pub room: &'a RoomState,
    pub now_ms: i64,
}

impl Ctx<'_> {
    pub fn text_px(&self, size: TextSize) -> f32 {
        self.layout.wall.text_px(size)
    }

    /// `unit`'s value of `code` at `p` and a year before, as a comparison with last year reads
    /// them. While some units below have not reported, a total that adds up is compared over
    /// the same units in both years ([`WallData::matched`]); otherwise as held.
    pub fn compared(&self, panel: &Panel, code: &str, unit: &str, p: Period) -> Option<(f64, f64)> {
        let matched = crate::scene::child_level(unit)
            .filter(|_| panel.additive.iter().any(|a| a == code))
            .and_then(|level| self.data.matched(code, unit, level, p));
        match matched {
            Some((now, before, _)) => Some((now, before)),
            None => self.data.value(code, unit, p).zip(self.data.value(
                code,
                unit,
                p.same_period_last_year(),
            )),
        }
    }

    /// The unit a panel shows, after the presenter's focus.
    pub fn unit_of<'p>(&'p self, panel: &'p Panel) -> &'p str {
        shown_unit(panel, self.room)
    }

    /// The period a panel shows for `indicator` at `unit`: a fixed one, or the latest with a
    /// value of the panel's frequency (the presenter's period caps it).
    pub fn period_of(&self, panel: &Panel, indicator: &str, unit: &str) -> Option<Period> {
        match panel.period {
            PeriodSpec::Fixed(p) => Some(self.room.period.map_or(p, |r| stood_for(p, r))),
            PeriodSpec::Latest(f) => {
                if let Some(p) = self.room.period
                    && p.frequency() == Some(f)
                {
                    return Some(p);
                }
                self.data
                    .latest_shown_period(indicator, unit, Some(f), self.room.period)
            }
        }
    }

    /// Whether the wall's data is not live and older than the layout allows; the time (ms) it
    /// dates from.
    pub fn stale(&self) -> Option<i64> {
        let since = self.data.stale_since()?;
        let limit = self.layout.stale_after.as_millis() as i64;
        (self.now_ms - since > limit || since == 0).then_some(since)
    }

    /// The value to draw for a cell now: animated from the previous figure just after a change.
    pub fn shown_value(&self, indicator: &str, unit: &str, period: Period) -> Option<f64> {
        let c = self.data.get(indicator, unit, period)?;
        match (c.changed_at_ms, c.previous) {
            (Some(at), Some(prev)) if self.now_ms - at < ANIMATE_MS && self.now_ms >= at => {
                let t = (self.now_ms - at) as f64 / ANIMATE_MS as f64;
                let ease = 1.0 - (1.0 - t).powi(3);
                Some(prev + (c.value - prev) * ease)
            }
            _ => Some(c.value),
        }
    }

    /// 0–1: how strongly to highlight a cell that just changed (fading out).
    pub fn highlight(&self, indicator: &str, unit: &str, period: Period) -> f32 {
        let Some(at) = self
            .data
            .get(indicator, unit, period)
            .and_then(|c| c.changed_at_ms)
        else {
            return 0.0;
        };
        let age = self.now_ms - at;
        if !(0..HIGHLIGHT_MS).contains(&age) {
            return 0.0;
        }
        1.0 - age as f32 / HIGHLIGHT_MS as f32
    }
}

/// The period of `fixed`'s kind that a presenter's period `chosen` stands for: `chosen` itself
/// when of that kind, else the last period of that kind ended by `chosen`'s end ("Tháng 9/2026"
/// on a quarterly panel: "Quý III/2026"; "Tháng 8/2026": "Quý II/2026").
pub fn stood_for(fixed: Period, chosen: Period) -> Period {
    let Some(f) = fixed.frequency().filter(|f| chosen.frequency() != Some(*f)) else {
        return chosen;
    };
    let Period::Month { year, month } = chosen.last_month() else {
        return chosen;
    };
    let c = Period::containing(f, year, month);
    if c.last_month() == chosen.last_month() {
        c
    } else {
        c.previous()
    }
}

/// Whether a presenter's focus on a unit retargets `panel`: single-unit KPI tiles, charts and
/// tables do, and the reports (a province's own and its communes'); rankings of a unit's
/// children, tickers and headers keep their own.
pub fn follows_focus(panel: &Panel) -> bool {
    panel.children.is_none()
        && matches!(
            panel.widget,
            WidgetKind::Kpi
                | WidgetKind::Line
                | WidgetKind::Area
                | WidgetKind::Table
                | WidgetKind::Reports
        )
}

/// The unit `panel` shows in `room`: the presenter's focus when the panel follows it
/// ([`follows_focus`]), else its own.
pub fn shown_unit<'a>(panel: &'a Panel, room: &'a RoomState) -> &'a str {
    match &room.focus_unit {
        Some(f) if follows_focus(panel) => f,
        _ => &panel.unit,
    }
}

/// Draws every panel of the scene.
pub fn draw_scene(ctx: &Ctx<'_>, shaper: &mut TextShaper, list: &mut DisplayList) {
    let tiles = kpi::Shared::measure(ctx, shaper);
    for panel in &ctx.scene.panels {
        list.begin_panel(panel.rect);
        match panel.widget {
            WidgetKind::Kpi => kpi::draw(ctx, panel, shaper, list, &tiles),
            WidgetKind::Line | WidgetKind::Area => chart::draw(ctx, panel, shaper, list),
            WidgetKind::Bars => bars::draw(ctx, panel, shaper, list),
            WidgetKind::Table => table::draw(ctx, panel, shaper, list),
            WidgetKind::Ticker => ticker::draw(ctx, panel, shaper, list),
            WidgetKind::Header => header::draw(ctx, panel, shaper, list),
            WidgetKind::Reports => reports::draw(ctx, panel, shaper, list),
            WidgetKind::Map => map::draw(ctx, panel, shaper, list),
        }
        stale_badge(ctx, panel, shaper, list);
        if outside_ministry(ctx, panel) {
            // The presenter filtered on one ministry: other ministries' panels step back.
            list.dim_panel(theme::BACKGROUND, 0.7);
        }
        list.end_panel();
    }
}

/// Whether the room's ministry filter excludes every indicator of the panel.
pub fn outside_ministry(ctx: &Ctx<'_>, panel: &Panel) -> bool {
    let Some(agency) = &ctx.room.agency else {
        return false;
    };
    !panel.indicators.is_empty()
        && panel.indicators.iter().all(|code| {
            ctx.data
                .indicators
                .get(code)
                .and_then(|i| i.agency.as_deref())
                .is_some_and(|a| a != agency)
        })
}

/// The row height and the tops of up to `n` rows of a list drawn from `top` to `bottom` in
/// `inner`, each at most `max_h` high. A row never straddles a horizontal bezel — its text
/// would be moved off the strip onto a neighbour — it starts below it; each such bezel can cost
/// its own height and up to one row, which the row height leaves room for. Fewer tops than `n`
/// when the rows do not all fit.
pub fn row_tops(
    bezels: &[Rect],
    inner: Rect,
    top: f32,
    bottom: f32,
    n: usize,
    max_h: f32,
) -> (f32, Vec<f32>) {
    let strips: Vec<&Rect> = bezels
        .iter()
        .filter(|b| b.w > b.h && b.y < bottom && b.y + b.h > top && b.intersects(&inner))
        .collect();
    let strip_h: f32 = strips.iter().map(|b| b.h).sum();
    let row_h = ((bottom - top - strip_h) / (n + strips.len()).max(1) as f32).min(max_h);
    let mut ys = Vec::with_capacity(n);
    let mut y = top;
    while ys.len() < n {
        if let Some(b) = strips.iter().find(|b| y < b.y + b.h && y + row_h > b.y) {
            y = b.y + b.h + 1.0;
        }
        if y + row_h > bottom + 0.5 {
            break;
        }
        ys.push(y);
        y += row_h;
    }
    (row_h, ys)
}

/// The panel's background and edge; returns the inner rectangle after padding.
pub fn panel_frame(panel: &Panel, list: &mut DisplayList) -> Rect {
    let r = panel.rect;
    list.rect(r, theme::PANEL);
    let edge = (r.h.min(r.w) * 0.006).clamp(1.0, 3.0);
    list.frame(r, edge, theme::PANEL_EDGE);
    inner_rect(panel)
}

/// The panel's rectangle inside its padding.
pub fn inner_rect(panel: &Panel) -> Rect {
    let r = panel.rect;
    let pad = (r.h.min(r.w) * 0.05).clamp(6.0, 48.0);
    Rect::new(r.x + pad, r.y + pad, r.w - 2.0 * pad, r.h - 2.0 * pad)
}

/// The stale badge's label and text size on `panel` while the data is stale. The size is the
/// same on every panel of the scene (the smallest panel's), so the badges read as one state of
/// the wall rather than as panels shouting at different volumes; a ticker, a strip of one
/// line, is left out of that and takes a badge its height allows.
fn badge_label(ctx: &Ctx<'_>, panel: &Panel) -> Option<(String, f32)> {
    let since = ctx.stale()?;
    let label = if since == 0 {
        "Chưa có dữ liệu trực tiếp".to_string()
    } else {
        format!("Dữ liệu cũ từ {}", clock_vi(since, ctx.now_ms))
    };
    let strip = |p: &Panel| matches!(p.widget, WidgetKind::Header | WidgetKind::Ticker);
    let smallest = ctx
        .scene
        .panels
        .iter()
        .filter(|p| !strip(p))
        .map(|p| p.rect.h)
        .fold(f32::MAX, f32::min);
    let mut size = (ctx.text_px(TextSize::Small) * 0.8).min(smallest * 0.08);
    if strip(panel) {
        size = size.min(panel.rect.h * 0.08);
    }
    Some((label, size.max(10.0)))
}

/// The stale badge of a panel at its top-right corner, when its data is stale: (label, text
/// size, box). None for a header: it says the feed's state itself.
pub fn badge(ctx: &Ctx<'_>, panel: &Panel, shaper: &mut TextShaper) -> Option<(String, f32, Rect)> {
    if panel.widget == WidgetKind::Header {
        return None;
    }
    let (label, size) = badge_label(ctx, panel)?;
    let r = panel.rect;
    let key = shaper.key(&label, size, Weight::Bold);
    let ext = shaper.measure(&key);
    let pad = size * 0.35;
    let bw = (ext[0] + 2.0 * pad).min(r.w);
    let rect = Rect::new(r.x + r.w - bw - pad, r.y + pad, bw, ext[1] + pad);
    Some((label, size, rect))
}

/// "Dữ liệu cũ từ 14:05" in the panel's top-right corner when the data is not live.
fn stale_badge(ctx: &Ctx<'_>, panel: &Panel, shaper: &mut TextShaper, list: &mut DisplayList) {
    let Some((label, size, badge)) = badge(ctx, panel, shaper) else {
        return;
    };
    let pad = size * 0.35;
    list.rect(badge, theme::STALE);
    list.text(
        shaper,
        &label,
        badge.x + pad,
        badge.y + pad / 2.0,
        TextStyle::new(size, Weight::Bold, theme::BACKGROUND),
        Some(panel.rect.w - 2.0 * pad),
    );
}

/// A panel's title at the top left of `inner`: see [`panel_line`].
pub fn panel_title(
    ctx: &Ctx<'_>,
    panel: &Panel,
    shaper: &mut TextShaper,
    list: &mut DisplayList,
    title: &str,
    inner: Rect,
    style: TextStyle,
) -> Rect {
    panel_line(ctx, panel, shaper, list, title, inner, inner.y, style)
}

/// A line of a panel's heading (title, subtitle) at `y`, from the left of `inner`, shrunk to
/// fit its width. While the data is stale and the line is level with the stale badge, it takes
/// the width left beside the badge, so the badge never covers its end — unless that would
/// shrink it below [`BESIDE_BADGE_MIN`] of its size: then it goes under the badge, at full
/// width, and what follows moves down with it.
#[allow(clippy::too_many_arguments)]
pub fn panel_line(
    ctx: &Ctx<'_>,
    panel: &Panel,
    shaper: &mut TextShaper,
    list: &mut DisplayList,
    text: &str,
    inner: Rect,
    y: f32,
    style: TextStyle,
) -> Rect {
    let (y, width) = match badge(ctx, panel, shaper) {
        Some((_, _, b)) if b.y < y + style.size_px * 1.25 && y < b.y + b.h => {
            let beside = b.x - inner.x - style.size_px * 0.3;
            let needed = shaper.width(text, style.size_px, style.weight);
            // A chart, list or table gives up a little plot rather than its heading's size.
            if needed * BESIDE_BADGE_MIN <= beside {
                (y, beside.max(inner.w * 0.4))
            } else {
                (b.y + b.h + style.size_px * 0.15, inner.w)
            }
        }
        _ => (y, inner.w),
    };
    list.text(shaper, text, inner.x, y, style, Some(width))
}

/// The smallest share of its size a heading keeps beside the stale badge.
pub const BESIDE_BADGE_MIN: f32 = 0.7;

/// `hh:mm` in Vietnam, with the date when it is not today's.
pub fn clock_vi(at_ms: i64, now_ms: i64) -> String {
    let (d, hh, mm, _) = vietnam_time(at_ms);
    let (today, ..) = vietnam_time(now_ms);
    if d == today {
        format!("{hh:02}:{mm:02}")
    } else {
        format!("{hh:02}:{mm:02} {:02}/{:02}/{}", d.2, d.1, d.0)
    }
}

/// (year, month, day), hour, minute, weekday (0 = Sunday) in Vietnam.
pub fn vietnam_time(at_ms: i64) -> ((i32, u32, u32), u32, u32, u32) {
    let secs = at_ms.div_euclid(1000) + VIETNAM_OFFSET_SECS;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let date = CivilDate::from_unix_days(days);
    let (year, month, day) = (date.year, u32::from(date.month), u32::from(date.day));
    let weekday = (days + 4).rem_euclid(7) as u32;
    (
        (year, month, day),
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        weekday,
    )
}

/// The current period of `frequency` in Vietnam at `now_ms`.
pub fn current_period(frequency: Frequency, now_ms: i64) -> Period {
    let ((y, m, _), ..) = vietnam_time(now_ms);
    Period::containing(frequency, y, m as u8)
}

/// A figure as the wall writes it: the indicator's decimals, thousands grouped the Vietnamese way.
pub fn figure(info: Option<&IndicatorInfo>, v: f64) -> String {
    let decimals = info.map_or(1, |i| i.decimals as usize);
    if v.abs() >= 1e7 {
        // Ten million and more: "12,5 triệu" reads faster from across a room. Zeros kept
        // ("17,0 triệu"), so a figure counting up keeps its shape and size.
        return format_compact_vi_fixed(v);
    }
    format_vi(v, decimals)
}

/// The comparison with the same period last year: the text ("+5,2%" or "+0,3 điểm %" for
/// rates) and the change's sign.
pub fn yoy(info: Option<&IndicatorInfo>, now: f64, last_year: f64) -> Option<(String, f64)> {
    let is_rate = info.is_some_and(|i| i.unit.trim() == "%");
    // The change is returned as written (one decimal), so "0,0" is never coloured as news.
    let round1 = |v: f64| (v * 10.0).round() / 10.0;
    if is_rate {
        let d = round1(now - last_year);
        let text = format!("{} điểm %", signed_vi(d, 1));
        return Some((text, d));
    }
    if last_year.abs() < 1e-12 {
        return None;
    }
    let pct = (now / last_year - 1.0) * 100.0;
    Some((format_percent_vi(pct, 1, true), round1(pct)))
}

fn signed_vi(v: f64, decimals: usize) -> String {
    let s = format_vi(v, decimals);
    if v > 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        format!("+{s}")
    } else {
        s
    }
}

/// Good news is green, bad news red, whatever the indicator's direction; neither is blue.
pub fn change_colour(info: Option<&IndicatorInfo>, change: f64) -> crate::draw::Color {
    match info.and_then(|i| i.higher_is_better) {
        _ if change.abs() < 1e-9 => theme::MUTED,
        Some(true) if change > 0.0 => theme::GOOD,
        Some(true) => theme::BAD,
        Some(false) if change < 0.0 => theme::GOOD,
        Some(false) => theme::BAD,
        None => theme::NEUTRAL,
    }
}

/// A short period label for axes: "T7/25", "Q3/25", "6T/25", "2025".
pub fn short_label(p: Period) -> String {
    let yy = p.year().rem_euclid(100);
    match p {
        Period::Month { month, .. } => format!("T{month}/{yy:02}"),
        Period::Quarter { quarter, .. } => format!("Q{quarter}/{yy:02}"),
        Period::Half { half, .. } => format!("{}6T/{yy:02}", if half == 1 { "" } else { "c" }),
        Period::Year { year } => format!("{year}"),
        Period::YearToDate { month, .. } => format!("{month}T/{yy:02}"),
    }
}

/// The `n` periods ending at `last`, oldest first.
pub fn periods_back(last: Period, n: u32) -> Vec<Period> {
    let mut out = vec![last];
    let mut p = last;
    for _ in 1..n.max(1) {
        p = p.previous();
        out.push(p);
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of a list crossing a horizontal bezel start below it, evenly spaced otherwise,
    /// and all of them fit above the bottom.
    #[test]
    fn rows_never_straddle_a_horizontal_bezel() {
        let inner = Rect::new(0.0, 0.0, 500.0, 1000.0);
        let bezel = Rect::new(0.0, 530.0, 2000.0, 6.0);
        let (h, ys) = row_tops(&[bezel], inner, 100.0, 1000.0, 20, 60.0);
        assert_eq!(ys.len(), 20, "{ys:?}");
        for y in &ys {
            assert!(
                *y + h <= bezel.y || *y >= bezel.y + bezel.h,
                "{y} of {ys:?}"
            );
            assert!(*y + h <= 1000.5);
        }
        assert!(ys.windows(2).all(|w| w[1] - w[0] >= h - 1e-3));
        // Without a bezel: the same rows, one after the other from the top.
        let (h, ys) = row_tops(&[], inner, 100.0, 1000.0, 20, 60.0);
        assert_eq!(ys[0], 100.0);
        assert!((ys[19] - (100.0 + 19.0 * h)).abs() < 1e-3);
        // A vertical bezel does not move rows.
        let (_, ys2) = row_tops(
            &[Rect::new(250.0, 0.0, 6.0, 2000.0)],
            inner,
            100.0,
            1000.0,
            20,
            60.0,
        );
        assert_eq!(ys, ys2);
    }

    #[test]
    fn a_presenters_period_stands_for_the_last_ended_period_of_a_fixed_panels_kind() {
        let p = |s: &str| Period::parse(s).unwrap();
        assert_eq!(stood_for(p("2025-Q3"), p("2026-09")), p("2026-Q3"));
        assert_eq!(stood_for(p("2025-Q3"), p("2026-08")), p("2026-Q2"));
        assert_eq!(stood_for(p("2025"), p("2026-09")), p("2025"));
        assert_eq!(stood_for(p("2025"), p("2026-12")), p("2026"));
        assert_eq!(stood_for(p("2025-07"), p("2026-Q3")), p("2026-09"));
        assert_eq!(stood_for(p("2025-07"), p("2026-02")), p("2026-02"));
    }

    fn info(unit: &str, hib: Option<bool>) -> IndicatorInfo {
        IndicatorInfo {
            code: "X".into(),
            name: "X".into(),
            unit: unit.into(),
            decimals: 1,
            higher_is_better: hib,
            frequency: None,
            agency: None,
            target: None,
        }
    }

    #[test]
    fn a_rise_is_green_when_higher_is_better_and_red_when_lower_is() {
        assert_eq!(
            change_colour(Some(&info("tỷ đồng", Some(true))), 3.0),
            theme::GOOD
        );
        assert_eq!(
            change_colour(Some(&info("%", Some(false))), 0.4),
            theme::BAD
        );
        assert_eq!(
            change_colour(Some(&info("%", Some(false))), -0.4),
            theme::GOOD
        );
        assert_eq!(
            change_colour(Some(&info("đồng", None)), 2.0),
            theme::NEUTRAL
        );
    }

    #[test]
    fn rates_compare_in_points_and_others_in_percent() {
        let (t, _) = yoy(Some(&info("%", Some(true))), 8.2, 7.1).unwrap();
        assert_eq!(t, "+1,1 điểm %");
        let (t, d) = yoy(Some(&info("tỷ đồng", Some(true))), 110.0, 100.0).unwrap();
        assert_eq!(t, "+10,0%");
        assert!(d > 0.0);
    }

    #[test]
    fn vietnam_time_is_utc_plus_seven() {
        // 2026-11-29T17:30:00Z is 00:30 on the 30th in Hà Nội, a Monday.
        let ms = 1_795_973_400_000;
        assert_eq!(vietnam_time(ms), ((2026, 11, 30), 0, 30, 1));
        assert_eq!(
            current_period(Frequency::Quarter, ms),
            Period::Quarter {
                year: 2026,
                quarter: 4
            }
        );
    }
}
