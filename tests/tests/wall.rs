//! The wall against a real server: an upload accepted by the server shows in the wall's next
//! rendered frame, and an approval in its reports panel; `dieuhanh-wall run` opens its windows (the outputs and the conference feed)
//! under Xvfb and presents frames; `check` and `render` as a technician runs them; no adapter is
//! an error, not a skip.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dieuhanh_protocol::live::{ReportKey, RoomState, View};
use dieuhanh_protocol::period::Period;
use dieuhanh_server::live::LiveConfig;
use dieuhanh_tests::{TestServer, open_store};
use dieuhanh_wall::catalogue::{Catalogue, assets_dir};
use dieuhanh_wall::data::{Feed, WallData};
use dieuhanh_wall::live::{Command as LiveCommand, Event};
use dieuhanh_wall::render::{Gpu, Image};
use dieuhanh_wall::{layout, render_scene, scene, widgets};

fn wall_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("dieuhanh-wall");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// One 960×540 screen on a desk, for the scenes of the layouts below.
macro_rules! desk_wall {
    () => {
        r#"
[wall]
name = "Bàn thử"
rows = 1
columns = 1
screen_width_px = 960
screen_height_px = 540
screen_width_mm = 597.9
screen_height_mm = 336.3
bezel_mm = 0

[[output]]
name = "man-hinh"
row = 0
column = 0
"#
    };
}

/// A desk layout with one KPI: births (XH02) in the nation for August 2025.
const KPI_LAYOUT: &str = concat!(
    desk_wall!(),
    r#"
[[scene]]
name = "sinh"
title = "Đăng ký khai sinh"

[[scene.panel]]
widget = "header"
row = 0
column = 0
rows = 0.2
columns = 1

[[scene.panel]]
widget = "kpi"
row = 0.2
column = 0
rows = 0.8
columns = 1
indicator = "XH02"
unit = "VN"
period = "2025-08"
text = "large"
"#
);

async fn live_server(dir: &Path) -> TestServer {
    TestServer::start_live(open_store(dir), dir, 64 << 20, LiveConfig::default()).await
}

/// A layout `text` written into `dir` as `name` and loaded as the wall loads it.
fn desk_layout(dir: &Path, name: &str, text: &str) -> layout::Layout {
    let cat = Catalogue::load(&assets_dir()).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    layout::load(&path, &cat).expect("layout")
}

/// [`KPI_LAYOUT`] written into `dir` and loaded as the wall loads it.
fn kpi_layout(dir: &Path) -> layout::Layout {
    desk_layout(dir, "kpi.toml", KPI_LAYOUT)
}

/// The wall's live feed for every panel of `layout`, against the server at `addr`.
fn start_feed(
    addr: std::net::SocketAddr,
    layout: &layout::Layout,
) -> (
    tokio::task::JoinHandle<()>,
    std::sync::mpsc::Receiver<Event>,
    tokio::sync::mpsc::UnboundedSender<LiveCommand>,
) {
    let views = scene::subscriptions(layout, &RoomState::default(), dieuhanh_wall::live::now_ms());
    let (events_tx, events) = std::sync::mpsc::channel();
    let (commands, commands_rx) = tokio::sync::mpsc::unbounded_channel::<LiveCommand>();
    let url = dieuhanh_wall::live::live_url(&format!("http://{addr}"), None).unwrap();
    let feed = tokio::spawn(dieuhanh_wall::live::run_feed(
        url,
        None,
        views,
        commands_rx,
        events_tx,
        || {},
    ));
    (feed, events, commands)
}

async fn upload(server: &TestServer, rows: &[(&str, u32)]) -> serde_json::Value {
    let mut csv = String::from("Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n");
    for (c, v) in rows {
        csv.push_str(&format!("{c};2025-08;XH02;{v}\n"));
    }
    let (status, r) = server.upload("", "text/csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{r}");
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_upload_shows_in_the_walls_next_frame() {
    let dir = tempfile::tempdir().unwrap();
    let server = live_server(dir.path()).await;
    let c = server.communes("79");
    upload(&server, &[(&c[0], 10), (&c[1], 20)]).await;

    let layout = kpi_layout(dir.path());
    // The tile's own view, and its provinces' for a like-for-like comparison with last year.
    assert_eq!(
        scene::subscriptions(&layout, &RoomState::default(), 0).len(),
        2
    );
    // The wall's live feed, exactly as `run` drives it.
    let (feed, events, commands) = start_feed(server.addr, &layout);
    let mut data = WallData::default();
    let aug = Period::parse("2025-08").unwrap();
    let wait_for = |data: &mut WallData, want: f64| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while data.value("XH02", "VN", aug) != Some(want) {
            assert!(
                std::time::Instant::now() < deadline,
                "value {want} never arrived"
            );
            match events.recv_timeout(Duration::from_millis(200)) {
                Ok(Event::Connected) => data.feed = Feed::Live { since_ms: 0 },
                Ok(Event::Message(m)) => data.apply(&m, dieuhanh_wall::live::now_ms()),
                Ok(Event::Disconnected(r)) => panic!("disconnected: {r}"),
                Ok(Event::NotSteered) | Err(_) => {}
            }
        }
    };
    tokio::task::block_in_place(|| wait_for(&mut data, 30.0));

    let gpu = Gpu::headless().expect("a Vulkan adapter");
    let scene = &layout.scenes[0];
    let room = RoomState::default();
    let now = dieuhanh_wall::live::now_ms();
    let before = render_scene(&gpu, &layout, scene, &data, &room, now, None).unwrap();
    let facts = |data: &WallData, now| {
        let ctx = widgets::Ctx {
            layout: &layout,
            scene,
            data,
            room: &room,
            now_ms: now,
        };
        widgets::kpi::facts(&ctx, &scene.panels[1])
    };
    assert_eq!(facts(&data, now).value.as_deref(), Some("30"));

    let r = upload(&server, &[(&c[0], 15)]).await;
    let accepted = r["accepted_at_ms"].as_i64().expect("accepted_at_ms");
    tokio::task::block_in_place(|| wait_for(&mut data, 35.0));
    // Long enough after the change that the figure has finished animating.
    let later = dieuhanh_wall::live::now_ms().max(accepted) + widgets::ANIMATE_MS + 10;
    assert_eq!(facts(&data, later).value.as_deref(), Some("35"));
    let after = render_scene(&gpu, &layout, scene, &data, &room, later, None).unwrap();
    // The tile's pixels changed: the new figure is drawn (and highlighted).
    let changed = before
        .pixels
        .chunks_exact(4)
        .zip(after.pixels.chunks_exact(4))
        .enumerate()
        .filter(|(i, (a, b))| (*i as u32 / before.width) > 120 && a != b)
        .count();
    assert!(changed > 500, "only {changed} pixels of the tile changed");
    drop(commands);
    feed.abort();
}

/// A desk layout with the Ministry of Justice's reports panel for the nation.
const REPORTS_LAYOUT: &str = concat!(
    desk_wall!(),
    r#"
[[scene]]
name = "bao-cao"
title = "Báo cáo"

[[scene.panel]]
widget = "reports"
row = 0
column = 0
rows = 1
columns = 1
agency = "BTP"
"#
);

/// The reports layout on a desk, the reports its panel follows now, and among them the
/// nation's civil-registration report.
struct Following {
    layout: layout::Layout,
    room: RoomState,
    now: i64,
    keys: Vec<ReportKey>,
    key: ReportKey,
}

fn following_reports(dir: &Path) -> Following {
    let layout = desk_layout(dir, "bao-cao.toml", REPORTS_LAYOUT);
    let room = RoomState::default();
    let now = dieuhanh_wall::live::now_ms();
    let keys = scene::report_keys(&layout, &room, now);
    let key = keys
        .iter()
        .find(|k| k.regime == "BC-HT")
        .expect("civil registration is followed")
        .clone();
    Following {
        layout,
        room,
        now,
        keys,
        key,
    }
}

/// A Cao Bằng commune sends its civil-registration figure for `period`; then Cao Bằng approves
/// it, after the commune itself when `commune_too`.
async fn cao_bang_reports_and_approves(server: &TestServer, period: Period, commune_too: bool) {
    let c = server.communes("04");
    let csv = format!(
        "Mã đơn vị;Kỳ;Chỉ tiêu;Giá trị\n{};{};XH02;7\n",
        c[0],
        period.id()
    );
    let (status, r) = server.upload("", "text/csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{r}");
    let approvers = if commune_too {
        vec![c[0].as_str(), "04"]
    } else {
        vec!["04"]
    };
    for unit in approvers {
        let r = server
            .client
            .post(server.url("/api/approvals"))
            .json(&serde_json::json!({"regime": "BC-HT", "unit": unit, "period": period.id()}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    }
}

/// The texts drawn by the first scene of `layout` over `data`.
fn first_scene_texts(
    layout: &layout::Layout,
    data: &WallData,
    room: &RoomState,
    now: i64,
) -> Vec<String> {
    let mut shaper = dieuhanh_wall::render::text::TextShaper::new();
    let mut list = dieuhanh_wall::draw::DisplayList::default();
    scene::compose(
        layout,
        &layout.scenes[0],
        data,
        room,
        now,
        &mut shaper,
        &mut list,
    );
    list.texts.iter().map(|t| t.key.text.clone()).collect()
}

/// The wall follows its reports panel's reports over its live feed, exactly as `run` drives
/// it: a commune's civil-registration report comes in and its province approves it, and the
/// panel's new column reads one province of 34 approved, pushed without asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_is_told_when_a_province_approves_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let server = live_server(dir.path()).await;
    let Following {
        layout,
        room,
        now,
        keys,
        key,
    } = following_reports(dir.path());
    assert_eq!(key.unit, "VN");

    let (feed, events, commands) = start_feed(server.addr, &layout);
    commands.send(LiveCommand::SetReports(keys)).unwrap();
    let mut data = WallData::default();
    let wait_for = |data: &mut WallData, approved: u32| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while data.reports.get(&key).map(|s| s.below_approved) != Some(approved) {
            assert!(
                std::time::Instant::now() < deadline,
                "{approved} approved never arrived: {:?}",
                data.reports.get(&key)
            );
            match events.recv_timeout(Duration::from_millis(200)) {
                Ok(Event::Message(m)) => data.apply(&m, dieuhanh_wall::live::now_ms()),
                Ok(Event::Disconnected(r)) => panic!("disconnected: {r}"),
                _ => {}
            }
        }
    };
    tokio::task::block_in_place(|| wait_for(&mut data, 0));
    assert_eq!(data.reports[&key].below, 34);

    cao_bang_reports_and_approves(&server, key.period, true).await;
    tokio::task::block_in_place(|| wait_for(&mut data, 1));
    // Cao Bằng's approval is news for the ticker; the first standing was not.
    let news: Vec<_> = data.approvals.iter().filter(|n| n.key == key).collect();
    assert_eq!(news.len(), 1, "{news:?}");
    assert_eq!(
        (news[0].units.as_slice(), news[0].approved),
        (&["04".to_owned()][..], true)
    );
    // A technician's `render --server` fetches the standings with the snapshots.
    let file = dieuhanh_wall::live::fetch(
        &format!("http://{}", server.addr),
        None,
        &[],
        std::slice::from_ref(&key),
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    let mut fetched = WallData::default();
    for m in &file.messages {
        fetched.apply(m, now);
    }
    assert_eq!(fetched.reports[&key], data.reports[&key]);

    let texts = first_scene_texts(&layout, &data, &room, now);
    assert!(texts.iter().any(|t| t == "1/34 tỉnh"), "{texts:?}");
    // Its heading too, on a desk screen where the figures had to shrink to fit.
    assert!(texts.iter().any(|t| t == "Đã duyệt"), "{texts:?}");
    drop(commands);
    feed.abort();
}

/// `dieuhanh-wall snapshot`, as a technician saves a server's data to preview or export a
/// layout later: the file holds every panel's view and how far the reports panel's reports
/// are approved, so a PNG rendered from it has the approval column a live wall shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_file_keeps_the_reports_approval_for_previews() {
    let dir = tempfile::tempdir().unwrap();
    let server = live_server(dir.path()).await;
    let Following {
        layout,
        room,
        now,
        keys,
        key,
    } = following_reports(dir.path());
    cao_bang_reports_and_approves(&server, key.period, false).await;

    let file = dir.path().join("bao-cao.json.gz");
    let mut cmd = Command::new(wall_bin());
    cmd.arg("snapshot")
        .arg(dir.path().join("bao-cao.toml"))
        .args(["--server", &format!("http://{}", server.addr), "--out"])
        .arg(&file);
    // Off the runtime's threads, which serve it.
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("{} reports' approval", keys.len())),
        "{said}"
    );

    let data = dieuhanh_wall::snapshot::load(&file).unwrap();
    let s = &data.reports[&key];
    assert_eq!((s.below, s.below_approved), (34, 1), "{s:?}");
    assert_eq!(s.approved[0].unit, "04");
    let texts = first_scene_texts(&layout, &data, &room, now);
    assert!(texts.iter().any(|t| t == "1/34 tỉnh"), "{texts:?}");
}

#[test]
fn check_accepts_the_example_layouts_and_points_at_errors() {
    for name in ["desk.toml", "room.toml", "national.toml"] {
        let out = Command::new(wall_bin())
            .arg("check")
            .arg(assets_dir().join("layouts").join(name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, KPI_LAYOUT.replace("\"XH02\"", "\"XH99\"")).unwrap();
    let out = Command::new(wall_bin())
        .arg("check")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = KPI_LAYOUT
        .lines()
        .position(|l| l.contains("\"XH02\""))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("bad.toml:{line}:13:")), "{err}");
    assert!(err.contains("did you mean"), "{err}");
    assert!(err.contains("XH99"), "{err}");
}

/// A presenter's focus on a province retargets the nation's KPI tile: the wall must then hold
/// that province's figures, so its views follow the focus. With the views of the plain layout
/// the tile had nothing to show (the bug); with the focused views it shows the province's sum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presenters_focus_brings_the_focused_units_figures_to_the_wall() {
    let dir = tempfile::tempdir().unwrap();
    let server = live_server(dir.path()).await;
    let hcm = server.communes("79");
    let hn = server.communes("01");
    upload(&server, &[(&hcm[0], 10), (&hcm[1], 20), (&hn[0], 7)]).await;
    let layout = kpi_layout(dir.path());
    let scene = &layout.scenes[0];
    let url = format!("http://{}", server.addr);
    let focused = RoomState {
        focus_unit: Some("79".into()),
        ..RoomState::default()
    };
    let shown = |views: Vec<(String, dieuhanh_protocol::live::View)>| {
        let url = url.clone();
        let focused = focused.clone();
        let layout = &layout;
        async move {
            let file = dieuhanh_wall::live::fetch(&url, None, &views, &[], Duration::from_secs(20))
                .await
                .expect("snapshot");
            let mut data = WallData::default();
            for m in &file.messages {
                data.apply(m, file.taken_at_ms);
            }
            let ctx = widgets::Ctx {
                layout,
                scene,
                data: &data,
                room: &focused,
                now_ms: file.taken_at_ms,
            };
            let f = widgets::kpi::facts(&ctx, &scene.panels[1]);
            (f.subtitle, f.value)
        }
    };
    let now = dieuhanh_wall::live::now_ms();
    // The tiles' own views: their units views (for like-for-like comparisons) happen to hold
    // every province of the nation.
    let own = |views: Vec<(String, View)>| -> Vec<(String, View)> {
        views
            .into_iter()
            .filter(|(id, _)| !id.contains("/units/"))
            .collect()
    };
    let (subtitle, value) = shown(own(scene::subscriptions(
        &layout,
        &RoomState::default(),
        now,
    )))
    .await;
    assert_eq!(
        (subtitle.as_str(), value),
        ("79 · Tháng 8/2025", None),
        "the plain views hold neither the name nor a figure of Hồ Chí Minh"
    );
    let (subtitle, value) = shown(scene::subscriptions(&layout, &focused, now)).await;
    assert_eq!(subtitle, "Hồ Chí Minh · Tháng 8/2025");
    assert_eq!(
        value.as_deref(),
        Some("30"),
        "Hồ Chí Minh's communes: 10 + 20"
    );
    // A presenter's period moves the range too: a fixed August panel asked for July.
    let july = RoomState {
        period: Some(Period::parse("2025-07").unwrap()),
        ..focused.clone()
    };
    let views = scene::subscriptions(&layout, &july, now);
    let dieuhanh_protocol::live::Periods::Range { to, .. } = &views[0].1.periods else {
        panic!("{views:?}");
    };
    assert_eq!(to.id(), "2025-07");
}

#[test]
fn render_previews_a_layout_from_the_shipped_demo_data() {
    let dir = tempfile::tempdir().unwrap();
    let out_png = dir.path().join("room.png");
    let out = Command::new(wall_bin())
        .args(["render"])
        .arg(assets_dir().join("layouts/room.toml"))
        .args(["--scene", "tong-quan", "--out"])
        .arg(&out_png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let image = dieuhanh_wall::render::Image::read_png(&out_png).unwrap();
    assert_eq!((image.width, image.height), (3840, 2160));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("demo data"), "{stderr}");
    // Sample figures were never live: however old the shipped snapshot, no panel wears a stale
    // badge. Here the five badges come to ~47,000 pixels of their orange; without them, the
    // orange lines of text (units that have not reported) come to ~6,000.
    let orange = dieuhanh_wall::draw::theme::STALE.to_rgba8();
    let badge_pixels = image
        .pixels
        .chunks_exact(4)
        .filter(|p| p[..3] == orange[..3])
        .count();
    assert!(
        badge_pixels < 20_000,
        "{badge_pixels} pixels of badge orange"
    );
}

/// `render --feed` previews what the conference receives: the whole national wall letterboxed at
/// a quarter, or the `[feed]`'s 2×2 block at half size filling the picture; a layout without a
/// feed is refused with what to do.
#[test]
fn render_feed_previews_the_whole_wall_or_the_feeds_block_of_screens() {
    let dir = tempfile::tempdir().unwrap();
    let national = assets_dir().join("layouts/national.toml");
    let text = std::fs::read_to_string(&national).unwrap();
    let with_block = dir.path().join("national-block.toml");
    let feed = "monitor = \"HDMI-A-1\"\n";
    assert!(text.contains(feed));
    std::fs::write(
        &with_block,
        text.replacen(
            feed,
            &format!("{feed}row = 0\ncolumn = 1\nrows = 2\ncolumns = 2\n"),
            1,
        ),
    )
    .unwrap();
    let render = |layout: &std::path::Path, name: &str| {
        let png = dir.path().join(name);
        let out = Command::new(wall_bin())
            .arg("render")
            .arg(layout)
            .args(["--feed", "--now-ms", "1790000000000", "--out"])
            .arg(&png)
            .output()
            .unwrap();
        (out, png)
    };
    let background = dieuhanh_wall::draw::theme::BACKGROUND.to_rgba8();
    let mut images = Vec::new();
    for (layout, name) in [(&national, "whole.png"), (&with_block, "block.png")] {
        let (out, png) = render(layout, name);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let image = Image::read_png(&png).unwrap();
        assert_eq!((image.width, image.height), (1920, 1080));
        images.push(image);
    }
    // Near the bottom, under the provinces' bars: letterbox on the whole wall (810 of 1080 rows
    // used), the bar chart's panel on the block.
    assert_eq!(
        images[0].pixel(1400, 1075),
        background,
        "the whole wall is letterboxed"
    );
    assert_ne!(
        images[1].pixel(1400, 1075),
        background,
        "the block fills the picture"
    );

    let (out, _) = render(&assets_dir().join("layouts/room.toml"), "room.png");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no [feed]") && err.contains("--size"), "{err}");
}

/// `render` shows what a presenter would: a focus (by code or name), a ministry, a period; a
/// wrong one is refused with what to write.
#[test]
fn render_takes_a_presenters_focus_ministry_and_period_and_names_a_wrong_one() {
    let dir = tempfile::tempdir().unwrap();
    let render = |extra: &[&str]| {
        Command::new(wall_bin())
            .arg("render")
            .arg(assets_dir().join("layouts/desk.toml"))
            .arg("--out")
            .arg(dir.path().join("x.png"))
            .args(extra)
            .output()
            .unwrap()
    };
    let ok = render(&[
        "--focus",
        "Hà Nội",
        "--agency",
        "BTC",
        "--period",
        "Tháng 9/2026",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for (args, says) in [
        (["--focus", "99x"], "no such unit"),
        (["--agency", "BTX"], "did you mean BTC?"),
        (["--period", "Tháng 13/2026"], "--period"),
    ] {
        let out = render(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn render_without_any_graphics_adapter_fails_with_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(wall_bin())
        .args(["render"])
        .arg(assets_dir().join("layouts/desk.toml"))
        .arg("--out")
        .arg(dir.path().join("x.png"))
        // No Vulkan driver manifest: the loader finds no device at all.
        .env("VK_ICD_FILENAMES", "/nonexistent.json")
        .env("VK_DRIVER_FILES", "/nonexistent.json")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mesa-vulkan-drivers"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_opens_a_window_per_output_and_one_for_the_conference_feed_under_xvfb() {
    let dir = tempfile::tempdir().unwrap();
    let server = live_server(dir.path()).await;
    let c = server.communes("79");
    upload(&server, &[(&c[0], 10)]).await;
    let layout = dir.path().join("kpi.toml");
    // The feed at two thirds of the wall's 960 × 540: the same picture, smaller.
    std::fs::write(
        &layout,
        format!("{KPI_LAYOUT}\n[feed]\nwidth_px = 640\nheight_px = 360\n"),
    )
    .unwrap();
    let shots = dir.path().join("shots");
    let url = format!("http://{}", server.addr);
    let bin = wall_bin();
    let shots_arg = shots.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("xvfb-run")
            .args(["-a", "-s", "-screen 0 1280x800x24"])
            .arg(bin)
            .arg("run")
            .arg(&layout)
            .args(["--server", &url, "--windowed", "--exit-after-frames", "20"])
            .arg("--capture")
            .arg(&shots_arg)
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .expect("xvfb-run (apt install xvfb xauth; scripts/test installs it)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("presented"), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 windows"), "{stdout}");
    assert!(
        stderr.contains("connected"),
        "the wall subscribed: {stderr}"
    );

    // What the windows last showed: the feed is the wall's picture at 640 × 360.
    let screen = Image::read_png(&shots.join("man-hinh.png")).unwrap();
    let feed = Image::read_png(&shots.join("feed.png")).unwrap();
    assert_eq!((screen.width, screen.height), (960, 540));
    assert_eq!((feed.width, feed.height), (640, 360));
    let (a, b) = (blocks(&screen, 24, 12), blocks(&feed, 24, 12));
    let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64;
    assert!(
        diff < 6.0,
        "the feed differs from the screen by {diff:.1}/255 on average"
    );
    // Not an empty picture: the KPI tile and the header stand out from the background.
    let spread =
        a.iter().cloned().fold(f64::MIN, f64::max) - a.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread > 20.0, "a flat picture (spread {spread:.1})");
}

/// Full screen without a window manager (a wall PC's bare X session): each output's window
/// takes its monitor's place and size itself (it stayed 800 × 600 in a corner when it only asked
/// for full screen), a window left without a monitor opens at its own size, and the log says
/// what does not match; `monitors` lists the monitors and says the same before the wall goes up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_fills_its_monitor_without_a_window_manager_and_says_what_does_not_match() {
    let dir = tempfile::tempdir().unwrap();
    let server = live_server(dir.path()).await;
    let layout = dir.path().join("kpi.toml");
    std::fs::write(
        &layout,
        format!("{KPI_LAYOUT}\n[feed]\nwidth_px = 640\nheight_px = 360\n"),
    )
    .unwrap();
    let shots = dir.path().join("shots");
    let xvfb = |args: Vec<std::ffi::OsString>| {
        tokio::task::spawn_blocking(move || {
            Command::new("xvfb-run")
                .args(["-a", "-s", "-screen 0 1280x800x24"])
                .arg(wall_bin())
                .args(args)
                .env_remove("WAYLAND_DISPLAY")
                .output()
                .expect("xvfb-run (apt install xvfb xauth; scripts/test installs it)")
        })
    };
    let listed = xvfb(vec!["monitors".into(), layout.clone().into()])
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{stdout}");
    assert!(stdout.contains("1 monitor(s):"), "{stdout}");
    assert!(stdout.contains("1280×800 px at (0, 0)"), "{stdout}");
    assert!(
        stdout.contains("output `man-hinh` (960×540 px) → "),
        "{stdout}"
    );
    assert!(
        stdout.contains("the conference feed (640×360 px) → no monitor"),
        "{stdout}"
    );

    let url = format!("http://{}", server.addr);
    let out = xvfb(vec![
        "run".into(),
        layout.into(),
        "--server".into(),
        url.into(),
        "--exit-after-frames".into(),
        "5".into(),
        "--capture".into(),
        shots.clone().into(),
    ])
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let screen = Image::read_png(&shots.join("man-hinh.png")).unwrap();
    let feed = Image::read_png(&shots.join("feed.png")).unwrap();
    assert_eq!(
        (screen.width, screen.height),
        (1280, 800),
        "the output's window fills the monitor"
    );
    assert_eq!((feed.width, feed.height), (640, 360));
    for says in [
        "no monitor is left for the conference feed",
        "output `man-hinh` shows 960×540 px but monitor screen is set to 1280×800",
    ] {
        assert!(stderr.contains(says), "{says:?} not in:\n{stderr}");
    }
}

/// `run` follows its room: a wall joining a room whose presenter has focused Hồ Chí Minh asks
/// the server for Hồ Chí Minh's figures and draws them. The proof: the re-subscription in the
/// wall's log, and its last frame's KPI tile equal to the library's drawing of Hồ Chí Minh's
/// figures (30, against the nation's 807 on the unfocused wall).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_follows_a_presenters_focus_under_xvfb() {
    let dir = tempfile::tempdir().unwrap();
    let server = live_server(dir.path()).await;
    let hcm = server.communes("79");
    let hn = server.communes("01");
    // Hồ Chí Minh 30, the nation 30 + 777: the two tiles cannot look alike.
    upload(&server, &[(&hcm[0], 10), (&hcm[1], 20), (&hn[0], 777)]).await;
    let layout = dir.path().join("kpi.toml");
    let with_room = KPI_LAYOUT.replacen("[wall]\n", "[wall]\nroom = \"phong-hop\"\n", 1);
    assert_ne!(with_room, KPI_LAYOUT);
    std::fs::write(&layout, with_room).unwrap();
    let url = format!("http://{}", server.addr);
    let run = |shots: PathBuf| {
        let (bin, layout, url) = (wall_bin(), layout.clone(), url.clone());
        tokio::task::spawn_blocking(move || {
            Command::new("xvfb-run")
                .args(["-a", "-s", "-screen 0 1280x800x24"])
                .arg(bin)
                .arg("run")
                .arg(&layout)
                .args(["--server", &url, "--windowed", "--exit-after-frames", "300"])
                .arg("--capture")
                .arg(&shots)
                .env_remove("WAYLAND_DISPLAY")
                .output()
                .expect("xvfb-run (apt install xvfb xauth; scripts/test installs it)")
        })
    };
    let plain = run(dir.path().join("plain")).await.unwrap();
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    // The wall named its layout's scenes on joining: a presenter picks them by title.
    let cat = Catalogue::load(&assets_dir()).unwrap();
    let named: Vec<_> = layout::load(&layout, &cat)
        .unwrap()
        .scenes
        .iter()
        .map(dieuhanh_wall::layout::Scene::info)
        .collect();
    assert!(!named.is_empty());
    assert_eq!(server.state.live.room_scenes("phong-hop"), named);
    server.state.live.control(
        "phong-hop",
        &RoomState {
            focus_unit: Some("79".into()),
            ..RoomState::default()
        },
        &[],
        server.state.store.version(),
    );
    let focused = run(dir.path().join("focused")).await.unwrap();
    let stderr = String::from_utf8_lossy(&focused.stderr);
    assert!(focused.status.success(), "{stderr}");
    assert!(
        stderr.contains("views moved"),
        "the wall asked again: {stderr}"
    );
    // The focused wall's tile is what the library draws from Hồ Chí Minh's figures (the
    // header, with its clock, left out); the unfocused wall's is not.
    let focus = RoomState {
        focus_unit: Some("79".into()),
        ..RoomState::default()
    };
    let wall_layout = kpi_layout(dir.path());
    let now = dieuhanh_wall::live::now_ms();
    let views = scene::subscriptions(&wall_layout, &focus, now);
    let file = dieuhanh_wall::live::fetch(&url, None, &views, &[], Duration::from_secs(20))
        .await
        .unwrap();
    let mut data = WallData::default();
    for m in &file.messages {
        data.apply(m, now);
    }
    data.feed = Feed::Live { since_ms: now };
    let gpu = Gpu::headless().expect("a Vulkan adapter");
    let want = render_scene(
        &gpu,
        &wall_layout,
        &wall_layout.scenes[0],
        &data,
        &focus,
        now,
        None,
    )
    .unwrap();
    let tile_diff = |shot: &Image| {
        let rows = (want.height / 4)..want.height;
        let mut far = 0usize;
        for y in rows.clone() {
            for x in 0..want.width {
                let (p, q) = (shot.pixel(x, y), want.pixel(x, y));
                if (0..3).any(|c| p[c].abs_diff(q[c]) > 32) {
                    far += 1;
                }
            }
        }
        far as f64 / f64::from(rows.len() as u32 * want.width)
    };
    let focused_shot = Image::read_png(&dir.path().join("focused/man-hinh.png")).unwrap();
    let plain_shot = Image::read_png(&dir.path().join("plain/man-hinh.png")).unwrap();
    assert!(
        tile_diff(&focused_shot) < 0.002,
        "the focused wall's tile is not Hồ Chí Minh's: {:.4} of its pixels differ",
        tile_diff(&focused_shot)
    );
    assert!(
        tile_diff(&plain_shot) > 0.01,
        "the unfocused wall's tile looks focused: {:.4}",
        tile_diff(&plain_shot)
    );
}

/// An X server of its own (Xvfb), for a test that must reach the wall's display from outside
/// (xdotool); stopped when dropped.
struct Display {
    xvfb: std::process::Child,
    name: String,
}

impl Display {
    fn start(size: &str) -> Display {
        use std::io::BufRead;
        let mut xvfb = Command::new("Xvfb")
            .args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0", size])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("Xvfb (apt install xvfb; scripts/test installs it)");
        let mut line = String::new();
        std::io::BufReader::new(xvfb.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let n: u32 = line
            .trim()
            .parse()
            .expect("Xvfb printed its display number");
        Display {
            xvfb,
            name: format!(":{n}"),
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

/// A leader touches Hồ Chí Minh's bar on the running wall (a real click through the X server,
/// as a touch screen's driver sends it): the wall focuses on Hồ Chí Minh and asks the server for
/// its figures, and Escape goes back to the whole country. Then a presenter's clicker: PageDown
/// and a number key switch scenes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicking_a_provinces_bar_drills_down_and_keys_switch_scenes_on_the_running_wall() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let server = live_server(dir.path()).await;
    let hcm = server.communes("79");
    let hn = server.communes("01");
    upload(&server, &[(&hcm[0], 10), (&hcm[1], 20), (&hn[0], 777)]).await;
    let text = concat!(
        desk_wall!(),
        r#"
[[scene]]
name = "sinh"
title = "Đăng ký khai sinh"

[[scene.panel]]
widget = "bars"
row = 0
column = 0
rows = 1
columns = 0.5
indicator = "XH02"
unit = "VN"
children = "province"
period = "2025-08"

[[scene.panel]]
widget = "kpi"
row = 0
column = 0.5
rows = 1
columns = 0.5
indicator = "XH02"
unit = "VN"
period = "2025-08"

[[scene]]
name = "tong"
title = "Tổng hợp"

[[scene.panel]]
widget = "kpi"
row = 0
column = 0
rows = 1
columns = 1
indicator = "XH02"
unit = "VN"
period = "2025-08"
"#
    );
    let layout = desk_layout(dir.path(), "bars.toml", text);
    let path = dir.path().join("bars.toml");
    // Where the wall draws Hồ Chí Minh's bar: the library composes the same scene from the
    // same figures (the desk's one screen fills the 960 × 540 display: canvas = window pixels).
    let url = format!("http://{}", server.addr);
    let now = dieuhanh_wall::live::now_ms();
    let room = RoomState::default();
    let views = scene::subscriptions(&layout, &room, now);
    let file = dieuhanh_wall::live::fetch(&url, None, &views, &[], Duration::from_secs(20))
        .await
        .unwrap();
    let mut data = WallData::default();
    for m in &file.messages {
        data.apply(m, now);
    }
    data.feed = Feed::Live { since_ms: now };
    let mut shaper = dieuhanh_wall::render::text::TextShaper::new();
    let mut list = dieuhanh_wall::draw::DisplayList::default();
    scene::compose(
        &layout,
        &layout.scenes[0],
        &data,
        &room,
        now,
        &mut shaper,
        &mut list,
    );
    let bar = list
        .hits
        .iter()
        .find(|h| h.unit == "79")
        .map(|h| h.rect)
        .expect("Hồ Chí Minh's bar");
    let at = [
        (bar.x + bar.w / 2.0).round() as i64,
        (bar.y + bar.h / 2.0).round() as i64,
    ];

    let display = Display::start("960x540x24");
    let bin = wall_bin();
    let name = display.name.clone();
    let seen = tokio::task::spawn_blocking(move || {
        let mut wall = Command::new(bin)
            .arg("run")
            .arg(&path)
            .args(["--server", &url])
            .env("DISPLAY", &name)
            .env_remove("WAYLAND_DISPLAY")
            .env("RUST_LOG", "info,dieuhanh_wall=debug")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
        let stderr = wall.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut seen = Vec::new();
        let wait_for = |needle: &str, within: Duration, seen: &mut Vec<String>| {
            let until = std::time::Instant::now() + within;
            while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
                match lines.recv_timeout(left) {
                    Ok(line) => {
                        let hit = line.contains(needle);
                        seen.push(line);
                        if hit {
                            return true;
                        }
                    }
                    Err(_) => return false,
                }
            }
            false
        };
        let xdotool = |args: &[&str]| {
            Command::new("xdotool")
                .args(args)
                .env("DISPLAY", &name)
                .status()
                .expect("xdotool (apt install xdotool; scripts/test installs it)")
        };
        let mut ok = wait_for("connected", Duration::from_secs(30), &mut seen);
        // The figures come just after the connection: click until the wall takes it.
        let mut touched = false;
        for _ in 0..20 {
            if !ok {
                break;
            }
            let (x, y) = (at[0].to_string(), at[1].to_string());
            xdotool(&["mousemove", &x, &y, "click", "1"]);
            if wait_for("drill-down touched", Duration::from_millis(500), &mut seen) {
                touched = true;
                break;
            }
        }
        ok &= touched;
        ok &= wait_for("focus moved", Duration::from_secs(10), &mut seen);
        ok &= seen.last().is_some_and(|l| l.contains("Some(\"79\")"));
        xdotool(&["key", "Escape"]);
        ok &= wait_for("focus moved", Duration::from_secs(10), &mut seen);
        ok &= seen.last().is_some_and(|l| l.contains("None"));
        // A presenter's clicker: PageDown, then the number key of the first scene.
        xdotool(&["key", "Next"]);
        ok &= wait_for("scene switched", Duration::from_secs(10), &mut seen);
        ok &= seen.last().is_some_and(|l| l.contains("tong"));
        xdotool(&["key", "1"]);
        ok &= wait_for("scene switched", Duration::from_secs(10), &mut seen);
        ok &= seen.last().is_some_and(|l| l.contains("sinh"));
        let _ = wall.kill();
        let _ = wall.wait();
        (ok, seen)
    })
    .await
    .unwrap();
    drop(display);
    assert!(seen.0, "the wall's log:\n{}", seen.1.join("\n"));
}

/// Mean brightness of an `nx` × `ny` grid of blocks: pictures of one scene at two sizes agree.
fn blocks(image: &Image, nx: u32, ny: u32) -> Vec<f64> {
    let mut out = Vec::new();
    for by in 0..ny {
        for bx in 0..nx {
            let (x0, x1) = (bx * image.width / nx, (bx + 1) * image.width / nx);
            let (y0, y1) = (by * image.height / ny, (by + 1) * image.height / ny);
            let mut sum = 0.0;
            for y in y0..y1 {
                for x in x0..x1 {
                    let [r, g, b, _] = image.pixel(x, y);
                    sum += (f64::from(r) + f64::from(g) + f64::from(b)) / 3.0;
                }
            }
            out.push(sum / f64::from((x1 - x0) * (y1 - y0)));
        }
    }
    out
}

/// A technician edits the layout of a running wall: a typo is refused and the last good layout
/// stays up, the fix is taken, and a conference feed added opens its window, all without a
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reloads_an_edited_layout_keeps_the_last_good_one_and_opens_an_added_feed() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let server = live_server(dir.path()).await;
    let layout = dir.path().join("kpi.toml");
    std::fs::write(&layout, KPI_LAYOUT).unwrap();
    let url = format!("http://{}", server.addr);
    let bin = wall_bin();
    let lines = tokio::task::spawn_blocking(move || {
        // `timeout` bounds the run if a line never comes; TERM to it reaches xvfb-run, which
        // stops the X server, which ends the wall.
        let mut child = Command::new("timeout")
            .args(["120", "xvfb-run", "-a", "-s", "-screen 0 1280x800x24"])
            .arg(bin)
            .arg("run")
            .arg(&layout)
            .args(["--server", &url, "--windowed"])
            .env_remove("WAYLAND_DISPLAY")
            .env("RUST_LOG", "info")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("xvfb-run (apt install xvfb xauth; scripts/test installs it)");
        let mut seen = Vec::new();
        let mut reader = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut wait_for = |needle: &str, seen: &mut Vec<String>| {
            for line in reader.by_ref() {
                let line = line.unwrap();
                let hit = line.contains(needle);
                seen.push(line);
                if hit {
                    return true;
                }
            }
            false
        };
        let mut ok = wait_for("wall running", &mut seen);
        // A typo: the wall must say so and keep drawing the last good layout.
        std::fs::write(
            &layout,
            KPI_LAYOUT.replace("widget = \"kpi\"", "widget = \"kpii\""),
        )
        .unwrap();
        ok &= wait_for("keeping the last good one", &mut seen);
        // Fixed: the wall takes it.
        std::fs::write(
            &layout,
            KPI_LAYOUT.replace("Đăng ký khai sinh", "Khai sinh"),
        )
        .unwrap();
        ok &= wait_for("layout reloaded", &mut seen);
        // A conference feed added: its window opens beside the screen's, without a restart.
        std::fs::write(
            &layout,
            format!("{KPI_LAYOUT}\n[feed]\nwidth_px = 640\nheight_px = 360\n"),
        )
        .unwrap();
        ok &= wait_for("2 windows reopened", &mut seen);
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
        (ok, seen)
    })
    .await
    .unwrap();
    assert!(lines.0, "log:\n{}", lines.1.join("\n"));
}

/// A presenter's clicker on one wall of a room switches every wall of it: the wall's feed asks
/// the room over its own connection, and the server stamps one moment for all. Two walls of
/// the room here, a real server between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scene_key_on_one_wall_switches_every_wall_of_its_room() {
    let dir = tempfile::tempdir().unwrap();
    let server = live_server(dir.path()).await;
    let layout = kpi_layout(dir.path());
    let url = dieuhanh_wall::live::live_url(&format!("http://{}", server.addr), None).unwrap();
    let scenes = vec![
        dieuhanh_protocol::live::SceneInfo {
            name: "sinh".into(),
            title: "Đăng ký khai sinh".into(),
        },
        dieuhanh_protocol::live::SceneInfo {
            name: "tu".into(),
            title: "Đăng ký khai tử".into(),
        },
    ];
    let mut walls = Vec::new();
    for _ in 0..2 {
        let views = scene::subscriptions(
            &layout,
            &RoomState::default(),
            dieuhanh_wall::live::now_ms(),
        );
        let (events_tx, events) = std::sync::mpsc::channel();
        let (commands, commands_rx) = tokio::sync::mpsc::unbounded_channel::<LiveCommand>();
        let room = dieuhanh_wall::live::Joining {
            room: "phong-hop".into(),
            scenes: scenes.clone(),
        };
        let feed = tokio::spawn(dieuhanh_wall::live::run_feed(
            url.clone(),
            Some(room),
            views,
            commands_rx,
            events_tx,
            || {},
        ));
        walls.push((feed, events, commands));
    }
    // Both walls joined before the key is pressed.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    for (_, events, _) in &walls {
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "a wall did not connect"
            );
            if let Ok(Event::Connected) = events.recv_timeout(Duration::from_millis(100)) {
                break;
            }
        }
    }
    while server.state.live.room_scenes("phong-hop").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the room was not joined"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    walls[0]
        .2
        .send(LiveCommand::SteerRoom {
            state: RoomState {
                scene: Some("tu".into()),
                ..RoomState::default()
            },
            clear: Vec::new(),
        })
        .unwrap();
    let mut stamps = Vec::new();
    for (_, events, _) in &walls {
        let stamp = loop {
            assert!(
                std::time::Instant::now() < deadline,
                "no control reached a wall"
            );
            if let Ok(Event::Message(m)) = events.recv_timeout(Duration::from_millis(100))
                && let dieuhanh_protocol::live::ServerMessage::Control {
                    apply_at_ms, state, ..
                } = *m
                && state.scene.as_deref() == Some("tu")
            {
                break apply_at_ms;
            }
        };
        stamps.push(stamp);
    }
    assert_eq!(
        stamps[0], stamps[1],
        "one moment for every wall of the room"
    );
    for (feed, ..) in walls {
        feed.abort();
    }
}

/// A TCP proxy that can cut every connection through it, to drop the wall's link to the server.
struct Proxy {
    addr: std::net::SocketAddr,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let cuts = cut.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let mut rx = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = rx.changed() => {}
                    }
                });
            }
        });
        Proxy { addr, cut }
    }

    fn cut_all(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_dropped_connection_the_wall_resumes_with_what_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let server = live_server(dir.path()).await;
    let c = server.communes("79");
    upload(&server, &[(&c[0], 10)]).await;
    let proxy = Proxy::start(server.addr).await;

    let layout = kpi_layout(dir.path());
    let (feed, events, _commands) = start_feed(proxy.addr, &layout);
    let aug = Period::parse("2025-08").unwrap();
    let mut data = WallData::default();
    let mut log: Vec<String> = Vec::new();
    // Applies events until `done` holds; records what kind of message each was.
    let pump = |data: &mut WallData,
                log: &mut Vec<String>,
                done: &dyn Fn(&WallData, &[String]) -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !done(data, log) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out; events: {log:?}"
            );
            match events.recv_timeout(Duration::from_millis(100)) {
                Ok(Event::Connected) => log.push("connected".into()),
                Ok(Event::Disconnected(_)) => log.push("disconnected".into()),
                Ok(Event::Message(m)) => {
                    match &*m {
                        dieuhanh_protocol::live::ServerMessage::Snapshot { reason, .. } => {
                            log.push(format!("snapshot:{reason}"))
                        }
                        dieuhanh_protocol::live::ServerMessage::Delta {
                            from_version,
                            version,
                            ..
                        } => log.push(format!("delta:{from_version}->{version}")),
                        _ => {}
                    }
                    data.apply(&m, 0);
                }
                Ok(Event::NotSteered) | Err(_) => {}
            }
        }
    };
    tokio::task::block_in_place(|| {
        pump(&mut data, &mut log, &|d, _| {
            d.value("XH02", "VN", aug) == Some(10.0)
        })
    });
    let held = data.version;

    proxy.cut_all();
    tokio::task::block_in_place(|| {
        pump(&mut data, &mut log, &|_, l| {
            l.iter().any(|e| e == "disconnected")
        })
    });
    // While the wall is away: two uploads.
    upload(&server, &[(&c[0], 12)]).await;
    upload(&server, &[(&c[1], 5)]).await;
    tokio::task::block_in_place(|| {
        pump(&mut data, &mut log, &|d, _| {
            d.value("XH02", "VN", aug) == Some(17.0)
        })
    });
    let after: Vec<&String> = log.iter().skip_while(|e| *e != "disconnected").collect();
    assert!(
        after
            .iter()
            .any(|e| e.starts_with(&format!("delta:{held}->"))),
        "resumed from version {held} with deltas, not a new snapshot: {log:?}"
    );
    assert!(
        !after.iter().any(|e| e.starts_with("snapshot")),
        "no snapshot after the drop: {log:?}"
    );
    assert_eq!(data.version, held + 2, "both missed versions applied");
    feed.abort();
}
