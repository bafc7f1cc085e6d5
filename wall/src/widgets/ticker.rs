//! Ticker: the most recent changes pushed by the server, newest first, as many as fit in one
//! line ("14:32 · Hà Nội · Thu ngân sách tháng 10/2026: 1.234,5 tỷ đồng (tăng)"), each
//! with a dot coloured by whether the change is good news, and between them who has just
//! approved a report the wall follows ("14:35 · Cao Bằng đã duyệt báo cáo thống kê hộ tịch
//! tháng 10/2026 (21/34 tỉnh)"). Filtered to the panel's indicators when it names some. On a
//! ticker spanning several screens the words flow from screen to screen, breaking only between
//! words at a bezel ([`Line`]).

use super::bars::level_vi;
use super::{Ctx, change_colour, clock_vi, figure, panel_frame};
use crate::catalogue::Regime;
use crate::draw::{DisplayList, TextStyle, theme};
use crate::layout::{Panel, Rect};
use crate::render::text::{TextShaper, Weight};

/// One change as the ticker writes it, with the colour of its dot.
pub struct Item {
    pub text: String,
    pub colour: crate::draw::Color,
}

/// Units named in an approval's line before the rest are counted.
const NAMED: usize = 3;

/// The changes and approvals the ticker shows, newest first.
pub fn items(ctx: &Ctx<'_>, panel: &Panel) -> Vec<Item> {
    let mut dated: Vec<(i64, Item)> = values(ctx, panel);
    dated.extend(approvals(ctx, panel));
    // Stable: within one push, the order each list gave.
    dated.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    dated.into_iter().map(|(_, item)| item).collect()
}

/// The regime of `code` as the layout's reports panels name it.
fn regime<'a>(ctx: &Ctx<'a>, code: &str) -> Option<&'a Regime> {
    ctx.layout
        .scenes
        .iter()
        .flat_map(|s| &s.panels)
        .flat_map(|p| &p.regimes)
        .find(|r| r.code == code)
}

/// "Cao Bằng", "Cao Bằng, Lạng Sơn", "Cao Bằng, Lạng Sơn và 5 tỉnh khác".
fn unit_names(ctx: &Ctx<'_>, units: &[String], level: Option<&str>) -> String {
    let named = if units.len() > NAMED {
        NAMED - 1
    } else {
        units.len()
    };
    let names: Vec<&str> = units[..named]
        .iter()
        .map(|u| ctx.data.unit_name(u))
        .collect();
    let rest = units.len() - named;
    if rest == 0 {
        names.join(", ")
    } else {
        format!(
            "{} và {rest} {} khác",
            names.join(", "),
            level_vi(level.unwrap_or(""))
        )
    }
}

/// Approvals of the reports the wall follows, with their time.
fn approvals(ctx: &Ctx<'_>, panel: &Panel) -> Vec<(i64, Item)> {
    ctx.data
        .approvals
        .iter()
        .filter_map(|n| {
            let r = regime(ctx, &n.key.regime);
            if !panel.indicators.is_empty()
                && !r.is_some_and(|r| r.indicators.iter().any(|i| panel.indicators.contains(i)))
            {
                return None;
            }
            // Who and what first: a long report name may run off the end of the line.
            let report = format!(
                "{} {}",
                lower_first(r.map_or(n.key.regime.as_str(), |r| r.name.as_str())),
                n.key.period.label_vi().to_lowercase()
            );
            let who = unit_names(ctx, &n.units, n.below_level.as_deref().filter(|_| n.below));
            let text = match (n.approved, n.below) {
                (true, true) => format!(
                    "{who} đã duyệt {report} ({})",
                    super::reports::count(
                        n.below_approved,
                        n.below_total,
                        n.below_level.as_deref()
                    )
                ),
                (true, false) => format!("{who} đã duyệt {report}"),
                (false, _) => format!("{who} có số liệu mới sau khi duyệt {report}, cần duyệt lại"),
            };
            let text = format!("{} · {text}", clock_vi(n.at_ms, ctx.now_ms));
            let colour = if n.approved {
                theme::GOOD
            } else {
                theme::STALE
            };
            Some((n.at_ms, Item { text, colour }))
        })
        .collect()
}

/// "báo cáo thống kê hộ tịch" from "Báo cáo thống kê hộ tịch", for the middle of a sentence.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Changed values, with their time.
fn values(ctx: &Ctx<'_>, panel: &Panel) -> Vec<(i64, Item)> {
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
            let item = Item {
                text: format!(
                    "{} · {} · {} {}: {value}{arrow}",
                    clock_vi(c.at_ms, ctx.now_ms),
                    ctx.data.unit_name(&c.key.unit),
                    name,
                    c.key.period.label_vi().to_lowercase(),
                ),
                colour: change_colour(info, change),
            };
            (c.at_ms, item)
        })
        .collect()
}

pub fn draw(ctx: &Ctx<'_>, panel: &Panel, shaper: &mut TextShaper, list: &mut DisplayList) {
    let inner = panel_frame(panel, list);
    let size = ctx.text_px(panel.text).min(inner.h * 0.8);
    let y = inner.y + (inner.h - size * 1.25) / 2.0;
    let label = list.text(
        shaper,
        "MỚI CẬP NHẬT",
        inner.x,
        y,
        TextStyle::new(size, Weight::Bold, theme::ACCENT),
        None,
    );
    let mut line = Line::new(segments(inner, &list.bezels), size);
    line.x = label.x + label.w + size;
    let items = items(ctx, panel);
    if items.is_empty() {
        let style = TextStyle::new(size, Weight::Regular, theme::MUTED);
        line.write(shaper, list, "Chưa có cập nhật mới", 0.0, y, style);
        return;
    }
    let lead = size * 0.7;
    for item in items {
        let style = TextStyle::new(size, Weight::Regular, theme::TEXT);
        let (dot, whole) = line.write(shaper, list, &item.text, lead, y, style);
        if let Some(x) = dot {
            list.disc(
                [x + size * 0.25, inner.y + inner.h / 2.0],
                size * 0.2,
                item.colour,
            );
        }
        if !whole {
            break;
        }
        line.x += size * 1.5;
    }
}

/// The stretches of the ticker's line between the bezels it crosses, left to right.
fn segments(inner: Rect, bezels: &[Rect]) -> Vec<(f32, f32)> {
    let mut cuts: Vec<&Rect> = bezels
        .iter()
        .filter(|b| b.h > b.w && b.intersects(&inner))
        .collect();
    cuts.sort_by(|a, b| a.x.total_cmp(&b.x));
    let mut out = Vec::new();
    let mut start = inner.x;
    for b in cuts {
        if b.x > start {
            out.push((start, b.x));
        }
        start = start.max(b.x + b.w);
    }
    if inner.x + inner.w > start {
        out.push((start, inner.x + inner.w));
    }
    out
}

/// The ticker's line across the screens it spans. An item's words flow from one screen to the
/// next at a word boundary, skipping the bezel between them, so an item is never split inside a
/// word nor pushed off the wall. Left to the general text rules (a run crossing a bezel moves past
/// it), a long item went screen after screen to the wall's far edge and off it, its dot left
/// behind.
struct Line {
    segments: Vec<(f32, f32)>,
    /// The segment `x` is in.
    at: usize,
    x: f32,
    /// Kept free at a bezel's edges.
    margin: f32,
}

/// Where a text goes: the position of what leads it (a dot), the runs of words per screen as
/// (x, words, room), and whether every word found a place.
struct Flow {
    lead_x: Option<f32>,
    runs: Vec<(f32, std::ops::Range<usize>, f32)>,
    whole: bool,
}

impl Line {
    fn new(segments: Vec<(f32, f32)>, size: f32) -> Line {
        let x = segments.first().map_or(0.0, |s| s.0);
        Line {
            segments,
            at: 0,
            x,
            margin: size * 0.2,
        }
    }

    /// Moves to the start of the next screen; false when there is none.
    fn next_segment(&mut self) -> bool {
        self.at += 1;
        match self.segments.get(self.at) {
            Some(&(start, _)) => {
                self.x = self.x.max(start + self.margin);
                true
            }
            None => false,
        }
    }

    /// Lays out words of the given widths, `space` apart, after a lead of `lead` that stays
    /// with the first word. A word wider than a whole screen gets a run of its own (to be cut).
    fn flow(&mut self, lead: f32, widths: &[f32], space: f32) -> Flow {
        let mut out = Flow {
            lead_x: None,
            runs: Vec::new(),
            whole: true,
        };
        let mut i = 0;
        while i < widths.len() {
            let Some(&(start, end)) = self.segments.get(self.at) else {
                out.whole = false;
                return out;
            };
            let limit = end - self.margin;
            let x0 = self.x.max(start);
            let lead_here = if out.lead_x.is_none() { lead } else { 0.0 };
            let fresh = x0 <= start + self.margin;
            if x0 + lead_here + widths[i] > limit && !fresh {
                if !self.next_segment() {
                    out.whole = false;
                    return out;
                }
                continue;
            }
            if out.lead_x.is_none() {
                out.lead_x = Some(x0);
            }
            let first = i;
            let run_x = x0 + lead_here;
            let mut x = run_x + widths[i];
            i += 1;
            while i < widths.len() && x + space + widths[i] <= limit {
                x += space + widths[i];
                i += 1;
            }
            out.runs.push((run_x, first..i, limit - run_x));
            // A word wider than the screen is cut at its edge.
            self.x = x.min(limit);
            if i < widths.len() && !self.next_segment() {
                out.whole = false;
                return out;
            }
        }
        out
    }

    /// Writes `text` along the line after a lead of `lead`; returns where the lead goes and
    /// whether all of the text found a place (the last run ends with "…" when not).
    fn write(
        &mut self,
        shaper: &mut TextShaper,
        list: &mut DisplayList,
        text: &str,
        lead: f32,
        y: f32,
        style: TextStyle,
    ) -> (Option<f32>, bool) {
        let mut width = |t: &str| shaper.width(t, style.size_px, style.weight);
        let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
        let widths: Vec<f32> = words.iter().map(|w| width(w)).collect();
        let space = width("x x") - width("xx");
        let flow = self.flow(lead, &widths, space);
        let last = flow.runs.len().saturating_sub(1);
        for (k, (x, range, room)) in flow.runs.iter().enumerate() {
            let mut run = words[range.clone()].join(" ");
            if k == last && !flow.whole {
                run.push('…');
            }
            list.text_elided(shaper, &run, *x, y, style, *room);
        }
        (flow.lead_x, flow.whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two screens of 1000 px with a 20 px bezel between them.
    fn line() -> Line {
        Line::new(
            segments(
                Rect::new(0.0, 0.0, 2020.0, 50.0),
                &[Rect::new(1000.0, 0.0, 20.0, 500.0)],
            ),
            10.0,
        )
    }

    #[test]
    fn segments_lie_between_the_bezels() {
        assert_eq!(line().segments, vec![(0.0, 1000.0), (1020.0, 2020.0)]);
    }

    #[test]
    fn words_flow_to_the_next_screen_at_a_word_boundary() {
        let mut l = line();
        l.x = 700.0;
        // Lead 7, words of 100 px, 10 px apart: 7 + 100 + 110 + 110 = 327 > 296 left here.
        let f = l.flow(7.0, &[100.0; 5], 10.0);
        assert!(f.whole);
        assert_eq!(f.lead_x, Some(700.0));
        assert_eq!(f.runs[0].0, 707.0);
        assert_eq!(f.runs[0].1, 0..2);
        // The rest starts on the second screen, after the bezel and the margin.
        assert_eq!(f.runs[1].0, 1022.0);
        assert_eq!(f.runs[1].1, 2..5);
        assert_eq!(l.x, 1022.0 + 320.0);
    }

    #[test]
    fn the_lead_stays_with_the_first_word() {
        let mut l = line();
        l.x = 900.0;
        let f = l.flow(7.0, &[100.0, 100.0], 10.0);
        assert_eq!(f.lead_x, Some(1022.0));
        assert_eq!(f.runs.len(), 1);
    }

    #[test]
    fn a_word_wider_than_a_screen_gets_a_run_of_its_own_to_cut() {
        let mut l = line();
        let f = l.flow(0.0, &[1500.0, 50.0], 10.0);
        assert_eq!(f.runs[0].1, 0..1);
        assert!(f.runs[0].2 < 1000.0);
        assert_eq!(f.runs[1].0, 1022.0);
        assert!(f.whole);
    }

    #[test]
    fn the_line_ends_after_the_last_screen() {
        let mut l = line();
        l.x = 1900.0;
        let f = l.flow(7.0, &[50.0, 100.0], 10.0);
        assert!(!f.whole);
        assert_eq!(f.runs.len(), 1, "the first word still fits");
        assert!(l.flow(7.0, &[500.0], 10.0).runs.is_empty());
    }
}
