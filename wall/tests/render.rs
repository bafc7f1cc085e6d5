//! The wall drawn for real, headless, on whatever Vulkan adapter the machine has (Mesa's lavapipe
//! in CI): golden images of fixed scenes with fixed data, structural checks of what is drawn, and
//! Vietnamese text. A missing adapter fails these tests; nothing is skipped.
//!
//! Goldens live in `wall/tests/golden/`. They are rendered from the demo snapshot shipped in
//! `assets/snapshots/` at its own time; after regenerating that snapshot (or changing a widget on
//! purpose) re-bless them with `DIEUHANH_BLESS=1 cargo test -p dieuhanh-wall --test render`
//! and look at the new PNGs before committing them.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

use std::path::{Path, PathBuf};

use dieuhanh_protocol::live::{Cell, IndicatorInfo, RoomState, ServerMessage, UnitInfo};
use dieuhanh_protocol::period::Period;
use dieuhanh_wall::catalogue::{Catalogue, assets_dir};
use dieuhanh_wall::data::{Feed, WallData};
use dieuhanh_wall::draw::{Color, DisplayList, TextStyle, theme};
use dieuhanh_wall::layout::{self, Layout, Rect, WidgetKind};
use dieuhanh_wall::render::text::{TextShaper, Weight};
use dieuhanh_wall::render::{Gpu, Image, OFFSCREEN_FORMAT, Offscreen, Renderer, ScreenMap};
use dieuhanh_wall::{render_scene, scene, snapshot, widgets};

fn gpu() -> Gpu {
    Gpu::headless().expect("a Vulkan adapter (lavapipe: apt install mesa-vulkan-drivers)")
}

fn load_layout(name: &str) -> Layout {
    let cat = Catalogue::load(&assets_dir()).expect("catalogue");
    layout::load(&assets_dir().join("layouts").join(name), &cat).expect("layout")
}

fn demo() -> (WallData, i64) {
    let path = snapshot::demo_path(&assets_dir());
    let file = snapshot::read(&path).expect("demo snapshot");
    let data = snapshot::load(&path).expect("demo snapshot");
    (data, file.taken_at_ms)
}

fn golden_dir() -> PathBuf {
    // cargo sets CARGO_MANIFEST_DIR when it runs the test: right even for a binary built in
    // another clone that shares the target dir.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("tests/golden")
}

/// Compares with the golden PNG: mean absolute error per channel ≤ 0.5 (of 255) and at most
/// 0.1 % of pixels off by more than 32 in any channel (one changed KPI figure is ~0.3 %). Lavapipe is deterministic for one Mesa
/// version; the bounds absorb rounding differences between versions, not a moved widget.
fn assert_golden(name: &str, image: &Image) {
    let path = golden_dir().join(format!("{name}.png"));
    if std::env::var_os("DIEUHANH_BLESS").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        image.write_png(&path).unwrap();
        eprintln!("blessed {}", path.display());
        return;
    }
    let want = Image::read_png(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; render it with DIEUHANH_BLESS=1 cargo test -p dieuhanh-wall --test render",
            path.display()
        )
    });
    assert_eq!(
        (want.width, want.height),
        (image.width, image.height),
        "{name}: size"
    );
    let mut total: u64 = 0;
    let mut far = 0usize;
    let mut diff = Vec::with_capacity(image.pixels.len());
    for (a, b) in image
        .pixels
        .chunks_exact(4)
        .zip(want.pixels.chunks_exact(4))
    {
        let mut worst = 0u8;
        for c in 0..3 {
            let d = a[c].abs_diff(b[c]);
            total += u64::from(d);
            worst = worst.max(d);
        }
        if worst > 32 {
            far += 1;
        }
        diff.extend_from_slice(&[worst.saturating_mul(4), 0, 0, 255]);
    }
    let pixels = (image.width * image.height) as usize;
    let mean = total as f64 / (pixels * 3) as f64;
    let far_share = far as f64 / pixels as f64;
    if mean > 0.5 || far_share > 0.001 {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let actual = out.join(format!("{name}.actual.png"));
        let diff_path = out.join(format!("{name}.diff.png"));
        image.write_png(&actual).unwrap();
        Image {
            width: image.width,
            height: image.height,
            pixels: diff,
        }
        .write_png(&diff_path)
        .unwrap();
        panic!(
            "{name}: differs from its golden (mean error {mean:.3}, {:.3} % of pixels far off); \
             see {} and {}",
            far_share * 100.0,
            actual.display(),
            diff_path.display()
        );
    }
}

/// The first scene of a shipped layout with the demo snapshot, at the wall's size or `size`.
fn render_first_scene(file: &str, size: Option<[u32; 2]>) -> Image {
    render_shipped_scene(file, None, size)
}

/// Scene `name` (else the first) of a shipped layout with the demo snapshot, at the wall's size
/// or `size`.
fn render_shipped_scene(file: &str, name: Option<&str>, size: Option<[u32; 2]>) -> Image {
    let gpu = gpu();
    let layout = load_layout(file);
    let sc = name.map_or(&layout.scenes[0], |n| layout.scene(n).expect("the scene"));
    let (data, taken) = demo();
    render_scene(&gpu, &layout, sc, &data, &RoomState::default(), taken, size).expect("render")
}

#[test]
fn desk_overview_matches_its_golden_image() {
    let image = render_first_scene("desk.toml", None);
    assert_eq!((image.width, image.height), (1920, 1080));
    assert_golden("desk-tong-quan", &image);
}

#[test]
fn national_wall_scaled_for_the_conference_feed_matches_its_golden_image() {
    let image = render_first_scene("national.toml", Some([1920, 1080]));
    assert_eq!((image.width, image.height), (1920, 1080));
    assert_golden("national-tong-quan-1080p", &image);
}

/// The social scene, with the poverty map beside its ranking, as the conference feed shows it.
#[test]
fn national_poverty_map_scaled_for_the_conference_feed_matches_its_golden_image() {
    let image = render_shipped_scene("national.toml", Some("xa-hoi"), Some([1920, 1080]));
    assert_eq!((image.width, image.height), (1920, 1080));
    assert_golden("national-xa-hoi-1080p", &image);
}

#[test]
fn no_text_is_drawn_under_a_bezel_in_any_example_scene() {
    let (data, taken) = demo();
    each_example_scene(
        &["national.toml", "room.toml"],
        &data,
        taken,
        &RoomState::default(),
        |file, layout, scene, list| {
            let bezels = layout.wall.bezel_strips();
            assert!(!bezels.is_empty(), "{file} has bezels");
            assert!(list.texts.len() > 20, "{file}/{scene}: text drawn");
            for run in &list.texts {
                let Some(visible) = run.rect.intersection(&run.clip) else {
                    continue;
                };
                for b in &bezels {
                    assert!(
                        !visible.intersects(b),
                        "{file}/{scene}: {:?} at {:?} runs under the bezel {b:?}",
                        run.key.text,
                        run.rect
                    );
                }
            }
        },
    );
}

#[test]
fn no_text_is_cut_by_its_panel_in_any_example_scene() {
    let mut cut = Vec::new();
    each_live_example_scene(|file, scene, list| {
        for run in &list.texts {
            let inside = run.rect.x >= run.clip.x - 1.0
                && run.rect.y >= run.clip.y - 1.0
                && run.rect.x + run.rect.w <= run.clip.x + run.clip.w + 1.0
                && run.rect.y + run.rect.h <= run.clip.y + run.clip.h + 1.0;
            if !inside {
                cut.push(format!(
                    "{file}/{scene}: {:?} at {:?} in {:?}",
                    run.key.text, run.rect, run.clip
                ));
            }
        }
    });
    assert!(
        cut.is_empty(),
        "text runs cut by their panel:\n{}",
        cut.join("\n")
    );
}

#[test]
fn no_two_texts_overlap_in_any_example_scene() {
    let mut overlaps = Vec::new();
    each_live_example_scene(|file, scene, list| {
        for (i, a) in list.texts.iter().enumerate() {
            for b in &list.texts[i + 1..] {
                // Line boxes include the font's leading: a tenth at each end may touch.
                let shrink = |r: Rect| Rect::new(r.x + 1.0, r.y + r.h * 0.1, r.w - 2.0, r.h * 0.8);
                if shrink(a.rect).intersects(&shrink(b.rect)) {
                    overlaps.push(format!(
                        "{file}/{scene}: {:?} at {:?} and {:?} at {:?}",
                        a.key.text, a.rect, b.key.text, b.rect
                    ));
                }
            }
        }
    });
    assert!(
        overlaps.is_empty(),
        "overlapping texts:\n{}",
        overlaps.join("\n")
    );
}

/// A chart's period labels ("T9/26", "Q3/26", "2025") stand apart: the latest one, pushed
/// inside the panel, does not crowd the one before it.
#[test]
fn period_labels_on_a_chart_axis_keep_a_gap_in_every_example_scene() {
    let is_period = |t: &str| {
        let t = t.trim_start_matches(['T', 'Q']);
        !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '/')
    };
    let mut crowded = Vec::new();
    each_live_example_scene(|file, scene, list| {
        let mut labels: Vec<&dieuhanh_wall::draw::TextRun> = list
            .texts
            .iter()
            .filter(|t| is_period(&t.key.text))
            .collect();
        labels.sort_by(|a, b| {
            (a.rect.y, a.rect.x)
                .partial_cmp(&(b.rect.y, b.rect.x))
                .unwrap()
        });
        for w in labels.windows(2) {
            let (a, b) = (w[0], w[1]);
            let same_axis = a.rect.y == b.rect.y && a.clip == b.clip;
            let gap = b.rect.x - (a.rect.x + a.rect.w);
            if same_axis && gap < a.rect.h * 0.2 {
                crowded.push(format!(
                    "{file}/{scene}: {:?} and {:?} are {gap:.1} px apart",
                    a.key.text, b.key.text
                ));
            }
        }
    });
    assert!(
        crowded.is_empty(),
        "crowded axis labels:\n{}",
        crowded.join("\n")
    );
}

/// While the data is stale, the badge does not squeeze a panel's headings: in every example
/// scene each heading keeps at least 70 % of the size it has when the data is live, and a KPI
/// tile's title keeps exactly its size (beside the badge on every tile, or under it on every
/// tile), so a row of tiles does not show titles at different sizes.
#[test]
fn the_stale_badge_leaves_headings_legible_in_every_example_scene() {
    let (data, now) = demo_with_changes(8);
    let mut squeezed = Vec::new();
    for file in ["national.toml", "room.toml", "desk.toml"] {
        let layout = load_layout(file);
        for sc in &layout.scenes {
            let live = compose(&layout, sc, &data, now, &RoomState::default());
            let stale = compose(
                &layout,
                sc,
                &data,
                now + 2 * 3_600_000,
                &RoomState::default(),
            );
            let mut kpi_title_rows = Vec::new();
            for (i, panel) in sc.panels.iter().enumerate() {
                if matches!(
                    panel.widget,
                    layout::WidgetKind::Header | layout::WidgetKind::Ticker
                ) {
                    continue;
                }
                let heads = |list: &DisplayList| -> Vec<(String, u32, f32)> {
                    list.texts[list.panels[i].texts.clone()]
                        .iter()
                        .take(2)
                        .map(|t| {
                            (
                                t.key.text.clone(),
                                t.key.size_eighths,
                                t.rect.y - panel.rect.y,
                            )
                        })
                        .collect()
                };
                let kpi = panel.widget == layout::WidgetKind::Kpi;
                for (n, ((text, size, top), (_, was, _))) in
                    heads(&stale).into_iter().zip(heads(&live)).enumerate()
                {
                    let least = if kpi && n == 0 { 1.0 } else { 0.7 };
                    if (size as f32) < was as f32 * least {
                        squeezed.push(format!(
                            "{file}/{}: {text:?} at {:.1} px instead of {:.1}",
                            sc.name,
                            size as f32 / 8.0,
                            was as f32 / 8.0
                        ));
                    }
                    if kpi && n == 0 {
                        kpi_title_rows.push((panel.rect.h, top));
                    }
                }
            }
            // Tiles of one height put their titles at one height.
            for (h, top) in &kpi_title_rows {
                for (h2, top2) in &kpi_title_rows {
                    if h == h2 && (top - top2).abs() > 0.5 {
                        squeezed.push(format!(
                            "{file}/{}: KPI titles {top} and {top2} below their tiles' tops",
                            sc.name
                        ));
                    }
                }
            }
        }
    }
    assert!(
        squeezed.is_empty(),
        "squeezed headings:\n{}",
        squeezed.join("\n")
    );
}

/// On the national wall a KPI's comparisons are read from across the room: well above the
/// `small` labels (they aim one size below the `huge` figure, `large`, and come out near
/// `medium` in tiles one eighth of the wall wide), and one size on every tile of a row,
/// whatever each says.
#[test]
fn national_kpi_comparisons_are_large_and_one_size_along_a_row() {
    let (data, now) = demo_with_changes(8);
    let layout = load_layout("national.toml");
    let small = layout.wall.text_px(layout::TextSize::Small);
    for sc in &layout.scenes {
        // A scene without tiles (the reports scene) has nothing to compare.
        if !sc
            .panels
            .iter()
            .any(|p| p.widget == layout::WidgetKind::Kpi)
        {
            continue;
        }
        let list = compose(&layout, sc, &data, now, &RoomState::default());
        let mut sizes = Vec::new();
        for (i, panel) in sc.panels.iter().enumerate() {
            if panel.widget != layout::WidgetKind::Kpi {
                continue;
            }
            for t in &list.texts[list.panels[i].texts.clone()] {
                if t.key.text.ends_with("so với cùng kỳ") {
                    sizes.push((panel.rect.h, t.key.size_px(), t.key.text.clone()));
                }
            }
        }
        assert!(sizes.len() >= 4, "{}: {sizes:?}", sc.name);
        for (h, size, text) in &sizes {
            assert!(*size > small * 1.4, "{}: {text:?} at {size} px", sc.name);
            for (h2, size2, text2) in &sizes {
                assert!(
                    h != h2 || size == size2,
                    "{}: {text:?} at {size} px, {text2:?} at {size2}",
                    sc.name
                );
            }
        }
    }
}

/// A table's figures keep one size down each column (a long one used to shrink alone): in
/// every example scene, the runs right-aligned on one edge below the heading share one size.
#[test]
fn table_figures_are_one_size_down_each_column_in_every_example_scene() {
    let (data, now) = demo_with_changes(8);
    let mut uneven = Vec::new();
    let mut columns = 0;
    each_example_panel(&data, now, |place, panel, texts| {
        if panel.widget != layout::WidgetKind::Table {
            return;
        }
        // (right edge, its runs: top, size in eighths of a pixel, text)
        type Run = (f32, u32, String);
        let mut by_edge: Vec<(i32, Vec<Run>)> = Vec::new();
        for t in texts {
            let edge = (t.rect.x + t.rect.w).round() as i32;
            let run = (t.rect.y, t.key.size_eighths, t.key.text.clone());
            match by_edge.iter_mut().find(|(e, _)| (e - edge).abs() <= 1) {
                Some((_, runs)) => runs.push(run),
                None => by_edge.push((edge, vec![run])),
            }
        }
        for (_, mut runs) in by_edge.into_iter().filter(|(_, r)| r.len() >= 3) {
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            columns += 1;
            // The first is the column's heading.
            let cells = &runs[1..];
            if cells.iter().any(|c| c.1 != cells[0].1) {
                uneven.push(format!("{place}: {cells:?}"));
            }
        }
    });
    assert!(columns >= 6, "only {columns} columns");
    assert!(uneven.is_empty(), "uneven:\n{}", uneven.join("\n"));
}

/// A chart's legend names its series in full: on one line when they fit, else over more lines,
/// in every example scene (none of them is so small that names must be cut).
#[test]
fn chart_legends_name_their_series_in_full_in_every_example_scene() {
    let (data, now) = demo_with_changes(8);
    let mut cut = Vec::new();
    let mut legends = 0;
    each_example_panel(&data, now, |place, panel, texts| {
        if !matches!(
            panel.widget,
            layout::WidgetKind::Line | layout::WidgetKind::Area
        ) || panel.indicators.len() < 2
        {
            return;
        }
        legends += 1;
        // A name that crosses a bezel is written as two runs, either side of it.
        let texts: Vec<&str> = texts.iter().map(|t| t.key.text.as_str()).collect();
        let joined = texts.join(" ");
        for code in &panel.indicators {
            let name = &data.indicators[code].name;
            if !joined.contains(name.as_str()) {
                cut.push(format!("{place}: {name:?} in {texts:?}"));
            }
        }
    });
    assert!(legends >= 3, "only {legends} legends");
    assert!(cut.is_empty(), "cut:\n{}", cut.join("\n"));
}

/// Every panel of every scene of the three example layouts, composed with `data` at `now`:
/// `check("file/scene", panel, the panel's text runs)`.
fn each_example_panel(
    data: &WallData,
    now: i64,
    mut check: impl FnMut(&str, &layout::Panel, &[dieuhanh_wall::draw::TextRun]),
) {
    for file in ["national.toml", "room.toml", "desk.toml"] {
        let layout = load_layout(file);
        for sc in &layout.scenes {
            let list = compose(&layout, sc, data, now, &RoomState::default());
            let place = format!("{file}/{}", sc.name);
            for (i, panel) in sc.panels.iter().enumerate() {
                check(&place, panel, &list.texts[list.panels[i].texts.clone()]);
            }
        }
    }
}

/// The comparison with the same period last year is a KPI tile's point: wherever the data has
/// one, every example scene draws it, live and while stale (headings under the badge), with a
/// presenter's focus and filter or without.
#[test]
fn a_kpi_tile_never_drops_its_comparison_with_last_year() {
    let (data, now) = demo_with_changes(8);
    let presented = RoomState {
        focus_unit: Some("79".into()),
        agency: Some("BTC".into()),
        ..RoomState::default()
    };
    let mut dropped = Vec::new();
    let mut checked = 0;
    for file in ["national.toml", "room.toml", "desk.toml"] {
        let layout = load_layout(file);
        for sc in &layout.scenes {
            for (at, room) in [
                (now, RoomState::default()),
                (now + 2 * 3_600_000, RoomState::default()),
                (now, presented.clone()),
            ] {
                let list = compose(&layout, sc, &data, at, &room);
                let ctx = widgets::Ctx {
                    layout: &layout,
                    scene: sc,
                    data: &data,
                    room: &room,
                    now_ms: at,
                };
                for (i, panel) in sc.panels.iter().enumerate() {
                    if panel.widget != layout::WidgetKind::Kpi {
                        continue;
                    }
                    let Some((yoy, ..)) = widgets::kpi::facts(&ctx, panel).yoy else {
                        continue;
                    };
                    checked += 1;
                    if !list.texts[list.panels[i].texts.clone()]
                        .iter()
                        .any(|t| t.key.text == yoy)
                    {
                        dropped.push(format!("{file}/{}: {yoy:?} at {at}", sc.name));
                    }
                }
            }
        }
    }
    assert!(checked >= 30, "only {checked} tiles with a comparison");
    assert!(dropped.is_empty(), "dropped:\n{}", dropped.join("\n"));
}

/// [`each_example_scene`] over all three example layouts, with live changes in the data (so the
/// ticker has items and a KPI glows): as they come, two hours later (so every panel wears its
/// stale badge), and with a presenter's focus on Hồ Chí Minh and filter on the finance ministry.
fn each_live_example_scene(mut check: impl FnMut(&str, &str, &DisplayList)) {
    let (data, now) = demo_with_changes(8);
    let files = ["national.toml", "room.toml", "desk.toml"];
    let presented = RoomState {
        focus_unit: Some("79".into()),
        agency: Some("BTC".into()),
        ..RoomState::default()
    };
    for (at, room) in [
        (now, RoomState::default()),
        (now + 2 * 3_600_000, RoomState::default()),
        (now, presented),
    ] {
        each_example_scene(&files, &data, at, &room, |file, _, scene, list| {
            check(file, scene, list)
        });
    }
}

/// Composes every scene of the example layouts `files` with `data` at `now`, and hands each
/// display list to `check` with the file, the layout and the scene's name.
fn each_example_scene(
    files: &[&str],
    data: &WallData,
    now: i64,
    room: &RoomState,
    mut check: impl FnMut(&str, &Layout, &str, &DisplayList),
) {
    for file in files {
        let layout = load_layout(file);
        for s in &layout.scenes {
            check(
                file,
                &layout,
                &s.name,
                &compose(&layout, s, data, now, room),
            );
        }
    }
}

/// The display list of scene `sc` with `data` at `now` in `room`'s state.
fn compose(
    layout: &Layout,
    sc: &layout::Scene,
    data: &WallData,
    now: i64,
    room: &RoomState,
) -> DisplayList {
    let mut shaper = TextShaper::new();
    let mut list = DisplayList::default();
    scene::compose(layout, sc, data, room, now, &mut shaper, &mut list);
    list
}

/// The text runs (text, box) drawn on the national overview's panel of kind `widget`, with the
/// panel's rectangle and the wall's bezel strips.
fn national_runs(
    widget: layout::WidgetKind,
    data: &WallData,
    now: i64,
) -> (Vec<(String, Rect)>, Rect, Vec<Rect>) {
    let layout = load_layout("national.toml");
    let sc = &layout.scenes[0];
    let panel = sc
        .panels
        .iter()
        .find(|p| p.widget == widget)
        .unwrap_or_else(|| panic!("a {widget:?} panel on the first national scene"));
    let runs = compose(&layout, sc, data, now, &RoomState::default())
        .texts
        .iter()
        .filter(|t| t.rect.intersects(&panel.rect))
        .map(|t| (t.key.text.clone(), t.rect))
        .collect();
    (runs, panel.rect, layout.wall.bezel_strips())
}

/// The texts of the national overview's ranked bars of budget revenue by province.
fn national_bars(data: &WallData, now: i64) -> Vec<String> {
    let (runs, ..) = national_runs(layout::WidgetKind::Bars, data, now);
    runs.into_iter().map(|(t, _)| t).collect()
}

#[test]
fn ranked_bars_name_the_provinces_that_have_not_reported_until_they_do() {
    let (mut data, taken) = demo();
    let period = data.latest_period("NS01", "VN", None, None).unwrap();
    let missing: Vec<(String, String)> = data
        .children("VN", "province")
        .into_iter()
        .filter(|u| data.value("NS01", &u.code, period).is_none())
        .map(|u| (u.code.clone(), u.name.clone()))
        .collect();
    assert_eq!(
        missing.len(),
        1,
        "the demo has one late province: {missing:?}"
    );
    let (code, name) = &missing[0];
    let runs = national_bars(&data, taken);
    let note = format!("Chưa báo cáo (1): {name}");
    assert!(runs.contains(&note), "{note:?} in {runs:?}");
    assert!(!runs.contains(name), "{name} is not ranked yet: {runs:?}");
    // Its report arrives: it is ranked, and the note goes.
    one_cell_delta(
        &mut data,
        Cell {
            i: "NS01".into(),
            u: code.clone(),
            p: period,
            v: Some(1234.0),
            c: None,
        },
        taken,
    );
    let runs = national_bars(&data, taken);
    assert!(runs.contains(name), "{name} ranked: {runs:?}");
    assert!(
        !runs.iter().any(|t| t.starts_with("Chưa báo cáo")),
        "{runs:?}"
    );
}

/// Applies a delta of one cell, at the version after the data's.
fn one_cell_delta(data: &mut WallData, cell: Cell, at_ms: i64) {
    let version = data.version + 1;
    data.apply(
        &ServerMessage::Delta {
            id: "t".into(),
            from_version: version - 1,
            version,
            cells: vec![cell],
        },
        at_ms,
    );
}

/// The demo snapshot after `changes` pushed figures of the nation's budget revenue (NS01), a
/// second apart, and the time just after the last.
fn demo_with_changes(changes: usize) -> (WallData, i64) {
    let (mut data, taken) = demo();
    let period = data
        .latest_period("NS01", "VN", None, None)
        .expect("NS01 for VN in the demo");
    let base = data.value("NS01", "VN", period).unwrap_or(0.0);
    for k in 0..changes {
        let version = data.version + 1;
        let delta = ServerMessage::Delta {
            id: "t".into(),
            from_version: version - 1,
            version,
            cells: vec![Cell {
                i: "NS01".into(),
                u: "VN".into(),
                p: period,
                v: Some(base + 1000.0 * (k + 1) as f64),
                c: None,
            }],
        };
        data.apply(&delta, taken + 1000 * k as i64);
    }
    (data, taken + 1000 * changes as i64)
}

/// The text runs drawn inside the national wall's ticker (label included), after `changes`
/// pushed figures of the nation's budget revenue.
fn national_ticker(changes: usize) -> (Vec<(String, Rect)>, Rect, Vec<Rect>) {
    let (data, now) = demo_with_changes(changes);
    national_runs(layout::WidgetKind::Ticker, &data, now)
}

#[test]
fn ticker_items_on_a_multi_screen_wall_stay_whole_on_the_panel_between_bezels() {
    for changes in [0, 8] {
        let (runs, panel, bezels) = national_ticker(changes);
        let first_bezel = bezels
            .iter()
            .filter(|b| b.h > b.w && b.intersects(&panel))
            .map(|b| b.x)
            .fold(f32::MAX, f32::min);
        assert!(runs.len() >= 2, "label and at least one item: {runs:?}");
        for (text, r) in &runs {
            assert!(
                r.x >= panel.x && r.x + r.w <= panel.x + panel.w,
                "{changes} changes: {text:?} at {r:?} leaves the ticker {panel:?}"
            );
            for b in &bezels {
                assert!(!r.intersects(b), "{text:?} at {r:?} runs under {b:?}");
            }
        }
        // Something follows the label on the first screen, and short texts are never cut.
        assert!(
            runs.iter().skip(1).any(|(_, r)| r.x < first_bezel),
            "{changes} changes: the first screen holds only the label: {runs:?}"
        );
        if changes == 0 {
            assert!(runs.iter().all(|(t, _)| !t.contains('…')), "{runs:?}");
        } else {
            assert!(runs.len() >= 4, "items on several screens: {runs:?}");
            // The newest change is whole: its figure shows, and only the line's end is cut.
            assert!(runs.iter().any(|(t, _)| t.ends_with("(tăng)")), "{runs:?}");
            let cut = runs.iter().filter(|(t, _)| t.contains('…')).count();
            assert!(cut <= 1 && (cut == 0 || runs.last().unwrap().0.ends_with('…')));
        }
    }
}

/// A one-tile wall with two indicators: a rise of a higher-is-better one, a rise of a
/// lower-is-better one.
fn tile_data(code: &str, higher_is_better: bool, now: f64, last_year: f64) -> WallData {
    let mut d = WallData::default();
    let p = Period::parse("2025-08").unwrap();
    d.apply(
        &ServerMessage::Snapshot {
            id: "t".into(),
            version: 1,
            reason: "subscribe".into(),
            indicators: vec![IndicatorInfo {
                code: code.into(),
                name: "Chỉ tiêu thử".into(),
                unit: "tỷ đồng".into(),
                decimals: 1,
                higher_is_better: Some(higher_is_better),
                frequency: None,
                agency: None,
                target: None,
            }],
            units: vec![UnitInfo {
                code: "VN".into(),
                name: "Toàn quốc".into(),
                level: "nation".into(),
                parent: None,
            }],
            periods: vec![p],
            cells: [(p, now), (p.same_period_last_year(), last_year)]
                .map(|(p, v)| Cell {
                    i: code.into(),
                    u: "VN".into(),
                    p,
                    v: Some(v),
                    c: None,
                })
                .to_vec(),
        },
        0,
    );
    d.feed = Feed::Live { since_ms: 0 };
    d
}

/// One 27-inch screen of `w` × `h` px, no bezel, and one scene whose one panel fills it
/// (`panel`: the panel's keys besides its place).
fn one_screen_layout(w: u32, h: u32, panel: &str) -> Layout {
    let cat = Catalogue::load(&assets_dir()).unwrap();
    let text = format!(
        r#"
[wall]
name = "thử"
rows = 1
columns = 1
screen_width_px = {w}
screen_height_px = {h}
screen_width_mm = 597.9
screen_height_mm = 336.3
bezel_mm = 0

[[output]]
name = "a"
row = 0
column = 0

[[scene]]
name = "mot"
title = "Một ô"

[[scene.panel]]
row = 0
column = 0
rows = 1
columns = 1
{panel}
"#
    );
    layout::parse(&text, Path::new("one.toml"), &cat).expect("one-screen layout")
}

fn tile_layout(code: &str) -> Layout {
    one_screen_layout(
        800,
        450,
        &format!(
            "widget = \"kpi\"\nindicator = \"{code}\"\nperiod = \"2025-08\"\ntext = \"large\""
        ),
    )
}

/// The colour of the KPI tile's arrow, read from the rendered pixels at the arrow's head.
fn arrow_pixel(code: &str, higher_is_better: bool, now: f64, last_year: f64) -> [u8; 4] {
    let gpu = gpu();
    let layout = tile_layout(code);
    let data = tile_data(code, higher_is_better, now, last_year);
    let mut shaper = TextShaper::new();
    let mut list = DisplayList::default();
    scene::compose(
        &layout,
        &layout.scenes[0],
        &data,
        &RoomState::default(),
        0,
        &mut shaper,
        &mut list,
    );
    // The arrow is the only shape in the good/bad colours.
    let arrow: Vec<[f32; 2]> = list
        .vertices
        .iter()
        .filter(|v| v.color == theme::GOOD.0 || v.color == theme::BAD.0)
        .map(|v| v.position)
        .collect();
    assert!(arrow.len() >= 3, "an arrow is drawn");
    // Centroid of the head triangle (the first three vertices).
    let c = [
        (arrow[0][0] + arrow[1][0] + arrow[2][0]) / 3.0,
        (arrow[0][1] + arrow[1][1] + arrow[2][1]) / 3.0,
    ];
    let (screens, size) = scene::wall_screens(&layout);
    let mut renderer = Renderer::new(&gpu, OFFSCREEN_FORMAT);
    let off = Offscreen::new(&gpu, size).unwrap();
    renderer
        .prepare(&gpu, &mut shaper, &list, theme::BACKGROUND, &screens, size)
        .unwrap();
    let image = off.capture(&gpu, &renderer).unwrap();
    image.pixel(c[0].round() as u32, c[1].round() as u32)
}

fn close(a: [u8; 4], b: dieuhanh_wall::draw::Color) -> bool {
    let b = b.to_rgba8();
    (0..3).all(|i| a[i].abs_diff(b[i]) <= 6)
}

#[test]
fn kpi_arrow_is_green_for_a_rise_of_a_higher_is_better_indicator() {
    let px = arrow_pixel("NS01", true, 110.0, 100.0);
    assert!(close(px, theme::GOOD), "{px:?}");
}

#[test]
fn kpi_arrow_is_red_for_a_rise_of_a_lower_is_better_indicator() {
    let px = arrow_pixel("DN03", false, 2400.0, 2200.0);
    assert!(close(px, theme::BAD), "{px:?}");
}

/// A figure level with last year ("0,0%") points neither up nor down: the tile draws a level
/// bar in the muted colour, no arrow (an arrow of either colour would be news that is not).
#[test]
fn kpi_tile_level_with_last_year_draws_a_bar_not_an_arrow() {
    let layout = tile_layout("NS01");
    let data = tile_data("NS01", true, 100.0, 100.0);
    let list = compose(&layout, &layout.scenes[0], &data, 0, &RoomState::default());
    let texts: Vec<&str> = list.texts.iter().map(|t| t.key.text.as_str()).collect();
    assert!(
        texts.contains(&"0,0% so với cùng kỳ"),
        "the comparison is written: {texts:?}"
    );
    let coloured =
        |c: dieuhanh_wall::draw::Color| list.vertices.iter().filter(|v| v.color == c.0).count();
    assert_eq!(coloured(theme::GOOD) + coloured(theme::BAD), 0, "no arrow");
    let muted: Vec<[f32; 2]> = list
        .vertices
        .iter()
        .filter(|v| v.color == theme::MUTED.0)
        .map(|v| v.position)
        .collect();
    // A rectangle: two triangles, wider than tall.
    assert_eq!(muted.len(), 6, "one level bar: {muted:?}");
    let (w, h) = muted.iter().fold((0.0_f32, 0.0_f32), |(w, h), p| {
        (
            w.max((p[0] - muted[0][0]).abs()),
            h.max((p[1] - muted[0][1]).abs()),
        )
    });
    assert!(w > 3.0 * h, "{w} × {h}");
}

/// Renders one line of text on a plain background.
fn render_text(gpu: &Gpu, text: &str, size: [u32; 2]) -> Image {
    let mut shaper = TextShaper::new();
    let mut list = DisplayList::default();
    list.text(
        &mut shaper,
        text,
        10.0,
        10.0,
        TextStyle::new(64.0, Weight::Regular, theme::TEXT),
        None,
    );
    let target = Rect::new(0.0, 0.0, size[0] as f32, size[1] as f32);
    let screens = [ScreenMap {
        canvas: target,
        target,
    }];
    let mut renderer = Renderer::new(gpu, OFFSCREEN_FORMAT);
    let off = Offscreen::new(gpu, size).unwrap();
    renderer
        .prepare(gpu, &mut shaper, &list, theme::BACKGROUND, &screens, size)
        .unwrap();
    off.capture(gpu, &renderer).unwrap()
}

/// Rows and columns holding ink (pixels much brighter than the background).
fn ink(image: &Image) -> Vec<(u32, u32)> {
    let bg = theme::BACKGROUND.to_rgba8();
    let mut out = Vec::new();
    for y in 0..image.height {
        for x in 0..image.width {
            let p = image.pixel(x, y);
            if (0..3).map(|i| u32::from(p[i].abs_diff(bg[i]))).sum::<u32>() > 120 {
                out.push((x, y));
            }
        }
    }
    out
}

#[test]
fn vietnamese_diacritics_are_drawn_above_their_letters() {
    let gpu = gpu();
    let mut shaper = TextShaper::new();
    let sample = "Quý III/2025 · Đắk Lắk, Thừa Thiên Huế, Hồ Chí Minh — ước tính, lũy kế";
    let key = shaper.key(sample, 64.0, Weight::Regular);
    assert!(
        shaper.glyphs(&key).iter().all(|g| g.0 != 0),
        "every character has a glyph in Be Vietnam Pro (no .notdef boxes)"
    );

    // "e" and "ế": the marks add ink above the letter, horizontally over it.
    let e = ink(&render_text(&gpu, "e", [120, 120]));
    let e_hat = ink(&render_text(&gpu, "ế", [120, 120]));
    let top = |ink: &[(u32, u32)]| ink.iter().map(|p| p.1).min().unwrap();
    let (e_top, hat_top) = (top(&e), top(&e_hat));
    assert!(
        hat_top + 12 < e_top,
        "the circumflex and acute sit above the e ({hat_top} vs {e_top})"
    );
    let e_left = e.iter().map(|p| p.0).min().unwrap();
    let e_right = e.iter().map(|p| p.0).max().unwrap();
    let marks: Vec<u32> = e_hat
        .iter()
        .filter(|p| p.1 < e_top - 2)
        .map(|p| p.0)
        .collect();
    let mark_centre = marks.iter().sum::<u32>() as f32 / marks.len() as f32;
    assert!(
        (e_left as f32..=e_right as f32 + 8.0).contains(&mark_centre),
        "the marks are over the letter: centre {mark_centre} within {e_left}..{e_right}"
    );

    // Without diacritics the line looks different; decomposed input (NFD) looks the same.
    let full = render_text(&gpu, "Thừa Thiên Huế", [700, 110]);
    let bare = render_text(&gpu, "Thua Thien Hue", [700, 110]);
    assert_ne!(full.pixels, bare.pixels);
    let nfd = render_text(
        &gpu,
        "Thu\u{31b}\u{300}a Thie\u{302}n Hue\u{302}\u{301}",
        [700, 110],
    );
    assert_eq!(
        full.pixels, nfd.pixels,
        "text is NFC-normalised before shaping"
    );
}

#[test]
fn the_shape_and_text_shaders_are_valid_wgsl() {
    for (name, src) in [
        ("shape.wgsl", include_str!("../shaders/shape.wgsl")),
        ("text.wgsl", include_str!("../shaders/text.wgsl")),
    ] {
        let module = naga::front::wgsl::parse_str(src)
            .unwrap_or_else(|e| panic!("{name} does not parse: {}", e.emit_to_string(src)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name} does not validate: {e:?}"));
    }
}

#[test]
fn a_kpi_tile_says_its_figure_period_and_comparison_in_vietnamese() {
    let layout = tile_layout("NS01");
    let data = tile_data("NS01", true, 1234567.8, 1000000.0);
    let ctx = widgets::Ctx {
        layout: &layout,
        scene: &layout.scenes[0],
        data: &data,
        room: &RoomState::default(),
        now_ms: 0,
    };
    let f = widgets::kpi::facts(&ctx, &layout.scenes[0].panels[0]);
    assert_eq!(f.value.as_deref(), Some("1.234.567,8"));
    assert_eq!(f.subtitle, "Toàn quốc · Tháng 8/2025");
    let (text, up, colour) = f.yoy.unwrap();
    assert_eq!(text, "+23,5% so với cùng kỳ");
    assert_eq!(up, Some(true));
    assert_eq!(colour, theme::GOOD);
}

/// Be Vietnam Pro's digits have different widths, and a KPI figure is fitted to its tile: fitted
/// by its own digits, a figure counting up to a new value took another size nearly every frame
/// ("209.653" 47 px, "210.731" 55 px), and the figure pulsed on the wall. Fitted by its shape,
/// it keeps one size through the count, and so does its unit.
#[test]
fn a_kpi_figure_keeps_its_size_while_it_counts_up_to_a_new_value() {
    let layout = load_layout("desk.toml");
    let (mut data, taken) = demo();
    let (scene, i) = layout
        .scenes
        .iter()
        .find_map(|s| {
            let i = s
                .panels
                .iter()
                .position(|p| p.widget == layout::WidgetKind::Kpi && p.indicators == ["NS01"])?;
            Some((s, i))
        })
        .expect("a budget revenue tile");
    let room = RoomState::default();
    let period = data
        .latest_period("NS01", "VN", None, None)
        .expect("NS01 for VN in the demo");
    let set = |data: &mut WallData, v: f64, at: i64| {
        let cell = Cell {
            i: "NS01".into(),
            u: "VN".into(),
            p: period,
            v: Some(v),
            c: None,
        };
        one_cell_delta(data, cell, at);
    };
    // Seven digits' shape either way; the count passes through narrow ones ("1") and wide ones.
    set(&mut data, 209_653.0, taken);
    let changed = taken + 5_000;
    set(&mut data, 211_171.0, changed);
    let mut figures = Vec::new();
    let mut units = Vec::new();
    for ms in (0..=widgets::ANIMATE_MS + 100).step_by(50) {
        let list = compose(&layout, scene, &data, changed + ms, &room);
        let runs = &list.texts[list.panels[i].texts.clone()];
        let figure = runs
            .iter()
            .filter(|r| r.key.weight == Weight::Bold)
            .max_by_key(|r| r.key.size_eighths)
            .expect("the figure");
        assert!(
            figure
                .key
                .text
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.'),
            "{:?} is the figure",
            figure.key.text
        );
        let unit = runs
            .iter()
            .find(|r| r.key.text == "tỷ đồng")
            .expect("the unit");
        figures.push((figure.key.text.clone(), figure.key.size_px()));
        units.push(unit.key.size_px());
    }
    let texts: std::collections::BTreeSet<&str> = figures.iter().map(|f| f.0.as_str()).collect();
    assert!(texts.len() > 10, "the figure counts up: {texts:?}");
    assert_eq!(figures.last().map(|f| f.0.as_str()), Some("211.171"));
    assert!(
        figures.iter().all(|f| f.1 == figures[0].1),
        "one size through the count: {figures:?}"
    );
    assert!(
        units.iter().all(|u| *u == units[0]),
        "the unit keeps its size: {units:?}"
    );
}

/// While changed figures count up to their new values, no text on any example scene changes
/// size: each panel draws the same sizes at every frame of the count (its texts change, their
/// sizes do not), so nothing on the wall pulses.
#[test]
fn no_text_changes_size_while_figures_count_up_on_any_example_scene() {
    let mut uneven = Vec::new();
    for file in ["national.toml", "room.toml", "desk.toml"] {
        let layout = load_layout(file);
        for scene in &layout.scenes {
            let (mut data, taken) = demo();
            let room = RoomState::default();
            // Every indicator of the scene changes for the nation and for its first province:
            // up by 7.3 % (a figure's digits all move, its digit count mostly does not).
            let codes: std::collections::BTreeSet<&str> = scene
                .panels
                .iter()
                .flat_map(|p| p.indicators.iter().map(String::as_str))
                .collect();
            let changed = taken + 5_000;
            for code in codes {
                for unit in ["VN", "01"] {
                    let Some(p) = data.latest_period(code, unit, None, None) else {
                        continue;
                    };
                    let Some(v) = data.value(code, unit, p) else {
                        continue;
                    };
                    let cell = Cell {
                        i: code.into(),
                        u: unit.into(),
                        p,
                        v: Some(v * 1.073),
                        c: None,
                    };
                    one_cell_delta(&mut data, cell, changed);
                }
            }
            let sizes = |ms: i64| {
                let list = compose(&layout, scene, &data, changed + ms, &room);
                list.panels
                    .iter()
                    .map(|m| {
                        let mut s: Vec<u32> = list.texts[m.texts.clone()]
                            .iter()
                            .map(|t| t.key.size_eighths)
                            .collect();
                        s.sort_unstable();
                        s
                    })
                    .collect::<Vec<_>>()
            };
            let first = sizes(0);
            for ms in (50..=widgets::ANIMATE_MS).step_by(50) {
                for (i, s) in sizes(ms).iter().enumerate() {
                    if *s != first[i] {
                        uneven.push(format!(
                            "{file}/{}: panel {i} ({:?}) at +{ms} ms: {:?} then {:?}",
                            scene.name, scene.panels[i].widget, first[i], s
                        ));
                    }
                }
            }
        }
    }
    assert!(uneven.is_empty(), "{}", uneven.join("\n"));
}

/// The first reports of a month make a national total of a province or two: the KPI tile keeps
/// the last month that most units have reported, says how far the new one has got, and moves
/// on once 80 % are in. The totals' coverage arrives with the deltas.
#[test]
fn a_kpi_tile_waits_for_most_units_before_showing_a_new_month() {
    let layout = load_layout("desk.toml");
    let (mut data, taken) = demo();
    let scene = &layout.scenes[0];
    let (i, panel) = scene
        .panels
        .iter()
        .enumerate()
        .find(|(_, p)| p.widget == layout::WidgetKind::Kpi && p.indicators == ["NS01"])
        .expect("the budget revenue tile");
    let room = RoomState::default();
    let facts = |data: &WallData| {
        let ctx = widgets::Ctx {
            layout: &layout,
            scene,
            data,
            room: &room,
            now_ms: taken,
        };
        widgets::kpi::facts(&ctx, panel)
    };
    let shown = facts(&data);
    let month = shown.period.expect("a period");
    let next = month.next();
    let push = |data: &mut WallData, v: f64, got: u32| {
        let cell = Cell {
            i: "NS01".into(),
            u: "VN".into(),
            p: next,
            v: Some(v),
            c: Some([got, 34]),
        };
        one_cell_delta(data, cell, taken);
    };
    push(&mut data, 3_000.0, 1);
    let early = facts(&data);
    assert_eq!(
        early.period,
        Some(month),
        "one province in: the last month stays"
    );
    assert_eq!(early.value, shown.value);
    assert_eq!(
        early.coverage.as_deref(),
        Some(format!("{}: 1/34 đơn vị đã báo cáo", next.label_vi()).as_str())
    );
    let list = compose(&layout, scene, &data, taken, &room);
    let texts: Vec<&str> = list.texts[list.panels[i].texts.clone()]
        .iter()
        .map(|t| t.key.text.as_str())
        .collect();
    assert!(
        texts.iter().any(|t| t.ends_with("1/34 đơn vị đã báo cáo")),
        "{texts:?}"
    );
    push(&mut data, 200_000.0, 28);
    assert_eq!(
        facts(&data).period,
        Some(next),
        "28 of 34 in: the new month shows"
    );
}

/// The demo's October has 33 of 34 provinces in: Thái Nguyên, a large exporter, is late. Its
/// national exports against last October's 34 provinces would read as a growth far below the
/// plan; the tile compares the same 33 provinces in both years, and its plan line the same
/// growth. A figure that does not add up (the consumer price index) is compared as it is.
#[test]
fn a_total_missing_a_province_is_compared_with_the_same_provinces_a_year_before() {
    let layout = load_layout("national.toml");
    let (data, taken) = demo();
    let scene = &layout.scenes[0];
    let room = RoomState::default();
    let ctx = widgets::Ctx {
        layout: &layout,
        scene,
        data: &data,
        room: &room,
        now_ms: taken,
    };
    let tile = |code: &str| {
        let panel = scene
            .panels
            .iter()
            .find(|p| p.widget == layout::WidgetKind::Kpi && p.indicators == [code])
            .expect("the tile");
        (panel, widgets::kpi::facts(&ctx, panel))
    };
    let (_, exports) = tile("VM02");
    let p = exports.period.expect("a month");
    let [got, expected] = data.get("VM02", "VN", p).unwrap().coverage.unwrap();
    assert!(got < expected, "a province is late in the demo");
    // Growth over the provinces with a value in both years, summed here from their own cells;
    // and as the national totals make it.
    let growth = |now: Period| {
        let before = now.same_period_last_year();
        let (mut a, mut b) = (0.0, 0.0);
        for u in data.children("VN", "province") {
            if let (Some(x), Some(y)) = (
                data.value("VM02", &u.code, now),
                data.value("VM02", &u.code, before),
            ) {
                a += x;
                b += y;
            }
        }
        let naive =
            data.value("VM02", "VN", now).unwrap() / data.value("VM02", "VN", before).unwrap();
        ((a / b - 1.0) * 100.0, (naive - 1.0) * 100.0)
    };
    let (like_for_like, naive) = growth(p);
    assert!(
        like_for_like - naive > 2.0,
        "{like_for_like} against {naive}"
    );
    let (yoy, ..) = exports.yoy.expect("a comparison");
    let said = format!(
        "+{} so với cùng kỳ",
        dieuhanh_protocol::number::format_percent_vi(like_for_like, 1, false)
    );
    assert_eq!(yoy, said);
    // The year's plan is held against the growth since January, over the same provinces too.
    let plan_growth = data.indicators["VM02"]
        .target
        .as_ref()
        .and_then(|t| t.for_year(p.year()))
        .expect("a growth plan");
    let (so_far, naive_so_far) = growth(p.ytd());
    assert!(
        so_far - naive_so_far > 0.1,
        "{so_far} against {naive_so_far}"
    );
    let Period::Month { month, .. } = p else {
        panic!("a month: {p:?}")
    };
    let percent = |v| dieuhanh_protocol::number::format_percent_vi(v, 1, true);
    assert_eq!(
        exports.target.as_deref(),
        Some(
            format!(
                "{month} tháng {}, kế hoạch {}",
                percent(so_far),
                percent(plan_growth)
            )
            .as_str()
        ),
        "the plan line holds the growth since January, like for like"
    );
    // Prices: a ceiling, on the average since January as it stands.
    let (_, cpi) = tile("VM01");
    let Some(Period::Month { month, year }) = cpi.period else {
        panic!("a month: {:?}", cpi.period)
    };
    let cpi_ytd = Period::YearToDate { year, month };
    let cpi_so_far = (data.value("VM01", "VN", cpi_ytd).unwrap()
        / data
            .value("VM01", "VN", cpi_ytd.same_period_last_year())
            .unwrap()
        - 1.0)
        * 100.0;
    let cpi_plan = data.indicators["VM01"]
        .target
        .as_ref()
        .unwrap()
        .for_year(year)
        .unwrap();
    assert_eq!(
        cpi.target.as_deref(),
        Some(
            format!(
                "{month} tháng {}, kế hoạch ≤ {}",
                percent(cpi_so_far),
                percent(cpi_plan)
            )
            .as_str()
        )
    );
    // The scene's units view is what brings those provinces to a running wall.
    let views = scene::subscriptions(&layout, &room, taken);
    let units: Vec<_> = views
        .iter()
        .filter(|(id, _)| id.starts_with(&format!("{}/units/", scene.name)))
        .map(|(_, v)| v)
        .collect();
    let with = |code: &str| {
        units
            .iter()
            .find(|v| v.indicators.iter().any(|i| i == code))
    };
    let exports_units = with("VM02").expect("a units view with the exports");
    assert_eq!(exports_units.children_of.as_deref(), Some("VN"));
    assert_eq!(exports_units.level.as_deref(), Some("province"));
    assert!(exports_units.comparisons, "last year's too");
    // The price index does not add up: in no units view, the comparison as held.
    let (_, cpi) = tile("VM01");
    assert!(with("VM01").is_none());
    assert!(cpi.yoy.is_some());
}

/// The demo snapshot shipped for previews is sample data: however old, no panel is badged stale,
/// and the header says the figures are samples, so a preview image cannot pass for the
/// country's figures.
#[test]
fn the_demo_preview_is_never_badged_stale_and_says_its_figures_are_samples() {
    let (mut data, taken) = demo();
    data.feed = Feed::Demo;
    let month_later = taken + 30 * 86_400_000;
    for file in ["national.toml", "room.toml", "desk.toml"] {
        let layout = load_layout(file);
        for sc in &layout.scenes {
            let list = compose(&layout, sc, &data, month_later, &RoomState::default());
            let texts: Vec<&str> = list.texts.iter().map(|t| t.key.text.as_str()).collect();
            assert!(
                !texts
                    .iter()
                    .any(|t| t.starts_with("Dữ liệu cũ") || t.starts_with("Chưa có dữ liệu trực")),
                "{file}/{}: {texts:?}",
                sc.name
            );
            if sc
                .panels
                .iter()
                .any(|p| p.widget == layout::WidgetKind::Header)
            {
                assert!(
                    texts.iter().any(|t| t.starts_with("Số liệu mẫu")),
                    "{file}/{}: {texts:?}",
                    sc.name
                );
            }
        }
    }
}

#[test]
fn data_older_than_the_layout_allows_is_badged_stale_on_every_panel_and_live_data_is_not() {
    let layout = load_layout("desk.toml");
    let (mut data, taken) = demo();
    let mut shaper = TextShaper::new();
    let mut list = DisplayList::default();
    let scene = &layout.scenes[0];
    let badges = |list: &DisplayList| {
        list.texts
            .iter()
            .filter(|t| t.key.text.starts_with("Dữ liệu cũ từ"))
            .count()
    };
    let data_panels = scene
        .panels
        .iter()
        .filter(|p| p.widget != layout::WidgetKind::Header)
        .count();

    data.feed = Feed::Live { since_ms: taken };
    let much_later = taken + layout.stale_after.as_millis() as i64 + 60_000;
    scene::compose(
        &layout,
        scene,
        &data,
        &RoomState::default(),
        much_later,
        &mut shaper,
        &mut list,
    );
    assert_eq!(badges(&list), 0, "live data is never badged");

    // The connection dropped at `taken`; the limit has passed.
    data.feed = Feed::Down {
        since_ms: taken,
        reason: "test".into(),
    };
    scene::compose(
        &layout,
        scene,
        &data,
        &RoomState::default(),
        taken + 60_000,
        &mut shaper,
        &mut list,
    );
    assert_eq!(
        badges(&list),
        0,
        "a short outage within the limit is not yet stale"
    );
    scene::compose(
        &layout,
        scene,
        &data,
        &RoomState::default(),
        much_later,
        &mut shaper,
        &mut list,
    );
    assert_eq!(
        badges(&list),
        data_panels,
        "every data panel says it is stale"
    );
    let header: Vec<_> = list
        .texts
        .iter()
        .filter(|t| t.key.text.starts_with("Mất kết nối từ"))
        .collect();
    assert_eq!(header.len(), 1, "the header says the connection is lost");
}

#[test]
fn a_frame_redrawing_only_changed_panels_equals_a_full_redraw() {
    let gpu = gpu();
    let layout = load_layout("national.toml");
    let (mut data, taken) = demo();
    let scene = &layout.scenes[0];
    let room = RoomState::default();
    let (screens, size) = scene::wall_screens(&layout);
    let mut shaper = TextShaper::new();
    let mut list = DisplayList::default();
    let mut retained = Renderer::new(&gpu, OFFSCREEN_FORMAT);
    retained.retained = true;
    let off = Offscreen::new(&gpu, size).unwrap();
    scene::compose(&layout, scene, &data, &room, taken, &mut shaper, &mut list);
    retained
        .prepare(&gpu, &mut shaper, &list, theme::BACKGROUND, &screens, size)
        .unwrap();
    assert!(
        retained.damage().is_empty(),
        "the first frame is drawn whole"
    );
    off.draw(&gpu, &retained).unwrap();

    // One figure changes: the national export value of its latest month.
    let code = "VM02";
    let p = data.latest_period(code, "VN", None, None).unwrap();
    let old = data.value(code, "VN", p).unwrap();
    data.apply(
        &ServerMessage::Delta {
            id: "x".into(),
            from_version: data.version,
            version: data.version + 1,
            cells: vec![Cell {
                i: code.into(),
                u: "VN".into(),
                p,
                v: Some(old * 1.5),
                c: None,
            }],
        },
        taken,
    );
    let later = taken + 500;
    scene::compose(&layout, scene, &data, &room, later, &mut shaper, &mut list);
    retained
        .prepare(&gpu, &mut shaper, &list, theme::BACKGROUND, &screens, size)
        .unwrap();
    let damage = retained.damage().to_vec();
    assert!(!damage.is_empty(), "a partial frame");
    let area: f32 = damage.iter().map(|d| d.w * d.h).sum();
    let canvas = layout.wall.canvas_size();
    // The KPI tile, the chart of exports and the ticker: under a third of the wall.
    assert!(
        area < canvas[0] * canvas[1] * 0.35,
        "only the changed panels: {damage:?}"
    );
    let partial = off.capture(&gpu, &retained).unwrap();
    let differing = differing_from_fresh(&gpu, &mut shaper, &list, &screens, &partial);
    assert_eq!(differing, 0, "the partial frame equals a full redraw");
}

#[test]
fn text_copied_over_flat_backgrounds_equals_text_drawn() {
    let gpu = gpu();
    let layout = load_layout("national.toml");
    let (mut data, taken) = demo();
    let room = RoomState::default();
    let (screens, size) = scene::wall_screens(&layout);
    let mut shaper = TextShaper::new();
    let mut list = DisplayList::default();
    let scene = &layout.scenes[0];
    let mut copying = Renderer::new(&gpu, OFFSCREEN_FORMAT);
    copying.retained = true;
    let off = Offscreen::new(&gpu, size).unwrap();
    // A frame drawn whole, then a partial one after a KPI changes (highlighted: its text is
    // over a translucent highlight, so drawn).
    for (step, at) in [("whole frame", taken), ("partial frame", taken + 500)] {
        if step == "partial frame" {
            let p = data.latest_period("VM02", "VN", None, None).unwrap();
            let old = data.value("VM02", "VN", p).unwrap();
            one_cell_delta(
                &mut data,
                Cell {
                    i: "VM02".into(),
                    u: "VN".into(),
                    p,
                    v: Some(old * 1.5),
                    c: None,
                },
                at,
            );
        }
        scene::compose(&layout, scene, &data, &room, at, &mut shaper, &mut list);
        copying
            .prepare(&gpu, &mut shaper, &list, theme::BACKGROUND, &screens, size)
            .unwrap();
        assert_eq!(copying.damage().is_empty(), step == "whole frame", "{step}");
        let (copied, drawn) = copying.text_pieces();
        if step == "whole frame" {
            // Every run's ink on this scene lies on a panel, a table row or the clear colour
            // (a chart's labels sit beside its lines, not on them), so none is blended: the
            // whole-frame cost on a software adapter rests on it.
            assert!(
                copied > 0 && drawn == 0,
                "{step}: {copied} pieces copied, {drawn} drawn"
            );
        }
        let image = off.capture(&gpu, &copying).unwrap();
        let differing = differing_from_fresh(&gpu, &mut shaper, &list, &screens, &image);
        assert_eq!(differing, 0, "{step}: copied text equals drawn text");
    }
}

/// Pixels of `kept` that differ from `list` drawn afresh by a new renderer that draws all its
/// text (copies none), beyond rounding:
/// lavapipe writes some flat colours into a BGRA target one step apart depending on the
/// triangle that covers them (a highlighted tile's red channel, 73 or 74), which no eye sees; a
/// panel left out or drawn twice differs by far more.
fn differing_from_fresh(
    gpu: &Gpu,
    shaper: &mut TextShaper,
    list: &DisplayList,
    screens: &[ScreenMap],
    kept: &Image,
) -> usize {
    let size = [kept.width, kept.height];
    let mut fresh = Renderer::new(gpu, OFFSCREEN_FORMAT);
    fresh.copy_text = false;
    let off = Offscreen::new(gpu, size).unwrap();
    fresh
        .prepare(gpu, shaper, list, theme::BACKGROUND, screens, size)
        .unwrap();
    assert_eq!(fresh.text_pieces().0, 0, "nothing copied when turned off");
    let full = off.capture(gpu, &fresh).unwrap();
    kept.pixels
        .chunks_exact(4)
        .zip(full.pixels.chunks_exact(4))
        .filter(|(a, b)| a.iter().zip(b.iter()).any(|(x, y)| x.abs_diff(*y) > 1))
        .count()
}

#[test]
fn a_scene_switch_or_edit_on_a_kept_frame_equals_the_scene_drawn_afresh() {
    let gpu = gpu();
    let layout = load_layout("national.toml");
    let (data, taken) = demo();
    let room = RoomState::default();
    let (screens, size) = scene::wall_screens(&layout);
    let mut shaper = TextShaper::new();
    let mut list = DisplayList::default();
    let mut kept = Renderer::new(&gpu, OFFSCREEN_FORMAT);
    kept.retained = true;
    let off = Offscreen::new(&gpu, size).unwrap();
    // A technician's edit of the second scene: a KPI tile taken out (its place is now wall
    // background) and the one beside it narrowed (its old and new places overlap).
    let mut edited = layout.scenes[1].clone();
    assert_eq!(edited.panels[2].widget, WidgetKind::Kpi);
    edited.panels.remove(2);
    edited.panels[1].rect.w /= 2.0;
    let steps = [
        (&layout.scenes[0], "first scene"),
        (&layout.scenes[1], "scene switch"),
        (&edited, "edited scene"),
    ];
    for (i, (sc, what)) in steps.into_iter().enumerate() {
        let at = taken + 500 * i as i64;
        scene::compose(&layout, sc, &data, &room, at, &mut shaper, &mut list);
        kept.prepare(&gpu, &mut shaper, &list, theme::BACKGROUND, &screens, size)
            .unwrap();
        let damage = kept.damage().to_vec();
        match what {
            // What the benchmark's full redraw times.
            "scene switch" => assert!(damage.is_empty(), "a scene switch is drawn whole"),
            "edited scene" => assert!(!damage.is_empty(), "an edit of two tiles is partial"),
            _ => {}
        }
        // Every pixel of the frame is drawn once: one drawn in two rectangles would have its
        // text and translucent shapes blended twice.
        for (k, a) in damage.iter().enumerate() {
            for b in &damage[k + 1..] {
                assert!(!a.intersects(b), "{what}: damage overlaps: {a:?} {b:?}");
            }
        }
        let kept_frame = off.capture(&gpu, &kept).unwrap();
        let differing = differing_from_fresh(&gpu, &mut shaper, &list, &screens, &kept_frame);
        assert_eq!(
            differing, 0,
            "{what}: the kept frame equals the scene drawn afresh"
        );
    }
}

#[test]
fn a_presenters_ministry_filter_dims_other_ministries_panels_and_focus_retargets_kpis() {
    let layout = load_layout("national.toml");
    let (data, taken) = demo();
    let scene = &layout.scenes[0];
    let mut shaper = TextShaper::new();
    let mut list = DisplayList::default();
    scene::compose(
        &layout,
        scene,
        &data,
        &RoomState::default(),
        taken,
        &mut shaper,
        &mut list,
    );
    let plain = std::mem::take(&mut list);
    // Panels of `list` whose every shape and text colour (the panel's background included) is
    // the plain composition's, moved 70 % toward the wall's background; every other panel must
    // be exactly the plain one.
    let dimmed = |list: &DisplayList| {
        let step_back = |c: [f32; 4]| Color(c).mix(theme::BACKGROUND.with_alpha(c[3]), 0.7).0;
        let mut n = 0;
        for (m, p) in list.panels.iter().zip(&plain.panels) {
            let (v, pv) = (
                &list.vertices[m.vertices.clone()],
                &plain.vertices[p.vertices.clone()],
            );
            let (t, pt) = (&list.texts[m.texts.clone()], &plain.texts[p.texts.clone()]);
            assert_eq!(
                (v.len(), t.len()),
                (pv.len(), pt.len()),
                "same drawing, other colours"
            );
            let same = v.iter().zip(pv).all(|(a, b)| a.color == b.color)
                && t.iter().zip(pt).all(|(a, b)| a.color == b.color);
            let back = v.iter().zip(pv).all(|(a, b)| a.color == step_back(b.color))
                && t.iter()
                    .zip(pt)
                    .all(|(a, b)| a.color.0 == step_back(b.color.0));
            assert!(same || back, "a panel at {:?} is partly dimmed", m.rect);
            if back && !same {
                n += 1;
            }
        }
        n
    };
    let room = RoomState {
        agency: Some("BTC".into()),
        ..RoomState::default()
    };
    scene::compose(&layout, scene, &data, &room, taken, &mut shaper, &mut list);
    let ctx = widgets::Ctx {
        layout: &layout,
        scene,
        data: &data,
        room: &room,
        now_ms: taken,
    };
    let others = scene
        .panels
        .iter()
        .filter(|p| widgets::outside_ministry(&ctx, p))
        .count();
    assert!(others > 0 && others < scene.panels.len(), "{others}");
    assert_eq!(
        dimmed(&list),
        others,
        "exactly the other ministries' panels step back"
    );

    // Focus on Hà Nội: a national KPI tile now speaks of Hà Nội.
    let room = RoomState {
        focus_unit: Some("01".into()),
        ..RoomState::default()
    };
    let ctx = widgets::Ctx {
        layout: &layout,
        scene,
        data: &data,
        room: &room,
        now_ms: taken,
    };
    let kpi = scene
        .panels
        .iter()
        .find(|p| p.widget == layout::WidgetKind::Kpi && p.unit == "VN")
        .unwrap();
    let f = widgets::kpi::facts(&ctx, kpi);
    assert!(f.subtitle.starts_with("Hà Nội"), "{}", f.subtitle);
    // The header says what the wall is showing now.
    scene::compose(&layout, scene, &data, &room, taken, &mut shaper, &mut list);
    let title = format!("{} · Hà Nội", scene.title);
    assert!(
        list.texts.iter().any(|t| t.key.text == title),
        "{title:?} in the header"
    );
}

/// Every KPI tile of every example scene writes each line it has to say: the comparison with
/// last year, the plan, and how many units have reported while some have not. A short figure
/// drawn large once pushed a tile's coverage line off its bottom, so a leader read a total
/// missing a province as complete.
#[test]
fn every_kpi_tile_writes_its_comparisons_plan_and_coverage() {
    let (data, taken) = demo();
    let room = RoomState::default();
    let mut missing = Vec::new();
    let mut lines = 0;
    for file in ["national.toml", "room.toml", "desk.toml"] {
        let layout = load_layout(file);
        for sc in &layout.scenes {
            let ctx = widgets::Ctx {
                layout: &layout,
                scene: sc,
                data: &data,
                room: &room,
                now_ms: taken,
            };
            let list = compose(&layout, sc, &data, taken, &room);
            for (i, panel) in sc.panels.iter().enumerate() {
                if panel.widget != layout::WidgetKind::Kpi {
                    continue;
                }
                let f = widgets::kpi::facts(&ctx, panel);
                let drawn: Vec<&str> = list.texts[list.panels[i].texts.clone()]
                    .iter()
                    .map(|t| t.key.text.as_str())
                    .collect();
                let said = [f.yoy.map(|(t, ..)| t), f.target, f.coverage];
                for line in said.into_iter().flatten() {
                    lines += 1;
                    if !drawn.contains(&line.as_str()) {
                        missing.push(format!("{file}/{}/{}: {line:?}", sc.name, f.title));
                    }
                }
            }
        }
    }
    assert!(lines > 50, "{lines}");
    assert!(
        missing.is_empty(),
        "lines not drawn:\n{}",
        missing.join("\n")
    );
}

/// The national wall's reports scene and the index of its reports panel.
fn reports_panel(layout: &Layout) -> (&layout::Scene, usize) {
    let scene = layout.scene("bao-cao").expect("the reports scene");
    let i = scene
        .panels
        .iter()
        .position(|p| p.widget == layout::WidgetKind::Reports)
        .expect("a reports panel");
    (scene, i)
}

/// The reports scene says, for each regime, the report that is due, how many units have sent
/// it, and who is late: in the demo, Thái Nguyên has not sent October's provincial report, 20
/// days after its deadline. A presenter's ministry leaves its regimes only.
#[test]
fn the_reports_panel_names_the_late_provinces_and_follows_the_ministry_filter() {
    let layout = load_layout("national.toml");
    let (data, taken) = demo();
    let (scene, i) = reports_panel(&layout);
    let texts = |room: &RoomState| -> Vec<String> {
        let list = compose(&layout, scene, &data, taken, room);
        list.texts[list.panels[i].texts.clone()]
            .iter()
            .map(|t| t.key.text.clone())
            .collect()
    };
    let all = texts(&RoomState::default());
    let whole = RoomState::default();
    let ctx_of = |data| widgets::Ctx {
        layout: &layout,
        scene,
        data,
        room: &whole,
        now_ms: taken,
    };
    let ctx = ctx_of(&data);
    let ktxh = scene.panels[i]
        .regimes
        .iter()
        .find(|r| r.code == "BC-KTXH")
        .expect("the provinces' monthly report");
    let s = widgets::reports::standing(&ctx, ktxh, "VN");
    assert_eq!(s.count, "33/34 tỉnh");
    assert!(!s.complete && s.late);
    let (_, deadline) = widgets::reports::due(ktxh, taken);
    assert!(
        s.status.starts_with("Quá hạn ") && s.status.ends_with("thiếu Thái Nguyên"),
        "{s:?} (due {deadline})"
    );
    assert!(all.contains(&s.status), "{all:?}");
    assert!(
        all.contains(&"Tình hình kinh tế - xã hội tháng của tỉnh".to_owned()),
        "{all:?}"
    );
    // Thái Nguyên's report arrives: the row reads complete at the next frame.
    let mut data = data.clone();
    let (p, _) = widgets::reports::due(ktxh, taken);
    one_cell_delta(
        &mut data,
        Cell {
            i: ktxh.indicators[0].clone(),
            u: "19".into(),
            p,
            v: Some(1.0),
            c: None,
        },
        taken,
    );
    let s = widgets::reports::standing(&ctx_of(&data), ktxh, "VN");
    assert_eq!((s.count.as_str(), s.status.as_str()), ("34/34 tỉnh", "Đủ"));
    assert!(s.complete);
    // Civil registration is counted in communes, from the nation's total.
    let ht = scene.panels[i]
        .regimes
        .iter()
        .find(|r| r.code == "BC-HT")
        .unwrap();
    let s = widgets::reports::standing(&ctx, ht, "VN");
    assert!(s.count.ends_with("/3.321 xã"), "{s:?}");
    // A presenter's focus on Hồ Chí Minh: its own reports and its communes', not the
    // ministries' national ones; its views follow.
    let hcm = RoomState {
        focus_unit: Some("79".into()),
        ..RoomState::default()
    };
    let focused = texts(&hcm);
    assert!(
        focused
            .iter()
            .any(|t| t.starts_with("Kỳ báo cáo đã đến hạn · ") && t.ends_with("Hồ Chí Minh")),
        "{focused:?}"
    );
    assert!(
        focused.iter().any(|t| t.ends_with("/168 xã")),
        "{focused:?}"
    );
    assert!(focused.contains(&"Đã gửi".to_owned()), "{focused:?}");
    assert!(
        !focused.iter().any(|t| t.starts_with("Chỉ tiêu quốc gia")),
        "{focused:?}"
    );
    let views = scene::subscriptions(&layout, &hcm, taken);
    assert!(
        views
            .iter()
            .any(|(id, v)| id.starts_with(&format!("bao-cao/{i}/")) && v.units == ["79"]),
        "{views:?}"
    );
    // The Ministry of Justice's regimes only: civil registration.
    let btp = texts(&RoomState {
        agency: Some("BTP".into()),
        ..RoomState::default()
    });
    assert!(btp.contains(&"Thống kê hộ tịch".to_owned()), "{btp:?}");
    assert!(
        !btp.iter().any(|t| t.starts_with("Tình hình kinh tế")),
        "{btp:?}"
    );
    // A presenter's period: the month before the one due, every province in, and the panel
    // asks the server for that month; the month under way is not late but due later.
    let sept = p.previous();
    let chosen = RoomState {
        period: Some(sept),
        ..RoomState::default()
    };
    let ctx = widgets::Ctx {
        layout: &layout,
        scene,
        data: &data,
        room: &chosen,
        now_ms: taken,
    };
    let s = widgets::reports::standing(&ctx, ktxh, "VN");
    assert_eq!(s.period, sept);
    assert_eq!((s.count.as_str(), s.status.as_str()), ("34/34 tỉnh", "Đủ"));
    assert!(texts(&chosen).contains(&sept.label_vi()));
    let views = scene::subscriptions(&layout, &chosen, taken);
    assert!(
        views
            .iter()
            .any(|(id, v)| id.starts_with(&format!("bao-cao/{i}/"))
                && v.periods
                    == dieuhanh_protocol::live::Periods::Range {
                        from: sept,
                        to: sept
                    }),
        "{views:?}"
    );
    let now = widgets::current_period(dieuhanh_protocol::period::Frequency::Month, taken);
    let ongoing = RoomState {
        period: Some(now),
        ..RoomState::default()
    };
    let s = widgets::reports::standing(
        &widgets::Ctx {
            room: &ongoing,
            ..ctx
        },
        ktxh,
        "VN",
    );
    assert_eq!(s.period, now);
    assert!(!s.complete && !s.late, "{s:?}");
    assert!(s.status.starts_with("Hạn gửi "), "{s:?}");
}

/// On a live wall the reports panel says how far each report is approved, as the server
/// pushes it: the report keys it follows are each regime's shown period for the panel's unit,
/// a `reports` message fills the column ("20/34 tỉnh", green once every province is approved), and
/// a regime without a standing yet reads "—". A preview from a file has no such column.
#[test]
fn the_reports_panel_shows_how_far_each_report_is_approved() {
    use dieuhanh_protocol::live::{Approved, ReportKey, ReportStanding, ReportState};
    let layout = load_layout("national.toml");
    let (data, taken) = demo();
    let (scene, i) = reports_panel(&layout);
    let room = RoomState::default();
    let texts = |data: &WallData| -> Vec<String> {
        let list = compose(&layout, scene, data, taken, &room);
        list.texts[list.panels[i].texts.clone()]
            .iter()
            .map(|t| t.key.text.clone())
            .collect()
    };
    assert!(!texts(&data).contains(&"Đã duyệt".to_owned()), "a preview");

    let keys = scene::report_keys(&layout, &room, taken);
    let ktxh = keys
        .iter()
        .find(|k| k.regime == "BC-KTXH")
        .expect("the provinces' monthly report is followed")
        .clone();
    let (due, _) = widgets::reports::due(
        scene.panels[i]
            .regimes
            .iter()
            .find(|r| r.code == "BC-KTXH")
            .unwrap(),
        taken,
    );
    assert_eq!((ktxh.period, ktxh.unit.as_str()), (due, "VN"));
    // A presenter's focus on Hồ Chí Minh: its own reports (and its communes'), not the
    // ministries' national ones.
    let hcm = RoomState {
        focus_unit: Some("79".into()),
        ..RoomState::default()
    };
    let focused = scene::report_keys(&layout, &hcm, taken);
    assert!(
        !focused.is_empty() && focused.len() < keys.len(),
        "{focused:?}"
    );
    assert!(focused.iter().all(|k| k.unit == "79"), "{focused:?}");
    let ht = keys.iter().find(|k| k.regime == "BC-HT").unwrap().clone();
    let provinces: Vec<String> = data
        .children("VN", "province")
        .iter()
        .map(|u| u.code.clone())
        .collect();
    let standing = |key: ReportKey, state, approved: u32| ReportStanding {
        key,
        state,
        below_level: Some("province".into()),
        below: 34,
        below_reported: 33,
        below_approved: approved,
        approved: provinces[..approved as usize]
            .iter()
            .map(|u| Approved {
                unit: u.clone(),
                at_ms: taken,
            })
            .collect(),
        approved_at_ms: None,
    };
    let mut live = data.clone();
    live.apply(
        &ServerMessage::Reports {
            version: live.version,
            reports: vec![
                standing(ktxh.clone(), ReportState::AwaitingApproval, 20),
                // Every province approved, the nation's own approval still to come.
                standing(ht, ReportState::AwaitingApproval, 34),
            ],
        },
        taken,
    );
    let shown = texts(&live);
    assert!(shown.contains(&"Đã duyệt".to_owned()), "{shown:?}");
    assert!(shown.contains(&"20/34 tỉnh".to_owned()), "{shown:?}");
    assert!(shown.contains(&"34/34 tỉnh".to_owned()), "{shown:?}");
    assert!(
        shown.contains(&"—".to_owned()),
        "regimes not pushed yet: {shown:?}"
    );
    let (_, all_green) = widgets::reports::approved(
        live.reports
            .values()
            .find(|s| s.below_approved == 34)
            .unwrap(),
    );
    assert_eq!(all_green, theme::GOOD);
    let (_, partly) = widgets::reports::approved(&live.reports[&ktxh]);
    assert_eq!(partly, theme::TEXT);
    // A report of the regime's own level reads its state.
    let own = ReportStanding {
        below_level: None,
        below: 0,
        below_reported: 0,
        below_approved: 0,
        ..standing(ktxh, ReportState::ChangedSinceApproval, 0)
    };
    assert_eq!(
        widgets::reports::approved(&own),
        ("Cần duyệt lại".to_owned(), theme::STALE)
    );
}

/// Leaders in the room learn who has just approved without reading the table: as each push
/// brings provinces newly approved, the reports scene's ticker says which ("Cao Bằng"), for
/// which report, and how far the report has come ("2/34 tỉnh"), newest first among the
/// changed figures; a correction that leaves an approval behind reads in amber. The first
/// standing a wall hears of tells nothing new.
#[test]
fn the_ticker_says_who_has_just_approved_a_report() {
    use dieuhanh_protocol::live::{Approved, ReportKey, ReportStanding, ReportState};
    let layout = load_layout("national.toml");
    let (mut data, taken) = demo();
    let (scene, _) = reports_panel(&layout);
    let ticker = scene
        .panels
        .iter()
        .find(|p| p.widget == layout::WidgetKind::Ticker)
        .expect("the reports scene's ticker");
    let room = RoomState::default();
    let key: ReportKey = scene::report_keys(&layout, &room, taken)
        .into_iter()
        .find(|k| k.regime == "BC-KTXH")
        .unwrap();
    let push = |data: &mut WallData, state, approved: &[(&str, i64)], at: i64| {
        data.apply(
            &ServerMessage::Reports {
                version: data.version,
                reports: vec![ReportStanding {
                    key: key.clone(),
                    state,
                    below_level: Some("province".into()),
                    below: 34,
                    below_reported: 34,
                    below_approved: approved.len() as u32,
                    approved: approved
                        .iter()
                        .map(|&(unit, at_ms)| Approved {
                            unit: unit.into(),
                            at_ms,
                        })
                        .collect(),
                    approved_at_ms: None,
                }],
            },
            at,
        )
    };
    let items = |data: &WallData| -> Vec<(String, dieuhanh_wall::draw::Color)> {
        let ctx = widgets::Ctx {
            layout: &layout,
            scene,
            data,
            room: &room,
            now_ms: taken + 10_000,
        };
        widgets::ticker::items(&ctx, ticker)
            .into_iter()
            .map(|i| (i.text, i.colour))
            .collect()
    };
    let before = items(&data).len();
    // Hà Nội approved an hour before the wall looked; the others as the wall hears of them.
    let hn = ("01", taken - 3_600_000);
    push(&mut data, ReportState::AwaitingApproval, &[hn], taken);
    assert_eq!(
        items(&data).len(),
        before,
        "Hà Nội approved before the wall looked"
    );
    let cb = ("04", taken + 1000);
    push(
        &mut data,
        ReportState::AwaitingApproval,
        &[hn, cb],
        taken + 1000,
    );
    let period = key.period.label_vi().to_lowercase();
    let (text, colour) = items(&data)[0].clone();
    assert!(
        text.ends_with(&format!(
            " · Cao Bằng đã duyệt báo cáo tình hình kinh tế - xã hội tháng của tỉnh {period} \
             (2/34 tỉnh)"
        )),
        "{text}"
    );
    assert_eq!(colour, theme::GOOD);
    let four = ["08", "11", "12", "14"].map(|u| (u, taken + 2000));
    push(
        &mut data,
        ReportState::AwaitingApproval,
        &[&[hn, cb][..], &four].concat(),
        taken + 2000,
    );
    let (text, _) = items(&data)[0].clone();
    assert!(
        text.contains(" · Tuyên Quang, Điện Biên và 2 tỉnh khác đã duyệt báo cáo "),
        "{text}"
    );
    assert!(text.ends_with(" (6/34 tỉnh)"), "{text}");
    // Hà Nội corrects a figure after its approval.
    push(
        &mut data,
        ReportState::AwaitingApproval,
        &[&[cb][..], &four].concat(),
        taken + 3000,
    );
    let (text, colour) = items(&data)[0].clone();
    assert!(
        text.contains(" · Hà Nội có số liệu mới sau khi duyệt báo cáo "),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("{period}, cần duyệt lại")),
        "{text}"
    );
    assert_eq!(colour, theme::STALE);
    // Heard late (the connection was down): Lào Cai's approval reads at its own time, behind
    // the newer lines.
    let lao_cai = ("15", taken - 600_000);
    push(
        &mut data,
        ReportState::AwaitingApproval,
        &[&[cb][..], &four, &[lao_cai]].concat(),
        taken + 4000,
    );
    let all = items(&data);
    assert!(
        all[0].0.contains(" · Hà Nội có số liệu mới"),
        "{}",
        all[0].0
    );
    let (late, _) = all
        .iter()
        .find(|(t, _)| t.contains("Lào Cai"))
        .expect("Lào Cai's approval");
    assert!(
        late.starts_with(&format!(
            "{} · Lào Cai đã duyệt ",
            widgets::clock_vi(taken - 600_000, taken + 10_000)
        )),
        "{late}"
    );
    // Drawn on the wall: the words of the newest line are on the ticker.
    let list = compose(&layout, scene, &data, taken + 10_000, &room);
    let drawn: String = list
        .texts
        .iter()
        .map(|t| t.key.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(drawn.contains("cần duyệt lại"), "{drawn}");
}

/// Letters never run into other letters or into a shape (an arrow, a stripe, a chart's line)
/// on any scene of the shipped layouts and the 4K bench scene, in every state a wall is seen
/// in. Judged by the renderer's own finding of each run's inked pixels and what lies under
/// them: a run that touches anything but one flat colour is one it must blend.
#[test]
fn no_text_touches_other_text_or_a_shape_on_the_shipped_layouts() {
    let gpu = gpu();
    let cat = Catalogue::load(&assets_dir()).unwrap();
    let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/bench/uhd.toml");
    let mut layouts: Vec<(String, Layout)> = ["desk.toml", "room.toml", "national.toml"]
        .into_iter()
        .map(|n| (n.to_owned(), load_layout(n)))
        .collect();
    layouts.push(("uhd.toml".into(), layout::load(&bench, &cat).unwrap()));
    // The demo preview; live data with changes coming in (the ticker full, a KPI glowing); the
    // same two hours later (every panel badged stale); a presenter's focus and filter.
    let (demo, taken) = demo();
    let (live, now) = demo_with_changes(8);
    let presented = RoomState {
        focus_unit: Some("79".into()),
        agency: Some("BTC".into()),
        ..RoomState::default()
    };
    let states = [
        ("demo", &demo, taken, RoomState::default()),
        ("live", &live, now, RoomState::default()),
        ("stale", &live, now + 2 * 3_600_000, RoomState::default()),
        ("presented", &live, now, presented),
    ];
    let mut shaper = TextShaper::new();
    let mut list = DisplayList::default();
    let mut found = Vec::new();
    for (name, layout) in &layouts {
        let (screens, size) = scene::wall_screens(layout);
        let mut r = Renderer::new(&gpu, OFFSCREEN_FORMAT);
        for (state, data, at, room) in &states {
            for scene in &layout.scenes {
                scene::compose(layout, scene, data, room, *at, &mut shaper, &mut list);
                r.invalidate();
                r.prepare(&gpu, &mut shaper, &list, theme::BACKGROUND, &screens, size)
                    .unwrap();
                // Runs are judged only where text is copied: a scene with none would pass
                // whatever it drew.
                assert!(r.text_pieces().0 > 0, "{name} {} ({state})", scene.name);
                for (run, ink) in r.blended_texts() {
                    found.push(format!(
                        "{name} {} ({state}): {:?} at {ink:?}",
                        scene.name, list.texts[*run].key.text
                    ));
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The pixel of `image` (the wall's screens side by side, bezels left out) that shows canvas
/// point `p`.
fn wall_pixel(layout: &Layout, image: &Image, p: [f32; 2]) -> [u8; 4] {
    let (screens, _) = scene::wall_screens(layout);
    let s = screens
        .iter()
        .find(|s| {
            let c = s.canvas;
            p[0] >= c.x && p[0] < c.x + c.w && p[1] >= c.y && p[1] < c.y + c.h
        })
        .expect("the point is on a screen, not under a bezel");
    let k = s.target.w / s.canvas.w;
    let x = s.target.x + (p[0] - s.canvas.x) * k;
    let y = s.target.y + (p[1] - s.canvas.y) * k;
    image.pixel(x as u32, y as u32)
}

/// The national map of poverty (scene `xa-hoi`), drawn on the GPU from the demo data with a
/// presenter's focus on Hồ Chí Minh: the province with the most poverty is the brightest red, the
/// one with the least the dimmest, a province that has not reported the dark "no figure" colour
/// and Hồ Chí Minh the accent; and a touch inside each of the 34 provinces names that province.
#[test]
fn the_map_colours_each_province_by_its_fifth_and_a_touch_names_it() {
    let layout = load_layout("national.toml");
    let sc = layout.scene("xa-hoi").unwrap();
    let panel = sc
        .panels
        .iter()
        .find(|p| p.widget == WidgetKind::Map)
        .expect("the map on xa-hoi");
    let (data, now) = demo();
    let room = RoomState {
        focus_unit: Some("79".into()),
        ..RoomState::default()
    };
    let ctx = widgets::Ctx {
        layout: &layout,
        scene: sc,
        data: &data,
        room: &room,
        now_ms: now,
    };
    // Least poverty first (lower is better).
    let rows = widgets::bars::ranking(&ctx, panel);
    let missing = widgets::bars::unreported(&ctx, panel);
    assert!(
        rows.len() > 20 && !missing.is_empty(),
        "{} rows, {missing:?}",
        rows.len()
    );
    let list = compose(&layout, sc, &data, now, &room);
    let image = render_scene(&gpu(), &layout, sc, &data, &room, now, None).unwrap();
    let map = layout.map.clone().expect("the layout's map");
    // Inside each province: the centre of its roundest triangle (a thin one's centre may lie
    // on a border line).
    let inside = |code: &str| -> [f32; 2] {
        let hit = list
            .hits
            .iter()
            .find(|h| h.unit == code && !h.triangles.is_empty())
            .unwrap_or_else(|| panic!("no shape of {code} on the map"));
        let roundness = |t: &[[f32; 2]]| {
            let d =
                |a: [f32; 2], b: [f32; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
            let area = ((t[1][0] - t[0][0]) * (t[2][1] - t[0][1])
                - (t[2][0] - t[0][0]) * (t[1][1] - t[0][1]))
                .abs();
            area / (d(t[0], t[1]) + d(t[1], t[2]) + d(t[2], t[0])).max(1e-6)
        };
        let t = hit
            .triangles
            .chunks_exact(3)
            .max_by(|a, b| roundness(a).total_cmp(&roundness(b)))
            .unwrap();
        [
            (t[0][0] + t[1][0] + t[2][0]) / 3.0,
            (t[0][1] + t[1][1] + t[2][1]) / 3.0,
        ]
    };
    for p in &map.provinces {
        assert_eq!(
            list.unit_at(inside(&p.code)),
            Some(p.code.as_str()),
            "a touch inside {}",
            p.name
        );
    }
    let code_of = |name: &str| {
        map.provinces
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.code.clone())
            .unwrap_or_else(|| panic!("{name} on the map"))
    };
    let close = |got: [u8; 4], want: Color, what: &str| {
        let w = want.to_rgba8();
        assert!(
            (0..3).all(|c| got[c].abs_diff(w[c]) <= 3),
            "{what}: {got:?}, want {w:?}"
        );
    };
    let most = rows.iter().rev().find(|r| r.0 != "79").unwrap();
    let least = rows.iter().find(|r| r.0 != "79").unwrap();
    let ramp = widgets::map::ramp;
    close(
        wall_pixel(&layout, &image, inside(&most.0)),
        ramp(1.0, true),
        &most.1,
    );
    close(
        wall_pixel(&layout, &image, inside(&least.0)),
        ramp(0.0, true),
        &least.1,
    );
    let silent = code_of(&missing[0]);
    close(
        wall_pixel(&layout, &image, inside(&silent)),
        widgets::map::NO_FIGURE,
        &missing[0],
    );
    close(
        wall_pixel(&layout, &image, inside("79")),
        theme::ACCENT,
        "Hồ Chí Minh",
    );
}

/// A table of the provinces: a touch on a row names that row's province (whose name the row
/// shows), so a leader drills down from a table as from a ranking.
#[test]
fn touching_a_row_of_a_table_of_provinces_names_its_province() {
    let layout = one_screen_layout(
        1920,
        1080,
        "widget = \"table\"\nindicators = [\"NS01\", \"VM02\"]\nchildren = \"province\"",
    );
    let (data, now) = demo();
    let list = compose(
        &layout,
        &layout.scenes[0],
        &data,
        now,
        &RoomState::default(),
    );
    assert!(list.hits.len() >= 20, "{} rows to touch", list.hits.len());
    for h in &list.hits {
        let centre = [h.rect.x + h.rect.w / 2.0, h.rect.y + h.rect.h / 2.0];
        assert_eq!(list.unit_at(centre), Some(h.unit.as_str()));
        let name = data.unit_name(&h.unit);
        assert!(
            list.texts.iter().any(|t| t.key.text == name
                && t.rect.y >= h.rect.y - 1.0
                && t.rect.y + t.rect.h <= h.rect.y + h.rect.h + 1.0),
            "the row of {} does not show its name",
            h.unit
        );
    }
}
