//! Reading and validating a layout file. The TOML is parsed into spanned values (not serde
//! structs) so every problem can point at its key or value, and all problems are collected.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use dieuhanh_protocol::period::Frequency;
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use unicode_normalization::UnicodeNormalization;

use super::{
    Bezel, ConferenceFeed, DEFAULT_FEED_SIZE, DEFAULT_STALE_AFTER_SECS, Layout, LayoutError,
    LayoutErrors, Output, Panel, PeriodSpec, Scene, TextSize, Wall, WidgetKind, default_history,
};
use crate::catalogue::{Catalogue, Level, closest};

type Span = Range<usize>;
type Value<'a> = Spanned<DeValue<'a>>;

const TOP_KEYS: &[&str] = &["wall", "output", "feed", "scene"];
const WALL_KEYS: &[&str] = &[
    "name",
    "rows",
    "columns",
    "screen_width_px",
    "screen_height_px",
    "screen_width_mm",
    "screen_height_mm",
    "bezel_mm",
    "room",
    "stale_after_secs",
];
const BEZEL_KEYS: &[&str] = &["left", "right", "top", "bottom"];
const OUTPUT_KEYS: &[&str] = &["name", "monitor", "row", "column", "rows", "columns"];
const FEED_KEYS: &[&str] = &[
    "monitor",
    "width_px",
    "height_px",
    "row",
    "column",
    "rows",
    "columns",
];
const SCENE_KEYS: &[&str] = &["name", "title", "panel"];
const PANEL_KEYS: &[&str] = &[
    "widget",
    "row",
    "column",
    "rows",
    "columns",
    "indicator",
    "indicators",
    "unit",
    "children",
    "period",
    "history",
    "agency",
    "title",
    "text",
    "top",
];

/// Most screens across or down.
const MAX_SCREENS: i64 = 16;
/// Largest bezel accepted, mm.
const MAX_BEZEL_MM: f64 = 50.0;
/// Tolerance in screens for "off the wall" and overlaps (1/10 000 of a screen).
const EPS: f64 = 1e-4;

const PERIOD_FORMS: &str = "write latest-month, latest-quarter, latest-half or latest-year, or \
     a fixed period: \"2025-09\" or \"Tháng 9/2025\", \"2025-Q3\" or \"Quý III/2025\", \
     \"2025-H1\" or \"6 tháng đầu năm 2025\", \"2025\" or \"Năm 2025\"";

/// An example line for a key, used in hints.
fn example(key: &str) -> &'static str {
    match key {
        "wall" => {
            "[wall] with name, rows, columns, screen_width_px, screen_height_px, \
                   screen_width_mm, screen_height_mm, bezel_mm"
        }
        "name" => "name = \"tong-quan\"",
        "rows" => "rows = 3",
        "columns" => "columns = 4",
        "row" => "row = 0",
        "column" => "column = 0",
        "screen_width_px" => "screen_width_px = 1920",
        "screen_height_px" => "screen_height_px = 1080",
        "screen_width_mm" => "screen_width_mm = 1209.6 (the lit area of a 55-inch screen)",
        "screen_height_mm" => "screen_height_mm = 680.4",
        "bezel_mm" => {
            "bezel_mm = 1.75, or bezel_mm = { left = 1.0, right = 1.0, top = 1.5, \
                       bottom = 1.5 }"
        }
        "left" => "left = 1.75",
        "right" => "right = 1.75",
        "top" => "top = 10",
        "bottom" => "bottom = 1.75",
        "room" => "room = \"phong-dieu-hanh\"",
        "stale_after_secs" => "stale_after_secs = 900",
        "monitor" => "monitor = \"DP-1\"",
        "feed" => {
            "[feed] with monitor = \"HDMI-A-1\" (optional), width_px = 1920, height_px = 1080, \
             and to show a block of screens rather than the whole wall row = 0, column = 1, \
             rows = 2, columns = 2"
        }
        "width_px" => "width_px = 1920",
        "height_px" => "height_px = 1080",
        "title" => "title = \"Tổng quan kinh tế – xã hội\"",
        "widget" => "widget = \"kpi\"",
        "indicator" => "indicator = \"VM01\"",
        "indicators" => "indicators = [\"VM02\", \"VM03\"]",
        "unit" => "unit = \"79\"",
        "children" => "children = \"province\"",
        "period" => "period = \"latest-month\"",
        "history" => "history = 13",
        "agency" => "agency = \"BTC\"",
        "text" => "text = \"large\"",
        _ => "",
    }
}

/// A table of the file and how messages name it.
struct Tbl<'a> {
    table: &'a DeTable<'a>,
    span: Span,
    name: String,
}

impl<'a> Tbl<'a> {
    fn get(&self, key: &str) -> Option<&'a Value<'a>> {
        self.table.get(key)
    }

    fn key_span(&self, key: &str) -> Span {
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(k, _)| k.span())
            .unwrap_or_else(|| self.span.clone())
    }
}

struct Ctx<'a> {
    text: &'a str,
    file: &'a Path,
    line_starts: Vec<usize>,
    errors: Vec<LayoutError>,
}

impl<'a> Ctx<'a> {
    fn new(text: &'a str, file: &'a Path) -> Ctx<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Ctx {
            text,
            file,
            line_starts,
            errors: Vec::new(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line, column + 1)
    }

    fn line_of(&self, span: &Span) -> usize {
        self.position(span.start).0
    }

    fn error(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        let (line, column) = self.position(span.start);
        self.errors.push(LayoutError {
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
            hint: hint.into(),
        });
    }

    fn finish(mut self) -> LayoutErrors {
        self.errors.sort_by_key(|e| (e.line, e.column));
        LayoutErrors(self.errors)
    }

    // --- generic key readers -------------------------------------------------------------------

    fn check_keys(&mut self, t: &Tbl<'_>, allowed: &[&str]) {
        let mut unknown: Vec<(String, Span)> = t
            .table
            .iter()
            .filter(|(k, _)| !allowed.contains(&k.get_ref().as_ref()))
            .map(|(k, _)| (k.get_ref().to_string(), k.span()))
            .collect();
        unknown.sort_by_key(|(_, s)| s.start);
        for (key, span) in unknown {
            let guess = closest(&key, allowed.iter().copied())
                .map(|g| format!("did you mean `{g}`? "))
                .unwrap_or_default();
            self.error(
                span,
                format!("unknown key `{key}` in {}", t.name),
                format!("{guess}the keys of {} are: {}", t.name, allowed.join(", ")),
            );
        }
    }

    fn required<'t>(&mut self, t: &Tbl<'t>, key: &str) -> Option<&'t Value<'t>> {
        let v = t.get(key);
        if v.is_none() {
            self.error(
                t.span.clone(),
                format!("{} lacks `{key}`", t.name),
                format!("add `{}` under {}", example(key), t.name),
            );
        }
        v
    }

    fn wrong_type(&mut self, v: &Value<'_>, key: &str, want: &str) {
        self.error(
            v.span(),
            format!("`{key}` must be {want}, not a {}", v.get_ref().type_str()),
            format!("write e.g. `{}`", example(key)),
        );
    }

    fn string<'t>(&mut self, t: &Tbl<'t>, key: &str, required: bool) -> Option<(&'t str, Span)> {
        let v = if required {
            self.required(t, key)?
        } else {
            t.get(key)?
        };
        match v.get_ref() {
            DeValue::String(s) if s.trim().is_empty() => {
                self.error(
                    v.span(),
                    format!("`{key}` is empty"),
                    format!("write e.g. `{}`", example(key)),
                );
                None
            }
            DeValue::String(s) => Some((s.as_ref(), v.span())),
            _ => {
                self.wrong_type(v, key, "a string in double quotes");
                None
            }
        }
    }

    /// A whole number in `min..=max`.
    fn whole(
        &mut self,
        t: &Tbl<'_>,
        key: &str,
        required: bool,
        min: i64,
        max: i64,
        meaning: &str,
    ) -> Option<(i64, Span)> {
        let v = if required {
            self.required(t, key)?
        } else {
            t.get(key)?
        };
        let n = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
            _ => {
                self.wrong_type(v, key, "a whole number");
                return None;
            }
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some((n, v.span())),
            _ => {
                let got = self.text.get(v.span()).unwrap_or("?").to_owned();
                self.error(
                    v.span(),
                    format!("`{key}` = {got} is out of range: {meaning} must be {min}–{max}"),
                    format!("write e.g. `{}`", example(key)),
                );
                None
            }
        }
    }

    /// Any finite number (whole or decimal); range checks are the caller's.
    fn number(&mut self, t: &Tbl<'_>, key: &str, required: bool) -> Option<(f64, Span)> {
        let v = if required {
            self.required(t, key)?
        } else {
            t.get(key)?
        };
        self.number_value(v, key)
    }

    fn number_value(&mut self, v: &Value<'_>, key: &str) -> Option<(f64, Span)> {
        let n = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            _ => {
                self.wrong_type(v, key, "a number");
                return None;
            }
        };
        match n {
            Some(n) if n.is_finite() => Some((n, v.span())),
            _ => {
                self.error(
                    v.span(),
                    format!("`{key}` must be a finite number"),
                    format!("write e.g. `{}`", example(key)),
                );
                None
            }
        }
    }

    /// The tables of an array of tables (`[[key]]`), or an error if `v` is something else.
    fn tables<'t>(&mut self, v: &'t Value<'t>, key: &str) -> Vec<(&'t DeTable<'t>, Span)> {
        match v.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::Table(t) => out.push((t, item.span())),
                        other => self.error(
                            item.span(),
                            format!("`{key}` must hold tables, not a {}", other.type_str()),
                            format!("write each as a [[{key}]] header followed by its keys"),
                        ),
                    }
                }
                out
            }
            DeValue::Table(t) => {
                self.error(
                    v.span(),
                    format!("`{key}` is a single table; it must be a list of tables"),
                    format!("write the header with double brackets: [[{key}]]"),
                );
                let _ = t;
                Vec::new()
            }
            other => {
                self.error(
                    v.span(),
                    format!(
                        "`{key}` must be a list of tables, not a {}",
                        other.type_str()
                    ),
                    format!("write each as a [[{key}]] header followed by its keys"),
                );
                Vec::new()
            }
        }
    }

    // --- [wall] -------------------------------------------------------------------------------

    fn wall(&mut self, root: &Tbl<'_>) -> Option<(Wall, Option<String>, Duration, Span)> {
        let Some(v) = root.get("wall") else {
            self.error(
                0..0,
                "the file has no [wall] table",
                format!("start the file with {}", example("wall")),
            );
            return None;
        };
        let DeValue::Table(table) = v.get_ref() else {
            self.wrong_type(v, "wall", "a table");
            return None;
        };
        let t = Tbl {
            table,
            span: v.span(),
            name: "[wall]".to_owned(),
        };
        self.check_keys(&t, WALL_KEYS);
        let name = self.string(&t, "name", true).map(|(s, _)| s.to_owned());
        let screens = "the number of screens";
        let rows = self.whole(&t, "rows", true, 1, MAX_SCREENS, screens);
        let columns = self.whole(&t, "columns", true, 1, MAX_SCREENS, screens);
        let px = "a screen's resolution";
        let width_px = self.whole(&t, "screen_width_px", true, 1, 16384, px);
        let height_px = self.whole(&t, "screen_height_px", true, 1, 16384, px);
        let width_mm = self.size_mm(&t, "screen_width_mm");
        let height_mm = self.size_mm(&t, "screen_height_mm");
        let bezel = self.bezel(&t);
        let room = self.string(&t, "room", false).map(|(s, _)| s.to_owned());
        let stale = self
            .whole(
                &t,
                "stale_after_secs",
                false,
                1,
                7 * 86_400,
                "the age in seconds",
            )
            .map_or(DEFAULT_STALE_AFTER_SECS, |(n, _)| n.unsigned_abs());

        if let (Some((wpx, _)), Some((hpx, _)), Some((wmm, _)), Some((hmm, hspan))) =
            (&width_px, &height_px, &width_mm, &height_mm)
        {
            let across = *wpx as f64 / wmm;
            let down = *hpx as f64 / hmm;
            if (across / down - 1.0).abs() > 0.05 {
                self.error(
                    hspan.clone(),
                    format!(
                        "the screen sizes give {across:.3} px/mm across but {down:.3} px/mm \
                         down; pixels are square on every wall screen"
                    ),
                    "check screen_width_mm and screen_height_mm (the lit area, width first): a \
                     55-inch 16:9 screen is 1209.6 × 680.4 mm",
                );
            }
        }
        let wall = Wall {
            name: name?,
            rows: u32::try_from(rows?.0).ok()?,
            columns: u32::try_from(columns?.0).ok()?,
            screen_px: [
                u32::try_from(width_px?.0).ok()?,
                u32::try_from(height_px?.0).ok()?,
            ],
            screen_mm: [width_mm?.0 as f32, height_mm?.0 as f32],
            bezel_mm: bezel?,
        };
        Some((wall, room, Duration::from_secs(stale), t.span))
    }

    fn size_mm(&mut self, t: &Tbl<'_>, key: &str) -> Option<(f64, Span)> {
        let (mm, span) = self.number(t, key, true)?;
        if mm <= 0.0 || mm > 20_000.0 {
            self.error(
                span,
                format!("`{key}` = {mm} is out of range: a screen's lit size must be 0–20000 mm"),
                format!("write e.g. `{}`", example(key)),
            );
            return None;
        }
        Some((mm, span))
    }

    fn bezel(&mut self, t: &Tbl<'_>) -> Option<Bezel> {
        let v = self.required(t, "bezel_mm")?;
        match v.get_ref() {
            DeValue::Table(table) => {
                let bt = Tbl {
                    table,
                    span: v.span(),
                    name: "bezel_mm".to_owned(),
                };
                self.check_keys(&bt, BEZEL_KEYS);
                let mut sides = [0.0f32; 4];
                let mut ok = true;
                for (i, side) in BEZEL_KEYS.iter().enumerate() {
                    match self
                        .number(&bt, side, true)
                        .and_then(|(mm, span)| self.bezel_side(mm, span, side))
                    {
                        Some(mm) => sides[i] = mm,
                        None => ok = false,
                    }
                }
                ok.then_some(Bezel {
                    left: sides[0],
                    right: sides[1],
                    top: sides[2],
                    bottom: sides[3],
                })
            }
            _ => {
                let (mm, span) = self.number_value(v, "bezel_mm")?;
                self.bezel_side(mm, span, "bezel_mm").map(Bezel::uniform)
            }
        }
    }

    fn bezel_side(&mut self, mm: f64, span: Span, key: &str) -> Option<f32> {
        if !(0.0..=MAX_BEZEL_MM).contains(&mm) {
            self.error(
                span,
                format!("bezel `{key}` = {mm} mm is out of range: it must be 0–{MAX_BEZEL_MM} mm"),
                "write the width of the frame on one side of one screen, from the screen's data \
                 sheet (about 1.75 mm per side for video-wall screens, 0 for a single monitor)",
            );
            return None;
        }
        Some(mm as f32)
    }

    // --- [[output]] ---------------------------------------------------------------------------

    fn outputs(&mut self, root: &Tbl<'_>, wall: Option<&Wall>, wall_span: Span) -> Vec<Output> {
        let Some(v) = root.get("output") else {
            self.error(
                wall_span,
                "the file has no [[output]]: the wall does not know which video output drives \
                 which screens",
                "add one [[output]] per video output, e.g. `[[output]]` with name = \"DP-1\", \
                 row = 0, column = 0, rows = 1, columns = 1",
            );
            return Vec::new();
        };
        let mut outputs = Vec::new();
        let mut spans: Vec<BTreeMap<&str, Span>> = Vec::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        for (table, span) in self.tables(v, "output") {
            let line = self.line_of(&span);
            let t = Tbl {
                table,
                span: span.clone(),
                name: format!("[[output]] (line {line})"),
            };
            self.check_keys(&t, OUTPUT_KEYS);
            let name = self.string(&t, "name", true);
            if let Some((n, nspan)) = &name {
                if let Some(first) = names.get(*n) {
                    self.error(
                        nspan.clone(),
                        format!("output name `{n}` is already used at line {first}"),
                        "give each [[output]] its own name",
                    );
                } else {
                    names.insert((*n).to_owned(), line);
                }
            }
            let monitor = self.string(&t, "monitor", false).map(|(s, _)| s.to_owned());
            let max = MAX_SCREENS - 1;
            let row = self.whole(&t, "row", true, 0, max, "the first screen row");
            let column = self.whole(&t, "column", true, 0, max, "the first screen column");
            let rows = self.whole(&t, "rows", false, 1, MAX_SCREENS, "the screens it drives");
            let columns = self.whole(
                &t,
                "columns",
                false,
                1,
                MAX_SCREENS,
                "the screens it drives",
            );
            let mut key_spans = BTreeMap::new();
            for key in ["row", "column", "rows", "columns"] {
                key_spans.insert(key, t.get(key).map_or(span.clone(), |v| v.span()));
            }
            let (Some(name), Some(row), Some(column)) = (name, row, column) else {
                continue;
            };
            let (Ok(rows), Ok(columns)) = (
                u32::try_from(rows.map_or(1, |r| r.0)),
                u32::try_from(columns.map_or(1, |c| c.0)),
            ) else {
                continue;
            };
            outputs.push(Output {
                name: name.0.to_owned(),
                monitor,
                row: u32::try_from(row.0).unwrap_or(0),
                column: u32::try_from(column.0).unwrap_or(0),
                rows,
                columns,
                line,
            });
            spans.push(key_spans);
        }
        if let Some(wall) = wall {
            self.check_output_cover(wall, &outputs, &spans, v.span());
        }
        outputs
    }

    // --- [feed] -------------------------------------------------------------------------------

    fn feed(
        &mut self,
        root: &Tbl<'_>,
        outputs: &[Output],
        wall: Option<&Wall>,
    ) -> Option<ConferenceFeed> {
        let v = root.get("feed")?;
        let DeValue::Table(table) = v.get_ref() else {
            self.wrong_type(v, "feed", "a table");
            return None;
        };
        let line = self.line_of(&v.span());
        let t = Tbl {
            table,
            span: v.span(),
            name: "[feed]".to_owned(),
        };
        self.check_keys(&t, FEED_KEYS);
        let monitor = self.string(&t, "monitor", false);
        if let Some((m, span)) = &monitor
            && let Some(o) = outputs.iter().find(|o| o.monitor.as_deref() == Some(*m))
        {
            self.error(
                span.clone(),
                format!("monitor `{m}` already shows output `{}` (line {})", o.name, o.line),
                "the feed needs a video port of its own: name the one cabled to the                  conference system's capture input",
            );
        }
        let px = "the feed's resolution";
        let width = self.whole(&t, "width_px", false, 320, 7680, px);
        let height = self.whole(&t, "height_px", false, 180, 4320, px);
        let size = [
            width.map_or(DEFAULT_FEED_SIZE[0], |(n, _)| n.unsigned_abs() as u32),
            height.map_or(DEFAULT_FEED_SIZE[1], |(n, _)| n.unsigned_abs() as u32),
        ];
        let block = wall.and_then(|w| self.feed_block(&t, w));
        Some(ConferenceFeed {
            monitor: monitor.map(|(m, _)| m.to_owned()),
            size,
            block,
            line,
        })
    }

    /// The `[feed]`'s block of screens, `[row, column, rows, columns]`: none when it names
    /// none of the four keys; the first row and column default to 0, the size to the rest of
    /// the wall.
    fn feed_block(&mut self, t: &Tbl<'_>, wall: &Wall) -> Option<[u32; 4]> {
        if !["row", "column", "rows", "columns"]
            .iter()
            .any(|k| t.get(k).is_some())
        {
            return None;
        }
        let max = MAX_SCREENS - 1;
        let row = self.whole(t, "row", false, 0, max, "the feed's first screen row");
        let column = self.whole(t, "column", false, 0, max, "the feed's first screen column");
        let rows = self.whole(
            t,
            "rows",
            false,
            1,
            MAX_SCREENS,
            "the screens the feed shows",
        );
        let columns = self.whole(
            t,
            "columns",
            false,
            1,
            MAX_SCREENS,
            "the screens the feed shows",
        );
        let mut block = [0u32; 4];
        let mut ok = true;
        let axes = [
            ("row", "rows", row, rows, wall.rows),
            ("column", "columns", column, columns, wall.columns),
        ];
        for (i, (key, size_key, value, size, count)) in axes.into_iter().enumerate() {
            let first = value.as_ref().map_or(0, |(n, _)| *n as u32);
            let n = size
                .as_ref()
                .map_or(count.saturating_sub(first), |(n, _)| *n as u32);
            if first >= count {
                ok = false;
                let span = value.as_ref().map_or(t.span.clone(), |(_, s)| s.clone());
                self.error(
                    span,
                    format!(
                        "the feed starts at screen {key} {first}, off the wall: the wall has \
                         {count} {size_key} (0–{})",
                        count - 1
                    ),
                    "row and column count screens from 0 at the top left",
                );
            } else if first + n > count {
                ok = false;
                let span = size.as_ref().map_or(t.span.clone(), |(_, s)| s.clone());
                self.error(
                    span,
                    format!(
                        "the feed shows screen {size_key} {first}–{}, off the wall: the wall has \
                         {count} {size_key} (0–{})",
                        first + n - 1,
                        count - 1
                    ),
                    format!("make {key} + {size_key} at most the wall's {size_key}"),
                );
            }
            block[i] = first;
            block[i + 2] = n;
        }
        ok.then_some(block)
    }

    fn check_output_cover(
        &mut self,
        wall: &Wall,
        outputs: &[Output],
        spans: &[BTreeMap<&str, Span>],
        last: Span,
    ) {
        let mut owner: Vec<Vec<Option<usize>>> =
            vec![vec![None; wall.columns as usize]; wall.rows as usize];
        for (i, o) in outputs.iter().enumerate() {
            let span = |k: &str| spans[i].get(k).cloned().unwrap_or_else(|| last.clone());
            let mut off = false;
            if o.row + o.rows > wall.rows {
                off = true;
                let (key, what) = if o.row >= wall.rows {
                    ("row", format!("starts at screen row {}", o.row))
                } else {
                    (
                        "rows",
                        format!("drives screen rows {}–{}", o.row, o.row + o.rows - 1),
                    )
                };
                self.error(
                    span(key),
                    format!(
                        "output `{}` {what}, off the wall: the wall has {} rows (0–{})",
                        o.name,
                        wall.rows,
                        wall.rows - 1
                    ),
                    "row and column count screens from 0 at the top left; make row + rows at \
                     most the wall's rows",
                );
            }
            if o.column + o.columns > wall.columns {
                off = true;
                let (key, what) = if o.column >= wall.columns {
                    ("column", format!("starts at screen column {}", o.column))
                } else {
                    (
                        "columns",
                        format!(
                            "drives screen columns {}–{}",
                            o.column,
                            o.column + o.columns - 1
                        ),
                    )
                };
                self.error(
                    span(key),
                    format!(
                        "output `{}` {what}, off the wall: the wall has {} columns (0–{})",
                        o.name,
                        wall.columns,
                        wall.columns - 1
                    ),
                    "row and column count screens from 0 at the top left; make column + columns \
                     at most the wall's columns",
                );
            }
            if off {
                continue;
            }
            let mut clash: Option<(usize, u32, u32)> = None;
            for r in o.row..o.row + o.rows {
                for c in o.column..o.column + o.columns {
                    let cell = &mut owner[r as usize][c as usize];
                    match cell {
                        Some(other) if clash.is_none() => clash = Some((*other, r, c)),
                        Some(_) => {}
                        None => *cell = Some(i),
                    }
                }
            }
            if let Some((other, r, c)) = clash {
                let first = &outputs[other];
                self.error(
                    spans[i].get("row").cloned().unwrap_or_else(|| last.clone()),
                    format!(
                        "output `{}` overlaps output `{}` (line {}): both drive screen (row {r}, \
                         column {c})",
                        o.name, first.name, first.line
                    ),
                    "each screen is driven by exactly one output; change row/column/rows/columns \
                     of one of them",
                );
            }
        }
        let missing: Vec<String> = owner
            .iter()
            .enumerate()
            .flat_map(|(r, cols)| {
                cols.iter()
                    .enumerate()
                    .filter(|(_, o)| o.is_none())
                    .map(move |(c, _)| format!("(row {r}, column {c})"))
            })
            .collect();
        if !missing.is_empty() && !outputs.is_empty() {
            let shown = if missing.len() > 12 {
                format!(
                    "{} and {} more",
                    missing[..12].join(", "),
                    missing.len() - 12
                )
            } else {
                missing.join(", ")
            };
            let at = outputs
                .last()
                .map(|o| self.line_starts[o.line - 1])
                .unwrap_or(last.start);
            self.error(
                at..at,
                format!(
                    "no output drives {} screen{}: {shown}",
                    missing.len(),
                    if missing.len() == 1 { "" } else { "s" }
                ),
                "add an [[output]] for them, or widen an existing output's rows/columns; \
                 together the outputs must cover every screen exactly once",
            );
        }
    }

    // --- [[scene]] ----------------------------------------------------------------------------

    fn scenes(&mut self, root: &Tbl<'_>, wall: Option<&Wall>, cat: &Catalogue) -> Vec<Scene> {
        let Some(v) = root.get("scene") else {
            self.error(
                0..0,
                "the file has no [[scene]]: the wall would have nothing to show",
                "add a [[scene]] with name = \"tong-quan\" and title, followed by its \
                 [[scene.panel]] tables",
            );
            return Vec::new();
        };
        let mut scenes = Vec::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        for (table, span) in self.tables(v, "scene") {
            let line = self.line_of(&span);
            let t = Tbl {
                table,
                span: span.clone(),
                name: format!("[[scene]] (line {line})"),
            };
            self.check_keys(&t, SCENE_KEYS);
            let name = self.string(&t, "name", true);
            if let Some((n, nspan)) = &name {
                if !is_id(n) {
                    self.error(
                        nspan.clone(),
                        format!(
                            "scene name `{n}` may only have lowercase letters a–z, digits and `-`"
                        ),
                        format!(
                            "presenters and clickers type this id; write e.g. `name = \"{}\"` \
                             and put the Vietnamese name in `title`",
                            to_id(n)
                        ),
                    );
                } else if let Some(first) = names.get(*n) {
                    self.error(
                        nspan.clone(),
                        format!("scene name `{n}` is already used at line {first}"),
                        "give each scene its own name",
                    );
                } else {
                    names.insert((*n).to_owned(), line);
                }
            }
            let title = self.string(&t, "title", false).map(|(s, _)| s.to_owned());
            let panels = self.panels(&t, wall, cat);
            if let Some((name, _)) = name {
                scenes.push(Scene {
                    name: name.to_owned(),
                    title: title.unwrap_or_else(|| name.to_owned()),
                    panels,
                    line,
                });
            }
        }
        scenes
    }

    fn panels(&mut self, scene: &Tbl<'_>, wall: Option<&Wall>, cat: &Catalogue) -> Vec<Panel> {
        let Some(v) = scene.get("panel") else {
            self.error(
                scene.span.clone(),
                format!("{} has no panels", scene.name),
                "add [[scene.panel]] tables after the scene's name and title",
            );
            return Vec::new();
        };
        let mut panels = Vec::new();
        // Cells of every panel with a valid position, for the overlap check: line, widget, cells.
        let mut placed: Vec<(usize, String, [f64; 4], Span)> = Vec::new();
        for (table, span) in self.tables(v, "scene.panel") {
            let line = self.line_of(&span);
            let t = Tbl {
                table,
                span: span.clone(),
                name: format!("[[scene.panel]] (line {line})"),
            };
            let (cells, panel) = self.panel(&t, line, wall, cat);
            if let Some(cells) = cells {
                let widget = t
                    .get("widget")
                    .and_then(|w| w.get_ref().as_str())
                    .unwrap_or("panel")
                    .to_owned();
                placed.push((line, widget, cells, span));
            }
            if let Some(p) = panel {
                panels.push(p);
            }
        }
        for (i, (_, widget, a, span)) in placed.iter().enumerate() {
            for (other_line, other_widget, b, _) in &placed[..i] {
                let top = a[0].max(b[0]);
                let left = a[1].max(b[1]);
                let bottom = (a[0] + a[2]).min(b[0] + b[2]);
                let right = (a[1] + a[3]).min(b[1] + b[3]);
                if bottom - top > EPS && right - left > EPS {
                    self.error(
                        span.clone(),
                        format!(
                            "this {widget} panel overlaps the {other_widget} panel at line \
                             {other_line} by {} × {} screens (rows {}–{}, columns {}–{})",
                            fmt_num(bottom - top),
                            fmt_num(right - left),
                            fmt_num(top),
                            fmt_num(bottom),
                            fmt_num(left),
                            fmt_num(right)
                        ),
                        "move or shrink one of them: panels of a scene may touch but not overlap",
                    );
                    break;
                }
            }
        }
        panels
    }

    /// One panel: its cells (if its position is valid, for the overlap check) and the panel
    /// (if everything is valid).
    fn panel(
        &mut self,
        t: &Tbl<'_>,
        line: usize,
        wall: Option<&Wall>,
        cat: &Catalogue,
    ) -> (Option<[f64; 4]>, Option<Panel>) {
        self.check_keys(t, PANEL_KEYS);
        let widget = self.widget(t);
        let cells = self.cells(t, wall);
        let indicators = self.indicators(t, widget, cat);
        let unit = self.unit(t, cat);
        let children = self.children(t, widget, unit.as_ref().map(|(_, l)| *l));
        if let (Some(Some(level)), Some(list)) = (children, indicators.as_ref()) {
            self.reported_below(level, list, cat);
        }
        let agency = self.agency(t, indicators.as_deref().unwrap_or(&[]), cat);
        let period = self.period(t, indicators.as_deref().unwrap_or(&[]), cat);
        let history = self
            .whole(t, "history", false, 1, 120, "the number of periods shown")
            .map(|(n, _)| n);
        let title = self.string(t, "title", false).map(|(s, _)| s.to_owned());
        let text = self.text(t);
        let top = self.top(t, widget);

        let (Some(widget), Some(cells), Some(indicators), Some(unit), Some(children)) =
            (widget, cells, indicators, unit, children)
        else {
            return (cells, None);
        };
        let (Some(agency), Some(period), Some(text), Some(top)) = (agency, period, text, top)
        else {
            return (Some(cells), None);
        };
        let history = match history {
            Some(h) => u32::try_from(h).unwrap_or(1),
            None => default_history(period.frequency()),
        };
        let rect = wall.map_or(super::Rect::new(0.0, 0.0, 0.0, 0.0), |w| {
            w.area_to_canvas(
                cells[0] as f32,
                cells[1] as f32,
                cells[2] as f32,
                cells[3] as f32,
            )
        });
        let additive = indicators
            .iter()
            .filter(|(code, _)| {
                cat.indicators
                    .get(code)
                    .is_some_and(|i| i.aggregation == "sum")
            })
            .map(|(code, _)| code.clone())
            .collect();
        let panel_agency = agency.clone();
        if widget == WidgetKind::Reports
            && let Some(a) = &agency
            && !cat.regimes.iter().any(|r| r.agency == *a)
        {
            let owners: Vec<&str> = cat.regimes.iter().map(|r| r.agency.as_str()).collect();
            let mut owners = owners;
            owners.sort_unstable();
            owners.dedup();
            self.error(
                t.get("agency").map_or(t.span.clone(), |v| v.span()),
                format!("ministry `{a}` has no reporting regime to list"),
                format!(
                    "remove `agency` to list every regime, or name one of {}",
                    owners.join(", ")
                ),
            );
            return (Some(cells), None);
        }
        let panel = Panel {
            widget,
            rect,
            cells: cells.map(|c| c as f32),
            indicators: indicators.into_iter().map(|(code, _)| code).collect(),
            unit: unit.0,
            children: children.map(|l| l.as_str().to_owned()),
            period,
            history,
            agency,
            title,
            text: text.unwrap_or_else(|| widget.default_text()),
            top,
            additive,
            regimes: if widget == WidgetKind::Reports {
                cat.regimes
                    .iter()
                    .filter(|r| panel_agency.as_ref().is_none_or(|a| r.agency == *a))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            },
            line,
        };
        (Some(cells), Some(panel))
    }

    fn widget(&mut self, t: &Tbl<'_>) -> Option<WidgetKind> {
        let (w, span) = self.string(t, "widget", true)?;
        let kind = WidgetKind::parse(w);
        if kind.is_none() {
            let all: Vec<&str> = WidgetKind::ALL.iter().map(|k| k.as_str()).collect();
            let guess = closest(w, all.iter().copied())
                .map(|g| format!("did you mean `{g}`? "))
                .unwrap_or_default();
            self.error(
                span,
                format!("unknown widget `{w}`"),
                format!("{guess}the widgets are: {}", all.join(", ")),
            );
        }
        kind
    }

    /// `[row, column, rows, columns]` in screens, checked against the wall.
    fn cells(&mut self, t: &Tbl<'_>, wall: Option<&Wall>) -> Option<[f64; 4]> {
        let mut cells = [0.0; 4];
        let mut spans: [Span; 4] = std::array::from_fn(|_| 0..0);
        let mut ok = true;
        for (i, key) in ["row", "column", "rows", "columns"].into_iter().enumerate() {
            match self.number(t, key, true) {
                Some((n, span)) => {
                    cells[i] = n;
                    spans[i] = span;
                }
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        for (i, key, edge) in [(0, "row", "top"), (1, "column", "left")] {
            if cells[i] < 0.0 {
                self.error(
                    spans[i].clone(),
                    format!(
                        "the panel is off the wall: `{key}` = {} starts {} screens beyond the \
                         {edge} edge",
                        fmt_num(cells[i]),
                        fmt_num(-cells[i])
                    ),
                    format!(
                        "{key} counts screens from 0 at the {edge} edge; write {key} = 0 or more"
                    ),
                );
                ok = false;
            }
        }
        for (i, key, what) in [(2, "rows", "height"), (3, "columns", "width")] {
            if cells[i] <= 0.0 {
                self.error(
                    spans[i].clone(),
                    format!(
                        "`{key}` = {} must be more than 0: it is the panel's {what} in screens",
                        fmt_num(cells[i])
                    ),
                    format!("write e.g. `{key} = 0.5` for half a screen"),
                );
                ok = false;
            }
        }
        if let (Some(wall), true) = (wall, ok) {
            let checks = [
                (0, 2, "rows", "below the bottom", wall.rows, "high"),
                (1, 3, "columns", "past the right edge", wall.columns, "wide"),
            ];
            for (start, size, key, beyond, count, dim) in checks {
                let end = cells[start] + cells[size];
                let over = end - f64::from(count);
                if over > EPS {
                    let fits = f64::from(count) - cells[start];
                    let hint = if fits > EPS {
                        format!(
                            "make `{key}` at most {} or move the panel back by {} screens",
                            fmt_num(fits),
                            fmt_num(over)
                        )
                    } else {
                        format!(
                            "the panel starts outside the wall; {} is the last start inside it",
                            fmt_num(f64::from(count) - cells[size]).replace('-', "")
                        )
                    };
                    self.error(
                        spans[size].clone(),
                        format!(
                            "the panel is off the wall: it reaches {} screens {beyond} \
                             ({} + {} = {} but the wall is {count} screens {dim})",
                            fmt_num(over),
                            fmt_num(cells[start]),
                            fmt_num(cells[size]),
                            fmt_num(end)
                        ),
                        hint,
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(cells)
    }

    /// Indicator codes with their spans; `None` if any is wrong.
    fn indicators(
        &mut self,
        t: &Tbl<'_>,
        widget: Option<WidgetKind>,
        cat: &Catalogue,
    ) -> Option<Vec<(String, Span)>> {
        let one = t.get("indicator");
        let many = t.get("indicators");
        let mut ok = true;
        let mut codes: Vec<(String, Span)> = Vec::new();
        let mut list_span = t.span.clone();
        if let (Some(_), Some(m)) = (one, many) {
            self.error(
                m.span(),
                "the panel has both `indicator` and `indicators`",
                "keep one: `indicator = \"VM01\"` or `indicators = [\"VM02\", \"VM03\"]`",
            );
            ok = false;
        }
        if let Some(v) = one {
            list_span = v.span();
            match v.get_ref() {
                DeValue::String(s) => codes.push((s.to_string(), v.span())),
                DeValue::Array(_) => {
                    self.error(
                        v.span(),
                        "`indicator` names one indicator; this is a list",
                        "write `indicators = [...]` (plural) for a list",
                    );
                    ok = false;
                }
                _ => {
                    self.wrong_type(v, "indicator", "a string in double quotes");
                    ok = false;
                }
            }
        } else if let Some(v) = many {
            list_span = v.span();
            match v.get_ref() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::String(s) => codes.push((s.to_string(), item.span())),
                            _ => {
                                self.wrong_type(item, "indicators", "a list of strings");
                                ok = false;
                            }
                        }
                    }
                }
                DeValue::String(s) => codes.push((s.to_string(), v.span())),
                _ => {
                    self.wrong_type(v, "indicators", "a list of strings");
                    ok = false;
                }
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for (code, span) in &codes {
            if cat.indicator(code).is_none() {
                let guess = cat
                    .suggest(code)
                    .map(|g| {
                        let name = cat.indicator(g).map_or("", |i| i.name_vi.as_str());
                        format!("did you mean `{g}` ({name})? ")
                    })
                    .unwrap_or_default();
                self.error(
                    span.clone(),
                    format!("unknown indicator `{code}`"),
                    format!(
                        "{guess}indicator codes (TT01, VM02, ...) are listed in \
                         assets/catalogue/catalogue.toml"
                    ),
                );
                ok = false;
            } else if seen.contains(&code.as_str()) {
                self.error(
                    span.clone(),
                    format!("indicator `{code}` is named twice"),
                    "remove the second one",
                );
                ok = false;
            }
            seen.push(code);
        }
        if let Some(widget) = widget {
            let (min, max) = widget.indicator_count();
            let n = codes.len();
            if n < min || n > max {
                let want = match (min, max) {
                    (0, 0) => "no indicators".to_owned(),
                    (1, 1) => "exactly one indicator".to_owned(),
                    (a, b) => format!("{a}–{b} indicators"),
                };
                let hint = match widget {
                    WidgetKind::Header => "remove `indicator`/`indicators`: the header shows the \
                                           scene title, the date and time and the connection"
                        .to_owned(),
                    WidgetKind::Reports => "remove `indicator`/`indicators`: the panel lists the \
                                            reporting regimes (those of `agency`, or all)"
                        .to_owned(),
                    WidgetKind::Kpi | WidgetKind::Bars | WidgetKind::Map => {
                        "write one, e.g. `indicator = \"VM01\"`; \
                                                        use a line or table panel to compare \
                                                        several"
                            .to_owned()
                    }
                    _ => format!("write e.g. `indicators = [\"VM02\", \"VM03\"]` ({want})"),
                };
                self.error(
                    list_span,
                    format!("a {widget} panel shows {want}, but this one names {n}"),
                    hint,
                );
                ok = false;
            }
        }
        ok.then_some(codes)
    }

    fn unit(&mut self, t: &Tbl<'_>, cat: &Catalogue) -> Option<(String, Level)> {
        let Some((code, span)) = self.string(t, "unit", false) else {
            // Absent (default) or already reported.
            return t
                .get("unit")
                .is_none()
                .then(|| ("VN".to_owned(), Level::Nation));
        };
        if let Some(u) = cat.unit(code) {
            return Some((u.code.clone(), u.level));
        }
        let padded = [2, 3, 5]
            .into_iter()
            .filter(|&w| code.len() < w && code.chars().all(|c| c.is_ascii_digit()))
            .map(|w| format!("{code:0>w$}"))
            .find_map(|c| cat.unit(&c));
        let general = "write an official code: \"VN\" for the nation, 2 digits for a province \
                       (\"79\" Hồ Chí Minh), 5 digits for a commune; the codes are in \
                       assets/admin/*.csv";
        let hint = if let Some(u) = cat.unit_named(code) {
            format!(
                "`{code}` is a name, not a code: write `unit = \"{}\"`",
                u.code
            )
        } else if let Some(u) = padded {
            format!("did you mean `{}` ({})? {general}", u.code, u.name)
        } else {
            general.to_owned()
        };
        self.error(span, format!("unknown unit code `{code}`"), hint);
        None
    }

    /// A map shows the nation's provinces: `unit = "VN"`, `children` absent or "province".
    fn map_children(&mut self, t: &Tbl<'_>, unit: Option<Level>) -> Option<Option<Level>> {
        if let Some((name, span)) = self.string(t, "children", false)
            && name != "province"
        {
            self.error(
                span,
                format!("a map shows provinces, not `{name}`"),
                "remove `children` (a map's are the 34 provinces), or use widget = \"bars\" to \
                 rank communes",
            );
            return None;
        }
        if unit.is_some_and(|u| u != Level::Nation) {
            self.error(
                t.key_span("unit"),
                "a map shows the provinces of the whole country",
                "write `unit = \"VN\"`; to follow one province, use a bars panel with \
                 `children = \"commune\"`",
            );
            return None;
        }
        Some(Some(Level::Province))
    }

    /// `Some(None)` when absent and allowed; `None` on error.
    fn children(
        &mut self,
        t: &Tbl<'_>,
        widget: Option<WidgetKind>,
        unit: Option<Level>,
    ) -> Option<Option<Level>> {
        let levels = "province, district (2024 structure) or commune";
        if widget == Some(WidgetKind::Map) {
            return self.map_children(t, unit);
        }
        let Some((name, span)) = self.string(t, "children", false) else {
            if t.get("children").is_some() {
                return None;
            }
            if widget == Some(WidgetKind::Bars) {
                self.error(
                    t.span.clone(),
                    "a bars panel ranks the children of a unit, but this one has no `children`",
                    "add `children = \"province\"` to rank the 34 provinces (with unit = \"VN\"), \
                     or `children = \"commune\"` with a province's code as unit",
                );
                return None;
            }
            return Some(None);
        };
        let Some(level) = Level::parse(name).filter(|l| *l != Level::Nation) else {
            let guess = closest(name, ["province", "district", "commune"])
                .map(|g| format!("did you mean `{g}`? "))
                .unwrap_or_default();
            self.error(
                span,
                format!("unknown level `{name}` in `children`"),
                format!("{guess}write {levels}"),
            );
            return None;
        };
        if let Some(w) = widget.filter(|w| !matches!(w, WidgetKind::Bars | WidgetKind::Table)) {
            self.error(
                t.key_span("children"),
                format!("`children` only applies to bars and table panels, not {w}"),
                "remove it, or use widget = \"bars\" or \"table\"",
            );
            return None;
        }
        if let Some(u) = unit.filter(|u| *u >= level) {
            self.error(
                span,
                format!(
                    "`children = \"{name}\"` is not below the panel's unit, which is a {}",
                    u.as_str()
                ),
                "choose a level below the unit: unit = \"VN\" with province, a province code with \
                 commune (or district for 2024 codes)",
            );
            return None;
        }
        Some(Some(level))
    }

    /// Children at a level where an indicator is not collected have no values: a commune bar
    /// chart of a province-level indicator would stay empty on the wall.
    fn reported_below(&mut self, level: Level, indicators: &[(String, Span)], cat: &Catalogue) {
        for (code, span) in indicators {
            let Some(ind) = cat.indicator(code) else {
                continue;
            };
            // Ratios and weighted means are computed at every level from their parts.
            if matches!(ind.aggregation.as_str(), "ratio" | "weighted_mean") {
                continue;
            }
            let Some(at) = ind.reported_at.filter(|at| *at < level) else {
                continue;
            };
            let finer: Vec<&str> = cat
                .indicators
                .values()
                .filter(|i| i.reported_at.is_some_and(|l| l >= level))
                .map(|i| i.code.as_str())
                .take(6)
                .collect();
            self.error(
                span.clone(),
                format!(
                    "`{code}` is reported by {} units, so its {} values do not exist and the \
                     panel would stay empty",
                    at.as_str(),
                    level.as_str()
                ),
                format!(
                    "use `children = \"{}\"`, or an indicator reported at {} level ({}, …)",
                    at.as_str(),
                    level.as_str(),
                    finer.join(", ")
                ),
            );
        }
    }

    /// `Some(None)` when absent; `None` on error.
    fn agency(
        &mut self,
        t: &Tbl<'_>,
        indicators: &[(String, Span)],
        cat: &Catalogue,
    ) -> Option<Option<String>> {
        let Some((code, span)) = self.string(t, "agency", false) else {
            return t.get("agency").is_none().then_some(None);
        };
        let Some(agency) = cat.agency(code) else {
            let guess = cat
                .suggest_agency(code)
                .map(|g| format!("did you mean `{g}`? "))
                .unwrap_or_default();
            let all: Vec<&str> = cat.agencies.keys().map(String::as_str).collect();
            self.error(
                span,
                format!("unknown agency `{code}`"),
                format!("{guess}the agencies are: {}", all.join(", ")),
            );
            return None;
        };
        let mut ok = true;
        for (ind, ispan) in indicators {
            let Some(def) = cat.indicator(ind) else {
                continue;
            };
            if def.agency != agency.code {
                let owner = cat.agency(&def.agency).map_or("", |a| a.name.as_str());
                let theirs: Vec<&str> = cat
                    .indicators
                    .values()
                    .filter(|i| i.agency == agency.code)
                    .map(|i| i.code.as_str())
                    .take(10)
                    .collect();
                self.error(
                    ispan.clone(),
                    format!(
                        "indicator `{ind}` ({}) belongs to {} ({owner}), not to the panel's \
                         agency {} ({})",
                        def.name_vi, def.agency, agency.code, agency.name
                    ),
                    format!(
                        "remove `agency`, or choose an indicator of {}: {}",
                        agency.code,
                        theirs.join(", ")
                    ),
                );
                ok = false;
            }
        }
        ok.then(|| Some(agency.code.clone()))
    }

    fn period(
        &mut self,
        t: &Tbl<'_>,
        indicators: &[(String, Span)],
        cat: &Catalogue,
    ) -> Option<PeriodSpec> {
        let spec = match self.string(t, "period", false) {
            None if t.get("period").is_some() => return None,
            None => (PeriodSpec::Latest(Frequency::Month), 0..0),
            Some((text, span)) => match PeriodSpec::parse(text) {
                Some(p) => (p, span),
                None => {
                    let message = if text.trim().starts_with("latest-") {
                        format!("`period = \"{text}\"` is not a period")
                    } else {
                        match dieuhanh_protocol::period::Period::parse(text) {
                            Err(e) => format!("`period`: {e}"),
                            Ok(_) => format!("`period = \"{text}\"` is not a period"),
                        }
                    };
                    self.error(span, message, PERIOD_FORMS);
                    return None;
                }
            },
        };
        // The coarsest frequency among the panel's indicators: GRDP is quarterly, so a panel
        // showing it cannot show a month.
        let coarsest = indicators
            .iter()
            .filter_map(|(code, _)| cat.indicator(code))
            .max_by_key(|i| i.frequency);
        let Some(coarsest) = coarsest else {
            return Some(spec.0);
        };
        match spec {
            (PeriodSpec::Latest(f), _) if f < coarsest.frequency => {
                Some(PeriodSpec::Latest(coarsest.frequency))
            }
            (PeriodSpec::Fixed(p), span)
                if p.frequency().is_some_and(|f| f < coarsest.frequency) =>
            {
                let freq = coarsest.frequency;
                self.error(
                    span,
                    format!(
                        "indicator `{}` is reported per {}; it has no value for {}",
                        coarsest.code,
                        freq.as_str(),
                        p.label_vi()
                    ),
                    format!(
                        "write a {} containing it, or `period = \"latest-{}\"`",
                        freq.as_str(),
                        freq.as_str()
                    ),
                );
                None
            }
            (spec, _) => Some(spec),
        }
    }

    /// `Some(None)` when absent; `None` on error.
    fn text(&mut self, t: &Tbl<'_>) -> Option<Option<TextSize>> {
        let Some((word, span)) = self.string(t, "text", false) else {
            return t.get("text").is_none().then_some(None);
        };
        if let Some(size) = TextSize::parse(word) {
            return Some(Some(size));
        }
        let all: Vec<&str> = TextSize::ALL.iter().map(|s| s.as_str()).collect();
        let guess = closest(word, all.iter().copied())
            .map(|g| format!("did you mean `{g}`? "))
            .unwrap_or_default();
        self.error(
            span,
            format!("unknown text size `{word}`"),
            format!(
                "{guess}write small (14 mm capitals), medium (22 mm), large (34 mm) or huge \
                 (70 mm, a KPI figure read from 8 m)"
            ),
        );
        None
    }

    /// `Some(None)` when absent; `None` on error.
    fn top(&mut self, t: &Tbl<'_>, widget: Option<WidgetKind>) -> Option<Option<u32>> {
        if t.get("top").is_none() {
            return Some(None);
        }
        if let Some(w) = widget.filter(|w| *w != WidgetKind::Bars) {
            self.error(
                t.key_span("top"),
                format!("`top` only applies to bars panels, not {w}"),
                "remove it, or use widget = \"bars\" to rank the top N units",
            );
            return None;
        }
        let (n, _) = self.whole(t, "top", false, 1, 10_000, "the number of bars")?;
        Some(u32::try_from(n).ok())
    }
}

/// Scene ids: `[a-z0-9-]+`.
fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A scene id made from a Vietnamese name: "Tổng quan" → "tong-quan".
fn to_id(s: &str) -> String {
    let plain: String = s
        .nfd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            c => c.to_ascii_lowercase(),
        })
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let parts: Vec<&str> = plain.split('-').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        "tong-quan".to_owned()
    } else {
        parts.join("-")
    }
}

/// A number of screens for messages: `0.5`, `2`, `0.333`.
fn fmt_num(n: f64) -> String {
    let s = format!("{n:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

pub(super) fn parse(text: &str, file: &Path, cat: &Catalogue) -> Result<Layout, LayoutErrors> {
    let mut cx = Ctx::new(text, file);
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        for e in syntax {
            cx.error(
                e.span().unwrap_or(0..0),
                format!("TOML syntax: {}", e.message().trim()),
                "fix the syntax: `key = value` one per line, text in \"double quotes\", tables \
                 as [wall], [[output]], [[scene]], [[scene.panel]]; keys may appear once per \
                 table",
            );
        }
        return Err(cx.finish());
    }
    let root = Tbl {
        table: doc.get_ref(),
        span: 0..0,
        name: "the file".to_owned(),
    };
    cx.check_keys(&root, TOP_KEYS);
    let wall = cx.wall(&root);
    let wall_span = wall.as_ref().map_or(0..0, |w| w.3.clone());
    let outputs = cx.outputs(&root, wall.as_ref().map(|w| &w.0), wall_span);
    let feed = cx.feed(&root, &outputs, wall.as_ref().map(|w| &w.0));
    let scenes = cx.scenes(&root, wall.as_ref().map(|w| &w.0), cat);
    match wall {
        Some((wall, room, stale_after, _)) if cx.errors.is_empty() => Ok(Layout {
            file: file.to_owned(),
            map: scenes
                .iter()
                .flat_map(|s| &s.panels)
                .any(|p| p.widget == WidgetKind::Map)
                .then(|| cat.map.clone())
                .flatten(),
            wall,
            outputs,
            feed,
            scenes,
            room,
            stale_after,
        }),
        _ => {
            if cx.errors.is_empty() {
                // Unreachable in practice: a missing wall is always reported.
                cx.error(0..0, "the [wall] table is not valid", example("wall"));
            }
            Err(cx.finish())
        }
    }
}
