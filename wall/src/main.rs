//! `dieuhanh-wall`: check a layout, render a scene to PNG, save a snapshot of the server's data,
//! or run the wall on its screens.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dieuhanh_protocol::live::{MAX_REPORTS, ReportKey, RoomState, ServerMessage};

use dieuhanh_wall::catalogue::{self, Catalogue};
use dieuhanh_wall::{app, layout, live, pick_scene, render, scene, snapshot};

/// The dieuhanh video wall.
///
/// A layout file (TOML; see assets/layouts/README.md) describes the screens, their bezels, the
/// outputs that drive them and the scenes of panels shown on them.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// The assets folder (catalogue, unit codes, demo snapshot).
    #[arg(long, global = true, env = "DIEUHANH_ASSETS")]
    assets: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Validate a layout file; errors say the line, the column and what to do.
    Check {
        /// The layout file.
        file: PathBuf,
    },
    /// Render a scene to a PNG of the whole wall (screens side by side, bezels left out).
    ///
    /// Data comes from a running server (--server), a snapshot file (--snapshot), or, with
    /// neither, the demo snapshot shipped in assets/snapshots/demo.json.
    Render {
        file: PathBuf,
        /// The scene's name (the first scene if absent).
        #[arg(long)]
        scene: Option<String>,
        /// Where to write the PNG.
        #[arg(long, default_value = "scene.png")]
        out: PathBuf,
        /// Every scene instead of one: OUT's name gets the scene's name (scene-tong-quan.png).
        #[arg(long, conflicts_with = "scene")]
        all: bool,
        /// The server to take live data from, e.g. http://127.0.0.1:8080.
        #[arg(long, conflicts_with = "snapshot")]
        server: Option<String>,
        /// A token for the server's /live (when it requires one).
        #[arg(long, env = "DIEUHANH_TOKEN")]
        token: Option<String>,
        /// A snapshot file saved by `dieuhanh-wall snapshot`.
        #[arg(long)]
        snapshot: Option<PathBuf>,
        /// Render as of this time (ms since 1970), for reproducible images.
        #[arg(long)]
        now_ms: Option<i64>,
        /// Scale the wall into WIDTHxHEIGHT (e.g. 1920x1080).
        #[arg(long, value_parser = parse_size)]
        size: Option<[u32; 2]>,
        /// Render what the layout's [feed] sends the video conference: its block of screens
        /// (else the whole wall) at its size.
        #[arg(long, conflicts_with = "size")]
        feed: bool,
        /// Focus on a unit, as a presenter would: its code or name (79, "Hà Nội"). KPI tiles,
        /// charts and tables of the nation then show that unit.
        #[arg(long)]
        focus: Option<String>,
        /// Filter on a ministry, as a presenter would (e.g. BTC): other ministries' panels step
        /// back.
        #[arg(long)]
        agency: Option<String>,
        /// Show this period, as a presenter would ("Tháng 7/2025", 2025-Q3, ...).
        #[arg(long)]
        period: Option<String>,
    },
    /// Save the server's data for every panel of the layouts as a snapshot file, with how far
    /// the reports their reports panels follow are approved.
    Snapshot {
        /// Layout files whose panels' views to save.
        files: Vec<PathBuf>,
        #[arg(long)]
        server: String,
        #[arg(long, env = "DIEUHANH_TOKEN")]
        token: Option<String>,
        #[arg(long)]
        out: PathBuf,
        /// Also every indicator of the catalogue for the nation and the provinces over its
        /// recent periods, so the file previews layouts other than the ones named.
        #[arg(long)]
        all_indicators: bool,
    },
    /// List the monitors this machine's window system reports (names for the layout's
    /// `monitor =`, modes, refresh rates); with a layout, say where `run` would put each
    /// window and what does not match (a missing monitor, a mode that is not the output's size,
    /// a refresh below 60 Hz).
    Monitors {
        /// The layout file whose outputs and feed to place.
        file: Option<PathBuf>,
    },
    /// Run the wall: one borderless full-screen window per output (and one for the layout's
    /// video-conference `[feed]`), live data from the server.
    ///
    /// PageDown/PageUp (or arrows) and number keys switch scenes; touching or clicking a
    /// ranked bar focuses its unit, touching it again or Escape goes back (on every wall of
    /// the layout's room, when it names one and the token may steer it). Editing the layout file
    /// reloads it (windows open, close or move when its outputs or feed change); an invalid
    /// edit is shown on screen and the last good layout stays up.
    Run {
        file: PathBuf,
        #[arg(long)]
        server: String,
        #[arg(long, env = "DIEUHANH_TOKEN")]
        token: Option<String>,
        /// Ordinary windows on a desktop instead of full screen.
        #[arg(long)]
        windowed: bool,
        /// The scene to start with.
        #[arg(long)]
        scene: Option<String>,
        /// Exit after this many frames on every window (smoke tests).
        #[arg(long, hide = true)]
        exit_after_frames: Option<u64>,
        /// With --exit-after-frames: write each window's last frame to DIR/<output>.png (the
        /// conference feed's to DIR/feed.png), to check what the outputs showed.
        #[arg(long, value_name = "DIR", requires = "exit_after_frames")]
        capture: Option<PathBuf>,
    },
}

/// One view per indicator: the nation and its provinces over the periods a panel shows by default.
fn broad_views(cat: &Catalogue, now_ms: i64) -> Vec<(String, dieuhanh_protocol::live::View)> {
    cat.indicators
        .values()
        .filter_map(|ind| {
            let panel_like = layout::Panel {
                widget: layout::WidgetKind::Bars,
                rect: layout::Rect::new(0.0, 0.0, 1.0, 1.0),
                cells: [0.0; 4],
                indicators: vec![ind.code.clone()],
                unit: "VN".into(),
                children: Some("province".into()),
                period: layout::PeriodSpec::Latest(ind.frequency),
                history: layout::default_history(Some(ind.frequency)),
                agency: None,
                title: None,
                text: layout::TextSize::Medium,
                top: None,
                additive: Vec::new(),
                regimes: Vec::new(),
                line: 0,
            };
            scene::view_of(&panel_like, &RoomState::default(), now_ms).map(|mut v| {
                v.units = vec!["VN".into()];
                (format!("all:{}", ind.code), v)
            })
        })
        .collect()
}

/// The presenter's state `render` was asked to show; an unknown unit, ministry or period is
/// named with what to write instead.
fn presenter_state(
    cat: &Catalogue,
    focus: Option<String>,
    agency: Option<String>,
    period: Option<String>,
) -> Result<RoomState, String> {
    let focus_unit = match focus {
        None => None,
        Some(f) => match cat.unit(f.trim()).or_else(|| cat.unit_named(&f)) {
            Some(u) => Some(u.code.clone()),
            None => {
                return Err(format!(
                    "--focus {f:?}: no such unit; give its official code (79 for Hồ Chí Minh, \
                     5 digits for a commune) or its name as written in GET /api/units"
                ));
            }
        },
    };
    if let Some(a) = &agency
        && cat.agency(a).is_none()
    {
        let hint = cat
            .suggest_agency(a)
            .map_or(String::new(), |s| format!(" (did you mean {s}?)"));
        return Err(format!(
            "--agency {a:?}: no such ministry{hint}; the codes are those of GET /api/agencies"
        ));
    }
    let period = match period {
        None => None,
        Some(p) => Some(
            dieuhanh_protocol::period::Period::parse(&p).map_err(|e| format!("--period: {e}"))?,
        ),
    };
    Ok(RoomState {
        scene: None,
        focus_unit,
        agency,
        period,
    })
}

fn parse_size(s: &str) -> Result<[u32; 2], String> {
    let (w, h) = s
        .split_once(['x', 'X', '×'])
        .ok_or_else(|| format!("{s:?}: write the size as WIDTHxHEIGHT, e.g. 1920x1080"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("{s:?}: write the size as WIDTHxHEIGHT, e.g. 1920x1080"))
    };
    Ok([p(w)?, p(h)?])
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,wgpu_core=warn,wgpu_hal=warn,naga=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let assets = cli.assets.clone().unwrap_or_else(catalogue::assets_dir);
    let cat = Catalogue::load(&assets).with_context(|| format!("loading {}", assets.display()))?;
    match cli.command {
        Cmd::Check { file } => match layout::load(&file, &cat) {
            Ok(l) => {
                println!("{}: ok — {}", file.display(), l.summary());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                eprintln!("{}: {} error(s)", file.display(), e.0.len());
                Ok(ExitCode::FAILURE)
            }
        },
        Cmd::Render {
            file,
            scene: scene_name,
            out,
            all,
            server,
            token,
            snapshot: snap,
            now_ms,
            size,
            feed,
            focus,
            agency,
            period,
        } => {
            let layout = match layout::load(&file, &cat) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            if feed && layout.feed.is_none() {
                eprintln!(
                    "{}: the layout has no [feed] to render; add one (assets/layouts/README.md \
                     says how) or scale the whole wall with --size 1920x1080",
                    file.display()
                );
                return Ok(ExitCode::FAILURE);
            }
            let room = match presenter_state(&cat, focus, agency, period) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let data = match (&server, &snap) {
                (Some(url), _) => {
                    let views = scene::subscriptions(&layout, &room, live::now_ms());
                    let reports = scene::report_keys(&layout, &room, live::now_ms());
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let file = rt.block_on(live::fetch(
                        url,
                        token.as_deref(),
                        &views,
                        &reports,
                        Duration::from_secs(30),
                    ))?;
                    let mut data = dieuhanh_wall::data::WallData::default();
                    for m in &file.messages {
                        data.apply(m, file.taken_at_ms);
                    }
                    data.feed = dieuhanh_wall::data::Feed::Live {
                        since_ms: file.taken_at_ms,
                    };
                    data
                }
                (None, Some(path)) => snapshot::load(path)?,
                (None, None) => {
                    let path = snapshot::demo_path(&assets);
                    eprintln!(
                        "no --server or --snapshot: using the demo data in {} (sample figures, \
                         marked as such in the header)",
                        path.display()
                    );
                    let mut data = snapshot::load(&path)?;
                    data.feed = dieuhanh_wall::data::Feed::Demo;
                    data
                }
            };
            let now = now_ms.unwrap_or_else(live::now_ms);
            let gpu = render::Gpu::headless()?;
            eprintln!("rendering on {}", gpu.describe());
            let scenes: Vec<_> = if all {
                layout.scenes.iter().collect()
            } else {
                vec![pick_scene(&layout, scene_name.as_deref()).map_err(anyhow::Error::msg)?]
            };
            for sc in scenes {
                let started = std::time::Instant::now();
                let image = match layout.feed.as_ref().filter(|_| feed) {
                    Some(f) => {
                        let screens = scene::feed_screens(&layout, f.size);
                        let view = (screens.as_slice(), f.size);
                        dieuhanh_wall::render_screens(&gpu, &layout, sc, &data, &room, now, view)?
                    }
                    None => {
                        dieuhanh_wall::render_scene(&gpu, &layout, sc, &data, &room, now, size)?
                    }
                };
                let path = if all {
                    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("scene");
                    out.with_file_name(format!("{stem}-{}.png", sc.name))
                } else {
                    out.clone()
                };
                image
                    .write_png(&path)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!(
                    "{}: scene {:?} ({}×{}) in {:.0} ms",
                    path.display(),
                    sc.name,
                    image.width,
                    image.height,
                    started.elapsed().as_secs_f64() * 1e3
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Snapshot {
            files,
            server,
            token,
            out,
            all_indicators,
        } => {
            let mut views = Vec::new();
            let mut reports: Vec<ReportKey> = Vec::new();
            if all_indicators {
                views.extend(broad_views(&cat, live::now_ms()));
            }
            for f in &files {
                let layout = match layout::load(f, &cat) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("{e}");
                        return Ok(ExitCode::FAILURE);
                    }
                };
                let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("layout");
                for (id, v) in scene::subscriptions(&layout, &RoomState::default(), live::now_ms())
                {
                    views.push((format!("{stem}:{id}"), v));
                }
                for k in scene::report_keys(&layout, &RoomState::default(), live::now_ms()) {
                    if !reports.contains(&k) {
                        reports.push(k);
                    }
                }
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            // The server caps views per connection: fetch in chunks.
            let mut file = snapshot::SnapshotFile {
                taken_at_ms: live::now_ms(),
                source: server.clone(),
                messages: Vec::new(),
            };
            for chunk in views.chunks(48) {
                let part = rt.block_on(live::fetch(
                    &server,
                    token.as_deref(),
                    chunk,
                    &[],
                    Duration::from_secs(60),
                ))?;
                file.messages.extend(part.messages);
            }
            // The server caps the reports a connection follows too.
            for chunk in reports.chunks(MAX_REPORTS) {
                let part = rt.block_on(live::fetch(
                    &server,
                    token.as_deref(),
                    &[],
                    chunk,
                    Duration::from_secs(60),
                ))?;
                file.messages.extend(part.messages);
            }
            file.dedupe();
            snapshot::write(&out, &file)?;
            let (mut saved_views, mut saved_reports) = (0, 0);
            for m in &file.messages {
                match m {
                    ServerMessage::Snapshot { .. } => saved_views += 1,
                    ServerMessage::Reports { reports, .. } => saved_reports += reports.len(),
                    _ => {}
                }
            }
            println!(
                "{}: {saved_views} views and {saved_reports} reports' approval from {server}",
                out.display(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Monitors { file } => {
            let layout = match file.as_ref().map(|f| layout::load(f, &cat)).transpose() {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let monitors = app::list_monitors()?;
            println!("{} monitor(s):", monitors.len());
            for m in &monitors {
                println!("  {m}");
            }
            if let Some(layout) = layout {
                let wanted = dieuhanh_wall::monitors::wanted(&layout);
                let placed = dieuhanh_wall::monitors::assign(&wanted, &monitors);
                for (w, m) in wanted.iter().zip(&placed.monitors) {
                    match m {
                        Some(m) => println!(
                            "{} ({}×{} px) → {}",
                            w.what, w.size[0], w.size[1], monitors[*m]
                        ),
                        None => {
                            println!("{} ({}×{} px) → no monitor", w.what, w.size[0], w.size[1])
                        }
                    }
                }
                for note in &placed.notes {
                    println!("note: {note}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run {
            file,
            server,
            token,
            windowed,
            scene,
            exit_after_frames,
            capture,
        } => {
            app::run(app::RunOptions {
                layout: file,
                server,
                token,
                windowed,
                scene,
                assets,
                exit_after_frames,
                capture,
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
