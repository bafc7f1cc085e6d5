use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use dieuhanh_protocol::period::{Frequency, Period};

use super::*;
use crate::catalogue::{Catalogue, assets_dir};

fn cat() -> &'static Catalogue {
    static CAT: OnceLock<Catalogue> = OnceLock::new();
    CAT.get_or_init(|| Catalogue::load(&assets_dir()).unwrap())
}

const BASE: &str = r#"[wall]
name = "Phòng thử nghiệm"
rows = 2
columns = 2
screen_width_px = 1920
screen_height_px = 1080
screen_width_mm = 1209.6
screen_height_mm = 680.4
bezel_mm = 1.75

[[output]]
name = "DP-1"
row = 0
column = 0
rows = 2
columns = 2

[[scene]]
name = "tong-quan"
title = "Tổng quan"

[[scene.panel]]
widget = "kpi"
row = 0
column = 0
rows = 0.5
columns = 0.5
indicator = "VM01"
"#;

/// BASE with one more panel (placed in the free area below the first unless `body` says).
fn with_panel(body: &str) -> String {
    format!("{BASE}\n[[scene.panel]]\n{body}\n")
}

/// BASE with `from` replaced by `to` (which must occur).
fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE lacks {from:?}");
    BASE.replacen(from, to, 1)
}

fn parse_str(text: &str) -> Result<Layout, LayoutErrors> {
    parse(text, Path::new("test.toml"), cat())
}

/// 1-based line and column (in characters) of the `nth` occurrence (0-based) of `needle`.
fn pos(text: &str, needle: &str, nth: usize) -> (usize, usize) {
    let (offset, _) = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle:?} not found"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

/// Asserts the text fails with an error at the `nth` occurrence of `at` whose message contains
/// `phrase`; returns it.
fn expect_error_nth(text: &str, at: &str, nth: usize, phrase: &str) -> LayoutError {
    let errors = match parse_str(text) {
        Ok(_) => panic!("expected an error containing {phrase:?}, the layout is valid"),
        Err(e) => e.0,
    };
    let (line, column) = pos(text, at, nth);
    errors
        .iter()
        .find(|e| e.line == line && e.column == column && e.message.contains(phrase))
        .cloned()
        .unwrap_or_else(|| {
            panic!("no error at {line}:{column} containing {phrase:?}; got:\n{errors:#?}")
        })
}

fn expect_error(text: &str, at: &str, phrase: &str) -> LayoutError {
    expect_error_nth(text, at, 0, phrase)
}

fn national() -> Layout {
    load(&assets_dir().join("layouts/national.toml"), cat()).unwrap()
}

// --- example layouts ---------------------------------------------------------------------------

#[test]
fn every_example_layout_in_assets_loads() {
    let dir = assets_dir().join("layouts");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        if let Err(e) = load(&file, cat()) {
            panic!("{e}");
        }
    }
}

#[test]
fn example_layouts_have_the_promised_shapes() {
    let dir = assets_dir().join("layouts");
    let desk = load(&dir.join("desk.toml"), cat()).unwrap();
    assert_eq!((desk.wall.rows, desk.wall.columns), (1, 1));
    assert!(desk.scenes.len() >= 2);
    let room = load(&dir.join("room.toml"), cat()).unwrap();
    assert_eq!((room.wall.rows, room.wall.columns), (2, 2));
    assert_eq!(room.outputs.len(), 4);
    let names: Vec<&str> = room.scenes.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["tong-quan", "ho-chi-minh", "bo-tai-chinh", "bao-cao"]
    );
    let national = national();
    let names: Vec<&str> = national.scenes.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["tong-quan", "dia-phuong", "bo-nganh", "xa-hoi", "bao-cao"]
    );
    // The reports scene lists every regime of the catalogue.
    let reports = national.scene("bao-cao").unwrap();
    let regimes = reports
        .panels
        .iter()
        .find(|p| p.widget == WidgetKind::Reports)
        .map(|p| p.regimes.len());
    assert_eq!(regimes, Some(cat().regimes.len()));
    assert!(cat().regimes.len() >= 10);
    let overview = national.scene("tong-quan").unwrap();
    let kpis = overview
        .panels
        .iter()
        .filter(|p| p.widget == WidgetKind::Kpi)
        .count();
    assert!((6..=8).contains(&kpis));
    assert!(national.scene("khong-co").is_none());
}

#[test]
fn national_wall_shows_7680x3240_pixels_on_a_canvas_with_bezel_gaps() {
    let wall = national().wall;
    assert_eq!(wall.pixel_size(), [7680, 3240]);
    let ppmm = 1920.0 / 1209.6;
    assert!((wall.px_per_mm() - ppmm).abs() < 1e-4);
    let gap = 3.5 * ppmm;
    let [gx, gy] = wall.gap_px();
    assert!((gx - gap).abs() < 1e-3 && (gy - gap).abs() < 1e-3);
    let [cw, ch] = wall.canvas_size();
    assert!((cw - (7680.0 + 3.0 * gap)).abs() < 1e-2, "{cw}");
    assert!((ch - (3240.0 + 2.0 * gap)).abs() < 1e-2, "{ch}");
}

#[test]
fn national_outputs_are_two_blocks_of_3840x3240() {
    let layout = national();
    assert_eq!(layout.outputs.len(), 2);
    for o in &layout.outputs {
        assert_eq!(o.pixel_size(&layout.wall), [3840, 3240]);
    }
    assert_eq!(
        layout.outputs[1].in_pixels(&layout.wall),
        Rect::new(3840.0, 0.0, 3840.0, 3240.0)
    );
    assert_eq!(layout.room.as_deref(), Some("phong-dieu-hanh"));
    assert_eq!(layout.stale_after, Duration::from_secs(900));
}

#[test]
fn national_feeds_the_conference_in_1080p_and_a_layout_without_feed_has_none() {
    let feed = national().feed.unwrap();
    assert_eq!(feed.size, [1920, 1080]);
    assert_eq!(feed.monitor.as_deref(), Some("HDMI-A-1"));
    assert!(parse_str(BASE).unwrap().feed.is_none());
    let custom = parse_str(&format!(
        "{BASE}\n[feed]\nwidth_px = 1280\nheight_px = 720\n"
    ))
    .unwrap();
    assert_eq!(custom.feed.unwrap().size, [1280, 720]);
}

#[test]
fn feed_on_a_monitor_that_shows_an_output_is_refused() {
    let text = format!(
        "{}\n[feed]\nmonitor = \"DP-9\"\n",
        edit("name = \"DP-1\"\n", "name = \"DP-1\"\nmonitor = \"DP-9\"\n")
    );
    let e = expect_error_nth(&text, "\"DP-9\"", 1, "already shows output `DP-1`");
    assert!(e.hint.contains("capture input"), "{}", e.hint);
}

#[test]
fn a_feed_shows_the_block_of_screens_it_names_else_the_whole_wall() {
    assert_eq!(national().feed.unwrap().block, None, "the whole wall");
    let block = |keys: &str| {
        parse_str(&format!("{BASE}\n[feed]\n{keys}"))
            .unwrap()
            .feed
            .unwrap()
            .block
    };
    assert_eq!(
        block("row = 1\ncolumn = 0\nrows = 1\ncolumns = 2\n"),
        Some([1, 0, 1, 2])
    );
    // The first row and column default to 0, the size to the rest of the wall.
    assert_eq!(block("column = 1\n"), Some([0, 1, 2, 1]));
    assert_eq!(block("rows = 1\n"), Some([0, 0, 1, 2]));
}

#[test]
fn a_feed_block_off_the_wall_is_refused_where_it_is_written() {
    let text = format!("{BASE}\n[feed]\nrow = 14\n");
    expect_error(&text, "14", "starts at screen row 14, off the wall");
    let text = format!("{BASE}\n[feed]\ncolumn = 1\ncolumns = 15\n");
    let e = expect_error(&text, "15", "shows screen columns 1–15, off the wall");
    assert!(e.message.contains("2 columns (0–1)"), "{}", e.message);
    assert!(e.hint.contains("column + columns"), "{}", e.hint);
}

#[test]
fn feed_size_and_keys_are_checked() {
    let text = format!("{BASE}\n[feed]\nwidth_px = 100\n");
    expect_error(&text, "100", "width_px");
    let text = format!("{BASE}\n[feed]\nmonitr = \"HDMI-A-1\"\n");
    let e = expect_error(&text, "monitr", "monitr");
    assert!(e.hint.contains("monitor"), "{}", e.hint);
}

#[test]
fn summary_names_the_wall_outputs_and_scenes() {
    let s = national().summary();
    assert!(s.contains("4×3 screens"), "{s}");
    assert!(s.contains("visible 7680×3240 px"), "{s}");
    assert!(s.contains("output trai"), "{s}");
    assert!(s.contains("scene xa-hoi"), "{s}");
    assert!(
        s.contains("feed (monitor HDMI-A-1): 1920×1080 px showing the whole wall at 25 % (small text 8 px there)"),
        "{s}"
    );
}

// --- geometry ----------------------------------------------------------------------------------

#[test]
fn panel_at_column_one_starts_after_one_screen_and_one_gap() {
    let wall = national().wall;
    let [gx, gy] = wall.gap_px();
    let [x, y] = wall.to_canvas(1.0, 1.0);
    assert!((x - (1920.0 + gx)).abs() < 1e-3);
    assert!((y - (1080.0 + gy)).abs() < 1e-3);
    let [x, _] = wall.to_canvas(0.0, 2.5);
    assert!((x - (2.0 * (1920.0 + gx) + 960.0)).abs() < 1e-3);
}

#[test]
fn far_edge_of_the_wall_maps_to_the_end_of_the_last_screen() {
    let wall = national().wall;
    let [cw, ch] = wall.canvas_size();
    let [x, y] = wall.to_canvas(3.0, 4.0);
    assert!((x - cw).abs() < 1e-3 && (y - ch).abs() < 1e-3);
}

#[test]
fn panel_ending_on_a_screen_edge_stops_before_the_bezel() {
    let layout = national();
    let [gx, _] = layout.wall.gap_px();
    let scene = layout.scene("tong-quan").unwrap();
    // The line chart spans screens (1,0) and (1,1): it includes the gap between them but not
    // the one after.
    let line = scene
        .panels
        .iter()
        .find(|p| p.widget == WidgetKind::Line)
        .unwrap();
    assert_eq!(line.cells, [1.0, 0.0, 1.0, 2.0]);
    assert!((line.rect.x).abs() < 1e-3);
    assert!(
        (line.rect.w - (3840.0 + gx)).abs() < 1e-3,
        "{:?}",
        line.rect
    );
    assert!((line.rect.h - 1080.0).abs() < 1e-3);
    let screen = layout.wall.screen_in_canvas(1, 1);
    assert!((line.rect.right() - screen.right()).abs() < 1e-3);
}

#[test]
fn bezel_strips_are_one_per_inner_edge_and_cover_the_gaps() {
    let wall = national().wall;
    let strips = wall.bezel_strips();
    assert_eq!(strips.len(), 3 + 2);
    let [gx, gy] = wall.gap_px();
    let [cw, ch] = wall.canvas_size();
    assert!((strips[0].x - 1920.0).abs() < 1e-3 && (strips[0].w - gx).abs() < 1e-3);
    assert!((strips[0].h - ch).abs() < 1e-3);
    assert!((strips[3].y - 1080.0).abs() < 1e-3 && (strips[3].h - gy).abs() < 1e-3);
    assert!((strips[3].w - cw).abs() < 1e-3);
    for r in 0..3 {
        for c in 0..4 {
            let screen = wall.screen_in_canvas(r, c);
            let shared: f32 = strips
                .iter()
                .filter_map(|s| s.intersection(&screen))
                .map(|i| i.w * i.h)
                .sum();
            assert!(
                shared < 0.01,
                "screen ({r}, {c}) under a strip: {shared} px²"
            );
        }
    }
}

#[test]
fn a_wall_without_bezels_has_no_strips_and_canvas_equals_pixels() {
    let desk = load(&assets_dir().join("layouts/desk.toml"), cat()).unwrap();
    assert!(desk.wall.bezel_strips().is_empty());
    assert_eq!(desk.wall.canvas_size(), [1920.0, 1080.0]);
}

#[test]
fn screens_in_pixels_tile_the_visible_image() {
    let wall = national().wall;
    assert_eq!(
        wall.screen_in_pixels(2, 3),
        Rect::new(5760.0, 2160.0, 1920.0, 1080.0)
    );
}

#[test]
fn huge_text_is_about_160_px_on_a_55_inch_1080p_screen() {
    let wall = national().wall;
    let huge = wall.text_px(TextSize::Huge);
    assert!((155.0..165.0).contains(&huge), "{huge}");
    assert!(wall.text_px(TextSize::Small) < wall.text_px(TextSize::Medium));
    // 70 mm capitals at 8 m subtend 30 arc minutes, above the 20–22′ preferred.
    let arcmin = (TextSize::Huge.cap_height_mm() / 8000.0)
        .atan()
        .to_degrees()
        * 60.0;
    assert!(arcmin > 22.0);
}

#[test]
fn rect_intersection_ignores_touching_edges() {
    let a = Rect::new(0.0, 0.0, 10.0, 10.0);
    assert!(!a.intersects(&Rect::new(10.0, 0.0, 5.0, 5.0)));
    assert_eq!(
        a.intersection(&Rect::new(5.0, 5.0, 10.0, 10.0)),
        Some(Rect::new(5.0, 5.0, 5.0, 5.0))
    );
    assert!(a.contains_point(0.0, 9.9) && !a.contains_point(10.0, 5.0));
}

// --- defaults and period resolution ------------------------------------------------------------

#[test]
fn panel_defaults_are_the_nation_latest_month_and_text_per_widget() {
    let layout = parse_str(BASE).unwrap();
    let p = &layout.scenes[0].panels[0];
    assert_eq!(p.unit, "VN");
    assert_eq!(p.period, PeriodSpec::Latest(Frequency::Month));
    assert_eq!(p.history, 13);
    assert_eq!(p.text, TextSize::Huge);
    assert_eq!(p.line, pos(BASE, "[[scene.panel]]", 0).0);
    assert_eq!(layout.stale_after, Duration::from_secs(900));
}

#[test]
fn quarterly_indicator_on_latest_month_shows_the_latest_quarter() {
    let text = with_panel(
        "widget = \"kpi\"\nrow = 1\ncolumn = 0\nrows = 0.5\ncolumns = 0.5\nindicator = \"TT02\"",
    );
    let layout = parse_str(&text).unwrap();
    let p = &layout.scenes[0].panels[1];
    assert_eq!(p.period, PeriodSpec::Latest(Frequency::Quarter));
    assert_eq!(p.history, 8);
}

#[test]
fn fixed_period_in_vietnamese_is_accepted() {
    let text = with_panel(
        "widget = \"kpi\"\nrow = 1\ncolumn = 0\nrows = 0.5\ncolumns = 0.5\nindicator = \"TT02\"\nperiod = \"Quý III/2025\"",
    );
    let layout = parse_str(&text).unwrap();
    assert_eq!(
        layout.scenes[0].panels[1].period,
        PeriodSpec::Fixed(Period::Quarter {
            year: 2025,
            quarter: 3
        })
    );
}

#[test]
fn bezel_may_differ_per_side() {
    let text = edit(
        "bezel_mm = 1.75",
        "bezel_mm = { left = 1.0, right = 2.0, top = 0.5, bottom = 1.5 }",
    );
    let wall = parse_str(&text).unwrap().wall;
    let ppmm = wall.px_per_mm();
    assert!((wall.gap_px()[0] - 3.0 * ppmm).abs() < 1e-3);
    assert!((wall.gap_px()[1] - 2.0 * wall.px_per_mm_y()).abs() < 1e-3);
}

// --- errors ------------------------------------------------------------------------------------

#[test]
fn toml_syntax_error_is_reported_with_its_position() {
    let text = edit("rows = 2\n", "rows = = 2\n");
    expect_error(&text, "= 2\n", "TOML syntax");
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let text = edit("columns = 2\nscreen", "colums = 2\nscreen");
    let e = expect_error(&text, "colums", "unknown key `colums` in [wall]");
    assert!(e.hint.contains("did you mean `columns`"), "{}", e.hint);
    // The missing `columns` is reported too, at the [wall] header.
    expect_error(&text, "[wall]", "lacks `columns`");
}

#[test]
fn missing_required_key_points_at_its_table() {
    let text = edit("screen_height_px = 1080\n", "");
    let e = expect_error(&text, "[wall]", "[wall] lacks `screen_height_px`");
    assert!(e.hint.contains("screen_height_px = 1080"));
}

#[test]
fn wrong_type_names_the_expected_type() {
    let text = edit("rows = 2\n", "rows = \"2\"\n");
    expect_error(
        &text,
        "\"2\"",
        "`rows` must be a whole number, not a string",
    );
}

#[test]
fn wall_rows_zero_or_over_sixteen_is_out_of_range() {
    expect_error(&edit("rows = 2\n", "rows = 0\n"), "0\n", "must be 1–16");
    expect_error(
        &edit("columns = 2\n", "columns = 17\n"),
        "17",
        "must be 1–16",
    );
}

#[test]
fn resolution_and_size_must_be_positive() {
    expect_error(
        &edit("screen_width_px = 1920", "screen_width_px = 0"),
        "0\nscreen_height_px",
        "out of range",
    );
    expect_error(
        &edit("screen_width_mm = 1209.6", "screen_width_mm = -1209.6"),
        "-1209.6",
        "`screen_width_mm` = -1209.6 is out of range",
    );
}

#[test]
fn swapped_screen_sizes_are_caught_by_the_pixel_pitch() {
    let text = edit("screen_height_mm = 680.4", "screen_height_mm = 1209.6");
    expect_error_nth(&text, "1209.6", 1, "px/mm across");
}

#[test]
fn bezel_negative_or_over_50_mm_is_rejected() {
    expect_error(&edit("bezel_mm = 1.75", "bezel_mm = -1"), "-1", "0–50 mm");
    let text = edit(
        "bezel_mm = 1.75",
        "bezel_mm = { left = 1.0, right = 60, top = 1, bottom = 1 }",
    );
    expect_error(&text, "60", "bezel `right` = 60 mm is out of range");
}

#[test]
fn output_off_the_wall_names_the_wall_size() {
    let text = edit(
        "rows = 2\ncolumns = 2\n\n[[scene]]",
        "rows = 3\ncolumns = 2\n\n[[scene]]",
    );
    let e = expect_error_nth(&text, "3\ncolumns = 2\n\n[[scene]]", 0, "off the wall");
    assert!(
        e.message.contains("drives screen rows 0–2"),
        "{}",
        e.message
    );
    assert!(e.message.contains("the wall has 2 rows"), "{}", e.message);
}

#[test]
fn overlapping_outputs_name_both_and_the_screen() {
    let text = edit(
        "rows = 2\ncolumns = 2\n\n[[scene]]",
        "rows = 2\ncolumns = 2\n\n[[output]]\nname = \"DP-2\"\nrow = 1\ncolumn = 1\n\n[[scene]]",
    );
    let e = expect_error(
        &text,
        "1\ncolumn = 1",
        "output `DP-2` overlaps output `DP-1`",
    );
    assert!(e.message.contains("(row 1, column 1)"), "{}", e.message);
}

#[test]
fn screens_without_an_output_are_listed() {
    let text = edit(
        "rows = 2\ncolumns = 2\n\n[[scene]]",
        "rows = 1\ncolumns = 2\n\n[[scene]]",
    );
    let e = expect_error(&text, "[[output]]", "no output drives 2 screens");
    assert!(
        e.message.contains("(row 1, column 0), (row 1, column 1)"),
        "{}",
        e.message
    );
}

#[test]
fn a_file_without_scenes_is_rejected() {
    let text = BASE[..BASE.find("[[scene]]").unwrap()].to_owned();
    let e = expect_error(&text, "[wall]", "no [[scene]]");
    assert_eq!((e.line, e.column), (1, 1));
}

#[test]
fn duplicate_scene_names_point_at_the_second() {
    let text = format!(
        "{BASE}\n[[scene]]\nname = \"tong-quan\"\n\n[[scene.panel]]\nwidget = \"header\"\nrow = 0\ncolumn = 0\nrows = 1\ncolumns = 1\n"
    );
    let e = expect_error_nth(&text, "\"tong-quan\"", 1, "already used at line");
    assert!(e.message.contains("line 18"), "{}", e.message);
}

#[test]
fn scene_name_with_diacritics_suggests_an_id() {
    let text = edit("name = \"tong-quan\"", "name = \"Tổng quan\"");
    let e = expect_error(&text, "\"Tổng quan\"", "lowercase letters");
    assert!(e.hint.contains("\"tong-quan\""), "{}", e.hint);
}

#[test]
fn unknown_widget_lists_the_valid_ones() {
    let text = edit("widget = \"kpi\"", "widget = \"kpis\"");
    let e = expect_error(&text, "\"kpis\"", "unknown widget `kpis`");
    assert!(e.hint.contains("did you mean `kpi`"), "{}", e.hint);
    assert!(
        e.hint
            .contains("kpi, line, area, bars, table, ticker, header"),
        "{}",
        e.hint
    );
}

#[test]
fn unknown_indicator_suggests_a_close_code() {
    let text = edit("indicator = \"VM01\"", "indicator = \"VM1\"");
    let e = expect_error(&text, "\"VM1\"", "unknown indicator `VM1`");
    assert!(e.hint.contains("did you mean `VM01`"), "{}", e.hint);
}

#[test]
fn unknown_indicator_in_a_list_points_at_that_element() {
    let text = with_panel(
        "widget = \"line\"\nrow = 1\ncolumn = 0\nrows = 1\ncolumns = 2\nindicators = [\"VM02\", \"XX99\"]",
    );
    expect_error(&text, "\"XX99\"", "unknown indicator `XX99`");
}

#[test]
fn unknown_unit_code_suggests_the_code_of_a_name() {
    let text = edit(
        "indicator = \"VM01\"",
        "indicator = \"VM01\"\nunit = \"Hồ Chí Minh\"",
    );
    let e = expect_error(&text, "\"Hồ Chí Minh\"", "unknown unit code");
    assert!(e.hint.contains("unit = \"79\""), "{}", e.hint);
    let text = edit("indicator = \"VM01\"", "indicator = \"VM01\"\nunit = \"1\"");
    let e = expect_error(&text, "\"1\"", "unknown unit code `1`");
    assert!(e.hint.contains("`01`"), "{}", e.hint);
}

#[test]
fn unknown_agency_suggests_a_close_one() {
    let text = edit(
        "indicator = \"VM01\"",
        "indicator = \"VM01\"\nagency = \"BTCC\"",
    );
    let e = expect_error(&text, "\"BTCC\"", "unknown agency `BTCC`");
    assert!(e.hint.contains("did you mean `BTC`"), "{}", e.hint);
}

#[test]
fn indicator_of_another_agency_is_an_error_at_the_indicator() {
    let text = edit(
        "indicator = \"VM01\"",
        "indicator = \"VM02\"\nagency = \"BTC\"",
    );
    let e = expect_error(&text, "\"VM02\"", "belongs to BCT (Bộ Công Thương)");
    assert!(e.hint.contains("NS01"), "{}", e.hint);
}

#[test]
fn kpi_with_two_indicators_is_rejected() {
    let text = edit("indicator = \"VM01\"", "indicators = [\"VM01\", \"VM02\"]");
    expect_error(
        &text,
        "[\"VM01\"",
        "a kpi panel shows exactly one indicator, but this one names 2",
    );
}

#[test]
fn line_with_five_indicators_and_header_with_one_are_rejected() {
    let text = with_panel(
        "widget = \"line\"\nrow = 1\ncolumn = 0\nrows = 1\ncolumns = 2\nindicators = [\"VM01\", \"VM02\", \"VM03\", \"TT05\", \"NS01\"]",
    );
    expect_error(&text, "[\"VM01\", \"VM02\", \"VM03\"", "1–4 indicators");
    let text = with_panel(
        "widget = \"header\"\nrow = 1\ncolumn = 0\nrows = 1\ncolumns = 2\nindicator = \"VM02\"",
    );
    expect_error(&text, "\"VM02\"", "a header panel shows no indicators");
}

#[test]
fn unknown_children_level_suggests_one() {
    let text = with_panel(
        "widget = \"bars\"\nrow = 1\ncolumn = 0\nrows = 1\ncolumns = 2\nindicator = \"NS01\"\nchildren = \"provinces\"",
    );
    let e = expect_error(&text, "\"provinces\"", "unknown level `provinces`");
    assert!(e.hint.contains("did you mean `province`"), "{}", e.hint);
}

#[test]
fn bars_without_children_are_rejected_at_the_panel() {
    let text = with_panel(
        "widget = \"bars\"\nrow = 1\ncolumn = 0\nrows = 1\ncolumns = 2\nindicator = \"NS01\"",
    );
    expect_error_nth(&text, "[[scene.panel]]", 1, "no `children`");
}

#[test]
fn children_must_lie_below_the_unit() {
    let text = with_panel(
        "widget = \"bars\"\nrow = 1\ncolumn = 0\nrows = 1\ncolumns = 2\nindicator = \"NS01\"\nunit = \"79\"\nchildren = \"province\"",
    );
    expect_error(&text, "\"province\"", "not below the panel's unit");
}

#[test]
fn communes_of_an_indicator_reported_by_provinces_are_refused() {
    let text = with_panel(
        "widget = \"bars\"\nrow = 1\ncolumn = 0\nrows = 1\ncolumns = 2\nindicator = \"NS01\"\nunit = \"79\"\nchildren = \"commune\"",
    );
    let e = expect_error(&text, "\"NS01\"", "reported by province units");
    assert!(e.hint.contains("children = \"province\""), "{}", e.hint);
    assert!(e.hint.contains("XH02"), "{}", e.hint);
    // Births are registered by communes: their commune ranking is fine.
    let ok = with_panel(
        "widget = \"bars\"\nrow = 1\ncolumn = 0\nrows = 1\ncolumns = 2\nindicator = \"XH02\"\nunit = \"79\"\nchildren = \"commune\"",
    );
    parse_str(&ok).unwrap();
}

#[test]
fn bad_period_quotes_the_accepted_forms() {
    let text = edit(
        "indicator = \"VM01\"",
        "indicator = \"VM01\"\nperiod = \"tháng trước\"",
    );
    let e = expect_error(&text, "\"tháng trước\"", "is not a period");
    assert!(e.hint.contains("latest-month"), "{}", e.hint);
    assert!(e.hint.contains("Quý III/2025"), "{}", e.hint);
    let text = edit(
        "indicator = \"VM01\"",
        "indicator = \"VM01\"\nperiod = \"latest-week\"",
    );
    expect_error(&text, "\"latest-week\"", "is not a period");
}

#[test]
fn month_period_for_a_quarterly_indicator_is_rejected() {
    let text = edit(
        "indicator = \"VM01\"",
        "indicator = \"TT02\"\nperiod = \"2025-09\"",
    );
    let e = expect_error(&text, "\"2025-09\"", "reported per quarter");
    assert!(e.hint.contains("latest-quarter"), "{}", e.hint);
}

#[test]
fn unknown_text_size_lists_the_keywords() {
    let text = edit(
        "indicator = \"VM01\"",
        "indicator = \"VM01\"\ntext = \"big\"",
    );
    let e = expect_error(&text, "\"big\"", "unknown text size `big`");
    assert!(
        e.hint.contains("small") && e.hint.contains("huge"),
        "{}",
        e.hint
    );
}

#[test]
fn panel_off_the_wall_says_by_how_much() {
    let text = with_panel(
        "widget = \"line\"\nrow = 1.5\ncolumn = 1\nrows = 1\ncolumns = 1.25\nindicator = \"VM02\"",
    );
    let e = expect_error(
        &text,
        "1\ncolumns = 1.25",
        "reaches 0.5 screens below the bottom",
    );
    assert!(e.hint.contains("at most 0.5"), "{}", e.hint);
    expect_error(&text, "1.25", "reaches 0.25 screens past the right edge");
}

#[test]
fn panel_with_negative_position_is_off_the_wall() {
    let text = edit("column = 0\nrows = 0.5", "column = -0.5\nrows = 0.5");
    expect_error(&text, "-0.5", "0.5 screens beyond the left edge");
}

#[test]
fn panel_with_zero_size_is_rejected() {
    let text = edit("rows = 0.5\ncolumns = 0.5", "rows = 0\ncolumns = 0.5");
    expect_error(&text, "0\ncolumns = 0.5", "`rows` = 0 must be more than 0");
}

#[test]
fn overlapping_panels_name_both_lines() {
    let text = with_panel(
        "widget = \"kpi\"\nrow = 0.25\ncolumn = 0.25\nrows = 0.5\ncolumns = 0.5\nindicator = \"VM02\"",
    );
    let first = pos(&text, "[[scene.panel]]", 0).0;
    let e = expect_error_nth(&text, "[[scene.panel]]", 1, "overlaps the kpi panel");
    assert!(
        e.message.contains(&format!("at line {first}")),
        "{}",
        e.message
    );
    assert!(e.message.contains("0.25 × 0.25 screens"), "{}", e.message);
}

#[test]
fn touching_panels_do_not_overlap() {
    let text = with_panel(
        "widget = \"kpi\"\nrow = 0\ncolumn = 0.5\nrows = 0.5\ncolumns = 0.5\nindicator = \"VM02\"",
    );
    parse_str(&text).unwrap();
}

#[test]
fn top_on_a_non_bars_widget_is_rejected() {
    let text = edit("indicator = \"VM01\"", "indicator = \"VM01\"\ntop = 10");
    expect_error(
        &text,
        "top = 10",
        "`top` only applies to bars panels, not kpi",
    );
}

#[test]
fn every_error_is_reported_in_file_order() {
    let text = edit("widget = \"kpi\"", "widget = \"kpis\"")
        .replacen("rows = 2\n", "rows = 0\n", 1)
        .replacen("indicator = \"VM01\"", "indicator = \"VM1\"", 1);
    let errors = parse_str(&text).unwrap_err().0;
    assert!(errors.len() >= 3, "{errors:#?}");
    assert!(
        errors
            .windows(2)
            .all(|w| (w[0].line, w[0].column) <= (w[1].line, w[1].column))
    );
}

#[test]
fn errors_display_like_rustc_with_a_hint() {
    let text = edit("widget = \"kpi\"", "widget = \"kpis\"");
    let errors = parse_str(&text).unwrap_err();
    let (line, column) = pos(&text, "\"kpis\"", 0);
    let shown = errors.to_string();
    assert!(
        shown.starts_with(&format!(
            "test.toml:{line}:{column}: unknown widget `kpis`\n  hint: "
        )),
        "{shown}"
    );
}

#[test]
fn unreadable_file_is_one_error_without_position() {
    let errors = load(Path::new("/nonexistent/layout.toml"), cat()).unwrap_err();
    assert_eq!(errors.0.len(), 1);
    assert_eq!(errors.0[0].line, 0);
    assert!(errors.to_string().contains("cannot read the layout file"));
}

#[test]
fn a_reports_panel_lists_its_ministrys_regimes_and_names_no_indicators() {
    let at = "widget = \"reports\"\nrow = 1\ncolumn = 0\nrows = 1\ncolumns = 2";
    let all = parse_str(&with_panel(at)).unwrap();
    let panel = |l: &Layout| l.scenes[0].panels[1].clone();
    assert_eq!(panel(&all).regimes.len(), cat().regimes.len());
    let justice = parse_str(&with_panel(&format!("{at}\nagency = \"BTP\""))).unwrap();
    let codes: Vec<String> = panel(&justice)
        .regimes
        .iter()
        .map(|r| r.code.clone())
        .collect();
    assert_eq!(codes, ["BC-HT"]);
    // The Ministry of Defence owns no regime here: said, with those that do.
    let e = expect_error(
        &with_panel(&format!("{at}\nagency = \"BQP\"")),
        "\"BQP\"",
        "no reporting regime",
    );
    assert!(e.hint.contains("BTP"), "{}", e.hint);
    // The base layout's tile names VM01 first.
    let e = expect_error_nth(
        &with_panel(&format!("{at}\nindicator = \"VM01\"")),
        "\"VM01\"",
        1,
        "shows no indicators",
    );
    assert!(e.hint.contains("reporting regimes"), "{}", e.hint);
}

#[test]
fn a_map_shows_the_provinces_of_the_nation() {
    let text = with_panel(
        "widget = \"map\"\nrow = 1\ncolumn = 0\nrows = 1\ncolumns = 1\nindicator = \"NS01\"",
    );
    let layout = parse_str(&text).unwrap();
    let p = &layout.scenes[0].panels[1];
    assert_eq!(p.widget, WidgetKind::Map);
    assert_eq!(p.unit, "VN");
    assert_eq!(p.children.as_deref(), Some("province"));
    assert_eq!(
        layout.map.as_ref().map(|m| m.provinces.len()),
        Some(34),
        "the layout carries the provinces' shapes for its map"
    );
    assert!(parse_str(BASE).unwrap().map.is_none(), "none without a map");

    let one_province = with_panel(
        "widget = \"map\"\nrow = 1\ncolumn = 0\nrows = 1\ncolumns = 1\nindicator = \"NS01\"\nunit = \"79\"",
    );
    let e = expect_error(
        &one_province,
        "unit = \"79\"",
        "a map shows the provinces of the whole country",
    );
    assert!(e.hint.contains("unit = \"VN\""), "{}", e.hint);
    let communes = with_panel(
        "widget = \"map\"\nrow = 1\ncolumn = 0\nrows = 1\ncolumns = 1\nindicator = \"NS01\"\nchildren = \"commune\"",
    );
    expect_error(
        &communes,
        "\"commune\"",
        "a map shows provinces, not `commune`",
    );
}
