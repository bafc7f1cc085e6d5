//! What to draw, apart from how: a frame is a [`DisplayList`] of coloured triangles and text runs
//! in canvas pixels, built by the widgets from the layout and the data in plain Rust (testable
//! without a GPU), then handed to the renderer. Text is measured through the shaper here so
//! widgets can fit and align it, and every text run is kept off the strips hidden under bezels.

use bytemuck::{Pod, Zeroable};

use crate::layout::Rect;
use crate::render::text::{TextKey, TextShaper, Weight};

/// A straight sRGB colour with alpha, components 0–1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Color(pub [f32; 4]);

impl Color {
    pub const fn rgb(r: u8, g: u8, b: u8) -> Color {
        Color([r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0, 1.0])
    }

    pub const fn with_alpha(self, a: f32) -> Color {
        Color([self.0[0], self.0[1], self.0[2], a])
    }

    /// Mixes towards `other` by `t` (0 = self, 1 = other).
    pub fn mix(self, other: Color, t: f32) -> Color {
        let t = t.clamp(0.0, 1.0);
        let mut out = [0.0; 4];
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.0[i] + (other.0[i] - self.0[i]) * t;
        }
        Color(out)
    }

    /// This colour (translucent) laid over `under` (opaque), as one opaque colour: the same
    /// pixels as blending, but a software rasteriser fills opaque shapes several times faster.
    pub fn over(self, under: Color) -> Color {
        let a = self.0[3];
        let mut out = under.mix(self.with_alpha(1.0), a);
        out.0[3] = 1.0;
        out
    }

    pub fn to_rgba8(self) -> [u8; 4] {
        self.0.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)
    }
}

/// The wall's palette: dark, high-contrast, with the national red and gold for accents. Good and
/// bad news use green and red everywhere, whatever the direction of the indicator.
pub mod theme {
    use super::Color;

    pub const BACKGROUND: Color = Color::rgb(8, 20, 38);
    pub const PANEL: Color = Color::rgb(17, 36, 62);
    pub const PANEL_EDGE: Color = Color::rgb(38, 66, 104);
    pub const TEXT: Color = Color::rgb(240, 244, 250);
    pub const MUTED: Color = Color::rgb(150, 168, 196);
    pub const GRID: Color = Color::rgb(44, 68, 102);
    pub const ACCENT: Color = Color::rgb(255, 205, 0);
    pub const RED_FLAG: Color = Color::rgb(218, 37, 29);
    pub const GOOD: Color = Color::rgb(46, 204, 113);
    pub const BAD: Color = Color::rgb(255, 84, 72);
    pub const NEUTRAL: Color = Color::rgb(120, 170, 255);
    pub const HIGHLIGHT: Color = Color::rgb(255, 230, 120);
    pub const STALE: Color = Color::rgb(255, 149, 0);
    /// Series colours of charts, in order.
    pub const SERIES: [Color; 4] = [
        Color::rgb(86, 180, 255),
        Color::rgb(255, 205, 0),
        Color::rgb(46, 204, 113),
        Color::rgb(255, 120, 160),
    ];
}

/// One vertex of the shape pipeline (`shaders/shape.wgsl`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct Vertex {
    pub position: [f32; 2],
    pub color: [f32; 4],
}

/// Horizontal alignment of a text run against its anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// A shaped text run placed on the canvas.
#[derive(Debug, Clone)]
pub struct TextRun {
    pub key: TextKey,
    /// Where the run's box sits (top-left of its first line box), canvas pixels.
    pub rect: Rect,
    pub color: Color,
    /// Only this part of the canvas shows the run (its panel).
    pub clip: Rect,
}

/// Text style of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextStyle {
    pub size_px: f32,
    pub weight: Weight,
    pub color: Color,
    pub align: Align,
}

impl TextStyle {
    pub fn new(size_px: f32, weight: Weight, color: Color) -> TextStyle {
        TextStyle {
            size_px,
            weight,
            color,
            align: Align::Left,
        }
    }

    pub fn align(mut self, align: Align) -> TextStyle {
        self.align = align;
        self
    }
}

/// What one panel put in the list: the renderer compares these between frames and redraws only
/// the panels whose content changed.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelMark {
    /// Everything the panel draws stays inside this canvas rectangle.
    pub rect: Rect,
    pub vertices: std::ops::Range<usize>,
    pub texts: std::ops::Range<usize>,
}

/// The sharpest corner a polyline mitres (cosine of half the turn's supplement): a mitre
/// at most ~2.9 half-widths long, about SVG's default limit.
const MITER_MIN_COS: f32 = 0.35;

/// A frame's worth of shapes and text, in canvas pixels.
#[derive(Debug, Default)]
pub struct DisplayList {
    pub vertices: Vec<Vertex>,
    pub texts: Vec<TextRun>,
    /// The panels, in drawing order; shapes and text outside every mark are redrawn each frame.
    pub panels: Vec<PanelMark>,
    /// Canvas strips hidden under bezels: text is moved off them.
    pub bezels: Vec<Rect>,
    /// Clip applied to the text added next (the current panel).
    pub clip: Option<Rect>,
    /// Places that drill down when touched or clicked: a ranked bar's row, a province on a map.
    pub hits: Vec<Hit>,
}

/// A place of the canvas that names a unit when touched.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Where it lies (all of it, for a bar's row).
    pub rect: Rect,
    pub unit: String,
    /// Its shape within `rect`, three points a triangle (a province on a map); empty when the
    /// rectangle is the place.
    pub triangles: Vec<[f32; 2]>,
}

impl DisplayList {
    pub fn new(bezels: Vec<Rect>) -> DisplayList {
        DisplayList {
            bezels,
            ..DisplayList::default()
        }
    }

    pub fn clear(&mut self) {
        self.vertices.clear();
        self.texts.clear();
        self.panels.clear();
        self.clip = None;
        self.hits.clear();
    }

    /// The unit drawn at canvas point `p` (a ranked bar's row, a province on a map), if any.
    pub fn unit_at(&self, p: [f32; 2]) -> Option<&str> {
        self.hits
            .iter()
            .rev()
            .find(|h| {
                let r = h.rect;
                p[0] >= r.x
                    && p[0] <= r.x + r.w
                    && p[1] >= r.y
                    && p[1] <= r.y + r.h
                    && (h.triangles.is_empty()
                        || h.triangles
                            .chunks_exact(3)
                            .any(|t| crate::map::in_triangle(p, t)))
            })
            .map(|h| h.unit.as_str())
    }

    /// Starts a panel occupying `rect`; [`DisplayList::end_panel`] closes it.
    pub fn begin_panel(&mut self, rect: Rect) {
        self.panels.push(PanelMark {
            rect,
            vertices: self.vertices.len()..self.vertices.len(),
            texts: self.texts.len()..self.texts.len(),
        });
        self.clip = Some(rect);
    }

    pub fn end_panel(&mut self) {
        let (v, t) = (self.vertices.len(), self.texts.len());
        if let Some(m) = self.panels.last_mut() {
            m.vertices.end = v;
            m.texts.end = t;
        }
        self.clip = None;
    }

    /// Steps the panel being drawn back: every colour it has drawn so far, text included, moves
    /// `t` of the way toward `toward` (alpha kept). The same pixels as laying `toward` at alpha
    /// `t` over the panel — blending distributes over the mix — but the text is dimmed too
    /// (it is drawn after every shape, so an overlay cannot reach it) and nothing is blended
    /// over the whole panel.
    pub fn dim_panel(&mut self, toward: Color, t: f32) {
        let Some(m) = self.panels.last() else {
            return;
        };
        let (v0, t0) = (m.vertices.start, m.texts.start);
        for v in &mut self.vertices[v0..] {
            v.color = Color(v.color).mix(toward.with_alpha(v.color[3]), t).0;
        }
        for run in &mut self.texts[t0..] {
            run.color = run.color.mix(toward.with_alpha(run.color.0[3]), t);
        }
    }

    /// A fingerprint of what panel `i` draws (shapes, text, colours, places).
    pub fn panel_hash(&self, i: usize) -> u64 {
        use std::hash::{Hash, Hasher};
        let Some(m) = self.panels.get(i) else {
            return 0;
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytemuck::cast_slice::<Vertex, u8>(&self.vertices[m.vertices.clone()]).hash(&mut h);
        for t in &self.texts[m.texts.clone()] {
            t.key.hash(&mut h);
            for f in [t.rect.x, t.rect.y, t.clip.x, t.clip.y, t.clip.w, t.clip.h] {
                f.to_bits().hash(&mut h);
            }
            for c in t.color.0 {
                c.to_bits().hash(&mut h);
            }
        }
        h.finish()
    }

    pub fn triangle(&mut self, a: [f32; 2], b: [f32; 2], c: [f32; 2], color: Color) {
        for p in [a, b, c] {
            self.vertices.push(Vertex {
                position: p,
                color: color.0,
            });
        }
    }

    pub fn quad(&mut self, p: [[f32; 2]; 4], color: Color) {
        self.triangle(p[0], p[1], p[2], color);
        self.triangle(p[0], p[2], p[3], color);
    }

    pub fn rect(&mut self, r: Rect, color: Color) {
        if r.w <= 0.0 || r.h <= 0.0 {
            return;
        }
        self.quad(
            [
                [r.x, r.y],
                [r.x + r.w, r.y],
                [r.x + r.w, r.y + r.h],
                [r.x, r.y + r.h],
            ],
            color,
        );
    }

    /// A rectangle's outline of `width` pixels, drawn inside it.
    pub fn frame(&mut self, r: Rect, width: f32, color: Color) {
        self.rect(Rect::new(r.x, r.y, r.w, width), color);
        self.rect(Rect::new(r.x, r.y + r.h - width, r.w, width), color);
        self.rect(Rect::new(r.x, r.y, width, r.h), color);
        self.rect(Rect::new(r.x + r.w - width, r.y, width, r.h), color);
    }

    /// A straight segment of `width` pixels.
    pub fn line(&mut self, a: [f32; 2], b: [f32; 2], width: f32, color: Color) {
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len = (dx * dx + dy * dy).sqrt();
        if len < 1e-3 {
            return;
        }
        let (nx, ny) = (-dy / len * width / 2.0, dx / len * width / 2.0);
        self.quad(
            [
                [a[0] + nx, a[1] + ny],
                [b[0] + nx, b[1] + ny],
                [b[0] - nx, b[1] - ny],
                [a[0] - nx, a[1] - ny],
            ],
            color,
        );
    }

    /// A polyline with mitred joins (clamped so sharp turns do not spike).
    pub fn polyline(&mut self, points: &[[f32; 2]], width: f32, color: Color) {
        if points.len() < 2 {
            return;
        }
        let half = width / 2.0;
        let normal = |a: [f32; 2], b: [f32; 2]| {
            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
            let len = (dx * dx + dy * dy).sqrt().max(1e-6);
            [-dy / len * half, dx / len * half]
        };
        // A mitred corner where the turn is gentle; where it is sharp a mitre would spike far
        // past the point, and a shortened one thins both segments near it: there each
        // segment keeps its full width to the point and a disc rounds the corner.
        let miter = |i: usize| -> Option<[f32; 2]> {
            let (n0, n1) = (
                normal(points[i - 1], points[i]),
                normal(points[i], points[i + 1]),
            );
            let m = [n0[0] + n1[0], n0[1] + n1[1]];
            let ml = (m[0] * m[0] + m[1] * m[1]).sqrt();
            if ml < 1e-6 * half.max(1.0) {
                return None;
            }
            let m = [m[0] / ml, m[1] / ml];
            let cos = (m[0] * n0[0] + m[1] * n0[1]) / half;
            (cos >= MITER_MIN_COS).then(|| [m[0] * half / cos, m[1] * half / cos])
        };
        let last = points.len() - 1;
        let joins: Vec<Option<[f32; 2]>> = (0..=last)
            .map(|i| if i == 0 || i == last { None } else { miter(i) })
            .collect();
        for i in 0..last {
            let (a, b) = (points[i], points[i + 1]);
            let n = normal(a, b);
            let (oa, ob) = (joins[i].unwrap_or(n), joins[i + 1].unwrap_or(n));
            self.quad(
                [
                    [a[0] + oa[0], a[1] + oa[1]],
                    [b[0] + ob[0], b[1] + ob[1]],
                    [b[0] - ob[0], b[1] - ob[1]],
                    [a[0] - oa[0], a[1] - oa[1]],
                ],
                color,
            );
        }
        for i in 1..last {
            if joins[i].is_none() {
                self.disc(points[i], half, color);
            }
        }
    }

    /// The area between a polyline and the horizontal line `base_y`.
    pub fn area(&mut self, points: &[[f32; 2]], base_y: f32, color: Color) {
        for w in points.windows(2) {
            let (a, b) = (w[0], w[1]);
            self.quad([[a[0], base_y], a, b, [b[0], base_y]], color);
        }
    }

    /// A filled disc (for chart markers).
    pub fn disc(&mut self, c: [f32; 2], r: f32, color: Color) {
        let n = 16;
        for i in 0..n {
            let a0 = i as f32 / n as f32 * std::f32::consts::TAU;
            let a1 = (i + 1) as f32 / n as f32 * std::f32::consts::TAU;
            self.triangle(
                c,
                [c[0] + r * a0.cos(), c[1] + r * a0.sin()],
                [c[0] + r * a1.cos(), c[1] + r * a1.sin()],
                color,
            );
        }
    }

    /// An arrow head pointing up (`up`) or down, centred on `c`, `size` pixels tall.
    pub fn arrow(&mut self, c: [f32; 2], size: f32, up: bool, color: Color) {
        let h = size / 2.0;
        let w = size * 0.55;
        let stem = size * 0.22;
        let dir = if up { -1.0 } else { 1.0 };
        // Head: the top half; stem: the bottom half.
        self.triangle(
            [c[0], c[1] + dir * h],
            [c[0] - w, c[1]],
            [c[0] + w, c[1]],
            color,
        );
        let y0 = c[1];
        let y1 = c[1] - dir * h;
        self.rect(
            Rect::new(c[0] - stem, y0.min(y1), stem * 2.0, (y1 - y0).abs()),
            color,
        );
    }

    /// Places `text` with its anchor at `(x, y)` (top of the line box; left, centre or right per
    /// the style), shrinking the size until it fits `max_width` if given. Returns the run's box.
    pub fn text(
        &mut self,
        shaper: &mut TextShaper,
        text: &str,
        x: f32,
        y: f32,
        style: TextStyle,
        max_width: Option<f32>,
    ) -> Rect {
        let size = match max_width {
            Some(max) => Self::fitted_size(shaper, text, style, max),
            None => style.size_px,
        };
        let mut key = shaper.key(text, size, style.weight);
        let mut extent = shaper.measure(&key);
        let left = match style.align {
            Align::Left => x,
            Align::Center => x - extent[0] / 2.0,
            Align::Right => x - extent[0],
        };
        // A left-aligned run that mostly fits before a bezel stays where it starts (titles of
        // panels spanning two screens): it breaks between two words and goes on after the
        // bezel, or, when it cannot, is cut there ("…"), rather than being moved past it.
        if style.align == Align::Left
            && let Some(b) = self
                .bezels
                .iter()
                .find(|b| b.h > b.w && b.intersects(&Rect::new(left, y, extent[0], extent[1])))
                .copied()
        {
            let room = b.x - left - 2.0;
            if room >= extent[0] * 0.35 && room > style.size_px * 2.0 {
                let sized = TextStyle {
                    size_px: key.size_px(),
                    ..style
                };
                let text = key.text.clone();
                if let Some(r) = self.break_at_bezel(shaper, &text, left, y, sized, room, b) {
                    return r;
                }
                let (_, k, e) = Self::elide(shaper, &key.text, key.size_px(), style.weight, room);
                key = k;
                extent = e;
            }
        }
        let rect = self.off_bezels(Rect::new(left, y, extent[0], extent[1]), style.align);
        let clip = self.clip.unwrap_or(Rect::new(-1e6, -1e6, 2e6, 2e6));
        self.texts.push(TextRun {
            key,
            rect,
            color: style.color,
            clip,
        });
        rect
    }

    /// The size at which `text` fits `max_width`: `style`'s, or smaller. Shrinks in steps
    /// rather than truncating (a figure must never be cut), and measures the text's digit
    /// shape (see [`TextShaper::digit_shape`]) so that a figure keeps its size when its digits
    /// change.
    pub fn fitted_size(
        shaper: &mut TextShaper,
        text: &str,
        style: TextStyle,
        max_width: f32,
    ) -> f32 {
        let mut size = style.size_px;
        let mut width = shaper.shape_width(text, size, style.weight);
        let mut tries = 0;
        while width > max_width && size > 8.0 && tries < 12 {
            size = (size * (max_width / width).max(0.6) * 0.98).max(8.0);
            width = shaper.shape_width(text, size, style.weight);
            tries += 1;
        }
        size
    }

    /// Writes a left-aligned run that crosses `bezel` as two: the words that fit `room` before
    /// it, the rest after it (which may break again at the next bezel). `None` when the first
    /// word alone is too wide, or the rest would leave the panel.
    #[allow(clippy::too_many_arguments)]
    fn break_at_bezel(
        &mut self,
        shaper: &mut TextShaper,
        text: &str,
        left: f32,
        y: f32,
        style: TextStyle,
        room: f32,
        bezel: Rect,
    ) -> Option<Rect> {
        let mut width = |t: &str| shaper.width(t, style.size_px, style.weight);
        let mut split = None;
        for (i, _) in text.match_indices(' ') {
            let head = text[..i].trim_end();
            if head.is_empty() {
                continue;
            }
            if width(head) > room {
                break;
            }
            split = Some(i);
        }
        let (head, rest) = text.split_at(split?);
        let rest = rest.trim_start();
        if rest.is_empty() {
            return None;
        }
        let after = bezel.x + bezel.w + style.size_px * 0.3;
        let clip = self.clip.unwrap_or(Rect::new(-1e6, -1e6, 2e6, 2e6));
        if after + width(rest) > clip.x + clip.w {
            return None;
        }
        let a = self.text(shaper, head.trim_end(), left, y, style, None);
        let b = self.text(shaper, rest, after, y, style, None);
        let bottom = (a.y + a.h).max(b.y + b.h);
        let top = a.y.min(b.y);
        Some(Rect::new(a.x, top, b.x + b.w - a.x, bottom - top))
    }

    /// Like [`DisplayList::text`] at a fixed size, but a run wider than `max_width` is cut and ends
    /// with "…" (for names in lists, where a smaller size would break the rhythm of rows).
    pub fn text_elided(
        &mut self,
        shaper: &mut TextShaper,
        text: &str,
        x: f32,
        y: f32,
        style: TextStyle,
        max_width: f32,
    ) -> Rect {
        if shaper.width(text, style.size_px, style.weight) <= max_width {
            return self.text(shaper, text, x, y, style, None);
        }
        let (cut, ..) = Self::elide(shaper, text, style.size_px, style.weight, max_width);
        self.text(shaper, &cut, x, y, style, None)
    }

    /// The longest prefix of `text` that fits `max_width` with "…" appended, its key and extent.
    fn elide(
        shaper: &mut TextShaper,
        text: &str,
        size: f32,
        weight: Weight,
        max_width: f32,
    ) -> (String, TextKey, [f32; 2]) {
        let chars: Vec<char> = text.chars().collect();
        let (mut lo, mut hi) = (0usize, chars.len());
        let cut = |n: usize| chars[..n].iter().collect::<String>().trim_end().to_owned() + "…";
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let k = shaper.key(&cut(mid), size, weight);
            if shaper.measure(&k)[0] <= max_width {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let text = cut(lo);
        let key = shaper.key(&text, size, weight);
        let extent = shaper.measure(&key);
        (text, key, extent)
    }

    /// Moves a text box out of any bezel strip it crosses, so no character is split by a screen
    /// edge: away from its anchor (left-aligned text starts after the strip, right-aligned text
    /// ends before it, so what was laid out before it is not overrun); centred text to the nearer
    /// side.
    fn off_bezels(&self, mut r: Rect, align: Align) -> Rect {
        for _ in 0..4 {
            let Some(b) = self.bezels.iter().find(|b| b.intersects(&r)) else {
                break;
            };
            let vertical_strip = b.h > b.w;
            if vertical_strip {
                let left_shift = r.x + r.w - b.x;
                let right_shift = b.x + b.w - r.x;
                let go_left = match align {
                    Align::Left => false,
                    Align::Right => true,
                    Align::Center => left_shift <= right_shift,
                };
                if go_left {
                    r.x -= left_shift + 1.0;
                } else {
                    r.x += right_shift + 1.0;
                }
            } else {
                let up_shift = r.y + r.h - b.y;
                let down_shift = b.y + b.h - r.y;
                if up_shift <= down_shift {
                    r.y -= up_shift + 1.0;
                } else {
                    r.y += down_shift + 1.0;
                }
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every segment of a polyline keeps its full width up to both its ends, at gentle and
    /// sharp corners alike (a shortened mitre used to thin both sides of a peak), and a sharp
    /// corner is rounded with a disc.
    #[test]
    fn a_polyline_keeps_its_width_into_sharp_and_gentle_corners() {
        let points = [
            [0.0, 100.0],
            [10.0, 0.0],
            [20.0, 100.0],
            [60.0, 90.0],
            [100.0, 95.0],
        ];
        let half = 3.0;
        let mut d = DisplayList::default();
        d.polyline(&points, 2.0 * half, theme::GOOD);
        for (i, w) in points.windows(2).enumerate() {
            let (a, b) = (w[0], w[1]);
            let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
            let n = [-(b[1] - a[1]) / len, (b[0] - a[0]) / len];
            // quad [a+oa, b+ob, b-ob, a-oa] as triangles (0,1,2), (0,2,3)
            let q = &d.vertices[i * 6..i * 6 + 6];
            let (a_out, b_out, a_in) = (q[0].position, q[1].position, q[5].position);
            let across =
                |p: [f32; 2], c: [f32; 2]| ((p[0] - c[0]) * n[0] + (p[1] - c[1]) * n[1]).abs();
            assert!(
                (across(a_out, a) - half).abs() < 1e-3,
                "segment {i} at its start"
            );
            assert!(
                (across(b_out, b) - half).abs() < 1e-3,
                "segment {i} at its end"
            );
            assert!(
                (across(a_in, a) - half).abs() < 1e-3,
                "segment {i}, inner side"
            );
        }
        // Four quads, and one disc (16 triangles) at the peak only.
        assert_eq!(d.vertices.len(), 4 * 6 + 16 * 3);
        let disc = &d.vertices[24..];
        assert!(disc.iter().all(|v| {
            let (dx, dy) = (v.position[0] - 10.0, v.position[1]);
            (dx * dx + dy * dy).sqrt() <= half + 1e-3
        }));
    }

    #[test]
    fn rect_is_two_triangles_with_its_colour() {
        let mut d = DisplayList::default();
        d.rect(Rect::new(1.0, 2.0, 3.0, 4.0), theme::GOOD);
        assert_eq!(d.vertices.len(), 6);
        assert!(d.vertices.iter().all(|v| v.color == theme::GOOD.0));
        let xs: Vec<f32> = d.vertices.iter().map(|v| v.position[0]).collect();
        assert!(xs.iter().all(|&x| x == 1.0 || x == 4.0));
    }

    #[test]
    fn a_title_crossing_a_bezel_breaks_between_words_and_goes_on_after_it() {
        let mut shaper = TextShaper::new();
        let bezel = Rect::new(300.0, 0.0, 6.0, 1000.0);
        let mut d = DisplayList::new(vec![bezel]);
        let style = TextStyle::new(20.0, Weight::Regular, theme::TEXT);
        let text = "Tổng mức bán lẻ hàng hóa và doanh thu dịch vụ tiêu dùng";
        let whole = shaper.width(text, 20.0, Weight::Regular);
        assert!(whole > 250.0 && whole < 700.0, "{whole}");
        let r = d.text(&mut shaper, text, 50.0, 10.0, style, None);
        assert_eq!(d.texts.len(), 2, "two runs");
        let (a, b) = (&d.texts[0], &d.texts[1]);
        assert!(
            a.rect.x + a.rect.w <= 300.0 && b.rect.x >= 306.0,
            "{a:?} {b:?}"
        );
        // Every word is there, in order, and nothing is cut.
        assert_eq!(format!("{} {}", a.key.text, b.key.text), text);
        assert!(!a.key.text.contains('…'));
        assert_eq!(r.x, 50.0);
        assert!((r.x + r.w - (b.rect.x + b.rect.w)).abs() < 0.01);
    }

    #[test]
    fn left_aligned_text_crossing_a_bezel_starts_after_it() {
        let mut shaper = TextShaper::new();
        let mut d = DisplayList::new(vec![Rect::new(100.0, 0.0, 6.0, 1000.0)]);
        let r = d.text(
            &mut shaper,
            "Hà Nội",
            90.0,
            10.0,
            TextStyle::new(20.0, Weight::Regular, theme::TEXT),
            None,
        );
        assert!(!r.intersects(&Rect::new(100.0, 0.0, 6.0, 1000.0)), "{r:?}");
        assert!(r.x >= 106.0, "{r:?}");
    }
}
