//! The technician's layout file: the physical wall (screen grid, resolution, bezels), the video
//! outputs that drive it, and named scenes of panels placed in wall coordinates.
//! `assets/layouts/README.md` documents the format for technicians.
//!
//! Geometry works on a *canvas*: the continuous physical surface of the wall in pixels at the
//! screens' pixel pitch, including the strips hidden under bezels. The gap between two adjacent
//! screens is `(right bezel + left bezel) mm × px/mm` across (`(bottom + top) × px/mm` down), so a
//! line drawn across a bezel stays straight to the eye: the pixels that would fall under the bezel
//! are simply never shown. Screen `(r, c)` shows canvas rect [`Wall::screen_in_canvas`] on its own
//! pixels [`Wall::screen_in_pixels`] (`(c × W, r × H)` in the visible image).
//!
//! [`parse`] collects every problem in the file, each with line, column and what to do, so
//! `dieuhanh-wall check <file>` can list them all at once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dieuhanh_protocol::period::{Frequency, Period};

use crate::catalogue::Catalogue;

mod parse;
#[cfg(test)]
mod tests;

/// An axis-aligned rectangle (canvas or output pixels, y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    /// A rectangle from its top-left corner and size.
    pub fn new(x: f32, y: f32, w: f32, h: f32) -> Rect {
        Rect { x, y, w, h }
    }

    /// `x + w`.
    pub fn right(&self) -> f32 {
        self.x + self.w
    }

    /// `y + h`.
    pub fn bottom(&self) -> f32 {
        self.y + self.h
    }

    /// Whether the two share some area (touching edges do not count).
    pub fn intersects(&self, other: &Rect) -> bool {
        self.intersection(other).is_some()
    }

    /// The shared area, if it is not empty.
    pub fn intersection(&self, other: &Rect) -> Option<Rect> {
        let x = self.x.max(other.x);
        let y = self.y.max(other.y);
        let right = self.right().min(other.right());
        let bottom = self.bottom().min(other.bottom());
        (right > x && bottom > y).then(|| Rect::new(x, y, right - x, bottom - y))
    }

    /// Whether the point lies inside (left and top edges included, right and bottom excluded).
    pub fn contains_point(&self, x: f32, y: f32) -> bool {
        x >= self.x && x < self.right() && y >= self.y && y < self.bottom()
    }
}

/// Bezel width on each side of one screen, in mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bezel {
    pub left: f32,
    pub right: f32,
    pub top: f32,
    pub bottom: f32,
}

impl Bezel {
    /// The same width on all four sides.
    pub fn uniform(mm: f32) -> Bezel {
        Bezel {
            left: mm,
            right: mm,
            top: mm,
            bottom: mm,
        }
    }
}

/// Font size keyword of a panel, defined by the physical cap height of its main text so a
/// layout reads the same on any screen size.
///
/// Rule: a character should subtend at least 16 arc minutes, preferably 20–22′, at the reading
/// distance (ANSI/HFES 100-2007 and ISO 9241-303 on character height; the signage rule of
/// thumb "letter height ≥ distance / 250" is the same 14′ threshold). At 8 m, 16′ is 37 mm.
/// - `small`, 14 mm cap height: 16′ up to 3 m — labels for operators near the wall or at a desk.
/// - `medium`, 22 mm: 16′ up to 4.7 m — chart axes, table cells, ticker text in a small room.
/// - `large`, 34 mm: 14.6′ at 8 m (distance/235) — titles and table figures read from the room.
/// - `huge`, 70 mm: 30′ at 8 m, 16′ up to 15 m — a KPI figure read at a glance from the back of
///   the national operations centre. On a 55-inch 1080p screen (0.63 mm/px) that is a ~160 px
///   font, 15% of the screen height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TextSize {
    Small,
    Medium,
    Large,
    Huge,
}

/// Cap height as a share of the font size (em) for the UI fonts the wall uses (Be Vietnam Pro,
/// Inter, Noto Sans: 0.70–0.73).
pub const CAP_HEIGHT_PER_EM: f32 = 0.7;

impl TextSize {
    /// Every keyword, smallest first.
    pub const ALL: [TextSize; 4] = [
        TextSize::Small,
        TextSize::Medium,
        TextSize::Large,
        TextSize::Huge,
    ];

    /// The keyword used in layout files.
    pub fn as_str(self) -> &'static str {
        match self {
            TextSize::Small => "small",
            TextSize::Medium => "medium",
            TextSize::Large => "large",
            TextSize::Huge => "huge",
        }
    }

    /// Reads a keyword written by [`TextSize::as_str`].
    pub fn parse(s: &str) -> Option<TextSize> {
        TextSize::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The keyword one size down (`small` stays `small`).
    pub fn smaller(self) -> TextSize {
        match self {
            TextSize::Huge => TextSize::Large,
            TextSize::Large => TextSize::Medium,
            TextSize::Medium | TextSize::Small => TextSize::Small,
        }
    }

    /// Physical cap height of the main text, in mm (see the type's docs for the rule).
    pub fn cap_height_mm(self) -> f32 {
        match self {
            TextSize::Small => 14.0,
            TextSize::Medium => 22.0,
            TextSize::Large => 34.0,
            TextSize::Huge => 70.0,
        }
    }

    /// Font size (em) in mm.
    pub fn font_mm(self) -> f32 {
        self.cap_height_mm() / CAP_HEIGHT_PER_EM
    }
}

/// The physical wall: a grid of identical screens.
#[derive(Debug, Clone, PartialEq)]
pub struct Wall {
    pub name: String,
    /// Screens down.
    pub rows: u32,
    /// Screens across.
    pub columns: u32,
    /// Resolution of one screen, `[width, height]` px.
    pub screen_px: [u32; 2],
    /// Active (lit) area of one screen, `[width, height]` mm.
    pub screen_mm: [f32; 2],
    /// Bezel of each screen.
    pub bezel_mm: Bezel,
}

impl Wall {
    /// Pixels per mm across (the pitch used for text sizes).
    pub fn px_per_mm(&self) -> f32 {
        self.screen_px[0] as f32 / self.screen_mm[0]
    }

    /// Pixels per mm down (equal to [`Wall::px_per_mm`] on square-pixel screens).
    pub fn px_per_mm_y(&self) -> f32 {
        self.screen_px[1] as f32 / self.screen_mm[1]
    }

    /// Hidden canvas px between two adjacent screens: `[across, down]`.
    pub fn gap_px(&self) -> [f32; 2] {
        let b = self.bezel_mm;
        [
            (b.right + b.left) * self.px_per_mm(),
            (b.bottom + b.top) * self.px_per_mm_y(),
        ]
    }

    fn screen_f(&self) -> [f32; 2] {
        [self.screen_px[0] as f32, self.screen_px[1] as f32]
    }

    /// The whole canvas (screens and the gaps between them; not the outer bezels), px.
    pub fn canvas_size(&self) -> [f32; 2] {
        let [w, h] = self.screen_f();
        let [gx, gy] = self.gap_px();
        [
            self.columns as f32 * w + self.columns.saturating_sub(1) as f32 * gx,
            self.rows as f32 * h + self.rows.saturating_sub(1) as f32 * gy,
        ]
    }

    /// Visible pixels of the whole wall: `columns × W` by `rows × H` (7680×3240 for 4×3 1080p).
    pub fn pixel_size(&self) -> [u32; 2] {
        self.block_pixel_size(self.rows, self.columns)
    }

    /// A block of `rows × columns` screens' pixel size.
    pub fn block_pixel_size(&self, rows: u32, columns: u32) -> [u32; 2] {
        [columns * self.screen_px[0], rows * self.screen_px[1]]
    }

    /// The canvas area screen `(row, column)` shows.
    pub fn screen_in_canvas(&self, row: u32, column: u32) -> Rect {
        let [w, h] = self.screen_f();
        let [gx, gy] = self.gap_px();
        Rect::new(column as f32 * (w + gx), row as f32 * (h + gy), w, h)
    }

    /// Where screen `(row, column)` lies in the visible image (and in output pixels).
    pub fn screen_in_pixels(&self, row: u32, column: u32) -> Rect {
        let [w, h] = self.screen_f();
        Rect::new(column as f32 * w, row as f32 * h, w, h)
    }

    /// Canvas strips hidden under bezels: `columns − 1` full-height strips between columns of
    /// screens, then `rows − 1` full-width strips between rows (they cross at the corners).
    pub fn bezel_strips(&self) -> Vec<Rect> {
        let [w, h] = self.screen_f();
        let [gx, gy] = self.gap_px();
        let [cw, ch] = self.canvas_size();
        let mut strips = Vec::new();
        if gx > 0.0 {
            for c in 1..self.columns {
                let x = (c - 1) as f32 * (w + gx) + w;
                strips.push(Rect::new(x, 0.0, c as f32 * (w + gx) - x, ch));
            }
        }
        if gy > 0.0 {
            for r in 1..self.rows {
                let y = (r - 1) as f32 * (h + gy) + h;
                strips.push(Rect::new(0.0, y, cw, r as f32 * (h + gy) - y));
            }
        }
        strips
    }

    /// Canvas position of a point in screen units (`row` screens down, `column` across,
    /// fractions allowed). A whole number is the start of that screen, except the far edge
    /// (`column == columns`, `row == rows`), which is the end of the last screen.
    pub fn to_canvas(&self, row: f32, column: f32) -> [f32; 2] {
        let [w, h] = self.screen_f();
        let [gx, gy] = self.gap_px();
        [
            axis_to_canvas(column, self.columns, w, gx, false),
            axis_to_canvas(row, self.rows, h, gy, false),
        ]
    }

    /// Like [`Wall::to_canvas`] for the bottom-right corner of an area: a whole number is the
    /// *end* of the screen before it, so a panel ending on a screen edge does not reach under
    /// the bezel.
    pub fn to_canvas_end(&self, row: f32, column: f32) -> [f32; 2] {
        let [w, h] = self.screen_f();
        let [gx, gy] = self.gap_px();
        [
            axis_to_canvas(column, self.columns, w, gx, true),
            axis_to_canvas(row, self.rows, h, gy, true),
        ]
    }

    /// Canvas rect of an area given in screens (top-left `row`, `column`; size `rows` ×
    /// `columns`).
    pub fn area_to_canvas(&self, row: f32, column: f32, rows: f32, columns: f32) -> Rect {
        let [x, y] = self.to_canvas(row, column);
        let [right, bottom] = self.to_canvas_end(row + rows, column + columns);
        Rect::new(x, y, (right - x).max(0.0), (bottom - y).max(0.0))
    }

    /// Font size in px for `size` at this wall's pixel pitch.
    pub fn text_px(&self, size: TextSize) -> f32 {
        size.font_mm() * self.px_per_mm()
    }
}

/// Tolerance when deciding that a position in screens is a whole number.
const WHOLE_EPS: f32 = 1e-4;

fn axis_to_canvas(pos: f32, count: u32, size: f32, gap: f32, end: bool) -> f32 {
    let nearest = pos.round();
    let whole = (pos - nearest).abs() < WHOLE_EPS;
    if whole && nearest > 0.0 && (end || nearest >= count as f32) {
        return (nearest - 1.0) * (size + gap) + size;
    }
    let pos = if whole { nearest } else { pos };
    let screen = pos.floor();
    screen * (size + gap) + (pos - screen) * size
}

/// The video-conference feed: the wall, or a block of its screens, in one picture, following
/// its scene.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConferenceFeed {
    /// Monitor name as the OS reports it (the capture card's input); else the monitor after
    /// the outputs'.
    pub monitor: Option<String>,
    /// The picture's size; what it shows is scaled into it, letterboxed.
    pub size: [u32; 2],
    /// The block of screens it shows, `[row, column, rows, columns]` (the whole wall when the
    /// technician names none): the whole 4×3 national wall in 1080p writes its small text 8 px
    /// high, a 2×2 block 16.
    pub block: Option<[u32; 4]>,
    /// 1-based line of its `[feed]` header.
    pub line: usize,
}

impl ConferenceFeed {
    /// The screens it shows, `[row, column, rows, columns]`: its block, else the whole wall.
    pub fn shows(&self, wall: &Wall) -> [u32; 4] {
        self.block.unwrap_or([0, 0, wall.rows, wall.columns])
    }
}

/// The scale that fits `px` into `size` whole (the smaller of the two ratios).
pub fn fit_scale(px: [u32; 2], size: [u32; 2]) -> f32 {
    (size[0] as f32 / px[0] as f32).min(size[1] as f32 / px[1] as f32)
}

/// Default size of the conference feed: what conference systems take in.
pub const DEFAULT_FEED_SIZE: [u32; 2] = [1920, 1080];

/// One video output (graphics port / monitor) and the block of screens it drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub name: String,
    /// Monitor name as the OS reports it; outputs are matched by position otherwise.
    pub monitor: Option<String>,
    /// First screen row and column it drives.
    pub row: u32,
    pub column: u32,
    /// Size of its block of screens.
    pub rows: u32,
    pub columns: u32,
    /// 1-based line of its `[[output]]` header.
    pub line: usize,
}

impl Output {
    /// Its pixel size: `columns × W` by `rows × H`.
    pub fn pixel_size(&self, wall: &Wall) -> [u32; 2] {
        wall.block_pixel_size(self.rows, self.columns)
    }

    /// Where its pixels lie in the visible image of the whole wall.
    pub fn in_pixels(&self, wall: &Wall) -> Rect {
        let [w, h] = self.pixel_size(wall);
        let origin = wall.screen_in_pixels(self.row, self.column);
        Rect::new(origin.x, origin.y, w as f32, h as f32)
    }
}

/// What a panel draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WidgetKind {
    /// One figure, its change and target, a sparkline.
    Kpi,
    /// Line chart of 1–4 indicators over time.
    Line,
    /// Area chart of 1–4 indicators over time.
    Area,
    /// Ranked bars of one indicator over the children of a unit (e.g. 34 provinces).
    Bars,
    /// Table of 1–6 indicators over units.
    Table,
    /// Scrolling list of recent changes.
    Ticker,
    /// Scene title, date and time, connection status.
    Header,
    /// How the reporting regimes' latest due reports stand: reported, late, by how many days.
    Reports,
    /// One indicator over the 34 provinces on the map of Vietnam, coloured by value.
    Map,
}

impl WidgetKind {
    /// Every widget kind.
    pub const ALL: [WidgetKind; 9] = [
        WidgetKind::Kpi,
        WidgetKind::Line,
        WidgetKind::Area,
        WidgetKind::Bars,
        WidgetKind::Table,
        WidgetKind::Ticker,
        WidgetKind::Header,
        WidgetKind::Reports,
        WidgetKind::Map,
    ];

    /// The keyword used in layout files.
    pub fn as_str(self) -> &'static str {
        match self {
            WidgetKind::Kpi => "kpi",
            WidgetKind::Line => "line",
            WidgetKind::Area => "area",
            WidgetKind::Bars => "bars",
            WidgetKind::Table => "table",
            WidgetKind::Ticker => "ticker",
            WidgetKind::Header => "header",
            WidgetKind::Reports => "reports",
            WidgetKind::Map => "map",
        }
    }

    /// Reads a keyword written by [`WidgetKind::as_str`].
    pub fn parse(s: &str) -> Option<WidgetKind> {
        WidgetKind::ALL.into_iter().find(|w| w.as_str() == s)
    }

    /// Text size when the panel names none: KPI figures `huge` (read from 8 m), headers and
    /// tickers `large`, charts, bars and tables `medium`.
    pub fn default_text(self) -> TextSize {
        match self {
            WidgetKind::Kpi => TextSize::Huge,
            WidgetKind::Header | WidgetKind::Ticker => TextSize::Large,
            WidgetKind::Line
            | WidgetKind::Area
            | WidgetKind::Bars
            | WidgetKind::Table
            | WidgetKind::Reports
            | WidgetKind::Map => TextSize::Medium,
        }
    }

    /// How many indicators the widget takes: `(min, max)`.
    pub fn indicator_count(self) -> (usize, usize) {
        match self {
            WidgetKind::Kpi | WidgetKind::Bars | WidgetKind::Map => (1, 1),
            WidgetKind::Line | WidgetKind::Area => (1, 4),
            WidgetKind::Table => (1, 6),
            WidgetKind::Ticker => (0, usize::MAX),
            WidgetKind::Header | WidgetKind::Reports => (0, 0),
        }
    }
}

impl fmt::Display for WidgetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which period a panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodSpec {
    /// The latest period of this frequency with data (`latest-month`, `latest-quarter`, ...).
    Latest(Frequency),
    /// A fixed period.
    Fixed(Period),
}

impl PeriodSpec {
    /// The frequency of the periods shown (`None` for a fixed year-to-date).
    pub fn frequency(&self) -> Option<Frequency> {
        match self {
            PeriodSpec::Latest(f) => Some(*f),
            PeriodSpec::Fixed(p) => p.frequency(),
        }
    }

    /// Reads `latest-month` | `latest-quarter` | `latest-half` | `latest-year` or a period.
    pub fn parse(s: &str) -> Option<PeriodSpec> {
        if let Some(rest) = s.trim().strip_prefix("latest-") {
            return Frequency::ALL
                .into_iter()
                .find(|f| f.as_str() == rest)
                .map(PeriodSpec::Latest);
        }
        Period::parse(s).ok().map(PeriodSpec::Fixed)
    }
}

impl fmt::Display for PeriodSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeriodSpec::Latest(freq) => write!(f, "latest-{}", freq.as_str()),
            PeriodSpec::Fixed(p) => f.write_str(&p.id()),
        }
    }
}

/// Periods shown by charts and sparklines when a panel names no `history`.
pub fn default_history(frequency: Option<Frequency>) -> u32 {
    match frequency {
        Some(Frequency::Month) | None => 13,
        Some(Frequency::Quarter) => 8,
        Some(Frequency::Half) => 6,
        Some(Frequency::Year) => 5,
    }
}

/// A named set of panels, shown together.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// Id used by presenters and clickers: `[a-z0-9-]+`.
    pub name: String,
    /// Shown in the header.
    pub title: String,
    pub panels: Vec<Panel>,
    /// 1-based line of its `[[scene]]` header.
    pub line: usize,
}

impl Scene {
    /// What a presenter picks it by: its id and its title.
    pub fn info(&self) -> dieuhanh_protocol::live::SceneInfo {
        dieuhanh_protocol::live::SceneInfo {
            name: self.name.clone(),
            title: self.title.clone(),
        }
    }
}

/// One widget placed on the wall.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub widget: WidgetKind,
    /// Where it lies, in canvas px.
    pub rect: Rect,
    /// Where it lies in screens, as written: `[row, column, rows, columns]`.
    pub cells: [f32; 4],
    /// Indicator codes, all in the catalogue.
    pub indicators: Vec<String>,
    /// Unit code; `"VN"` by default.
    pub unit: String,
    /// Level of the children of `unit` shown (bars, table): `province`, `district`, `commune`.
    pub children: Option<String>,
    /// The period shown, already coarsened to the indicators' frequency.
    pub period: PeriodSpec,
    /// Periods shown by charts and sparklines.
    pub history: u32,
    /// Ministry filter.
    pub agency: Option<String>,
    /// Overrides the indicator name.
    pub title: Option<String>,
    pub text: TextSize,
    /// Bars only: show the top N.
    pub top: Option<u32>,
    /// Those of its indicators whose values add up the hierarchy (aggregation `sum`): a total
    /// still missing some units is compared with the same units a year before.
    pub additive: Vec<String>,
    /// Reports only: the regimes shown (those of the panel's ministry, or all).
    pub regimes: Vec<crate::catalogue::Regime>,
    /// 1-based line of its `[[scene.panel]]` header.
    pub line: usize,
}

/// A validated layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The file it was read from.
    pub file: PathBuf,
    pub wall: Wall,
    pub outputs: Vec<Output>,
    /// The video-conference feed, when the room has one.
    pub feed: Option<ConferenceFeed>,
    pub scenes: Vec<Scene>,
    /// The live room whose presenter controls this wall.
    pub room: Option<String>,
    /// Data older than this shows a "stale since" badge.
    pub stale_after: Duration,
    /// The provinces' shapes, when a panel is a map.
    pub map: Option<std::sync::Arc<crate::map::ProvinceMap>>,
}

/// Default of `stale_after_secs`.
pub const DEFAULT_STALE_AFTER_SECS: u64 = 900;

impl Layout {
    /// The scene with this name.
    pub fn scene(&self, name: &str) -> Option<&Scene> {
        self.scenes.iter().find(|s| s.name == name)
    }

    /// A few lines for `dieuhanh-wall check`: the wall, its outputs and its scenes.
    pub fn summary(&self) -> String {
        let w = &self.wall;
        let [px, py] = w.pixel_size();
        let [cx, cy] = w.canvas_size();
        let [gx, gy] = w.gap_px();
        let mut s = format!(
            "{}: \"{}\", {}×{} screens of {}×{} px ({:.1}×{:.1} mm, {:.3} px/mm)\n  \
             visible {px}×{py} px, canvas {cx:.0}×{cy:.0} px (bezel gaps {gx:.1} px across, \
             {gy:.1} px down)\n",
            self.file.display(),
            w.name,
            w.columns,
            w.rows,
            w.screen_px[0],
            w.screen_px[1],
            w.screen_mm[0],
            w.screen_mm[1],
            w.px_per_mm(),
        );
        s += &format!(
            "  text: small {:.0} px, medium {:.0} px, large {:.0} px, huge {:.0} px\n",
            w.text_px(TextSize::Small),
            w.text_px(TextSize::Medium),
            w.text_px(TextSize::Large),
            w.text_px(TextSize::Huge),
        );
        for o in &self.outputs {
            let [ox, oy] = o.pixel_size(w);
            s += &format!(
                "  output {}{}: screens rows {}–{}, columns {}–{} ({ox}×{oy} px)\n",
                o.name,
                o.monitor
                    .as_ref()
                    .map(|m| format!(" (monitor {m})"))
                    .unwrap_or_default(),
                o.row,
                o.row + o.rows - 1,
                o.column,
                o.column + o.columns - 1,
            );
        }
        if let Some(f) = &self.feed {
            let [row, column, rows, columns] = f.shows(w);
            let scale = fit_scale(w.block_pixel_size(rows, columns), f.size);
            s += &format!(
                "  feed{}: {}×{} px showing {} at {:.0} % (small text {:.0} px there)\n",
                f.monitor
                    .as_ref()
                    .map(|m| format!(" (monitor {m})"))
                    .unwrap_or_default(),
                f.size[0],
                f.size[1],
                match f.block {
                    Some(_) => format!(
                        "screens rows {row}–{}, columns {column}–{}",
                        row + rows - 1,
                        column + columns - 1
                    ),
                    None => "the whole wall".to_owned(),
                },
                scale * 100.0,
                w.text_px(TextSize::Small) * scale,
            );
        }
        if let Some(room) = &self.room {
            s += &format!("  room: {room}\n");
        }
        s += &format!("  stale after {} s\n", self.stale_after.as_secs());
        for scene in &self.scenes {
            s += &format!(
                "  scene {} \"{}\": {} panels\n",
                scene.name,
                scene.title,
                scene.panels.len()
            );
        }
        s
    }
}

/// One problem in a layout file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutError {
    pub file: PathBuf,
    /// 1-based line; 0 when the problem has no place in the file (it could not be read).
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: String,
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )?;
        }
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for LayoutError {}

/// Every problem found in a layout file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutErrors(pub Vec<LayoutError>);

impl fmt::Display for LayoutErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LayoutErrors {}

/// Reads and validates the layout file at `path`.
pub fn load(path: &Path, catalogue: &Catalogue) -> Result<Layout, LayoutErrors> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path, catalogue),
        Err(e) => Err(LayoutErrors(vec![LayoutError {
            file: path.to_owned(),
            line: 0,
            column: 0,
            message: format!("cannot read the layout file: {e}"),
            hint: if e.kind() == std::io::ErrorKind::InvalidData {
                "save the file as UTF-8 text (a TOML file)".to_owned()
            } else {
                "check the path; example layouts are in assets/layouts/".to_owned()
            },
        }])),
    }
}

/// Validates layout text read from `file` (used in messages only).
pub fn parse(text: &str, file: &Path, catalogue: &Catalogue) -> Result<Layout, LayoutErrors> {
    parse::parse(text, file, catalogue)
}
