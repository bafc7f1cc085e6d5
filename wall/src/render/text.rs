//! Text shaping for the wall: Be Vietnam Pro (embedded, so a wall machine needs no fonts
//! installed) through cosmic-text, every string NFC-normalised so a decomposed "ế" from a feed
//! shapes the same as a composed one. Each distinct (text, size, weight) is shaped once and kept
//! while frames use it; runs nobody used for a while are dropped.

use glyphon::{Attrs, Buffer, Family, FontSystem, Metrics, Shaping, fontdb};
use rustc_hash::FxHashMap;
use unicode_normalization::UnicodeNormalization;

const FAMILY: &str = "Be Vietnam Pro";
const FONTS: [&[u8]; 3] = [
    include_bytes!("../../../assets/fonts/BeVietnamPro-Regular.ttf"),
    include_bytes!("../../../assets/fonts/BeVietnamPro-SemiBold.ttf"),
    include_bytes!("../../../assets/fonts/BeVietnamPro-Bold.ttf"),
];

/// Font weights the wall uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weight {
    Regular,
    SemiBold,
    Bold,
}

impl Weight {
    fn fontdb(self) -> fontdb::Weight {
        match self {
            Weight::Regular => fontdb::Weight::NORMAL,
            Weight::SemiBold => fontdb::Weight::SEMIBOLD,
            Weight::Bold => fontdb::Weight::BOLD,
        }
    }
}

/// Identifies one shaped run: NFC text, size in 1/8 px, weight.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TextKey {
    pub text: String,
    pub size_eighths: u32,
    pub weight: Weight,
}

impl TextKey {
    pub fn size_px(&self) -> f32 {
        self.size_eighths as f32 / 8.0
    }
}

struct Shaped {
    buffer: Buffer,
    extent: [f32; 2],
    last_used: u64,
}

/// The cached runs, lent to the renderer while it prepares a frame.
pub struct Runs<'a>(&'a FxHashMap<TextKey, Shaped>);

impl<'a> Runs<'a> {
    /// The shaped buffer of a run measured before.
    pub fn get(&self, key: &TextKey) -> Option<&'a Buffer> {
        self.0.get(key).map(|s| &s.buffer)
    }
}

/// Shapes and caches text runs.
pub struct TextShaper {
    fonts: FontSystem,
    cache: FxHashMap<TextKey, Shaped>,
    frame: u64,
    /// The widest digit of each weight (Regular, SemiBold, Bold), found on first use.
    widest_digit: [Option<char>; 3],
}

impl Default for TextShaper {
    fn default() -> Self {
        Self::new()
    }
}

impl TextShaper {
    pub fn new() -> TextShaper {
        let mut db = fontdb::Database::new();
        for font in FONTS {
            db.load_font_data(font.to_vec());
        }
        db.set_sans_serif_family(FAMILY);
        TextShaper {
            fonts: FontSystem::new_with_locale_and_db("vi-VN".into(), db),
            cache: FxHashMap::default(),
            frame: 0,
            widest_digit: [None; 3],
        }
    }

    /// `text` with every digit replaced by the widest digit of `weight`; `None` when it has no
    /// digit. Be Vietnam Pro's digits are proportional (no tabular figures): a text fitted to a
    /// width by its own digits gets another size when they change ("209.653" took 47 px,
    /// "210.731" 55 px in a KPI tile), so a figure counting up to a new value pulsed in size
    /// every frame. Fitted by this shape instead, its size depends only on how many digits it
    /// has and where its separators are, and it still fits whatever its digits.
    pub fn digit_shape(&mut self, text: &str, weight: Weight) -> Option<String> {
        if !text.bytes().any(|b| b.is_ascii_digit()) {
            return None;
        }
        let widest = self.widest_digit(weight);
        Some(
            text.chars()
                .map(|c| if c.is_ascii_digit() { widest } else { c })
                .collect(),
        )
    }

    /// Width of `text`'s digit shape (see [`Self::digit_shape`]) at `size_px` and `weight`:
    /// the room a figure takes whatever its digits, so what is laid out by it (a column, the
    /// unit after it) stays put when they change.
    pub fn shape_width(&mut self, text: &str, size_px: f32, weight: Weight) -> f32 {
        match self.digit_shape(text, weight) {
            Some(shape) => self.width(&shape, size_px, weight),
            None => self.width(text, size_px, weight),
        }
    }

    fn widest_digit(&mut self, weight: Weight) -> char {
        let slot = weight as usize;
        if let Some(c) = self.widest_digit[slot] {
            return c;
        }
        let mut widest = ('0', 0.0);
        for c in '0'..='9' {
            // Large, so that widths ceiled to a pixel still tell the digits apart.
            let key = self.key(&c.to_string(), 1000.0, weight);
            let w = self.shaped(&key).extent[0];
            if w > widest.1 {
                widest = (c, w);
            }
        }
        self.widest_digit[slot] = Some(widest.0);
        widest.0
    }

    /// The key of `text` at `size_px` and `weight` (NFC-normalised, size rounded to 1/8 px).
    pub fn key(&self, text: &str, size_px: f32, weight: Weight) -> TextKey {
        let text = if unicode_normalization::is_nfc(text) {
            text.to_owned()
        } else {
            text.nfc().collect()
        };
        TextKey {
            text,
            size_eighths: (size_px.max(1.0) * 8.0).round() as u32,
            weight,
        }
    }

    /// Width and height of the run's box, shaping it on first use.
    pub fn measure(&mut self, key: &TextKey) -> [f32; 2] {
        self.shaped(key).extent
    }

    /// How far below the top of the run's box its first line's baseline lies: runs of two sizes
    /// set on one baseline (a figure and its unit) are placed by it.
    pub fn baseline(&mut self, key: &TextKey) -> f32 {
        self.shaped(key)
            .buffer
            .layout_runs()
            .next()
            .map_or(key.size_px(), |run| run.line_y)
    }

    /// Width of `text` at `size_px` and `weight`.
    pub fn width(&mut self, text: &str, size_px: f32, weight: Weight) -> f32 {
        let key = self.key(text, size_px, weight);
        self.measure(&key)[0]
    }

    /// The font system (mutably, for glyphon) beside the cached runs (shared, for text areas).
    pub fn split(&mut self) -> (&mut FontSystem, Runs<'_>) {
        (&mut self.fonts, Runs(&self.cache))
    }

    fn shaped(&mut self, key: &TextKey) -> &mut Shaped {
        let frame = self.frame;
        if !self.cache.contains_key(key) {
            let size = key.size_px();
            let mut buffer = Buffer::new(&mut self.fonts, Metrics::new(size, size * 1.25));
            buffer.set_size(None, None);
            let attrs = Attrs::new()
                .family(Family::Name(FAMILY))
                .weight(key.weight.fontdb());
            buffer.set_text(&key.text, &attrs, Shaping::Advanced, None);
            buffer.shape_until_scroll(&mut self.fonts, false);
            let mut width: f32 = 0.0;
            let mut height: f32 = 0.0;
            for run in buffer.layout_runs() {
                width = width.max(run.line_w);
                height = height.max(run.line_top + run.line_height);
            }
            self.cache.insert(
                key.clone(),
                Shaped {
                    buffer,
                    extent: [width.ceil(), height.ceil()],
                    last_used: frame,
                },
            );
        }
        let entry = self.cache.get_mut(key).expect("inserted above");
        entry.last_used = frame;
        entry
    }

    /// Starts a frame: runs unused for 120 frames are dropped (a ticker scrolls through many).
    pub fn next_frame(&mut self) {
        self.frame += 1;
        let frame = self.frame;
        if self.cache.len() > 512 {
            self.cache.retain(|_, s| frame - s.last_used < 120);
        }
    }

    /// The glyphs of a run, for tests: each glyph's font glyph id and x offset.
    pub fn glyphs(&mut self, key: &TextKey) -> Vec<(u16, f32, f32)> {
        let buffer = &self.shaped(key).buffer;
        buffer
            .layout_runs()
            .flat_map(|run| {
                run.glyphs
                    .iter()
                    .map(|g| (g.glyph_id, g.x, g.w))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bold_runs_measure_wider_than_regular() {
        let mut s = TextShaper::new();
        let r = s.key("MỚI CẬP NHẬT", 40.0, Weight::Regular);
        let b = s.key("MỚI CẬP NHẬT", 40.0, Weight::Bold);
        let (wr, wb) = (s.measure(&r)[0], s.measure(&b)[0]);
        eprintln!("regular {wr} bold {wb} glyphs {:?}", s.glyphs(&b));
        assert!(wb > wr && wr > 200.0, "{wr} {wb}");
    }
}
