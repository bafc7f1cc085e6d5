//! `dieuhanh-wall-bench`: the video wall's benchmark (issue 4), run by `scripts/bench-wall`.
//!
//! 1. Frame time of the wall's `tong-quan` scene on the 4×3 national wall (7680×3240) and on one
//!    3840×2160 screen (`tests/bench/uhd.toml`), demo-snapshot data: per frame, the CPU part
//!    (`scene::compose` + `Renderer::prepare`) and the GPU part (`Offscreen::draw`: submit and
//!    wait), with the clock advancing 16 ms a frame and a KPI changing every few frames, so the
//!    animation, the highlight and the ticker are live and no frame is a cached copy. Then the
//!    same as a window's frame (`SwapchainStandIn::present`: the update frame drawn into the
//!    kept texture, copied whole into a swapchain image's stand-in), and the full redraw of a
//!    scene switch. Then every window `dieuhanh-wall run` opens for the national layout (two
//!    outputs and the conference feed), one frame for all, as it draws them.
//! 2. Update-to-pixel latency: the real `dieuhanh-server` (demo database in `--work`), the wall's
//!    own `live::run_feed`, a render loop at a 60 Hz cadence on this thread; one province's budget
//!    revenue (NS01, reported by provinces) is uploaded, which changes the nation's figure on a KPI
//!    of the scene and the province's bar. Latency
//!    = the end of the first frame drawn with the new figure − the upload's `accepted_at_us`.
//! 3. The peer: the same scene as an ECharts page (`echarts-peer/scene.html`) in headless
//!    Chromium, driven by `echarts-peer/run.mjs`, fed the same figures (exported here), timed per
//!    frame and per update at the same sizes. Wall and page take turns, `--rounds` times: the
//!    wall's frames at both sizes, then a fresh page a size. One page's median frame varies
//!    severalfold between runs, and the machine's speed by a third over minutes; taking turns
//!    spreads both over the same time. The ratios are of the pooled samples, and per round.
//!
//! Prints a markdown table with the ratios. Not a test: nothing here passes or fails.

#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use serde_json::{Value, json};

use dieuhanh_protocol::live::{Cell, RoomState, ServerMessage};
use dieuhanh_protocol::period::{Frequency, Period};
use dieuhanh_tests::ServerProcess;
use dieuhanh_wall::catalogue::{Catalogue, assets_dir};
use dieuhanh_wall::data::{Feed, WallData};
use dieuhanh_wall::draw::{DisplayList, theme};
use dieuhanh_wall::layout::{self, Layout, Panel, Scene, WidgetKind};
use dieuhanh_wall::live::{self, Event};
use dieuhanh_wall::render::text::TextShaper;
use dieuhanh_wall::render::{Gpu, OFFSCREEN_FORMAT, Offscreen, Renderer, SwapchainStandIn};
use dieuhanh_wall::widgets::{
    self, Ctx, bars, figure, header, kpi, periods_back, short_label, ticker,
};
use dieuhanh_wall::{scene, snapshot};

/// The video wall's benchmark: frame time, update-to-pixel latency, an ECharts page as the peer.
#[derive(Parser)]
struct Args {
    /// Measured frames per scene size (after warm-up frames).
    #[arg(long, default_value_t = 60)]
    frames: usize,
    /// Measured uploads for the update-to-pixel latency (after one warm-up upload).
    #[arg(long, default_value_t = 20)]
    updates: usize,
    /// Turns of wall and page: each round measures the wall's frames (`--frames` a size), then
    /// the page in a fresh Chromium page a size; samples pooled over the rounds.
    #[arg(long, alias = "peer-rounds", default_value_t = 3)]
    rounds: usize,
    /// Scratch folder: the server's demo database (kept and reused between runs), logs, the
    /// figures exported for the page, the page's results.
    #[arg(long)]
    work: PathBuf,
    /// Leave the ECharts page out.
    #[arg(long)]
    skip_browser: bool,
    /// Leave the update-to-pixel latency (and so the server) out.
    #[arg(long)]
    skip_latency: bool,
    /// Frames drawn and not counted before each measurement (shader compilation, glyph atlas).
    #[arg(long, default_value_t = 8)]
    warmup: usize,
    /// Folder holding `dieuhanh-server` (this executable's by default).
    #[arg(long, env = "DIEUHANH_BIN")]
    bin: Option<PathBuf>,
    /// Where the page's npm packages are installed (`npm install` of echarts-peer/package.json);
    /// run.mjs and scene.html are copied there. Default: $DIEUHANH_CACHE/echarts-peer.
    #[arg(long)]
    peer_dir: Option<PathBuf>,
    /// Node.js executable.
    #[arg(long, default_value = "node")]
    node: String,
    /// Chromium executable (Debian's `chromium`).
    #[arg(long, default_value = "/usr/bin/chromium")]
    chromium: PathBuf,
    /// Also write a PNG of each scene, wall and page, into --work (to compare them by eye).
    #[arg(long)]
    png: bool,
}

/// The wall's layouts: the national wall and the bench's own single 4K screen.
fn national() -> PathBuf {
    dieuhanh_tests::repo_root().join("assets/layouts/national.toml")
}
fn uhd() -> PathBuf {
    dieuhanh_tests::repo_root().join("tests/bench/uhd.toml")
}
const SCENE: &str = "tong-quan";
/// The page's sources in the repository (copied next to the npm packages to run).
fn peer_src() -> PathBuf {
    dieuhanh_tests::repo_root().join("tests/bench/echarts-peer")
}
/// The KPI that changes: the nation's state budget revenue, the sum of the provinces' reports.
const KPI: &str = "NS01";
/// Pause between one upload on screen and the next upload.
const SPACING: Duration = Duration::from_millis(300);
/// A 60 Hz display's frame.
const FRAME: Duration = Duration::from_micros(16_667);
/// Goals of issue 4.
const GOAL_RATIO: f64 = 3.0;
const GOAL_GPU_FRAME_MS: f64 = 4.0;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.work)?;
    let assets = assets_dir();
    let cat = Catalogue::load(&assets)?;
    let load = |p: &Path| layout::load(p, &cat).map_err(|e| anyhow::anyhow!("{e}"));
    let national = load(&national())?;
    let uhd = load(&uhd())?;
    let demo = snapshot::load(&snapshot::demo_path(&assets))?;

    let gpu = Gpu::headless()?;
    let adapter = gpu.describe();
    // `describe` ends in the device type: "(Vulkan, Cpu)" for lavapipe.
    let cpu_adapter = adapter.contains("Cpu)");
    eprintln!("wall: rendering on {adapter}");

    let rounds = args.rounds.max(1);
    let mut sizes: Vec<((u32, u32), FrameTimes)> = Vec::new();
    let mut browser: Option<Browser> = None;
    let mut turns = Vec::new();
    for round in 1..=rounds {
        let mut models = Vec::new();
        let mut walls = Vec::new();
        for (i, l) in [&national, &uhd].into_iter().enumerate() {
            let sc = dieuhanh_wall::pick_scene(l, Some(SCENE)).map_err(anyhow::Error::msg)?;
            let [w, h] = l.wall.pixel_size();
            let mut data = demo.clone();
            let t = frame_bench(&args, &gpu, l, sc, &mut data)?;
            eprintln!(
                "round {round}/{rounds}, wall {w}×{h}: prepare {:.1} ms, GPU {:.1} ms, total {:.1} ms, window frame {:.1} ms, full redraw {:.1} ms (means of {})",
                t.cpu.mean(),
                t.gpu.mean(),
                t.total.mean(),
                t.window.mean(),
                t.clear.mean(),
                t.total.0.len()
            );
            // The page gets the figures of the wall's last frame (ticker included).
            models.push(page_model(l, sc, &data, live::now_ms()));
            walls.push(t.p50s());
            match sizes.get_mut(i) {
                Some((_, pooled)) => pooled.extend(t),
                None => sizes.push(((w, h), t)),
            }
        }
        let pages = if args.skip_browser {
            None
        } else {
            let b = browser_bench(&args, &models)?;
            let p50s: Vec<f64> = b.scenes.iter().map(|s| s.0.pct(50.0)).collect();
            match &mut browser {
                Some(pooled) => pooled.extend(b),
                None => browser = Some(b),
            }
            Some(p50s)
        };
        turns.push((walls, pages));
    }

    let windows = {
        let sc = dieuhanh_wall::pick_scene(&national, Some(SCENE)).map_err(anyhow::Error::msg)?;
        let mut data = demo.clone();
        let w = all_windows_bench(&args, &gpu, &national, sc, &mut data)?;
        eprintln!(
            "wall, every window of the national layout ({}): CPU {:.1} ms, frame {:.1} ms (means of {})",
            w.what,
            w.cpu.mean(),
            w.frame.mean(),
            w.frame.0.len()
        );
        w
    };

    let latency = if args.skip_latency {
        None
    } else {
        Some(latency_bench(&args, &gpu, &national)?)
    };

    print_table(
        &adapter,
        cpu_adapter,
        &sizes,
        &windows,
        latency.as_ref(),
        browser.as_ref(),
        &turns,
    );
    Ok(())
}

// --- figures ----------------------------------------------------------------------------------

/// Samples in milliseconds.
#[derive(Default, Clone)]
struct Ms(Vec<f64>);

impl Ms {
    fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1e3);
    }

    fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len().max(1) as f64
    }

    /// Nearest-rank percentile.
    fn pct(&self, q: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((q / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    }

    fn max(&self) -> f64 {
        self.0.iter().copied().fold(f64::NAN, f64::max)
    }

    fn from_json(v: &Value) -> Ms {
        Ms(v.as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default())
    }
}

struct FrameTimes {
    cpu: Ms,
    gpu: Ms,
    total: Ms,
    /// A frame redrawn whole (prepare + draw), as after a scene switch: every panel, every screen.
    clear: Ms,
    /// A window's frame (compose + prepare + draw): the update frame drawn into the kept texture,
    /// then copied whole into the swapchain image, as `dieuhanh-wall run` does.
    window: Ms,
}

impl FrameTimes {
    /// Another round's samples added to these.
    fn extend(&mut self, other: FrameTimes) {
        self.cpu.0.extend(other.cpu.0);
        self.gpu.0.extend(other.gpu.0);
        self.total.0.extend(other.total.0);
        self.clear.0.extend(other.clear.0);
        self.window.0.extend(other.window.0);
    }

    /// Medians of the frame, the window's frame and the full redraw, the figures set against
    /// the page's.
    fn p50s(&self) -> [f64; 3] {
        [
            self.total.pct(50.0),
            self.window.pct(50.0),
            self.clear.pct(50.0),
        ]
    }
}

/// One round's medians: the wall's per size ([`FrameTimes::p50s`]), and the page's frame per
/// size when it ran.
type Turn = (Vec<[f64; 3]>, Option<Vec<f64>>);

// --- 1. frame time ----------------------------------------------------------------------------

/// The period the scene's KPI of [`KPI`] shows for the nation.
fn kpi_period(data: &WallData) -> anyhow::Result<Period> {
    data.latest_period(KPI, "VN", Some(Frequency::Month), None)
        .with_context(|| format!("no {KPI} value for VN in the data"))
}

/// A delta as the server would push it: the nation's KPI now `value`.
fn synthetic_delta(period: Period, value: f64, version: i64) -> ServerMessage {
    ServerMessage::Delta {
        id: "bench".into(),
        from_version: version - 1,
        version,
        cells: vec![Cell {
            i: KPI.into(),
            u: "VN".into(),
            p: period,
            v: Some(value),
            c: None,
        }],
    }
}

/// The frames' clock and data, from now: the header says "online", as on a live wall, and frame
/// `f` (16 ms after frame `f - 1`) gets a new figure every 4 frames, so the KPI re-shapes its
/// text, animates and highlights and the ticker gains a line: every frame has text to shape and
/// upload. Returns the start and the step, which applies frame `f`'s change and gives its time.
fn updates(
    data: &mut WallData,
) -> anyhow::Result<(i64, impl Fn(usize, &mut WallData) -> i64 + use<>)> {
    let period = kpi_period(data)?;
    let base = data.value(KPI, "VN", period).unwrap_or(0.0);
    let start = live::now_ms();
    data.feed = Feed::Live { since_ms: start };
    let advance = move |f: usize, data: &mut WallData| {
        let now = start + 16 * f as i64;
        if f.is_multiple_of(4) {
            let v = base + 1000.0 * (f / 4 + 1) as f64;
            data.apply(&synthetic_delta(period, v, data.version + 1), now);
        }
        now
    };
    Ok((start, advance))
}

/// A frame of every window `dieuhanh-wall run` opens for `layout` (each output, and the
/// conference feed at 1920×1080), drawn as it draws them: the scene composed once, then per
/// window the renderer's prepare, the draw into its kept frame and the copy into a swapchain
/// image's stand-in (waiting for the GPU each time, which a window does not: an upper bound).
struct AllWindows {
    /// The windows and their sizes, e.g. "2 × 3840×3240 + 1920×1080".
    what: String,
    /// Compose and every window's prepare.
    cpu: Ms,
    /// The whole frame of all windows.
    frame: Ms,
}

fn all_windows_bench(
    args: &Args,
    gpu: &Gpu,
    layout: &Layout,
    sc: &Scene,
    data: &mut WallData,
) -> anyhow::Result<AllWindows> {
    let mut windows = Vec::new();
    for output in &layout.outputs {
        windows.push(scene::output_screens(layout, output));
    }
    if layout.feed.is_some() {
        let size = [1920, 1080];
        windows.push((scene::feed_screens(layout, size), size));
    }
    ensure!(!windows.is_empty(), "the layout opens no window");
    let mut drawn = Vec::new();
    for (screens, size) in windows {
        let mut renderer = Renderer::new(gpu, OFFSCREEN_FORMAT);
        renderer.retained = true;
        let kept = Offscreen::new(gpu, size)?;
        let swapchain = SwapchainStandIn::new(gpu, &kept);
        drawn.push((screens, size, renderer, kept, swapchain));
    }
    let mut sizes: Vec<String> = Vec::new();
    for (_, [w, h], ..) in &drawn {
        let size = format!("{w}×{h}");
        let n = drawn.iter().filter(|d| d.1 == [*w, *h]).count();
        let item = if n > 1 {
            format!("{n} × {size}")
        } else {
            size
        };
        if !sizes.contains(&item) {
            sizes.push(item);
        }
    }
    let mut shaper = TextShaper::new();
    let mut list = DisplayList::default();
    let room = RoomState::default();
    let (_, advance) = updates(data)?;
    let mut out = AllWindows {
        what: sizes.join(" + "),
        cpu: Ms::default(),
        frame: Ms::default(),
    };
    for f in 0..args.warmup + args.frames {
        let now = advance(f, data);
        let t = Instant::now();
        let mut cpu = Duration::ZERO;
        scene::compose(layout, sc, data, &room, now, &mut shaper, &mut list);
        cpu += t.elapsed();
        for (screens, size, renderer, kept, swapchain) in &mut drawn {
            let t = Instant::now();
            renderer.prepare(gpu, &mut shaper, &list, theme::BACKGROUND, screens, *size)?;
            cpu += t.elapsed();
            swapchain.present(gpu, renderer, kept)?;
            renderer.trim();
        }
        if f >= args.warmup {
            out.cpu.push(cpu);
            out.frame.push(t.elapsed());
        }
    }
    Ok(out)
}

fn frame_bench(
    args: &Args,
    gpu: &Gpu,
    layout: &Layout,
    sc: &Scene,
    data: &mut WallData,
) -> anyhow::Result<FrameTimes> {
    let mut shaper = TextShaper::new();
    let mut renderer = Renderer::new(gpu, OFFSCREEN_FORMAT);
    // The offscreen texture keeps its pixels: frames redraw only the panels that changed, as
    // the wall does.
    renderer.retained = true;
    let mut list = DisplayList::default();
    let (screens, size) = scene::wall_screens(layout);
    let offscreen = Offscreen::new(gpu, size)?;
    let room = RoomState::default();
    let (start, advance) = updates(data)?;
    let mut out = FrameTimes {
        cpu: Ms::default(),
        gpu: Ms::default(),
        total: Ms::default(),
        clear: Ms::default(),
        window: Ms::default(),
    };
    for f in 0..args.warmup + args.frames {
        let now = advance(f, data);
        let t0 = Instant::now();
        scene::compose(layout, sc, data, &room, now, &mut shaper, &mut list);
        renderer.prepare(gpu, &mut shaper, &list, theme::BACKGROUND, &screens, size)?;
        let t1 = Instant::now();
        offscreen.draw(gpu, &renderer)?;
        let t2 = Instant::now();
        // What the wall does after presenting: frees glyphs no longer used.
        renderer.trim();
        if f >= args.warmup {
            out.cpu.push(t1 - t0);
            out.gpu.push(t2 - t1);
            out.total.push(t2 - t0);
        }
    }
    if args.png {
        let path = args.work.join(format!("wall-{}x{}.png", size[0], size[1]));
        offscreen.capture(gpu, &renderer)?.write_png(&path)?;
        eprintln!("wrote {}", path.display());
    }
    // A window's frames: the offscreen texture is the kept frame, copied whole into a
    // swapchain image's stand-in every frame.
    let swapchain = SwapchainStandIn::new(gpu, &offscreen);
    let frames = args.warmup + args.frames;
    for f in frames..frames + args.warmup + args.frames {
        let now = advance(f, data);
        let t = Instant::now();
        scene::compose(layout, sc, data, &room, now, &mut shaper, &mut list);
        renderer.prepare(gpu, &mut shaper, &list, theme::BACKGROUND, &screens, size)?;
        swapchain.present(gpu, &renderer, &offscreen)?;
        renderer.trim();
        if f >= frames + args.warmup {
            out.window.push(t.elapsed());
        }
    }
    // A scene switch changes most of the wall, so the renderer draws it whole (see the wall's
    // render test `a_scene_switch_or_edit_on_a_kept_frame_equals_the_scene_drawn_afresh`).
    for f in 0..args.warmup + args.frames / 2 {
        let t = Instant::now();
        scene::compose(layout, sc, data, &room, start, &mut shaper, &mut list);
        renderer.invalidate();
        renderer.prepare(gpu, &mut shaper, &list, theme::BACKGROUND, &screens, size)?;
        offscreen.draw(gpu, &renderer)?;
        if f >= args.warmup {
            out.clear.push(t.elapsed());
        }
    }
    Ok(out)
}

// --- 2. update-to-pixel latency -------------------------------------------------------------

struct Latency {
    /// Upload accepted → end of the first frame drawn with the new figure.
    to_pixel: Ms,
    /// Upload accepted → the new figure in the wall's data at the start of a frame (server, push,
    /// and the wait for the frame in progress to end).
    to_data: Ms,
    /// Upload accepted → the delta with the new figure handed over by the wall's feed (the
    /// server's and the push's share).
    to_feed: Ms,
    /// Frame times (prepare + draw) of the live loop.
    frames: Ms,
}

fn micros_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Starts `dieuhanh-server serve --demo` on the database in `--work` (the demo is loaded once,
/// the first time; later runs reuse it) and waits until it listens.
fn start_server(args: &Args) -> anyhow::Result<ServerProcess> {
    let bin = dieuhanh_tests::server_bin_in(args.bin.as_deref());
    ensure!(
        bin.exists(),
        "{} is missing: build it (scripts/bench-wall does)",
        bin.display()
    );
    let db = args.work.join("wall.duckdb");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let log = args.work.join("wall-server.log");
    let child = Command::new(&bin)
        .args(["serve", "--demo", "--db"])
        .arg(&db)
        .args(["--listen", &addr.to_string(), "--memory-limit", "1GB"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut server = ServerProcess { child, addr, log };
    let started = Instant::now();
    eprintln!(
        "server: {addr}, database {} (the demo loads the first time: minutes on two cores)",
        db.display()
    );
    while std::net::TcpStream::connect(addr).is_err() {
        if let Some(status) = server.child.try_wait()? {
            bail!("the server exited ({status}); log:\n{}", server.log_text());
        }
        if started.elapsed() > Duration::from_secs(1800) {
            bail!(
                "the server did not listen within 30 min; log in {}",
                server.log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "server: listening after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(server)
}

/// What the uploading task reports: the upload's number and its acceptance (µs since 1970).
struct Accepted {
    k: usize,
    accepted_at_us: i64,
}

/// A province of the 2025 structure: NS01 is reported by provinces (regime BC-KTXH), and the
/// nation's figure is their sum.
fn a_province() -> anyhow::Result<String> {
    use dieuhanh_server::hierarchy::{Era, Hierarchy, Level};
    let h = Hierarchy::load(&dieuhanh_server::assets_dir())?;
    Ok(h.at_level(Level::Province, Era::Since2025)
        .next()
        .context("no province in the hierarchy")?
        .code
        .clone())
}

async fn upload(
    http: &reqwest::Client,
    addr: SocketAddr,
    unit: &str,
    period: Period,
    value: f64,
) -> anyhow::Result<i64> {
    let report = dieuhanh_tests::upload_value(http, addr, KPI, unit, period, value)
        .await
        .map_err(anyhow::Error::msg)?;
    report["accepted_at_us"]
        .as_i64()
        .with_context(|| format!("the upload changed nothing: {report}"))
}

fn latency_bench(args: &Args, gpu: &Gpu, layout: &Layout) -> anyhow::Result<Latency> {
    let sc = dieuhanh_wall::pick_scene(layout, Some(SCENE)).map_err(anyhow::Error::msg)?;
    let server = start_server(args)?;
    let addr = server.addr;
    let province = a_province()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    // The wall's own feed, as `dieuhanh-wall run` has it: every scene's views.
    let views = scene::subscriptions(layout, &RoomState::default(), live::now_ms());
    let n_views = views.len();
    let (commands, commands_rx) = tokio::sync::mpsc::unbounded_channel();
    let (events_tx, events) = mpsc::channel();
    // The feed calls `wake` right after handing each event over: its clock is when the event
    // reached the wall (before the render loop, busy with a frame, takes it).
    let arrivals = Arc::new(Mutex::new(Vec::<i64>::new()));
    let wake = {
        let arrivals = arrivals.clone();
        move || arrivals.lock().unwrap().push(micros_now())
    };
    rt.spawn(live::run_feed(
        live::live_url(&format!("http://{addr}"), None)?,
        layout.room.clone().map(|room| live::Joining {
            room,
            scenes: Vec::new(),
        }),
        views,
        commands_rx,
        events_tx,
        wake,
    ));
    let mut drained = 0usize;
    let (accepted_tx, accepted) = mpsc::channel::<anyhow::Result<Accepted>>();
    let http = reqwest::Client::new();

    let mut shaper = TextShaper::new();
    let mut renderer = Renderer::new(gpu, OFFSCREEN_FORMAT);
    // The offscreen texture keeps its pixels: frames redraw only the panels that changed, as
    // the wall does.
    renderer.retained = true;
    let mut list = DisplayList::default();
    let (screens, size) = scene::wall_screens(layout);
    let offscreen = Offscreen::new(gpu, size)?;
    let mut room = RoomState::default();
    let mut data = WallData::default();
    let mut snapshots = 0usize;

    // k = 0 is the warm-up upload: it sets the province to a value of this run (the database
    // outlives runs), after which the nation's figure is `base`, and upload k makes it base + k.
    // Values unique to the run: an upload identical to an earlier one is a duplicate, ignored.
    let v0 = 10_000.0 + ((live::now_ms() / 1000) % 1_000_000) as f64 * 100.0;
    let mut period = None;
    let mut base: Option<f64> = None;
    let mut before_warmup: Option<f64> = None;
    let n = args.updates + 1;
    let mut sent_at: Vec<Option<Instant>> = vec![None; n];
    let mut accepted_at = vec![None; n];
    let mut data_at = vec![None; n];
    let mut feed_at = vec![None; n];
    let mut pixel_at = vec![None; n];
    let mut k = 0usize;
    let mut next_send: Option<Instant> = None;
    let mut out = Latency {
        to_pixel: Ms::default(),
        to_data: Ms::default(),
        to_feed: Ms::default(),
        frames: Ms::default(),
    };
    let started = Instant::now();
    let mut tick = Instant::now();
    loop {
        ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the latency run took over 10 min (snapshots {snapshots}/{n_views}, upload {k})"
        );
        // 1. What arrived since the last frame.
        while let Ok(ev) = events.try_recv() {
            let now = live::now_ms();
            let arrived = loop {
                // `wake` runs a moment after the send: wait for its stamp.
                if let Some(&t) = arrivals.lock().unwrap().get(drained) {
                    break t;
                }
                std::thread::yield_now();
            };
            drained += 1;
            if let (Event::Message(m), Some(p), Some(b)) = (&ev, period, base)
                && let ServerMessage::Delta { cells, .. } = m.as_ref()
                && k < n
                && feed_at[k].is_none()
                && cells.iter().any(|c| {
                    c.i == KPI
                        && c.u == "VN"
                        && c.p == p
                        && c.v.is_some_and(|v| (v - (b + k as f64)).abs() < 1e-3)
                })
            {
                feed_at[k] = Some(arrived);
            }
            match ev {
                Event::Connected => data.feed = Feed::Live { since_ms: now },
                Event::Disconnected(reason) => bail!("the feed dropped: {reason}"),
                // The bench steers no room.
                Event::NotSteered => {}
                Event::Message(m) => match *m {
                    ServerMessage::Control { state, .. } => room = state,
                    ServerMessage::Error { code, message, .. } => {
                        bail!("the server refused a view: {code}: {message}")
                    }
                    other => {
                        if matches!(other, ServerMessage::Snapshot { .. }) {
                            snapshots += 1;
                        }
                        data.apply(&other, now);
                    }
                },
            }
        }
        while let Ok(a) = accepted.try_recv() {
            let a = a?;
            accepted_at[a.k] = Some(a.accepted_at_us);
        }
        if snapshots >= n_views && period.is_none() {
            let p = kpi_period(&data)?;
            eprintln!(
                "wall: {snapshots} snapshots in {:.1} s; uploading {KPI} of province {province} for {}",
                started.elapsed().as_secs_f64(),
                p.id()
            );
            period = Some(p);
            next_send = Some(Instant::now());
        }
        // 2. The value the wall now holds, before composing: does this frame show upload k?
        let shown = period.and_then(|p| data.value(KPI, "VN", p));
        let holds_k = match (k < n, sent_at[k.min(n - 1)], base, shown) {
            // Steps of 1 on a sum near 1e8: an f64 holds it to ~1e-8.
            (true, Some(_), Some(b), Some(v)) => (v - (b + k as f64)).abs() < 1e-3,
            // The warm-up: the figure differs from the one before it was sent.
            (true, Some(_), None, Some(v)) => before_warmup.is_some_and(|b| v != b),
            _ => false,
        };
        if holds_k && data_at[k].is_none() {
            data_at[k] = Some(micros_now());
        }
        // 3. The frame.
        let t0 = Instant::now();
        let now = live::now_ms();
        scene::compose(layout, sc, &data, &room, now, &mut shaper, &mut list);
        renderer.prepare(gpu, &mut shaper, &list, theme::BACKGROUND, &screens, size)?;
        offscreen.draw(gpu, &renderer)?;
        renderer.trim();
        let done = micros_now();
        out.frames.push(t0.elapsed());
        if holds_k && pixel_at[k].is_none() {
            pixel_at[k] = Some(done);
            if base.is_none() {
                base = shown.map(|v| v - k as f64);
            }
        }
        // 4. Once upload k is on screen and its acceptance known, the next one, spaced so the
        // feed is idle again and off the frame cadence by a varying fraction of a frame
        // (acceptances fall anywhere in a frame, as real ones do).
        if pixel_at[k].is_some() && accepted_at[k].is_some() {
            let (a, d, px) = (
                accepted_at[k].unwrap_or(0),
                data_at[k].unwrap_or(0),
                pixel_at[k].unwrap_or(0),
            );
            eprintln!(
                "  upload {k}: data +{:.1} ms, pixel +{:.1} ms after acceptance",
                (d - a) as f64 / 1e3,
                (px - a) as f64 / 1e3
            );
            k += 1;
            if k == n {
                break;
            }
            next_send = Some(Instant::now() + SPACING + FRAME.mul_f64((k % 7) as f64 / 7.0));
        }
        if let (Some(p), Some(at)) = (period, next_send)
            && Instant::now() >= at
        {
            next_send = None;
            if k == 0 {
                before_warmup = shown;
            }
            sent_at[k] = Some(Instant::now());
            let (tx, http, province) = (accepted_tx.clone(), http.clone(), province.clone());
            let value = v0 + k as f64;
            rt.spawn(async move {
                let r = upload(&http, addr, &province, p, value)
                    .await
                    .map(|accepted_at_us| Accepted { k, accepted_at_us });
                let _ = tx.send(r);
            });
        }
        // 5. Wait for the next display frame, as a wall synced to 60 Hz does; a frame that ran
        // long misses the ticks it overlapped.
        tick += FRAME;
        let now = Instant::now();
        if tick < now {
            let missed = (now - tick).as_nanos() / FRAME.as_nanos() + 1;
            tick += FRAME * missed as u32;
        }
        std::thread::sleep(tick - now);
    }
    drop(commands);
    rt.shutdown_timeout(Duration::from_secs(2));
    server.stop();
    for i in 1..n {
        let (Some(a), Some(d), Some(px)) = (accepted_at[i], data_at[i], pixel_at[i]) else {
            bail!("upload {i} was not measured");
        };
        out.to_data.0.push((d - a) as f64 / 1e3);
        if let Some(f) = feed_at[i] {
            out.to_feed.0.push((f - a) as f64 / 1e3);
        }
        out.to_pixel.0.push((px - a) as f64 / 1e3);
    }
    Ok(out)
}

// --- 3. the ECharts page ----------------------------------------------------------------------

/// The figures of `sc` as the wall shows them, for the page: panels in page pixels (screens side
/// by side, as the wall's image), each with the texts and series its widget draws.
fn page_model(layout: &Layout, sc: &Scene, data: &WallData, now_ms: i64) -> Value {
    let room = RoomState::default();
    let ctx = Ctx {
        layout,
        scene: sc,
        data,
        room: &room,
        now_ms,
    };
    let w = &layout.wall;
    let [sw, sh] = [w.screen_px[0] as f32, w.screen_px[1] as f32];
    let [pw, ph] = w.pixel_size();
    let mut panels = Vec::new();
    let mut kpi_panel = None;
    for (i, panel) in sc.panels.iter().enumerate() {
        let [row, column, rows, columns] = panel.cells;
        let rect = [column * sw, row * sh, columns * sw, rows * sh];
        let text_px = w.text_px(panel.text);
        let small_px = w.text_px(layout::TextSize::Small);
        let mut p = json!({
            "kind": panel.widget.as_str(),
            "rect": rect,
            "text_px": text_px,
            "small_px": small_px,
        });
        let info = |code: &str| data.indicators.get(code);
        match panel.widget {
            WidgetKind::Header => {
                p["title"] = json!(panel.title.as_deref().unwrap_or(&sc.title));
                p["clock"] = json!(header::date_time(now_ms));
                p["status"] = json!(header::status(&ctx).0);
            }
            WidgetKind::Kpi => {
                let f = kpi::facts(&ctx, panel);
                let code = panel.indicators.first().map_or("", String::as_str);
                if code == KPI {
                    kpi_panel = Some(i);
                }
                let spark: Vec<Option<f64>> = f.period.map_or_else(Vec::new, |p| {
                    periods_back(p, panel.history)
                        .into_iter()
                        .map(|q| data.value(code, &panel.unit, q))
                        .collect()
                });
                p["title"] = json!(f.title);
                p["subtitle"] = json!(f.subtitle);
                p["value"] = json!(f.value.unwrap_or_else(|| "—".into()));
                p["number"] = json!(f.period.and_then(|q| data.value(code, &panel.unit, q)));
                p["unit"] = json!(f.unit);
                p["yoy"] = json!(f.yoy.as_ref().map(|y| &y.0));
                p["up"] = json!(f.yoy.as_ref().map(|y| y.1));
                p["target"] = json!(f.target);
                p["spark"] = json!(spark);
                p["decimals"] = json!(info(code).map_or(1, |i| i.decimals));
            }
            WidgetKind::Line | WidgetKind::Area => {
                let first = panel.indicators.first().map_or("", String::as_str);
                let last = ctx.period_of(panel, first, &panel.unit);
                let periods = last.map_or_else(Vec::new, |l| periods_back(l, panel.history));
                let series: Vec<Value> = panel
                    .indicators
                    .iter()
                    .map(|code| {
                        json!({
                            "name": info(code).map_or(code.as_str(), |i| i.name.as_str()),
                            "values": periods
                                .iter()
                                .map(|q| data.value(code, &panel.unit, *q))
                                .collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                p["title"] = json!(panel.title.clone().unwrap_or_else(|| first.to_owned()));
                p["subtitle"] = json!(format!(
                    "{} · {}",
                    data.unit_name(&panel.unit),
                    info(first).map_or("", |i| i.unit.as_str())
                ));
                p["labels"] = json!(periods.iter().map(|q| short_label(*q)).collect::<Vec<_>>());
                p["series"] = json!(series);
            }
            // The page draws a map's figures as their ranking (the benched scene has no map).
            WidgetKind::Bars | WidgetKind::Map => {
                p["kind"] = json!("bars");
                let code = panel.indicators.first().map_or("", String::as_str);
                let rows: Vec<Value> = bars::ranking(&ctx, panel)
                    .into_iter()
                    .map(|(code_u, name, v)| json!([code_u, name, v, figure(info(code), v)]))
                    .collect();
                p["title"] = json!(panel.title.clone().unwrap_or_else(|| code.to_owned()));
                p["rows"] = json!(rows);
                if let Some(note) = bars::unreported_note(&bars::unreported(&ctx, panel)) {
                    p["unreported"] = json!(note);
                }
                p["decimals"] = json!(info(code).map_or(1, |i| i.decimals));
            }
            WidgetKind::Table => {
                p["title"] = json!(panel.title.clone().unwrap_or_default());
                p["header"] = json!(["Chỉ tiêu", "Kỳ", "Giá trị", "So cùng kỳ"]);
                p["rows"] = json!(table_rows(&ctx, panel));
            }
            // The browser page draws the reports as the table they are.
            WidgetKind::Reports => {
                p["kind"] = json!("table");
                p["title"] = json!(panel.title.clone().unwrap_or_default());
                p["header"] = json!(["Chế độ báo cáo", "Kỳ", "Đã báo cáo", "Tình trạng"]);
                let rows: Vec<[String; 4]> = panel
                    .regimes
                    .iter()
                    .map(|r| {
                        let s = widgets::reports::standing(&ctx, r, &panel.unit);
                        [
                            widgets::reports::short_name(&r.name),
                            s.period.label_vi(),
                            s.count,
                            s.status,
                        ]
                    })
                    .collect();
                p["rows"] = json!(rows);
            }
            WidgetKind::Ticker => {
                let items: Vec<String> = ticker::items(&ctx, panel)
                    .into_iter()
                    .map(|i| i.text)
                    .collect();
                p["items"] = json!(items);
            }
        }
        panels.push(p);
    }
    json!({
        "name": format!("{pw}×{ph}"),
        "size": [pw, ph],
        "panels": panels,
        "update": {"kpi": kpi_panel, "indicator": KPI},
    })
}

/// The rows a table without children shows: indicator, period, value, change.
fn table_rows(ctx: &Ctx<'_>, panel: &Panel) -> Vec<[String; 4]> {
    panel
        .indicators
        .iter()
        .map(|code| {
            let info = ctx.data.indicators.get(code);
            let name = info.map_or(code.clone(), |i| i.name.clone());
            let Some(p) = ctx.period_of(panel, code, &panel.unit) else {
                return [name, "—".into(), "—".into(), String::new()];
            };
            let v = ctx.data.value(code, &panel.unit, p);
            let change = ctx
                .compared(panel, code, &panel.unit, p)
                .and_then(|(v, ly)| widgets::yoy(info, v, ly))
                .map(|y| y.0)
                .unwrap_or_default();
            [
                name,
                p.label_vi(),
                v.map_or("—".into(), |v| {
                    format!(
                        "{} {}",
                        figure(info, v),
                        info.map_or("", |i| i.unit.as_str())
                    )
                }),
                change,
            ]
        })
        .collect()
}

struct Browser {
    version: String,
    gl: String,
    /// Fresh pages measured at each size, their samples pooled.
    rounds: usize,
    /// Per size (same order as the wall's): frame times, update times, the idle-frame floor,
    /// the script's share of a frame.
    scenes: Vec<(Ms, Ms, Ms, Ms)>,
}

impl Browser {
    /// Another round's pages added to these.
    fn extend(&mut self, other: Browser) {
        self.rounds += other.rounds;
        for (mine, theirs) in self.scenes.iter_mut().zip(other.scenes) {
            mine.0.0.extend(theirs.0.0);
            mine.1.0.extend(theirs.1.0);
            mine.2.0.extend(theirs.2.0);
            mine.3.0.extend(theirs.3.0);
        }
    }
}

fn peer_dir(args: &Args) -> PathBuf {
    args.peer_dir.clone().unwrap_or_else(|| {
        let cache = std::env::var_os("DIEUHANH_CACHE").map_or_else(
            || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/dieuhanh"),
            PathBuf::from,
        );
        cache.join("echarts-peer")
    })
}

fn browser_bench(args: &Args, models: &[Value]) -> anyhow::Result<Browser> {
    let dir = peer_dir(args);
    ensure!(
        dir.join("node_modules/echarts").exists()
            && dir.join("node_modules/playwright-core").exists(),
        "{}: no node_modules/echarts or playwright-core; install them with scripts/bench-wall \
         (npm install of tests/bench/echarts-peer/package.json there), or pass --skip-browser",
        dir.display()
    );
    // The page runs next to its packages (nothing under node_modules in the repository).
    for f in ["run.mjs", "scene.html"] {
        std::fs::copy(peer_src().join(f), dir.join(f))
            .with_context(|| format!("copying {f} into {}", dir.display()))?;
    }
    let model_path = args.work.join("wall-page-model.json");
    std::fs::write(
        &model_path,
        serde_json::to_vec(&json!({ "scenes": models }))?,
    )?;
    let out_path = args.work.join("wall-page-results.json");
    let _ = std::fs::remove_file(&out_path);
    let mut cmd = Command::new(&args.node);
    cmd.arg(dir.join("run.mjs"))
        .arg("--model")
        .arg(&model_path)
        .arg("--out")
        .arg(&out_path)
        .args(["--frames", &args.frames.to_string()])
        .args(["--updates", &args.updates.to_string()])
        .args(["--warmup", &args.warmup.to_string()])
        .args(["--rounds", "1"])
        .arg("--chromium")
        .arg(&args.chromium)
        .current_dir(&dir);
    if args.png {
        cmd.arg("--png").arg(&args.work);
    }
    eprintln!("page: ECharts in {}", args.chromium.display());
    let status = cmd.status().context("running node (Node.js 18 or later)")?;
    ensure!(status.success(), "the ECharts page failed ({status})");
    let r: Value = serde_json::from_slice(&std::fs::read(&out_path)?)?;
    let scenes = r["scenes"]
        .as_array()
        .context("no scenes in the page's results")?
        .iter()
        .map(|s| {
            (
                Ms::from_json(&s["frames"]),
                Ms::from_json(&s["updates"]),
                Ms::from_json(&s["idle"]),
                Ms::from_json(&s["script"]),
            )
        })
        .collect();
    Ok(Browser {
        version: r["browser"].as_str().unwrap_or("?").to_owned(),
        gl: r["gl"].as_str().unwrap_or("?").to_owned(),
        rounds: 1,
        scenes,
    })
}

// --- 4. the table -----------------------------------------------------------------------------

fn print_table(
    adapter: &str,
    cpu_adapter: bool,
    sizes: &[((u32, u32), FrameTimes)],
    windows: &AllWindows,
    latency: Option<&Latency>,
    browser: Option<&Browser>,
    turns: &[Turn],
) {
    let three = |m: &Ms| format!("{:.1} / {:.1} / {:.1}", m.mean(), m.pct(50.0), m.pct(95.0));
    println!();
    println!("### Video wall: frame time and update-to-pixel (`tong-quan`), ms — mean / p50 / p95");
    println!();
    println!("Wall adapter: {adapter}");
    if let Some(b) = browser {
        println!(
            "Peer: ECharts (canvas) in Chromium {}, GL: {}; {} fresh pages a size, each after a \
             round of the wall's frames; samples pooled",
            b.version, b.gl, b.rounds
        );
    }
    println!();
    println!(
        "| Size | Wall CPU prepare | Wall GPU | Wall total | Wall window frame | Wall full redraw \
         | ECharts frame | ECharts script | Browser ÷ wall (mean · p50) | Browser ÷ wall window \
         frame (mean · p50) | Browser ÷ wall full redraw (mean · p50) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (i, ((w, h), t)) in sizes.iter().enumerate() {
        // Means and medians both: one stalled frame of the page (Chromium's compositor has
        // been seen to hold a frame for 112 s at 7680×3240) makes its mean say nothing, and the
        // goal is met only when both ratios meet it.
        let versus = |page: &Ms, wall: &Ms| {
            let (mean, p50) = (page.mean() / wall.mean(), page.pct(50.0) / wall.pct(50.0));
            let goal = if mean.min(p50) >= GOAL_RATIO {
                "meets"
            } else {
                "misses"
            };
            format!("{mean:.1}× · {p50:.1}× ({goal} ≥ {GOAL_RATIO:.0}×)")
        };
        let (page, script, ratio, window, full) = match browser.and_then(|b| b.scenes.get(i)) {
            Some((frames, _, _, script)) => (
                three(frames),
                three(script),
                // Offscreen (the PNG and the conference feed): the update frame.
                versus(frames, &t.total),
                // A window keeps its frame in a texture and copies it to the swapchain image.
                versus(frames, &t.window),
                // After a scene switch: every panel redrawn.
                versus(frames, &t.clear),
            ),
            None => ("—".into(), "—".into(), "—".into(), "—".into(), "—".into()),
        };
        println!(
            "| {w}×{h} | {} | {} | {} | {} | {} | {page} | {script} | {ratio} | {window} | {full} |",
            three(&t.cpu),
            three(&t.gpu),
            three(&t.total),
            three(&t.window),
            three(&t.clear)
        );
    }
    if turns.iter().any(|t| t.1.is_some()) {
        println!();
        println!(
            "| Round | Size | Wall frame p50 | Wall window frame p50 | Wall full redraw p50 | \
             ECharts frame p50 | Browser ÷ wall: frame · window frame · full redraw (p50) |"
        );
        println!("|---|---|---|---|---|---|---|");
        let mut by_size: Vec<Vec<[f64; 3]>> = vec![Vec::new(); sizes.len()];
        for (r, (walls, pages)) in turns.iter().enumerate() {
            let Some(pages) = pages else { continue };
            for (i, (((w, h), _), (wall, page))) in
                sizes.iter().zip(walls.iter().zip(pages)).enumerate()
            {
                let ratios = wall.map(|x| page / x);
                by_size[i].push(ratios);
                println!(
                    "| {} | {w}×{h} | {:.1} | {:.1} | {:.1} | {page:.1} | {:.1}× · {:.1}× · {:.1}× |",
                    r + 1,
                    wall[0],
                    wall[1],
                    wall[2],
                    ratios[0],
                    ratios[1],
                    ratios[2]
                );
            }
        }
        for (((w, h), _), ratios) in sizes.iter().zip(&by_size) {
            let median = |k: usize| Ms(ratios.iter().map(|r| r[k]).collect()).pct(50.0);
            println!(
                "| median of rounds | {w}×{h} | | | | | {:.1}× · {:.1}× · {:.1}× |",
                median(0),
                median(1),
                median(2)
            );
        }
    }
    println!();
    println!(
        "| Every window of the national layout in one frame, ms (mean / p50 / p95) | CPU (compose \
         once, prepare per window) | Frame (and draw, copy per window) |"
    );
    println!("|---|---|---|");
    println!(
        "| {} | {} | {} |",
        windows.what,
        three(&windows.cpu),
        three(&windows.frame)
    );
    println!();
    let p = |m: &Ms| format!("{:.1} / {:.1} / {:.1}", m.pct(50.0), m.pct(95.0), m.max());
    println!("| Update → pixel, ms (p50 / p95 / max) | 7680×3240 | 3840×2160 |");
    println!("|---|---|---|");
    match latency {
        Some(l) => {
            println!(
                "| Wall: upload accepted → first frame with the figure drawn ({} uploads) | {} | — |",
                l.to_pixel.0.len(),
                p(&l.to_pixel)
            );
            println!(
                "| Wall: upload accepted → figure in the data at a frame's start | {} | — |",
                p(&l.to_data)
            );
            println!(
                "| Wall: upload accepted → delta handed over by the wall's feed (server + push) | {} | — |",
                p(&l.to_feed)
            );
            println!(
                "| Wall: live-loop frame (compose + prepare + draw), 60 Hz cadence | {} | — |",
                p(&l.frames)
            );
        }
        None => println!("| Wall | not run (--skip-latency) | — |"),
    }
    if let Some(b) = browser {
        let cell = |i: usize, f: fn(&(Ms, Ms, Ms, Ms)) -> &Ms| {
            b.scenes.get(i).map_or("—".into(), |s| p(f(s)))
        };
        println!(
            "| ECharts: value received by the page → next frame | {} | {} |",
            cell(0, |s| &s.1),
            cell(1, |s| &s.1)
        );
        println!(
            "| ECharts: idle frame (two rAFs, nothing changed): the page's floor | {} | {} |",
            cell(0, |s| &s.2),
            cell(1, |s| &s.2)
        );
    }
    println!();
    let frame_goal = if cpu_adapter {
        "needs a GPU machine: not measured here".to_owned()
    } else {
        sizes.first().map_or("—".into(), |(_, t)| {
            let m = t.total.mean();
            format!(
                "{m:.1} ms: {}",
                if m < GOAL_GPU_FRAME_MS {
                    "meets"
                } else {
                    "misses"
                }
            )
        })
    };
    let latency_goal = if cpu_adapter {
        "needs a GPU machine: not measured here".to_owned()
    } else {
        match latency {
            Some(l) => {
                let goal = FRAME.as_secs_f64() * 1e3 + 5.0;
                let p95 = l.to_pixel.pct(95.0);
                format!(
                    "p95 {p95:.1} ms vs {goal:.1} ms: {}",
                    if p95 < goal { "meets" } else { "misses" }
                )
            }
            None => "not run".into(),
        }
    };
    // "Hold 60 Hz on a multi-screen canvas": every window's frame within one display frame.
    let hz_goal = if cpu_adapter {
        "needs a GPU machine: not measured here".to_owned()
    } else {
        let (frame, p95) = (FRAME.as_secs_f64() * 1e3, windows.frame.pct(95.0));
        format!(
            "p95 {p95:.1} ms vs {frame:.1} ms: {}",
            if p95 < frame { "meets" } else { "misses" }
        )
    };
    println!("GPU goals (a machine with a GPU):");
    println!("- frame at 7680×3240 < {GOAL_GPU_FRAME_MS:.0} ms: {frame_goal}");
    println!("- update → pixel < one frame + 5 ms (21.7 ms at 60 Hz): {latency_goal}");
    println!(
        "- 60 Hz with every window of the national layout ({}): {hz_goal}",
        windows.what
    );
}
