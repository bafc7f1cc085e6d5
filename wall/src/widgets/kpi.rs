//! KPI tile: the indicator's name, unit and period; the figure, big; the change vs the same period
//! last year with an arrow coloured by the indicator's direction of good; the standing against
//! the plan; how many units have reported; a sparkline of the recent periods.

use dieuhanh_protocol::live::IndicatorInfo;
use dieuhanh_protocol::number::{format_percent_vi, format_vi, format_vi_auto};
use dieuhanh_protocol::period::Period;

use super::{
    Ctx, badge, change_colour, figure, inner_rect, panel_frame, panel_line, panel_title,
    periods_back, yoy,
};
use crate::draw::{Color, DisplayList, TextStyle, theme};
use crate::layout::{Panel, PeriodSpec, Rect, TextSize, WidgetKind};
use crate::render::text::{TextShaper, Weight};

/// What the tile says, decided apart from drawing so tests can read it.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiFacts {
    pub title: String,
    pub subtitle: String,
    pub value: Option<String>,
    pub unit: String,
    /// "+5,2% so với cùng kỳ", whether the change is up (`None`: none, as written), and its
    /// colour.
    pub yoy: Option<(String, Option<bool>, crate::draw::Color)>,
    pub target: Option<String>,
    pub coverage: Option<String>,
    pub period: Option<Period>,
}

/// Reads what the tile shows for `panel` now.
pub fn facts(ctx: &Ctx<'_>, panel: &Panel) -> KpiFacts {
    let code = panel.indicators.first().map_or("", String::as_str);
    let unit = ctx.unit_of(panel);
    let info = ctx.data.indicators.get(code);
    let title = title(ctx, panel);
    let period = ctx.period_of(panel, code, unit);
    let subtitle = match period {
        Some(p) => format!("{} · {}", ctx.data.unit_name(unit), p.label_vi()),
        None => ctx.data.unit_name(unit).to_owned(),
    };
    let mut out = KpiFacts {
        title,
        subtitle,
        value: None,
        unit: info.map(|i| i.unit.clone()).unwrap_or_default(),
        yoy: None,
        target: None,
        coverage: None,
        period,
    };
    let Some(p) = period else {
        return out;
    };
    let Some(v) = ctx.shown_value(code, unit, p) else {
        return out;
    };
    out.value = Some(figure(info, v));
    let current = ctx.data.value(code, unit, p).unwrap_or(v);
    let compared = ctx.compared(panel, code, unit, p);
    if let Some((now, before)) = compared
        && let Some((text, change)) = yoy(info, now, before)
    {
        out.yoy = Some((
            yoy_line(&text),
            (change != 0.0).then_some(change > 0.0),
            change_colour(info, change),
        ));
    }
    out.target = target_text(ctx, panel, info, code, unit, p, current);
    let reported = |got: u32, expected: u32| {
        format!(
            "{}/{} đơn vị đã báo cáo",
            format_vi(f64::from(got), 0),
            format_vi(f64::from(expected), 0)
        )
    };
    // A newer period still coming in is not shown yet (see WallData::latest_shown_period):
    // the tile says how far its reports have got.
    let newer = match panel.period {
        PeriodSpec::Latest(f) => ctx
            .data
            .latest_period(code, unit, Some(f), ctx.room.period)
            .filter(|n| *n != p),
        PeriodSpec::Fixed(_) => None,
    };
    if let Some(n) = newer
        && let Some([got, expected]) = ctx.data.get(code, unit, n).and_then(|c| c.coverage)
    {
        out.coverage = Some(format!("{}: {}", n.label_vi(), reported(got, expected)));
    } else if let Some([got, expected]) = ctx.data.get(code, unit, p).and_then(|c| c.coverage)
        && expected > 0
        && got < expected
    {
        out.coverage = Some(reported(got, expected));
    }
    out
}

/// The tile's title: the layout's, else the indicator's name.
fn title(ctx: &Ctx<'_>, panel: &Panel) -> String {
    let code = panel.indicators.first().map_or("", String::as_str);
    panel
        .title
        .clone()
        .or_else(|| ctx.data.indicators.get(code).map(|i| i.name.clone()))
        .unwrap_or_else(|| code.to_owned())
}

/// The title's size on a tile.
fn title_px(ctx: &Ctx<'_>, inner: Rect) -> f32 {
    ctx.text_px(TextSize::Medium).min(inner.h * 0.12)
}

/// What the KPI tiles of a scene share, measured once a frame, so that a row of tiles reads as
/// one: whether every title fits beside the stale badge, and the size of the comparison lines
/// on tiles of each height — the largest at which every such tile's lines fit its width.
/// The lines are measured as templates with room for their longest figures, not as written
/// now: a new figure on one tile must not resize its neighbours (nor redraw them).
pub struct Shared {
    titles_beside: bool,
    /// (tile height, comparison size).
    notes: Vec<(f32, f32)>,
}

impl Shared {
    pub fn measure(ctx: &Ctx<'_>, shaper: &mut TextShaper) -> Shared {
        let mut shared = Shared {
            titles_beside: true,
            notes: Vec::new(),
        };
        for p in ctx
            .scene
            .panels
            .iter()
            .filter(|p| p.widget == WidgetKind::Kpi)
        {
            let inner = inner_rect(p);
            if let Some((_, _, b)) = badge(ctx, p, shaper) {
                let size = title_px(ctx, inner);
                shared.titles_beside &= shaper.width(&title(ctx, p), size, Weight::SemiBold)
                    <= b.x - inner.x - size * 0.3;
            }
            let base = note_px(ctx, p, inner);
            let code = p.indicators.first().map_or("", String::as_str);
            let info = ctx.data.indicators.get(code);
            // The lines as the tile would write its widest figures: a fall of 199,9 % (or of
            // 88,8 points for a rate), 888,8 % of the plan, a gap of 88,8 points.
            let widest_yoy = [yoy(info, -0.999, 1.0), yoy(info, -88.8, 0.0)]
                .into_iter()
                .flatten()
                .map(|(t, _)| yoy_line(&t))
                .max_by_key(String::len)
                .unwrap_or_default();
            // Widths grow with the size: the share of `base` at which the widest line fits.
            let mut needed = base * 1.35 + shaper.width(&widest_yoy, base, Weight::SemiBold);
            if let Some(info) = info
                && let Some(t) = &info.target
                && let Some(line) = plan_line(info, &t.kind, "11 tháng", (-888.8, 888.8))
            {
                needed = needed.max(shaper.width(&line, base, Weight::Regular));
            }
            let note = if needed > inner.w && needed > 0.0 {
                base * inner.w / needed
            } else {
                base
            };
            match shared.notes.iter_mut().find(|(h, _)| *h == p.rect.h) {
                Some((_, n)) => *n = n.min(note),
                None => shared.notes.push((p.rect.h, note)),
            }
        }
        shared
    }

    /// The comparison lines' size on `panel`, if it is a tile of the scene measured.
    fn note(&self, panel: &Panel) -> Option<f32> {
        self.notes
            .iter()
            .find(|(h, _)| *h == panel.rect.h)
            .map(|(_, n)| *n)
    }
}

/// The comparisons with last year and the plan are read from as far as the figure: one size
/// below it (a `huge` figure's are `large`, legible at 8 m), where the tile has room.
fn note_px(ctx: &Ctx<'_>, panel: &Panel, inner: Rect) -> f32 {
    ctx.text_px(panel.text.smaller()).min(inner.h * 0.075)
}

fn target_text(
    ctx: &Ctx<'_>,
    panel: &Panel,
    info: Option<&IndicatorInfo>,
    code: &str,
    unit: &str,
    p: Period,
    current: f64,
) -> Option<String> {
    // Plans are national; a province's figure is not held against them.
    if unit != "VN" {
        return None;
    }
    let target = info?.target.as_ref()?;
    let plan = target.for_year(p.year())?;
    let info = info?;
    let figures = match target.kind.as_str() {
        "annual_total" => {
            let ytd = ctx.data.value(code, unit, p.ytd()).or(match p {
                Period::Year { .. } => Some(current),
                _ => None,
            })?;
            if plan.abs() <= 1e-12 {
                return None;
            }
            (ytd / plan * 100.0, 0.0)
        }
        // A year's planned growth is held against the growth so far this year ("9 tháng"),
        // like for like while units are missing; a figure not rolled up over the year,
        // against its own period's.
        "growth" => {
            let so_far = match p {
                Period::Year { .. } => p,
                _ => p.ytd(),
            };
            let (span, (now, before)) = match ctx.compared(panel, code, unit, so_far) {
                Some(c) => (span_of(so_far), c),
                None => ("Kỳ này".to_owned(), ctx.compared(panel, code, unit, p)?),
            };
            if before.abs() <= 1e-12 {
                return None;
            }
            return plan_line(info, "growth", &span, ((now / before - 1.0) * 100.0, plan));
        }
        _ => (plan, 0.0),
    };
    plan_line(info, target.kind.as_str(), "", figures)
}

/// How a growth line names the months it covers: "9 tháng", "Tháng 1", "Cả năm".
fn span_of(so_far: Period) -> String {
    match so_far {
        Period::YearToDate { month: 1, .. } => "Tháng 1".to_owned(),
        Period::YearToDate { month, .. } if month < 12 => format!("{month} tháng"),
        _ => "Cả năm".to_owned(),
    }
}

/// The plan line of a target of `kind`, from `(a, b)`: the year-to-date share of the annual
/// plan (`annual_total`); the growth over `span` and the planned growth (`growth`); the
/// planned level (`level`).
fn plan_line(info: &IndicatorInfo, kind: &str, span: &str, (a, b): (f64, f64)) -> Option<String> {
    match kind {
        "annual_total" => Some(format!(
            "Lũy kế đạt {} kế hoạch năm",
            format_percent_vi(a, 1, false)
        )),
        // "9 tháng +13,2%, kế hoạch +12,0%"; a ceiling where a rise is bad news (prices).
        "growth" => Some(format!(
            "{span} {}, kế hoạch {}{}",
            format_percent_vi(a, 1, true),
            ceiling(info),
            format_percent_vi(b, 1, true)
        )),
        // "Kế hoạch: 10 %"; "Kế hoạch: ≤ 60 %" for a ceiling (public debt).
        "level" => Some(format!(
            "Kế hoạch: {}{} {}",
            ceiling(info),
            format_vi_auto(a),
            info.unit
        )),
        _ => None,
    }
}

/// "≤ " before a plan that is a ceiling: where a rise is bad news.
fn ceiling(info: &IndicatorInfo) -> &'static str {
    if info.higher_is_better == Some(false) {
        "≤ "
    } else {
        ""
    }
}

/// "+5,2% so với cùng kỳ" from the change as [`yoy`] writes it.
fn yoy_line(change: &str) -> String {
    format!("{change} so với cùng kỳ")
}

/// Draws the tile; `shared` is what the scene's tiles share ([`Shared::measure`]).
pub fn draw(
    ctx: &Ctx<'_>,
    panel: &Panel,
    shaper: &mut TextShaper,
    list: &mut DisplayList,
    shared: &Shared,
) {
    let f = facts(ctx, panel);
    let code = panel.indicators.first().map_or("", String::as_str);
    let unit = ctx.unit_of(panel);
    let inner = panel_frame(panel, list);
    let glow = f.period.map_or(0.0, |p| ctx.highlight(code, unit, p));
    // A changed figure glows gold, fading out, so a leader sees what moved.
    let tile = theme::PANEL.mix(theme::HIGHLIGHT, glow * 0.25);
    if glow > 0.0 {
        list.rect(inner, tile);
    }
    let small = ctx.text_px(TextSize::Small).min(inner.h * 0.1);
    let medium = title_px(ctx, inner);
    let big = ctx.text_px(panel.text).min(inner.h * 0.34);
    // Never below the labels' size: a line too long even for that shrinks on its own.
    let note = shared
        .note(panel)
        .unwrap_or_else(|| note_px(ctx, panel, inner))
        .max(small);

    let style = TextStyle::new(medium, Weight::SemiBold, theme::TEXT);
    // While the data is stale every tile's title keeps its size: beside the badge when every
    // tile's title fits there, else under it on every tile, so a row of tiles stays one row.
    let t = match badge(ctx, panel, shaper) {
        Some((_, _, b)) if !shared.titles_beside => list.text(
            shaper,
            &f.title,
            inner.x,
            b.y + b.h + medium * 0.15,
            style,
            Some(inner.w),
        ),
        _ => panel_title(ctx, panel, shaper, list, &f.title, inner, style),
    };
    let mut y = t.y + t.h;
    let style = TextStyle::new(small, Weight::Regular, theme::MUTED);
    let s = panel_line(ctx, panel, shaper, list, &f.subtitle, inner, y, style);
    y = s.y + s.h + small * 0.3;

    let Some(value) = &f.value else {
        list.text(
            shaper,
            "Chưa có số liệu",
            inner.x,
            y,
            TextStyle::new(medium, Weight::Regular, theme::MUTED),
            Some(inner.w),
        );
        return;
    };
    // The unit is at most half the figure's size: beside a figure shrunk to fit a narrow
    // tile, a unit at the title's size would outweigh it and rise above it.
    let unit_w = |shaper: &mut TextShaper, px: f32| {
        if f.unit.is_empty() {
            0.0
        } else {
            shaper.width(&f.unit, px, Weight::Regular) + px * 0.4
        }
    };
    let unit_room = unit_w(shaper, medium);
    // The comparisons with last year and the plan are the tile's point, and a total still
    // missing reports must say so: the figure gives up size so that every line fits under it
    // (a tight tile, a short figure drawn large, or headings moved under a stale badge).
    let bottom = inner.y + inner.h;
    let mut height = |text: &str, size: f32, weight: Weight| {
        shaper.measure(&shaper.key(text, size, weight))[1].max(size * 1.25)
    };
    let yoy_h = f
        .yoy
        .as_ref()
        .map_or(0.0, |(t, ..)| height(t, note, Weight::SemiBold));
    let target_h = f
        .target
        .as_ref()
        .map_or(0.0, |t| height(t, note, Weight::Regular));
    let coverage_h = f
        .coverage
        .as_ref()
        .map_or(0.0, |t| height(t, note * 0.85, Weight::Regular));
    let lines = yoy_h + target_h + coverage_h;
    let below = if lines > 0.0 { note * 0.2 + lines } else { 0.0 };
    let room = bottom - y - below;
    let mut big = big;
    // Line heights come out in whole pixels: a step or two more may be needed.
    for _ in 0..4 {
        let line = shaper.measure(&shaper.key(value, big, Weight::Bold))[1];
        if line <= room || line <= 0.0 || big <= small {
            break;
        }
        big = (big * (room / line).min(0.99)).max(small);
    }
    let figure = TextStyle::new(big, Weight::Bold, theme::TEXT);
    let fit = |shaper: &mut TextShaper, room: f32| {
        DisplayList::fitted_size(shaper, value, figure, (inner.w - room).max(inner.w * 0.5))
    };
    // The figure is fitted beside the unit at the title's size; the unit is then set to at
    // most half that figure, and the figure fitted again in the room the unit leaves now (it
    // can only grow, so the unit stays at most half of it).
    let first = fit(shaper, unit_room);
    let unit_px = medium.min(first * 0.5);
    let unit_room = unit_w(shaper, unit_px);
    let size = fit(shaper, unit_room);
    let figure = TextStyle::new(size, Weight::Bold, theme::TEXT);
    let v = list.text(shaper, value, inner.x, y, figure, None);
    if !f.unit.is_empty() {
        // The unit's room is what the figure's digit shape leaves (the figure was fitted by
        // it), so the unit too keeps its size while the figure's digits change.
        let shape_w = shaper.shape_width(value, size, Weight::Bold);
        // On the figure's baseline.
        let figure_base = shaper.baseline(&shaper.key(value, size, Weight::Bold));
        let unit_base = shaper.baseline(&shaper.key(&f.unit, unit_px, Weight::Regular));
        list.text(
            shaper,
            &f.unit,
            v.x + v.w + unit_px * 0.4,
            v.y + figure_base - unit_base,
            TextStyle::new(unit_px, Weight::Regular, theme::MUTED),
            Some((inner.x + inner.w - v.x - shape_w.max(v.w) - unit_px * 0.4).max(unit_px)),
        );
    }
    y = v.y + v.h + note * 0.2;

    // A line too long for the tile even at the labels' size shrinks on its own, the arrow
    // with its line; the plan never reads larger than the headline comparison above it.
    let mut px = note;
    if let Some((text, ..)) = &f.yoy {
        let wide = note * 1.35 + shaper.shape_width(text, note, Weight::SemiBold);
        if wide > inner.w {
            px = note * inner.w / wide * 0.98;
        }
    }
    if let Some((text, up, colour)) = &f.yoy
        && y + yoy_h <= bottom
    {
        let arrow = px * 0.9;
        match up {
            Some(up) => list.arrow([inner.x + arrow * 0.6, y + px * 0.65], arrow, *up, *colour),
            // "0,0": level, neither up nor down.
            None => list.rect(
                Rect::new(
                    inner.x + arrow * 0.15,
                    y + px * 0.57,
                    arrow * 0.9,
                    arrow * 0.2,
                ),
                *colour,
            ),
        }
        let t = list.text(
            shaper,
            text,
            inner.x + arrow * 1.5,
            y,
            TextStyle::new(px, Weight::SemiBold, *colour),
            Some(inner.w - arrow * 1.5),
        );
        y = t.y + t.h;
    }
    if let Some(text) = &f.target
        && y + target_h <= bottom
    {
        let t = list.text(
            shaper,
            text,
            inner.x,
            y,
            TextStyle::new(px, Weight::Regular, theme::ACCENT),
            Some(inner.w),
        );
        y = t.y + t.h;
    }
    if let Some(text) = &f.coverage
        && y + coverage_h <= bottom
    {
        let t = list.text(
            shaper,
            text,
            inner.x,
            y,
            TextStyle::new(px * 0.85, Weight::Regular, theme::STALE),
            Some(inner.w),
        );
        y = t.y + t.h;
    }
    // Sparkline in what is left at the bottom.
    let room = inner.y + inner.h - y;
    if room > inner.h * 0.12
        && let Some(p) = f.period
    {
        let spark = Rect::new(inner.x, y + room * 0.15, inner.w, room * 0.8);
        sparkline(ctx, panel, p, spark, tile, list);
    }
}

/// The panel's last `history` periods up to `last`, drawn in `r` over the tile's colour.
fn sparkline(
    ctx: &Ctx<'_>,
    panel: &Panel,
    last: Period,
    r: Rect,
    tile: Color,
    list: &mut DisplayList,
) {
    let code = panel.indicators.first().map_or("", String::as_str);
    let unit = ctx.unit_of(panel);
    let periods = periods_back(last, panel.history);
    let values: Vec<Option<f64>> = periods
        .iter()
        .map(|p| ctx.shown_value(code, unit, *p))
        .collect();
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    if known.len() < 2 {
        return;
    }
    let (lo, hi) = known
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let span = if hi - lo < 1e-12 { 1.0 } else { hi - lo };
    let step = r.w / (periods.len().max(2) - 1) as f32;
    let pts: Vec<[f32; 2]> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.map(|v| {
                [
                    r.x + i as f32 * step,
                    r.y + r.h - ((v - lo) / span) as f32 * r.h,
                ]
            })
        })
        .collect();
    let width = (r.h * 0.05).clamp(1.5, 6.0);
    // Opaque: the tile's own colour is all there is under the area.
    list.area(
        &pts,
        r.y + r.h,
        theme::SERIES[0].with_alpha(0.18).over(tile),
    );
    list.polyline(&pts, width, theme::SERIES[0]);
    if let Some(&last) = pts.last() {
        list.disc(last, width * 1.6, theme::ACCENT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(higher_is_better: Option<bool>) -> IndicatorInfo {
        IndicatorInfo {
            code: "X".into(),
            name: "X".into(),
            unit: "%".into(),
            decimals: 2,
            higher_is_better,
            frequency: None,
            agency: None,
            target: None,
        }
    }

    #[test]
    fn a_plan_reads_as_a_ceiling_where_a_rise_is_bad_news() {
        // Public debt: at most 60 % of GDP; growth: 10 %, not "10,00".
        assert_eq!(
            plan_line(&info(Some(false)), "level", "", (60.0, 0.0)).as_deref(),
            Some("Kế hoạch: ≤ 60 %")
        );
        assert_eq!(
            plan_line(&info(Some(true)), "level", "", (10.0, 0.0)).as_deref(),
            Some("Kế hoạch: 10 %")
        );
        // Prices: growth since January against a ceiling.
        assert_eq!(
            plan_line(&info(Some(false)), "growth", "9 tháng", (3.91, 4.5)).as_deref(),
            Some("9 tháng +3,9%, kế hoạch ≤ +4,5%")
        );
        assert_eq!(
            plan_line(&info(Some(true)), "growth", "Cả năm", (-1.25, 8.0)).as_deref(),
            Some("Cả năm -1,3%, kế hoạch +8,0%")
        );
    }

    #[test]
    fn a_growth_line_names_the_months_it_covers() {
        let ytd = |month| Period::YearToDate { year: 2026, month };
        assert_eq!(span_of(ytd(1)), "Tháng 1");
        assert_eq!(span_of(ytd(9)), "9 tháng");
        assert_eq!(span_of(ytd(12)), "Cả năm");
        assert_eq!(span_of(Period::Year { year: 2025 }), "Cả năm");
    }
}
